//! Subsets: an engine that computes only what one kind of event needs
//! (`Engine::process_subset`) ends in exactly the state of one that computes everything
//! (`Engine::process`), and every feature the subset names has the same value, event by
//! event; the others are null.

mod common;

use std::fmt::Write as _;

use mamori_core::{Decimal, FieldId, OwnedValue, StaticSchema, Timestamp, VecRecord};
use mamori_features::{Engine, FeatureSet, FeatureVector};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError};

const MICROS: i64 = 1_000_000;
const KINDS: [&str; 3] = ["a", "b", "c"];

fn schema() -> StaticSchema {
    common::small_schema()
}

fn kind_field() -> FieldId {
    schema().id_of("kind").expect("kind")
}

fn compile(text: &str) -> FeatureSet {
    mamori_features::load("subset.toml", text, &schema()).unwrap_or_else(|e| panic!("{e}\n{text}")).1
}

/// A feature file from random bytes, with what subsets must follow: filters that name
/// the kind (one value, several, in a conjunction), filters and values that read earlier
/// features, expressions and ratios over earlier features, windows of several plain
/// aggregates, entities read through another.
fn feature_file(fbytes: &[[u8; 6]]) -> String {
    let mut s = String::new();
    // Features that hold a number, to read from later ones.
    let mut numeric: Vec<usize> = Vec::new();
    for (i, b) in fbytes.iter().enumerate() {
        writeln!(s, "[[feature]]\nname = \"f{i}\"").unwrap();
        let earlier = (!numeric.is_empty()).then(|| numeric[b[1] as usize % numeric.len()]);
        match (b[0] % 10, earlier) {
            (8, Some(j)) => {
                writeln!(s, "expr = \"features.f{j} * 2\"\n").unwrap();
                continue;
            }
            (9, Some(j)) => {
                let k = numeric[b[2] as usize % numeric.len()];
                writeln!(s, "aggregate = \"ratio\"\nnumerator = \"f{j}\"\ndenominator = \"f{k}\"\n").unwrap();
                continue;
            }
            _ => {}
        }
        let agg =
            ["count", "sum", "avg", "max", "distinct", "last_value", "time_since_last", "count", "sum", "count"][(b[0] % 10) as usize];
        match b[2] % 3 {
            0 => writeln!(s, "entity = \"event.customer\"").unwrap(),
            1 => writeln!(s, "entity = [\"event.customer\", \"event.kind\"]").unwrap(),
            _ => writeln!(s, "entity = \"event.customer\"\nread_entity = \"event.payee\"").unwrap(),
        }
        writeln!(s, "aggregate = \"{agg}\"").unwrap();
        if matches!(agg, "sum" | "avg" | "max" | "distinct" | "last_value") {
            match (b[3] % 3, earlier) {
                (0, Some(j)) if agg != "distinct" => writeln!(s, "of = \"features.f{j}\"").unwrap(),
                (1, _) => writeln!(s, "of = \"event.flag\"").unwrap(),
                _ => writeln!(s, "of = \"event.amount\"").unwrap(),
            }
        }
        if agg != "last_value" {
            writeln!(s, "window = \"{}\"", ["10m", "1h", "1d", "all"][(b[4] % 4) as usize]).unwrap();
        }
        match (b[5] % 7, earlier) {
            (1, _) => writeln!(s, "filter = 'event.kind == \"a\"'").unwrap(),
            (2, _) => writeln!(s, "filter = 'event.kind in [\"b\", \"c\"]'").unwrap(),
            (3, _) => writeln!(s, "filter = 'event.kind == \"b\" && event.flag > 0'").unwrap(),
            (4, Some(j)) => writeln!(s, "filter = 'features.f{j} > 1'").unwrap(),
            (5, Some(j)) => writeln!(s, "filter = 'event.kind == \"c\" && features.f{j} > 0'").unwrap(),
            (6, _) => writeln!(s, "filter = 'event.flag > 0'").unwrap(),
            _ => {}
        }
        if matches!(agg, "count" | "sum" | "max" | "distinct") {
            numeric.push(i);
        }
        s.push('\n');
    }
    s
}

