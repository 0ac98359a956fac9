//! Pairing codes: single-use, ten minutes, stored as a hash; and the QR payload that carries one.

use chrono::NaiveDateTime;
use relay_protocol::pairing::PairingPayload;

use diesel::QueryResult;

use super::queries;
use crate::db::DbConnection;
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
fn new_code() -> String {
    let raw = secrets::random_readable(8);
    format!("{}-{}", &raw[..4], &raw[4..])
}

/// Normalises what a person typed: case, spaces and dashes do not matter.
pub fn code_hash(typed: &str) -> String {
    let canonical: String =
        typed.chars().filter(|c| c.is_ascii_alphanumeric()).map(|c| c.to_ascii_uppercase()).collect();
    secrets::sha256_hex(&canonical)
}

/// Stores a new code for the account and builds the QR payload that carries it. The one place
/// an offer is made: the API route, `relay-server pair` and the demo all come here.
pub fn create_offer(
    conn: &mut DbConnection,
    account_id: &str,
    server_url: &str,
    fingerprint: Option<String>,
) -> QueryResult<Offer> {
    let code = new_code();
    let expires_at = queries::create_pairing_code(conn, account_id, &code_hash(&code))?;
    let payload =
        PairingPayload { server_url: server_url.trim_end_matches('/').to_owned(), code: code.clone(), fingerprint };
    Ok(Offer { code, qr_payload: payload.to_uri(), expires_at })
}

pub async fn offer(state: &AppState, account_id: &str) -> Result<Offer, ApiError> {
    let account_id = account_id.to_owned();
    let server_url = state.public_url.to_string();
    let fingerprint = state.tls_fingerprint.as_deref().map(str::to_owned);
    state.db.run(move |conn| create_offer(conn, &account_id, &server_url, fingerprint).map_err(ApiError::from)).await
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
