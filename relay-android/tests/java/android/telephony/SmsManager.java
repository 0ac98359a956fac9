package android.telephony;

import android.app.PendingIntent;
import java.util.ArrayList;
import relaytest.Calls;

/**
 * Stand-in for android.telephony.SmsManager (host-JVM tests): the members the relay uses, with
 * the real descriptors and constants. It records every call in relaytest.Calls, splits like the
 * platform for plain text (160 GSM-7 characters, 153 per part when split; 70 UCS-2 characters,
 * 67 per part), validates its arguments as the platform does, and throws Calls.throwOnSend
 * (a SecurityException, as without SEND_SMS) when a test sets it.
 */
public final class SmsManager {
    public static final int RESULT_ERROR_GENERIC_FAILURE = 1;
    public static final int RESULT_ERROR_RADIO_OFF = 2;
    public static final int RESULT_ERROR_NULL_PDU = 3;
    public static final int RESULT_ERROR_NO_SERVICE = 4;
    public static final int RESULT_ERROR_LIMIT_EXCEEDED = 5;
    public static final int RESULT_ERROR_FDN_CHECK_FAILURE = 6;
    public static final int RESULT_ERROR_SHORT_CODE_NOT_ALLOWED = 7;
    public static final int RESULT_ERROR_SHORT_CODE_NEVER_ALLOWED = 8;
    public static final String EXTRA_MMS_DATA = "android.telephony.extra.MMS_DATA";

    /** SubscriptionManager.DEFAULT_SUBSCRIPTION_ID. */
    private static final int DEFAULT_SUBSCRIPTION_ID = Integer.MAX_VALUE;

    private final int mSubId;

    private SmsManager(int subId) {
        mSubId = subId;
    }

    /** Instances are made by the stand-in Context's getSystemService(SmsManager.class) too. */
    static SmsManager forContext() {
        return new SmsManager(DEFAULT_SUBSCRIPTION_ID);
    }

    @Deprecated
    public static SmsManager getDefault() {
        Calls.log("SmsManager.getDefault");
        return new SmsManager(DEFAULT_SUBSCRIPTION_ID);
    }

    @Deprecated
    public static SmsManager getSmsManagerForSubscriptionId(int subId) {
        Calls.log("SmsManager.getSmsManagerForSubscriptionId " + subId);
        return new SmsManager(subId);
    }

    public SmsManager createForSubscriptionId(int subId) {
        if (Calls.sdkInt < 31) {
            throw new NoSuchMethodError("createForSubscriptionId is API 31");
        }
        Calls.log("SmsManager.createForSubscriptionId " + subId);
        return new SmsManager(subId);
    }

    public int getSubscriptionId() {
        return mSubId;
    }

    public ArrayList<String> divideMessage(String text) {
        if (text == null) {
            throw new IllegalArgumentException("text is null");
        }
        boolean gsm7 = text.chars().allMatch(c -> c < 0x80);
        int single = gsm7 ? 160 : 70;
        int multi = gsm7 ? 153 : 67;
        ArrayList<String> parts = new ArrayList<>();
        if (text.length() <= single) {
            parts.add(text);
        } else {
            for (int i = 0; i < text.length(); i += multi) {
                parts.add(text.substring(i, Math.min(text.length(), i + multi)));
            }
        }
        Calls.log("SmsManager.divideMessage sub=" + mSubId + " chars=" + text.length() + " parts=" + parts.size());
        return parts;
    }

    public void sendMultipartTextMessage(String destinationAddress, String scAddress, ArrayList<String> parts,
            ArrayList<PendingIntent> sentIntents, ArrayList<PendingIntent> deliveryIntents) {
        if (destinationAddress == null || destinationAddress.isEmpty()) {
            throw new IllegalArgumentException("Invalid destinationAddress");
        }
        if (parts == null || parts.size() < 1) {
            throw new IllegalArgumentException("Invalid message body");
        }
        if (Calls.throwOnSend != null) {
            throw new SecurityException(Calls.throwOnSend);
        }
        StringBuilder codes = new StringBuilder();
        for (int i = 0; i < parts.size(); i++) {
            codes.append(' ').append(sentIntents.get(i).requestCode()).append('/')
                    .append(deliveryIntents.get(i).requestCode());
        }
        Calls.log("SmsManager.sendMultipartTextMessage sub=" + mSubId + " dest=" + destinationAddress + " sc="
                + scAddress + " parts=" + parts.size() + " sent=" + sentIntents.size() + " delivery="
                + deliveryIntents.size() + " lengths=" + parts.stream().map(p -> String.valueOf(p.length()))
                        .reduce((a, b) -> a + "," + b).orElse("") + " codes=" + codes.toString().trim());
    }
}
