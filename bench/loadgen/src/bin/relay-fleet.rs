//! Many phones on one server: pairs `--devices` simulated phones through the real pairing API,
//! holds one plain WebSocket device link per phone open on loopback (speaking the device
//! protocol: hello, heartbeats, accepted/status for every message), and measures the server's
//! resident memory per connection and its CPU over heartbeat intervals. With `--soak-secs` it
//! then offers steady traffic through `POST /v1/messages` and samples the server's RSS every
//! `--sample-secs`, reporting whether memory stays flat.
//!
//! Not a test: bench/run.sh (the 1,000-device phase) and bench/soak.sh run it.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

type R<T> = Result<T, String>;

const USAGE: &str = "relay-fleet --server-bin PATH --work-dir DIR [--devices 1000] [--heartbeat-secs 5]
    [--cpu-intervals 6] [--soak-secs 0] [--sample-secs 10] [--rate 20] [--prefill 0] [--out FILE.md]";

/// `POST /v1/device/pair` allows 10 tries a minute per client address: each group of 10 phones
/// pairs from an address of its own in 127.0.0.0/8 (all of it is loopback on Linux).
const PAIRS_PER_ADDRESS: usize = 10;

#[derive(Debug, Clone)]
struct Config {
    server_bin: PathBuf,
    work_dir: PathBuf,
    devices: usize,
    heartbeat_secs: u64,
    cpu_intervals: u64,
    soak_secs: u64,
    sample_secs: u64,
    rate: u64,
    /// Messages sent and delivered before the soak, so it runs on a database of some size.
    prefill: u64,
    out: Option<PathBuf>,
}

fn parse_args() -> R<Config> {
    let mut cfg = Config {
        server_bin: PathBuf::new(),
        work_dir: PathBuf::new(),
        devices: 1000,
        heartbeat_secs: 5,
        cpu_intervals: 6,
        soak_secs: 0,
        sample_secs: 10,
        rate: 20,
        prefill: 0,
        out: None,
    };
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let mut value = || args.next().ok_or(format!("{flag} needs a value\n{USAGE}"));
        let num = |v: String| v.parse::<u64>().map_err(|e| format!("{flag}: {e}"));
        match flag.as_str() {
            "--server-bin" => cfg.server_bin = value()?.into(),
            "--work-dir" => cfg.work_dir = value()?.into(),
            "--devices" => cfg.devices = num(value()?)? as usize,
            "--heartbeat-secs" => cfg.heartbeat_secs = num(value()?)?,
            "--cpu-intervals" => cfg.cpu_intervals = num(value()?)?,
            "--soak-secs" => cfg.soak_secs = num(value()?)?,
            "--sample-secs" => cfg.sample_secs = num(value()?)?.max(1),
            "--rate" => cfg.rate = num(value()?)?,
            "--prefill" => cfg.prefill = num(value()?)?,
            "--out" => cfg.out = Some(value()?.into()),
            _ => return Err(format!("unknown option {flag}\n{USAGE}")),
        }
    }
    if cfg.server_bin.as_os_str().is_empty() || cfg.work_dir.as_os_str().is_empty() {
        return Err(USAGE.into());
    }
    Ok(cfg)
}

fn say(msg: impl AsRef<str>) {
    eprintln!("[fleet] {}", msg.as_ref());
}

/// The server process's resident set, in KiB.
fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

/// User + system CPU time of a process, in seconds.
fn cpu_secs(pid: u32) -> f64 {
    let Ok(s) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else { return 0.0 };
    let Some(i) = s.rfind(')') else { return 0.0 };
    let f: Vec<&str> = s[i + 1..].split_whitespace().collect();
    let get = |k: usize| f.get(k).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0);
    let hz = Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8_lossy(&o.stdout).trim().parse::<f64>().ok())
        .unwrap_or(100.0);
    (get(11) + get(12)) as f64 / hz
}

fn mib(kib: f64) -> String {
    format!("{:.1} MiB", kib / 1024.0)
}

struct Server {
    child: Child,
    url: String,
    pid: u32,
    db: String,
}

