//! The portal page. maud escapes every interpolated value, code blocks included.

use maud::{DOCTYPE, Markup, PreEscaped, html};

use super::snippets::{self, LANGS, Lang, SCENARIOS, WEBHOOK_VERIFY};
use crate::error::CODES;
use crate::webhooks::EventType;

const STYLE: &str = "body{font-family:system-ui,sans-serif;margin:0;background:#f6f7f9;color:#1d2433}\
header{display:flex;gap:1rem;align-items:center;padding:.75rem 1.5rem;background:#1d2433;color:#fff;flex-wrap:wrap}\
header a{color:#fff}header .grow{flex:1}main{max-width:60rem;margin:2rem auto;padding:0 1rem}\
section{background:#fff;border-radius:8px;padding:1rem 1.5rem;margin:1.5rem 0;box-shadow:0 1px 3px #0002}\
table{border-collapse:collapse;width:100%}th,td{text-align:start;padding:.4rem;border-bottom:1px solid #e3e6ea;\
vertical-align:top}pre{background:#0f1522;color:#e8ecf3;padding:1rem;border-radius:6px;overflow:auto;margin:.5rem 0}\
nav.picker{display:flex;flex-wrap:wrap;gap:.4rem;margin:.5rem 0}nav.picker a{padding:.2rem .6rem;border:1px solid #c9ced6;\
border-radius:999px;text-decoration:none;color:#1d2433}nav.picker a[aria-current]{background:#1d2433;color:#fff}\
.snippet{position:relative}.snippet button{position:absolute;top:.4rem;inset-inline-end:.4rem}small{color:#555}\
code{font-size:.9em}details{margin:.5rem 0}summary{cursor:pointer;font-weight:600}";

pub fn render(base_url: &str, lang: &Lang) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { "Developer portal · Relay" }
                style { (PreEscaped(STYLE)) }
            }
            body {
                header {
                    strong { "Relay developer portal" }
                    span.grow {}
                    a href="#scenarios" { "Examples" }
                    a href="#webhooks-guide" { "Webhooks" }
                    a href="#errors" { "Errors" }
                    a href="#downloads" { "Downloads" }
                    a href="#faq" { "FAQ" }
                    a href="/docs/" { "API reference" }
                    a href="/console" { "Console" }
                }
                main {
                    (quick_start(base_url, lang))
                    @for scenario in &SCENARIOS {
                        (scenario_section(scenario, base_url, lang))
                    }
                    (webhooks_guide(base_url, lang))
                    (errors())
                    (downloads())
                    (faq())
                }
                script src="/portal/assets/portal.js" defer {}
            }
        }
    }
}

fn quick_start(base_url: &str, lang: &Lang) -> Markup {
    html! {
        section id="quick-start" {
            h1 { "Quick start" }
            p { "Relay sends your SMS through Android phones you pair with it. Every example below is a complete program, filled in with this server's address; each reads your API key from the environment." }
            table {
                tr { th { "Base URL" } td { code id="base-url" { (base_url) } } }
                tr { th { "Authentication" } td { code { "Authorization: Bearer $RELAY_API_KEY" } " (or " code { "X-API-Key: $RELAY_API_KEY" } ")" } }
                tr { th { "Your key" } td { "Create one in the " a href="/console/keys" { "console" } " and keep it on your server: " code { "export RELAY_API_KEY=rk_live_…" } } }
                tr { th { "Answers" } td { "JSON with " code { "\"ok\": true" } ", or " code { "{\"ok\": false, \"error\": {\"code\", \"message\"}}" } " (see " a href="#errors" { "error codes" } ")" } }
            }
            h2 id="scenarios" { "Scenario" }
            nav.picker aria-label="Scenarios" {
                @for s in &SCENARIOS {
                    a href={ "#" (s.id) } { (s.title) }
                }
                a href="#webhooks-guide" { "Verify webhook signatures" }
            }
            h2 { "Language" }
            (lang_picker(lang, "quick-start"))
        }
    }
}

/// Links that reload the page in another language; portal.js switches in place instead.
fn lang_picker(current: &Lang, anchor: &str) -> Markup {
    html! {
        nav.picker.langs aria-label="Languages" {
            @for l in &LANGS {
                a href={ "?lang=" (l.id) "#" (anchor) } data-lang=(l.id) aria-current=[(l.id == current.id).then_some("true")] { (l.label) }
            }
        }
    }
}

