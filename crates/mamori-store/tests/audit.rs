//! The audit chain: what the writer chains, what `verify_dir` finds when entries are edited,
//! removed, unchained or the chain is recomputed, and older databases chained on open.

mod common;

use std::path::Path;

use common::{TempDir, event, sha256};
use mamori_store::audit::{GENESIS, link};
use mamori_store::{Alteration, Broken, DB_FILE, SCHEMA_VERSION, Store, StoreError, StoredEvent, Verified};
use rusqlite::{Connection, params};

fn raw(dir: &Path) -> Connection {
    Connection::open(dir.join(DB_FILE)).unwrap()
}

/// Submits `bank-a/e-{from}..e-{to}` in batches of 1, 2, 3, ... and waits until durable.
fn submit(store: &Store, from: u64, to: u64) {
    let mut next = from;
    let mut size = 1;
    while next <= to {
        let last = (next + size - 1).min(to);
        let seqs = store.submit((next..=last).map(|i| event("bank-a", &format!("e-{i}"))).collect()).unwrap();
        store.wait_durable(*seqs.last().unwrap()).unwrap();
        next = last + 1;
        size += 1;
    }
}

/// A closed store of `n` events, and its verified head.
fn store_of(name: &str, n: u64) -> (TempDir, Verified) {
    let tmp = TempDir::new(name);
    let store = Store::open(tmp.path()).unwrap();
    submit(&store, 1, n);
    store.close().unwrap();
    let ok = intact(tmp.path(), None);
    assert_eq!((ok.entries, ok.head_seq), (n, n));
    (tmp, ok)
}

fn intact(dir: &Path, expect: Option<(u64, [u8; 32])>) -> Verified {
    match Store::verify_dir(dir, expect).unwrap() {
        Ok(v) => v,
        Err(b) => panic!("expected an intact chain, got {b}"),
    }
}

fn broken(dir: &Path, expect: Option<(u64, [u8; 32])>) -> Broken {
    match Store::verify_dir(dir, expect).unwrap() {
        Ok(v) => panic!("expected a break, got an intact chain of {} entries", v.entries),
        Err(b) => b,
    }
}

fn stored_chain(conn: &Connection, seq: u64) -> [u8; 32] {
    let chain: Vec<u8> = conn.query_row("SELECT chain FROM events WHERE seq = ?1", [seq as i64], |r| r.get(0)).unwrap();
    chain.try_into().unwrap()
}

/// What an attacker with write access does after an edit: recomputes every chain from
/// `from` on with the published algorithm.
fn rechain_from(conn: &Connection, from: u64) {
    let mut prev = if from == 1 { GENESIS } else { stored_chain(conn, from - 1) };
    let rows: Vec<StoredEvent> = conn
        .prepare("SELECT seq, institution, id, event_type, time_us, received_us, body, body_hash, decision FROM events WHERE seq >= ?1 ORDER BY seq")
        .unwrap()
        .query_map([from as i64], |r| {
            Ok(StoredEvent {
                seq: r.get::<_, i64>(0)? as u64,
                institution: r.get(1)?,
                id: r.get(2)?,
                event_type: r.get(3)?,
                time_us: r.get(4)?,
                received_us: r.get(5)?,
                body: r.get::<_, String>(6)?.into_bytes(),
                body_hash: r.get::<_, Vec<u8>>(7)?.try_into().unwrap(),
                decision: r.get::<_, String>(8)?.into_bytes(),
            })
        })
        .unwrap()
        .collect::<rusqlite::Result<_>>()
        .unwrap();
    for e in rows {
        prev = link(&prev, &e);
        conn.execute("UPDATE events SET chain = ?1 WHERE seq = ?2", params![&prev[..], e.seq as i64]).unwrap();
    }
}

