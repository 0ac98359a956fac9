package android.content;

import java.io.File;

public class ContextWrapper extends Context {
    public ContextWrapper(Context base) {}

    @Override public Context getApplicationContext() { throw new RuntimeException("Stub!"); }

    @Override public String getPackageName() { throw new RuntimeException("Stub!"); }

    @Override public File getFilesDir() { throw new RuntimeException("Stub!"); }

    @Override public Object getSystemService(String name) { throw new RuntimeException("Stub!"); }

    @Override public String getSystemServiceName(Class<?> serviceClass) { throw new RuntimeException("Stub!"); }

    @Override public int checkSelfPermission(String permission) { throw new RuntimeException("Stub!"); }

    @Override public ComponentName startForegroundService(Intent service) { throw new RuntimeException("Stub!"); }

    @Override public boolean stopService(Intent service) { throw new RuntimeException("Stub!"); }
}
