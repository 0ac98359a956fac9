// The console in a real browser (Debian's Chromium, driven by playwright-core), against a
// live server. server/tests/server/browser.rs starts the server and a simulated phone and
// talks to this script over lines on stdin/stdout:
//   script → test: "PAYLOAD <qr payload>"      (the pairing page is open)
//   script → test: "ONLINE"                    (the page saw the phone connect, no reload)
//   test → script: "<request id>"              (a message the phone will deliver slowly)
//   script → test: "DELIVERED"                 (the message page saw it, no reload; then the
//                                               recipient محمد علی is searched by Urdu name)
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

  // A recipient found by an Urdu name, typed in the search box; the number stays masked.
  await page.click("a[href='/console/recipients']");
  await page.fill("input[name=q]", "علی");
  await Promise.all([page.waitForURL(/\/console\/recipients\?q=/), page.click("form.search button")]);
  const found = page.locator("tr[data-recipient]");
  check((await found.count()) === 1, "one recipient matches علی");
  check((await found.first().textContent()).includes("محمد علی"), "the Urdu name");
  check(!(await page.content()).includes("+923001234567"), "the number is masked");
  await shot(page, "recipients");

  // A webhook endpoint's attempt log: each refused attempt with its error.
  await page.click("a[href='/console/webhooks']");
  await page.click("tr[data-webhook] a");
  await page.waitForSelector("section.delivery tr.attempt");
  const firstAttempt = await page.textContent("section.delivery tr.attempt");
  check(/refused|connect/i.test(firstAttempt), `the attempt shows its network error: ${firstAttempt}`);
  await shot(page, "webhook-log");

  // Urdu, right to left, on the message's page.
  await page.goto(`${base}/console/messages/${id}`);
  await page.click("a[hreflang='ur']");
  await page.waitForSelector("html[dir='rtl'][lang='ur']");
  check((await page.textContent("[data-message-status]")).trim() === "پہنچ گیا", "the Urdu status label");
  await shot(page, "message-ur");
  await page.goto(`${base}/console`);
  check((await page.getAttribute("html", "dir")) === "rtl", "the language is remembered");
  await shot(page, "dashboard-ur");
  say("DONE");
} catch (error) {
  console.error(`browser script: ${error.stack || error}`);
  process.exitCode = 1;
} finally {
  await browser.close();
  // stdin's reader would keep the process alive.
  process.exit();
}
