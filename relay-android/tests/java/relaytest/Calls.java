package relaytest;

import android.content.Context;
import android.telephony.SmsManager;
import java.util.ArrayList;
import java.util.List;

/** The tests' recorder and knobs for the Android stand-ins (host-JVM tests only). */
public final class Calls {
    /** Build.VERSION.SDK_INT as the stand-ins behave. */
    public static volatile int sdkInt = 34;
    /** When set, SmsManager.sendMultipartTextMessage throws a SecurityException with this text. */
    public static volatile String throwOnSend = null;

    private static final String SMS = "sms";
    private static final List<String> LOG = new ArrayList<>();

    public static synchronized void log(String line) {
        LOG.add(line);
    }

    /** Everything recorded so far, one call a line, and forgets it. */
    public static synchronized String take() {
        String out = String.join("\n", LOG);
        LOG.clear();
        return out;
    }

    public static void configure(int sdk, String throwMessage) {
        sdkInt = sdk;
        throwOnSend = throwMessage;
    }

    /** An application Context whose getSystemService(SmsManager.class) gives the default manager. */
    public static Context context(String packageName) {
        return new Context() {
            @Override
            public String getPackageName() {
                return packageName;
            }

            @Override
            public Context getApplicationContext() {
                return this;
            }

            @Override
            public Object getSystemService(String name) {
                log("Context.getSystemService " + name);
                if (!SMS.equals(name)) {
                    return null;
                }
                try { // the platform's own factory, package-private in the stand-in
                    java.lang.reflect.Method m = SmsManager.class.getDeclaredMethod("forContext");
                    m.setAccessible(true);
                    return m.invoke(null);
                } catch (ReflectiveOperationException e) {
                    throw new IllegalStateException(e);
                }
            }

            @Override
            public String getSystemServiceName(Class<?> serviceClass) {
                return serviceClass == SmsManager.class ? SMS : null;
            }
        };
    }
}
