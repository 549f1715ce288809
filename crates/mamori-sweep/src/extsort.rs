//! External merge sort: puts a stream of records that may not fit in memory into event-time
//! order.
//!
//! A sweep replays years of history in event-time order, but its input files need not be in
//! that order and may hold a hundred million records. [`Sorter`] takes the records one at a
//! time with their sort key `(time_us, seq)` — the event time in microseconds and the
//! record's sequence number in the input — buffers them up to a memory budget, and writes
//! each full buffer, sorted, to a *run file*. [`Sorter::finish`] then merges the runs into
//! one stream, [`Sorted`], in `(time_us, seq)` order. With `seq` numbering the input, the
//! order is total and stable: records with the same time come out in input order.
//!
//! # Bounded memory
//!
//! Records are serialized with postcard as they are pushed; the budget counts the serialized
//! bytes plus a fixed [`ENTRY_OVERHEAD`] per record (its key and place in the buffer). When
//! the count reaches the budget the buffer is sorted and spilled, so the counted memory never
//! exceeds the budget by more than one record. The buffers grow by doubling but never past
//! the budget, so their allocations stay below about twice the budget even when record sizes
//! vary wildly, and usually close to it. The merge reads at most `fan_in` runs at a time
//! (64 by default, [`Sorter::with_fan_in`]), each through a `BufReader` of
//! `budget / fan_in` bytes clamped to 16 KiB..=1 MiB, and holds one record per run; when
//! there are more runs, the smallest are first merged into bigger runs (in passes sized so
//! that the last pass merges exactly `fan_in`), which keeps open files and read buffers
//! bounded. Nothing is written when everything fits in one buffer: [`Sorter::finish`] sorts
//! in memory.
//!
//! # Run file format
//!
//! ```text
//! header: b"MXS" version:u8(=1) records:u64 little-endian
//! frame*: length:varint(LEB128 u64)  body: postcard((time_us: i64, seq: u64, record: T))
//! ```
//!
//! The frames are sorted by `(time_us, seq)`. The reader checks the magic, the version, the
//! frame count (a run cut exactly between two frames is caught too), the order of the keys,
//! that every body decodes with no bytes left over, and that nothing follows the last frame;
//! any violation is an [`io::Error`] of kind [`io::ErrorKind::InvalidData`], never a panic. A
//! corrupt length cannot make the reader allocate more than the file actually holds.
//!
//! # Cleanup
//!
//! Run files are named `mamori-extsort-<pid>-<instance>-<n>.run` inside the directory given
//! to [`Sorter::new`] (created if missing, and left in place). Each run file is owned by a
//! guard that removes it when dropped: when the [`Sorter`] is dropped without finishing, when
//! a merge pass has consumed its inputs (or failed), when the final merge has read a run to
//! its end, and when the [`Sorted`] iterator is dropped, also half-way or after an error.
//! Only a process that dies without unwinding leaves run files behind.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::collections::binary_heap::PeekMut;
use std::fmt;
use std::fs::{self, File, OpenOptions};
use std::io::{self, BufRead, BufReader, BufWriter, Write};
use std::marker::PhantomData;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use serde::Serialize;
use serde::de::DeserializeOwned;

/// How many runs one merge reads at once unless [`Sorter::with_fan_in`] says otherwise.
pub const DEFAULT_FAN_IN: usize = 64;

/// Bytes counted against the budget for each buffered record on top of its serialized size.
pub const ENTRY_OVERHEAD: usize = std::mem::size_of::<Entry>();

/// Buffer of each run writer.
const WRITE_BUFFER: usize = 1 << 20;
/// Bounds of each run reader's buffer (`budget / fan_in` in between).
const MIN_READ_BUFFER: usize = 16 << 10;
const MAX_READ_BUFFER: usize = 1 << 20;

const MAGIC: [u8; 3] = *b"MXS";
const VERSION: u8 = 1;
const HEADER_LEN: usize = MAGIC.len() + 1 + 8;
/// Longest postcard encoding of a `(i64, u64)` key: two 10-byte varints.
const MAX_KEY_LEN: usize = 20;

/// Distinguishes the run files of sorters in one process.
static INSTANCE: AtomicU64 = AtomicU64::new(0);

/// One buffered record: its key and where its serialized bytes lie in the arena.
#[derive(Debug, Clone, Copy)]
struct Entry {
    time: i64,
    seq: u64,
    start: usize,
    len: usize,
}

/// Sorts records by `(time_us, seq)` within a memory budget, spilling sorted runs to disk.
///
/// The key is total and stable when `seq` is the record's unique number in the input: records
/// with equal times keep input order. Keys should be unique; records with equal keys come out
/// next to each other in an unspecified order.
///
/// After an error from [`Sorter::push`] the sorter should be dropped (which removes its run
/// files): the record being pushed may or may not have been kept.
pub struct Sorter<T> {
    dir: PathBuf,
    names: RunNames,
    budget: usize,
    fan_in: usize,
    /// Serialized records, back to back.
    arena: Vec<u8>,
    index: Vec<Entry>,
    /// Serialization buffer, reused for every record.
    scratch: Vec<u8>,
    runs: Vec<RunFile>,
    _records: PhantomData<fn(T)>,
}