impl Server {
    fn start(cfg: &Config) -> R<Server> {
        let db = cfg.work_dir.join("fleet.db").to_string_lossy().into_owned();
        let log = std::fs::File::create(cfg.work_dir.join("fleet-server.log")).map_err(|e| e.to_string())?;
        let mut child = Command::new(&cfg.server_bin)
            .args(["serve", "--bind", "127.0.0.1:0", "--json", "--database", &db, "--heartbeat-secs"])
            .arg(cfg.heartbeat_secs.to_string())
            .arg("--data-dir")
            .arg(cfg.work_dir.join("fleet-data"))
            .env("RELAY_LOG", "warn")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(log)
            .spawn()
            .map_err(|e| format!("spawn relay-server: {e}"))?;
        let pid = child.id();
        let mut line = String::new();
        if let Some(out) = child.stdout.take() {
            let mut reader = std::io::BufReader::new(out);
            let _ = std::io::BufRead::read_line(&mut reader, &mut line);
            std::thread::spawn(move || for _ in std::io::BufRead::lines(reader) {});
        }
        let url = serde_json::from_str::<Value>(&line).ok().and_then(|v| v["url"].as_str().map(str::to_owned));
        let Some(url) = url else {
            let _ = child.kill();
            return Err(format!("relay-server did not start: {line:?}"));
        };
        Ok(Server { child, url: url.trim_end_matches('/').to_owned(), pid, db })
    }

