//! Unit tests: one group per operator and type rule.

use std::str::FromStr;

use mamori_core::{Decimal, OwnedValue, Span, StaticSchema, Timestamp, Type, VecRecord};

use super::*;

fn d(s: &str) -> Decimal {
    Decimal::from_str(s).unwrap()
}

fn ts(s: &str) -> Timestamp {
    Timestamp::parse_rfc3339(s).unwrap()
}

const FIELDS: &[(&str, Type)] = &[
    ("event.type", Type::String),
    ("event.amount", Type::Decimal),
    ("event.fee", Type::Decimal),
    ("event.count", Type::Int),
    ("event.ratio", Type::Double),
    ("event.auth", Type::String),
    ("event.time", Type::Timestamp),
    ("event.prev", Type::Timestamp),
    ("event.gap", Type::Duration),
    ("event.flag", Type::Bool),
    ("event.holder.name_kana", Type::String),
    ("event.holder.name", Type::String),
    ("event.attributes.x", Type::Dyn),
    ("event.attributes.s", Type::Dyn),
    ("event.events", Type::Dyn),
    ("event.missing", Type::Decimal),
    ("event.nothing", Type::String),
    ("features.links_24h", Type::Int),
    ("event.big", Type::Int),
];

fn schema() -> StaticSchema {
    let mut f: Vec<(String, Type)> = FIELDS.iter().map(|(p, t)| (p.to_string(), t.clone())).collect();
    f[14].1 = Type::List(Box::new(Type::String));
    StaticSchema::new(f)
}

fn record() -> VecRecord {
    VecRecord(vec![
        OwnedValue::Str("charge".into()),
        OwnedValue::Decimal(d("100000.10")),
        OwnedValue::Decimal(d("0.2")),
        OwnedValue::Int(7),
        OwnedValue::Double(0.25),
        OwnedValue::Str("pin_only".into()),
        OwnedValue::Timestamp(ts("2026-11-21T10:35:00+09:00")),
        OwnedValue::Timestamp(ts("2026-11-21T10:00:00+09:00")),
        OwnedValue::Duration(Span::from_secs(2100)),
        OwnedValue::Bool(true),
        OwnedValue::Str("ヤマダ タロウ".into()),
        OwnedValue::Null,
        OwnedValue::Int(5),
        OwnedValue::Str("x".into()),
        OwnedValue::StrList(vec!["e-1".to_string(), "e-2".to_string()].into()),
        OwnedValue::Null,
        OwnedValue::Null,
        OwnedValue::Int(3),
        OwnedValue::Int(i64::MAX),
    ])
}

#[track_caller]
fn ev(src: &str) -> OwnedValue {
    let p = compile(src, &schema()).unwrap_or_else(|e| panic!("{src}: {e:?}"));
    p.eval(&record())
}

#[track_caller]
fn truth(src: &str) -> bool {
    compile_bool(src, &schema()).unwrap_or_else(|e| panic!("{src}: {e:?}")).eval_bool(&record())
}

#[track_caller]
fn err(src: &str) -> Diagnostic {
    match compile_bool(src, &schema()) {
        Ok(_) => panic!("{src}: compiled"),
        Err(e) => e.into_iter().next().unwrap(),
    }
}

#[track_caller]
fn code(src: &str) -> &'static str {
    err(src).code
}

fn int(i: i64) -> OwnedValue {
    OwnedValue::Int(i)
}

fn dec(s: &str) -> OwnedValue {
    OwnedValue::Decimal(d(s))
}

fn s(x: &str) -> OwnedValue {
    OwnedValue::Str(x.into())
}

fn b(x: bool) -> OwnedValue {
    OwnedValue::Bool(x)
}

#[test]
fn literals() {
    assert_eq!(ev("12"), int(12));
    assert_eq!(ev("-12"), int(-12));
    assert_eq!(ev("0x10"), int(16));
    assert_eq!(ev("3u"), int(3));
    assert_eq!(ev("1.5"), OwnedValue::Double(1.5));
    assert_eq!(ev("'a\\tb'"), s("a\tb"));
    assert_eq!(ev("\"it's\""), s("it's"));
    assert_eq!(ev("true"), b(true));
    assert_eq!(ev("null"), OwnedValue::Null);
    assert_eq!(*compile("1.5", &schema()).unwrap().result_type(), Type::Double);
}

