//! Reading on one thread, parsing on several, in order.
//!
//! Records are read as they are (a line, a row) by one thread, in batches of one file;
//! `threads` threads turn each batch into events, with the entities each event touches
//! ([`Touches`]); the caller gets them back one by one in the order they were read,
//! whatever thread parsed them. With one parsing thread the caller's thread reads and
//! parses each record and hands it on at once.

use std::collections::BTreeMap;
use std::ops::ControlFlow;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use std::sync::{Arc, Mutex};

use mamori_core::Timestamp;
use mamori_core::event::{Event, EventSchema};
use mamori_server::Packs;
use mamori_server::scorer::Scorer;

use crate::extsort::Sorted;
use crate::input::{self, Binding, Context, Input, Raw, RawItem};
use crate::partition::Touches;
use crate::source::RecordError;
use crate::sweep::SweepError;

const BATCH: usize = 1024;

/// Where records come from: the inputs (numbered from 1 across them, in order), or sorted
/// runs of canonical JSON (numbered as they were first read).
#[derive(Debug)]
pub enum Source<'a> {
    Inputs(&'a [Input], &'a Context),
    Sorted(Sorted<Vec<u8>>),
}

/// One record, parsed: its number, the event's time and the event itself (when kept), or
/// the error, and the entities the event touches (none for an error).
#[derive(Debug)]
pub struct Parsed {
    pub seq: u64,
    pub item: Result<(Timestamp, Option<Box<Event>>), RecordError>,
    pub hashes: Vec<u64>,
}

/// What each [`Parsed`] holds besides the event's time.
#[derive(Debug, Clone, Copy)]
pub struct Want<'a> {
    pub hashes: Hashes,
    pub keep: Keep<'a>,
}

/// Whether [`Parsed::item`] holds the event.
#[derive(Debug, Clone, Copy)]
pub enum Keep<'a> {
    /// Always.
    Events,
    /// Only in the batches taken after the flag was set (with one parsing thread, the
    /// records parsed after it); before, each event is dropped on the thread that parsed
    /// it, where freeing it costs least. Batches are taken in order and the flag is read
    /// as each is taken: once a record holds its event, every later one does.
    After(&'a AtomicBool),
}

type Work = (u64, Arc<Binding>, Vec<(u64, RawItem)>);

/// Which of the entities an event touches [`Parsed::hashes`] holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Hashes {
    /// Every one: to join them.
    All,
    /// The first only: enough to find the thread of an event once its entities are joined.
    First,
    /// None of them: nothing is partitioned (one judging thread takes every event).
    Nothing,
}

/// Calls `consume` with every record of `source`, parsed, in order, until it breaks.
///
/// With one parsing thread, the calling thread reads, parses and consumes each record in
/// turn: the record's bytes are still in that core's cache when they are parsed, the
/// memory of one record is reused for the next, nothing read on one thread is freed on
/// another, and no batch is handed between threads.
pub fn each_parsed(
    source: Source<'_>,
    packs: &Packs,
    model: Option<&Arc<Scorer>>,
    schema: &Arc<EventSchema>,
    threads: usize,
    want: Want<'_>,
    consume: &mut dyn FnMut(Parsed) -> ControlFlow<SweepError>,
) -> Result<(), SweepError> {
    let threads = threads.max(1);
    if threads == 1 {
        return read_parsed(source, &mut Touches::new(packs.clone(), model.cloned(), schema), schema, want, consume);
    }
    std::thread::scope(|scope| {
        let (done_tx, done_rx) = sync_channel::<(u64, Vec<Parsed>)>(threads * 4);
        let (work_tx, work_rx) = sync_channel::<Work>(threads * 4);
        let work_rx = Arc::new(Mutex::new(work_rx));
        for _ in 0..threads {
            let work_rx = Arc::clone(&work_rx);
            let done_tx = done_tx.clone();
            let mut touches = Touches::new(packs.clone(), model.cloned(), schema);
            let schema = Arc::clone(schema);
            scope.spawn(move || parse_batches(&work_rx, &done_tx, &mut touches, &schema, want));
        }
        // Only the parsers hold the two channels' other ends: when they stop, the reader's
        // sends fail, and when the consumer stops, theirs do.
        drop(work_rx);
        drop(done_tx);
        let reader = scope.spawn(move || read_batches(source, work_tx));
        let mut result = deliver(done_rx, consume);
        let read = reader.join().map_err(|_| SweepError::Io("the reading thread panicked".into()));
        if result.is_ok() {
            result = read.and_then(|r| r);
        }
        result
    })
}

/// Hands parsed batches to `consume` in batch order.
fn deliver(done_rx: Receiver<(u64, Vec<Parsed>)>, consume: &mut dyn FnMut(Parsed) -> ControlFlow<SweepError>) -> Result<(), SweepError> {
    let mut waiting: BTreeMap<u64, Vec<Parsed>> = BTreeMap::new();
    let mut next = 0u64;
    for (n, batch) in done_rx.iter() {
        waiting.insert(n, batch);
        while let Some(batch) = waiting.remove(&next) {
            next += 1;
            for p in batch {
                if let ControlFlow::Break(e) = consume(p) {
                    // Dropping the receiver stops the parsers, and with them the reader.
                    return Err(e);
                }
            }
        }
    }
    Ok(())
}

