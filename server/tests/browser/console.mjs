// The console in a real browser (Debian's Chromium, driven by playwright-core), against a
// live server. server/tests/server/browser.rs starts the server and a simulated phone and
// talks to this script over lines on stdin/stdout:
//   script → test: "PAYLOAD <qr payload>"      (the pairing page is open)
//   script → test: "ONLINE"                    (the page saw the phone connect, no reload)
//   test → script: "<request id>"              (a message the phone will deliver slowly)
//   script → test: "DELIVERED"                 (the message page saw it, no reload)
//   test → script: "<request id>"              (a second message, for the messages list)
//   script → test: "LISTED"                    (the list saw it reach delivered, no reload;
//                                               then recipients, webhooks, queue, Urdu)
//   script → test: "DONE"
// Screenshots of each main page go to RELAY_SCREENSHOTS.
import { chromium } from "playwright-core";
import { createInterface } from "node:readline";

const base = process.env.RELAY_URL;
const shots = process.env.RELAY_SCREENSHOTS;
const lines = createInterface({ input: process.stdin })[Symbol.asyncIterator]();
const say = (line) => process.stdout.write(line + "\n");
const shot = (page, name) => page.screenshot({ path: `${shots}/${name}.png`, fullPage: true });

// Never hang the test that waits on us: a stuck step fails the run after two minutes.
setTimeout(() => {
  console.error("browser script: timed out");
  process.exit(2);
}, 120000).unref();

function check(condition, what) {
  if (!condition) throw new Error(`browser check failed: ${what}`);
}

