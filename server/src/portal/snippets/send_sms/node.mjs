// Queue one SMS: the answer carries its request_id and status "queued".
// Node 18+ (fetch is built in): RELAY_API_KEY=… node example.mjs

const res = await fetch("{{BASE_URL}}/v1/messages", {
  method: "POST",
  headers: {
    Authorization: `Bearer ${process.env.RELAY_API_KEY}`,
    "Content-Type": "application/json",
  },
  body: JSON.stringify({ to: "+923001234567", message: "Your order 1043 has shipped." }),
});
console.log(JSON.stringify(await res.json())); // errors are JSON too: { ok: false, error }
