//! `--notify`: a notice to the customer of every finding, through the service's outbox.
//!
//! Each finding becomes one of the service's own records (`Outreach`) in the store, with
//! its notices (e-mail to the address the institution registered, the institution's
//! webhook) and their report code in the same transaction; the service's courier
//! delivers them, retrying as it does for every notice. The record's id is derived from
//! the finding's event, and the store keeps ids unique: a finding already notified, by
//! this sweep or an earlier one, is skipped.

use std::collections::HashSet;
use std::path::Path;

use mamori_core::Timestamp;
use mamori_server::journal::{RESERVED_ID_PREFIX, Record};
use mamori_server::links::SERVICE;
use mamori_server::notices::{self, NotifySettings};
use mamori_store::{NewEvent, Store};
use sha2::{Digest, Sha256};

use crate::sweep::Outcome;

/// What `--notify` did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Queued {
    /// Findings whose notices were queued now.
    pub findings: u64,
    /// Outbox rows written (one per channel).
    pub notices: u64,
    /// Findings notified before (skipped).
    pub already: u64,
    /// Findings whose customer no registered channel reaches (the bank writes to them:
    /// `victims.csv`).
    pub unreachable: u64,
}

/// The id of the record that notifies a finding.
pub fn record_id(institution: &str, event_id: &str) -> String {
    let h = Sha256::digest(format!("{institution}\x1f{event_id}").as_bytes());
    format!("{RESERVED_ID_PREFIX}outreach:{}", hex::encode(&h[..16]))
}

/// Queues the notices of every finding of `outcome` in the store at `dir` (which the
/// service must not hold open).
pub fn queue(dir: &Path, outcome: &Outcome, now: Timestamp) -> Result<Queued, String> {
    let store = Store::open(dir).map_err(|e| format!("{}: {e} (stop the service before a sweep with --notify)", dir.display()))?;
    let webhooks: HashSet<String> = store.webhook_institutions().map_err(|e| e.to_string())?.into_iter().collect();
    let settings = NotifySettings::default();
    let mut q = Queued::default();
    let mut batch = Vec::new();
    let mut last = 0;
    let mut seen = HashSet::new();
    for f in &outcome.findings {
        let Some(plan) = f.plan.clone() else {
            q.unreachable += 1;
            continue;
        };
        let inst = f.event.institution.clone().unwrap_or_default();
        let id = record_id(&inst, &f.event.id);
        if !seen.insert(id.clone()) || store.lookup(SERVICE, &id).map_err(|e| e.to_string())?.is_some() {
            q.already += 1;
            continue;
        }
        let owner = plan.owner.clone();
        let (rows, codes) = notices::for_review(&store, plan, &f.event, &webhooks, &settings, now)?;
        if rows.is_empty() {
            q.unreachable += 1;
            continue;
        }
        let record = Record::Outreach {
            event: (inst, f.event.id.clone()),
            owner,
            ruleset: f.decision.ruleset.to_string(),
            rules: f.decision.reasons.iter().map(|r| r.rule.clone()).collect(),
            at_us: now.as_micros(),
        };
        q.findings += 1;
        q.notices += rows.len() as u64;
        batch.push(record.to_stored(SERVICE.to_string(), id, now, rows, codes));
        if batch.len() == 1000 {
            last = submit(&store, &mut batch)?.max(last);
        }
    }
    last = submit(&store, &mut batch)?.max(last);
    if last > 0 {
        store.wait_durable(last).map_err(|e| e.to_string())?;
    }
    store.close().map_err(|e| e.to_string())?;
    Ok(q)
}

fn submit(store: &Store, batch: &mut Vec<NewEvent>) -> Result<u64, String> {
    if batch.is_empty() {
        return Ok(0);
    }
    let seqs = store.submit(std::mem::take(batch)).map_err(|e| e.to_string())?;
    Ok(seqs.into_iter().max().unwrap_or(0))
}
