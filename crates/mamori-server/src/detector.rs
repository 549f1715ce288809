//! Deciding: events through the feature engine and the ruleset, in one order, and into
//! the store in that same order.
//!
//! One lock covers looking an event up, computing its features and decision, and
//! submitting it to the store: the store's sequence is therefore the order in which the
//! engine saw the events, and replaying the store in sequence rebuilds the same state.
//! Waiting for the disk happens outside the lock, so many requests share one commit.

use std::collections::HashSet;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, RwLock};

use mamori_core::Timestamp;
use mamori_core::event::{Event, EventSchema};
use mamori_rules::Action;
use mamori_store::{NewEvent, Store, StoreError};
use sha2::{Digest, Sha256};

use crate::journal::{RECORD_TYPE, Record};
use crate::judge::{Judge, Release, ReleaseError, Trip};
use crate::notices::{self, NotifySettings};
use crate::packs::Packs;
use crate::scorer::{ModelInfo, Scorer};

/// One validated event of a request, with what identifies its content.
#[derive(Debug)]
pub struct Incoming {
    pub event: Event,
    /// Canonical JSON of the event (with the institution filled in).
    pub body: Vec<u8>,
    pub hash: [u8; 32],
}

impl Incoming {
    /// Prepares `event` for `institution` (filling in the institution when absent).
    pub fn new(mut event: Event, institution: &str) -> Incoming {
        event.institution.get_or_insert_with(|| institution.to_string());
        let body = event.to_json_vec();
        let hash = Sha256::digest(&body).into();
        Incoming { event, body, hash }
    }
}

/// What became of one event.
#[derive(Debug, Clone)]
pub enum Outcome {
    /// Decided now; the decision JSON, and the action and the rules that fired (for metrics).
    New { decision: Arc<[u8]>, action: &'static str },
    /// Seen before with the same content: the first decision, unchanged.
    Replay { decision: Arc<[u8]> },
}

impl Outcome {
    pub fn decision(&self) -> &[u8] {
        self.shared()
    }

    fn shared(&self) -> &Arc<[u8]> {
        match self {
            Outcome::New { decision, .. } | Outcome::Replay { decision } => decision,
        }
    }
}

/// Why a request's events were not decided. Nothing was applied.
#[derive(Debug, thiserror::Error)]
pub enum DecideError {
    /// The same `(institution, id)` was seen with a different body (index in the request).
    #[error("event {id:?} was already received with a different body")]
    Conflict { index: usize, id: String },
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("the service stopped taking events after a failed write: {0}")]
    Failed(String),
}

pub(crate) struct Live {
    pub(crate) judge: Judge,
    /// New events since the last snapshot was taken.
    since_snapshot: u64,
    /// Set once a write failed after the engine moved on: decisions stop until restart.
    pub(crate) failed: Option<String>,
    pub(crate) settings: NotifySettings,
    pub(crate) reimbursement: Reimbursement,
}

/// How verdicts of fraud become claims: the liability policy and the business days to pay.
#[derive(Debug, Clone)]
pub struct Reimbursement {
    pub policy: Arc<mamori_claims::PolicySet>,
    pub due_business_days: u32,
}

impl Default for Reimbursement {
    fn default() -> Self {
        Reimbursement { policy: Arc::new(mamori_claims::PolicySet::default()), due_business_days: 5 }
    }
}

/// The service's decision maker: feature state, ruleset and store, in step.
pub struct Detector {
    events: Arc<EventSchema>,
    store: Store,
    live: Mutex<Live>,
    snapshot_every: AtomicU64,
    /// Institutions that set a webhook endpoint (their notices go there too).
    pub(crate) webhooks: RwLock<HashSet<String>>,
    /// Woken when new notices are written, for the courier.
    wake: Arc<tokio::sync::Notify>,
}

/// New events between two snapshots of the state, unless configured otherwise.
pub const DEFAULT_SNAPSHOT_EVERY: u64 = 100_000;

impl std::fmt::Debug for Detector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Detector").finish_non_exhaustive()
    }
}

/// Why a release did not happen.
#[derive(Debug, thiserror::Error)]
pub enum ReleaseFailed {
    #[error(transparent)]
    Refused(ReleaseError),
    #[error(transparent)]
    Decide(DecideError),
}

