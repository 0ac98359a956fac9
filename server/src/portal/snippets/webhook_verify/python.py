# Verify a webhook from Relay (Standard Webhooks: HMAC-SHA256 over "id.timestamp.body").
# Standard library only; or use the official package: pip install standardwebhooks.
import base64
import hashlib
import hmac
import os
import sys
import time

TOLERANCE_SECONDS = 300


def verify_webhook(secret, msg_id, timestamp, signature_header, raw_body):
    """True when one of the signatures is ours and the timestamp is recent. `raw_body`: the body as received (str)."""
    if not timestamp.isdigit() or abs(time.time() - int(timestamp)) > TOLERANCE_SECONDS:
        return False
    key = base64.b64decode(secret.removeprefix("whsec_"))
    signed = f"{msg_id}.{timestamp}.{raw_body}".encode()
    expected = base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
    for candidate in signature_header.split(" "):  # two during a secret rotation
        version, _, signature = candidate.partition(",")
        if version == "v1" and hmac.compare_digest(signature, expected):
            return True
    return False


# In your handler: verify_webhook(secret, headers["webhook-id"], headers["webhook-timestamp"],
#                                 headers["webhook-signature"], raw_body), then de-duplicate on webhook-id.
ok = verify_webhook(
    os.environ["WEBHOOK_SECRET"],
    os.environ["WEBHOOK_ID"],
    os.environ["WEBHOOK_TIMESTAMP"],
    os.environ["WEBHOOK_SIGNATURE"],
    os.environ["WEBHOOK_BODY"],
)
print("valid" if ok else "invalid")
sys.exit(0 if ok else 1)
