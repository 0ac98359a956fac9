package android;

public final class R {
    public static final class drawable {
        public static final int stat_notify_chat = 0x0108008a;
    }
}