#[test]
fn the_writer_chains_every_entry_across_batches_and_reopens() {
    let tmp = TempDir::new("audit-chain");
    // An empty store: nothing to check, the head is the genesis.
    Store::open(tmp.path()).unwrap().close().unwrap();
    assert_eq!(intact(tmp.path(), None), Verified { entries: 0, head_seq: 0, head: GENESIS });

    let store = Store::open(tmp.path()).unwrap();
    submit(&store, 1, 20);
    store.close().unwrap();
    let first = intact(tmp.path(), None);
    assert_eq!((first.entries, first.head_seq), (20, 20));
    assert_ne!(first.head, GENESIS);
    assert_eq!(first.head, stored_chain(&raw(tmp.path()), 20));
    // The chain is the documented one, from the genesis.
    let n = event("bank-a", "e-1");
    let e1 = StoredEvent {
        seq: 1,
        institution: n.institution,
        id: n.id,
        event_type: n.event_type,
        time_us: n.time_us,
        received_us: n.received_us,
        body: n.body,
        body_hash: n.body_hash,
        decision: n.decision,
    };
    assert_eq!(stored_chain(&raw(tmp.path()), 1), link(&GENESIS, &e1));

    // Reopened, the writer goes on from the newest entry's chain.
    let store = Store::open(tmp.path()).unwrap();
    submit(&store, 21, 27);
    // Verified beside the open store (which holds the lock).
    let live = intact(tmp.path(), Some((first.head_seq, first.head)));
    assert_eq!((live.entries, live.head_seq), (27, 27));
    store.close().unwrap();
    let second = intact(tmp.path(), Some((20, first.head)));
    assert_eq!(second, live);
    assert_ne!(second.head, first.head);
    assert_eq!(intact(tmp.path(), Some((27, second.head))), second);
}

#[test]
fn an_edited_decision_or_body_is_an_altered_entry() {
    let (tmp, head) = store_of("audit-edit", 20);
    let conn = raw(tmp.path());

    // (a) The decision of entry 5.
    let decision: String = conn.query_row("SELECT decision FROM events WHERE seq = 5", [], |r| r.get(0)).unwrap();
    conn.execute("UPDATE events SET decision = replace(decision, 'allow', 'block') WHERE seq = 5", []).unwrap();
    let b = broken(tmp.path(), None);
    assert_eq!(b, Broken::Altered { seq: 5, institution: "bank-a".into(), id: "e-5".into(), how: Alteration::Chain });
    assert_eq!(b.to_string(), "entry 5 (bank-a/e-5) was altered: its chain does not follow from the entries before it");
    conn.execute("UPDATE events SET decision = ?1 WHERE seq = 5", [&decision]).unwrap();
    assert_eq!(intact(tmp.path(), Some((20, head.head))), head);

    // (b) The body of entry 3, its hash left as it was.
    let body: String = conn.query_row("SELECT body FROM events WHERE seq = 3", [], |r| r.get(0)).unwrap();
    conn.execute("UPDATE events SET body = replace(body, '100000', '900000') WHERE seq = 3", []).unwrap();
    let b = broken(tmp.path(), None);
    assert_eq!(b, Broken::Altered { seq: 3, institution: "bank-a".into(), id: "e-3".into(), how: Alteration::Body });
    assert!(b.to_string().starts_with("entry 3 (bank-a/e-3) was altered"), "{b}");
    // ... and with the hash made to match the new body, the chain gives it away.
    conn.execute("UPDATE events SET body_hash = ?1 WHERE seq = 3", [&sha256(body.replace("100000", "900000").as_bytes())[..]]).unwrap();
    assert_eq!(
        broken(tmp.path(), None),
        Broken::Altered { seq: 3, institution: "bank-a".into(), id: "e-3".into(), how: Alteration::Chain }
    );
    conn.execute("UPDATE events SET body = ?1, body_hash = ?2 WHERE seq = 3", params![&body, &sha256(body.as_bytes())[..]]).unwrap();
    assert_eq!(intact(tmp.path(), None), head);

    // Times and ids are covered too; the first break is the one named.
    conn.execute("UPDATE events SET received_us = received_us + 1 WHERE seq = 12", []).unwrap();
    conn.execute("UPDATE events SET id = 'e-x' WHERE seq = 9", []).unwrap();
    assert_eq!(
        broken(tmp.path(), None),
        Broken::Altered { seq: 9, institution: "bank-a".into(), id: "e-x".into(), how: Alteration::Chain }
    );
    conn.execute("UPDATE events SET id = 'e-9' WHERE seq = 9", []).unwrap();
    assert!(matches!(broken(tmp.path(), None), Broken::Altered { seq: 12, .. }));
}

#[test]
fn a_removed_entry_is_missing() {
    // (c) Entry 7.
    let (tmp, _) = store_of("audit-delete", 20);
    raw(tmp.path()).execute("DELETE FROM events WHERE seq = 7", []).unwrap();
    let b = broken(tmp.path(), None);
    assert_eq!(b, Broken::Missing { seq: 7, next: 8 });
    assert_eq!(b.to_string(), "entry 7 is missing (the sequence jumps from 6 to 8)");

    // The first entries.
    let (tmp, _) = store_of("audit-delete-first", 5);
    raw(tmp.path()).execute("DELETE FROM events WHERE seq <= 2", []).unwrap();
    let b = broken(tmp.path(), None);
    assert_eq!(b, Broken::Missing { seq: 1, next: 3 });
    assert_eq!(b.to_string(), "entry 1 is missing (the sequence starts at 3)");
}

