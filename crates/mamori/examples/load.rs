//! Load benchmark of `mamori serve` on loopback, durability on (every 200 is fsynced).
//!
//! ```sh
//! cargo build --release
//! cargo run --release -p mamori --example load -- [--secs 10] [--bin target/release/mamori]
//! ```
//!
//! Starts the real binary on a fresh store in a temporary directory on the same disk as
//! the working directory, registers an institution, then measures:
//! 1. batches at saturation (`POST /v1/events/batch`, 100 events each, 4 clients);
//! 2. single events at saturation (`POST /v1/events`, 32 clients);
//! 3. single events offered at a fixed 2,000 requests/s (open loop: latency counted from
//!    when each request was due, so a stall is not hidden) for p50/p99.
//!
//! Events: a mix of charges, logins, transfers and withdrawals over 20,000 accounts and
//! 5,000 links, so the feature state grows as in service.
//!
//! ```sh
//! cargo run --release -p mamori --example load -- --notify-compare [--secs 20] [--rounds 2] [--drain 5] [--saturation] [--serve-config FILE]
//! ```
//!
//! `--notify-compare` measures only what notices could cost a decision: the open-loop
//! phase (3; with `--saturation` also phase 2 after it), against a fresh store each time,
//! with notices off (`serve --notify false`) and on (`serve --smtp-url` to a real SMTP
//! server, `SmtpSink` of mamori-notify, and a webhook receiver on loopback set with
//! `PUT /v1/webhook`), in the order off, on, on, off (`--rounds 2`; each round is one
//! off/on pair, alternated to expose drift). Every run first opens the 20,000 accounts
//! with an e-mail (`account_opened`), so that with notices on every money movement writes
//! an e-mail and a webhook notice, then warms up for 2 s at the same rate, then measures
//! for `--secs`, then gives the courier `--drain` seconds before counting deliveries.
//! `--variants off,on,on-fast,on-undelivered` adds diagnostic runs: `on-fast` delivers to
//! a minimal SMTP server in this process instead of aiosmtpd (whose CPU then no longer
//! competes), `on-undelivered` writes the same notices with every delivery refused,
//! `on-stalled` writes them to an SMTP server and webhook that never answer (the courier
//! waits on its first 64 for 10 s: the cost of writing notices without delivering them),
//! `on-mail` and `on-hook` deliver as `on-fast` does on one channel alone (e-mail with no
//! webhook registered; the webhook with accounts opened without an e-mail).

use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

fn arg(name: &str, default: &str) -> String {
    arg_given(name).unwrap_or_else(|| default.to_string())
}

/// The value after `name` on the command line, if it is there.
fn arg_given(name: &str) -> Option<String> {
    std::env::args().skip_while(|a| a != name).nth(1)
}

fn event(n: u64, t: u64) -> String {
    let minute = (n / 50) % 1440;
    let time = format!("2026-11-21T{:02}:{:02}:{:02}+09:00", minute / 60, minute % 60, n % 60);
    let acct = (n * 7919) % 20_000;
    match n % 10 {
        0..=4 => format!(
            r#"{{"id":"e{t}-{n}","type":"charge","time":"{time}","account":"w-{acct}","customer":"c-{acct}","link":"L{}","amount":"{}"}}"#,
            acct % 5000,
            1000 + (n % 50) * 500
        ),
        5 | 6 => format!(
            r#"{{"id":"e{t}-{n}","type":"login","time":"{time}","account":"w-{acct}","success":{},"method":"password","device":"d-{}","ip":"198.51.{}.{}"}}"#,
            !n.is_multiple_of(7),
            acct % 3000,
            (acct / 256) % 256,
            acct % 256
        ),
        7 | 8 => format!(
            r#"{{"id":"e{t}-{n}","type":"transfer","time":"{time}","account":"w-{acct}","direction":"out","counterparty":{{"institution":"other","account":"x-{}"}},"amount":"{}"}}"#,
            n % 997,
            5000 + n % 100_000
        ),
        _ => format!(
            r#"{{"id":"e{t}-{n}","type":"withdrawal","time":"{time}","account":"w-{acct}","payee":{{"institution":"bank","account":"p-{}"}},"amount":"{}"}}"#,
            acct % 4000,
            10_000 + n % 300_000
        ),
    }
}

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder().http_status_as_error(false).max_idle_connections_per_host(64).build().into()
}

