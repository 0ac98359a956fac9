package org.relay.android

import android.app.Activity
import android.content.ActivityNotFoundException
import android.content.Intent
import android.net.Uri
import android.os.Build
import android.os.Bundle
import android.widget.Button
import android.widget.EditText
import android.widget.LinearLayout
import android.widget.TextView
import kotlinx.coroutines.runBlocking
import uniffi.relay_core.DeviceInfo
import uniffi.relay_core.RelayClient
import uniffi.relay_core.RelayException
import uniffi.relay_core.inspectPairingPayload

/**
 * Pairing. The server's QR code holds a `relay://pair?server=…&code=…` URI: the phone's own
 * camera app (or any QR scanner) opens it here through the intent filter; "Scan QR code" asks an
 * installed scanner app for it; or the operator types the server address and the code. No Play
 * services and no camera library in the app.
 */
class PairingActivity : Activity() {
    private lateinit var server: EditText
    private lateinit var code: EditText
    private lateinit var result: TextView

    override fun onCreate(savedInstanceState: Bundle?) {
        super.onCreate(savedInstanceState)
        val layout = LinearLayout(this)
        layout.orientation = LinearLayout.VERTICAL
        layout.setPadding(32, 32, 32, 32)
        val title = TextView(this)
        title.text = "Pair this phone with a Relay server"
        server = EditText(this)
        server.hint = "Server address, e.g. https://sms.example.com"
        code = EditText(this)
        code.hint = "Pairing code"
        val scan = Button(this)
        scan.text = "Scan QR code"
        scan.setOnClickListener { scan() }
        val pair = Button(this)
        pair.text = "Pair"
        pair.setOnClickListener { pair(typedPayload()) }
        result = TextView(this)
        for (view in listOf(title, scan, server, code, pair, result)) layout.addView(view)
        setContentView(layout)

        intent?.data?.let { pair(it.toString()) }
    }

    private fun typedPayload(): String =
        "relay://pair?server=" + Uri.encode(server.text.toString().trim()) + "&code=" + Uri.encode(code.text.toString().trim())

    // startActivityForResult: the framework's way without AndroidX's Activity Result API.
    @Suppress("DEPRECATION")
    private fun scan() {
        val scan = Intent(SCAN_ACTION)
        scan.putExtra("SCAN_MODE", "QR_CODE_MODE")
        try {
            startActivityForResult(scan, SCAN_REQUEST)
        } catch (e: ActivityNotFoundException) {
            result.text = "No QR scanner app: scan the code with the camera app, or type the address and code."
        }
    }

    @Deprecated("The framework Activity API; no AndroidX here.")
    @Suppress("DEPRECATION")
    override fun onActivityResult(requestCode: Int, resultCode: Int, data: Intent?) {
        super.onActivityResult(requestCode, resultCode, data)
        val text = data?.getStringExtra("SCAN_RESULT")
        if (requestCode == SCAN_REQUEST && resultCode == RESULT_OK && text != null) pair(text)
    }

    private fun pair(payload: String) {
        val target = try {
            inspectPairingPayload(payload)
        } catch (e: RelayException) {
            result.text = "Not a pairing code: ${e.message}"
            return
        }
        result.text = "Pairing with ${target.serverUrl}…"
        val device = DeviceInfo(
            Build.MANUFACTURER + " " + Build.MODEL,
            Build.MODEL,
            BuildConfig.VERSION_NAME,
            Relay.sims(this),
        )
        val dataDir = Relay.dataDir(this)
        Thread {
            val text = try {
                val creds = RelayClient.open(dataDir).use { runBlocking { it.pair(payload, device) } }
                RelayService.start(applicationContext)
                "Paired as ${creds.deviceName} with ${creds.serverUrl}"
            } catch (e: RelayException) {
                "Pairing failed: ${e.message}"
            }
            runOnUiThread { result.text = text }
        }.start()
    }

    companion object {
        const val SCAN_ACTION = "com.google.zxing.client.android.SCAN"
        const val SCAN_REQUEST = 1
    }
}
