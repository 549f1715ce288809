//! A feature stage that reads ahead (entities, logs and keys of the events to come) and
//! takes each event's keys from its reading ahead computes what one that does not
//! computes, over runs of any length, with events it did not read ahead among them.

use std::sync::Arc;

use mamori_core::Timestamp;
use mamori_core::event::{Event, EventSchema};
use mamori_features::FeatureVector;
use mamori_server::{FeatureStage, Packs, ReadAhead};
use serde_json::json;

/// Card payments and charges of a few cards, merchants and links, hours apart.
fn events() -> Vec<Event> {
    (0..400)
        .map(|n: i64| {
            let time = Timestamp((1_767_538_800 + n * 1_800) * 1_000_000).to_rfc3339();
            let v = if n % 3 == 2 {
                json!({"id": format!("c-{n}"), "type": "charge", "time": time, "institution": "wallet",
                       "account": format!("w-{}", n % 7), "link": format!("l-{}", n % 5), "amount": format!("{}", 1000 + n)})
            } else {
                json!({"id": format!("p-{n}"), "type": "card_payment", "time": time, "institution": "card",
                       "card": format!("tok_{:04}", n % 11), "merchant": format!("m-{}", n % 4),
                       "terminal": format!("t-{}", n % 6), "amount": format!("{}", 500 + 10 * n)})
            };
            Event::from_json_value(&v).unwrap_or_else(|e| panic!("{e:?}: {v}"))
        })
        .collect()
}

fn stage() -> FeatureStage {
    let events = Arc::new(EventSchema::new());
    let packs = Packs::builtin(&events).unwrap_or_else(|e| panic!("{e}"));
    FeatureStage::new(packs, events, None)
}

/// The event fed at place `n` of a run (by `swap`): every fifth is another event, one
/// not read ahead there.
fn fed(all: &[Event], n: usize, swap: bool) -> Event {
    if swap && n % 5 == 4 { all[(n * 7 + 3) % all.len()].clone() } else { all[n].clone() }
}

#[test]
fn keys_read_ahead_change_no_feature() {
    let all = events();
    // Runs of several lengths, as a sweep's batches come (the last ones short).
    for run in [1, 2, 3, 7, 64, 400] {
        for swap in [false, true] {
            let mut plain = stage();
            let mut ahead_stage = stage();
            let mut ahead = ReadAhead::default();
            let mut n = 0;
            for chunk in all.chunks(run) {
                let start = n;
                for (i, e) in chunk.iter().enumerate() {
                    ahead_stage.read_ahead(i, |j| chunk.get(j), &mut ahead);
                    // Where `swap`, the stage is given another event than the one it read
                    // ahead at this place: its keys must be built, not taken.
                    let given = fed(&all, start + i, swap);
                    let event = if swap && (start + i) % 5 == 4 { &given } else { e };
                    let (mut want, mut got) = (FeatureVector::default(), FeatureVector::default());
                    plain.features(event, &mut want);
                    ahead_stage.features_ahead(i, event, &mut got, &mut ahead);
                    assert_eq!(got, want, "event {n}, runs of {run}, swapped {swap}");
                    n += 1;
                }
            }
        }
    }
}