fn post(a: &ureq::Agent, url: &str, key: &str, body: String) -> u16 {
    match a.post(url).header("Authorization", &format!("Bearer {key}")).content_type("application/json").send(body) {
        Ok(mut r) => {
            let _ = r.body_mut().read_to_vec();
            r.status().as_u16()
        }
        Err(e) => panic!("{url}: {e}"),
    }
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

/// `clients` threads sending for `secs`; returns (requests, events, latencies).
fn saturate(url: &str, key: &str, clients: u64, per_request: u64, secs: u64, tag: u64) -> (u64, u64, Vec<Duration>) {
    let stop = Arc::new(AtomicBool::new(false));
    let events = Arc::new(AtomicU64::new(0));
    let lat = Arc::new(Mutex::new(Vec::new()));
    let mut handles = Vec::new();
    for c in 0..clients {
        let (stop, events, lat, url, key) = (Arc::clone(&stop), Arc::clone(&events), Arc::clone(&lat), url.to_string(), key.to_string());
        handles.push(std::thread::spawn(move || {
            let a = agent();
            let mut n = 0u64;
            let mut mine = Vec::new();
            while !stop.load(Ordering::Relaxed) {
                let body = if per_request == 1 {
                    n += 1;
                    event(n * clients + c, tag)
                } else {
                    let list: Vec<String> = (0..per_request)
                        .map(|_| {
                            n += 1;
                            event(n * clients + c, tag)
                        })
                        .collect();
                    format!("[{}]", list.join(","))
                };
                let t = Instant::now();
                let status = post(&a, &url, &key, body);
                assert_eq!(status, 200);
                mine.push(t.elapsed());
                events.fetch_add(per_request, Ordering::Relaxed);
            }
            lat.lock().unwrap().extend(mine);
        }));
    }
    std::thread::sleep(Duration::from_secs(secs));
    stop.store(true, Ordering::Relaxed);
    for h in handles {
        h.join().unwrap();
    }
    let lat = std::mem::take(&mut *lat.lock().unwrap());
    (lat.len() as u64, events.load(Ordering::Relaxed), lat)
}

/// Requests due every 1/rate s, spread over `workers` threads; latency from when each was due.
fn fixed_rate(url: &str, key: &str, rate: u64, secs: u64, workers: u64, tag: u64) -> (Vec<Duration>, u64) {
    let start = Instant::now() + Duration::from_millis(100);
    let total = rate * secs;
    let lat = Arc::new(Mutex::new(Vec::new()));
    let mut handles = Vec::new();
    for w in 0..workers {
        let (lat, url, key) = (Arc::clone(&lat), url.to_string(), key.to_string());
        handles.push(std::thread::spawn(move || {
            let a = agent();
            let mut mine = Vec::new();
            let mut i = w;
            while i < total {
                let due = start + Duration::from_nanos(i * 1_000_000_000 / rate);
                let now = Instant::now();
                if due > now {
                    std::thread::sleep(due - now);
                }
                assert_eq!(post(&a, &url, &key, event(i, tag)), 200);
                mine.push(due.elapsed());
                i += workers;
            }
            lat.lock().unwrap().extend(mine);
        }));
    }
    for h in handles {
        h.join().unwrap();
    }
    let elapsed = start.elapsed();
    let lat = std::mem::take(&mut *lat.lock().unwrap());
    let achieved = (lat.len() as f64 / elapsed.as_secs_f64()) as u64;
    (lat, achieved)
}

fn main() {
    let secs: u64 = arg("--secs", "10").parse().expect("--secs N");
    let bin = arg("--bin", "target/release/mamori");
    if std::env::args().any(|a| a == "--notify-compare") {
        notify_compare(secs, bin);
        return;
    }
    let dir = std::env::current_dir().unwrap().join(format!("target/load-{}", std::process::id()));
    let key = fresh_store(&dir);
    let mut child = Command::new(&bin)
        .args(["serve", "--listen", "127.0.0.1:0", "--log-level", "warn", "--data-dir"])
        .arg(&dir)
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("{bin}: {e} (cargo build --release first)"));
    let stderr = child.stderr.take().unwrap();
    let mut addr = String::new();
    for line in BufReader::new(stderr).lines().map_while(Result::ok) {
        if let Some(rest) = line.split("serving on http://").nth(1) {
            addr = rest.split_whitespace().next().unwrap_or("").to_string();
            break;
        }
    }
    let base = format!("http://{addr}");
    println!("mamori serve at {base}, store {} (fsync on every commit)\n", dir.display());

    let (reqs, events, mut lat) = saturate(&format!("{base}/v1/events/batch"), &key, 4, 100, secs, 1);
    lat.sort();
    println!(
        "batch, 100 events/request, 4 clients: {:.0} events/s ({:.0} requests/s), p50 {:.2} ms, p99 {:.2} ms",
        events as f64 / secs as f64,
        reqs as f64 / secs as f64,
        percentile(&lat, 0.5).as_secs_f64() * 1e3,
        percentile(&lat, 0.99).as_secs_f64() * 1e3
    );
    let (reqs, _, mut lat) = saturate(&format!("{base}/v1/events"), &key, 32, 1, secs, 2);
    lat.sort();
    println!(
        "single events, 32 clients: {:.0} events/s, p50 {:.2} ms, p99 {:.2} ms",
        reqs as f64 / secs as f64,
        percentile(&lat, 0.5).as_secs_f64() * 1e3,
        percentile(&lat, 0.99).as_secs_f64() * 1e3
    );
    let (mut lat, achieved) = fixed_rate(&format!("{base}/v1/events"), &key, 2000, secs, 32, 3);
    lat.sort();
    println!(
        "single events offered at 2,000/s (open loop, {achieved}/s achieved): p50 {:.2} ms, p90 {:.2} ms, p99 {:.2} ms, p99.9 {:.2} ms, max {:.2} ms",
        percentile(&lat, 0.5).as_secs_f64() * 1e3,
        percentile(&lat, 0.9).as_secs_f64() * 1e3,
        percentile(&lat, 0.99).as_secs_f64() * 1e3,
        percentile(&lat, 0.999).as_secs_f64() * 1e3,
        lat.last().copied().unwrap_or_default().as_secs_f64() * 1e3
    );
    let metrics =
        agent().get(&format!("{base}/metrics")).call().ok().and_then(|mut r| r.body_mut().read_to_string().ok()).unwrap_or_default();
    for l in metrics.lines().filter(|l| l.starts_with("mamori_store_commits") || l.starts_with("mamori_store_durable_seq")) {
        println!("{l}");
    }
    let _ = child.kill();
    let _ = child.wait();
    let _ = std::fs::remove_dir_all(&dir);
}

