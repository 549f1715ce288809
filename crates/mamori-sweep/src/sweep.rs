//! The sweep itself: two passes over the inputs.
//!
//! 1. Read every record once: validate it, note whether the whole history is in time
//!    order (records are numbered across the inputs in the order given, so equal times
//!    keep that order), join the entities each event touches
//!    ([`crate::partition`]), and, when the history is not in order, spill it into sorted
//!    runs on disk ([`crate::extsort`]). Events after `--to` are not needed and are left.
//! 2. Replay the history in (time, number) order, from the files again when they were in
//!    order or from the runs, each event to the thread that owns its entities. Every
//!    thread runs a [`Judge`] (the service's own features, rules, model, registry and
//!    breakers) over its events in order: the features of each event are as of its own
//!    time. Events before `--from` only build state; from `--from` on, every event held
//!    or blocked is a finding.
//!
//! Findings come back in the replay's order whatever the number of threads.
//!
//! A history in time order is first tried in one reading, its events going to one judge
//! as they are read: with one judging thread nothing is partitioned, and with more there
//! is nothing to gain when one set of entities holds most events (card payments). A
//! record out of order stops that reading, and so, with more than one thread, do first
//! 16,384 events in which no set holds more than half; the sweep then starts over with
//! the two passes.

use std::ops::ControlFlow;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use std::time::Instant;

use mamori_core::Timestamp;
use mamori_core::event::{Event, EventSchema};
use mamori_features::FeatureVector;
use mamori_rules::{Action, Decision};
use mamori_server::Packs;
use mamori_server::cpp;
use mamori_server::judge::{FeatureStage, Judge, ReadAhead};
use mamori_server::registry::{AccountRef, Planned};
use mamori_server::scorer::Scorer;

use crate::extsort::Sorter;
use crate::input::{self, Context, Input};
use crate::parallel::{self, Hashes, Keep, Source, Want};
use crate::partition::Components;
use crate::source::RecordError;

/// What to do with a record that cannot be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnError {
    /// Report it and go on.
    Skip,
    /// Stop the sweep at the first one.
    Stop,
}

/// How to sweep.
#[derive(Debug, Clone)]
pub struct Options {
    pub inputs: Vec<Input>,
    pub context: Context,
    /// Findings from this time on (earlier events only build state).
    pub from: Timestamp,
    /// Events from this time on are left out.
    pub to: Timestamp,
    pub on_error: OnError,
    /// The weakest decision that makes a finding: `Hold` (held or blocked), or
    /// `Challenge` to list also what would have needed strong authentication (history
    /// cannot say whether the customer would have passed it).
    pub min_action: Action,
    /// Threads that judge (at least 1).
    pub threads: usize,
    /// Where sorted runs go when the history is not in time order.
    pub spill_dir: PathBuf,
    /// Memory for sorting before spilling a run.
    pub sort_budget: usize,
}

/// The two phases, for progress reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// Reading and checking (records so far; total unknown).
    Read,
    /// Judging (events so far, of the total to judge).
    Judge,
}

/// An event that would have been held or blocked (or challenged, when asked).
#[derive(Debug, Clone)]
pub struct Finding {
    /// Its place in the replay (input order among equal times).
    pub seq: u64,
    pub event: Event,
    pub decision: Decision,
    /// The institutions on the other side (a transfer's counterparty, a link's bank and
    /// wallet, a withdrawal's payee).
    pub others: Vec<String>,
    /// The customer's account the movement was taken from (a charge's: the linked bank
    /// account), with its customer id when an event of that account named one.
    pub owner: Option<AccountRef>,
    pub customer: Option<String>,
    /// The notice the service would have sent about it, to whom (for `--notify`).
    pub plan: Option<Planned>,
}

/// How an account can be reached, from what its institution registered in the history.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Contact {
    pub email: Option<String>,
    pub phone: Option<String>,
}

/// What a sweep found and how it went.
#[derive(Debug, Default)]
pub struct Outcome {
    pub findings: Vec<Finding>,
    /// Contacts of the accounts in findings, by (institution, account).
    pub contacts: std::collections::BTreeMap<AccountKey, Contact>,
    pub stats: Stats,
}

