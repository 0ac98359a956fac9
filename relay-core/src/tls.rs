//! The one TLS configuration used for both the pairing POST and the WebSocket link: rustls
//! with the `ring` provider (it builds for Android without the NDK), and either the pinned
//! certificate from the pairing payload or the webpki roots.

use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{CryptoProvider, WebPkiSupportedAlgorithms};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};
use sha2::{Digest, Sha256};

#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("cannot build the TLS configuration: {0}")]
    Config(#[from] rustls::Error),
    #[error("the pinned certificate fingerprint is not 64 hex digits")]
    BadFingerprint,
}

/// Builds the client configuration. With `fingerprint`, exactly the certificate whose DER
/// SHA-256 matches is accepted (a self-hosted server with its own certificate); without it,
/// the usual public CA roots apply.
pub fn client_config(fingerprint: Option<&str>) -> Result<Arc<ClientConfig>, TlsError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = ClientConfig::builder_with_provider(provider.clone()).with_safe_default_protocol_versions()?;
    let config = match fingerprint {
        Some(fp) => builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(PinnedCertificate::new(fp, &provider)?))
            .with_no_client_auth(),
        None => {
            let roots = RootCertStore { roots: webpki_roots::TLS_SERVER_ROOTS.to_vec() };
            builder.with_root_certificates(roots).with_no_client_auth()
        }
    };
    Ok(Arc::new(config))
}

/// Lowercase hex SHA-256 of a DER certificate: the form the pairing payload's `fp` uses.
pub fn fingerprint_of(der: &[u8]) -> String {
    hex::encode(Sha256::digest(der))
}

/// Accepts exactly one certificate, named by its fingerprint. The name and validity dates are
/// not checked: the pairing QR code vouches for this very certificate. The handshake
/// signatures are still verified, so the server must hold the certificate's private key.
#[derive(Debug)]
struct PinnedCertificate {
    fingerprint: String,
    algorithms: WebPkiSupportedAlgorithms,
}

impl PinnedCertificate {
    fn new(fingerprint: &str, provider: &CryptoProvider) -> Result<Self, TlsError> {
        if fingerprint.len() != 64 || !fingerprint.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(TlsError::BadFingerprint);
        }
        Ok(PinnedCertificate {
            fingerprint: fingerprint.to_ascii_lowercase(),
            algorithms: provider.signature_verification_algorithms,
        })
    }
}

impl ServerCertVerifier for PinnedCertificate {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let actual = fingerprint_of(end_entity.as_ref());
        if actual == self.fingerprint {
            Ok(ServerCertVerified::assertion())
        } else {
            tracing::warn!(expected = %self.fingerprint, actual = %actual, "server certificate does not match the pin");
            Err(rustls::Error::InvalidCertificate(rustls::CertificateError::ApplicationVerificationFailure))
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_malformed_pin_is_refused_before_any_connection() {
        assert!(matches!(client_config(Some("abc")), Err(TlsError::BadFingerprint)));
        assert!(client_config(Some(&"AB".repeat(32))).is_ok());
        assert!(client_config(None).is_ok());
    }

    #[test]
    fn the_verifier_accepts_only_the_pinned_der() {
        let provider = rustls::crypto::ring::default_provider();
        let der = CertificateDer::from(vec![1u8, 2, 3]);
        let pin = PinnedCertificate::new(&fingerprint_of(&[1, 2, 3]).to_uppercase(), &provider).unwrap();
        let name = ServerName::try_from("example.com").unwrap();
        assert!(pin.verify_server_cert(&der, &[], &name, &[], UnixTime::now()).is_ok());
        let other = CertificateDer::from(vec![1u8, 2, 4]);
        assert!(pin.verify_server_cert(&other, &[], &name, &[], UnixTime::now()).is_err());
    }
}
