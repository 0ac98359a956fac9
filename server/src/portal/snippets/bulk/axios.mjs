// One text to many numbers, filled per recipient: the answer carries the batch_id.
// npm install axios; RELAY_API_KEY=… node example.mjs
import axios from "axios";

const relay = axios.create({
  baseURL: "{{BASE_URL}}/v1",
  headers: { Authorization: `Bearer ${process.env.RELAY_API_KEY}` },
  validateStatus: () => true, // read error answers ({ ok: false, error }) instead of throwing
});

const { data } = await relay.post("/messages/bulk", {
  message: "Hi {{name}}, your order {{order}} has shipped.",
  recipients: [
    { to: "+923001234567", name: "Ali", vars: { order: "1043" } },
    { to: "+923007654321", name: "Sara", vars: { order: "1044" } },
  ],
});
console.log(JSON.stringify(data));