/// One block per language, all in the page; only the chosen language's is visible.
fn code_blocks(key: &str, sources: &[&str; 12], base_url: &str, current: &Lang) -> Markup {
    html! {
        @for (l, source) in LANGS.iter().zip(sources) {
            div.snippet data-lang=(l.id) hidden[l.id != current.id] {
                small { (l.label) " — " (l.run) }
                pre { code data-snippet={ (key) "/" (l.id) } { (snippets::fill(source, base_url)) } }
            }
        }
    }
}

fn scenario_section(s: &snippets::Scenario, base_url: &str, lang: &Lang) -> Markup {
    html! {
        section id=(s.id) {
            h2 { (s.title) " " small { code { (s.endpoints) } } }
            p { (s.about) }
            @if !s.inputs.is_empty() {
                p { "Besides " code { "RELAY_API_KEY" } ", this example reads "
                    @for (i, input) in s.inputs.iter().enumerate() {
                        @if i > 0 { ", " }
                        code { (input) }
                    }
                    " from the environment; in your code they come from your own data." }
            }
            (lang_picker(lang, s.id))
            (code_blocks(s.id, &s.sources, base_url, lang))
        }
    }
}

fn event_description(event: EventType) -> &'static str {
    match event {
        EventType::MessageSent => "A phone handed the SMS to the mobile network.",
        EventType::MessageDelivered => "The delivery report arrived.",
        EventType::MessageFailed => {
            "The phone reported a failure, or was unpaired holding the message (data.failure says why)."
        }
        EventType::MessageExpired => "No phone took the message before its expires_at.",
        EventType::OtpVerified => "A one-time code was verified.",
        EventType::DeviceOnline => "A phone connected.",
        EventType::DeviceOffline => "A phone's link ended.",
        EventType::QueueBlocked => "The queue was paused, or its last usable phone was degraded or disabled.",
        EventType::QueueResumed => "The queue runs again.",
        EventType::WebhookTest => "POST /v1/webhooks/{id}/test.",
    }
}

const SAMPLE_EVENT: &str = r#"{
  "id": "evt_01JDX4Q7ZK3V8J5B6N2M9R0T1W",
  "type": "message.delivered",
  "created_at": "2026-03-14T12:30:00Z",
  "data": {
    "request_id": "req_01JDX4P2D5W3H1Q8M0T7V6C9KA",
    "status": "delivered",
    "to": "+923001234567",
    "device_id": "dev_01JDX3Z9B8N7M6K5J4H3G2F1E0",
    "device_name": "Front desk phone",
    "attempts": 1,
    "failure": null,
    "metadata": {"order": 42},
    "batch_id": null
  }
}"#;

fn webhooks_guide(base_url: &str, lang: &Lang) -> Markup {
    let events = EventType::SUBSCRIBABLE.into_iter().chain([EventType::WebhookTest]);
    html! {
        section id="webhooks-guide" {
            h2 { "Webhooks: events, payload and signatures" }
            p { "Relay POSTs a signed JSON event to your endpoint when something happens (create one with the "
                a href="#webhooks" { "Webhooks example" } "). Delivery is at least once: de-duplicate on "
                code { "webhook-id" } ". Answer any 2xx within 15 s and do slow work afterwards; failures are retried for about 2.8 days." }
            table {
                tr { th { "Event" } th { "When" } }
                @for e in events {
                    tr { td { code { (e.as_str()) } } td { (event_description(e)) } }
                }
            }
            h3 { "Sample payload" }
            pre { code id="sample-event" { (SAMPLE_EVENT) } }
            h3 { "Headers (Standard Webhooks)" }
            table {
                tr { td { code { "webhook-id" } } td { "The event id (evt_…), the same on every attempt." } }
                tr { td { code { "webhook-timestamp" } } td { "Unix seconds of this attempt: refuse ones older than 5 minutes." } }
                tr { td { code { "webhook-signature" } } td { code { "v1,<base64 HMAC-SHA256(secret, \"{id}.{timestamp}.{body}\")>" } "; during a secret rotation two of them, separated by a space." } }
            }
            h3 id="verify" { "Verify the signature" }
            p { "Compute the HMAC over the raw body exactly as received (not re-serialised JSON), with the secret's base64 part (after " code { "whsec_" } ") as the key. Each example reads the secret, the three headers and the body from the environment and prints valid or invalid." }
            (lang_picker(lang, "verify"))
            (code_blocks("webhook_verify", &WEBHOOK_VERIFY, base_url, lang))
        }
    }
}

