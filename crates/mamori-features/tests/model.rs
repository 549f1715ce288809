//! Model-based test of the window engine.
//!
//! Random feature files (as TOML text) over a small static schema are run through
//! [`Engine::process`] on random event sequences, and every feature of every event is
//! compared with a naive model that keeps every event in a plain `Vec` and computes each
//! feature by brute force from its definition:
//!
//! - the events of an entity are the events processed so far (in processing order) that
//!   were not late, passed the feature's filter and carry the entity's key (a customer,
//!   a customer and a kind, or nothing at all for `global`; an event with a null key part
//!   is in no entity and reads the empty value);
//! - the window of an event at `t` is `(t - delay - w, t - delay]` over event time, or
//!   `(-inf, t]` for `window = "all"` (no delay is allowed there);
//! - the current event counts when `include_current` (default true, false for
//!   `time_since_last`); it is read through `read_entity` when that is set;
//! - an empty window gives the feature's `empty` (default null; counts and distinct
//!   counts are always 0, sums 0 unless `empty` is set); a window with events but no
//!   value gives 0 for a sum and `empty` for avg, min, max and last_value;
//! - sums are exact decimals (ints for an int value), avg is sum / count of values as
//!   f64 (compared within 1e-9, relative), distinct compares normalised decimals;
//!   `last_value` is the non-null value of the latest event (ties: the one processed last);
//! - an event older than the newest seen minus `[engine] lateness` is late: it is
//!   reported with `Outcome.late`, and the model never adds it.
//!
//! What the model does not compare (see `skip_reason`): a late event's own features, when
//! the answer could depend on state the engine was entitled to drop: `Outcome.late`
//! documents that a late event is "read from the state as it is", and entries older than
//! `newest - lateness - (window + delay)` may be gone.

mod common;

use std::collections::HashSet;
use std::fmt::Write as _;

use mamori_core::{Decimal, OwnedValue, Span, StaticSchema, Timestamp, Type, VecRecord};
use mamori_features::{Engine, FeatureSet, FeatureVector};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError};

const MICROS: i64 = 1_000_000;

fn schema() -> StaticSchema {
    common::small_schema()
}

const KINDS: [&str; 3] = ["a", "b", "c"];

/// One input event. `customer` and `payee` name customers `c0`, `c1`, ...
#[derive(Debug, Clone, PartialEq)]
struct Ev {
    time: i64,
    customer: Option<u8>,
    payee: Option<u8>,
    amount: Option<Decimal>,
    kind: Option<u8>,
    flag: Option<i64>,
}

impl Ev {
    fn record(&self) -> VecRecord {
        let who = |v: Option<u8>| v.map_or(OwnedValue::Null, |c| OwnedValue::Str(format!("c{c}").into()));
        VecRecord(vec![
            OwnedValue::Timestamp(Timestamp(self.time)),
            who(self.customer),
            who(self.payee),
            self.amount.map_or(OwnedValue::Null, OwnedValue::Decimal),
            self.kind.map_or(OwnedValue::Null, |k| OwnedValue::Str(KINDS[k as usize].into())),
            self.flag.map_or(OwnedValue::Null, OwnedValue::Int),
        ])
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Agg {
    Count,
    Sum,
    Avg,
    Min,
    Max,
    Distinct,
    FirstSeen,
    LastSeen,
    TimeSinceLast,
    LastValue,
}

const AGGS: [Agg; 10] =
    [Agg::Count, Agg::Sum, Agg::Avg, Agg::Min, Agg::Max, Agg::Distinct, Agg::FirstSeen, Agg::LastSeen, Agg::TimeSinceLast, Agg::LastValue];

impl Agg {
    fn name(self) -> &'static str {
        match self {
            Agg::Count => "count",
            Agg::Sum => "sum",
            Agg::Avg => "avg",
            Agg::Min => "min",
            Agg::Max => "max",
            Agg::Distinct => "distinct",
            Agg::FirstSeen => "first_seen",
            Agg::LastSeen => "last_seen",
            Agg::TimeSinceLast => "time_since_last",
            Agg::LastValue => "last_value",
        }
    }

    fn numeric_result(self) -> bool {
        matches!(self, Agg::Count | Agg::Sum | Agg::Avg | Agg::Min | Agg::Max | Agg::Distinct)
    }
}

/// The value a feature aggregates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Of {
    Amount,
    Flag,
    Kind,
    /// An expression rather than a plain path.
    AmountTimes2,
}

impl Of {
    fn src(self) -> &'static str {
        match self {
            Of::Amount => "event.amount",
            Of::Flag => "event.flag",
            Of::Kind => "event.kind",
            Of::AmountTimes2 => "event.amount * 2",
        }
    }

    fn value(self, e: &Ev) -> OwnedValue {
        match self {
            Of::Amount => e.amount.map_or(OwnedValue::Null, OwnedValue::Decimal),
            Of::AmountTimes2 => e.amount.map_or(OwnedValue::Null, |a| OwnedValue::Decimal(a * Decimal::from(2))),
            Of::Flag => e.flag.map_or(OwnedValue::Null, OwnedValue::Int),
            Of::Kind => e.kind.map_or(OwnedValue::Null, |k| OwnedValue::Str(KINDS[k as usize].into())),
        }
    }

    fn ty(self) -> Type {
        match self {
            Of::Amount | Of::AmountTimes2 => Type::Decimal,
            Of::Flag => Type::Int,
            Of::Kind => Type::String,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Filter {
    KindA,
    FlagPositive,
    NotBWithFlag,
}

impl Filter {
    fn src(self) -> &'static str {
        match self {
            Filter::KindA => r#"event.kind == "a""#,
            Filter::FlagPositive => "event.flag > 0",
            Filter::NotBWithFlag => r#"event.kind != "b" && event.flag >= 1"#,
        }
    }

    /// CEL semantics: a comparison with null is null, and a null condition does not hold.
    fn holds(self, e: &Ev) -> bool {
        match self {
            Filter::KindA => e.kind == Some(0),
            Filter::FlagPositive => e.flag.is_some_and(|f| f > 0),
            Filter::NotBWithFlag => e.kind.is_some_and(|k| k != 1) && e.flag.is_some_and(|f| f >= 1),
        }
    }
}

const WINDOWS: [(i64, &str); 7] = [(30, "30s"), (300, "5m"), (1200, "20m"), (3600, "1h"), (5400, "90m"), (3 * 3600, "3h"), (86_400, "1d")];
const DELAYS: [(i64, &str); 3] = [(60, "1m"), (600, "10m"), (3600, "1h")];

/// What a feature is keyed by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Entity {
    /// `entity = "event.customer"` (and `read_entity = "event.payee"`).
    Customer,
    /// `entity = ["event.customer", "event.kind"]` (and `["event.payee", "event.kind"]`).
    CustomerKind,
    /// `entity = "global"`: no key parts, every event is one entity.
    Global,
}

