//! `ApiJson<T>`: the JSON body extractor. Unlike actix's `Json`, every failure — wrong content
//! type, too large, malformed, wrong type, unknown or missing field — answers in our envelope
//! and names the field at fault.

use std::future::Future;
use std::pin::Pin;

use actix_web::dev::Payload;
use actix_web::http::header;
use actix_web::web::BytesMut;
use actix_web::{FromRequest, HttpRequest};
use futures_util::StreamExt;
use serde::de::DeserializeOwned;

use crate::error::ApiError;

/// Default body limit: far above any single-message request, far below memory trouble.
pub const DEFAULT_LIMIT: usize = 256 * 1024;

#[derive(Debug)]
pub struct ApiJson<T, const LIMIT: usize = DEFAULT_LIMIT>(pub T);

impl<T, const LIMIT: usize> ApiJson<T, LIMIT> {
    pub fn into_inner(self) -> T {
        self.0
    }
}

impl<T: DeserializeOwned + 'static, const LIMIT: usize> FromRequest for ApiJson<T, LIMIT> {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, ApiError>>>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let content_type_ok = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(|ct| ct.split(';').next().unwrap_or("").trim().eq_ignore_ascii_case("application/json"))
            .unwrap_or(true);
        let mut payload = payload.take();
        Box::pin(async move {
            if !content_type_ok {
                return Err(ApiError::InvalidRequest {
                    message: "The request body must be JSON, sent with `Content-Type: application/json`.".into(),
                    field: None,
                });
            }
            let mut body = BytesMut::new();
            while let Some(chunk) = payload.next().await {
                let chunk = chunk.map_err(|e| ApiError::InvalidRequest {
                    message: format!("The request body could not be read: {e}."),
                    field: None,
                })?;
                if body.len() + chunk.len() > LIMIT {
                    return Err(ApiError::PayloadTooLarge { limit: LIMIT });
                }
                body.extend_from_slice(&chunk);
            }
            decode(&body).map(ApiJson)
        })
    }
}

/// Decodes `body` as `T`, turning serde's error into a sentence that names the field.
pub fn decode<T: DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err(ApiError::InvalidRequest {
            message: "The request body is empty; JSON was expected.".into(),
            field: None,
        });
    }
    let de = &mut serde_json::Deserializer::from_slice(body);
    serde_path_to_error::deserialize(de).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        if inner.is_syntax() || inner.is_eof() {
            return ApiError::InvalidRequest {
                message: format!("The request body is not valid JSON ({inner})."),
                field: None,
            };
        }
        // serde's own wording is precise ("invalid type: integer `5`, expected a string");
        // strip its position suffix, which means nothing to a person reading the API's answer.
        let detail = inner.to_string();
        let detail = detail.split(" at line ").next().unwrap_or(&detail).to_owned();
        let field = unknown_field(&detail).map(|f| join_path(&path, &f)).unwrap_or(path);
        if field == "." || field.is_empty() {
            ApiError::InvalidRequest { message: format!("The request body is not acceptable: {detail}."), field: None }
        } else {
            ApiError::InvalidRequest { message: format!("Field `{field}`: {detail}."), field: Some(field) }
        }
    })
}

/// The field an "unknown field" or "missing field" error is about.
fn unknown_field(detail: &str) -> Option<String> {
    let rest = detail.strip_prefix("unknown field `").or_else(|| detail.strip_prefix("missing field `"))?;
    rest.split('`').next().map(str::to_owned)
}

/// serde_path_to_error already ends the path with an unknown field's name, not a missing one's.
fn join_path(parent: &str, field: &str) -> String {
    if parent.is_empty() || parent == "." {
        field.to_owned()
    } else if parent.rsplit('.').next() == Some(field) {
        parent.to_owned()
    } else {
        format!("{parent}.{field}")
    }
}

#[cfg(test)]
mod tests {
    use serde::Deserialize;

    use super::*;

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Body {
        name: String,
        inner: Option<Inner>,
    }

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Inner {
        days: u32,
    }

    fn field_of(body: &str) -> Option<String> {
        match decode::<Body>(body.as_bytes()) {
            Err(ApiError::InvalidRequest { field, .. }) => field,
            other => panic!("expected invalid_request, got {other:?}"),
        }
    }

    #[test]
    fn errors_name_the_field_at_fault() {
        assert_eq!(field_of(r#"{"name": 5}"#).as_deref(), Some("name"));
        assert_eq!(field_of(r#"{"name": "a", "inner": {"days": "x"}}"#).as_deref(), Some("inner.days"));
        assert_eq!(field_of(r#"{"name": "a", "colour": 1}"#).as_deref(), Some("colour"));
        assert_eq!(field_of(r#"{"name": "a", "inner": {}}"#).as_deref(), Some("inner.days"));
        assert_eq!(field_of(r#"{}"#).as_deref(), Some("name"));
    }

    #[test]
    fn broken_json_is_named_as_such() {
        match decode::<Body>(b"{\"name\": ") {
            Err(ApiError::InvalidRequest { message, field: None }) => assert!(message.contains("not valid JSON")),
            other => panic!("{other:?}"),
        }
    }
}
