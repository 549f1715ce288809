//! Gradient-boosted decision trees for binary labels (fraud or not), trained and scored
//! in process, and the measures a fraud model is judged by.
//!
//! - [`train`]: logistic loss, second-order (Newton) leaf values, trees grown level by
//!   level on histograms of binned features (at most 255 bins a feature, quantile cuts),
//!   missing values sent to whichever side gains more, positive rows weighted as asked
//!   for class imbalance (balanced, or a given weight), rows and features sampled with a seeded generator. The same data,
//!   parameters and seed give the same model, bit for bit.
//! - [`Model::score`]: a probability in (0, 1) from the raw feature values.
//! - [`Explainer`]: which features pushed a row's score up or down (path attributions).
//! - [`ModelFile`]: a model with what it was trained from, as `mamori train` writes it.
//! - [`metrics`]: AUC ROC, Average Precision and Card Precision@k as the Fraud Detection
//!   Handbook computes them.

mod explain;
mod file;
mod forest;
pub mod metrics;
mod tree;

pub use explain::{Attribution, Explainer};
pub use file::{MODEL_FILE_VERSION, ModelFile};
pub use forest::Forest;
pub use tree::{Model, Node, Params, Rng, TrainError, train};
