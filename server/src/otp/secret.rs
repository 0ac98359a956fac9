//! The OTP secret and the codes themselves.
//!
//! A code has 4 to 10 digits: far too few for a plain hash to protect it (anyone holding a
//! copy of the database would try all 10^6 in a moment). So only an HMAC-SHA256 keyed with a
//! server secret is stored, and that secret never enters the database: it comes from
//! `--otp-secret` / `RELAY_OTP_SECRET`, or is generated on first start into
//! `<data-dir>/otp-secret` (mode 0600). Several server instances on one PostgreSQL database
//! must be given the same secret.

use std::path::{Path, PathBuf};

use hmac::{Hmac, Mac};
use rand::Rng;
use sha2::Sha256;

type HmacSha256 = Hmac<Sha256>;

/// Shortest secret accepted from configuration.
pub const MIN_SECRET_LEN: usize = 32;
pub const SECRET_FILE: &str = "otp-secret";

#[derive(Debug, thiserror::Error)]
pub enum SecretError {
    #[error("the OTP secret must be at least {MIN_SECRET_LEN} characters long (from {0})")]
    TooShort(String),
    #[error("cannot read or create the OTP secret file {path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
}

/// The HMAC key. Its Debug output never shows it.
#[derive(Clone)]
pub struct OtpSecret(Vec<u8>);

impl std::fmt::Debug for OtpSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("OtpSecret(…)")
    }
}

impl OtpSecret {
    /// A secret given by configuration.
    pub fn from_config(value: &str) -> Result<Self, SecretError> {
        let value = value.trim();
        if value.len() < MIN_SECRET_LEN {
            return Err(SecretError::TooShort("--otp-secret / RELAY_OTP_SECRET".into()));
        }
        Ok(OtpSecret(value.as_bytes().to_vec()))
    }

    /// A fresh random secret that lives only in memory (codes do not survive a restart).
    pub fn ephemeral() -> Self {
        OtpSecret(random_hex(32).into_bytes())
    }

    /// `<data_dir>/otp-secret`, created with 32 random bytes (hex) and mode 0600 if missing.
    pub fn load_or_create(data_dir: &Path) -> Result<Self, SecretError> {
        let text = crate::secrets::load_or_create_file(data_dir, SECRET_FILE)
            .map_err(|e| SecretError::Io { path: e.path, source: e.source })?;
        if text.len() < MIN_SECRET_LEN {
            return Err(SecretError::TooShort(data_dir.join(SECRET_FILE).display().to_string()));
        }
        Ok(OtpSecret(text.into_bytes()))
    }

    fn mac(&self, otp_id: &str, code: &str) -> HmacSha256 {
        // HMAC takes keys of any length; this cannot fail.
        let mut mac = <HmacSha256 as Mac>::new_from_slice(&self.0).unwrap_or_else(|_| unreachable!());
        // Bound to the OTP's id: equal codes of two OTPs have unrelated hashes.
        mac.update(otp_id.as_bytes());
        mac.update(b":");
        mac.update(code.as_bytes());
        mac
    }

    /// The stored form of `code` for the OTP `otp_id`: hex HMAC-SHA256.
    pub fn hash(&self, otp_id: &str, code: &str) -> String {
        hex::encode(self.mac(otp_id, code).finalize().into_bytes())
    }

    /// Whether `code` is the one whose stored form is `stored_hex`, compared in constant time.
    pub fn matches(&self, otp_id: &str, code: &str, stored_hex: &str) -> bool {
        let Ok(stored) = hex::decode(stored_hex) else { return false };
        self.mac(otp_id, code).verify_slice(&stored).is_ok()
    }
}

fn random_hex(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    rand::rng().fill(buf.as_mut_slice());
    hex::encode(buf)
}

/// `len` random ASCII digits from the operating-system-seeded CSPRNG (leading zeros allowed).
pub fn generate_code(len: usize) -> String {
    let mut rng = rand::rng();
    (0..len).map(|_| char::from(b'0' + rng.random_range(0..10u8))).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_digits_of_the_asked_length_and_vary() {
        for len in 4..=10 {
            let code = generate_code(len);
            assert_eq!(code.len(), len);
            assert!(code.bytes().all(|b| b.is_ascii_digit()), "{code}");
        }
        let many: std::collections::HashSet<String> = (0..50).map(|_| generate_code(10)).collect();
        assert!(many.len() > 45);
        // Every digit turns up: no digit is left out by the sampling.
        let long: String = (0..200).map(|_| generate_code(10)).collect();
        for d in '0'..='9' {
            assert!(long.contains(d), "{d} never drawn");
        }
    }

    #[test]
    fn the_hash_matches_only_its_code_its_otp_and_its_secret() {
        let s = OtpSecret::from_config("0123456789abcdef0123456789abcdef").unwrap();
        let h = s.hash("otp_1", "482913");
        assert_eq!(h.len(), 64);
        assert!(s.matches("otp_1", "482913", &h));
        assert!(!s.matches("otp_1", "482914", &h));
        assert!(!s.matches("otp_2", "482913", &h));
        assert!(!OtpSecret::ephemeral().matches("otp_1", "482913", &h));
        assert!(!s.matches("otp_1", "482913", "not hex"));
        assert!(!format!("{s:?}").contains("0123"));
    }

    #[test]
    fn short_configured_secrets_are_refused() {
        assert!(OtpSecret::from_config("short").is_err());
    }

    #[test]
    fn the_secret_file_is_created_once_private_and_reused() {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        let a = OtpSecret::load_or_create(&data).unwrap();
        let b = OtpSecret::load_or_create(&data).unwrap();
        assert_eq!(a.hash("otp_1", "1234"), b.hash("otp_1", "1234"));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(data.join(SECRET_FILE)).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }
}