#[test]
fn a_recomputed_chain_is_seen_only_against_the_recorded_head() {
    // (d) An attacker edits entry 10 and recomputes every chain from there on.
    let (tmp, head) = store_of("audit-rechain", 20);
    let conn = raw(tmp.path());
    conn.execute("UPDATE events SET decision = replace(decision, 'allow', 'block') WHERE seq = 10", []).unwrap();
    assert!(matches!(broken(tmp.path(), None), Broken::Altered { seq: 10, .. }));
    rechain_from(&conn, 10);
    let forged = intact(tmp.path(), None);
    assert_eq!(forged.head_seq, 20);
    assert_ne!(forged.head, head.head);
    let b = broken(tmp.path(), Some((head.head_seq, head.head)));
    assert_eq!(b, Broken::HeadMismatch { seq: 20 });
    assert!(b.to_string().contains("entry 20 is not the expected head"), "{b}");
    // A head recorded before the edit, at an earlier seq, still matches.
    let at_9 = stored_chain(&conn, 9);
    assert_eq!(intact(tmp.path(), Some((9, at_9))), forged);
    assert_eq!(broken(tmp.path(), Some((9, [7; 32]))), Broken::HeadMismatch { seq: 9 });
}

#[test]
fn removed_newest_entries_are_seen_only_against_the_recorded_head() {
    // (e) The last two entries.
    let (tmp, head) = store_of("audit-truncate", 20);
    let conn = raw(tmp.path());
    let at_18 = stored_chain(&conn, 18);
    conn.execute("DELETE FROM events WHERE seq > 18", []).unwrap();
    assert_eq!(intact(tmp.path(), None), Verified { entries: 18, head_seq: 18, head: at_18 });
    let b = broken(tmp.path(), Some((head.head_seq, head.head)));
    assert_eq!(b, Broken::Truncated { expected_seq: 20, found_seq: 18 });
    assert!(b.to_string().contains("ends at entry 18, before the expected head at entry 20"), "{b}");
}

#[test]
fn a_cleared_chain_is_reported_and_chained_again_on_open() {
    let (tmp, head) = store_of("audit-cleared", 12);
    raw(tmp.path()).execute("UPDATE events SET chain = NULL WHERE seq >= 8", []).unwrap();
    let b = broken(tmp.path(), None);
    assert_eq!(b, Broken::Unchained { seq: 8 });
    assert_eq!(b.to_string(), "entry 8 has no chain");
    // Opening the store chains them again; nothing else changed, so the head is the same.
    Store::open(tmp.path()).unwrap().close().unwrap();
    assert_eq!(intact(tmp.path(), Some((12, head.head))), head);
}

#[test]
fn a_database_of_version_3_is_chained_on_its_first_open() {
    // (f) A store written before the chain existed: the column and its index removed,
    // the version set back.
    let (tmp, head) = store_of("audit-migrate", 30);
    raw(tmp.path())
        .execute_batch(
            "DROP INDEX events_unchained; ALTER TABLE events DROP COLUMN chain; DROP TABLE outbox_cursor; DROP TABLE report_codes_by_id; PRAGMA user_version = 3;",
        )
        .unwrap();
    // Not verifiable before it is migrated.
    match Store::verify_dir(tmp.path(), None) {
        Err(e @ StoreError::Corrupt(_)) => assert!(e.to_string().contains("older"), "{e}"),
        other => panic!("expected an error, got {other:?}"),
    }
    let store = Store::open(tmp.path()).unwrap();
    let version: i64 = raw(tmp.path()).pragma_query_value(None, "user_version", |r| r.get(0)).unwrap();
    assert_eq!(version, SCHEMA_VERSION);
    let unchained: i64 = raw(tmp.path()).query_row("SELECT count(*) FROM events WHERE chain IS NULL", [], |r| r.get(0)).unwrap();
    assert_eq!(unchained, 0);
    // Every notice of theirs was written with its event: the outbox cursor covers them all.
    assert_eq!(store.outbox_cursor(), 30);
    // The same entries give the same chain; the writer goes on from it.
    assert_eq!(intact(tmp.path(), None), head);
    submit(&store, 31, 33);
    store.close().unwrap();
    let after = intact(tmp.path(), Some((30, head.head)));
    assert_eq!(after.head_seq, 33);
}

#[test]
fn verify_dir_of_a_folder_without_a_store_is_an_error_and_creates_nothing() {
    let tmp = TempDir::new("audit-empty");
    assert!(Store::verify_dir(tmp.path(), None).is_err());
    assert!(!tmp.path().join(DB_FILE).exists());
}
