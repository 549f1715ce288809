//! Batch runs: a file of events in, a CSV of features out. This is the I/O edge of the
//! crate; the engine itself never touches a file.

use std::fs::File;
use std::io::{self, BufRead, BufReader, BufWriter, Read, Write};
use std::time::{Duration, Instant};

use mamori_core::Value;

use crate::engine::{Engine, FeatureSet, FeatureVector, Stats};
use mamori_core::Timestamp;

use crate::columnar::{Columns, NotColumnar};
use crate::input::{CsvMapping, RowError, RowRecord, RowValues};

use crate::output::CsvOut;

/// What to do with a malformed row.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum OnError {
    /// Report it and go on.
    #[default]
    Skip,
    /// Report it and stop.
    Stop,
}

/// Counts of a batch run.
#[derive(Debug, Clone, Default)]
pub struct Summary {
    pub rows: u64,
    pub written: u64,
    pub malformed: u64,
    pub stats: Stats,
    pub elapsed: Duration,
    /// The first malformed rows (at most [`Summary::KEPT_ERRORS`]).
    pub errors: Vec<RowError>,
    /// Line numbers of the first events that arrived too late to update the state.
    pub late_lines: Vec<u64>,
    /// Bytes of feature state at the end and the (entity, window) pairs they hold.
    pub state_bytes: usize,
    pub state_pairs: usize,
    /// True if the run stopped at a malformed row.
    pub stopped: bool,
    /// How the rows were computed: `columnar` (whole file) or `streaming` (event by event).
    pub path: &'static str,
}

impl Summary {
    pub const KEPT_ERRORS: usize = 20;

    fn error(&mut self, e: RowError) {
        self.malformed += 1;
        if self.errors.len() < Self::KEPT_ERRORS {
            self.errors.push(e);
        }
    }

    pub fn rate(&self) -> f64 {
        self.rows as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }
}

/// Why a batch run failed as a whole.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error("{path}: {source}")]
    Io { path: String, source: io::Error },
    #[error("{0}")]
    Input(String),
    #[error("stopped at a malformed row: {0}")]
    Stopped(RowError),
}

/// Opens a file (or `-` for standard input), reading gzip when the name ends in `.gz`.
pub fn open_input(path: &str) -> Result<Box<dyn BufRead + Send>, RunError> {
    let io_err = |source| RunError::Io { path: path.to_string(), source };
    let raw: Box<dyn Read + Send> = if path == "-" { Box::new(io::stdin()) } else { Box::new(File::open(path).map_err(io_err)?) };
    Ok(if path.ends_with(".gz") {
        Box::new(BufReader::with_capacity(1 << 20, flate2::read::MultiGzDecoder::new(BufReader::with_capacity(1 << 16, raw))))
    } else {
        Box::new(BufReader::with_capacity(1 << 20, raw))
    })
}

/// Creates an output file (or `-` for standard output).
pub fn open_output(path: &str) -> Result<Box<dyn Write + Send>, RunError> {
    if path == "-" {
        return Ok(Box::new(BufWriter::with_capacity(1 << 20, io::stdout())));
    }
    let f = File::create(path).map_err(|source| RunError::Io { path: path.to_string(), source })?;
    Ok(Box::new(BufWriter::with_capacity(1 << 20, f)))
}

/// A progress callback: called every few thousand rows with the rows done so far.
pub type Progress<'a> = &'a mut dyn FnMut(u64);

const BATCH: usize = 4096;

/// Rows read ahead by the reader thread; `errors` names the rows that could not be read.
struct Batch {
    rows: Vec<csv::ByteRecord>,
    len: usize,
    errors: Vec<(usize, RowError)>,
}

/// What a row handler asks of the row loop.
enum Flow {
    Next,
    Halt,
}

