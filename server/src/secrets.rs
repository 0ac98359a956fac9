//! Random credentials and their stored form. Every credential Relay issues (API keys, device
//! tokens, pairing codes) is random and high-entropy, so a SHA-256 of it is a safe stored form
//! and a cheap one to check on every request.

use std::io::Write;
use std::path::{Path, PathBuf};

use rand::Rng;
use rand::distr::{Alphanumeric, Uniform};
use sha2::{Digest, Sha256};

/// `len` random characters from A–Z, a–z, 0–9 (≈5.95 bits each), from the OS-seeded CSPRNG.
pub fn random_alnum(len: usize) -> String {
    rand::rng().sample_iter(&Alphanumeric).take(len).map(char::from).collect()
}

/// Crockford base32 without look-alikes (no I, L, O, U): easy to read aloud and to type.
const READABLE: &[u8] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";

/// `len` random characters a person can type from a screen without confusing 0/O or 1/I.
pub fn random_readable(len: usize) -> String {
    let mut rng = rand::rng();
    match Uniform::new(0, READABLE.len()) {
        Ok(pick) => (0..len).map(|_| char::from(READABLE[rng.sample(pick)])).collect(),
        Err(_) => random_alnum(len).to_ascii_uppercase(),
    }
}

pub fn sha256_hex(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

/// A server secret kept in a file of the data folder (the OTP key, the webhook key).
#[derive(Debug, thiserror::Error)]
#[error("cannot read or create the secret file {path}: {source}")]
pub struct SecretFileError {
    pub path: PathBuf,
    pub source: std::io::Error,
}

/// The trimmed text of `<dir>/<name>`; created first, with 32 random bytes in hex and mode
/// 0600, if it does not exist. Two processes starting at once end up with the same secret.
pub fn load_or_create_file(dir: &Path, name: &str) -> Result<String, SecretFileError> {
    let path = dir.join(name);
    let io = |source| SecretFileError { path: path.clone(), source };
    match std::fs::read_to_string(&path) {
        Ok(text) => {
            warn_if_readable_by_others(&path);
            Ok(text.trim().to_owned())
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            std::fs::create_dir_all(dir).map_err(io)?;
            let mut bytes = [0u8; 32];
            rand::rng().fill(&mut bytes);
            let secret = hex::encode(bytes);
            let mut options = std::fs::OpenOptions::new();
            options.write(true).create_new(true);
            #[cfg(unix)]
            std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
            match options.open(&path) {
                Ok(mut file) => {
                    file.write_all(secret.as_bytes()).and_then(|()| file.sync_all()).map_err(io)?;
                    tracing::info!(path = %path.display(), "generated a server secret");
                    Ok(secret)
                }
                // Another process created it a moment ago: use theirs.
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => load_or_create_file(dir, name),
                Err(e) => Err(io(e)),
            }
        }
        Err(e) => Err(io(e)),
    }
}

#[cfg(unix)]
fn warn_if_readable_by_others(path: &Path) {
    use std::os::unix::fs::PermissionsExt;
    if let Ok(meta) = std::fs::metadata(path)
        && meta.permissions().mode() & 0o077 != 0
    {
        tracing::warn!(path = %path.display(), "a secret file is readable by other users; chmod 600 it");
    }
}

#[cfg(not(unix))]
fn warn_if_readable_by_others(_: &Path) {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn readable_codes_avoid_look_alikes() {
        let code = random_readable(400);
        assert_eq!(code.len(), 400);
        assert!(!code.contains(['I', 'L', 'O', 'U']), "{code}");
        assert_ne!(random_readable(8), random_readable(8));
    }
}
