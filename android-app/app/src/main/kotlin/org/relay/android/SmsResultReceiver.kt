package org.relay.android

import android.content.BroadcastReceiver
import android.content.Context
import android.content.Intent

/**
 * Receives the SENT and DELIVERED PendingIntents relay-android gives SmsManager (one pair per
 * part) and hands each to Rust, which maps the result code and the delivery report's status and
 * adds the parts up. Android may start the process just for this broadcast, so it initialises
 * the native side itself; Rust keeps the answer until the agent recovers the message.
 */
class SmsResultReceiver : BroadcastReceiver() {
    override fun onReceive(context: Context, intent: Intent) {
        val kind = when (intent.action) {
            ACTION_SENT -> RelayNative.SENT
            ACTION_DELIVERED -> RelayNative.DELIVERED
            else -> return
        }
        val messageId = intent.getStringExtra(EXTRA_MESSAGE_ID) ?: return
        RelayNative.ensure(context)
        RelayNative.onSmsResult(
            kind,
            messageId,
            intent.getIntExtra(EXTRA_PART, 0),
            intent.getIntExtra(EXTRA_PARTS, 1),
            resultCode,
            intent.getIntExtra("errorCode", -1),
            intent.getByteArrayExtra("pdu"),
            intent.getStringExtra("format"),
        )
    }

    companion object {
        // The same strings as relay-android/src/jvm.rs.
        const val ACTION_SENT = "org.relay.android.SMS_SENT"
        const val ACTION_DELIVERED = "org.relay.android.SMS_DELIVERED"
        const val EXTRA_MESSAGE_ID = "org.relay.android.extra.MESSAGE_ID"
        const val EXTRA_PART = "org.relay.android.extra.PART"
        const val EXTRA_PARTS = "org.relay.android.extra.PARTS"
    }
}
