# Verify a webhook from Relay in a shell, with openssl (Standard Webhooks: HMAC-SHA256 over
# "id.timestamp.body"). Inputs: WEBHOOK_SECRET, the request's webhook-id, webhook-timestamp and
# webhook-signature headers (WEBHOOK_ID, WEBHOOK_TIMESTAMP, WEBHOOK_SIGNATURE) and raw body (WEBHOOK_BODY).
key_hex=$(printf '%s' "${WEBHOOK_SECRET#whsec_}" | base64 -d | od -An -vtx1 | tr -d ' \n')
expected=$(printf '%s.%s.%s' "$WEBHOOK_ID" "$WEBHOOK_TIMESTAMP" "$WEBHOOK_BODY" |
  openssl dgst -sha256 -mac HMAC -macopt "hexkey:$key_hex" -binary | base64 | tr -d '\n')
age=$(( $(date +%s) - WEBHOOK_TIMESTAMP ))
verdict=invalid
if [ "${age#-}" -le 300 ]; then
  for signature in $WEBHOOK_SIGNATURE; do # two during a secret rotation
    if [ "$signature" = "v1,$expected" ]; then verdict=valid; fi
  done
fi
echo "$verdict"
[ "$verdict" = valid ]
