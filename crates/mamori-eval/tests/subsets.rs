//! The judge computes, for each event, only the features the built-in rules and breakers
//! read for its type. On simulated traffic of every scenario (links, charges, logins,
//! trades, withdrawals, crypto, cards, reports), a judge doing so gives every event the
//! same decision as one computing every feature, and ends in the same state.

use std::sync::Arc;

use mamori_core::event::{Event, EventSchema};
use mamori_server::{Judge, Packs};
use mamori_sim::Config;

#[test]
fn judging_with_the_features_each_type_needs_changes_no_decision_and_no_state() {
    let sim = mamori_sim::generate(&Config { scale: 0.25, ..Config::new(7) });
    let events = Arc::new(EventSchema::new());
    let packs = Packs::builtin(&events).unwrap_or_else(|e| panic!("{e}"));
    let mut some = Judge::new(packs.clone(), Arc::clone(&events));
    let mut every = Judge::new(packs, events);
    every.compute_every_feature(true);
    let (mut judged, mut acted) = (0, 0);
    for (i, line) in sim.events_ndjson().lines().enumerate() {
        let Ok(event) = Event::from_json_slice(line.as_bytes()) else { continue };
        let (a, b) = (some.judge(&event), every.judge(&event));
        assert_eq!(a, b, "event {i} ({}): {line}", event.id);
        judged += 1;
        if !a.reasons.is_empty() {
            acted += 1;
        }
    }
    assert!(judged > 10_000 && acted > 100, "{judged} events judged, {acted} with reasons: too few to tell");
    // The feature state, the only state the subsets could change: the engine's snapshot
    // closes the judge's, and is canonical (equal states, equal bytes).
    let (a, b) = (some.snapshot(), every.snapshot());
    let (a, b) = (engine_part(&a), engine_part(&b));
    assert!(a.len() > 1000, "no feature state found");
    assert!(a == b, "the two judges end with different feature states");
}

fn engine_part(judge: &[u8]) -> &[u8] {
    let magic = mamori_features::snapshot::MAGIC;
    let at = judge.windows(magic.len()).rposition(|w| w == magic).expect("the engine's snapshot");
    &judge[at..]
}