impl Keep<'_> {
    /// Whether a batch taken now holds its events.
    fn now(self) -> bool {
        match self {
            Keep::Events => true,
            Keep::After(flag) => flag.load(Ordering::Acquire),
        }
    }
}

/// One record parsed, with the entities its event touches as `which` asks.
fn parse_one(binding: &Binding, seq: u64, raw: RawItem, touches: &mut Touches, schema: &EventSchema, which: Hashes, kept: bool) -> Parsed {
    let item = raw.and_then(|(record, raw)| binding.parse(record, raw));
    let mut hashes = Vec::new();
    if let Ok((_, e)) = &item
        && which != Hashes::Nothing
    {
        let _ = touches.of(schema, e, &mut |h| {
            hashes.push(h);
            if which == Hashes::First { ControlFlow::Break(()) } else { ControlFlow::Continue(()) }
        });
    }
    let item = item.map(|(_, e)| (e.time, kept.then_some(e)));
    Parsed { seq, item, hashes }
}

fn parse_batches(
    work_rx: &Mutex<Receiver<Work>>,
    done_tx: &SyncSender<(u64, Vec<Parsed>)>,
    touches: &mut Touches,
    schema: &EventSchema,
    Want { hashes: which, keep }: Want<'_>,
) {
    loop {
        let (next, kept) = {
            let rx = work_rx.lock().unwrap_or_else(|p| p.into_inner());
            let next = rx.recv();
            // Read while the batch is taken: in batch order.
            (next, keep.now())
        };
        let Ok((n, binding, batch)) = next else { return };
        let parsed = batch.into_iter().map(|(seq, raw)| parse_one(&binding, seq, raw, touches, schema, which, kept)).collect();
        if done_tx.send((n, parsed)).is_err() {
            return;
        }
    }
}

/// Reads and parses every record of `source` on this thread, handing each to `consume`
/// as it is parsed.
fn read_parsed(
    source: Source<'_>,
    touches: &mut Touches,
    schema: &EventSchema,
    Want { hashes: which, keep }: Want<'_>,
    consume: &mut dyn FnMut(Parsed) -> ControlFlow<SweepError>,
) -> Result<(), SweepError> {
    let mut stopped = None;
    read_records(source, &mut |binding, seq, item| {
        // Read for each record: `consume` sets it, and every record after holds its event.
        let kept = keep.now();
        match consume(parse_one(binding, seq, item, touches, schema, which, kept)) {
            ControlFlow::Continue(()) => true,
            ControlFlow::Break(e) => {
                stopped = Some(e);
                false
            }
        }
    })?;
    stopped.map_or(Ok(()), Err)
}

/// Reads every record of `source` as it is, handing it on in batches of one file.
fn read_batches(source: Source<'_>, work_tx: SyncSender<Work>) -> Result<(), SweepError> {
    let mut n = 0u64;
    let mut batch: Vec<(u64, RawItem)> = Vec::with_capacity(BATCH);
    let mut current: Option<Arc<Binding>> = None;
    // False once the parsers are gone (the consumer stopped).
    let mut send = |binding: &Arc<Binding>, batch: &mut Vec<(u64, RawItem)>| -> bool {
        if batch.is_empty() {
            return true;
        }
        let full = std::mem::replace(batch, Vec::with_capacity(BATCH));
        n += 1;
        work_tx.send((n - 1, Arc::clone(binding), full)).is_ok()
    };
    read_records(source, &mut |binding, seq, item| {
        if let Some(previous) = current.take_if(|c| !Arc::ptr_eq(c, binding))
            && !send(&previous, &mut batch)
        {
            return false;
        }
        current = Some(Arc::clone(binding));
        batch.push((seq, item));
        batch.len() < BATCH || send(binding, &mut batch)
    })?;
    if let Some(binding) = current.take() {
        send(&binding, &mut batch);
    }
    Ok(())
}

/// Calls `f` with every record of `source` as it is read, with its number and how it
/// becomes an event, until `f` says to stop (returns false).
fn read_records(source: Source<'_>, f: &mut dyn FnMut(&Arc<Binding>, u64, RawItem) -> bool) -> Result<(), SweepError> {
    match source {
        Source::Sorted(runs) => {
            let binding = Arc::new(Binding::ndjson("(sorted history)"));
            for item in runs {
                let (_, seq, bytes) = item.map_err(|e| SweepError::Io(format!("sorting: {e}")))?;
                if !f(&binding, seq, Ok((seq, Raw::Line(bytes)))) {
                    return Ok(());
                }
            }
        }
        Source::Inputs(inputs, ctx) => {
            let mut seq = 0u64;
            for inp in inputs {
                let mut stopped = false;
                input::read_raw(inp, ctx, &mut |binding, item| {
                    seq += 1;
                    if f(binding, seq, item) {
                        ControlFlow::Continue(())
                    } else {
                        stopped = true;
                        ControlFlow::Break(())
                    }
                })
                .map_err(SweepError::Record)?;
                if stopped {
                    return Ok(());
                }
            }
        }
    }
    Ok(())
}