/// Counts of a sweep.
#[derive(Debug, Default, Clone)]
pub struct Stats {
    /// Records read (events and errors).
    pub records: u64,
    /// Records that could not be read (the first 1,000 are in `errors`).
    pub rejected: u64,
    pub errors: Vec<RecordError>,
    /// Events replayed (before `--to`), of which `warmup` before `--from`.
    pub replayed: u64,
    pub warmup: u64,
    /// Events at or after `--to`, left out.
    pub after_to: u64,
    /// Whether the inputs were already in time order (else: sorted runs spilled).
    pub in_order: bool,
    /// Whether one reading both read and judged (one judging thread, a history in order):
    /// its time is all in `judge_secs`.
    pub one_reading: bool,
    pub runs: usize,
    /// Connected sets of entities and the largest one's share of the events (`None` when
    /// one judging thread took the history in one reading: nothing was partitioned, so
    /// the entities were not joined), and the events each thread judged.
    pub sets: Option<usize>,
    pub largest_share: Option<f64>,
    pub load: Vec<u64>,
    pub entities: Option<usize>,
    pub read_secs: f64,
    pub judge_secs: f64,
}

impl Stats {
    /// Counts a record, and says so now and then: the time of its event, or `None` for a
    /// record that could not be read (kept among the errors; the sweep stops on it if
    /// asked). The record is read in place: its event is large, and every move copies it.
    fn count(
        &mut self,
        item: &Result<(Timestamp, Option<Box<Event>>), RecordError>,
        on_error: OnError,
        progress: &(dyn Fn(Phase, u64, u64) + Sync),
    ) -> ControlFlow<SweepError, Option<i64>> {
        self.records += 1;
        if self.records.is_multiple_of(1 << 16) {
            progress(Phase::Read, self.records, 0);
        }
        match item {
            Ok((time, _)) => ControlFlow::Continue(Some(time.as_micros())),
            Err(e) => {
                self.rejected += 1;
                if on_error == OnError::Stop {
                    return ControlFlow::Break(SweepError::Record(e.clone()));
                }
                if self.errors.len() < MAX_ERRORS_KEPT {
                    self.errors.push(e.clone());
                }
                ControlFlow::Continue(None)
            }
        }
    }
}

/// Why a sweep failed.
#[derive(Debug, thiserror::Error)]
pub enum SweepError {
    #[error("{0}")]
    Record(RecordError),
    #[error("{0}")]
    Io(String),
}

const MAX_ERRORS_KEPT: usize = 1_000;
/// With more than one thread, one reading judges the first `SPLIT_CHECK` events on one
/// thread and goes on only if one set of entities holds more than `ONE_SET_SHARE` of them
/// (card payments, all joined by the compromise analysis, are one set). Otherwise the two
/// passes judge the sets apart, on every thread.
const SPLIT_CHECK: u64 = 1 << 14;
const ONE_SET_SHARE: f64 = 0.5;
const BATCH: usize = 1024;

type Batch = Vec<(u64, Box<Event>)>;
/// A batch and, when a stage runs ahead of the judge, what it found of each event.
type Observed = (Batch, Option<Ahead>);

/// What the stage run ahead of a judge found of each event of a batch, in order.
struct Ahead {
    /// What the compromise analysis said (`None` where it said nothing:
    /// [`cpp::says_nothing`]), when the rules read it.
    facts: Option<Vec<Option<Box<[mamori_core::value::OwnedValue]>>>>,
    /// The event's features.
    features: Vec<FeatureVector>,
}

/// Where a judge's batches go: through a stage running a batch ahead of it on a thread of
/// its own (features and the compromise analysis), or straight to the judge.
enum Lane {
    Ahead(SyncSender<Batch>),
    Direct(SyncSender<Observed>),
}

impl Lane {
    fn send(&self, batch: Batch) -> Result<(), ()> {
        match self {
            Lane::Ahead(tx) => tx.send(batch).map_err(drop),
            Lane::Direct(tx) => tx.send((batch, None)).map_err(drop),
        }
    }
}

/// (institution, account)
type AccountKey = (String, String);

