//! Engine snapshots: an engine restored from a snapshot behaves exactly as the engine
//! it was taken of, and anything that is not a whole, intact snapshot of the same
//! feature set is refused with its reason (never a panic).
//!
//! The equality checks compare, event by event after the split, the feature vectors and
//! outcomes of an engine that saw every event with those of one restored midway, then
//! the two engines' stats and their final snapshots (a snapshot is a canonical encoding
//! of the state, so equal bytes mean equal state).

mod common;

use std::fmt::Write as _;
use std::sync::Arc;

use mamori_core::event::EventSchema;
use mamori_core::{Decimal, OwnedValue, Record, StaticSchema, Timestamp, VecRecord};
use mamori_features::input::{CsvMapping, RowRecord, RowValues};
use mamori_features::snapshot::{FORMAT_VERSION, HEADER_LEN, MAGIC};
use mamori_features::{Engine, FeatureSet, FeatureVector, Outcome, SnapshotError, SourceMap, config};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError};
use sha2::Digest as _;

const MICROS: i64 = 1_000_000;

// ---------------------------------------------------------------------------------------
// Random feature files and event streams.

fn schema() -> StaticSchema {
    common::small_schema()
}

#[derive(Debug, Clone)]
struct Ev {
    time: i64,
    customer: Option<u8>,
    payee: Option<u8>,
    amount: Option<Decimal>,
    kind: Option<&'static str>,
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
            self.kind.map_or(OwnedValue::Null, |k| OwnedValue::Str(k.into())),
            self.flag.map_or(OwnedValue::Null, OwnedValue::Int),
        ])
    }
}

const AGGS: [&str; 10] = ["count", "sum", "avg", "min", "max", "distinct", "first_seen", "last_seen", "time_since_last", "last_value"];
const WINDOWS: [&str; 6] = ["30s", "5m", "20m", "1h", "3h", "1d"];
const DELAYS: [&str; 3] = ["1m", "10m", "1h"];
const BUCKETS: [&str; 3] = ["1m", "10m", "1h"];
const LATENESS: [&str; 4] = ["0", "30m", "1h", "2h"];
/// Numbers to aggregate; the last one leaves 32 bits at once.
const NUMBERS: [&str; 4] = ["event.amount", "event.flag", "event.amount * 2", "event.flag * 1000000000000"];
/// Values to count distinct or keep the last of.
const VALUES: [&str; 4] = ["event.amount", "event.flag", "event.kind", "event.flag * 1000000000000"];

