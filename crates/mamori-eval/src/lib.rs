//! Evaluation: labelled traffic through a [`Judge`] in the order institutions sent it,
//! and what that would have meant for money and for honest customers.
//!
//! Input: `events.ndjson` (the v1 contract, one event per line) and `labels.csv`
//! (`institution,id,scenario,fraud,chain,step,value_jpy` for every event, kept beside the
//! events so the events are exactly what institutions send).
//!
//! Per scenario:
//! - **fraud value stopped**: the JPY value of fraudulent money events that did not move.
//!   A fraud case (a `chain`) is stopped at its first event that is held or blocked, or
//!   challenged when the fraudster cannot pass the challenge (strong authentication on the
//!   channel the customer registered before: passable only after the fraudster changed that
//!   channel, a `credential_changed` of `phone`, `email` or `device` earlier in the case).
//!   Every money event of the case from there on never moves: stopped. A withdrawal
//!   from an exchange's hot wallet is the exception: an attacker who holds the wallet's
//!   keys is not stopped by one refusal, so each such withdrawal counts as stopped only
//!   when it was itself held or blocked (a tripped breaker holds every later one).
//! - **legit money events held or blocked**, as a share of legit money events;
//! - **legit events challenged**, as a share of legit events;
//! - the distribution of scores of fraudulent and legitimate events (an SVG).

use std::collections::{BTreeMap, HashMap};
use std::io::BufRead;
use std::path::Path;

use mamori_core::event::Event;
use mamori_rules::Action;
use mamori_server::Judge;
use mamori_server::judge::Release;
use serde::Serialize;

mod svg;
pub use svg::render_svg;

/// One label row.
#[derive(Debug, Clone, serde::Deserialize)]
pub struct Label {
    pub institution: String,
    pub id: String,
    pub scenario: String,
    pub fraud: u8,
    #[serde(default)]
    pub chain: String,
    #[serde(default)]
    pub step: String,
    #[serde(default)]
    pub value_jpy: u64,
}

/// What was decided for one labelled event.
#[derive(Debug, Clone)]
struct Judged {
    label: Label,
    action: Action,
    score: i64,
    /// The acting rules that fired.
    rules: Vec<String>,
    /// The credential the event changed, for `credential_changed`.
    changed: Option<String>,
    /// An attempt that does not depend on the case's earlier steps (a withdrawal from a
    /// hot wallet whose keys the attacker holds): stopped only when it is itself stopped.
    independent: bool,
}

/// The results of one scenario (or of all: scenario `all`).
#[derive(Debug, Clone, Default, Serialize)]
pub struct ScenarioReport {
    pub scenario: String,
    pub events: u64,
    pub fraud_events: u64,
    pub fraud_chains: u64,
    pub fraud_chains_stopped: u64,
    pub fraud_value_jpy: u64,
    pub fraud_value_stopped_jpy: u64,
    pub legit_events: u64,
    pub legit_money_events: u64,
    pub legit_money_held_or_blocked: u64,
    pub legit_challenged: u64,
    /// Per rule: legit events it fired on that were held or blocked, and that were challenged.
    pub legit_by_rule: BTreeMap<String, (u64, u64)>,
    /// Per rule: fraud events it fired on.
    pub fraud_by_rule: BTreeMap<String, u64>,
    /// Scores of fraudulent and of legitimate events (for the plot).
    #[serde(skip)]
    pub fraud_scores: Vec<i64>,
    #[serde(skip)]
    pub legit_scores: Vec<i64>,
}

impl ScenarioReport {
    pub fn stopped_share(&self) -> f64 {
        if self.fraud_value_jpy == 0 { 1.0 } else { self.fraud_value_stopped_jpy as f64 / self.fraud_value_jpy as f64 }
    }
    pub fn legit_held_share(&self) -> f64 {
        ratio(self.legit_money_held_or_blocked, self.legit_money_events)
    }
    pub fn legit_challenged_share(&self) -> f64 {
        ratio(self.legit_challenged, self.legit_events)
    }
    /// The targets of the built-in packs: at least 99% of the fraud value stopped, at
    /// most 0.5% of honest money events held or blocked, at most 5% of honest events
    /// challenged.
    pub fn meets_targets(&self) -> bool {
        self.stopped_share() >= 0.99 && self.legit_held_share() <= 0.005 && self.legit_challenged_share() <= 0.05
    }
}