/// How a rebuild went.
#[derive(Debug, Clone, Copy, Default)]
pub struct Rebuilt {
    /// Events replayed (after the snapshot, if one was used).
    pub events: u64,
    pub late: u64,
    /// The seq of the snapshot the state started from (0: none).
    pub snapshot_seq: u64,
    /// Events past the outbox cursor whose notices were planned again.
    pub replanned: u64,
}

impl Detector {
    /// A detector whose feature state is rebuilt from every event in `store`, with the
    /// default notice settings.
    pub fn open(store: Store, packs: Packs, events: Arc<EventSchema>) -> Result<(Detector, Rebuilt), String> {
        Detector::open_with(store, packs, events, NotifySettings::default())
    }

    /// A detector whose feature state is rebuilt from every event in `store`. The notices
    /// of events past the store's outbox cursor (lost to a crash before they were
    /// written) are planned again on the way, with `settings`, as they were planned then.
    pub fn open_with(
        store: Store,
        packs: Packs,
        events: Arc<EventSchema>,
        settings: NotifySettings,
    ) -> Result<(Detector, Rebuilt), String> {
        let webhooks: HashSet<String> = store.webhook_institutions().map_err(|e| e.to_string())?.into_iter().collect();
        let replan = Replan { settings: &settings, webhooks: &webhooks, after: store.outbox_cursor() };
        let (judge, rebuilt) = rebuild(&store, packs, &events, Some(&replan))?;
        store.set_outbox_delay(settings.outbox_delay);
        store.replanned();
        let wake = Arc::new(tokio::sync::Notify::new());
        {
            let wake = Arc::clone(&wake);
            store.set_notice_listener(move || wake.notify_one());
        }
        let live = Live { judge, since_snapshot: 0, failed: None, settings, reimbursement: Reimbursement::default() };
        let detector = Detector {
            events,
            store,
            live: Mutex::new(live),
            snapshot_every: AtomicU64::new(DEFAULT_SNAPSHOT_EVERY),
            webhooks: RwLock::new(webhooks),
            wake,
        };
        Ok((detector, rebuilt))
    }

    /// How notices and codes behave from now on.
    pub fn set_notify(&self, settings: NotifySettings) {
        self.store.set_outbox_delay(settings.outbox_delay);
        self.lock().settings = settings;
    }

    /// The liability policy and deadline of claims from now on.
    pub fn set_reimbursement(&self, r: Reimbursement) {
        self.lock().reimbursement = r;
    }

