//! `mamori train` and `mamori score`: a model of fraud labels over the features a
//! feature file declares, computed by the feature engine as of each row's own time.
//!
//! The model config (TOML):
//! ```toml
//! features = "features.toml"   # the feature file, relative to this one (CSV input)
//! label = "attributes.fraud"   # an input field the feature file maps: 1 fraud, 0 not, empty unknown
//! label_delay = "7d"           # how long after a row its label is known
//! events = ["charge"]          # from a store: the event types to learn (default: every money movement)
//! [params]                     # the learner's parameters (mamori_model::Params); all optional
//! trees = 200
//! ```
//! Training uses the rows from `--train-from` (inclusive) to `--train-to` (exclusive),
//! dates at 00:00 UTC. The model is as of `--train-to` plus the label delay: a row's label
//! is used only when it was known by then, and rows without a label are skipped.
//!
//! With `--data-dir` instead of `--input`, the rows are the service's own stored events
//! (read beside a running service, without stopping it), their features are the service's
//! packs' (`--rules`, or the built-in ones), and the labels are the `fraud_reported`
//! events received by then: an event is fraud when its institution reported it, and
//! legitimate otherwise. The model then fits the service: put it at `model.json` in the
//! data directory and send SIGHUP.

use std::collections::HashSet;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use mamori_core::event::{Event, EventKind, EventRecord, EventSchema};
use mamori_core::{Span, Timestamp, Type, Value};
use mamori_features::batch::{self, OnError, RunError};
use mamori_features::input::CsvMapping;
use mamori_features::{Engine, FeatureSet, FeatureVector, SourceMap};
use mamori_model::{Forest, MODEL_FILE_VERSION, Model, ModelFile, Params};
use serde::Deserialize;

#[derive(Debug, clap::Args)]
pub struct TrainArgs {
    /// The model config (TOML); optional with --data-dir.
    #[arg(long)]
    config: Option<PathBuf>,
    /// Events as CSV, mapped by the feature file's [input] (`.gz` read directly).
    #[arg(long, conflicts_with = "data_dir", required_unless_present = "data_dir")]
    input: Option<String>,
    /// Train on the events and fraud reports stored by `mamori serve` in this directory.
    #[arg(long)]
    data_dir: Option<PathBuf>,
    /// With --data-dir: the service's rule packs directory (default: the built-in packs).
    #[arg(long, requires = "data_dir")]
    rules: Option<PathBuf>,
    /// First day of training rows (YYYY-MM-DD, UTC).
    #[arg(long)]
    train_from: String,
    /// Day after the last day of training rows (YYYY-MM-DD, UTC).
    #[arg(long)]
    train_to: String,
    /// Where to write the model (JSON; replaced atomically).
    #[arg(long)]
    output: PathBuf,
}

#[derive(Debug, clap::Args)]
pub struct ScoreArgs {
    /// The model config (TOML) the model was trained with (for CSV input). Without it the
    /// input is NDJSON in the v1 contract and the features are the packs' (a model from
    /// `mamori train --data-dir`).
    #[arg(long)]
    config: Option<PathBuf>,
    /// The model written by `mamori train`.
    #[arg(long)]
    model: PathBuf,
    /// Events: CSV mapped by the feature file's [input], or NDJSON without --config (`.gz`
    /// read directly).
    #[arg(long)]
    input: String,
    /// Without --config: the service's rule packs directory (default: the built-in packs).
    #[arg(long, conflicts_with = "config")]
    rules: Option<PathBuf>,
    /// Where to write `ID,SCORE` for every row (CSV); `-` is standard output.
    #[arg(long)]
    output: String,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct ModelConfig {
    features: Option<PathBuf>,
    label: Option<String>,
    /// The input field naming the customer (for Card Precision@k in `mamori eval`).
    customer: Option<String>,
    label_delay: Option<String>,
    #[serde(default)]
    events: Vec<String>,
    #[serde(default)]
    params: Params,
}

/// The label delay when a config names none.
const DEFAULT_LABEL_DELAY: &str = "7d";

/// The event types a model trained on a store learns unless the config names others:
/// every movement of money.
const MONEY_MOVEMENTS: &[&str] = &["charge", "transfer", "withdrawal", "trade", "crypto_withdrawal", "card_payment"];

fn read_config(path: &Path) -> Result<ModelConfig, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    toml::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))
}