/// A feature file from random bytes: every aggregate, entities of one, two and no key
/// parts (and read through another), finite and `all` windows, delays, buckets, filters,
/// `include_current`, expressions, ratios and a lateness.
fn feature_file(fbytes: &[[u8; 8]], lateness: u8) -> String {
    let mut s = String::new();
    if let Some(l) = (lateness as usize).checked_sub(1).and_then(|i| LATENESS.get(i)) {
        writeln!(s, "[engine]\nlateness = \"{l}\"\n").unwrap();
    }
    let mut numeric: Vec<usize> = Vec::new();
    for (i, b) in fbytes.iter().enumerate() {
        writeln!(s, "[[feature]]\nname = \"f{i}\"").unwrap();
        match b[0] % 13 {
            10 => {
                writeln!(s, "expr = \"event.amount\"\n").unwrap();
                continue;
            }
            11 | 12 if !numeric.is_empty() => {
                let num = numeric[b[1] as usize % numeric.len()];
                let den = numeric[b[2] as usize % numeric.len()];
                writeln!(s, "aggregate = \"ratio\"\nnumerator = \"f{num}\"\ndenominator = \"f{den}\"\n").unwrap();
                continue;
            }
            _ => {}
        }
        let agg = AGGS[(b[0] % 13) as usize % AGGS.len()];
        match b[1] % 4 {
            0 => writeln!(s, "entity = \"global\"").unwrap(),
            1 => writeln!(s, "entity = \"event.customer\"").unwrap(),
            2 => writeln!(s, "entity = [\"event.customer\", \"event.kind\"]").unwrap(),
            _ => writeln!(s, "entity = \"event.customer\"\nread_entity = \"event.payee\"").unwrap(),
        }
        writeln!(s, "aggregate = \"{agg}\"").unwrap();
        match agg {
            "sum" | "avg" | "min" | "max" => writeln!(s, "of = \"{}\"", NUMBERS[b[2] as usize % NUMBERS.len()]).unwrap(),
            "distinct" | "last_value" => writeln!(s, "of = \"{}\"", VALUES[b[2] as usize % VALUES.len()]).unwrap(),
            _ => {}
        }
        let finite = agg != "last_value" && !b[3].is_multiple_of(4);
        if finite {
            writeln!(s, "window = \"{}\"", WINDOWS[b[3] as usize % WINDOWS.len()]).unwrap();
            if b[4].is_multiple_of(3) {
                writeln!(s, "delay = \"{}\"", DELAYS[b[4] as usize / 3 % DELAYS.len()]).unwrap();
            }
        } else if b[3].is_multiple_of(8) {
            writeln!(s, "window = \"all\"").unwrap();
        }
        if matches!(agg, "count" | "sum" | "avg" | "first_seen" | "last_seen") && b[5].is_multiple_of(3) {
            writeln!(s, "buckets = \"{}\"", BUCKETS[b[5] as usize / 3 % BUCKETS.len()]).unwrap();
        }
        match b[6] % 3 {
            0 => {}
            1 => writeln!(s, "include_current = true").unwrap(),
            _ => writeln!(s, "include_current = false").unwrap(),
        }
        match b[7] % 4 {
            1 => writeln!(s, "filter = 'event.kind == \"a\"'").unwrap(),
            2 => writeln!(s, "filter = 'event.flag > 0'").unwrap(),
            _ => {}
        }
        if matches!(agg, "count" | "sum" | "avg" | "min" | "max" | "distinct") {
            numeric.push(i);
        }
        s.push('\n');
    }
    s
}

/// Events from random bytes: mostly forward in time (often ties), some back within the
/// lateness and some far back (late), now and then a time that is not a whole second,
/// amounts of several scales (and some too big for 32 bits), missing keys and values.
fn events(ebytes: &[[u8; 8]], early: bool) -> Vec<Ev> {
    // 2026-01-01, or 1999-12-31T23:00:00Z: before the logs' compact time base.
    let mut clock = if early { 946_681_200 } else { 1_767_225_600 } * MICROS;
    let mut out = Vec::new();
    for b in ebytes {
        let mag = i64::from(u16::from_le_bytes([b[1], b[2]]));
        let delta = match b[0] {
            0..=159 if b[1].is_multiple_of(5) => 0,
            0..=159 => (mag % 1800) * MICROS,
            160..=219 => -(mag % 5400) * MICROS,
            _ => -(3 * 3600 + mag % (4 * 3600)) * MICROS,
        };
        let frac = if b[2].is_multiple_of(17) { i64::from(b[1]) * 3_907 } else { 0 };
        let time = clock + delta + frac;
        clock = clock.max(time);
        let who = |x: u8| if x % 7 == 6 { None } else { Some(x % 4) };
        let amount = match b[5] {
            0..=219 => Some(Decimal::new(i64::from(b[6]) * 37 % 1000 + 1, u32::from(b[5] % 4))),
            220..=239 => Some(Decimal::new(3_000_000_000 + i64::from(b[6]), u32::from(b[5] % 3))),
            _ => None,
        };
        out.push(Ev {
            time,
            customer: who(b[3]),
            payee: who(b[4]),
            amount,
            kind: (b[7] % 4 != 3).then(|| ["a", "b", "c"][(b[7] % 4) as usize]),
            flag: (b[7] < 240).then(|| i64::from(b[7] / 4 % 6) - 1),
        });
    }
    out
}

// ---------------------------------------------------------------------------------------
// Running and comparing.

/// Runs `events` through `engine`: each event's features and outcome.
fn run<'e, R: Record + 'e>(engine: &mut Engine<'_>, events: impl IntoIterator<Item = (Timestamp, &'e R)>) -> Vec<(FeatureVector, Outcome)> {
    let mut out = Vec::new();
    for (t, rec) in events {
        let mut fv = FeatureVector::default();
        let o = engine.process(rec, t, &mut fv);
        out.push((fv, o));
    }
    out
}

