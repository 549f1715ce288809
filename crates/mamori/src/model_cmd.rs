//! `mamori train` and `mamori score`: a model of fraud labels over the features a
//! feature file declares, computed by the feature engine as of each row's own time.
//!
//! The model config (TOML):
//! ```toml
//! features = "features.toml"   # the feature file, relative to this one
//! label = "attributes.fraud"   # an input field the feature file maps: 1 fraud, 0 not, empty unknown
//! label_delay = "7d"           # how long after a row its label is known
//! [params]                     # the learner's parameters (mamori_model::Params); all optional
//! trees = 200
//! ```
//! Training uses the rows from `--train-from` (inclusive) to `--train-to` (exclusive),
//! dates at 00:00 UTC. The model is as of `--train-to` plus the label delay: a row's label
//! is used only when it was known by then, and rows without a label are skipped.

use std::path::{Path, PathBuf};

use mamori_core::{Span, Timestamp, Type, Value};
use mamori_features::batch::{self, OnError, RunError};
use mamori_features::input::CsvMapping;
use mamori_features::{FeatureSet, FeatureVector, SourceMap};
use mamori_model::{Model, Params};
use serde::{Deserialize, Serialize};

#[derive(Debug, clap::Args)]
pub struct TrainArgs {
    /// The model config (TOML).
    #[arg(long)]
    config: PathBuf,
    /// Events as CSV, mapped by the feature file's [input] (`.gz` read directly).
    #[arg(long)]
    input: String,
    /// First day of training rows (YYYY-MM-DD, UTC).
    #[arg(long)]
    train_from: String,
    /// Day after the last day of training rows (YYYY-MM-DD, UTC).
    #[arg(long)]
    train_to: String,
    /// Where to write the model (JSON).
    #[arg(long)]
    output: PathBuf,
}

