// Subscribe an endpoint of yours to events: the answer shows its signing secret once.
// Node 18+ (fetch is built in): RELAY_API_KEY=… node example.mjs

const res = await fetch("{{BASE_URL}}/v1/webhooks", {
  method: "POST",
  headers: {
    Authorization: `Bearer ${process.env.RELAY_API_KEY}`,
    "Content-Type": "application/json",
  },
  body: JSON.stringify({
    url: process.env.WEBHOOK_URL,
    events: ["message.delivered", "message.failed"],
  }),
});
console.log(JSON.stringify(await res.json())); // errors are JSON too: { ok: false, error }