/// Engine A sees every event; engine B the first `split`, is snapshotted, and engine C,
/// restored from that snapshot, sees the rest. C must answer as A did, event by event,
/// and end in the same state.
fn split_and_compare<R: Record>(
    set: &Arc<FeatureSet>,
    events: &[(Timestamp, R)],
    split: usize,
    borrowed: bool,
) -> Result<(), TestCaseError> {
    let mut a = Engine::new(set);
    let all = run(&mut a, events.iter().map(|(t, r)| (*t, r)));

    let mut b = Engine::new(set);
    run(&mut b, events[..split].iter().map(|(t, r)| (*t, r)));
    let snap = b.snapshot();
    drop(b);
    let mut c = if borrowed { Engine::restore_borrowed(set, &snap) } else { Engine::restore(set.clone(), &snap) }
        .map_err(|e| TestCaseError::fail(format!("restore: {e}")))?;
    prop_assert!(c.snapshot() == snap, "a restored engine's snapshot differs from the one it was restored from");

    let rest = run(&mut c, events[split..].iter().map(|(t, r)| (*t, r)));
    for (i, (got, want)) in rest.iter().zip(&all[split..]).enumerate() {
        prop_assert_eq!(got, want, "event {} (the {}th after the snapshot)", split + i, i);
    }
    prop_assert_eq!(c.stats(), a.stats());
    prop_assert_eq!(c.entities(), a.entities());
    prop_assert!(c.snapshot() == a.snapshot(), "the restored engine ends in another state");
    Ok(())
}

fn compile(text: &str) -> Arc<FeatureSet> {
    let (_, set) = mamori_features::load("snapshot.toml", text, &schema()).unwrap_or_else(|e| panic!("{e}\n{text}"));
    Arc::new(set)
}

fn config() -> Config {
    let mut c = Config { failure_persistence: None, ..Config::default() };
    if std::env::var_os("PROPTEST_CASES").is_none() {
        c.cases = 500;
    }
    c
}

proptest! {
    #![proptest_config(config())]

    /// Split anywhere, a restored engine carries on exactly as the one that saw it all.
    #[test]
    fn a_restored_engine_carries_on_exactly(
        fbytes in prop::collection::vec(any::<[u8; 8]>(), 1..10),
        ebytes in prop::collection::vec(any::<[u8; 8]>(), 0..80),
        lateness in 0u8..=LATENESS.len() as u8,
        early in prop::bool::weighted(0.2),
        split in any::<prop::sample::Index>(),
        borrowed in any::<bool>(),
    ) {
        let text = feature_file(&fbytes, lateness);
        let set = compile(&text);
        let evs: Vec<(Timestamp, VecRecord)> = events(&ebytes, early).iter().map(|e| (Timestamp(e.time), e.record())).collect();
        let split = split.index(evs.len() + 1);
        split_and_compare(&set, &evs, split, borrowed).map_err(|e| TestCaseError::fail(format!("{e}\n{text}")))?;
    }

    /// A payload changed in any way and sealed again with a correct checksum (what no
    /// accident produces) is refused or restored, never a panic; an engine so restored
    /// takes more events, compacts and is snapshotted again without a panic either.
    #[test]
    fn a_resealed_damaged_payload_never_panics(
        ebytes in prop::collection::vec(any::<[u8; 8]>(), 1..40),
        edits in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>(), 0u8..4), 1..4),
    ) {
        let set = compile(&feature_file(&RICH, 3));
        let evs = events(&ebytes, false);
        let recs: Vec<VecRecord> = evs.iter().map(Ev::record).collect();
        let mut engine = Engine::new(&set);
        run(&mut engine, evs.iter().zip(&recs).map(|(e, r)| (Timestamp(e.time), r)));
        let snap = engine.snapshot();
        let mut payload = snap[HEADER_LEN..].to_vec();
        for (at, byte, how) in edits {
            match how {
                0 | 1 if !payload.is_empty() => {
                    let i = at.index(payload.len());
                    payload[i] = byte;
                }
                2 => {
                    let i = at.index(payload.len() + 1);
                    payload.insert(i, byte);
                }
                _ if !payload.is_empty() => {
                    let i = at.index(payload.len());
                    payload.remove(i);
                }
                _ => {}
            }
        }
        let resealed = reseal(&snap, &payload);
        if let Ok(mut restored) = Engine::restore(set.clone(), &resealed) {
            run(&mut restored, evs.iter().zip(&recs).map(|(e, r)| (Timestamp(e.time + 600 * MICROS), r)));
            restored.compact();
            let again = restored.snapshot();
            prop_assert!(Engine::restore(set.clone(), &again).is_ok());
        }
    }
}