fn ratio(a: u64, b: u64) -> f64 {
    if b == 0 { 0.0 } else { a as f64 / b as f64 }
}

/// The whole evaluation: per scenario, then all together.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub ruleset: String,
    pub scenarios: Vec<ScenarioReport>,
    pub all: ScenarioReport,
    /// Events that did not parse (by line) — none in a well-formed input.
    pub rejected: Vec<(u64, String)>,
    /// Merchants flagged as compromised points of purchase from the fraud reports.
    pub compromised: Vec<CompromisedPoint>,
}

/// A merchant flagged as a compromised point of purchase, times in RFC 3339.
#[derive(Debug, Clone, Serialize)]
pub struct CompromisedPoint {
    pub merchant: String,
    pub breach_from: String,
    pub breach_to: String,
    pub reported_cards: usize,
    pub flagged_at: String,
}

#[derive(Debug, thiserror::Error)]
pub enum EvalError {
    #[error("{path}: {reason}")]
    Input { path: String, reason: String },
    #[error("{0}")]
    Labels(String),
}

/// Reads `labels.csv`.
pub fn read_labels(path: &Path) -> Result<HashMap<(String, String), Label>, EvalError> {
    let file = std::fs::File::open(path).map_err(|e| EvalError::Input { path: path.display().to_string(), reason: e.to_string() })?;
    parse_labels(std::io::BufReader::new(file), &path.display().to_string())
}

/// Reads labels in the form of `labels.csv` from `reader` (`origin` names it in errors).
pub fn parse_labels(reader: impl std::io::Read, origin: &str) -> Result<HashMap<(String, String), Label>, EvalError> {
    let input = |reason: String| EvalError::Input { path: origin.to_string(), reason };
    let mut rdr = csv::Reader::from_reader(reader);
    let mut out = HashMap::new();
    for (i, row) in rdr.deserialize::<Label>().enumerate() {
        let l = row.map_err(|e| input(format!("row {}: {e}", i + 2)))?;
        if l.fraud > 1 {
            return Err(input(format!("row {}: fraud must be 0 or 1", i + 2)));
        }
        let key = (l.institution.clone(), l.id.clone());
        if out.insert(key, l).is_some() {
            return Err(input(format!("row {}: a second label for the same (institution, id)", i + 2)));
        }
    }
    Ok(out)
}

/// Runs every event of `events` (NDJSON) through `judge` in order and scores the outcome
/// against `labels`. Every event must have a label. `each` sees every decision (for a
/// per-event listing).
pub fn evaluate(judge: &mut Judge, events: impl BufRead, labels: &HashMap<(String, String), Label>) -> Result<Report, EvalError> {
    evaluate_with(judge, events, labels, &Options::default(), |_, _, _| {})
}

/// How the evaluation models the people around the rules.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// A tripped breaker is released this long (event time, µs) after it tripped, as an
    /// operator would once the drain is stopped; `None`: never.
    pub release_after_us: Option<i64>,
}

