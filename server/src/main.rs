use std::process::ExitCode;

use clap::Parser;
use relay_server::cli::{self, Cli};
use tracing_subscriber::EnvFilter;

/// mimalloc rather than glibc's malloc: a server with many short-lived blocking threads grows
/// glibc's per-thread arenas and keeps the freed pages, so its resident memory creeps up over
/// days of steady traffic; mimalloc returns freed pages to the system (see bench/RESULTS.md,
/// the soak).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    init_logging();
    let cli = Cli::parse();
    let json = cli.json;
    match cli::run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            e.report(json);
            ExitCode::FAILURE
        }
    }
}

/// Logs go to standard error, filtered by `RELAY_LOG` (default `info`); `RELAY_LOG_FORMAT=json`
/// gives one JSON object per line for log collectors.
fn init_logging() {
    let filter = EnvFilter::try_from_env("RELAY_LOG").unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    if std::env::var("RELAY_LOG_FORMAT").is_ok_and(|f| f == "json") {
        builder.json().init();
    } else {
        builder.init();
    }
}
