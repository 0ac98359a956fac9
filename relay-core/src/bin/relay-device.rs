//! `relay-device`: a simulated phone on a computer, for development and end-to-end tests.
//!
//! Standard output is the simulated phone's "sent box": exactly one line per message handed
//! to the (simulated) SMS transport, flushed at once. Tests count these lines to prove each
//! message went out exactly once, even across `kill -9` and a restart. Logs go to stderr.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use clap::{Parser, Subcommand};
use relay_core::simulator::{Outcome, RADIO_JOURNAL, SentBox, SimHealth, SimTransport, simulated_sim};
use relay_core::{ClientOptions, ConnectionState, DeviceInfo, MessageEvent, RelayClient, RelayError, RelayListener};
use tracing_subscriber::EnvFilter;

const DEFAULT_DATA_DIR: &str = "relay-device-data";

#[derive(Debug, Parser)]
#[command(name = "relay-device", version, about = "A simulated Relay phone: pairs, connects and 'sends' SMS to stdout")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Pair with a server using the payload of its pairing QR code (relay://pair?...).
    Pair {
        qr_payload: String,
        #[arg(long, default_value = DEFAULT_DATA_DIR)]
        data_dir: PathBuf,
        /// The device's name as the server shows it.
        #[arg(long, default_value = "relay-device")]
        name: String,
        /// Print the result as one JSON object.
        #[arg(long)]
        json: bool,
    },
    /// Connect and behave like a phone until SIGINT/SIGTERM.
    Run {
        /// What happens to each sent message.
        #[arg(long, value_enum, default_value_t = Outcome::Delivered)]
        outcome: Outcome,
        /// Delay before `sent`, and again before `delivered`/`failed`.
        #[arg(long, default_value_t = 200)]
        latency_ms: u64,
        #[arg(long, default_value = DEFAULT_DATA_DIR)]
        data_dir: PathBuf,
        /// One JSON object per sent message on stdout instead of a human line.
        #[arg(long)]
        json: bool,
        /// WebSocket URL(s) to use instead of the one from pairing; tried in turn.
        #[arg(long = "connect-url")]
        connect_urls: Vec<String>,
    },
}

#[tokio::main]
async fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")))
        .init();
    let result = match Cli::parse().command {
        Command::Pair { qr_payload, data_dir, name, json } => pair(qr_payload, data_dir, name, json).await,
        Command::Run { outcome, latency_ms, data_dir, json, connect_urls } => {
            run(outcome, Duration::from_millis(latency_ms), data_dir, json, connect_urls).await
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("relay-device: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn pair(payload: String, data_dir: PathBuf, name: String, json: bool) -> Result<(), RelayError> {
    let client = RelayClient::open(data_dir.to_string_lossy().into_owned())?;
    let device = DeviceInfo {
        name,
        model: Some("relay-device simulator".to_owned()),
        app_version: Some(env!("CARGO_PKG_VERSION").to_owned()),
        sims: vec![simulated_sim()],
    };
    let creds = client.pair(payload, device).await?;
    let line = if json {
        serde_json::json!({
            "device_id": creds.device_id,
            "device_name": creds.device_name,
            "server_url": creds.server_url,
            "connect_url": creds.connect_url,
        })
        .to_string()
    } else {
        format!("paired as {} ({})", creds.device_name, creds.device_id)
    };
    println!("{line}");
    Ok(())
}

async fn run(
    outcome: Outcome,
    latency: Duration,
    data_dir: PathBuf,
    json: bool,
    connect_urls: Vec<String>,
) -> Result<(), RelayError> {
    let client = RelayClient::open(data_dir.to_string_lossy().into_owned())?;
    let sent_box = if json { SentBox::StdoutJson } else { SentBox::StdoutText };
    let transport = SimTransport::new(outcome, latency, sent_box, tokio::runtime::Handle::current())
        .with_journal(&data_dir.join(RADIO_JOURNAL))
        .map_err(|e| RelayError::Storage {
            detail: format!("cannot open the radio journal in {}: {e}", data_dir.display()),
        })?;
    let transport = Arc::new(transport);
    let options = ClientOptions { connect_urls, ..ClientOptions::default() };
    let handle = client.start(transport, Some(Arc::new(SimHealth)), Some(Arc::new(LogListener)), options)?;
    wait_for_shutdown_signal().await;
    tracing::info!("stopping");
    handle.stop().await;
    Ok(())
}

#[cfg(unix)]
async fn wait_for_shutdown_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    match signal(SignalKind::terminate()) {
        Ok(mut term) => {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
        }
        Err(e) => {
            tracing::warn!(error = %e, "cannot listen for SIGTERM; only Ctrl-C stops this");
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}

#[cfg(not(unix))]
async fn wait_for_shutdown_signal() {
    let _ = tokio::signal::ctrl_c().await;
}

struct LogListener;

impl RelayListener for LogListener {
    fn on_connection_state(&self, state: ConnectionState) {
        tracing::info!(?state, "connection");
    }

    fn on_message_event(&self, event: MessageEvent) {
        tracing::debug!(request_id = %event.request_id, kind = ?event.kind, "message");
    }
}
