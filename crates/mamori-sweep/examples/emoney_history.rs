//! Writes years of a large bank's e-money charges as Parquet, in time order, with drains
//! injected: the history the sweep's scale benchmark reads (`docs/benchmarks.md`).
//!
//! ```sh
//! cargo run --release -p mamori-sweep --example emoney_history -- --events 100000000 --out /tmp/charges.parquet
//! ```
//!
//! Every account has one link to a wallet and charges 1,000–30,000 JPY through it now and
//! then. A victim's link is drained: four charges of 90,000–99,000 JPY within 40
//! minutes, which the built-in packs block (over the 300,000 JPY monthly cap). The
//! victims are written beside the file (`<out>.victims.csv`: account, first drain time).

use std::io::Write;
use std::path::PathBuf;

use mamori_sweep::parquet_input::{ColumnType, ParquetWriter};
use mamori_sweep::source::Cell;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

const DAY_US: i64 = 86_400_000_000;
/// 2017-07-01T00:00:00+09:00.
const START_US: i64 = 1_498_834_800_000_000;

fn main() -> Result<(), String> {
    let mut events: u64 = 1_000_000;
    let mut out = PathBuf::from("charges.parquet");
    let mut days: i64 = 1095;
    let mut victims_per_million: u64 = 20;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let v = args.next().ok_or(format!("{a} needs a value"))?;
        match a.as_str() {
            "--events" => events = v.parse().map_err(|e| format!("--events: {e}"))?,
            "--out" => out = PathBuf::from(v),
            "--days" => days = v.parse().map_err(|e| format!("--days: {e}"))?,
            "--victims-per-million" => victims_per_million = v.parse().map_err(|e| format!("{e}"))?,
            _ => return Err(format!("unknown argument {a}")),
        }
    }
    // About 50 charges per account over the period.
    let accounts = (events / 50).max(10);
    let victims = (events * victims_per_million / 1_000_000).max(1);
    let mut rng = ChaCha8Rng::seed_from_u64(20170701);
    // Victims: account and the start of the drain.
    let mut drains: Vec<(i64, u64)> =
        (0..victims).map(|_| (START_US + rng.random_range(0..days * DAY_US), rng.random_range(0..accounts))).collect();
    drains.sort_unstable();
    let mut list = std::fs::File::create(out.with_extension("victims.csv")).map_err(|e| e.to_string())?;
    writeln!(list, "account,drain_start_us").map_err(|e| e.to_string())?;
    for (t, a) in &drains {
        writeln!(list, "a{a:08},{t}").map_err(|e| e.to_string())?;
    }
    let columns = [
        ("txn_id", ColumnType::Str),
        ("at", ColumnType::Timestamp),
        ("customer", ColumnType::Str),
        ("account", ColumnType::Str),
        ("link", ColumnType::Str),
        ("amount_jpy", ColumnType::Decimal { precision: 18, scale: 0 }),
    ];
    let mut w = ParquetWriter::create(&out, &columns)?;
    let per_day = events.saturating_sub(victims * 4) / days as u64;
    let mut next_drain = 0;
    let mut n = 0u64;
    let mut day_rows: Vec<(i64, u64, u64)> = Vec::new();
    for day in 0..days {
        let start = START_US + day * DAY_US;
        day_rows.clear();
        let today = if day == days - 1 { events.saturating_sub(victims * 4).saturating_sub(per_day * (days as u64 - 1)) } else { per_day };
        for _ in 0..today {
            // Charges cluster in the day (08:00–23:00 JST) with a little at night.
            let t = start + rng.random_range(0..DAY_US);
            day_rows.push((t, rng.random_range(0..accounts), rng.random_range(1..=30) * 1000));
        }
        // A drain starts early enough in the day to end in it: the file stays in time order.
        while next_drain < drains.len() && drains[next_drain].0 < start + DAY_US {
            let (t0, a) = drains[next_drain];
            let t0 = t0.min(start + DAY_US - 4 * 600_000_000);
            for k in 0..4 {
                day_rows.push((t0 + k * 600_000_000, a, rng.random_range(90..100) * 1000));
            }
            next_drain += 1;
        }
        day_rows.sort_unstable();
        for &(t, a, amount) in &day_rows {
            n += 1;
            w.write(&[
                Cell::Str(format!("t{n:010}")),
                Cell::Timestamp(t),
                Cell::Str(format!("c{a:08}")),
                Cell::Str(format!("a{a:08}")),
                Cell::Str(format!("l{a:08}")),
                Cell::Decimal(amount.into()),
            ])?;
        }
    }
    let rows = w.finish()?;
    eprintln!("wrote {rows} charges of {accounts} accounts over {days} days, {victims} drains, to {}", out.display());
    Ok(())
}
