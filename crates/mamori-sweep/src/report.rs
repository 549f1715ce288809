//! What a sweep writes: every finding (CSV and NDJSON), the customers affected
//! (`victims.csv`), and a summary by rule, by month and by institution (`summary.json`,
//! `summary.txt`) with a chart of findings over time (`findings-by-month.svg`).
//!
//! Dates are Japan's (JST). Amounts are exact and summed per currency; a total in yen
//! counts only yen.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::io::Write;
use std::path::Path;

use mamori_core::Decimal;
use mamori_rules::Action;
use mamori_server::links::japan_date;
use serde::Serialize;

use crate::sweep::{Contact, Finding, Outcome};

/// Amounts by currency.
pub type Amounts = BTreeMap<String, Decimal>;

fn add(amounts: &mut Amounts, f: &Finding) {
    if let Some(a) = f.event.amount {
        *amounts.entry(f.event.currency.clone()).or_default() += a;
    }
}

fn jpy(a: &Amounts) -> Decimal {
    a.get("JPY").copied().unwrap_or_default()
}

fn amounts_text(a: &Amounts) -> String {
    a.iter().map(|(c, v)| format!("{} {c}", v.normalize())).collect::<Vec<_>>().join("; ")
}

/// One customer affected.
#[derive(Debug, Clone, Serialize)]
pub struct Victim {
    pub institution: String,
    /// The institution's customer id, or `account:<id>` when events named no customer.
    pub customer: String,
    pub accounts: BTreeSet<String>,
    pub findings: u64,
    pub amounts: Amounts,
    pub first_date: String,
    pub last_date: String,
    /// Every institution involved: the customer's and those on the other side.
    pub institutions: BTreeSet<String>,
    pub rules: BTreeSet<String>,
    pub email: Option<String>,
    pub phone: Option<String>,
}

/// The customers of the findings, in order of institution and customer.
pub fn victims(outcome: &Outcome) -> Vec<Victim> {
    let mut by: BTreeMap<(String, String), Victim> = BTreeMap::new();
    for f in &outcome.findings {
        let e = &f.event;
        let (inst, account) = match &f.owner {
            Some(o) => (o.institution.clone(), Some(o.account.clone())),
            None => (e.institution.clone().unwrap_or_default(), None),
        };
        // The owner's customer id, or the event's own when the event names no other owner.
        let own = if f.owner.is_none() { e.customer.clone() } else { None };
        let customer = match (f.customer.clone().or(own), &account) {
            (Some(c), _) => c,
            (None, Some(a)) => format!("account:{a}"),
            (None, None) => format!("event:{}", e.id),
        };
        let date = japan_date(e.time).to_string();
        let v = by.entry((inst.clone(), customer.clone())).or_insert_with(|| Victim {
            institution: inst.clone(),
            customer,
            accounts: BTreeSet::new(),
            findings: 0,
            amounts: Amounts::new(),
            first_date: date.clone(),
            last_date: date.clone(),
            institutions: BTreeSet::from([inst.clone()]),
            rules: BTreeSet::new(),
            email: None,
            phone: None,
        });
        v.findings += 1;
        add(&mut v.amounts, f);
        v.first_date = v.first_date.clone().min(date.clone());
        v.last_date = v.last_date.clone().max(date);
        v.institutions.extend(e.institution.iter().cloned());
        v.institutions.extend(f.others.iter().cloned());
        v.rules.extend(acting(f).into_iter().map(str::to_string));
        if let Some(a) = account {
            let Contact { email, phone } = outcome.contacts.get(&(inst.clone(), a.clone())).cloned().unwrap_or_default();
            v.accounts.insert(a);
            v.email = v.email.take().or(email);
            v.phone = v.phone.take().or(phone);
        }
    }
    by.into_values().collect()
}

/// The rules that acted on a finding (their own action not `allow`), or
/// `(score threshold)` when only the sum of scores did.
fn acting(f: &Finding) -> Vec<&str> {
    let mut acted: Vec<&str> = f.decision.reasons.iter().filter(|r| r.action > Action::Allow).map(|r| r.rule.as_str()).collect();
    if acted.is_empty() {
        acted.push("(score threshold)");
    }
    acted.dedup();
    acted
}

