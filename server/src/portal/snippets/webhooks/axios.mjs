// Subscribe an endpoint of yours to events: the answer shows its signing secret once.
// npm install axios; RELAY_API_KEY=… node example.mjs
import axios from "axios";

const relay = axios.create({
  baseURL: "{{BASE_URL}}/v1",
  headers: { Authorization: `Bearer ${process.env.RELAY_API_KEY}` },
  validateStatus: () => true, // read error answers ({ ok: false, error }) instead of throwing
});

const { data } = await relay.post("/webhooks", {
  url: process.env.WEBHOOK_URL,
  events: ["message.delivered", "message.failed"],
});
console.log(JSON.stringify(data));
