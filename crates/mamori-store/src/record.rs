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
    /// Notices to deliver because of this event, and when they are written (see
    /// `notices_later`).
    pub notices: Vec<NewNotice>,
    /// Report codes handed out in those notices, written with them.
    pub report_codes: Vec<ReportCode>,
    /// `false`: the notices are written in the event's own transaction, so a durable event
    /// never lacks its notices (nor the reverse). `true`: they are written after the
    /// event, in a later transaction of the outbox that carries many events' notices at
    /// once, so that the event's commit does not wait for them; what a crash loses of
    /// them is planned again from the event on the next start (see
    /// [`Store::outbox_cursor`](crate::Store::outbox_cursor)).
    pub notices_later: bool,
}

/// A delivery channel of the outbox.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Channel {
    /// E-mail to an address the institution registered.
    Email,
    /// The institution's signed webhook (its endpoint is read at delivery time).
    Webhook,
}

impl Channel {
    pub const fn as_str(self) -> &'static str {
        match self {
            Channel::Email => "email",
            Channel::Webhook => "webhook",
        }
    }

    pub fn parse(s: &str) -> Option<Channel> {
        match s {
            "email" => Some(Channel::Email),
            "webhook" => Some(Channel::Webhook),
            _ => None,
        }
    }
}

/// One message to deliver through one channel.
#[derive(Clone, PartialEq, Eq)]
pub struct NewNotice {
    /// The institution whose customer it is told to (and whose webhook carries it).
    pub institution: String,
    pub channel: Channel,
    /// The e-mail address (empty for a webhook). Personal data: never printed.
    pub target: String,
    /// What to say (JSON, UTF-8). Personal data: never printed.
    pub payload: Vec<u8>,
}

/// A one-time "this wasn't me" code: only its SHA-256 is kept, with what a report made
/// with it is about.
#[derive(Clone, PartialEq, Eq)]
pub struct ReportCode {
    /// The id the code carries (from [`Store::next_report_code_id`](crate::Store::next_report_code_id)),
    /// or none for a code found by its hash alone (codes handed out before ids existed).
    pub id: Option<u64>,
    pub hash: [u8; 32],
    /// The institution whose customer holds it.
    pub institution: String,
    /// What a report with this code freezes and labels (JSON, UTF-8).
    pub subject: Vec<u8>,
    pub expires_us: i64,
    pub created_us: i64,
}

/// Where a notice stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum NoticeStatus {
    /// Not delivered yet; tried again at `next_at_us`.
    Pending,
    Sent,
    /// Given up on (the dead-letter list): failed permanently or too often.
    Dead,
}

impl NoticeStatus {
    pub const fn as_str(self) -> &'static str {
        match self {
            NoticeStatus::Pending => "pending",
            NoticeStatus::Sent => "sent",
            NoticeStatus::Dead => "dead",
        }
    }

    pub fn parse(s: &str) -> Option<NoticeStatus> {
        match s {
            "pending" => Some(NoticeStatus::Pending),
            "sent" => Some(NoticeStatus::Sent),
            "dead" => Some(NoticeStatus::Dead),
            _ => None,
        }
    }
}

/// A notice of the outbox as stored.
#[derive(Clone, PartialEq, Eq)]
pub struct Notice {
    pub id: i64,
    /// The seq of the event that caused it.
    pub seq: u64,
    pub institution: String,
    pub channel: Channel,
    pub target: String,
    pub payload: Vec<u8>,
    pub status: NoticeStatus,
    /// Failed deliveries so far.
    pub attempts: u32,
    pub next_at_us: i64,
    pub last_error: Option<String>,
    pub created_us: i64,
    /// When it was sent or given up on.
    pub done_us: Option<i64>,
}

/// What became of a delivery attempt (or an operator's retry of a dead notice).
#[derive(Clone, PartialEq, Eq)]
pub enum NoticeUpdate {
    /// Delivered. `payload`, when given, replaces the stored one (a code is not kept once
    /// it has gone out).
    Sent { id: i64, at_us: i64, payload: Option<Vec<u8>> },
    /// Failed; tried again at `next_at_us`, or given up on when that is `None` (then
    /// `payload`, when given, replaces the stored one).
    Failed { id: i64, at_us: i64, error: String, next_at_us: Option<i64>, payload: Option<Vec<u8>> },
    /// A dead notice put back in the queue, due at `at_us`, its attempts counted afresh.
    Retry { id: i64, at_us: i64 },
}

impl fmt::Debug for NoticeUpdate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            NoticeUpdate::Sent { id, at_us, .. } => f.debug_struct("Sent").field("id", id).field("at_us", at_us).finish_non_exhaustive(),
            NoticeUpdate::Failed { id, at_us, error, next_at_us, .. } => f
                .debug_struct("Failed")
                .field("id", id)
                .field("at_us", at_us)
                .field("error", error)
                .field("next_at_us", next_at_us)
                .finish_non_exhaustive(),
            NoticeUpdate::Retry { id, at_us } => f.debug_struct("Retry").field("id", id).field("at_us", at_us).finish(),
        }
    }
}

/// An institution's webhook endpoint and signing secret.
#[derive(Clone, PartialEq, Eq)]
pub struct WebhookEndpoint {
    pub url: String,
    pub secret: Vec<u8>,
    pub updated_us: i64,
}

impl fmt::Debug for WebhookEndpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WebhookEndpoint").field("url", &self.url).field("secret", &"***").field("updated_us", &self.updated_us).finish()
    }
}

impl fmt::Debug for NewNotice {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NewNotice")
            .field("institution", &self.institution)
            .field("channel", &self.channel)
            .field("target", &Len(self.target.len()))
            .field("payload", &Len(self.payload.len()))
            .finish()
    }
}

impl fmt::Debug for Notice {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Notice")
            .field("id", &self.id)
            .field("seq", &self.seq)
            .field("institution", &self.institution)
            .field("channel", &self.channel)
            .field("target", &Len(self.target.len()))
            .field("payload", &Len(self.payload.len()))
            .field("status", &self.status)
            .field("attempts", &self.attempts)
            .field("next_at_us", &self.next_at_us)
            .field("last_error", &self.last_error)
            .finish_non_exhaustive()
    }
}

impl fmt::Debug for ReportCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ReportCode")
            .field("id", &self.id)
            .field("hash", &Hex(&self.hash))
            .field("institution", &self.institution)
            .field("subject", &Len(self.subject.len()))
            .field("expires_us", &self.expires_us)
            .finish_non_exhaustive()
    }
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
    /// The stored event, and what is written with it.
    pub(crate) fn new(seq: u64, e: NewEvent) -> (StoredEvent, Vec<NewNotice>, Vec<ReportCode>, bool) {
        let event = StoredEvent {
            seq,
            institution: e.institution,
            id: e.id,
            event_type: e.event_type,
            time_us: e.time_us,
            received_us: e.received_us,
            body: e.body,
            body_hash: e.body_hash,
            decision: e.decision,
        };
        (event, e.notices, e.report_codes, e.notices_later)
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
            .field("notices", &self.notices.len())
            .finish_non_exhaustive()
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
