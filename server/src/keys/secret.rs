//! API key material: `rk_live_` followed by 32 random base62 characters (about 190 bits).
//!
//! Keys are random and long, so a fast hash (SHA-256) is enough to make the stored value
//! useless to a thief; a slow password hash would only slow down every API call.

use crate::secrets;

pub const KEY_PREFIX: &str = "rk_live_";
const RANDOM_LEN: usize = 32;
/// How much of a key is kept in clear so a person can tell keys apart.
const VISIBLE_LEN: usize = KEY_PREFIX.len() + 4;

/// A freshly made key: the full secret (shown once) and what is stored.
#[derive(Debug)]
pub struct NewSecret {
    pub secret: String,
    pub hash: String,
    pub visible_prefix: String,
}

pub fn generate() -> NewSecret {
    let secret = format!("{KEY_PREFIX}{}", secrets::random_alnum(RANDOM_LEN));
    NewSecret { hash: hash(&secret), visible_prefix: secret[..VISIBLE_LEN].to_owned(), secret }
}

pub fn hash(secret: &str) -> String {
    secrets::sha256_hex(secret)
}

/// Cheap shape check before any database look-up.
pub fn looks_like_key(candidate: &str) -> bool {
    candidate.len() == KEY_PREFIX.len() + RANDOM_LEN
        && candidate.starts_with(KEY_PREFIX)
        && candidate[KEY_PREFIX.len()..].bytes().all(|b| b.is_ascii_alphanumeric())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_keys_have_the_documented_shape() {
        let k = generate();
        assert!(looks_like_key(&k.secret), "{}", k.secret);
        assert!(k.secret.starts_with(&k.visible_prefix));
        assert_eq!(k.hash, hash(&k.secret));
        assert_ne!(k.secret, generate().secret);
    }

    #[test]
    fn the_hash_does_not_contain_the_secret() {
        let k = generate();
        assert!(!k.hash.contains(&k.secret[KEY_PREFIX.len()..]));
        assert_eq!(k.hash.len(), 64);
    }

    #[test]
    fn malformed_candidates_are_rejected_early() {
        assert!(!looks_like_key("rk_live_short"));
        assert!(!looks_like_key("sk_live_0123456789abcdefghijklmnopqrstuv"));
        assert!(!looks_like_key("rk_live_0123456789abcdefghijklmnopqrst!v"));
    }
}