/// [`evaluate`], with options and a callback per decided event (label, action, acting rules).
pub fn evaluate_with(
    judge: &mut Judge,
    events: impl BufRead,
    labels: &HashMap<(String, String), Label>,
    opts: &Options,
    mut each: impl FnMut(&Label, Action, &[String]),
) -> Result<Report, EvalError> {
    let mut judged: Vec<Judged> = Vec::new();
    let mut rejected = Vec::new();
    for (n, line) in events.lines().enumerate() {
        let line = line.map_err(|e| EvalError::Input { path: "events".into(), reason: e.to_string() })?;
        if line.trim().is_empty() {
            continue;
        }
        let event = match Event::from_json_slice(line.as_bytes()) {
            Ok(e) => e,
            Err(e) => {
                rejected.push((n as u64 + 1, e.to_string()));
                continue;
            }
        };
        let inst = event.institution.clone().unwrap_or_default();
        let Some(label) = labels.get(&(inst.clone(), event.id.clone())) else {
            return Err(EvalError::Labels(format!("line {}: event {:?} of {inst:?} has no label", n + 1, event.id)));
        };
        if let Some(after) = opts.release_after_us {
            let due: Vec<Release> = judge
                .tripped()
                .filter(|t| {
                    mamori_core::Timestamp::parse_rfc3339(&t.at)
                        .is_ok_and(|at| at.as_micros().saturating_add(after) <= event.time.as_micros())
                })
                .map(|t| Release {
                    breaker: t.breaker.clone(),
                    key: t.key.clone(),
                    by: t.institution.clone(),
                    reason: "released by the evaluation's operator".into(),
                    at: event.time.to_rfc3339(),
                })
                .collect();
            for r in &due {
                judge.release(r);
            }
        }
        let decision = judge.judge(&event);
        let changed = match &event.kind {
            mamori_core::EventKind::CredentialChanged { what, .. } => Some(what.as_str().to_string()),
            _ => None,
        };
        let rules: Vec<String> = decision.reasons.iter().map(|r| r.rule.clone()).collect();
        each(label, decision.action, &rules);
        let independent = matches!(event.kind, mamori_core::EventKind::CryptoWithdrawal { .. });
        judged.push(Judged { label: label.clone(), action: decision.action, score: decision.score, rules, changed, independent });
    }
    let mut by_scenario: BTreeMap<String, ScenarioReport> = BTreeMap::new();
    let mut all = ScenarioReport { scenario: "all".into(), ..ScenarioReport::default() };
    // Fraud cases, in the order their events were decided.
    let mut chains: BTreeMap<(String, String), Vec<usize>> = BTreeMap::new();
    for (i, j) in judged.iter().enumerate() {
        let r = by_scenario
            .entry(j.label.scenario.clone())
            .or_insert_with(|| ScenarioReport { scenario: j.label.scenario.clone(), ..ScenarioReport::default() });
        for r in [r, &mut all] {
            r.events += 1;
            if j.label.fraud == 1 {
                for rule in &j.rules {
                    *r.fraud_by_rule.entry(rule.clone()).or_default() += 1;
                }
                r.fraud_events += 1;
                r.fraud_value_jpy += j.label.value_jpy;
                r.fraud_scores.push(j.score);
            } else {
                r.legit_events += 1;
                r.legit_scores.push(j.score);
                if j.label.value_jpy > 0 {
                    r.legit_money_events += 1;
                    if matches!(j.action, Action::Hold | Action::Block) {
                        r.legit_money_held_or_blocked += 1;
                    }
                }
                if j.action == Action::Challenge {
                    r.legit_challenged += 1;
                }
                let held = matches!(j.action, Action::Hold | Action::Block);
                if held || j.action == Action::Challenge {
                    for rule in &j.rules {
                        let e = r.legit_by_rule.entry(rule.clone()).or_default();
                        if held { e.0 += 1 } else { e.1 += 1 }
                    }
                }
            }
        }
        if j.label.fraud == 1 {
            let chain =
                if j.label.chain.is_empty() { format!("event:{}:{}", j.label.institution, j.label.id) } else { j.label.chain.clone() };
            chains.entry((j.label.scenario.clone(), chain)).or_default().push(i);
        }
    }
    for ((scenario, _), events) in &chains {
        let mut channel_taken = false;
        let mut stopped = false;
        let mut value_stopped = 0;
        let mut any_stopped = false;
        for &i in events {
            let j = &judged[i];
            let own = match j.action {
                Action::Hold | Action::Block => true,
                Action::Challenge => !channel_taken,
                Action::Allow => false,
            };
            if j.independent {
                any_stopped |= own;
                if own || stopped {
                    value_stopped += j.label.value_jpy;
                }
                continue;
            }
            stopped |= own;
            if stopped {
                value_stopped += j.label.value_jpy;
            }
            if j.changed.as_deref().is_some_and(|w| matches!(w, "phone" | "email" | "device")) {
                channel_taken = true;
            }
        }
        for r in [by_scenario.get_mut(scenario), Some(&mut all)].into_iter().flatten() {
            r.fraud_chains += 1;
            r.fraud_value_stopped_jpy += value_stopped;
            r.fraud_chains_stopped += u64::from(stopped || any_stopped);
        }
    }
    let at = |t: i64| mamori_core::time::Timestamp(t).to_rfc3339();
    let compromised = judge
        .compromised()
        .map(|c| CompromisedPoint {
            merchant: c.merchant.clone(),
            breach_from: at(c.from),
            breach_to: at(c.to),
            reported_cards: c.reported_cards,
            flagged_at: at(c.flagged_at),
        })
        .collect();
    Ok(Report { ruleset: judge.packs().rules.id().to_string(), scenarios: by_scenario.into_values().collect(), all, rejected, compromised })
}

