//! `GET /v1/health` (public, from memory) and `GET /v1/readiness` (per account, from storage).

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, get, web};
use relay_protocol::ErrorBody;
use serde::Serialize;
use utoipa::ToSchema;

use crate::auth::Caller;
use crate::devices::queries::{self as devices, DeviceCounts};
use crate::error::ApiError;
use crate::state::AppState;
use crate::time::Timestamp;

#[derive(Debug, Serialize, ToSchema)]
pub struct Health {
    pub ok: bool,
    #[schema(example = "pass")]
    pub status: &'static str,
    #[schema(example = "0.1.0")]
    pub version: &'static str,
}

/// Liveness: answers from memory, without touching storage, as long as the process serves.
#[utoipa::path(tag = "health", responses((status = 200, description = "The server is up.", body = Health)))]
#[get("/v1/health")]
pub async fn health() -> web::Json<Health> {
    web::Json(Health { ok: true, status: "pass", version: env!("CARGO_PKG_VERSION") })
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum CheckStatus {
    Pass,
    Fail,
}

impl CheckStatus {
    fn from(pass: bool) -> Self {
        if pass { CheckStatus::Pass } else { CheckStatus::Fail }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct KeyCheck {
    pub status: CheckStatus,
    pub message: String,
    pub key_id: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SubscriptionCheck {
    pub status: CheckStatus,
    pub message: String,
    pub plan: String,
    pub expires_at: Timestamp,
    pub days_left: i64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct DevicesCheck {
    pub status: CheckStatus,
    pub message: String,
    pub paired: i64,
    pub online: i64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct QueueCheck {
    pub status: CheckStatus,
    pub message: String,
    /// `running`, or `blocked` with a reason.
    #[schema(example = "running")]
    pub state: &'static str,
    pub reason: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Checks {
    pub api_key: KeyCheck,
    pub subscription: SubscriptionCheck,
    pub devices: DevicesCheck,
    pub queue: QueueCheck,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Readiness {
    /// True when every check passes.
    pub ok: bool,
    pub ready: bool,
    pub checks: Checks,
    /// When not ready: code `not_ready` and a message naming each failing check.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<ErrorBody>,
}

/// Readiness: whether this account can carry real traffic now. 200 when every check passes,
/// 503 naming each one that fails.
#[utoipa::path(
    tag = "health",
    security(("bearer" = []), ("api_key" = [])),
    responses(
        (status = 200, description = "Ready for traffic.", body = Readiness),
        (status = 503, description = "Not ready; `error.message` names each failing check.", body = Readiness),
    )
)]
#[get("/v1/readiness")]
pub async fn readiness(caller: Caller, state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let account_id = caller.account.id.clone();
    let counts = state.db.run(move |conn| devices::counts(conn, &account_id).map_err(ApiError::from)).await?;
    let body = evaluate(&caller, counts);
    let status = if body.ready { StatusCode::OK } else { StatusCode::SERVICE_UNAVAILABLE };
    Ok(HttpResponse::build(status).json(body))
}

/// What readiness answers, as one flag: paid up, a phone online, the queue running.
pub fn is_ready(account: &crate::accounts::Account, counts: DeviceCounts) -> bool {
    account.subscription_active() && counts.online > 0 && account.queue_paused_at.is_none()
}

fn evaluate(caller: &Caller, counts: DeviceCounts) -> Readiness {
    let account = &caller.account;
    let view = account.view();
    let sub_ok = view.subscription.active;
    let subscription = SubscriptionCheck {
        status: CheckStatus::from(sub_ok),
        message: if sub_ok {
            format!(
                "The {} subscription is active for {} more day(s).",
                view.subscription.plan, view.subscription.days_left
            )
        } else {
            format!("The subscription expired on {}; renew it to send again.", view.subscription.expires_at.rfc3339())
        },
        plan: view.subscription.plan.clone(),
        expires_at: view.subscription.expires_at,
        days_left: view.subscription.days_left,
    };
    let devices = DevicesCheck {
        status: CheckStatus::from(counts.online > 0),
        message: match (counts.paired, counts.online) {
            (0, _) => "No device is paired with this account: pair a phone to send messages.".to_owned(),
            (n, 0) => format!("{n} device(s) paired, none online: messages will wait until one connects."),
            (n, m) => format!("{m} of {n} paired device(s) online."),
        },
        paired: counts.paired,
        online: counts.online,
    };
    let queue = match &account.queue_paused_at {
        None => QueueCheck {
            status: CheckStatus::Pass,
            message: "The queue is running.".into(),
            state: "running",
            reason: None,
        },
        Some(_) => QueueCheck {
            status: CheckStatus::Fail,
            message: "The queue is paused: new messages are refused until it is resumed.".into(),
            state: "blocked",
            reason: account.queue_pause_reason.clone().or_else(|| Some("paused".into())),
        },
    };
    let api_key =
        KeyCheck { status: CheckStatus::Pass, message: "The API key is valid.".into(), key_id: caller.key_id.clone() };
    let failing: Vec<&str> = [
        (subscription.status, subscription.message.as_str()),
        (devices.status, devices.message.as_str()),
        (queue.status, queue.message.as_str()),
    ]
    .into_iter()
    .filter(|(s, _)| *s == CheckStatus::Fail)
    .map(|(_, m)| m)
    .collect();
    let ready = failing.is_empty();
    Readiness {
        ok: ready,
        ready,
        error: (!ready).then(|| ErrorBody {
            code: "not_ready".into(),
            message: format!("Not ready: {}", failing.join(" ")),
            field: None,
            retry_after: None,
        }),
        checks: Checks { api_key, subscription, devices, queue },
    }
}
