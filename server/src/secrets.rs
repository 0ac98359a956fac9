//! Random credentials and their stored form. Every credential Relay issues (API keys, device
//! tokens, pairing codes) is random and high-entropy, so a SHA-256 of it is a safe stored form
//! and a cheap one to check on every request.

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
