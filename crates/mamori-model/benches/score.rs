//! How long scoring a row takes: a model of 200 trees of depth 5 over 15 features (the
//! defaults), trained on 20,000 synthetic rows, scored by [`Model::margin`] and by its
//! compiled [`Forest`] one row at a time and in blocks (target: well under 5 µs per row,
//! since `mamori score` must score at least 500,000 rows a second on 2 cores). Blocks are
//! scored in one call of 4096 rows (as bytes, the way `mamori score` scores a file) and in
//! calls of 16 rows (too few to score as bytes: walked with keys).
//!
//! `cargo bench -p mamori-model --bench score` (add `-- --quick` for a short run).
//! The first lines printed are a plain per-row measurement (the least of ten rounds, the
//! four taking turns); criterion's table follows.

use std::hint::black_box;
use std::time::Instant;

use criterion::{Criterion, Throughput};
use mamori_model::{Forest, Model, Params, Rng, train};

const FEATURES: usize = 15;
const TRAIN_ROWS: usize = 20_000;
const SCORED_ROWS: usize = 4096;
/// Rows a call in the second block case: fewer than the forest scores as bytes.
const SMALL_CALL: usize = 16;

/// Rows of 15 features (counts, amounts, ratios; feature 3 missing in one row of ten) and
/// labels drawn from a logistic function of a few of them, with interactions.
fn data(n: usize, seed: u64) -> (Vec<Vec<f64>>, Vec<bool>) {
    let mut rng = Rng(seed);
    let mut x = Vec::with_capacity(n);
    let mut y = Vec::with_capacity(n);
    for _ in 0..n {
        let mut row: Vec<f64> = (0..FEATURES)
            .map(|f| match f % 3 {
                0 => (rng.unit() * 10.0).floor(),
                1 => (rng.unit() * 8.0).exp(),
                _ => rng.unit(),
            })
            .collect();
        if rng.unit() < 0.1 {
            row[3] = f64::NAN;
        }
        let z = -4.0 + 0.4 * row[0] + 1.5 * (row[1] > 500.0) as u8 as f64 + 2.0 * row[2] * row[5] - 1.0 * row[3].is_nan() as u8 as f64
            + 0.8 * (row[4].ln() > 4.0 && row[6] > 5.0) as u8 as f64
            + 1.2 * row[8]
            + rng.unit() * 2.0
            - 1.0;
        y.push(rng.unit() < 1.0 / (1.0 + (-z).exp()));
        x.push(row);
    }
    (x, y)
}

/// Nanoseconds per row of each of `runs` (each scores `rows` rows a call): the least of
/// several rounds of about 50 ms, the runs taking turns, so that a busy machine slows
/// every run alike and a quiet moment counts for each.
fn per_row(rows: usize, runs: &mut [&mut dyn FnMut()]) -> Vec<f64> {
    let mut best = vec![f64::INFINITY; runs.len()];
    for _ in 0..10 {
        for (run, best) in runs.iter_mut().zip(&mut best) {
            run();
            let (mut n, start) = (0u64, Instant::now());
            while start.elapsed().as_millis() < 50 {
                run();
                n += 1;
            }
            *best = best.min(start.elapsed().as_nanos() as f64 / (n as f64 * rows as f64));
        }
    }
    best
}

/// The margins of `flat` (rows of [`FEATURES`] values) into `out`, [`SMALL_CALL`] rows a
/// call.
fn small_calls(forest: &Forest, flat: &[f64], out: &mut [f64]) {
    for (rows, out) in flat.chunks(SMALL_CALL * FEATURES).zip(out.chunks_mut(SMALL_CALL)) {
        forest.margins(rows, FEATURES, out);
    }
}

fn main() {
    let names: Vec<String> = (0..FEATURES).map(|i| format!("f{i}")).collect();
    let (x, y) = data(TRAIN_ROWS, 1);
    let model: Model = train(&names, &x, &y, &Params { trees: 200, depth: 5, ..Params::default() }).unwrap();
    let forest = Forest::new(&model);
    let (test, _) = data(SCORED_ROWS, 2);
    let flat: Vec<f64> = test.iter().flatten().copied().collect();
    let mut out = vec![0.0; SCORED_ROWS];
    forest.margins(&flat, FEATURES, &mut out);
    for (row, m) in test.iter().zip(&out) {
        assert_eq!(m.to_bits(), model.margin(row).to_bits());
        assert_eq!(forest.margin(row).to_bits(), model.margin(row).to_bits());
    }
    let mut small_out = vec![0.0; SCORED_ROWS];
    small_calls(&forest, &flat, &mut small_out);
    for (row, m) in test.iter().zip(&small_out) {
        assert_eq!(m.to_bits(), model.margin(row).to_bits());
    }

    let times = per_row(
        SCORED_ROWS,
        &mut [
            &mut || {
                for row in &test {
                    black_box(model.margin(black_box(row)));
                }
            },
            &mut || {
                for row in &test {
                    black_box(forest.margin(black_box(row)));
                }
            },
            &mut || {
                forest.margins(black_box(&flat), FEATURES, &mut out);
                black_box(&out);
            },
            &mut || {
                small_calls(&forest, black_box(&flat), &mut small_out);
                black_box(&small_out);
            },
        ],
    );
    let [walk, one, block, small] = times[..] else { unreachable!() };
    let leaves: usize = model.trees.iter().map(|t| t.iter().filter(|n| n.is_leaf()).count()).sum();
    println!("model: {} trees of depth {}, {FEATURES} features, {leaves} leaves", model.trees.len(), model.params.depth);
    println!("  Model::margin:   {walk:8.1} ns/row");
    println!("  Forest::margin:  {one:8.1} ns/row");
    println!("  Forest::margins: {block:8.1} ns/row ({SCORED_ROWS} rows a call)");
    println!("  Forest::margins: {small:8.1} ns/row ({SMALL_CALL} rows a call)");

    let mut c = Criterion::default().configure_from_args();
    let mut g = c.benchmark_group("score");
    g.throughput(Throughput::Elements(SCORED_ROWS as u64));
    g.bench_function("Model::margin", |b| {
        b.iter(|| {
            for row in &test {
                black_box(model.margin(black_box(row)));
            }
        })
    });
    g.bench_function("Forest::margin", |b| {
        b.iter(|| {
            for row in &test {
                black_box(forest.margin(black_box(row)));
            }
        })
    });
    g.bench_function("Forest::margins", |b| {
        b.iter(|| {
            forest.margins(black_box(&flat), FEATURES, &mut out);
            black_box(&out);
        })
    });
    g.bench_function(format!("Forest::margins, {SMALL_CALL} rows a call"), |b| {
        b.iter(|| {
            small_calls(&forest, black_box(&flat), &mut small_out);
            black_box(&small_out);
        })
    });
    g.finish();
    c.final_summary();
}