/// A feature file with a feature of every kind of state: per-event and bucketed logs,
/// values that widen, distinct hashes, `all` accumulators (with distinct and last values).
const RICH: [[u8; 8]; 10] = [
    [1, 1, 3, 1, 1, 1, 0, 0],  // f0: sum of flag * 10^12 (past 32 bits), customer, 5m
    [5, 2, 2, 2, 1, 1, 0, 0],  // f1: distinct kind, customer and kind, 20m
    [5, 1, 0, 0, 1, 1, 0, 0],  // f2: distinct amount, customer, all
    [9, 1, 0, 0, 1, 1, 0, 0],  // f3: last_value of amount (decimals kept), customer
    [2, 1, 3, 3, 0, 0, 0, 0],  // f4: avg of flag * 10^12, customer, 1h delayed 1m, buckets of 1m
    [0, 0, 0, 4, 1, 3, 0, 1],  // f5: count, global, all, buckets of 10m, kind a
    [4, 3, 0, 8, 1, 1, 2, 0],  // f6: max amount, read through payee, all, current left out
    [8, 1, 0, 5, 1, 1, 0, 2],  // f7: time_since_last, customer, 1d, flag > 0
    [9, 2, 2, 0, 1, 1, 0, 0],  // f8: last_value of kind (strings kept), customer and kind
    [12, 0, 1, 0, 0, 0, 0, 0], // f9: ratio
];

/// `snap`'s header around another payload, with the length and checksum made right.
fn reseal(snap: &[u8], payload: &[u8]) -> Vec<u8> {
    let mut out = snap[..HEADER_LEN].to_vec();
    out[49..57].copy_from_slice(&(payload.len() as u64).to_le_bytes());
    let mut h = sha2::Sha256::new();
    h.update(&out[..57]);
    h.update(payload);
    out[57..89].copy_from_slice(&h.finalize());
    out.extend_from_slice(payload);
    out
}

// ---------------------------------------------------------------------------------------
// The handbook sample.

fn handbook_text() -> String {
    std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../examples/handbook/features.toml")).unwrap()
}

/// Compiles a handbook-like feature file against its CSV mapping.
fn handbook_set(text: &str) -> (CsvMapping, Arc<FeatureSet>) {
    let file = config::parse("features.toml", text).unwrap_or_else(|e| panic!("{e}"));
    let map = SourceMap { file: "features.toml", text };
    let mapping = CsvMapping::from_config(&file, &map, &EventSchema::new()).unwrap_or_else(|e| panic!("{e}"));
    let set = FeatureSet::compile(&file, &map, mapping.schema()).unwrap_or_else(|e| panic!("{e}"));
    (mapping, Arc::new(set))
}

