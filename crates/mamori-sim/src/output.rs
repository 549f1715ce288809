//! From drafts to files: ids handed out, delivery (who sends late), the order of
//! sending, and the four files.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io;
use std::path::Path;

use serde_json::{Map, Value as Json};

use crate::dice::Dice;
use crate::world::{DAY, MINUTE, World, format_time};
use crate::{Config, Institution, Label, RATES_JPY, START_UNIX, Scenario};

/// The longest an event is ever sent after it happened.
pub const MAX_DELAY_SECS: i64 = 30 * MINUTE;

/// One event of a simulation, as sent.
#[derive(Debug, Clone)]
pub struct SimEvent {
    pub institution: String,
    pub id: String,
    /// Event time, unix seconds.
    pub time: i64,
    /// When the institution sends it, unix seconds (≥ `time`, at most 30 minutes later).
    pub sent: i64,
    /// The event in the v1 contract, one line of JSON.
    pub json: String,
    pub label: Label,
}

/// A finished simulation: the institutions and the events in sending order.
#[derive(Debug, Clone)]
pub struct Simulation {
    pub config: Config,
    /// The institutions of the kinds the scenarios use.
    pub institutions: Vec<Institution>,
    pub events: Vec<SimEvent>,
    /// Facts about the fraud generated (breached merchant, attacked wallet, ...).
    pub notes: Vec<String>,
}

pub(crate) fn finalize(w: World, config: &Config, scenarios: &[Scenario]) -> Simulation {
    let World { institutions, drafts, notes, start, end, .. } = w;

    // Ids: per institution, in event-time order.
    let mut by_time: Vec<usize> = (0..drafts.len()).collect();
    by_time.sort_by_key(|&i| (drafts[i].time, i));
    let mut next = vec![0u64; institutions.len()];
    let mut ids = vec![String::new(); drafts.len()];
    for &i in &by_time {
        let inst = drafts[i].inst;
        next[inst] += 1;
        ids[i] = format!("{}-{:08}", institutions[inst].prefix, next[inst]);
    }

    // Delivery: each institution has a few outages (events held and sent together when
    // it ends), and a few single events are sent late.
    let mut d = Dice::new(config.seed, 100);
    let mut outages: Vec<Vec<(i64, i64)>> = Vec::new();
    for _ in &institutions {
        let n = d.poisson((end - start) as f64 / DAY as f64 / 7.0);
        let mut v: Vec<(i64, i64)> = (0..n)
            .map(|_| {
                let a = d.int(start, end - 1);
                (a, a + d.int(5, 30) * MINUTE)
            })
            .collect();
        v.sort_unstable();
        outages.push(v);
    }
    let mut sent = vec![0i64; drafts.len()];
    for (i, dr) in drafts.iter().enumerate() {
        let held = outages[dr.inst].iter().find(|(a, b)| (*a..*b).contains(&dr.time));
        let s = match held {
            Some(&(_, b)) => (b + d.int(0, 120)).min(dr.time + MAX_DELAY_SECS),
            None if d.chance(0.004) => dr.time + d.int(MINUTE, MAX_DELAY_SECS),
            None => dr.time,
        };
        sent[i] = s;
    }
    let mut order: Vec<usize> = (0..drafts.len()).collect();
    order.sort_by_key(|&i| (sent[i], drafts[i].time, i));

    let mut events = Vec::with_capacity(drafts.len());
    for i in order {
        let dr = &drafts[i];
        let inst = &institutions[dr.inst];
        let mut m = Map::new();
        m.insert("id".into(), Json::String(ids[i].clone()));
        m.insert("type".into(), Json::String(dr.body.ty.into()));
        m.insert("time".into(), Json::String(format_time(dr.time, inst.utc)));
        m.insert("institution".into(), Json::String(inst.id.clone()));
        if !dr.reports.is_empty() {
            m.insert("events".into(), Json::Array(dr.reports.iter().map(|&r| Json::String(ids[r].clone())).collect()));
        }
        for (k, v) in &dr.body.fields {
            m.insert((*k).into(), v.clone());
        }
        let json = serde_json::to_string(&Json::Object(m)).unwrap_or_default();
        events.push(SimEvent {
            institution: inst.id.clone(),
            id: ids[i].clone(),
            time: dr.time,
            sent: sent[i],
            json,
            label: Label {
                scenario: dr.label.scenario,
                fraud: dr.label.fraud,
                chain: dr.label.chain.clone(),
                step: dr.label.step,
                value_jpy: dr.label.value_jpy,
            },
        });
    }
    let institutions = institutions.into_iter().filter(|i| scenarios.iter().any(|s| s.kinds().contains(&i.kind))).collect::<Vec<_>>();
    Simulation { config: config.clone(), institutions, events, notes }
}

impl Simulation {
    /// `events.ndjson`: one event per line, in sending order.
    pub fn events_ndjson(&self) -> String {
        let mut s = String::with_capacity(self.events.len() * 256);
        for e in &self.events {
            s.push_str(&e.json);
            s.push('\n');
        }
        s
    }

