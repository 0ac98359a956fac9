//! The console's HTML. maud escapes every interpolated value, so names that people typed
//! (accounts, devices) cannot inject markup.

use maud::{DOCTYPE, Markup, html};

use super::i18n::{LANG_COOKIE, Lang};
use super::onboarding::Progress;
use crate::accounts::Account;

const STYLE: &str = "body{font-family:system-ui,sans-serif;margin:0;background:#f6f7f9;color:#1d2433}\
header{display:flex;gap:1rem;align-items:center;padding:.75rem 1.5rem;background:#1d2433;color:#fff}\
header a,header button{color:#fff}header button{background:transparent;border:1px solid #fff9;border-radius:4px;\
padding:.2rem .6rem;font:inherit}header .grow{flex:1}main{max-width:46rem;margin:2rem auto;padding:0 1rem}\
form.inline{display:inline}button{cursor:pointer}.card{background:#fff;border-radius:8px;padding:1.5rem;\
box-shadow:0 1px 3px #0002}label{display:block;margin:.75rem 0 .25rem}input{width:100%;padding:.5rem;\
box-sizing:border-box}table{border-collapse:collapse;width:100%;margin-top:1rem}th,td{text-align:start;\
padding:.4rem;border-bottom:1px solid #e3e6ea;vertical-align:top}td input{width:auto}figure.qr svg{width:16rem;height:auto}.error{color:#b00020}ol.steps li{margin:.75rem 0}.done{color:#1b7f3b}.todo{color:#8a5a00}\
small{display:block;color:#555}";

/// Which section a page belongs to, for the navigation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Nav {
    Dashboard,
    Devices,
    Messages,
    Recipients,
    Webhooks,
    Keys,
    Queue,
}

/// A whole page. `session` is the signed-in account, its CSRF token and the page's section.
pub fn layout(lang: Lang, title: &str, session: Option<(&Account, &str, Nav)>, body: Markup) -> Markup {
    let t = lang.texts();
    let other = lang.other();
    html! {
        (DOCTYPE)
        html lang=(lang.code()) dir=(lang.dir()) {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " · " (t.console) }
                style { (maud::PreEscaped(STYLE)) }
            }
            body {
                header {
                    strong { (t.console) }
                    span.grow {}
                    @if let Some((_, _, nav)) = session {
                        a href="/console" aria-current=[(nav == Nav::Dashboard).then_some("page")] { (t.dashboard) }
                        a href="/console/devices" aria-current=[(nav == Nav::Devices).then_some("page")] { (t.devices) }
                        a href="/console/queue" aria-current=[(nav == Nav::Queue).then_some("page")] { (t.queue) }
                        a href="/console/messages" aria-current=[(nav == Nav::Messages).then_some("page")] { (t.messages) }
                        a href="/console/recipients" aria-current=[(nav == Nav::Recipients).then_some("page")] { (t.recipients) }
                        a href="/console/webhooks" aria-current=[(nav == Nav::Webhooks).then_some("page")] { (t.webhooks) }
                        a href="/console/keys" aria-current=[(nav == Nav::Keys).then_some("page")] { (t.api_keys) }
                    }
                    a href="/portal" { (t.developer_portal) }
                    a href="/docs/" { (t.api_reference) }
                    a href={ "?lang=" (other.code()) } hreflang=(other.code()) lang=(other.code()) { (other.texts().name) }
                    @if let Some((account, csrf, _)) = session {
                        span { (t.signed_in_as) " " bdi { (account.name) } }
                        form.inline method="post" action="/console/logout" {
                            input type="hidden" name="csrf" value=(csrf);
                            button type="submit" { (t.sign_out) }
                        }
                    }
                }
                main { (body) }
                @if session.is_some() {
                    script src="/console/assets/console.js" defer {}
                }
            }
        }
    }
}

pub fn login(lang: Lang, token: &str, error: Option<&str>) -> Markup {
    let t = lang.texts();
    layout(
        lang,
        t.sign_in,
        None,
        html! {
            div.card {
                h1 { (t.sign_in) }
                @if let Some(error) = error {
                    p.error role="alert" { (error) }
                }
                form method="post" action="/console/login" {
                    input type="hidden" name="csrf" value=(token);
                    label for="email" { (t.email) }
                    input #email type="email" name="email" autocomplete="username" required;
                    label for="password" { (t.password) }
                    input #password type="password" name="password" autocomplete="current-password" required;
                    p { button type="submit" { (t.sign_in) } }
                }
            }
        },
    )
}

pub fn dashboard(lang: Lang, account: &Account, csrf: &str, progress: &Progress) -> Markup {
    let t = lang.texts();
    let steps = [
        (true, t.step_account, None),
        (progress.device_paired, t.step_device, Some(t.step_device_how)),
        (progress.key_taken, t.step_key, Some(t.step_key_how)),
        (progress.first_request, t.step_request, Some(t.step_request_how)),
        (progress.first_delivery, t.step_delivery, Some(t.step_delivery_how)),
        (progress.webhook, t.step_webhook, Some(t.step_webhook_how)),
        (progress.ready, t.step_ready, Some(t.step_ready_how)),
    ];
    layout(
        lang,
        t.getting_started,
        Some((account, csrf, Nav::Dashboard)),
        html! {
            div.card {
                h1 { (t.getting_started) }
                ol.steps {
                    @for (done, title, how) in steps {
                        li data-done=(done) {
                            @if done { span.done { "✓ " (t.done) } } @else { span.todo { "○ " (t.to_do) } }
                            " — " strong { (title) }
                            @if let (false, Some(how)) = (done, how) {
                                small { a href="/docs/" { (how) } }
                            }
                        }
                    }
                }
            }
        },
    )
}

/// A page that only says what went wrong.
pub fn problem(lang: Lang, message: &str) -> Markup {
    layout(lang, lang.texts().console, None, html! { div.card { p.error role="alert" { (message) } } })
}

/// A problem in the reader's words, with the API's own sentence (in English, naming the
/// field or line) beneath.
pub fn problem_detail(lang: Lang, message: &str, detail: &str) -> Markup {
    layout(
        lang,
        lang.texts().console,
        None,
        html! { div.card { p.error role="alert" { (message) } p { small lang="en" dir="ltr" { (detail) } } } },
    )
}

pub fn lang_cookie(lang: Lang) -> actix_web::cookie::Cookie<'static> {
    actix_web::cookie::Cookie::build(LANG_COOKIE, lang.code())
        .path("/console")
        .same_site(actix_web::cookie::SameSite::Lax)
        .max_age(actix_web::cookie::time::Duration::days(365))
        .finish()
}
