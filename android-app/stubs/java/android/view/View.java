package android.view;

import android.content.Context;

public class View {
    public interface OnClickListener {
        void onClick(View v);
    }

    public View(Context context) {}

    public void setPadding(int left, int top, int right, int bottom) {}

    public void setOnClickListener(OnClickListener l) {}

    public boolean isEnabled() { throw new RuntimeException("Stub!"); }

    public void setEnabled(boolean enabled) {}
}
