# Subscribe an endpoint of yours to events: the answer shows its signing secret once.
# Needs: export RELAY_API_KEY=rk_live_… WEBHOOK_URL=…
curl -sS -w "\n" -X POST "{{BASE_URL}}/v1/webhooks" \
     -H "Authorization: Bearer $RELAY_API_KEY" \
     -H "Content-Type: application/json" \
     -d "{\"url\": \"$WEBHOOK_URL\", \"events\": [\"message.delivered\", \"message.failed\"]}"
