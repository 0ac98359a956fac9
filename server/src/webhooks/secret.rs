//! Signing secrets and the key they are stored under.
//!
//! A signing secret must be recoverable (every delivery is signed with it), so it cannot be
//! hashed: it is encrypted with ChaCha20-Poly1305 under the server's webhook key, with the
//! endpoint's id as associated data (a ciphertext copied to another row does not decrypt).
//! The key never enters the database: it comes from `--webhook-key` / `RELAY_WEBHOOK_KEY`, or is
//! generated on first start into `<data-dir>/webhook-key` (mode 0600). Several server
//! instances on one PostgreSQL database must be given the same key.

use std::path::Path;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{ChaCha20Poly1305, Key, Nonce};
use rand::Rng;
use sha2::{Digest, Sha256};

pub const KEY_FILE: &str = "webhook-key";
/// Shortest key accepted from configuration.
pub const MIN_KEY_LEN: usize = 32;
/// Standard Webhooks secrets: `whsec_` and the base64 of the HMAC key.
pub const SECRET_PREFIX: &str = "whsec_";

#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("the webhook key must be at least {MIN_KEY_LEN} characters long (from {0})")]
    TooShort(String),
    #[error(transparent)]
    File(#[from] crate::secrets::SecretFileError),
    #[error("a stored webhook secret cannot be decrypted: the webhook key changed, or the row was altered")]
    Decrypt,
}

/// The 256-bit key signing secrets are encrypted under. Its Debug output never shows it.
#[derive(Clone)]
pub struct WebhookKey(Key);

impl std::fmt::Debug for WebhookKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("WebhookKey(…)")
    }
}

impl WebhookKey {
    /// A key given by configuration (any text of 32+ characters; its SHA-256 is the key).
    pub fn from_config(value: &str) -> Result<Self, KeyError> {
        let value = value.trim();
        if value.len() < MIN_KEY_LEN {
            return Err(KeyError::TooShort("--webhook-key / RELAY_WEBHOOK_KEY".into()));
        }
        Ok(Self::derive(value))
    }

    /// `<data_dir>/webhook-key`, created with 32 random bytes (hex) and mode 0600 if missing.
    pub fn load_or_create(data_dir: &Path) -> Result<Self, KeyError> {
        let text = crate::secrets::load_or_create_file(data_dir, KEY_FILE)?;
        if text.len() < MIN_KEY_LEN {
            return Err(KeyError::TooShort(data_dir.join(KEY_FILE).display().to_string()));
        }
        Ok(Self::derive(&text))
    }

    /// A fresh key that lives only in memory (stored secrets do not survive a restart).
    pub fn ephemeral() -> Self {
        let mut bytes = [0u8; 32];
        rand::rng().fill(&mut bytes);
        WebhookKey(Key::from(bytes))
    }

    fn derive(text: &str) -> Self {
        WebhookKey(Key::from(<[u8; 32]>::from(Sha256::digest(text.as_bytes()))))
    }

    /// base64(nonce ‖ ciphertext) of `secret`, bound to `endpoint_id`.
    pub fn encrypt(&self, endpoint_id: &str, secret: &str) -> String {
        let mut nonce = [0u8; 12];
        rand::rng().fill(&mut nonce);
        let cipher = ChaCha20Poly1305::new(&self.0);
        let payload = Payload { msg: secret.as_bytes(), aad: endpoint_id.as_bytes() };
        // Encryption of an in-memory buffer cannot fail (only absurd lengths would).
        let sealed = cipher.encrypt(Nonce::from_slice(&nonce), payload).unwrap_or_default();
        let mut out = nonce.to_vec();
        out.extend_from_slice(&sealed);
        BASE64.encode(out)
    }

    pub fn decrypt(&self, endpoint_id: &str, stored: &str) -> Result<String, KeyError> {
        let raw = BASE64.decode(stored).map_err(|_| KeyError::Decrypt)?;
        if raw.len() < 12 {
            return Err(KeyError::Decrypt);
        }
        let (nonce, sealed) = raw.split_at(12);
        let cipher = ChaCha20Poly1305::new(&self.0);
        let plain = cipher
            .decrypt(Nonce::from_slice(nonce), Payload { msg: sealed, aad: endpoint_id.as_bytes() })
            .map_err(|_| KeyError::Decrypt)?;
        String::from_utf8(plain).map_err(|_| KeyError::Decrypt)
    }
}

/// A new signing secret: `whsec_` and 32 random bytes in base64 (the Standard Webhooks form).
pub fn new_signing_secret() -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill(&mut bytes);
    format!("{SECRET_PREFIX}{}", BASE64.encode(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_round_trip_only_with_their_key_and_row() {
        let key = WebhookKey::from_config("0123456789abcdef0123456789abcdef").unwrap();
        let secret = new_signing_secret();
        assert!(secret.starts_with("whsec_"));
        let stored = key.encrypt("whk_1", &secret);
        assert!(!stored.contains(&secret[6..]));
        assert_eq!(key.decrypt("whk_1", &stored).unwrap(), secret);
        assert!(key.decrypt("whk_2", &stored).is_err(), "bound to its endpoint");
        assert!(WebhookKey::ephemeral().decrypt("whk_1", &stored).is_err(), "bound to its key");
        assert!(key.decrypt("whk_1", "bm90IGEgY2lwaGVydGV4dA==").is_err());
        assert_ne!(key.encrypt("whk_1", &secret), stored, "a fresh nonce each time");
        assert!(!format!("{key:?}").contains("0123"));
    }

    #[test]
    fn the_key_file_is_created_once_private_and_reused() {
        let dir = tempfile::tempdir().unwrap();
        let a = WebhookKey::load_or_create(dir.path()).unwrap();
        let b = WebhookKey::load_or_create(dir.path()).unwrap();
        let stored = a.encrypt("whk_1", "whsec_x");
        assert_eq!(b.decrypt("whk_1", &stored).unwrap(), "whsec_x");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(dir.path().join(KEY_FILE)).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        assert!(WebhookKey::from_config("short").is_err());
    }
}
