package android.content;

import java.util.HashMap;
import java.util.Map;

/**
 * Stand-in for android.content.Intent (host-JVM tests): the constructor, setters and getters
 * the relay uses, with the real descriptors (the setters return this Intent, as the platform's do).
 */
public class Intent {
    private String mAction;
    private ComponentName mComponent;
    private final Map<String, Object> mExtras = new HashMap<>();

    public Intent(String action) {
        mAction = action;
    }

    public String getAction() {
        return mAction;
    }

    public Intent setClassName(String packageName, String className) {
        mComponent = new ComponentName(packageName, className);
        return this;
    }

    public ComponentName getComponent() {
        return mComponent;
    }

    public Intent putExtra(String name, String value) {
        mExtras.put(name, value);
        return this;
    }

    public Intent putExtra(String name, int value) {
        mExtras.put(name, value);
        return this;
    }

    public Intent putExtra(String name, byte[] value) {
        mExtras.put(name, value);
        return this;
    }

    public String getStringExtra(String name) {
        Object v = mExtras.get(name);
        return v instanceof String ? (String) v : null;
    }

    public int getIntExtra(String name, int defaultValue) {
        Object v = mExtras.get(name);
        return v instanceof Integer ? (Integer) v : defaultValue;
    }

    public byte[] getByteArrayExtra(String name) {
        Object v = mExtras.get(name);
        return v instanceof byte[] ? (byte[]) v : null;
    }
}
