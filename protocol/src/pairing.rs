//! Pairing: the QR payload a server shows, and the HTTP exchange that turns it into a device
//! token.
//!
//! The payload is a URI: `relay://pair?server=<base url>&code=<pairing code>[&fp=<sha256>]`.
//! `fp` is the hex SHA-256 of the server's TLS certificate (DER) when the server terminates
//! TLS with its own certificate; the phone then pins that certificate.

use serde::{Deserialize, Serialize};
use url::Url;

use crate::frames::SimInfo;

pub const SCHEME: &str = "relay";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PairingPayload {
    /// The server's public base URL, e.g. `https://sms.example.com`.
    pub server_url: String,
    pub code: String,
    /// Lowercase hex SHA-256 of the server certificate to pin.
    pub fingerprint: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PayloadError {
    #[error("the pairing payload is not a relay://pair URI")]
    NotAPairingUri,
    #[error("the pairing payload lacks the {0} parameter")]
    Missing(&'static str),
    #[error("the server address in the pairing payload is not an http(s) URL")]
    BadServerUrl,
    #[error("the certificate fingerprint in the pairing payload is not 64 hex digits")]
    BadFingerprint,
}

impl PairingPayload {
    pub fn to_uri(&self) -> String {
        let mut query = url::form_urlencoded::Serializer::new(String::new());
        query.append_pair("server", &self.server_url).append_pair("code", &self.code);
        if let Some(fp) = &self.fingerprint {
            query.append_pair("fp", fp);
        }
        format!("{SCHEME}://pair?{}", query.finish())
    }

    pub fn parse(text: &str) -> Result<Self, PayloadError> {
        let uri = Url::parse(text.trim()).map_err(|_| PayloadError::NotAPairingUri)?;
        if uri.scheme() != SCHEME || uri.host_str() != Some("pair") {
            return Err(PayloadError::NotAPairingUri);
        }
        let get = |name: &str| uri.query_pairs().find(|(k, _)| k == name).map(|(_, v)| v.into_owned());
        let server_url = get("server").ok_or(PayloadError::Missing("server"))?;
        let server = Url::parse(&server_url).map_err(|_| PayloadError::BadServerUrl)?;
        if !matches!(server.scheme(), "http" | "https") || server.host_str().is_none() {
            return Err(PayloadError::BadServerUrl);
        }
        let code = get("code").filter(|c| !c.is_empty()).ok_or(PayloadError::Missing("code"))?;
        let fingerprint = match get("fp") {
            None => None,
            Some(fp) if fp.len() == 64 && fp.bytes().all(|b| b.is_ascii_hexdigit()) => Some(fp.to_ascii_lowercase()),
            Some(_) => return Err(PayloadError::BadFingerprint),
        };
        // The URL as parsed, not as written: `http:-/host` or ` HTTP://Host/` would otherwise
        // reach the phone's HTTP client as text that names another host or none.
        Ok(PairingPayload { server_url: server.as_str().trim_end_matches('/').to_owned(), code, fingerprint })
    }
}

/// `POST /v1/device/pair` body. The pairing code is the credential.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct PairRequest {
    pub code: String,
    /// A name for the device, e.g. `Front desk phone`.
    pub name: String,
    #[serde(default)]
    pub model: Option<String>,
    #[serde(default)]
    pub app_version: Option<String>,
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(value_type = Vec<Object>))]
    pub sims: Vec<SimInfo>,
}

/// `POST /v1/device/pair` answer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PairResponse {
    pub ok: bool,
    pub device_id: String,
    pub device_name: String,
    /// The device's credential for `GET /v1/device/connect`. Shown once; stored hashed.
    pub device_token: String,
    /// Where to connect: the WebSocket URL of the device link.
    pub connect_url: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_payload_survives_the_round_trip() {
        let p = PairingPayload {
            server_url: "https://sms.example.com:8443/base".into(),
            code: "K7D2-9QXM".into(),
            fingerprint: Some("ab".repeat(32)),
        };
        assert_eq!(PairingPayload::parse(&p.to_uri()).unwrap(), p);
    }

    #[test]
    fn the_server_address_is_kept_as_parsed() {
        // Found by the pairing_payload fuzz target: `%2D` makes `http:-/…`, which the URL
        // parser reads as host `-`; the payload must carry that reading, not the raw text.
        let p = PairingPayload::parse("relay://pair?server=http%3A%2D%2F192.168.1.10%3A8080&code=ABC").unwrap();
        assert!(p.server_url.starts_with("http://"), "{p:?}");
        assert_eq!(PairingPayload::parse(&p.to_uri()).unwrap(), p);
        let p = PairingPayload::parse("relay://pair?server=+HTTPS%3A%2F%2FSms.Example.com%3A443%2F&code=1").unwrap();
        assert_eq!(p.server_url, "https://sms.example.com");
    }

    #[test]
    fn bad_payloads_say_what_is_wrong() {
        assert_eq!(PairingPayload::parse("https://x/pair?code=1"), Err(PayloadError::NotAPairingUri));
        assert_eq!(PairingPayload::parse("relay://pair?code=1"), Err(PayloadError::Missing("server")));
        assert_eq!(PairingPayload::parse("relay://pair?server=ftp%3A%2F%2Fx&code=1"), Err(PayloadError::BadServerUrl));
        assert_eq!(
            PairingPayload::parse("relay://pair?server=http%3A%2F%2Fx&code=1&fp=zz"),
            Err(PayloadError::BadFingerprint)
        );
        assert_eq!(PairingPayload::parse("not a uri"), Err(PayloadError::NotAPairingUri));
    }
}
