package android.content;

/**
 * Stand-in for android.content.Context (host-JVM tests): only the members the relay's JNI glue
 * uses, with the real descriptors. getSystemService(Class) is final in the platform and resolves
 * the class to a service name first, as here.
 */
public abstract class Context {
    public abstract String getPackageName();

    public abstract Context getApplicationContext();

    public abstract Object getSystemService(String name);

    public abstract String getSystemServiceName(Class<?> serviceClass);

    @SuppressWarnings("unchecked")
    public final <T> T getSystemService(Class<T> serviceClass) {
        String name = getSystemServiceName(serviceClass);
        return name != null ? (T) getSystemService(name) : null;
    }
}