impl<T> fmt::Debug for Sorter<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sorter")
            .field("dir", &self.dir)
            .field("budget", &self.budget)
            .field("fan_in", &self.fan_in)
            .field("buffered_records", &self.index.len())
            .field("buffered_bytes", &self.buffered_bytes())
            .field("runs", &self.runs.len())
            .finish()
    }
}

impl<T> Sorter<T> {
    /// How many runs have been written so far.
    pub fn runs(&self) -> usize {
        self.runs.len()
    }

    fn buffered_bytes(&self) -> usize {
        self.arena.len() + self.index.len() * ENTRY_OVERHEAD
    }
}

impl<T: Serialize + DeserializeOwned> Sorter<T> {
    /// A sorter that writes its run files in `dir` (created if missing) and buffers about
    /// `budget_bytes` of records between spills, counted as the postcard-serialized size of
    /// each record plus [`ENTRY_OVERHEAD`]. A budget of 0 spills every record on its own.
    pub fn new(dir: &Path, budget_bytes: usize) -> io::Result<Sorter<T>> {
        fs::create_dir_all(dir)?;
        Ok(Sorter {
            dir: dir.to_path_buf(),
            names: RunNames::new(),
            budget: budget_bytes,
            fan_in: DEFAULT_FAN_IN,
            arena: Vec::new(),
            index: Vec::new(),
            scratch: Vec::new(),
            runs: Vec::new(),
            _records: PhantomData,
        })
    }

    /// Sets how many runs one merge reads at once (at least 2; [`DEFAULT_FAN_IN`] unless set).
    /// More runs than this are first merged in passes, so that at most `fan_in` run files are
    /// open at a time.
    #[must_use]
    pub fn with_fan_in(mut self, fan_in: usize) -> Self {
        self.fan_in = fan_in.max(2);
        self
    }

    /// Adds a record. When the buffered records reach the budget they are sorted and written
    /// out as a run. Errors: the record cannot be serialized by postcard (`InvalidInput`), or
    /// writing the run failed.
    pub fn push(&mut self, time_us: i64, seq: u64, record: T) -> io::Result<()> {
        self.scratch.clear();
        postcard::serialize_with_flavor(&record, AppendVec(&mut self.scratch))
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
        let len = self.scratch.len();
        reserve_capped(&mut self.arena, len, self.budget, 4096);
        reserve_capped(&mut self.index, 1, self.budget / ENTRY_OVERHEAD + 1, 128);
        let start = self.arena.len();
        self.arena.extend_from_slice(&self.scratch);
        self.index.push(Entry { time: time_us, seq, start, len });
        if self.buffered_bytes() >= self.budget {
            self.spill()?;
        }
        Ok(())
    }

    /// Finishes the sort: an iterator over every record pushed, in `(time_us, seq)` order.
    ///
    /// When nothing was spilled the records are sorted in memory and nothing is written.
    /// Otherwise the last buffer is spilled too, the buffers are freed, and runs beyond the
    /// fan-in are merged in passes before this returns; the remaining runs are merged as the
    /// iterator is read. Errors: a run could not be written or read back.
    pub fn finish(mut self) -> io::Result<Sorted<T>> {
        if self.runs.is_empty() {
            let mut index = std::mem::take(&mut self.index);
            index.sort_unstable_by_key(|e| (e.time, e.seq));
            let remaining = index.len() as u64;
            return Ok(Sorted {
                state: State::Memory { arena: std::mem::take(&mut self.arena), index: index.into_iter() },
                remaining,
                _records: PhantomData,
            });
        }
        self.spill()?;
        self.arena = Vec::new();
        self.index = Vec::new();
        self.scratch = Vec::new();
        let mut runs = std::mem::take(&mut self.runs);
        let fan_in = self.fan_in;
        while runs.len() > fan_in {
            // Each merge of k runs removes k - 1; the first merge takes the remainder so
            // that every later one is full and the last pass leaves exactly `fan_in` runs.
            let excess = runs.len() - fan_in;
            let k = match excess % (fan_in - 1) {
                0 => fan_in,
                r => r + 1,
            };
            // Smallest runs last, so the merge passes copy as few records as possible.
            runs.sort_by_key(|run| Reverse(run.records));
            let group = runs.split_off(runs.len() - k);
            let merged = self.merge_into_run(group)?;
            runs.push(merged);
        }
        let remaining = runs.iter().map(|run| run.records).sum();
        let buffer = read_buffer(self.budget, runs.len());
        let merger = Merger::open(runs, buffer)?;
        Ok(Sorted { state: State::Merge(merger), remaining, _records: PhantomData })
    }