impl Entity {
    /// The key `e` has (or is read with); `None` when a part is null.
    fn key(self, e: &Ev, read_payee: bool) -> Option<(u8, u8)> {
        let who = if read_payee { e.payee } else { e.customer };
        match self {
            Entity::Customer => Some((who?, 0)),
            Entity::CustomerKind => Some((who?, e.kind?)),
            Entity::Global => Some((0, 0)),
        }
    }
}

#[derive(Debug, Clone)]
struct WinFeat {
    agg: Agg,
    entity: Entity,
    of: Option<Of>,
    /// Window in seconds (None: all) and how it is written.
    window: Option<(i64, &'static str)>,
    /// Write `window = "all"` rather than leaving the key out.
    spell_all: bool,
    delay: Option<(i64, &'static str)>,
    include_current: Option<bool>,
    filter: Option<Filter>,
    /// Read the entity named by `payee` rather than `customer` (not for `Global`).
    read_payee: bool,
    /// Set `empty` to a non-default value.
    empty: bool,
}

impl WinFeat {
    fn from_bytes(b: [u8; 10]) -> WinFeat {
        let agg = AGGS[b[0] as usize % AGGS.len()];
        let of = match agg {
            Agg::Count | Agg::FirstSeen | Agg::LastSeen | Agg::TimeSinceLast => None,
            Agg::Sum | Agg::Avg | Agg::Min | Agg::Max => Some([Of::Amount, Of::Flag, Of::AmountTimes2][b[1] as usize % 3]),
            Agg::Distinct | Agg::LastValue => Some([Of::Amount, Of::Flag, Of::Kind, Of::AmountTimes2][b[1] as usize % 4]),
        };
        let window = if agg == Agg::LastValue || b[2].is_multiple_of(4) { None } else { Some(WINDOWS[b[2] as usize % WINDOWS.len()]) };
        let delay = if window.is_some() && b[3].is_multiple_of(3) { Some(DELAYS[(b[3] / 3) as usize % DELAYS.len()]) } else { None };
        let include_current = match b[4] % 3 {
            0 => None,
            1 => Some(true),
            _ => Some(false),
        };
        let filter = match b[5] % 5 {
            2 => Some(Filter::KindA),
            3 => Some(Filter::FlagPositive),
            4 => Some(Filter::NotBWithFlag),
            _ => None,
        };
        let entity = match b[9] / 6 % 8 {
            0 => Entity::Global,
            1 | 2 => Entity::CustomerKind,
            _ => Entity::Customer,
        };
        WinFeat {
            agg,
            entity,
            of,
            window,
            spell_all: b[8].is_multiple_of(2),
            delay,
            include_current,
            filter,
            read_payee: b[6].is_multiple_of(4) && entity != Entity::Global,
            empty: b[7].is_multiple_of(3) && !matches!(agg, Agg::FirstSeen | Agg::LastSeen),
        }
    }

    fn include_current(&self) -> bool {
        self.include_current.unwrap_or(self.agg != Agg::TimeSinceLast)
    }

    fn int_valued(&self) -> bool {
        self.of == Some(Of::Flag)
    }

    /// The TOML for `empty` and the value it stands for.
    fn empty_toml(&self) -> Option<(&'static str, OwnedValue)> {
        if !self.empty {
            return None;
        }
        Some(match (self.agg, self.of) {
            // Counts ignore `empty`: they are 0 when nothing is in the window.
            (Agg::Count | Agg::Distinct, _) => ("7", OwnedValue::Int(0)),
            (Agg::Sum | Agg::Min | Agg::Max, Some(Of::Flag)) => ("-1", OwnedValue::Int(-1)),
            (Agg::Sum | Agg::Min | Agg::Max, _) => (r#""-1.5""#, OwnedValue::Decimal(Decimal::new(-15, 1))),
            (Agg::Avg, _) => ("-0.5", OwnedValue::Double(-0.5)),
            (Agg::TimeSinceLast, _) => (r#""90s""#, OwnedValue::Duration(Span::from_secs(90))),
            (Agg::LastValue, Some(Of::Kind)) => (r#""none""#, OwnedValue::Str("none".into())),
            (Agg::LastValue, Some(Of::Flag)) => ("-3", OwnedValue::Int(-3)),
            (Agg::LastValue, _) => (r#""-2""#, OwnedValue::Decimal(Decimal::from(-2))),
            (Agg::FirstSeen | Agg::LastSeen, _) => unreachable!(),
        })
    }

    fn empty_value(&self) -> OwnedValue {
        if let Some((_, v)) = self.empty_toml() {
            return v;
        }
        match self.agg {
            Agg::Count | Agg::Distinct => OwnedValue::Int(0),
            Agg::Sum if self.int_valued() => OwnedValue::Int(0),
            Agg::Sum => OwnedValue::Decimal(Decimal::ZERO),
            _ => OwnedValue::Null,
        }
    }

    fn ty(&self) -> Type {
        match self.agg {
            Agg::Count | Agg::Distinct => Type::Int,
            Agg::Sum | Agg::Min | Agg::Max => {
                if self.int_valued() {
                    Type::Int
                } else {
                    Type::Decimal
                }
            }
            Agg::Avg => Type::Double,
            Agg::FirstSeen | Agg::LastSeen => Type::Timestamp,
            Agg::TimeSinceLast => Type::Duration,
            Agg::LastValue => self.of.unwrap().ty(),
        }
    }

    fn toml(&self, name: &str, out: &mut String) {
        writeln!(out, "[[feature]]\nname = \"{name}\"").unwrap();
        match (self.entity, self.read_payee) {
            (Entity::Customer, false) => writeln!(out, "entity = \"event.customer\"").unwrap(),
            (Entity::Customer, true) => writeln!(out, "entity = \"event.customer\"\nread_entity = \"event.payee\"").unwrap(),
            (Entity::CustomerKind, false) => writeln!(out, "entity = [\"event.customer\", \"event.kind\"]").unwrap(),
            (Entity::CustomerKind, true) => {
                writeln!(out, "entity = [\"event.customer\", \"event.kind\"]\nread_entity = [\"event.payee\", \"event.kind\"]").unwrap()
            }
            (Entity::Global, _) => writeln!(out, "entity = \"global\"").unwrap(),
        }
        writeln!(out, "aggregate = \"{}\"", self.agg.name()).unwrap();
        if let Some(of) = self.of {
            writeln!(out, "of = \"{}\"", of.src()).unwrap();
        }
        match self.window {
            Some((_, w)) => writeln!(out, "window = \"{w}\"").unwrap(),
            None if self.spell_all => writeln!(out, "window = \"all\"").unwrap(),
            None => {}
        }
        if let Some((_, d)) = self.delay {
            writeln!(out, "delay = \"{d}\"").unwrap();
        }
        if let Some(ic) = self.include_current {
            writeln!(out, "include_current = {ic}").unwrap();
        }
        if let Some(f) = self.filter {
            writeln!(out, "filter = '{}'", f.src()).unwrap();
        }
        if let Some((e, _)) = self.empty_toml() {
            writeln!(out, "empty = {e}").unwrap();
        }
        out.push('\n');
    }
}

#[derive(Debug, Clone)]
enum Feat {
    Win(WinFeat),
    /// Ratio of two earlier numeric features; `empty = -1.0` when the flag is set.
    Ratio {
        num: usize,
        den: usize,
        empty: bool,
    },
}

#[derive(Debug, Clone)]
struct Case {
    features: Vec<Feat>,
    events: Vec<Ev>,
    /// `None`: the default of one hour, not written.
    lateness: Option<(i64, &'static str)>,
}

const LATENESS: [(i64, &str); 4] = [(0, "0"), (1800, "30m"), (3600, "1h"), (7200, "2h")];

/// 2026-01-01T00:00:00Z, and 1999-12-31T23:00:00Z (before the engine's compact time base).
const BASES: [i64; 2] = [1_767_225_600, 946_681_200];

impl Case {
    fn build(fbytes: Vec<[u8; 10]>, ebytes: Vec<[u8; 8]>, lat: u8, early: bool) -> Case {
        let mut features = Vec::new();
        for b in fbytes {
            let numeric: Vec<usize> =
                features.iter().enumerate().filter(|(_, f)| matches!(f, Feat::Win(w) if w.agg.numeric_result())).map(|(i, _)| i).collect();
            if b[9].is_multiple_of(6) && !numeric.is_empty() {
                features.push(Feat::Ratio {
                    num: numeric[b[1] as usize % numeric.len()],
                    den: numeric[b[2] as usize % numeric.len()],
                    empty: b[3].is_multiple_of(2),
                });
            } else {
                features.push(Feat::Win(WinFeat::from_bytes(b)));
            }
        }
        let base = BASES[usize::from(early)] * MICROS;
        let mut clock = base;
        let mut events = Vec::new();
        for b in ebytes {
            let mag = i64::from(u16::from_le_bytes([b[1], b[2]]));
            let delta = match b[0] {
                // Forward, often by nothing at all (ties).
                0..=159 => {
                    if b[1].is_multiple_of(6) {
                        0
                    } else {
                        (mag % 1800) * MICROS
                    }
                }
                // Back by up to 90 minutes: within or beyond the lateness.
                160..=219 => -(mag % 5400) * MICROS,
                // Far back, late for every lateness.
                _ => -(3 * 3600 + mag % (4 * 3600)) * MICROS,
            };
            // Now and then a time that is not a whole second.
            let frac = if b[2].is_multiple_of(13) { i64::from(b[1]) * 3_907 } else { 0 };
            let time = clock + delta + frac;
            clock = clock.max(time);
            let who = |x: u8| if x % 7 == 6 { None } else { Some(x % 3) };
            let amount = (b[5] < 230).then(|| Decimal::new(i64::from(b[6]) * 37 % 1000 + 1, u32::from(b[5] % 3)));
            events.push(Ev {
                time,
                customer: who(b[3]),
                payee: who(b[4]),
                amount,
                kind: (b[7] % 4 != 3).then_some(b[7] % 4),
                flag: (b[7] < 240).then(|| i64::from(b[7] / 4 % 6) - 1),
            });
        }
        let lateness = (lat as usize).checked_sub(1).map(|i| LATENESS[i]);
        Case { features, events, lateness }
    }

    fn lateness(&self) -> i64 {
        self.lateness.map_or(3600, |l| l.0) * MICROS
    }

    fn toml(&self) -> String {
        let mut s = String::new();
        if let Some((_, l)) = self.lateness {
            writeln!(s, "[engine]\nlateness = \"{l}\"\n").unwrap();
        }
        for (i, f) in self.features.iter().enumerate() {
            match f {
                Feat::Win(w) => w.toml(&format!("f{i}"), &mut s),
                Feat::Ratio { num, den, empty } => {
                    writeln!(s, "[[feature]]\nname = \"f{i}\"\naggregate = \"ratio\"\nnumerator = \"f{num}\"\ndenominator = \"f{den}\"")
                        .unwrap();
                    if *empty {
                        writeln!(s, "empty = -1.0").unwrap();
                    }
                    s.push('\n');
                }
            }
        }
        s
    }
}

fn case() -> impl Strategy<Value = Case> {
    (
        prop::collection::vec(any::<[u8; 10]>(), 1..10),
        prop::collection::vec(any::<[u8; 8]>(), 1..60),
        0u8..=LATENESS.len() as u8,
        prop::bool::weighted(0.2),
    )
        .prop_map(|(f, e, lat, early)| Case::build(f, e, lat, early))
}

/// What the model knows when an event is read.
struct Ctx<'a> {
    /// Every event that updated the state so far, the current one included when it did.
    hist: &'a [Ev],
    ev: &'a Ev,
    /// The current event's index in `hist`, unless it was late.
    cur: Option<usize>,
    max_time: i64,
    lateness: i64,
}

/// The model's value of a windowed feature, or why it is not compared.
fn model(f: &WinFeat, c: &Ctx<'_>) -> Result<OwnedValue, &'static str> {
    let empty = f.empty_value();
    let Some(key) = f.entity.key(c.ev, f.read_payee) else { return Ok(empty) };
    let t = c.ev.time;
    let include_current = f.include_current();
    let entity: Vec<(usize, &Ev)> =
        c.hist.iter().enumerate().filter(|(_, e)| f.entity.key(e, false) == Some(key) && f.filter.is_none_or(|fl| fl.holds(e))).collect();
    let delay = f.delay.map_or(0, |d| d.0) * MICROS;
    let (lo, hi) = match f.window {
        Some((w, _)) => (t - delay - w * MICROS, t - delay),
        None => (i64::MIN, t),
    };
    let window: Vec<(usize, &Ev)> =
        entity.iter().copied().filter(|(i, e)| e.time > lo && e.time <= hi && (include_current || Some(*i) != c.cur)).collect();
    let value = |e: &Ev| f.of.map_or(OwnedValue::Null, |of| of.value(e));

    if let Some(why) = skip_reason(f, c, &entity, &window) {
        return Err(why);
    }

    if window.is_empty() {
        return Ok(empty);
    }
    let values: Vec<(usize, &Ev, OwnedValue)> = window.iter().map(|(i, e)| (*i, *e, value(e))).filter(|(_, _, v)| !v.is_null()).collect();
    let dec = |v: &OwnedValue| match v {
        OwnedValue::Decimal(d) => *d,
        OwnedValue::Int(i) => Decimal::from(*i),
        other => panic!("not a number: {other:?}"),
    };
    let number = |d: Decimal| if f.int_valued() { OwnedValue::Int(i64::try_from(d).unwrap()) } else { OwnedValue::Decimal(d) };
    Ok(match f.agg {
        Agg::Count => OwnedValue::Int(window.len() as i64),
        Agg::Sum => number(values.iter().map(|(_, _, v)| dec(v)).sum()),
        Agg::Avg => {
            if values.is_empty() {
                return Ok(empty);
            }
            let sum: Decimal = values.iter().map(|(_, _, v)| dec(v)).sum();
            OwnedValue::Double(f64::try_from(sum).unwrap() / values.len() as f64)
        }
        Agg::Min => values.iter().map(|(_, _, v)| dec(v)).min().map_or(empty, number),
        Agg::Max => values.iter().map(|(_, _, v)| dec(v)).max().map_or(empty, number),
        Agg::Distinct => {
            let set: HashSet<String> = values
                .iter()
                .map(|(_, _, v)| match v {
                    OwnedValue::Decimal(d) => d.normalize().to_string(),
                    other => other.to_string(),
                })
                .collect();
            OwnedValue::Int(set.len() as i64)
        }
        Agg::FirstSeen => OwnedValue::Timestamp(Timestamp(window.iter().map(|(_, e)| e.time).min().unwrap())),
        Agg::LastSeen => OwnedValue::Timestamp(Timestamp(window.iter().map(|(_, e)| e.time).max().unwrap())),
        Agg::TimeSinceLast => OwnedValue::Duration(Span(t - window.iter().map(|(_, e)| e.time).max().unwrap())),
        Agg::LastValue => values.iter().max_by_key(|(i, e, _)| (e.time, *i)).map_or(empty, |(_, _, v)| v.clone()),
    })
}

/// Why the model does not compare this feature for this event, if it does not: only a late
/// event reading what the engine may have dropped.
fn skip_reason(f: &WinFeat, c: &Ctx<'_>, entity: &[(usize, &Ev)], window: &[(usize, &Ev)]) -> Option<&'static str> {
    let t = c.ev.time;
    if c.cur.is_none() {
        // A late event reads "the state as it is" (Outcome.late): entries older than
        // newest - lateness - (window + delay) may already be dropped.
        match f.window {
            Some((w, _)) => {
                let bound = c.max_time - c.lateness - w * MICROS - f.delay.map_or(0, |d| d.0) * MICROS;
                if window.iter().any(|(_, e)| e.time <= bound) {
                    return Some("late event reading entries the engine may have dropped");
                }
            }
            // `all` takes the entity's entries newer than the event back out of its
            // running totals; those old enough to be dropped cannot be.
            None => {
                if entity.iter().any(|(_, e)| e.time > t && e.time <= c.max_time - c.lateness) {
                    return Some("late event reading `all` with newer entries the engine may have dropped");
                }
            }
        }
    }
    None
}

fn same(got: &OwnedValue, want: &OwnedValue) -> bool {
    match (got, want) {
        (OwnedValue::Double(a), OwnedValue::Double(b)) => a == b || (a - b).abs() <= 1e-9 * a.abs().max(b.abs()),
        _ => got == want,
    }
}

fn run(case: &Case) -> Result<(), TestCaseError> {
    let text = case.toml();
    let schema = schema();
    let (_, set) = mamori_features::load("model.toml", &text, &schema).map_err(|e| TestCaseError::fail(format!("{e}\n{text}")))?;
    check_types(&set, case)?;
    let mut engine = Engine::new(&set);
    let mut out = FeatureVector::default();
    let mut hist: Vec<Ev> = Vec::new();
    let mut max_time: Option<i64> = None;
    let mut late = 0;
    for (n, ev) in case.events.iter().enumerate() {
        let outcome = engine.process(&ev.record(), Timestamp(ev.time), &mut out);
        let is_late = max_time.is_some_and(|m| ev.time < m - case.lateness());
        prop_assert_eq!(outcome.late, is_late, "event {} ({:?})\n{}", n, ev, text);
        prop_assert!(!outcome.overflow);
        let cur = if is_late {
            late += 1;
            None
        } else {
            max_time = Some(max_time.map_or(ev.time, |m| m.max(ev.time)));
            hist.push(ev.clone());
            Some(hist.len() - 1)
        };
        let ctx = Ctx { hist: &hist, ev, cur, max_time: max_time.unwrap(), lateness: case.lateness() };
        prop_assert_eq!(out.0.len(), case.features.len());
        for (i, f) in case.features.iter().enumerate() {
            let got = &out.0[i];
            let want = match f {
                Feat::Win(w) => match model(w, &ctx) {
                    Ok(v) => v,
                    Err(_) => continue,
                },
                Feat::Ratio { num, den, empty } => match (out.0[*num].as_value().as_f64(), out.0[*den].as_value().as_f64()) {
                    (Some(a), Some(b)) if b != 0.0 => OwnedValue::Double(a / b),
                    _ if *empty => OwnedValue::Double(-1.0),
                    _ => OwnedValue::Null,
                },
            };
            prop_assert!(
                same(got, &want),
                "event {} ({:?}, late: {}): feature f{} = {:?}, model says {:?}\nevents so far: {:?}\n{}",
                n,
                ev,
                is_late,
                i,
                got,
                want,
                &case.events[..=n],
                text
            );
        }
    }
    prop_assert_eq!(engine.stats().late, late);
    prop_assert_eq!(engine.stats().events, case.events.len() as u64);
    Ok(())
}

/// The feature set's declared types are the model's, and every value has its feature's type.
fn check_types(set: &FeatureSet, case: &Case) -> Result<(), TestCaseError> {
    let names: Vec<String> = set.names().map(str::to_string).collect();
    let types: Vec<Type> = set.types().cloned().collect();
    prop_assert_eq!(names.len(), case.features.len());
    for (i, f) in case.features.iter().enumerate() {
        prop_assert_eq!(&names[i], &format!("f{i}"));
        let want = match f {
            Feat::Win(w) => w.ty(),
            Feat::Ratio { .. } => Type::Double,
        };
        prop_assert_eq!(&types[i], &want, "type of f{}", i);
    }
    Ok(())
}

/// 1000 cases unless `PROPTEST_CASES` says otherwise.
fn config() -> Config {
    let mut c = Config { failure_persistence: None, ..Config::default() };
    if std::env::var_os("PROPTEST_CASES").is_none() {
        c.cases = 1000;
    }
    c
}

proptest! {
    #![proptest_config(config())]

    /// The engine agrees with the brute-force model on every feature of every event, but
    /// a late event's reading of what the engine may have dropped (`skip_reason`).
    #[test]
    fn engine_matches_model(case in case()) {
        run(&case)?;
    }
}

proptest! {
    #![proptest_config(config())]

    /// Reading ahead changes nothing: an engine asked, before each event, for the state of
    /// events `ahead` places on (their entities, then the logs of slots found some events
    /// earlier, which entities created or dropped since may have moved) computes the same
    /// features, and ends in the same state, as one that is not; and so does one that
    /// takes, for each event, the keys built when it was read ahead.
    #[test]
    fn reading_ahead_changes_nothing(case in case(), ahead in 1usize..40) {
        let text = case.toml();
        let schema = schema();
        let (_, set) = mamori_features::load("model.toml", &text, &schema).map_err(|e| TestCaseError::fail(format!("{e}\n{text}")))?;
        let (mut plain, mut read, mut keyed) = (Engine::new(&set), Engine::new(&set), Engine::new(&set));
        let (mut a, mut b, mut c) = (FeatureVector::default(), FeatureVector::default(), FeatureVector::default());
        let mut found: Vec<Vec<(usize, u32)>> = vec![Vec::new(); case.events.len()];
        let mut kept: Vec<mamori_features::Ahead> = (0..case.events.len()).map(|_| Default::default()).collect();
        for (n, ev) in case.events.iter().enumerate() {
            if let Some(later) = case.events.get(n + ahead) {
                read.prefetch_entities(&later.record(), None, &mut found[n + ahead]);
                keyed.read_ahead_for(&later.record(), None, &mut kept[n + ahead]);
            }
            read.prefetch_logs(&found[n]);
            keyed.prefetch_logs(kept[n].slots());
            let (x, y) = (plain.process(&ev.record(), Timestamp(ev.time), &mut a), read.process(&ev.record(), Timestamp(ev.time), &mut b));
            // The first events were not read ahead: their keys are built as usual.
            let z = if n >= ahead {
                keyed.process_ahead(&ev.record(), Timestamp(ev.time), &mut c, None, &mut kept[n])
            } else {
                keyed.process(&ev.record(), Timestamp(ev.time), &mut c)
            };
            prop_assert_eq!((x.late, x.overflow), (y.late, y.overflow));
            prop_assert_eq!((x.late, x.overflow), (z.late, z.overflow));
            prop_assert_eq!(&a.0, &b.0, "event {}", n);
            prop_assert_eq!(&a.0, &c.0, "event {} with its keys read ahead", n);
        }
        prop_assert!(plain.snapshot() == read.snapshot(), "the same state");
        prop_assert!(plain.snapshot() == keyed.snapshot(), "the same state with keys read ahead");
    }
}

/// Reading ahead finds the slot of an entity the engine holds, and none of one it does not.
#[test]
fn reading_ahead_finds_the_entities_held() {
    let toml = feature("n_1h", "aggregate = \"count\"\nwindow = \"1h\"");
    let (_, set) = mamori_features::load("example.toml", &toml, &schema()).unwrap();
    let mut engine = Engine::new(&set);
    let mut slots = Vec::new();
    engine.prefetch_entities(&ev(0, 1, Some(5), None).record(), None, &mut slots);
    assert!(slots.is_empty(), "nothing held yet");
    engine.process(&ev(0, 1, Some(5), None).record(), Timestamp(at(0)), &mut FeatureVector::default());
    engine.prefetch_entities(&ev(10, 1, Some(5), None).record(), None, &mut slots);
    assert_eq!(slots, vec![(0, 0)], "customer 1's slot in the one group");
    engine.prefetch_logs(&slots);
    engine.prefetch_logs(&[(0, 99), (7, 0)]);
}

/// A slot found by reading ahead that another entity holds by the time the event comes
/// (its own entity dropped, the slot given to a newcomer) is not taken: the event's
/// features are those of its own entity.
#[test]
fn a_slot_read_ahead_and_reused_since_is_not_taken() {
    let toml = feature("n_1h", "aggregate = \"count\"\nwindow = \"1h\"");
    let (_, set) = mamori_features::load("example.toml", &toml, &schema()).unwrap();
    let (mut engine, mut fresh) = (Engine::new(&set), Engine::new(&set));
    let mut out = FeatureVector::default();
    // Customer 1 takes slot 0; its next event is read ahead and finds that slot.
    let first = ev(0, 1, Some(5), None);
    engine.process(&first.record(), Timestamp(first.time), &mut out);
    let later = ev(5 * 3600 + 120, 1, Some(5), None);
    let mut kept = mamori_features::Ahead::default();
    engine.read_ahead_for(&later.record(), None, &mut kept);
    assert_eq!(kept.slots(), &[(0, 0)]);
    // Hours on, past the window and the lateness, customer 1 is dropped, and customer 3
    // takes its slot with an event in the hour before customer 1's next.
    let others = [ev(5 * 3600, 2, Some(5), None), ev(5 * 3600 + 60, 3, Some(5), None)];
    engine.process(&others[0].record(), Timestamp(others[0].time), &mut out);
    engine.compact();
    engine.process(&others[1].record(), Timestamp(others[1].time), &mut out);
    let mut slots = Vec::new();
    engine.prefetch_entities(&others[1].record(), None, &mut slots);
    assert_eq!(slots, vec![(0, 0)], "customer 3 holds slot 0");
    for e in &others {
        fresh.process(&e.record(), Timestamp(e.time), &mut FeatureVector::default());
    }
    // Customer 1 has no other event in the hour before: a count of one, its own.
    engine.process_ahead(&later.record(), Timestamp(later.time), &mut out, None, &mut kept);
    let mut expected = FeatureVector::default();
    fresh.process(&later.record(), Timestamp(later.time), &mut expected);
    assert_eq!(out.0, expected.0);
    assert_eq!(out.0, vec![int(1)]);
}

// ---------------------------------------------------------------------------------------
// Worked examples of the semantics the model encodes, and minimal reproductions of the
// engine bugs the model excludes (`skip_reason`).

/// 2026-01-01T00:00:00Z in microseconds.
const T0: i64 = BASES[0] * MICROS;

fn at(secs: i64) -> i64 {
    T0 + secs * MICROS
}

fn ev(secs: i64, customer: u8, amount: Option<i64>, kind: Option<&str>) -> Ev {
    Ev {
        time: at(secs),
        customer: Some(customer),
        payee: None,
        amount: amount.map(Decimal::from),
        kind: kind.map(|k| KINDS.iter().position(|x| *x == k).unwrap() as u8),
        flag: Some(1),
    }
}

/// Runs `events` through the features of `toml`; returns each event's features and whether it was late.
fn run_events(toml: &str, events: &[Ev]) -> Vec<(Vec<OwnedValue>, bool)> {
    let schema = schema();
    let (_, set) = mamori_features::load("example.toml", toml, &schema).unwrap_or_else(|e| panic!("{e}"));
    let mut engine = Engine::new(&set);
    let mut out = FeatureVector::default();
    events
        .iter()
        .map(|e| {
            let o = engine.process(&e.record(), Timestamp(e.time), &mut out);
            (out.0.clone(), o.late)
        })
        .collect()
}

fn feature(name: &str, body: &str) -> String {
    format!("[[feature]]\nname = \"{name}\"\nentity = \"event.customer\"\n{body}\n\n")
}

fn int(i: i64) -> OwnedValue {
    OwnedValue::Int(i)
}

fn dec(i: i64) -> OwnedValue {
    OwnedValue::Decimal(Decimal::from(i))
}

fn ts(secs: i64) -> OwnedValue {
    OwnedValue::Timestamp(Timestamp(at(secs)))
}

#[test]
fn windows_are_half_open_and_delays_shift_them() {
    let toml = feature("n_1h", "aggregate = \"count\"\nwindow = \"1h\"")
        + &feature("n_1h_delayed", "aggregate = \"count\"\nwindow = \"1h\"\ndelay = \"10m\"")
        + &feature("sum_1h", "aggregate = \"sum\"\nof = \"event.amount\"\nwindow = \"1h\"\ninclude_current = false")
        + &feature("since", "aggregate = \"time_since_last\"\nwindow = \"1h\"");
    let r = run_events(&toml, &[ev(0, 0, Some(5), None), ev(600, 0, Some(7), None), ev(3600, 0, Some(11), None)]);
    // At 0: only itself; nothing 10 minutes or more before it; no earlier event.
    assert_eq!(r[0].0, vec![int(1), int(0), dec(0), OwnedValue::Null]);
    // At 600: (−3000, 600] holds both; (−3600, 0] holds the first; the earlier sum is 5.
    assert_eq!(r[1].0, vec![int(2), int(1), dec(5), OwnedValue::Duration(Span::from_secs(600))]);
    // At 3600: the event at 0 is exactly one hour old and out of (0, 3600], but in the
    // delayed window (−600, 3000].
    assert_eq!(r[2].0, vec![int(2), int(2), dec(7), OwnedValue::Duration(Span::from_secs(3000))]);
}

#[test]
fn late_events_are_reported_and_change_no_state() {
    let toml = String::from("[engine]\nlateness = \"30m\"\n\n")
        + &feature("n", "aggregate = \"count\"\nwindow = \"1d\"")
        + &feature("total", "aggregate = \"sum\"\nof = \"event.amount\"");
    let events = [
        ev(3600, 0, Some(1), None),
        // 20 minutes back: within the lateness, counted.
        ev(2400, 0, Some(10), None),
        // 40 minutes back: late, read from the state but not added.
        ev(1200, 0, Some(100), None),
        ev(3600, 0, Some(1000), None),
    ];
    let r = run_events(&toml, &events);
    assert_eq!(r.iter().map(|x| x.1).collect::<Vec<_>>(), [false, false, true, false]);
    // Event time decides: the event at 3600 is newer, so not in the 2400 event's windows.
    assert_eq!(r[1].0, vec![int(1), dec(10)]);
    // The late event sees the state as it is (both earlier events are newer than it,
    // so the window (t − 1d, t] holds none of them).
    assert_eq!(r[2].0, vec![int(0), dec(0)]);
    assert_eq!(r[3].0, vec![int(3), dec(1011)]);
}

#[test]
fn read_entity_reads_another_entitys_state() {
    let toml = String::from(
        "[[feature]]\nname = \"payee_n\"\nentity = \"event.customer\"\nread_entity = \"event.payee\"\naggregate = \"count\"\nwindow = \"1h\"\n",
    );
    let mut to_c1 = ev(60, 0, None, None);
    to_c1.payee = Some(1);
    let mut self_pay = ev(120, 1, None, None);
    self_pay.payee = Some(1);
    let r = run_events(&toml, &[ev(0, 1, None, None), ev(30, 1, None, None), to_c1, self_pay, ev(180, 2, None, None)]);
    // c1 had two events when c0 paid it; when c1 pays itself its own event counts too;
    // no payee reads the empty value.
    assert_eq!(r[2].0, vec![int(2)]);
    assert_eq!(r[3].0, vec![int(3)]);
    assert_eq!(r[4].0, vec![int(0)]);
}

/// Events at 0 and 1800 (amounts 5 and 9), then one at 600 (amount 1), within the
/// default lateness of one hour. Over `window = "all"` the event at 600 counts two
/// events (0 and itself), as the window `(-inf, t]` says, and its max, last_seen,
/// distinct count and last value come from those two, not from the event at 1800, which
/// is newer than it.
#[test]
fn all_window_leaves_out_events_newer_than_the_current_one() {
    let toml = feature("n", "aggregate = \"count\"")
        + &feature("hi", "aggregate = \"max\"\nof = \"event.amount\"")
        + &feature("seen", "aggregate = \"last_seen\"")
        + &feature("kinds", "aggregate = \"distinct\"\nof = \"event.kind\"")
        + &feature("last", "aggregate = \"last_value\"\nof = \"event.kind\"");
    let r = run_events(&toml, &[ev(0, 0, Some(5), Some("a")), ev(1800, 0, Some(9), Some("b")), ev(600, 0, Some(1), Some("a"))]);
    assert!(!r[2].1);
    assert_eq!(r[2].0[0], int(2));
    assert_eq!(r[2].0[1], dec(5), "max");
    assert_eq!(r[2].0[2], ts(600), "last_seen");
    assert_eq!(r[2].0[3], int(1), "distinct");
    assert_eq!(r[2].0[4], OwnedValue::Str("a".into()), "last_value");
}

/// The same out-of-order event: `time_since_last` (which leaves the current event out
/// by default) gives 600 seconds, since the event at 0, not 0 from the event itself.
#[test]
fn all_window_time_since_last_leaves_out_the_current_event() {
    let toml = feature("since", "aggregate = \"time_since_last\"");
    let r = run_events(&toml, &[ev(0, 0, None, None), ev(1800, 0, None, None), ev(600, 0, None, None)]);
    assert_eq!(r[2].0[0], OwnedValue::Duration(Span::from_secs(600)));
}

/// Amounts 5 then 3 with `include_current = false`: the second event's min is 5, its max
/// 5 and its distinct count 1.
#[test]
fn all_window_min_max_distinct_leave_out_the_current_event_when_told() {
    let toml = feature("lo", "aggregate = \"min\"\nof = \"event.amount\"\ninclude_current = false")
        + &feature("hi", "aggregate = \"max\"\nof = \"event.amount\"\ninclude_current = false")
        + &feature("amounts", "aggregate = \"distinct\"\nof = \"event.amount\"\ninclude_current = false");
    let r = run_events(&toml, &[ev(0, 0, Some(5), None), ev(60, 0, Some(3), None), ev(120, 0, Some(9), None)]);
    assert_eq!(r[0].0, vec![OwnedValue::Null, OwnedValue::Null, int(0)]);
    assert_eq!(r[1].0, vec![dec(5), dec(5), int(1)]);
    assert_eq!(r[2].0, vec![dec(3), dec(5), int(2)]);
}

/// An amount of 4, then an event without amount: with `include_current = false` the
/// second event's average is 4 (the current event, left out, had no value to take off
/// the number of values).
#[test]
fn all_window_avg_without_current_null_value() {
    let toml = feature("mean", "aggregate = \"avg\"\nof = \"event.amount\"\ninclude_current = false");
    let r = run_events(&toml, &[ev(0, 0, Some(4), None), ev(60, 0, None, None)]);
    assert_eq!(r[1].0, vec![OwnedValue::Double(4.0)]);
}

/// Kind "a", then an event without kind: the second event's last value is "a", with
/// `include_current = false` as with the default (not the value before "a", of which
/// there is none).
#[test]
fn all_window_last_value_without_current_null_value() {
    let toml = feature("last", "aggregate = \"last_value\"\nof = \"event.kind\"")
        + &feature("before", "aggregate = \"last_value\"\nof = \"event.kind\"\ninclude_current = false");
    let r = run_events(&toml, &[ev(0, 0, None, Some("a")), ev(60, 0, None, None)]);
    assert_eq!(r[1].0[0], OwnedValue::Str("a".into()));
    assert_eq!(r[1].0[1], OwnedValue::Str("a".into()));
}

/// An event without kind at 600, then (out of order, within the lateness) one with kind
/// "a" at 300, then one at 900 that does not pass the filter and so only reads: the
/// engine answers "a" whether the first two arrive in time order or not.
#[test]
fn all_window_last_value_out_of_order_behind_a_missing_value() {
    let toml = feature("last", "aggregate = \"last_value\"\nof = \"event.kind\"\nfilter = 'event.flag > 0'");
    let mut reader = ev(900, 0, None, None);
    reader.flag = Some(0);
    let in_order = run_events(&toml, &[ev(300, 0, None, Some("a")), ev(600, 0, None, None), reader.clone()]);
    assert_eq!(in_order[2].0[0], OwnedValue::Str("a".into()));
    let out_of_order = run_events(&toml, &[ev(600, 0, None, None), ev(300, 0, None, Some("a")), reader]);
    assert_eq!(out_of_order[2].0[0], OwnedValue::Str("a".into()));
}

/// Kinds "a" and then none: one distinct kind over `window = "all"`, as over a finite
/// window: a missing kind is not a value.
#[test]
fn all_window_distinct_leaves_out_missing_values() {
    let toml = feature("kinds", "aggregate = \"distinct\"\nof = \"event.kind\"")
        + &feature("kinds_1d", "aggregate = \"distinct\"\nof = \"event.kind\"\nwindow = \"1d\"");
    let r = run_events(&toml, &[ev(0, 0, None, Some("a")), ev(60, 0, None, None)]);
    assert_eq!(r[1].0, vec![int(1), int(1)]);
}

/// A count creates the customer's log without a value; a later sum over the same
/// customer and filter shares that log, and its `of` reads a feature declared between
/// the two. Each event's sum takes that feature's value for the event itself, whether the
/// caller hands in a fresh output vector or reuses one.
#[test]
fn shared_log_reads_a_feature_declared_after_its_first_reader() {
    let toml = feature("n", "aggregate = \"count\"\nwindow = \"1h\"")
        + "[[feature]]\nname = \"double\"\nexpr = \"event.amount * 2\"\n\n"
        + &feature("doubled", "aggregate = \"sum\"\nof = \"features.double\"\nwindow = \"1h\"");
    let events = [ev(0, 0, Some(5), None), ev(60, 0, Some(7), None)];
    let r = run_events(&toml, &events);
    assert_eq!(r[0].0, vec![int(1), dec(10), dec(10)]);
    assert_eq!(r[1].0, vec![int(2), dec(14), dec(24)]);
    // The same with a fresh output vector for every event.
    let schema = schema();
    let (_, set) = mamori_features::load("example.toml", &toml, &schema).unwrap();
    let mut engine = Engine::new(&set);
    let fresh: Vec<Vec<OwnedValue>> = events
        .iter()
        .map(|e| {
            let mut out = FeatureVector::default();
            engine.process(&e.record(), Timestamp(e.time), &mut out);
            out.0
        })
        .collect();
    assert_eq!(fresh, [r[0].0.clone(), r[1].0.clone()]);
}

/// The features of an event do not depend on the vector the caller hands in (fresh,
/// reused, or left over from another feature set).
#[test]
fn features_do_not_depend_on_the_vector_passed_in() {
    let toml = feature("n", "aggregate = \"count\"\nwindow = \"1h\"")
        + &feature("total", "aggregate = \"sum\"\nof = \"event.amount\"\nwindow = \"1h\"")
        + "[[feature]]\nname = \"double\"\nexpr = \"features.total * 2\"\n\n"
        + &feature("hi", "aggregate = \"max\"\nof = \"event.amount\"");
    let schema = schema();
    let (_, set) = mamori_features::load("example.toml", &toml, &schema).unwrap();
    let events = [ev(0, 0, Some(5), None), ev(60, 1, Some(7), None), ev(120, 0, None, None)];
    let mut a = Engine::new(&set);
    let mut b = Engine::new(&set);
    let mut reused = FeatureVector(vec![OwnedValue::Str("junk".into()); 9]);
    for e in &events {
        let mut fresh = FeatureVector::default();
        a.process(&e.record(), Timestamp(e.time), &mut fresh);
        b.process(&e.record(), Timestamp(e.time), &mut reused);
        assert_eq!(fresh, reused);
        assert_eq!(fresh.0.len(), 4);
    }
    assert_eq!(reused.0, vec![int(2), dec(5), dec(10), dec(5)]);
}

/// The same features with the sum declared alone (no earlier feature shares its log) work.
#[test]
fn a_feature_of_a_feature() {
    let toml = String::from("[[feature]]\nname = \"double\"\nexpr = \"event.amount * 2\"\n\n")
        + &feature("doubled", "aggregate = \"sum\"\nof = \"features.double\"\nwindow = \"1h\"")
        + &feature("n", "aggregate = \"count\"\nwindow = \"1h\"");
    let r = run_events(&toml, &[ev(0, 0, Some(5), None), ev(60, 0, Some(7), None)]);
    assert_eq!(r[0].0, vec![dec(10), dec(10), int(1)]);
    assert_eq!(r[1].0, vec![dec(14), dec(24), int(2)]);
}

fn amount_ev(secs: i64, amount: &str, flag: i64) -> Ev {
    Ev { time: at(secs), customer: Some(0), payee: None, amount: Some(amount.parse().unwrap()), kind: None, flag: Some(flag) }
}

/// Values wider than 64 bits and places added mid-stream stay exact.
#[test]
fn sums_stay_exact_as_values_widen() {
    let toml = feature("total", "aggregate = \"sum\"\nof = \"event.amount\"\nwindow = \"1d\"")
        + &feature("total_all", "aggregate = \"sum\"\nof = \"event.amount\"")
        + &feature("hi", "aggregate = \"max\"\nof = \"event.amount\"\nwindow = \"1d\"")
        + &feature("mean", "aggregate = \"avg\"\nof = \"event.amount\"\nwindow = \"1d\"");
    let amounts = ["1", "2147483647", "9223372036854775807", "123456789012345678901.25", "0.000001"];
    let events: Vec<Ev> = amounts.iter().enumerate().map(|(i, a)| amount_ev(i as i64, a, 1)).collect();
    let r = run_events(&toml, &events);
    let mut total = Decimal::ZERO;
    for (i, a) in amounts.iter().enumerate() {
        total += a.parse::<Decimal>().unwrap();
        assert_eq!(r[i].0[0], OwnedValue::Decimal(total), "after {a}");
        assert_eq!(r[i].0[1], OwnedValue::Decimal(total), "after {a}");
    }
    assert_eq!(r[4].0[2], OwnedValue::Decimal("123456789012345678901.25".parse().unwrap()));
    assert_eq!(total.to_string(), "132680161051347938356.250001");
    let OwnedValue::Double(mean) = r[4].0[3] else { panic!("{:?}", r[4].0[3]) };
    assert!((mean - 132680161051347938356.250001 / 5.0).abs() <= 1e-9 * mean);
}

/// Scaling the customer's values to 28 places overflows 128 bits: the event is reported
/// and left out, and the state goes on as before.
#[test]
fn overflow_is_reported_and_leaves_the_event_out() {
    let toml = feature("total", "aggregate = \"sum\"\nof = \"event.amount\"\nwindow = \"1d\"")
        + &feature("n", "aggregate = \"count\"\nwindow = \"1d\"");
    let schema = schema();
    let (_, set) = mamori_features::load("overflow.toml", &toml, &schema).unwrap();
    let mut engine = Engine::new(&set);
    let mut out = FeatureVector::default();
    let big = amount_ev(0, "79228162514264337593543950335", 1);
    let tiny = amount_ev(1, "0.0000000000000000000000000001", 1);
    let one = amount_ev(2, "1", 1);
    assert!(!engine.process(&big.record(), Timestamp(big.time), &mut out).overflow);
    let o = engine.process(&tiny.record(), Timestamp(tiny.time), &mut out);
    assert!(o.overflow);
    assert_eq!(engine.stats().overflow, 1);
    // The overflowing event is in neither the sum nor the count of its group.
    assert_eq!(out.0, vec![OwnedValue::Decimal("79228162514264337593543950335".parse().unwrap()), int(1)]);
    engine.process(&one.record(), Timestamp(one.time), &mut out);
    assert_eq!(out.0[1], int(2));
}

/// A customer's log keeps only the last minute for its windowed sum, while the `all`
/// total keeps every amount. When a value with more places comes and the total would
/// overflow at its scale, the event is refused, and the log's values stay at their old
/// scale: later windowed sums stay exact.
#[test]
fn all_total_overflow_on_rescale_leaves_window_sums_exact() {
    let toml = String::from("[engine]\nlateness = \"0\"\n\n")
        + &feature("recent", "aggregate = \"sum\"\nof = \"event.amount\"\nwindow = \"1m\"")
        + &feature("total", "aggregate = \"sum\"\nof = \"event.amount\"");
    let events = [
        amount_ev(0, "70000000000000000000000000000", 1),
        amount_ev(120, "1", 1),
        amount_ev(130, "0.0000000001", 1),
        amount_ev(140, "1", 1),
    ];
    let r = run_events(&toml, &events);
    assert_eq!(r[1].0[0], dec(1));
    assert_eq!(r[3].0[0], dec(2), "the refused event is out, the two amounts of 1 are in");
}

/// `of` may be negative: -10^21, then +10^21 (the total is 0), then a value with 18
/// places, at whose scale the `all` minimum (-10^39) would not fit 128 bits. The engine
/// neither panics nor wraps: that event is left out and the minimum stays -10^21.
#[test]
fn all_min_rescale_overflow_is_refused() {
    let toml = String::from("[engine]\nlateness = \"0\"\n\n") + &feature("lo", "aggregate = \"min\"\nof = \"event.amount * event.flag\"");
    let events =
        [amount_ev(0, "1000000000000000000000", -1), amount_ev(1, "1000000000000000000000", 1), amount_ev(2, "0.000000000000000001", 1)];
    let r = run_events(&toml, &events);
    assert_eq!(r[1].0[0], OwnedValue::Decimal("-1000000000000000000000".parse().unwrap()));
    assert_eq!(r[2].0[0], OwnedValue::Decimal("-1000000000000000000000".parse().unwrap()));
}

/// Every 65,536 events the engine drops what no window can reach and reuses the freed
/// entities' slots. Customers come three events each, a second apart, 70,000 events in
/// all: each event sees the customer's earlier events, no more, before and after.
#[test]
fn compaction_drops_old_entities_and_reuses_their_slots() {
    let toml = String::from("[engine]\nlateness = \"0\"\n\n")
        + &feature("n", "aggregate = \"count\"\nwindow = \"1m\"")
        + &feature("total", "aggregate = \"sum\"\nof = \"event.flag\"\nwindow = \"1m\"")
        + &feature("first", "aggregate = \"first_seen\"\nwindow = \"1m\"");
    let schema = StaticSchema::new([("customer", Type::String), ("flag", Type::Int)]);
    let (_, set) = mamori_features::load("compact.toml", &toml, &schema).unwrap();
    let mut engine = Engine::new(&set);
    let mut out = FeatureVector::default();
    let mut entities_before = 0;
    for i in 0..70_000i64 {
        let rec = VecRecord(vec![OwnedValue::Str(format!("c{}", i / 3).into()), int(i % 3 + 1)]);
        engine.process(&rec, Timestamp(at(i)), &mut out);
        let k = i % 3;
        assert_eq!(out.0, vec![int(k + 1), int((k + 1) * (k + 2) / 2), ts(i - k)], "event {i}");
        if i == 65_534 {
            entities_before = engine.entities();
        }
        if i == 65_535 {
            assert!(engine.entities() < 100, "{} entities left after compaction", engine.entities());
        }
    }
    assert!(entities_before > 20_000);
}
