//! Every metric the service exports, declared in one place, in Prometheus text format.
//!
//! Labels are bounded: event type (a closed list), institution (registered ones only),
//! outcome, route. Never an account, a customer or an event id.

use std::sync::atomic::AtomicU64;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct EventLabels {
    pub event_type: String,
    pub institution: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct DecisionLabels {
    pub decision: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RequestLabels {
    pub route: String,
    pub status: u16,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RouteLabels {
    pub route: String,
}

/// The service's metrics.
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    /// New events decided, by type and institution.
    pub events: Family<EventLabels, Counter>,
    /// Events sent again and answered with their first decision.
    pub replays: Family<EventLabels, Counter>,
    /// Decisions of new events, by outcome.
    pub decisions: Family<DecisionLabels, Counter>,
    /// Requests answered, by route and status.
    pub requests: Family<RequestLabels, Counter>,
    /// Request latency in seconds, by route.
    pub latency: Family<RouteLabels, Histogram>,
    /// From submitting a request's events to the store to their being on disk, in seconds.
    pub commit_wait: Histogram,
    /// The last event sequence number on disk.
    pub durable_seq: Gauge,
    /// Store commits (each is one fsync shared by every event it holds).
    pub commits: Gauge,
    /// Of those, the outbox's transactions (notices written after their events, delivery
    /// outcomes), which commit without an fsync of their own.
    pub outbox_commits: Gauge,
    /// fsyncs of the store's WAL on their own, for outbox transactions no event's commit
    /// synced.
    pub wal_syncs: Gauge,
    /// Pending notices already due: the courier's backlog.
    pub notices_due: Gauge,
    /// How long the oldest of them has been due, in seconds (0 without a backlog).
    pub notice_lag: Gauge<f64, AtomicU64>,
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new()
    }
}

impl Metrics {
    pub fn new() -> Metrics {
        let mut registry = Registry::with_prefix("mamori");
        let events = Family::<EventLabels, Counter>::default();
        let replays = Family::<EventLabels, Counter>::default();
        let decisions = Family::<DecisionLabels, Counter>::default();
        let requests = Family::<RequestLabels, Counter>::default();
        let latency = Family::<RouteLabels, Histogram>::new_with_constructor(|| Histogram::new(exponential_buckets(0.000_05, 2.0, 18)));
        let commit_wait = Histogram::new(exponential_buckets(0.000_05, 2.0, 18));
        let durable_seq = Gauge::default();
        let commits = Gauge::default();
        let outbox_commits = Gauge::default();
        let wal_syncs = Gauge::default();
        let notices_due = Gauge::default();
        let notice_lag = Gauge::<f64, AtomicU64>::default();
        registry.register("events", "New events decided, by type and institution", events.clone());
        registry.register("replays", "Events sent again and answered with their first decision", replays.clone());
        registry.register("decisions", "Decisions of new events, by outcome", decisions.clone());
        registry.register("http_requests", "HTTP requests answered, by route and status", requests.clone());
        registry.register("http_request_duration_seconds", "HTTP request latency, by route", latency.clone());
        registry.register("store_commit_wait_seconds", "From submitting events to the store to their being fsynced", commit_wait.clone());
        registry.register("store_durable_seq", "The last event sequence number on disk", durable_seq.clone());
        registry.register("store_commits", "Store commits since start (one fsync each, but for the outbox's)", commits.clone());
        registry.register(
            "store_outbox_commits",
            "Store commits of the outbox since start (no fsync of their own)",
            outbox_commits.clone(),
        );
        registry.register(
            "store_wal_syncs",
            "fsyncs of the store's WAL on their own, for outbox commits no event's commit synced",
            wal_syncs.clone(),
        );
        registry.register("notices_due", "Pending notices already due for delivery (the courier's backlog)", notices_due.clone());
        registry.register(
            "notice_lag_seconds",
            "How long the oldest pending notice has been due, by the service's clock (0: no backlog)",
            notice_lag.clone(),
        );
        Metrics {
            registry,
            events,
            replays,
            decisions,
            requests,
            latency,
            commit_wait,
            durable_seq,
            commits,
            outbox_commits,
            wal_syncs,
            notices_due,
            notice_lag,
        }
    }

    /// The Prometheus text exposition.
    pub fn render(&self) -> String {
        let mut out = String::new();
        // Writing into a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut out, &self.registry);
        out
    }
}