fn label_delay(cfg: &ModelConfig, origin: &str) -> Result<i64, String> {
    let text = cfg.label_delay.as_deref().unwrap_or(DEFAULT_LABEL_DELAY);
    Ok(Span::parse(text).map_err(|e| format!("{origin}: label_delay: {e}"))?.as_micros())
}

/// The model's inputs among a feature set's features, with their names: every output
/// feature that reads as a number. Any other output feature is refused, or, with
/// `skip_others`, left out.
fn model_inputs(set: &FeatureSet, origin: &str, skip_others: bool) -> Result<(Vec<usize>, Vec<String>), String> {
    let types: Vec<&Type> = set.types().collect();
    let all: Vec<&str> = set.names().collect();
    let mut inputs = Vec::new();
    for i in set.outputs() {
        if types[i].reads_as_number() {
            inputs.push(i);
        } else if !skip_others {
            return Err(format!("{origin}: feature `{}` is a {} and cannot be a model input (mark it output = false)", all[i], types[i]));
        }
    }
    let names = inputs.iter().map(|&i| all[i].to_string()).collect();
    Ok((inputs, names))
}

/// The feature file compiled for CSV input, and the model's inputs (its output features).
struct Setup {
    set: FeatureSet,
    mapping: CsvMapping,
    inputs: Vec<usize>,
    names: Vec<String>,
    label: Option<mamori_core::FieldId>,
    customer: Option<mamori_core::FieldId>,
    id_column: String,
    delay: i64,
    params: Params,
}

fn setup(config: &Path) -> Result<Setup, String> {
    let cfg = read_config(config)?;
    let origin = config.display().to_string();
    let delay = label_delay(&cfg, &origin)?;
    let Some(features) = &cfg.features else {
        return Err(format!("{origin}: `features` (the feature file) is needed to read a CSV input"));
    };
    let path = config.parent().unwrap_or(Path::new(".")).join(features);
    let name = path.display().to_string();
    let ftext = std::fs::read_to_string(&path).map_err(|e| format!("{name}: {e}"))?;
    let file = mamori_features::config::parse(&name, &ftext).map_err(|e| e.to_string())?;
    let map = SourceMap { file: &name, text: &ftext };
    let events = EventSchema::new();
    let mapping = CsvMapping::from_config(&file, &map, &events).map_err(|e| e.to_string())?;
    let set = FeatureSet::compile(&file, &map, mapping.schema()).map_err(|e| e.to_string())?;
    let field = |key: &str, path: &Option<String>| -> Result<Option<mamori_core::FieldId>, String> {
        let Some(p) = path else { return Ok(None) };
        let segs: Vec<&str> = p.split('.').collect();
        match mamori_core::Schema::resolve(mapping.schema(), &segs) {
            mamori_core::Resolution::Field(id, _) => Ok(Some(id)),
            _ => Err(format!("{origin}: {key} {p:?} is not a field the feature file's [input] maps")),
        }
    };
    let label = field("label", &cfg.label)?;
    let customer = field("customer", &cfg.customer)?;
    let (inputs, names) = model_inputs(&set, &name, false)?;
    let id_column = file.output.id_column.clone().unwrap_or_else(|| "event_id".to_string());
    Ok(Setup { set, mapping, inputs, names, label, customer, id_column, delay, params: cfg.params })
}

fn day(s: &str, what: &str) -> Result<Timestamp, String> {
    Timestamp::parse_naive(format!("{s}T00:00:00").as_bytes(), 0).map_err(|_| format!("{what} {s:?}: expected a date YYYY-MM-DD"))
}

fn row_values(fv: &FeatureVector, inputs: &[usize], out: &mut Vec<f64>) {
    out.clear();
    out.extend(inputs.iter().map(|&i| fv.0[i].as_value().as_f64().unwrap_or(f64::NAN)));
}

fn id_text(v: Value<'_>) -> String {
    match v {
        Value::Str(s) => s.to_string(),
        Value::Int(i) => i.to_string(),
        Value::Null => String::new(),
        other => format!("{other:?}"),
    }
}

/// Rows and labels to learn from, and what they were read from.
struct Rows {
    names: Vec<String>,
    x: Vec<Vec<f64>>,
    y: Vec<bool>,
    fingerprint: [u8; 32],
    events: Vec<String>,
    params: Params,
}

