//! Events as the store keeps them.

use std::fmt;

/// An event to store, with the decision given for it.
#[derive(Clone, PartialEq, Eq)]
pub struct NewEvent {
    pub institution: String,
    pub id: String,
    pub event_type: String,
    /// Event time, µs since the epoch.
    pub time_us: i64,
    /// When the service received it, µs since the epoch.
    pub received_us: i64,
    /// The event's canonical JSON (UTF-8). May hold personal data: never printed.
    pub body: Vec<u8>,
    /// SHA-256 of what identifies the content for idempotency (409 on a different body).
    pub body_hash: [u8; 32],
    /// The decision JSON (UTF-8) returned for the event.
    pub decision: Vec<u8>,
}

/// An event read back from the store, with its sequence number.
#[derive(Clone, PartialEq, Eq)]
pub struct StoredEvent {
    /// 1, 2, ... in submission order, dense.
    pub seq: u64,
    pub institution: String,
    pub id: String,
    pub event_type: String,
    pub time_us: i64,
    pub received_us: i64,
    pub body: Vec<u8>,
    pub body_hash: [u8; 32],
    pub decision: Vec<u8>,
}

impl StoredEvent {
    pub(crate) fn new(seq: u64, e: NewEvent) -> StoredEvent {
        StoredEvent {
            seq,
            institution: e.institution,
            id: e.id,
            event_type: e.event_type,
            time_us: e.time_us,
            received_us: e.received_us,
            body: e.body,
            body_hash: e.body_hash,
            decision: e.decision,
        }
    }
}

/// Bodies and decisions may carry names, phone numbers and account ids: `Debug` prints
/// their lengths only.
struct Len(usize);

impl fmt::Debug for Len {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "<{} bytes>", self.0)
    }
}

struct Hex<'a>(&'a [u8]);

impl fmt::Debug for Hex<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&hex::encode(self.0))
    }
}

impl fmt::Debug for NewEvent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NewEvent")
            .field("institution", &self.institution)
            .field("id", &self.id)
            .field("event_type", &self.event_type)
            .field("time_us", &self.time_us)
            .field("received_us", &self.received_us)
            .field("body", &Len(self.body.len()))
            .field("body_hash", &Hex(&self.body_hash))
            .field("decision", &Len(self.decision.len()))
            .finish()
    }
}

impl fmt::Debug for StoredEvent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StoredEvent")
            .field("seq", &self.seq)
            .field("institution", &self.institution)
            .field("id", &self.id)
            .field("event_type", &self.event_type)
            .field("time_us", &self.time_us)
            .field("received_us", &self.received_us)
            .field("body", &Len(self.body.len()))
            .field("body_hash", &Hex(&self.body_hash))
            .field("decision", &Len(self.decision.len()))
            .finish()
    }
}
