package org.relay.android;

import android.content.Context;

/**
 * The JNI entry points as the app declares them (android-app's Kotlin `object RelayNative` with
 * `@JvmStatic external fun`s compiles to exactly these static native methods). The host-JVM test
 * registers the Rust functions on this class and calls them through the JVM.
 */
public final class RelayNative {
    private RelayNative() {}

    public static native boolean init(Context context, int sdkInt, String receiverClass);

    public static native void setSubscriptions(int[] subscriptionIdBySlot);

    public static native void onSmsResult(int kind, String messageId, int part, int parts, int resultCode,
            int errorCode, byte[] pdu, String format);
}
