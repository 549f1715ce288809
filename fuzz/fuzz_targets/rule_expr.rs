//! Any text given to the expression compiler: parsing, checking and evaluating must never
//! panic or overflow the stack, and whatever compiles must evaluate.
#![no_main]

use std::sync::Arc;

use libfuzzer_sys::fuzz_target;
use mamori_core::{Decimal, OwnedValue, Span, StaticSchema, Timestamp, Type, VecRecord};

fuzz_target!(|data: &[u8]| {
    let Ok(src) = std::str::from_utf8(data) else { return };
    let schema = StaticSchema::new([
        ("event.type", Type::String),
        ("event.amount", Type::Decimal),
        ("event.count", Type::Int),
        ("event.ratio", Type::Double),
        ("event.time", Type::Timestamp),
        ("event.gap", Type::Duration),
        ("event.flag", Type::Bool),
        ("event.holder.name_kana", Type::String),
        ("event.attributes.x", Type::Dyn),
        ("event.events", Type::List(Box::new(Type::String))),
        ("event.missing", Type::Decimal),
    ]);
    let rec = VecRecord(vec![
        OwnedValue::Str(Arc::from("charge")),
        OwnedValue::Decimal(Decimal::new(1_000_005, 1)),
        OwnedValue::Int(i64::MAX),
        OwnedValue::Double(0.25),
        OwnedValue::Timestamp(Timestamp(1_700_000_000_000_000)),
        OwnedValue::Duration(Span(i64::MIN)),
        OwnedValue::Bool(true),
        OwnedValue::Str(Arc::from("ヤマダ タロウ")),
        OwnedValue::Int(i64::MIN),
        OwnedValue::StrList(Arc::from(vec!["e-1".to_string()])),
        OwnedValue::Null,
    ]);
    match mamori_expr::compile(src, &schema) {
        Ok(p) => {
            let _ = p.eval(&rec);
            let _ = p.eval_bool(&rec);
            let _ = p.eval_f64(&rec);
            let _ = p.eval_decimal(&rec);
            let _ = p.string_guard();
        }
        Err(diags) => {
            assert!(!diags.is_empty());
            for d in diags {
                assert!(d.span.start <= d.span.end && d.span.end <= src.len(), "{d:?}");
                let _ = d.render("fuzz", src, 0);
            }
        }
    }
});
