//! The targets for the built-in packs, on simulated traffic of seeds that were
//! never looked at while the rules were written (they were tuned on seeds 1, 7, 11 and
//! 23; the small-world seeds 2026, 5005 and 6006 were looked at): in every scenario at least 99% of the fraud value stopped, at most 0.5% of honest
//! money events held or blocked, at most 5% of honest events challenged.

use std::io::Cursor;
use std::sync::Arc;

use mamori_core::event::EventSchema;
use mamori_eval::{evaluate, parse_labels, render_table};
use mamori_server::{Judge, Packs};
use mamori_sim::{Config, Scenario};

fn check(seed: u64, scale: f64, found: bool) {
    let sim = mamori_sim::generate(&Config { scale, ..Config::new(seed) });
    let labels = parse_labels(sim.labels_csv().as_bytes(), "labels").unwrap_or_else(|e| panic!("{e}"));
    let events = Arc::new(EventSchema::new());
    let packs = Packs::builtin(&events).unwrap_or_else(|e| panic!("{e}"));
    let mut judge = Judge::new(packs, events);
    let report = evaluate(&mut judge, Cursor::new(sim.events_ndjson()), &labels).unwrap_or_else(|e| panic!("seed {seed}: {e}"));
    let table = render_table(&report);
    assert!(report.rejected.is_empty(), "seed {seed}: events refused\n{table}");
    assert_eq!(report.scenarios.len(), Scenario::ALL.len(), "seed {seed}\n{table}");
    for s in &report.scenarios {
        assert!(s.fraud_chains > 0, "seed {seed}: no fraud in {}\n{table}", s.scenario);
        assert!(
            s.stopped_share() >= 0.99,
            "seed {seed}: {} stops {:.2}% of the fraud value\n{table}",
            s.scenario,
            s.stopped_share() * 100.0
        );
        assert!(
            s.legit_held_share() <= 0.005,
            "seed {seed}: {} holds {:.3}% of honest money events\n{table}",
            s.scenario,
            s.legit_held_share() * 100.0
        );
        assert!(
            s.legit_challenged_share() <= 0.05,
            "seed {seed}: {} challenges {:.2}% of honest events\n{table}",
            s.scenario,
            s.legit_challenged_share() * 100.0
        );
    }
    // No merchant but the breached one is ever flagged from the fraud reports; where the
    // reports are many enough to tell it from chance, it is found.
    let note = sim.notes.iter().find(|n| n.starts_with("card-leak: merchant")).expect("the breach is noted");
    let breached = note.split_whitespace().nth(2).unwrap();
    let flagged: Vec<&str> = report.compromised.iter().map(|c| c.merchant.as_str()).collect();
    if found {
        assert_eq!(flagged, [breached], "seed {seed}\n{table}");
    } else {
        assert!(flagged.iter().all(|m| *m == breached), "seed {seed}: {flagged:?}\n{table}");
    }
}

#[test]
fn targets_hold_on_seed_101() {
    // Seven fraud reports (and nine of genuine payments) within the four weeks: the breached
    // merchant, where 15% of all cards paid, cannot be told from chance yet.
    check(101, 1.0, false);
}

#[test]
fn targets_hold_on_seed_3001() {
    check(3001, 1.0, true);
}

#[test]
fn targets_hold_on_a_small_world_seed_7007() {
    // A third of the customers: a small exchange, where one customer's withdrawal is a
    // larger share of the hot wallet.
    check(7007, 0.3, false);
}
