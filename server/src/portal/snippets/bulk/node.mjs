// One text to many numbers, filled per recipient: the answer carries the batch_id.
// Node 18+ (fetch is built in): RELAY_API_KEY=… node example.mjs

const res = await fetch("{{BASE_URL}}/v1/messages/bulk", {
  method: "POST",
  headers: {
    Authorization: `Bearer ${process.env.RELAY_API_KEY}`,
    "Content-Type": "application/json",
  },
  body: JSON.stringify({
    message: "Hi {{name}}, your order {{order}} has shipped.",
    recipients: [
      { to: "+923001234567", name: "Ali", vars: { order: "1043" } },
      { to: "+923007654321", name: "Sara", vars: { order: "1044" } },
    ],
  }),
});
console.log(JSON.stringify(await res.json())); // errors are JSON too: { ok: false, error }
