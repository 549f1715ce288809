//! Cases: what an analyst works. Every hold or block, and every report, opens a case or
//! joins an open one of the same institution for the same victim, or one that shares an
//! attacker's entity (a device, an address, a payee account, a crypto address), so that a
//! gang across many victims is one case, not forty alerts.
//!
//! Like the registry, the casebook lives in the judge: it changes with decided events and
//! with the service's records (assignments, comments, attachments, verdicts, releases), in
//! the store's order, and a replay rebuilds it.

use std::collections::{BTreeSet, HashMap};

use mamori_core::Timestamp;
use mamori_core::event::{Event, EventKind};
use mamori_rules::Action;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

/// Where a case stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Open,
    Resolved,
}

/// What a case was found to be.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    Fraud,
    Legit,
    Unknown,
}

impl std::str::FromStr for Verdict {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "fraud" => Ok(Verdict::Fraud),
            "legit" => Ok(Verdict::Legit),
            "unknown" => Ok(Verdict::Unknown),
            other => Err(format!("verdict {other:?}: expected fraud, legit or unknown")),
        }
    }
}

/// An event of a case: what it was, what was decided, what became of it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CaseEvent {
    pub institution: String,
    pub id: String,
    #[serde(rename = "type")]
    pub event_type: String,
    pub time: String,
    pub decision: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub amount: Option<Decimal>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub currency: Option<String>,
    pub rules: Vec<String>,
    /// `held`, `blocked`, `released`, `confirmed` or `reported`.
    pub state: String,
    /// The victim it was taken from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub victim: Option<String>,
}

/// A note on a case: a comment, an assignment, a release, a verdict.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Note {
    pub at: String,
    pub by: String,
    pub what: String,
    pub text: String,
}

/// A file attached to a case (kept in the data directory by its SHA-256).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Attachment {
    pub name: String,
    pub sha256: String,
    pub size: u64,
    pub at: String,
    pub by: String,
}

/// One case.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Case {
    pub id: String,
    pub institution: String,
    pub status: Status,
    pub opened_at: String,
    pub opened_us: i64,
    pub updated_at: String,
    /// The customers (or accounts) whose events it holds.
    pub victims: BTreeSet<String>,
    /// The attackers' entities: (kind, value).
    pub entities: BTreeSet<(String, String)>,
    pub rules: BTreeSet<String>,
    /// The money of its money events, by currency.
    pub amounts: std::collections::BTreeMap<String, Decimal>,
    pub events: Vec<CaseEvent>,
    pub reports: Vec<String>,
    pub assignee: Option<String>,
    pub notes: Vec<Note>,
    pub attachments: Vec<Attachment>,
    pub verdict: Option<Verdict>,
}

/// The victim an event is about: its institution's customer, else its account.
fn victim(e: &Event) -> Option<String> {
    e.customer.as_ref().map(|c| format!("customer {c}")).or_else(|| e.account.as_ref().map(|a| format!("account {a}")))
}

/// The entities an attacker may reuse across victims.
fn entities(e: &Event) -> Vec<(String, String)> {
    let mut out = Vec::new();
    if let Some(d) = &e.device {
        out.push(("device".to_string(), d.clone()));
    }
    if let Some(ip) = &e.ip {
        out.push(("ip".to_string(), ip.as_str().to_string()));
    }
    match &e.kind {
        EventKind::Transfer { counterparty: r, .. } | EventKind::Withdrawal { payee: r } | EventKind::PayeeRegistered { payee: r, .. } => {
            out.push(("payee".to_string(), format!("{}/{}", r.institution, r.account)));
        }
        EventKind::CryptoWithdrawal { to_address, .. } => out.push(("address".to_string(), to_address.expose().clone())),
        _ => {}
    }
    out
}

/// Every case, and the open ones by victim and by entity.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Casebook {
    cases: Vec<Case>,
    /// (institution, victim) → index of its open case.
    by_victim: HashMap<(String, String), usize>,
    /// (institution, kind, value) → index of the open case holding it.
    by_entity: HashMap<(String, String, String), usize>,
    /// (institution, event id) → index of its case.
    by_event: HashMap<(String, String), usize>,
    claims: Vec<Claim>,
}

impl Casebook {
    pub fn get(&self, id: &str) -> Option<&Case> {
        self.index(id).map(|i| &self.cases[i])
    }

