//! The store's contract: institutions and keys, submit and durability, idempotency, scans,
//! snapshots, schema versions, concurrency and fail-stop.

mod common;

use std::collections::HashSet;

use common::{TempDir, event, sha256};
use mamori_store::{
    ApiKey, DB_FILE, Institution, InstitutionKind, KEY_PREFIX, NewEvent, SCHEMA_VERSION, ScanError, Store, StoreError, StoredEvent,
};
use rusqlite::Connection;

const NOW: i64 = 1_795_255_200_000_000;

fn raw(dir: &TempDir) -> Connection {
    raw_at(dir.path())
}

fn raw_at(dir: &std::path::Path) -> Connection {
    Connection::open(dir.join(DB_FILE)).unwrap()
}

fn assert_same(stored: &StoredEvent, seq: u64, e: &NewEvent) {
    assert_eq!(stored.seq, seq);
    assert_eq!(stored.institution, e.institution);
    assert_eq!(stored.id, e.id);
    assert_eq!(stored.event_type, e.event_type);
    assert_eq!(stored.time_us, e.time_us);
    assert_eq!(stored.received_us, e.received_us);
    assert_eq!(stored.body, e.body);
    assert_eq!(stored.body_hash, e.body_hash);
    assert_eq!(stored.decision, e.decision);
}

fn all(store: &Store, from: u64) -> Vec<StoredEvent> {
    let mut out = Vec::new();
    store
        .scan(from, |e| {
            out.push(e);
            Ok::<_, std::convert::Infallible>(())
        })
        .unwrap();
    out
}

#[test]
fn handle_is_clone_send_sync() {
    fn check<T: Clone + Send + Sync + 'static>() {}
    check::<Store>();
}

#[test]
fn open_creates_the_folder_and_reopen_keeps_everything() {
    let tmp = TempDir::new("reopen");
    let dir = tmp.path().join("nested/data");
    let store = Store::open(&dir).unwrap();
    assert!(dir.join(DB_FILE).is_file());
    assert_eq!(store.durable_seq(), 0);
    let key = store.add_institution("bank-a", InstitutionKind::Bank, NOW).unwrap();
    let seqs = store.submit(vec![event("bank-a", "e1"), event("bank-a", "e2")]).unwrap();
    assert_eq!(seqs, [1, 2]);
    store.wait_durable(2).unwrap();
    store.close().unwrap();

    let store = Store::open(&dir).unwrap();
    assert_eq!(store.durable_seq(), 2);
    let inst = Institution { id: "bank-a".into(), kind: InstitutionKind::Bank, created_at_us: NOW };
    assert_eq!(store.institution_by_key(key.expose()).unwrap(), Some(inst.clone()));
    assert_eq!(store.institutions().unwrap(), [inst]);
    assert_same(&store.lookup("bank-a", "e2").unwrap().unwrap(), 2, &event("bank-a", "e2"));
    // Numbering goes on after the last durable seq.
    assert_eq!(store.submit(vec![event("bank-a", "e3")]).unwrap(), [3]);
    store.wait_durable(3).unwrap();
    let journal: String = raw_at(&dir).pragma_query_value(None, "journal_mode", |r| r.get(0)).unwrap();
    assert_eq!(journal, "wal");
}

#[test]
fn a_second_open_of_the_same_folder_is_refused_while_the_first_is_open() {
    let tmp = TempDir::new("locked");
    let store = Store::open(tmp.path()).unwrap();
    match Store::open(tmp.path()) {
        Err(StoreError::Locked { dir }) => assert_eq!(dir, tmp.path()),
        other => panic!("expected Locked, got {other:?}"),
    }
    drop(store);
    Store::open(tmp.path()).unwrap();
}

#[test]
fn scan_dir_reads_a_store_that_a_service_holds_open_and_changes_nothing() {
    let tmp = TempDir::new("scan-dir");
    let store = Store::open(tmp.path()).unwrap();
    store.submit(vec![event("bank-a", "e1"), event("bank-a", "e2"), event("bank-a", "e3")]).unwrap();
    store.wait_durable(3).unwrap();
    let mut seen = Vec::new();
    Store::scan_dir(tmp.path(), 2, |e| {
        seen.push((e.seq, e.id));
        Ok::<_, std::convert::Infallible>(())
    })
    .unwrap();
    assert_eq!(seen, [(2, "e2".to_string()), (3, "e3".to_string())]);
    // The open store still writes.
    assert_eq!(store.submit(vec![event("bank-a", "e4")]).unwrap(), [4]);
    store.wait_durable(4).unwrap();
    assert_eq!(all(&store, 1).len(), 4);
    // A folder without a store is an error, not an empty scan.
    let empty = TempDir::new("scan-dir-empty");
    let r = Store::scan_dir(empty.path(), 1, |_| Ok::<_, std::convert::Infallible>(()));
    assert!(r.is_err());
    assert!(!empty.path().join(DB_FILE).exists());
}

