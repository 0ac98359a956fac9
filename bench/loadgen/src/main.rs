//! relay-loadgen: the Relay benchmark harness (see bench/README.md).
//!
//! It starts the release `relay-server` (and, for the message-path figures, simulated phones,
//! `relay-device run`) as child processes on 127.0.0.1, drives them over HTTP, and writes a
//! Markdown fragment with the figures. Per backend it measures:
//!
//! 1. closed-loop `GET /v1/health` and `POST /v1/messages` with N keep-alive connections
//!    (fresh database, no phone: pure enqueue), and their ratio;
//! 2. API → `delivered` for M messages offered as fast as the API takes them, with D phones;
//! 3. dispatch latency (202 → the phone printed the message) at a fixed offered rate;
//! 4. OTP: closed-loop `POST /v1/otp/send` (sends/s, latency), then `POST /v1/otp/verify`
//!    over the codes just sent (verifications/s, p99 latency);
//! 5. webhooks: E events queued for one endpoint while its receiver (in this process, on
//!    loopback) holds every request, then the receiver answers and the drain is timed
//!    (deliveries/s).
//! 6. bulk and directory: `POST /v1/messages/bulk` with `--bulk-size` recipients (time to 202),
//!    a CSV import of as many recipients, then search latency over them by name and by number.
//!
//! Every loop is bounded in count and in time; every child is stopped at the end (SIGTERM,
//! then SIGKILL), also when a phase fails.

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

type R<T> = Result<T, String>;

const USAGE: &str = "relay-loadgen --server-bin PATH --device-bin PATH --work-dir DIR --out FILE.md
  [--backends sqlite,postgres] [--postgres-url postgres://postgres@127.0.0.1:5432/test]
  [--connections 64] [--warmup-secs 1] [--duration-secs 5] [--rounds 3]
  [--e2e-messages 20000] [--devices 20] [--device-latency-ms 1] [--e2e-timeout-secs 45]
  [--rate 1000] [--rate-secs 10] [--otp-secs 10] [--webhook-events 10000]
  [--bulk-size 100000] [--phases 1,2,3,4,5,6]";

#[derive(Clone, Debug)]
struct Config {
    server_bin: PathBuf,
    device_bin: PathBuf,
    work_dir: PathBuf,
    out: PathBuf,
    backends: Vec<String>,
    pg_base: String,
    connections: usize,
    warmup: f64,
    duration: f64,
    /// Phase 1: health and enqueue measured alternately this many times; the ratio is the
    /// median of the rounds', so one noisy window cannot make or break the verdict.
    rounds: usize,
    e2e_messages: u64,
    devices: usize,
    latency_ms: u64,
    e2e_timeout: f64,
    rate: f64,
    rate_secs: f64,
    otp_secs: f64,
    /// Phase 5: webhook events queued before the receiver starts answering.
    webhook_events: u64,
    /// Phase 6: recipients per bulk send and in the directory.
    bulk_size: usize,
    /// Which phases run; 2 and 3 share their phones, so either runs both.
    phases: Vec<u32>,
}

fn parse_args() -> R<Config> {
    let mut c = Config {
        server_bin: PathBuf::new(),
        device_bin: PathBuf::new(),
        work_dir: PathBuf::new(),
        out: PathBuf::new(),
        backends: vec!["sqlite".into()],
        pg_base: "postgres://postgres@127.0.0.1:5432/test".into(),
        connections: 64,
        warmup: 1.0,
        duration: 5.0,
        rounds: 3,
        e2e_messages: 20_000,
        devices: 20,
        latency_ms: 1,
        e2e_timeout: 45.0,
        rate: 1000.0,
        rate_secs: 10.0,
        otp_secs: 10.0,
        webhook_events: 10_000,
        bulk_size: 100_000,
        phases: vec![1, 2, 3, 4, 5, 6],
    };
    fn num<T: std::str::FromStr>(flag: &str, v: R<String>) -> R<T> {
        let v = v?;
        v.parse().map_err(|_| format!("{flag}: not a number: {v}"))
    }
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let v = it.next().ok_or(format!("{flag} needs a value"));
        match flag.as_str() {
            "--server-bin" => c.server_bin = v?.into(),
            "--device-bin" => c.device_bin = v?.into(),
            "--work-dir" => c.work_dir = v?.into(),
            "--out" => c.out = v?.into(),
            "--backends" => c.backends = v?.split(',').filter(|s| !s.is_empty()).map(str::to_owned).collect(),
            "--postgres-url" => c.pg_base = v?,
            "--connections" => c.connections = num(&flag, v)?,
            "--warmup-secs" => c.warmup = num(&flag, v)?,
            "--duration-secs" => c.duration = num(&flag, v)?,
            "--rounds" => c.rounds = num::<usize>(&flag, v)?.max(1),
            "--e2e-messages" => c.e2e_messages = num(&flag, v)?,
            "--devices" => c.devices = num(&flag, v)?,
            "--device-latency-ms" => c.latency_ms = num(&flag, v)?,
            "--e2e-timeout-secs" => c.e2e_timeout = num(&flag, v)?,
            "--rate" => c.rate = num(&flag, v)?,
            "--rate-secs" => c.rate_secs = num(&flag, v)?,
            "--otp-secs" => c.otp_secs = num(&flag, v)?,
            "--webhook-events" => c.webhook_events = num(&flag, v)?,
            "--bulk-size" => c.bulk_size = num(&flag, v)?,
            "--phases" => {
                c.phases = v?
                    .split(',')
                    .filter(|p| !p.is_empty())
                    .map(|p| p.trim().parse().map_err(|_| format!("--phases: not a phase number: {p}")))
                    .collect::<R<Vec<u32>>>()?
            }
            "-h" | "--help" => {
                println!("{USAGE}");
                std::process::exit(0);
            }
            other => return Err(format!("unknown argument {other}\n{USAGE}")),
        }
    }
    if c.server_bin.as_os_str().is_empty()
        || c.device_bin.as_os_str().is_empty()
        || c.work_dir.as_os_str().is_empty()
        || c.out.as_os_str().is_empty()
    {
        return Err(format!("--server-bin, --device-bin, --work-dir and --out are required\n{USAGE}"));
    }
    if c.connections == 0 || c.connections > 1024 || c.devices == 0 || c.devices > 200 || c.rate <= 0.0 {
        return Err("connections 1..=1024, devices 1..=200, rate > 0".into());
    }
    Ok(c)
}

fn say(msg: impl AsRef<str>) {
    eprintln!("[loadgen {}] {}", chrono_like_now(), msg.as_ref());
}

fn chrono_like_now() -> String {
    let secs = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0);
    format!("{:02}:{:02}:{:02}Z", (secs / 3600) % 24, (secs / 60) % 60, secs % 60)
}

// ---------------------------------------------------------------------------------------------
// CPU accounting from /proc: who used the two cores during a phase.

#[derive(Clone, Debug)]
struct CpuSnap {
    at: Instant,
    server: u64,
    /// The server's database writer threads (SQLite's one, PostgreSQL's main and intake).
    writers: u64,
    devices: u64,
    me: u64,
    busy: u64,
    total: u64,
}

#[derive(Clone, Debug, Default)]
struct CpuUse {
    server: f64,
    writers: f64,
    /// Share of samples in which a writer thread waited on the disk (closed loops only).
    writer_disk_wait: Option<f64>,
    devices: f64,
    loadgen: f64,
    others: f64,
    machine: f64,
}

fn proc_ticks(pid: &str) -> u64 {
    stat_ticks(Path::new(&format!("/proc/{pid}/stat")))
}

/// User and system CPU ticks in a `/proc` `stat` file (of a process or of one of its threads).
fn stat_ticks(stat: &Path) -> u64 {
    let Ok(s) = std::fs::read_to_string(stat) else { return 0 };
    let f: Vec<&str> = stat_fields(&s).collect();
    // f[0] is field 3 (state): utime is field 14, stime field 15.
    let get = |k: usize| f.get(k).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0);
    get(11) + get(12)
}

/// The fields of a `/proc` `stat` line after the command name (which may hold spaces), from
/// field 3, the state.
fn stat_fields(stat: &str) -> impl Iterator<Item = &str> {
    stat.rfind(')').map(|i| &stat[i + 1..]).unwrap_or_default().split_whitespace()
}

/// The server's writer threads: their `/proc` task folders.
fn writer_tasks(pid: u32) -> Vec<std::path::PathBuf> {
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else { return vec![] };
    tasks
        .flatten()
        .map(|t| t.path())
        .filter(|t| {
            std::fs::read_to_string(t.join("comm"))
                .is_ok_and(|c| c.starts_with("relay-db-writer") || c.starts_with("relay-db-intake"))
        })
        .collect()
}

/// Samples the server's writer threads' state every 10 ms until `stop`: the share of samples in
/// which one waited on the disk (state D), as a writer's own WAL checkpoint does in `fsync`.
fn sample_disk_wait(pid: u32, stop: Arc<std::sync::atomic::AtomicBool>) -> std::thread::JoinHandle<Option<f64>> {
    std::thread::spawn(move || {
        let tasks = writer_tasks(pid);
        let (mut samples, mut waiting) = (0u64, 0u64);
        while !stop.load(Ordering::Relaxed) {
            for t in &tasks {
                let Ok(stat) = std::fs::read_to_string(t.join("stat")) else { continue };
                samples += 1;
                waiting += u64::from(stat_fields(&stat).next() == Some("D"));
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        (samples > 0).then(|| waiting as f64 / samples as f64)
    })
}

fn machine_ticks() -> (u64, u64) {
    let s = std::fs::read_to_string("/proc/stat").unwrap_or_default();
    let line = s.lines().next().unwrap_or_default();
    let v: Vec<u64> = line.split_whitespace().skip(1).take(8).filter_map(|x| x.parse().ok()).collect();
    if v.len() < 5 {
        return (0, 0);
    }
    let total: u64 = v.iter().sum();
    let idle = v[3] + v[4];
    (total - idle, total)
}

fn snap(server_pid: Option<u32>, device_pids: &[u32]) -> CpuSnap {
    let (busy, total) = machine_ticks();
    CpuSnap {
        at: Instant::now(),
        server: server_pid.map(|p| proc_ticks(&p.to_string())).unwrap_or(0),
        writers: server_pid.map(|p| writer_tasks(p).iter().map(|t| stat_ticks(&t.join("stat"))).sum()).unwrap_or(0),
        devices: device_pids.iter().map(|p| proc_ticks(&p.to_string())).sum(),
        me: proc_ticks("self"),
        busy,
        total,
    }
}

fn clk_tck() -> f64 {
    Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8_lossy(&o.stdout).trim().parse().ok())
        .unwrap_or(100.0)
}

fn ncpu() -> f64 {
    std::thread::available_parallelism().map(|n| n.get() as f64).unwrap_or(1.0)
}

fn cpu_use(a: &CpuSnap, b: &CpuSnap) -> CpuUse {
    let secs = b.at.duration_since(a.at).as_secs_f64().max(1e-3);
    let hz = clk_tck();
    let cores = |x: u64, y: u64| y.saturating_sub(x) as f64 / hz / secs;
    let server = cores(a.server, b.server);
    let writers = cores(a.writers, b.writers);
    let devices = cores(a.devices, b.devices);
    let loadgen = cores(a.me, b.me);
    let dt = b.total.saturating_sub(a.total) as f64;
    let machine = if dt > 0.0 { b.busy.saturating_sub(a.busy) as f64 / dt * ncpu() } else { 0.0 };
    let others = (machine - server - devices - loadgen).max(0.0);
    CpuUse { server, writers, writer_disk_wait: None, devices, loadgen, others, machine }
}

fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "?".into())
}

fn load1() -> f64 {
    loadavg().split_whitespace().next().and_then(|v| v.parse().ok()).unwrap_or(0.0)
}

