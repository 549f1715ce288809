//! What every scenario shares while it generates: the window of time, the institutions,
//! the registry of ids handed out, and the drafts of the events with their labels.

use std::collections::BTreeSet;

use serde_json::{Map, Value as Json};

use crate::dice::Dice;
use crate::{Institution, Kind, Scenario};

pub(crate) const MINUTE: i64 = 60;
pub(crate) const HOUR: i64 = 3600;
pub(crate) const DAY: i64 = 86_400;
/// Japan Standard Time, UTC+9 (no daylight saving).
pub(crate) const JST: i64 = 9 * HOUR;

/// How people's activity spreads over the hours of a day (JST), 0h to 23h.
pub(crate) const CONSUMER_HOURS: [f64; 24] =
    [2.5, 1.5, 0.8, 0.5, 0.4, 0.8, 2.5, 5.0, 7.0, 7.5, 7.5, 8.0, 9.5, 8.5, 7.5, 7.5, 7.5, 8.0, 9.0, 10.0, 10.5, 10.0, 7.5, 4.5];

/// The label of one event while it is being generated.
#[derive(Debug, Clone)]
pub(crate) struct Lab {
    pub scenario: Scenario,
    pub fraud: bool,
    pub chain: String,
    pub step: &'static str,
    pub value_jpy: i64,
}

impl Lab {
    pub(crate) fn honest(scenario: Scenario, step: &'static str, value_jpy: i64) -> Lab {
        Lab { scenario, fraud: false, chain: String::new(), step, value_jpy }
    }
    pub(crate) fn fraud(scenario: Scenario, chain: &str, step: &'static str, value_jpy: i64) -> Lab {
        Lab { scenario, fraud: true, chain: chain.to_string(), step, value_jpy }
    }
}

/// The fields of one event after `id`, `type`, `time` and `institution`, in order.
#[derive(Debug, Clone)]
pub(crate) struct Body {
    pub ty: &'static str,
    pub fields: Vec<(&'static str, Json)>,
}

impl Body {
    pub(crate) fn new(ty: &'static str) -> Body {
        Body { ty, fields: Vec::with_capacity(8) }
    }
    /// A string field.
    pub(crate) fn s(mut self, k: &'static str, v: impl Into<String>) -> Body {
        self.fields.push((k, Json::String(v.into())));
        self
    }
    /// A string field when there is a value.
    pub(crate) fn o(self, k: &'static str, v: Option<impl Into<String>>) -> Body {
        match v {
            Some(v) => self.s(k, v),
            None => self,
        }
    }
    /// Any JSON value.
    pub(crate) fn v(mut self, k: &'static str, v: Json) -> Body {
        self.fields.push((k, v));
        self
    }
    /// A JPY amount (a decimal string: JPY has no minor unit).
    pub(crate) fn jpy(self, amount: i64) -> Body {
        self.s("amount", amount.to_string())
    }
}

/// `{"institution": ..., "account": ...}`.
pub(crate) fn reference(institution: &str, account: &str) -> Json {
    let mut m = Map::new();
    m.insert("institution".into(), Json::String(institution.into()));
    m.insert("account".into(), Json::String(account.into()));
    Json::Object(m)
}

/// One event as generated: its institution, event time and body, the events it reports
/// (for `fraud_reported`, resolved to ids once ids are handed out) and its label.
#[derive(Debug, Clone)]
pub(crate) struct Draft {
    pub inst: usize,
    pub time: i64,
    pub body: Body,
    pub reports: Vec<usize>,
    pub label: Lab,
}

/// The shared state of one run.
#[derive(Debug)]
pub(crate) struct World {
    /// First second of the window (unix seconds, a JST midnight).
    pub start: i64,
    /// First second after the window.
    pub end: i64,
    pub scale: f64,
    pub institutions: Vec<Institution>,
    pub drafts: Vec<Draft>,
    /// Facts about the fraud worth a line in summary.txt.
    pub notes: Vec<String>,
    used: BTreeSet<String>,
}

impl World {
    pub(crate) fn new(start: i64, days: u32, scale: f64, institutions: Vec<Institution>) -> World {
        World {
            start,
            end: start + i64::from(days) * DAY,
            scale,
            institutions,
            drafts: Vec::new(),
            notes: Vec::new(),
            used: BTreeSet::new(),
        }
    }

    /// `base` scaled by `--scale`, at least `min`.
    pub(crate) fn scaled(&self, base: f64, min: usize) -> usize {
        ((base * self.scale).round() as usize).max(min)
    }

    /// The indices of the institutions of one kind.
    pub(crate) fn of_kind(&self, kind: Kind) -> Vec<usize> {
        self.institutions.iter().enumerate().filter(|(_, i)| i.kind == kind).map(|(n, _)| n).collect()
    }

    pub(crate) fn inst_id(&self, inst: usize) -> &str {
        &self.institutions[inst].id
    }

    /// A new id in namespace `ns` from `make`, never handed out before in that namespace.
    pub(crate) fn unique(&mut self, d: &mut Dice, ns: &str, mut make: impl FnMut(&mut Dice) -> String) -> String {
        loop {
            let id = make(d);
            if self.used.insert(format!("{ns}\u{0}{id}")) {
                return id;
            }
        }
    }

    /// `prefix` and `len` random `[0-9a-z]`, unique in `ns`.
    pub(crate) fn token(&mut self, d: &mut Dice, ns: &str, prefix: &str, len: usize) -> String {
        self.unique(d, ns, |d| format!("{prefix}{}", d.base36(len)))
    }

