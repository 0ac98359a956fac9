//! The portal's examples: one plain source file per scenario and language under `snippets/`,
//! compiled in. `{{BASE_URL}}` in a file becomes the server's public URL when the page is
//! rendered; the API key is always read from the environment (`RELAY_API_KEY`).

/// The placeholder the examples carry for the server's base URL.
pub const BASE_URL_PLACEHOLDER: &str = "{{BASE_URL}}";

/// A language tab.
#[derive(Debug)]
pub struct Lang {
    /// In URLs (`?lang=`), element ids and the test's file names.
    pub id: &'static str,
    pub label: &'static str,
    /// What to run the example with.
    pub run: &'static str,
}

impl Lang {
    pub fn find(id: &str) -> Option<&'static Lang> {
        LANGS.iter().find(|l| l.id == id)
    }
}

pub static LANGS: [Lang; 12] = [
    Lang { id: "curl", label: "cURL", run: "sh example.sh" },
    Lang { id: "php", label: "PHP", run: "php example.php (ext-curl)" },
    Lang { id: "laravel", label: "Laravel", run: "in a Laravel app (Http facade)" },
    Lang { id: "node", label: "Node (fetch)", run: "node example.mjs (Node 18+)" },
    Lang { id: "axios", label: "Axios", run: "npm install axios; node example.mjs" },
    Lang { id: "python", label: "Python", run: "python3 example.py (standard library)" },
    Lang { id: "flutter", label: "Flutter (Dart)", run: "flutter pub add http" },
    Lang { id: "kotlin", label: "Kotlin", run: "kotlinc example.kt (JVM 11+)" },
    Lang { id: "java", label: "Java", run: "java Example.java (Java 15+)" },
    Lang { id: "csharp", label: "C#", run: ".NET or Mono, no packages" },
    Lang { id: "go", label: "Go", run: "go run example.go (standard library)" },
    Lang { id: "ruby", label: "Ruby", run: "ruby example.rb (standard library)" },
];

/// The sources of one folder of `snippets/`, in the order of [`LANGS`].
macro_rules! sources {
    ($dir:literal) => {
        [
            include_str!(concat!("snippets/", $dir, "/curl.sh")),
            include_str!(concat!("snippets/", $dir, "/php.php")),
            include_str!(concat!("snippets/", $dir, "/laravel.php")),
            include_str!(concat!("snippets/", $dir, "/node.mjs")),
            include_str!(concat!("snippets/", $dir, "/axios.mjs")),
            include_str!(concat!("snippets/", $dir, "/python.py")),
            include_str!(concat!("snippets/", $dir, "/flutter.dart")),
            include_str!(concat!("snippets/", $dir, "/kotlin.kt")),
            include_str!(concat!("snippets/", $dir, "/java.java")),
            include_str!(concat!("snippets/", $dir, "/csharp.cs")),
            include_str!(concat!("snippets/", $dir, "/go.go")),
            include_str!(concat!("snippets/", $dir, "/ruby.rb")),
        ]
    };
}

/// One entry of the scenario picker.
#[derive(Debug)]
pub struct Scenario {
    pub id: &'static str,
    pub title: &'static str,
    /// The endpoints it calls.
    pub endpoints: &'static str,
    pub about: &'static str,
    /// Environment variables the examples read besides `RELAY_API_KEY`.
    pub inputs: &'static [&'static str],
    pub sources: [&'static str; 12],
}

