use actix_web::{HttpResponse, delete, get, patch, post, web};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::models::{Recipient, RecipientView};
use super::queries::{self, Filter};
use super::search::{self, Query};
use crate::accounts::Account;
use crate::auth::Caller;
use crate::db::{DbConnection, is_unique_violation};
use crate::error::ApiError;
use crate::http::json::ApiJson;
use crate::ids::{IdKind, new_id};
use crate::messages::text;
use crate::state::AppState;
use crate::time;

const MAX_NAME: usize = 200;
const MAX_TAGS: usize = 20;
const MAX_TAG: usize = 50;
const MAX_METADATA: usize = 4096;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateRecipient {
    #[schema(example = "محمد علی")]
    pub name: String,
    /// E.164, or a local number when the account has a `default_region`.
    #[schema(example = "0300 1234567")]
    pub phone: String,
    /// Up to 20 tags of up to 50 characters, stored lowercase; no `|`, `;` or `,`.
    #[schema(example = json!(["lahore", "vip"]))]
    pub tags: Option<Vec<String>>,
    /// The recipient's language, e.g. `ur`, `en`, `ar`.
    #[schema(example = "ur")]
    pub locale: Option<String>,
    /// Your own JSON object (up to 4 KB).
    #[schema(value_type = Option<Object>)]
    pub metadata: Option<serde_json::Value>,
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateRecipient {
    pub name: Option<String>,
    pub phone: Option<String>,
    /// Replaces the tags.
    pub tags: Option<Vec<String>>,
    /// An empty string clears it.
    pub locale: Option<String>,
    /// Replaces the metadata; `{}` clears it.
    #[schema(value_type = Option<Object>)]
    pub metadata: Option<serde_json::Value>,
    /// `true` marks the recipient opted out (sets `opted_out_at`): sends to the number are
    /// refused with `recipient_opted_out`, except OTP codes. `false` opts back in.
    pub opted_out: Option<bool>,
}

pub fn check_name(name: &str) -> Result<String, String> {
    let name = name.trim();
    if name.is_empty() {
        return Err("the name is empty".into());
    }
    if name.chars().count() > MAX_NAME {
        return Err(format!("the name is longer than {MAX_NAME} characters"));
    }
    Ok(name.to_owned())
}

/// Tags trimmed, lowercased, deduplicated, in the order given.
pub fn check_tags(tags: &[String]) -> Result<Vec<String>, String> {
    let mut out: Vec<String> = Vec::new();
    for tag in tags {
        let tag = tag.trim().to_lowercase();
        if tag.is_empty() {
            continue;
        }
        if tag.chars().count() > MAX_TAG {
            return Err(format!("the tag `{tag}` is longer than {MAX_TAG} characters"));
        }
        if let Some(c) = tag.chars().find(|c| matches!(c, '|' | ';' | ',') || c.is_control()) {
            return Err(format!("the tag `{tag}` contains `{c}`, which tags cannot hold"));
        }
        if !out.contains(&tag) {
            out.push(tag);
        }
    }
    if out.len() > MAX_TAGS {
        return Err(format!("there are more than {MAX_TAGS} tags"));
    }
    Ok(out)
}

/// A language tag such as `ur`, `en-GB` or `zh_Hant`; empty means none.
pub fn check_locale(locale: &str) -> Result<Option<String>, String> {
    let locale = locale.trim();
    if locale.is_empty() {
        return Ok(None);
    }
    let ok = locale.len() <= 35 && locale.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if !ok {
        return Err(format!("`{locale}` is not a language tag such as ur, en or en-GB"));
    }
    Ok(Some(locale.replace('_', "-")))
}

fn check_metadata(v: &serde_json::Value) -> Result<Option<String>, ApiError> {
    match v {
        serde_json::Value::Object(map) if map.is_empty() => Ok(None),
        serde_json::Value::Object(_) => {
            let text = v.to_string();
            if text.len() > MAX_METADATA {
                return Err(ApiError::invalid("metadata", "Field `metadata` is larger than 4 KB."));
            }
            Ok(Some(text))
        }
        _ => Err(ApiError::invalid("metadata", "Field `metadata` must be a JSON object.")),
    }
}

pub fn tag_fields(tags: &[String]) -> (String, String) {
    let json = serde_json::to_string(tags).unwrap_or_else(|_| "[]".into());
    let mut key = String::from("|");
    for t in tags {
        key.push_str(t);
        key.push('|');
    }
    (json, key)
}

fn number(account: &Account, phone: &str) -> Result<String, ApiError> {
    text::normalize_number(phone, account.default_region.as_deref())
        .map_err(|e| ApiError::invalid("phone", e.to_string()))
}

fn build(account: &Account, req: &CreateRecipient) -> Result<Recipient, ApiError> {
    let name = check_name(&req.name).map_err(|e| ApiError::invalid("name", format!("Field `name`: {e}.")))?;
    let phone = number(account, &req.phone)?;
    let tags = check_tags(req.tags.as_deref().unwrap_or_default())
        .map_err(|e| ApiError::invalid("tags", format!("Field `tags`: {e}.")))?;
    let locale = check_locale(req.locale.as_deref().unwrap_or_default())
        .map_err(|e| ApiError::invalid("locale", format!("Field `locale`: {e}.")))?;
    let metadata = req.metadata.as_ref().map(check_metadata).transpose()?.flatten();
    let (tags, tag_key) = tag_fields(&tags);
    let now = time::now();
    Ok(Recipient {
        id: new_id(IdKind::Recipient),
        account_id: account.id.clone(),
        search_key: search::fold(&name),
        name,
        phone_rev: search::reversed_digits(&phone),
        phone,
        tags,
        tag_key,
        locale,
        metadata,
        opted_out_at: None,
        created_at: now,
        updated_at: now,
    })
}

fn duplicate(phone: &str, id: &str) -> ApiError {
    ApiError::Conflict(format!("This account already has a recipient with the number {phone}: {id}."))
}

fn not_found() -> ApiError {
    ApiError::NotFound("This account has no recipient with that id.".into())
}

/// Stores `r`, or answers `conflict` naming the recipient that already has its number.
fn store_new(conn: &mut DbConnection, r: &Recipient) -> Result<(), ApiError> {
    if let Some(id) = queries::id_by_phone(conn, &r.account_id, &r.phone)? {
        return Err(duplicate(&r.phone, &id));
    }
    match queries::insert(conn, r) {
        Err(e) if is_unique_violation(&e) => {
            let id = queries::id_by_phone(conn, &r.account_id, &r.phone)?.unwrap_or_default();
            Err(duplicate(&r.phone, &id))
        }
        other => Ok(other?),
    }
}

/// Adds a recipient to the directory.
#[utoipa::path(
    tag = "recipients",
    security(("bearer" = []), ("api_key" = [])),
    request_body = CreateRecipient,
    responses(
        (status = 201, description = "Created.", body = RecipientView,
            headers(("Location" = String, description = "`/v1/recipients/{id}`"))),
        (status = 409, description = "`conflict`: the account already has a recipient with this number; the message names it.", body = relay_protocol::ErrorEnvelope),
    )
)]
#[post("/v1/recipients")]
pub async fn create_recipient(
    caller: Caller,
    state: web::Data<AppState>,
    body: ApiJson<CreateRecipient>,
) -> Result<HttpResponse, ApiError> {
    let recipient = create(&state, &caller.account, &body.into_inner()).await?;
    Ok(HttpResponse::Created()
        .insert_header((actix_web::http::header::LOCATION, format!("/v1/recipients/{}", recipient.id)))
        .json(recipient))
}