    /// Sorts the buffer and writes it out as a run.
    fn spill(&mut self) -> io::Result<()> {
        if self.index.is_empty() {
            return Ok(());
        }
        self.index.sort_unstable_by_key(|e| (e.time, e.seq));
        let mut writer = RunWriter::create(&self.dir, &mut self.names, self.index.len() as u64)?;
        let mut key = [0u8; MAX_KEY_LEN];
        for entry in &self.index {
            let key = postcard::to_slice(&(entry.time, entry.seq), &mut key).map_err(invalid)?;
            let record = &self.arena[entry.start..entry.start + entry.len];
            writer.write_frame(key, record)?;
        }
        self.runs.push(writer.finish()?);
        self.arena.clear();
        self.index.clear();
        Ok(())
    }

    /// Merges `group` into one new run; the inputs are removed as soon as they are read.
    fn merge_into_run(&mut self, group: Vec<RunFile>) -> io::Result<RunFile> {
        let records = group.iter().map(|run| run.records).sum();
        let buffer = read_buffer(self.budget, group.len());
        let mut merger = Merger::open(group, buffer)?;
        let mut writer = RunWriter::create(&self.dir, &mut self.names, records)?;
        while let Some(source) = merger.current() {
            writer.write_frame(&[], source.frame())?;
            merger.advance()?;
        }
        writer.finish()
    }
}

/// The records of a finished [`Sorter`], in `(time_us, seq)` order, as
/// `(time_us, seq, record)`.
///
/// After an error (a run file that cannot be read or is corrupt, `InvalidData`) the iterator
/// ends. Dropping it, finished or not, removes the remaining run files.
pub struct Sorted<T> {
    state: State,
    remaining: u64,
    _records: PhantomData<fn() -> T>,
}

enum State {
    /// Nothing was spilled: the buffer, sorted.
    Memory {
        arena: Vec<u8>,
        index: std::vec::IntoIter<Entry>,
    },
    Merge(Merger),
    Done,
}

impl<T> Sorted<T> {
    /// How many records are still to come (fewer if an error ends the iteration).
    pub fn remaining(&self) -> u64 {
        self.remaining
    }
}

impl<T> fmt::Debug for Sorted<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (mode, open_runs) = match &self.state {
            State::Memory { .. } => ("memory", 0),
            State::Merge(merger) => ("merge", merger.heap.len()),
            State::Done => ("done", 0),
        };
        f.debug_struct("Sorted").field("mode", &mode).field("open_runs", &open_runs).field("remaining", &self.remaining).finish()
    }
}

impl<T: DeserializeOwned> Iterator for Sorted<T> {
    type Item = io::Result<(i64, u64, T)>;

    fn next(&mut self) -> Option<Self::Item> {
        let item = match &mut self.state {
            State::Memory { arena, index } => index.next().map(|entry| {
                let record = decode_record(&arena[entry.start..entry.start + entry.len])?;
                Ok((entry.time, entry.seq, record))
            }),
            State::Merge(merger) => match merger.current() {
                Some(source) => {
                    let (time, seq) = source.key();
                    let record = decode_record(source.record());
                    Some(merger.advance().and(record).map(|record| (time, seq, record)))
                }
                None => None,
            },
            State::Done => None,
        };
        match item {
            Some(Ok(_)) => self.remaining -= 1,
            // Ending also closes and removes the run files.
            Some(Err(_)) | None => {
                self.state = State::Done;
                self.remaining = 0;
            }
        }
        item
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let upper = usize::try_from(self.remaining).ok();
        (usize::from(self.remaining > 0), upper)
    }
}

/// Tracks whether keys arrive in `(time_us, seq)` order, so a caller can tell input that is
/// already sorted (and skip the [`Sorter`]).
#[derive(Debug, Clone, Default)]
pub struct OrderCheck {
    last: Option<(i64, u64)>,
    out_of_order: u64,
}

impl OrderCheck {
    /// A check that has seen nothing yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Records the next key; true while every key so far has been at least the one before it.
    pub fn observe(&mut self, time_us: i64, seq: u64) -> bool {
        let key = (time_us, seq);
        if self.last.is_some_and(|last| key < last) {
            self.out_of_order += 1;
        }
        self.last = Some(key);
        self.out_of_order == 0
    }

    /// How many keys were smaller than the key before them.
    pub fn out_of_order(&self) -> u64 {
        self.out_of_order
    }

    /// True when every key observed was at least the one before it.
    pub fn is_sorted(&self) -> bool {
        self.out_of_order == 0
    }

    /// The last key observed.
    pub fn last(&self) -> Option<(i64, u64)> {
        self.last
    }
}

// ---------------------------------------------------------------------------------------
// Run files
// ---------------------------------------------------------------------------------------

/// A run file on disk, removed when this guard is dropped.
#[derive(Debug)]
struct RunFile {
    path: PathBuf,
    records: u64,
}

impl Drop for RunFile {
    fn drop(&mut self) {
        let _ = fs::remove_file(&self.path);
    }
}