pub fn train(a: TrainArgs) -> Result<(), Box<dyn std::error::Error>> {
    let (from, to) = (day(&a.train_from, "--train-from")?, day(&a.train_to, "--train-to")?);
    if to <= from {
        return Err("--train-to must be after --train-from".into());
    }
    let (rows, as_of) = match (&a.input, &a.data_dir) {
        (Some(input), _) => {
            let config = a.config.as_deref().ok_or("--config is needed with --input")?;
            rows_from_csv(config, input, from, to)?
        }
        (None, Some(dir)) => rows_from_store(a.config.as_deref(), dir, a.rules.as_deref(), from, to)?,
        (None, None) => return Err("give --input FILE or --data-dir DIR".into()),
    };
    let clock = std::time::Instant::now();
    let model = mamori_model::train(&rows.names, &rows.x, &rows.y, &rows.params)?;
    let file = ModelFile {
        mamori_model: MODEL_FILE_VERSION,
        features_fingerprint: hex::encode(rows.fingerprint),
        trained_from: a.train_from.clone(),
        trained_to: a.train_to.clone(),
        as_of: Timestamp(as_of).to_rfc3339(),
        rows: rows.x.len(),
        frauds: rows.y.iter().filter(|&&b| b).count(),
        events: rows.events,
        model,
    };
    write_atomically(&a.output, &file.to_json())?;
    eprintln!(
        "mamori train: {} rows ({} frauds) from {} to {}, {} features, {} trees in {:.2} s → {}",
        file.rows,
        file.frauds,
        a.train_from,
        a.train_to,
        rows.names.len(),
        file.model.trees.len(),
        clock.elapsed().as_secs_f64(),
        a.output.display()
    );
    Ok(())
}

/// Writes `bytes` to a file beside `path`, then renames it over `path`: a reader (the
/// service on SIGHUP) sees the old file or the new one, never half of one.
fn write_atomically(path: &Path, bytes: &[u8]) -> Result<(), String> {
    let name = path.file_name().ok_or_else(|| format!("{}: not a file name", path.display()))?;
    let tmp = path.with_file_name(format!(".{}.tmp", name.to_string_lossy()));
    std::fs::write(&tmp, bytes).map_err(|e| format!("{}: {e}", tmp.display()))?;
    std::fs::rename(&tmp, path).map_err(|e| format!("{}: {e}", path.display()))
}

/// The labelled rows of a CSV file from `from` to `to` whose labels were known by `to`
/// plus the label delay, with that time.
fn rows_from_csv(config: &Path, input: &str, from: Timestamp, to: Timestamp) -> Result<(Rows, i64), Box<dyn std::error::Error>> {
    let mut s = setup(config)?;
    let label = s.label.ok_or_else(|| format!("{}: `label` (the input field of the fraud label) is needed to train", config.display()))?;
    let as_of = to.as_micros() + s.delay;
    let (mut x, mut y) = (Vec::new(), Vec::new());
    let mut row = Vec::new();
    let summary =
        batch::for_each_csv_row(&s.set, &mut s.mapping, batch::open_input(input)?, OnError::Stop, &mut |_| {}, |rec, t, _, fv| {
            if t < from || t >= to || t.as_micros() + s.delay > as_of {
                return Ok(());
            }
            let fraud = match rec.get(label).as_f64() {
                Some(v) => v != 0.0,
                None => return Ok(()),
            };
            row_values(fv, &s.inputs, &mut row);
            x.push(row.clone());
            y.push(fraud);
            Ok(())
        })
        .map_err(|e: RunError| e.to_string())?;
    if summary.malformed > 0 {
        return Err(format!("{input}: malformed rows").into());
    }
    let rows = Rows { names: s.names, x, y, fingerprint: s.set.fingerprint(), events: Vec::new(), params: s.params };
    Ok((rows, as_of))
}