/// Runs a sweep. `progress` is called now and then with the phase and counts.
///
/// `schema` must be the one `packs` were compiled against: it knows the attribute paths
/// the rules read.
pub fn run(
    packs: &Packs,
    schema: &Arc<EventSchema>,
    model: Option<Arc<Scorer>>,
    opts: &Options,
    progress: &(dyn Fn(Phase, u64, u64) + Sync),
) -> Result<Outcome, SweepError> {
    if let Some(outcome) = one_reading(packs, schema, model.clone(), opts, progress)? {
        return Ok(outcome);
    }
    let schema = Arc::clone(schema);
    let mut stats = Stats::default();
    let started = Instant::now();

    // Pass 1.
    let mut components = Components::default();
    let mut sorter: Option<Sorter<Vec<u8>>> = None;
    let mut last_time = i64::MIN;
    let parsers = opts.threads.max(1);
    // Events are kept (for the sorter) from the first record out of order on: once a record
    // comes with its event, every later one does, and the records before it are read
    // again.
    let keep = AtomicBool::new(false);
    let mut first_kept: Option<u64> = None;
    // Both readings: every record of `source`, parsed on `parsers` threads.
    let each = |source: Source<'_>, want: Want<'_>, consume: &mut dyn FnMut(parallel::Parsed) -> ControlFlow<SweepError>| {
        parallel::each_parsed(source, packs, model.as_ref(), &schema, parsers, want, consume)
    };
    let source = Source::Inputs(&opts.inputs, &opts.context);
    each(source, Want { hashes: Hashes::All, keep: Keep::After(&keep) }, &mut |p| {
        let Some(t) = stats.count(&p.item, opts.on_error, progress)? else { return ControlFlow::Continue(()) };
        if matches!(p.item, Ok((_, Some(_)))) {
            first_kept.get_or_insert(p.seq);
        } else if first_kept.is_some() {
            return ControlFlow::Break(SweepError::Io(format!("record {}: read without its event after a later one", p.seq)));
        }
        if t >= opts.to.as_micros() {
            stats.after_to += 1;
            return ControlFlow::Continue(());
        }
        stats.replayed += 1;
        if t < opts.from.as_micros() {
            stats.warmup += 1;
        }
        components.add(&p.hashes);
        // Until the first record out of order, keep nothing; from then on, every event
        // that comes with it goes to the sorter (the records before the first of them
        // are read again into it below).
        if sorter.is_none() && t < last_time {
            match Sorter::new(&opts.spill_dir, opts.sort_budget) {
                Ok(s) => sorter = Some(s),
                Err(e) => return ControlFlow::Break(SweepError::Io(format!("{}: {e}", opts.spill_dir.display()))),
            }
            keep.store(true, Ordering::Release);
        }
        last_time = last_time.max(t);
        if let (Some(s), Ok((_, Some(event)))) = (sorter.as_mut(), &p.item)
            && let Err(e) = s.push(t, p.seq, event.to_json_vec())
        {
            return ControlFlow::Break(SweepError::Io(format!("sorting: {e}")));
        }
        ControlFlow::Continue(())
    })?;
    stats.in_order = sorter.is_none();
    stats.entities = Some(components.entities());
    let (plan, share) = components.plan(opts.threads);
    stats.sets = Some(plan.sets);
    stats.largest_share = Some(share);
    stats.load = plan.load.clone();

    // Records before the first one kept were not pushed: push them now, reading the inputs
    // again up to that one.
    let sorted = match sorter {
        None => None,
        Some(mut s) => {
            refill(opts, &mut s, first_kept.unwrap_or(u64::MAX))?;
            stats.runs = s.runs();
            Some(s.finish().map_err(|e| SweepError::Io(format!("sorting: {e}")))?)
        }
    };
    stats.read_secs = started.elapsed().as_secs_f64();

    // Pass 2.
    let started = Instant::now();
    let threads = opts.threads.max(1);
    let total = stats.replayed;
    let from = opts.from;
    let min_action = opts.min_action;
    let (findings, contacts) = std::thread::scope(|scope| -> Result<_, SweepError> {
        // With one parser every event is built on this thread, and its batches come back.
        let back = if parsers == 1 { Spent::Back } else { Spent::Freed };
        let judges = Judges::spawn(scope, threads, packs, &schema, &model, from, min_action, back);
        let mut batches: Vec<Batch> = (0..threads).map(|_| Vec::with_capacity(BATCH)).collect();
        let mut sent = 0u64;
        let source = match sorted {
            Some(runs) => Source::Sorted(runs),
            None => Source::Inputs(&opts.inputs, &opts.context),
        };
        // Every entity of an event is joined with the others: one finds its thread.
        each(source, Want { hashes: Hashes::First, keep: Keep::Events }, &mut |p| {
            // Records that could not be read were counted on the first reading.
            let Ok((_, Some(event))) = p.item else { return ControlFlow::Continue(()) };
            if event.time.as_micros() >= opts.to.as_micros() {
                return ControlFlow::Continue(());
            }
            let w = plan.worker(&p.hashes);
            batches[w].push((p.seq, event));
            if batches[w].len() == BATCH {
                let full = std::mem::replace(&mut batches[w], judges.empty_batch());
                if judges.senders[w].send(full).is_err() {
                    return ControlFlow::Break(SweepError::Io("a judging thread stopped".into()));
                }
            }
            sent += 1;
            if sent.is_multiple_of(1 << 16) {
                progress(Phase::Judge, sent, total);
            }
            ControlFlow::Continue(())
        })?;
        for (w, b) in batches.into_iter().enumerate() {
            if !b.is_empty() {
                judges.senders[w].send(b).map_err(|_| SweepError::Io("a judging thread stopped".into()))?;
            }
        }
        let judged = judges.finish();
        progress(Phase::Judge, sent, total);
        if sent != total {
            return Err(SweepError::Io(format!("{sent} events replayed of the {total} read: some were lost or repeated on the way")));
        }
        judged
    })?;
    stats.judge_secs = started.elapsed().as_secs_f64();
    Ok(Outcome { findings, contacts, stats })
}

