//! The liability policy: who reimburses what of a confirmed-fraud claim.
//!
//! A [`PolicySet`] is read from TOML ([`PolicySet::from_toml`]) or is the default
//! ([`DEFAULT_POLICY`]); [`PolicySet::split`] turns a [`Claim`] into a [`Split`]. The file
//! format, rule choice and rounding are described in the crate documentation.

use std::collections::BTreeMap;
use std::fmt;
use std::ops::Range;
use std::str::FromStr;

use mamori_core::amount::{self, CurrencyInfo};
use rust_decimal::{Decimal, RoundingStrategy};
use serde::{Deserialize, Deserializer, Serialize};
use toml::Spanned;

/// The policy used when no file is given ([`PolicySet::default`]).
pub const DEFAULT_POLICY: &str = r#"# mamori's default liability policy.
currency = "JPY"

[[rule]]
name = "bank–emoney default"
kinds = ["bank", "emoney"]
split = { bank = "0.5", emoney = "0.5" }

[[rule]]
name = "bank–emoney, wallet opened without KYC"
kinds = ["bank", "emoney"]
when_kyc_none = "emoney"

[[rule]]
name = "brokers' pledge"
kinds = ["broker", "bank"]
pledge = { by = "broker", loss_share = "0.5", fees = true, fixed = "10000" }
"#;

/// The kind of an institution.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Kind {
    Bank,
    Emoney,
    Broker,
    Exchange,
    Card,
}

impl Kind {
    /// Every kind, in the order error messages list them.
    pub const ALL: [Kind; 5] = [Kind::Bank, Kind::Emoney, Kind::Broker, Kind::Exchange, Kind::Card];

    /// The name used in policy files and claims: `bank`, `emoney`, `broker`, `exchange`, `card`.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Bank => "bank",
            Kind::Emoney => "emoney",
            Kind::Broker => "broker",
            Kind::Exchange => "exchange",
            Kind::Card => "card",
        }
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Kind {
    type Err = PolicyError;

    fn from_str(s: &str) -> Result<Kind, PolicyError> {
        Kind::ALL.into_iter().find(|k| k.as_str() == s).ok_or_else(|| PolicyError::UnknownKind(s.to_string()))
    }
}

/// An institution involved in a claim.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Party {
    /// The institution's id, as institution-pair rules name it.
    pub institution: String,
    /// One of `bank`, `emoney`, `broker`, `exchange`, `card`.
    pub kind: String,
    /// The KYC level the victim's account there was opened with; `"none"` (any case) is
    /// what `when_kyc_none` rules look for, and `None` means unknown.
    #[serde(default)]
    pub kyc: Option<String>,
}

/// A confirmed-fraud reimbursement claim of one victim.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Claim {
    /// The money that actually left, in `currency` (zero or more).
    pub loss: Decimal,
    /// Fees the victim paid (zero or more).
    #[serde(default)]
    pub fees: Decimal,
    pub currency: String,
    /// Exactly two institutions.
    pub parties: Vec<Party>,
    /// A vulnerable victim never bears the excess.
    #[serde(default)]
    pub vulnerable: bool,
}

/// What one institution pays.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Share {
    pub institution: String,
    pub amount: Decimal,
    /// Why, e.g. "50% of loss and fees (bank–emoney default)".
    pub basis: String,
}

/// The outcome of a claim: one share per party, in the order the rule lists them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Split {
    pub shares: Vec<Share>,
    /// What the victim gets back: the sum of the shares, exactly.
    pub reimbursed: Decimal,
    /// The part of loss and fees the victim does not get back under this policy.
    pub unreimbursed: Decimal,
    /// The name of the rule applied.
    pub rule: String,
    /// What else shaped the result: the cap, the excess, what is left unreimbursed.
    pub notes: Vec<String>,
}

