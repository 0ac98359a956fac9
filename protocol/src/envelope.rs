//! The one error envelope of the HTTP API: `{"ok": false, "error": {"code", "message"}}`.

use serde::{Deserialize, Serialize};

/// Body of every failed API call.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct ErrorEnvelope {
    /// Always `false` on an error.
    pub ok: bool,
    pub error: ErrorBody,
}

/// What went wrong, for a program (`code`) and for a person (`message`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct ErrorBody {
    /// Stable, machine-readable code such as `unauthorized` or `invalid_request`.
    pub code: String,
    /// One sentence a person understands.
    pub message: String,
    /// The request field at fault, for `invalid_request`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    /// Seconds to wait before trying again, where waiting helps.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_after: Option<u64>,
}

impl ErrorEnvelope {
    pub fn new(code: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            ok: false,
            error: ErrorBody { code: code.into(), message: message.into(), field: None, retry_after: None },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn optional_parts_are_left_out_of_the_wire_form() {
        let json = serde_json::to_value(ErrorEnvelope::new("not_found", "No such thing.")).unwrap();
        assert_eq!(json, serde_json::json!({"ok": false, "error": {"code": "not_found", "message": "No such thing."}}));
    }

    #[test]
    fn a_server_error_with_retry_after_parses_back() {
        let text = r#"{"ok":false,"error":{"code":"rate_limited","message":"Slow down.","retry_after":3}}"#;
        let parsed: ErrorEnvelope = serde_json::from_str(text).unwrap();
        assert_eq!(parsed.error.retry_after, Some(3));
        assert_eq!(parsed.error.code, "rate_limited");
    }
}
