//! Durable appends on this machine: the store (SQLite, WAL, synchronous=FULL, group commit)
//! against a plain append-only file of length-prefixed records with `sync_data()` per group.
//!
//! `cargo bench -p mamori-store --bench append` (`MAMORI_BENCH_SECS=1` for a short run,
//! `MAMORI_BENCH_ONLY=open` for the rows whose name holds `open`).
//! Data goes under `target/tmp` (the real disk, like the service's data dir), never /tmp.
//!
//! Prints one markdown table: events/s and commit latency per configuration.
//! - `store, group N`: one thread, `submit` of N events then `wait_durable`: every commit
//!   carries exactly N events.
//! - `file, group N`: the same groups appended to a file, `sync_data()` after each.
//! - `store, T threads x 1`: T threads each submitting one event and waiting (closed loop):
//!   group commit lets them share fsyncs.
//! - `store, open loop R/s x B`: requests of B events started on a fixed schedule of R per
//!   second by a pool of threads; latency counts from the scheduled start, so queueing shows.

use std::fs::{File, OpenOptions};
use std::io::{Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use mamori_core::Event;
use mamori_store::{NewEvent, Store};
use sha2::{Digest, Sha256};

static SMOKE: AtomicBool = AtomicBool::new(false);

fn secs() -> f64 {
    if SMOKE.load(Ordering::Relaxed) {
        return 0.05;
    }
    std::env::var("MAMORI_BENCH_SECS").ok().and_then(|s| s.parse().ok()).unwrap_or(3.0)
}

fn scratch(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("mamori-store-bench-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// A transfer of about 600 bytes in canonical JSON, with a decision of about 200.
fn event(n: u64) -> NewEvent {
    let json = format!(
        r#"{{"id":"evt-{n:012}","type":"transfer","time":"2026-11-21T10:{:02}:{:02}.123456+09:00","customer":"cust-{:08}",
        "account":"0012-345-{:07}","direction":"out","counterparty":{{"institution":"bank-b","account":"0099-876-{:07}"}},
        "holder":{{"name_kana":"ヤマダ タロウ","name":"山田 太郎","phone":"+819012345678"}},"amount":"{}","currency":"JPY",
        "device":"dev-7f3a9c2e4b1d8f60","ip":"203.0.113.{}","attributes":{{"channel":"mobile","app_version":"5.12.3",
        "session":"s-9f8e7d6c5b4a39281706","purpose":"living expenses","note":"monthly transfer to family account"}}}}"#,
        n / 60 % 60,
        n % 60,
        n % 100_000,
        n % 10_000_000,
        (n * 7) % 10_000_000,
        1_000 + n % 900_000,
        n % 250
    );
    let event = Event::from_json_slice(json.as_bytes()).unwrap();
    let body = event.to_json_vec();
    let decision = format!(
        r#"{{"event_id":"evt-{n:012}","decision":"allow","score":120,"reasons":[{{"rule":"new-payee-large","score":120,"detail":"first transfer to this payee"}}],"ruleset":"sha256:9f2c","decided_at":"2026-11-21T01:00:00.123Z"}}"#
    )
    .into_bytes();
    NewEvent {
        institution: "bank-a".into(),
        id: format!("evt-{n:012}"),
        event_type: "transfer".into(),
        time_us: 1_795_255_200_000_000 + n as i64,
        received_us: 1_795_255_200_000_000 + n as i64,
        body_hash: Sha256::digest(&body).into(),
        body,
        decision,
        notices: Vec::new(),
        report_codes: Vec::new(),
        notices_later: false,
    }
}

struct Row {
    name: String,
    events: u64,
    elapsed: Duration,
    latencies: Vec<Duration>,
    note: String,
}

fn pct(sorted: &[Duration], p: f64) -> f64 {
    let i = ((sorted.len() as f64 * p).ceil() as usize).clamp(1, sorted.len()) - 1;
    sorted[i].as_secs_f64() * 1e3
}

fn print(rows: &[Row]) {
    println!("| configuration | events/s | latency p50 ms | p99 ms | max ms | note |");
    println!("|---|---:|---:|---:|---:|---|");
    for r in rows {
        let mut l = r.latencies.clone();
        l.sort_unstable();
        println!(
            "| {} | {:.0} | {:.2} | {:.2} | {:.2} | {} |",
            r.name,
            r.events as f64 / r.elapsed.as_secs_f64(),
            pct(&l, 0.50),
            pct(&l, 0.99),
            pct(&l, 1.0),
            r.note
        );
    }
}

/// Pre-built events, so that building them is not measured.
fn events(from: u64, n: u64) -> Vec<NewEvent> {
    (from..from + n).map(event).collect()
}

fn store_groups(group: u64) -> Row {
    let dir = scratch(&format!("group{group}"));
    let store = Store::open(&dir).unwrap();
    let budget = Duration::from_secs_f64(secs());
    let mut pool = events(0, (200_000 / group).max(2_000) * group);
    let (mut latencies, mut n) = (Vec::new(), 0u64);
    let start = Instant::now();
    while start.elapsed() < budget && !pool.is_empty() {
        let batch = pool.split_off(pool.len() - group as usize);
        let t = Instant::now();
        let seqs = store.submit(batch).unwrap();
        store.wait_durable(*seqs.last().unwrap()).unwrap();
        latencies.push(t.elapsed());
        n += group;
    }
    let elapsed = start.elapsed();
    let commits = store.stats().commits;
    store.close().unwrap();
    let _ = std::fs::remove_dir_all(&dir);
    Row { name: format!("store, group {group}"), events: n, elapsed, latencies, note: format!("{commits} commits") }
}

/// Appends with `sync_data()` per group. `preallocated`: the log is first filled with zeros
/// and synced, then overwritten in a ring, so that a sync never has to commit a new file
/// size or block allocation (what a serious log does by recycling segments).
fn file_groups(group: u64, preallocated: bool) -> Row {
    let ring: u64 = if SMOKE.load(Ordering::Relaxed) { 8 << 20 } else { 256 << 20 };
    let dir = scratch(&format!("file{group}"));
    let mut file = OpenOptions::new().create(true).write(true).truncate(true).open(dir.join("log")).unwrap();
    if preallocated {
        let zeros = vec![0u8; 1 << 20];
        for _ in 0..ring >> 20 {
            file.write_all(&zeros).unwrap();
        }
        file.sync_all().unwrap();
        file.seek(SeekFrom::Start(0)).unwrap();
    }
    File::open(&dir).unwrap().sync_all().unwrap();
    let mut pos = 0u64;
    let budget = Duration::from_secs_f64(secs());
    let pool = events(0, 4_096);
    let (mut latencies, mut n, mut buf) = (Vec::new(), 0u64, Vec::new());
    let start = Instant::now();
    while start.elapsed() < budget {
        let t = Instant::now();
        buf.clear();
        for i in 0..group {
            let e = &pool[((n + i) % pool.len() as u64) as usize];
            let mut rec = Vec::with_capacity(64 + e.body.len() + e.decision.len());
            rec.extend_from_slice(&(n + i + 1).to_le_bytes());
            for field in [e.institution.as_bytes(), e.id.as_bytes(), e.event_type.as_bytes(), &e.body, &e.body_hash, &e.decision] {
                rec.extend_from_slice(&(field.len() as u32).to_le_bytes());
                rec.extend_from_slice(field);
            }
            rec.extend_from_slice(&e.time_us.to_le_bytes());
            rec.extend_from_slice(&e.received_us.to_le_bytes());
            buf.extend_from_slice(&(rec.len() as u32).to_le_bytes());
            buf.extend_from_slice(&Sha256::digest(&rec)[..4]);
            buf.extend_from_slice(&rec);
        }
        if preallocated && pos + buf.len() as u64 > ring {
            file.seek(SeekFrom::Start(0)).unwrap();
            pos = 0;
        }
        file.write_all(&buf).unwrap();
        file.sync_data().unwrap();
        latencies.push(t.elapsed());
        pos += buf.len() as u64;
        n += group;
    }
    let elapsed = start.elapsed();
    drop(file);
    let _ = std::fs::remove_dir_all(&dir);
    let name = format!("file{}, group {group}", if preallocated { " (preallocated)" } else { "" });
    Row { name, events: n, elapsed, latencies, note: format!("{} B/event", buf.len() as u64 / group) }
}

fn store_threads(threads: u64) -> Row {
    let dir = scratch(&format!("threads{threads}"));
    let store = Store::open(&dir).unwrap();
    let budget = Duration::from_secs_f64(secs());
    let next = Arc::new(AtomicU64::new(0));
    let start = Instant::now();
    let handles: Vec<_> = (0..threads)
        .map(|_| {
            let (store, next) = (store.clone(), Arc::clone(&next));
            std::thread::spawn(move || {
                let mut latencies = Vec::new();
                while start.elapsed() < budget {
                    let e = event(next.fetch_add(1, Ordering::Relaxed));
                    let t = Instant::now();
                    let seqs = store.submit(vec![e]).unwrap();
                    store.wait_durable(seqs[0]).unwrap();
                    latencies.push(t.elapsed());
                }
                latencies
            })
        })
        .collect();
    let latencies: Vec<_> = handles.into_iter().flat_map(|h| h.join().unwrap()).collect();
    let elapsed = start.elapsed();
    let stats = store.stats();
    store.close().unwrap();
    let _ = std::fs::remove_dir_all(&dir);
    Row {
        name: format!("store, {threads} threads x 1"),
        events: latencies.len() as u64,
        elapsed,
        note: format!("{:.1} events/commit", stats.durable_seq as f64 / stats.commits.max(1) as f64),
        latencies,
    }
}

fn store_open_loop(rate: u64, batch: u64, workers: u64) -> Row {
    let dir = scratch(&format!("open{rate}x{batch}"));
    let store = Store::open(&dir).unwrap();
    let budget = secs().max(2.0);
    let total = (rate as f64 * budget) as u64;
    let next = Arc::new(AtomicU64::new(0));
    let late = Arc::new(Mutex::new(0u64));
    let start = Instant::now() + Duration::from_millis(50);
    let handles: Vec<_> = (0..workers)
        .map(|_| {
            let (store, next, late) = (store.clone(), Arc::clone(&next), Arc::clone(&late));
            std::thread::spawn(move || {
                let mut latencies = Vec::new();
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i >= total {
                        return latencies;
                    }
                    let batch = events(i * batch, batch);
                    let due = start + Duration::from_secs_f64(i as f64 / rate as f64);
                    match due.checked_duration_since(Instant::now()) {
                        Some(wait) => std::thread::sleep(wait),
                        None => *late.lock().unwrap() += 1,
                    }
                    let seqs = store.submit(batch).unwrap();
                    store.wait_durable(*seqs.last().unwrap()).unwrap();
                    latencies.push(due.elapsed());
                }
            })
        })
        .collect();
    let latencies: Vec<_> = handles.into_iter().flat_map(|h| h.join().unwrap()).collect();
    let elapsed = start.elapsed();
    let stats = store.stats();
    store.close().unwrap();
    let _ = std::fs::remove_dir_all(&dir);
    let late = *late.lock().unwrap();
    Row {
        name: format!("store, open loop {rate}/s x {batch}"),
        events: latencies.len() as u64 * batch,
        elapsed,
        note: format!(
            "{:.1} events/commit, {late} of {total} requests started late",
            stats.durable_seq as f64 / stats.commits.max(1) as f64
        ),
        latencies,
    }
}

