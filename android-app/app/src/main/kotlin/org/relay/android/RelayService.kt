package org.relay.android

import android.app.Notification
import android.app.NotificationChannel
import android.app.NotificationManager
import android.app.PendingIntent
import android.app.Service
import android.content.Context
import android.content.Intent
import android.content.pm.ServiceInfo
import android.os.Build
import android.os.IBinder
import android.util.Log
import uniffi.relay_android.androidSmsTransport
import uniffi.relay_core.ConnectionState
import uniffi.relay_core.RelayClient
import uniffi.relay_core.RelayHandle
import uniffi.relay_core.defaultClientOptions

/**
 * The foreground service that owns the relay agent (relay-core through uniffi) while the phone
 * is paired: type remoteMessaging (relaying messages for a remote server; no daily cap, unlike
 * dataSync), sticky, restarted after reboot and update by BootReceiver. Its notification shows
 * the connection state and today's count.
 */
class RelayService : Service() {
    private var client: RelayClient? = null
    private var handle: RelayHandle? = null

    override fun onCreate() {
        super.onCreate()
        val manager = getSystemService(NotificationManager::class.java)
        manager?.createNotificationChannel(
            NotificationChannel(CHANNEL, "Relay status", NotificationManager.IMPORTANCE_LOW),
        )
        val notification = notification()
        if (Build.VERSION.SDK_INT >= 34) {
            startForeground(NOTIFICATION_ID, notification, ServiceInfo.FOREGROUND_SERVICE_TYPE_REMOTE_MESSAGING)
        } else {
            startForeground(NOTIFICATION_ID, notification)
        }
        startAgent()
    }

    override fun onStartCommand(intent: Intent?, flags: Int, startId: Int): Int = START_STICKY

    override fun onBind(intent: Intent?): IBinder? = null

    override fun onDestroy() {
        handle?.let {
            it.stopBlocking()
            it.close()
        }
        handle = null
        client?.close()
        client = null
        super.onDestroy()
    }

    private fun startAgent() {
        try {
            if (!RelayNative.ensure(this)) {
                Log.e(TAG, "native init failed")
            }
            val sims = Relay.sims(this)
            RelayNative.setSubscriptions(Relay.subscriptionIdsBySlot(sims))
            val opened = RelayClient.open(Relay.dataDir(this))
            client = opened
            if (!opened.status().paired) {
                Log.i(TAG, "not paired: stopping")
                stopSelf()
                return
            }
            val options = defaultClientOptions().copy(appVersion = BuildConfig.VERSION_NAME)
            handle = opened.start(androidSmsTransport(), Relay.Health(this), Relay.Listener { refresh() }, options)
        } catch (e: Exception) {
            Log.e(TAG, "the relay agent did not start", e)
            stopSelf()
        }
    }

    private fun refresh() {
        getSystemService(NotificationManager::class.java)?.notify(NOTIFICATION_ID, notification())
    }

    private fun notification(): Notification {
        val state = when (val c = Relay.connection) {
            is ConnectionState.Connected -> "Connected to ${c.url}"
            is ConnectionState.Connecting -> "Connecting…"
            is ConnectionState.Disconnected -> "Reconnecting (${c.reason})"
            is ConnectionState.Unauthorized -> "Refused by the server: pair again"
            is ConnectionState.Stopped -> "Offline"
        }
        val open = PendingIntent.getActivity(
            this,
            0,
            Intent(this, MainActivity::class.java),
            PendingIntent.FLAG_IMMUTABLE,
        )
        return Notification.Builder(this, CHANNEL)
            .setSmallIcon(android.R.drawable.stat_notify_chat)
            .setContentTitle(state)
            .setContentText("${Relay.sentToday} sent today")
            .setContentIntent(open)
            .setOngoing(true)
            .build()
    }

    companion object {
        private const val TAG = "RelayService"
        private const val CHANNEL = "relay"
        private const val NOTIFICATION_ID = 1

        fun start(context: Context) {
            context.startForegroundService(Intent(context, RelayService::class.java))
        }

        fun stop(context: Context) {
            context.stopService(Intent(context, RelayService::class.java))
        }
    }
}
