# Search the directory by name or by (part of) a number.
# Needs: export RELAY_API_KEY=rk_live_…
curl -sS -w "\n" "{{BASE_URL}}/v1/recipients?q=Ali" \
     -H "Authorization: Bearer $RELAY_API_KEY"
