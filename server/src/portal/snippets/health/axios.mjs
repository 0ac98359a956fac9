// Liveness (public) and readiness (this account can send now: key, plan, phones, queue).
// npm install axios; RELAY_API_KEY=… node example.mjs
import axios from "axios";

const relay = axios.create({
  baseURL: "{{BASE_URL}}/v1",
  headers: { Authorization: `Bearer ${process.env.RELAY_API_KEY}` },
  validateStatus: () => true, // read error answers ({ ok: false, error }) instead of throwing
});

const { data: data1 } = await relay.get("/health", { headers: { Authorization: null } });
console.log(JSON.stringify(data1));
const { data: data2 } = await relay.get("/readiness");
console.log(JSON.stringify(data2));