/// Reads the CSV rows on a second thread and hands each well-formed one, as values, to
/// `each` on this thread; malformed rows are counted (and stop the run when asked).
fn each_csv_row(
    mapping: &mut CsvMapping,
    input: Box<dyn BufRead + Send>,
    on_error: OnError,
    summary: &mut Summary,
    progress: Progress<'_>,
    mut each: impl FnMut(&RowValues<'_>, Timestamp, u64, u64) -> Result<Flow, RunError>,
) -> Result<(), RunError> {
    let mut rdr = csv::ReaderBuilder::new().delimiter(mapping.delimiter).has_headers(true).flexible(true).from_reader(input);
    let header = rdr.byte_headers().map_err(|e| RunError::Input(format!("cannot read the header: {e}")))?.clone();
    mapping.bind(&header).map_err(RunError::Input)?;
    let (rx, back_tx, reader) = spawn_reader(rdr, header.len());
    let mut result = Ok(());
    'outer: for batch in rx.iter() {
        let mut errors = batch.errors.iter().peekable();
        for (i, rec) in batch.rows[..batch.len].iter().enumerate() {
            summary.rows += 1;
            let bad = match errors.peek() {
                Some((j, _)) if *j == i => errors.next().map(|(_, e)| e.clone()),
                _ => None,
            };
            let line = rec.position().map_or(0, |p| p.line());
            let mut vals = RowValues::new();
            let parsed = match bad {
                Some(e) => Err(e),
                None => mapping.read(rec, line, &mut vals),
            };
            let time = match parsed {
                Ok(t) => t,
                Err(e) => {
                    if on_error == OnError::Stop {
                        summary.stopped = true;
                        result = Err(RunError::Stopped(e));
                        break 'outer;
                    }
                    summary.error(e);
                    continue;
                }
            };
            match each(&vals, time, line, summary.rows) {
                Ok(Flow::Next) => {}
                Ok(Flow::Halt) => break 'outer,
                Err(e) => {
                    result = Err(e);
                    break 'outer;
                }
            }
            if summary.rows.is_multiple_of(65_536) {
                progress(summary.rows);
            }
        }
        let _ = back_tx.send(batch);
    }
    drop(rx);
    let _ = reader.join();
    result
}

fn output_error(source: io::Error) -> RunError {
    RunError::Io { path: "output".into(), source }
}

/// Computes the features of every CSV row, event by event. Rows are parsed on a second
/// thread while this one computes and writes.
pub fn run_csv(
    set: &FeatureSet,
    mapping: &mut CsvMapping,
    input: Box<dyn BufRead + Send>,
    out: Box<dyn Write + Send>,
    id_column: &str,
    on_error: OnError,
    progress: Progress<'_>,
) -> Result<Summary, RunError> {
    let mut w = CsvOut::new(out, set, id_column).map_err(output_error)?;
    let id_field = mapping.id_field().map(|i| mamori_core::FieldId::new(0, i as u32));
    let result = for_each_csv_row(set, mapping, input, on_error, progress, |rec, _, row, fv| {
        let id = id_field.map_or(Value::Int(row as i64), |f| rec.get(f));
        w.row(id, fv).map_err(output_error)
    });
    w.finish().map_err(output_error)?;
    result
}

/// Computes every CSV row's features event by event and hands each to `each` with the
/// row itself (its mapped fields, for an id or a label), its time and its number (from 1,
/// malformed rows counted), in file order: what `mamori features` writes and what
/// training and scoring a model read. Malformed rows are handled as `on_error` says.
pub fn for_each_csv_row(
    set: &FeatureSet,
    mapping: &mut CsvMapping,
    input: Box<dyn BufRead + Send>,
    on_error: OnError,
    progress: Progress<'_>,
    mut each: impl FnMut(&dyn mamori_core::Record, Timestamp, u64, &FeatureVector) -> Result<(), RunError>,
) -> Result<Summary, RunError> {
    let start = Instant::now();
    let mut summary = Summary::default();
    let mut engine = Engine::new(set);
    let mut fv = FeatureVector::default();
    let mut late_lines = Vec::new();
    let result = each_csv_row(mapping, input, on_error, &mut summary, progress, |vals, time, line, row| {
        let rec = RowRecord(vals);
        if engine.process(&rec, time, &mut fv).late && late_lines.len() < Summary::KEPT_ERRORS {
            late_lines.push(line);
        }
        each(&rec, time, row, &fv)?;
        Ok(Flow::Next)
    });
    result?;
    summary.written = summary.rows - summary.malformed;
    summary.path = "streaming";
    summary.late_lines = late_lines;
    summary.stats = engine.stats();
    (summary.state_bytes, summary.state_pairs) = engine.memory();
    summary.elapsed = start.elapsed();
    progress(summary.rows);
    Ok(summary)
}

/// A time-ordered CSV file loaded and computed column by column: the columns, and each
/// row's id as a CSV cell (`ids[id_ends[row - 1]..id_ends[row]]`).
#[derive(Debug)]
pub struct Loaded<'s> {
    pub cols: Columns<'s>,
    pub ids: Vec<u8>,
    pub id_ends: Vec<usize>,
    pub summary: Summary,
}

impl Loaded<'_> {
    /// Row `row`'s id, as a CSV cell.
    pub fn id(&self, row: usize) -> &[u8] {
        let begin = if row == 0 { 0 } else { self.id_ends[row - 1] };
        &self.ids[begin..self.id_ends[row]]
    }
}

