//! Pairing: QR payload → `POST {server}/v1/device/pair` → credentials in the store.

use std::time::Duration;

use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Bytes;
use hyper::{Request, StatusCode, header};
use hyper_util::rt::TokioIo;
use relay_protocol::ErrorEnvelope;
use relay_protocol::frames::SimInfo;
use relay_protocol::pairing::{PairRequest, PairResponse, PairingPayload, PayloadError};
use url::Url;

use crate::net::{self, NetError};
use crate::store::{Store, StoreError};
use crate::tls::{self, TlsError};

/// The pairing endpoint, relative to the server's base URL.
pub const PAIR_PATH: &str = "/v1/device/pair";

const PAIR_TIMEOUT: Duration = Duration::from_secs(30);
/// A pairing answer is a few hundred bytes; anything huge is not our server.
const MAX_RESPONSE_BYTES: usize = 64 * 1024;

/// What the phone tells the server about itself when pairing.
#[derive(Debug, Clone, PartialEq, Default)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Record))]
pub struct DeviceInfo {
    pub name: String,
    pub model: Option<String>,
    pub app_version: Option<String>,
    pub sims: Vec<SimInfo>,
}

/// Everything the phone needs to connect, kept in the store.
#[derive(Clone, PartialEq, Eq)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Record))]
pub struct Credentials {
    pub server_url: String,
    pub device_id: String,
    pub device_name: String,
    pub device_token: String,
    pub connect_url: String,
    /// The pinned certificate's lowercase hex SHA-256, from the pairing payload.
    pub fingerprint: Option<String>,
}

// The token is a secret: keep it out of logs and panics.
impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials")
            .field("server_url", &self.server_url)
            .field("device_id", &self.device_id)
            .field("device_name", &self.device_name)
            .field("device_token", &"<redacted>")
            .field("connect_url", &self.connect_url)
            .field("fingerprint", &self.fingerprint)
            .finish()
    }
}

/// What a pairing QR payload names, read without contacting the server (for a confirmation
/// screen: "pair with sms.example.com?").
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Record))]
pub struct PairingTarget {
    pub server_url: String,
    /// The payload pins the server's certificate.
    pub pinned: bool,
}

/// Reads a pairing payload without pairing.
pub fn inspect(payload_text: &str) -> Result<PairingTarget, PayloadError> {
    let payload = PairingPayload::parse(payload_text)?;
    Ok(PairingTarget { server_url: payload.server_url, pinned: payload.fingerprint.is_some() })
}