/// The stored events of the chosen types from `from` to `to`, with the service's
/// features as of each one (replayed in the order the service decided them), labelled
/// fraud when their institution reported them by `to` plus the label delay.
fn rows_from_store(
    config: Option<&Path>,
    dir: &Path,
    rules: Option<&Path>,
    from: Timestamp,
    to: Timestamp,
) -> Result<(Rows, i64), Box<dyn std::error::Error>> {
    let cfg = match config {
        Some(c) => read_config(c)?,
        None => ModelConfig::default(),
    };
    let origin = config.map_or_else(|| "the default model config".to_string(), |c| c.display().to_string());
    if cfg.features.is_some() || cfg.label.is_some() {
        return Err(format!(
            "{origin}: `features` and `label` are for CSV input; a store is read with the service's packs and fraud reports"
        )
        .into());
    }
    let as_of = to.as_micros() + label_delay(&cfg, &origin)?;
    let types: Vec<String> =
        if cfg.events.is_empty() { MONEY_MOVEMENTS.iter().map(|t| t.to_string()).collect() } else { cfg.events.clone() };
    for t in &types {
        if mamori_core::event::EventType::parse(t).is_none() {
            return Err(format!("{origin}: events: unknown event type {t:?}").into());
        }
    }
    let schema = Arc::new(EventSchema::new());
    let packs = mamori_server::serve::load_packs(rules, &schema)?;
    let (inputs, names) = model_inputs(&packs.features, "the packs' features", true)?;
    let reported = fraud_labels(dir, as_of)?;
    let parse =
        |s: &mamori_store::StoredEvent| Event::from_json_slice(&s.body).map_err(|e| format!("stored event {} does not parse: {e}", s.seq));
    let mut engine = Engine::new(&packs.features);
    let mut fv = FeatureVector::default();
    let (mut x, mut y) = (Vec::new(), Vec::new());
    let mut row = Vec::new();
    mamori_store::Store::scan_dir(dir, 1, |s| {
        if mamori_server::journal::is_record(&s.event_type) {
            return Ok(());
        }
        let event = parse(&s)?;
        engine.process(&EventRecord::new(&schema, &event), event.time, &mut fv);
        if event.time >= from && event.time < to && types.iter().any(|t| t == &s.event_type) {
            row_values(&fv, &inputs, &mut row);
            x.push(row.clone());
            y.push(reported.contains(&(s.institution, s.id)));
        }
        Ok::<(), String>(())
    })
    .map_err(|e| format!("{}: {e}", dir.display()))?;
    let rows = Rows { names, x, y, fingerprint: packs.features.fingerprint(), events: types, params: cfg.params };
    Ok((rows, as_of))
}

/// The events labelled fraud by `as_of`, (institution, event id): named by a
/// `fraud_reported` (a customer's or institution's report, an analyst's verdict of fraud),
/// unless a later verdict of legit cleared them.
fn fraud_labels(dir: &Path, as_of: i64) -> Result<HashSet<(String, String)>, Box<dyn std::error::Error>> {
    use mamori_server::cases::{CaseRecord, Verdict};
    use mamori_server::journal::{RECORD_TYPE, Record};
    let mut labels: HashSet<(String, String)> = HashSet::new();
    mamori_store::Store::scan_dir(dir, 1, |s| {
        if s.time_us > as_of {
            return Ok(());
        }
        if s.event_type == "fraud_reported" {
            let event = Event::from_json_slice(&s.body).map_err(|e| format!("stored event {} does not parse: {e}", s.seq))?;
            if let EventKind::FraudReported { events, .. } = event.kind {
                labels.extend(events.into_iter().map(|id| (s.institution.clone(), id)));
            }
        } else if s.event_type == RECORD_TYPE
            && let Ok(Record::Case(CaseRecord::Resolve { verdict: Verdict::Legit, cleared, .. })) = Record::from_json(&s.body)
        {
            for e in &cleared {
                labels.remove(e);
            }
        }
        Ok::<(), String>(())
    })
    .map_err(|e| format!("{}: {e}", dir.display()))?;
    Ok(labels)
}