/// Unique run file names for one sorter.
#[derive(Debug)]
struct RunNames {
    instance: u64,
    next: u64,
}

impl RunNames {
    fn new() -> Self {
        RunNames { instance: INSTANCE.fetch_add(1, Ordering::Relaxed), next: 0 }
    }

    /// Creates a new, empty run file that no one else is using.
    fn create(&mut self, dir: &Path) -> io::Result<(File, PathBuf)> {
        loop {
            let name = format!("mamori-extsort-{}-{}-{}.run", std::process::id(), self.instance, self.next);
            self.next += 1;
            let path = dir.join(name);
            match OpenOptions::new().write(true).create_new(true).open(&path) {
                Ok(file) => return Ok((file, path)),
                // A leftover of an earlier process with the same id: take the next name.
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
                Err(e) => return Err(e),
            }
        }
    }
}

struct RunWriter {
    out: BufWriter<File>,
    /// Created with the file, so a failed write removes it.
    file: RunFile,
}

impl RunWriter {
    fn create(dir: &Path, names: &mut RunNames, records: u64) -> io::Result<RunWriter> {
        let (file, path) = names.create(dir)?;
        let mut writer = RunWriter { out: BufWriter::with_capacity(WRITE_BUFFER, file), file: RunFile { path, records } };
        write_header(&mut writer.out, records)?;
        Ok(writer)
    }

    /// Writes one frame whose body is `key` followed by `rest`.
    fn write_frame(&mut self, key: &[u8], rest: &[u8]) -> io::Result<()> {
        write_frame(&mut self.out, key, rest)
    }

    fn finish(self) -> io::Result<RunFile> {
        let RunWriter { mut out, file } = self;
        out.flush()?;
        drop(out);
        Ok(file)
    }
}

fn write_header(out: &mut impl Write, records: u64) -> io::Result<()> {
    let mut header = [0u8; HEADER_LEN];
    header[..MAGIC.len()].copy_from_slice(&MAGIC);
    header[MAGIC.len()] = VERSION;
    header[MAGIC.len() + 1..].copy_from_slice(&records.to_le_bytes());
    out.write_all(&header)
}

fn write_frame(out: &mut impl Write, key: &[u8], rest: &[u8]) -> io::Result<()> {
    let mut len = [0u8; 10];
    let n = encode_varint((key.len() + rest.len()) as u64, &mut len);
    out.write_all(&len[..n])?;
    out.write_all(key)?;
    out.write_all(rest)
}

fn encode_varint(mut value: u64, out: &mut [u8; 10]) -> usize {
    let mut n = 0;
    while value >= 0x80 {
        out[n] = (value as u8) | 0x80;
        value >>= 7;
        n += 1;
    }
    out[n] = value as u8;
    n + 1
}

/// Reads the frames of one run, checking everything the format promises.
#[derive(Debug)]
struct FrameReader<R> {
    src: R,
    /// Frames the header promised that are not read yet.
    left: u64,
    /// The current frame's body.
    frame: Vec<u8>,
    key_len: usize,
    key: Option<(i64, u64)>,
}

impl<R: BufRead> FrameReader<R> {
    /// Reads the header; no frame is current until [`FrameReader::advance`].
    fn open(mut src: R) -> io::Result<Self> {
        let mut header = [0u8; HEADER_LEN];
        src.read_exact(&mut header).map_err(eof_is_truncation)?;
        if header[..MAGIC.len()] != MAGIC {
            return Err(corrupt("not an extsort run file"));
        }
        if header[MAGIC.len()] != VERSION {
            return Err(corrupt("unknown run file version"));
        }
        let mut count = [0u8; 8];
        count.copy_from_slice(&header[MAGIC.len() + 1..]);
        Ok(FrameReader { src, left: u64::from_le_bytes(count), frame: Vec::new(), key_len: 0, key: None })
    }

    /// Reads the next frame; false after the last one.
    fn advance(&mut self) -> io::Result<bool> {
        if self.left == 0 {
            if !fill(&mut self.src)?.is_empty() {
                return Err(corrupt("bytes after the last frame of a run file"));
            }
            return Ok(false);
        }
        let len = usize::try_from(self.read_varint()?).map_err(|_| corrupt("frame length too big"))?;
        self.frame.clear();
        let mut need = len;
        while need > 0 {
            // Copy what is there rather than allocating `len` up front: a corrupt length
            // then fails at the end of the file instead of allocating a huge buffer.
            let available = fill(&mut self.src)?;
            if available.is_empty() {
                return Err(truncated());
            }
            let n = available.len().min(need);
            self.frame.extend_from_slice(&available[..n]);
            self.src.consume(n);
            need -= n;
        }
        let (key, rest) = postcard::take_from_bytes::<(i64, u64)>(&self.frame).map_err(invalid)?;
        if self.key.is_some_and(|last| key < last) {
            return Err(corrupt("run file out of order"));
        }
        self.key_len = self.frame.len() - rest.len();
        self.key = Some(key);
        self.left -= 1;
        Ok(true)
    }

