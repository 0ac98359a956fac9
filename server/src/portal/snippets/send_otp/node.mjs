// Send a one-time code: the answer carries the otp_id to verify against.
// Node 18+ (fetch is built in): RELAY_API_KEY=… node example.mjs

const res = await fetch("{{BASE_URL}}/v1/otp/send", {
  method: "POST",
  headers: {
    Authorization: `Bearer ${process.env.RELAY_API_KEY}`,
    "Content-Type": "application/json",
  },
  body: JSON.stringify({ to: "+923001234567", purpose: "login", locale: "en" }),
});
console.log(JSON.stringify(await res.json())); // errors are JSON too: { ok: false, error }