// --notify-compare: decision latency with notices off and on.

/// The accounts `event` uses: w-0 .. w-19999.
const ACCOUNTS: u64 = 20_000;
/// The open-loop rate, as in the default run's phase 3.
const RATE: u64 = 2000;
/// Client threads of the open loop, as in the default run.
const WORKERS: u64 = 32;
/// Clock ticks per second of /proc's CPU times (USER_HZ, 100 on Linux).
const TICKS: f64 = 100.0;

/// CPU seconds (user + system) of a process, from `/proc/<pid>/stat`.
fn proc_cpu_secs(stat: &str) -> f64 {
    let text = std::fs::read_to_string(stat).unwrap_or_default();
    let after = text.rsplit_once(')').map_or("", |(_, r)| r);
    let f: Vec<f64> = after.split_whitespace().map(|x| x.parse().unwrap_or(0.0)).collect();
    (f.get(11).copied().unwrap_or(0.0) + f.get(12).copied().unwrap_or(0.0)) / TICKS
}

/// Bytes a process has caused to be written to disk (`write_bytes` of `/proc/<pid>/io`).
fn proc_write_bytes(pid: u32) -> f64 {
    let text = std::fs::read_to_string(format!("/proc/{pid}/io")).unwrap_or_default();
    text.lines().find_map(|l| l.strip_prefix("write_bytes:")).and_then(|v| v.trim().parse().ok()).unwrap_or(0.0)
}

/// CPU seconds of this process's children other than `except` (the SMTP sink).
fn children_cpu_secs(except: u32) -> f64 {
    let me = std::process::id().to_string();
    let Ok(dir) = std::fs::read_dir("/proc") else { return 0.0 };
    dir.filter_map(Result::ok)
        .filter(|e| e.file_name().to_str().is_some_and(|n| n.bytes().all(|b| b.is_ascii_digit()) && n != except.to_string()))
        .filter(|e| {
            let stat = std::fs::read_to_string(e.path().join("stat")).unwrap_or_default();
            stat.rsplit_once(')').and_then(|(_, r)| r.split_whitespace().nth(1).map(|ppid| ppid == me)).unwrap_or(false)
        })
        .map(|e| proc_cpu_secs(&e.path().join("stat").to_string_lossy()))
        .sum()
}

/// A `mamori serve` started for one run; stopped with SIGTERM (store closed cleanly) on drop.
struct Served {
    child: Child,
    base: String,
}