#[test]
fn fields_and_paths() {
    assert_eq!(ev("event.amount"), dec("100000.10"));
    assert_eq!(ev("event.holder.name_kana"), s("ヤマダ タロウ"));
    assert_eq!(ev("event.holder.name"), OwnedValue::Null);
    let e = err("event.amout > 5");
    assert_eq!((e.code, e.span.clone()), (codes::UNKNOWN_FIELD, 0..11));
    assert_eq!(e.help.as_deref(), Some("did you mean `event.amount`?"));
    assert_eq!(err("amount > 5").help.as_deref(), Some("did you mean `event.amount`?"));
    assert_eq!(err("zzz > 5").help, None);
    let e = err("event.holder == 'x'");
    assert_eq!((e.code, e.span.clone()), (codes::OBJECT_AS_VALUE, 0..12));
    assert!(e.help.unwrap().contains("event.holder.name_kana"));
    assert_eq!(code("(event.amount + 1).x > 1"), codes::OPERATOR_TYPES);
    let p = compile("event.amount + event.fee > event.amount", &schema()).unwrap();
    assert_eq!(p.fields().len(), 2);
    assert!(compile("1 + 2", &schema()).unwrap().is_constant());
}

#[test]
fn int_arithmetic_is_checked() {
    assert_eq!(ev("7 / 2"), int(3));
    assert_eq!(ev("-7 / 2"), int(-3));
    assert_eq!(ev("7 % 3"), int(1));
    assert_eq!(ev("2 * 3 + 4"), int(10));
    assert_eq!(ev("event.big + 1"), OwnedValue::Null);
    assert_eq!(ev("event.big * 2"), OwnedValue::Null);
    assert_eq!(ev("event.count / 0"), OwnedValue::Null);
    assert_eq!(ev("event.count % 0"), OwnedValue::Null);
    assert_eq!(ev("-event.big - 2"), OwnedValue::Null);
    assert_eq!(ev("-9223372036854775807 - 1"), int(i64::MIN));
    assert_eq!(ev("abs(-9223372036854775807 - 1)"), OwnedValue::Null);
}

#[test]
fn decimal_arithmetic_is_exact() {
    assert!(truth("decimal('0.1') + decimal('0.2') == decimal('0.3')"));
    assert!(truth("event.fee + 0.1 == 0.3"));
    assert_eq!(ev("event.amount + 1"), dec("100001.10"));
    assert_eq!(ev("event.amount * 3"), dec("300000.30"));
    assert_eq!(ev("event.amount - 0.1"), dec("100000.00"));
    assert_eq!(ev("event.amount / 0"), OwnedValue::Null);
    assert_eq!(ev("event.fee * 0.5"), dec("0.1"));
    assert_eq!(*compile("event.amount * 1.1", &schema()).unwrap().result_type(), Type::Decimal);
    assert_eq!(*compile("event.amount + 1", &schema()).unwrap().result_type(), Type::Decimal);
    assert_eq!(*compile("event.amount + event.ratio", &schema()).unwrap().result_type(), Type::Double);
    assert_eq!(*compile("event.count + event.count", &schema()).unwrap().result_type(), Type::Int);
    // Exact comparisons across int and decimal.
    assert!(truth("event.amount > 100000"));
    assert!(truth("event.amount == 100000.1"));
    assert!(truth("event.amount < 100000.11"));
    assert!(!truth("decimal('9007199254740993') == 9007199254740992"));
    // A double operand makes a double.
    assert_eq!(ev("event.fee + event.ratio"), OwnedValue::Double(0.45));
}

#[test]
fn doubles() {
    assert_eq!(ev("event.ratio * 2.0"), OwnedValue::Double(0.5));
    assert_eq!(ev("event.ratio / 0.0"), OwnedValue::Null);
    assert_eq!(ev("1.0 / 4"), OwnedValue::Double(0.25));
    assert!(truth("event.ratio > event.fee"));
    assert!(truth("event.ratio == 0.25"));
}