    fn index(&self, id: &str) -> Option<usize> {
        let n: usize = id.strip_prefix("C-")?.parse().ok()?;
        (1..=self.cases.len()).contains(&n).then(|| n - 1)
    }

    /// The cases of `institution`, newest first.
    pub fn of(&self, institution: &str) -> impl Iterator<Item = &Case> {
        self.cases.iter().rev().filter(move |c| c.institution == institution)
    }

    /// The case holding an event, if any.
    pub fn case_of(&self, institution: &str, id: &str) -> Option<&Case> {
        self.by_event.get(&(institution.to_string(), id.to_string())).map(|&i| &self.cases[i])
    }

    /// The open case for this victim or these entities, or a new one.
    fn open_for(&mut self, institution: &str, victim: Option<&str>, ents: &[(String, String)], at: Timestamp) -> usize {
        let by_victim = victim.and_then(|v| self.by_victim.get(&(institution.to_string(), v.to_string())).copied());
        let found = by_victim
            .or_else(|| ents.iter().find_map(|(k, v)| self.by_entity.get(&(institution.to_string(), k.clone(), v.clone())).copied()));
        let i = match found {
            Some(i) => i,
            None => {
                let id = format!("C-{}", self.cases.len() + 1);
                self.cases.push(Case {
                    id,
                    institution: institution.to_string(),
                    status: Status::Open,
                    opened_at: at.to_rfc3339(),
                    opened_us: at.as_micros(),
                    updated_at: at.to_rfc3339(),
                    victims: BTreeSet::new(),
                    entities: BTreeSet::new(),
                    rules: BTreeSet::new(),
                    amounts: Default::default(),
                    events: Vec::new(),
                    reports: Vec::new(),
                    assignee: None,
                    notes: Vec::new(),
                    attachments: Vec::new(),
                    verdict: None,
                });
                self.cases.len() - 1
            }
        };
        if let Some(v) = victim {
            self.cases[i].victims.insert(v.to_string());
            self.by_victim.insert((institution.to_string(), v.to_string()), i);
        }
        for (k, v) in ents {
            self.cases[i].entities.insert((k.clone(), v.clone()));
            self.by_entity.entry((institution.to_string(), k.clone(), v.clone())).or_insert(i);
        }
        self.cases[i].updated_at = at.to_rfc3339();
        i
    }

    /// A decided event: a hold or block opens or joins a case.
    pub fn observe(&mut self, e: &Event, action: Action, rules: &[&str]) {
        if action < Action::Hold {
            return;
        }
        let Some(institution) = e.institution.clone() else { return };
        let v = victim(e);
        let i = self.open_for(&institution, v.as_deref(), &entities(e), e.time);
        let c = &mut self.cases[i];
        c.rules.extend(rules.iter().map(|r| r.to_string()));
        if let Some(a) = e.amount {
            *c.amounts.entry(e.currency.clone()).or_default() += a;
        }
        c.events.push(CaseEvent {
            institution: institution.clone(),
            id: e.id.clone(),
            event_type: e.event_type().as_str().to_string(),
            time: e.time.to_rfc3339(),
            decision: action.as_str().to_string(),
            amount: e.amount,
            currency: e.amount.map(|_| e.currency.clone()),
            rules: rules.iter().map(|r| r.to_string()).collect(),
            state: if action == Action::Block { "blocked" } else { "held" }.into(),
            victim: v,
        });
        self.by_event.insert((institution, e.id.clone()), i);
    }

    /// A report made: a case for the reported victim, holding the reported events.
    pub fn reported(&mut self, institution: &str, victim: &str, report: &str, events: &[(String, String)], at: Timestamp) {
        let i = self.open_for(institution, Some(victim), &[], at);
        let c = &mut self.cases[i];
        c.reports.push(report.to_string());
        c.notes.push(Note { at: at.to_rfc3339(), by: "customer".into(), what: "reported".into(), text: format!("report {report}") });
        for (inst, id) in events {
            match c.events.iter_mut().find(|e| &e.institution == inst && &e.id == id) {
                Some(e) => e.state = "reported".into(),
                None => c.events.push(CaseEvent {
                    institution: inst.clone(),
                    id: id.clone(),
                    event_type: String::new(),
                    time: String::new(),
                    decision: String::new(),
                    amount: None,
                    currency: None,
                    rules: Vec::new(),
                    state: "reported".into(),
                    victim: Some(victim.to_string()),
                }),
            }
            self.by_event.entry((inst.clone(), id.clone())).or_insert(i);
        }
    }

