//! `mamori serve` as an integrator meets it: the real binary on a loopback port,
//! institutions added with `mamori institution add`, the contract's answers over HTTP,
//! reload on SIGHUP, graceful shutdown on SIGTERM, and a SIGKILL in the middle of a load
//! after which every acknowledged event is there and nothing else is half there.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::Stdio;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

mod common;
use common::{Server, TempDir, add_institution, agent, bin, send};

fn charge(id: &str, minute: u32, link: &str, amount: u32) -> Value {
    json!({"id": id, "type": "charge", "time": format!("2026-11-21T{:02}:{:02}:00+09:00", 10 + minute / 60, minute % 60), "account": "w-1", "link": link, "amount": amount.to_string()})
}

/// The service's courier threads run in Linux's idle class, its request threads do not
/// (the scheduling policy of each thread, by name, from the kernel).
#[cfg(target_os = "linux")]
fn courier_runs_below_the_request_threads(pid: u32) {
    const SCHED_IDLE: u32 = 5;
    let idle_courier = |policy: &std::collections::BTreeMap<String, Vec<u32>>| {
        // The courier's own blocking threads are named after it.
        let mut courier = policy.iter().filter(|(name, _)| name.starts_with("mamori-courier")).flat_map(|(_, p)| p).peekable();
        courier.peek().is_some() && courier.all(|&p| p == SCHED_IDLE)
    };
    let mut policy = std::collections::BTreeMap::<String, Vec<u32>>::new();
    // The courier thread starts with the service: it may take a moment to name itself and
    // to leave the class it was started in.
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while !idle_courier(&policy) {
        assert!(std::time::Instant::now() < deadline, "no courier thread in the idle class among {policy:?}");
        policy.clear();
        for task in std::fs::read_dir(format!("/proc/{pid}/task")).unwrap().flatten() {
            let (Ok(comm), Ok(stat)) =
                (std::fs::read_to_string(task.path().join("comm")), std::fs::read_to_string(task.path().join("stat")))
            else {
                continue;
            };
            // After the command name in parentheses: state is field 3, policy field 41.
            let after = &stat[stat.rfind(')').unwrap() + 1..];
            let p: u32 = after.split_whitespace().nth(38).unwrap().parse().unwrap();
            policy.entry(comm.trim().to_string()).or_default().push(p);
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(policy["tokio-rt-worker"].iter().all(|&p| p != SCHED_IDLE), "{policy:?}");
}

/// The service's memory is in ordinary pages: the allocator does not ask for transparent
/// huge pages, whose allocation can stall a request on the kernel compacting memory.
/// Where the kernel gives huge pages to every process unasked (`always`) there is nothing
/// to check.
#[cfg(target_os = "linux")]
fn no_huge_pages_asked_for(pid: u32) {
    let mode = std::fs::read_to_string("/sys/kernel/mm/transparent_hugepage/enabled").unwrap_or_default();
    if mode.is_empty() || mode.contains("[always]") {
        eprintln!("huge pages not checked: the kernel's mode is {:?}", mode.trim());
        return;
    }
    let smaps = std::fs::read_to_string(format!("/proc/{pid}/smaps")).unwrap();
    let huge_kb: u64 = smaps
        .lines()
        .filter_map(|l| l.strip_prefix("AnonHugePages:"))
        .map(|l| l.trim().trim_end_matches("kB").trim().parse::<u64>().unwrap())
        .sum();
    assert_eq!(huge_kb, 0, "the service holds {huge_kb} kB in transparent huge pages (mode {:?})", mode.trim());
}

/// The status the service answers to a POST that declares `length` bytes of
/// body and sends none of them.
fn status_of_headers_only(base: &str, path: &str, key: &str, length: usize) -> u16 {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(base.trim_start_matches("http://")).unwrap();
    stream.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    write!(
        stream,
        "POST {path} HTTP/1.1\r\nHost: mamori\r\nAuthorization: Bearer {key}\r\nContent-Type: application/json\r\nContent-Length: {length}\r\n\r\n"
    )
    .unwrap();
    let mut head = [0u8; 12];
    stream.read_exact(&mut head).expect("an answer before the body is sent");
    let line = String::from_utf8_lossy(&head);
    line.strip_prefix("HTTP/1.1 ").and_then(|s| s.trim().parse().ok()).unwrap_or_else(|| panic!("not a status line: {line:?}"))
}

#[test]
fn the_contract_over_http() {
    let dir = TempDir::new("contract");
    let data = dir.path("data");
    let bank = add_institution(&data, "bank-a", "bank");
    let wallet = add_institution(&data, "wallet-b", "emoney");
    assert_ne!(bank, wallet);
    // Only the key's hash is kept.
    let db = std::fs::read(data.join("mamori.db")).unwrap_or_default();
    assert!(!db.windows(bank.len()).any(|w| w == bank.as_bytes()));
    // Duplicate institution: failure (1); bad kind: usage (2).
    let out = bin().args(["institution", "add", "bank-a", "--kind", "bank", "--data-dir"]).arg(&data).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("already exists"));
    let out = bin().args(["institution", "add", "x", "--kind", "bakery", "--data-dir"]).arg(&data).output().unwrap();
    assert_eq!(out.status.code(), Some(2));

    let mut server = Server::start(&data, &["--log-format", "json"]);
    let a = agent();
    let url = |p: &str| format!("{}{p}", server.base);
    assert_eq!(send(&a, "GET", &url("/healthz"), None, None).unwrap().status, 200);
    #[cfg(target_os = "linux")]
    courier_runs_below_the_request_threads(server.child.id());

    let holder = "ヤマダ タロウ";
    let link = json!({"id":"l1","type":"link_requested","time":"2026-11-21T09:00:00+09:00","account":"acct-secret-77","link":"L1","bank":{"institution":"bank-a","account":"acct-secret-77"},"wallet":{"institution":"wallet-b","account":"w-1"},"holder":{"name_kana":holder,"phone":"+819012345678"},"auth":"pin_only"});
    let r = send(&a, "POST", &url("/v1/events"), Some(&bank), Some(link.to_string())).unwrap();
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.content_type, "application/json");
    let d = r.json();
    assert_eq!(d["decision"], "challenge");
    assert_eq!(d["reasons"][0]["rule"], "pin-only-link");
    let again = send(&a, "POST", &url("/v1/events"), Some(&bank), Some(link.to_string())).unwrap();
    assert!(again.replay);
    assert_eq!(again.body, r.body);
    let mut changed = link.clone();
    changed["auth"] = json!("passkey");
    assert_eq!(send(&a, "POST", &url("/v1/events"), Some(&bank), Some(changed.to_string())).unwrap().status, 409);
    assert_eq!(send(&a, "POST", &url("/v1/events"), None, Some(link.to_string())).unwrap().status, 401);
    assert_eq!(send(&a, "POST", &url("/v1/events"), Some("mk_wrong"), Some(link.to_string())).unwrap().status, 401);
    let mut other = link.clone();
    other["institution"] = json!("bank-z");
    assert_eq!(send(&a, "POST", &url("/v1/events"), Some(&bank), Some(other.to_string())).unwrap().status, 403);
    let mut bad = link.clone();
    bad["amount"] = json!("12.5.1");
    let r = send(&a, "POST", &url("/v1/events"), Some(&bank), Some(bad.to_string())).unwrap();
    assert_eq!(r.status, 422);
    assert_eq!(r.content_type, "application/problem+json");
    assert!(r.json()["errors"].as_array().unwrap().iter().any(|e| e["pointer"] == "/amount"));
    // Over 1 MiB: refused on the declared length, before the body is sent
    // (a client still writing a refused body may see the connection close).
    assert_eq!(status_of_headers_only(&server.base, "/v1/events", &bank, (1 << 20) + 1), 413);
    let r = send(&a, "GET", &url("/v1/events/l1"), Some(&bank), None).unwrap();
    assert_eq!((r.status, r.body.as_str()), (200, again.body.as_str()));
    assert_eq!(send(&a, "GET", &url("/v1/events/l1"), Some(&wallet), None).unwrap().status, 404);
    let batch = json!([charge("c1", 0, "L9", 1000), charge("c2", 1, "L9", 2000)]);
    let r = send(&a, "POST", &url("/v1/events/batch"), Some(&wallet), Some(batch.to_string())).unwrap();
    assert_eq!(r.status, 200);
    assert_eq!(r.json().as_array().unwrap().len(), 2);
    let openapi = send(&a, "GET", &url("/openapi.json"), None, None).unwrap().json();
    assert_eq!(openapi["openapi"], "3.1.0");
    let metrics = send(&a, "GET", &url("/metrics"), None, None).unwrap().body;
    assert!(metrics.contains(r#"mamori_events_total{event_type="link_requested",institution="bank-a"} 1"#), "{metrics}");

    // Reload: a bad pack keeps the old ruleset; a good one replaces it.
    let ruleset = d["ruleset"].as_str().unwrap().to_string();
    server.signal("-HUP");
    std::thread::sleep(Duration::from_millis(300));
    let r = send(&a, "POST", &url("/v1/events"), Some(&wallet), Some(charge("c3", 2, "L9", 10).to_string())).unwrap();
    assert_eq!(r.json()["ruleset"], ruleset.as_str());

    // The logs: structured, a request id on every request line, no personal data.
    let log = server.log();
    let lines: Vec<Value> = log.lines().filter_map(|l| serde_json::from_str(l).ok()).collect();
    assert!(lines.iter().any(|l| l["message"] == "answered" && l["span"]["request_id"].is_string() && l["status"] == 409), "{log}");
    for secret in [holder, "+819012345678", "acct-secret-77", bank.as_str()] {
        assert!(!log.contains(secret), "{secret:?} in the logs:\n{log}");
    }

    #[cfg(target_os = "linux")]
    no_huge_pages_asked_for(server.child.id());

    // SIGTERM: in-flight requests finish, the store closes, exit 0.
    server.signal("-TERM");
    assert_eq!(server.wait_exit(), 0, "{}", server.log());
}

#[test]
fn packs_are_loaded_whole_at_start_and_on_sighup() {
    let dir = TempDir::new("packs");
    let data = dir.path("data");
    let key = add_institution(&data, "wallet-b", "emoney");
    let rules = dir.path("rules");
    std::fs::create_dir_all(&rules).unwrap();
    let good = "[pack]\nname = \"caps\"\n[[rule]]\nid = \"big-charge\"\nwhen = 'event.type == \"charge\" && event.amount > 5000'\naction = \"hold\"\nscore = 10\nreason = \"charge of {event.amount}\"\n";
    std::fs::write(rules.join("caps.toml"), good.replace("big-charge", "big_charge!")).unwrap();

    // A bad pack: refused at start with its place and code; nothing listens.
    let out = bin().args(["serve", "--listen", "127.0.0.1:0", "--data-dir"]).arg(&data).arg("--rules").arg(&rules).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("caps.toml:4:6: error[R104]"), "{err}");

    std::fs::write(rules.join("caps.toml"), good).unwrap();
    let server = Server::start(&data, &["--rules", rules.to_str().unwrap()]);
    let a = agent();
    let post = |e: Value| send(&a, "POST", &format!("{}/v1/events", server.base), Some(&key), Some(e.to_string())).unwrap().json();
    let d = post(charge("c1", 0, "L1", 6000));
    assert_eq!(d["decision"], "hold");
    let first = d["ruleset"].as_str().unwrap().to_string();

    // A broken edit then SIGHUP: the old rules stay.
    std::fs::write(rules.join("caps.toml"), good.replace("event.amount > 5000", "event.amount > ")).unwrap();
    server.signal("-HUP");
    std::thread::sleep(Duration::from_millis(300));
    let d = post(charge("c2", 1, "L1", 6000));
    assert_eq!((d["decision"].as_str(), d["ruleset"].as_str()), (Some("hold"), Some(first.as_str())));
    assert!(server.log().contains("not reloaded"), "{}", server.log());

    // A good edit then SIGHUP: the new rules, atomically.
    std::fs::write(rules.join("caps.toml"), good.replace("5000", "50000")).unwrap();
    server.signal("-HUP");
    let start = Instant::now();
    loop {
        let d = post(charge(&format!("c-{}", start.elapsed().as_nanos()), 2, "L1", 6000));
        if d["ruleset"] != first.as_str() {
            assert_eq!(d["decision"], "allow");
            break;
        }
        assert!(start.elapsed() < Duration::from_secs(60), "never reloaded: {}", server.log());
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn sigkill_mid_load_loses_nothing_acknowledged_and_half_applies_nothing() {
    let dir = TempDir::new("crash");
    let data = dir.path("data");
    let key = add_institution(&data, "wallet-b", "emoney");
    // Snapshots every 40 events: the restart starts from one and replays the tail.
    let server = Server::start(&data, &["--snapshot-every", "40"]);
    let base = server.base.clone();
    // Clients: single events and batches on a few links, recording what was acknowledged.
    let acked: Arc<Mutex<BTreeMap<String, String>>> = Arc::default();
    let attempted: Arc<Mutex<Vec<Vec<String>>>> = Arc::default();
    let stop = Arc::new(AtomicBool::new(false));
    let mut clients = Vec::new();
    for t in 0..4u32 {
        let (acked, attempted, stop, base, key) =
            (Arc::clone(&acked), Arc::clone(&attempted), Arc::clone(&stop), base.clone(), key.clone());
        clients.push(std::thread::spawn(move || {
            let a = agent();
            let mut n = 0u32;
            while !stop.load(Ordering::Relaxed) {
                n += 1;
                let size = if t % 2 == 0 { 1 } else { 1 + n % 20 };
                let events: Vec<Value> =
                    (0..size).map(|i| charge(&format!("t{t}-{n}-{i}"), (n + i) % 600, &format!("L{}", (n + i) % 5), 100 + i)).collect();
                let ids: Vec<String> = events.iter().map(|e| e["id"].as_str().unwrap().to_string()).collect();
                attempted.lock().unwrap().push(ids.clone());
                let (path, body) =
                    if size == 1 { ("/v1/events", events[0].to_string()) } else { ("/v1/events/batch", Value::Array(events).to_string()) };
                match send(&a, "POST", &format!("{base}{path}"), Some(&key), Some(body)) {
                    Ok(r) if r.status == 200 => {
                        let ds = r.json();
                        let list = if size == 1 { vec![ds] } else { ds.as_array().unwrap().clone() };
                        let mut acked = acked.lock().unwrap();
                        for (id, d) in ids.into_iter().zip(list) {
                            acked.insert(id, d.to_string());
                        }
                    }
                    Ok(r) => panic!("unexpected {}: {}", r.status, r.body),
                    Err(_) => return, // the server died under us
                }
            }
        }));
    }
    std::thread::sleep(Duration::from_millis(1500));
    let mut server = server;
    server.child.kill().unwrap();
    let _ = server.child.wait();
    stop.store(true, Ordering::Relaxed);
    for c in clients {
        c.join().unwrap();
    }
    let acked = acked.lock().unwrap().clone();
    assert!(acked.len() > 50, "too little load before the kill: {}", acked.len());
    drop(server);

    // Restart: the state is rebuilt from the latest snapshot and the events after it.
    let snapshots = std::fs::read_dir(data.join("snapshots"))
        .map_or(0, |d| d.filter(|e| e.as_ref().unwrap().file_name().to_string_lossy().ends_with(".bin")).count());
    assert!(snapshots > 0, "no snapshot was taken under load");
    let server = Server::start(&data, &["--log-format", "json"]);
    let started = server.log();
    assert!(
        started.contains("\"snapshot_seq\":") && !started.contains("\"snapshot_seq\":0"),
        "the restart did not start from a snapshot: {started}"
    );
    let a = agent();
    for (id, decision) in &acked {
        let r = send(&a, "GET", &format!("{}/v1/events/{id}", server.base), Some(&key), None).unwrap();
        assert_eq!(r.status, 200, "acknowledged event {id} lost");
        assert_eq!(serde_json::from_str::<Value>(&r.body).unwrap(), serde_json::from_str::<Value>(decision).unwrap());
    }
    // Unacknowledged requests: all of a request's events are there, or none.
    let mut partial = Vec::new();
    let mut present_unacked = 0;
    for ids in attempted.lock().unwrap().iter() {
        let present: BTreeSet<bool> = ids
            .iter()
            .map(|id| {
                let r = send(&a, "GET", &format!("{}/v1/events/{id}", server.base), Some(&key), None).unwrap();
                assert!(r.status == 200 || r.status == 404);
                if r.status == 200 {
                    assert_eq!(r.json()["event_id"], id.as_str(), "a stored decision is whole");
                }
                r.status == 200
            })
            .collect();
        if present.len() > 1 {
            partial.push(ids.clone());
        }
        if present.contains(&true) && !acked.contains_key(&ids[0]) {
            present_unacked += 1;
        }
    }
    assert!(partial.is_empty(), "requests half applied: {partial:?}");
    assert!(present_unacked <= 8, "{present_unacked} requests on disk but never acknowledged: more than the clients had in flight");

    // The rebuilt state equals a clean replay: a probe on each link decides exactly as a
    // fresh detector fed the stored events does.
    let mut probes = Vec::new();
    for l in 0..5 {
        let e = charge(&format!("probe-{l}"), 599, &format!("L{l}"), 99_000);
        let d = send(&a, "POST", &format!("{}/v1/events", server.base), Some(&key), Some(e.to_string())).unwrap().json();
        probes.push((e, d));
    }
    server.signal("-TERM");
    let mut server = server;
    assert_eq!(server.wait_exit(), 0);
    let replayed = clean_replay(&data, &dir.path("replay"), &probes);
    for ((e, live), clean) in probes.iter().zip(replayed) {
        let strip = |mut v: Value| {
            v.as_object_mut().unwrap().remove("decided_at");
            v
        };
        assert_eq!(strip(live.clone()), strip(clean), "probe {}", e["id"]);
    }
}

/// Every stored event except the probes into a fresh store, a detector opened on it,
/// and the probes decided there.
fn clean_replay(data: &Path, fresh: &Path, probes: &[(Value, Value)]) -> Vec<Value> {
    use mamori_core::event::{Event, EventSchema};
    use mamori_server::{Detector, Incoming, Packs};
    let source = mamori_store::Store::open(data).unwrap();
    let target = mamori_store::Store::open(fresh).unwrap();
    let probe_ids: BTreeSet<String> = probes.iter().map(|(e, _)| e["id"].as_str().unwrap().to_string()).collect();
    let mut last = 0;
    source
        .scan(1, |s| {
            if !probe_ids.contains(&s.id) {
                let seq = target
                    .submit(vec![mamori_store::NewEvent {
                        institution: s.institution,
                        id: s.id,
                        event_type: s.event_type,
                        time_us: s.time_us,
                        received_us: s.received_us,
                        body: s.body,
                        body_hash: s.body_hash,
                        decision: s.decision,
                        notices: Vec::new(),
                        report_codes: Vec::new(),
                        notices_later: false,
                    }])
                    .unwrap();
                last = seq[0];
            }
            Ok::<(), String>(())
        })
        .unwrap();
    target.wait_durable(last).unwrap();
    source.close().unwrap();
    let events = Arc::new(EventSchema::new());
    let packs = Packs::builtin(&events).unwrap();
    let (detector, _) = Detector::open(target, packs, events).unwrap();
    probes
        .iter()
        .map(|(e, _)| {
            let event = Event::from_json_slice(e.to_string().as_bytes()).unwrap();
            let (out, _) = detector.decide("wallet-b", vec![Incoming::new(event, "wallet-b")], mamori_core::Timestamp(0)).unwrap();
            serde_json::from_slice(out[0].decision()).unwrap()
        })
        .collect()
}

#[test]
fn the_demo_stops_every_seed_incident() {
    let out = bin().args(["demo", "--once"]).output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    assert!(stdout.contains("through http://127.0.0.1:"), "{stdout}");
    for incident in ["Japan Post Bank", "SBI Securities", "Coincheck", "GMO Payment Gateway"] {
        let line = stdout.lines().find(|l| l.contains(incident) && l.contains(" in ")).unwrap_or_else(|| panic!("{incident}: {stdout}"));
        assert!(!line.contains(": 0 ") && !line.contains("in 0 events"), "{incident} not stopped: {line}");
    }
    assert!(stdout.contains("refused with 422"), "{stdout}");
    // Then weeks of simulated traffic through the same packs, every scenario on target.
    assert!(stdout.contains("days of simulated traffic (mamori simulate --scenario all --seed 2026"), "{stdout}");
    for scenario in ["card-leak", "hot-wallet", "link-drain", "takeover"] {
        assert!(stdout.lines().any(|l| l.starts_with(scenario) && l.contains('%')), "{scenario}: {stdout}");
    }
    assert!(stdout.contains("met in every scenario."), "{stdout}");
}

#[test]
fn sigterm_finishes_the_request_in_flight() {
    let dir = TempDir::new("term");
    let data = dir.path("data");
    let key = add_institution(&data, "wallet-b", "emoney");
    let mut server = Server::start(&data, &[]);
    let url = format!("{}/v1/events/batch", server.base);
    let batch = Value::Array((0..10_000).map(|i| charge(&format!("b{i}"), i % 600, &format!("L{}", i % 50), 100)).collect()).to_string();
    let client = std::thread::spawn(move || send(&agent(), "POST", &url, Some(&key), Some(batch)));
    std::thread::sleep(Duration::from_millis(100));
    server.signal("-TERM");
    let r = client.join().unwrap().expect("the request in flight was answered");
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json().as_array().unwrap().len(), 10_000);
    assert_eq!(server.wait_exit(), 0, "{}", server.log());
    // And it is on disk, after the record of the packs the service started with.
    let store = mamori_store::Store::open(&data).unwrap();
    assert_eq!(store.stats().durable_seq, 10_001);
}

#[test]
fn an_operator_releases_a_breaker_from_the_command_line() {
    let dir = TempDir::new("breaker");
    let data = dir.path("data");
    let key = add_institution(&data, "kumo", "exchange");
    let server = Server::start(&data, &[]);
    let a = agent();
    let post = |e: Value| send(&a, "POST", &format!("{}/v1/events", server.base), Some(&key), Some(e.to_string())).unwrap().json();
    post(
        json!({"id":"b","type":"wallet_balance","time":"2026-11-21T10:00:00+09:00","asset":"XEM","hot":"1000","cold":"19000","customer_total":"20000"}),
    );
    for (id, decision) in [("w0", "challenge"), ("w0b", "challenge"), ("w1", "block")] {
        let d = post(
            json!({"id":id,"type":"crypto_withdrawal","time":"2026-11-21T10:01:00+09:00","account":"ops","asset":"XEM","amount":"60","wallet":{"id":"h","tier":"hot"},"to_address":"x"}),
        );
        assert_eq!(d["decision"], decision, "{d}");
    }
    let cli = |args: &[&str]| bin().arg("breaker").args(args).args(["--url", &server.base, "--api-key", &key]).output().unwrap();
    let out = cli(&["list"]);
    assert_eq!(out.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&out.stdout).contains("hot-wallet-drain for kumo,XEM"), "{}", String::from_utf8_lossy(&out.stdout));
    let out = cli(&["release", "--breaker", "hot-wallet-drain", "--for", "kumo,XEM", "--reason", "drain address blocked upstream"]);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let out = cli(&["release", "--breaker", "hot-wallet-drain", "--for", "kumo,XEM", "--reason", "again"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("not tripped"));
    assert!(String::from_utf8_lossy(&cli(&["list"]).stdout).contains("no breaker is tripped"));
}

#[test]
fn configuration_is_layered_and_checked_at_start() {
    let dir = TempDir::new("config");
    let data = dir.path("data");
    // Environment under flags: a bad MAMORI_LISTEN fails, a flag overrides it.
    let out = bin().args(["serve", "--data-dir"]).arg(&data).env("MAMORI_LISTEN", "nowhere").output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("listen address \"nowhere\""), "{}", String::from_utf8_lossy(&out.stderr));
    // A file under both: unknown keys are refused with the file's name.
    let cfg = dir.path("mamori.toml");
    std::fs::write(&cfg, "listen = \"127.0.0.1:0\"\nsnapshot_evry = 5\n").unwrap();
    let out = bin().args(["serve", "--data-dir"]).arg(&data).arg("--config").arg(&cfg).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("snapshot_evry"), "{}", String::from_utf8_lossy(&out.stderr));
    std::fs::write(&cfg, "listen = \"127.0.0.1:1\"\nlog_format = \"json\"\n").unwrap();
    // The file's listen address is overridden by the flag; its log format is used.
    let mut child = bin()
        .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(&data)
        .arg("--config")
        .arg(&cfg)
        .env("MAMORI_LOG_FORMAT", "json")
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let mut saw_json = false;
    for line in lines.by_ref().map_while(Result::ok) {
        saw_json |= line.starts_with('{') && line.contains("feature state rebuilt");
        if line.contains("serving on http://127.0.0.1:") {
            assert!(!line.contains("127.0.0.1:1 "), "{line}");
            break;
        }
    }
    let _ = child.kill();
    let _ = child.wait();
    assert!(saw_json);
}

