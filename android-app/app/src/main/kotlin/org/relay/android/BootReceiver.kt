package org.relay.android

import android.content.BroadcastReceiver
import android.content.Context
import android.content.Intent

/**
 * Starts the relay service after a reboot and after the app was updated, if the phone is
 * paired. (`remoteMessaging` is not among the foreground service types Android 15 forbids to
 * start from BOOT_COMPLETED.)
 */
class BootReceiver : BroadcastReceiver() {
    override fun onReceive(context: Context, intent: Intent) {
        when (intent.action) {
            Intent.ACTION_BOOT_COMPLETED, Intent.ACTION_MY_PACKAGE_REPLACED -> {
                if (Relay.isPaired(context)) {
                    RelayService.start(context)
                }
            }
        }
    }
}