/// The report as a table for people.
pub fn render_table(r: &Report) -> String {
    let mut out = format!("ruleset {}\n\n", r.ruleset);
    out.push_str(&render_scenarios(r));
    out.push_str(&render_rules(r));
    out
}

/// One row per scenario and one for all: fraud value stopped, honest events held and
/// challenged.
pub fn render_scenarios(r: &Report) -> String {
    let mut out = String::new();
    out.push_str(&format!(
        "{:<12} {:>8} {:>7} {:>15} {:>9} {:>8} {:>12} {:>11}\n",
        "scenario", "events", "chains", "fraud JPY", "stopped", "cases", "legit held", "legit chal."
    ));
    for s in r.scenarios.iter().chain(std::iter::once(&r.all)) {
        out.push_str(&format!(
            "{:<12} {:>8} {:>7} {:>15} {:>8.2}% {:>3}/{:<4} {:>11.3}% {:>10.2}%\n",
            s.scenario,
            s.events,
            s.fraud_chains,
            s.fraud_value_jpy,
            s.stopped_share() * 100.0,
            s.fraud_chains_stopped,
            s.fraud_chains,
            s.legit_held_share() * 100.0,
            s.legit_challenged_share() * 100.0,
        ));
    }
    out
}

/// What each rule cost honest customers and caught, the compromised points found, and
/// the events refused.
fn render_rules(r: &Report) -> String {
    let mut out = String::new();
    out.push_str("\nrules by the honest events they stopped (held or blocked / challenged) and the fraud events they fired on:\n");
    let mut rules: BTreeMap<&str, (u64, u64, u64)> = BTreeMap::new();
    for (rule, (h, c)) in &r.all.legit_by_rule {
        let e = rules.entry(rule).or_default();
        e.0 += h;
        e.1 += c;
    }
    for (rule, f) in &r.all.fraud_by_rule {
        rules.entry(rule).or_default().2 += f;
    }
    let mut rows: Vec<_> = rules.into_iter().collect();
    rows.sort_by(|a, b| (b.1.0, b.1.1).cmp(&(a.1.0, a.1.1)).then(a.0.cmp(b.0)));
    for (rule, (h, c, f)) in rows {
        out.push_str(&format!("  {rule:<34} legit held {h:>6}  legit challenged {c:>6}  fraud {f:>6}\n"));
    }
    if !r.compromised.is_empty() {
        out.push_str("\ncompromised points of purchase found from the fraud reports:\n");
        for c in &r.compromised {
            out.push_str(&format!(
                "  {}: breach {} to {}, {} reported cards paid there, flagged {}\n",
                c.merchant, c.breach_from, c.breach_to, c.reported_cards, c.flagged_at
            ));
        }
    }
    if !r.rejected.is_empty() {
        out.push_str(&format!(
            "\n{} events refused by the contract (first: line {}: {})\n",
            r.rejected.len(),
            r.rejected[0].0,
            r.rejected[0].1
        ));
    }
    out
}
