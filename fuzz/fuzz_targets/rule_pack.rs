//! Any text given as a rule pack: compiling must never panic, every error must point
//! into the text, and whatever compiles must decide.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mamori_core::{OwnedValue, StaticSchema, Type, VecRecord};
use mamori_rules::{PackSource, Ruleset};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let schema = StaticSchema::new([
        ("event.type", Type::String),
        ("event.amount", Type::Decimal),
        ("event.auth", Type::String),
        ("event.attributes.x", Type::Dyn),
        ("features.links_24h", Type::Int),
        ("features.since_link", Type::Duration),
    ]);
    match Ruleset::compile(&[PackSource::new("fuzz.toml", text)], &schema) {
        Ok(rs) => {
            let rec = VecRecord(vec![OwnedValue::Str("link_requested".into()), OwnedValue::Null, OwnedValue::Str("pin_only".into())]);
            let d = rs.evaluate(&rec);
            assert!(d.reasons.windows(2).all(|w| w[0].score >= w[1].score));
        }
        Err(errors) => {
            assert!(!errors.is_empty());
            for e in &errors {
                assert!(e.span.start <= text.len() && e.line >= 1 && e.column >= 1, "{e:?}");
                let _ = e.to_string();
            }
        }
    }
});