/// One judging thread, one reading: the events go to the judge as they are read, while the
/// history is in time order. `None` at the first record out of order, or with more than
/// one thread once the first events show sets of entities to judge apart (the judge's
/// work so far is dropped): the caller reads, partitions and replays as usual.
fn one_reading(
    packs: &Packs,
    schema: &Arc<EventSchema>,
    model: Option<Arc<Scorer>>,
    opts: &Options,
    progress: &(dyn Fn(Phase, u64, u64) + Sync),
) -> Result<Option<Outcome>, SweepError> {
    let mut stats = Stats::default();
    let started = Instant::now();
    let mut components = Components::default();
    let mut last_time = i64::MIN;
    let mut disordered = false;
    let mut split = false;
    let partitioning = opts.threads > 1;
    let (from, min_action) = (opts.from, opts.min_action);
    let judged = std::thread::scope(|scope| -> Result<_, SweepError> {
        // Every event is parsed on this thread: the batches come back to be freed here.
        let judges = Judges::spawn(scope, 1, packs, schema, &model, from, min_action, Spent::Back);
        let tx = &judges.senders[0];
        let mut batch: Batch = Vec::with_capacity(BATCH);
        let source = Source::Inputs(&opts.inputs, &opts.context);
        // Entities are joined only to decide whether to judge sets apart: with one thread
        // there is nothing to decide, and joining them cost about a twentieth of the CPU.
        let hashes = if partitioning { Hashes::All } else { Hashes::Nothing };
        let read = parallel::each_parsed(source, packs, model.as_ref(), schema, 1, Want { hashes, keep: Keep::Events }, &mut |p| {
            // The event is read in place and moved once, into the batch.
            let Some(t) = stats.count(&p.item, opts.on_error, progress)? else { return ControlFlow::Continue(()) };
            if t >= opts.to.as_micros() {
                stats.after_to += 1;
                return ControlFlow::Continue(());
            }
            if t < last_time {
                disordered = true;
                return ControlFlow::Break(SweepError::Io("out of order".into()));
            }
            last_time = t;
            if !matches!(p.item, Ok((_, Some(_)))) {
                return ControlFlow::Break(SweepError::Io(format!("record {}: read without its event", p.seq)));
            }
            stats.replayed += 1;
            if t < opts.from.as_micros() {
                stats.warmup += 1;
            }
            components.add(&p.hashes);
            if partitioning && stats.replayed == SPLIT_CHECK && components.largest_share() <= ONE_SET_SHARE {
                split = true;
                return ControlFlow::Break(SweepError::Io("sets to judge apart".into()));
            }
            if let Ok((_, Some(event))) = p.item {
                batch.push((p.seq, event));
            }
            if batch.len() == BATCH && tx.send(std::mem::replace(&mut batch, judges.empty_batch())).is_err() {
                return ControlFlow::Break(SweepError::Io("the judging thread stopped".into()));
            }
            ControlFlow::Continue(())
        });
        if read.is_ok() && !batch.is_empty() {
            tx.send(batch).map_err(|_| SweepError::Io("the judging thread stopped".into()))?;
        }
        // The judge finishes what it was sent, also when it is not wanted.
        let judged = judges.finish()?;
        match read {
            Err(_) if disordered || split => Ok(None),
            Err(e) => Err(e),
            Ok(()) => Ok(Some(judged)),
        }
    })?;
    let Some((findings, contacts)) = judged else { return Ok(None) };
    progress(Phase::Judge, stats.replayed, stats.replayed);
    stats.in_order = true;
    stats.one_reading = true;
    if partitioning {
        stats.entities = Some(components.entities());
        let (plan, share) = components.plan(1);
        (stats.sets, stats.largest_share) = (Some(plan.sets), Some(share));
    }
    stats.load = vec![stats.replayed];
    // One reading did both: it counts as the judging.
    stats.judge_secs = started.elapsed().as_secs_f64();
    Ok(Some(Outcome { findings, contacts, stats }))
}