/// Counts and amounts of one group of findings.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Tally {
    pub findings: u64,
    pub held: u64,
    pub blocked: u64,
    /// Only with `--min-action challenge`.
    pub challenged: u64,
    pub amounts: Amounts,
}

impl Tally {
    fn add(&mut self, f: &Finding) {
        self.findings += 1;
        match f.decision.action {
            Action::Block => self.blocked += 1,
            Action::Hold => self.held += 1,
            _ => self.challenged += 1,
        }
        add(&mut self.amounts, f);
    }
}

/// The summary of a sweep.
#[derive(Debug, Clone, Serialize)]
pub struct Summary {
    pub ruleset: String,
    pub from: String,
    pub to: String,
    pub records: u64,
    pub rejected: u64,
    pub replayed: u64,
    pub warmup: u64,
    pub after_to: u64,
    pub in_order: bool,
    /// Read once, judging as it read (one thread, a history in order): `read_secs` is 0.
    pub one_reading: bool,
    pub sorted_runs: usize,
    pub threads: usize,
    /// The entities joined (accounts, cards, terminals...: each key some feature reads or
    /// adds to), the connected sets they form and the largest set's share of the events:
    /// `null` when one judging thread took the history in one reading (nothing was
    /// partitioned).
    pub entities: Option<usize>,
    pub entity_sets: Option<usize>,
    pub largest_set_share: Option<f64>,
    pub events_per_thread: Vec<u64>,
    pub read_secs: f64,
    pub judge_secs: f64,
    pub victims: usize,
    pub all: Tally,
    /// By the rule that acted (a finding counts under each rule whose own action is not
    /// `allow`).
    pub by_rule: BTreeMap<String, Tally>,
    /// By month (JST, `YYYY-MM`), every month of the range present.
    pub by_month: BTreeMap<String, Tally>,
    pub by_institution: BTreeMap<String, Tally>,
}

/// Tallies the findings.
pub fn summarize(outcome: &Outcome, ruleset: &str, from: &str, to: &str, months: &[String], victims: usize) -> Summary {
    let s = &outcome.stats;
    let mut sum = Summary {
        ruleset: ruleset.to_string(),
        from: from.to_string(),
        to: to.to_string(),
        records: s.records,
        rejected: s.rejected,
        replayed: s.replayed,
        warmup: s.warmup,
        after_to: s.after_to,
        in_order: s.in_order,
        one_reading: s.one_reading,
        sorted_runs: s.runs,
        threads: s.load.len(),
        entities: s.entities,
        entity_sets: s.sets,
        largest_set_share: s.largest_share,
        events_per_thread: s.load.clone(),
        read_secs: s.read_secs,
        judge_secs: s.judge_secs,
        victims,
        all: Tally::default(),
        by_rule: BTreeMap::new(),
        by_month: months.iter().map(|m| (m.clone(), Tally::default())).collect(),
        by_institution: BTreeMap::new(),
    };
    for f in &outcome.findings {
        sum.all.add(f);
        let month = japan_date(f.event.time).strftime("%Y-%m").to_string();
        sum.by_month.entry(month).or_default().add(f);
        sum.by_institution.entry(f.event.institution.clone().unwrap_or_default()).or_default().add(f);
        for r in acting(f) {
            sum.by_rule.entry(r.to_string()).or_default().add(f);
        }
    }
    sum
}

/// Writes every output into `dir`.
pub fn write_all(dir: &Path, outcome: &Outcome, summary: &Summary, victims: &[Victim]) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    // The NDJSON (each finding's event and decision as JSON, most of the work) is written
    // on a thread of its own while this one writes the rest: the sweep's other threads
    // are done, and their cores free.
    std::thread::scope(|scope| {
        let ndjson = scope.spawn(|| write_findings_ndjson(dir, outcome));
        let rest = write_all_but_ndjson(dir, outcome, summary, victims);
        let ndjson = ndjson.join().unwrap_or_else(|_| Err(std::io::Error::other("the thread writing findings.ndjson panicked")));
        ndjson.and(rest)
    })
}

