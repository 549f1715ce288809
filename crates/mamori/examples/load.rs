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

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

fn arg(name: &str, default: &str) -> String {
    let args: Vec<String> = std::env::args().collect();
    args.iter().position(|a| a == name).and_then(|i| args.get(i + 1)).cloned().unwrap_or_else(|| default.to_string())
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
    let dir = std::env::current_dir().unwrap().join(format!("target/load-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let key = {
        let store = mamori_store::Store::open(&dir).expect("store");
        let key = store.add_institution("wallet-b", mamori_store::InstitutionKind::Emoney, 0).unwrap().expose().to_string();
        store.close().unwrap();
        key
    };
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
