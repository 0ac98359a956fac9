// Queue one SMS: the answer carries its request_id and status "queued".
// npm install axios; RELAY_API_KEY=… node example.mjs
import axios from "axios";

const relay = axios.create({
  baseURL: "{{BASE_URL}}/v1",
  headers: { Authorization: `Bearer ${process.env.RELAY_API_KEY}` },
  validateStatus: () => true, // read error answers ({ ok: false, error }) instead of throwing
});

const { data } = await relay.post("/messages", { to: "+923001234567", message: "Your order 1043 has shipped." });
console.log(JSON.stringify(data));