    /// What the courier waits on for new notices.
    pub fn wake(&self) -> Arc<tokio::sync::Notify> {
        Arc::clone(&self.wake)
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    pub(crate) fn lock(&self) -> MutexGuard<'_, Live> {
        self.live.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The ruleset in use.
    pub fn ruleset_id(&self) -> String {
        self.lock().judge.packs().rules.id().to_string()
    }

    /// `Some(reason)` once the detector has stopped taking events.
    pub fn failure(&self) -> Option<String> {
        self.lock().failed.clone()
    }

    /// Decides the events of one request (all of them or none) and submits the new ones to
    /// the store. Returns the outcomes in order and the sequence number to wait for
    /// before answering (0: nothing to wait for).
    pub fn decide(&self, institution: &str, batch: Vec<Incoming>, now: Timestamp) -> Result<(Vec<Outcome>, u64), DecideError> {
        let mut live = self.lock();
        self.decide_locked(&mut live, institution, batch, now)
    }

    pub(crate) fn decide_locked(
        &self,
        live: &mut Live,
        institution: &str,
        batch: Vec<Incoming>,
        now: Timestamp,
    ) -> Result<(Vec<Outcome>, u64), DecideError> {
        if let Some(why) = &live.failed {
            return Err(DecideError::Failed(why.clone()));
        }
        // First pass: replays and conflicts, before anything changes. An id seen earlier
        // in the same request is the same event again (or a conflict).
        enum Prior {
            Stored(Arc<[u8]>),
            Earlier(usize),
            None,
        }
        let mut first: std::collections::HashMap<&str, usize> = std::collections::HashMap::new();
        let mut priors = Vec::with_capacity(batch.len());
        let mut wait = 0;
        for (i, inc) in batch.iter().enumerate() {
            if let Some(&j) = first.get(inc.event.id.as_str()) {
                if batch[j].hash != inc.hash {
                    return Err(DecideError::Conflict { index: i, id: inc.event.id.clone() });
                }
                priors.push(Prior::Earlier(j));
                continue;
            }
            first.insert(&inc.event.id, i);
            priors.push(match self.store.lookup(institution, &inc.event.id)? {
                Some(s) if s.body_hash != inc.hash => return Err(DecideError::Conflict { index: i, id: inc.event.id.clone() }),
                Some(s) => {
                    wait = wait.max(s.seq);
                    Prior::Stored(Arc::from(s.decision))
                }
                None => Prior::None,
            });
        }
        // Second pass: decide the new events, in order.
        let mut outcomes: Vec<Outcome> = Vec::with_capacity(batch.len());
        let mut new_events = Vec::new();
        for (inc, prior) in batch.iter().zip(priors) {
            let decision = match prior {
                Prior::Stored(decision) => decision,
                Prior::Earlier(j) => Arc::clone(outcomes[j].shared()),
                Prior::None => {
                    let (new, wire, action) = self.judged(live, institution, &inc.event, inc.body.clone(), inc.hash, now);
                    new_events.push(new);
                    outcomes.push(Outcome::New { decision: wire, action: action.as_str() });
                    continue;
                }
            };
            outcomes.push(Outcome::Replay { decision });
        }
        wait = wait.max(self.submit(live, new_events)?);
        Ok((outcomes, wait))
    }

    /// Judges one new event and makes its store entry: the decision, and the notices it
    /// calls for with their report codes.
    pub(crate) fn judged(
        &self,
        live: &mut Live,
        institution: &str,
        event: &Event,
        body: Vec<u8>,
        hash: [u8; 32],
        now: Timestamp,
    ) -> (NewEvent, Arc<[u8]>, Action) {
        let decision = live.judge.judge(event);
        let wire: Arc<[u8]> = Arc::from(serde_json::to_vec(&decision.wire(&event.id, now)).unwrap_or_default());
        let (notices, report_codes) = match live.settings.enabled.then(|| live.judge.registry().plan(event)).flatten() {
            Some(plan) => {
                let webhooks = self.webhooks.read().unwrap_or_else(|p| p.into_inner());
                notices::for_event(&self.store, plan, event, decision.action.as_str(), &webhooks, &live.settings, now).unwrap_or_else(|e| {
                    tracing::error!(error = %e, "no notice written for an event");
                    (Vec::new(), Vec::new())
                })
            }
            None => (Vec::new(), Vec::new()),
        };
        let new = NewEvent {
            institution: institution.to_string(),
            id: event.id.clone(),
            event_type: event.event_type().as_str().to_string(),
            time_us: event.time.as_micros(),
            received_us: now.as_micros(),
            body,
            body_hash: hash,
            decision: wire.to_vec(),
            notices,
            report_codes,
            // Written after the event: its commit, and so the answer, never waits for them.
            notices_later: true,
        };
        (new, wire, decision.action)
    }

    /// Submits what the judge has already taken in; returns the last seq (0: nothing).
    /// A refusal now means the judge and the store disagree: decisions stop until a
    /// restart rebuilds the state from the store.
    pub(crate) fn submit(&self, live: &mut Live, new_events: Vec<NewEvent>) -> Result<u64, DecideError> {
        if new_events.is_empty() {
            return Ok(0);
        }
        let n = new_events.len() as u64;
        // The store tells the courier when their notices are written.
        match self.store.submit(new_events) {
            Ok(seqs) => {
                let wait = seqs.last().copied().unwrap_or(0);
                live.since_snapshot += n;
                if live.since_snapshot >= self.snapshot_every.load(Ordering::Relaxed) {
                    live.since_snapshot = 0;
                    let (bytes, seq) = (live.judge.snapshot(), wait);
                    let store = self.store.clone();
                    // Saved once the events it covers are on disk, off the request path.
                    std::thread::spawn(move || {
                        if let Err(e) = store.save_snapshot(seq, &bytes) {
                            tracing::warn!(error = %e, seq, "snapshot not saved");
                        }
                    });
                }
                Ok(wait)
            }
            Err(e) => {
                // The engine has moved on; the store has not. Stop until a restart
                // rebuilds the state from what is on disk.
                live.failed = Some(e.to_string());
                Err(e.into())
            }
        }
    }

    /// Takes a snapshot every `n` new events (0: never).
    pub fn set_snapshot_every(&self, n: u64) {
        self.snapshot_every.store(if n == 0 { u64::MAX } else { n }, Ordering::Relaxed);
    }

    /// Saves a snapshot of the state now (at shutdown, so the next start replays nothing).
    /// Returns the seq it covers.
    pub fn snapshot_now(&self) -> Result<u64, StoreError> {
        let (bytes, seq) = {
            let mut live = self.lock();
            live.since_snapshot = 0;
            (live.judge.snapshot(), self.store.stats().submitted_seq)
        };
        self.store.save_snapshot(seq, &bytes)?;
        Ok(seq)
    }

    /// The breakers tripped by `institution`'s events.
    pub fn tripped(&self, institution: &str) -> Vec<Trip> {
        self.lock().judge.tripped().filter(|t| t.institution == institution).cloned().collect()
    }

    /// Releases a tripped breaker for `institution` with a reason, recorded in the store
    /// in sequence with the events. Returns the trip released and the seq to wait for.
    pub fn release(
        &self,
        institution: &str,
        breaker: &str,
        key: Vec<String>,
        reason: &str,
        now: Timestamp,
    ) -> Result<(Trip, u64), ReleaseFailed> {
        let mut live = self.lock();
        if let Some(why) = &live.failed {
            return Err(ReleaseFailed::Decide(DecideError::Failed(why.clone())));
        }
        live.judge.check_release(breaker, &key, institution, reason).map_err(ReleaseFailed::Refused)?;
        let record = Release {
            breaker: breaker.to_string(),
            key,
            by: institution.to_string(),
            reason: reason.trim().to_string(),
            at: now.to_rfc3339(),
        };
        let body = serde_json::to_vec(&record).unwrap_or_default();
        let seq_hint = self.store.stats().submitted_seq + 1;
        let new = NewEvent {
            institution: institution.to_string(),
            id: format!("{RELEASE_ID_PREFIX}{breaker}:{seq_hint}"),
            event_type: RELEASE_TYPE.to_string(),
            time_us: now.as_micros(),
            received_us: now.as_micros(),
            body: body.clone(),
            body_hash: Sha256::digest(&body).into(),
            decision: body,
            notices: Vec::new(),
            report_codes: Vec::new(),
            notices_later: false,
        };
        let seq = match self.store.submit(vec![new]) {
            Ok(seqs) => seqs[0],
            Err(e) => return Err(ReleaseFailed::Decide(e.into())),
        };
        let trip = live
            .judge
            .release(&record)
            .ok_or_else(|| ReleaseFailed::Refused(ReleaseError::NotTripped { breaker: breaker.into(), key: record.key.clone() }))?;
        Ok((trip, seq))
    }

    /// Swaps in new packs. With the same features only the ruleset changes; with
    /// different features the state is rebuilt from the store first, and the model in use
    /// is kept only if it was trained on the new features. Either the new packs are in
    /// use when this returns `Ok`, or nothing changed.
    pub fn reload(&self, packs: Packs) -> Result<Rebuilt, String> {
        let mut live = self.lock();
        if packs.features_id == live.judge.packs().features_id {
            live.judge.set_rules(packs);
            return Ok(Rebuilt::default());
        }
        let (mut judge, rebuilt) = rebuild(&self.store, packs, &self.events, None)?;
        match Scorer::load(self.store.dir(), &judge.packs().features) {
            Ok(model) => judge.set_model(model.map(Arc::new)),
            Err(e) => tracing::warn!(error = %e, "the model does not fit the new features; decisions go on without it"),
        }
        live.judge = judge;
        Ok(rebuilt)
    }

    /// Loads the model file of the data directory (`model.json`) and puts it in use, or
    /// none when there is no file. Between two events: every decision is made wholly by
    /// the old model or wholly by the new one. A model that cannot be read, or was trained
    /// on other features, is refused and the one in use stays.
    pub fn load_model(&self) -> Result<Option<ModelInfo>, String> {
        let features = self.packs_features();
        // Read and checked outside the lock; swapped in under it, if the features are
        // still the ones it was checked against.
        let model = Scorer::load(self.store.dir(), &features)?.map(Arc::new);
        let mut live = self.lock();
        if !Arc::ptr_eq(&live.judge.packs().features, &features) {
            return Err("the packs changed while the model was being read; load it again".into());
        }
        let info = model.as_ref().map(|m| m.info().clone());
        live.judge.set_model(model);
        Ok(info)
    }

    /// The features of the packs in use (what a model must be trained on).
    pub fn packs_features(&self) -> Arc<mamori_features::FeatureSet> {
        Arc::clone(&self.lock().judge.packs().features)
    }

    /// The model in use, if any.
    pub fn model_info(&self) -> Option<ModelInfo> {
        self.lock().judge.model().map(|m| m.info().clone())
    }
}

/// The store's record type of a breaker release (not an event of the contract).
pub const RELEASE_TYPE: &str = "breaker_released";
/// Ids of release records start with this (reserved: an event with such an id is a conflict).
pub const RELEASE_ID_PREFIX: &str = "mamori:breaker-release:";

/// How the notices of events past the outbox cursor are planned again while replaying.
#[derive(Debug)]
pub struct Replan<'a> {
    pub settings: &'a NotifySettings,
    pub webhooks: &'a HashSet<String>,
    /// The outbox cursor: events after it have no notices written.
    pub after: u64,
}

