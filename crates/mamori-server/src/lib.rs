//! The decision service: the v1 HTTP contract (spec/events.md) over the detection core
//! and the embedded store.
//!
//! - `packs`: the built-in rule and feature packs, or a directory of them;
//! - `judge`: features, rules and the learned model over a stream of events, no storage;
//! - `scorer`: the learned model as the judge uses it (`model.score`, drivers in words);
//! - `detector`: the judge under one lock, in step with the store;
//! - `routes`: the HTTP contract (`app()` is the router, testable without a port);
//! - `problem`: errors as `application/problem+json`;
//! - `metrics`: every metric, declared once;
//! - `serve`: configuration, logging, signals, graceful shutdown.

pub mod case_routes;
pub mod cases;
pub mod cpp;
pub mod detector;
pub mod journal;
pub mod judge;
pub mod link_routes;
pub mod links;
pub mod metrics;
pub mod notices;
pub mod packs;
pub mod problem;
pub mod registry;
pub mod routes;
pub mod scorer;
pub mod serve;

pub use detector::{Detector, Incoming, Outcome};
pub use judge::{FeatureNeeds, FeatureStage, Judge, ReadAhead};
pub use packs::{PackError, Packs};
pub use routes::{AppState, ROUTES, app};

/// The OpenAPI 3.1 document of the routes in [`ROUTES`].
pub const OPENAPI: &str = include_str!("openapi.json");
