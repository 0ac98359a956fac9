// Liveness (public) and readiness (this account can send now: key, plan, phones, queue).
// Node 18+ (fetch is built in): RELAY_API_KEY=… node example.mjs

const res1 = await fetch("{{BASE_URL}}/v1/health");
console.log(JSON.stringify(await res1.json())); // errors are JSON too: { ok: false, error }
const res2 = await fetch("{{BASE_URL}}/v1/readiness", {
  headers: {
    Authorization: `Bearer ${process.env.RELAY_API_KEY}`,
  },
});
console.log(JSON.stringify(await res2.json())); // errors are JSON too: { ok: false, error }
