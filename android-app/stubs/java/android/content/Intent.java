package android.content;

import android.net.Uri;

public class Intent {
    public static final String ACTION_BOOT_COMPLETED = "android.intent.action.BOOT_COMPLETED";
    public static final String ACTION_MY_PACKAGE_REPLACED = "android.intent.action.MY_PACKAGE_REPLACED";

    public Intent(String action) {}

    public Intent(Context packageContext, Class<?> cls) {}

    public String getAction() { throw new RuntimeException("Stub!"); }

    public Uri getData() { throw new RuntimeException("Stub!"); }

    public Intent setData(Uri data) { throw new RuntimeException("Stub!"); }

    public String getStringExtra(String name) { throw new RuntimeException("Stub!"); }

    public int getIntExtra(String name, int defaultValue) { throw new RuntimeException("Stub!"); }

    public byte[] getByteArrayExtra(String name) { throw new RuntimeException("Stub!"); }

    public Intent putExtra(String name, String value) { throw new RuntimeException("Stub!"); }

    public Intent putExtra(String name, int value) { throw new RuntimeException("Stub!"); }
}