pub fn score(a: ScoreArgs) -> Result<(), Box<dyn std::error::Error>> {
    let bytes = std::fs::read(&a.model).map_err(|e| format!("{}: {e}", a.model.display()))?;
    let file = ModelFile::from_json(&bytes).map_err(|e| format!("{}: {e}", a.model.display()))?;
    let Some(config) = &a.config else { return score_events(&a, &file) };
    let mut s = setup(config)?;
    let model: Model = file.model;
    if file.features_fingerprint != hex::encode(s.set.fingerprint()) || model.features != s.names {
        return Err(format!("{}: trained on other features than {} declares; train it again", a.model.display(), config.display()).into());
    }
    let forest = Forest::new(&model);
    let mut out = batch::open_output(&a.output)?;
    let write_error = |e: std::io::Error| RunError::Input(format!("{}: {e}", a.output));
    out.write_all(format!("{},SCORE\n", s.id_column).as_bytes()).map_err(write_error)?;
    // A time-ordered file whose features are plain windows: features column by column,
    // then scored and formatted in blocks on both cores. Anything else: event by event.
    if s.set.is_columnar() && a.input != "-" {
        let cols = mamori_features::Columns::for_numbers(&s.set);
        if let Ok(loaded) = batch::load_csv_columnar(cols, &mut s.mapping, batch::open_input(&a.input)?, OnError::Stop, &mut |_| {})? {
            let width = s.inputs.len();
            batch::parallel_chunks(
                loaded.cols.len(),
                |first, last, buf| {
                    let mut x = Vec::with_capacity((last - first) * width);
                    for row in first..last {
                        x.extend(s.inputs.iter().map(|&i| loaded.cols.number(i, row)));
                    }
                    let mut scores = vec![0.0; last - first];
                    forest.scores(&x, width, &mut scores);
                    for (row, score) in (first..last).zip(scores) {
                        buf.extend_from_slice(loaded.id(row));
                        write_score(buf, score);
                    }
                },
                |part| out.write_all(part).map_err(write_error),
            )?;
            out.flush().map_err(write_error)?;
            return Ok(());
        }
    }
    let id_field = s.mapping.id_field();
    let mut row = Vec::new();
    let mut line = Vec::new();
    batch::for_each_csv_row(&s.set, &mut s.mapping, batch::open_input(&a.input)?, OnError::Stop, &mut |_| {}, |rec, _, n, fv| {
        row_values(fv, &s.inputs, &mut row);
        line.clear();
        mamori_features::output::write_value(
            &mut line,
            id_field.map_or(Value::Int(n as i64), |i| rec.get(mamori_core::FieldId::new(0, i as u32))),
        );
        write_score(&mut line, forest.score(&row));
        out.write_all(&line).map_err(write_error)
    })
    .map_err(|e: RunError| e.to_string())?;
    out.flush().map_err(write_error)?;
    Ok(())
}

/// `mamori score` of v1 events (NDJSON) with a model of the packs' features: `event_id,score`
/// for every event, the score empty for event types the model was not trained on.
fn score_events(a: &ScoreArgs, file: &ModelFile) -> Result<(), Box<dyn std::error::Error>> {
    let schema = EventSchema::new();
    let packs = mamori_server::serve::load_packs(a.rules.as_deref(), &schema)?;
    if file.features_fingerprint != hex::encode(packs.features.fingerprint()) {
        return Err(format!("{}: trained on other features than the packs in use declare; train it again", a.model.display()).into());
    }
    let all: Vec<&str> = packs.features.names().collect();
    let inputs: Vec<usize> = file
        .model
        .features
        .iter()
        .map(|f| all.iter().position(|n| n == f).ok_or_else(|| format!("{}: feature `{f}` is not declared", a.model.display())))
        .collect::<Result<_, _>>()?;
    let forest = Forest::new(&file.model);
    let mut out = batch::open_output(&a.output)?;
    let write_error = |e: std::io::Error| RunError::Input(format!("{}: {e}", a.output));
    out.write_all(b"event_id,score\n").map_err(write_error)?;
    let (mut row, mut line) = (Vec::new(), Vec::new());
    batch::for_each_ndjson_event(&packs.features, &schema, batch::open_input(&a.input)?, OnError::Stop, &mut |_| {}, |event, fv| {
        line.clear();
        mamori_features::output::write_value(&mut line, Value::Str(&event.id));
        let kind = event.event_type().as_str();
        if file.events.is_empty() || file.events.iter().any(|e| e == kind) {
            row_values(fv, &inputs, &mut row);
            write_score(&mut line, forest.score(&row));
        } else {
            line.extend_from_slice(b",\n");
        }
        out.write_all(&line).map_err(write_error)
    })
    .map_err(|e: RunError| e.to_string())?;
    out.flush().map_err(write_error)?;
    Ok(())
}

/// `,SCORE` and the end of the line, the score to six decimals.
fn write_score(buf: &mut Vec<u8>, score: f64) {
    use std::io::Write as _;
    let _ = writeln!(buf, ",{score:.6}");
}

const DAY_US: i64 = 86_400_000_000;