#[test]
fn add_institution_twice_is_already_exists_and_keeps_the_first_key() {
    let tmp = TempDir::new("twice");
    let store = Store::open(tmp.path()).unwrap();
    let key = store.add_institution("wallet-1", InstitutionKind::Emoney, NOW).unwrap();
    match store.add_institution("wallet-1", InstitutionKind::Bank, NOW + 1) {
        Err(StoreError::AlreadyExists(id)) => assert_eq!(id, "wallet-1"),
        other => panic!("expected AlreadyExists, got {other:?}"),
    }
    assert_eq!(store.institutions().unwrap().len(), 1);
    assert_eq!(store.institution_by_key(key.expose()).unwrap().unwrap().kind, InstitutionKind::Emoney);
}

#[test]
fn keys_find_their_institution_and_nothing_else() {
    let tmp = TempDir::new("keys");
    let store = Store::open(tmp.path()).unwrap();
    let a = store.add_institution("bank-a", InstitutionKind::Bank, NOW).unwrap();
    let b = store.add_institution("exch.b", InstitutionKind::Exchange, NOW + 5).unwrap();
    assert_ne!(a.expose(), b.expose());
    for key in [&a, &b] {
        let text = key.expose();
        assert!(text.starts_with(KEY_PREFIX), "{}", text.len());
        assert_eq!(text.len(), KEY_PREFIX.len() + 64);
        assert!(text[KEY_PREFIX.len()..].bytes().all(|c| c.is_ascii_hexdigit()));
    }
    assert_eq!(store.institution_by_key(a.expose()).unwrap().unwrap().id, "bank-a");
    let found = store.institution_by_key(b.expose()).unwrap().unwrap();
    assert_eq!((found.id.as_str(), found.kind, found.created_at_us), ("exch.b", InstitutionKind::Exchange, NOW + 5));

    assert_eq!(store.institution_by_key("").unwrap(), None);
    assert_eq!(store.institution_by_key("mk_wrong").unwrap(), None);
    let mut near = a.expose().to_string();
    let last = near.pop().unwrap();
    near.push(if last == '0' { '1' } else { '0' });
    assert_eq!(store.institution_by_key(&near).unwrap(), None);
    assert_eq!(store.institution_by_key(&a.expose().to_uppercase()).unwrap(), None);
    assert_eq!(store.institution_by_key(&format!("{} ", a.expose())).unwrap(), None);
}

#[test]
fn only_the_hash_of_a_key_is_stored() {
    let tmp = TempDir::new("hash");
    let store = Store::open(tmp.path()).unwrap();
    let key = store.add_institution("bank-a", InstitutionKind::Bank, NOW).unwrap();
    let stored: Vec<u8> = raw(&tmp).query_row("SELECT key_hash FROM institutions WHERE id = 'bank-a'", [], |r| r.get(0)).unwrap();
    assert_ne!(stored, key.expose().as_bytes());
    assert_eq!(stored, sha256(key.expose().as_bytes()));
    assert_eq!(key.hash(), sha256(key.expose().as_bytes()));
    // Neither the key nor its hex digits are anywhere on disk (database, WAL, lock).
    let secret = &key.expose()[KEY_PREFIX.len()..];
    for entry in std::fs::read_dir(tmp.path()).unwrap() {
        let path = entry.unwrap().path();
        if path.is_file() {
            let bytes = std::fs::read(&path).unwrap();
            assert!(!bytes.windows(secret.len()).any(|w| w == secret.as_bytes()), "key found in {}", path.display());
        }
    }
}