/// An event from random bytes: time forward (sometimes back, within and past the
/// lateness), customers and payees of a few, an amount, a kind (or none), a flag.
fn event(clock: &mut i64, b: [u8; 6]) -> (Timestamp, VecRecord, Option<&'static str>) {
    let delta = match b[0] {
        0..=199 => i64::from(b[1]) * 20 * MICROS,
        200..=239 => -i64::from(b[1]) * 10 * MICROS,
        _ => -(2 * 3600 * MICROS),
    };
    let time = *clock + delta;
    *clock = (*clock).max(time);
    let who = |x: u8| if x % 6 == 5 { OwnedValue::Null } else { OwnedValue::Str(format!("c{}", x % 4).into()) };
    let kind = (b[4] % 4 != 3).then(|| KINDS[(b[4] % 4) as usize]);
    let rec = VecRecord(vec![
        OwnedValue::Timestamp(Timestamp(time)),
        who(b[2]),
        who(b[3]),
        OwnedValue::Decimal(Decimal::new(i64::from(b[5]) * 7 + 1, u32::from(b[5] % 3))),
        kind.map_or(OwnedValue::Null, |k| OwnedValue::Str(k.into())),
        OwnedValue::Int(i64::from(b[4] / 4 % 5) - 1),
    ]);
    (Timestamp(time), rec, kind)
}

fn config() -> Config {
    let mut c = Config { failure_persistence: None, ..Config::default() };
    if std::env::var_os("PROPTEST_CASES").is_none() {
        c.cases = 400;
    }
    c
}

fn check(fbytes: &[[u8; 6]], ebytes: &[([u8; 6], u64)]) -> Result<(), TestCaseError> {
    let text = feature_file(fbytes);
    let set = compile(&text);
    let n = set.len();
    let mut full = Engine::new(&set);
    let mut part = Engine::new(&set);
    let mut clock = 1_767_225_600 * MICROS;
    for (i, (b, wanted_bits)) in ebytes.iter().enumerate() {
        let (t, rec, kind) = event(&mut clock, *b);
        let wanted: Vec<usize> = (0..n).filter(|f| wanted_bits >> (f % 64) & 1 == 1).collect();
        let subset = set.subset(wanted.iter().copied(), kind.map(|k| (kind_field(), k)));
        for w in &wanted {
            prop_assert!(subset.computes(*w), "event {i}: wanted feature f{w} is not computed\n{text}");
        }
        let (mut a, mut b) = (FeatureVector::default(), FeatureVector::default());
        let oa = full.process(&rec, t, &mut a);
        let ob = part.process_subset(&rec, t, &mut b, &subset);
        prop_assert_eq!(oa, ob, "event {}\n{}", i, text);
        for f in 0..n {
            let want = if subset.computes(f) { &a.0[f] } else { &OwnedValue::Null };
            prop_assert_eq!(&b.0[f], want, "event {} (kind {:?}), feature f{}\n{}", i, kind, f, text);
        }
    }
    prop_assert_eq!(part.stats(), full.stats());
    prop_assert!(part.snapshot() == full.snapshot(), "the subset engine ends in another state\n{}", text);
    Ok(())
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn a_subset_changes_no_state_and_no_value_it_computes(
        fbytes in prop::collection::vec(any::<[u8; 6]>(), 1..12),
        ebytes in prop::collection::vec((any::<[u8; 6]>(), any::<u64>()), 0..60),
    ) {
        check(&fbytes, &ebytes)?;
    }
}