/// Every output of [`write_all`] but `findings.ndjson`.
fn write_all_but_ndjson(dir: &Path, outcome: &Outcome, summary: &Summary, victims: &[Victim]) -> std::io::Result<()> {
    write_findings_csv(dir, outcome)?;
    write_victims(&dir.join("victims.csv"), victims)?;
    let json = serde_json::to_vec_pretty(summary).map_err(std::io::Error::other)?;
    std::fs::write(dir.join("summary.json"), json)?;
    std::fs::write(dir.join("summary.txt"), summary_text(summary))?;
    std::fs::write(dir.join("findings-by-month.svg"), chart(summary))
}

fn write_findings_ndjson(dir: &Path, outcome: &Outcome) -> std::io::Result<()> {
    let mut nd = std::io::BufWriter::new(std::fs::File::create(dir.join("findings.ndjson"))?);
    for f in &outcome.findings {
        let line = serde_json::json!({ "event": f.event.to_json(), "decision": &f.decision });
        serde_json::to_writer(&mut nd, &line).map_err(std::io::Error::other)?;
        nd.write_all(b"\n")?;
    }
    nd.flush()
}

fn write_findings_csv(dir: &Path, outcome: &Outcome) -> std::io::Result<()> {
    let mut csv = csv::Writer::from_writer(std::io::BufWriter::new(std::fs::File::create(dir.join("findings.csv"))?));
    csv.write_record([
        "time",
        "institution",
        "event_id",
        "type",
        "customer",
        "account",
        "amount",
        "currency",
        "decision",
        "score",
        "rules",
        "reasons",
        "ruleset",
    ])?;
    for f in &outcome.findings {
        let e = &f.event;
        let d = &f.decision;
        let rules: Vec<&str> = d.reasons.iter().map(|r| r.rule.as_str()).collect();
        let details: Vec<String> = d.reasons.iter().map(|r| format!("{}: {}", r.rule, r.detail)).collect();
        csv.write_record([
            e.time.to_rfc3339().as_str(),
            e.institution.as_deref().unwrap_or_default(),
            &e.id,
            e.event_type().as_str(),
            e.customer.as_deref().unwrap_or_default(),
            e.account.as_deref().unwrap_or_default(),
            &e.amount.map(|a| a.normalize().to_string()).unwrap_or_default(),
            &e.currency,
            d.action.as_str(),
            &d.score.to_string(),
            &rules.join(" "),
            &details.join(" | "),
            &d.ruleset,
        ])?;
    }
    csv.flush()
}

fn write_victims(path: &Path, victims: &[Victim]) -> std::io::Result<()> {
    let mut w = csv::Writer::from_writer(std::io::BufWriter::new(std::fs::File::create(path)?));
    w.write_record([
        "institution",
        "customer",
        "accounts",
        "findings",
        "total_jpy",
        "amounts",
        "first_date",
        "last_date",
        "institutions",
        "rules",
        "email",
        "phone",
    ])?;
    let join = |s: &BTreeSet<String>| s.iter().cloned().collect::<Vec<_>>().join(" ");
    for v in victims {
        w.write_record([
            v.institution.as_str(),
            &v.customer,
            &join(&v.accounts),
            &v.findings.to_string(),
            &jpy(&v.amounts).normalize().to_string(),
            &amounts_text(&v.amounts),
            &v.first_date,
            &v.last_date,
            &join(&v.institutions),
            &join(&v.rules),
            v.email.as_deref().unwrap_or_default(),
            v.phone.as_deref().unwrap_or_default(),
        ])?;
    }
    w.flush()
}

