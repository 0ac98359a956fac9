//! Pairing codes: single-use, ten minutes, stored as a hash; and the QR payload that carries one.

use chrono::NaiveDateTime;
use relay_protocol::pairing::PairingPayload;

use super::queries;
use crate::error::ApiError;
use crate::secrets;
use crate::state::AppState;

/// A fresh code: shown once, stored only as a hash.
#[derive(Debug)]
pub struct Offer {
    pub code: String,
    pub qr_payload: String,
    pub expires_at: NaiveDateTime,
}

/// `XXXX-XXXX` in readable base32: 40 bits, far beyond guessing within the rate limit.
pub fn new_code() -> String {
    let raw = secrets::random_readable(8);
    format!("{}-{}", &raw[..4], &raw[4..])
}

/// Normalises what a person typed: case, spaces and dashes do not matter.
pub fn code_hash(typed: &str) -> String {
    let canonical: String =
        typed.chars().filter(|c| c.is_ascii_alphanumeric()).map(|c| c.to_ascii_uppercase()).collect();
    secrets::sha256_hex(&canonical)
}

pub async fn offer(state: &AppState, account_id: &str) -> Result<Offer, ApiError> {
    let code = new_code();
    let hash = code_hash(&code);
    let account_id = account_id.to_owned();
    let expires_at = state
        .db
        .run(move |conn| queries::create_pairing_code(conn, &account_id, &hash).map_err(ApiError::from))
        .await?;
    let payload = PairingPayload {
        server_url: state.public_url.to_string(),
        code: code.clone(),
        fingerprint: state.tls_fingerprint.as_deref().map(str::to_owned),
    };
    Ok(Offer { code, qr_payload: payload.to_uri(), expires_at })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn typed_codes_match_whatever_the_case_and_dashes() {
        assert_eq!(code_hash("k7d2-9qxm"), code_hash("K7D2 9QXM"));
        assert_ne!(code_hash("K7D2-9QXM"), code_hash("K7D2-9QXN"));
        assert_eq!(new_code().len(), 9);
    }
}