/// One labelled row kept for an evaluation.
struct EvalRow {
    day: i64,
    customer: String,
    fraud: bool,
    x: Vec<f64>,
}

/// What one evaluation window measured.
#[derive(Debug, serde::Serialize)]
struct Window {
    train_from: String,
    train_to: String,
    test_from: String,
    test_to: String,
    train_rows: usize,
    train_frauds: usize,
    test_rows: usize,
    test_frauds: usize,
    auc_roc: f64,
    average_precision: f64,
    card_precision_at_100: f64,
    training_seconds: f64,
}

/// `mamori eval --model-config`: the Fraud Detection Handbook's protocol, over `weeks`
/// windows a week apart. Each trains on its window (labels as known at its end plus the
/// delay), skips the delay, and tests on as many days as it trained on, leaving out the
/// rows of customers already known to be compromised: those with a fraud in training, or
/// on a day of the delay before the test day. AUC ROC, Average Precision and Card
/// Precision@100 (per test day, the 100 customers with the highest score, the share of
/// them compromised, averaged over the days).
pub fn evaluate(config: &Path, input: &str, from: &str, to: &str, weeks: usize, json: bool) -> Result<(), Box<dyn std::error::Error>> {
    let mut s = setup(config)?;
    let label = s.label.ok_or_else(|| format!("{}: `label` is needed to evaluate", config.display()))?;
    let customer = s
        .customer
        .ok_or_else(|| format!("{}: `customer` (the input field of the customer) is needed for Card Precision", config.display()))?;
    let (from, to) = (day(from, "--train-from")?.as_micros(), day(to, "--train-to")?.as_micros());
    if to <= from || (to - from) % DAY_US != 0 || s.delay % DAY_US != 0 {
        return Err("the training window and the label delay must be whole days, the window at least one".into());
    }
    if weeks == 0 {
        return Err("--weeks must be at least 1".into());
    }
    let (span, delay) = ((to - from) / DAY_US, s.delay / DAY_US);
    let (first, last) = (from / DAY_US, from / DAY_US + 7 * (weeks as i64 - 1) + 2 * span + delay);
    let mut rows: Vec<EvalRow> = Vec::new();
    let mut x = Vec::new();
    batch::for_each_csv_row(&s.set, &mut s.mapping, batch::open_input(input)?, OnError::Stop, &mut |_| {}, |rec, t, _, fv| {
        let day = t.as_micros().div_euclid(DAY_US);
        let Some(fraud) = rec.get(label).as_f64() else { return Ok(()) };
        if day >= first && day < last {
            row_values(fv, &s.inputs, &mut x);
            rows.push(EvalRow { day, customer: id_text(rec.get(customer)), fraud: fraud != 0.0, x: x.clone() });
        }
        Ok(())
    })
    .map_err(|e: RunError| e.to_string())?;
    let date = |d: i64| Timestamp(d * DAY_US).to_rfc3339()[..10].to_string();
    let mut windows = Vec::new();
    for w in 0..weeks as i64 {
        let start = first + 7 * w;
        let test_start = start + span + delay;
        let train: Vec<&EvalRow> = rows.iter().filter(|r| r.day >= start && r.day < start + span).collect();
        let tx: Vec<Vec<f64>> = train.iter().map(|r| r.x.clone()).collect();
        let ty: Vec<bool> = train.iter().map(|r| r.fraud).collect();
        let clock = std::time::Instant::now();
        let model = mamori_model::train(&s.names, &tx, &ty, &s.params).map_err(|e| format!("window {}: {e}", date(start)))?;
        let training_seconds = clock.elapsed().as_secs_f64();
        let forest = mamori_model::Forest::new(&model);
        let mut known: HashSet<&str> = train.iter().filter(|r| r.fraud).map(|r| r.customer.as_str()).collect();
        let mut test: Vec<&EvalRow> = Vec::new();
        for d in 0..span {
            let delay_day = start + span + d - 1;
            known.extend(rows.iter().filter(|r| r.day == delay_day && r.fraud).map(|r| r.customer.as_str()));
            test.extend(rows.iter().filter(|r| r.day == test_start + d && !known.contains(r.customer.as_str())));
        }
        let scores: Vec<f64> = test.iter().map(|r| forest.score(&r.x)).collect();
        let labels: Vec<bool> = test.iter().map(|r| r.fraud).collect();
        let scored: Vec<mamori_model::metrics::Scored> = test
            .iter()
            .zip(&scores)
            .map(|(r, &score)| mamori_model::metrics::Scored { day: r.day, customer: &r.customer, score, fraud: r.fraud })
            .collect();
        windows.push(Window {
            train_from: date(start),
            train_to: date(start + span),
            test_from: date(test_start),
            test_to: date(test_start + span),
            train_rows: train.len(),
            train_frauds: ty.iter().filter(|&&b| b).count(),
            test_rows: test.len(),
            test_frauds: labels.iter().filter(|&&b| b).count(),
            auc_roc: mamori_model::metrics::auc(&scores, &labels),
            average_precision: mamori_model::metrics::average_precision(&scores, &labels),
            card_precision_at_100: mamori_model::metrics::card_precision_at_k(&scored, 100),
            training_seconds,
        });
    }
    if json {
        println!("{}", serde_json::to_string_pretty(&windows)?);
        return Ok(());
    }
    println!("train (from, to)          test (from, to)           train rows/frauds  test rows/frauds  AUC ROC  AP     CP@100  training");
    for w in &windows {
        println!(
            "{} .. {}  {} .. {}  {:>9} / {:<6} {:>8} / {:<6} {:.3}    {:.3}  {:.3}   {:.2} s",
            w.train_from,
            w.train_to,
            w.test_from,
            w.test_to,
            w.train_rows,
            w.train_frauds,
            w.test_rows,
            w.test_frauds,
            w.auc_roc,
            w.average_precision,
            w.card_precision_at_100,
            w.training_seconds
        );
    }
    if windows.len() > 1 {
        let mean = |f: fn(&Window) -> f64| windows.iter().map(f).sum::<f64>() / windows.len() as f64;
        println!(
            "mean of {} windows: AUC ROC {:.3}, AP {:.3}, CP@100 {:.3}",
            windows.len(),
            mean(|w| w.auc_roc),
            mean(|w| w.average_precision),
            mean(|w| w.card_precision_at_100)
        );
    }
    Ok(())
}

