# Queue one SMS: the answer carries its request_id and status "queued".
# Needs: export RELAY_API_KEY=rk_live_…
curl -sS -w "\n" -X POST "{{BASE_URL}}/v1/messages" \
     -H "Authorization: Bearer $RELAY_API_KEY" \
     -H "Content-Type: application/json" \
     -d '{"to": "+923001234567", "message": "Your order 1043 has shipped."}'