#[test]
fn comparisons() {
    assert!(truth("event.count >= 7 && event.count <= 7 && event.count != 8"));
    assert!(truth("'abc' < 'abd' && 'b' > 'abc'"));
    assert!(truth("event.time > event.prev"));
    assert!(truth("event.gap == duration('35m')"));
    assert!(truth("event.flag == true"));
    assert_eq!(code("event.amount > 'x'"), codes::OPERATOR_TYPES);
    assert_eq!(code("event.type == 1"), codes::OPERATOR_TYPES);
    assert_eq!(code("event.flag < true"), codes::OPERATOR_TYPES);
    assert_eq!(code("event.time > 5"), codes::OPERATOR_TYPES);
    assert_eq!(code("event.gap > 5"), codes::OPERATOR_TYPES);
    assert_eq!(code("event.amount < null"), codes::NULL_ORDERING);
    assert_eq!(err("event.amount > 'x'").span, 0..18);
}

#[test]
fn strings() {
    assert_eq!(ev("event.type + '/' + event.auth"), s("charge/pin_only"));
    assert!(truth("event.auth.startsWith('pin') && event.auth.endsWith('only') && event.auth.contains('n_o')"));
    assert!(truth("size(event.holder.name_kana) == 7 && event.auth.size() == 8"));
    assert!(truth("event.holder.name_kana.matches('^[ァ-ヶー ]+$')"));
    assert!(!truth("event.auth.matches('^otp')"));
    assert_eq!(code("event.type + 1 == 'x'"), codes::OPERATOR_TYPES);
    assert_eq!(code("event.type - 'x' == 'x'"), codes::OPERATOR_TYPES);
    assert_eq!(code("event.auth.matches(event.type)"), codes::LITERAL_REQUIRED);
    assert_eq!(code("event.auth.matches('(')"), codes::INVALID_LITERAL);
    assert_eq!(code("event.amount.startsWith('1')"), codes::UNKNOWN_FUNCTION);
    assert_eq!(code("event.auth.startsWith(1)"), codes::ARGUMENT_TYPE);
    assert_eq!(code("event.auth.startsWith()"), codes::ARGUMENT_COUNT);
    assert_eq!(err("event.auth.startswith('p')").help.as_deref(), Some("did you mean `startsWith`?"));
    assert_eq!(code("startsWith(event.auth, 'p')"), codes::UNKNOWN_FUNCTION);
    assert_eq!(code("size(event.amount) > 1"), codes::ARGUMENT_TYPE);
}

#[test]
fn time() {
    assert_eq!(ev("event.time - event.prev"), OwnedValue::Duration(Span::from_secs(2100)));
    assert!(truth("event.time - event.prev < duration('1h')"));
    assert!(truth("(event.time - event.prev).minutes() == 35"));
    assert!(truth("event.gap.hours() == 0 && event.gap.seconds() == 2100 && event.gap.days() == 0"));
    assert!(truth("event.prev + duration('35m') == event.time"));
    assert!(truth("event.time - duration('35m') == event.prev"));
    assert!(truth("duration('10m') + event.time > event.time"));
    assert!(truth("event.time > timestamp('2026-11-21T00:00:00Z')"));
    assert!(truth("-event.gap < duration('0')"));
    assert!(truth("abs(event.prev - event.time) == event.gap"));
    assert_eq!(ev("int(timestamp('1970-01-01T00:01:00Z'))"), int(60));
    assert_eq!(code("duration('10x') > event.gap"), codes::INVALID_LITERAL);
    assert_eq!(code("duration(event.type) > event.gap"), codes::LITERAL_REQUIRED);
    assert_eq!(code("timestamp('yesterday') > event.time"), codes::INVALID_LITERAL);
    // At run time from a string: RFC 3339, or a date alone as midnight UTC; else null.
    assert!(truth("timestamp(event.attributes.s) == null"));
    assert!(truth("(event.time - timestamp(string(event.prev))).minutes() == 35"));
    assert_eq!(ev("int(timestamp(string(event.count) == '7' ? '1970-01-02' : 'x'))"), int(86_400));
    assert_eq!(ev("timestamp(event.nothing)"), OwnedValue::Null);
    assert_eq!(code("timestamp(event.count) > event.time"), codes::ARGUMENT_TYPE);
    assert_eq!(code("event.time + event.time > event.time"), codes::OPERATOR_TYPES);
    assert_eq!(code("event.gap.minutes > 1"), codes::UNKNOWN_FIELD);
    assert_eq!(code("event.amount.minutes() > 1"), codes::UNKNOWN_FUNCTION);
}