impl Served {
    fn start(bin: &str, dir: &Path, extra: &[&str]) -> Served {
        let child = Command::new(bin)
            .args(["serve", "--listen", "127.0.0.1:0", "--log-level", "warn", "--data-dir"])
            .arg(dir)
            .args(extra)
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("{bin}: {e} (cargo build --release first)"));
        let mut served = Served { child, base: String::new() };
        let stderr = served.child.stderr.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        // Reads stderr to its end so that warnings show and the service never blocks on it.
        std::thread::spawn(move || {
            let mut tx = Some(tx);
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                match line.split("serving on http://").nth(1) {
                    Some(rest) if tx.is_some() => {
                        let _ = tx.take().unwrap().send(rest.split_whitespace().next().unwrap_or("").to_string());
                    }
                    _ => eprintln!("    [serve] {line}"),
                }
            }
        });
        let addr = rx.recv_timeout(Duration::from_secs(300)).expect("mamori serve did not start");
        served.base = format!("http://{addr}");
        served
    }

    fn cpu_secs(&self) -> f64 {
        proc_cpu_secs(&format!("/proc/{}/stat", self.child.id()))
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = Command::new("kill").args(["-TERM", &self.child.id().to_string()]).status();
            let deadline = Instant::now() + Duration::from_secs(60);
            while matches!(self.child.try_wait(), Ok(None)) && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(50));
            }
            let _ = self.child.kill();
        }
        let _ = self.child.wait();
    }
}

/// The service's counters that tell where a request's time went.
#[derive(Debug, Default, Clone)]
struct Counters {
    commits: f64,
    commit_wait_sum: f64,
    commit_wait_count: f64,
    request_sum: f64,
    request_count: f64,
    /// Cumulative histogram buckets (upper bound in seconds, count) of the commit wait and
    /// of `/v1/events` requests.
    commit_wait_buckets: Vec<(f64, f64)>,
    request_buckets: Vec<(f64, f64)>,
    outbox_commits: f64,
    wal_syncs: f64,
}

/// The cumulative buckets of the histogram `name` (in the series whose labels hold
/// `label`), in the order the exposition lists them.
fn buckets(text: &str, name: &str, label: &str) -> Vec<(f64, f64)> {
    text.lines()
        .filter_map(|l| {
            let rest = l.strip_prefix(name)?.strip_prefix("_bucket{")?;
            let (labels, value) = rest.split_once("} ")?;
            if !labels.contains(label) {
                return None;
            }
            let le = labels.split(',').find_map(|kv| kv.strip_prefix("le=\""))?.trim_end_matches('"');
            let le = if le == "+Inf" { f64::INFINITY } else { le.parse().ok()? };
            Some((le, value.trim().parse().ok()?))
        })
        .collect()
}

/// The `q` quantile of what a histogram counted between two readings, in milliseconds,
/// interpolated within its bucket (the buckets double, so this is an estimate).
fn bucket_quantile(before: &[(f64, f64)], after: &[(f64, f64)], q: f64) -> Option<f64> {
    let delta: Vec<(f64, f64)> = after.iter().map(|&(le, n)| (le, n - before.iter().find(|b| b.0 == le).map_or(0.0, |b| b.1))).collect();
    let total = delta.last()?.1;
    if total <= 0.0 {
        return None;
    }
    let want = q * total;
    let mut low = (0.0, 0.0);
    for &(le, n) in &delta {
        if n >= want {
            if le.is_infinite() {
                return Some(1e3 * low.0);
            }
            let share = if n > low.1 { (want - low.1) / (n - low.1) } else { 1.0 };
            return Some(1e3 * (low.0 + share * (le - low.0)));
        }
        low = (le, n);
    }
    None
}