#[test]
fn secrets_and_bodies_stay_out_of_debug_output() {
    let tmp = TempDir::new("debug");
    let store = Store::open(tmp.path()).unwrap();
    let key: ApiKey = store.add_institution("bank-a", InstitutionKind::Bank, NOW).unwrap();
    let printed = format!("{key:?}");
    assert_eq!(printed, "ApiKey(***)");
    assert!(!printed.contains(&key.expose()[3..]));

    let e = event("bank-a", "e1");
    store.submit(vec![e.clone()]).unwrap();
    let stored = store.lookup("bank-a", "e1").unwrap().unwrap();
    for printed in [format!("{e:?}"), format!("{stored:?}"), format!("{stored:#?}")] {
        assert!(!printed.contains("ヤマダ"), "{printed}");
        assert!(!printed.contains("acc-e1"), "{printed}");
        assert!(printed.contains(&format!("<{} bytes>", e.body.len())), "{printed}");
        assert!(printed.contains("e1"), "{printed}");
    }
}

#[test]
fn submitted_events_are_visible_at_once_and_durable_after_wait() {
    let tmp = TempDir::new("submit");
    let store = Store::open(tmp.path()).unwrap();
    let events: Vec<_> = (1..=3).map(|i| event("bank-a", &format!("e{i}"))).collect();
    let seqs = store.submit(events.clone()).unwrap();
    assert_eq!(seqs, [1, 2, 3]);
    // Visible before anyone waited, pending or not.
    for (e, seq) in events.iter().zip(&seqs) {
        assert_same(&store.lookup("bank-a", &e.id).unwrap().unwrap(), *seq, e);
    }
    store.wait_durable(3).unwrap();
    assert!(store.durable_seq() >= 3);
    let count: i64 = raw(&tmp).query_row("SELECT count(*) FROM events", [], |r| r.get(0)).unwrap();
    assert_eq!(count, 3);
    for (e, seq) in events.iter().zip(&seqs) {
        assert_same(&store.lookup("bank-a", &e.id).unwrap().unwrap(), *seq, e);
    }
    assert_eq!(store.lookup("bank-a", "e4").unwrap(), None);
    assert_eq!(store.lookup("bank-b", "e1").unwrap(), None);
    assert_eq!(store.submit(vec![]).unwrap(), Vec::<u64>::new());
    store.wait_durable(0).unwrap();
    assert!(matches!(store.wait_durable(4), Err(StoreError::NotSubmitted(4))));
}

#[test]
fn a_batch_with_an_event_already_stored_is_refused_whole() {
    let tmp = TempDir::new("dup-store");
    let store = Store::open(tmp.path()).unwrap();
    store.submit(vec![event("bank-a", "e1")]).unwrap();
    store.wait_durable(1).unwrap();
    match store.submit(vec![event("bank-a", "e2"), event("bank-a", "e1")]) {
        Err(StoreError::Duplicate { institution, id }) => assert_eq!((institution.as_str(), id.as_str()), ("bank-a", "e1")),
        other => panic!("expected Duplicate, got {other:?}"),
    }
    assert_eq!(store.lookup("bank-a", "e2").unwrap(), None);
    // A different body under the same id is a duplicate too (409 is the service's answer).
    let mut changed = event("bank-a", "e1");
    changed.body = b"{}".to_vec();
    assert!(matches!(store.submit(vec![changed]), Err(StoreError::Duplicate { .. })));
    // The refused batch consumed no seq, and the same id at another institution is another event.
    assert_eq!(store.submit(vec![event("bank-a", "e2"), event("bank-b", "e1")]).unwrap(), [2, 3]);
    store.wait_durable(3).unwrap();
    assert_eq!(all(&store, 1).iter().map(|e| e.seq).collect::<Vec<_>>(), [1, 2, 3]);
    assert_same(&store.lookup("bank-a", "e1").unwrap().unwrap(), 1, &event("bank-a", "e1"));
}

#[test]
fn a_batch_with_an_event_still_pending_is_refused_whole() {
    let tmp = TempDir::new("dup-pending");
    let store = Store::open(tmp.path()).unwrap();
    // Many in one go, so that some are surely still pending when the second batch comes.
    let first: Vec<_> = (0..2000).map(|i| event("bank-a", &format!("e{i}"))).collect();
    store.submit(first).unwrap();
    let second = vec![event("bank-a", "new"), event("bank-a", "e1999")];
    assert!(matches!(store.submit(second), Err(StoreError::Duplicate { .. })));
    store.wait_durable(2000).unwrap();
    assert_eq!(store.lookup("bank-a", "new").unwrap(), None);
    assert_eq!(all(&store, 1).len(), 2000);
}

