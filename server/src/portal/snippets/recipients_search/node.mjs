// Search the directory by name or by (part of) a number.
// Node 18+ (fetch is built in): RELAY_API_KEY=… node example.mjs

const res = await fetch("{{BASE_URL}}/v1/recipients?q=Ali", {
  headers: {
    Authorization: `Bearer ${process.env.RELAY_API_KEY}`,
  },
});
console.log(JSON.stringify(await res.json())); // errors are JSON too: { ok: false, error }
