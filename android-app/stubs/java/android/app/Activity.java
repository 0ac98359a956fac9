package android.app;

import android.content.ContextWrapper;
import android.content.Intent;
import android.os.Bundle;
import android.view.View;

public class Activity extends ContextWrapper {
    public static final int RESULT_CANCELED = 0;
    public static final int RESULT_OK = -1;

    public Activity() {
        super(null);
    }

    protected void onCreate(Bundle savedInstanceState) {}

    protected void onResume() {}

    protected void onPause() {}

    @Deprecated
    protected void onActivityResult(int requestCode, int resultCode, Intent data) {}

    public Intent getIntent() {
        throw new RuntimeException("Stub!");
    }

    public void setContentView(View view) {}

    public void startActivity(Intent intent) {}

    @Deprecated
    public void startActivityForResult(Intent intent, int requestCode) {}

    public final void runOnUiThread(Runnable action) {}

    public final void requestPermissions(String[] permissions, int requestCode) {}
}