#[test]
fn a_batch_holding_an_event_twice_is_refused_whole() {
    let tmp = TempDir::new("dup-batch");
    let store = Store::open(tmp.path()).unwrap();
    let batch = vec![event("bank-a", "e1"), event("bank-a", "e2"), event("bank-a", "e1")];
    match store.submit(batch) {
        Err(StoreError::Duplicate { institution, id }) => assert_eq!((institution.as_str(), id.as_str()), ("bank-a", "e1")),
        other => panic!("expected Duplicate, got {other:?}"),
    }
    assert_eq!(store.lookup("bank-a", "e1").unwrap(), None);
    assert_eq!(store.lookup("bank-a", "e2").unwrap(), None);
    assert_eq!(store.stats().submitted_seq, 0);
    assert_eq!(store.submit(vec![event("bank-a", "e1")]).unwrap(), [1]);
    store.close().unwrap();
    let store = Store::open(tmp.path()).unwrap();
    assert_eq!(all(&store, 1).len(), 1);
}

#[test]
fn invalid_events_are_refused_whole() {
    let tmp = TempDir::new("invalid");
    let store = Store::open(tmp.path()).unwrap();
    let mut bad_inst = event("bank a", "e2");
    bad_inst.institution = "bank a".into();
    let mut empty_id = event("bank-a", "x");
    empty_id.id = String::new();
    let mut bad_body = event("bank-a", "e2");
    bad_body.body = vec![b'{', 0xff, b'}'];
    let mut bad_decision = event("bank-a", "e2");
    bad_decision.decision = vec![0xc3];
    for bad in [bad_inst, empty_id, bad_body, bad_decision] {
        match store.submit(vec![event("bank-a", "e1"), bad]) {
            Err(StoreError::InvalidEvent { index: 1, .. }) => {}
            other => panic!("expected InvalidEvent at 1, got {other:?}"),
        }
    }
    assert_eq!(store.lookup("bank-a", "e1").unwrap(), None);
    assert_eq!(store.stats().submitted_seq, 0);
}

#[test]
fn scan_goes_in_seq_order_from_the_seq_asked() {
    let tmp = TempDir::new("scan");
    let store = Store::open(tmp.path()).unwrap();
    let mut expected = Vec::new();
    for chunk in 0..4 {
        let batch: Vec<_> =
            (0..chunk + 1).map(|i| event(if i % 2 == 0 { "bank-a" } else { "broker-b" }, &format!("c{chunk}-{i}"))).collect();
        expected.extend(batch.clone());
        let seqs = store.submit(batch).unwrap();
        store.wait_durable(*seqs.last().unwrap()).unwrap();
    }
    assert_eq!(expected.len(), 10);
    let scanned = all(&store, 1);
    assert_eq!(scanned.len(), 10);
    for (i, (s, e)) in scanned.iter().zip(&expected).enumerate() {
        assert_same(s, i as u64 + 1, e);
    }
    assert_eq!(all(&store, 0).len(), 10);
    assert_eq!(all(&store, 7).iter().map(|e| e.seq).collect::<Vec<_>>(), [7, 8, 9, 10]);
    assert!(all(&store, 11).is_empty());
    assert!(all(&store, u64::MAX).is_empty());

    let mut seen = 0;
    let stopped = store.scan(3, |e| {
        seen += 1;
        if e.seq == 5 { Err("stop") } else { Ok(()) }
    });
    assert!(matches!(stopped, Err(ScanError::Callback("stop"))));
    assert_eq!(seen, 3);
}

#[test]
fn snapshots_latest_wins_and_old_ones_are_pruned() {
    let tmp = TempDir::new("snap");
    let store = Store::open(tmp.path()).unwrap();
    assert_eq!(store.latest_snapshot().unwrap(), None);
    let seqs = store.submit((0..5).map(|i| event("bank-a", &format!("e{i}"))).collect()).unwrap();
    assert_eq!(seqs, [1, 2, 3, 4, 5]);
    // Saving waits for the seq to be durable rather than running ahead of the events.
    store.save_snapshot(1, b"state@1").unwrap();
    assert!(store.durable_seq() >= 1);
    store.save_snapshot(3, b"state@3").unwrap();
    store.save_snapshot(5, b"state@5").unwrap();
    assert_eq!(store.latest_snapshot().unwrap(), Some((5, b"state@5".to_vec())));
    let mut files: Vec<_> = std::fs::read_dir(tmp.path().join("snapshots")).unwrap().map(|e| e.unwrap().file_name()).collect();
    files.sort();
    assert_eq!(files, ["snapshot-00000000000000000003.bin", "snapshot-00000000000000000005.bin"]);
    assert!(matches!(store.save_snapshot(6, b"ahead"), Err(StoreError::NotSubmitted(6))));

    // A damaged newest snapshot gives way to the older one.
    let newest = tmp.path().join("snapshots/snapshot-00000000000000000005.bin");
    let mut bytes = std::fs::read(&newest).unwrap();
    *bytes.last_mut().unwrap() ^= 0x55;
    std::fs::write(&newest, bytes).unwrap();
    assert_eq!(store.latest_snapshot().unwrap(), Some((3, b"state@3".to_vec())));

    // Survives a reopen; an empty snapshot is a snapshot; a save cut short by a crash
    // leaves nothing behind after the next save.
    let stale = tmp.path().join("snapshots/tmp-snapshot-00000000000000000004.bin");
    std::fs::write(&stale, b"half").unwrap();
    store.save_snapshot(5, b"").unwrap();
    assert!(!stale.exists());
    store.close().unwrap();
    let store = Store::open(tmp.path()).unwrap();
    assert_eq!(store.latest_snapshot().unwrap(), Some((5, Vec::new())));
}

