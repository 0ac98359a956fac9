package android.content;

import java.io.File;

public abstract class Context {
    public abstract Context getApplicationContext();

    public abstract String getPackageName();

    public abstract File getFilesDir();

    public abstract Object getSystemService(String name);

    public abstract String getSystemServiceName(Class<?> serviceClass);

    @SuppressWarnings("unchecked")
    public final <T> T getSystemService(Class<T> serviceClass) {
        String name = getSystemServiceName(serviceClass);
        return name == null ? null : (T) getSystemService(name);
    }

    public abstract int checkSelfPermission(String permission);

    public abstract ComponentName startForegroundService(Intent service);

    public abstract boolean stopService(Intent service);
}
