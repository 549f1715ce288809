//! The feature engine alone on the handbook data: rows are parsed into memory first, so
//! this measures the engine's time per event and the memory its state holds.
//!
//!     cargo bench -p mamori-features --bench handbook [-- PATH_TO_HANDBOOK_CSV_GZ]
//!
//! Needs ../shared/data/handbook/handbook-dev.csv.gz (or a path given after `--`).

use std::alloc::System;
use std::io::Read;
use std::time::Instant;

use stats_alloc::{INSTRUMENTED_SYSTEM, Region, StatsAlloc};

/// Counts the bytes live on the heap, so the engine's state is measured, not estimated.
#[global_allocator]
static GLOBAL: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

use mamori_core::{Record, Value};
use mamori_features::input::{CsvMapping, RowRecord, RowValues};
use mamori_features::{Engine, FeatureVector, SourceMap};

fn main() {
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/../..");
    let path = std::env::args()
        .skip(1)
        .find(|a| !a.starts_with('-'))
        .unwrap_or_else(|| format!("{root}/../shared/data/handbook/handbook-dev.csv.gz"));
    if !std::path::Path::new(&path).exists() {
        eprintln!("skipped: {path} is absent (it comes with ../shared/data)");
        return;
    }
    let cfg_path = format!("{root}/examples/handbook/features.toml");
    let text = std::fs::read_to_string(&cfg_path).unwrap();
    let file = mamori_features::config::parse(&cfg_path, &text).unwrap();
    let map = SourceMap { file: &cfg_path, text: &text };
    let events = mamori_core::event::EventSchema::new();
    let mut mapping = CsvMapping::from_config(&file, &map, &events).unwrap();
    let set = mamori_features::FeatureSet::compile(&file, &map, mapping.schema()).unwrap();

    let mut raw = Vec::new();
    flate2::read::MultiGzDecoder::new(std::fs::File::open(&path).unwrap()).read_to_end(&mut raw).unwrap();
    let mut rdr = csv::ReaderBuilder::new().from_reader(&raw[..]);
    mapping.bind(rdr.byte_headers().unwrap()).unwrap();
    // MAMORI_BENCH_ROWS limits the rows (for instruction-counting runs under valgrind).
    let limit: usize = std::env::var("MAMORI_BENCH_ROWS").ok().and_then(|v| v.parse().ok()).unwrap_or(usize::MAX);
    let rounds: usize = std::env::var("MAMORI_BENCH_ROUNDS").ok().and_then(|v| v.parse().ok()).unwrap_or(3);
    let rows: Vec<csv::ByteRecord> = rdr.byte_records().take(limit).map(|r| r.unwrap()).collect();
    let parsed: Vec<(mamori_core::Timestamp, RowValues<'_>)> = rows
        .iter()
        .map(|r| {
            let mut v = RowValues::new();
            let t = mapping.read(r, 0, &mut v).unwrap();
            (t, v)
        })
        .collect();

    for round in 0..rounds {
        let region = Region::new(GLOBAL);
        let mut engine = Engine::new(&set);
        let mut fv = FeatureVector::default();
        let mut check = 0usize;
        let start = Instant::now();
        for (t, v) in &parsed {
            engine.process(&RowRecord(v), *t, &mut fv);
            check += usize::from(!matches!(fv.get(mamori_core::FieldId(3)), Value::Null));
        }
        let el = start.elapsed();
        let (bytes, pairs) = engine.memory();
        let change = region.change();
        // stats_alloc counts a realloc's growth as allocated and its shrinking as deallocated.
        let live = change.bytes_allocated.saturating_sub(change.bytes_deallocated);
        println!(
            "round {round}: {} events in {:.3} s: {:.0} ns/event, {:.2} M events/s; state {} bytes over {} (entity, window) pairs = {:.1} bytes/pair; allocator: {} bytes live = {:.1} bytes/pair ({check})",
            parsed.len(),
            el.as_secs_f64(),
            el.as_nanos() as f64 / parsed.len() as f64,
            parsed.len() as f64 / el.as_secs_f64() / 1e6,
            bytes,
            pairs,
            bytes as f64 / pairs.max(1) as f64,
            live,
            live as f64 / pairs.max(1) as f64
        );
    }
}
