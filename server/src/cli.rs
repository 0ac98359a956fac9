//! The `relay-server` command line: serve, and the operator's account and key verbs.
//! Every command takes `--json` for scripts; human output otherwise.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};
use serde::Serialize;
use serde_json::json;

use crate::accounts::{AccountStatus, queries as accounts};
use crate::db::{Db, StoreError};
use crate::keys::queries as keys;
use crate::plans;
use crate::serve::{ServeError, ServeOptions};

#[derive(Debug, Parser)]
#[command(name = "relay-server", version, about = "Relay: an SMS gateway whose senders are your own Android phones.")]
#[command(args_conflicts_with_subcommands = true)]
pub struct Cli {
    /// Database URL: a SQLite file path (default: <data-dir>/relay.db) or postgres://…
    #[arg(long, global = true, env = "RELAY_DATABASE_URL")]
    pub database: Option<String>,
    /// Folder for the SQLite database and other server files.
    #[arg(long, global = true, env = "RELAY_DATA_DIR", default_value = "relay-data")]
    pub data_dir: PathBuf,
    /// Print machine-readable JSON instead of text.
    #[arg(long, global = true)]
    pub json: bool,
    #[command(subcommand)]
    pub command: Option<Command>,
    /// `relay-server` alone serves, with these options.
    #[command(flatten)]
    pub serve: ServeArgs,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the HTTP API (the default).
    Serve(ServeArgs),
    /// Manage customer accounts.
    #[command(subcommand)]
    Account(AccountCommand),
    /// Manage API keys.
    #[command(subcommand)]
    Key(KeyCommand),
    /// Print the OpenAPI document.
    Openapi,
    /// Make a pairing code for an account and draw its QR code.
    Pair(PairArgs),
}

#[derive(Debug, Clone, Args)]
pub struct PairArgs {
    #[arg(long)]
    pub account: String,
    /// The server's public base URL, as phones reach it.
    #[arg(long, env = "RELAY_PUBLIC_URL", default_value = "http://127.0.0.1:8080")]
    pub public_url: String,
}

#[derive(Debug, Clone, Args)]
pub struct ServeArgs {
    /// Address to listen on.
    #[arg(long, env = "RELAY_BIND", default_value = "127.0.0.1:8080")]
    pub bind: String,
    /// Base URL the world reaches this server at (behind a proxy), e.g. https://sms.example.com
    #[arg(long, env = "RELAY_PUBLIC_URL")]
    pub public_url: Option<String>,
    /// Terminate TLS with this certificate chain (PEM); needs --tls-key.
    #[arg(long, env = "RELAY_TLS_CERT", requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,
    /// The private key (PEM) for --tls-cert.
    #[arg(long, env = "RELAY_TLS_KEY", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,
    /// Terminate TLS with a self-signed certificate kept in <data-dir>/tls; phones pin it.
    #[arg(long, env = "RELAY_TLS_SELF_SIGNED", conflicts_with = "tls_cert")]
    pub tls_self_signed: bool,
    /// Also run a demo account and a simulated phone, and print a ready cURL command.
    #[arg(long)]
    pub demo: bool,
    /// Seconds between a phone's heartbeats; three missed mark it offline.
    #[arg(long, env = "RELAY_HEARTBEAT_SECS", default_value_t = 30, value_parser = clap::value_parser!(u64).range(1..=600))]
    pub heartbeat_secs: u64,
    /// Key for the HMAC that OTP codes are stored under (32+ characters; give every instance
    /// the same). Default: generated on first start into <data-dir>/otp-secret.
    #[arg(long, env = "RELAY_OTP_SECRET", hide_env_values = true)]
    pub otp_secret: Option<String>,
    /// FOR TESTS ONLY: expose POST /v1/test/clock/advance, which moves the server's clock.
    #[arg(long, hide = true)]
    pub unsafe_test_clock: bool,
    /// Key that webhook signing secrets are encrypted under (32+ characters; give every
    /// instance the same). Default: generated on first start into <data-dir>/webhook-key.
    #[arg(long, env = "RELAY_WEBHOOK_KEY", hide_env_values = true)]
    pub webhook_key: Option<String>,
    /// Let webhooks target loopback, private, link-local and metadata addresses (a trusted
    /// network, or tests). Off by default: such targets are refused.
    #[arg(long, env = "RELAY_ALLOW_PRIVATE_WEBHOOKS")]
    pub allow_private_webhooks: bool,
    /// FOR TESTS ONLY: every webhook retry waits this many milliseconds instead of the schedule.
    #[arg(long, hide = true, value_parser = clap::value_parser!(u64).range(1..=600_000))]
    pub unsafe_test_webhook_schedule_ms: Option<u64>,
    /// FOR TESTS ONLY: a webhook attempt's timeout in milliseconds instead of 15 s.
    #[arg(long, hide = true, value_parser = clap::value_parser!(u64).range(1..=600_000))]
    pub unsafe_test_webhook_timeout_ms: Option<u64>,
}

