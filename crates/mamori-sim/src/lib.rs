//! Synthetic, labelled traffic of the four seed incidents, in the v1 event contract.
//!
//! [`generate`] turns a [`Config`] (scenarios, seed, days, scale) into a [`Simulation`]:
//! the institutions taking part and their events in the order they would be sent, each
//! with a [`Label`] kept beside it (never inside the event). [`Simulation::write_to`]
//! writes `events.ndjson`, `labels.csv`, `institutions.csv` and `summary.txt`.
//!
//! Each scenario mixes one kind of fraud with the honest traffic around it, including
//! honest customers who look like the fraud to a naive rule (see the crate's README).
//! The same config gives the same bytes: every draw comes from ChaCha8 streams of the
//! seed, nothing reads the clock, and no hash map's order reaches the output.

// The event builders take the fields of one event as arguments.
#![allow(clippy::too_many_arguments)]

mod card_leak;
mod dice;
mod hot_wallet;
mod link_drain;
mod output;
mod people;
mod takeover;
mod world;

use std::fmt;
use std::str::FromStr;

pub use output::Simulation;

/// The first second of every simulation: 2026-04-06T00:00:00+09:00, a Monday.
pub const START_UNIX: i64 = 1_775_401_200;

/// The fixed JPY value of one unit of each crypto asset the simulator uses, for
/// `value_jpy` (the Coincheck-era rate for XEM: 523M XEM then were worth about 58bn JPY).
pub const RATES_JPY: &[(&str, i64)] = &[("BTC", 10_000_000), ("ETH", 500_000), ("XRP", 100), ("XEM", 100)];

/// One incident and the honest traffic around it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Scenario {
    /// Japan Post Bank / Docomo 2020: wallets opened in victims' names, linked to their
    /// bank accounts and charged to the caps.
    LinkDrain,
    /// SBI Securities 2020: credential stuffing, a same-name bank account opened with a
    /// forged ID, a large sale and the proceeds withdrawn there.
    Takeover,
    /// Coincheck 2018: an exchange's hot wallet emptied within minutes.
    HotWallet,
    /// GMO Payment Gateway 2017: cards exposed at a breached merchant used elsewhere.
    CardLeak,
}

impl Scenario {
    /// Every scenario, in the order `all` runs them.
    pub const ALL: [Scenario; 4] = [Scenario::LinkDrain, Scenario::Takeover, Scenario::HotWallet, Scenario::CardLeak];

    pub const fn as_str(self) -> &'static str {
        match self {
            Scenario::LinkDrain => "link-drain",
            Scenario::Takeover => "takeover",
            Scenario::HotWallet => "hot-wallet",
            Scenario::CardLeak => "card-leak",
        }
    }

    /// The institution kinds that take part.
    pub const fn kinds(self) -> &'static [Kind] {
        match self {
            Scenario::LinkDrain => &[Kind::Bank, Kind::Emoney],
            Scenario::Takeover => &[Kind::Bank, Kind::Broker],
            Scenario::HotWallet => &[Kind::Exchange],
            Scenario::CardLeak => &[Kind::Card],
        }
    }

    /// `all` or one scenario's name.
    pub fn parse_selection(s: &str) -> Option<Vec<Scenario>> {
        if s == "all" {
            return Some(Scenario::ALL.to_vec());
        }
        s.parse().ok().map(|x| vec![x])
    }
}

impl fmt::Display for Scenario {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Scenario {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Scenario::ALL
            .into_iter()
            .find(|x| x.as_str() == s)
            .ok_or_else(|| format!("unknown scenario {s:?}: expected all, link-drain, takeover, hot-wallet or card-leak"))
    }
}

/// The kind of an institution, as `mamori institution add --kind` takes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Kind {
    Bank,
    Emoney,
    Broker,
    Exchange,
    Card,
}

impl Kind {
    pub const fn as_str(self) -> &'static str {
        match self {
            Kind::Bank => "bank",
            Kind::Emoney => "emoney",
            Kind::Broker => "broker",
            Kind::Exchange => "exchange",
            Kind::Card => "card",
        }
    }
}

/// An institution of the simulated network.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Institution {
    pub id: String,
    pub kind: Kind,
    /// The prefix of its event ids.
    pub(crate) prefix: &'static str,
    /// Whether it writes times in UTC (`Z`) rather than JST (`+09:00`).
    pub(crate) utc: bool,
}

/// The label of one event: the ground truth, kept beside the event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Label {
    pub scenario: Scenario,
    /// Part of a fraud.
    pub fraud: bool,
    /// The fraud case the event belongs to (one victim, one wave, one attack); empty
    /// for honest events.
    pub chain: String,
    /// What the event is in its story: `open-wallet`, `link`, `verify`, `charge`, ...
    pub step: &'static str,
    /// Money the event moved, in JPY (crypto at [`RATES_JPY`]); 0 for non-money events.
    pub value_jpy: i64,
}