#[test]
fn nulls() {
    // Operators with a null operand give null.
    assert_eq!(ev("event.missing + 1"), OwnedValue::Null);
    assert_eq!(ev("event.missing > 1"), OwnedValue::Null);
    assert_eq!(ev("!(event.missing > 1)"), OwnedValue::Null);
    assert_eq!(ev("-event.missing"), OwnedValue::Null);
    assert_eq!(ev("event.nothing + 'x'"), OwnedValue::Null);
    assert_eq!(ev("event.nothing in ['x']"), OwnedValue::Null);
    assert_eq!(ev("event.nothing.startsWith('x')"), OwnedValue::Null);
    assert_eq!(ev("size(event.nothing)"), OwnedValue::Null);
    assert_eq!(ev("max(event.missing, 1)"), OwnedValue::Null);
    assert!(!truth("event.missing > 1"));
    assert!(!truth("!(event.missing > 1)"));
    // Except these.
    assert!(truth("event.missing == null"));
    assert!(truth("null == event.missing"));
    assert!(truth("event.amount != null"));
    assert!(truth("null == null"));
    assert!(truth("!has(event.missing) && has(event.amount)"));
    assert!(truth("has(event.holder)"));
    assert_eq!(code("has(1)"), codes::HAS_NEEDS_FIELD);
    assert_eq!(code("has(event.amout)"), codes::UNKNOWN_FIELD);
    assert_eq!(ev("true || event.missing > 1"), b(true));
    assert_eq!(ev("event.missing > 1 || true"), b(true));
    assert_eq!(ev("false && event.missing > 1"), b(false));
    assert_eq!(ev("event.missing > 1 && false"), b(false));
    assert_eq!(ev("event.missing > 1 && true"), OwnedValue::Null);
    assert_eq!(ev("event.missing > 1 || false"), OwnedValue::Null);
    assert_eq!(ev("event.missing > 1 ? 1 : 2"), int(2));
    assert_eq!(ev("event.count > 1 ? event.missing : 2.5"), OwnedValue::Null);
}

#[test]
fn logic_and_conditions() {
    assert!(truth("event.type == 'charge' && event.auth == 'pin_only' && event.count > 1"));
    assert!(truth("event.type == 'x' || event.type == 'charge'"));
    assert!(truth("!(event.type == 'x')"));
    assert!(truth("event.flag"));
    assert_eq!(code("!event.amount"), codes::OPERATOR_TYPES);
    assert_eq!(code("event.amount && true"), codes::NOT_BOOL);
    assert_eq!(code("event.amount"), codes::NOT_BOOL);
    assert_eq!(code("event.type"), codes::NOT_BOOL);
    assert_eq!(code("event.count ? 1 : 2 == 1"), codes::NOT_BOOL);
    assert_eq!(code("null"), codes::NOT_BOOL);
    let e = err("  event.amount + 1 ");
    assert_eq!(e.span, 2..18);
    assert!(e.help.is_some());
}

#[test]
fn conditional_branches() {
    assert_eq!(ev("event.flag ? 1 : 2"), int(1));
    assert_eq!(ev("event.flag ? event.count : event.amount"), dec("7"));
    assert_eq!(*compile("event.flag ? event.count : event.amount", &schema()).unwrap().result_type(), Type::Decimal);
    assert_eq!(ev("!event.flag ? event.ratio : 1"), OwnedValue::Double(1.0));
    assert_eq!(ev("event.flag ? 'a' : null"), s("a"));
    assert_eq!(ev("true ? event.count : 0"), int(7));
    assert_eq!(code("event.flag ? 'a' : 1"), codes::BRANCH_TYPES);
}

