//! The outbox: notices and report codes written with their event, delivery outcomes, the
//! dead-letter list, webhook endpoints, and all of it after a reopen.

mod common;

use common::{TempDir, event};
use mamori_store::{Channel, NewNotice, NoticeStatus, NoticeUpdate, ReportCode, Store, WebhookEndpoint};

fn notice(channel: Channel, payload: &str) -> NewNotice {
    NewNotice {
        institution: "bank-a".into(),
        channel,
        target: if channel == Channel::Email { "taro@bank.example".into() } else { String::new() },
        payload: payload.as_bytes().to_vec(),
    }
}

#[test]
fn notices_are_written_with_their_event_and_their_outcomes_with_the_next_commit() {
    let dir = TempDir::new("outbox");
    let store = Store::open(dir.path()).unwrap();
    let mut e = event("bank-a", "t1");
    e.notices = vec![notice(Channel::Email, r#"{"code":"123456"}"#), notice(Channel::Webhook, "{}")];
    e.report_codes = vec![ReportCode {
        id: None,
        hash: [7; 32],
        institution: "bank-a".into(),
        subject: br#"{"link":"L1"}"#.to_vec(),
        expires_us: e.received_us + 10,
        created_us: e.received_us,
    }];
    let at = e.received_us;
    let seq = store.submit(vec![e]).unwrap()[0];
    store.wait_durable(seq).unwrap();

    // Due from the event's receipt on, oldest first.
    assert!(store.due_notices(at - 1, 10).unwrap().is_empty());
    assert_eq!(store.notice_backlog(at - 1).unwrap(), (0, None));
    assert_eq!(store.notice_backlog(at + 3).unwrap(), (2, Some(at)));
    let due = store.due_notices(at, 10).unwrap();
    assert_eq!(due.len(), 2);
    assert_eq!((due[0].seq, due[0].channel, due[0].status, due[0].attempts), (seq, Channel::Email, NoticeStatus::Pending, 0));
    assert_eq!(store.notices_of(seq).unwrap().len(), 2);
    let code = store.report_code(None, &[7; 32]).unwrap().unwrap();
    assert_eq!((code.institution.as_str(), code.subject.as_slice()), ("bank-a", &br#"{"link":"L1"}"#[..]));
    assert!(store.report_code(None, &[8; 32]).unwrap().is_none());

    // The e-mail is sent (its code redacted); the webhook fails, then fails for good.
    let (mail, hook) = (due[0].id, due[1].id);
    store.record_deliveries(vec![NoticeUpdate::Sent { id: mail, at_us: at + 5, payload: Some(b"{}".to_vec()) }]).unwrap();
    let failed = |next: Option<i64>| NoticeUpdate::Failed { id: hook, at_us: at + 6, error: "503".into(), next_at_us: next, payload: None };
    store.record_deliveries(vec![failed(Some(at + 100))]).unwrap();
    let sent = store.notice(mail).unwrap().unwrap();
    assert_eq!((sent.status, sent.payload.as_slice(), sent.done_us), (NoticeStatus::Sent, &b"{}"[..], Some(at + 5)));
    let h = store.notice(hook).unwrap().unwrap();
    assert_eq!((h.status, h.attempts, h.next_at_us, h.last_error.as_deref()), (NoticeStatus::Pending, 1, at + 100, Some("503")));
    assert!(store.due_notices(at + 99, 10).unwrap().is_empty());
    assert_eq!(store.next_notice_due().unwrap(), Some(at + 100));
    // The sent one is out of the backlog, the one waiting to be retried is in it once due.
    assert_eq!(store.notice_backlog(at + 99).unwrap(), (0, None));
    assert_eq!(store.notice_backlog(at + 150).unwrap(), (1, Some(at + 100)));
    store.record_deliveries(vec![failed(None)]).unwrap();
    assert_eq!(store.notices("bank-a", Some(NoticeStatus::Dead), 10).unwrap().len(), 1);
    assert!(store.notices("bank-b", None, 10).unwrap().is_empty());
    // A second outcome for a notice no longer pending changes nothing.
    store.record_deliveries(vec![NoticeUpdate::Sent { id: hook, at_us: at + 7, payload: None }]).unwrap();
    assert_eq!(store.notice(hook).unwrap().unwrap().status, NoticeStatus::Dead);
    // An operator puts it back; it counts its attempts afresh.
    store.record_deliveries(vec![NoticeUpdate::Retry { id: hook, at_us: at + 200 }]).unwrap();
    let h = store.notice(hook).unwrap().unwrap();
    assert_eq!((h.status, h.attempts, h.next_at_us), (NoticeStatus::Pending, 0, at + 200));

    let endpoint = WebhookEndpoint { url: "https://bank.example/hooks".into(), secret: b"whsec_1".to_vec(), updated_us: at };
    store.set_webhook("bank-a", &endpoint).unwrap();
    store.set_webhook("bank-a", &WebhookEndpoint { url: "https://bank.example/v2".into(), ..endpoint.clone() }).unwrap();
    assert!(!format!("{endpoint:?}").contains("whsec"));
    store.close().unwrap();

    // All of it after a reopen.
    let store = Store::open(dir.path()).unwrap();
    assert_eq!(store.due_notices(at + 200, 10).unwrap().len(), 1);
    assert_eq!(store.webhook("bank-a").unwrap().unwrap().url, "https://bank.example/v2");
    assert_eq!(store.webhook_institutions().unwrap(), ["bank-a"]);
    assert!(store.report_code(None, &[7; 32]).unwrap().is_some());
}

#[test]
fn an_event_refused_writes_none_of_its_notices() {
    let dir = TempDir::new("outbox-refused");
    let store = Store::open(dir.path()).unwrap();
    let first = event("bank-a", "t1");
    let at = first.received_us;
    store.wait_durable(store.submit(vec![first]).unwrap()[0]).unwrap();
    let mut again = event("bank-a", "t1");
    again.notices = vec![notice(Channel::Email, "{}")];
    assert!(store.submit(vec![again]).is_err());
    let mut bad = event("bank-a", "t2");
    bad.notices = vec![notice(Channel::Email, "{}")];
    let dup = event("bank-a", "t2");
    assert!(store.submit(vec![bad, dup]).is_err());
    store.close().unwrap();
    let store = Store::open(dir.path()).unwrap();
    assert!(store.due_notices(at + 1_000_000, 10).unwrap().is_empty());
}

#[test]
fn notices_written_after_their_event_wait_for_the_outbox_and_move_its_cursor() {
    let dir = TempDir::new("outbox-later");
    let store = Store::open(dir.path()).unwrap();
    assert_eq!(store.outbox_cursor(), 0);
    store.set_outbox_delay(std::time::Duration::from_secs(3_600));
    let later = |id: &str| {
        let mut e = event("bank-a", id);
        e.notices = vec![notice(Channel::Email, "{}")];
        e.notices_later = true;
        e
    };
    // Until the store is told that events past the cursor were planned again, the outbox
    // neither writes nor moves: the event is durable, its notice is not.
    let first = store.submit(vec![later("t1")]).unwrap()[0];
    store.flush_outbox(first).unwrap();
    assert_eq!(store.outbox_cursor(), 0);
    assert!(store.notices_of(first).unwrap().is_empty());
    store.close().unwrap();

    // The next open plans it again; the outbox then writes it (asked, well before the delay).
    let store = Store::open(dir.path()).unwrap();
    store.set_outbox_delay(std::time::Duration::from_secs(3_600));
    // The writer calls the listener after the commit, on its own thread: counted by polling.
    let told = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    {
        let told = std::sync::Arc::clone(&told);
        store.set_notice_listener(move || {
            told.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        });
    }
    let told_at_least = |n: usize| {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
        while told.load(std::sync::atomic::Ordering::SeqCst) < n {
            assert!(std::time::Instant::now() < deadline, "the listener was not told of write {n}");
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
    };
    assert_eq!(store.outbox_cursor(), 0);
    store.replan(first, 1, vec![notice(Channel::Webhook, "{}")], Vec::new());
    store.replanned();
    let second = store.submit(vec![later("t2"), event("bank-a", "t3")]).unwrap()[1];
    store.wait_durable(second).unwrap();
    assert!(store.due_notices(i64::MAX, 10).unwrap().is_empty(), "written before the delay");
    assert_eq!(store.outbox_cursor(), 0);
    store.flush_outbox(second).unwrap();
    assert_eq!(store.outbox_cursor(), second);
    let due = store.due_notices(i64::MAX, 10).unwrap();
    assert_eq!(due.iter().map(|n| (n.seq, n.channel)).collect::<Vec<_>>(), [(first, Channel::Webhook), (first + 1, Channel::Email)]);

    told_at_least(1);
    assert_eq!(told.load(std::sync::atomic::Ordering::SeqCst), 1);

    // With a short delay the writer writes them by itself and tells the listener.
    store.set_outbox_delay(std::time::Duration::from_millis(5));
    let third = store.submit(vec![later("t4")]).unwrap()[0];
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    // The cursor moves in memory just after the commit a reader may already see: both polled.
    while store.due_notices(i64::MAX, 10).unwrap().len() < 3 || store.outbox_cursor() < third {
        assert!(std::time::Instant::now() < deadline, "not written after the delay");
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    assert_eq!(store.outbox_cursor(), third);
    assert_eq!(store.due_notices(i64::MAX, 10).unwrap().len(), 3);
    told_at_least(2);
    // A clean close writes the cursor: the next open has nothing to plan again.
    let fourth = store.submit(vec![event("bank-a", "t5")]).unwrap()[0];
    store.close().unwrap();
    let store = Store::open(dir.path()).unwrap();
    assert_eq!(store.outbox_cursor(), fourth);
}

#[test]
fn report_codes_with_an_id_are_found_by_it_and_checked_by_their_hash() {
    let dir = TempDir::new("outbox-code-ids");
    let store = Store::open(dir.path()).unwrap();
    let (first, second) = (store.next_report_code_id(), store.next_report_code_id());
    assert_eq!((first, second), (1, 2));
    let code = |id: u64, hash: u8| ReportCode {
        id: Some(id),
        hash: [hash; 32],
        institution: "bank-a".into(),
        subject: br#"{"account":"a-1"}"#.to_vec(),
        expires_us: 10,
        created_us: 1,
    };
    let mut e = event("bank-a", "t1");
    e.report_codes = vec![code(second, 9)];
    store.wait_durable(store.submit(vec![e]).unwrap()[0]).unwrap();
    let found = store.report_code(Some(second), &[9; 32]).unwrap().unwrap();
    assert_eq!((found.id, found.institution.as_str(), found.expires_us), (Some(second), "bank-a", 10));
    // The right id with another hash (a guessed secret), an id never written, a huge id,
    // and the hash alone (the table of codes without ids) find nothing.
    assert!(store.report_code(Some(second), &[8; 32]).unwrap().is_none());
    assert!(store.report_code(Some(first), &[9; 32]).unwrap().is_none());
    assert!(store.report_code(Some(u64::MAX), &[9; 32]).unwrap().is_none());
    assert!(store.report_code(None, &[9; 32]).unwrap().is_none());
    store.close().unwrap();
    // Ids go on after the newest written.
    let store = Store::open(dir.path()).unwrap();
    assert_eq!(store.next_report_code_id(), second + 1);
}

#[test]
fn outbox_transactions_reach_the_disk_with_the_next_fsync_and_are_read_only_once_there() {
    let dir = TempDir::new("outbox-sync");
    let store = Store::open(dir.path()).unwrap();
    store.replanned();
    store.set_outbox_delay(std::time::Duration::from_millis(2));
    let later = |id: &str| {
        let mut e = event("bank-a", id);
        e.notices = vec![notice(Channel::Webhook, "{}")];
        e.notices_later = true;
        e
    };
    let unsynced_becomes = |n: u64| {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
        while store.stats().outbox_unsynced != n {
            assert!(std::time::Instant::now() < deadline, "outbox_unsynced is {}, not {n}", store.stats().outbox_unsynced);
            std::thread::sleep(std::time::Duration::from_millis(2));
        }
    };
    // The outbox commits the notice without an fsync of its own.
    let first = store.submit(vec![later("t1")]).unwrap()[0];
    unsynced_becomes(1);
    assert_eq!(store.outbox_cursor(), first);
    // The next event's commit syncs the WAL: the outbox's transaction with it.
    let second = store.submit(vec![event("bank-a", "t2")]).unwrap()[0];
    store.wait_durable(second).unwrap();
    assert_eq!(store.stats().outbox_unsynced, 0);

    // With no event to come, reading due notices syncs them first.
    store.submit(vec![later("t3")]).unwrap();
    unsynced_becomes(1);
    let due = store.due_notices(i64::MAX, 10).unwrap();
    assert_eq!(due.len(), 2);
    assert_eq!(store.stats().outbox_unsynced, 0);

    // Outcomes ride unsynced transactions; an operator's retry is synced with its own.
    let sent = NoticeUpdate::Sent { id: due[0].id, at_us: 1, payload: None };
    store.record_deliveries(vec![sent]).unwrap();
    assert_eq!(store.stats().outbox_unsynced, 1);
    let dead = NoticeUpdate::Failed { id: due[1].id, at_us: 2, error: "410".into(), next_at_us: None, payload: None };
    store.record_deliveries(vec![dead]).unwrap();
    assert_eq!(store.stats().outbox_unsynced, 2);
    store.record_deliveries(vec![NoticeUpdate::Retry { id: due[1].id, at_us: 3 }]).unwrap();
    assert_eq!(store.stats().outbox_unsynced, 0);

    // A flush returns with the cursor on disk.
    let fourth = store.submit(vec![later("t4")]).unwrap()[0];
    store.flush_outbox(fourth).unwrap();
    assert_eq!((store.outbox_cursor(), store.stats().outbox_unsynced), (fourth, 0));
    store.close().unwrap();
    let store = Store::open(dir.path()).unwrap();
    assert_eq!(store.outbox_cursor(), fourth);
    assert_eq!(store.notices_of(fourth).unwrap().len(), 1);
}

#[test]
fn a_reader_waiting_for_the_disk_is_synced_by_the_next_event_or_after_a_grace_alone() {
    use std::time::{Duration, Instant};
    let dir = TempDir::new("outbox-sync-grace");
    let store = Store::open(dir.path()).unwrap();
    store.replanned();
    store.set_outbox_delay(Duration::from_millis(1));
    let later = |id: &str| {
        let mut e = event("bank-a", id);
        e.notices = vec![notice(Channel::Email, "{}")];
        e.notices_later = true;
        e
    };
    // Submits an event whose notice the outbox writes after it, without an fsync, and
    // waits for that write.
    let written_unsynced = |id: &str| {
        let seq = store.submit(vec![later(id)]).unwrap()[0];
        let deadline = Instant::now() + Duration::from_secs(60);
        while store.outbox_cursor() < seq || store.stats().outbox_unsynced == 0 {
            assert!(Instant::now() < deadline, "the outbox did not write {id}");
            std::thread::sleep(Duration::from_millis(1));
        }
    };

    // Nothing else comes: the reader waits out the grace, then the writer syncs for it.
    store.set_sync_grace(Duration::from_millis(50));
    written_unsynced("t1");
    let asked = Instant::now();
    assert_eq!(store.due_notices(i64::MAX, 10).unwrap().len(), 1);
    assert!(asked.elapsed() >= Duration::from_millis(50), "synced before the grace: {:?}", asked.elapsed());
    assert_eq!(store.stats().wal_syncs, 1);

    // Events flow (and the grace is long): the next event's commit syncs what the reader
    // waits for, and the writer adds no fsync of its own for events to queue behind.
    store.set_sync_grace(Duration::from_secs(3_600));
    written_unsynced("t2");
    std::thread::scope(|s| {
        let reader = s.spawn(|| store.due_notices(i64::MAX, 10).unwrap().len());
        while !reader.is_finished() {
            let seq = store.submit(vec![event("bank-a", &format!("flow-{}", store.stats().submitted_seq))]).unwrap()[0];
            store.wait_durable(seq).unwrap();
            std::thread::sleep(Duration::from_millis(1));
        }
        assert_eq!(reader.join().unwrap(), 2);
    });
    assert_eq!(store.stats().wal_syncs, 1, "a sync of its own while events flowed");
    store.close().unwrap();
}