/// The summary as plain tables.
pub fn summary_text(s: &Summary) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "sweep {} .. {} (JST), ruleset {}", s.from, s.to, s.ruleset);
    let _ = writeln!(
        out,
        "{} records read, {} rejected; {} events replayed ({} before the range only built state), {} after it left out",
        s.records, s.rejected, s.replayed, s.warmup, s.after_to
    );
    let _ = writeln!(
        out,
        "{} findings ({} held, {} blocked, {} challenged), {} customers; {}",
        s.all.findings,
        s.all.held,
        s.all.blocked,
        s.all.challenged,
        s.victims,
        amounts_text(&s.all.amounts)
    );
    for (title, rows) in [("rule", &s.by_rule), ("month", &s.by_month), ("institution", &s.by_institution)] {
        let _ = writeln!(out, "\nby {title}:");
        let width = rows.keys().map(|k| k.chars().count()).max().unwrap_or(0).max(title.len());
        let _ = writeln!(out, "  {title:<width$}  {:>9}  {:>9}  {:>9}  {:>10}  amounts", "findings", "held", "blocked", "challenged");
        for (k, t) in rows.iter() {
            let (n, h, b, c) = (t.findings, t.held, t.blocked, t.challenged);
            let _ = writeln!(out, "  {k:<width$}  {n:>9}  {h:>9}  {b:>9}  {c:>10}  {}", amounts_text(&t.amounts));
        }
    }
    out
}