pub static SCENARIOS: [Scenario; 8] = [
    Scenario {
        id: "send_sms",
        title: "Send an SMS",
        endpoints: "POST /v1/messages",
        about: "Queues one SMS. The answer (202) carries its request_id and status \"queued\"; a phone sends it within seconds. Add an Idempotency-Key header to make retries safe.",
        inputs: &[],
        sources: sources!("send_sms"),
    },
    Scenario {
        id: "send_otp",
        title: "Send a one-time code",
        endpoints: "POST /v1/otp/send",
        about: "Relay makes the code, words it in the chosen locale and sends it ahead of all other traffic. Keep the otp_id (201) to verify against; the code itself is never shown to you.",
        inputs: &[],
        sources: sources!("send_otp"),
    },
    Scenario {
        id: "verify_otp",
        title: "Verify a one-time code",
        endpoints: "POST /v1/otp/verify",
        about: "Checks the code the person typed. Always 200: status is success, failed (with reason and attempts_remaining) or expired.",
        inputs: &["OTP_ID", "OTP_CODE"],
        sources: sources!("verify_otp"),
    },
    Scenario {
        id: "message_status",
        title: "Message status",
        endpoints: "GET /v1/messages/{request_id}",
        about: "A message's status (queued, dispatched, sent, delivered, or failed, expired, canceled), the phone that carried it, and its timeline. Webhooks push the same changes.",
        inputs: &["REQUEST_ID"],
        sources: sources!("message_status"),
    },
    Scenario {
        id: "bulk",
        title: "Bulk send",
        endpoints: "POST /v1/messages/bulk",
        about: "One text to many numbers (up to 100,000), filled per recipient from {{name}} and vars. Each number becomes its own message; rejected entries are listed, the rest are queued.",
        inputs: &[],
        sources: sources!("bulk"),
    },
    Scenario {
        id: "recipients_search",
        title: "Search recipients",
        endpoints: "GET /v1/recipients?q=",
        about: "Finds people in the directory by name (case, accents and Urdu/Arabic letter forms do not matter) or by any part of a number.",
        inputs: &[],
        sources: sources!("recipients_search"),
    },
    Scenario {
        id: "webhooks",
        title: "Webhooks",
        endpoints: "POST /v1/webhooks",
        about: "Subscribes an HTTPS endpoint of yours to events. The answer (201) shows the signing secret once: store it to verify deliveries (below).",
        inputs: &["WEBHOOK_URL"],
        sources: sources!("webhooks"),
    },
    Scenario {
        id: "health",
        title: "Health and readiness",
        endpoints: "GET /v1/health, GET /v1/readiness",
        about: "Health is public and answers from memory (a liveness probe). Readiness is per account: 200 when the key, subscription, phones and queue can carry traffic now, else 503 not_ready naming each failing check.",
        inputs: &[],
        sources: sources!("health"),
    },
];

/// Webhook signature verification, in the order of [`LANGS`] (Axios is a client: its tab
/// shows Node's verification).
pub static WEBHOOK_VERIFY: [&str; 12] = [
    include_str!("snippets/webhook_verify/curl.sh"),
    include_str!("snippets/webhook_verify/php.php"),
    include_str!("snippets/webhook_verify/laravel.php"),
    include_str!("snippets/webhook_verify/node.mjs"),
    include_str!("snippets/webhook_verify/node.mjs"),
    include_str!("snippets/webhook_verify/python.py"),
    include_str!("snippets/webhook_verify/flutter.dart"),
    include_str!("snippets/webhook_verify/kotlin.kt"),
    include_str!("snippets/webhook_verify/java.java"),
    include_str!("snippets/webhook_verify/csharp.cs"),
    include_str!("snippets/webhook_verify/go.go"),
    include_str!("snippets/webhook_verify/ruby.rb"),
];

/// An example as the page shows it: the server's base URL filled in.
pub fn fill(source: &str, base_url: &str) -> String {
    source.replace(BASE_URL_PLACEHOLDER, base_url)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_request_example_names_the_base_url_once_per_call_site_and_reads_the_key() {
        for s in &SCENARIOS {
            for (lang, source) in LANGS.iter().zip(s.sources) {
                assert!(source.contains(BASE_URL_PLACEHOLDER), "{}/{} lacks the base URL", s.id, lang.id);
                let reads_key = source.contains("RELAY_API_KEY") || source.contains("services.relay.key");
                assert!(reads_key, "{}/{} does not take the key from the environment", s.id, lang.id);
                assert!(!source.contains("rk_live_") || lang.id == "curl", "{}/{} holds a key", s.id, lang.id);
                for input in s.inputs {
                    let has = source.contains(input) || lang.id == "laravel";
                    assert!(has, "{}/{} does not read {input}", s.id, lang.id);
                }
            }
        }
    }

    #[test]
    fn filling_replaces_every_placeholder() {
        let filled = fill(SCENARIOS[7].sources[0], "https://sms.example.com");
        assert!(!filled.contains(BASE_URL_PLACEHOLDER));
        assert!(filled.contains("https://sms.example.com/v1/health"));
    }
}
