//! `relay-device`: a simulated phone on a computer, for development and end-to-end tests.
//!
//! Standard output is the simulated phone's "sent box": exactly one line per message handed
//! to the (simulated) SMS transport, flushed at once. Tests count these lines to prove each
//! message went out exactly once, even across `kill -9` and a restart. Logs go to stderr.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use clap::{Parser, Subcommand, ValueEnum};
use relay_core::protocol::failure;
use relay_core::protocol::frames::{DeliveryStatus, Permissions, SimInfo};
use relay_core::{
    ClientOptions, ConnectionState, DeviceHealth, DeviceInfo, HealthProbe, MessageEvent, OutgoingSms, RelayClient,
    RelayError, RelayListener, SmsTransport, StatusSink, TransportResult,
};
use sha2::{Digest, Sha256};
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

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Outcome {
    Delivered,
    Failed,
    /// Delivered or failed, decided by a hash of the request id (the same on every run).
    Mixed,
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
    let transport = Arc::new(SimTransport { outcome, latency, json, runtime: tokio::runtime::Handle::current() });
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

/// "Sends" by printing one line to stdout, then reports like a radio would, later and from
/// another task.
struct SimTransport {
    outcome: Outcome,
    latency: Duration,
    json: bool,
    runtime: tokio::runtime::Handle,
}

impl SimTransport {
    fn print_sent(&self, sms: &OutgoingSms) {
        let line = if self.json {
            serde_json::json!({"request_id": sms.request_id, "to": sms.to, "body": sms.body}).to_string()
        } else {
            // One message, one line: line breaks in the text are shown escaped.
            let body = sms.body.replace('\\', "\\\\").replace('\n', "\\n").replace('\r', "\\r");
            format!("sent {} to {}: {body}", sms.request_id, sms.to)
        };
        let mut out = std::io::stdout().lock();
        if let Err(e) = writeln!(out, "{line}").and_then(|()| out.flush()) {
            tracing::error!(error = %e, request_id = %sms.request_id, "cannot write to stdout");
        }
    }

    fn delivers(&self, request_id: &str) -> bool {
        match self.outcome {
            Outcome::Delivered => true,
            Outcome::Failed => false,
            Outcome::Mixed => Sha256::digest(request_id.as_bytes())[0] % 2 == 0,
        }
    }

    /// Reports the rest of the message's life, starting after `already`.
    fn report_later(&self, request_id: &str, already: Option<DeliveryStatus>, sink: Arc<StatusSink>) {
        let delivers = self.delivers(request_id);
        let latency = self.latency;
        self.runtime.spawn(async move {
            if !delivers {
                tokio::time::sleep(latency).await;
                sink.report(TransportResult::Failed {
                    code: failure::GENERIC_FAILURE.to_owned(),
                    reason: failure::reason(failure::GENERIC_FAILURE),
                });
                return;
            }
            if already.is_none() {
                tokio::time::sleep(latency).await;
                sink.report(TransportResult::Sent);
            }
            tokio::time::sleep(latency).await;
            sink.report(TransportResult::Delivered);
        });
    }
}

impl SmsTransport for SimTransport {
    fn send(&self, sms: OutgoingSms, sink: Arc<StatusSink>) {
        self.print_sent(&sms);
        self.report_later(&sms.request_id, None, sink);
    }

    /// The simulated radio prints as it hands over, so a message handed over before a restart
    /// counts as transmitted: finish its story, print nothing.
    fn recover(&self, sms: OutgoingSms, last_reported: Option<DeliveryStatus>, sink: Arc<StatusSink>) {
        tracing::info!(request_id = %sms.request_id, ?last_reported, "resuming reports after a restart");
        self.report_later(&sms.request_id, last_reported, sink);
    }
}

fn simulated_sim() -> SimInfo {
    SimInfo { slot: 0, subscription_id: Some(1), carrier: Some("Simulated".to_owned()), number: None }
}

/// A healthy phone on Wi-Fi, plugged in.
struct SimHealth;

impl HealthProbe for SimHealth {
    fn snapshot(&self) -> DeviceHealth {
        DeviceHealth {
            battery_percent: Some(100),
            charging: Some(true),
            signal_level: Some(4),
            network: Some("wifi".to_owned()),
            sims: vec![simulated_sim()],
            permissions: Permissions {
                send_sms: true,
                read_phone_state: true,
                notifications: true,
                battery_optimization_exempt: true,
            },
        }
    }
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
