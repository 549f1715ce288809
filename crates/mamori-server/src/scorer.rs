//! The learned model in the service: its score is `model.score` (and `model.percent`)
//! for the rules, and the features that pushed it most go on the decision, in words.
//!
//! A model (a file written by `mamori train`) is bound to the feature set it was trained
//! on: the service accepts it only when its feature fingerprint is the fingerprint of the
//! packs' features, so a score always means what it meant in training. It scores the
//! event types it was trained on (all of them when it names none); for other events, and
//! when no model is loaded, `model.score` is null and rules reading it do not fire.

use std::path::Path;
use std::sync::LazyLock;

use mamori_core::value::{OwnedValue, Type};
use mamori_core::{StaticSchema, VecRecord};
use mamori_features::{FeatureSet, FeatureVector};
use mamori_model::{Explainer, Forest, Model, ModelFile};
use mamori_rules::{Driver, ModelOpinion};
use serde::Serialize;
use sha2::{Digest, Sha256};

/// The model file in the data directory, loaded at start and on SIGHUP.
pub const MODEL_FILE: &str = "model.json";

/// How many features a decision names as the model's drivers.
pub const DRIVERS: usize = 3;

/// What the rules may read under `model.`, in record order: the probability of fraud,
/// and the same in whole percent (rounded down; for reasons: "99%").
const FIELDS: [(&str, Type); 2] = [("score", Type::Double), ("percent", Type::Int)];

/// The schema of the `model` root.
pub fn schema() -> &'static StaticSchema {
    static SCHEMA: LazyLock<StaticSchema> = LazyLock::new(|| StaticSchema::new(FIELDS.iter().map(|(n, t)| (*n, t.clone()))));
    &SCHEMA
}

/// What `GET /v1/model` says of the model in use.
#[derive(Debug, Clone, Serialize)]
pub struct ModelInfo {
    /// `sha256:<hex>` of the model file.
    pub id: String,
    pub trained_from: String,
    pub trained_to: String,
    pub as_of: String,
    pub rows: usize,
    pub frauds: usize,
    pub events: Vec<String>,
    pub features: Vec<String>,
    pub trees: usize,
}

/// A model ready to score the judge's feature vectors.
pub struct Scorer {
    info: ModelInfo,
    model: Model,
    forest: Forest,
    explainer: Explainer,
    /// Per model input, its index in the feature set.
    inputs: Vec<usize>,
    /// Per model input, how a reason names it (its description, or its name).
    words: Vec<String>,
}

impl std::fmt::Debug for Scorer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Scorer").field("id", &self.info.id).finish_non_exhaustive()
    }
}

impl Scorer {
    /// Reads `dir/model.json` if there is one.
    pub fn load(dir: &Path, features: &FeatureSet) -> Result<Option<Scorer>, String> {
        let path = dir.join(MODEL_FILE);
        match std::fs::read(&path) {
            Ok(bytes) => Scorer::from_bytes(&bytes, features).map(Some).map_err(|e| format!("{}: {e}", path.display())),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(format!("{}: {e}", path.display())),
        }
    }

    /// A model file's bytes, checked against the features it will read.
    pub fn from_bytes(bytes: &[u8], features: &FeatureSet) -> Result<Scorer, String> {
        let file = ModelFile::from_json(bytes)?;
        if file.features_fingerprint != hex::encode(features.fingerprint()) {
            return Err("the model was trained on other features than the packs in use declare; train it again on these".into());
        }
        let names: Vec<&str> = features.names().collect();
        let descriptions: Vec<Option<&str>> = features.descriptions().collect();
        let types: Vec<&Type> = features.types().collect();
        let mut inputs = Vec::with_capacity(file.model.features.len());
        let mut words = Vec::with_capacity(file.model.features.len());
        for name in &file.model.features {
            let i =
                names.iter().position(|n| n == name).ok_or_else(|| format!("the model reads feature `{name}`, which is not declared"))?;
            if !types[i].reads_as_number() {
                return Err(format!("the model reads feature `{name}`, a {}, which is not a number", types[i]));
            }
            inputs.push(i);
            words.push(descriptions[i].unwrap_or(name).to_string());
        }
        let id = format!("sha256:{}", hex::encode(Sha256::digest(bytes)));
        let info = ModelInfo {
            id,
            trained_from: file.trained_from,
            trained_to: file.trained_to,
            as_of: file.as_of,
            rows: file.rows,
            frauds: file.frauds,
            events: file.events,
            features: file.model.features.clone(),
            trees: file.model.trees.len(),
        };
        let forest = Forest::new(&file.model);
        let explainer = Explainer::new(&file.model);
        Ok(Scorer { info, model: file.model, forest, explainer, inputs, words })
    }

