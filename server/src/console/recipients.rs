//! Recipients in the console: search by name (any script) or number, with numbers masked in
//! the list unless a person reveals one; add, edit, import a CSV file (every row's outcome
//! shown) and export. Through the same functions as `/v1/recipients`, so ranking, checks and
//! tenant isolation are the API's.

use actix_multipart::Multipart;
use actix_web::http::StatusCode;
use actix_web::http::header;
use actix_web::{HttpResponse, web};
use futures_util::StreamExt;
use maud::{Markup, html};
use serde::Deserialize;

use super::auth::Session;
use super::i18n::Lang;
use super::pages::{self, Nav};
use super::routes::{Signed, api_failure, page, see_other};
use crate::error::ApiError;
use crate::recipients::import::{self, ImportOutcome, RowOutcome};
use crate::recipients::models::RecipientView;
use crate::recipients::routes::{self as api, CreateRecipient, ListQuery, RecipientList, UpdateRecipient};
use crate::state::AppState;

/// The add and edit forms' fields.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct RecipientForm {
    csrf: String,
    name: String,
    phone: String,
    /// Comma-separated.
    tags: String,
    locale: String,
    /// A checkbox: present (`on`) when ticked.
    opted_out: Option<String>,
}

impl RecipientForm {
    fn tag_list(&self) -> Vec<String> {
        self.tags.split(',').map(|t| t.trim().to_owned()).filter(|t| !t.is_empty()).collect()
    }
}

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
                    bdi.number dir="ltr" data-revealed="true" { (r.phone) } " " a href=(link(s, "")) { (t.hide_number) }
                } @else {
                    bdi.number dir="ltr" { (mask(&r.phone)) } " " a href=(link(s, &r.id)) { (t.show_number) }
                }
            }
            td { @for tag in &r.tags { code { (tag) } " " } }
            td { @if r.opted_out_at.is_some() { span.error { (t.opted_out) } } }
            td { a.edit href={ "/console/recipients/" (r.id) } { (t.edit) } }
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
                        thead { tr { th { (t.device_name) } th { (t.phone) } th { (t.tags) } th {} th {} } }
                        tbody { @for r in &found.recipients { (row(lang, s, r)) } }
                    }
                    @if let Some(next) = next { p { a href=(next) { (t.more) } } }
                }
                p { a #export href="/console/recipients/export" download="recipients.csv" { (t.export_csv) } }
            }
            div.card {
                h2 { (t.add_recipient) }
                (fields(lang, &csrf, "/console/recipients", None))
            }
            div.card {
                h2 { (t.import_csv) }
                p { small { (t.import_hint) } }
                form #import method="post" action="/console/recipients/import" enctype="multipart/form-data" {
                    input type="hidden" name="csrf" value=(csrf);
                    input type="file" name="file" accept=".csv,text/csv" aria-label=(t.import_csv) required;
                    button type="submit" { (t.import) }
                }
            }
        },
    )
}

