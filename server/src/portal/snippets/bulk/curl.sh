# One text to many numbers, filled per recipient: the answer carries the batch_id.
# Needs: export RELAY_API_KEY=rk_live_…
curl -sS -w "\n" -X POST "{{BASE_URL}}/v1/messages/bulk" \
     -H "Authorization: Bearer $RELAY_API_KEY" \
     -H "Content-Type: application/json" \
     -d '{"message": "Hi {{name}}, your order {{order}} has shipped.", "recipients": [{"to": "+923001234567", "name": "Ali", "vars": {"order": "1043"}}, {"to": "+923007654321", "name": "Sara", "vars": {"order": "1044"}}]}'
