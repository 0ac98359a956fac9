// Follow a message: its status, the phone that sent it, and its timeline.
// Node 18+ (fetch is built in): RELAY_API_KEY=… node example.mjs

const res = await fetch(`{{BASE_URL}}/v1/messages/${process.env.REQUEST_ID}`, {
  headers: {
    Authorization: `Bearer ${process.env.RELAY_API_KEY}`,
  },
});
console.log(JSON.stringify(await res.json())); // errors are JSON too: { ok: false, error }