    /// The current frame's key (only valid after `advance` returned true).
    fn key(&self) -> (i64, u64) {
        self.key.unwrap_or_default()
    }

    /// The current frame's body: key then record.
    fn frame(&self) -> &[u8] {
        &self.frame
    }

    /// The current frame's serialized record.
    fn record(&self) -> &[u8] {
        &self.frame[self.key_len..]
    }

    fn read_varint(&mut self) -> io::Result<u64> {
        let mut value = 0u64;
        for i in 0..10 {
            let byte = match fill(&mut self.src)?.first() {
                Some(&byte) => byte,
                None => return Err(truncated()),
            };
            self.src.consume(1);
            if i == 9 && byte > 1 {
                return Err(corrupt("frame length overflows"));
            }
            value |= u64::from(byte & 0x7f) << (7 * i);
            if byte & 0x80 == 0 {
                return Ok(value);
            }
        }
        Err(corrupt("frame length overflows"))
    }
}

/// A run being merged; the file is closed before it is removed.
struct RunReader {
    reader: FrameReader<BufReader<File>>,
    _file: RunFile,
}

/// A k-way merge of runs, by a min-heap of the runs' current keys.
struct Merger {
    /// `None` once a run is exhausted (its file then is already removed).
    sources: Vec<Option<RunReader>>,
    /// `(time, seq, source)` of every run that has a current frame.
    heap: BinaryHeap<Reverse<(i64, u64, usize)>>,
}

impl Merger {
    fn open(runs: Vec<RunFile>, buffer: usize) -> io::Result<Merger> {
        let mut sources = Vec::with_capacity(runs.len());
        let mut heap = BinaryHeap::with_capacity(runs.len());
        for (i, run) in runs.into_iter().enumerate() {
            let file = File::open(&run.path)?;
            let mut reader = FrameReader::open(BufReader::with_capacity(buffer, file))?;
            if reader.advance()? {
                let (time, seq) = reader.key();
                heap.push(Reverse((time, seq, i)));
                sources.push(Some(RunReader { reader, _file: run }));
            } else {
                sources.push(None);
            }
        }
        Ok(Merger { sources, heap })
    }

    /// The run holding the smallest current frame, if any is left.
    fn current(&self) -> Option<&FrameReader<BufReader<File>>> {
        let &Reverse((_, _, i)) = self.heap.peek()?;
        self.sources[i].as_ref().map(|source| &source.reader)
    }

    /// Moves past the frame [`Merger::current`] returned.
    fn advance(&mut self) -> io::Result<()> {
        let Some(mut top) = self.heap.peek_mut() else {
            return Ok(());
        };
        let i = top.0.2;
        let slot = &mut self.sources[i];
        let next = match slot {
            Some(source) => source.reader.advance()?.then(|| source.reader.key()),
            None => None,
        };
        match next {
            Some((time, seq)) => *top = Reverse((time, seq, i)),
            None => {
                PeekMut::pop(top);
                *slot = None;
            }
        }
        Ok(())
    }
}

// ---------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------

/// A postcard flavor that appends to a `Vec` it borrows.
struct AppendVec<'a>(&'a mut Vec<u8>);

impl postcard::ser_flavors::Flavor for AppendVec<'_> {
    type Output = ();

    fn try_extend(&mut self, data: &[u8]) -> postcard::Result<()> {
        self.0.extend_from_slice(data);
        Ok(())
    }

    fn try_push(&mut self, data: u8) -> postcard::Result<()> {
        self.0.push(data);
        Ok(())
    }

    fn finalize(self) -> postcard::Result<()> {
        Ok(())
    }
}

/// Makes room for `additional` more elements, doubling the capacity but not past
/// `limit` elements unless the elements themselves need it.
fn reserve_capped<E>(v: &mut Vec<E>, additional: usize, limit: usize, min: usize) {
    let needed = v.len() + additional;
    if needed <= v.capacity() {
        return;
    }
    let target = v.capacity().saturating_mul(2).max(min).min(limit).max(needed);
    v.reserve_exact(target - v.len());
}

fn read_buffer(budget: usize, runs: usize) -> usize {
    (budget / runs.max(1)).clamp(MIN_READ_BUFFER, MAX_READ_BUFFER)
}

/// `src.fill_buf()`, retried when interrupted.
fn fill(src: &mut impl BufRead) -> io::Result<&[u8]> {
    loop {
        match src.fill_buf() {
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
            // Borrow again: returning the first borrow from inside the loop does not pass
            // the borrow checker.
            Ok(_) => return src.fill_buf(),
        }
    }
}

fn decode_record<T: DeserializeOwned>(bytes: &[u8]) -> io::Result<T> {
    let (record, rest) = postcard::take_from_bytes::<T>(bytes).map_err(invalid)?;
    if !rest.is_empty() {
        return Err(corrupt("bytes after a record in a run file"));
    }
    Ok(record)
}

fn invalid(e: postcard::Error) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, e)
}

