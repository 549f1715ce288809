//! Any bytes as the body of `POST /v1/events` or `POST /v1/events/batch`: the endpoint's
//! parser must never panic; what it refuses is a problem document with a 4xx status and
//! pointers that are valid JSON Pointers; what it accepts is whole, in order, and owned
//! by the caller's institution.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mamori_server::routes::parse_events;

fuzz_target!(|data: &[u8]| {
    let Some((&flag, body)) = data.split_first() else { return };
    let batch = flag & 1 == 1;
    match parse_events(body, batch, "bank-a") {
        Ok(events) => {
            assert!(!events.is_empty());
            assert!(batch || events.len() == 1);
            for e in &events {
                assert_eq!(e.event.institution.as_deref(), Some("bank-a"));
                assert!(!e.body.is_empty());
            }
        }
        Err(p) => {
            assert!((400..500).contains(&p.status), "{}", p.status);
            for e in &p.errors {
                assert!(e.pointer.is_empty() || e.pointer.starts_with('/'), "{}", e.pointer);
            }
            let _ = serde_json::to_vec(&p).unwrap();
        }
    }
});
