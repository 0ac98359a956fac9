// Search the directory by name or by (part of) a number.
// npm install axios; RELAY_API_KEY=… node example.mjs
import axios from "axios";

const relay = axios.create({
  baseURL: "{{BASE_URL}}/v1",
  headers: { Authorization: `Bearer ${process.env.RELAY_API_KEY}` },
  validateStatus: () => true, // read error answers ({ ok: false, error }) instead of throwing
});

const { data } = await relay.get("/recipients?q=Ali");
console.log(JSON.stringify(data));