    /// A claim by id.
    pub fn claim(&self, id: &str) -> Option<&Claim> {
        self.claims.iter().find(|c| c.record.id == id)
    }

    /// Every claim, oldest first.
    pub fn claims(&self) -> &[Claim] {
        &self.claims
    }

    /// Applies a case record. Returns false when it does not apply (an unknown case).
    pub fn apply(&mut self, r: &CaseRecord) -> bool {
        let at = Timestamp(r.at_us()).to_rfc3339();
        match r {
            CaseRecord::Assign { case, to, by, .. } => {
                let Some(i) = self.index(case) else { return false };
                let c = &mut self.cases[i];
                c.assignee = Some(to.clone());
                c.notes.push(Note { at: at.clone(), by: by.clone(), what: "assigned".into(), text: to.clone() });
                c.updated_at = at;
            }
            CaseRecord::Comment { case, text, by, .. } => {
                let Some(i) = self.index(case) else { return false };
                let c = &mut self.cases[i];
                c.notes.push(Note { at: at.clone(), by: by.clone(), what: "comment".into(), text: text.clone() });
                c.updated_at = at;
            }
            CaseRecord::Attach { case, name, sha256, size, by, .. } => {
                let Some(i) = self.index(case) else { return false };
                let c = &mut self.cases[i];
                c.attachments.push(Attachment { name: name.clone(), sha256: sha256.clone(), size: *size, at: at.clone(), by: by.clone() });
                c.updated_at = at;
            }
            CaseRecord::Resolve { case, verdict, comment, by, claims, .. } => {
                self.claims.extend(claims.iter().map(|c| Claim { record: c.clone(), payments: Vec::new(), dispute: None }));
                let Some(i) = self.index(case) else { return false };
                let inst = self.cases[i].institution.clone();
                self.by_victim.retain(|(ins, _), j| !(*j == i && *ins == inst));
                self.by_entity.retain(|(ins, _, _), j| !(*j == i && *ins == inst));
                let c = &mut self.cases[i];
                c.status = Status::Resolved;
                c.verdict = Some(*verdict);
                c.notes.push(Note {
                    at: at.clone(),
                    by: by.clone(),
                    what: format!("resolved: {}", verdict_str(*verdict)),
                    text: comment.clone(),
                });
                c.updated_at = at;
            }
            CaseRecord::Payment { claim, institution, amount, by, .. } => {
                let Some(c) = self.claims.iter_mut().find(|c| &c.record.id == claim) else { return false };
                c.payments.push(Payment { at: at.clone(), institution: institution.clone(), amount: *amount, by: by.clone() });
            }
            CaseRecord::Dispute { claim, reason, by, .. } => {
                let Some(c) = self.claims.iter_mut().find(|c| &c.record.id == claim) else { return false };
                c.dispute = Some(Note { at, by: by.clone(), what: "disputed".into(), text: reason.clone() });
            }
            CaseRecord::Release { institution, event, confirm, reason, by, .. } => {
                let Some(&i) = self.by_event.get(&(institution.clone(), event.clone())) else { return false };
                let c = &mut self.cases[i];
                let what = if *confirm { "confirmed" } else { "released" };
                if let Some(e) = c.events.iter_mut().find(|e| &e.institution == institution && &e.id == event) {
                    e.state = what.into();
                }
                c.notes.push(Note { at: at.clone(), by: by.clone(), what: format!("{what} {event}"), text: reason.clone() });
                c.updated_at = at;
            }
        }
        true
    }
}

pub fn verdict_str(v: Verdict) -> &'static str {
    match v {
        Verdict::Fraud => "fraud",
        Verdict::Legit => "legit",
        Verdict::Unknown => "unknown",
    }
}