#[test]
fn a_database_of_a_newer_schema_is_refused() {
    let tmp = TempDir::new("newer");
    Store::open(tmp.path()).unwrap().close().unwrap();
    let version: i64 = raw(&tmp).pragma_query_value(None, "user_version", |r| r.get(0)).unwrap();
    assert_eq!(version, SCHEMA_VERSION);
    raw(&tmp).pragma_update(None, "user_version", SCHEMA_VERSION + 1).unwrap();
    match Store::open(tmp.path()) {
        Err(e @ StoreError::NewerSchema { .. }) => {
            let msg = e.to_string();
            assert!(msg.contains("newer") && msg.contains(&(SCHEMA_VERSION + 1).to_string()), "{msg}");
        }
        other => panic!("expected NewerSchema, got {other:?}"),
    }
}

#[test]
fn eight_threads_submitting_get_unique_dense_durable_seqs() {
    let tmp = TempDir::new("threads");
    let store = Store::open(tmp.path()).unwrap();
    const THREADS: usize = 8;
    const ROUNDS: usize = 150;
    let handles: Vec<_> = (0..THREADS)
        .map(|t| {
            let store = store.clone();
            std::thread::spawn(move || {
                let mut mine = Vec::new();
                for r in 0..ROUNDS {
                    // Singles and small batches mixed.
                    let batch: Vec<_> = (0..1 + r % 3).map(|i| event(&format!("inst-{t}"), &format!("r{r}-{i}"))).collect();
                    let seqs = store.submit(batch).unwrap();
                    store.wait_durable(*seqs.last().unwrap()).unwrap();
                    assert!(store.durable_seq() >= *seqs.last().unwrap());
                    mine.extend(seqs.into_iter().map(|s| (s, t, r)));
                }
                mine
            })
        })
        .collect();
    let mut seqs: Vec<u64> = Vec::new();
    for h in handles {
        seqs.extend(h.join().unwrap().into_iter().map(|(s, _, _)| s));
    }
    let n = seqs.len() as u64;
    assert_eq!(n, (THREADS * (ROUNDS / 3) * 6) as u64);
    let unique: HashSet<_> = seqs.iter().copied().collect();
    assert_eq!(unique.len() as u64, n);
    assert_eq!(unique, (1..=n).collect());
    let stats = store.stats();
    assert_eq!((stats.submitted_seq, stats.durable_seq), (n, n));
    // Group commit: waiting threads shared commits.
    assert!(stats.commits < (THREADS * ROUNDS) as u64, "{stats:?}");
    assert_eq!(all(&store, 1).iter().map(|e| e.seq).collect::<Vec<_>>(), (1..=n).collect::<Vec<_>>());
}

#[test]
fn close_writes_everything_submitted() {
    let tmp = TempDir::new("close");
    let store = Store::open(tmp.path()).unwrap();
    for i in 0..300 {
        store.submit(vec![event("bank-a", &format!("e{i}"))]).unwrap();
    }
    let other = store.clone();
    store.close().unwrap();
    assert!(matches!(other.submit(vec![event("bank-a", "late")]), Err(StoreError::Closed)));
    assert_eq!(other.durable_seq(), 300);
    drop(other);
    let store = Store::open(tmp.path()).unwrap();
    assert_eq!(store.durable_seq(), 300);
    assert_eq!(all(&store, 1).len(), 300);
}

