use std::process::ExitCode;

use clap::Parser;
use relay_server::cli::{self, Cli};
use tracing_subscriber::EnvFilter;

// The server allocates and frees small buffers on every request from several threads at once
// (requests on the workers, their rows on the database writer); mimalloc's per-thread pages
// do that with less work than the system allocator.
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