/// What analysts do to cases, as recorded in the store.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "action", rename_all = "snake_case", deny_unknown_fields)]
pub enum CaseRecord {
    Assign {
        case: String,
        to: String,
        by: String,
        at_us: i64,
    },
    Comment {
        case: String,
        text: String,
        by: String,
        at_us: i64,
    },
    Attach {
        case: String,
        name: String,
        sha256: String,
        size: u64,
        by: String,
        at_us: i64,
    },
    /// A verdict; one of fraud carries the reimbursement claims it opens, one per victim
    /// and currency, computed when it was given.
    Resolve {
        case: String,
        verdict: Verdict,
        comment: String,
        by: String,
        at_us: i64,
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        claims: Vec<ClaimRecord>,
        /// For a verdict of legit: the case's events, whose fraud labels (from reports)
        /// it clears for training.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        cleared: Vec<(String, String)>,
    },
    /// A payment towards a claim by one of its institutions.
    Payment {
        claim: String,
        institution: String,
        amount: Decimal,
        by: String,
        at_us: i64,
    },
    /// A claim disputed by one of its institutions.
    Dispute {
        claim: String,
        reason: String,
        by: String,
        at_us: i64,
    },
    /// A held event released (the movement may go ahead) or confirmed (blocked).
    Release {
        institution: String,
        event: String,
        confirm: bool,
        reason: String,
        by: String,
        at_us: i64,
    },
}

impl CaseRecord {
    fn at_us(&self) -> i64 {
        match self {
            CaseRecord::Assign { at_us, .. }
            | CaseRecord::Comment { at_us, .. }
            | CaseRecord::Attach { at_us, .. }
            | CaseRecord::Resolve { at_us, .. }
            | CaseRecord::Payment { at_us, .. }
            | CaseRecord::Dispute { at_us, .. }
            | CaseRecord::Release { at_us, .. } => *at_us,
        }
    }
}

/// A reimbursement claim as a verdict of fraud opened it: one victim, one currency.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClaimRecord {
    pub id: String,
    pub case: String,
    /// The victim's institution (the case's).
    pub institution: String,
    pub victim: String,
    pub currency: String,
    /// The money that actually left (executed movements of the case's events).
    pub loss: Decimal,
    pub fees: Decimal,
    /// Each institution's share, summing exactly to `reimbursed`.
    pub shares: Vec<mamori_claims::Share>,
    pub reimbursed: Decimal,
    pub unreimbursed: Decimal,
    /// The policy rule applied, and what else shaped the split.
    pub rule: String,
    pub notes: Vec<String>,
    /// The events of the loss (institution, id).
    pub events: Vec<(String, String)>,
    /// Dates in Japan (YYYY-MM-DD): opened, and due (business days later).
    pub opened: String,
    pub due: String,
}

/// A payment recorded towards a claim.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Payment {
    pub at: String,
    pub institution: String,
    pub amount: Decimal,
    pub by: String,
}

/// A claim and what happened to it since.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claim {
    pub record: ClaimRecord,
    pub payments: Vec<Payment>,
    pub dispute: Option<Note>,
}

impl Claim {
    pub fn paid(&self) -> Decimal {
        self.payments.iter().map(|p| p.amount).sum()
    }

    /// `paid`, `disputed`, `overdue` (past its due date in Japan on `today`, YYYY-MM-DD) or
    /// `open`.
    pub fn status(&self, today: &str) -> &'static str {
        if self.paid() >= self.record.reimbursed {
            "paid"
        } else if self.dispute.is_some() {
            "disputed"
        } else if today > self.record.due.as_str() {
            "overdue"
        } else {
            "open"
        }
    }

    /// Whether `institution` is the victim's or owes a share.
    pub fn involves(&self, institution: &str) -> bool {
        self.record.institution == institution || self.record.shares.iter().any(|s| s.institution == institution)
    }
}

#[derive(Default, Serialize)]
struct Tally {
    claims: u64,
    victims: BTreeSet<String>,
    loss: Decimal,
    reimbursed: Decimal,
    paid: Decimal,
    outstanding: Decimal,
    overdue: Decimal,
}

impl Tally {
    fn add(&mut self, victim: &str, loss: Decimal, owed: Decimal, paid: Decimal, overdue: bool) {
        self.claims += 1;
        self.victims.insert(victim.to_string());
        self.loss += loss;
        self.reimbursed += owed;
        self.paid += paid;
        self.outstanding += owed - paid;
        if overdue {
            self.overdue += owed - paid;
        }
    }

    fn view(&self) -> serde_json::Value {
        serde_json::json!({
            "claims": self.claims, "victims": self.victims.len(), "loss": self.loss, "reimbursed": self.reimbursed,
            "paid": self.paid, "outstanding": self.outstanding, "overdue": self.overdue,
        })
    }
}