    /// Records an event; events outside the window are dropped (`None`).
    pub(crate) fn emit(&mut self, inst: usize, time: i64, body: Body, label: Lab) -> Option<usize> {
        if time < self.start || time >= self.end {
            return None;
        }
        self.drafts.push(Draft { inst, time, body, reports: Vec::new(), label });
        Some(self.drafts.len() - 1)
    }

    /// A `fraud_reported` event naming `events` (already emitted events of `inst`); nothing
    /// when none of them was emitted.
    pub(crate) fn report(&mut self, inst: usize, time: i64, source: &str, events: &[Option<usize>], label: Lab) -> Option<usize> {
        let reports: Vec<usize> = events.iter().flatten().copied().filter(|&e| self.drafts[e].inst == inst).collect();
        if reports.is_empty() {
            return None;
        }
        let i = self.emit(inst, time, Body::new("fraud_reported").s("source", source), label)?;
        self.drafts[i].reports = reports;
        Some(i)
    }

    /// A random time in `[from, to)` following the hourly profile; `None` when empty.
    pub(crate) fn time_between(d: &mut Dice, from: i64, to: i64, hours: &[f64; 24]) -> Option<i64> {
        if to <= from {
            return None;
        }
        for _ in 0..64 {
            let first = jst_day(from);
            let last = jst_day(to - 1);
            let day = d.int(first, last);
            let t = day * DAY - JST + d.weighted(hours) as i64 * HOUR + d.int(0, HOUR - 1);
            if (from..to).contains(&t) {
                return Some(t);
            }
        }
        Some(d.int(from, to - 1))
    }

    /// Event times of a Poisson process of `per_day` events a day over `[from, to)`,
    /// following the hourly profile, sorted.
    pub(crate) fn arrivals(d: &mut Dice, from: i64, to: i64, per_day: f64, hours: &[f64; 24]) -> Vec<i64> {
        if to <= from {
            return Vec::new();
        }
        let n = d.poisson(per_day * (to - from) as f64 / DAY as f64);
        let mut ts: Vec<i64> = (0..n).filter_map(|_| World::time_between(d, from, to, hours)).collect();
        ts.sort_unstable();
        ts
    }
}

/// The JST calendar day of a time (days since 1970-01-01).
pub(crate) fn jst_day(t: i64) -> i64 {
    (t + JST).div_euclid(DAY)
}

/// Monday 0 .. Sunday 6, of a JST day.
pub(crate) fn weekday(day: i64) -> i64 {
    (day + 3).rem_euclid(7)
}

/// A month number (year * 12 + month) of a time in JST, for monthly caps.
pub(crate) fn jst_month(t: i64) -> i64 {
    let (y, m, _) = civil(jst_day(t));
    y * 12 + i64::from(m)
}

/// The next moment the Tokyo Stock Exchange is open (weekdays 9:00-11:30 and 12:30-15:30
/// JST; holidays ignored), `t` itself when it is.
pub(crate) fn market_open(t: i64) -> i64 {
    let mut day = jst_day(t);
    loop {
        if weekday(day) < 5 {
            let midnight = day * DAY - JST;
            for (a, b) in [(9 * HOUR, 11 * HOUR + 30 * MINUTE), (12 * HOUR + 30 * MINUTE, 15 * HOUR + 30 * MINUTE)] {
                if t < midnight + b {
                    return t.max(midnight + a);
                }
            }
        }
        day += 1;
    }
}

/// Days since 1970-01-01 to (year, month, day) in the proleptic Gregorian calendar.
pub(crate) fn civil(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

/// RFC 3339 with whole seconds: in JST (`+09:00`), or in UTC (`Z`).
pub(crate) fn format_time(t: i64, utc: bool) -> String {
    let local = if utc { t } else { t + JST };
    let (y, m, d) = civil(local.div_euclid(DAY));
    let s = local.rem_euclid(DAY);
    let zone = if utc { "Z" } else { "+09:00" };
    format!("{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}{zone}", s / HOUR, s % HOUR / MINUTE, s % MINUTE)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn calendar() {
        // 2026-04-06T00:00:00+09:00, a Monday.
        let t = 1_775_401_200;
        assert_eq!(format_time(t, false), "2026-04-06T00:00:00+09:00");
        assert_eq!(format_time(t, true), "2026-04-05T15:00:00Z");
        assert_eq!(weekday(jst_day(t)), 0);
        assert_eq!(civil(0), (1970, 1, 1));
        assert_eq!(civil(11_016), (2000, 2, 29));
        assert_eq!(jst_month(t), 2026 * 12 + 4);
    }

    #[test]
    fn market_hours() {
        let monday = 1_775_401_200;
        assert_eq!(market_open(monday), monday + 9 * HOUR);
        assert_eq!(market_open(monday + 11 * HOUR + 45 * MINUTE), monday + 12 * HOUR + 30 * MINUTE);
        assert_eq!(market_open(monday + 16 * HOUR), monday + DAY + 9 * HOUR);
        // Friday evening to Monday morning.
        assert_eq!(market_open(monday + 4 * DAY + 16 * HOUR), monday + 7 * DAY + 9 * HOUR);
        assert_eq!(market_open(monday + 10 * HOUR), monday + 10 * HOUR);
    }
}