/// Pushes into the sorter the events of the records numbered below `until`, which were
/// not kept on the first reading.
fn refill(opts: &Options, sorter: &mut Sorter<Vec<u8>>, until: u64) -> Result<(), SweepError> {
    let mut seq = 0u64;
    let mut failed = None;
    'inputs: for inp in &opts.inputs {
        let mut done = false;
        input::read(inp, &opts.context, &mut |item| {
            seq += 1;
            if seq >= until {
                done = true;
                return ControlFlow::Break(());
            }
            let Ok((_, event)) = item else { return ControlFlow::Continue(()) };
            let t = event.time.as_micros();
            if t >= opts.to.as_micros() {
                return ControlFlow::Continue(());
            }
            if let Err(e) = sorter.push(t, seq, event.to_json_vec()) {
                failed = Some(SweepError::Io(format!("sorting: {e}")));
                return ControlFlow::Break(());
            }
            ControlFlow::Continue(())
        })
        .map_err(SweepError::Record)?;
        if let Some(e) = failed.take() {
            return Err(e);
        }
        if done {
            break 'inputs;
        }
    }
    Ok(())
}

/// Findings in replay order, and the contacts of their accounts.
type Judged = (Vec<Finding>, std::collections::BTreeMap<AccountKey, Contact>);
/// What one judging thread found, and the contacts of its findings' accounts.
type JudgedBy = (Vec<Finding>, Vec<(AccountKey, Contact)>);

/// The judging threads of a sweep: each takes the batches sent to it.
struct Judges<'scope> {
    senders: Vec<Lane>,
    handles: Vec<std::thread::ScopedJoinHandle<'scope, JudgedBy>>,
    /// The batches judged, when they come back to the thread that built their events.
    spent: Option<Receiver<Batch>>,
}

/// Where the batches a sweep's judges are done with go.
#[derive(Clone, Copy)]
enum Spent {
    /// Back to the thread that built their events (every event was parsed on one): it
    /// frees them as the next batches are made, and reuses a batch's room. Memory is
    /// cheapest to free on the thread that allocated it.
    Back,
    /// To a thread of their own that frees them: the events were built on several
    /// parsing threads.
    Freed,
}

