package android.app;

import android.content.Context;
import android.content.Intent;
import relaytest.Calls;

/**
 * Stand-in for android.app.PendingIntent (host-JVM tests): getBroadcast with the real descriptor
 * and flag values. Like the platform from API 31 (Calls.sdkInt), it refuses a PendingIntent that
 * is neither mutable nor immutable. Each one keeps its request code, flags and intent so the
 * tests can read them (those accessors are the stand-in's own).
 */
public final class PendingIntent {
    public static final int FLAG_ONE_SHOT = 1 << 30;
    public static final int FLAG_NO_CREATE = 1 << 29;
    public static final int FLAG_CANCEL_CURRENT = 1 << 28;
    public static final int FLAG_UPDATE_CURRENT = 1 << 27;
    public static final int FLAG_IMMUTABLE = 1 << 26;
    public static final int FLAG_MUTABLE = 1 << 25;

    private final int requestCode;
    private final Intent intent;
    private final int flags;

    private PendingIntent(int requestCode, Intent intent, int flags) {
        this.requestCode = requestCode;
        this.intent = intent;
        this.flags = flags;
    }

    public static PendingIntent getBroadcast(Context context, int requestCode, Intent intent, int flags) {
        if (context == null || intent == null) {
            throw new NullPointerException("context and intent must not be null");
        }
        if (Calls.sdkInt >= 31 && (flags & (FLAG_MUTABLE | FLAG_IMMUTABLE)) == 0) {
            throw new IllegalArgumentException(context.getPackageName()
                    + ": Targeting S+ (version 31 and above) requires that one of FLAG_IMMUTABLE or FLAG_MUTABLE"
                    + " be specified when creating a PendingIntent.");
        }
        PendingIntent p = new PendingIntent(requestCode, intent, flags);
        Calls.log("PendingIntent.getBroadcast " + p.describe());
        return p;
    }

    /** Stand-in only: what the tests check. */
    public String describe() {
        return "code=" + requestCode + " flags=0x" + Integer.toHexString(flags)
                + " action=" + intent.getAction()
                + " component=" + (intent.getComponent() == null ? "null"
                        : intent.getComponent().getPackageName() + "/" + intent.getComponent().getClassName())
                + " id=" + intent.getStringExtra("org.relay.android.extra.MESSAGE_ID")
                + " part=" + intent.getIntExtra("org.relay.android.extra.PART", -1)
                + " parts=" + intent.getIntExtra("org.relay.android.extra.PARTS", -1);
    }

    /** Stand-in only. */
    public int requestCode() {
        return requestCode;
    }
}
