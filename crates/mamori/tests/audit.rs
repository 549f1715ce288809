//! `mamori audit verify` against the real binary: a store written by `mamori serve`,
//! verified beside the running service and after it stopped, then tampered with.

use std::path::Path;

use serde_json::json;

mod common;
use common::{Server, TempDir, add_institution, agent, bin, send};

fn verify(data: &Path, extra: &[&str]) -> (Option<i32>, String, String) {
    let out = bin().args(["audit", "verify", "--data-dir"]).arg(data).args(extra).output().unwrap();
    (out.status.code(), String::from_utf8_lossy(&out.stdout).into_owned(), String::from_utf8_lossy(&out.stderr).into_owned())
}

fn raw(data: &Path) -> rusqlite::Connection {
    rusqlite::Connection::open(data.join("mamori.db")).unwrap()
}

#[test]
fn audit_verify_names_the_head_and_the_first_broken_entry() {
    let dir = TempDir::new("audit");
    let data = dir.path("data");
    let key = add_institution(&data, "bank-a", "bank");

    let mut server = Server::start(&data, &[]);
    let a = agent();
    for id in ["e1", "e2", "e3", "e4"] {
        let event = json!({"id": id, "type": "login", "time": "2026-11-21T10:00:00+09:00", "account": "a-1", "success": true});
        let r = send(&a, "POST", &format!("{}/v1/events", server.base), Some(&key), Some(event.to_string())).unwrap();
        assert_eq!(r.status, 200, "{}", r.body);
    }
    // Beside the running service (which holds the store's lock).
    let (code, stdout, stderr) = verify(&data, &[]);
    assert_eq!(code, Some(0), "{stderr}");
    assert!(stdout.starts_with("audit chain intact: "), "{stdout}");
    server.signal("-TERM");
    assert_eq!(server.wait_exit(), 0, "{}", server.log());

    let entries: i64 = raw(&data).query_row("SELECT count(*) FROM events", [], |r| r.get(0)).unwrap();
    assert!(entries >= 4);
    let (code, stdout, stderr) = verify(&data, &[]);
    assert_eq!(code, Some(0), "{stderr}");
    let line = stdout.trim_end();
    let prefix = format!("audit chain intact: {entries} entries, head seq {entries} sha256:");
    let hex = line.strip_prefix(&prefix).unwrap_or_else(|| panic!("{line}"));
    assert!(hex.len() == 64 && hex.bytes().all(|b| b.is_ascii_hexdigit()), "{line}");
    assert_eq!(stdout.lines().count(), 1, "{stdout}");
    let head = format!("{entries}:sha256:{hex}");
    let (code, _, stderr) = verify(&data, &["--expect-head", &head]);
    assert_eq!(code, Some(0), "{stderr}");
    // The default folder comes from MAMORI_DATA_DIR too.
    let out = bin().args(["audit", "verify"]).env("MAMORI_DATA_DIR", &data).output().unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout), stdout);

    // An edited decision: failure (1), the entry named on stderr.
    let (institution, id): (String, String) =
        raw(&data).query_row("SELECT institution, id FROM events WHERE seq = 2", [], |r| Ok((r.get(0)?, r.get(1)?))).unwrap();
    raw(&data).execute("UPDATE events SET decision = decision || ' ' WHERE seq = 2", []).unwrap();
    let (code, stdout, stderr) = verify(&data, &[]);
    assert_eq!(code, Some(1), "{stdout}");
    assert!(stdout.is_empty(), "{stdout}");
    assert_eq!(
        stderr.trim_end(),
        format!(
            "mamori: audit chain broken: entry 2 ({institution}/{id}) was altered: its chain does not follow from the entries before it"
        )
    );
    raw(&data).execute("UPDATE events SET decision = rtrim(decision, ' ') WHERE seq = 2", []).unwrap();
    assert_eq!(verify(&data, &[]).0, Some(0));

    // The newest entry removed: intact on its own, truncated against the recorded head.
    raw(&data).execute("DELETE FROM events WHERE seq = ?1", [entries]).unwrap();
    assert_eq!(verify(&data, &[]).0, Some(0));
    let (code, _, stderr) = verify(&data, &["--expect-head", &head]);
    assert_eq!(code, Some(1));
    assert!(stderr.contains(&format!("audit chain broken: the chain ends at entry {}, before the expected head", entries - 1)), "{stderr}");

    // Usage errors (2): a malformed head.
    for bad in ["12", "x:sha256:00", &format!("{entries}:{}", &hex[..10]), &format!("{entries}:md5:{hex}")] {
        let (code, _, stderr) = verify(&data, &["--expect-head", bad]);
        assert_eq!(code, Some(2), "{bad}: {stderr}");
        assert!(stderr.contains("--expect-head"), "{stderr}");
    }
    // No store there: failure (1), nothing created.
    let empty = dir.path("empty");
    let (code, _, stderr) = verify(&empty, &[]);
    assert_eq!(code, Some(1));
    assert!(stderr.contains("no mamori store here"), "{stderr}");
    assert!(!empty.join("mamori.db").exists());
}
