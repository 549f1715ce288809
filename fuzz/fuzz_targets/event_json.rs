//! Any bytes given to the event parser: it must never panic, and whatever it accepts must
//! read back unchanged from its canonical form.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mamori_core::Event;

fuzz_target!(|data: &[u8]| {
    if let Ok(event) = Event::from_json_slice(data) {
        let canonical = event.to_json();
        let again = Event::from_json_value(&canonical).expect("the canonical form of an accepted event must be accepted");
        assert_eq!(again, event, "round trip changed the event");
        let _ = format!("{event:?}");
    }
});
