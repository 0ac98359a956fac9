//! `serve --demo`: a demo account and an in-process simulated phone, so a newcomer's first
//! request reaches `delivered` within a second of starting the server.
//!
//! The phone is the real agent (relay-core: store, link, pacing) with a simulated transport
//! that prints a sent-box line; it pairs with this very server over HTTP like any phone.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use relay_core::simulator::{Outcome, RADIO_JOURNAL, SentBox, SimHealth, SimTransport, simulated_sim};
use relay_core::{ClientOptions, DeviceInfo, RelayClient, RelayHandle};
use serde_json::json;

use crate::accounts::queries::{self as accounts, AccountError, CreateAccount};
use crate::db::{Db, StoreError};
use crate::devices::{pairing, queries as devices};
use crate::keys::queries as keys;

pub const DEMO_EMAIL: &str = "demo@relay.local";
pub const DEMO_DEVICE: &str = "Relay Device 1";

#[derive(Debug, thiserror::Error)]
pub enum DemoError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("the demo phone could not start: {0}")]
    Phone(#[from] relay_core::RelayError),
    #[error("the demo phone's radio journal could not be opened: {0}")]
    Journal(#[from] std::io::Error),
    #[error("the demo account's console password could not be set: {0}")]
    Console(#[from] crate::console::auth::ConsoleError),
}

impl From<diesel::result::Error> for DemoError {
    fn from(e: diesel::result::Error) -> Self {
        DemoError::Store(e.into())
    }
}

impl From<AccountError> for DemoError {
    fn from(e: AccountError) -> Self {
        match e {
            AccountError::Db(e) => e.into(),
            other => DemoError::Store(StoreError::Unavailable(other.to_string())),
        }
    }
}

/// The demo's running phone; dropping it stops the phone.
pub struct Demo {
    _phone: Arc<RelayHandle>,
}

impl std::fmt::Debug for Demo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Demo")
    }
}

/// Creates or reuses the demo account, gives it a fresh key, pairs (once) and starts the phone.
pub async fn start(db: &Db, data_dir: &Path, public_url: &str, json: bool) -> Result<Demo, DemoError> {
    let Credentials { account_id, key, password } = account_and_key(db).await?;
    let phone_dir = data_dir.join("demo-phone");
    let client = RelayClient::open(phone_dir.to_string_lossy().into_owned())?;
    if !still_paired(db, &client).await? {
        let payload = pairing_payload(db, &account_id, public_url).await?;
        let device = DeviceInfo {
            name: DEMO_DEVICE.to_owned(),
            model: Some("simulated".to_owned()),
            app_version: Some(env!("CARGO_PKG_VERSION").to_owned()),
            sims: vec![simulated_sim()],
        };
        client.pair(payload, device).await?;
    }
    let sent_box = if json { SentBox::StdoutJson } else { SentBox::StdoutText };
    let transport =
        SimTransport::new(Outcome::Delivered, Duration::from_millis(100), sent_box, tokio::runtime::Handle::current())
            .with_journal(&phone_dir.join(RADIO_JOURNAL))?;
    let phone = client.start(Arc::new(transport), Some(Arc::new(SimHealth)), None, ClientOptions::default())?;
    announce(public_url, &key, &password, json);
    Ok(Demo { _phone: phone })
}

struct Credentials {
    account_id: String,
    key: String,
    password: String,
}

/// Secrets are stored only as hashes, so the demo issues a new key and console password each
/// start and prints them.
async fn account_and_key(db: &Db) -> Result<Credentials, DemoError> {
    db.run(|conn| -> Result<Credentials, DemoError> {
        let existing = accounts::list(conn)?.into_iter().find(|a| a.email == DEMO_EMAIL);
        let (account_id, key) = match existing {
            Some(account) => (account.id.clone(), keys::create(conn, &account.id, "demo")?.secret),
            None => {
                let req = CreateAccount { name: "Demo", email: DEMO_EMAIL, plan: "standard", days: 365 };
                let (account, key) = accounts::create(conn, &req)?;
                (account.id, key.secret)
            }
        };
        let password = crate::secrets::random_alnum(16);
        crate::console::auth::set_password(conn, &account_id, &password)?;
        Ok(Credentials { account_id, key, password })
    })
    .await
}

/// Whether the phone's stored credentials still name a paired device of this database.
async fn still_paired(db: &Db, client: &RelayClient) -> Result<bool, DemoError> {
    let Some(creds) = client.credentials()? else { return Ok(false) };
    let hash = crate::secrets::sha256_hex(&creds.device_token);
    Ok(db.run(move |conn| devices::find_by_token(conn, &hash).map_err(StoreError::from)).await?.is_some())
}

async fn pairing_payload(db: &Db, account_id: &str, public_url: &str) -> Result<String, DemoError> {
    let (account_id, url) = (account_id.to_owned(), public_url.to_owned());
    let offer =
        db.run(move |conn| pairing::create_offer(conn, &account_id, &url, None).map_err(StoreError::from)).await?;
    Ok(offer.qr_payload)
}

fn announce(public_url: &str, key: &str, password: &str, json: bool) {
    let curl = format!(
        "curl -s {public_url}/v1/messages -H 'Authorization: Bearer {key}' -H 'Content-Type: application/json' \\\n     -d '{{\"to\": \"+923001234567\", \"message\": \"Hello from Relay\"}}'"
    );
    if json {
        println!(
            "{}",
            json!({
                "event": "demo",
                "api_key": key,
                "device_name": DEMO_DEVICE,
                "curl": curl,
                "console_url": format!("{public_url}/console"),
                "console_email": DEMO_EMAIL,
                "console_password": password,
            })
        );
    } else {
        println!(
            "\nDemo mode: account {DEMO_EMAIL} with a simulated phone, \"{DEMO_DEVICE}\".\n\
             API key (new each start): {key}\n\nSend your first message:\n  {curl}\n\n\
             Then follow it: curl -s {public_url}/v1/messages/<request_id> -H 'Authorization: Bearer {key}'\n\
             Web console: {public_url}/console (sign in as {DEMO_EMAIL}, password {password}, new each start)\n\n\
             The simulated phone prints each message it sends below.\n"
        );
    }
}
