//! mamori-features: features declared in TOML, computed exactly over sliding windows of
//! event time, keyed by any entity, as a stream.
//!
//! A [`FeatureSet`] is compiled once from a feature file against the schema of the
//! input; an [`Engine`] holds the per-entity state and turns each event into a
//! [`FeatureVector`]. The core does no I/O; [`input`] and [`output`] read and write files.

pub mod ahead;
pub mod batch;
pub mod codes;
mod columnar;
pub mod config;
mod engine;
mod getter;
pub mod input;
pub mod output;
pub mod snapshot;
mod window;

pub use columnar::{Columns, NotColumnar};
pub use config::{ConfigError, ConfigErrors, FeatureFile, SourceMap};
pub use engine::{Aggregate, Ahead, ENTITY_SHORTHANDS, Engine, FeatureSet, FeatureVector, Outcome, Stats, Subset};
pub use snapshot::SnapshotError;

/// Parses and compiles a feature file against the schema of its input records.
pub fn load(file: &str, text: &str, input: &dyn mamori_core::Schema) -> Result<(FeatureFile, FeatureSet), ConfigErrors> {
    let parsed = config::parse(file, text)?;
    let map = SourceMap { file, text };
    let set = FeatureSet::compile(&parsed, &map, input)?;
    Ok((parsed, set))
}
