//! Events go out in the order institutions would send them: in time order, with a small
//! share up to 30 minutes late and none more than an hour behind what was already sent.

use mamori_core::Event;
use mamori_sim::{Config, Scenario};

#[test]
fn no_event_is_more_than_an_hour_behind() {
    for seed in [1, 2, 3, 4] {
        let sim = mamori_sim::generate(&Config { scenarios: Scenario::ALL.to_vec(), seed, days: 28, scale: 0.1 });
        let mut latest = i64::MIN;
        let mut late = 0;
        let mut worst = 0;
        for line in sim.events_ndjson().lines() {
            let t = Event::from_json_slice(line.as_bytes()).unwrap().time.as_secs();
            if t < latest {
                late += 1;
                worst = worst.max(latest - t);
                assert!(latest - t <= 3600, "seed {seed}: {line} is {} s behind", latest - t);
            }
            latest = latest.max(t);
        }
        assert!(worst <= 30 * 60, "seed {seed}: {worst} s");
        let n = sim.events.len();
        assert!(late > 0, "seed {seed}: some events arrive late");
        assert!(late * 20 < n, "seed {seed}: only a small share is late ({late} of {n})");

        // The sending times say the same.
        let mut last_sent = i64::MIN;
        for e in &sim.events {
            assert!(e.sent >= e.time && e.sent - e.time <= 30 * 60);
            assert!(e.sent >= last_sent);
            last_sent = e.sent;
        }
    }
}
