// Check the code the person typed: status is "success", "failed" or "expired".
// Node 18+ (fetch is built in): RELAY_API_KEY=… node example.mjs

const res = await fetch("{{BASE_URL}}/v1/otp/verify", {
  method: "POST",
  headers: {
    Authorization: `Bearer ${process.env.RELAY_API_KEY}`,
    "Content-Type": "application/json",
  },
  body: JSON.stringify({ otp_id: process.env.OTP_ID, code: process.env.OTP_CODE }),
});
console.log(JSON.stringify(await res.json())); // errors are JSON too: { ok: false, error }