/// Adds a recipient (the API and the console).
pub async fn create(state: &AppState, account: &Account, req: &CreateRecipient) -> Result<RecipientView, ApiError> {
    let recipient = build(account, req)?;
    state
        .db
        .write(move |conn| -> Result<RecipientView, ApiError> {
            store_new(conn, &recipient)?;
            Ok(recipient.view())
        })
        .await
}

#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    /// A name or part of one (any case, accents and script variants optional), or a number in
    /// any format: whole, its beginning (`+92300`, `0300 12`), or its last digits (3 or more).
    pub q: Option<String>,
    /// Only recipients with this tag.
    pub tag: Option<String>,
    /// 1 to 100, default 50.
    pub limit: Option<i64>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct RecipientList {
    pub ok: bool,
    pub recipients: Vec<RecipientView>,
    pub next_cursor: Option<String>,
    pub has_more: bool,
}

/// Lists or searches the directory. Without `q`, newest first; with `q`, best match first:
/// the exact number, then names starting with `q`, then names with a word starting with it
/// and numbers starting or ending with the digits, then names containing it.
#[utoipa::path(
    tag = "recipients",
    security(("bearer" = []), ("api_key" = [])),
    params(ListQuery),
    responses((status = 200, description = "A page of recipients.", body = RecipientList))
)]
#[get("/v1/recipients")]
pub async fn list_recipients(
    caller: Caller,
    state: web::Data<AppState>,
    query: web::Query<ListQuery>,
) -> Result<web::Json<RecipientList>, ApiError> {
    Ok(web::Json(list(&state, &caller.account, query.into_inner()).await?))
}

