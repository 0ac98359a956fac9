//! TLS for `relay-server serve`: either the operator's certificate and key, or a self-signed
//! certificate generated once and kept in the data directory.
//!
//! Phones pin the certificate's SHA-256 fingerprint at pairing time (there is usually no public
//! CA for a self-hosted gateway on a LAN), so the self-signed certificate must survive restarts.

use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::pki_types::pem::{self, PemObject};
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use sha2::{Digest, Sha256};

/// A ready server configuration and the fingerprint phones pin.
#[derive(Debug, Clone)]
pub struct TlsSetup {
    pub config: rustls::ServerConfig,
    /// Lowercase hex SHA-256 of the end-entity certificate's DER (64 characters).
    pub fingerprint: String,
}

/// Why TLS couldn't be set up. Every message names the file at fault.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("could not read {}: {source}", path.display())]
    Read { path: PathBuf, source: io::Error },
    #[error("{} is not valid PEM: {source}", path.display())]
    Pem { path: PathBuf, source: pem::Error },
    #[error("{} contains no certificate (expected a -----BEGIN CERTIFICATE----- block)", path.display())]
    NoCertificate { path: PathBuf },
    #[error(
        "{} contains no private key (expected a PKCS#8, RSA or SEC1 -----BEGIN … PRIVATE KEY----- block)",
        path.display()
    )]
    NoPrivateKey { path: PathBuf },
    #[error("the certificate in {} and the key in {} can't be used together: {source}", cert.display(), key.display())]
    Rejected { cert: PathBuf, key: PathBuf, source: rustls::Error },
    #[error(
        "{} exists but {} is missing; restore the key, or delete {} to generate a new certificate \
         (phones paired with the old fingerprint must then be paired again)",
        cert.display(), key.display(), cert.display()
    )]
    KeyMissing { cert: PathBuf, key: PathBuf },
    #[error("could not generate a self-signed certificate for {}: {source}", path.display())]
    Generate { path: PathBuf, source: rcgen::Error },
    #[error("could not write {}: {source}", path.display())]
    Write { path: PathBuf, source: io::Error },
}

/// Only HTTP/1.1 is offered: the phones' WebSocket upgrade is an HTTP/1.1 mechanism, and a
/// client that negotiated h2 would have its upgrade refused.
const ALPN_HTTP11: &[u8] = b"http/1.1";

/// Loads a PEM certificate chain (end-entity certificate first) and a PEM private key
/// (PKCS#8, PKCS#1/RSA or SEC1/EC).
pub fn load(cert_pem: &Path, key_pem: &Path) -> Result<TlsSetup, TlsError> {
    let chain = read_chain(cert_pem)?;
    let Some(end_entity) = chain.first() else {
        return Err(TlsError::NoCertificate { path: cert_pem.to_owned() });
    };
    let fingerprint = fingerprint(end_entity);
    let key = read_key(key_pem)?;
    let config = server_config(chain, key).map_err(|source| TlsError::Rejected {
        cert: cert_pem.to_owned(),
        key: key_pem.to_owned(),
        source,
    })?;
    Ok(TlsSetup { config, fingerprint })
}

/// Uses `data_dir/tls/cert.pem` and `key.pem`, generating a self-signed pair for `hostnames`
/// (plus "localhost" and 127.0.0.1) the first time.
///
/// Once generated the pair is reused as is, even if `hostnames` changes, because phones have
/// pinned its fingerprint; delete `cert.pem` to get a new one.
pub fn self_signed(data_dir: &Path, hostnames: &[String]) -> Result<TlsSetup, TlsError> {
    let (dir, cert_path, key_path) = self_signed_paths(data_dir);
    // cert.pem is written last, so its presence means the pair is complete.
    if !cert_path.exists() {
        generate(&dir, &cert_path, &key_path, hostnames)?;
    } else if !key_path.exists() {
        return Err(TlsError::KeyMissing { cert: cert_path, key: key_path });
    }
    load(&cert_path, &key_path)
}

/// The fingerprint of the self-signed certificate a server keeps in `data_dir`, if there is one
/// (for `relay-server pair`, which runs beside the server).
pub fn self_signed_fingerprint(data_dir: &Path) -> Option<String> {
    let (_, cert_path, key_path) = self_signed_paths(data_dir);
    cert_path.exists().then(|| load(&cert_path, &key_path).ok()).flatten().map(|t| t.fingerprint)
}

fn self_signed_paths(data_dir: &Path) -> (PathBuf, PathBuf, PathBuf) {
    let dir = data_dir.join("tls");
    let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
    (dir, cert, key)
}

fn generate(dir: &Path, cert_path: &Path, key_path: &Path, hostnames: &[String]) -> Result<(), TlsError> {
    let generated = rcgen::generate_simple_self_signed(subject_alt_names(hostnames))
        .map_err(|source| TlsError::Generate { path: cert_path.to_owned(), source })?;
    fs::create_dir_all(dir).map_err(|source| TlsError::Write { path: dir.to_owned(), source })?;
    // The key goes first and the certificate last: a crash in between leaves no cert.pem, and
    // the next start simply generates again.
    write_atomically(key_path, generated.signing_key.serialize_pem().as_bytes(), true)?;
    write_atomically(cert_path, generated.cert.pem().as_bytes(), false)
}