/// Loads every row of a time-ordered CSV file into `cols` (from [`Columns::new`] or
/// [`Columns::for_numbers`]) and computes its features; the set must be
/// [`FeatureSet::is_columnar`]. `Ok(Err(_))` when the file turns out not to suit (out of
/// time order, numbers too wide): the caller then goes event by event.
pub fn load_csv_columnar<'s>(
    mut cols: Columns<'s>,
    mapping: &mut CsvMapping,
    input: Box<dyn BufRead + Send>,
    on_error: OnError,
    progress: Progress<'_>,
) -> Result<Result<Loaded<'s>, NotColumnar>, RunError> {
    let mut summary = Summary::default();
    let id_field = mapping.id_field();
    // The ids as they will be written, one after another.
    let mut ids: Vec<u8> = Vec::new();
    let mut id_ends: Vec<usize> = Vec::new();
    let mut refused = None;
    each_csv_row(mapping, input, on_error, &mut summary, progress, |vals, time, _, n| {
        if let Err(e) = cols.push(&RowRecord(vals), time) {
            refused = Some(e);
            return Ok(Flow::Halt);
        }
        crate::output::write_value(&mut ids, id_field.map_or(Value::Int(n as i64), |i| vals[i]));
        id_ends.push(ids.len());
        Ok(Flow::Next)
    })?;
    if let Some(e) = refused {
        return Ok(Err(e));
    }
    if let Err(e) = cols.compute() {
        return Ok(Err(e));
    }
    summary.written = cols.len() as u64;
    summary.path = "columnar";
    Ok(Ok(Loaded { cols, ids, id_ends, summary }))
}

/// Computes the features of a time-ordered CSV file column by column (see
/// [`crate::Columns`]); the set must be [`FeatureSet::is_columnar`]. Nothing is written
/// (and `out` is not called) when the file turns out not to suit: the caller then runs
/// [`run_csv`] on it.
#[allow(clippy::too_many_arguments)]
pub fn run_csv_columnar(
    set: &FeatureSet,
    mapping: &mut CsvMapping,
    input: Box<dyn BufRead + Send>,
    out: impl FnOnce() -> Result<Box<dyn Write + Send>, RunError>,
    id_column: &str,
    on_error: OnError,
    progress: Progress<'_>,
) -> Result<Result<Summary, NotColumnar>, RunError> {
    let start = Instant::now();
    let loaded = match load_csv_columnar(Columns::new(set), mapping, input, on_error, progress)? {
        Ok(l) => l,
        Err(e) => return Ok(Err(e)),
    };
    let mut w = CsvOut::new(out()?, set, id_column).map_err(output_error)?;
    let rows = loaded.cols.len();
    parallel_chunks(
        rows,
        |first, last, buf| {
            for row in first..last {
                buf.extend_from_slice(loaded.id(row));
                loaded.cols.write_row(row, buf);
                buf.push(b'\n');
            }
        },
        |part| w.write_raw(part).map_err(output_error),
    )?;
    w.finish().map_err(output_error)?;
    let mut summary = loaded.summary;
    summary.elapsed = start.elapsed();
    progress(summary.rows);
    Ok(Ok(summary))
}

/// Rows `0..rows` formatted in chunks on both cores (`format(first, last, buf)`), handed
/// to `write` in row order.
pub fn parallel_chunks(
    rows: usize,
    format: impl Fn(usize, usize, &mut Vec<u8>) + Sync,
    mut write: impl FnMut(&[u8]) -> Result<(), RunError>,
) -> Result<(), RunError> {
    let chunk = 1 << 16;
    let starts: Vec<usize> = (0..rows).step_by(chunk).collect();
    for pair in starts.chunks(2) {
        let parts: Vec<Vec<u8>> = std::thread::scope(|scope| {
            let handles: Vec<_> = pair
                .iter()
                .map(|&first| {
                    let format = &format;
                    scope.spawn(move || {
                        let mut buf = Vec::with_capacity(1 << 22);
                        format(first, (first + chunk).min(rows), &mut buf);
                        buf
                    })
                })
                .collect();
            handles.into_iter().map(|h| h.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic))).collect()
        });
        for part in parts {
            write(&part)?;
        }
    }
    Ok(())
}

