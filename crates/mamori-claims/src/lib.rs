//! mamori-claims: reimbursement of confirmed-fraud claims.
//!
//! Pure: no I/O and no clock. [`calendar`] knows Japanese public holidays (2000–2099)
//! and bank business days, for deadlines; [`policy`] splits a victim's claim between the
//! institutions involved under a liability policy.
//!
//! # Policy file
//! TOML; unknown keys are refused, and every error names its line and column. A file
//! replaces the defaults entirely. Amounts and shares are exact decimals written as strings
//! (`"0.5"`) or integers (`10000`); a TOML float is refused.
//!
//! ```toml
//! currency = "JPY"     # optional, default "JPY": the currency of `cap`, `excess` and `fixed`
//! cap = "85000"        # optional: the most reimbursed per claim
//! excess = "100"       # optional: deducted from the reimbursement, never for a vulnerable victim
//!
//! [[rule]]
//! name = "bank–emoney default"      # optional, default "rule N: bank–emoney"
//! kinds = ["bank", "emoney"]        # two distinct kinds: bank, emoney, broker, exchange, card
//! # institutions = ["mizuho", "paypay"]   # or two institution ids, instead of `kinds`
//! # then exactly one of:
//! split = { bank = "0.5", emoney = "0.5" }       # shares of loss and fees, each in [0, 1], summing to exactly 1
//! # when_kyc_none = "emoney"                     # that member bears 100% when its account has KYC "none"
//! # pledge = { by = "broker", loss_share = "0.5", fees = true, fixed = "10000" }
//! ```
//!
//! In `split`, `when_kyc_none` and `pledge.by`, members are named the way the rule names
//! them: by kind in a `kinds` rule, by id in an `institutions` rule. A pledge pays
//! `loss_share` of the loss, plus the fees if `fees` (default `false`), plus `fixed`
//! (default 0), at most loss + fees + fixed; the other member pays nothing, and the rest is
//! not reimbursed under the policy. Two `split` or `pledge` rules for the same members, or
//! two `when_kyc_none` rules naming the same member, are refused.
//!
//! The defaults ([`policy::DEFAULT_POLICY`], [`PolicySet::default`]):
//!
//! ```toml
//! currency = "JPY"
//!
//! [[rule]]
//! name = "bank–emoney default"
//! kinds = ["bank", "emoney"]
//! split = { bank = "0.5", emoney = "0.5" }
//!
//! [[rule]]
//! name = "bank–emoney, wallet opened without KYC"
//! kinds = ["bank", "emoney"]
//! when_kyc_none = "emoney"
//!
//! [[rule]]
//! name = "brokers' pledge"
//! kinds = ["broker", "bank"]
//! pledge = { by = "broker", loss_share = "0.5", fees = true, fixed = "10000" }
//! ```
//!
//! # Which rule
//! A claim names exactly two institutions. Rules for their two ids come before rules for
//! their two kinds (so an `institutions` rule overrides every `kinds` rule, KYC ones
//! included). At each of the two levels, a `when_kyc_none` rule whose member's party has
//! KYC `"none"` (any case) applies first, the first such in the file; else the level's
//! unconditional rule. Two parties of one kind are covered by `institutions` rules only.
//! No rule: [`PolicyError::NoRule`].
//!
//! # Amounts and rounding
//! The loss and fees are zero or more, with no more decimal places than their currency
//! has ([`mamori_core::amount::currency_info`]: JPY 0, USD 2, BHD 3, crypto 18, ...).
//! What the victim gets is computed exactly: loss + fees (or the pledge), then at most
//! `cap`, then less `excess` (not below 0; not for a vulnerable victim), rounded down to
//! the currency's minor unit. The policy's amounts are in its `currency`; a claim in
//! another one is refused when the cap, the excess or a pledge's fixed amount would apply.
//! Each share is that amount times the member's share, rounded down to the minor unit; the
//! remainder (less than one minor unit per party) goes to the member listed first in the
//! rule (`kinds` or `institutions` order: the bank in the default bank–emoney rule). So
//! the shares always sum exactly to [`Split::reimbursed`], and none is negative.
//! `unreimbursed` is loss + fees − reimbursed (not below 0).

pub mod calendar;
pub mod policy;

pub use policy::{Claim, Kind, Party, PolicyError, PolicySet, Share, Split};