/// What a subset holds, by hand: the wanted feature, what it is computed from, and what
/// the filters and values of groups that can take the event read, nothing else.
#[test]
fn a_subset_holds_what_is_read_and_what_that_depends_on() {
    let set = compile(
        r#"
[[feature]]
name = "a_count"
entity = "event.customer"
aggregate = "count"
window = "1h"
filter = 'event.kind == "a"'

[[feature]]
name = "b_sum"
entity = "event.customer"
aggregate = "sum"
of = "event.amount"
window = "1h"
filter = 'event.kind == "b"'

[[feature]]
name = "a_twice"
expr = "features.a_count * 2"

[[feature]]
name = "payee_count"
entity = "event.payee"
aggregate = "count"
window = "1h"

[[feature]]
name = "busy_payee_last"
entity = "event.customer"
aggregate = "last_value"
of = "features.payee_count"
filter = 'features.payee_count > 1'

[[feature]]
name = "c_flags"
entity = "event.customer"
aggregate = "sum"
of = "event.flag"
window = "1h"
filter = 'event.kind == "c" && features.b_sum > 0'

[[feature]]
name = "c_count"
entity = "event.customer"
aggregate = "count"
window = "1h"
filter = 'event.kind == "c" && features.b_sum > 0'
"#,
    );
    let computed = |wanted: &[usize], kind: &str| {
        let s = set.subset(wanted.iter().copied(), Some((kind_field(), kind)));
        (0..set.len()).filter(|i| s.computes(*i)).collect::<Vec<_>>()
    };
    // a_twice reads a_count; the unfiltered group of busy_payee_last reads payee_count;
    // the kind-c group (c_flags, c_count) cannot take a "b" event, so b_sum is not needed.
    assert_eq!(computed(&[2], "b"), [0, 2, 3]);
    // A "c" event: that group's filter reads b_sum; c_flags and c_count share a window,
    // so asking for one computes both.
    assert_eq!(computed(&[6], "c"), [1, 3, 5, 6]);
    // Nothing wanted, an "a" event: only what the groups that can take it read.
    assert_eq!(computed(&[], "a"), [3]);
    // Indexes past the last feature are ignored; without a guard no group is ruled out.
    let all = set.subset([99], None);
    assert_eq!((0..set.len()).filter(|i| all.computes(*i)).collect::<Vec<_>>(), [1, 3]);
}

/// The entities an event touches, for splitting history: each group's and each read
/// entity's key, less a key whose parts include another's (the customer and kind beside
/// the customer); with a subset, only those of what it computes.
#[test]
fn entities_leave_out_keys_implied_by_smaller_ones() {
    let set = compile(
        r#"
[[feature]]
name = "per_customer"
entity = "event.customer"
aggregate = "count"
window = "1h"
filter = 'event.kind == "a"'

[[feature]]
name = "per_customer_and_kind"
entity = ["event.customer", "event.kind"]
aggregate = "count"
window = "1h"

[[feature]]
name = "per_payee"
entity = "event.payee"
aggregate = "count"
window = "1h"
filter = 'event.kind == "b"'
"#,
    );
    let (_, rec, _) = event(&mut (1_767_225_600 * MICROS), [0, 0, 1, 2, 1, 0]);
    let keys = |subset: Option<&mamori_features::Subset>| {
        let mut out = Vec::new();
        let mut buf = Vec::new();
        let _ = set.entities(&rec, subset, &mut buf, |k| {
            out.push(String::from_utf8_lossy(k).into_owned());
            std::ops::ControlFlow::Continue(())
        });
        out
    };
    // The customer and kind key is implied by the customer's.
    assert_eq!(keys(None).len(), 2, "{:?}", keys(None));
    // A "b" event, nothing read: the payee's group and the unfiltered customer-and-kind
    // group take it; the customer's group (kind "a") cannot, so the customer-and-kind key
    // is all that stands for the customer.
    let b = set.subset([], Some((kind_field(), "b")));
    assert_eq!(keys(Some(&b)).len(), 2, "{:?}", keys(Some(&b)));
    let a = set.subset([], Some((kind_field(), "a")));
    assert_eq!(keys(Some(&a)).len(), 1, "{:?}", keys(Some(&a)));
}
