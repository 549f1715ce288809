//! Writes a history of card payments in the layout of the Fraud Detection Handbook's
//! data (`TRANSACTION_ID,TX_DATETIME,CUSTOMER_ID,TERMINAL_ID,TX_AMOUNT,TX_FRAUD,
//! TX_FRAUD_SCENARIO`), simulated the way the handbook simulates its own, in time order:
//! a sweep input of any size that shares nothing with the handbook's rows, for profiling
//! and for the sweep's benchmarks (`docs/benchmarks.md`).
//!
//! ```sh
//! cargo run --release -p mamori-sweep --example card_history -- --days 120 --out /tmp/cards.csv.gz
//! ```
//!
//! Customers and terminals stand at random places on a 100 × 100 grid; a customer pays
//! at the terminals within 5 of them, a Poisson number of times a day (a mean of 0 to 4,
//! drawn per customer), around midday, amounts drawn around the customer's own mean (5 to
//! 100). Frauds, as in the handbook: any payment above 220 (scenario 1); every payment at
//! two terminals a day compromised for the next 28 days (scenario 2); a third of the
//! payments of three customers a day, for the next 14 days, at five times the amount
//! (scenario 3). A name ending in `.gz` is written gzip-compressed.

use std::fmt::Write as _;
use std::io::{BufWriter, Write};
use std::path::PathBuf;

use flate2::Compression;
use flate2::write::GzEncoder;
use mamori_core::time::{civil_from_days, days_from_civil};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

struct Customer {
    mean_cents: f64,
    per_day: f64,
    terminals: Vec<u32>,
}

struct Payment {
    secs: i64,
    customer: u32,
    terminal: u32,
    cents: i64,
    scenario: u8,
}

/// A normal draw (Box–Muller).
fn normal(rng: &mut ChaCha8Rng, mean: f64, sd: f64) -> f64 {
    let u: f64 = 1.0 - rng.random::<f64>();
    let v: f64 = rng.random();
    mean + sd * (-2.0 * u.ln()).sqrt() * (std::f64::consts::TAU * v).cos()
}

/// A Poisson draw for a small mean (Knuth).
fn poisson(rng: &mut ChaCha8Rng, mean: f64) -> u32 {
    let limit = (-mean).exp();
    let (mut k, mut p) = (0, rng.random::<f64>());
    while p > limit {
        k += 1;
        p *= rng.random::<f64>();
    }
    k
}

