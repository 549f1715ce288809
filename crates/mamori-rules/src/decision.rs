//! Decisions: what the institution should do with an event, and why.

use std::fmt;
use std::str::FromStr;
use std::sync::Arc;

use mamori_core::Timestamp;
use serde::{Deserialize, Serialize};

/// What to do with an event, weakest first: a stronger action wins.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    /// Go ahead.
    #[default]
    Allow,
    /// Go ahead only after strong authentication through a channel registered before.
    Challenge,
    /// Do not execute; keep for review.
    Hold,
    /// Refuse.
    Block,
}

impl Action {
    pub const ALL: [Action; 4] = [Action::Allow, Action::Challenge, Action::Hold, Action::Block];

    pub fn as_str(self) -> &'static str {
        match self {
            Action::Allow => "allow",
            Action::Challenge => "challenge",
            Action::Hold => "hold",
            Action::Block => "block",
        }
    }
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Action {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Action::ALL.into_iter().find(|a| a.as_str() == s).ok_or_else(|| format!("unknown action {s:?}"))
    }
}

/// Why a rule fired. On the wire: `{"rule", "score", "detail"}`; `action` stays
/// internal (it reads back as `allow`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reason {
    pub rule: String,
    pub score: i64,
    #[serde(skip)]
    pub action: Action,
    /// The rule's rendered reason template.
    pub detail: String,
}

/// What a learned model said of an event: `{"model", "score", "drivers"}` on the wire.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelOpinion {
    /// `sha256:<hex>` of the model file.
    pub model: String,
    /// The probability of fraud it gave, 0 to 1.
    pub score: f64,
    /// The features that moved the score most, strongest first.
    pub drivers: Vec<Driver>,
}

/// One feature's part in a model's score.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Driver {
    pub feature: String,
    /// Its value for the event (absent: the feature had no value).
    pub value: Option<f64>,
    /// How far it moved the log-odds of fraud (positive: towards fraud).
    pub push: f64,
    /// The same in words.
    pub detail: String,
}

/// The outcome of a ruleset for one event.
///
/// Serialized in the wire shape of a v1 decision without the two fields the caller
/// owns: `{"decision", "score", "reasons": [{"rule", "score", "detail"}], "ruleset"}`,
/// and `"model"` when a learned model scored the event.
/// [`Decision::wire`] adds `event_id` and `decided_at`. Shadow reasons are not
/// serialized: they are for the operator's metrics and logs, not for integrators.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Decision {
    #[serde(rename = "decision")]
    pub action: Action,
    /// The sum of the scores of the fired rules that are not shadow rules.
    pub score: i64,
    /// The fired non-shadow rules, highest score first, then by rule id.
    pub reasons: Vec<Reason>,
    /// The fired shadow rules (evaluated and reported, never acting), in the same order.
    #[serde(skip)]
    pub shadow: Vec<Reason>,
    /// `sha256:<hex>` of the ruleset's canonical content (shared, so a decision that
    /// fires nothing allocates nothing).
    pub ruleset: Arc<str>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<ModelOpinion>,
}

impl Decision {
    /// The decision as the wire carries it, with the caller's event id and decision time:
    /// `{"event_id", "decision", "score", "reasons", "ruleset", "decided_at"}`.
    pub fn wire<'a>(&'a self, event_id: &'a str, decided_at: Timestamp) -> WireDecision<'a> {
        WireDecision { event_id, decision: self, decided_at: decided_at.to_rfc3339() }
    }

    /// Whether any rule, shadow or not, fired.
    pub fn fired(&self) -> bool {
        !self.reasons.is_empty() || !self.shadow.is_empty()
    }
}

/// A decision in the full wire shape of spec/events.md (serialize it with serde).
#[derive(Debug, Clone, Serialize)]
pub struct WireDecision<'a> {
    pub event_id: &'a str,
    #[serde(flatten)]
    pub decision: &'a Decision,
    /// RFC 3339, UTC, milliseconds.
    pub decided_at: String,
}