impl<'scope> Judges<'scope> {
    /// Starts `threads` judges (a lone one with its events' features, and the compromise
    /// analysis when a rule reads it, computed a batch ahead of it on a thread of its
    /// own). The batches they judged go where `back` says: back to
    /// the caller, or to a thread that frees them, since freeing memory another thread
    /// allocated is slow work the judges need not wait for.
    #[allow(clippy::too_many_arguments)]
    fn spawn<'env>(
        scope: &'scope std::thread::Scope<'scope, 'env>,
        threads: usize,
        packs: &Packs,
        schema: &Arc<EventSchema>,
        model: &Option<Arc<Scorer>>,
        from: Timestamp,
        min_action: Action,
        back: Spent,
    ) -> Judges<'scope> {
        // Unbounded: a judge never waits for the thread that takes its batches back, which
        // may itself be waiting to send the judge more. No more batches are spent than
        // were sent, and the taker takes every one back each time it sends one.
        let (spent, spent_rx) = std::sync::mpsc::channel::<Batch>();
        let spent_rx = match back {
            Spent::Back => Some(spent_rx),
            Spent::Freed => {
                scope.spawn(move || spent_rx.into_iter().for_each(drop));
                None
            }
        };
        // Where no rule or breaker reads what the compromise analysis says, it changes no
        // decision, and the judges skip it.
        let analysed = packs.reads_compromise();
        // A lone judge leaves a core to spare: what depends on the events alone (their
        // features, and the compromise analysis) then runs a batch ahead of it on a thread
        // of its own, and the judge evaluates the rules. Several judges keep the cores
        // busy, and each does it all inline.
        let ahead = threads == 1;
        let (senders, handles) = (0..threads)
            .map(|_| {
                let (observed_tx, observed_rx) = sync_channel::<Observed>(8);
                let mut judge = Judge::new(packs.clone(), Arc::clone(schema));
                judge.set_model(model.clone());
                // Findings are what a sweep reports: its judges open no cases.
                judge.open_cases(false);
                // The judge hands each batch's feature vectors back to the stage, to be
                // filled again (unbounded, as `spent` is).
                let (spare_tx, spare_rx) = std::sync::mpsc::channel::<Vec<FeatureVector>>();
                let lane = if ahead {
                    let (tx, rx) = sync_channel::<Batch>(8);
                    let mut cpp = analysed.then(|| judge.compromise_analysis());
                    let mut stage = FeatureStage::new(packs.clone(), Arc::clone(schema), model.clone());
                    scope.spawn(move || {
                        let mut out = mamori_core::VecRecord::default();
                        let mut ahead = ReadAhead::default();
                        for batch in rx {
                            let mut facts = cpp.as_ref().map(|_| Vec::with_capacity(batch.len()));
                            let mut features = spare_rx.try_recv().unwrap_or_default();
                            features.resize_with(batch.len(), FeatureVector::default);
                            for (i, (_, event)) in batch.iter().enumerate() {
                                stage.read_ahead(i, |j| batch.get(j).map(|(_, e)| &**e), &mut ahead);
                                // The vectors were last read by the judge, on another core.
                                if let Some(next) = features.get(i + 2) {
                                    next.prefetch();
                                }
                                if let (Some(cpp), Some(facts)) = (&mut cpp, &mut facts) {
                                    cpp.observe(event, &mut out);
                                    facts.push((!cpp::says_nothing(&out.0)).then(|| out.0.clone().into_boxed_slice()));
                                }
                                stage.features_ahead(i, event, &mut features[i], &mut ahead);
                            }
                            if observed_tx.send((batch, Some(Ahead { facts, features }))).is_err() {
                                return;
                            }
                        }
                    });
                    Lane::Ahead(tx)
                } else {
                    Lane::Direct(observed_tx)
                };
                let spent = spent.clone();
                (lane, scope.spawn(move || judge_all(judge, analysed, observed_rx, &spent, &spare_tx, from, min_action)))
            })
            .unzip();
        Judges { senders, handles, spent: spent_rx }
    }

    /// An empty batch to fill: the room of one judged already, when they come back, after
    /// freeing the events of every batch back so far (on this thread, which built them).
    fn empty_batch(&self) -> Batch {
        let mut reused: Option<Batch> = None;
        if let Some(rx) = &self.spent {
            for mut b in rx.try_iter() {
                // The events were made on this thread, and the next are too: their room is
                // reused for them.
                crate::input::spare_events(b.drain(..).map(|(_, e)| e));
                reused.get_or_insert(b);
            }
        }
        reused.unwrap_or_else(|| Vec::with_capacity(BATCH))
    }

    /// Tells the judges that nothing more comes, waits for them and merges their findings
    /// (each thread's in replay order) into replay order.
    fn finish(self) -> Result<Judged, SweepError> {
        drop(self.senders);
        let mut contacts = std::collections::BTreeMap::new();
        let mut findings: Vec<Finding> = Vec::new();
        for h in self.handles {
            let (f, c) = h.join().map_err(|_| SweepError::Io("a judging thread panicked".into()))?;
            findings.extend(f);
            contacts.extend(c);
        }
        // The last batches back are freed here, by the thread that built them.
        if let Some(rx) = self.spent {
            rx.into_iter().for_each(drop);
        }
        findings.sort_by_key(|f| f.seq);
        Ok((findings, contacts))
    }
}