/// A judge in the state of every stored event: the latest snapshot that suits the packs,
/// then the events after it replayed in sequence (features from the events, breakers from
/// the decisions given then and the releases recorded since). With no usable snapshot,
/// every event is replayed. With `replan`, the notices of replayed events past its cursor
/// are planned again from the state as of each, and queued in the store's outbox (a
/// snapshot is never ahead of the cursor, so every such event is replayed).
pub fn rebuild(store: &Store, packs: Packs, events: &Arc<EventSchema>, replan: Option<&Replan<'_>>) -> Result<(Judge, Rebuilt), String> {
    let mut rebuilt = Rebuilt::default();
    let snapshot = match store.latest_snapshot() {
        Ok(s) => s,
        Err(e) => {
            tracing::warn!(error = %e, "no snapshot read; replaying every event");
            None
        }
    };
    let (mut judge, from) = match snapshot {
        Some((seq, bytes)) => match Judge::restore(packs.clone(), Arc::clone(events), &bytes) {
            Ok(j) => {
                rebuilt.snapshot_seq = seq;
                (j, seq + 1)
            }
            Err(e) => {
                tracing::info!(reason = %e, seq, "snapshot not used; replaying every event");
                (Judge::new(packs, Arc::clone(events)), 1)
            }
        },
        None => (Judge::new(packs, Arc::clone(events)), 1),
    };
    store
        .scan(from, |s| {
            if s.event_type == RECORD_TYPE {
                let r = Record::from_json(&s.body).map_err(|e| format!("stored record {} does not parse: {e}", s.seq))?;
                judge.apply(&r);
                return Ok(());
            }
            if s.event_type == RELEASE_TYPE {
                let r: Release = serde_json::from_slice(&s.body).map_err(|e| format!("stored release {} does not parse: {e}", s.seq))?;
                judge.release(&r);
                return Ok(());
            }
            let event = Event::from_json_slice(&s.body).map_err(|e| format!("stored event {} does not parse: {e}", s.seq))?;
            let decision: serde_json::Value = serde_json::from_slice(&s.decision).unwrap_or_default();
            let fired: Vec<&str> = decision["reasons"].as_array().into_iter().flatten().filter_map(|r| r["rule"].as_str()).collect();
            let action = decision["decision"].as_str().and_then(|a| a.parse().ok()).unwrap_or(Action::Allow);
            if judge.replay(&event, &fired, action) {
                rebuilt.late += 1;
            }
            if let Some(r) = replan.filter(|r| s.seq > r.after && r.settings.enabled) {
                if let Some(plan) = judge.registry().plan(&event) {
                    let at = Timestamp(s.received_us);
                    match notices::for_event(store, plan, &event, action.as_str(), r.webhooks, r.settings, at) {
                        Ok((rows, codes)) => store.replan(s.seq, s.received_us, rows, codes),
                        Err(e) => tracing::error!(error = %e, seq = s.seq, "no notice planned again for an event"),
                    }
                }
                rebuilt.replanned += 1;
            }
            rebuilt.events += 1;
            Ok::<(), String>(())
        })
        .map_err(|e| e.to_string())?;
    Ok((judge, rebuilt))
}
