# Send a one-time code: the answer carries the otp_id to verify against.
# Needs: export RELAY_API_KEY=rk_live_…
curl -sS -w "\n" -X POST "{{BASE_URL}}/v1/otp/send" \
     -H "Authorization: Bearer $RELAY_API_KEY" \
     -H "Content-Type: application/json" \
     -d '{"to": "+923001234567", "purpose": "login", "locale": "en"}'