#[test]
fn membership() {
    assert!(truth("event.type in ['charge', 'transfer']"));
    assert!(!truth("event.type in ['login']"));
    assert!(truth("event.count in [1, 7]"));
    // Integer constants: other numbers compare by value, null stays null, a string is in
    // no list of numbers.
    assert!(!truth("event.count in [1, 2]"));
    assert!(truth("event.ratio * 4.0 in [2, 1]"));
    assert!(!truth("event.ratio in [0, 1]"));
    assert!(truth("event.fee * 5 in [1, 2]"));
    assert_eq!(ev("event.missing in [1, 2]"), OwnedValue::Null);
    assert_eq!(ev("event.attributes.s in [1, 2]"), b(false));
    assert!(truth("event.attributes.x in [4, 5]"));
    // A value of no declared type is compared when it comes: 5.0 is 5.
    let p = compile("event.attributes.x in [4, 5]", &schema()).unwrap();
    let mut r = record();
    for (x, want) in [(dec("5.0"), true), (OwnedValue::Double(5.0), true), (dec("5.5"), false)] {
        r.0[12] = x;
        assert_eq!(p.eval(&r), b(want));
    }
    assert!(truth("7 in [1, 7]"));
    assert!(truth("event.amount in [1, 100000.1]"));
    assert!(truth("event.count in [event.count + 0, 1]"));
    assert!(truth("'e-2' in event.events"));
    assert!(!truth("'e-3' in event.events"));
    let many: Vec<String> = (0..50).map(|i| format!("'t{i}'")).collect();
    assert!(!truth(&format!("event.type in [{}]", many.join(", "))));
    assert!(truth(&format!("event.type in [{}, 'charge']", many.join(", "))));
    assert_eq!(code("event.type in [1, 2]"), codes::LIST_ELEMENT_TYPE);
    assert_eq!(err("event.type in ['a', 2]").span, 20..21);
    assert_eq!(code("event.type in event.type"), codes::OPERATOR_TYPES);
    assert_eq!(code("[1, 2] == [1, 2]"), codes::LIST_OUTSIDE_IN);
    assert_eq!(code("1 in event.events"), codes::OPERATOR_TYPES);
    assert!(truth("!('x' in [])"));
}

#[test]
fn conversions_and_functions() {
    assert_eq!(ev("int(event.amount)"), int(100000));
    assert_eq!(ev("int(event.ratio * 10)"), int(2));
    assert_eq!(ev("int('42')"), int(42));
    assert_eq!(ev("int(event.type)"), OwnedValue::Null);
    assert_eq!(ev("double(event.count)"), OwnedValue::Double(7.0));
    assert_eq!(ev("decimal(event.count)"), dec("7"));
    assert_eq!(ev("decimal(0.1)"), dec("0.1"));
    assert_eq!(ev("decimal(event.ratio)"), dec("0.25"));
    assert_eq!(ev("string(event.amount)"), s("100000.1"));
    assert_eq!(ev("string(event.gap)"), s("35m"));
    assert_eq!(ev("string(event.count) + 'x'"), s("7x"));
    assert_eq!(ev("string(event.flag)"), s("true"));
    assert_eq!(code("int('x') > 1"), codes::INVALID_LITERAL);
    assert_eq!(code("decimal('1.2.3') > 1"), codes::INVALID_LITERAL);
    assert_eq!(code("int(event.gap) > 1"), codes::ARGUMENT_TYPE);
    assert_eq!(code("int(1, 2) > 1"), codes::ARGUMENT_COUNT);
    assert_eq!(ev("min(event.count, 3)"), int(3));
    assert_eq!(ev("max(event.count, event.amount)"), dec("100000.10"));
    assert_eq!(ev("min(event.count, 0.5)"), OwnedValue::Double(0.5));
    assert_eq!(ev("min(event.amount, 0.5)"), dec("0.5"));
    assert_eq!(ev("max('a', 'b', 'c')"), s("c"));
    assert_eq!(ev("max(event.gap, duration('1h'))"), OwnedValue::Duration(Span::from_secs(3600)));
    assert_eq!(ev("abs(-2.5)"), OwnedValue::Double(2.5));
    assert_eq!(ev("abs(event.fee - 1)"), dec("0.8"));
    assert_eq!(code("min(1) > 0"), codes::ARGUMENT_COUNT);
    assert_eq!(code("min(1, 'a') > 0"), codes::ARGUMENT_TYPE);
    assert_eq!(code("min(true, false)"), codes::ARGUMENT_TYPE);
    assert_eq!(code("abs('a') > 0"), codes::ARGUMENT_TYPE);
    assert_eq!(err("sise(event.type) > 1").help.as_deref(), Some("did you mean `size`?"));
    assert_eq!(code("foo()"), codes::UNKNOWN_FUNCTION);
}

