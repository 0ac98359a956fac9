package android.util;

public final class Log {
    public static int i(String tag, String msg) { return 0; }

    public static int e(String tag, String msg) { return 0; }

    public static int e(String tag, String msg, Throwable tr) { return 0; }
}