    /// `labels.csv`: one row per event, in the order of `events.ndjson`.
    pub fn labels_csv(&self) -> String {
        let mut s = String::with_capacity(self.events.len() * 48);
        s.push_str("institution,id,scenario,fraud,chain,step,value_jpy\n");
        for e in &self.events {
            let l = &e.label;
            let _ = writeln!(s, "{},{},{},{},{},{},{}", e.institution, e.id, l.scenario, u8::from(l.fraud), l.chain, l.step, l.value_jpy);
        }
        s
    }

    /// `institutions.csv`: `id,kind`.
    pub fn institutions_csv(&self) -> String {
        let mut s = String::from("id,kind\n");
        for i in &self.institutions {
            let _ = writeln!(s, "{},{}", i.id, i.kind.as_str());
        }
        s
    }

    /// `summary.txt`: counts and values per scenario.
    pub fn summary_txt(&self) -> String {
        #[derive(Default)]
        struct Row {
            events: u64,
            fraud: u64,
            chains: std::collections::BTreeSet<String>,
            fraud_jpy: i64,
            legit_jpy: i64,
        }
        let c = &self.config;
        let mut rows: BTreeMap<Scenario, Row> = BTreeMap::new();
        let mut late = 0u64;
        let mut latest = 0i64;
        for e in &self.events {
            let r = rows.entry(e.label.scenario).or_default();
            r.events += 1;
            if e.label.fraud {
                r.fraud += 1;
                r.fraud_jpy += e.label.value_jpy;
                if !e.label.chain.is_empty() {
                    r.chains.insert(e.label.chain.clone());
                }
            } else {
                r.legit_jpy += e.label.value_jpy;
            }
            if e.sent > e.time {
                late += 1;
                latest = latest.max(e.sent - e.time);
            }
        }
        let mut s = String::new();
        let names: Vec<&str> = c.scenarios.iter().map(|s| s.as_str()).collect();
        let _ = writeln!(
            s,
            "mamori simulate: seed {}, scenarios {}, {} days from {}, scale {}",
            c.seed,
            names.join(" "),
            c.days,
            format_time(START_UNIX, false),
            c.scale
        );
        let kinds: Vec<String> = self.institutions.iter().map(|i| format!("{} ({})", i.id, i.kind.as_str())).collect();
        let _ = writeln!(s, "institutions: {}", kinds.join(", "));
        let fraud: u64 = rows.values().map(|r| r.fraud).sum();
        let _ = writeln!(
            s,
            "events: {} (fraud {}, legit {}); sent late: {} (at most {} min after they happened)",
            self.events.len(),
            fraud,
            self.events.len() as u64 - fraud,
            late,
            latest / MINUTE
        );
        let _ = writeln!(s);
        let _ = writeln!(
            s,
            "{:<12} {:>8} {:>7} {:>8} {:>7} {:>16} {:>16}",
            "scenario", "events", "fraud", "legit", "chains", "fraud_jpy", "legit_jpy"
        );
        let mut total = Row::default();
        for (sc, r) in &rows {
            let _ = writeln!(
                s,
                "{:<12} {:>8} {:>7} {:>8} {:>7} {:>16} {:>16}",
                sc.as_str(),
                r.events,
                r.fraud,
                r.events - r.fraud,
                r.chains.len(),
                r.fraud_jpy,
                r.legit_jpy
            );
            total.events += r.events;
            total.fraud += r.fraud;
            total.fraud_jpy += r.fraud_jpy;
            total.legit_jpy += r.legit_jpy;
            total.chains.extend(r.chains.iter().cloned());
        }
        let _ = writeln!(
            s,
            "{:<12} {:>8} {:>7} {:>8} {:>7} {:>16} {:>16}",
            "total",
            total.events,
            total.fraud,
            total.events - total.fraud,
            total.chains.len(),
            total.fraud_jpy,
            total.legit_jpy
        );
        let _ = writeln!(s);
        let _ = writeln!(s, "value_jpy is the money each event moved; money that moves twice (a sale, then its withdrawal) counts twice.");
        let rates: Vec<String> = RATES_JPY.iter().map(|(a, r)| format!("{a} {r}")).collect();
        let _ = writeln!(s, "crypto at fixed JPY per unit: {}", rates.join(", "));
        if !self.notes.is_empty() {
            let _ = writeln!(s);
            for n in &self.notes {
                let _ = writeln!(s, "{n}");
            }
        }
        s
    }

    /// Writes the four files into `dir` (created if needed).
    pub fn write_to(&self, dir: &Path) -> io::Result<()> {
        std::fs::create_dir_all(dir)?;
        std::fs::write(dir.join("events.ndjson"), self.events_ndjson())?;
        std::fs::write(dir.join("labels.csv"), self.labels_csv())?;
        std::fs::write(dir.join("institutions.csv"), self.institutions_csv())?;
        std::fs::write(dir.join("summary.txt"), self.summary_txt())?;
        Ok(())
    }
}