#[cfg(test)]
mod label_tests {
    use mamori_server::cases::{CaseRecord, Verdict};
    use mamori_server::journal::{RECORD_TYPE, Record};
    use mamori_store::{NewEvent, Store};

    fn stored(id: &str, event_type: &str, time_us: i64, body: Vec<u8>) -> NewEvent {
        NewEvent {
            institution: "bank".into(),
            id: id.into(),
            event_type: event_type.into(),
            time_us,
            received_us: time_us,
            body_hash: [0; 32],
            body,
            decision: b"{}".to_vec(),
            notices: Vec::new(),
            report_codes: Vec::new(),
            notices_later: false,
        }
    }

    #[test]
    fn a_verdict_of_legit_clears_the_labels_a_report_gave() {
        let dir = std::env::temp_dir().join(format!("mamori-labels-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let store = Store::open(&dir).unwrap();
        let t = 1_795_255_200_000_000;
        let report = br#"{"id":"r1","type":"fraud_reported","time":"2026-11-21T10:00:00Z","institution":"bank","events":["e1","e2"],"source":"customer"}"#;
        let legit = Record::Case(CaseRecord::Resolve {
            case: "C-1".into(),
            verdict: Verdict::Legit,
            comment: String::new(),
            by: "analyst".into(),
            at_us: t + 10,
            claims: Vec::new(),
            cleared: vec![("bank".into(), "e1".into())],
        });
        let later = br#"{"id":"r2","type":"fraud_reported","time":"2026-11-21T10:00:20Z","institution":"bank","events":["e3"],"source":"customer"}"#;
        let seqs = store
            .submit(vec![
                stored("r1", "fraud_reported", t, report.to_vec()),
                stored("mamori:record:2", RECORD_TYPE, t + 10, legit.to_json()),
                stored("r2", "fraud_reported", t + 20_000_000, later.to_vec()),
            ])
            .unwrap();
        store.wait_durable(seqs[2]).unwrap();
        let labels = super::fraud_labels(&dir, t + 15).unwrap();
        assert_eq!(labels.into_iter().collect::<Vec<_>>(), [("bank".to_string(), "e2".to_string())]);
        assert_eq!(super::fraud_labels(&dir, i64::MAX).unwrap().len(), 2);
        store.close().unwrap();
        let _ = std::fs::remove_dir_all(&dir);
    }
}
