use chrono::NaiveDateTime;
use diesel::prelude::*;
use serde::Serialize;
use utoipa::ToSchema;

use crate::db::schema::accounts;
use crate::plans::{self, Limits};
use crate::time::{self, Timestamp};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum AccountStatus {
    Active,
    Suspended,
}

impl AccountStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            AccountStatus::Active => "active",
            AccountStatus::Suspended => "suspended",
        }
    }

    pub fn parse(s: &str) -> Self {
        if s == "suspended" { AccountStatus::Suspended } else { AccountStatus::Active }
    }
}

#[derive(Debug, Clone, Queryable, Selectable, Identifiable)]
#[diesel(table_name = accounts)]
pub struct Account {
    pub id: String,
    pub name: String,
    pub email: String,
    pub plan: String,
    pub status: String,
    pub expires_at: NaiveDateTime,
    pub default_region: Option<String>,
    pub queue_paused_at: Option<NaiveDateTime>,
    pub queue_pause_reason: Option<String>,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

#[derive(Debug, Insertable)]
#[diesel(table_name = accounts)]
pub struct NewAccount<'a> {
    pub id: &'a str,
    pub name: &'a str,
    pub email: &'a str,
    pub plan: &'a str,
    pub status: &'a str,
    pub expires_at: NaiveDateTime,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

impl Account {
    pub fn status(&self) -> AccountStatus {
        AccountStatus::parse(&self.status)
    }

    pub fn subscription_active(&self) -> bool {
        self.expires_at > time::now()
    }

    /// Whole days left before expiry, counting a started day (0 once expired).
    pub fn days_left(&self) -> i64 {
        let secs = (self.expires_at - time::now()).num_seconds();
        if secs <= 0 { 0 } else { (secs + 86_399) / 86_400 }
    }

    pub fn view(&self) -> AccountView {
        let plan = plans::for_account(&self.plan);
        AccountView {
            id: self.id.clone(),
            name: self.name.clone(),
            email: self.email.clone(),
            status: self.status(),
            default_region: self.default_region.clone(),
            subscription: Subscription {
                plan: plan.name.to_owned(),
                active: self.subscription_active(),
                expires_at: self.expires_at.into(),
                days_left: self.days_left(),
            },
            limits: plan.limits,
            created_at: self.created_at.into(),
        }
    }
}

/// An account as the API and the CLI show it.
#[derive(Debug, Serialize, ToSchema)]
pub struct AccountView {
    #[schema(example = "acc_01JDX4Q7ZK3V8J5B6N2M9R0T1W")]
    pub id: String,
    pub name: String,
    pub email: String,
    pub status: AccountStatus,
    /// ISO 3166 region applied to numbers written without a country code.
    #[schema(example = "PK")]
    pub default_region: Option<String>,
    pub subscription: Subscription,
    pub limits: Limits,
    pub created_at: Timestamp,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Subscription {
    #[schema(example = "standard")]
    pub plan: String,
    /// False once `expires_at` has passed: sending then answers `subscription_expired`.
    pub active: bool,
    pub expires_at: Timestamp,
    pub days_left: i64,
}