fn main() -> Result<(), String> {
    let (mut customers, mut terminals, mut days, mut seed) = (5_000u32, 10_000u32, 183i64, 2018u64);
    let mut start = "2018-04-01".to_string();
    let mut out = PathBuf::from("cards.csv.gz");
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let v = args.next().ok_or(format!("{a} needs a value"))?;
        let number = |v: &str| v.parse::<u64>().map_err(|e| format!("{a}: {e}"));
        match a.as_str() {
            "--customers" => customers = u32::try_from(number(&v)?).map_err(|e| e.to_string())?,
            "--terminals" => terminals = u32::try_from(number(&v)?).map_err(|e| e.to_string())?,
            "--days" => days = i64::try_from(number(&v)?).map_err(|e| e.to_string())?,
            "--seed" => seed = number(&v)?,
            "--start" => start = v,
            "--out" => out = PathBuf::from(v),
            _ => return Err(format!("unknown argument {a}")),
        }
    }
    let date: Vec<i64> = start.split('-').map(|p| p.parse::<i64>()).collect::<Result<_, _>>().map_err(|e| format!("--start: {e}"))?;
    let [y, m, d] = date[..] else { return Err("--start: a date as YYYY-MM-DD".into()) };
    let first_day = days_from_civil(y, m, d);
    let mut rng = ChaCha8Rng::seed_from_u64(seed);

    let places: Vec<(f64, f64)> = (0..terminals).map(|_| (rng.random::<f64>() * 100.0, rng.random::<f64>() * 100.0)).collect();
    let people: Vec<Customer> = (0..customers)
        .map(|_| {
            let (x, y) = (rng.random::<f64>() * 100.0, rng.random::<f64>() * 100.0);
            let mean_cents = 500.0 + rng.random::<f64>() * 9_500.0;
            let per_day = rng.random::<f64>() * 4.0;
            let terminals = (0..terminals)
                .filter(|&t| {
                    let (tx, ty) = places[t as usize];
                    (tx - x).hypot(ty - y) < 5.0
                })
                .collect();
            Customer { mean_cents, per_day, terminals }
        })
        .collect();

    let mut payments = Vec::new();
    for day in 0..days {
        for (c, person) in people.iter().enumerate() {
            if person.terminals.is_empty() {
                continue;
            }
            for _ in 0..poisson(&mut rng, person.per_day) {
                let secs = normal(&mut rng, 43_200.0, 20_000.0).round();
                if !(0.0..86_400.0).contains(&secs) {
                    continue;
                }
                let mut cents = normal(&mut rng, person.mean_cents, person.mean_cents / 2.0);
                if cents < 0.0 {
                    cents = rng.random::<f64>() * person.mean_cents * 2.0;
                }
                let terminal = person.terminals[rng.random_range(0..person.terminals.len())];
                payments.push(Payment {
                    secs: day * 86_400 + secs as i64,
                    customer: c as u32,
                    terminal,
                    cents: (cents.round() as i64).max(1),
                    scenario: 0,
                });
            }
        }
    }
    payments.sort_by_key(|p| (p.secs, p.customer));

    // Scenario 1: above 220.
    for p in payments.iter_mut().filter(|p| p.cents > 22_000) {
        p.scenario = 1;
    }
    // Scenario 2: two terminals a day compromised for 28 days.
    let mut compromised: Vec<(u32, i64)> = Vec::new();
    for day in 0..days {
        for _ in 0..2 {
            compromised.push((rng.random_range(0..terminals), day * 86_400));
        }
    }
    let mut by_terminal = vec![Vec::new(); terminals as usize];
    for &(t, from) in &compromised {
        by_terminal[t as usize].push(from);
    }
    for p in payments.iter_mut().filter(|p| p.scenario == 0) {
        if by_terminal[p.terminal as usize].iter().any(|&from| p.secs >= from && p.secs < from + 28 * 86_400) {
            p.scenario = 2;
        }
    }
    // Scenario 3: a third of three customers' payments a day, for 14 days, at five times.
    let mut by_customer = vec![Vec::new(); customers as usize];
    for day in 0..days {
        for _ in 0..3 {
            by_customer[rng.random_range(0..customers) as usize].push(day * 86_400);
        }
    }
    for p in payments.iter_mut().filter(|p| p.scenario == 0) {
        if by_customer[p.customer as usize].iter().any(|&from| p.secs >= from && p.secs < from + 14 * 86_400) && rng.random_range(0..3) == 0
        {
            p.cents *= 5;
            p.scenario = 3;
        }
    }

    let mut text = String::with_capacity(payments.len() * 48 + 100);
    text.push_str("TRANSACTION_ID,TX_DATETIME,CUSTOMER_ID,TERMINAL_ID,TX_AMOUNT,TX_FRAUD,TX_FRAUD_SCENARIO\n");
    for (id, p) in payments.iter().enumerate() {
        let (y, m, d) = civil_from_days(first_day + p.secs.div_euclid(86_400));
        let s = p.secs.rem_euclid(86_400);
        let (h, min, sec) = (s / 3600, s % 3600 / 60, s % 60);
        let (fraud, scenario) = (u8::from(p.scenario > 0), p.scenario);
        let (customer, terminal, units, cents) = (p.customer, p.terminal, p.cents / 100, p.cents % 100);
        writeln!(text, "{id},{y:04}-{m:02}-{d:02}T{h:02}:{min:02}:{sec:02},{customer},{terminal},{units}.{cents:02},{fraud},{scenario}")
            .map_err(|e| e.to_string())?;
    }
    let io = |e: std::io::Error| format!("{}: {e}", out.display());
    let file = std::fs::File::create(&out).map_err(io)?;
    if out.extension().is_some_and(|e| e == "gz") {
        let mut gz = GzEncoder::new(BufWriter::new(file), Compression::default());
        gz.write_all(text.as_bytes()).map_err(io)?;
        gz.finish().map_err(io)?.flush().map_err(io)?;
    } else {
        let mut w = BufWriter::new(file);
        w.write_all(text.as_bytes()).map_err(io)?;
        w.flush().map_err(io)?;
    }
    eprintln!(
        "{} payments over {days} days, {} of them fraud, written to {}",
        payments.len(),
        payments.iter().filter(|p| p.scenario > 0).count(),
        out.display()
    );
    Ok(())
}