fn corrupt(message: &'static str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, message)
}

fn truncated() -> io::Error {
    corrupt("run file truncated")
}

fn eof_is_truncation(e: io::Error) -> io::Error {
    if e.kind() == io::ErrorKind::UnexpectedEof { truncated() } else { e }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde::Deserialize;
    use std::time::Instant;

    /// A fresh directory under the system temp dir, removed (with anything left in it) on
    /// drop.
    struct TestDir(PathBuf);

    impl TestDir {
        fn new(name: &str) -> TestDir {
            static NEXT: AtomicU64 = AtomicU64::new(0);
            let dir = std::env::temp_dir().join(format!(
                "mamori-extsort-test-{}-{}-{}",
                name,
                std::process::id(),
                NEXT.fetch_add(1, Ordering::Relaxed)
            ));
            let _ = fs::remove_dir_all(&dir);
            TestDir(dir)
        }

        fn files(&self) -> Vec<PathBuf> {
            let mut files: Vec<PathBuf> = match fs::read_dir(&self.0) {
                Ok(entries) => entries.map(|e| e.unwrap().path()).collect(),
                Err(_) => Vec::new(),
            };
            files.sort();
            files
        }
    }

    impl Drop for TestDir {
        fn drop(&mut self) {
            let _ = fs::remove_dir_all(&self.0);
        }
    }

    fn sort_all(dir: &Path, budget: usize, fan_in: usize, input: &[(i64, u64, String)]) -> (usize, Vec<(i64, u64, String)>) {
        let mut sorter = Sorter::new(dir, budget).unwrap().with_fan_in(fan_in);
        for (time, seq, payload) in input {
            sorter.push(*time, *seq, payload.clone()).unwrap();
        }
        let runs = sorter.runs();
        let sorted = sorter.finish().unwrap();
        assert_eq!(sorted.remaining(), input.len() as u64);
        (runs, sorted.map(|item| item.unwrap()).collect())
    }

    fn expected(input: &[(i64, u64, String)]) -> Vec<(i64, u64, String)> {
        let mut expected = input.to_vec();
        expected.sort_by_key(|(time, seq, _)| (*time, *seq));
        expected
    }

    /// Records with few distinct times (many ties) and unique seqs given in shuffled order,
    /// so ties must come out by seq, not by push order.
    fn records() -> impl Strategy<Value = Vec<(i64, u64, String)>> {
        prop::collection::vec((-4i64..4, ".{0,12}"), 0..300).prop_flat_map(|items| {
            let seqs: Vec<u64> = (0..items.len() as u64).collect();
            Just(seqs).prop_shuffle().prop_map(move |seqs| {
                items.iter().zip(seqs).map(|((time, payload), seq)| (*time * 1_000_000, seq, payload.clone())).collect()
            })
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        #[test]
        fn merge_matches_in_memory_sort(
            input in records(),
            budget in 0usize..400,
            fan_in in 2usize..6,
        ) {
            let dir = TestDir::new("prop");
            let (runs, got) = sort_all(&dir.0, budget, fan_in, &input);
            prop_assert_eq!(got, expected(&input));
            // A budget this small spills more than the fan-in, so merge passes ran.
            if input.len() > 100 && budget < 100 {
                prop_assert!(runs > fan_in, "{} runs", runs);
            }
            prop_assert!(dir.files().is_empty(), "left behind: {:?}", dir.files());
        }

        #[test]
        fn equal_times_keep_input_order(
            times in prop::collection::vec(0i64..3, 0..200),
            budget in 0usize..300,
        ) {
            let dir = TestDir::new("stable");
            let input: Vec<(i64, u64, String)> = times
                .iter()
                .enumerate()
                .map(|(i, time)| (*time, i as u64, format!("record {i}")))
                .collect();
            let (_, got) = sort_all(&dir.0, budget, 3, &input);
            for pair in got.windows(2) {
                prop_assert!(pair[0].0 <= pair[1].0);
                if pair[0].0 == pair[1].0 {
                    prop_assert!(pair[0].1 < pair[1].1, "{:?} before {:?}", pair[0], pair[1]);
                }
            }
            prop_assert_eq!(got.len(), input.len());
        }

        /// Whatever the bytes, the reader returns frames or an error: it never panics.
        #[test]
        fn reader_never_panics_on_garbage(
            bytes in prop::collection::vec(any::<u8>(), 0..200),
            keep_header in any::<bool>(),
        ) {
            let mut data = Vec::new();
            if keep_header {
                write_header(&mut data, 3).unwrap();
            }
            data.extend_from_slice(&bytes);
            if let Ok(mut reader) = FrameReader::open(&data[..]) {
                for _ in 0..10 {
                    match reader.advance() {
                        Ok(true) => {
                            let _ = decode_record::<(String, u64)>(reader.record());
                        }
                        Ok(false) => break,
                        Err(e) => {
                            prop_assert_eq!(e.kind(), io::ErrorKind::InvalidData);
                            break;
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn more_runs_than_default_fan_in() {
        let dir = TestDir::new("fanin");
        let input: Vec<(i64, u64, String)> = (0..300u64).map(|i| ((i as i64 * 7919) % 101, i, format!("r{i}"))).collect();
        // A budget of 0 spills every record: 300 runs, merged 64 at a time.
        let mut sorter = Sorter::new(&dir.0, 0).unwrap();
        for (time, seq, payload) in &input {
            sorter.push(*time, *seq, payload.clone()).unwrap();
        }
        assert_eq!(sorter.runs(), 300);
        let sorted = sorter.finish().unwrap();
        // The passes removed their inputs: exactly `fan_in` runs remain for the last merge.
        assert_eq!(dir.files().len(), DEFAULT_FAN_IN);
        let got: Vec<_> = sorted.map(|item| item.unwrap()).collect();
        assert_eq!(got, expected(&input));
        assert!(dir.files().is_empty());
    }

    #[test]
    fn nothing_spilled_writes_nothing() {
        let dir = TestDir::new("memory");
        let mut sorter = Sorter::new(&dir.0, 1 << 20).unwrap();
        for i in 0..1000u64 {
            sorter.push(-(i as i64), i, i).unwrap();
        }
        assert_eq!(sorter.runs(), 0);
        let sorted = sorter.finish().unwrap();
        assert!(format!("{sorted:?}").contains("memory"));
        assert!(dir.0.is_dir());
        assert!(dir.files().is_empty());
        let got: Vec<u64> = sorted.map(|item| item.unwrap().2).collect();
        assert_eq!(got, (0..1000).rev().collect::<Vec<_>>());
        assert!(dir.files().is_empty());
    }

    #[test]
    fn run_files_removed_on_every_path() {
        let dir = TestDir::new("cleanup");
        let fill = |budget: usize| {
            let mut sorter = Sorter::new(&dir.0, budget).unwrap();
            for i in 0..500u64 {
                sorter.push((i % 17) as i64, i, format!("payload {i}")).unwrap();
            }
            assert!(sorter.runs() > 1);
            sorter
        };

        // Dropped without finishing.
        let sorter = fill(1000);
        assert_eq!(dir.files().len(), sorter.runs());
        drop(sorter);
        assert!(dir.files().is_empty());

        // Dropped half-way through the merge.
        let mut sorted = fill(1000).finish().unwrap();
        assert!(!dir.files().is_empty());
        for _ in 0..250 {
            sorted.next().unwrap().unwrap();
        }
        assert_eq!(sorted.remaining(), 250);
        drop(sorted);
        assert!(dir.files().is_empty());

        // Dropped right after finishing, with merge passes done.
        let sorted = fill(0).with_fan_in(4).finish().unwrap();
        assert_eq!(dir.files().len(), 4);
        drop(sorted);
        assert!(dir.files().is_empty());

        // Read to the end: each run is removed once read, the iterator ends.
        let mut sorted = fill(1000).finish().unwrap();
        assert_eq!(sorted.by_ref().count(), 500);
        assert!(dir.files().is_empty());
        assert!(sorted.next().is_none());
    }

    type Triple = (i64, u64, (String, u64));

    /// The bytes of a run holding `records` as a spill writes it.
    fn run_bytes(records: &[Triple]) -> Vec<u8> {
        let mut data = Vec::new();
        write_header(&mut data, records.len() as u64).unwrap();
        for (time, seq, record) in records {
            let key = postcard::to_stdvec(&(*time, *seq)).unwrap();
            let body = postcard::to_stdvec(record).unwrap();
            write_frame(&mut data, &key, &body).unwrap();
        }
        data
    }

    fn read_run(data: &[u8]) -> io::Result<Vec<Triple>> {
        let mut reader = FrameReader::open(data)?;
        let mut out = Vec::new();
        while reader.advance()? {
            let (time, seq) = reader.key();
            out.push((time, seq, decode_record(reader.record())?));
        }
        Ok(out)
    }

    #[test]
    fn run_format_is_postcard_of_the_triple() {
        let records = vec![(-5, 2, ("a".to_string(), 300)), (7, 0, ("é".repeat(100), 1))];
        let data = run_bytes(&records);
        assert_eq!(read_run(&data).unwrap(), records);
        // Each frame body is postcard((time, seq, record)).
        let body = postcard::to_stdvec(&records[1]).unwrap();
        assert!(data.ends_with(&body));
    }

    #[test]
    fn truncated_or_corrupt_run_is_invalid_data() {
        let records: Vec<_> = (0..20).map(|i| (i as i64 * 1000, i as u64, (format!("record {i}"), i as u64 * 77))).collect();
        let data = run_bytes(&records);
        assert_eq!(read_run(&data).unwrap(), records);

        // Every cut, including the ones exactly between two frames.
        for cut in 0..data.len() {
            let err = read_run(&data[..cut]).unwrap_err();
            assert_eq!(err.kind(), io::ErrorKind::InvalidData, "cut at {cut}: {err}");
        }

        let mut trailing = data.clone();
        trailing.push(0);
        assert_eq!(read_run(&trailing).unwrap_err().kind(), io::ErrorKind::InvalidData);

        let mut bad_magic = data.clone();
        bad_magic[0] = b'X';
        assert_eq!(read_run(&bad_magic).unwrap_err().kind(), io::ErrorKind::InvalidData);

        let mut disorder = records.clone();
        disorder.swap(3, 4);
        let err = read_run(&run_bytes(&disorder)).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidData);

        // A length claiming far more than the file holds fails without allocating it.
        let mut huge = Vec::new();
        write_header(&mut huge, 1).unwrap();
        huge.extend_from_slice(&[0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f, 1, 2]);
        assert_eq!(read_run(&huge).unwrap_err().kind(), io::ErrorKind::InvalidData);
    }

    #[test]
    fn truncated_run_file_surfaces_from_the_iterator() {
        let dir = TestDir::new("truncated");
        let mut sorter = Sorter::new(&dir.0, 2000).unwrap();
        for i in 0..400u64 {
            sorter.push(i as i64, i, format!("payload {i}")).unwrap();
        }
        assert!(sorter.runs() > 2);
        // Cut the first run (the earliest records) in half.
        let first = dir.files()[0].clone();
        let len = fs::metadata(&first).unwrap().len();
        OpenOptions::new().write(true).open(&first).unwrap().set_len(len / 2).unwrap();
        let sorted = sorter.finish().unwrap();
        let mut ok = 0;
        let mut errors = Vec::new();
        for item in sorted {
            match item {
                Ok(_) => ok += 1,
                Err(e) => errors.push(e),
            }
        }
        assert_eq!(errors.len(), 1, "the iterator ends after an error");
        assert_eq!(errors[0].kind(), io::ErrorKind::InvalidData);
        assert!(ok < 400);
        assert!(dir.files().is_empty());
    }

    #[test]
    fn order_check() {
        let mut check = OrderCheck::new();
        assert!(check.observe(1, 0));
        assert!(check.observe(1, 1));
        assert!(check.observe(1, 1));
        assert!(check.observe(5, 0));
        assert!(!check.observe(4, 9));
        assert!(!check.observe(6, 0));
        assert!(!check.observe(0, 0));
        assert_eq!(check.out_of_order(), 2);
        assert!(!check.is_sorted());
        assert_eq!(check.last(), Some((0, 0)));
    }

    #[derive(Debug, Serialize, Deserialize)]
    struct Transfer {
        account: u64,
        counterparty: u64,
        amount_yen: i64,
        memo: String,
    }

    /// `cargo test --release -p mamori-sweep --lib extsort -- --ignored --nocapture`
    #[test]
    #[ignore = "measurement: run in release with --nocapture"]
    fn throughput() {
        const RECORDS: u64 = 5_000_000;
        let dir = TestDir::new("throughput");
        let mut state = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        let mut transfer = move |seq: u64| {
            let time = 1_500_000_000_000_000 + (next() % (10 * 365 * 86_400_000_000)) as i64;
            let record = Transfer {
                account: next() % 10_000_000,
                counterparty: next() % 10_000_000,
                amount_yen: (next() % 2_000_000) as i64 - 1_000_000,
                memo: format!("furikomi {:016x} ref {:08x} nagoya-shi", next(), seq),
            };
            (time, record)
        };
        let bytes = postcard::to_stdvec(&transfer(0).1).unwrap().len();

        // What making the records costs, to tell it apart from the sort.
        let start = Instant::now();
        for seq in 0..RECORDS {
            std::hint::black_box(transfer(seq));
        }
        let making = start.elapsed();

        let mut sorter = Sorter::new(&dir.0, 64 << 20).unwrap();
        let start = Instant::now();
        for seq in 0..RECORDS {
            let (time, record) = transfer(seq);
            sorter.push(time, seq, record).unwrap();
        }
        let pushed = start.elapsed();
        let runs = sorter.runs();
        let sorted = sorter.finish().unwrap();
        let finished = start.elapsed();
        let mut check = OrderCheck::new();
        let mut count = 0u64;
        for item in sorted {
            let (time, seq, _) = item.unwrap();
            check.observe(time, seq);
            count += 1;
        }
        let total = start.elapsed();
        assert_eq!(count, RECORDS);
        assert!(check.is_sorted());
        let rate = |d: std::time::Duration| RECORDS as f64 / d.as_secs_f64();
        println!(
            "{RECORDS} records of {bytes} serialized bytes, 64 MiB budget, {runs} runs: \
             making the records alone {making:.2?}; push {pushed:.2?} ({:.0}/s), finish {:.2?}, \
             merge {:.2?}, total {total:.2?} ({:.0} records/s; {:.0}/s without making the records)",
            rate(pushed),
            finished - pushed,
            total - finished,
            rate(total),
            rate(total - making),
        );
    }
}