/// One page of the account's directory, listed or searched (the API and the console).
pub async fn list(state: &AppState, account: &Account, q: ListQuery) -> Result<RecipientList, ApiError> {
    let limit = q.limit.unwrap_or(50);
    if !(1..=100).contains(&limit) {
        return Err(ApiError::invalid("limit", "`limit` must be between 1 and 100."));
    }
    let query =
        q.q.as_deref().filter(|s| !s.trim().is_empty()).map(|s| Query::parse(s, account.default_region.as_deref()));
    let mut filter = Filter { query, tag: q.tag.map(|t| t.trim().to_lowercase()), limit, ..Filter::default() };
    if let Some(cursor) = q.cursor {
        let bad = || ApiError::invalid("cursor", "`cursor` must be the `next_cursor` of a previous page.");
        match (&filter.query, cursor.strip_prefix("o")) {
            (Some(_), Some(n)) => filter.offset = n.parse().map_err(|_| bad())?,
            (None, None) if cursor.starts_with("rcp_") => filter.after_id = Some(cursor),
            _ => return Err(bad()),
        }
    }
    let account_id = account.id.clone();
    let searching = filter.query.is_some();
    let offset = filter.offset;
    let mut rows = state.db.run(move |conn| queries::list(conn, &account_id, &filter).map_err(ApiError::from)).await?;
    let has_more = rows.len() as i64 > limit;
    rows.truncate(usize::try_from(limit).unwrap_or(50));
    let next_cursor = match (has_more, searching) {
        (false, _) => None,
        (true, true) => Some(format!("o{}", offset + limit)),
        (true, false) => rows.last().map(|r| r.id.clone()),
    };
    Ok(RecipientList { ok: true, recipients: rows.iter().map(Recipient::view).collect(), next_cursor, has_more })
}

/// One recipient.
#[utoipa::path(
    tag = "recipients",
    security(("bearer" = []), ("api_key" = [])),
    params(("recipient_id" = String, Path, description = "The `rcp_…` id.")),
    responses((status = 200, description = "The recipient.", body = RecipientView))
)]
#[get("/v1/recipients/{recipient_id}")]
pub async fn get_recipient(
    caller: Caller,
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> Result<web::Json<RecipientView>, ApiError> {
    Ok(web::Json(get(&state, &caller.account.id, path.into_inner()).await?))
}

/// One of the account's recipients, or 404 (the API and the console).
pub async fn get(state: &AppState, account_id: &str, id: String) -> Result<RecipientView, ApiError> {
    let account_id = account_id.to_owned();
    let found = state.db.run(move |conn| queries::get(conn, &account_id, &id).map_err(ApiError::from)).await?;
    found.map(|r| r.view()).ok_or_else(not_found)
}

/// Changes a recipient; also how a recipient is opted out (`{"opted_out": true}`) or back in.
#[utoipa::path(
    tag = "recipients",
    security(("bearer" = []), ("api_key" = [])),
    params(("recipient_id" = String, Path, description = "The `rcp_…` id.")),
    request_body = UpdateRecipient,
    responses(
        (status = 200, description = "The recipient as changed.", body = RecipientView),
        (status = 409, description = "`conflict`: another recipient has the new number; the message names it.", body = relay_protocol::ErrorEnvelope),
    )
)]
#[patch("/v1/recipients/{recipient_id}")]
pub async fn update_recipient(
    caller: Caller,
    state: web::Data<AppState>,
    path: web::Path<String>,
    body: ApiJson<UpdateRecipient>,
) -> Result<web::Json<RecipientView>, ApiError> {
    Ok(web::Json(update(&state, &caller.account, path.into_inner(), body.into_inner()).await?))
}