/// The sample's rows, read through the mapping as `mamori features` reads them.
fn with_handbook_rows<T>(f: impl FnOnce(&Arc<FeatureSet>, &[(Timestamp, RowRecord<'_, '_>)]) -> T) -> T {
    let (mut mapping, set) = handbook_set(&handbook_text());
    let csv_text = std::fs::read(concat!(env!("CARGO_MANIFEST_DIR"), "/../../examples/handbook/sample.csv")).unwrap();
    let mut rdr = csv::ReaderBuilder::new().from_reader(&csv_text[..]);
    mapping.bind(rdr.byte_headers().unwrap()).unwrap();
    let rows: Vec<csv::ByteRecord> = rdr.byte_records().map(|r| r.unwrap()).collect();
    let values: Vec<(Timestamp, RowValues<'_>)> = rows
        .iter()
        .enumerate()
        .map(|(i, r)| {
            let mut v = RowValues::new();
            let t = mapping.read(r, i as u64 + 2, &mut v).unwrap();
            (t, v)
        })
        .collect();
    let records: Vec<(Timestamp, RowRecord<'_, '_>)> = values.iter().map(|(t, v)| (*t, RowRecord(v))).collect();
    f(&set, &records)
}

#[test]
fn the_handbook_sample_split_in_the_middle() {
    with_handbook_rows(|set, rows| {
        assert_eq!(rows.len(), 2000);
        split_and_compare(set, rows, rows.len() / 2, false).unwrap();
        split_and_compare(set, rows, rows.len() / 2, true).unwrap();
        // The ends: a snapshot of a fresh engine, and of one that has seen everything.
        split_and_compare(set, rows, 0, false).unwrap();
        split_and_compare(set, rows, rows.len(), false).unwrap();
    });
}

/// Snapshots of restored engines restore too: three engines in a row see a third each.
#[test]
fn the_handbook_sample_through_a_chain_of_restores() {
    with_handbook_rows(|set, rows| {
        let mut a = Engine::new(set);
        let all = run(&mut a, rows.iter().map(|(t, r)| (*t, r)));
        let thirds = [0, rows.len() / 3, 2 * rows.len() / 3, rows.len()];
        let mut engine = Engine::shared(set.clone());
        let mut got = Vec::new();
        for w in thirds.windows(2) {
            got.extend(run(&mut engine, rows[w[0]..w[1]].iter().map(|(t, r)| (*t, r))));
            engine = Engine::restore(set.clone(), &engine.snapshot()).unwrap();
        }
        assert!(got == all);
        assert_eq!(engine.stats(), a.stats());
        assert!(engine.snapshot() == a.snapshot());
    });
}

// ---------------------------------------------------------------------------------------
// Compaction: entities freed and their slots taken again, on both sides of a restore.

#[test]
fn a_restore_across_compactions() {
    // Compaction runs every 65,536 events: 150,000 events over customers that each stay
    // for 40 events (every 10 s, so 400 s) leave thousands of entities behind each time.
    let text = r#"
[engine]
lateness = "10m"

[[feature]]
name = "n"
entity = "event.customer"
aggregate = "count"
window = "1h"

[[feature]]
name = "amount"
entity = "event.customer"
aggregate = "sum"
of = "event.amount"
window = "1h"
buckets = "1m"

[[feature]]
name = "kinds"
entity = ["event.payee", "event.kind"]
aggregate = "distinct"
of = "event.flag"
window = "30m"

[[feature]]
name = "seen"
entity = "event.payee"
aggregate = "count"
window = "all"
"#;
    let set = compile(text);
    let base = 1_767_225_600 * MICROS;
    let evs: Vec<(Timestamp, VecRecord)> = (0..150_000i64)
        .map(|i| {
            let e = Ev {
                time: base + i * 10 * MICROS - (i % 7) * 30 * MICROS,
                customer: None,
                payee: Some((i % 200) as u8),
                amount: Some(Decimal::new(i % 1000, 2)),
                kind: Some(["a", "b", "c"][(i % 3) as usize]),
                flag: Some(i % 5),
            };
            let mut r = e.record();
            r.0[1] = OwnedValue::Str(format!("k{}", (i / 40) ^ (i % 3)).into());
            (Timestamp(e.time), r)
        })
        .collect();
    // Before the first compaction, between the first and the second, after the second.
    for split in [60_000, 100_000, 140_000] {
        split_and_compare(&set, &evs, split, false).unwrap();
    }
}

// ---------------------------------------------------------------------------------------
// Refusals.

/// A small engine's snapshot (every kind of state, a few hundred bytes) and its set.
fn small() -> (Arc<FeatureSet>, Vec<u8>) {
    let set = compile(&feature_file(&RICH, 3));
    let ebytes: Vec<[u8; 8]> =
        (0u8..40).map(|i| [i.wrapping_mul(37) % 200, i, i.wrapping_mul(7), i, i / 3, i.wrapping_mul(11), i, i]).collect();
    let mut engine = Engine::new(&set);
    let evs = events(&ebytes, false);
    let recs: Vec<VecRecord> = evs.iter().map(Ev::record).collect();
    run(&mut engine, evs.iter().zip(&recs).map(|(e, r)| (Timestamp(e.time), r)));
    let snap = engine.snapshot();
    (set, snap)
}

#[test]
fn the_header_is_as_documented() {
    let (set, snap) = small();
    assert_eq!(&snap[..13], MAGIC);
    assert_eq!(snap[13..17], FORMAT_VERSION.to_le_bytes());
    assert_eq!(snap[17..49], set.fingerprint());
    assert_eq!(u64::from_le_bytes(snap[49..57].try_into().unwrap()) as usize, snap.len() - HEADER_LEN);
    assert!(snap.len() > HEADER_LEN + 100, "the engine has state: {} bytes", snap.len());
    assert!(Engine::restore(set, &snap).is_ok());
}

#[test]
fn a_wrong_magic_is_refused() {
    let (set, snap) = small();
    for bad in [b"MAMORI-ENGINF".to_vec(), b"not a snapshot at all".to_vec(), b"{\"json\": true}".to_vec(), vec![0; 200]] {
        assert_eq!(Engine::restore(set.clone(), &bad).unwrap_err(), SnapshotError::BadMagic);
    }
    let mut bad = snap.clone();
    bad[0] = b'm';
    assert_eq!(Engine::restore(set.clone(), &bad).unwrap_err(), SnapshotError::BadMagic);
    assert!(Engine::restore(set, &bad).unwrap_err().to_string().contains("not an engine snapshot"));
}

#[test]
fn an_unknown_format_version_is_refused() {
    let (set, snap) = small();
    for v in [0, FORMAT_VERSION + 1, u32::MAX] {
        let mut bad = snap.clone();
        bad[13..17].copy_from_slice(&v.to_le_bytes());
        assert_eq!(
            Engine::restore(set.clone(), &bad).unwrap_err(),
            SnapshotError::UnsupportedVersion { found: v, supported: FORMAT_VERSION }
        );
    }
}

#[test]
fn every_truncation_is_refused() {
    let (set, snap) = small();
    for n in 0..snap.len() {
        match Engine::restore(set.clone(), &snap[..n]) {
            Err(SnapshotError::Truncated { len, expected }) => assert!(len == n && expected > n, "{n}: {len} of {expected}"),
            other => panic!("{n} of {} bytes: {other:?}", snap.len()),
        }
    }
    // And of a larger one, the handbook's at half way (every length: refused before hashing).
    with_handbook_rows(|set, rows| {
        let mut e = Engine::new(set);
        run(&mut e, rows[..1000].iter().map(|(t, r)| (*t, r)));
        let snap = e.snapshot();
        for n in 0..snap.len() {
            assert!(matches!(Engine::restore_borrowed(set, &snap[..n]), Err(SnapshotError::Truncated { .. })), "{n}");
        }
    });
}

#[test]
fn trailing_bytes_are_refused() {
    let (set, mut snap) = small();
    snap.push(0);
    assert_eq!(Engine::restore(set, &snap).unwrap_err(), SnapshotError::TrailingBytes { extra: 1 });
}

/// Any one byte changed anywhere is caught: by the magic, the version, the length or,
/// everywhere else, the checksum.
#[test]
fn every_flipped_byte_is_refused() {
    let (set, snap) = small();
    for i in 0..snap.len() {
        for flip in [0x01, 0x80, 0xff] {
            let mut bad = snap.clone();
            bad[i] ^= flip;
            let err = Engine::restore(set.clone(), &bad).unwrap_err();
            let want = match i {
                0..13 => matches!(err, SnapshotError::BadMagic),
                13..17 => matches!(err, SnapshotError::UnsupportedVersion { .. }),
                49..57 => matches!(err, SnapshotError::Truncated { .. } | SnapshotError::TrailingBytes { .. }),
                _ => err == SnapshotError::Checksum,
            };
            assert!(want, "byte {i} ^ {flip:#x}: {err:?}");
        }
    }
    with_handbook_rows(|set, rows| {
        let mut e = Engine::new(set);
        run(&mut e, rows[..1000].iter().map(|(t, r)| (*t, r)));
        let snap = e.snapshot();
        for i in (HEADER_LEN..snap.len()).step_by(snap.len() / 97) {
            let mut bad = snap.clone();
            bad[i] ^= 0x10;
            assert_eq!(Engine::restore_borrowed(set, &bad).unwrap_err(), SnapshotError::Checksum, "byte {i}");
        }
    });
}

#[test]
fn a_snapshot_for_another_feature_set_is_refused() {
    let text = handbook_text();
    let (_, set) = handbook_set(&text);
    let snap = with_handbook_rows(|set, rows| {
        let mut e = Engine::new(set);
        run(&mut e, rows[..500].iter().map(|(t, r)| (*t, r)));
        e.snapshot()
    });
    assert!(Engine::restore(set.clone(), &snap).is_ok());

    // Anything that shapes the state or what is read from it changes the fingerprint.
    let first_window = text.find("window = \"1d\"").unwrap();
    let changes = [
        text.replacen("window = \"1d\"", "window = \"2d\"", 1),
        text.replacen("entity = \"customer\"", "entity = \"terminal\"", 1),
        text.replacen("aggregate = \"avg\"", "aggregate = \"sum\"", 1),
        text.replacen("[[feature]]", "[engine]\nlateness = \"2h\"\n\n[[feature]]", 1),
        format!("{}window = \"1d\"\nbuckets = \"1h\"{}", &text[..first_window], &text[first_window + "window = \"1d\"".len()..]),
        format!("{text}\n[[feature]]\nname = \"extra\"\nentity = \"terminal\"\naggregate = \"count\"\n"),
        text.replacen("event.time.getHours() <= 6", "event.time.getHours() <= 7", 1),
    ];
    for changed in changes {
        assert_ne!(changed, text);
        let (_, other) = handbook_set(&changed);
        assert_ne!(other.fingerprint(), set.fingerprint());
        match Engine::restore(other.clone(), &snap) {
            Err(SnapshotError::WrongFeatureSet { found, expected }) => {
                assert_eq!(found.len(), 64);
                assert_ne!(found, expected);
            }
            Err(e) => panic!("{e}"),
            Ok(_) => panic!("restored into another feature set"),
        }
        assert!(Engine::restore(other, &snap).unwrap_err().to_string().contains("different feature set"));
    }

    // Comments, descriptions and spacing do not.
    let cosmetic = text.replace("description = \"", "description = \"(reworded) ").replace("\n[[feature]]", "\n# a comment\n\n[[feature]]");
    let (_, same) = handbook_set(&cosmetic);
    assert_eq!(same.fingerprint(), set.fingerprint());
    assert!(Engine::restore(same, &snap).is_ok());
}

/// The fingerprint is computed from the compiled set alone: compiling the same text twice
/// (or in another process: it holds nothing per-process) gives the same one.
#[test]
fn the_fingerprint_is_stable() {
    let a = compile(&feature_file(&RICH, 3));
    let b = compile(&feature_file(&RICH, 3));
    assert_eq!(a.fingerprint(), b.fingerprint());
    // More than 8 strings: the filter holds them in a hash set, whose order (and `Debug`)
    // differs from one compiled program to the next.
    let in_filter = "[[feature]]\nname = \"n\"\nentity = \"customer\"\naggregate = \"count\"\n\
                     filter = 'event.type in [\"a\", \"b\", \"c\", \"d\", \"e\", \"f\", \"g\", \"h\", \"i\", \"j\", \"k\", \"l\"]'\n";
    let schema = EventSchema::new();
    let one = mamori_features::load("f.toml", in_filter, &schema).unwrap().1.fingerprint();
    for _ in 0..5 {
        assert_eq!(mamori_features::load("f.toml", in_filter, &schema).unwrap().1.fingerprint(), one);
    }
    assert_ne!(a.fingerprint(), compile(&feature_file(&RICH, 2)).fingerprint());
}