fn cpu_line(c: &CpuUse) -> String {
    let wait =
        c.writer_disk_wait.map(|w| format!(", waiting on the disk {:.0} % of the time", w * 100.0)).unwrap_or_default();
    format!(
        "CPU in cores (of {:.0}): server {:.2} (its database writers {:.2}{wait}), phones {:.2}, loadgen {:.2}, everything else (PostgreSQL, other work) {:.2}; machine busy {:.2}",
        ncpu(),
        c.server,
        c.writers,
        c.devices,
        c.loadgen,
        c.others,
        c.machine
    )
}

// ---------------------------------------------------------------------------------------------
// Databases, the server and the phones as child processes.

struct Database {
    url: String,
    pg: Option<(String, String)>,
}

impl Database {
    fn new(cfg: &Config, backend: &str, name: &str, dir: &Path) -> R<Database> {
        std::fs::create_dir_all(dir).map_err(|e| format!("mkdir {}: {e}", dir.display()))?;
        match backend {
            "sqlite" => Ok(Database { url: dir.join("relay.db").to_string_lossy().into_owned(), pg: None }),
            "postgres" => {
                let nanos = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map(|d| d.as_nanos())
                    .unwrap_or(0);
                let schema = format!("bench_{name}_{}_{}", std::process::id(), nanos % 1_000_000_000);
                psql(&cfg.pg_base, &format!("CREATE SCHEMA {schema}"))?;
                let sep = if cfg.pg_base.contains('?') { '&' } else { '?' };
                let url = format!("{}{sep}options=-csearch_path%3D{schema}", cfg.pg_base);
                Ok(Database { url, pg: Some((cfg.pg_base.clone(), schema)) })
            }
            other => Err(format!("unknown backend {other}")),
        }
    }
}

impl Drop for Database {
    fn drop(&mut self) {
        if let Some((base, schema)) = &self.pg
            && let Err(e) = psql(base, &format!("DROP SCHEMA IF EXISTS {schema} CASCADE"))
        {
            say(format!("could not drop schema {schema}: {e}"));
        }
    }
}

fn psql(base: &str, sql: &str) -> R<()> {
    let out = Command::new("psql")
        .args([base, "-v", "ON_ERROR_STOP=1", "-qXc", sql])
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("psql: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!("psql {sql:?} failed: {}", String::from_utf8_lossy(&out.stderr).trim()))
    }
}

fn create_account(cfg: &Config, db: &Database, name: &str) -> R<String> {
    let email = format!("{name}@bench.example");
    let out = Command::new(&cfg.server_bin)
        .args(["account", "create", "--name", name, "--email", &email, "--plan", "unlimited", "--json", "--database"])
        .arg(&db.url)
        .env("RELAY_LOG", "warn")
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("relay-server account create: {e}"))?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    if !out.status.success() {
        return Err(format!("account create failed: {stdout} {}", String::from_utf8_lossy(&out.stderr)));
    }
    let v: Value =
        serde_json::from_str(stdout.trim()).map_err(|e| format!("account create printed no JSON ({e}): {stdout}"))?;
    v["key"]["key"].as_str().map(str::to_owned).ok_or(format!("no key in {v}"))
}

