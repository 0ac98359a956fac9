//! The OpenAPI 3.1 document. Paths come from the handlers themselves (utoipa-actix-web collects
//! them as routes are registered); this module adds what is common to all of them: security
//! schemes, and the error responses every operation can give, so the document never drifts
//! from the one error contract in `error.rs`.

use utoipa::openapi::path::Operation;
use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{ContentBuilder, OpenApi as Document, Ref, RefOr, ResponseBuilder};
use utoipa::{Modify, OpenApi};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Relay API",
        description = "Send SMS through your own Android phones. Every failure answers \
            `{\"ok\": false, \"error\": {\"code\", \"message\"}}`; every success carries `\"ok\": true`.",
        license(name = "Apache-2.0", identifier = "Apache-2.0"),
    ),
    components(schemas(relay_protocol::ErrorEnvelope, relay_protocol::ErrorBody)),
    modifiers(&Common),
    tags(
        (name = "health", description = "Liveness and readiness: the two calls a deployment pipeline makes."),
        (name = "account", description = "The calling account, its subscription and limits."),
        (name = "keys", description = "API keys of the calling account."),
        (name = "messages", description = "Send SMS and follow each one to `delivered`, `failed` or `expired`."),
        (name = "recipients", description = "The recipients directory: people by name and number, tags, opt-out, CSV import and export."),
        (name = "otp", description = "One-time codes: send a code by SMS ahead of all other traffic, verify it once."),
        (name = "queue", description = "The account's queue: state, figures, pause and resume."),
        (name = "devices", description = "Paired phones: pairing, health, settings, unpairing."),
        (name = "webhooks", description = "Signed callbacks when messages, codes, phones and the queue change; their deliveries and every attempt."),
        (name = "device link", description = "Called by phones, not by customer systems: pairing with a code and the WebSocket link."),
    )
)]
pub struct ApiDoc;

/// (response name, status, description) for every error code of the contract.
const ERRORS: &[(&str, &str, &str)] = &[
    (
        "InvalidRequest",
        "400",
        "`invalid_request`: the body, a field or a parameter is not acceptable; `field` names it.",
    ),
    ("Unauthorized", "401", "`unauthorized`: the API key is missing, wrong or revoked."),
    ("SubscriptionExpired", "402", "`subscription_expired`: renew the subscription to send again."),
    ("NotFound", "404", "`not_found`: no such object in this account."),
    ("Conflict", "409", "`conflict`: the request clashes with the current state."),
    ("PayloadTooLarge", "413", "`payload_too_large`: the body exceeds this endpoint's limit."),
    ("RateLimited", "429", "`rate_limited`: too many requests for this key; see `Retry-After`."),
    ("Internal", "500", "`internal`: a failure on the server's side; `X-Trace-Id` identifies it."),
    ("Unavailable", "503", "`unavailable`: storage is unreachable for the moment; retry after `Retry-After`."),
];

struct Common;

impl Modify for Common {
    fn modify(&self, doc: &mut Document) {
        let components = doc.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some("`Authorization: Bearer rk_live_…`"))
                    .build(),
            ),
        );
        components.add_security_scheme(
            "device_token",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some("A paired phone's token, `Authorization: Bearer rd_…`."))
                    .build(),
            ),
        );
        components.add_security_scheme(
            "api_key",
            SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::with_description(
                "X-API-Key",
                "The same API key in its own header.",
            ))),
        );
        for (name, _, description) in ERRORS {
            let response = ResponseBuilder::new()
                .description(*description)
                .content(
                    "application/json",
                    ContentBuilder::new().schema(Some(Ref::from_schema_name("ErrorEnvelope"))).build(),
                )
                .build();
            components.responses.insert((*name).to_owned(), RefOr::T(response));
        }
    }
}

/// Adds to every operation the error responses that apply to it; call once all paths are in.
pub fn add_error_responses(doc: &mut Document) {
    for (path, item) in doc.paths.paths.iter_mut() {
        let has_path_params = path.contains('{');
        for op in
            [&mut item.get, &mut item.post, &mut item.put, &mut item.patch, &mut item.delete].into_iter().flatten()
        {
            add_to_operation(op, has_path_params);
        }
    }
}

fn add_to_operation(op: &mut Operation, has_path_params: bool) {
    let secured = op.security.as_ref().is_some_and(|s| !s.is_empty());
    let has_input = op.request_body.is_some() || op.parameters.as_ref().is_some_and(|p| !p.is_empty());
    let mut wanted = vec!["500"];
    if secured {
        wanted.extend(["401", "429", "503"]);
    }
    if has_input {
        wanted.push("400");
    }
    if op.request_body.is_some() {
        wanted.push("413");
    }
    if has_path_params {
        wanted.push("404");
    }
    for status in wanted {
        let Some((name, _, _)) = ERRORS.iter().find(|(_, s, _)| *s == status) else { continue };
        op.responses
            .responses
            .entry(status.to_owned())
            .or_insert_with(|| RefOr::Ref(Ref::new(format!("#/components/responses/{name}"))));
    }
}

/// The reference for an error response, for handlers that declare one explicitly.
pub fn error_ref(name: &str) -> RefOr<utoipa::openapi::Response> {
    RefOr::Ref(Ref::new(format!("#/components/responses/{name}")))
}
