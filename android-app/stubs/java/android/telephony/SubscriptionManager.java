package android.telephony;

import java.util.List;

public class SubscriptionManager {
    public static final int INVALID_SUBSCRIPTION_ID = -1;

    public List<SubscriptionInfo> getActiveSubscriptionInfoList() { throw new RuntimeException("Stub!"); }
}
