# Follow a message: its status, the phone that sent it, and its timeline.
# Needs: export RELAY_API_KEY=rk_live_… REQUEST_ID=…
curl -sS -w "\n" "{{BASE_URL}}/v1/messages/$REQUEST_ID" \
     -H "Authorization: Bearer $RELAY_API_KEY"