    pub fn info(&self) -> &ModelInfo {
        &self.info
    }

    /// Whether the model scores events of this type.
    pub fn applies(&self, event_type: &str) -> bool {
        self.info.events.is_empty() || self.info.events.iter().any(|e| e == event_type)
    }

    /// The model's inputs from the feature vector (missing values as NaN) into `row`,
    /// and the probability of fraud.
    pub fn score(&self, fv: &FeatureVector, row: &mut Vec<f64>) -> f64 {
        row.clear();
        row.extend(self.inputs.iter().map(|&i| fv.0[i].as_value().as_f64().unwrap_or(f64::NAN)));
        self.forest.score(row)
    }

    /// The score of `row` with the features that pushed it most, in words.
    pub fn opinion(&self, row: &[f64], score: f64) -> ModelOpinion {
        let drivers = self
            .explainer
            .top(&self.model, row, DRIVERS)
            .into_iter()
            .map(|a| {
                let v = row[a.feature];
                let value = (!v.is_nan()).then_some(v);
                let what = match value {
                    Some(v) => format!("{} = {}", self.words[a.feature], number(v)),
                    None => format!("{} (no value)", self.words[a.feature]),
                };
                let way = if a.push > 0.0 { "raised" } else { "lowered" };
                Driver {
                    feature: self.model.features[a.feature].clone(),
                    value,
                    push: a.push,
                    detail: format!("{what} {way} the fraud score ({:+.2} log-odds)", a.push),
                }
            })
            .collect();
        ModelOpinion { model: self.info.id.clone(), score, drivers }
    }
}

/// A feature value as a person reads it: whole numbers without a fraction, others to
/// four decimals at most.
fn number(v: f64) -> String {
    if v.fract() == 0.0 && v.abs() < 1e15 {
        format!("{v:.0}")
    } else {
        let s = format!("{v:.4}");
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    }
}

/// Sets the `model` root's record for an event: its score, or null.
pub fn describe(score: Option<f64>, out: &mut VecRecord) {
    // Most events have no score, like the one before: nothing to write.
    if score.is_none() && out.0.len() == 2 && out.0.iter().all(OwnedValue::is_null) {
        return;
    }
    out.0.clear();
    out.0.push(score.map_or(OwnedValue::Null, OwnedValue::Double));
    out.0.push(score.map_or(OwnedValue::Null, |s| OwnedValue::Int((s * 100.0).floor() as i64)));
}

#[cfg(test)]
mod tests {
    use super::number;

    #[test]
    fn a_score_is_described_and_then_its_absence() {
        use mamori_core::{OwnedValue, VecRecord};
        let mut rec = VecRecord::default();
        super::describe(None, &mut rec);
        assert_eq!(rec.0, vec![OwnedValue::Null, OwnedValue::Null]);
        super::describe(Some(0.257), &mut rec);
        assert_eq!(rec.0, vec![OwnedValue::Double(0.257), OwnedValue::Int(25)]);
        super::describe(None, &mut rec);
        assert_eq!(rec.0, vec![OwnedValue::Null, OwnedValue::Null]);
        super::describe(None, &mut rec);
        assert_eq!(rec.0, vec![OwnedValue::Null, OwnedValue::Null]);
    }

    #[test]
    fn numbers_read_plainly() {
        assert_eq!(number(12.0), "12");
        assert_eq!(number(120000.0), "120000");
        assert_eq!(number(0.25), "0.25");
        assert_eq!(number(1.0 / 3.0), "0.3333");
        assert_eq!(number(-2.5), "-2.5");
    }
}