/// The names the certificate is valid for: the caller's, then localhost and 127.0.0.1, each
/// once. IP addresses become IP SANs (rcgen decides by parsing).
fn subject_alt_names(hostnames: &[String]) -> Vec<String> {
    let mut names: Vec<String> = Vec::new();
    let wanted = hostnames.iter().map(|h| h.trim()).chain(["localhost", "127.0.0.1"]);
    for name in wanted {
        if !name.is_empty() && !names.iter().any(|n| n.eq_ignore_ascii_case(name)) {
            names.push(name.to_owned());
        }
    }
    names
}

/// Writes via a temporary file and a rename so a reader never sees half a file. A private file
/// is created with mode 0600 from the start, so the key is never readable by others, not even
/// briefly.
fn write_atomically(path: &Path, contents: &[u8], private: bool) -> Result<(), TlsError> {
    let tmp = path.with_extension("pem.tmp");
    let result = write_new(&tmp, contents, private).and_then(|()| fs::rename(&tmp, path));
    result.map_err(|source| {
        let _ = fs::remove_file(&tmp);
        TlsError::Write { path: path.to_owned(), source }
    })
}

fn write_new(path: &Path, contents: &[u8], private: bool) -> io::Result<()> {
    let mut options = fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(if private { 0o600 } else { 0o644 });
    }
    #[cfg(not(unix))]
    let _ = private;
    let mut file = options.open(path)?;
    file.write_all(contents)?;
    file.sync_all()
}

fn read(path: &Path) -> Result<Vec<u8>, TlsError> {
    fs::read(path).map_err(|source| TlsError::Read { path: path.to_owned(), source })
}

fn read_chain(path: &Path) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let bytes = read(path)?;
    CertificateDer::pem_slice_iter(&bytes)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|source| TlsError::Pem { path: path.to_owned(), source })
}

fn read_key(path: &Path) -> Result<PrivateKeyDer<'static>, TlsError> {
    let bytes = read(path)?;
    PrivateKeyDer::from_pem_slice(&bytes).map_err(|source| match source {
        pem::Error::NoItemsFound => TlsError::NoPrivateKey { path: path.to_owned() },
        source => TlsError::Pem { path: path.to_owned(), source },
    })
}

fn fingerprint(cert: &CertificateDer<'_>) -> String {
    hex::encode(Sha256::digest(cert.as_ref()))
}

