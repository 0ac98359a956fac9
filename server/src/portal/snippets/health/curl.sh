# Liveness (public) and readiness (this account can send now: key, plan, phones, queue).
# Needs: export RELAY_API_KEY=rk_live_…
curl -sS -w "\n" "{{BASE_URL}}/v1/health"
curl -sS -w "\n" "{{BASE_URL}}/v1/readiness" \
     -H "Authorization: Bearer $RELAY_API_KEY"
