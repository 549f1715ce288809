//! Gradient-boosted decision trees for binary labels (fraud or not), trained and scored
//! in process, and the measures a fraud model is judged by.
//!
//! - [`train`]: logistic loss, second-order (Newton) leaf values, trees grown level by
//!   level on histograms of binned features (at most 255 bins a feature, quantile cuts),
//!   missing values sent to whichever side gains more, positive rows weighted as asked
//!   for class imbalance (balanced, or a given weight), rows and features sampled with a seeded generator. The same data,
//!   parameters and seed give the same model, bit for bit.
//! - [`Model::score`]: a probability in (0, 1) from the raw feature values.
//! - [`metrics`]: AUC ROC, Average Precision and Card Precision@k as the Fraud Detection
//!   Handbook computes them.

pub mod metrics;
mod tree;

pub use tree::{Model, Node, Params, TrainError, train};