fn main() {
    // `cargo bench` passes `--bench`. Run as a test (`cargo test --all-targets`), the
    // benchmark only checks that the closed-loop configurations work, briefly.
    let smoke = !std::env::args().any(|a| a == "--bench");
    if smoke {
        SMOKE.store(true, Ordering::Relaxed);
    }
    let event_size = event(0).body.len() + event(0).decision.len();
    println!("events of {} bytes (body {}, decision {}), {} s per row", event_size, event(0).body.len(), event(0).decision.len(), secs());
    // `MAMORI_BENCH_ONLY=file` runs the rows whose name holds "file".
    let only = if smoke { "group".to_string() } else { std::env::var("MAMORI_BENCH_ONLY").unwrap_or_default() };
    let mut runs: Vec<(String, Box<dyn Fn() -> Row>)> = Vec::new();
    for group in [1, 16, 256] {
        runs.push((format!("store, group {group}"), Box::new(move || store_groups(group))));
        runs.push((format!("file, group {group}"), Box::new(move || file_groups(group, false))));
        runs.push((format!("file (preallocated), group {group}"), Box::new(move || file_groups(group, true))));
    }
    for threads in [8, 64] {
        runs.push((format!("store, {threads} threads x 1"), Box::new(move || store_threads(threads))));
    }
    runs.push(("store, open loop 2000/s x 1".into(), Box::new(|| store_open_loop(2_000, 1, 64))));
    runs.push(("store, open loop 5000/s x 1".into(), Box::new(|| store_open_loop(5_000, 1, 128))));
    runs.push(("store, open loop 200/s x 100".into(), Box::new(|| store_open_loop(200, 100, 16))));
    let rows: Vec<Row> = runs.into_iter().filter(|(name, _)| name.contains(&only)).map(|(_, run)| run()).collect();
    print(&rows);
}