fn server_config(
    chain: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
) -> Result<rustls::ServerConfig, rustls::Error> {
    // The provider is named explicitly: with more than one provider compiled into the binary
    // (a dependency may enable aws-lc-rs), rustls can't pick a process default on its own.
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_no_client_auth()
        .with_single_cert(chain, key)?;
    config.alpn_protocols = vec![ALPN_HTTP11.to_vec()];
    Ok(config)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hostnames() -> Vec<String> {
        vec!["relay.lan".to_owned(), "192.168.1.20".to_owned()]
    }

    #[test]
    fn self_signed_is_generated_once_and_reused() {
        let dir = tempfile::tempdir().unwrap();
        let first = self_signed(dir.path(), &hostnames()).unwrap();
        assert!(dir.path().join("tls/cert.pem").is_file());
        assert!(dir.path().join("tls/key.pem").is_file());
        let second = self_signed(dir.path(), &hostnames()).unwrap();
        assert_eq!(first.fingerprint, second.fingerprint);
        // Different hostnames on a later start still reuse the pinned certificate.
        let third = self_signed(dir.path(), &["other.lan".to_owned()]).unwrap();
        assert_eq!(first.fingerprint, third.fingerprint);
        assert!(!dir.path().join("tls/cert.pem.tmp").exists());
    }

    #[test]
    fn load_of_generated_files_gives_the_same_fingerprint() {
        let dir = tempfile::tempdir().unwrap();
        let generated = self_signed(dir.path(), &[]).unwrap();
        let loaded = load(&dir.path().join("tls/cert.pem"), &dir.path().join("tls/key.pem")).unwrap();
        assert_eq!(generated.fingerprint, loaded.fingerprint);
    }

    #[test]
    fn fingerprint_is_64_lowercase_hex_chars() {
        let dir = tempfile::tempdir().unwrap();
        let setup = self_signed(dir.path(), &hostnames()).unwrap();
        assert_eq!(setup.fingerprint.len(), 64);
        assert!(setup.fingerprint.chars().all(|c| matches!(c, '0'..='9' | 'a'..='f')), "{}", setup.fingerprint);
    }

    #[test]
    fn fingerprint_is_sha256_of_the_certificate_der() {
        let dir = tempfile::tempdir().unwrap();
        let setup = self_signed(dir.path(), &[]).unwrap();
        let pem = fs::read(dir.path().join("tls/cert.pem")).unwrap();
        let der = CertificateDer::from_pem_slice(&pem).unwrap();
        assert_eq!(setup.fingerprint, hex::encode(Sha256::digest(der.as_ref())));
    }

    /// Runs a TLS handshake in memory between `server` and a client that trusts `cert_pem` and
    /// presents no certificate; returns the negotiated ALPN protocol.
    fn handshake(server: rustls::ServerConfig, cert_pem: &Path, name: &str) -> Option<Vec<u8>> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut roots = rustls::RootCertStore::empty();
        roots.add(CertificateDer::from_pem_file(cert_pem).unwrap()).unwrap();
        let mut client_config = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_root_certificates(roots)
            .with_no_client_auth();
        client_config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
        let server_name = rustls::pki_types::ServerName::try_from(name.to_owned()).unwrap();
        let mut client = rustls::ClientConnection::new(Arc::new(client_config), server_name).unwrap();
        let mut server = rustls::ServerConnection::new(Arc::new(server)).unwrap();
        while client.is_handshaking() || server.is_handshaking() {
            let mut buf = Vec::new();
            client.write_tls(&mut buf).unwrap();
            server.read_tls(&mut buf.as_slice()).unwrap();
            server.process_new_packets().unwrap();
            buf.clear();
            server.write_tls(&mut buf).unwrap();
            client.read_tls(&mut buf.as_slice()).unwrap();
            client.process_new_packets().unwrap();
        }
        server.alpn_protocol().map(<[u8]>::to_vec)
    }

    #[test]
    fn client_without_certificate_connects_and_gets_http11() {
        let dir = tempfile::tempdir().unwrap();
        let cert = dir.path().join("tls/cert.pem");
        let setup = self_signed(dir.path(), &hostnames()).unwrap();
        assert_eq!(setup.config.alpn_protocols, vec![b"http/1.1".to_vec()]);
        assert_eq!(handshake(setup.config, &cert, "localhost"), Some(b"http/1.1".to_vec()));
        for name in ["relay.lan", "192.168.1.20", "127.0.0.1"] {
            let setup = self_signed(dir.path(), &hostnames()).unwrap();
            assert!(handshake(setup.config, &cert, name).is_some(), "{name}");
        }
    }

    #[test]
    fn certificate_names_always_include_localhost() {
        let names = subject_alt_names(&["relay.lan".into(), " LOCALHOST ".into(), "".into()]);
        assert_eq!(names, vec!["relay.lan", "LOCALHOST", "127.0.0.1"]);
    }

    #[cfg(unix)]
    #[test]
    fn key_file_is_private() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        self_signed(dir.path(), &[]).unwrap();
        let mode = fs::metadata(dir.path().join("tls/key.pem")).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }

    #[test]
    fn missing_key_next_to_existing_cert_is_refused_not_regenerated() {
        let dir = tempfile::tempdir().unwrap();
        self_signed(dir.path(), &[]).unwrap();
        fs::remove_file(dir.path().join("tls/key.pem")).unwrap();
        let err = self_signed(dir.path(), &[]).unwrap_err();
        assert!(matches!(err, TlsError::KeyMissing { .. }), "{err}");
        assert!(err.to_string().contains("key.pem is missing"), "{err}");
    }

    #[test]
    fn missing_file_names_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("nope.pem");
        let err = load(&missing, &missing).unwrap_err();
        assert!(matches!(&err, TlsError::Read { path, .. } if path == &missing), "{err}");
        assert!(err.to_string().contains("nope.pem"), "{err}");
    }

    #[test]
    fn garbage_pem_is_reported_per_file() {
        let dir = tempfile::tempdir().unwrap();
        self_signed(dir.path(), &[]).unwrap();
        let cert = dir.path().join("tls/cert.pem");
        let key = dir.path().join("tls/key.pem");
        let garbage = dir.path().join("garbage.pem");
        fs::write(&garbage, "this is not a certificate\n").unwrap();

        let err = load(&garbage, &key).unwrap_err();
        assert!(matches!(&err, TlsError::NoCertificate { path } if path == &garbage), "{err}");
        assert!(err.to_string().contains("garbage.pem"), "{err}");

        let err = load(&cert, &garbage).unwrap_err();
        assert!(matches!(&err, TlsError::NoPrivateKey { path } if path == &garbage), "{err}");

        let truncated = dir.path().join("truncated.pem");
        fs::write(&truncated, "-----BEGIN CERTIFICATE-----\nMIIB\n").unwrap();
        let err = load(&truncated, &key).unwrap_err();
        assert!(matches!(&err, TlsError::Pem { path, .. } if path == &truncated), "{err}");
    }

    #[test]
    fn key_that_does_not_match_the_certificate_is_rejected() {
        let a = tempfile::tempdir().unwrap();
        let b = tempfile::tempdir().unwrap();
        self_signed(a.path(), &[]).unwrap();
        self_signed(b.path(), &[]).unwrap();
        let err = load(&a.path().join("tls/cert.pem"), &b.path().join("tls/key.pem")).unwrap_err();
        assert!(matches!(err, TlsError::Rejected { .. }), "{err}");
    }
}
