use chrono::NaiveDateTime;
use diesel::prelude::*;
use serde::Serialize;
use utoipa::ToSchema;

use crate::db::bulk::Cell;
use crate::db::schema::recipients;
use crate::time::Timestamp;

#[derive(Debug, Clone, Queryable, QueryableByName, Selectable, Identifiable, Insertable)]
#[diesel(table_name = recipients, treat_none_as_default_value = false)]
pub struct Recipient {
    pub id: String,
    pub account_id: String,
    pub name: String,
    pub phone: String,
    pub phone_rev: String,
    pub search_key: String,
    pub tags: String,
    pub tag_key: String,
    pub locale: Option<String>,
    pub metadata: Option<String>,
    pub opted_out_at: Option<NaiveDateTime>,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

/// The columns in the order of [`Recipient::cells`], for hand-written statements.
pub const COLUMNS: &str = "id, account_id, name, phone, phone_rev, search_key, tags, tag_key, locale, metadata, \
                           opted_out_at, created_at, updated_at";
pub const WIDTH: usize = 13;

impl Recipient {
    pub fn tag_list(&self) -> Vec<String> {
        serde_json::from_str(&self.tags).unwrap_or_default()
    }

    pub fn cells(&self) -> [Cell; WIDTH] {
        [
            Cell::Text(self.id.clone()),
            Cell::Text(self.account_id.clone()),
            Cell::Text(self.name.clone()),
            Cell::Text(self.phone.clone()),
            Cell::Text(self.phone_rev.clone()),
            Cell::Text(self.search_key.clone()),
            Cell::Text(self.tags.clone()),
            Cell::Text(self.tag_key.clone()),
            Cell::OptText(self.locale.clone()),
            Cell::OptText(self.metadata.clone()),
            Cell::OptTime(self.opted_out_at),
            Cell::Time(self.created_at),
            Cell::Time(self.updated_at),
        ]
    }

    pub fn view(&self) -> RecipientView {
        RecipientView {
            ok: true,
            id: self.id.clone(),
            name: self.name.clone(),
            phone: self.phone.clone(),
            tags: self.tag_list(),
            locale: self.locale.clone(),
            metadata: self.metadata.as_deref().and_then(|m| serde_json::from_str(m).ok()),
            opted_out: self.opted_out_at.is_some(),
            opted_out_at: self.opted_out_at.map(Into::into),
            created_at: self.created_at.into(),
            updated_at: self.updated_at.into(),
        }
    }
}

/// A recipient as the API shows it.
#[derive(Debug, Serialize, ToSchema)]
pub struct RecipientView {
    pub ok: bool,
    #[schema(example = "rcp_01JDX4Q7ZK3V8J5B6N2M9R0T1W")]
    pub id: String,
    #[schema(example = "محمد علی")]
    pub name: String,
    /// E.164.
    #[schema(example = "+923001234567")]
    pub phone: String,
    /// Lowercase.
    #[schema(example = json!(["lahore", "vip"]))]
    pub tags: Vec<String>,
    #[schema(example = "ur")]
    pub locale: Option<String>,
    #[schema(value_type = Option<Object>)]
    pub metadata: Option<serde_json::Value>,
    /// Sends to this number are refused with `recipient_opted_out` (OTP codes still go).
    pub opted_out: bool,
    pub opted_out_at: Option<Timestamp>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}