/// Sends SIGTERM, waits up to `grace`, then SIGKILL. Returns how it ended.
fn stop_child(child: &mut Child, grace: Duration) -> String {
    if let Ok(Some(status)) = child.try_wait() {
        return format!("had already exited ({status})");
    }
    let _ = Command::new("kill").args(["-TERM", &child.id().to_string()]).status();
    let started = Instant::now();
    while started.elapsed() < grace {
        if let Ok(Some(status)) = child.try_wait() {
            return format!("stopped on SIGTERM in {} ms ({status})", started.elapsed().as_millis());
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = child.kill();
    let _ = child.wait();
    format!("did not stop within {} s of SIGTERM: killed", grace.as_secs())
}

struct Server {
    child: Option<Child>,
    url: String,
    log: PathBuf,
    pid: u32,
    restart_with: (PathBuf, String, PathBuf, String, Vec<String>),
    runs: u32,
}

/// A free loopback port, so a restarted server keeps the URL its phones were paired with.
fn free_port() -> R<u16> {
    let l = std::net::TcpListener::bind("127.0.0.1:0").map_err(|e| format!("bind: {e}"))?;
    l.local_addr().map(|a| a.port()).map_err(|e| e.to_string())
}

impl Server {
    fn start(cfg: &Config, db: &Database, dir: &Path) -> R<Server> {
        Self::start_with(cfg, db, dir, &[])
    }

    /// Starts it with extra `serve` arguments.
    fn start_with(cfg: &Config, db: &Database, dir: &Path, extra: &[&str]) -> R<Server> {
        let bind = format!("127.0.0.1:{}", free_port()?);
        let extra = extra.iter().map(|a| (*a).to_owned()).collect();
        Self::spawn(cfg.server_bin.clone(), db.url.clone(), dir.to_owned(), bind, extra, 0)
    }

    /// Stops and starts it again on the same database and port (its in-memory limiters reset).
    fn restart(&mut self) -> R<()> {
        self.stop();
        let (bin, url, dir, bind, extra) = self.restart_with.clone();
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            match Self::spawn(bin.clone(), url.clone(), dir.clone(), bind.clone(), extra.clone(), self.runs + 1) {
                Ok(mut fresh) => {
                    std::mem::swap(self, &mut fresh);
                    return Ok(());
                }
                Err(e) if Instant::now() > deadline => return Err(e),
                Err(_) => std::thread::sleep(Duration::from_millis(200)),
            }
        }
    }

    fn spawn(bin: PathBuf, db_url: String, dir: PathBuf, bind: String, extra: Vec<String>, runs: u32) -> R<Server> {
        let log = dir.join(format!("server-{runs}.log"));
        let log_file = std::fs::File::create(&log).map_err(|e| format!("{}: {e}", log.display()))?;
        let mut child = Command::new(&bin)
            .args(["serve", "--bind", &bind, "--json", "--database"])
            .arg(&db_url)
            .arg("--data-dir")
            .arg(dir.join("data"))
            .args(&extra)
            .env("RELAY_LOG", "warn")
            .env("NO_COLOR", "1")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(log_file)
            .spawn()
            .map_err(|e| format!("spawn relay-server: {e}"))?;
        let pid = child.id();
        let Some(stdout) = child.stdout.take() else {
            let _ = child.kill();
            return Err("no stdout".into());
        };
        let mut reader = BufReader::new(stdout);
        let mut line = String::new();
        let _ = reader.read_line(&mut line);
        let url = serde_json::from_str::<Value>(&line)
            .ok()
            .filter(|v| v["event"] == "listening")
            .and_then(|v| v["url"].as_str().map(|u| u.trim_end_matches('/').to_owned()));
        let Some(url) = url else {
            let _ = child.kill();
            let _ = child.wait();
            let text = std::fs::read_to_string(&log).unwrap_or_default();
            return Err(format!("relay-server did not start; it printed {line:?}; log:\n{text}"));
        };
        // Keep draining its stdout so a later line never meets a closed pipe.
        std::thread::spawn(move || for _ in reader.lines() {});
        Ok(Server { child: Some(child), url, log, pid, restart_with: (bin, db_url, dir, bind, extra), runs })
    }

    fn stop(&mut self) -> String {
        match self.child.take() {
            Some(mut c) => stop_child(&mut c, Duration::from_secs(20)),
            None => "not running".into(),
        }
    }

    fn exited(&mut self) -> Option<String> {
        self.child.as_mut().and_then(|c| c.try_wait().ok().flatten()).map(|s| s.to_string())
    }

    /// Counts WARN/ERROR lines in its log, with a few distinct examples.
    fn log_summary(&self) -> (usize, usize, Vec<String>) {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let (mut warn, mut error) = (0, 0);
        let mut samples: Vec<String> = Vec::new();
        for line in text.lines() {
            let is_err = line.contains("ERROR") || line.contains("\"level\":\"ERROR\"");
            let is_warn = line.contains("WARN");
            if is_err {
                error += 1;
            } else if is_warn {
                warn += 1;
            } else {
                continue;
            }
            // Strip the timestamp so equal messages compare equal.
            let tail: String = line.split_once(' ').map(|(_, t)| t).unwrap_or(line).chars().take(220).collect();
            if samples.len() < 5 && !samples.iter().any(|s| s[..s.len().min(80)] == tail[..tail.len().min(80)]) {
                samples.push(tail);
            }
        }
        (warn, error, samples)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// What the phones printed: request id → the instant this process read the line.
struct Prints {
    map: Mutex<HashMap<String, Instant>>,
    per_device: Vec<AtomicU64>,
    dupes: AtomicU64,
    bad_lines: AtomicU64,
}

impl Prints {
    fn get(&self, rid: &str) -> Option<Instant> {
        self.map.lock().ok().and_then(|m| m.get(rid).copied())
    }
    fn counts(&self) -> Vec<u64> {
        self.per_device.iter().map(|c| c.load(Ordering::Relaxed)).collect()
    }
}

const PAIR_BURST: usize = 10;

struct Phones {
    children: Vec<Child>,
    pids: Vec<u32>,
    dirs: Vec<PathBuf>,
    readers: Vec<std::thread::JoinHandle<()>>,
    prints: Arc<Prints>,
}

impl Phones {
    async fn pair_and_run(cfg: &Config, server: &mut Server, key: &str, dir: &Path) -> R<Phones> {
        let http = client(cfg.connections);
        let mut dirs = Vec::new();
        for i in 0..cfg.devices {
            // POST /v1/device/pair allows 10 tries a minute per address (in memory): restart
            // the server after every 10 pairings rather than wait a minute.
            if i > 0 && i % PAIR_BURST == 0 {
                server.restart()?;
            }
            let (st, v) = api(&http, "POST", &format!("{}/v1/devices/pairing", server.url), key, None).await?;
            if st != 201 {
                return Err(format!("pairing offer: {st} {v}"));
            }
            let payload = v["qr_payload"].as_str().ok_or(format!("no qr_payload in {v}"))?.to_owned();
            let ddir = dir.join(format!("phone-{i:02}"));
            std::fs::create_dir_all(&ddir).map_err(|e| e.to_string())?;
            let out = Command::new(&cfg.device_bin)
                .arg("pair")
                .arg(&payload)
                .arg("--data-dir")
                .arg(ddir.join("data"))
                .args(["--name", &format!("Bench Phone {i:02}"), "--json"])
                .env("RUST_LOG", "warn")
                .stdin(Stdio::null())
                .output()
                .map_err(|e| format!("relay-device pair: {e}"))?;
            let stdout = String::from_utf8_lossy(&out.stdout);
            if !out.status.success() {
                return Err(format!("relay-device pair failed: {stdout} {}", String::from_utf8_lossy(&out.stderr)));
            }
            let pv: Value =
                serde_json::from_str(stdout.trim()).map_err(|e| format!("pair printed no JSON ({e}): {stdout}"))?;
            let device_id = pv["device_id"].as_str().ok_or(format!("no device_id in {pv}"))?.to_owned();
            let body = json!({"pacing": {"parts_per_minute": 0, "parts_per_day": 0}});
            let (st, v) =
                api(&http, "PATCH", &format!("{}/v1/devices/{device_id}", server.url), key, Some(body)).await?;
            if st != 200 {
                return Err(format!("PATCH pacing of {device_id}: {st} {v}"));
            }
            dirs.push(ddir);
        }
        let prints = Arc::new(Prints {
            map: Mutex::new(HashMap::with_capacity(64 * 1024)),
            per_device: (0..cfg.devices).map(|_| AtomicU64::new(0)).collect(),
            dupes: AtomicU64::new(0),
            bad_lines: AtomicU64::new(0),
        });
        let mut phones = Phones { children: vec![], pids: vec![], dirs: dirs.clone(), readers: vec![], prints };
        for (i, ddir) in dirs.iter().enumerate() {
            let stderr = std::fs::File::create(ddir.join("run.stderr")).map_err(|e| e.to_string())?;
            let mut child = Command::new(&cfg.device_bin)
                .arg("run")
                .arg("--data-dir")
                .arg(ddir.join("data"))
                .args(["--json", "--latency-ms", &cfg.latency_ms.to_string()])
                .env("RUST_LOG", "warn")
                .env("NO_COLOR", "1")
                .stdin(Stdio::null())
                .stdout(Stdio::piped())
                .stderr(stderr)
                .spawn()
                .map_err(|e| format!("spawn relay-device run: {e}"))?;
            phones.pids.push(child.id());
            let stdout = child.stdout.take().ok_or("no stdout")?;
            phones.children.push(child);
            let prints = phones.prints.clone();
            // One plain thread per phone: the arrival instant is taken right after the read,
            // away from the async runtime that drives the HTTP load.
            phones.readers.push(std::thread::spawn(move || {
                let mut r = BufReader::new(stdout);
                let mut line = String::new();
                for _ in 0..10_000_000u64 {
                    line.clear();
                    match r.read_line(&mut line) {
                        Ok(0) | Err(_) => break,
                        Ok(_) => {}
                    }
                    let at = Instant::now();
                    let rid = serde_json::from_str::<Value>(&line)
                        .ok()
                        .and_then(|v| v["request_id"].as_str().map(str::to_owned));
                    match rid {
                        Some(rid) => {
                            prints.per_device[i].fetch_add(1, Ordering::Relaxed);
                            if let Ok(mut m) = prints.map.lock() {
                                // Keep the first print; a second one is a duplicate send.
                                match m.entry(rid) {
                                    std::collections::hash_map::Entry::Occupied(_) => {
                                        prints.dupes.fetch_add(1, Ordering::Relaxed);
                                    }
                                    std::collections::hash_map::Entry::Vacant(v) => {
                                        v.insert(at);
                                    }
                                }
                            }
                        }
                        None => {
                            prints.bad_lines.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                }
            }));
        }
        // Wait until every phone is online (bounded).
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let (st, v) = api(&http, "GET", &format!("{}/v1/queue", server.url), key, None).await?;
            let online = v["devices_online"].as_u64().unwrap_or(0);
            if st == 200 && online as usize >= cfg.devices {
                break;
            }
            if Instant::now() > deadline {
                return Err(format!("only {online} of {} phones online after 30 s: {v}", cfg.devices));
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        Ok(phones)
    }

    fn exited(&mut self) -> usize {
        self.children.iter_mut().map(|c| c.try_wait()).filter(|s| matches!(s, Ok(Some(_)))).count()
    }

    fn stderr_problems(&self) -> (usize, Vec<String>) {
        let mut n = 0;
        let mut samples = Vec::new();
        for d in &self.dirs {
            let text = std::fs::read_to_string(d.join("run.stderr")).unwrap_or_default();
            for line in text.lines().filter(|l| l.contains("WARN") || l.contains("ERROR")) {
                n += 1;
                if samples.len() < 3 {
                    samples.push(line.chars().take(200).collect());
                }
            }
        }
        (n, samples)
    }

    fn stop(&mut self) -> String {
        for c in &self.children {
            let _ = Command::new("kill").args(["-TERM", &c.id().to_string()]).status();
        }
        let mut outcomes: BTreeMap<String, usize> = BTreeMap::new();
        for c in &mut self.children {
            let o = stop_child(c, Duration::from_secs(10));
            let key = if o.starts_with("stopped on SIGTERM") || o.starts_with("had already") {
                "stopped".to_owned()
            } else {
                "killed after 10 s".to_owned()
            };
            *outcomes.entry(key).or_default() += 1;
        }
        self.children.clear();
        for r in self.readers.drain(..) {
            let _ = r.join();
        }
        outcomes.iter().map(|(k, v)| format!("{v} {k}")).collect::<Vec<_>>().join(", ")
    }
}

impl Drop for Phones {
    fn drop(&mut self) {
        for c in &mut self.children {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

// ---------------------------------------------------------------------------------------------
// HTTP.

fn client(idle_per_host: usize) -> reqwest::Client {
    reqwest::Client::builder()
        .no_proxy()
        .tcp_nodelay(true)
        .pool_max_idle_per_host(idle_per_host)
        .timeout(Duration::from_secs(15))
        .build()
        .unwrap_or_else(|e| panic!("cannot build the HTTP client: {e}"))
}

async fn api(c: &reqwest::Client, method: &str, url: &str, key: &str, body: Option<Value>) -> R<(u16, Value)> {
    let m = reqwest::Method::from_bytes(method.as_bytes()).map_err(|e| e.to_string())?;
    let mut req = c.request(m, url).bearer_auth(key);
    if let Some(b) = body {
        req = req.header("content-type", "application/json").body(b.to_string());
    }
    let res = req.send().await.map_err(|e| format!("{method} {url}: {e}"))?;
    let st = res.status().as_u16();
    let text = res.text().await.map_err(|e| format!("{method} {url}: {e}"))?;
    Ok((st, serde_json::from_str(&text).unwrap_or(Value::String(text))))
}

fn err_kind(e: &reqwest::Error) -> String {
    let k = if e.is_timeout() {
        "timeout"
    } else if e.is_connect() {
        "connect"
    } else if e.is_body() || e.is_decode() {
        "body"
    } else if e.is_request() {
        "request"
    } else {
        "other"
    };
    format!("connection error ({k})")
}

fn message_body(n: u64) -> String {
    format!(r#"{{"to":"+92300123{:04}","message":"Relay bench message {n}"}}"#, n % 10_000)
}

fn pct(sorted: &[u32], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let idx = ((p * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len()) - 1;
    sorted[idx] as f64 / 1000.0
}

fn ms(v: f64) -> String {
    if v.is_nan() {
        "n/a".into()
    } else if v < 10.0 {
        format!("{v:.2} ms")
    } else {
        format!("{v:.1} ms")
    }
}

fn thousands(v: f64) -> String {
    let n = v.round() as i64;
    let s = n.abs().to_string();
    let mut out = String::new();
    for (i, ch) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(ch);
    }
    if n < 0 { format!("-{out}") } else { out }
}

#[derive(Default, Debug)]
struct Tally {
    ok: u64,
    statuses: BTreeMap<String, u64>,
    warmup_problems: BTreeMap<String, u64>,
    sample_error: Option<String>,
    lat_us: Vec<u32>,
}

impl Tally {
    fn merge(&mut self, o: Tally) {
        self.ok += o.ok;
        for (k, v) in o.statuses {
            *self.statuses.entry(k).or_default() += v;
        }
        for (k, v) in o.warmup_problems {
            *self.warmup_problems.entry(k).or_default() += v;
        }
        if self.sample_error.is_none() {
            self.sample_error = o.sample_error;
        }
        self.lat_us.extend(o.lat_us);
    }
    fn problems(&self) -> u64 {
        self.statuses.iter().filter(|(k, _)| !k.starts_with('2')).map(|(_, v)| v).sum()
    }
    fn status_line(&self) -> String {
        self.statuses.iter().map(|(k, v)| format!("{k}: {}", thousands(*v as f64))).collect::<Vec<_>>().join(", ")
    }
}

struct ClosedLoop {
    tally: Tally,
    rate: f64,
    cpu: CpuUse,
    load: String,
}

/// `connections` workers, each with one keep-alive connection of its own, send back to back
/// for warm-up + duration; completions inside the measured window are counted.
async fn closed_loop(cfg: &Config, url: &str, key: &str, post: bool, server_pid: u32) -> ClosedLoop {
    let load = loadavg();
    let start = Instant::now();
    let measure_from = start + Duration::from_secs_f64(cfg.warmup);
    let end = measure_from + Duration::from_secs_f64(cfg.duration);
    let counter = Arc::new(AtomicU64::new(0));
    let mut handles = Vec::new();
    for _ in 0..cfg.connections {
        let (url, key, counter) = (url.to_owned(), key.to_owned(), counter.clone());
        handles.push(tokio::spawn(async move {
            let c = client(1);
            let mut t = Tally::default();
            for _ in 0..5_000_000u64 {
                let s = Instant::now();
                if s >= end {
                    break;
                }
                let req = if post {
                    c.post(&url)
                        .header("content-type", "application/json")
                        .body(message_body(counter.fetch_add(1, Ordering::Relaxed)))
                } else {
                    c.get(&url)
                };
                let outcome = match req.bearer_auth(&key).send().await {
                    Ok(r) => {
                        let st = r.status().as_u16();
                        match r.bytes().await {
                            Ok(b) => {
                                if st >= 500 && t.sample_error.is_none() {
                                    t.sample_error = Some(format!("{st}: {}", String::from_utf8_lossy(&b)));
                                }
                                Ok(st)
                            }
                            Err(e) => Err(e),
                        }
                    }
                    Err(e) => Err(e),
                };
                let f = Instant::now();
                let measured = f >= measure_from && f <= end;
                let key = match &outcome {
                    Ok(st) => st.to_string(),
                    Err(e) => {
                        if t.sample_error.is_none() {
                            t.sample_error = Some(e.to_string());
                        }
                        err_kind(e)
                    }
                };
                let good = matches!(outcome, Ok(st) if (200..300).contains(&st));
                if measured {
                    *t.statuses.entry(key).or_default() += 1;
                    if good {
                        t.ok += 1;
                        t.lat_us.push(f.duration_since(s).as_micros().min(u32::MAX as u128) as u32);
                    }
                } else if !good {
                    *t.warmup_problems.entry(key).or_default() += 1;
                }
                if outcome.is_err() {
                    tokio::time::sleep(Duration::from_millis(5)).await;
                }
            }
            t
        }));
    }
    tokio::time::sleep_until(measure_from.into()).await;
    let a2 = snap(Some(server_pid), &[]);
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let sampler = sample_disk_wait(server_pid, stop.clone());
    tokio::time::sleep_until(end.into()).await;
    let b = snap(Some(server_pid), &[]);
    stop.store(true, Ordering::Relaxed);
    let writer_disk_wait = sampler.join().ok().flatten();
    let mut tally = Tally::default();
    for h in handles {
        if let Ok(t) = h.await {
            tally.merge(t);
        }
    }
    tally.lat_us.sort_unstable();
    let rate = tally.ok as f64 / cfg.duration;
    ClosedLoop { tally, rate, cpu: CpuUse { writer_disk_wait, ..cpu_use(&a2, &b) }, load }
}

/// Several rounds of one closed loop as one: tallies merged, rate and CPU averaged.
struct Pooled {
    tally: Tally,
    rate: f64,
    /// Each round's rate, in order.
    rounds: Vec<f64>,
    cpu: CpuUse,
    load: String,
}

fn pooled(loops: Vec<ClosedLoop>) -> Pooled {
    let n = loops.len().max(1) as f64;
    let rounds: Vec<f64> = loops.iter().map(|l| l.rate).collect();
    let load = loops.first().map(|l| l.load.clone()).unwrap_or_default();
    let mut cpu = CpuUse::default();
    let mut tally = Tally::default();
    for l in loops {
        cpu.server += l.cpu.server / n;
        cpu.writers += l.cpu.writers / n;
        if let Some(w) = l.cpu.writer_disk_wait {
            cpu.writer_disk_wait = Some(cpu.writer_disk_wait.unwrap_or(0.0) + w / n);
        }
        cpu.devices += l.cpu.devices / n;
        cpu.loadgen += l.cpu.loadgen / n;
        cpu.others += l.cpu.others / n;
        cpu.machine += l.cpu.machine / n;
        tally.merge(l.tally);
    }
    tally.lat_us.sort_unstable();
    Pooled { tally, rate: rounds.iter().sum::<f64>() / n, rounds, cpu, load }
}

fn median(values: &[f64]) -> f64 {
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    match v.len() {
        0 => 0.0,
        n if n % 2 == 1 => v[n / 2],
        n => (v[n / 2 - 1] + v[n / 2]) / 2.0,
    }
}

// ---------------------------------------------------------------------------------------------
// Phase 2: API → delivered.

#[derive(Debug, Clone, Default)]
struct Counts {
    queued: i64,
    dispatched: i64,
    sent: i64,
    delivered: i64,
    finished_other: i64,
}

fn counts_of(v: &Value) -> Counts {
    let c = &v["counts"];
    let g = |k: &str| c[k].as_i64().unwrap_or(0);
    Counts {
        queued: g("queued"),
        dispatched: g("dispatched"),
        sent: g("sent"),
        delivered: g("delivered"),
        finished_other: g("failed") + g("expired") + g("canceled"),
    }
}

struct E2e {
    offered: u64,
    accepted: u64,
    tally: Tally,
    accept_secs: f64,
    delivered: i64,
    finished_other: i64,
    done_secs: Option<f64>,
    last_print_secs: Option<f64>,
    printed: u64,
    timeline: Vec<(f64, Counts)>,
    per_device: Vec<u64>,
    cpu: CpuUse,
    load: String,
}

async fn e2e(cfg: &Config, server: &Server, key: &str, phones: &Phones) -> E2e {
    let load = loadavg();
    let n = cfg.e2e_messages;
    let before_counts = phones.prints.counts();
    let a = snap(Some(server.pid), &phones.pids);
    let t0 = Instant::now();
    let deadline = t0 + Duration::from_secs_f64(cfg.e2e_timeout);
    let accepted_final = Arc::new(AtomicU64::new(u64::MAX));
    // The poller: queue counts every 100 ms until everything accepted is final (bounded).
    let poller = {
        let (url, key, accepted_final) = (format!("{}/v1/queue", server.url), key.to_owned(), accepted_final.clone());
        tokio::spawn(async move {
            let c = client(2);
            let mut timeline: Vec<(f64, Counts)> = Vec::new();
            let mut done = None;
            for _ in 0..100_000u32 {
                let now = Instant::now();
                if now > deadline + Duration::from_secs(5) {
                    break;
                }
                if let Ok((200, v)) = api(&c, "GET", &url, &key, None).await {
                    let k = counts_of(&v);
                    let at = Instant::now().duration_since(t0).as_secs_f64();
                    let target = accepted_final.load(Ordering::SeqCst);
                    let finished = (k.delivered + k.finished_other) as u64;
                    timeline.push((at, k));
                    if target != u64::MAX && finished >= target {
                        done = Some(at);
                        break;
                    }
                }
                tokio::time::sleep_until((now + Duration::from_millis(100)).into()).await;
            }
            (timeline, done)
        })
    };
    let next = Arc::new(AtomicU64::new(0));
    let last_accept = Arc::new(Mutex::new(t0));
    let mut handles = Vec::new();
    for _ in 0..cfg.connections {
        let (url, key, next, last_accept) =
            (format!("{}/v1/messages", server.url), key.to_owned(), next.clone(), last_accept.clone());
        handles.push(tokio::spawn(async move {
            let c = client(1);
            let mut t = Tally::default();
            let mut ids: Vec<String> = Vec::new();
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= n || Instant::now() > deadline {
                    break;
                }
                let s = Instant::now();
                let res = c
                    .post(&url)
                    .header("content-type", "application/json")
                    .body(message_body(i))
                    .bearer_auth(&key)
                    .send()
                    .await;
                let key_s = match res {
                    Ok(r) => {
                        let st = r.status().as_u16();
                        match r.text().await {
                            Ok(text) => {
                                if st == 202 {
                                    if let Some(rid) = serde_json::from_str::<Value>(&text)
                                        .ok()
                                        .and_then(|v| v["request_id"].as_str().map(str::to_owned))
                                    {
                                        ids.push(rid);
                                    }
                                    let f = Instant::now();
                                    t.ok += 1;
                                    t.lat_us.push(f.duration_since(s).as_micros().min(u32::MAX as u128) as u32);
                                    if let Ok(mut l) = last_accept.lock()
                                        && f > *l
                                    {
                                        *l = f;
                                    }
                                } else if t.sample_error.is_none() {
                                    t.sample_error =
                                        Some(format!("{st}: {}", text.chars().take(300).collect::<String>()));
                                }
                                st.to_string()
                            }
                            Err(e) => err_kind(&e),
                        }
                    }
                    Err(e) => {
                        if t.sample_error.is_none() {
                            t.sample_error = Some(e.to_string());
                        }
                        err_kind(&e)
                    }
                };
                *t.statuses.entry(key_s).or_default() += 1;
            }
            (t, ids)
        }));
    }
    let mut tally = Tally::default();
    let mut ids: Vec<String> = Vec::new();
    for h in handles {
        if let Ok((t, i)) = h.await {
            tally.merge(t);
            ids.extend(i);
        }
    }
    tally.lat_us.sort_unstable();
    let accepted = tally.ok;
    let accept_secs = last_accept.lock().map(|l| l.duration_since(t0).as_secs_f64()).unwrap_or(0.0);
    accepted_final.store(accepted, Ordering::SeqCst);
    let (timeline, done_secs) = poller.await.unwrap_or_default();
    let b = snap(Some(server.pid), &phones.pids);
    // When did the last accepted message reach a phone?
    let mut printed = 0u64;
    let mut last_print: Option<Instant> = None;
    if let Ok(m) = phones.prints.map.lock() {
        for rid in &ids {
            if let Some(at) = m.get(rid) {
                printed += 1;
                last_print = Some(last_print.map_or(*at, |l: Instant| l.max(*at)));
            }
        }
    }
    let last = timeline.last().map(|(_, k)| k.clone()).unwrap_or_default();
    let after = phones.prints.counts();
    E2e {
        offered: n,
        accepted,
        tally,
        accept_secs,
        delivered: last.delivered,
        finished_other: last.finished_other,
        done_secs,
        last_print_secs: last_print.map(|l| l.duration_since(t0).as_secs_f64()),
        printed,
        timeline,
        per_device: after.iter().zip(before_counts).map(|(a, b)| a - b).collect(),
        cpu: cpu_use(&a, &b),
        load,
    }
}

// ---------------------------------------------------------------------------------------------
// Phase 3: dispatch latency at a fixed offered rate.

struct Fixed {
    scheduled: u64,
    sent: u64,
    offered_rate: f64,
    late_5ms: u64,
    tally: Tally,
    dispatch_us: Vec<u32>,
    total_us: Vec<u32>,
    printed_before_202: u64,
    missing: u64,
    cpu: CpuUse,
    load: String,
    backlog_at_start: Counts,
    /// The server's own `dispatch_latency_seconds` histogram over the phase: queued → handed to
    /// the phone's link, as (p50, p99) bucket upper bounds in ms.
    server_wait_ms: Option<(f64, f64)>,
}

/// Cumulative bucket counts of the server's dispatch-latency histogram, by upper bound (s).
async fn dispatch_buckets(http: &reqwest::Client, url: &str) -> Vec<(f64, u64)> {
    let Ok(r) = http.get(format!("{url}/metrics")).send().await else { return Vec::new() };
    let text = r.text().await.unwrap_or_default();
    text.lines()
        .filter_map(|l| l.strip_prefix("relay_dispatch_latency_seconds_bucket{le=\""))
        .filter_map(|l| {
            let (le, rest) = l.split_once("\"}")?;
            let le = if le == "+Inf" { f64::INFINITY } else { le.parse().ok()? };
            Some((le, rest.trim().parse::<f64>().ok()? as u64))
        })
        .collect()
}

/// (p50, p99) in ms from the difference of two cumulative bucket snapshots.
fn bucket_quantiles(before: &[(f64, u64)], after: &[(f64, u64)]) -> Option<(f64, f64)> {
    let diff: Vec<(f64, u64)> = after
        .iter()
        .map(|(le, n)| (*le, n.saturating_sub(before.iter().find(|(b, _)| b == le).map_or(0, |(_, m)| *m))))
        .collect();
    let total = diff.last()?.1;
    if total == 0 {
        return None;
    }
    let q = |p: f64| diff.iter().find(|(_, n)| *n as f64 >= p * total as f64).map_or(f64::NAN, |(le, _)| le * 1000.0);
    Some((q(0.5), q(0.99)))
}

async fn fixed_rate(cfg: &Config, server: &Server, key: &str, phones: &Phones) -> Fixed {
    let load = loadavg();
    let http = client(256);
    let backlog_at_start = match api(&http, "GET", &format!("{}/v1/queue", server.url), key, None).await {
        Ok((200, v)) => counts_of(&v),
        _ => Counts::default(),
    };
    let buckets_before = dispatch_buckets(&http, &server.url).await;
    let total = (cfg.rate * cfg.rate_secs).round() as u64;
    let interval = Duration::from_secs_f64(1.0 / cfg.rate);
    let sem = Arc::new(tokio::sync::Semaphore::new(1024));
    let url = format!("{}/v1/messages", server.url);
    let a = snap(Some(server.pid), &phones.pids);
    let start = Instant::now() + Duration::from_millis(20);
    let hard_end = start + Duration::from_secs_f64(cfg.rate_secs * 3.0 + 5.0);
    let mut handles = Vec::with_capacity(total as usize);
    let mut late_5ms = 0u64;
    let mut first_send: Option<Instant> = None;
    let mut last_send = start;
    let base = 5_000_000u64;
    for i in 0..total {
        let due = start + interval.mul_f64(i as f64);
        tokio::time::sleep_until(due.into()).await;
        if Instant::now() > hard_end {
            break;
        }
        let Ok(permit) = sem.clone().acquire_owned().await else { break };
        let now = Instant::now();
        if now.duration_since(due) > Duration::from_millis(5) {
            late_5ms += 1;
        }
        first_send.get_or_insert(now);
        last_send = now;
        let (c, url, key) = (http.clone(), url.clone(), key.to_owned());
        handles.push(tokio::spawn(async move {
            let _permit = permit;
            let s = Instant::now();
            let res = c
                .post(&url)
                .header("content-type", "application/json")
                .body(message_body(base + i))
                .bearer_auth(&key)
                .send()
                .await;
            match res {
                Ok(r) => {
                    let at_202 = Instant::now();
                    let st = r.status().as_u16();
                    let text = r.text().await.unwrap_or_default();
                    let rid = serde_json::from_str::<Value>(&text)
                        .ok()
                        .and_then(|v| v["request_id"].as_str().map(str::to_owned));
                    (s, Ok((st, at_202, rid, text)))
                }
                Err(e) => (s, Err(e)),
            }
        }));
    }
    let sent = handles.len() as u64;
    let mut tally = Tally::default();
    let mut accepted: Vec<(Instant, Instant, String)> = Vec::new();
    for h in handles {
        let Ok((s, res)) = h.await else { continue };
        let k = match res {
            Ok((st, at_202, rid, text)) => {
                if st == 202
                    && let Some(rid) = rid
                {
                    tally.ok += 1;
                    tally.lat_us.push(at_202.duration_since(s).as_micros().min(u32::MAX as u128) as u32);
                    accepted.push((s, at_202, rid));
                } else if tally.sample_error.is_none() {
                    tally.sample_error = Some(format!("{st}: {}", text.chars().take(300).collect::<String>()));
                }
                st.to_string()
            }
            Err(e) => {
                if tally.sample_error.is_none() {
                    tally.sample_error = Some(e.to_string());
                }
                err_kind(&e)
            }
        };
        *tally.statuses.entry(k).or_default() += 1;
    }
    tally.lat_us.sort_unstable();
    // Wait (bounded) for the phones to print everything accepted.
    let drain_deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let missing = accepted.iter().filter(|(_, _, rid)| phones.prints.get(rid).is_none()).count();
        if missing == 0 || Instant::now() > drain_deadline {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let b = snap(Some(server.pid), &phones.pids);
    let server_wait_ms = bucket_quantiles(&buckets_before, &dispatch_buckets(&http, &server.url).await);
    let mut dispatch_us = Vec::new();
    let mut total_us = Vec::new();
    let mut printed_before_202 = 0;
    let mut missing = 0;
    for (s, at_202, rid) in &accepted {
        match phones.prints.get(rid) {
            Some(p) => {
                match p.checked_duration_since(*at_202) {
                    Some(d) => dispatch_us.push(d.as_micros().min(u32::MAX as u128) as u32),
                    None => {
                        printed_before_202 += 1;
                        dispatch_us.push(0);
                    }
                }
                total_us.push(p.saturating_duration_since(*s).as_micros().min(u32::MAX as u128) as u32);
            }
            None => missing += 1,
        }
    }
    dispatch_us.sort_unstable();
    total_us.sort_unstable();
    let span = first_send.map(|f| last_send.duration_since(f).as_secs_f64()).unwrap_or(0.0);
    Fixed {
        scheduled: total,
        sent,
        offered_rate: if span > 0.0 { (sent.saturating_sub(1)) as f64 / span } else { 0.0 },
        late_5ms,
        tally,
        dispatch_us,
        total_us,
        printed_before_202,
        missing,
        cpu: cpu_use(&a, &b),
        load,
        backlog_at_start,
        server_wait_ms,
    }
}

// ---------------------------------------------------------------------------------------------
// One backend, all phases, rendered as Markdown.

struct Summary {
    backend: String,
    ratio: Option<(f64, f64, f64)>,
    e2e_rate: Option<(f64, bool)>,
    p99: Option<(f64, f64)>,
    /// OTP sends/s with send p99, and verifications/s with verify p50 and p99 (ms).
    otp: Option<(f64, f64, f64, f64, f64)>,
    /// Webhook deliveries/s, and whether every event arrived.
    webhooks: Option<(f64, bool)>,
    /// Bulk: recipients, best time to 202 (ms); search: worst p99 over the queries (ms).
    bulk: Option<(usize, f64, f64)>,
}

fn verdict(ok: bool) -> &'static str {
    if ok { "**met**" } else { "**not met**" }
}

fn busy_note(load: &str) -> String {
    let l1: f64 = load.split_whitespace().next().and_then(|v| v.parse().ok()).unwrap_or(0.0);
    if l1 > 3.0 { format!("load average {load} — **machine busy**") } else { format!("load average {load}") }
}

async fn run_backend(cfg: &Config, backend: &str, md: &mut String) -> R<Summary> {
    let mut sum = message_phases(cfg, backend, md).await?;
    if cfg.phases.contains(&4) {
        otp_phase(cfg, backend, md, &mut sum).await?;
    }
    if cfg.phases.contains(&5) {
        webhook_phase(cfg, backend, md, &mut sum).await?;
    }
    if cfg.phases.contains(&6) {
        bulk_phase(cfg, backend, md, &mut sum).await?;
    }
    Ok(sum)
}

async fn message_phases(cfg: &Config, backend: &str, md: &mut String) -> R<Summary> {
    let mut sum = Summary {
        backend: backend.to_owned(),
        ratio: None,
        e2e_rate: None,
        p99: None,
        otp: None,
        webhooks: None,
        bulk: None,
    };
    let root = cfg.work_dir.join(backend);

    // ---- Phase 1: health vs enqueue, on a fresh database without phones.
    if cfg.phases.contains(&1) {
        say(format!("{backend}: phase 1 (health vs enqueue), {} connections", cfg.connections));
        let dir = root.join("enqueue");
        let db = Database::new(cfg, backend, "enq", &dir)?;
        let key = create_account(cfg, &db, "bench-enqueue")?;
        let mut server = Server::start(cfg, &db, &dir)?;
        // Alternating rounds: the machine's pace drifts (other tenants, CPU boost), and a ratio
        // of two windows minutes apart measures the drift as much as the server.
        let (mut healths, mut enqs) = (Vec::new(), Vec::new());
        for round in 1..=cfg.rounds {
            let health = closed_loop(cfg, &format!("{}/v1/health", server.url), &key, false, server.pid).await;
            let enq = closed_loop(cfg, &format!("{}/v1/messages", server.url), &key, true, server.pid).await;
            say(format!("{backend}: round {round}: health {:.0} req/s, enqueue {:.0} req/s", health.rate, enq.rate));
            healths.push(health);
            enqs.push(enq);
        }
        let crashed = server.exited();
        let (warn, error, samples) = server.log_summary();
        let stopped = server.stop();
        let ratios: Vec<f64> =
            healths.iter().zip(&enqs).map(|(h, e)| if h.rate > 0.0 { e.rate / h.rate } else { 0.0 }).collect();
        let ratio = median(&ratios);
        let health = pooled(healths);
        let enq = pooled(enqs);
        sum.ratio = Some((ratio, enq.rate, health.rate));
        let _ = writeln!(
            md,
            "#### 1. Enqueue vs health ({} keep-alive connections; {} rounds of {} s warm-up + {} s measured for each endpoint in turn; fresh database, no phone paired)\n",
            cfg.connections, cfg.rounds, cfg.warmup, cfg.duration
        );
        let _ = writeln!(md, "| Round | `GET /v1/health` req/s | `POST /v1/messages` req/s | ratio |");
        let _ = writeln!(md, "| ---: | ---: | ---: | ---: |");
        for (i, ((h, e), r)) in health.rounds.iter().zip(&enq.rounds).zip(&ratios).enumerate() {
            let _ = writeln!(md, "| {} | {} | {} | {:.1} % |", i + 1, thousands(*h), thousands(*e), r * 100.0);
        }
        let _ = writeln!(md, "\nAll rounds together:\n");
        let _ = writeln!(
            md,
            "| Endpoint | req/s (mean of rounds) | responses by status (measured windows) | p50 | p99 | max | warm-up non-2xx |"
        );
        let _ = writeln!(md, "| --- | ---: | --- | ---: | ---: | ---: | --- |");
        for (name, r) in [("`GET /v1/health`", &health), ("`POST /v1/messages`", &enq)] {
            let l = &r.tally.lat_us;
            let warm = if r.tally.warmup_problems.is_empty() {
                "none".to_owned()
            } else {
                r.tally.warmup_problems.iter().map(|(k, v)| format!("{k}: {v}")).collect::<Vec<_>>().join(", ")
            };
            let _ = writeln!(
                md,
                "| {name} | {} | {} | {} | {} | {} | {warm} |",
                thousands(r.rate),
                r.tally.status_line(),
                ms(pct(l, 0.5)),
                ms(pct(l, 0.99)),
                ms(pct(l, 1.0))
            );
        }
        let _ = writeln!(
            md,
            "\nEnqueue / health = **{:.1} %**, the median of the rounds' ratios (target ≥ 50 %: {}).\n",
            ratio * 100.0,
            verdict(ratio >= 0.5)
        );
        for (name, r) in [("health", &health), ("enqueue", &enq)] {
            let _ = writeln!(md, "- {name} (mean of the rounds): {}; {}", cpu_line(&r.cpu), busy_note(&r.load));
            if let Some(e) = &r.tally.sample_error {
                let _ = writeln!(
                    md,
                    "  - first error seen: `{}`",
                    e.replace('`', "'").chars().take(300).collect::<String>()
                );
            }
        }
        let problems = health.tally.problems() + enq.tally.problems();
        let _ = writeln!(
            md,
            "- non-2xx or connection errors in the measured windows: {problems}{}",
            if problems > 0 { " — **finding**" } else { "" }
        );
        let _ = writeln!(
            md,
            "- server: {stopped}{}; log: {warn} WARN, {error} ERROR lines",
            crashed.map(|c| format!(", **exited during the run ({c})**")).unwrap_or_default()
        );
        for s in samples {
            let _ = writeln!(md, "  - `{}`", s.replace('`', "'"));
        }
        let _ = writeln!(md);
    }

    // ---- Phases 2 and 3: a fresh database, phones paired and running.
    if !(cfg.phases.contains(&2) || cfg.phases.contains(&3)) {
        return Ok(sum);
    }
    say(format!("{backend}: pairing {} phones", cfg.devices));
    let dir = root.join("e2e");
    let db = Database::new(cfg, backend, "e2e", &dir)?;
    let key = create_account(cfg, &db, "bench-e2e")?;
    let mut server = Server::start(cfg, &db, &dir)?;
    let mut phones = Phones::pair_and_run(cfg, &mut server, &key, &dir).await?;
    say(format!("{backend}: phase 2 (API -> delivered), {} messages", cfg.e2e_messages));
    let e = e2e(cfg, &server, &key, &phones).await;
    let rate = e.done_secs.map(|d| e.accepted as f64 / d);
    say(format!("{backend}: e2e done in {:?} s", e.done_secs));
    let _ = writeln!(
        md,
        "#### 2. API → `delivered` ({} messages offered by {} connections as fast as the API takes them; {} phones, pacing unlimited, `--latency-ms {}`)\n",
        e.offered, cfg.connections, cfg.devices, cfg.latency_ms
    );
    let _ = writeln!(md, "| Figure | Value |\n| --- | --- |");
    let _ = writeln!(
        md,
        "| accepted (202) | {} of {} offered |",
        thousands(e.accepted as f64),
        thousands(e.offered as f64)
    );
    let _ = writeln!(md, "| responses by status | {} |", e.tally.status_line());
    let _ = writeln!(
        md,
        "| API accepted them in | {:.2} s ({} msg/s; POST p50 {}, p99 {}) |",
        e.accept_secs,
        thousands(e.accepted as f64 / e.accept_secs.max(1e-3)),
        ms(pct(&e.tally.lat_us, 0.5)),
        ms(pct(&e.tally.lat_us, 0.99))
    );
    let _ = writeln!(
        md,
        "| phones printed the last one at | {} ({} of {} printed) |",
        e.last_print_secs.map(|s| format!("{s:.2} s")).unwrap_or("—".into()),
        thousands(e.printed as f64),
        thousands(e.accepted as f64)
    );
    match (e.done_secs, rate) {
        (Some(d), Some(r)) => {
            let _ = writeln!(
                md,
                "| all final (queue counts, polled every 100 ms) at | {d:.2} s: delivered {}, failed/expired/canceled {} |",
                thousands(e.delivered as f64),
                e.finished_other
            );
            let _ = writeln!(
                md,
                "| **end-to-end rate** | **{} msg/s** (target ≥ 5,000: {}) |",
                thousands(r),
                verdict(r >= 5000.0)
            );
            sum.e2e_rate = Some((r, true));
        }
        _ => {
            let partial = e.delivered as f64 / cfg.e2e_timeout;
            let _ = writeln!(
                md,
                "| all final | **not within {} s**: delivered {} |",
                cfg.e2e_timeout,
                thousands(e.delivered as f64)
            );
            let _ = writeln!(
                md,
                "| **end-to-end rate** | ≤ **{} msg/s** (delivered / timeout; target ≥ 5,000: {}) |",
                thousands(partial),
                verdict(false)
            );
            sum.e2e_rate = Some((partial, false));
        }
    }
    let (mn, mx) = (e.per_device.iter().min().copied().unwrap_or(0), e.per_device.iter().max().copied().unwrap_or(0));
    let _ = writeln!(md, "| messages per phone | min {mn}, max {mx} |");
    let _ = writeln!(md, "\n- {}; {}", cpu_line(&e.cpu), busy_note(&e.load));
    if let Some(s) = &e.tally.sample_error {
        let _ = writeln!(md, "- first error seen: `{}`", s.replace('`', "'").chars().take(300).collect::<String>());
    }
    let _ = writeln!(md, "- queue counts over time (s: queued / dispatched / sent / delivered):");
    let mut line = String::from("  ");
    let mut next_mark = 0.0;
    for (t, k) in &e.timeline {
        if *t >= next_mark {
            let _ = write!(line, "{t:.0}s: {}/{}/{}/{}; ", k.queued, k.dispatched, k.sent, k.delivered);
            next_mark = t.floor() + 1.0;
        }
    }
    if let Some((t, k)) = e.timeline.last() {
        let _ = write!(line, "end {t:.1}s: {}/{}/{}/{}", k.queued, k.dispatched, k.sent, k.delivered);
    }
    let _ = writeln!(md, "{line}\n");

    // A backlog left by phase 2 would turn phase 3 into a drain measurement: start afresh then.
    let mut fresh_for_3 = None;
    if e.done_secs.is_none() {
        say(format!("{backend}: phase 2 left a backlog; fresh database, server and phones for phase 3"));
        let _ = writeln!(
            md,
            "- phase 2 did not finish, so phase 3 runs on a fresh database, server and phones (old ones: phones {}, server {})\n",
            phones.stop(),
            server.stop()
        );
        let dir3 = root.join("latency");
        let db3 = Database::new(cfg, backend, "lat", &dir3)?;
        let key3 = create_account(cfg, &db3, "bench-latency")?;
        let mut server3 = Server::start(cfg, &db3, &dir3)?;
        let phones3 = Phones::pair_and_run(cfg, &mut server3, &key3, &dir3).await?;
        fresh_for_3 = Some((db3, key3));
        server = server3;
        phones = phones3;
    }
    let key = fresh_for_3.as_ref().map(|(_, k)| k.clone()).unwrap_or(key);
    let accepted_before_3 = if fresh_for_3.is_some() { 0 } else { e.accepted };
    say(format!("{backend}: phase 3 (latency at {} msg/s for {} s)", cfg.rate, cfg.rate_secs));
    let f = fixed_rate(cfg, &server, &key, &phones).await;
    let p99 = pct(&f.dispatch_us, 0.99);
    sum.p99 = Some((p99, pct(&f.dispatch_us, 0.5)));
    let _ = writeln!(
        md,
        "#### 3. Dispatch latency at a fixed offered load ({} msg/s for {} s, open loop)\n",
        cfg.rate, cfg.rate_secs
    );
    let _ = writeln!(md, "| Figure | p50 | p90 | p99 | max |\n| --- | ---: | ---: | ---: | ---: |");
    for (name, v) in [
        ("**202 → phone printed it** (dispatch latency)", &f.dispatch_us),
        ("POST sent → phone printed it", &f.total_us),
        ("POST → 202 (enqueue latency)", &f.tally.lat_us),
    ] {
        let _ = writeln!(
            md,
            "| {name} | {} | {} | {} | {} |",
            ms(pct(v, 0.5)),
            ms(pct(v, 0.9)),
            ms(pct(v, 0.99)),
            ms(pct(v, 1.0))
        );
    }
    let _ = writeln!(md, "\nDispatch p99 = **{}** (target < 20 ms: {}).\n", ms(p99), verdict(p99 < 20.0));
    let _ = writeln!(
        md,
        "- offered {} of {} scheduled at {:.0} msg/s achieved ({} sent > 5 ms late); responses: {}; matched {} prints, {} accepted but not yet printed after a 15 s drain{}; {} printed before the client saw the 202 (counted as 0 ms)",
        thousands(f.sent as f64),
        thousands(f.scheduled as f64),
        f.offered_rate,
        f.late_5ms,
        f.tally.status_line(),
        thousands(f.dispatch_us.len() as f64),
        f.missing,
        if f.missing > 0 { " (a backlog: the rate is above what the path carries)" } else { "" },
        f.printed_before_202
    );
    let _ = writeln!(
        md,
        "- backlog when the phase began (queued/dispatched/sent): {}/{}/{}",
        f.backlog_at_start.queued, f.backlog_at_start.dispatched, f.backlog_at_start.sent
    );
    if let Some((p50, p99)) = f.server_wait_ms {
        let _ = writeln!(
            md,
            "- of which in the server, queued → handed to the phone's link (its `relay_dispatch_latency_seconds` histogram, bucket bounds): p50 ≤ {}, p99 ≤ {}",
            ms(p50),
            ms(p99)
        );
    }
    let _ = writeln!(md, "- {}; {}", cpu_line(&f.cpu), busy_note(&f.load));
    if let Some(s) = &f.tally.sample_error {
        let _ = writeln!(md, "- first error seen: `{}`", s.replace('`', "'").chars().take(300).collect::<String>());
    }

    // Every accepted message should end delivered: check (bounded).
    let http = client(2);
    let expected = accepted_before_3 + f.tally.ok;
    let deadline = Instant::now() + Duration::from_secs(15);
    let mut last = Counts::default();
    while Instant::now() < deadline {
        if let Ok((200, v)) = api(&http, "GET", &format!("{}/v1/queue", server.url), &key, None).await {
            last = counts_of(&v);
            if (last.delivered + last.finished_other) as u64 >= expected {
                break;
            }
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let dupes = phones.prints.dupes.load(Ordering::Relaxed);
    let bad = phones.prints.bad_lines.load(Ordering::Relaxed);
    let phones_exited = phones.exited();
    let crashed = server.exited();
    let (pwarn, psamples) = phones.stderr_problems();
    let (warn, error, samples) = server.log_summary();
    let phones_stop = phones.stop();
    let stopped = server.stop();
    let _ = writeln!(
        md,
        "- after phase 3 (and 2 on the same database) and a 15 s drain: {} accepted, {} delivered, {} failed/expired/canceled, {} still queued/dispatched/sent{}; duplicate prints {}{}; unparsable phone lines {}",
        thousands(expected as f64),
        thousands(last.delivered as f64),
        last.finished_other,
        last.queued + last.dispatched + last.sent,
        if last.finished_other > 0 {
            " — **finding**: some ended failed/expired/canceled"
        } else if (last.delivered as u64) < expected {
            " (backlog still draining, none lost)"
        } else {
            ""
        },
        dupes,
        if dupes > 0 { " — **finding**" } else { "" },
        bad
    );
    let _ = writeln!(
        md,
        "- phones: {phones_exited} exited during the run; stop: {phones_stop}; {pwarn} WARN/ERROR log lines"
    );
    for s in psamples {
        let _ = writeln!(md, "  - `{}`", s.replace('`', "'"));
    }
    let _ = writeln!(
        md,
        "- server: {stopped}{}; log: {warn} WARN, {error} ERROR lines",
        crashed.map(|c| format!(", **exited during the run ({c})**")).unwrap_or_default()
    );
    for s in samples {
        let _ = writeln!(md, "  - `{}`", s.replace('`', "'"));
    }
    let _ = writeln!(md);
    drop(fresh_for_3);
    drop(db);
    Ok(sum)
}

// ---------------------------------------------------------------------------------------------
// Phase 4: OTP send rate and verify latency.

/// `+92 3xx xxxxxxx` numbers, a new one per send: the per-number limit (one code per number
/// and purpose every 30 s) must not be what is measured.
fn otp_send_body(n: u64) -> String {
    format!(r#"{{"to":"+9230{:08}","purpose":"login"}}"#, n % 100_000_000)
}

/// A seven-digit guess never matches a six-digit code: every verification is a counted wrong
/// attempt, which runs the same lookup, HMAC and conditional UPDATE as a right one. Each OTP
/// gets at most 4 guesses, so none is spent and every attempt reaches that UPDATE.
fn otp_verify_body(ids: &[String], n: u64) -> Option<String> {
    let len = ids.len() as u64;
    if len == 0 || n / len >= 4 {
        return None;
    }
    let id = &ids[(n % len) as usize];
    Some(format!(r#"{{"otp_id":"{id}","code":"0000000"}}"#))
}

struct OtpLoop {
    tally: Tally,
    rate: f64,
    cpu: CpuUse,
    load: String,
    /// `otp_id`s of successful sends.
    ids: Vec<String>,
}

/// Closed loop like phase 1, on `POST /v1/otp/send` (`ids` empty) or `/v1/otp/verify`.
async fn otp_loop(cfg: &Config, server: &Server, key: &str, ids: Arc<Vec<String>>) -> OtpLoop {
    let verifying = !ids.is_empty();
    let url = format!("{}/v1/otp/{}", server.url, if verifying { "verify" } else { "send" });
    let load = loadavg();
    let start = Instant::now();
    let measure_from = start + Duration::from_secs_f64(cfg.warmup);
    let end = measure_from + Duration::from_secs_f64(cfg.otp_secs);
    let counter = Arc::new(AtomicU64::new(0));
    let mut handles = Vec::new();
    for _ in 0..cfg.connections {
        let (url, key, counter, ids) = (url.clone(), key.to_owned(), counter.clone(), ids.clone());
        handles.push(tokio::spawn(async move {
            let c = client(1);
            let mut t = Tally::default();
            let mut got = Vec::new();
            loop {
                let s = Instant::now();
                if s >= end {
                    break;
                }
                let n = counter.fetch_add(1, Ordering::Relaxed);
                let body = if verifying {
                    match otp_verify_body(&ids, n) {
                        Some(b) => b,
                        None => break,
                    }
                } else {
                    otp_send_body(n)
                };
                let sent =
                    c.post(&url).header("content-type", "application/json").body(body).bearer_auth(&key).send().await;
                let outcome = match sent {
                    Ok(r) => {
                        let st = r.status().as_u16();
                        r.bytes().await.map(|b| (st, b))
                    }
                    Err(e) => Err(e),
                };
                let f = Instant::now();
                let measured = f >= measure_from && f <= end;
                let key = match &outcome {
                    Ok((st, b)) => {
                        if (*st >= 500 || *st == 429) && t.sample_error.is_none() {
                            t.sample_error = Some(format!("{st}: {}", String::from_utf8_lossy(b)));
                        }
                        st.to_string()
                    }
                    Err(e) => {
                        if t.sample_error.is_none() {
                            t.sample_error = Some(e.to_string());
                        }
                        err_kind(e)
                    }
                };
                let good = matches!(&outcome, Ok((st, _)) if (200..300).contains(st));
                if good
                    && !verifying
                    && let Ok((_, b)) = &outcome
                    && let Some(id) =
                        serde_json::from_slice::<Value>(b).ok().and_then(|v| v["otp_id"].as_str().map(str::to_owned))
                {
                    got.push(id);
                }
                if measured {
                    *t.statuses.entry(key).or_default() += 1;
                    if good {
                        t.ok += 1;
                        t.lat_us.push(f.duration_since(s).as_micros().min(u32::MAX as u128) as u32);
                    }
                } else if !good {
                    *t.warmup_problems.entry(key).or_default() += 1;
                }
                if outcome.is_err() {
                    tokio::time::sleep(Duration::from_millis(5)).await;
                }
            }
            (t, got)
        }));
    }
    tokio::time::sleep_until(measure_from.into()).await;
    let a = snap(Some(server.pid), &[]);
    tokio::time::sleep_until(end.into()).await;
    let b = snap(Some(server.pid), &[]);
    let mut tally = Tally::default();
    let mut all = Vec::new();
    for h in handles {
        if let Ok((t, got)) = h.await {
            tally.merge(t);
            all.extend(got);
        }
    }
    tally.lat_us.sort_unstable();
    let rate = tally.ok as f64 / cfg.otp_secs;
    OtpLoop { tally, rate, cpu: cpu_use(&a, &b), load, ids: all }
}

/// Fresh database, no phone (the codes' SMS wait in the queue, as in phase 1): OTP sends for
/// `--otp-secs`, then verification attempts on the codes just sent.
async fn otp_phase(cfg: &Config, backend: &str, md: &mut String, sum: &mut Summary) -> R<()> {
    say(format!("{backend}: phase 4 (OTP send and verify), {} connections", cfg.connections));
    let dir = cfg.work_dir.join(backend).join("otp");
    let db = Database::new(cfg, backend, "otp", &dir)?;
    let key = create_account(cfg, &db, "bench-otp")?;
    let mut server = Server::start(cfg, &db, &dir)?;
    let sends = otp_loop(cfg, &server, &key, Arc::new(Vec::new())).await;
    say(format!("{backend}: OTP sends {:.0}/s", sends.rate));
    let ids = Arc::new(sends.ids.clone());
    let verifies = if ids.is_empty() {
        None
    } else {
        let v = otp_loop(cfg, &server, &key, ids.clone()).await;
        say(format!("{backend}: OTP verifications {:.0}/s", v.rate));
        Some(v)
    };
    let crashed = server.exited();
    let (warn, error, samples) = server.log_summary();
    let stopped = server.stop();
    let _ = writeln!(
        md,
        "#### 4. OTP send and verify ({} keep-alive connections, {} s warm-up + {} s measured each, fresh database, no phone paired)\n",
        cfg.connections, cfg.warmup, cfg.otp_secs
    );
    let _ = writeln!(md, "| Endpoint | req/s | responses by status (measured window) | p50 | p90 | p99 | max |");
    let _ = writeln!(md, "| --- | ---: | --- | ---: | ---: | ---: | ---: |");
    let mut rows = vec![("`POST /v1/otp/send` (a new number each)", &sends)];
    if let Some(v) = &verifies {
        rows.push(("`POST /v1/otp/verify` (wrong code, ≤ 4 per OTP)", v));
    }
    for (name, r) in &rows {
        let l = &r.tally.lat_us;
        let _ = writeln!(
            md,
            "| {name} | {} | {} | {} | {} | {} | {} |",
            thousands(r.rate),
            r.tally.status_line(),
            ms(pct(l, 0.5)),
            ms(pct(l, 0.9)),
            ms(pct(l, 0.99)),
            ms(pct(l, 1.0))
        );
    }
    let _ = writeln!(
        md,
        "\n- {} codes stored; each verification guesses seven digits against a six-digit code, so every 200 is a counted wrong attempt (`failed`, `wrong_code`).",
        thousands(sends.ids.len() as f64)
    );
    for (name, r) in &rows {
        let _ = writeln!(md, "- {name}: {}; {}", cpu_line(&r.cpu), busy_note(&r.load));
        if let Some(e) = &r.tally.sample_error {
            let _ =
                writeln!(md, "  - first error seen: `{}`", e.replace('`', "'").chars().take(300).collect::<String>());
        }
    }
    let _ = writeln!(
        md,
        "- server: {stopped}{}; log: {warn} WARN, {error} ERROR lines",
        crashed.map(|c| format!(", **exited during the run ({c})**")).unwrap_or_default()
    );
    for s in samples {
        let _ = writeln!(md, "  - `{}`", s.replace('`', "'"));
    }
    let _ = writeln!(md);
    if let Some(v) = &verifies {
        let l = &v.tally.lat_us;
        sum.otp = Some((sends.rate, pct(&sends.tally.lat_us, 0.99), v.rate, pct(l, 0.5), pct(l, 0.99)));
    }
    drop(db);
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Phase 5: webhook deliveries.

/// A webhook receiver on loopback: HTTP/1.1 keep-alive, holds every request until `go`, then
/// answers 204 and counts each `webhook-id`.
struct HookReceiver {
    port: u16,
    go: tokio::sync::watch::Sender<bool>,
    ids: Arc<Mutex<HashMap<String, u32>>>,
    requests: Arc<AtomicU64>,
}

impl HookReceiver {
    async fn start() -> R<HookReceiver> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.map_err(|e| format!("bind: {e}"))?;
        let port = listener.local_addr().map_err(|e| e.to_string())?.port();
        let (go, go_rx) = tokio::sync::watch::channel(false);
        let ids = Arc::new(Mutex::new(HashMap::new()));
        let requests = Arc::new(AtomicU64::new(0));
        let (ids2, requests2) = (ids.clone(), requests.clone());
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let _ = stream.set_nodelay(true);
                tokio::spawn(hook_connection(stream, go_rx.clone(), ids2.clone(), requests2.clone()));
            }
        });
        Ok(HookReceiver { port, go, ids, requests })
    }

    fn distinct(&self) -> usize {
        self.ids.lock().map(|m| m.len()).unwrap_or(0)
    }
}

async fn hook_connection(
    stream: tokio::net::TcpStream,
    mut go: tokio::sync::watch::Receiver<bool>,
    ids: Arc<Mutex<HashMap<String, u32>>>,
    requests: Arc<AtomicU64>,
) {
    use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt};
    let (read, mut write) = stream.into_split();
    let mut reader = tokio::io::BufReader::new(read);
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).await.unwrap_or(0) == 0 {
            return;
        }
        let (mut len, mut id) = (0usize, String::new());
        loop {
            line.clear();
            if reader.read_line(&mut line).await.unwrap_or(0) == 0 {
                return;
            }
            let l = line.trim_end();
            if l.is_empty() {
                break;
            }
            if let Some((k, v)) = l.split_once(':') {
                match k.trim().to_ascii_lowercase().as_str() {
                    "content-length" => len = v.trim().parse().unwrap_or(0),
                    "webhook-id" => id = v.trim().to_owned(),
                    _ => {}
                }
            }
        }
        let mut body = vec![0u8; len];
        if reader.read_exact(&mut body).await.is_err() {
            return;
        }
        if !*go.borrow() && go.wait_for(|g| *g).await.is_err() {
            return;
        }
        if write.write_all(b"HTTP/1.1 204 No Content\r\ncontent-length: 0\r\n\r\n").await.is_err() {
            return;
        }
        requests.fetch_add(1, Ordering::Relaxed);
        if let Ok(mut m) = ids.lock() {
            *m.entry(id).or_default() += 1;
        }
    }
}

/// Fresh database, one endpoint: `--webhook-events` test events are queued while the receiver
/// holds every request (at most the worker pool's requests wait in flight; the rest wait in
/// the database), then the receiver answers and the time until every event arrived is measured.
async fn webhook_phase(cfg: &Config, backend: &str, md: &mut String, sum: &mut Summary) -> R<()> {
    say(format!("{backend}: phase 5 (webhook deliveries), {} events", cfg.webhook_events));
    let dir = cfg.work_dir.join(backend).join("webhooks");
    let db = Database::new(cfg, backend, "hooks", &dir)?;
    let key = create_account(cfg, &db, "bench-hooks")?;
    let mut server = Server::start_with(cfg, &db, &dir, &["--allow-private-webhooks"])?;
    let receiver = HookReceiver::start().await?;
    let c = client(cfg.connections);
    let url = format!("http://127.0.0.1:{}/hooks", receiver.port);
    let (st, v) = api(&c, "POST", &format!("{}/v1/webhooks", server.url), &key, Some(json!({"url": url}))).await?;
    if st != 201 {
        return Err(format!("creating the webhook answered {st}: {v}"));
    }
    let id = v["webhook"]["id"].as_str().unwrap_or_default().to_owned();
    let test_url = format!("{}/v1/webhooks/{id}/test", server.url);
    let queued_start = Instant::now();
    let next = Arc::new(AtomicU64::new(0));
    let failures = Arc::new(AtomicU64::new(0));
    let mut workers = Vec::new();
    for _ in 0..cfg.connections {
        let (c, test_url, key, next, failures, total) =
            (c.clone(), test_url.clone(), key.clone(), next.clone(), failures.clone(), cfg.webhook_events);
        workers.push(tokio::spawn(async move {
            while next.fetch_add(1, Ordering::Relaxed) < total {
                match api(&c, "POST", &test_url, &key, None).await {
                    Ok((202, _)) => {}
                    _ => {
                        failures.fetch_add(1, Ordering::Relaxed);
                    }
                }
            }
        }));
    }
    for w in workers {
        let _ = w.await;
    }
    let queued_secs = queued_start.elapsed().as_secs_f64();
    let failed = failures.load(Ordering::Relaxed);
    let expected = cfg.webhook_events.saturating_sub(failed) as usize;
    say(format!("{backend}: {expected} webhook events queued in {queued_secs:.1} s; releasing the receiver"));
    let a = snap(Some(server.pid), &[]);
    let load = loadavg();
    let go = Instant::now();
    let _ = receiver.go.send(true);
    let deadline = go + Duration::from_secs(120);
    while receiver.distinct() < expected && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let drain = go.elapsed().as_secs_f64();
    let b = snap(Some(server.pid), &[]);
    let got = receiver.distinct();
    let requests = receiver.requests.load(Ordering::Relaxed);
    let complete = got >= expected && expected > 0;
    let rate = got as f64 / drain.max(0.001);
    say(format!("{backend}: {got} of {expected} webhook events delivered in {drain:.2} s ({rate:.0}/s)"));
    // What the server recorded: the deliveries list says delivered for each.
    let (_, page) =
        api(&c, "GET", &format!("{}/v1/webhooks/{id}/deliveries?limit=100&status=pending", server.url), &key, None)
            .await?;
    let pending_after = page["deliveries"].as_array().map(Vec::len).unwrap_or(0);
    let crashed = server.exited();
    let (warn, error, samples) = server.log_summary();
    let stopped = server.stop();
    let _ = writeln!(
        md,
        "#### 5. Webhook deliveries ({} test events for one endpoint, queued through {} connections while the loopback receiver held every request; then released)\n",
        thousands(cfg.webhook_events as f64),
        cfg.connections
    );
    let _ = writeln!(md, "| Figure | Value |\n| --- | --- |");
    let _ = writeln!(
        md,
        "| events queued (202) | {} of {} in {queued_secs:.2} s |",
        thousands(expected as f64),
        thousands(cfg.webhook_events as f64)
    );
    let _ = writeln!(md, "| distinct events received | {} in {drain:.2} s after release |", thousands(got as f64));
    let _ = writeln!(md, "| requests received (repeats included) | {} |", thousands(requests as f64));
    let _ = writeln!(
        md,
        "| **delivery rate** | **{} deliveries/s** (target ≥ 5,000/s: {}) |",
        thousands(rate),
        verdict(complete && rate >= 5000.0)
    );
    let _ = writeln!(md, "| still pending right after (first page) | {pending_after} |\n");
    let _ = writeln!(md, "- {}; {}", cpu_line(&cpu_use(&a, &b)), busy_note(&load));
    let _ = writeln!(
        md,
        "- server: {stopped}{}; log: {warn} WARN, {error} ERROR lines",
        crashed.map(|c| format!(", **exited during the run ({c})**")).unwrap_or_default()
    );
    for s in samples {
        let _ = writeln!(md, "  - `{}`", s.replace('`', "'"));
    }
    let _ = writeln!(md);
    sum.webhooks = Some((rate, complete));
    drop(db);
    Ok(())
}

#[tokio::main]
async fn main() {
    let cfg = match parse_args() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("{e}");
            std::process::exit(2);
        }
    };
    let started = Instant::now();
    let mut details = String::new();
    let mut sums = Vec::new();
    let load_start = loadavg();
    for backend in &cfg.backends {
        let _ = writeln!(details, "### {}\n", if backend == "sqlite" { "SQLite" } else { "PostgreSQL" });
        if backend == "postgres"
            && let Err(e) = psql(&cfg.pg_base, "SELECT 1")
        {
            let _ = writeln!(details, "Skipped: PostgreSQL unreachable at {} ({e}).\n", cfg.pg_base);
            continue;
        }
        let mut md = String::new();
        match run_backend(&cfg, backend, &mut md).await {
            Ok(s) => sums.push(s),
            Err(e) => {
                say(format!("{backend} failed: {e}"));
                let _ = writeln!(
                    md,
                    "\n**The run on {backend} failed:** `{}`\n",
                    e.replace('`', "'").chars().take(1500).collect::<String>()
                );
            }
        }
        details.push_str(&md);
    }
    let mut out = String::new();
    let _ = writeln!(out, "| Backend | Figure | Measured | Target | Verdict |\n| --- | --- | --- | --- | --- |");
    for s in &sums {
        let b = if s.backend == "sqlite" { "SQLite" } else { "PostgreSQL" };
        if let Some((r, enq, health)) = s.ratio {
            let _ = writeln!(
                out,
                "| {b} | enqueue rate / health rate | {:.1} % (median of {} rounds; means {} / {} req/s) | ≥ 50 % | {} |",
                r * 100.0,
                cfg.rounds,
                thousands(enq),
                thousands(health),
                verdict(r >= 0.5)
            );
        }
        if let Some((r, complete)) = s.e2e_rate {
            let m = if complete {
                format!("{} msg/s", thousands(r))
            } else {
                format!("≤ {} msg/s (did not finish)", thousands(r))
            };
            let _ = writeln!(
                out,
                "| {b} | API → delivered, {} phones | {m} | ≥ 5,000 msg/s | {} |",
                cfg.devices,
                verdict(complete && r >= 5000.0)
            );
        }
        if let Some((p99, p50)) = s.p99 {
            let _ = writeln!(
                out,
                "| {b} | dispatch latency at {:.0} msg/s | p50 {}, p99 {} | p99 < 20 ms | {} |",
                cfg.rate,
                ms(p50),
                ms(p99),
                verdict(p99 < 20.0)
            );
        }
        if let Some((sends, send_p99, verifies, verify_p50, verify_p99)) = s.otp {
            let _ = writeln!(
                out,
                "| {b} | OTP sends ({} connections) | {} sends/s, p99 {} | recorded | — |",
                cfg.connections,
                thousands(sends),
                ms(send_p99)
            );
            let _ = writeln!(
                out,
                "| {b} | OTP verify latency | {} verifications/s; p50 {}, p99 {} | recorded | — |",
                thousands(verifies),
                ms(verify_p50),
                ms(verify_p99)
            );
        }
        if let Some((rate, complete)) = s.webhooks {
            let m = if complete {
                format!("{} deliveries/s", thousands(rate))
            } else {
                format!("≤ {} deliveries/s (did not finish)", thousands(rate))
            };
            let _ = writeln!(
                out,
                "| {b} | webhook deliveries to a loopback receiver | {m} | ≥ 5,000/s | {} |",
                verdict(complete && rate >= 5000.0)
            );
        }
        if let Some((n, accept_ms, search_p99)) = s.bulk {
            let _ = writeln!(
                out,
                "| {b} | bulk of {} recipients, time to 202 | {} | < 1.5 s | {} |",
                thousands(n as f64),
                ms(accept_ms),
                verdict(accept_ms < 1500.0)
            );
            let _ = writeln!(
                out,
                "| {b} | search over {} recipients, worst query p99 | {} | milliseconds | {} |",
                thousands(n as f64),
                ms(search_p99),
                verdict(search_p99 < 50.0)
            );
        }
    }
    let _ = writeln!(
        out,
        "\nLoad average at the start of the harness: {load_start}; at the end: {}{}. Harness wall time: {:.0} s.\n",
        loadavg(),
        if load1() > 3.0 {
            " — **the machine was busy with other work; figures are lower than on an idle machine**"
        } else {
            ""
        },
        started.elapsed().as_secs_f64()
    );
    out.push_str(&details);
    if let Err(e) = std::fs::write(&cfg.out, out) {
        eprintln!("cannot write {}: {e}", cfg.out.display());
        std::process::exit(1);
    }
    say(format!("wrote {} in {:.0} s", cfg.out.display(), started.elapsed().as_secs_f64()));
}

// ---------------------------------------------------------------------------------------------
// Phase 5: bulk sends and the recipients directory.

/// The i-th bench number: distinct Pakistani mobile numbers.
fn bench_number(i: usize) -> String {
    format!("+92300{:07}", 1_000_000 + i)
}

const FIRST: &[&str] = &[
    "Ali",
    "José",
    "Ayesha",
    "Bilal",
    "Fatima",
    "Hamza",
    "Zoë",
    "محمد",
    "علی",
    "عائشہ",
    "فاطمہ",
    "Natalia",
    "Omar",
    "Sana",
];
const LAST: &[&str] =
    &["Khan", "Álvarez", "Shah", "Malik", "Qureshi", "رضا", "خان", "Butt", "Chaudhry", "Iqbal", "Siddiqui"];

fn bench_name(i: usize) -> String {
    format!("{} {} {}", FIRST[i % FIRST.len()], LAST[(i / FIRST.len()) % LAST.len()], i)
}

/// Fresh database, no phone: a bulk send of `--bulk-size` numbers (three times, time to 202),
/// then a CSV import of as many recipients and search latency over them.
async fn bulk_phase(cfg: &Config, backend: &str, md: &mut String, sum: &mut Summary) -> R<()> {
    let n = cfg.bulk_size;
    say(format!("{backend}: phase 5 (bulk of {n} and search over {n} recipients)"));
    let dir = cfg.work_dir.join(backend).join("bulk");
    let db = Database::new(cfg, backend, "bulk", &dir)?;
    let key = create_account(cfg, &db, "bench-bulk")?;
    let mut server = Server::start(cfg, &db, &dir)?;
    let c =
        reqwest::Client::builder().no_proxy().timeout(Duration::from_secs(120)).build().map_err(|e| e.to_string())?;
    let (st, v) =
        api(&c, "PATCH", &format!("{}/v1/account", server.url), &key, Some(json!({"default_region": "PK"}))).await?;
    if st != 200 {
        return Err(format!("PATCH /v1/account: {st} {v}"));
    }
    let recipients: Vec<Value> =
        (0..n).map(|i| json!({"to": bench_number(i), "name": bench_name(i), "vars": {"order": i}})).collect();
    let body =
        json!({"message": "Hi {{name}}, your order {{order}} has shipped.", "recipients": recipients}).to_string();
    let mut accepts = Vec::new();
    for round in 0..3 {
        let started = Instant::now();
        let res = c
            .post(format!("{}/v1/messages/bulk", server.url))
            .bearer_auth(&key)
            .header("content-type", "application/json")
            .body(body.clone())
            .send()
            .await
            .map_err(|e| format!("bulk: {e}"))?;
        let st = res.status().as_u16();
        let text = res.text().await.map_err(|e| format!("bulk: {e}"))?;
        let elapsed = started.elapsed().as_secs_f64() * 1000.0;
        let v: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
        if st != 202 || v["queued"].as_u64() != Some(n as u64) {
            return Err(format!("bulk round {round}: {st} {}", text.chars().take(500).collect::<String>()));
        }
        say(format!("{backend}: bulk of {n} accepted in {elapsed:.0} ms"));
        accepts.push(elapsed);
    }
    // The directory: one CSV import, then searches.
    let mut csv = String::from("name,phone,tags,locale\n");
    for i in 0..n {
        let _ = writeln!(
            csv,
            "{},{},{},{}",
            bench_name(i),
            bench_number(i),
            if i % 10 == 0 { "vip" } else { "" },
            if i % 3 == 0 { "ur" } else { "en" }
        );
    }
    let csv_bytes = csv.len();
    let started = Instant::now();
    let res = c
        .post(format!("{}/v1/recipients/import", server.url))
        .bearer_auth(&key)
        .header("content-type", "text/csv")
        .body(csv)
        .send()
        .await
        .map_err(|e| format!("import: {e}"))?;
    let st = res.status().as_u16();
    let text = res.text().await.map_err(|e| format!("import: {e}"))?;
    let import_ms = started.elapsed().as_secs_f64() * 1000.0;
    let v: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
    if st != 200 || v["created"].as_u64() != Some(n as u64) {
        return Err(format!("import: {st} {}", text.chars().take(500).collect::<String>()));
    }
    say(format!("{backend}: imported {n} recipients in {import_ms:.0} ms"));
    let target = n / 2 + 7;
    let queries: Vec<(String, String)> = vec![
        ("name prefix `ali`".into(), "ali".into()),
        ("name fragment `lvar` (matches `Álvarez`)".into(), "lvar".into()),
        ("Urdu `علي` (Arabic yeh; matches `علی`)".into(), "علي".into()),
        ("a whole name".into(), bench_name(target)),
        ("local number `0300 …`".into(), format!("0300 {:07}", 1_000_000 + target)),
        ("last 5 digits".into(), format!("{:05}", (1_000_000 + target) % 100_000)),
        ("number prefix `0300 1005`".into(), "0300 1005".into()),
        ("no match `zzzz`".into(), "zzzz".into()),
    ];
    let _ = writeln!(md, "#### 5. Bulk send and recipient search (fresh database, no phone paired)\n");
    let _ = writeln!(
        md,
        "- `POST /v1/messages/bulk`, {} recipients with a name and a variable each ({:.1} MB of JSON), time to 202: {} (three runs).",
        thousands(n as f64),
        body.len() as f64 / 1e6,
        accepts.iter().map(|a| ms(*a)).collect::<Vec<_>>().join(", ")
    );
    let _ = writeln!(
        md,
        "- `POST /v1/recipients/import`, {} rows ({:.1} MB CSV): {}.\n",
        thousands(n as f64),
        csv_bytes as f64 / 1e6,
        ms(import_ms)
    );
    let _ = writeln!(
        md,
        "| `GET /v1/recipients?q=` over {} recipients, 50 times each | results | p50 | p99 | max |",
        thousands(n as f64)
    );
    let _ = writeln!(md, "| --- | ---: | ---: | ---: | ---: |");
    let mut worst = 0.0f64;
    for (label, q) in &queries {
        let url = format!("{}/v1/recipients?limit=20&q={}", server.url, encode_query(q));
        let mut lat = Vec::new();
        let mut found = 0;
        for _ in 0..50 {
            let started = Instant::now();
            let res = c.get(&url).bearer_auth(&key).send().await.map_err(|e| format!("search: {e}"))?;
            let st = res.status().as_u16();
            let text = res.text().await.map_err(|e| format!("search: {e}"))?;
            lat.push(u32::try_from(started.elapsed().as_micros()).unwrap_or(u32::MAX));
            if st != 200 {
                return Err(format!("search {q}: {st} {text}"));
            }
            let v: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
            found = v["recipients"].as_array().map_or(0, Vec::len);
        }
        lat.sort_unstable();
        worst = worst.max(pct(&lat, 0.99));
        let _ = writeln!(
            md,
            "| {label} | {found} | {} | {} | {} |",
            ms(pct(&lat, 0.5)),
            ms(pct(&lat, 0.99)),
            ms(pct(&lat, 1.0))
        );
    }
    let crashed = server.exited();
    let (warn, error, samples) = server.log_summary();
    let stopped = server.stop();
    let _ = writeln!(
        md,
        "\n- server: {stopped}{}; log: {warn} WARN, {error} ERROR lines; {}",
        crashed.map(|c| format!(", **exited during the run ({c})**")).unwrap_or_default(),
        loadavg()
    );
    for s in samples {
        let _ = writeln!(md, "  - `{}`", s.replace('`', "'"));
    }
    let _ = writeln!(md);
    let best = accepts.iter().copied().fold(f64::INFINITY, f64::min);
    sum.bulk = Some((n, best, worst));
    drop(db);
    Ok(())
}

fn encode_query(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}
