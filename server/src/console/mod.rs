//! The web console: pages for the people who run an account, served by the same process as
//! the API from server-side HTML (maud), so `cargo run` needs no JavaScript build step.
//!
//! It shares nothing with the API's credentials: a console session is a cookie that the API
//! ignores, and an API key is not a console password. Every form that changes something
//! carries a CSRF token bound to the session.

pub mod auth;
mod devices;
mod events;
mod i18n;
mod keys;
mod messages;
mod onboarding;
mod pages;
mod queue;
mod recipients;
mod routes;
mod webhooks;

use actix_web::web;

pub use i18n::Lang;

/// The console's paths, for the fallback's `405 Allow` table.
pub const PATHS: &[(&str, &[&str])] = &[
    ("/console", &["GET"]),
    ("/console/login", &["GET", "POST"]),
    ("/console/logout", &["POST"]),
    ("/console/devices", &["GET"]),
    ("/console/devices/pair", &["POST"]),
    ("/console/devices/{device_id}", &["POST"]),
    ("/console/messages", &["GET"]),
    ("/console/messages/{request_id}", &["GET"]),
    ("/console/recipients", &["GET", "POST"]),
    ("/console/recipients/import", &["POST"]),
    ("/console/recipients/export", &["GET"]),
    ("/console/recipients/{recipient_id}", &["GET", "POST"]),
    ("/console/queue", &["GET", "POST"]),
    ("/console/keys", &["GET", "POST"]),
    ("/console/keys/{key_id}/revoke", &["POST"]),
    ("/console/webhooks", &["GET"]),
    ("/console/webhooks/{webhook_id}", &["GET"]),
    ("/console/webhooks/{webhook_id}/{action}", &["POST"]),
    ("/console/webhooks/{webhook_id}/deliveries/{delivery_id}/redeliver", &["POST"]),
    ("/console/events", &["GET"]),
    ("/console/assets/console.js", &["GET"]),
];

/// The live-update script, compiled into the binary.
const SCRIPT: &str = include_str!("assets/console.js");

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/console", web::get().to(routes::dashboard))
        .route("/console/login", web::get().to(routes::login_form))
        .route("/console/login", web::post().to(routes::login))
        .route("/console/logout", web::post().to(routes::logout))
        .route("/console/devices", web::get().to(devices::list))
        .route("/console/devices/pair", web::post().to(devices::pair))
        .route("/console/devices/{device_id}", web::post().to(devices::change))
        .route("/console/messages", web::get().to(messages::list))
        .route("/console/messages/{request_id}", web::get().to(messages::show))
        .route("/console/recipients", web::get().to(recipients::list))
        .route("/console/recipients", web::post().to(recipients::create))
        // Literal segments before `{recipient_id}`.
        .route("/console/recipients/import", web::post().to(recipients::upload))
        .route("/console/recipients/export", web::get().to(recipients::export))
        .route("/console/recipients/{recipient_id}", web::get().to(recipients::edit))
        .route("/console/recipients/{recipient_id}", web::post().to(recipients::update))
        .route("/console/queue", web::get().to(queue::show))
        .route("/console/queue", web::post().to(queue::switch))
        .route("/console/keys", web::get().to(keys::list))
        .route("/console/keys", web::post().to(keys::create))
        .route("/console/keys/{key_id}/revoke", web::post().to(keys::revoke))
        .route("/console/webhooks", web::get().to(webhooks::list))
        .route("/console/webhooks/{webhook_id}", web::get().to(webhooks::show))
        .route("/console/webhooks/{webhook_id}/{action}", web::post().to(webhooks::act))
        .route("/console/webhooks/{webhook_id}/deliveries/{delivery_id}/redeliver", web::post().to(webhooks::redeliver))
        .route("/console/events", web::get().to(events::stream))
        .route(
            "/console/assets/console.js",
            web::get().to(|| async {
                actix_web::HttpResponse::Ok()
                    .content_type("text/javascript; charset=utf-8")
                    .insert_header(("Cache-Control", "public, max-age=300"))
                    .body(SCRIPT)
            }),
        );
}