/// The numbers an institution reports to its regulator, per currency: in all, by
/// institution (its shares: owed, paid, outstanding, overdue) and by month opened.
pub fn summarize(claims: &[Claim], today: &str) -> serde_json::Value {
    use std::collections::BTreeMap;
    let mut total: BTreeMap<&str, Tally> = BTreeMap::new();
    let mut by_inst: BTreeMap<(&str, &str), Tally> = BTreeMap::new();
    let mut by_month: BTreeMap<(&str, &str), Tally> = BTreeMap::new();
    for c in claims {
        let r = &c.record;
        let overdue = c.status(today) == "overdue";
        let cur = r.currency.as_str();
        total.entry(cur).or_default().add(&r.victim, r.loss, r.reimbursed, c.paid(), overdue);
        by_month.entry((r.opened.get(..7).unwrap_or(""), cur)).or_default().add(&r.victim, r.loss, r.reimbursed, c.paid(), overdue);
        for s in &r.shares {
            let paid: Decimal = c.payments.iter().filter(|p| p.institution == s.institution).map(|p| p.amount).sum();
            by_inst.entry((s.institution.as_str(), cur)).or_default().add(&r.victim, r.loss, s.amount, paid, overdue);
        }
    }
    let group = |m: BTreeMap<(&str, &str), Tally>| -> serde_json::Value {
        let mut out = serde_json::Map::new();
        for ((k, cur), t) in m {
            let e = out.entry(k.to_string()).or_insert_with(|| serde_json::json!({}));
            e[cur] = t.view();
        }
        serde_json::Value::Object(out)
    };
    let total: serde_json::Map<String, serde_json::Value> = total.into_iter().map(|(k, t)| (k.to_string(), t.view())).collect();
    serde_json::json!({"as_of": today, "total": total, "by_institution": group(by_inst), "by_month": group(by_month)})
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claim(reimbursed: i64) -> Claim {
        let share = |i: &str, a: i64| mamori_claims::Share { institution: i.into(), amount: Decimal::from(a), basis: String::new() };
        Claim {
            record: ClaimRecord {
                id: "CL-1-1".into(),
                case: "C-1".into(),
                institution: "bank".into(),
                victim: "account b-1".into(),
                currency: "JPY".into(),
                loss: Decimal::from(reimbursed),
                fees: Decimal::ZERO,
                shares: vec![share("bank", reimbursed / 2), share("wallet", reimbursed - reimbursed / 2)],
                reimbursed: Decimal::from(reimbursed),
                unreimbursed: Decimal::ZERO,
                rule: "bank–emoney default".into(),
                notes: Vec::new(),
                events: Vec::new(),
                opened: "2026-04-28".into(),
                due: "2026-05-08".into(),
            },
            payments: Vec::new(),
            dispute: None,
        }
    }

    #[test]
    fn a_claim_is_open_then_overdue_after_its_due_date_until_paid() {
        let mut c = claim(10_001);
        assert_eq!(c.status("2026-05-08"), "open");
        assert_eq!(c.status("2026-05-09"), "overdue");
        c.payments.push(Payment { at: String::new(), institution: "wallet".into(), amount: Decimal::from(5_001), by: "x".into() });
        assert_eq!(c.status("2026-05-09"), "overdue");
        let s = summarize(std::slice::from_ref(&c), "2026-05-09");
        assert_eq!(s["total"]["JPY"]["outstanding"], "5000");
        assert_eq!(s["total"]["JPY"]["overdue"], "5000");
        assert_eq!(s["by_institution"]["wallet"]["JPY"]["paid"], "5001");
        assert_eq!(s["by_institution"]["bank"]["JPY"]["overdue"], "5000");
        assert_eq!(s["by_month"]["2026-04"]["JPY"]["victims"], 1);
        c.dispute = Some(Note { at: String::new(), by: "bank".into(), what: "disputed".into(), text: "not ours".into() });
        assert_eq!(c.status("2026-05-09"), "disputed");
        c.payments.push(Payment { at: String::new(), institution: "bank".into(), amount: Decimal::from(5_000), by: "x".into() });
        assert_eq!(c.status("2026-05-09"), "paid");
        assert!(c.involves("wallet") && c.involves("bank") && !c.involves("other"));
    }
}
