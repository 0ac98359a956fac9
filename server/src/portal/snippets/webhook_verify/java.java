// Verify a webhook from Relay (Standard Webhooks: HMAC-SHA256 over "id.timestamp.body").
// The JDK only; or use the official library com.standardwebhooks:standardwebhooks.
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.util.Base64;
import javax.crypto.Mac;
import javax.crypto.spec.SecretKeySpec;

public class VerifyWebhook {
    static boolean verify(String secret, String id, String timestamp, String signatureHeader, String rawBody)
            throws Exception {
        long ts;
        try {
            ts = Long.parseLong(timestamp);
        } catch (NumberFormatException e) {
            return false;
        }
        if (Math.abs(System.currentTimeMillis() / 1000 - ts) > 300) {
            return false;
        }
        Mac mac = Mac.getInstance("HmacSHA256");
        mac.init(new SecretKeySpec(Base64.getDecoder().decode(secret.replaceFirst("^whsec_", "")), "HmacSHA256"));
        byte[] expected = mac.doFinal((id + "." + timestamp + "." + rawBody).getBytes(StandardCharsets.UTF_8));
        // Two signatures, separated by a space, during a secret rotation.
        for (String part : signatureHeader.split(" ")) {
            String[] pieces = part.split(",", 2);
            if (pieces.length == 2 && pieces[0].equals("v1")) {
                try {
                    if (MessageDigest.isEqual(Base64.getDecoder().decode(pieces[1]), expected)) {
                        return true;
                    }
                } catch (IllegalArgumentException notBase64) {
                    // not one of ours
                }
            }
        }
        return false;
    }

    public static void main(String[] args) throws Exception {
        // In a servlet or Spring controller: the three webhook-* headers and the raw body as a String.
        boolean ok = verify(System.getenv("WEBHOOK_SECRET"), System.getenv("WEBHOOK_ID"),
            System.getenv("WEBHOOK_TIMESTAMP"), System.getenv("WEBHOOK_SIGNATURE"), System.getenv("WEBHOOK_BODY"));
        System.out.println(ok ? "valid" : "invalid");
        System.exit(ok ? 0 : 1);
    }
}