fn counters(base: &str) -> Counters {
    let text = agent().get(&format!("{base}/metrics")).call().ok().and_then(|mut r| r.body_mut().read_to_string().ok()).unwrap_or_default();
    let get = |key: &str| {
        text.lines().find_map(|l| l.strip_prefix(key).and_then(|v| v.strip_prefix(' ')).and_then(|v| v.trim().parse().ok())).unwrap_or(0.0)
    };
    Counters {
        commits: get("mamori_store_commits"),
        commit_wait_sum: get("mamori_store_commit_wait_seconds_sum"),
        commit_wait_count: get("mamori_store_commit_wait_seconds_count"),
        request_sum: get(r#"mamori_http_request_duration_seconds_sum{route="/v1/events"}"#),
        request_count: get(r#"mamori_http_request_duration_seconds_count{route="/v1/events"}"#),
        commit_wait_buckets: buckets(&text, "mamori_store_commit_wait_seconds", ""),
        request_buckets: buckets(&text, "mamori_http_request_duration_seconds", r#"route="/v1/events""#),
        outbox_commits: get("mamori_store_outbox_commits"),
        wal_syncs: get("mamori_store_wal_syncs"),
    }
}

/// Messages the sink has written so far (whole lines of its output file).
fn sink_count(out: &Path) -> u64 {
    std::fs::read(out).map(|b| b.iter().filter(|&&c| c == b'\n').count() as u64).unwrap_or(0)
}

/// Opens every account the events use, each with an e-mail, in batches of 10,000.
fn open_accounts(base: &str, key: &str, with_email: bool) {
    let a = agent();
    for start in (0..ACCOUNTS).step_by(10_000) {
        let list: Vec<String> = (start..(start + 10_000).min(ACCOUNTS))
            .map(|n| {
                let holder = if with_email { format!(r#","holder":{{"email":"c{n}@example.jp"}}"#) } else { String::new() };
                format!(r#"{{"id":"open-{n}","type":"account_opened","time":"2025-06-01T09:00:00+09:00","account":"w-{n}","kyc":"in_person"{holder}}}"#)
            })
            .collect();
        let mut r = a
            .post(&format!("{base}/v1/events/batch"))
            .header("Authorization", &format!("Bearer {key}"))
            .content_type("application/json")
            .send(format!("[{}]", list.join(",")))
            .expect("batch");
        let status = r.status().as_u16();
        let body = r.body_mut().read_to_string().unwrap_or_default();
        assert_eq!(status, 200, "account_opened batch: {body}");
        assert!(!body.contains("\"error\""), "account_opened batch refused an event: {}", &body[..body.len().min(500)]);
    }
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

/// p50, p99, p99.9 of sorted latencies, in ms.
fn tail(sorted: &[Duration]) -> (f64, f64, f64) {
    (ms(percentile(sorted, 0.5)), ms(percentile(sorted, 0.99)), ms(percentile(sorted, 0.999)))
}

/// A loopback port that accepts connections and never answers (a diagnostic,
/// `--variants ...,on-stalled`): every delivery to it waits for its 10 s timeout.
fn stalled_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for stream in listener.incoming().flatten() {
            held.push(stream);
        }
    });
    port
}

/// How a run is set up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Variant {
    /// `serve --notify false`.
    Off,
    /// Notices on: `--smtp-url` of the aiosmtpd sink, the webhook receiver set.
    On,
    /// Diagnostic: as `On` with the minimal SMTP server of mamori-notify's `sink::MinimalSmtp` instead of aiosmtpd.
    OnFast,
    /// Diagnostic: notices written (e-mail and webhook rows), every delivery refused
    /// (SMTP and webhook at a closed port): the courier tries and backs off.
    OnUndelivered,
    /// Diagnostic: notices written, SMTP server and webhook accepting connections and never
    /// answering: the courier sits on one round of 64 for its 10 s timeout, so this is the
    /// cost of writing the notices alone.
    OnStalled,
    /// Diagnostic: as `OnFast` with e-mail notices alone (no webhook registered).
    OnMail,
    /// Diagnostic: as `OnFast` with webhook notices alone (accounts opened without an e-mail).
    OnHook,
}

impl Variant {
    fn parse(s: &str) -> Variant {
        match s {
            "off" => Variant::Off,
            "on" => Variant::On,
            "on-fast" => Variant::OnFast,
            "on-undelivered" => Variant::OnUndelivered,
            "on-stalled" => Variant::OnStalled,
            "on-mail" => Variant::OnMail,
            "on-hook" => Variant::OnHook,
            _ => panic!("--variants: {s:?} is not off, on, on-fast, on-undelivered, on-stalled, on-mail or on-hook"),
        }
    }

    fn name(self) -> &'static str {
        match self {
            Variant::Off => "off",
            Variant::On => "on",
            Variant::OnFast => "on-fast",
            Variant::OnUndelivered => "on-undelivered",
            Variant::OnStalled => "on-stalled",
            Variant::OnMail => "on-mail",
            Variant::OnHook => "on-hook",
        }
    }
}

struct Run {
    variant: Variant,
    lat: Vec<Duration>,
    achieved: u64,
    server_cpu: f64,
    own_cpu: f64,
    sink_cpu: f64,
    window: f64,
    /// E-mails and webhook deliveries received during the measured window.
    mails_window: u64,
    hooks_window: u64,
    /// ... and in all, up to the service's stop.
    mails: u64,
    hooks: u64,
    /// `GET /v1/notices?status=pending&limit=1000` after the load and the drain.
    pending_api: usize,
    /// (pending, sent, dead) in the store after the stop.
    stored: (usize, usize, usize),
    saturation: Option<(f64, f64, f64)>,
    /// Bytes the service wrote to disk during the measured window.
    disk_bytes: f64,
    /// The service's counters at the start and the end of the measured window.
    counters: (Counters, Counters),
}

/// What every run of `--notify-compare` shares.
struct Compare {
    bin: String,
    secs: u64,
    /// Seconds the courier gets after the load before deliveries are counted.
    drain: u64,
    with_saturation: bool,
    sink: mamori_notify::sink::SmtpSink,
    /// The webhook receiver.
    hook: mamori_notify::sink::WebhookSink,
    /// The minimal SMTP server of the `on-fast` runs (a diagnostic): accepts every message
    /// at once and only counts it, so that the SMTP server's own CPU is near nothing.
    fast: mamori_notify::sink::MinimalSmtp,
    /// A loopback port where nothing listens.
    closed: u16,
    /// `--serve-config FILE`: passed to every `mamori serve` as `--config`.
    config: Option<String>,
    /// A loopback port that never answers.
    stalled: u16,
}

impl Compare {
    /// E-mails received so far by either SMTP server.
    fn mails(&self) -> u64 {
        sink_count(&self.sink.out) + self.fast.messages() as u64
    }

    fn hooks(&self) -> u64 {
        self.hook.count() as u64
    }
}

/// A new store in `dir` with the institution the load is sent as; its key.
fn fresh_store(dir: &Path) -> String {
    let _ = std::fs::remove_dir_all(dir);
    let store = mamori_store::Store::open(dir).expect("store");
    let key = store.add_institution("wallet-b", mamori_store::InstitutionKind::Emoney, 0).unwrap().expose().to_string();
    store.close().unwrap();
    key
}

fn one_run(c: &Compare, variant: Variant, index: usize) -> Run {
    let dir = std::env::current_dir().unwrap().join(format!("target/load-{}-{index}-{}", std::process::id(), variant.name()));
    let key = fresh_store(&dir);
    let (mails0, hooks0) = (c.mails(), c.hooks());
    let closed_smtp = format!("smtp://127.0.0.1:{}", c.closed);
    let closed_hook = format!("http://127.0.0.1:{}/hooks/mamori", c.closed);
    let stalled_smtp = format!("smtp://127.0.0.1:{}", c.stalled);
    let stalled_hook = format!("http://127.0.0.1:{}/hooks/mamori", c.stalled);
    let smtp = c.sink.url();
    let (mut args, hook): (Vec<&str>, Option<&str>) = match variant {
        Variant::Off => (vec!["--notify", "false"], None),
        Variant::On => (vec!["--smtp-url", &smtp], Some(&c.hook.url)),
        Variant::OnFast => (vec!["--smtp-url", &c.fast.url], Some(&c.hook.url)),
        Variant::OnUndelivered => (vec!["--smtp-url", &closed_smtp], Some(&closed_hook)),
        Variant::OnStalled => (vec!["--smtp-url", &stalled_smtp], Some(&stalled_hook)),
        Variant::OnMail => (vec!["--smtp-url", &c.fast.url], None),
        Variant::OnHook => (vec!["--smtp-url", &c.fast.url], Some(&c.hook.url)),
    };
    if let Some(config) = &c.config {
        args.extend(["--config", config.as_str()]);
    }
    let served = Served::start(&c.bin, &dir, &args);
    let base = served.base.clone();
    if let Some(hook) = hook {
        let mut r = agent()
            .put(&format!("{base}/v1/webhook"))
            .header("Authorization", &format!("Bearer {key}"))
            .content_type("application/json")
            .send(format!(r#"{{"url":"{hook}"}}"#))
            .expect("PUT /v1/webhook");
        assert_eq!(r.status().as_u16(), 200, "PUT /v1/webhook: {}", r.body_mut().read_to_string().unwrap_or_default());
    }
    open_accounts(&base, &key, variant != Variant::OnHook);
    let url = format!("{base}/v1/events");
    // Warm-up: the same rate for 2 s, events of their own (the same in every run).
    let _ = fixed_rate(&url, &key, RATE, 2, WORKERS, 9);

    let pid = served.child.id();
    let cpu = || (served.cpu_secs(), proc_cpu_secs("/proc/self/stat"), children_cpu_secs(pid));
    let (server0, own0, sink0) = cpu();
    let (mw0, hw0) = (c.mails(), c.hooks());
    let k0 = counters(&base);
    let io0 = proc_write_bytes(pid);
    let t0 = Instant::now();
    let (mut lat, achieved) = fixed_rate(&url, &key, RATE, c.secs, WORKERS, 3);
    let window = t0.elapsed().as_secs_f64();
    let (server1, own1, sink1) = cpu();
    let (mw1, hw1) = (c.mails(), c.hooks());
    let k1 = counters(&base);
    let io1 = proc_write_bytes(pid);
    lat.sort();

    let saturation = c.with_saturation.then(|| {
        let (reqs, _, mut lat) = saturate(&url, &key, 32, 1, c.secs, 2);
        lat.sort();
        (reqs as f64 / c.secs as f64, ms(percentile(&lat, 0.5)), ms(percentile(&lat, 0.99)))
    });

    // The courier's catch-up after the load.
    std::thread::sleep(Duration::from_secs(c.drain));
    let pending_api = agent()
        .get(&format!("{base}/v1/notices?status=pending&limit=1000"))
        .header("Authorization", &format!("Bearer {key}"))
        .call()
        .ok()
        .and_then(|mut r| r.body_mut().read_to_string().ok())
        .and_then(|b| serde_json::from_str::<serde_json::Value>(&b).ok())
        .and_then(|v| v["notices"].as_array().map(Vec::len))
        .unwrap_or(usize::MAX);
    drop(served);
    let (mails, hooks) = (c.mails() - mails0, c.hooks() - hooks0);
    let stored = {
        let store = mamori_store::Store::open(&dir).expect("store after the run");
        let n = |s| store.notices("wallet-b", Some(s), 100_000_000).map_or(0, |v| v.len());
        let counts = (n(mamori_store::NoticeStatus::Pending), n(mamori_store::NoticeStatus::Sent), n(mamori_store::NoticeStatus::Dead));
        store.close().unwrap();
        counts
    };
    let _ = std::fs::remove_dir_all(&dir);
    Run {
        variant,
        lat,
        achieved,
        server_cpu: server1 - server0,
        own_cpu: own1 - own0,
        sink_cpu: sink1 - sink0,
        window,
        mails_window: mw1 - mw0,
        hooks_window: hw1 - hw0,
        mails,
        hooks,
        pending_api,
        stored,
        saturation,
        counters: (k0, k1),
        disk_bytes: io1 - io0,
    }
}

fn print_run(i: usize, r: &Run) {
    let (p50, p99, p999) = tail(&r.lat);
    println!(
        "run {i} notices {}: {} requests ({}/s achieved), p50 {p50:.2} ms, p90 {:.2} ms, p99 {p99:.2} ms, p99.9 {p999:.2} ms, max {:.2} ms",
        r.variant.name(),
        r.lat.len(),
        r.achieved,
        ms(percentile(&r.lat, 0.9)),
        ms(r.lat.last().copied().unwrap_or_default())
    );
    println!(
        "    CPU over the measured {:.1} s: service {:.1} s ({:.0}% of a core), load generator + receivers {:.1} s, SMTP sink (aiosmtpd) {:.1} s",
        r.window,
        r.server_cpu,
        100.0 * r.server_cpu / r.window,
        r.own_cpu,
        r.sink_cpu,
    );
    let (k0, k1) = &r.counters;
    let commits = k1.commits - k0.commits;
    println!(
        "    service side: mean request {:.2} ms, mean commit wait {:.2} ms, {commits:.0} commits ({:.1} requests per commit), \
         {:.0} MB written to disk ({:.1} KB per commit)",
        1e3 * (k1.request_sum - k0.request_sum) / (k1.request_count - k0.request_count).max(1.0),
        1e3 * (k1.commit_wait_sum - k0.commit_wait_sum) / (k1.commit_wait_count - k0.commit_wait_count).max(1.0),
        (k1.request_count - k0.request_count) / commits.max(1.0),
        r.disk_bytes / 1e6,
        r.disk_bytes / 1e3 / commits.max(1.0)
    );
    let q = |b0: &[(f64, f64)], b1: &[(f64, f64)], q: f64| bucket_quantile(b0, b1, q).map_or("-".to_string(), |v| format!("{v:.2}"));
    println!(
        "    service side, from its histograms (estimates within doubling buckets): request p99 {} ms, p99.9 {} ms; \
         commit wait p99 {} ms, p99.9 {} ms; {:.0} outbox commits, {:.0} WAL syncs of their own",
        q(&k0.request_buckets, &k1.request_buckets, 0.99),
        q(&k0.request_buckets, &k1.request_buckets, 0.999),
        q(&k0.commit_wait_buckets, &k1.commit_wait_buckets, 0.99),
        q(&k0.commit_wait_buckets, &k1.commit_wait_buckets, 0.999),
        k1.outbox_commits - k0.outbox_commits,
        k1.wal_syncs - k0.wal_syncs,
    );
    if let Some((rate, p50, p99)) = r.saturation {
        println!("    single events, 32 clients, saturation: {rate:.0} events/s, p50 {p50:.2} ms, p99 {p99:.2} ms");
    }
    println!(
        "    notices: {} e-mails and {} webhook deliveries received during the measured window; {} and {} in all up to the stop; \
         GET /v1/notices?status=pending&limit=1000 after the drain: {}{}; in the store after the stop: {} pending, {} sent, {} dead",
        r.mails_window,
        r.hooks_window,
        r.mails,
        r.hooks,
        r.pending_api,
        if r.pending_api == 1000 { " (the limit)" } else { "" },
        r.stored.0,
        r.stored.1,
        r.stored.2
    );
}

fn notify_compare(secs: u64, bin: String) {
    let rounds: usize = arg("--rounds", "2").parse().expect("--rounds N");
    let drain: u64 = arg("--drain", "5").parse().expect("--drain SECONDS");
    let variants: Vec<Variant> = arg("--variants", "off,on").split(',').map(Variant::parse).collect();
    assert!(variants.contains(&Variant::Off), "--variants must include off, the baseline");
    let with_saturation = std::env::args().any(|a| a == "--saturation");
    // The SMTP sink and the webhook receiver first, for every run: idle when notices are off.
    let sink = match mamori_notify::sink::SmtpSink::start(0) {
        Ok(Some(s)) => s,
        Ok(None) => {
            eprintln!("--notify-compare needs the SMTP sink (scripts/install-test-deps: Python aiosmtpd)");
            std::process::exit(2);
        }
        Err(e) => panic!("{e}"),
    };
    let hook = mamori_notify::sink::WebhookSink::start(0).expect("webhook receiver");
    let fast = mamori_notify::sink::MinimalSmtp::start(usize::MAX).expect("minimal SMTP server");
    let closed = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    println!(
        "notices off (serve --notify false) against on (serve --smtp-url {}, webhook {}): open loop at {RATE}/s, {WORKERS} clients, {secs} s \
         measured after 2 s of warm-up, {ACCOUNTS} accounts opened with an e-mail first, a fresh store each run (fsync on every commit)\n",
        sink.url(),
        hook.url
    );
    let config = arg_given("--serve-config");
    let c = Compare { bin, secs, drain, with_saturation, sink, hook, fast, closed, stalled: stalled_port(), config };
    // Each round runs every variant, in reverse order every other round (off, on, on, off).
    let order: Vec<Variant> = (0..rounds)
        .flat_map(|r| {
            let mut v = variants.clone();
            if r % 2 == 1 {
                v.reverse();
            }
            v
        })
        .collect();
    let mut runs = Vec::new();
    for (i, &variant) in order.iter().enumerate() {
        let r = one_run(&c, variant, i + 1);
        print_run(i + 1, &r);
        runs.push(r);
        std::thread::sleep(Duration::from_secs(2));
    }

    println!("\n| run | notices | p50 ms | p99 ms | p99.9 ms | achieved/s | service CPU | SMTP sink CPU | e-mails / webhooks in window |");
    println!("|---|---|---|---|---|---|---|---|---|");
    for (i, r) in runs.iter().enumerate() {
        let (p50, p99, p999) = tail(&r.lat);
        println!(
            "| {} | {} | {p50:.2} | {p99:.2} | {p999:.2} | {} | {:.0}% | {:.0}% | {} / {} |",
            i + 1,
            r.variant.name(),
            r.achieved,
            100.0 * r.server_cpu / r.window,
            100.0 * r.sink_cpu / r.window,
            r.mails_window,
            r.hooks_window
        );
    }
    println!();
    let n = variants.len();
    for (k, round) in runs.chunks(n).enumerate() {
        let Some(off) = round.iter().find(|r| r.variant == Variant::Off) else { continue };
        let p99_off = tail(&off.lat).1;
        for r in round.iter().filter(|r| r.variant != Variant::Off) {
            let p99 = tail(&r.lat).1;
            println!("round {}: p99 {}/off = {p99:.2} / {p99_off:.2} = {:.3}", k + 1, r.variant.name(), p99 / p99_off);
        }
    }
    let pooled = |v: Variant| {
        let mut all: Vec<Duration> = runs.iter().filter(|r| r.variant == v).flat_map(|r| r.lat.iter().copied()).collect();
        all.sort();
        tail(&all)
    };
    let off = pooled(Variant::Off);
    println!("pooled off: p50 {:.2}, p99 {:.2}, p99.9 {:.2} ms", off.0, off.1, off.2);
    for &v in variants.iter().filter(|&&v| v != Variant::Off) {
        let on = pooled(v);
        println!(
            "pooled {}: p50 {:.2}, p99 {:.2}, p99.9 {:.2} ms; p99 {}/off {:.3} (target within 10%: {})",
            v.name(),
            on.0,
            on.1,
            on.2,
            v.name(),
            on.1 / off.1,
            if (on.1 / off.1 - 1.0).abs() <= 0.10 { "met" } else { "NOT met" }
        );
    }
    let on = |v: Variant| runs.iter().filter(|r| r.variant == v).fold((0, 0), |(m, h), r| (m + r.mails, h + r.hooks));
    let (mails, hooks) = on(Variant::On);
    println!(
        "SMTP sink (aiosmtpd) received {} messages in all ({mails} during the \"on\" runs); webhook receiver {} deliveries ({hooks} during the \"on\" runs)",
        sink_count(&c.sink.out),
        c.hooks()
    );
    if variants.contains(&Variant::OnFast) {
        let (mails, hooks) = on(Variant::OnFast);
        println!("\"on-fast\" runs: {mails} e-mails to the minimal SMTP server, {hooks} webhook deliveries");
    }
}
