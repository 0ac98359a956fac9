//! Recipients in the console: search by name (any script) or number, with numbers masked in
//! the list unless a person reveals one. Searches go through the same function as
//! `GET /v1/recipients`, so ranking and tenant isolation are the API's.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use maud::{Markup, html};
use serde::Deserialize;

use super::auth::Session;
use super::i18n::Lang;
use super::pages::{self, Nav};
use super::routes::{Signed, api_failure, page};
use crate::recipients::models::RecipientView;
use crate::recipients::routes::{self as api, ListQuery, RecipientList};
use crate::state::AppState;

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct Search {
    q: String,
    /// The one recipient whose number is shown in full.
    reveal: String,
    cursor: String,
}

/// `+923001234567` → `+923••••••567`: enough to tell numbers apart, not to read one off a
/// screen. Short numbers keep only their last two digits.
pub fn mask(phone: &str) -> String {
    let chars: Vec<char> = phone.chars().collect();
    let (head, tail) = if chars.len() >= 8 { (4, 3) } else { (0, 2.min(chars.len())) };
    let hidden = chars.len().saturating_sub(head + tail);
    let mut out: String = chars[..head].iter().collect();
    out.push_str(&"•".repeat(hidden));
    out.extend(&chars[chars.len() - tail..]);
    out
}

fn link(s: &Search, reveal: &str) -> String {
    let query = serde_urlencoded::to_string([("q", s.q.as_str()), ("reveal", reveal)]).unwrap_or_default();
    format!("/console/recipients?{query}")
}

fn row(lang: Lang, s: &Search, r: &RecipientView) -> Markup {
    let t = lang.texts();
    let revealed = s.reveal == r.id;
    html! {
        tr data-recipient=(r.id) {
            td { bdi { (r.name) } }
            td {
                @if revealed {
                    bdi.number data-revealed="true" { (r.phone) } " " a href=(link(s, "")) { (t.hide_number) }
                } @else {
                    bdi.number { (mask(&r.phone)) } " " a href=(link(s, &r.id)) { (t.show_number) }
                }
            }
            td { @for tag in &r.tags { code { (tag) } " " } }
            td { @if r.opted_out_at.is_some() { span.error { (t.opted_out) } } }
        }
    }
}

fn list_page(lang: Lang, session: &Session, s: &Search, found: &RecipientList) -> Markup {
    let t = lang.texts();
    let csrf = session.csrf_token();
    let next = found.next_cursor.as_ref().map(|c| {
        let query = serde_urlencoded::to_string([("q", s.q.as_str()), ("cursor", c.as_str())]).unwrap_or_default();
        format!("/console/recipients?{query}")
    });
    pages::layout(
        lang,
        t.recipients,
        Some((&session.account, &csrf, Nav::Recipients)),
        html! {
            div.card {
                h1 { (t.recipients) }
                form.search method="get" action="/console/recipients" role="search" {
                    input type="search" name="q" value=(s.q) placeholder=(t.recipient_hint) aria-label=(t.recipient_hint);
                    button type="submit" { (t.search) }
                }
                @if found.recipients.is_empty() {
                    p { (t.no_recipients) }
                } @else {
                    table {
                        thead { tr { th { (t.device_name) } th { (t.phone) } th { (t.tags) } th {} } }
                        tbody { @for r in &found.recipients { (row(lang, s, r)) } }
                    }
                    @if let Some(next) = next { p { a href=(next) { (t.more) } } }
                }
            }
        },
    )
}

pub async fn list(signed: Signed, state: web::Data<AppState>, search: web::Query<Search>) -> HttpResponse {
    let Signed { lang, session } = signed;
    let s = search.into_inner();
    let some = |v: &str| (!v.trim().is_empty()).then(|| v.trim().to_owned());
    let query = ListQuery { q: some(&s.q), cursor: some(&s.cursor), ..Default::default() };
    match api::list(&state, &session.account, query).await {
        Ok(found) => page(StatusCode::OK, lang, list_page(lang, &session, &s, &found)),
        Err(e) => api_failure(lang, &e, None),
    }
}

#[cfg(test)]
mod tests {
    use super::mask;

    #[test]
    fn numbers_are_masked_but_tell_apart() {
        assert_eq!(mask("+923001234567"), "+923••••••567");
        assert_ne!(mask("+923001234567"), mask("+923001234568"));
        assert_eq!(mask("12345"), "•••45");
        assert_eq!(mask(""), "");
    }
}
