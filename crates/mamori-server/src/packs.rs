//! Rule and feature packs: the built-in ones, or a directory given with `--rules`.
//!
//! A directory holds at most one feature file, `features.toml`, and any number of rule
//! packs (every other `*.toml`). Everything is compiled before anything is used: a
//! directory with one bad file is refused as a whole, with every diagnostic.

use std::path::Path;
use std::sync::Arc;

use mamori_core::CompositeSchema;
use mamori_core::event::EventSchema;
use mamori_features::{FeatureSet, SourceMap};
use mamori_rules::{PackSource, Ruleset};
use sha2::{Digest, Sha256};

/// The packs compiled into the binary (the repository's `packs/` directory).
pub const BUILTIN: &[(&str, &str)] =
    &[("features.toml", include_str!("../../../packs/features.toml")), ("incidents.toml", include_str!("../../../packs/incidents.toml"))];

/// A compiled set of packs, ready to decide.
#[derive(Debug, Clone)]
pub struct Packs {
    pub features: Arc<FeatureSet>,
    pub rules: Arc<Ruleset>,
    /// `sha256:` of the feature file's text: a different value means the feature state
    /// must be rebuilt.
    pub features_id: String,
    /// Where the packs came from (`built-in` or a directory).
    pub origin: String,
}

/// Why packs were refused: every diagnostic, rendered with file, line and column.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct PackError(pub String);

/// The rules' roots, in the order their schema is made (see [`Packs::compile`]).
const COMPROMISE_ROOT: u8 = 2;

impl Packs {
    /// Whether any rule or breaker reads what the compromise analysis says of an event (the
    /// `compromise` root). Where none does, that analysis changes no decision.
    pub fn reads_compromise(&self) -> bool {
        self.rules.reads_part(COMPROMISE_ROOT)
    }

    /// The built-in packs.
    pub fn builtin(events: &EventSchema) -> Result<Packs, PackError> {
        let files: Vec<(String, String)> = BUILTIN.iter().map(|(n, t)| ((*n).to_string(), (*t).to_string())).collect();
        Packs::compile(files, events, "built-in")
    }

    /// Every `*.toml` in `dir`.
    pub fn from_dir(dir: &Path, events: &EventSchema) -> Result<Packs, PackError> {
        let files = toml_files(dir)?;
        if files.is_empty() {
            return Err(PackError(format!("{}: no rule packs (*.toml) in the directory", dir.display())));
        }
        Packs::compile(files, events, &dir.display().to_string())
    }

    /// The rule packs of `dir` with the feature file `features` in place of the
    /// directory's own `features.toml` (a feature file kept elsewhere, such as one that
    /// also maps a CSV's columns).
    pub fn from_dir_with_features(dir: &Path, features: &Path, events: &EventSchema) -> Result<Packs, PackError> {
        let text = std::fs::read_to_string(features).map_err(|e| PackError(format!("{}: {e}", features.display())))?;
        let mut files = vec![(features.display().to_string(), text)];
        files.extend(toml_files(dir)?.into_iter().filter(|(name, _)| !is_features(name)));
        Packs::compile_with(files, events, &dir.display().to_string(), true)
    }

    fn compile(files: Vec<(String, String)>, events: &EventSchema, origin: &str) -> Result<Packs, PackError> {
        Packs::compile_with(files, events, origin, false)
    }

    /// `first_is_features`: the first file is the feature file, whatever its name.
    fn compile_with(
        mut files: Vec<(String, String)>,
        events: &EventSchema,
        origin: &str,
        first_is_features: bool,
    ) -> Result<Packs, PackError> {
        let (feature_files, rule_files): (Vec<_>, Vec<_>) = if first_is_features {
            let rest = files.split_off(1);
            (files, rest)
        } else {
            files.into_iter().partition(|(n, _)| is_features(n))
        };
        let (features, features_id) = match feature_files.as_slice() {
            [] => {
                let set = mamori_features::load("features.toml", "", events).map_err(|e| PackError(e.to_string()))?.1;
                (set, sha256(""))
            }
            [(name, text)] => {
                let parsed = mamori_features::config::parse(name, text).map_err(|e| PackError(e.to_string()))?;
                let set = FeatureSet::compile(&parsed, &SourceMap { file: name, text }, events).map_err(|e| PackError(e.to_string()))?;
                (set, sha256(text))
            }
            _ => unreachable!("one directory has one features.toml"),
        };
        if rule_files.is_empty() {
            return Err(PackError(format!("{origin}: no rule packs, only features")));
        }
        let schema = CompositeSchema::new()
            .with("event", events)
            .with("features", features.schema())
            .with("compromise", crate::cpp::schema()) // COMPROMISE_ROOT
            .with("model", crate::scorer::schema());
        let sources: Vec<PackSource> = rule_files.into_iter().map(|(n, t)| PackSource::new(n, t)).collect();
        let rules = Ruleset::compile(&sources, &schema).map_err(|e| PackError(mamori_rules::render_all(&e)))?;
        Ok(Packs { features: Arc::new(features), rules: Arc::new(rules), features_id, origin: origin.to_string() })
    }
}

/// The `*.toml` files of `dir` (name, text), by name.
fn toml_files(dir: &Path) -> Result<Vec<(String, String)>, PackError> {
    let entries = std::fs::read_dir(dir).map_err(|e| PackError(format!("{}: {e}", dir.display())))?;
    let mut files = Vec::new();
    for entry in entries {
        let path = entry.map_err(|e| PackError(format!("{}: {e}", dir.display())))?.path();
        if path.extension().is_some_and(|x| x == "toml") && path.is_file() {
            let text = std::fs::read_to_string(&path).map_err(|e| PackError(format!("{}: {e}", path.display())))?;
            files.push((path.display().to_string(), text));
        }
    }
    files.sort();
    Ok(files)
}

fn is_features(name: &str) -> bool {
    Path::new(name).file_name().is_some_and(|n| n == "features.toml")
}

fn sha256(text: &str) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(text.as_bytes())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_packs_compile() {
        let events = EventSchema::new();
        let packs = Packs::builtin(&events).unwrap_or_else(|e| panic!("{e}"));
        assert!(packs.rules.rules().len() >= 10);
        assert!(packs.rules.id().starts_with("sha256:"));
    }

    #[test]
    fn whether_packs_read_the_compromise_analysis() {
        let events = EventSchema::new();
        // The built-in packs hold card payments at compromised points.
        assert!(Packs::builtin(&events).unwrap_or_else(|e| panic!("{e}")).reads_compromise());
        let features = "[[feature]]\nname = \"n\"\nentity = \"account\"\naggregate = \"count\"\nwindow = \"1h\"\n";
        let packs = |when: &str| {
            let rules = format!("[pack]\nname = \"p\"\n[[rule]]\nid = \"r\"\nwhen = '{when}'\nscore = 1\naction = \"hold\"\n");
            let files = vec![("features.toml".to_string(), features.to_string()), ("p.toml".to_string(), rules)];
            Packs::compile(files, &events, "test").unwrap_or_else(|e| panic!("{e}"))
        };
        assert!(!packs("features.n > 3").reads_compromise());
        assert!(packs("compromise.card_at_risk && features.n > 3").reads_compromise());
        // The model's root, after the analysis's, is not the analysis.
        assert!(!packs("model.score > 0.5").reads_compromise());
    }
}
