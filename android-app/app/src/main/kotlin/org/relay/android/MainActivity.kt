package org.relay.android

import android.Manifest
import android.app.Activity
import android.content.Intent
import android.net.Uri
import android.os.Build
import android.os.Bundle
import android.os.Handler
import android.os.Looper
import android.provider.Settings
import android.widget.Button
import android.widget.LinearLayout
import android.widget.ScrollView
import android.widget.TextView
import uniffi.relay_core.ConnectionState

/**
 * The status screen: pairing, connection, last change, battery, queue depth, recent messages
 * with their status and failure reason, and the permission checklist that leads the operator
 * through SEND_SMS, READ_PHONE_STATE, notifications, the battery-optimisation exemption and, on
 * Android 15+, "Allow restricted settings".
 */
class MainActivity : Activity() {
    private val handler = Handler(Looper.getMainLooper())
    private lateinit var status: TextView
    private lateinit var checklist: LinearLayout
    private lateinit var messages: TextView
    private val tick = object : Runnable {
        override fun run() {
            render()
            handler.postDelayed(this, 1000)
        }
    }

    override fun onCreate(savedInstanceState: Bundle?) {
        super.onCreate(savedInstanceState)
        val layout = LinearLayout(this)
        layout.orientation = LinearLayout.VERTICAL
        layout.setPadding(32, 32, 32, 32)
        status = TextView(this)
        checklist = LinearLayout(this)
        checklist.orientation = LinearLayout.VERTICAL
        messages = TextView(this)
        val pair = Button(this)
        pair.text = "Pair with a server"
        pair.setOnClickListener { startActivity(Intent(this, PairingActivity::class.java)) }
        for (view in listOf(status, checklist, pair, messages)) layout.addView(view)
        val scroll = ScrollView(this)
        scroll.addView(layout)
        setContentView(scroll)
    }

    override fun onResume() {
        super.onResume()
        if (Relay.isPaired(this)) RelayService.start(this)
        handler.post(tick)
    }

    override fun onPause() {
        handler.removeCallbacks(tick)
        super.onPause()
    }

    private fun render() {
        val s = Relay.status(this)
        val connection = when (val c = Relay.connection) {
            is ConnectionState.Connected -> "connected"
            is ConnectionState.Connecting -> "connecting"
            is ConnectionState.Disconnected -> "reconnecting (${c.reason})"
            is ConnectionState.Unauthorized -> "refused by the server: pair again"
            is ConnectionState.Stopped -> "offline"
        }
        val since = if (Relay.lastChange == 0L) "never" else "${(System.currentTimeMillis() - Relay.lastChange) / 1000} s ago"
        status.text = buildString {
            if (s?.paired == true) {
                append("Device: ${s.deviceName}\nServer: ${s.serverUrl}\n")
            } else {
                append("Not paired yet.\n")
            }
            append("Connection: $connection (last change $since)\n")
            append("Battery: ${Relay.batteryPercent(this@MainActivity)?.let { "$it %" } ?: "unknown"}\n")
            append("Queue: ${s?.queueDepth ?: 0} message(s); ${Relay.sentToday} sent today\n")
        }
        messages.text = Relay.recentMessages().joinToString("\n", prefix = "Recent messages:\n") {
            it.requestId + ": " + it.status + (it.detail?.let { d -> " — $d" } ?: "")
        }
        renderChecklist()
    }

    private fun renderChecklist() {
        checklist.removeAllViews()
        val p = Relay.permissions(this)
        item("Send SMS (SEND_SMS)", p.sendSms) { ask(Manifest.permission.SEND_SMS) }
        item("Choose the SIM (READ_PHONE_STATE)", p.readPhoneState) { ask(Manifest.permission.READ_PHONE_STATE) }
        item("Show the status notification", p.notifications) { ask(Manifest.permission.POST_NOTIFICATIONS) }
        item("Not stopped by battery optimisation", p.batteryOptimizationExempt) {
            val intent = Intent(Settings.ACTION_REQUEST_IGNORE_BATTERY_OPTIMIZATIONS)
            intent.data = Uri.parse("package:$packageName")
            startActivity(intent)
        }
        if (Build.VERSION.SDK_INT >= 35 && !p.sendSms) {
            // A sideloaded app cannot be granted SMS permissions until the operator allows it.
            item("Android 15: App info → ⋮ → Allow restricted settings, then grant SEND_SMS", false) {
                val intent = Intent(Settings.ACTION_APPLICATION_DETAILS_SETTINGS)
                intent.data = Uri.parse("package:$packageName")
                startActivity(intent)
            }
        }
    }

    private fun item(label: String, done: Boolean, fix: () -> Unit) {
        val row = Button(this)
        row.text = (if (done) "✓ " else "✗ ") + label
        row.isEnabled = !done
        row.setOnClickListener { fix() }
        checklist.addView(row)
    }

    private fun ask(permission: String) {
        requestPermissions(arrayOf(permission), 1)
    }
}
