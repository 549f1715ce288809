//! Runs a simulation and reads every event back through the v1 contract's parser.
#![allow(dead_code)]

use std::collections::BTreeMap;

use mamori_core::kana::kana_match_key;
use mamori_core::{Event, EventKind};
use mamori_sim::{Config, Scenario, Simulation};

pub const HOUR: i64 = 3600;
pub const DAY: i64 = 86_400;

/// A simulation and its events parsed, side by side (`events[i]` is `sim.events[i]`).
pub struct Run {
    pub sim: Simulation,
    pub events: Vec<Event>,
    /// (institution, id) to index.
    pub index: BTreeMap<(String, String), usize>,
}

impl Run {
    pub fn new(seed: u64, scenarios: &[Scenario], days: u32, scale: f64) -> Run {
        let sim = mamori_sim::generate(&Config { scenarios: scenarios.to_vec(), seed, days, scale });
        let events = sim
            .events
            .iter()
            .map(|e| Event::from_json_slice(e.json.as_bytes()).unwrap_or_else(|err| panic!("seed {seed}: {err}\n{}", e.json)))
            .collect();
        let index = sim.events.iter().enumerate().map(|(i, e)| ((e.institution.clone(), e.id.clone()), i)).collect();
        Run { sim, events, index }
    }

    /// The small run most tests use: every scenario, four weeks, scale 0.15.
    pub fn small(seed: u64) -> Run {
        Run::new(seed, &Scenario::ALL, 28, 0.15)
    }

    pub fn time(&self, i: usize) -> i64 {
        self.events[i].time.as_secs()
    }

    pub fn step(&self, i: usize) -> &'static str {
        self.sim.events[i].label.step
    }

    pub fn fraud(&self, i: usize) -> bool {
        self.sim.events[i].label.fraud
    }

    pub fn inst(&self, i: usize) -> &str {
        &self.sim.events[i].institution
    }

    /// Indices of the events of one scenario, in event-time order.
    pub fn of(&self, s: Scenario) -> Vec<usize> {
        let mut v: Vec<usize> = (0..self.events.len()).filter(|&i| self.sim.events[i].label.scenario == s).collect();
        v.sort_by_key(|&i| (self.time(i), i));
        v
    }

    /// Fraud chains whose id starts with `prefix`: their events in event-time order.
    pub fn chains(&self, prefix: &str) -> BTreeMap<String, Vec<usize>> {
        let mut m: BTreeMap<String, Vec<usize>> = BTreeMap::new();
        for (i, e) in self.sim.events.iter().enumerate() {
            if e.label.chain.starts_with(prefix) {
                m.entry(e.label.chain.clone()).or_default().push(i);
            }
        }
        for v in m.values_mut() {
            v.sort_by_key(|&i| (self.time(i), i));
        }
        m
    }

    /// The integer JPY amount of an event.
    pub fn jpy(&self, i: usize) -> i64 {
        self.events[i].amount.map_or(0, |a| a.trunc().to_string().parse().unwrap())
    }
}

/// The match key of an event's holder's kana name.
pub fn holder_key(e: &Event) -> String {
    e.kind.holder().and_then(|h| h.name_kana.as_ref()).map(|k| k.expose_key().to_string()).unwrap_or_default()
}

/// The birth year of an event's holder.
pub fn holder_birth_year(e: &Event) -> Option<i64> {
    e.kind.holder().and_then(|h| h.birth_date.as_ref()).map(|b| b.expose()[..4].parse().unwrap())
}

pub fn key(s: &str) -> String {
    kana_match_key(s)
}

/// Whether the Tokyo Stock Exchange is open at `t` (weekdays 9:00-11:30, 12:30-15:30 JST).
pub fn market_open(t: i64) -> bool {
    let local = t + 9 * HOUR;
    let day = local.div_euclid(DAY);
    let weekday = (day + 3).rem_euclid(7);
    let s = local.rem_euclid(DAY);
    weekday < 5 && ((9 * HOUR..11 * HOUR + 1800).contains(&s) || (12 * HOUR + 1800..15 * HOUR + 1800).contains(&s))
}

/// The ids a `fraud_reported` event names.
pub fn reported(e: &Event) -> &[String] {
    match &e.kind {
        EventKind::FraudReported { events, .. } => events,
        _ => &[],
    }
}