/// What to simulate.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    pub scenarios: Vec<Scenario>,
    pub seed: u64,
    /// Length of the window, from [`START_UNIX`].
    pub days: u32,
    /// 1.0: a few thousand honest customers per scenario. Fractions make small runs.
    pub scale: f64,
}

impl Config {
    /// Every scenario, 28 days, scale 1.
    pub fn new(seed: u64) -> Config {
        Config { scenarios: Scenario::ALL.to_vec(), seed, days: 28, scale: 1.0 }
    }

    /// Why the config cannot run, if it cannot.
    pub fn check(&self) -> Result<(), String> {
        if self.scenarios.is_empty() {
            return Err("no scenario to simulate".into());
        }
        if !(1..=366).contains(&self.days) {
            return Err(format!("--days must be 1 to 366 (got {})", self.days));
        }
        if !(self.scale.is_finite() && self.scale > 0.0 && self.scale <= 100.0) {
            return Err(format!("--scale must be above 0 and at most 100 (got {})", self.scale));
        }
        Ok(())
    }
}

/// The institutions a seed draws (2-3 banks, 2 e-money services, 2 brokers, 1-2
/// exchanges, 1-2 card acquirers), whichever scenarios run.
fn institutions(d: &mut dice::Dice) -> Vec<Institution> {
    const POOL: &[(&str, Kind, &str)] = &[
        ("hoshi-bank", Kind::Bank, "hb"),
        ("minato-bank", Kind::Bank, "mb"),
        ("kaede-shinkin", Kind::Bank, "ks"),
        ("asahi-net-bank", Kind::Bank, "an"),
        ("pocket-pay", Kind::Emoney, "pp"),
        ("kururi-pay", Kind::Emoney, "kp"),
        ("hana-wallet", Kind::Emoney, "hw"),
        ("sakura-sec", Kind::Broker, "ss"),
        ("tsuki-sec", Kind::Broker, "ts"),
        ("kawa-sec", Kind::Broker, "kw"),
        ("kumo-exchange", Kind::Exchange, "kx"),
        ("nami-coin", Kind::Exchange, "nc"),
        ("tsubame-card", Kind::Card, "tc"),
        ("hibari-card", Kind::Card, "hc"),
    ];
    let counts = [
        (Kind::Bank, d.int(2, 3) as usize),
        (Kind::Emoney, 2),
        (Kind::Broker, 2),
        (Kind::Exchange, d.int(1, 2) as usize),
        (Kind::Card, d.int(1, 2) as usize),
    ];
    let mut out = Vec::new();
    for (kind, n) in counts {
        let pool: Vec<&(&str, Kind, &str)> = POOL.iter().filter(|p| p.1 == kind).collect();
        let mut chosen = d.sample(pool.len(), n);
        chosen.sort_unstable();
        for i in chosen {
            let (id, kind, prefix) = *pool[i];
            out.push(Institution { id: id.to_string(), kind, prefix, utc: d.chance(0.25) });
        }
    }
    out
}

/// Runs the scenarios of `config`. Panics only if `config.check()` fails.
pub fn generate(config: &Config) -> Simulation {
    if let Err(e) = config.check() {
        panic!("{e}");
    }
    let mut d = dice::Dice::new(config.seed, 0);
    let insts = institutions(&mut d);
    let mut w = world::World::new(START_UNIX, config.days, config.scale, insts);
    let mut scenarios = config.scenarios.clone();
    scenarios.sort();
    scenarios.dedup();
    for s in &scenarios {
        // One stream per scenario: adding a scenario does not reshuffle another's draws.
        let mut d = dice::Dice::new(config.seed, 1 + *s as u64);
        match s {
            Scenario::LinkDrain => link_drain::run(&mut w, &mut d),
            Scenario::Takeover => takeover::run(&mut w, &mut d),
            Scenario::HotWallet => hot_wallet::run(&mut w, &mut d),
            Scenario::CardLeak => card_leak::run(&mut w, &mut d),
        }
    }
    output::finalize(w, config, &scenarios)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scenario_names() {
        for s in Scenario::ALL {
            assert_eq!(s.as_str().parse::<Scenario>().unwrap(), s);
        }
        assert_eq!(Scenario::parse_selection("all").unwrap().len(), 4);
        assert!(Scenario::parse_selection("drain").is_none());
    }

    #[test]
    fn start_is_a_jst_monday_midnight() {
        assert_eq!(world::format_time(START_UNIX, false), "2026-04-06T00:00:00+09:00");
    }

    #[test]
    fn institution_counts() {
        for seed in 0..20 {
            let insts = institutions(&mut dice::Dice::new(seed, 0));
            let n = |k| insts.iter().filter(|i| i.kind == k).count();
            assert!((2..=3).contains(&n(Kind::Bank)));
            assert_eq!(n(Kind::Emoney), 2);
            assert_eq!(n(Kind::Broker), 2);
            assert!((1..=2).contains(&n(Kind::Exchange)));
            assert!((1..=2).contains(&n(Kind::Card)));
        }
    }
}
