# Check the code the person typed: status is "success", "failed" or "expired".
# Needs: export RELAY_API_KEY=rk_live_… OTP_CODE=… OTP_ID=…
curl -sS -w "\n" -X POST "{{BASE_URL}}/v1/otp/verify" \
     -H "Authorization: Bearer $RELAY_API_KEY" \
     -H "Content-Type: application/json" \
     -d "{\"otp_id\": \"$OTP_ID\", \"code\": \"$OTP_CODE\"}"