#[derive(Debug, clap::Args)]
pub struct ScoreArgs {
    /// The model config (TOML) the model was trained with.
    #[arg(long)]
    config: PathBuf,
    /// The model written by `mamori train`.
    #[arg(long)]
    model: PathBuf,
    /// Events as CSV, mapped by the feature file's [input] (`.gz` read directly).
    #[arg(long)]
    input: String,
    /// Where to write `ID,SCORE` for every row (CSV); `-` is standard output.
    #[arg(long)]
    output: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ModelConfig {
    features: PathBuf,
    label: String,
    label_delay: String,
    #[serde(default)]
    params: Params,
}

/// What `mamori train` writes: the model and what it was trained from.
#[derive(Debug, Serialize, Deserialize)]
struct ModelFile {
    mamori_model: u32,
    /// sha-256 of the compiled feature set, hex: scoring with other features is refused.
    features_fingerprint: String,
    trained_from: String,
    trained_to: String,
    as_of: String,
    rows: usize,
    frauds: usize,
    model: Model,
}

/// The feature file compiled for CSV input, and the model's inputs (its output features).
struct Setup {
    set: FeatureSet,
    mapping: CsvMapping,
    inputs: Vec<usize>,
    names: Vec<String>,
    label: mamori_core::FieldId,
    id_column: String,
    delay: i64,
    params: Params,
}

fn setup(config: &Path) -> Result<Setup, String> {
    let text = std::fs::read_to_string(config).map_err(|e| format!("{}: {e}", config.display()))?;
    let cfg: ModelConfig = toml::from_str(&text).map_err(|e| format!("{}: {e}", config.display()))?;
    let delay = Span::parse(&cfg.label_delay).map_err(|e| format!("{}: label_delay: {e}", config.display()))?.as_micros();
    let path = config.parent().unwrap_or(Path::new(".")).join(&cfg.features);
    let name = path.display().to_string();
    let ftext = std::fs::read_to_string(&path).map_err(|e| format!("{name}: {e}"))?;
    let file = mamori_features::config::parse(&name, &ftext).map_err(|e| e.to_string())?;
    let map = SourceMap { file: &name, text: &ftext };
    let events = mamori_core::event::EventSchema::new();
    let mapping = CsvMapping::from_config(&file, &map, &events).map_err(|e| e.to_string())?;
    let set = FeatureSet::compile(&file, &map, mapping.schema()).map_err(|e| e.to_string())?;
    let segs: Vec<&str> = cfg.label.split('.').collect();
    let label = match mamori_core::Schema::resolve(mapping.schema(), &segs) {
        mamori_core::Resolution::Field(id, _) => id,
        _ => return Err(format!("{}: label {:?} is not a field the feature file's [input] maps", config.display(), cfg.label)),
    };
    let types: Vec<&Type> = set.types().collect();
    let all: Vec<&str> = set.names().collect();
    let inputs: Vec<usize> = set.outputs().collect();
    for &i in &inputs {
        if !matches!(types[i], Type::Int | Type::Double | Type::Decimal | Type::Bool | Type::Null) {
            return Err(format!("{name}: feature `{}` is a {} and cannot be a model input (mark it output = false)", all[i], types[i]));
        }
    }
    let names = inputs.iter().map(|&i| all[i].to_string()).collect();
    let id_column = file.output.id_column.clone().unwrap_or_else(|| "event_id".to_string());
    Ok(Setup { set, mapping, inputs, names, label, id_column, delay, params: cfg.params })
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

pub fn train(a: TrainArgs) -> Result<(), Box<dyn std::error::Error>> {
    let mut s = setup(&a.config)?;
    let (from, to) = (day(&a.train_from, "--train-from")?, day(&a.train_to, "--train-to")?);
    if to <= from {
        return Err("--train-to must be after --train-from".into());
    }
    let as_of = to.as_micros() + s.delay;
    let (mut x, mut y) = (Vec::new(), Vec::new());
    let mut row = Vec::new();
    let input = batch::open_input(&a.input)?;
    let label = s.label;
    let summary = batch::for_each_csv_row(&s.set, &mut s.mapping, input, OnError::Stop, &mut |_| {}, |rec, t, _, fv| {
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
        return Err(format!("{}: malformed rows", a.input).into());
    }
    let clock = std::time::Instant::now();
    let model = mamori_model::train(&s.names, &x, &y, &s.params)?;
    let file = ModelFile {
        mamori_model: 1,
        features_fingerprint: hex::encode(s.set.fingerprint()),
        trained_from: a.train_from.clone(),
        trained_to: a.train_to.clone(),
        as_of: Timestamp(as_of).to_rfc3339(),
        rows: x.len(),
        frauds: y.iter().filter(|&&b| b).count(),
        model,
    };
    let json = serde_json::to_string(&file)?;
    std::fs::write(&a.output, json).map_err(|e| format!("{}: {e}", a.output.display()))?;
    eprintln!(
        "mamori train: {} rows ({} frauds) from {} to {}, {} features, {} trees in {:.2} s → {}",
        file.rows,
        file.frauds,
        a.train_from,
        a.train_to,
        s.names.len(),
        file.model.trees.len(),
        clock.elapsed().as_secs_f64(),
        a.output.display()
    );
    Ok(())
}

pub fn score(a: ScoreArgs) -> Result<(), Box<dyn std::error::Error>> {
    let mut s = setup(&a.config)?;
    let text = std::fs::read_to_string(&a.model).map_err(|e| format!("{}: {e}", a.model.display()))?;
    let file: ModelFile = serde_json::from_str(&text).map_err(|e| format!("{}: not a mamori model: {e}", a.model.display()))?;
    file.model.validate().map_err(|e| format!("{}: {e}", a.model.display()))?;
    let model = file.model;
    if file.features_fingerprint != hex::encode(s.set.fingerprint()) || model.features != s.names {
        return Err(format!("{}: trained on other features than {} declares; train it again", a.model.display(), a.config.display()).into());
    }
    let mut out = csv::Writer::from_writer(batch::open_output(&a.output)?);
    out.write_record([s.id_column.as_str(), "SCORE"])?;
    let id_field = s.mapping.id_field();
    let mut row = Vec::new();
    let input = batch::open_input(&a.input)?;
    batch::for_each_csv_row(&s.set, &mut s.mapping, input, OnError::Stop, &mut |_| {}, |rec, _, n, fv| {
        row_values(fv, &s.inputs, &mut row);
        let id = id_field.map_or_else(|| n.to_string(), |i| id_text(rec.get(mamori_core::FieldId::new(0, i as u32))));
        let score = model.score(&row);
        out.write_record([id.as_str(), &format!("{score:.6}")]).map_err(|e| RunError::Input(format!("{}: {e}", a.output)))
    })
    .map_err(|e: RunError| e.to_string())?;
    out.flush()?;
    Ok(())
}