    fn create_account(&self, cfg: &Config) -> R<String> {
        let out = Command::new(&cfg.server_bin)
            .args(["account", "create", "--name", "Fleet", "--email", "fleet@bench.example", "--plan", "unlimited"])
            .args(["--json", "--database", &self.db])
            .env("RELAY_LOG", "warn")
            .output()
            .map_err(|e| e.to_string())?;
        let v: Value = serde_json::from_slice(&out.stdout).map_err(|e| format!("account create: {e}"))?;
        v["key"]["key"].as_str().map(str::to_owned).ok_or(format!("no key in {v}"))
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = Command::new("kill").args(["-TERM", &self.pid.to_string()]).status();
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn http(local: Option<std::net::IpAddr>) -> R<reqwest::Client> {
    reqwest::Client::builder()
        .no_proxy()
        .local_address(local)
        .timeout(Duration::from_secs(30))
        .build()
        .map_err(|e| e.to_string())
}

async fn call(c: &reqwest::Client, method: reqwest::Method, url: &str, key: Option<&str>, body: Value) -> R<Value> {
    let mut req = c.request(method.clone(), url);
    if !body.is_null() {
        req = req.json(&body);
    }
    if let Some(key) = key {
        req = req.bearer_auth(key);
    }
    let res = req.send().await.map_err(|e| format!("{method} {url}: {e}"))?;
    let status = res.status();
    let v: Value = res.json().await.map_err(|e| format!("{method} {url}: {e}"))?;
    if !status.is_success() {
        return Err(format!("{method} {url}: {status}: {v}"));
    }
    Ok(v)
}

/// Pairs `n` phones the way the app does (a pairing code from the API, then the phone's
/// `POST /v1/device/pair`); returns their device tokens.
async fn pair_all(base: &str, key: &str, n: usize) -> R<Vec<String>> {
    let groups = n.div_ceil(PAIRS_PER_ADDRESS);
    let api = http(None)?;
    let mut tasks = tokio::task::JoinSet::new();
    let mut tokens = Vec::with_capacity(n);
    for g in 0..groups {
        let address = std::net::IpAddr::V4(std::net::Ipv4Addr::new(127, 1, (g / 250) as u8, (g % 250 + 1) as u8));
        let (api, base, key) = (api.clone(), base.to_owned(), key.to_owned());
        let count = PAIRS_PER_ADDRESS.min(n - g * PAIRS_PER_ADDRESS);
        tasks.spawn(async move {
            let phone = http(Some(address))?;
            let mut out = Vec::new();
            for i in 0..count {
                let offer =
                    call(&api, reqwest::Method::POST, &format!("{base}/v1/devices/pairing"), Some(&key), Value::Null)
                        .await?;
                let code = offer["pairing_code"].as_str().ok_or("no pairing_code")?.to_owned();
                let body = json!({"code": code, "name": format!("Fleet {g}-{i}"), "app_version": "bench"});
                let paired = call(&phone, reqwest::Method::POST, &format!("{base}/v1/device/pair"), None, body).await?;
                out.push(paired["device_token"].as_str().ok_or("no device_token")?.to_owned());
            }
            Ok::<_, String>(out)
        });
        // A few groups at a time: pairing hashes nothing heavy, but 100 at once is a burst.
        if tasks.len() >= 8
            && let Some(done) = tasks.join_next().await
        {
            tokens.extend(done.map_err(|e| e.to_string())??);
        }
    }
    while let Some(done) = tasks.join_next().await {
        tokens.extend(done.map_err(|e| e.to_string())??);
    }
    Ok(tokens)
}

#[derive(Default)]
struct Fleet {
    welcomed: AtomicU64,
    heartbeats: AtomicU64,
    sends: AtomicU64,
    statuses: AtomicU64,
    closed: AtomicU64,
}

/// One phone's device link: hello, then heartbeats; every `send` is accepted, and once
/// confirmed reported `sent` then `delivered`, as a phone with an instant radio would.
async fn phone(url: String, token: String, fleet: Arc<Fleet>) -> R<()> {
    let mut request = url.as_str().into_client_request().map_err(|e| e.to_string())?;
    let bearer = format!("Bearer {token}").parse().map_err(|_| "bad token")?;
    request.headers_mut().insert("authorization", bearer);
    let (ws, _) = tokio_tungstenite::connect_async(request).await.map_err(|e| format!("connect: {e}"))?;
    let (mut tx, mut rx) = ws.split();
    let hello = json!({"type": "hello", "versions": [1], "app_version": "bench", "unconfirmed": []});
    tx.send(Message::text(hello.to_string())).await.map_err(|e| e.to_string())?;
    // The first heartbeat is due one interval after `welcome`, which says how long that is.
    let mut every = Duration::from_secs(30);
    let mut beat = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
    let at = || chrono_free_rfc3339();
    loop {
        tokio::select! {
            _ = beat.tick() => {
                let hb = json!({"type": "heartbeat", "battery_percent": 80, "charging": true, "signal_level": 4,
                    "network": "wifi", "permissions": {"send_sms": true, "read_phone_state": true}});
                tx.send(Message::text(hb.to_string())).await.map_err(|e| e.to_string())?;
                fleet.heartbeats.fetch_add(1, Ordering::Relaxed);
            }
            frame = rx.next() => {
                let Some(Ok(frame)) = frame else {
                    fleet.closed.fetch_add(1, Ordering::Relaxed);
                    return Err("the server closed the link".into());
                };
                let Message::Text(text) = frame else { continue };
                let v: Value = serde_json::from_str(text.as_str()).map_err(|e| e.to_string())?;
                match v["type"].as_str() {
                    Some("welcome") => {
                        every = Duration::from_secs(v["heartbeat_interval_secs"].as_u64().unwrap_or(30).max(1));
                        beat = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
                        fleet.welcomed.fetch_add(1, Ordering::Relaxed);
                    }
                    Some("send") => {
                        fleet.sends.fetch_add(1, Ordering::Relaxed);
                        let accepted = json!({"type": "accepted", "request_id": v["request_id"]});
                        tx.send(Message::text(accepted.to_string())).await.map_err(|e| e.to_string())?;
                    }
                    Some("confirm") => {
                        for status in ["sent", "delivered"] {
                            let report = json!({"type": "status", "request_id": v["request_id"], "status": status, "at": at()});
                            tx.send(Message::text(report.to_string())).await.map_err(|e| e.to_string())?;
                        }
                        fleet.statuses.fetch_add(2, Ordering::Relaxed);
                    }
                    Some("error") => return Err(format!("the server refused the link: {v}")),
                    _ => {}
                }
            }
        }
    }
}

/// Now as RFC 3339 UTC (seconds), without a date crate.
fn chrono_free_rfc3339() -> String {
    let secs = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0);
    let (days, rem) = (secs / 86_400, secs % 86_400);
    // Civil from days (Howard Hinnant's algorithm).
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!("{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z", rem / 3600, rem / 60 % 60, rem % 60)
}

async fn wait_for(what: &str, within: Duration, mut done: impl FnMut() -> bool) -> R<()> {
    let deadline = Instant::now() + within;
    while !done() {
        if Instant::now() > deadline {
            return Err(format!("timed out after {within:?} waiting for {what}"));
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Ok(())
}

fn median(mut v: Vec<f64>) -> f64 {
    if v.is_empty() {
        return 0.0;
    }
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

async fn run(cfg: Config) -> R<String> {
    std::fs::create_dir_all(&cfg.work_dir).map_err(|e| e.to_string())?;
    let server = Server::start(&cfg)?;
    let key = server.create_account(&cfg)?;
    let mut md = String::new();
    tokio::time::sleep(Duration::from_secs(1)).await;
    let rss_fresh = rss_kib(server.pid);

    let started = Instant::now();
    let tokens = pair_all(&server.url, &key, cfg.devices).await?;
    say(format!("paired {} phones in {:.1} s", tokens.len(), started.elapsed().as_secs_f64()));
    tokio::time::sleep(Duration::from_secs(2)).await;
    let rss_paired = rss_kib(server.pid);

    let fleet = Arc::new(Fleet::default());
    let connect_url = format!("{}/v1/device/connect", server.url.replacen("http://", "ws://", 1));
    let started = Instant::now();
    let mut links = tokio::task::JoinSet::new();
    for token in tokens {
        links.spawn(phone(connect_url.clone(), token, fleet.clone()));
        // Phones come online over a few seconds, not in one burst of handshakes.
        if links.len() % 50 == 0 {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
    let n = cfg.devices as u64;
    wait_for("every phone welcomed", Duration::from_secs(120), || {
        fleet.welcomed.load(Ordering::Relaxed) >= n || fleet.closed.load(Ordering::Relaxed) > 0
    })
    .await?;
    if fleet.closed.load(Ordering::Relaxed) > 0 {
        return Err("a link was closed while connecting".into());
    }
    say(format!("{n} links up in {:.1} s", started.elapsed().as_secs_f64()));
    // Two heartbeat intervals: every session has seen a heartbeat and settled.
    tokio::time::sleep(Duration::from_secs(2 * cfg.heartbeat_secs + 1)).await;
    let rss_connected = rss_kib(server.pid);
    let per_link = (rss_connected as f64 - rss_paired as f64) / n as f64;

    let (cpu0, beats0, t0) = (cpu_secs(server.pid), fleet.heartbeats.load(Ordering::Relaxed), Instant::now());
    tokio::time::sleep(Duration::from_secs(cfg.cpu_intervals * cfg.heartbeat_secs)).await;
    let (cpu1, beats1, elapsed) = (cpu_secs(server.pid), fleet.heartbeats.load(Ordering::Relaxed), t0.elapsed());
    let cores = (cpu1 - cpu0) / elapsed.as_secs_f64();
    let beats = beats1 - beats0;
    let per_beat_us = (cpu1 - cpu0) * 1e6 / beats.max(1) as f64;
    let online = online_devices(&server.url, &key).await?;

    md.push_str(&format!(
        "### {n} phones on one instance (SQLite, plain WebSocket on loopback)\n\n\
         | | |\n| --- | --- |\n\
         | Server RSS: fresh / {n} paired / {n} links open | {} / {} / {} |\n\
         | **RSS per open link** | **{:.1} KiB** |\n\
         | Devices online (`GET /v1/devices`) | {online} of {n} |\n\
         | Heartbeat interval (`serve --heartbeat-secs`) | {} s |\n\
         | **Server CPU with {n} idle links** | **{:.3} cores** over {:.0} s ({beats} heartbeats, {:.0} µs of CPU per heartbeat) |\n",
        mib(rss_fresh as f64),
        mib(rss_paired as f64),
        mib(rss_connected as f64),
        per_link,
        cfg.heartbeat_secs,
        cores,
        elapsed.as_secs_f64(),
        per_beat_us,
    ));

    if cfg.soak_secs > 0 {
        md.push('\n');
        let mut already = 0;
        if cfg.prefill > 0 {
            let (text, delivered) = prefill(&cfg, &server, &key).await?;
            md.push_str(&text);
            already = delivered;
        }
        md.push_str(&soak(&cfg, &server, &key, &fleet, already).await?);
    }
    if fleet.closed.load(Ordering::Relaxed) > 0 {
        return Err(format!("{} links were closed by the server during the run", fleet.closed.load(Ordering::Relaxed)));
    }
    links.abort_all();
    Ok(md)
}

async fn online_devices(base: &str, key: &str) -> R<usize> {
    let v = call(&http(None)?, reqwest::Method::GET, &format!("{base}/v1/devices"), Some(key), Value::Null).await?;
    Ok(v["devices"].as_array().map_or(0, |d| d.iter().filter(|d| d["online"] == true).count()))
}

async fn queue_counts(c: &reqwest::Client, base: &str, key: &str) -> R<Value> {
    Ok(call(c, reqwest::Method::GET, &format!("{base}/v1/queue"), Some(key), Value::Null).await?["counts"].clone())
}

/// `--prefill` messages through `POST /v1/messages/bulk` (batches of 20,000), delivered by the
/// same phones within their pacing before the soak starts: a server in service has a database
/// of some size, and the database's page caches fill as it grows.
async fn prefill(cfg: &Config, server: &Server, key: &str) -> R<(String, u64)> {
    let api = http(None)?;
    let started = Instant::now();
    say(format!("prefill: {} messages", cfg.prefill));
    let mut sent = 0u64;
    while sent < cfg.prefill {
        let n = (cfg.prefill - sent).min(20_000);
        let recipients: Vec<Value> =
            (sent..sent + n).map(|i| json!({"to": format!("+92301{:07}", 1_000_000 + i)})).collect();
        let body = json!({"message": "Prefill", "recipients": recipients});
        let v = call(&api, reqwest::Method::POST, &format!("{}/v1/messages/bulk", server.url), Some(key), body).await?;
        sent += v["queued"].as_u64().ok_or(format!("bulk: {v}"))?;
    }
    let deadline = Instant::now() + Duration::from_secs(1200);
    loop {
        let counts = queue_counts(&api, &server.url, key).await?;
        if counts["delivered"].as_u64().unwrap_or(0) >= sent {
            break;
        }
        if Instant::now() > deadline {
            return Err(format!("prefill not delivered in 20 minutes: {counts}"));
        }
        tokio::time::sleep(Duration::from_secs(2)).await;
    }
    let secs = started.elapsed().as_secs_f64();
    say(format!("prefill: {sent} delivered in {secs:.0} s; RSS {}", mib(rss_kib(server.pid) as f64)));
    let text = format!(
        "Before the soak: {sent} messages sent through `POST /v1/messages/bulk` and delivered by the same phones within their pacing ({secs:.0} s), so the soak runs on a database of some size; server RSS then {}.\n\n",
        mib(rss_kib(server.pid) as f64)
    );
    Ok((text, sent))
}

/// Steady traffic for `--soak-secs` at `--rate` messages a second, RSS sampled as it goes.
/// `already`: messages delivered before it (the prefill), counted out of the final tally.
async fn soak(cfg: &Config, server: &Server, key: &str, fleet: &Arc<Fleet>, already: u64) -> R<String> {
    let api = http(None)?;
    let accepted = Arc::new(AtomicU64::new(0));
    let refused = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let end = started + Duration::from_secs(cfg.soak_secs);
    let mut samples: Vec<(f64, u64)> = vec![(0.0, rss_kib(server.pid))];
    let cpu_start = cpu_secs(server.pid);
    let mut next_sample = started + Duration::from_secs(cfg.sample_secs);
    let mut tick = tokio::time::interval(Duration::from_secs_f64(1.0 / cfg.rate.max(1) as f64));
    let mut n = 0u64;
    say(format!("soak: {} msg/s for {} s, RSS every {} s", cfg.rate, cfg.soak_secs, cfg.sample_secs));
    while Instant::now() < end {
        tick.tick().await;
        n += 1;
        let (api, url, key) = (api.clone(), format!("{}/v1/messages", server.url), key.to_owned());
        let (ok, refused) = (accepted.clone(), refused.clone());
        tokio::spawn(async move {
            let body = json!({"to": format!("+92300{:07}", 1_000_000 + n % 9_000_000), "message": format!("Soak {n}")});
            match call(&api, reqwest::Method::POST, &url, Some(&key), body).await {
                Ok(_) => ok.fetch_add(1, Ordering::Relaxed),
                Err(_) => refused.fetch_add(1, Ordering::Relaxed),
            };
        });
        if Instant::now() >= next_sample {
            let t = started.elapsed().as_secs_f64();
            let rss = rss_kib(server.pid);
            samples.push((t, rss));
            say(format!("soak t={t:.0}s RSS {} accepted {}", mib(rss as f64), accepted.load(Ordering::Relaxed)));
            next_sample += Duration::from_secs(cfg.sample_secs);
        }
    }
    let soak_secs = started.elapsed().as_secs_f64();
    let cpu = (cpu_secs(server.pid) - cpu_start) / soak_secs;
    // Let the last messages finish before counting.
    let wanted = accepted.load(Ordering::Relaxed);
    let mut counts = Value::Null;
    let drain = Instant::now();
    while drain.elapsed() < Duration::from_secs(60) {
        counts = queue_counts(&api, &server.url, key).await?;
        if counts["delivered"].as_u64().unwrap_or(0) >= already + wanted {
            break;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }

    // Flat: after the first tenth (warm-up: caches, pools and allocator arenas fill), the median
    // of the last quarter of samples is within 5 % (or 2 MiB) of the median of the first quarter.
    let settled: Vec<f64> = samples.iter().filter(|(t, _)| *t >= soak_secs / 10.0).map(|(_, r)| *r as f64).collect();
    let quarter = (settled.len() / 4).max(1);
    let early = median(settled.iter().take(quarter).copied().collect());
    let late = median(settled.iter().rev().take(quarter).copied().collect());
    let growth = late - early;
    let flat = growth <= (early * 0.05).max(2048.0);
    let (min, max) = samples.iter().fold((u64::MAX, 0), |(lo, hi), (_, r)| (lo.min(*r), hi.max(*r)));
    let series: Vec<String> = samples.iter().map(|(t, r)| format!("{:.0}s {:.1}", t, *r as f64 / 1024.0)).collect();
    Ok(format!(
        "### Soak: {} s of steady traffic over the same {} links\n\n\
         | | |\n| --- | --- |\n\
         | Offered | {} msg/s (`POST /v1/messages`), {} accepted, {} refused |\n\
         | Reached the phones / delivered | {} `send` frames (prefill included); queue counts at the end: {} |\n\
         | Server CPU during the soak | {:.3} cores |\n\
         | Server RSS min / max | {} / {} |\n\
         | RSS median, first vs last quarter after warm-up | {} → {} ({:+.1} MiB) |\n\
         | **Memory flat** (last quarter within 5 % or 2 MiB of the first) | **{}** |\n\n\
         RSS samples every {} s (MiB): {}\n",
        cfg.soak_secs,
        cfg.devices,
        cfg.rate,
        wanted,
        refused.load(Ordering::Relaxed),
        fleet.sends.load(Ordering::Relaxed),
        counts,
        cpu,
        mib(min as f64),
        mib(max as f64),
        mib(early),
        mib(late),
        growth / 1024.0,
        if flat { "yes" } else { "NO" },
        cfg.sample_secs,
        series.join(", "),
    ))
}

#[tokio::main]
async fn main() {
    let cfg = match parse_args() {
        Ok(cfg) => cfg,
        Err(e) => {
            eprintln!("{e}");
            std::process::exit(2);
        }
    };
    let out = cfg.out.clone();
    match run(cfg).await {
        Ok(md) => {
            print!("{md}");
            if let Some(out) = out
                && let Err(e) = std::fs::write(&out, &md)
            {
                eprintln!("cannot write {}: {e}", out.display());
                std::process::exit(1);
            }
        }
        Err(e) => {
            eprintln!("relay-fleet failed: {e}");
            std::process::exit(1);
        }
    }
}