#[test]
fn dyn_is_checked_at_run_time() {
    assert!(truth("event.attributes.x > 4"));
    assert!(truth("event.attributes.x + 1 == 6"));
    assert!(truth("event.attributes.x == 5.0"));
    assert!(truth("event.attributes.s == 'x'"));
    assert!(truth("event.attributes.s.startsWith('x')"));
    assert_eq!(ev("event.attributes.s + 1"), OwnedValue::Null);
    assert_eq!(ev("event.attributes.s > 1"), OwnedValue::Null);
    assert_eq!(ev("event.attributes.x == 'x'"), OwnedValue::Null);
    assert_eq!(ev("!event.attributes.x"), OwnedValue::Null);
    assert!(!truth("event.attributes.x"));
    assert_eq!(*compile("event.attributes.x + 1", &schema()).unwrap().result_type(), Type::Dyn);
}

#[test]
fn constants_fold() {
    let p = compile("duration('1h') + duration('30m')", &schema()).unwrap();
    assert!(p.is_constant());
    assert_eq!(p.eval(&record()), OwnedValue::Duration(Span::from_secs(5400)));
    let p = compile("true ? event.count : 0", &schema()).unwrap();
    assert!(!p.is_constant());
    assert_eq!(p.eval(&record()), int(7));
    assert!(compile("'a' in ['a', 'b']", &schema()).unwrap().is_constant());
}

#[test]
fn collects_every_type_error() {
    let errs = compile_bool("event.amout > 1 && event.type == 1 && !event.count", &schema()).unwrap_err();
    let got: Vec<_> = errs.iter().map(|e| e.code).collect();
    assert_eq!(got, vec![codes::UNKNOWN_FIELD, codes::OPERATOR_TYPES, codes::OPERATOR_TYPES]);
}

#[test]
fn fast_paths() {
    let sc = schema();
    let r = record();
    assert_eq!(compile("event.amount * 2", &sc).unwrap().eval_decimal(&r), Some(d("200000.20")));
    assert_eq!(compile("event.count * 2", &sc).unwrap().eval_i64(&r), Some(14));
    assert_eq!(compile("event.count * 2", &sc).unwrap().eval_f64(&r), Some(14.0));
    assert_eq!(compile("event.flag", &sc).unwrap().eval_f64(&r), None);
    assert_eq!(compile("event.missing > 1", &sc).unwrap().eval_opt_bool(&r), None);
    let name = compile("event.holder.name_kana", &sc).unwrap().eval_with(&r, |v| v.to_string());
    assert_eq!(name, "ヤマダ タロウ");
}

#[test]
fn render_points_into_the_file() {
    let file = "when = 'event.amout > 1'\n";
    let e = err("event.amout > 1");
    let r = e.render("x.toml", file, 8);
    assert!(r.starts_with("x.toml:1:9: error[E001]: unknown field `event.amout`\n"), "{r}");
    assert!(r.contains("  |         ^^^^^^^^^^^\n"), "{r}");
}

mod props {
    use proptest::prelude::*;

    use super::*;

    /// A naive model of int/decimal arithmetic and comparison.
    #[derive(Debug, Clone, PartialEq)]
    enum M {
        Null,
        Int(i64),
        Dec(Decimal),
        Bool(bool),
    }

    #[derive(Debug, Clone)]
    enum E {
        Int(i64),
        Dec(String),
        FieldInt,
        FieldDec,
        Missing,
        Bin(&'static str, Box<E>, Box<E>),
        Neg(Box<E>),
    }

