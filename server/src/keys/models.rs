use chrono::NaiveDateTime;
use diesel::prelude::*;
use serde::Serialize;
use utoipa::ToSchema;

use crate::db::schema::api_keys;
use crate::time::Timestamp;

#[derive(Debug, Clone, Queryable, Selectable, Identifiable)]
#[diesel(table_name = api_keys)]
pub struct ApiKey {
    pub id: String,
    pub account_id: String,
    pub name: String,
    pub prefix: String,
    pub key_hash: String,
    pub created_at: NaiveDateTime,
    pub last_used_at: Option<NaiveDateTime>,
    pub revoked_at: Option<NaiveDateTime>,
}

#[derive(Debug, Insertable)]
#[diesel(table_name = api_keys)]
pub struct NewApiKey<'a> {
    pub id: &'a str,
    pub account_id: &'a str,
    pub name: &'a str,
    pub prefix: &'a str,
    pub key_hash: &'a str,
    pub created_at: NaiveDateTime,
}

/// A key as listed: never the secret, only the prefix that tells keys apart.
#[derive(Debug, Serialize, ToSchema)]
pub struct KeyView {
    #[schema(example = "key_01JDX4Q7ZK3V8J5B6N2M9R0T1W")]
    pub id: String,
    pub name: String,
    /// The first characters of the key, to recognise it.
    #[schema(example = "rk_live_a1B2")]
    pub prefix: String,
    pub created_at: Timestamp,
    /// Updated in the background about once a minute, not on every request.
    pub last_used_at: Option<Timestamp>,
    pub revoked_at: Option<Timestamp>,
}

impl ApiKey {
    pub fn view(&self) -> KeyView {
        KeyView {
            id: self.id.clone(),
            name: self.name.clone(),
            prefix: self.prefix.clone(),
            created_at: self.created_at.into(),
            last_used_at: self.last_used_at.map(Into::into),
            revoked_at: self.revoked_at.map(Into::into),
        }
    }
}

/// A key just made: the only moment its secret exists outside the client.
#[derive(Debug, Clone)]
pub struct CreatedKey {
    pub id: String,
    pub name: String,
    pub secret: String,
    pub prefix: String,
    pub created_at: NaiveDateTime,
}