/// One thread: its events, in order, through its own judge, with what the stage run
/// ahead found of each when it ran ahead (each batch's feature vectors then go back to it
/// through `spare`), or with the judge's own features and analysis (the analysis only when
/// `analysed`; when not, it is skipped: nothing reads it); each batch judged goes to
/// `spent`.
#[allow(clippy::too_many_arguments)]
fn judge_all(
    mut judge: Judge,
    analysed: bool,
    rx: Receiver<Observed>,
    spent: &std::sync::mpsc::Sender<Batch>,
    spare: &std::sync::mpsc::Sender<Vec<FeatureVector>>,
    from: Timestamp,
    min_action: Action,
) -> JudgedBy {
    let mut findings = Vec::new();
    // The customer id each account (by institution) was last named with.
    let mut customers: hashbrown::HashMap<String, hashbrown::HashMap<String, String>> = hashbrown::HashMap::new();
    let mut note = |judge: &Judge, seq: u64, event: &Event, decision: Decision| {
        if let (Some(i), Some(a), Some(c)) = (&event.institution, &event.account, &event.customer)
            && customers.get(i).and_then(|by| by.get(a)) != Some(c)
        {
            customers.entry_ref(i.as_str()).or_default().insert(a.clone(), c.clone());
        }
        if decision.action >= min_action && event.time >= from {
            let others = others(judge, event);
            let plan = judge.registry().plan(event);
            let owner = plan.as_ref().map(|p| p.owner.clone()).or_else(|| AccountRef::of(event));
            // Findings are few: a copy of the event, and the batch goes on whole.
            findings.push(Finding { seq, event: event.clone(), decision, others, owner, customer: None, plan });
        }
    };
    let mut read = ReadAhead::default();
    for (batch, ahead) in rx {
        match ahead {
            Some(Ahead { facts, mut features }) => {
                for (i, ((seq, event), fv)) in batch.iter().zip(features.iter_mut()).enumerate() {
                    let said = facts.as_ref().and_then(|f| f[i].as_deref());
                    let decision = judge.judge_computed(event, fv, said);
                    note(&judge, *seq, event, decision);
                }
                // Should the stage be gone, they are freed here.
                let _ = spare.send(features);
            }
            None => {
                for (i, (seq, event)) in batch.iter().enumerate() {
                    judge.read_ahead(i, |j| batch.get(j).map(|(_, e)| &**e), &mut read);
                    let decision = if analysed { judge.judge(event) } else { judge.judge_observed(event, None) };
                    note(&judge, *seq, event, decision);
                }
            }
        }
        // Should the freeing thread be gone, the batch is freed here.
        let _ = spent.send(batch);
    }
    let registry = judge.registry();
    let mut contacts = Vec::new();
    for f in &mut findings {
        let Some(o) = &f.owner else { continue };
        let key = (o.institution.clone(), o.account.clone());
        f.customer = customers.get(&key.0).and_then(|by| by.get(&key.1)).cloned();
        let (email, phone) = registry.contacts(o);
        contacts.push((key, Contact { email: email.map(str::to_string), phone: phone.map(str::to_string) }));
    }
    (findings, contacts)
}

/// The institutions on the other side of an event.
fn others(judge: &Judge, e: &Event) -> Vec<String> {
    use mamori_core::event::EventKind as K;
    let own = e.institution.as_deref().unwrap_or_default();
    let mut out: Vec<String> = match &e.kind {
        K::Transfer { counterparty, .. } => vec![counterparty.institution.clone()],
        K::Withdrawal { payee } | K::PayeeRegistered { payee, .. } => vec![payee.institution.clone()],
        K::LinkRequested { bank, wallet, .. } => vec![bank.institution.clone(), wallet.institution.clone()],
        K::Charge { link } | K::LinkVerified { link } | K::LinkRevoked { link } => {
            judge.registry().link(link).map(|l| vec![l.bank.institution.clone(), l.wallet.institution.clone()]).unwrap_or_default()
        }
        _ => Vec::new(),
    };
    out.retain(|i| i != own && !i.is_empty());
    out.sort();
    out.dedup();
    out
}
