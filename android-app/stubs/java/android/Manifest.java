package android;

public final class Manifest {
    public static final class permission {
        public static final String SEND_SMS = "android.permission.SEND_SMS";
        public static final String READ_PHONE_STATE = "android.permission.READ_PHONE_STATE";
        public static final String POST_NOTIFICATIONS = "android.permission.POST_NOTIFICATIONS";
        public static final String CAMERA = "android.permission.CAMERA";
    }
}
