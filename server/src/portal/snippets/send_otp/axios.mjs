// Send a one-time code: the answer carries the otp_id to verify against.
// npm install axios; RELAY_API_KEY=… node example.mjs
import axios from "axios";

const relay = axios.create({
  baseURL: "{{BASE_URL}}/v1",
  headers: { Authorization: `Bearer ${process.env.RELAY_API_KEY}` },
  validateStatus: () => true, // read error answers ({ ok: false, error }) instead of throwing
});

const { data } = await relay.post("/otp/send", { to: "+923001234567", purpose: "login", locale: "en" });
console.log(JSON.stringify(data));