/// Changes one of the account's recipients (the API and the console).
pub async fn update(
    state: &AppState,
    account: &Account,
    id: String,
    req: UpdateRecipient,
) -> Result<RecipientView, ApiError> {
    let name = req
        .name
        .as_deref()
        .map(check_name)
        .transpose()
        .map_err(|e| ApiError::invalid("name", format!("Field `name`: {e}.")))?;
    let phone = req.phone.as_deref().map(|p| number(account, p)).transpose()?;
    let tags = req
        .tags
        .as_deref()
        .map(check_tags)
        .transpose()
        .map_err(|e| ApiError::invalid("tags", format!("Field `tags`: {e}.")))?;
    let locale = req
        .locale
        .as_deref()
        .map(check_locale)
        .transpose()
        .map_err(|e| ApiError::invalid("locale", format!("Field `locale`: {e}.")))?;
    let metadata = req.metadata.as_ref().map(check_metadata).transpose()?;
    let account_id = account.id.clone();
    let updated = state
        .db
        .write(move |conn| -> Result<Recipient, ApiError> {
            let mut r = queries::get(conn, &account_id, &id)?.ok_or_else(not_found)?;
            let now = time::now();
            if let Some(name) = name {
                r.search_key = search::fold(&name);
                r.name = name;
            }
            if let Some(phone) = phone.filter(|p| *p != r.phone) {
                if let Some(other) = queries::id_by_phone(conn, &account_id, &phone)? {
                    return Err(duplicate(&phone, &other));
                }
                r.phone_rev = search::reversed_digits(&phone);
                r.phone = phone;
            }
            if let Some(tags) = tags {
                (r.tags, r.tag_key) = tag_fields(&tags);
            }
            if let Some(locale) = locale {
                r.locale = locale;
            }
            if let Some(metadata) = metadata {
                r.metadata = metadata;
            }
            r.opted_out_at = queries::opt_out_time(now, r.opted_out_at, req.opted_out);
            r.updated_at = now;
            match queries::save(conn, &r) {
                Err(e) if is_unique_violation(&e) => Err(ApiError::Conflict(format!(
                    "Another recipient of this account already has the number {}.",
                    r.phone
                ))),
                other => other.map_err(ApiError::from).map(|()| r),
            }
        })
        .await?;
    Ok(updated.view())
}

#[derive(Debug, Serialize, ToSchema)]
pub struct DeletedResponse {
    pub ok: bool,
    #[schema(example = "rcp_01JDX4Q7ZK3V8J5B6N2M9R0T1W")]
    pub id: String,
    pub deleted: bool,
}

/// Removes a recipient from the directory. Messages already sent to the number stay.
#[utoipa::path(
    tag = "recipients",
    security(("bearer" = []), ("api_key" = [])),
    params(("recipient_id" = String, Path, description = "The `rcp_…` id.")),
    responses((status = 200, description = "Deleted.", body = DeletedResponse))
)]
#[delete("/v1/recipients/{recipient_id}")]
pub async fn delete_recipient(
    caller: Caller,
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> Result<web::Json<DeletedResponse>, ApiError> {
    let (account_id, id) = (caller.account.id, path.into_inner());
    let i = id.clone();
    let deleted = state.db.write(move |conn| queries::delete(conn, &account_id, &i).map_err(ApiError::from)).await?;
    if !deleted {
        return Err(not_found());
    }
    Ok(web::Json(DeletedResponse { ok: true, id, deleted: true }))
}