/// Why a policy file or a claim was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PolicyError {
    /// Not TOML, or not the policy's shape (an unknown key, a bad decimal): the message
    /// from `toml`, which names the line and column.
    #[error("{0}")]
    Toml(String),
    /// Well-formed TOML that says something impossible: shares not summing to 1, an
    /// unknown kind, a repeated rule.
    #[error("TOML policy error at line {line}, column {column}: {reason}")]
    Invalid { line: usize, column: usize, reason: String },
    /// A party's kind is not one of the known kinds.
    #[error("unknown institution kind {0:?}: expected one of bank, emoney, broker, exchange, card")]
    UnknownKind(String),
    /// No rule covers the claim's two parties.
    #[error("no rule covers a claim between {} {:?} and {} {:?}", kinds[0], institutions[0], kinds[1], institutions[1])]
    NoRule { kinds: [String; 2], institutions: [String; 2] },
    /// A negative loss or fee.
    #[error("{what} must not be negative (got {amount})")]
    Negative { what: &'static str, amount: Decimal },
    /// A bad currency code, or an amount more precise than its currency.
    #[error("{what}: {reason}")]
    Amount { what: &'static str, reason: String },
    /// Not exactly two distinct institutions.
    #[error("a claim names exactly two distinct institutions: {0}")]
    Parties(String),
    /// An amount of the policy would apply to a claim in another currency.
    #[error("the policy's {what} is in {policy} and the claim in {claim}: no exchange rate is applied")]
    Currency { what: &'static str, policy: String, claim: String },
    /// An amount too large to compute exactly.
    #[error("amounts too large to compute exactly")]
    Overflow,
}

/// A set of liability rules, with the optional cap and excess per claim.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicySet {
    currency: String,
    cap: Option<Decimal>,
    excess: Option<Decimal>,
    rules: Vec<Rule>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Rule {
    name: String,
    pair: Pair,
    action: Action,
}

/// The two members of a rule, in the order the file lists them.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Pair {
    Kinds([Kind; 2]),
    Institutions([String; 2]),
}

impl Pair {
    fn label(&self, i: usize) -> &str {
        match self {
            Pair::Kinds(k) => k[i].as_str(),
            Pair::Institutions(ids) => &ids[i],
        }
    }

    fn index(&self, key: &str) -> Option<usize> {
        (0..2).find(|&i| self.label(i) == key)
    }

    fn same_members(&self, other: &Pair) -> bool {
        match (self, other) {
            (Pair::Kinds(_), Pair::Kinds(_)) | (Pair::Institutions(_), Pair::Institutions(_)) => {
                (self.label(0) == other.label(0) && self.label(1) == other.label(1))
                    || (self.label(0) == other.label(1) && self.label(1) == other.label(0))
            }
            _ => false,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Action {
    /// Shares of loss and fees, aligned with the pair.
    Split([Decimal; 2]),
    /// The member (index in the pair) that bears everything when its account has KYC "none".
    KycNone(usize),
    Pledge(Pledge),
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Pledge {
    by: usize,
    loss_share: Decimal,
    fees: bool,
    fixed: Decimal,
}

// ---------------------------------------------------------------------------------------
// The file as written.

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPolicy {
    currency: Option<Spanned<String>>,
    cap: Option<Spanned<Dec>>,
    excess: Option<Spanned<Dec>>,
    #[serde(default)]
    rule: Vec<Spanned<RawRule>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRule {
    name: Option<String>,
    kinds: Option<Spanned<Vec<String>>>,
    institutions: Option<Spanned<Vec<String>>>,
    split: Option<Spanned<BTreeMap<String, Spanned<Dec>>>>,
    when_kyc_none: Option<Spanned<String>>,
    pledge: Option<Spanned<RawPledge>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPledge {
    by: Spanned<String>,
    loss_share: Spanned<Dec>,
    #[serde(default)]
    fees: bool,
    fixed: Option<Spanned<Dec>>,
}

/// An exact decimal written as a string (`"0.5"`) or an integer (`10000`); never a float.
#[derive(Debug, Clone, Copy)]
struct Dec(Decimal);

impl<'de> Deserialize<'de> for Dec {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Dec, D::Error> {
        struct V;
        impl serde::de::Visitor<'_> for V {
            type Value = Dec;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a decimal string such as \"0.5\" or an integer")
            }

            fn visit_str<E: serde::de::Error>(self, s: &str) -> Result<Dec, E> {
                amount::parse_decimal(s, false).map(Dec).map_err(|e| E::custom(format!("{s:?}: {e}")))
            }

            fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<Dec, E> {
                Ok(Dec(Decimal::from(v)))
            }

            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<Dec, E> {
                Ok(Dec(Decimal::from(v)))
            }

            fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<Dec, E> {
                Err(E::custom(format!("write {v} as a string, such as \"{v}\": a TOML float is not exact")))
            }
        }
        d.deserialize_any(V)
    }
}

// ---------------------------------------------------------------------------------------
// Reading and checking.

/// The file's text, for locating errors, and the policy's currency.
struct Src<'a> {
    text: &'a str,
    currency: String,
    places: u32,
}

impl Src<'_> {
    fn err(&self, span: Range<usize>, reason: impl Into<String>) -> PolicyError {
        let at = span.start.min(self.text.len());
        let before = &self.text[..floor_char_boundary(self.text, at)];
        let line = before.matches('\n').count() + 1;
        let column = before.rsplit('\n').next().unwrap_or("").chars().count() + 1;
        PolicyError::Invalid { line, column, reason: reason.into() }
    }

    /// An amount of the policy: zero or more, in the policy's currency.
    fn money(&self, v: &Spanned<Dec>, what: &str) -> Result<Decimal, PolicyError> {
        let d = v.get_ref().0;
        if d < Decimal::ZERO {
            return Err(self.err(v.span(), format!("{what} must not be negative (got {d})")));
        }
        amount::check_places(d, &self.currency, self.places).map_err(|e| self.err(v.span(), format!("{what}: {e}")))?;
        Ok(d)
    }
}

fn floor_char_boundary(s: &str, mut i: usize) -> usize {
    while i > 0 && !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

impl Default for PolicySet {
    /// The rules of [`DEFAULT_POLICY`].
    fn default() -> Self {
        PolicySet::from_toml(DEFAULT_POLICY).expect("the default policy is valid")
    }
}

impl PolicySet {
    /// Reads a policy file. The file replaces the defaults entirely.
    pub fn from_toml(text: &str) -> Result<PolicySet, PolicyError> {
        let raw: RawPolicy = toml::from_str(text).map_err(|e| PolicyError::Toml(e.to_string().trim_end().to_string()))?;
        let mut src = Src { text, currency: amount::DEFAULT_CURRENCY.to_string(), places: 0 };
        if let Some(c) = &raw.currency {
            match amount::currency_info(c.get_ref()) {
                Ok(CurrencyInfo { decimals, .. }) => (src.currency, src.places) = (c.get_ref().clone(), decimals),
                Err(e) => return Err(src.err(c.span(), format!("currency {:?}: {e}", c.get_ref()))),
            }
        }
        let cap = raw.cap.as_ref().map(|v| src.money(v, "cap")).transpose()?;
        let excess = raw.excess.as_ref().map(|v| src.money(v, "excess")).transpose()?;

        if raw.rule.is_empty() {
            return Err(src.err(0..0, "no [[rule]]: a policy needs at least one rule"));
        }
        let mut rules: Vec<(Rule, Range<usize>)> = Vec::with_capacity(raw.rule.len());
        for (i, spanned) in raw.rule.iter().enumerate() {
            let rule = check_rule(&src, i + 1, spanned.get_ref(), spanned.span())?;
            for (j, (earlier, _)) in rules.iter().enumerate() {
                if earlier.pair.same_members(&rule.pair) && same_condition(&earlier.action, &rule.action, &earlier.pair, &rule.pair) {
                    return Err(src.err(
                        spanned.span(),
                        format!(
                            "rule {} repeats rule {} for {}–{} under the same condition",
                            i + 1,
                            j + 1,
                            rule.pair.label(0),
                            rule.pair.label(1)
                        ),
                    ));
                }
            }
            rules.push((rule, spanned.span()));
        }
        Ok(PolicySet { currency: src.currency, cap, excess, rules: rules.into_iter().map(|(r, _)| r).collect() })
    }

    /// The currency of the policy's fixed amounts, cap and excess.
    pub fn currency(&self) -> &str {
        &self.currency
    }

    /// The most reimbursed per claim, if any.
    pub fn cap(&self) -> Option<Decimal> {
        self.cap
    }

    /// The excess deducted from a (not vulnerable) victim's reimbursement, if any.
    pub fn excess(&self) -> Option<Decimal> {
        self.excess
    }

    /// Splits a claim between its two parties under the first rule that applies (see the
    /// crate documentation for the order).
    pub fn split(&self, c: &Claim) -> Result<Split, PolicyError> {
        let places = match amount::currency_info(&c.currency) {
            Ok(info) => info.decimals,
            Err(e) => return Err(PolicyError::Amount { what: "currency", reason: e.to_string() }),
        };
        for (what, v) in [("loss", c.loss), ("fees", c.fees)] {
            if v < Decimal::ZERO {
                return Err(PolicyError::Negative { what, amount: v });
            }
            amount::check_places(v, &c.currency, places).map_err(|e| PolicyError::Amount { what, reason: e.to_string() })?;
        }
        let [p0, p1] = match c.parties.as_slice() {
            [a, b] => [a, b],
            other => return Err(PolicyError::Parties(format!("got {}", other.len()))),
        };
        if p0.institution == p1.institution {
            return Err(PolicyError::Parties(format!("{:?} is named twice", p0.institution)));
        }
        let kinds = [p0.kind.parse::<Kind>()?, p1.kind.parse::<Kind>()?];
        let parties = [p0, p1];

        let (rule, order) = self.choose(&parties, kinds).ok_or_else(|| PolicyError::NoRule {
            kinds: [p0.kind.clone(), p1.kind.clone()],
            institutions: [p0.institution.clone(), p1.institution.clone()],
        })?;
        // order[i]: the party standing for the rule's i-th member.
        let member = |i: usize| parties[order[i]];
        let cur = &c.currency;

        let whole = c.loss.checked_add(c.fees).ok_or(PolicyError::Overflow)?;
        let gross = match &rule.action {
            Action::Split(_) | Action::KycNone(_) => whole,
            Action::Pledge(p) => {
                if p.fixed > Decimal::ZERO && *cur != self.currency {
                    return Err(self.currency_error("pledge's fixed amount", cur));
                }
                let fees = if p.fees { c.fees } else { Decimal::ZERO };
                let pledged = c.loss.checked_mul(p.loss_share).and_then(|x| x.checked_add(fees)).and_then(|x| x.checked_add(p.fixed));
                let ceiling = whole.checked_add(p.fixed);
                match (pledged, ceiling) {
                    (Some(a), Some(b)) => a.min(b),
                    _ => return Err(PolicyError::Overflow),
                }
            }
        };

        let mut notes = Vec::new();
        let mut amount = gross;
        let mut capped = false;
        if let Some(cap) = self.cap {
            if *cur != self.currency {
                return Err(self.currency_error("cap", cur));
            }
            if amount > cap {
                amount = cap;
                capped = true;
                notes.push(format!("capped at {} {cur} per claim", cap.normalize()));
            }
        }
        let mut less_excess = false;
        if let Some(excess) = self.excess.filter(|e| !e.is_zero()) {
            if c.vulnerable {
                notes.push("no excess: the victim is vulnerable".to_string());
            } else {
                if *cur != self.currency {
                    return Err(self.currency_error("excess", cur));
                }
                let taken = excess.min(amount);
                amount -= taken;
                less_excess = true;
                notes.push(format!("excess of {} {cur} deducted", taken.normalize()));
            }
        }
        let reimbursed = round_down(amount, places);
        if reimbursed < amount {
            notes.push(format!("rounded down to {places} decimal place{}", if places == 1 { "" } else { "s" }));
        }

        let of = match (capped, less_excess) {
            (false, false) => "loss and fees",
            (true, false) => "loss and fees, capped",
            (false, true) => "loss and fees less the excess",
            (true, true) => "loss and fees, capped, less the excess",
        };
        let name = &rule.name;
        let mut amounts = [Decimal::ZERO; 2];
        let mut bases = [String::new(), String::new()];
        match &rule.action {
            Action::Split(fr) => {
                for i in 0..2 {
                    amounts[i] = round_down(reimbursed.checked_mul(fr[i]).ok_or(PolicyError::Overflow)?, places);
                }
                let remainder = reimbursed - amounts[0] - amounts[1];
                amounts[0] += remainder;
                for i in 0..2 {
                    let pct = percent(fr[i]);
                    bases[i] = if i == 0 && !remainder.is_zero() {
                        format!("{pct} of {of}, plus the rounding remainder ({name})")
                    } else {
                        format!("{pct} of {of} ({name})")
                    };
                }
            }
            Action::KycNone(bearer) => {
                let b = *bearer;
                amounts[b] = reimbursed;
                bases[b] = format!("100% of {of}: account opened without KYC ({name})");
                bases[1 - b] = format!("nothing: the {} account was opened without KYC ({name})", rule.pair.label(b));
            }
            Action::Pledge(p) => {
                amounts[p.by] = reimbursed;
                let mut parts = vec![format!("{} of the loss", percent(p.loss_share))];
                if p.fees {
                    parts.push("the fees".to_string());
                }
                if p.fixed > Decimal::ZERO {
                    parts.push(format!("a fixed {} {cur}", p.fixed.normalize()));
                }
                let mut what = join_and(&parts);
                if capped {
                    what.push_str(", capped");
                }
                if less_excess {
                    what.push_str(", less the excess");
                }
                bases[p.by] = format!("{what} ({name})");
                bases[1 - p.by] = format!("nothing under this rule ({name})");
            }
        }

        let unreimbursed = (whole - reimbursed).max(Decimal::ZERO);
        if unreimbursed > Decimal::ZERO {
            notes.push(format!("{} {cur} of the loss and fees is not reimbursed under this policy", unreimbursed.normalize()));
        }
        let shares = (0..2)
            .map(|i| Share {
                institution: member(i).institution.clone(),
                amount: amounts[i].normalize(),
                basis: std::mem::take(&mut bases[i]),
            })
            .collect();
        Ok(Split { shares, reimbursed: reimbursed.normalize(), unreimbursed: unreimbursed.normalize(), rule: rule.name.clone(), notes })
    }

    /// The rule for two parties and which party stands for each of its members: a rule for
    /// the pair of institutions before one for the pair of kinds; at each level a
    /// `when_kyc_none` rule whose party has KYC "none" (the first in the file) before the
    /// unconditional rule.
    fn choose(&self, parties: &[&Party; 2], kinds: [Kind; 2]) -> Option<(&Rule, [usize; 2])> {
        let order = |r: &Rule, by_institution: bool| match &r.pair {
            Pair::Institutions(ids) if by_institution => order_of(ids, |i| parties[i].institution.as_str()),
            Pair::Kinds(k) if !by_institution => order_of(k, |i| kinds[i]),
            _ => None,
        };
        for by_institution in [true, false] {
            let matching = || self.rules.iter().filter_map(|r| order(r, by_institution).map(|o| (r, o)));
            let kyc = matching().find(|(r, o)| match r.action {
                Action::KycNone(b) => parties[o[b]].kyc.as_deref().is_some_and(|k| k.eq_ignore_ascii_case("none")),
                _ => false,
            });
            if kyc.is_some() {
                return kyc;
            }
            if let Some(found) = matching().find(|(r, _)| !matches!(r.action, Action::KycNone(_))) {
                return Some(found);
            }
        }
        None
    }

    fn currency_error(&self, what: &'static str, claim: &str) -> PolicyError {
        PolicyError::Currency { what, policy: self.currency.clone(), claim: claim.to_string() }
    }
}

/// Which party (0 or 1) stands for each member of a rule, if the members are the parties'.
fn order_of<T: PartialEq + Copy, U: PartialEq<T>>(members: &[U; 2], party: impl Fn(usize) -> T) -> Option<[usize; 2]> {
    if members[0] == party(0) && members[1] == party(1) {
        Some([0, 1])
    } else if members[0] == party(1) && members[1] == party(0) {
        Some([1, 0])
    } else {
        None
    }
}

fn check_rule(src: &Src<'_>, n: usize, r: &RawRule, span: Range<usize>) -> Result<Rule, PolicyError> {
    let pair = match (&r.kinds, &r.institutions) {
        (Some(k), None) => {
            let names = k.get_ref();
            let [a, b] = names.as_slice() else {
                return Err(src.err(k.span(), format!("rule {n}: `kinds` names two kinds, got {}", names.len())));
            };
            let kind = |s: &str| {
                s.parse::<Kind>().map_err(|_| {
                    src.err(k.span(), format!("rule {n}: unknown kind {s:?}: expected one of bank, emoney, broker, exchange, card"))
                })
            };
            let (a, b) = (kind(a)?, kind(b)?);
            if a == b {
                return Err(src.err(
                    k.span(),
                    format!("rule {n}: `kinds` names {a} twice; two institutions of one kind need an `institutions` rule"),
                ));
            }
            Pair::Kinds([a, b])
        }
        (None, Some(ids)) => {
            let names = ids.get_ref();
            let [a, b] = names.as_slice() else {
                return Err(src.err(ids.span(), format!("rule {n}: `institutions` names two institutions, got {}", names.len())));
            };
            if a.is_empty() || b.is_empty() || a == b {
                return Err(src.err(ids.span(), format!("rule {n}: `institutions` names two distinct, non-empty ids")));
            }
            Pair::Institutions([a.clone(), b.clone()])
        }
        _ => return Err(src.err(span, format!("rule {n}: give either `kinds` or `institutions`"))),
    };
    let what = match &pair {
        Pair::Kinds(_) => "kind",
        Pair::Institutions(_) => "institution",
    };
    let member = |s: &Spanned<String>, key: &str| {
        pair.index(s.get_ref()).ok_or_else(|| {
            src.err(
                s.span(),
                format!(
                    "rule {n}: `{key}` names {:?}, which is not a {what} of the rule ({} or {})",
                    s.get_ref(),
                    pair.label(0),
                    pair.label(1)
                ),
            )
        })
    };
    let action = match (&r.split, &r.when_kyc_none, &r.pledge) {
        (Some(split), None, None) => {
            let mut shares = [None, None];
            for (key, v) in split.get_ref() {
                let Some(i) = pair.index(key) else {
                    return Err(src.err(
                        split.span(),
                        format!(
                            "rule {n}: `split` names {key:?}, which is not a {what} of the rule ({} or {})",
                            pair.label(0),
                            pair.label(1)
                        ),
                    ));
                };
                let d = v.get_ref().0;
                if d < Decimal::ZERO || d > Decimal::ONE {
                    return Err(src.err(v.span(), format!("rule {n}: the share of {key} is {d}: a share is between 0 and 1")));
                }
                shares[i] = Some(d);
            }
            let [Some(a), Some(b)] = shares else {
                return Err(
                    src.err(split.span(), format!("rule {n}: `split` gives a share to both {} and {}", pair.label(0), pair.label(1)))
                );
            };
            if a + b != Decimal::ONE {
                return Err(src.err(split.span(), format!("rule {n}: the shares sum to {}, not 1", (a + b).normalize())));
            }
            Action::Split([a, b])
        }
        (None, Some(who), None) => Action::KycNone(member(who, "when_kyc_none")?),
        (None, None, Some(p)) => {
            let p = p.get_ref();
            let ls = p.loss_share.get_ref().0;
            if ls < Decimal::ZERO || ls > Decimal::ONE {
                return Err(src.err(p.loss_share.span(), format!("rule {n}: `loss_share` is {ls}: it is between 0 and 1")));
            }
            let fixed = p.fixed.as_ref().map(|f| src.money(f, "fixed")).transpose()?.unwrap_or(Decimal::ZERO);
            Action::Pledge(Pledge { by: member(&p.by, "by")?, loss_share: ls, fees: p.fees, fixed })
        }
        _ => return Err(src.err(span, format!("rule {n}: give exactly one of `split`, `when_kyc_none` or `pledge`"))),
    };
    let name = r.name.clone().unwrap_or_else(|| format!("rule {n}: {}–{}", pair.label(0), pair.label(1)));
    Ok(Rule { name, pair, action })
}

/// Whether two rules for the same members would compete: two unconditional rules, or two
/// KYC rules for the same member.
fn same_condition(a: &Action, b: &Action, pa: &Pair, pb: &Pair) -> bool {
    match (a, b) {
        (Action::KycNone(x), Action::KycNone(y)) => pa.label(*x) == pb.label(*y),
        (Action::KycNone(_), _) | (_, Action::KycNone(_)) => false,
        _ => true,
    }
}

fn round_down(d: Decimal, places: u32) -> Decimal {
    d.round_dp_with_strategy(places, RoundingStrategy::ToZero)
}

fn percent(share: Decimal) -> String {
    format!("{}%", (share * Decimal::ONE_HUNDRED).normalize())
}

fn join_and(parts: &[String]) -> String {
    match parts {
        [] => String::new(),
        [one] => one.clone(),
        [init @ .., last] => format!("{} and {last}", init.join(", ")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn dec(s: &str) -> Decimal {
        Decimal::from_str(s).unwrap()
    }

    fn party(id: &str, kind: &str) -> Party {
        Party { institution: id.into(), kind: kind.into(), kyc: None }
    }

    fn claim(loss: &str, fees: &str, parties: Vec<Party>) -> Claim {
        Claim { loss: dec(loss), fees: dec(fees), currency: "JPY".into(), parties, vulnerable: false }
    }

    fn amounts(s: &Split) -> Vec<(&str, Decimal)> {
        s.shares.iter().map(|x| (x.institution.as_str(), x.amount)).collect()
    }

    #[test]
    fn default_bank_emoney_half_and_half() {
        let p = PolicySet::default();
        // The wallet listed first: shares still follow the rule's order, bank first.
        let s = p.split(&claim("100001", "0", vec![party("paypay", "emoney"), party("mizuho", "bank")])).unwrap();
        assert_eq!(amounts(&s), [("mizuho", dec("50001")), ("paypay", dec("50000"))]);
        assert_eq!(s.reimbursed, dec("100001"));
        assert_eq!(s.unreimbursed, Decimal::ZERO);
        assert_eq!(s.rule, "bank–emoney default");
        assert_eq!(s.shares[0].basis, "50% of loss and fees, plus the rounding remainder (bank–emoney default)");
        assert_eq!(s.shares[1].basis, "50% of loss and fees (bank–emoney default)");
        assert!(s.notes.is_empty(), "{:?}", s.notes);

        let s = p.split(&claim("100000", "330", vec![party("mizuho", "bank"), party("paypay", "emoney")])).unwrap();
        assert_eq!(amounts(&s), [("mizuho", dec("50165")), ("paypay", dec("50165"))]);
    }

    #[test]
    fn default_kyc_none_wallet_bears_all() {
        let p = PolicySet::default();
        let mut wallet = party("paypay", "emoney");
        wallet.kyc = Some("none".into());
        let s = p.split(&claim("100001", "110", vec![party("mizuho", "bank"), wallet.clone()])).unwrap();
        assert_eq!(amounts(&s), [("mizuho", Decimal::ZERO), ("paypay", dec("100111"))]);
        assert_eq!(s.reimbursed, dec("100111"));
        assert_eq!(s.rule, "bank–emoney, wallet opened without KYC");
        assert!(s.shares[1].basis.starts_with("100% of loss and fees"), "{}", s.shares[1].basis);
        // Only the wallet's KYC matters; other levels fall back to the split.
        wallet.kyc = Some("ekyc".into());
        let mut bank = party("mizuho", "bank");
        bank.kyc = Some("none".into());
        let s = p.split(&claim("100", "0", vec![bank, wallet])).unwrap();
        assert_eq!(s.rule, "bank–emoney default");
        assert_eq!(amounts(&s), [("mizuho", dec("50")), ("paypay", dec("50"))]);
    }

    #[test]
    fn default_brokers_pledge() {
        let p = PolicySet::default();
        let s = p.split(&claim("1000000", "2200", vec![party("mufg", "bank"), party("sbi-sec", "broker")])).unwrap();
        assert_eq!(amounts(&s), [("sbi-sec", dec("512200")), ("mufg", Decimal::ZERO)]);
        assert_eq!(s.reimbursed, dec("512200"));
        assert_eq!(s.unreimbursed, dec("490000"));
        assert_eq!(s.rule, "brokers' pledge");
        assert_eq!(s.shares[0].basis, "50% of the loss, the fees and a fixed 10000 JPY (brokers' pledge)");
        assert_eq!(s.notes, ["490000 JPY of the loss and fees is not reimbursed under this policy"]);
        // An odd yen of the half is rounded down and stays unreimbursed.
        let s = p.split(&claim("1001", "0", vec![party("sbi-sec", "broker"), party("mufg", "bank")])).unwrap();
        assert_eq!(s.reimbursed, dec("10500"));
        assert_eq!(s.unreimbursed, Decimal::ZERO);
        assert!(s.notes.iter().any(|n| n.contains("rounded down")), "{:?}", s.notes);
    }

    #[test]
    fn institution_pair_overrides_kinds() {
        let text = format!(
            "{DEFAULT_POLICY}\n[[rule]]\nname = \"mizuho–paypay agreement\"\ninstitutions = [\"paypay\", \"mizuho\"]\nsplit = {{ paypay = \"0.7\", mizuho = \"0.3\" }}\n"
        );
        let p = PolicySet::from_toml(&text).unwrap();
        let s = p.split(&claim("100001", "0", vec![party("mizuho", "bank"), party("paypay", "emoney")])).unwrap();
        assert_eq!(s.rule, "mizuho–paypay agreement");
        // 70000.7 and 30000.3 round down to 70000 and 30000; the yen left goes to paypay, listed first.
        assert_eq!(amounts(&s), [("paypay", dec("70001")), ("mizuho", dec("30000"))]);
        // The institution rule wins over the kind-level KYC rule too.
        let mut wallet = party("paypay", "emoney");
        wallet.kyc = Some("NONE".into());
        let s = p.split(&claim("100", "0", vec![party("mizuho", "bank"), wallet.clone()])).unwrap();
        assert_eq!(s.rule, "mizuho–paypay agreement");
        // Other institutions keep the kind rules.
        let s = p.split(&claim("100", "0", vec![party("smbc", "bank"), wallet])).unwrap();
        assert_eq!(s.rule, "bank–emoney, wallet opened without KYC");
    }

    #[test]
    fn same_kind_needs_institution_rule() {
        let text = "[[rule]]\ninstitutions = [\"smbc\", \"mizuho\"]\nsplit = { smbc = \"0.5\", mizuho = \"0.5\" }\n";
        let p = PolicySet::from_toml(text).unwrap();
        let s = p.split(&claim("3", "0", vec![party("mizuho", "bank"), party("smbc", "bank")])).unwrap();
        assert_eq!(amounts(&s), [("smbc", dec("2")), ("mizuho", dec("1"))]);
        assert_eq!(s.rule, "rule 1: smbc–mizuho");
        let e = PolicySet::default().split(&claim("3", "0", vec![party("mizuho", "bank"), party("smbc", "bank")])).unwrap_err();
        assert!(matches!(e, PolicyError::NoRule { .. }), "{e}");
    }

    #[test]
    fn cap_and_excess() {
        let text = "currency = \"GBP\"\ncap = \"85000\"\nexcess = \"100\"\n\n[[rule]]\nkinds = [\"bank\", \"emoney\"]\nsplit = { bank = \"0.5\", emoney = \"0.5\" }\n";
        let p = PolicySet::from_toml(text).unwrap();
        assert_eq!((p.currency(), p.cap(), p.excess()), ("GBP", Some(dec("85000")), Some(dec("100"))));
        let gbp = |loss: &str, vulnerable: bool| Claim {
            loss: dec(loss),
            fees: Decimal::ZERO,
            currency: "GBP".into(),
            parties: vec![party("barclays", "bank"), party("revolut", "emoney")],
            vulnerable,
        };
        // Capped, then the excess deducted.
        let s = p.split(&gbp("100000", false)).unwrap();
        assert_eq!(s.reimbursed, dec("84900"));
        assert_eq!(s.unreimbursed, dec("15100"));
        assert_eq!(amounts(&s), [("barclays", dec("42450")), ("revolut", dec("42450"))]);
        assert_eq!(s.shares[0].basis, "50% of loss and fees, capped, less the excess (rule 1: bank–emoney)");
        assert_eq!(s.notes[..2], ["capped at 85000 GBP per claim", "excess of 100 GBP deducted"]);
        // No excess for a vulnerable victim.
        let s = p.split(&gbp("100000", true)).unwrap();
        assert_eq!(s.reimbursed, dec("85000"));
        assert!(s.notes.contains(&"no excess: the victim is vulnerable".to_string()));
        // Below the cap; pennies split with the remainder to the bank.
        let s = p.split(&gbp("250.03", false)).unwrap();
        assert_eq!(s.reimbursed, dec("150.03"));
        assert_eq!(amounts(&s), [("barclays", dec("75.02")), ("revolut", dec("75.01"))]);
        // The excess never makes the reimbursement negative.
        let s = p.split(&gbp("40", false)).unwrap();
        assert_eq!(s.reimbursed, Decimal::ZERO);
        assert_eq!(s.unreimbursed, dec("40"));
        // A cap in GBP cannot apply to a JPY claim.
        let e = p.split(&claim("100", "0", vec![party("a", "bank"), party("b", "emoney")])).unwrap_err();
        assert_eq!(e, PolicyError::Currency { what: "cap", policy: "GBP".into(), claim: "JPY".into() });
    }

    #[test]
    fn other_currencies_and_claim_errors() {
        let p = PolicySet::default();
        // Crypto has 18 places (mamori_core::amount).
        let mut c = claim("0.000000000000000003", "0", vec![party("mizuho", "bank"), party("paypay", "emoney")]);
        c.currency = "BTC".into();
        let s = p.split(&c).unwrap();
        assert_eq!(amounts(&s), [("mizuho", dec("0.000000000000000002")), ("paypay", dec("0.000000000000000001"))]);
        c.loss = dec("0.0000000000000000001");
        assert!(p.split(&c).unwrap_err().to_string().contains("at most 18 decimal places"));
        c.loss = dec("0.00000003");
        // The pledge's fixed amount is in JPY.
        c.parties = vec![party("mufg", "bank"), party("sbi-sec", "broker")];
        assert!(matches!(p.split(&c), Err(PolicyError::Currency { what: "pledge's fixed amount", .. })));

        let bad = |c: Claim| p.split(&c).unwrap_err();
        let e = bad(claim("-1", "0", vec![party("a", "bank"), party("b", "emoney")]));
        assert_eq!(e, PolicyError::Negative { what: "loss", amount: dec("-1") });
        let e = bad(claim("1", "-5", vec![party("a", "bank"), party("b", "emoney")]));
        assert_eq!(e.to_string(), "fees must not be negative (got -5)");
        let e = bad(claim("1.5", "0", vec![party("a", "bank"), party("b", "emoney")]));
        assert!(e.to_string().contains("no minor unit"), "{e}");
        let e = bad(claim("1", "0", vec![party("a", "bank"), party("b", "wallet")]));
        assert_eq!(e, PolicyError::UnknownKind("wallet".into()));
        let e = bad(claim("1", "0", vec![party("a", "bank")]));
        assert!(matches!(e, PolicyError::Parties(_)), "{e}");
        let e = bad(claim("1", "0", vec![party("a", "bank"), party("a", "emoney")]));
        assert!(matches!(e, PolicyError::Parties(_)), "{e}");
        let e = bad(claim("1", "0", vec![party("a", "bank"), party("b", "card")]));
        assert_eq!(e.to_string(), "no rule covers a claim between bank \"a\" and card \"b\"");
        let mut c = claim("1", "0", vec![party("a", "bank"), party("b", "emoney")]);
        c.currency = "jpy".into();
        assert!(bad(c).to_string().contains("upper case"));
    }

    #[test]
    fn default_policy_text_is_the_default() {
        let p = PolicySet::default();
        assert_eq!(p.rules.len(), 3);
        assert_eq!((p.currency(), p.cap(), p.excess()), ("JPY", None, None));
    }

    fn refused(text: &str) -> String {
        match PolicySet::from_toml(text) {
            Ok(_) => panic!("accepted: {text}"),
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn malformed_files() {
        let e = refused("[[rule]]\nkinds = [\"bank\", \"emoney\"]\nsplitt = { bank = \"0.5\", emoney = \"0.5\" }\n");
        assert!(e.contains("line 3, column 1") && e.contains("unknown field `splitt`"), "{e}");

        let e = refused("[[rule]]\nkinds = [\"bank\", \"emoney\"]\nsplit = { bank = \"0.5\", emoney = \"0.4\" }\n");
        assert_eq!(e, "TOML policy error at line 3, column 9: rule 1: the shares sum to 0.9, not 1");

        let e = refused("[[rule]]\nkinds = [\"bank\", \"emoney\"]\nsplit = { bank = \"0,5\", emoney = \"0.5\" }\n");
        assert!(e.contains("line 3") && e.contains("not a decimal number"), "{e}");

        let e = refused("[[rule]]\nkinds = [\"bank\", \"emoney\"]\nsplit = { bank = 0.5, emoney = \"0.5\" }\n");
        assert!(e.contains("line 3") && e.contains("a TOML float is not exact"), "{e}");

        let e = refused("[[rule]]\nkinds = [\"bank\", \"wallet\"]\nsplit = { bank = \"0.5\", wallet = \"0.5\" }\n");
        assert!(e.starts_with("TOML policy error at line 2, column 9: rule 1: unknown kind \"wallet\""), "{e}");

        let e = refused("[[rule]]\nkinds = [\"bank\", \"emoney\"]\nsplit = { bank = \"1.5\", emoney = \"-0.5\" }\n");
        assert!(e.contains("a share is between 0 and 1"), "{e}");

        let e = refused("[[rule]]\nkinds = [\"bank\", \"emoney\"]\nsplit = { bank = \"1\", card = \"0\" }\n");
        assert!(e.contains("`split` names \"card\""), "{e}");

        let e = refused("[[rule]]\nkinds = [\"bank\", \"emoney\"]\n");
        assert!(e.contains("exactly one of `split`, `when_kyc_none` or `pledge`"), "{e}");

        let e = refused("[[rule]]\nkinds = [\"bank\", \"bank\"]\nsplit = { bank = \"1\" }\n");
        assert!(e.contains("names bank twice"), "{e}");

        let e = refused("[[rule]]\nkinds = [\"bank\", \"emoney\"]\nwhen_kyc_none = \"broker\"\n");
        assert!(e.contains("`when_kyc_none` names \"broker\""), "{e}");

        let e =
            refused("[[rule]]\nkinds = [\"broker\", \"bank\"]\npledge = { by = \"broker\", loss_share = \"0.5\", fixed = \"100.5\" }\n");
        assert!(e.contains("fixed: JPY has no minor unit"), "{e}");

        let e = refused("cap = \"-1\"\n[[rule]]\nkinds = [\"bank\", \"emoney\"]\nsplit = { bank = \"1\", emoney = \"0\" }\n");
        assert_eq!(e, "TOML policy error at line 1, column 7: cap must not be negative (got -1)");

        let e = refused("currency = \"gbp\"\n");
        assert!(e.contains("did you mean \"GBP\""), "{e}");

        let e = refused("# nothing\n");
        assert!(e.contains("at least one rule"), "{e}");

        let e =
            refused(&format!("{DEFAULT_POLICY}\n[[rule]]\nkinds = [\"emoney\", \"bank\"]\nsplit = {{ bank = \"1\", emoney = \"0\" }}\n"));
        assert!(e.contains("rule 4 repeats rule 1"), "{e}");

        let e = refused("[[rule]\n");
        assert!(e.contains("line 1"), "{e}");
    }

    #[test]
    fn claims_deserialize() {
        let c: Claim = toml::from_str(
            "loss = \"100001\"\ncurrency = \"JPY\"\n[[parties]]\ninstitution = \"mizuho\"\nkind = \"bank\"\n[[parties]]\ninstitution = \"paypay\"\nkind = \"emoney\"\nkyc = \"none\"\n",
        )
        .unwrap();
        assert_eq!(c.fees, Decimal::ZERO);
        assert_eq!(PolicySet::default().split(&c).unwrap().reimbursed, dec("100001"));
    }

    fn money(places: u32) -> impl Strategy<Value = Decimal> {
        (0i64..10_000_000_000).prop_map(move |n| Decimal::new(n, places))
    }

    proptest! {
        #[test]
        fn shares_sum_to_reimbursed(
            loss in money(2),
            fees in money(2),
            bank_share in 0u32..=1000,
            cap in proptest::option::of(money(2)),
            excess in proptest::option::of(money(2)),
            vulnerable: bool,
            swap: bool,
            kyc_none: bool,
            broker: bool,
        ) {
            let share = Decimal::new(i64::from(bank_share), 3);
            let mut text = "currency = \"USD\"\n".to_string();
            if let Some(c) = cap {
                text += &format!("cap = \"{c}\"\n");
            }
            if let Some(e) = excess {
                text += &format!("excess = \"{e}\"\n");
            }
            text += &format!("[[rule]]\nkinds = [\"bank\", \"emoney\"]\nsplit = {{ bank = \"{share}\", emoney = \"{}\" }}\n", Decimal::ONE - share);
            text += "[[rule]]\nkinds = [\"bank\", \"emoney\"]\nwhen_kyc_none = \"emoney\"\n";
            text += &format!("[[rule]]\nkinds = [\"bank\", \"broker\"]\npledge = {{ by = \"broker\", loss_share = \"{share}\", fees = true, fixed = \"7.77\" }}\n");
            let p = PolicySet::from_toml(&text).unwrap();
            let other = Party { institution: "o".into(), kind: if broker { "broker" } else { "emoney" }.into(), kyc: kyc_none.then(|| "none".into()) };
            let mut parties = vec![party("b", "bank"), other];
            if swap {
                parties.reverse();
            }
            let c = Claim { loss, fees, currency: "USD".into(), parties, vulnerable };
            let s = p.split(&c).unwrap();
            let sum: Decimal = s.shares.iter().map(|x| x.amount).sum();
            prop_assert_eq!(sum, s.reimbursed);
            for x in &s.shares {
                prop_assert!(x.amount >= Decimal::ZERO);
                prop_assert!(x.amount.scale() <= 2);
            }
            prop_assert!(s.unreimbursed >= Decimal::ZERO);
            if !broker {
                prop_assert_eq!(s.reimbursed + s.unreimbursed, loss + fees);
            }
            if let Some(c) = cap {
                prop_assert!(s.reimbursed <= c);
            }
        }

        #[test]
        fn jpy_remainder_is_at_most_a_yen(loss in 0i64..1_000_000_000_000, share in 0u32..=10_000) {
            let share = Decimal::new(i64::from(share), 4);
            let text = format!("[[rule]]\nkinds = [\"bank\", \"emoney\"]\nsplit = {{ bank = \"{share}\", emoney = \"{}\" }}\n", Decimal::ONE - share);
            let p = PolicySet::from_toml(&text).unwrap();
            let c = claim(&loss.to_string(), "0", vec![party("b", "bank"), party("e", "emoney")]);
            let s = p.split(&c).unwrap();
            let exact = Decimal::from(loss) * share;
            prop_assert!(s.shares[0].amount >= exact && s.shares[0].amount - exact < Decimal::ONE + Decimal::ONE);
            prop_assert!(s.shares[1].amount <= Decimal::from(loss) - exact);
            prop_assert_eq!(s.shares[0].amount + s.shares[1].amount, Decimal::from(loss));
        }
    }
}
