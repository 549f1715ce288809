//! A 200 means durable: a child process submits events from several threads and prints each
//! seq only after `wait_durable` returned; the parent kills it with SIGKILL under load,
//! reopens the store and finds every acknowledged event, whole, with dense seqs.
//!
//! Half the events carry a notice written after them (`notices_later`): after the kill,
//! every event up to the outbox cursor has its notice exactly once and none after it has
//! any; the next child plans those again, as the service does, and the next check finds
//! them written.

mod common;

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use common::{TempDir, body, decision, event, sha256};
use mamori_store::{Channel, NewNotice, Store};

const CHILD_DIR: &str = "MAMORI_STORE_CRASH_CHILD_DIR";
const CHILD_ROUND: &str = "MAMORI_STORE_CRASH_CHILD_ROUND";
const THREADS: usize = 4;

/// Whether the event `id` calls for a notice.
fn has_notice(id: &str) -> bool {
    id.bytes().map(u32::from).sum::<u32>() % 2 == 0
}

fn notice(id: &str) -> NewNotice {
    NewNotice {
        institution: "bank-a".into(),
        channel: Channel::Webhook,
        target: String::new(),
        payload: format!("{{\"id\":\"{id}\"}}").into_bytes(),
    }
}

/// The child's side: does nothing unless started by `sigkill_loses_no_acknowledged_event`.
#[test]
fn crash_child() {
    let Ok(dir) = std::env::var(CHILD_DIR) else { return };
    let round: usize = std::env::var(CHILD_ROUND).unwrap().parse().unwrap();
    let store = Store::open(Path::new(&dir)).unwrap();
    // What the service does on start: the notices lost to the last kill, planned again.
    let after = store.outbox_cursor();
    store
        .scan(after + 1, |e| {
            if has_notice(&e.id) {
                store.replan(e.seq, e.received_us, vec![notice(&e.id)], Vec::new());
            }
            Ok::<_, std::convert::Infallible>(())
        })
        .unwrap();
    store.replanned();
    store.set_outbox_delay(Duration::from_millis(2));
    let handles: Vec<_> = (0..THREADS)
        .map(|t| {
            let store = store.clone();
            std::thread::spawn(move || {
                let institution = format!("inst-{t}");
                for n in 0usize.. {
                    // Singles and batches of up to 32.
                    let size = if n % 3 == 0 { 1 + n % 32 } else { 1 };
                    let batch: Vec<_> = (0..size)
                        .map(|i| {
                            let mut e = event(&institution, &format!("r{round}-n{n}-{i}"));
                            if has_notice(&e.id) {
                                e.notices = vec![notice(&e.id)];
                            }
                            e.notices_later = true;
                            e
                        })
                        .collect();
                    let ids: Vec<_> = batch.iter().map(|e| e.id.clone()).collect();
                    let seqs = store.submit(batch).unwrap();
                    let last = *seqs.last().unwrap();
                    store.wait_durable(last).unwrap();
                    let mut out = String::new();
                    // Under constant load the outbox may wait behind events for the whole
                    // round; a flush now and then moves the cursor for sure.
                    if n % 16 == 15 {
                        store.flush_outbox(last).unwrap();
                        out.push_str(&format!("flushed {last}\n"));
                    }
                    for (seq, id) in seqs.iter().zip(&ids) {
                        out.push_str(&format!("ack {seq} {institution} {id}\n"));
                    }
                    let mut stdout = std::io::stdout().lock();
                    stdout.write_all(out.as_bytes()).unwrap();
                    stdout.flush().unwrap();
                }
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
}

#[test]
fn sigkill_loses_no_acknowledged_event() {
    let tmp = TempDir::new("crash");
    let mut acked: BTreeMap<u64, (String, String)> = BTreeMap::new();
    for round in 0..3 {
        let mut child = Command::new(std::env::current_exe().unwrap())
            .args(["crash_child", "--exact", "--nocapture", "--test-threads=1"])
            .env(CHILD_DIR, tmp.path())
            .env(CHILD_ROUND, round.to_string())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = mpsc::channel::<String>();
        let reader = std::thread::spawn(move || {
            let mut stdout = BufReader::new(stdout);
            loop {
                let mut line = String::new();
                // A line cut by the kill has no newline: it was never fully acknowledged.
                if stdout.read_line(&mut line).unwrap() == 0 || !line.ends_with('\n') {
                    return;
                }
                if (line.starts_with("ack ") || line.starts_with("flushed ")) && tx.send(line).is_err() {
                    return;
                }
            }
        });

        let kill_after = 300 + 250 * round;
        let deadline = Instant::now() + Duration::from_secs(120);
        let mut this_round = 0;
        let mut flushed = 0;
        let record = |line: String, acked: &mut BTreeMap<u64, (String, String)>, flushed: &mut u64| {
            if let Some(seq) = line.strip_prefix("flushed ") {
                *flushed = (*flushed).max(seq.trim().parse().unwrap());
                return 0;
            }
            let mut parts = line.split_whitespace().skip(1);
            let seq: u64 = parts.next().unwrap().parse().unwrap();
            let inst = parts.next().unwrap().to_string();
            let id = parts.next().unwrap().to_string();
            assert!(acked.insert(seq, (inst, id)).is_none(), "seq {seq} acknowledged twice");
            1
        };
        while this_round < kill_after || flushed == 0 {
            let left = deadline.saturating_duration_since(Instant::now());
            match rx.recv_timeout(left) {
                Ok(line) => this_round += record(line, &mut acked, &mut flushed),
                Err(e) => {
                    let _ = child.kill();
                    panic!("round {round}: child stopped acknowledging after {this_round} events ({e}): {:?}", child.wait());
                }
            }
        }
        child.kill().unwrap();
        let status = child.wait().unwrap();
        assert!(!status.success(), "the child was killed, not finished");
        reader.join().unwrap();
        // Lines written before the kill were acknowledged too.
        for line in rx.try_iter() {
            record(line, &mut acked, &mut flushed);
        }

        let store = Store::open(tmp.path()).unwrap();
        let mut rows = BTreeMap::new();
        store
            .scan(1, |e| {
                assert_eq!(e.body_hash, sha256(&e.body), "torn row at seq {}", e.seq);
                assert_eq!(e.body, body(&e.institution, &e.id), "seq {}", e.seq);
                assert_eq!(e.decision, decision(&e.id), "seq {}", e.seq);
                rows.insert(e.seq, e);
                Ok::<_, std::convert::Infallible>(())
            })
            .unwrap();
        let max = *rows.keys().last().unwrap();
        assert_eq!(rows.len() as u64, max, "round {round}: seqs not dense");
        assert_eq!(rows.keys().copied().collect::<Vec<_>>(), (1..=max).collect::<Vec<_>>());
        assert_eq!(store.durable_seq(), max);
        for (seq, (inst, id)) in &acked {
            let row = rows.get(seq).unwrap_or_else(|| panic!("round {round}: acknowledged seq {seq} lost"));
            assert_eq!((&row.institution, &row.id), (inst, id), "seq {seq}");
            let found = store.lookup(inst, id).unwrap().unwrap();
            assert_eq!(found.seq, *seq);
        }
        assert!(acked.len() >= kill_after);
        // The outbox: nothing past the cursor (this store does not move it: nothing was
        // planned again), each notice once up to it, and the cursor reached every flush.
        let cursor = store.outbox_cursor();
        assert!(cursor >= flushed && cursor > 0 && cursor <= max, "round {round}: cursor {cursor} of {max}, flushed {flushed}");
        for (seq, e) in &rows {
            let written = store.notices_of(*seq).unwrap();
            let expected = usize::from(*seq <= cursor && has_notice(&e.id));
            assert_eq!(written.len(), expected, "round {round}: seq {seq} (cursor {cursor})");
            if let Some(n) = written.first() {
                assert_eq!(n.payload, notice(&e.id).payload);
            }
        }
        store.close().unwrap();
    }
}
