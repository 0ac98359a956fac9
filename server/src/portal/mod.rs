//! The developer portal: a public quick-start page at `/portal` with ready-to-copy examples
//! for every common scenario in twelve languages, webhook verification, the error codes and
//! an FAQ, plus the Postman collection at `/postman.json`.
//!
//! It holds nothing secret (the server's base URL and an API key read from the environment in
//! each example), so it needs no sign-in. The examples are plain source files under
//! `snippets/`, compiled in; the snippet tests run the very code blocks this page serves.

mod page;
pub mod postman;
pub mod snippets;

use actix_web::http::header;
use actix_web::{HttpResponse, web};

use crate::state::AppState;

/// The portal's paths, for the fallback's `405 Allow` table.
pub const PATHS: &[(&str, &[&str])] =
    &[("/portal", &["GET"]), ("/postman.json", &["GET"]), ("/portal/assets/portal.js", &["GET"])];

/// Copy buttons and language tabs; the page works without it.
const SCRIPT: &str = include_str!("assets/portal.js");

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/portal", web::get().to(show)).route("/postman.json", web::get().to(postman_collection)).route(
        "/portal/assets/portal.js",
        web::get().to(|| async {
            HttpResponse::Ok()
                .content_type("text/javascript; charset=utf-8")
                .insert_header((header::CACHE_CONTROL, "public, max-age=300"))
                .body(SCRIPT)
        }),
    );
}

#[derive(Debug, serde::Deserialize)]
struct PortalQuery {
    lang: Option<String>,
}

async fn show(state: web::Data<AppState>, query: web::Query<PortalQuery>) -> HttpResponse {
    let lang = query.lang.as_deref().and_then(snippets::Lang::find).unwrap_or(&snippets::LANGS[0]);
    let body = page::render(&state.public_url, lang).into_string();
    HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .insert_header((
            header::CONTENT_SECURITY_POLICY,
            "default-src 'self'; style-src 'unsafe-inline'; frame-ancestors 'none'",
        ))
        .body(body)
}

async fn postman_collection(state: web::Data<AppState>, doc: web::Data<utoipa::openapi::OpenApi>) -> HttpResponse {
    HttpResponse::Ok()
        .insert_header((header::CONTENT_DISPOSITION, r#"attachment; filename="relay.postman_collection.json""#))
        .json(postman::collection(&doc, &state.public_url))
}
