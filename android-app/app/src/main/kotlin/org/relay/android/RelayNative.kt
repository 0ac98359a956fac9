package org.relay.android

import android.content.Context
import android.os.Build

/**
 * The JNI entry points of librelay_android.so (relay-android/src/native.rs). uniffi loads the
 * same library through JNA for the rest of the API; these few calls carry what JNA cannot: the
 * app's Context, and the result broadcasts of SmsManager.
 */
object RelayNative {
    const val SENT = 0
    const val DELIVERED = 1

    init {
        System.loadLibrary("relay_android")
    }

    /** Keeps the JavaVM and the application Context; idempotent. */
    @JvmStatic external fun init(context: Context, sdkInt: Int, receiverClass: String): Boolean

    /** Subscription id by SIM slot (index = slot, -1 = empty slot). */
    @JvmStatic external fun setSubscriptions(subscriptionIdBySlot: IntArray)

    /** One SENT or DELIVERED broadcast, as SmsResultReceiver got it. */
    @JvmStatic external fun onSmsResult(
        kind: Int,
        messageId: String,
        part: Int,
        parts: Int,
        resultCode: Int,
        errorCode: Int,
        pdu: ByteArray?,
        format: String?,
    )

    fun ensure(context: Context): Boolean =
        init(context.applicationContext, Build.VERSION.SDK_INT, SmsResultReceiver::class.java.name)
}