    fn leaf() -> impl Strategy<Value = E> {
        prop_oneof![
            (-1000i64..1000).prop_map(E::Int),
            prop_oneof![Just(i64::MAX), Just(i64::MIN + 1), Just(0i64)].prop_map(E::Int),
            (-100000i64..100000, 0u32..4).prop_map(|(m, s)| E::Dec(Decimal::new(m, s).to_string())),
            Just(E::FieldInt),
            Just(E::FieldDec),
            Just(E::Missing),
        ]
    }

    fn expr() -> impl Strategy<Value = E> {
        leaf().prop_recursive(5, 40, 2, |inner| {
            prop_oneof![
                (prop_oneof![Just("+"), Just("-"), Just("*"), Just("/"), Just("%")], inner.clone(), inner.clone())
                    .prop_map(|(op, a, b)| E::Bin(op, Box::new(a), Box::new(b))),
                inner.prop_map(|a| E::Neg(Box::new(a))),
            ]
        })
    }

    fn src(e: &E) -> String {
        match e {
            E::Int(i) if *i < 0 => format!("({i})"),
            E::Int(i) => i.to_string(),
            E::Dec(s) => format!("decimal('{s}')"),
            E::FieldInt => "event.count".into(),
            E::FieldDec => "event.fee".into(),
            E::Missing => "event.missing".into(),
            E::Bin(op, a, b) => format!("({} {op} {})", src(a), src(b)),
            E::Neg(a) => format!("-({})", src(a)),
        }
    }

    fn model(e: &E) -> M {
        match e {
            E::Int(i) => M::Int(*i),
            E::Dec(s) => M::Dec(d(s)),
            E::FieldInt => M::Int(7),
            E::FieldDec => M::Dec(d("0.2")),
            E::Missing => M::Null,
            E::Neg(a) => match model(a) {
                M::Int(i) => i.checked_neg().map_or(M::Null, M::Int),
                M::Dec(x) => M::Dec(-x),
                _ => M::Null,
            },
            E::Bin(op, a, b) => match (model(a), model(b)) {
                (M::Int(x), M::Int(y)) => {
                    let r = match *op {
                        "+" => x.checked_add(y),
                        "-" => x.checked_sub(y),
                        "*" => x.checked_mul(y),
                        "/" => x.checked_div(y),
                        _ => x.checked_rem(y),
                    };
                    r.map_or(M::Null, M::Int)
                }
                (M::Null, _) | (_, M::Null) => M::Null,
                (x, y) => {
                    let dx = match x {
                        M::Int(i) => Decimal::from(i),
                        M::Dec(d) => d,
                        _ => return M::Null,
                    };
                    let dy = match y {
                        M::Int(i) => Decimal::from(i),
                        M::Dec(d) => d,
                        _ => return M::Null,
                    };
                    let r = match *op {
                        "+" => dx.checked_add(dy),
                        "-" => dx.checked_sub(dy),
                        "*" => dx.checked_mul(dy),
                        "/" => dx.checked_div(dy),
                        _ => dx.checked_rem(dy),
                    };
                    r.map_or(M::Null, M::Dec)
                }
            },
        }
    }

    fn is_dec(e: &E) -> bool {
        match e {
            E::Dec(_) | E::FieldDec | E::Missing => true,
            E::Int(_) | E::FieldInt => false,
            E::Neg(a) => is_dec(a),
            E::Bin(_, a, b) => is_dec(a) || is_dec(b),
        }
    }