/// The add form (empty) or the edit form (filled with `r`).
fn fields(lang: Lang, csrf: &str, action: &str, r: Option<&RecipientView>) -> Markup {
    let t = lang.texts();
    let tags = r.map(|r| r.tags.join(", ")).unwrap_or_default();
    html! {
        form.recipient method="post" action=(action) {
            input type="hidden" name="csrf" value=(csrf);
            label for="r-name" { (t.device_name) }
            input #r-name type="text" name="name" value=[r.map(|r| &r.name)] maxlength="200" required;
            label for="r-phone" { (t.phone) }
            input #r-phone type="tel" name="phone" value=[r.map(|r| &r.phone)] required;
            label for="r-tags" { (t.tags) }
            input #r-tags type="text" name="tags" value=(tags) placeholder="lahore, vip";
            label for="r-locale" { (t.locale) }
            input #r-locale type="text" name="locale" value=[r.and_then(|r| r.locale.as_ref())] placeholder="ur" maxlength="35";
            @if r.is_some() {
                label { input type="checkbox" name="opted_out" checked[r.is_some_and(|r| r.opted_out_at.is_some())]; " " (t.opted_out) }
            }
            p { button type="submit" { @if r.is_some() { (t.save) } @else { (t.add_recipient) } } }
        }
    }
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

pub async fn create(signed: Signed, state: web::Data<AppState>, form: web::Form<RecipientForm>) -> HttpResponse {
    let form = form.into_inner();
    let Signed { lang, session } = match signed.with_csrf(&form.csrf) {
        Ok(signed) => signed,
        Err(refused) => return refused.page(),
    };
    let tags = form.tag_list();
    let req = CreateRecipient {
        name: form.name,
        phone: form.phone,
        tags: Some(tags),
        locale: Some(form.locale),
        metadata: None,
    };
    match api::create(&state, &session.account, &req).await {
        Ok(r) => see_other(&format!("/console/recipients/{}", r.id)).finish(),
        Err(e) => api_failure(lang, &e, None),
    }
}

fn edit_page(lang: Lang, session: &Session, r: &RecipientView) -> Markup {
    let t = lang.texts();
    let csrf = session.csrf_token();
    pages::layout(
        lang,
        t.edit_recipient,
        Some((&session.account, &csrf, Nav::Recipients)),
        html! {
            div.card data-recipient=(r.id) {
                h1 { (t.edit_recipient) " · " bdi { (r.name) } }
                (fields(lang, &csrf, &format!("/console/recipients/{}", r.id), Some(r)))
                p { a href="/console/recipients" { (t.recipients) } }
            }
        },
    )
}

pub async fn edit(signed: Signed, state: web::Data<AppState>, path: web::Path<String>) -> HttpResponse {
    let Signed { lang, session } = signed;
    match api::get(&state, &session.account.id, path.into_inner()).await {
        Ok(r) => page(StatusCode::OK, lang, edit_page(lang, &session, &r)),
        Err(e) => api_failure(lang, &e, None),
    }
}

pub async fn update(
    signed: Signed,
    state: web::Data<AppState>,
    path: web::Path<String>,
    form: web::Form<RecipientForm>,
) -> HttpResponse {
    let form = form.into_inner();
    let Signed { lang, session } = match signed.with_csrf(&form.csrf) {
        Ok(signed) => signed,
        Err(refused) => return refused.page(),
    };
    let tags = form.tag_list();
    let req = UpdateRecipient {
        name: Some(form.name),
        phone: Some(form.phone),
        tags: Some(tags),
        locale: Some(form.locale),
        metadata: None,
        opted_out: Some(form.opted_out.is_some()),
    };
    match api::update(&state, &session.account, path.into_inner(), req).await {
        Ok(r) => see_other(&format!("/console/recipients/{}", r.id)).finish(),
        Err(e) => api_failure(lang, &e, None),
    }
}

/// The CSV file and the CSRF token of the upload form. The token is checked before anything
/// is read into the directory; the file is bounded like the API's import.
async fn read_upload(mut form: Multipart) -> Result<(String, Vec<u8>), ApiError> {
    let bad = |e: actix_multipart::MultipartError| ApiError::InvalidRequest {
        message: format!("The upload could not be read: {e}."),
        field: None,
    };
    let (mut csrf, mut file) = (Vec::new(), Vec::new());
    while let Some(field) = form.next().await {
        let mut field = field.map_err(bad)?;
        let into = match field.name() {
            Some("csrf") => &mut csrf,
            Some("file") => &mut file,
            _ => continue,
        };
        while let Some(chunk) = field.next().await {
            let chunk = chunk.map_err(bad)?;
            if into.len() + chunk.len() > import::MAX_BYTES {
                return Err(ApiError::PayloadTooLarge { limit: import::MAX_BYTES });
            }
            into.extend_from_slice(&chunk);
        }
    }
    Ok((String::from_utf8_lossy(&csrf).into_owned(), file))
}

fn import_page(lang: Lang, session: &Session, outcome: &ImportOutcome) -> Markup {
    let t = lang.texts();
    let csrf = session.csrf_token();
    let rejected = outcome.rows.len() - outcome.created - outcome.updated;
    pages::layout(
        lang,
        t.import_csv,
        Some((&session.account, &csrf, Nav::Recipients)),
        html! {
            div.card {
                h1 { (t.import_csv) }
                p #import-summary role="status" {
                    (t.created) " " strong.created { (outcome.created) } " · "
                    (t.updated) " " strong.updated { (outcome.updated) } " · "
                    (t.rejected) " " strong.rejected { (rejected) }
                }
                table #import-rows {
                    thead { tr { th { (t.line) } th { (t.device_name) } th { (t.phone) } th { (t.result) } } }
                    tbody {
                        @for r in &outcome.rows {
                            @let (kind, label) = match &r.outcome {
                                RowOutcome::Created => ("created", t.created),
                                RowOutcome::Updated => ("updated", t.updated),
                                RowOutcome::Rejected(_) => ("rejected", t.rejected),
                            };
                            tr data-line=(r.line) data-outcome=(kind) {
                                td { (r.line) }
                                td { @if let Some(n) = &r.name { bdi { (n) } } }
                                td { @if let Some(p) = &r.phone { bdi { (p) } } }
                                td {
                                    @if let RowOutcome::Rejected(reason) = &r.outcome {
                                        span.error { (label) " — " bdi { (reason) } }
                                    } @else { (label) }
                                }
                            }
                        }
                    }
                }
                p { a href="/console/recipients" { (t.recipients) } }
            }
        },
    )
}

pub async fn upload(signed: Signed, state: web::Data<AppState>, form: Multipart) -> HttpResponse {
    let lang = signed.lang;
    let (csrf, file) = match read_upload(form).await {
        Ok(read) => read,
        Err(e) => return api_failure(lang, &e, None),
    };
    let Signed { lang, session } = match signed.with_csrf(&csrf) {
        Ok(signed) => signed,
        Err(refused) => return refused.page(),
    };
    match import::import(&state, session.account.clone(), file).await {
        Ok(outcome) => page(StatusCode::OK, lang, import_page(lang, &session, &outcome)),
        Err(e) => api_failure(lang, &e, Some(lang.texts().bad_csv)),
    }
}

pub async fn export(signed: Signed, state: web::Data<AppState>) -> HttpResponse {
    let Signed { lang, session } = signed;
    match import::export(&state, &session.account.id).await {
        Ok(csv) => HttpResponse::Ok()
            .content_type("text/csv; charset=utf-8")
            .insert_header((header::CONTENT_DISPOSITION, "attachment; filename=\"recipients.csv\""))
            .insert_header((header::CACHE_CONTROL, "no-store"))
            .body(csv),
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