/// Reads rows on a second thread into batches of records that come back to be refilled,
/// so no row allocates once the first batches exist.
fn spawn_reader(
    mut rdr: csv::Reader<Box<dyn BufRead + Send>>,
    width: usize,
) -> (std::sync::mpsc::Receiver<Batch>, std::sync::mpsc::Sender<Batch>, std::thread::JoinHandle<()>) {
    let (tx, rx) = std::sync::mpsc::sync_channel::<Batch>(8);
    let (back_tx, back_rx) = std::sync::mpsc::channel::<Batch>();
    let reader = std::thread::spawn(move || {
        loop {
            let mut batch = back_rx.try_recv().unwrap_or_else(|_| Batch { rows: Vec::with_capacity(BATCH), len: 0, errors: Vec::new() });
            batch.len = 0;
            batch.errors.clear();
            let mut eof = false;
            while batch.len < BATCH {
                if batch.rows.len() == batch.len {
                    batch.rows.push(csv::ByteRecord::new());
                }
                let rec = &mut batch.rows[batch.len];
                match rdr.read_byte_record(rec) {
                    Ok(true) => {
                        if rec.len() != width {
                            let line = rec.position().map_or(0, |p| p.line());
                            batch.errors.push((
                                batch.len,
                                RowError { line, column: "-".into(), message: format!("expected {width} fields, found {}", rec.len()) },
                            ));
                        }
                        batch.len += 1;
                    }
                    Ok(false) => {
                        eof = true;
                        break;
                    }
                    Err(e) => {
                        let line = e.position().map_or(0, |p| p.line());
                        let fatal = matches!(e.kind(), csv::ErrorKind::Io(_));
                        rec.clear();
                        batch.errors.push((batch.len, RowError { line, column: "-".into(), message: e.to_string() }));
                        batch.len += 1;
                        if fatal {
                            eof = true;
                            break;
                        }
                    }
                }
            }
            if tx.send(batch).is_err() || eof {
                break;
            }
        }
    });

    (rx, back_tx, reader)
}

/// Computes the features of every event of an NDJSON file in the v1 contract.
pub fn run_ndjson(
    set: &FeatureSet,
    schema: &mamori_core::event::EventSchema,
    input: Box<dyn BufRead + Send>,
    out: Box<dyn Write + Send>,
    id_column: &str,
    on_error: OnError,
    progress: Progress<'_>,
) -> Result<Summary, RunError> {
    let mut w = CsvOut::new(out, set, id_column).map_err(output_error)?;
    let result =
        for_each_ndjson_event(set, schema, input, on_error, progress, |event, fv| w.row(Value::Str(&event.id), fv).map_err(output_error));
    w.finish().map_err(output_error)?;
    result
}

/// Computes the features of every event of an NDJSON file in the v1 contract, event by
/// event, and hands each to `each` with its features, in file order. Malformed lines are
/// handled as `on_error` says (named by line and JSON Pointer).
pub fn for_each_ndjson_event(
    set: &FeatureSet,
    schema: &mamori_core::event::EventSchema,
    mut input: Box<dyn BufRead + Send>,
    on_error: OnError,
    progress: Progress<'_>,
    mut each: impl FnMut(&mamori_core::event::Event, &FeatureVector) -> Result<(), RunError>,
) -> Result<Summary, RunError> {
    use mamori_core::event::{Event, EventRecord};
    let start = Instant::now();
    let mut summary = Summary::default();
    let mut engine = Engine::new(set);
    let mut fv = FeatureVector::default();
    let mut line = Vec::with_capacity(4096);
    let mut n: u64 = 0;
    loop {
        line.clear();
        let read = input.read_until(b'\n', &mut line).map_err(|source| RunError::Io { path: "input".into(), source })?;
        if read == 0 {
            break;
        }
        n += 1;
        let body = line.trim_ascii();
        if body.is_empty() {
            continue;
        }
        summary.rows += 1;
        let event = match Event::from_json_slice(body) {
            Ok(e) => e,
            Err(errs) => {
                let e = RowError {
                    line: n,
                    column: errs.errors.first().map_or(String::new(), |e| e.pointer.clone()),
                    message: errs.to_string(),
                };
                if on_error == OnError::Stop {
                    summary.stopped = true;
                    return Err(RunError::Stopped(e));
                }
                summary.error(e);
                continue;
            }
        };
        let rec = EventRecord::new(schema, &event);
        let outcome = engine.process(&rec, event.time, &mut fv);
        if outcome.late && summary.late_lines.len() < Summary::KEPT_ERRORS {
            summary.late_lines.push(n);
        }
        each(&event, &fv)?;
        summary.written += 1;
        if summary.rows.is_multiple_of(65_536) {
            progress(summary.rows);
        }
    }
    summary.path = "streaming";
    summary.stats = engine.stats();
    (summary.state_bytes, summary.state_pairs) = engine.memory();
    summary.elapsed = start.elapsed();
    progress(summary.rows);
    Ok(summary)
}
