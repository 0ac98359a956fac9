//! The HTTP edge: route registration, the OpenAPI document, tracing and the fallback.

pub mod json;
pub mod openapi;
pub mod routes_table;

use std::time::Instant;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{self, HeaderName, HeaderValue};
use actix_web::middleware::{Next, from_fn};
use actix_web::{App, HttpMessage, HttpRequest, HttpResponse, web};
use tracing::Instrument;
use utoipa::OpenApi;
use utoipa_actix_web::AppExt;
use utoipa_actix_web::service_config::ServiceConfig;
use utoipa_swagger_ui::SwaggerUi;

use crate::error::ApiError;
use crate::ratelimit::Allowance;
use crate::state::AppState;
use crate::{accounts, batches, devices, health, ids, keys, link, messages, otp, queue, recipients, webhooks};
use routes_table::RouteTable;

pub const TRACE_HEADER: HeaderName = HeaderName::from_static("x-trace-id");

/// Every API route. Registering a handler here is what puts it in the OpenAPI document.
pub fn routes(cfg: &mut ServiceConfig) {
    cfg.service(health::health)
        .service(health::readiness)
        .service(accounts::routes::get_account)
        .service(accounts::routes::update_account)
        .service(keys::routes::create_key)
        .service(keys::routes::list_keys)
        .service(keys::routes::revoke_key)
        .service(messages::routes::send_message)
        .service(messages::routes::list_messages)
        .service(messages::routes::get_message)
        .service(messages::routes::cancel_message)
        .service(otp::routes::send_otp)
        .service(otp::routes::verify_otp)
        .service(otp::routes::get_otp)
        .service(queue::get_queue)
        .service(queue::get_queue_health)
        .service(queue::pause)
        .service(queue::resume)
        .service(devices::routes::start_pairing)
        .service(devices::routes::list_devices)
        .service(devices::routes::get_device)
        .service(devices::routes::update_device)
        .service(devices::routes::unpair_device)
        // `deliveries/{delivery_id}` before `{webhook_id}/…`: the literal segment must win.
        .service(webhooks::routes::get_delivery)
        .service(webhooks::routes::retry_delivery)
        .service(webhooks::routes::create_webhook)
        .service(webhooks::routes::list_webhooks)
        .service(webhooks::routes::get_webhook)
        .service(webhooks::routes::update_webhook)
        .service(webhooks::routes::delete_webhook)
        .service(webhooks::routes::rotate_secret)
        .service(webhooks::routes::get_secret)
        .service(webhooks::routes::test_webhook)
        .service(webhooks::routes::list_deliveries)
        .service(link::routes::pair)
        .service(link::routes::connect)
        .service(recipients::routes::create_recipient)
        .service(recipients::routes::list_recipients)
        .service(recipients::import::export_recipients)
        .service(recipients::import::import_recipients)
        .service(recipients::routes::get_recipient)
        .service(recipients::routes::update_recipient)
        .service(recipients::routes::delete_recipient)
        .service(batches::routes::send_bulk)
        .service(batches::routes::get_batch)
        .service(batches::routes::cancel_batch);
}

/// The body of a success that has nothing else to say.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct OkResponse {
    pub ok: bool,
}

/// The OpenAPI document of exactly the routes above.
pub fn openapi() -> utoipa::openapi::OpenApi {
    let (_, mut doc) =
        App::new().into_utoipa_app().openapi(openapi::ApiDoc::openapi()).configure(routes).split_for_parts();
    doc.info.version = env!("CARGO_PKG_VERSION").to_owned();
    openapi::add_error_responses(&mut doc);
    doc
}

/// Builds the application for one worker.
pub fn app(
    state: web::Data<AppState>,
    doc: utoipa::openapi::OpenApi,
    table: web::Data<RouteTable>,
) -> App<
    impl actix_web::dev::ServiceFactory<
        ServiceRequest,
        Config = (),
        Response = ServiceResponse<impl MessageBody>,
        Error = actix_web::Error,
        InitError = (),
    >,
