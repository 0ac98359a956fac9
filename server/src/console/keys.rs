//! API keys in the console: each key's name, visible prefix, creation, last use and
//! revocation; create (the secret is shown on the answer page once, never again) and revoke.
//! Through the same functions as `/v1/keys`.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use maud::{Markup, html};
use serde::Deserialize;

use super::auth::Session;
use super::i18n::Lang;
use super::pages::{self, Nav};
use super::routes::{Signed, api_failure, page, see_other};
use crate::error::ApiError;
use crate::keys::models::KeyView;
use crate::keys::routes as api;
use crate::state::AppState;

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct KeyForm {
    csrf: String,
    name: String,
}

fn keys_page(lang: Lang, session: &Session, keys: &[KeyView], created: Option<&str>) -> Markup {
    let t = lang.texts();
    let csrf = session.csrf_token();
    pages::layout(
        lang,
        t.api_keys,
        Some((&session.account, &csrf, Nav::Keys)),
        html! {
            div.card {
                h1 { (t.api_keys) }
                @if let Some(secret) = created {
                    div.created role="status" {
                        p { strong { (t.key_shown_once) } }
                        p { code #new-key { (secret) } }
                    }
                }
                form method="post" action="/console/keys" {
                    input type="hidden" name="csrf" value=(csrf);
                    input type="text" name="name" placeholder=(t.device_name) aria-label=(t.device_name) maxlength="100" required;
                    button type="submit" { (t.create_key) }
                }
                table {
                    thead { tr { th { (t.device_name) } th { (t.key_prefix) } th { (t.created) } th { (t.last_used) } th {} } }
                    tbody {
                        @for k in keys {
                            tr data-key=(k.id) {
                                td { bdi { (k.name) } }
                                td { code { (k.prefix) "…" } }
                                td { (k.created_at.rfc3339()) }
                                td { (k.last_used_at.map_or_else(|| t.never.to_owned(), |at| at.rfc3339())) }
                                td {
                                    @if let Some(at) = k.revoked_at {
                                        span.error { (t.revoked) " " (at.rfc3339()) }
                                    } @else {
                                        form.inline method="post" action={ "/console/keys/" (k.id) "/revoke" } {
                                            input type="hidden" name="csrf" value=(csrf);
                                            button type="submit" { (t.revoke) }
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        },
    )
}

pub async fn list(signed: Signed, state: web::Data<AppState>) -> HttpResponse {
    let Signed { lang, session } = signed;
    match api::list(&state, &session.account.id).await {
        Ok(keys) => page(StatusCode::OK, lang, keys_page(lang, &session, &keys, None)),
        Err(e) => api_failure(lang, &e, Some(lang.texts().bad_key_name)),
    }
}

pub async fn create(signed: Signed, state: web::Data<AppState>, form: web::Form<KeyForm>) -> HttpResponse {
    let form = form.into_inner();
    let Signed { lang, session } = match signed.with_csrf(&form.csrf) {
        Ok(signed) => signed,
        Err(refused) => return refused.page(),
    };
    let made = async {
        let key = api::create(&state, &session.account.id, Some(form.name)).await?;
        Ok::<_, ApiError>((key.secret, api::list(&state, &session.account.id).await?))
    };
    match made.await {
        // Shown on this answer only (no-store): a reload does not make another key.
        Ok((secret, keys)) => page(StatusCode::CREATED, lang, keys_page(lang, &session, &keys, Some(&secret))),
        Err(e) => api_failure(lang, &e, Some(lang.texts().bad_key_name)),
    }
}

pub async fn revoke(
    signed: Signed,
    state: web::Data<AppState>,
    path: web::Path<String>,
    form: web::Form<super::routes::CsrfForm>,
) -> HttpResponse {
    let Signed { lang, session } = match signed.with_csrf(&form.csrf) {
        Ok(signed) => signed,
        Err(refused) => return refused.page(),
    };
    match api::revoke(&state, &session.account.id, path.into_inner()).await {
        Ok(_) => see_other("/console/keys").finish(),
        Err(e) => api_failure(lang, &e, Some(lang.texts().bad_key_name)),
    }
}
