use actix_web::{HttpResponse, delete, get, post, web};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::models::KeyView;
use super::queries;
use crate::auth::Caller;
use crate::error::ApiError;
use crate::http::json::ApiJson;
use crate::state::AppState;
use crate::time::Timestamp;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateKey {
    /// A label to tell keys apart, e.g. `billing-service`.
    #[schema(example = "billing-service")]
    pub name: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CreatedKeyResponse {
    pub ok: bool,
    pub id: String,
    pub name: String,
    pub prefix: String,
    /// The whole key. Shown this once: only its hash is stored.
    #[schema(example = "rk_live_a1B2c3D4e5F6g7H8i9J0k1L2m3N4o5P6")]
    pub key: String,
    pub created_at: Timestamp,
}

/// Creates another API key for the calling account.
#[utoipa::path(
    tag = "keys",
    security(("bearer" = []), ("api_key" = [])),
    request_body = CreateKey,
    responses((status = 201, description = "The new key, shown once.", body = CreatedKeyResponse))
)]
#[post("/v1/keys")]
pub async fn create_key(
    caller: Caller,
    state: web::Data<AppState>,
    body: ApiJson<CreateKey>,
) -> Result<HttpResponse, ApiError> {
    let key = create(&state, &caller.account.id, body.into_inner().name).await?;
    Ok(HttpResponse::Created().json(CreatedKeyResponse {
        ok: true,
        id: key.id,
        name: key.name,
        prefix: key.prefix,
        key: key.secret,
        created_at: key.created_at.into(),
    }))
}

/// Makes a key for the account (the API and the console); its secret exists only in the answer.
pub async fn create(
    state: &AppState,
    account_id: &str,
    name: Option<String>,
) -> Result<crate::keys::CreatedKey, ApiError> {
    let name = name.map(|n| n.trim().to_owned()).unwrap_or_else(|| "unnamed".into());
    if name.is_empty() || name.len() > 100 {
        return Err(ApiError::invalid("name", "Field `name` must be 1 to 100 characters."));
    }
    let account_id = account_id.to_owned();
    state.db.run(move |conn| queries::create(conn, &account_id, &name).map_err(ApiError::from)).await
}

#[derive(Debug, Serialize, ToSchema)]
pub struct KeyList {
    pub ok: bool,
    pub keys: Vec<KeyView>,
}

/// Lists the calling account's keys, revoked ones included, never their secrets.
#[utoipa::path(
    tag = "keys",
    security(("bearer" = []), ("api_key" = [])),
    responses((status = 200, description = "The account's keys.", body = KeyList))
)]
#[get("/v1/keys")]
pub async fn list_keys(caller: Caller, state: web::Data<AppState>) -> Result<web::Json<KeyList>, ApiError> {
    Ok(web::Json(KeyList { ok: true, keys: list(&state, &caller.account.id).await? }))
}

/// The account's keys, revoked ones included, never their secrets.
pub async fn list(state: &AppState, account_id: &str) -> Result<Vec<KeyView>, ApiError> {
    let account_id = account_id.to_owned();
    let keys = state.db.run(move |conn| queries::list(conn, &account_id).map_err(ApiError::from)).await?;
    Ok(keys
        .into_iter()
        .map(|mut k| {
            // A use noted in memory but not yet written is newer than the stored one.
            k.last_used_at = state.last_used.peek(&k.id).or(k.last_used_at);
            k.view()
        })
        .collect())
}

#[derive(Debug, Serialize, ToSchema)]
pub struct KeyResponse {
    pub ok: bool,
    #[serde(flatten)]
    pub key: KeyView,
}

/// Revokes a key of the calling account at once. Revoking the key making the call is allowed.
#[utoipa::path(
    tag = "keys",
    security(("bearer" = []), ("api_key" = [])),
    params(("key_id" = String, Path, description = "The key's id, `key_…`.")),
    responses((status = 200, description = "The revoked key.", body = KeyResponse))
)]
#[delete("/v1/keys/{key_id}")]
pub async fn revoke_key(
    caller: Caller,
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> Result<web::Json<KeyResponse>, ApiError> {
    Ok(web::Json(KeyResponse { ok: true, key: revoke(&state, &caller.account.id, path.into_inner()).await? }))
}

/// Revokes one of the account's keys at once; another account's id is a 404.
pub async fn revoke(state: &AppState, account_id: &str, key_id: String) -> Result<KeyView, ApiError> {
    let account_id = account_id.to_owned();
    let revoked = state
        .db
        .run(move |conn| queries::revoke(conn, &key_id, Some(&account_id)).map_err(ApiError::from))
        .await?
        .ok_or_else(|| ApiError::NotFound("This account has no API key with that id.".into()))?;
    Ok(revoked.view())
}
