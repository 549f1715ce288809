//! mamori-rules: rule packs (TOML) compiled into a [`Ruleset`] that turns one event,
//! with its features, into a [`Decision`].
//!
//! ```toml
//! [pack]
//! name = "linking"
//! description = "Account links between banks and wallets"
//!
//! [thresholds]          # optional: a total score at or above these raises the action
//! challenge = 300
//! hold = 600
//! block = 900
//!
//! [[rule]]
//! id = "pin-only-link"  # unique across the ruleset; lowercase letters, digits and -
//! description = "A link requested with only an account number and PIN"
//! when = 'event.type == "link_requested" && event.auth == "pin_only"'
//! score = 400           # optional, default 0, within ±1,000,000
//! action = "challenge"  # optional: allow (default) | challenge | hold | block
//! reason = "link requested with {event.auth} only, {features.links_24h} links from this device today"
//! shadow = false        # optional: evaluated and reported, never acting
//! ```
//!
//! `when` and every `{..}` of `reason` are expressions of [`mamori_expr`], checked
//! against the schema when the pack is compiled. A rule without `reason` explains itself
//! with its description (or its id).
//!
//! A decision takes the strongest action of the fired rules that are not shadow rules;
//! its score is the sum of their scores, and the thresholds raise (never lower) the
//! action. Reasons are ordered by score, highest first, then by rule id.

pub mod codes;
mod decision;
mod error;
mod pack;
mod ruleset;
mod template;

pub use decision::{Action, Decision, Driver, ModelOpinion, Reason, WireDecision};
pub use error::{RuleError, render_all};
pub use pack::{MAX_SCORE, Thresholds};
pub use ruleset::{Breaker, PackInfo, PackSource, RuleInfo, Ruleset};
pub use template::{display_value, write_value};

#[cfg(test)]
mod tests;