fn errors() -> Markup {
    html! {
        section id="errors" {
            h2 { "Error codes" }
            p { "Every failure answers " code { "{\"ok\": false, \"error\": {\"code\", \"message\", \"field\"?, \"retry_after\"?}}" } " and an " code { "X-Trace-Id" } " header. Branch on " code { "error.code" } ", never on the message." }
            table id="error-codes" {
                tr { th { "code" } th { "HTTP" } th { "When" } th { "What to do" } }
                @for c in CODES {
                    tr data-code=(c.code) { td { code { (c.code) } } td { (c.status) } td { (c.when) } td { (c.what_to_do) } }
                }
            }
        }
    }
}

fn downloads() -> Markup {
    html! {
        section id="downloads" {
            h2 { "Downloads and reference" }
            ul {
                li { a href="/docs/" { "API reference" } " — every endpoint, browsable, with a “try it out” console." }
                li { a href="/openapi.json" download="relay-openapi.json" { "OpenAPI 3.1 document" } " (" code { "/openapi.json" } ") — generate a client with any OpenAPI generator." }
                li { a href="/postman.json" download="relay.postman_collection.json" { "Postman collection" } " (" code { "/postman.json" } ") — built from the same OpenAPI document; set the " code { "apiKey" } " variable (" code { "baseUrl" } " is this server)." }
            }
        }
    }
}

fn faq() -> Markup {
    html! {
        section id="faq" {
            h2 { "FAQ" }
            details open {
                summary { "What is Relay for?" }
                p { "Transactional messages and one-time codes: order updates, appointment reminders, alerts, login and signup codes — messages people expect. It is not for marketing blasts or unsolicited bulk: phones and SIM plans are personal lines, operators block SIMs that spam, and Android itself limits how fast an app may send. Bulk sends are for people who opted in; honour opt-outs (recipients' " code { "opted_out" } ")." }
            }
            details {
                summary { "Can I use it only for OTP?" }
                p { "Yes. " code { "POST /v1/otp/send" } " and " code { "POST /v1/otp/verify" } " are all you need: Relay makes the code, words it (English, Urdu, Roman Urdu, Arabic and more), sends it ahead of every other message, counts attempts and expires it. Your database never holds codes." }
            }
            details {
                summary { "How do I keep the phone online?" }
                ul {
                    li { "The Relay app runs as a foreground service with a permanent notification: leave it running, and do not swipe it away." }
                    li { "Grant the SMS permission and (Android 13+) notifications when asked; the console's Devices page shows any permission missing." }
                    li { "Exempt the app from battery optimisation (Settings → Apps → Relay → Battery → Unrestricted); on Xiaomi, Huawei, Oppo and Samsung also allow autostart / turn off “put app to sleep”." }
                    li { "Keep it on a charger and on a network (Wi-Fi or mobile data), with an SMS plan on the SIM. Pair two phones for redundancy: Relay spreads traffic and fails over." }
                    li { "Watch " code { "GET /v1/readiness" } " and the " code { "device.offline" } " webhook to hear about a phone that dropped." }
                }
            }
            details {
                summary { "Why not call Relay from my mobile app?" }
                p { "The API key sends SMS on your account: keep it on your server. Your Flutter, Kotlin or Swift app calls your backend, which calls Relay." }
            }
            details open {
                summary { "Going live, step by step" }
                ol {
                    li { "Create an account (the operator: " code { "relay-server account create" } ") and sign in to the " a href="/console" { "console" } "." }
                    li { "Pair the Android relay: install the app, then scan the QR code from the console's Devices page." }
                    li { "Take an API key (console → API keys) and store it as " code { "RELAY_API_KEY" } " on your server." }
                    li { "Make the first request: run the " a href="#send_sms" { "Send an SMS" } " example, then follow it with " a href="#message_status" { "Message status" } "." }
                    li { "Add webhooks: create an endpoint and verify signatures, so you need not poll." }
                    li { "Production checks: " code { "GET /v1/readiness" } " answers 200; the subscription's " code { "expires_at" } " is ahead; two phones online; Idempotency-Key on retries; alerts on " code { "device.offline" } " and " code { "queue.blocked" } "; HTTPS for the server and your webhook endpoints." }
                }
            }
        }
    }
}
