package android.telephony;

import relaytest.Calls;

/**
 * Stand-in for android.telephony.SmsMessage (host-JVM tests): createFromPdu and getStatus with
 * the real descriptors. It reads a GSM 03.40 SMS-STATUS-REPORT the way the platform does
 * (SMSC address, first octet, TP-MR, TP-RA, TP-SCTS, TP-DT, TP-ST) and, like the platform,
 * returns null for a PDU it cannot read or a format it does not know.
 */
public final class SmsMessage {
    public static final String FORMAT_3GPP = "3gpp";
    public static final String FORMAT_3GPP2 = "3gpp2";

    private final int mStatus;

    private SmsMessage(int status) {
        mStatus = status;
    }

    public static SmsMessage createFromPdu(byte[] pdu, String format) {
        Calls.log("SmsMessage.createFromPdu format=" + format + " bytes=" + (pdu == null ? -1 : pdu.length));
        if (pdu == null || !FORMAT_3GPP.equals(format)) {
            return null;
        }
        try {
            int i = (pdu[0] & 0xff) + 1; // SMSC address length, then the address
            int firstOctet = pdu[i++] & 0xff;
            if ((firstOctet & 0x03) != 0x02) {
                return null; // not an SMS-STATUS-REPORT
            }
            i++; // TP-MR
            int digits = pdu[i++] & 0xff;
            i += 1 + (digits + 1) / 2; // TP-RA type of address and digits
            i += 7 + 7; // TP-SCTS, TP-DT
            return new SmsMessage(pdu[i] & 0xff);
        } catch (ArrayIndexOutOfBoundsException e) {
            return null;
        }
    }

    public int getStatus() {
        return mStatus;
    }
}
