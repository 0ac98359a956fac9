package android.telephony;

public class SubscriptionInfo {
    public int getSubscriptionId() { throw new RuntimeException("Stub!"); }

    public int getSimSlotIndex() { throw new RuntimeException("Stub!"); }

    public CharSequence getCarrierName() { throw new RuntimeException("Stub!"); }
}
