//! Opening a byte stream to a server URL: TCP, plus TLS for `https://` and `wss://`. Both the
//! pairing POST (HTTP) and the link (WebSocket) run over it, so they share one TLS policy.

use std::sync::Arc;
use std::time::Duration;

use rustls::pki_types::ServerName;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use url::{Host, Url};

const CONNECT_TIMEOUT: Duration = Duration::from_secs(15);

/// Any stream we can speak HTTP or WebSocket over.
pub(crate) trait Io: AsyncRead + AsyncWrite + Send + Unpin {}
impl<T: AsyncRead + AsyncWrite + Send + Unpin> Io for T {}

pub(crate) type BoxedIo = Box<dyn Io>;

#[derive(Debug, thiserror::Error)]
pub enum NetError {
    #[error("unsupported URL {0} (expected http, https, ws or wss)")]
    UnsupportedUrl(String),
    #[error("connecting to {host}:{port} timed out")]
    Timeout { host: String, port: u16 },
    #[error("cannot connect to {host}:{port}: {source}")]
    Connect { host: String, port: u16, source: std::io::Error },
    #[error("TLS handshake with {host} failed: {source}")]
    Tls { host: String, source: std::io::Error },
}

/// Whether the URL asks for TLS.
pub(crate) fn is_secure(url: &Url) -> Result<bool, NetError> {
    match url.scheme() {
        "https" | "wss" => Ok(true),
        "http" | "ws" => Ok(false),
        _ => Err(NetError::UnsupportedUrl(url.to_string())),
    }
}

/// Connects to the URL's host and port, with TLS when the scheme asks for it.
pub(crate) async fn connect(url: &Url, tls: &Arc<rustls::ClientConfig>) -> Result<BoxedIo, NetError> {
    let secure = is_secure(url)?;
    let (host, server_name) = match url.host() {
        Some(Host::Domain(d)) => (d.to_owned(), ServerName::try_from(d.to_owned()).ok()),
        Some(Host::Ipv4(ip)) => (ip.to_string(), Some(ServerName::IpAddress(std::net::IpAddr::V4(ip).into()))),
        Some(Host::Ipv6(ip)) => (ip.to_string(), Some(ServerName::IpAddress(std::net::IpAddr::V6(ip).into()))),
        None => return Err(NetError::UnsupportedUrl(url.to_string())),
    };
    let port = url.port_or_known_default().ok_or_else(|| NetError::UnsupportedUrl(url.to_string()))?;
    let tcp = tokio::time::timeout(CONNECT_TIMEOUT, TcpStream::connect((host.as_str(), port)))
        .await
        .map_err(|_| NetError::Timeout { host: host.clone(), port })?
        .map_err(|source| NetError::Connect { host: host.clone(), port, source })?;
    // Frames are small and latency matters more than throughput.
    if let Err(e) = tcp.set_nodelay(true) {
        tracing::debug!(error = %e, "could not disable Nagle");
    }
    if !secure {
        return Ok(Box::new(tcp));
    }
    let name = server_name.ok_or_else(|| NetError::UnsupportedUrl(url.to_string()))?;
    let connector = tokio_rustls::TlsConnector::from(tls.clone());
    let stream = tokio::time::timeout(CONNECT_TIMEOUT, connector.connect(name, tcp))
        .await
        .map_err(|_| NetError::Timeout { host: host.clone(), port })?
        .map_err(|source| NetError::Tls { host, source })?;
    Ok(Box::new(stream))
}