    fn got(v: OwnedValue) -> M {
        match v {
            OwnedValue::Null => M::Null,
            OwnedValue::Int(i) => M::Int(i),
            OwnedValue::Decimal(d) => M::Dec(d),
            OwnedValue::Bool(b) => M::Bool(b),
            other => panic!("unexpected {other:?}"),
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]

        #[test]
        fn arithmetic_matches_model(e in expr()) {
            let text = src(&e);
            let p = compile(&text, &schema()).unwrap();
            let want = model(&e);
            let ty = p.result_type().clone();
            prop_assert_eq!(ty, if is_dec(&e) { Type::Decimal } else { Type::Int }, "{}", text);
            prop_assert_eq!(got(p.eval(&record())), want, "{}", text);
        }

        #[test]
        fn comparison_matches_model(a in expr(), b in expr(), op in prop_oneof![Just("<"), Just("<="), Just("=="), Just("!="), Just(">"), Just(">=")]) {
            let text = format!("{} {op} {}", src(&a), src(&b));
            let p = compile_bool(&text, &schema()).unwrap();
            let num = |m: M| match m { M::Int(i) => Some(Decimal::from(i)), M::Dec(d) => Some(d), _ => None };
            let want = match (num(model(&a)), num(model(&b))) {
                (Some(x), Some(y)) => M::Bool(match op { "<" => x < y, "<=" => x <= y, "==" => x == y, "!=" => x != y, ">" => x > y, _ => x >= y }),
                _ => M::Null,
            };
            prop_assert_eq!(got(p.eval(&record())), want, "{}", text);
        }

        #[test]
        fn never_panics_on_any_text(text in "\\PC{0,80}") {
            let _ = compile(&text, &schema()).map(|p| p.eval(&record()));
        }

        #[test]
        fn never_panics_on_token_soup(parts in proptest::collection::vec(prop_oneof![
            Just("event.amount"), Just("event.type"), Just("event.attributes.x"), Just("event.gap"), Just("event.events"),
            Just("("), Just(")"), Just("["), Just("]"), Just(","), Just("."), Just("?"), Just(":"),
            Just("&&"), Just("||"), Just("!"), Just("=="), Just("<"), Just("+"), Just("-"), Just("*"), Just("/"), Just("%"), Just(" in "),
            Just("1"), Just("0"), Just("2.5"), Just("'s'"), Just("null"), Just("true"),
            Just("size"), Just("has"), Just("min"), Just("duration('1m')"), Just(".minutes()"), Just(".startsWith('a')"), Just("string"),
        ], 0..40)) {
            let text = parts.join(" ");
            let _ = compile(&text, &schema()).map(|p| (p.eval(&record()), p.eval_bool(&record())));
        }
    }
}

/// The shapes rules and features use most get nodes of their own.
#[test]
fn common_shapes_get_nodes_of_their_own() {
    use crate::eval::Node;
    let sc = schema();
    let node = |src: &str| compile(src, &sc).unwrap().node;
    assert!(matches!(node("event.time.getHours()"), Node::TimePartField(..)));
    assert!(matches!(node("(event.time + duration('1h')).getHours()"), Node::TimePart(..)));
    assert!(matches!(node("event.count in [1, 7]"), Node::InInts(..)));
    assert!(matches!(node("event.count in [1, 7.5]"), Node::InConst(..)));
    // Both give what the general nodes give.
    assert!(truth("event.time.getHours() == 1 && (event.time + duration('1h')).getHours() == 2"));
    assert!(truth("event.time.getDayOfWeek() in [6, 0] && event.time.getDayOfWeek('UTC') in [6]"));
}

/// Compiled trees stay compact: a node fits half a cache line.
#[test]
fn nodes_are_small() {
    assert!(std::mem::size_of::<crate::eval::Node>() <= 32);
}

#[test]
fn extreme_literals_do_not_panic() {
    for src in [
        "1e-99999 > 0.0",
        "decimal('1e-99999') > 0",
        "decimal('1e400') > 0",
        "decimal('-1e28') < 0",
        "decimal('79228162514264337593543950335') + 1 > 0",
        "decimal('79228162514264337593543950335') * 10 > 0",
        "decimal('0.0000000000000000000000000000001') == 0",
        "decimal(1e300) > 0",
        "int(1e300) > 0",
        "int(-9.3e18) > 0",
        "double('1e400') > 0",
        "duration('106751991d') > duration('1s')",
        "duration('9223372036854775807us') + duration('1us') > duration('0')",
        "timestamp('9999-12-31T23:59:59Z') > timestamp('0001-01-01T00:00:00Z')",
        "event.time + duration('9223372036854775807us') > event.time",
        "string(1e300) == ''",
        "abs(decimal('-79228162514264337593543950335')) > 0",
        "event.amount % decimal('0.0000000000000000000000000001') == 0",
        "event.amount / decimal('0.0000000000000000000000000001') > 0",
    ] {
        if let Ok(p) = compile(src, &schema()) {
            let _ = p.eval(&record());
        }
    }
}