#[test]
fn a_model_trained_beside_the_running_service_is_loaded_on_sighup() {
    let dir = TempDir::new("model");
    let data = dir.path("data");
    let key = add_institution(&data, "wallet-b", "emoney");
    let server = Server::start(&data, &[]);
    let a = agent();
    let get_model = || send(&a, "GET", &format!("{}/v1/model", server.base), Some(&key), None).unwrap();
    assert_eq!(get_model().status, 404);
    let post = |e: Value| send(&a, "POST", &format!("{}/v1/events", server.base), Some(&key), Some(e.to_string())).unwrap().json();
    // Charges on 20 links; the big ones were fraud, and reported.
    let mut reported = Vec::new();
    for i in 0..60u32 {
        let amount = if i % 10 == 0 { 90_000 } else { 1_000 + i * 10 };
        let id = format!("c{i}");
        post(charge(&id, i % 50, &format!("L{}", i % 20), amount));
        if amount == 90_000 {
            reported.push(id);
        }
    }
    let report =
        json!({"id": "r1", "type": "fraud_reported", "time": "2026-11-21T12:00:00+09:00", "events": reported, "source": "customer"});
    post(report);
    // Trained while the service holds the store.
    let out = bin()
        .args(["train", "--data-dir"])
        .arg(&data)
        .args(["--train-from", "2026-11-20", "--train-to", "2026-11-22", "--output"])
        .arg(data.join("model.json"))
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stderr).contains("60 rows (6 frauds)"), "{}", String::from_utf8_lossy(&out.stderr));
    server.signal("-HUP");
    let start = Instant::now();
    let info = loop {
        let r = get_model();
        if r.status == 200 {
            break r.json();
        }
        assert!(start.elapsed() < Duration::from_secs(60), "never loaded: {}", server.log());
        std::thread::sleep(Duration::from_millis(50));
    };
    assert_eq!(info["rows"], 60);
    assert_eq!(info["frauds"], 6);
    // Decisions on money movements now carry the model's opinion.
    let d = post(charge("after", 55, "L3", 2_000));
    assert_eq!(d["model"]["model"], info["id"], "{d}");
    drop(server);
    // A damaged model in the data directory: the service refuses to start.
    std::fs::write(data.join("model.json"), "{\"mamori_model\": 1}").unwrap();
    let out = bin().args(["serve", "--listen", "127.0.0.1:0", "--data-dir"]).arg(&data).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("model.json: not a mamori model"), "{}", String::from_utf8_lossy(&out.stderr));
}