const browser = await chromium.launch({
  executablePath: process.env.RELAY_CHROMIUM || "/usr/bin/chromium",
  args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync"],
});
try {
  const page = await browser.newPage();
  page.setDefaultTimeout(20000);

  // Sign in.
  await page.goto(`${base}/console`);
  check(page.url().endsWith("/console/login"), "signed out, the console opens the sign-in page");
  await shot(page, "sign-in");
  await page.fill("#email", process.env.RELAY_EMAIL);
  await page.fill("#password", process.env.RELAY_PASSWORD);
  await Promise.all([page.waitForURL(`${base}/console`), page.click("button[type=submit]")]);
  check(await page.isVisible("text=Getting started"), "the onboarding checklist");
  check(await page.isVisible("header a[href='/portal']"), "the developer portal is one click away");
  await shot(page, "dashboard");

  // Pair a phone from the QR page; the page notices the phone by itself.
  await page.click("a[href='/console/devices']");
  await page.click("form[action='/console/devices/pair'] button");
  await page.waitForSelector("figure.qr svg");
  await shot(page, "pairing");
  const payload = await page.getAttribute("figure.qr", "data-payload");
  const before = page.url();
  say(`PAYLOAD ${payload}`);
  await page.waitForSelector("#pair-status[data-paired='true'] .connected:not([hidden])");
  check(page.url() === before, "no navigation while waiting for the phone");
  const name = await page.textContent("#pair-status .name");
  check(name === "Browser phone", `the paired phone's name, got ${name}`);
  say("ONLINE");

  await page.click("a[href='/console/devices']");
  await page.waitForSelector("[data-device-state][data-state='online']");
  await shot(page, "devices");

  // A message page follows its message to delivered.
  const { value: id } = await lines.next();
  await page.goto(`${base}/console/messages/${id}`);
  const opened = await page.getAttribute("[data-message-status]", "data-state");
  check(opened !== "delivered", `the message was already ${opened} when its page opened`);
  const loaded = page.url();
  await page.waitForSelector("[data-message-status][data-state='delivered']", { timeout: 30000 });
  check(page.url() === loaded, "no navigation while the message travelled");
  check((await page.textContent("[data-message-status]")).trim() === "Delivered", "the status label");
  check((await page.locator("#timeline li").count()) === 4, "queued, dispatched, sent, delivered");
  await shot(page, "message");
  say("DELIVERED");

  // The messages list follows what it shows, too.
  const { value: second } = await lines.next();
  await page.goto(`${base}/console/messages`);
  const cell = `[data-message-status='${second}']`;
  const listedAs = await page.getAttribute(cell, "data-state");
  check(listedAs !== "delivered", `the second message was already ${listedAs} when the list opened`);
  const listUrl = page.url();
  await page.waitForSelector(`${cell}[data-state='delivered']`, { timeout: 30000 });
  check(page.url() === listUrl, "no navigation while the list updated");
  check((await page.textContent(cell)).trim() === "Delivered", "the list's status label");
  await shot(page, "messages");
  say("LISTED");

  // A recipient found by an Urdu name, typed in the search box; the number stays masked.
  await page.click("a[href='/console/recipients']");
  await page.fill("input[name=q]", "علی");
  await Promise.all([page.waitForURL(/\/console\/recipients\?q=/), page.click("form.search button")]);
  const found = page.locator("tr[data-recipient]");
  check((await found.count()) === 1, "one recipient matches علی");
  check((await found.first().textContent()).includes("محمد علی"), "the Urdu name");
  check(!(await page.content()).includes("+923001234567"), "the number is masked");
  await shot(page, "recipients");

  // Add one by hand, then import a file: each row's outcome is shown.
  await page.fill("form.recipient input[name=name]", "Zara Ahmed");
  await page.fill("form.recipient input[name=phone]", "+92 300 7654321");
  await page.fill("form.recipient input[name=tags]", "karachi");
  await Promise.all([page.waitForURL(/\/console\/recipients\/rcp_/), page.click("form.recipient button")]);
  check((await page.inputValue("#r-phone")) === "+923007654321", "the number as stored");
  await page.goto(`${base}/console/recipients`);
  const csv = "name,phone,tags\nعائشہ,+92 321 1234567,vip\nZara Ahmed,+923007654321,karachi|vip\nNo number,,\n";
  await page.setInputFiles("#import input[type=file]", { name: "people.csv", mimeType: "text/csv", buffer: Buffer.from(csv) });
  await Promise.all([page.waitForURL(`${base}/console/recipients/import`), page.click("#import button")]);
  const outcomes = await page.$$eval("#import-rows tr[data-line]", (rows) => rows.map((r) => `${r.dataset.line}:${r.dataset.outcome}`));
  check(outcomes.join(" ") === "2:created 3:updated 4:rejected", `per-row results, got ${outcomes}`);
  await shot(page, "recipients-import");
  const download = page.waitForEvent("download");
  await page.goto(`${base}/console/recipients`);
  await page.click("#export");
  const exported = await download;
  check(exported.suggestedFilename() === "recipients.csv", "the export's file name");

  // A webhook endpoint's attempt log: each refused attempt with its error.
  await page.click("a[href='/console/webhooks']");
  await page.click("tr[data-webhook] a");
  await page.waitForSelector("section.delivery tr.attempt");
  const firstAttempt = await page.textContent("section.delivery tr.attempt");
  check(/refused|connect/i.test(firstAttempt), `the attempt shows its network error: ${firstAttempt}`);
  await shot(page, "webhook-log");
  // The secret on request, and a test event from the page.
  await page.click("form[action$='/secret'] button");
  check((await page.textContent("#webhook-secret")).startsWith("whsec_"), "the revealed secret");
  const deliveries = await page.locator("section.delivery").count();
  await page.click("form[action$='/test'] button");
  await page.waitForSelector(`section.delivery >> nth=${deliveries}`);

  // Queue health: the last day drawn as a chart.
  await page.click("a[href='/console/queue']");
  await page.waitForSelector("svg#hourly-chart g.hour");
  const sentToday = await page.$$eval("svg#hourly-chart g.hour", (gs) => gs.reduce((n, g) => n + Number(g.dataset.sent), 0));
  check(sentToday === 2, `two messages sent today, the chart says ${sentToday}`);
  await shot(page, "queue");

  // Urdu, right to left, on the message's page.
  await page.goto(`${base}/console/messages/${id}`);
  await page.click("a[hreflang='ur']");
  await page.waitForSelector("html[dir='rtl'][lang='ur']");
  check((await page.textContent("[data-message-status]")).trim() === "پہنچ گیا", "the Urdu status label");
  await shot(page, "message-ur");
  await page.goto(`${base}/console`);
  check((await page.getAttribute("html", "dir")) === "rtl", "the language is remembered");
  await shot(page, "dashboard-ur");
  await page.goto(`${base}/console/queue`);
  check((await page.getAttribute("html", "dir")) === "rtl", "the queue page in Urdu");
  await shot(page, "queue-ur");
  await page.goto(`${base}/console/recipients`);
  await shot(page, "recipients-ur");
  say("DONE");
} catch (error) {
  console.error(`browser script: ${error.stack || error}`);
  process.exitCode = 1;
} finally {
  await browser.close();
  // stdin's reader would keep the process alive.
  process.exit();
}