#[derive(Debug, thiserror::Error)]
pub enum PairError {
    #[error(transparent)]
    Payload(#[from] PayloadError),
    #[error("the server refused pairing (HTTP {status}, {code}): {message}")]
    Refused { status: u16, code: String, message: String },
    #[error("the server answered HTTP {status} without a Relay error body")]
    UnexpectedStatus { status: u16 },
    #[error("the server's pairing answer is not what Relay sends: {0}")]
    BadResponse(String),
    #[error(transparent)]
    Network(#[from] NetError),
    #[error(transparent)]
    Tls(#[from] TlsError),
    #[error("the pairing request failed: {0}")]
    Http(String),
    #[error("pairing timed out")]
    Timeout,
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Pairs with the server named in the QR payload and saves the credentials in `store`.
pub async fn pair(payload_text: &str, device: &DeviceInfo, store: &Store) -> Result<Credentials, PairError> {
    let payload = PairingPayload::parse(payload_text)?;
    let request = PairRequest {
        code: payload.code.clone(),
        name: device.name.clone(),
        model: device.model.clone(),
        app_version: device.app_version.clone(),
        sims: device.sims.clone(),
    };
    tracing::info!(server = %payload.server_url, pinned = payload.fingerprint.is_some(), "pairing");
    let response =
        tokio::time::timeout(PAIR_TIMEOUT, post_pair(&payload, &request)).await.map_err(|_| PairError::Timeout)??;
    let creds = Credentials {
        server_url: payload.server_url,
        device_id: response.device_id,
        device_name: response.device_name,
        device_token: response.device_token,
        connect_url: response.connect_url,
        fingerprint: payload.fingerprint,
    };
    store.save_credentials(&creds)?;
    tracing::info!(device_id = %creds.device_id, device_name = %creds.device_name, "paired");
    Ok(creds)
}

async fn post_pair(payload: &PairingPayload, request: &PairRequest) -> Result<PairResponse, PairError> {
    let url = Url::parse(&format!("{}{PAIR_PATH}", payload.server_url))
        .map_err(|_| PairError::Payload(PayloadError::BadServerUrl))?;
    let tls = tls::client_config(payload.fingerprint.as_deref())?;
    let body = serde_json::to_vec(request).map_err(|e| PairError::BadResponse(e.to_string()))?;
    let (status, bytes) = post_json(&url, &tls, body).await?;
    read_pair_answer(status, &bytes)
}

/// One HTTP/1.1 POST over our own TLS stream, so pairing and the link share the pin.
async fn post_json(
    url: &Url,
    tls: &std::sync::Arc<rustls::ClientConfig>,
    body: Vec<u8>,
) -> Result<(StatusCode, Bytes), PairError> {
    let io = net::connect(url, tls).await?;
    let (mut sender, connection) =
        hyper::client::conn::http1::handshake(TokioIo::new(io)).await.map_err(|e| PairError::Http(e.to_string()))?;
    // The connection future drives the socket; it ends when the exchange is over.
    tokio::spawn(async move {
        if let Err(e) = connection.await {
            tracing::debug!(error = %e, "pairing connection closed with an error");
        }
    });
    let host = match url.port() {
        Some(port) => format!("{}:{port}", url.host_str().unwrap_or_default()),
        None => url.host_str().unwrap_or_default().to_owned(),
    };
    let request = Request::post(url.path())
        .header(header::HOST, host)
        .header(header::CONTENT_TYPE, "application/json")
        .header(header::ACCEPT, "application/json")
        .body(Full::new(Bytes::from(body)))
        .map_err(|e| PairError::Http(e.to_string()))?;
    let response = sender.send_request(request).await.map_err(|e| PairError::Http(e.to_string()))?;
    let status = response.status();
    let bytes = Limited::new(response.into_body(), MAX_RESPONSE_BYTES)
        .collect()
        .await
        .map_err(|e| PairError::Http(e.to_string()))?
        .to_bytes();
    Ok((status, bytes))
}

/// A success is a `PairResponse`; a failure should carry the API's error envelope.
fn read_pair_answer(status: StatusCode, bytes: &[u8]) -> Result<PairResponse, PairError> {
    if status.is_success() {
        return serde_json::from_slice(bytes).map_err(|e| PairError::BadResponse(e.to_string()));
    }
    match serde_json::from_slice::<ErrorEnvelope>(bytes) {
        Ok(envelope) => Err(PairError::Refused {
            status: status.as_u16(),
            code: envelope.error.code,
            message: envelope.error.message,
        }),
        Err(_) => Err(PairError::UnexpectedStatus { status: status.as_u16() }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_error_envelope_becomes_a_typed_refusal() {
        let body = br#"{"ok":false,"error":{"code":"unauthorized","message":"That pairing code is not valid."}}"#;
        match read_pair_answer(StatusCode::UNAUTHORIZED, body) {
            Err(PairError::Refused { status, code, message }) => {
                assert_eq!((status, code.as_str()), (401, "unauthorized"));
                assert_eq!(message, "That pairing code is not valid.");
            }
            other => panic!("unexpected {other:?}"),
        }
        assert!(matches!(
            read_pair_answer(StatusCode::BAD_GATEWAY, b"<html>"),
            Err(PairError::UnexpectedStatus { status: 502 })
        ));
    }

    #[test]
    fn inspecting_a_payload_names_the_server_and_the_pin() {
        let fp = "ab".repeat(32);
        let target = inspect(&format!("relay://pair?server=https%3A%2F%2Fsms.example.com&code=K7D2&fp={fp}")).unwrap();
        assert_eq!(target, PairingTarget { server_url: "https://sms.example.com".into(), pinned: true });
        assert_eq!(inspect("https://example.com").unwrap_err(), PayloadError::NotAPairingUri);
    }

    #[test]
    fn credentials_debug_hides_the_token() {
        let c = Credentials {
            server_url: "http://x".into(),
            device_id: "dev_1".into(),
            device_name: "n".into(),
            device_token: "rd_secret".into(),
            connect_url: "ws://x".into(),
            fingerprint: None,
        };
        assert!(!format!("{c:?}").contains("rd_secret"));
    }
}