> {
    let test_clock = state.test_clock;
    App::new()
        .into_utoipa_app()
        .configure(routes)
        .into_app()
        // Hidden, and absent unless `serve --unsafe-test-clock`: not part of the API.
        .configure(|cfg| {
            if test_clock {
                otp::test_clock::configure(cfg);
            }
        })
        .app_data(state)
        .app_data(table)
        .app_data(web::PathConfig::default().error_handler(|e, _| {
            ApiError::InvalidRequest { message: format!("A path parameter is not acceptable: {e}."), field: None }
                .into()
        }))
        .app_data(web::QueryConfig::default().error_handler(|e, _| {
            ApiError::InvalidRequest { message: format!("A query parameter is not acceptable: {e}."), field: None }
                .into()
        }))
        .app_data(web::Data::new(doc.clone()))
        .service(SwaggerUi::new("/docs/{_:.*}").url("/openapi.json", doc))
        .route("/docs", web::get().to(|| async { redirect("/docs/") }))
        .route("/metrics", web::get().to(crate::metrics::scrape))
        .configure(crate::console::configure)
        .configure(crate::portal::configure)
        .route("/", web::get().to(|| async { redirect("/docs/") }))
        .default_service(web::to(fallback))
        .wrap(from_fn(trace))
}

/// The route table the fallback consults, built from the same document.
pub fn route_table(doc: &utoipa::openapi::OpenApi) -> RouteTable {
    let table = crate::console::PATHS
        .iter()
        .chain(crate::portal::PATHS)
        .fold(RouteTable::from_openapi(doc), |t, (path, methods)| t.with_extra(path, methods));
    table
        .with_extra("/openapi.json", &["GET"])
        .with_extra("/docs", &["GET"])
        .with_extra("/metrics", &["GET"])
        .with_extra("/", &["GET"])
}

fn redirect(to: &'static str) -> HttpResponse {
    HttpResponse::PermanentRedirect().insert_header((header::LOCATION, to)).finish()
}

/// No route matched: 405 if the path exists with other methods, else 404.
async fn fallback(req: HttpRequest, table: web::Data<RouteTable>) -> Result<HttpResponse, ApiError> {
    match table.allowed(req.path()) {
        Some(allow) => Err(ApiError::MethodNotAllowed { method: req.method().to_string(), allow }),
        None => {
            Err(ApiError::NotFound(format!("There is no endpoint at {}; the API reference is at /docs.", req.path())))
        }
    }
}

/// Gives every request a trace id (the caller's `X-Trace-Id` if it sent a sane one), runs it
/// in a span carrying that id, and returns the id in `X-Trace-Id`.
async fn trace(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let trace_id = req
        .headers()
        .get(&TRACE_HEADER)
        .and_then(|v| v.to_str().ok())
        .filter(|v| {
            !v.is_empty() && v.len() <= 64 && v.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        })
        .map(str::to_owned)
        .unwrap_or_else(ids::new_trace_id);
    let span = tracing::info_span!("request", trace_id = %trace_id, method = %req.method(), path = %req.path());
    let started = Instant::now();
    let mut res = next.call(req).instrument(span.clone()).await?;
    let status = res.status();
    crate::metrics::METRICS.answered(status.as_u16());
    let elapsed_ms = started.elapsed().as_secs_f64() * 1000.0;
    span.in_scope(|| {
        if status.is_server_error() {
            tracing::warn!(status = status.as_u16(), elapsed_ms, "request failed");
        } else {
            tracing::debug!(status = status.as_u16(), elapsed_ms, "request served");
        }
    });
    if let Ok(value) = HeaderValue::from_str(&trace_id) {
        res.headers_mut().insert(TRACE_HEADER, value);
    }
    let allowance = res.request().extensions().get::<Allowance>().copied();
    if let Some(allowance) = allowance {
        for (name, value) in allowance.headers() {
            // A 429 already says how long to wait; keep its headers.
            if let (false, Ok(value)) = (res.headers().contains_key(name), HeaderValue::from_str(&value)) {
                res.headers_mut().insert(HeaderName::from_static(name), value);
            }
        }
    }
    Ok(res)
}
