//! The model file `mamori train` writes and `mamori score` and the service read.

use serde::{Deserialize, Serialize};

use crate::Model;

/// The version of [`ModelFile`] this build writes and reads.
pub const MODEL_FILE_VERSION: u32 = 1;

/// A trained model and what it was trained from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelFile {
    pub mamori_model: u32,
    /// sha-256 of the compiled feature set, hex: scoring with other features is refused.
    pub features_fingerprint: String,
    pub trained_from: String,
    pub trained_to: String,
    /// When the labels were read (the end of training plus the label delay), RFC 3339.
    pub as_of: String,
    pub rows: usize,
    pub frauds: usize,
    /// The event types the model was trained on and scores (empty: every row of its input).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub events: Vec<String>,
    pub model: Model,
}

impl ModelFile {
    /// Reads and checks a model file: its version, and trees that cannot go out of bounds.
    pub fn from_json(bytes: &[u8]) -> Result<ModelFile, String> {
        let file: ModelFile = serde_json::from_slice(bytes).map_err(|e| format!("not a mamori model: {e}"))?;
        if file.mamori_model != MODEL_FILE_VERSION {
            return Err(format!("model file version {} (this build reads {MODEL_FILE_VERSION})", file.mamori_model));
        }
        file.model.validate()?;
        Ok(file)
    }

    pub fn to_json(&self) -> Vec<u8> {
        serde_json::to_vec(self).unwrap_or_default()
    }
}