#[test]
fn a_failed_commit_stops_the_store_and_reports_nothing_durable() {
    let tmp = TempDir::new("failstop");
    let store = Store::open(tmp.path()).unwrap();
    store.submit(vec![event("bank-a", "ok")]).unwrap();
    store.wait_durable(1).unwrap();
    // Another connection makes the next commit holding the id "boom" fail.
    raw(&tmp)
        .execute_batch("CREATE TRIGGER boom BEFORE INSERT ON events WHEN NEW.id = 'boom' BEGIN SELECT RAISE(ABORT, 'injected'); END;")
        .unwrap();
    let seqs = store.submit(vec![event("bank-a", "before"), event("bank-a", "boom")]).unwrap();
    assert_eq!(seqs, [2, 3]);
    for seq in [2, 3] {
        match store.wait_durable(seq) {
            Err(StoreError::Failed(why)) => assert!(why.contains("injected"), "{why}"),
            other => panic!("expected Failed, got {other:?}"),
        }
    }
    assert_eq!(store.durable_seq(), 1);
    store.wait_durable(1).unwrap();
    assert!(matches!(store.submit(vec![event("bank-a", "after")]), Err(StoreError::Failed(_))));
    // What never became durable is not shown as stored.
    assert_eq!(store.lookup("bank-a", "before").unwrap(), None);
    assert!(store.lookup("bank-a", "ok").unwrap().is_some());
    assert!(matches!(store.close(), Err(StoreError::Failed(_))));

    raw(&tmp).execute_batch("DROP TRIGGER boom").unwrap();
    let store = Store::open(tmp.path()).unwrap();
    assert_eq!(store.durable_seq(), 1);
    assert_eq!(all(&store, 1).iter().map(|e| e.id.as_str()).collect::<Vec<_>>(), ["ok"]);
    assert_eq!(store.submit(vec![event("bank-a", "before")]).unwrap(), [2]);
    store.wait_durable(2).unwrap();
}

#[test]
fn institution_kinds_parse_exactly() {
    for kind in InstitutionKind::ALL {
        assert_eq!(kind.as_str().parse::<InstitutionKind>().unwrap(), *kind);
        assert_eq!(kind.to_string(), kind.as_str());
    }
    assert_eq!(InstitutionKind::ALL.len(), 5);
    for bad in ["", "Bank", "BANK", "banks", " bank", "bank ", "e-money", "credit", "card\0"] {
        let err = bad.parse::<InstitutionKind>().unwrap_err();
        assert_eq!(err.0, bad);
        assert!(err.to_string().contains("bank, emoney, broker, exchange, card"), "{err}");
    }
}

#[test]
fn bad_institution_ids_are_refused() {
    let tmp = TempDir::new("ids");
    let store = Store::open(tmp.path()).unwrap();
    let long = "a".repeat(65);
    for bad in ["", long.as_str(), "a b", "a/b", "bank:a", "銀行", "ü", "a\0", "a\n", "../x", "a+b"] {
        match store.add_institution(bad, InstitutionKind::Bank, NOW) {
            Err(StoreError::InvalidInstitutionId(id)) => assert_eq!(id, bad),
            other => panic!("{bad:?}: expected InvalidInstitutionId, got {other:?}"),
        }
    }
    assert!(store.institutions().unwrap().is_empty());
    for good in ["a", "A.b_c-9", &"z".repeat(64)] {
        store.add_institution(good, InstitutionKind::Card, NOW).unwrap();
    }
    assert_eq!(store.institutions().unwrap().len(), 3);
}

#[test]
fn the_wal_starts_over_under_constant_writes() {
    let tmp = TempDir::new("wal");
    let store = Store::open(tmp.path()).unwrap();
    let started = std::time::Instant::now();
    // About 4 KiB of WAL per event in 500-event commits: some 200 MiB if it never started over.
    let pad = "p".repeat(3000);
    for chunk in 0..100 {
        let batch: Vec<_> = (0..500)
            .map(|i| {
                let mut e = event("bank-a", &format!("c{chunk}-{i}"));
                e.decision = format!(r#"{{"pad":"{pad}"}}"#).into_bytes();
                e
            })
            .collect();
        let seqs = store.submit(batch).unwrap();
        store.wait_durable(*seqs.last().unwrap()).unwrap();
    }
    let wal = std::fs::metadata(tmp.path().join(format!("{DB_FILE}-wal"))).unwrap().len();
    assert!(wal < 100 << 20, "WAL of {} MiB after {:?}", wal >> 20, started.elapsed());
    assert_eq!(store.stats().checkpoint_failures, 0);
    assert_eq!(store.durable_seq(), 50_000);
}
