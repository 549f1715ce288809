//! Helpers shared by the integration tests.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

use mamori_store::NewEvent;
use sha2::{Digest, Sha256};

/// A folder of its own under cargo's target tmp dir (on the real disk, like the service's
/// data dir), removed when dropped.
pub struct TempDir(PathBuf);

impl TempDir {
    pub fn new(name: &str) -> TempDir {
        let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos();
        let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("mamori-store-{name}-{}-{nanos}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }

    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The body of event `id`: a function of the id alone, so a reader can recompute it.
pub fn body(institution: &str, id: &str) -> Vec<u8> {
    let pad = "x".repeat(id.len() * 7 % 200);
    format!(
        r#"{{"id":"{id}","type":"transfer","time":"2026-11-21T10:00:00Z","institution":"{institution}","account":"acc-{id}","amount":"100000","currency":"JPY","direction":"out","holder":{{"name_kana":"ヤマダ タロウ"}},"attributes":{{"pad":"{pad}"}}}}"#
    )
    .into_bytes()
}

pub fn decision(id: &str) -> Vec<u8> {
    format!(
        r#"{{"event_id":"{id}","decision":"allow","score":0,"reasons":[],"ruleset":"sha256:00","decided_at":"2026-11-21T10:00:00.123Z"}}"#
    )
    .into_bytes()
}

pub fn sha256(bytes: &[u8]) -> [u8; 32] {
    Sha256::digest(bytes).into()
}

pub fn event(institution: &str, id: &str) -> NewEvent {
    let body = body(institution, id);
    NewEvent {
        institution: institution.to_string(),
        id: id.to_string(),
        event_type: "transfer".to_string(),
        time_us: 1_795_255_200_000_000,
        received_us: 1_795_255_200_000_000 + id.len() as i64,
        body_hash: sha256(&body),
        body,
        decision: decision(id),
        notices: Vec::new(),
        report_codes: Vec::new(),
        notices_later: false,
    }
}
