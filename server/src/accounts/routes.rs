use actix_web::{get, patch, web};
use serde::{Deserialize, Deserializer, Serialize};
use utoipa::ToSchema;

use super::models::AccountView;
use super::queries::{self, AccountChanges, AccountError};
use crate::auth::Caller;
use crate::error::ApiError;
use crate::http::json::ApiJson;
use crate::state::AppState;

#[derive(Debug, Serialize, ToSchema)]
pub struct AccountResponse {
    pub ok: bool,
    #[serde(flatten)]
    pub account: AccountView,
}

/// The calling account: plan, subscription expiry and limits. Answers even after the
/// subscription has expired, so a customer can see why sending stopped.
#[utoipa::path(
    tag = "account",
    security(("bearer" = []), ("api_key" = [])),
    responses((status = 200, description = "The account.", body = AccountResponse))
)]
#[get("/v1/account")]
pub async fn get_account(caller: Caller) -> web::Json<AccountResponse> {
    web::Json(AccountResponse { ok: true, account: caller.account.view() })
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateAccount {
    /// A new display name.
    pub name: Option<String>,
    /// ISO 3166 alpha-2 region for numbers written without a country code; `null` clears it.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>, example = "PK")]
    pub default_region: Option<Option<String>>,
}

/// Tells "absent" (`None`) from "explicitly null" (`Some(None)`).
fn present<'de, D: Deserializer<'de>, T: Deserialize<'de>>(d: D) -> Result<Option<Option<T>>, D::Error> {
    Option::<T>::deserialize(d).map(Some)
}

impl UpdateAccount {
    fn into_changes(self) -> Result<AccountChanges, ApiError> {
        let name = match self.name {
            Some(n) if n.trim().is_empty() || n.len() > 200 => {
                return Err(ApiError::invalid("name", "Field `name` must be 1 to 200 characters."));
            }
            other => other.map(|n| n.trim().to_owned()),
        };
        let default_region = match self.default_region {
            Some(Some(r)) if r.len() != 2 || !r.bytes().all(|b| b.is_ascii_alphabetic()) => {
                return Err(ApiError::invalid(
                    "default_region",
                    "Field `default_region` must be a two-letter ISO 3166 region such as `PK` or `GB`.",
                ));
            }
            other => other.map(|r| r.map(|r| r.to_ascii_uppercase())),
        };
        Ok(AccountChanges { name, default_region, updated_at: None })
    }
}

/// Changes the account's name or default region.
#[utoipa::path(
    tag = "account",
    security(("bearer" = []), ("api_key" = [])),
    request_body = UpdateAccount,
    responses((status = 200, description = "The updated account.", body = AccountResponse))
)]
#[patch("/v1/account")]
pub async fn update_account(
    caller: Caller,
    state: web::Data<AppState>,
    body: ApiJson<UpdateAccount>,
) -> Result<web::Json<AccountResponse>, ApiError> {
    let changes = body.into_inner().into_changes()?;
    let id = caller.account.id;
    let account = state
        .db
        .run(move |conn| {
            queries::update(conn, &id, changes).map_err(|e| match e {
                AccountError::Db(e) => ApiError::from(e),
                other => ApiError::NotFound(other.to_string()),
            })
        })
        .await?;
    state.key_cache.forget_account(&account.id);
    Ok(web::Json(AccountResponse { ok: true, account: account.view() }))
}
