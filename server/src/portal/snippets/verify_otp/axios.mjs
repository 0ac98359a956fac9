// Check the code the person typed: status is "success", "failed" or "expired".
// npm install axios; RELAY_API_KEY=… node example.mjs
import axios from "axios";

const relay = axios.create({
  baseURL: "{{BASE_URL}}/v1",
  headers: { Authorization: `Bearer ${process.env.RELAY_API_KEY}` },
  validateStatus: () => true, // read error answers ({ ok: false, error }) instead of throwing
});

const { data } = await relay.post("/otp/verify", { otp_id: process.env.OTP_ID, code: process.env.OTP_CODE });
console.log(JSON.stringify(data));
