// Verify a webhook from Relay (Standard Webhooks: HMAC-SHA256 over "id.timestamp.body").
// Node's crypto only; or use the official package: npm install standardwebhooks.
import { createHmac, timingSafeEqual } from "node:crypto";

export function verifyWebhook(secret, id, timestamp, signatureHeader, rawBody) {
  const ts = Number(timestamp);
  if (!Number.isInteger(ts) || Math.abs(Date.now() / 1000 - ts) > 300) return false;
  const key = Buffer.from(secret.replace(/^whsec_/, ""), "base64");
  const expected = createHmac("sha256", key).update(`${id}.${timestamp}.${rawBody}`).digest();
  // Two signatures, separated by a space, during a secret rotation.
  return signatureHeader.split(" ").some((part) => {
    const [version, signature = ""] = part.split(",");
    const given = Buffer.from(signature, "base64");
    return version === "v1" && given.length === expected.length && timingSafeEqual(given, expected);
  });
}

// In your handler (raw body, e.g. express.raw({ type: "application/json" })):
// verifyWebhook(secret, req.get("webhook-id"), req.get("webhook-timestamp"), req.get("webhook-signature"), req.body.toString())
const { WEBHOOK_SECRET, WEBHOOK_ID, WEBHOOK_TIMESTAMP, WEBHOOK_SIGNATURE, WEBHOOK_BODY } = process.env;
const ok = verifyWebhook(WEBHOOK_SECRET, WEBHOOK_ID, WEBHOOK_TIMESTAMP, WEBHOOK_SIGNATURE, WEBHOOK_BODY);
console.log(ok ? "valid" : "invalid");
process.exit(ok ? 0 : 1);
