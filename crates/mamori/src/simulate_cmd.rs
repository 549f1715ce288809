//! `mamori simulate`: labelled synthetic traffic of the seed incidents.

use std::path::PathBuf;

use mamori_sim::{Config, Scenario};

#[derive(Debug, clap::Args)]
pub struct SimulateArgs {
    /// Which incident to simulate, with the honest traffic around it.
    #[arg(long, value_parser = ["all", "link-drain", "takeover", "hot-wallet", "card-leak"])]
    scenario: String,
    /// The seed: the same seed and arguments write the same bytes.
    #[arg(long)]
    seed: u64,
    /// The directory to write events.ndjson, labels.csv, institutions.csv and summary.txt to.
    #[arg(long)]
    out: PathBuf,
    /// Days of traffic, from 2026-04-06 (JST).
    #[arg(long, default_value_t = 28, value_parser = clap::value_parser!(u32).range(1..=366))]
    days: u32,
    /// Size: 1 is a few thousand honest customers per scenario; fractions make small runs.
    #[arg(long, default_value_t = 1.0, value_parser = parse_scale)]
    scale: f64,
}

fn parse_scale(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(x) if x.is_finite() && x > 0.0 && x <= 100.0 => Ok(x),
        _ => Err(format!("expected a number above 0 and at most 100, got {s:?}")),
    }
}

pub fn run(a: SimulateArgs) -> Result<(), Box<dyn std::error::Error>> {
    let scenarios = Scenario::parse_selection(&a.scenario).ok_or_else(|| format!("unknown scenario {:?}", a.scenario))?;
    let config = Config { scenarios, seed: a.seed, days: a.days, scale: a.scale };
    config.check()?;
    let sim = mamori_sim::generate(&config);
    sim.write_to(&a.out).map_err(|e| format!("{}: {e}", a.out.display()))?;
    let fraud = sim.events.iter().filter(|e| e.label.fraud).count();
    println!("wrote {} events ({} fraud) from {} institutions to {}", sim.events.len(), fraud, sim.institutions.len(), a.out.display());
    Ok(())
}