#[derive(Debug, Subcommand)]
pub enum AccountCommand {
    /// Create an account and its first API key (shown once).
    Create {
        #[arg(long)]
        name: String,
        #[arg(long)]
        email: String,
        /// Plan: starter, standard, business or unlimited.
        #[arg(long, default_value = plans::DEFAULT_PLAN)]
        plan: String,
        /// Subscription length in days.
        #[arg(long, default_value_t = 365)]
        days: i64,
    },
    /// List accounts.
    List,
    /// Extend a subscription (from its expiry, or from now if it has run out).
    Renew {
        #[arg(long)]
        account: String,
        #[arg(long)]
        days: i64,
    },
    /// Disable an account's API keys until it is resumed.
    Suspend {
        #[arg(long)]
        account: String,
    },
    /// Re-enable a suspended account.
    Resume {
        #[arg(long)]
        account: String,
    },
    /// Set the web console password (read from standard input, first line); signs out every
    /// console session of the account.
    SetPassword {
        #[arg(long)]
        account: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum KeyCommand {
    /// Create another API key for an account (shown once).
    Create {
        #[arg(long)]
        account: String,
        #[arg(long, default_value = "cli")]
        name: String,
    },
    /// List an account's keys.
    List {
        #[arg(long)]
        account: String,
    },
    /// Revoke a key at once.
    Revoke { key_id: String },
}

#[derive(Debug, thiserror::Error)]
pub enum CliError {
    #[error("{0}")]
    Invalid(String),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Conflict(String),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Serve(#[from] ServeError),
    #[error(transparent)]
    Secret(#[from] crate::otp::secret::SecretError),
    #[error(transparent)]
    WebhookKey(#[from] crate::webhooks::secret::KeyError),
}

impl CliError {
    fn code(&self) -> &'static str {
        match self {
            CliError::Invalid(_) => "invalid_request",
            CliError::NotFound(_) => "not_found",
            CliError::Conflict(_) => "conflict",
            CliError::Store(StoreError::Unavailable(_)) => "unavailable",
            CliError::Secret(crate::otp::secret::SecretError::TooShort(_)) => "invalid_request",
            CliError::WebhookKey(crate::webhooks::secret::KeyError::TooShort(_)) => "invalid_request",
            CliError::Store(_) | CliError::Serve(_) | CliError::Secret(_) | CliError::WebhookKey(_) => "internal",
        }
    }

    /// Prints the error the way the command's output is formatted.
    pub fn report(&self, json: bool) {
        if json {
            println!("{}", json!({"ok": false, "error": {"code": self.code(), "message": self.to_string()}}));
        } else {
            eprintln!("error: {self}");
        }
    }
}

impl From<diesel::result::Error> for CliError {
    fn from(e: diesel::result::Error) -> Self {
        CliError::Store(e.into())
    }
}

impl From<accounts::AccountError> for CliError {
    fn from(e: accounts::AccountError) -> Self {
        match e {
            accounts::AccountError::EmailTaken(_) => CliError::Conflict(e.to_string()),
            accounts::AccountError::NotFound(_) => CliError::NotFound(e.to_string()),
            accounts::AccountError::Db(e) => e.into(),
        }
    }
}

impl Cli {
    pub fn database_url(&self) -> String {
        self.database.clone().unwrap_or_else(|| self.data_dir.join("relay.db").to_string_lossy().into_owned())
    }
}

/// Runs the parsed command.
pub fn run(cli: Cli) -> Result<(), CliError> {
    let url = cli.database_url();
    let json = cli.json;
    match cli.command {
        None => serve(cli.serve, url, &cli.data_dir, json),
        Some(Command::Serve(args)) => serve(args, url, &cli.data_dir, json),
        Some(Command::Openapi) => {
            println!("{}", openapi_json());
            Ok(())
        }
        Some(Command::Account(cmd)) => with_db(&url, |db| account(cmd, db, json)),
        Some(Command::Key(cmd)) => with_db(&url, |db| key(cmd, db, json)),
        Some(Command::Pair(args)) => with_db(&url, |db| pair(args, &cli.data_dir, db, json)),
    }
}

/// Runs a one-shot command, then closes the database before the process exits.
fn with_db(url: &str, command: impl FnOnce(&Db) -> Result<(), CliError>) -> Result<(), CliError> {
    let db = Db::open(url)?;
    let result = command(&db);
    db.close();
    result
}

/// The OpenAPI document as committed in `docs/openapi.json`.
pub fn openapi_json() -> String {
    crate::http::openapi().to_pretty_json().unwrap_or_default()
}

/// `https://sms.example.com:8443/x` → `sms.example.com`.
fn host_of(url: &str) -> Option<String> {
    let rest = url.split_once("://").map(|(_, r)| r).unwrap_or(url);
    let host = rest.split(['/', ':']).next()?;
    (!host.is_empty()).then(|| host.to_owned())
}

fn serve(args: ServeArgs, database_url: String, data_dir: &std::path::Path, json: bool) -> Result<(), CliError> {
    let link = crate::link::LinkSettings {
        heartbeat_interval: std::time::Duration::from_secs(args.heartbeat_secs),
        ..Default::default()
    };
    let tls = match (&args.tls_cert, &args.tls_key, args.tls_self_signed) {
        (Some(cert), Some(key), _) => Some(crate::tls::load(cert, key).map_err(ServeError::from)?),
        (_, _, true) => {
            let host = args.public_url.as_deref().and_then(host_of).into_iter().collect::<Vec<_>>();
            Some(crate::tls::self_signed(data_dir, &host).map_err(ServeError::from)?)
        }
        _ => None,
    };
    let demo = args.demo.then(|| data_dir.to_owned());
    let otp_secret = match &args.otp_secret {
        Some(value) => crate::otp::secret::OtpSecret::from_config(value)?,
        None => crate::otp::secret::OtpSecret::load_or_create(data_dir)?,
    };
    let webhook_key = match &args.webhook_key {
        Some(value) => crate::webhooks::secret::WebhookKey::from_config(value)?,
        None => crate::webhooks::secret::WebhookKey::load_or_create(data_dir)?,
    };
    let mut webhooks =
        crate::webhooks::deliver::DeliverySettings { allow_private: args.allow_private_webhooks, ..Default::default() };
    if let Some(ms) = args.unsafe_test_webhook_schedule_ms {
        webhooks.schedule = crate::webhooks::deliver::Schedule::TestMillis(ms);
    }
    if let Some(ms) = args.unsafe_test_webhook_timeout_ms {
        webhooks.timeout = std::time::Duration::from_millis(ms);
    }
    let opts = ServeOptions {
        bind: args.bind,
        database_url,
        public_url: args.public_url,
        json,
        link,
        tls,
        demo,
        otp_secret,
        unsafe_test_clock: args.unsafe_test_clock,
        webhook_key,
        webhooks,
    };
    actix_web::rt::System::new().block_on(crate::serve::serve(opts))?;
    Ok(())
}

fn emit<T: Serialize>(json: bool, value: &T, human: impl FnOnce() -> String) {
    if json {
        println!("{}", serde_json::to_string(value).unwrap_or_default());
    } else {
        println!("{}", human());
    }
}

fn validate_account(name: &str, email: &str, plan: &str, days: i64) -> Result<(), CliError> {
    if name.trim().is_empty() {
        return Err(CliError::Invalid("--name must not be empty".into()));
    }
    let well_formed = email
        .split_once('@')
        .is_some_and(|(user, host)| !user.is_empty() && host.contains('.') && !email.contains(char::is_whitespace));
    if !well_formed {
        return Err(CliError::Invalid(format!("--email {email:?} is not an email address")));
    }
    if plans::find(plan).is_none() {
        return Err(CliError::Invalid(format!("unknown plan {plan:?}; plans are {}", plans::names().join(", "))));
    }
    if !(1..=36_500).contains(&days) {
        return Err(CliError::Invalid("--days must be between 1 and 36500".into()));
    }
    Ok(())
}

fn account(cmd: AccountCommand, db: &Db, json: bool) -> Result<(), CliError> {
    let mut conn = db.conn()?;
    match cmd {
        AccountCommand::Create { name, email, plan, days } => {
            validate_account(&name, &email, &plan, days)?;
            let req = accounts::CreateAccount { name: name.trim(), email: email.trim(), plan: &plan, days };
            let (account, key) = accounts::create(&mut conn, &req)?;
            let value = json!({
                "ok": true,
                "account": account.view(),
                "key": {"id": key.id, "name": key.name, "prefix": key.prefix, "key": key.secret},
            });
            emit(json, &value, || {
                format!(
                    "Created account {} ({}), plan {}, expires {}.\n\nAPI key (shown once, store it now):\n  {}\n",
                    account.id,
                    account.name,
                    account.plan,
                    crate::time::Timestamp(account.expires_at).rfc3339(),
                    key.secret
                )
            });
        }
        AccountCommand::List => {
            let all = accounts::list(&mut conn)?;
            let views: Vec<_> = all.iter().map(|a| a.view()).collect();
            emit(json, &json!({"ok": true, "accounts": views}), || {
                let mut out = format!("{:<31} {:<10} {:<10} {:<21} {}", "ID", "PLAN", "STATUS", "EXPIRES", "NAME");
                for a in &views {
                    out.push_str(&format!(
                        "\n{:<31} {:<10} {:<10} {:<21} {} <{}>",
                        a.id,
                        a.subscription.plan,
                        a.status.as_str(),
                        a.subscription.expires_at.rfc3339(),
                        a.name,
                        a.email
                    ));
                }
                out
            });
        }
        AccountCommand::Renew { account, days } => {
            if !(1..=36_500).contains(&days) {
                return Err(CliError::Invalid("--days must be between 1 and 36500".into()));
            }
            let a = accounts::renew(&mut conn, &account, days)?;
            let view = a.view();
            emit(json, &json!({"ok": true, "account": view}), || {
                format!("Renewed {}: expires {}.", a.id, view.subscription.expires_at.rfc3339())
            });
        }
        AccountCommand::Suspend { account } => set_status(&mut conn, &account, AccountStatus::Suspended, json)?,
        AccountCommand::Resume { account } => set_status(&mut conn, &account, AccountStatus::Active, json)?,
        AccountCommand::SetPassword { account: id } => {
            let a = accounts::get(&mut conn, &id)?;
            let password = read_password()?;
            crate::console::auth::set_password(&mut conn, &a.id, &password).map_err(|e| match e {
                crate::console::auth::ConsoleError::Store(e) => CliError::Store(e),
                other => CliError::Invalid(other.to_string()),
            })?;
            emit(json, &json!({"ok": true, "account_id": a.id}), || {
                format!("Console password set for {} ({}); sign in at /console with {}.", a.name, a.id, a.email)
            });
        }
    }
    Ok(())
}

/// The first line of standard input, so passwords stay out of the shell history and `ps`.
fn read_password() -> Result<String, CliError> {
    let mut line = String::new();
    std::io::stdin()
        .read_line(&mut line)
        .map_err(|e| CliError::Invalid(format!("cannot read the password from standard input: {e}")))?;
    let password = line.trim_end_matches(['\r', '\n']).to_owned();
    let min = crate::console::auth::MIN_PASSWORD_LEN;
    if password.chars().count() < min {
        return Err(CliError::Invalid(format!("the password must have at least {min} characters")));
    }
    Ok(password)
}

fn set_status(conn: &mut crate::db::DbConnection, id: &str, status: AccountStatus, json: bool) -> Result<(), CliError> {
    let a = accounts::set_status(conn, id, status)?;
    emit(json, &json!({"ok": true, "account": a.view()}), || format!("Account {} is now {}.", a.id, status.as_str()));
    Ok(())
}

fn key(cmd: KeyCommand, db: &Db, json: bool) -> Result<(), CliError> {
    let mut conn = db.conn()?;
    match cmd {
        KeyCommand::Create { account, name } => {
            accounts::get(&mut conn, &account)?;
            let k = keys::create(&mut conn, &account, &name)?;
            let value = json!({"ok": true, "id": k.id, "name": k.name, "prefix": k.prefix, "key": k.secret});
            emit(json, &value, || {
                format!("Created key {} for {account} (shown once, store it now):\n  {}", k.id, k.secret)
            });
        }
        KeyCommand::List { account } => {
            accounts::get(&mut conn, &account)?;
            let all: Vec<_> = keys::list(&mut conn, &account)?.iter().map(|k| k.view()).collect();
            emit(json, &json!({"ok": true, "keys": all}), || {
                let mut out = format!("{:<31} {:<14} {:<21} {:<21} {}", "ID", "PREFIX", "LAST USED", "REVOKED", "NAME");
                for k in &all {
                    let when =
                        |t: &Option<crate::time::Timestamp>| t.map(|t| t.rfc3339()).unwrap_or_else(|| "-".into());
                    out.push_str(&format!(
                        "\n{:<31} {:<14} {:<21} {:<21} {}",
                        k.id,
                        k.prefix,
                        when(&k.last_used_at),
                        when(&k.revoked_at),
                        k.name
                    ));
                }
                out
            });
        }
        KeyCommand::Revoke { key_id } => {
            let k = keys::revoke(&mut conn, &key_id, None)?
                .ok_or_else(|| CliError::NotFound(format!("no API key has the id {key_id}")))?;
            emit(json, &json!({"ok": true, "key": k.view()}), || format!("Revoked key {}.", k.id));
        }
    }
    Ok(())
}

fn pair(args: PairArgs, data_dir: &std::path::Path, db: &Db, json: bool) -> Result<(), CliError> {
    let mut conn = db.conn()?;
    accounts::get(&mut conn, &args.account)?;
    // A server running with --tls-self-signed keeps its certificate in the data folder: pin it.
    let fingerprint = crate::tls::self_signed_fingerprint(data_dir);
    let offer = crate::devices::pairing::create_offer(&mut conn, &args.account, &args.public_url, fingerprint)?;
    let (code, uri) = (&offer.code, &offer.qr_payload);
    let expires = crate::time::Timestamp(offer.expires_at).rfc3339();
    let value = json!({"ok": true, "pairing_code": code, "qr_payload": uri, "expires_at": expires});
    emit(json, &value, || {
        let qr = crate::devices::qr::terminal(uri).unwrap_or_default();
        format!("{qr}\nScan this with the Relay app, or type the code {code} (valid until {expires}).\nPayload: {uri}")
    });
    Ok(())
}