/// Findings per month as bars, with the yen amount written above each bar.
pub fn chart(s: &Summary) -> String {
    let months: Vec<(&String, &Tally)> = s.by_month.iter().collect();
    let n = months.len().max(1);
    let bar = (720.0 / n as f64).clamp(4.0, 40.0);
    let (left, top, height) = (60.0, 40.0, 260.0);
    let width = left + bar * n as f64 + 40.0;
    let max = months.iter().map(|(_, t)| t.findings).max().unwrap_or(0).max(1);
    let mut svg = String::new();
    let _ = writeln!(
        svg,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{}" viewBox="0 0 {width} {}" font-family="sans-serif" font-size="10">"#,
        top + height + 70.0,
        top + height + 70.0
    );
    let _ = writeln!(svg, r#"<rect width="100%" height="100%" fill="white"/>"#);
    let _ = writeln!(
        svg,
        r#"<text x="{left}" y="20" font-size="13" font-weight="bold">Findings by month (JST), {} .. {}: {} held or blocked, {} customers</text>"#,
        s.from, s.to, s.all.findings, s.victims
    );
    let _ =
        writeln!(svg, r##"<line x1="{left}" y1="{}" x2="{}" y2="{}" stroke="#444"/>"##, top + height, left + bar * n as f64, top + height);
    let _ = writeln!(svg, r#"<text x="{}" y="{}" text-anchor="end">{max}</text>"#, left - 4.0, top + 4.0);
    let _ = writeln!(svg, r#"<text x="{}" y="{}" text-anchor="end">0</text>"#, left - 4.0, top + height);
    let every = n.div_ceil(24);
    for (i, (month, t)) in months.iter().enumerate() {
        let h = height * t.findings as f64 / max as f64;
        let x = left + bar * i as f64;
        let _ = writeln!(
            svg,
            r##"<rect x="{:.1}" y="{:.1}" width="{:.1}" height="{h:.1}" fill="#d8453b"><title>{month}: {} findings, {}</title></rect>"##,
            x + 1.0,
            top + height - h,
            bar - 2.0,
            t.findings,
            amounts_text(&t.amounts)
        );
        if i % every == 0 {
            let _ = writeln!(
                svg,
                r#"<text x="{:.1}" y="{}" transform="rotate(60 {:.1} {})">{month}</text>"#,
                x + 2.0,
                top + height + 12.0,
                x + 2.0,
                top + height + 12.0
            );
        }
    }
    svg.push_str("</svg>\n");
    svg
}

/// Every month (JST, `YYYY-MM`) from `from` to `to` inclusive.
pub fn months_between(from: jiff::civil::Date, to: jiff::civil::Date) -> Vec<String> {
    let mut out = Vec::new();
    let mut m = from.first_of_month();
    while m <= to {
        out.push(m.strftime("%Y-%m").to_string());
        match m.checked_add(jiff::Span::new().months(1)) {
            Ok(next) => m = next,
            Err(_) => break,
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use mamori_core::event::Event;
    use mamori_rules::{Decision, Reason};
    use mamori_server::registry::AccountRef;

    use super::*;
    use crate::sweep::Stats;

    fn finding(seq: u64, id: &str, time: &str, amount: &str, rules: &[(&str, Action)], action: Action) -> Finding {
        let json = format!(
            r#"{{"id":"{id}","type":"charge","time":"{time}","institution":"wallet-a","account":"w-1","link":"l-1","amount":"{amount}"}}"#
        );
        let event = Event::from_json_slice(json.as_bytes()).unwrap();
        let reasons =
            rules.iter().map(|(r, a)| Reason { rule: (*r).into(), score: 100, action: *a, detail: format!("{r} fired") }).collect();
        let decision = Decision { action, score: 100, reasons, shadow: Vec::new(), ruleset: Arc::from("sha256:00"), model: None };
        Finding {
            seq,
            event,
            decision,
            others: vec!["bank-b".into()],
            owner: Some(AccountRef::new("bank-b", "123")),
            customer: Some("C-9".into()),
            plan: None,
        }
    }

    fn outcome() -> Outcome {
        let mut contacts = BTreeMap::new();
        contacts.insert(("bank-b".to_string(), "123".to_string()), Contact { email: Some("taro@bank.example".into()), phone: None });
        Outcome {
            findings: vec![
                finding(1, "c-1", "2020-08-31T16:00:00Z", "90000", &[("rapid", Action::Challenge), ("cap", Action::Block)], Action::Block),
                finding(2, "c-2", "2020-09-10T01:00:00Z", "95000", &[("scored", Action::Allow)], Action::Hold),
            ],
            contacts,
            stats: Stats { load: vec![2, 0], ..Stats::default() },
        }
    }

    #[test]
    fn victims_are_the_accounts_money_left_with_totals_dates_and_contacts() {
        let v = victims(&outcome());
        assert_eq!(v.len(), 1);
        let v = &v[0];
        assert_eq!((v.institution.as_str(), v.customer.as_str()), ("bank-b", "C-9"));
        assert_eq!(v.findings, 2);
        assert_eq!(jpy(&v.amounts).to_string(), "185000");
        // 2020-08-31T16:00Z is 1 September in Japan.
        assert_eq!((v.first_date.as_str(), v.last_date.as_str()), ("2020-09-01", "2020-09-10"));
        assert_eq!(v.institutions.iter().cloned().collect::<Vec<_>>(), ["bank-b", "wallet-a"]);
        assert_eq!(v.rules.iter().cloned().collect::<Vec<_>>(), ["(score threshold)", "cap", "rapid"]);
        assert_eq!(v.email.as_deref(), Some("taro@bank.example"));
    }

    #[test]
    fn the_summary_counts_by_rule_month_and_institution_with_empty_months() {
        let o = outcome();
        let months = months_between(jiff::civil::date(2020, 8, 1), jiff::civil::date(2020, 10, 31));
        assert_eq!(months, ["2020-08", "2020-09", "2020-10"]);
        let s = summarize(&o, "sha256:00", "2020-08-01", "2020-10-31", &months, 1);
        assert_eq!((s.all.findings, s.all.held, s.all.blocked), (2, 1, 1));
        assert_eq!(s.by_month["2020-08"].findings, 0);
        assert_eq!(s.by_month["2020-09"].findings, 2);
        assert_eq!(s.by_month["2020-10"].findings, 0);
        assert_eq!(s.by_rule["cap"].findings, 1);
        assert_eq!(s.by_rule["rapid"].findings, 1);
        // Held by the sum of scores alone.
        assert_eq!(s.by_rule["(score threshold)"].findings, 1);
        assert_eq!(jpy(&s.by_institution["wallet-a"].amounts).to_string(), "185000");
        let svg = chart(&s);
        assert_eq!(svg.matches("<rect x=").count(), 3, "{svg}");
        assert!(summary_text(&s).contains("2 findings (1 held, 1 blocked, 0 challenged), 1 customers"));
    }
}
