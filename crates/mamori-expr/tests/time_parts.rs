//! CEL's timestamp accessors: values, zones, and the errors for wrong use.

use mamori_core::{OwnedValue, StaticSchema, Timestamp, Type, VecRecord};

fn eval_at(src: &str, t: &str) -> OwnedValue {
    let schema = StaticSchema::new([("event.time", Type::Timestamp)]);
    let p = mamori_expr::compile(src, &schema).unwrap_or_else(|d| panic!("{src}: {d:?}"));
    p.eval(&VecRecord(vec![OwnedValue::Timestamp(Timestamp::parse_rfc3339(t).unwrap())]))
}

fn error_code(src: &str) -> &'static str {
    let schema = StaticSchema::new([("event.time", Type::Timestamp), ("event.amount", Type::Decimal)]);
    mamori_expr::compile(src, &schema).expect_err("should not compile")[0].code
}

#[test]
fn parts_in_utc() {
    let t = "2018-04-01T05:06:07.089Z"; // a Sunday
    for (src, want) in [
        ("event.time.getFullYear()", 2018),
        ("event.time.getMonth()", 3),
        ("event.time.getDate()", 1),
        ("event.time.getDayOfMonth()", 0),
        ("event.time.getDayOfWeek()", 0),
        ("event.time.getDayOfYear()", 90),
        ("event.time.getHours()", 5),
        ("event.time.getMinutes()", 6),
        ("event.time.getSeconds()", 7),
        ("event.time.getMilliseconds()", 89),
    ] {
        assert_eq!(eval_at(src, t), OwnedValue::Int(want), "{src}");
    }
}

#[test]
fn parts_in_a_zone() {
    // 23:30 UTC on Saturday is 08:30 on Sunday in Tokyo.
    let t = "2026-11-21T23:30:00Z";
    assert_eq!(eval_at(r#"event.time.getHours("Asia/Tokyo")"#, t), OwnedValue::Int(8));
    assert_eq!(eval_at(r#"event.time.getDayOfWeek("+09:00")"#, t), OwnedValue::Int(0));
    assert_eq!(eval_at("event.time.getDayOfWeek()", t), OwnedValue::Int(6));
    assert_eq!(eval_at(r#"event.time.getDate("-05:00")"#, t), OwnedValue::Int(21));
}

#[test]
fn handbook_style_flags() {
    let weekend = "event.time.getDayOfWeek() == 0 || event.time.getDayOfWeek() == 6 ? 1 : 0";
    assert_eq!(eval_at(weekend, "2018-04-07T12:00:00Z"), OwnedValue::Int(1)); // Saturday
    assert_eq!(eval_at(weekend, "2018-04-09T12:00:00Z"), OwnedValue::Int(0)); // Monday
    let night = "event.time.getHours() <= 6 ? 1 : 0";
    assert_eq!(eval_at(night, "2018-04-09T06:59:59Z"), OwnedValue::Int(1));
    assert_eq!(eval_at(night, "2018-04-09T07:00:00Z"), OwnedValue::Int(0));
}

#[test]
fn parts_of_no_time_are_null() {
    let schema = StaticSchema::new([("event.time", Type::Timestamp)]);
    for src in ["event.time.getHours()", "event.time.getDayOfWeek(\"Asia/Tokyo\")", "event.time.getDayOfWeek() in [0, 6]"] {
        let p = mamori_expr::compile(src, &schema).unwrap_or_else(|d| panic!("{src}: {d:?}"));
        assert_eq!(p.eval(&VecRecord(vec![OwnedValue::Null])), OwnedValue::Null, "{src}");
    }
}

#[test]
fn wrong_use_is_refused() {
    assert_eq!(error_code("event.amount.getHours()"), mamori_expr::codes::UNKNOWN_FUNCTION);
    assert_eq!(error_code(r#"event.time.getHours("Europe/Paris")"#), mamori_expr::codes::INVALID_LITERAL);
    assert_eq!(error_code(r#"event.time.getHours("UTC", "UTC")"#), mamori_expr::codes::ARGUMENT_COUNT);
    assert_eq!(error_code("event.time.getHours(event.amount)"), mamori_expr::codes::LITERAL_REQUIRED);
    assert_eq!(error_code("event.time.getHour()"), mamori_expr::codes::UNKNOWN_FUNCTION);
}
