//! How long a decision takes: a table of named expressions, and a ruleset of 30 rules
//! over an event and 20 features (target: at most 2 µs per event on one core).
//!
//! `cargo bench -p mamori-rules --bench evaluate` (add `-- --quick` for a short run).
//! The first lines printed are a plain per-event measurement; criterion's table follows.

use std::hint::black_box;
use std::str::FromStr;
use std::time::Instant;

use criterion::Criterion;
use mamori_core::{CompositeRecord, CompositeSchema, Decimal, OwnedValue, Record, Schema, Span, StaticSchema, Timestamp, Type, VecRecord};
use mamori_rules::{PackSource, Ruleset};

fn event_schema() -> StaticSchema {
    StaticSchema::new([
        ("type", Type::String),
        ("amount", Type::Decimal),
        ("currency", Type::String),
        ("time", Type::Timestamp),
        ("auth", Type::String),
        ("direction", Type::String),
        ("holder.name_kana", Type::String),
        ("institution", Type::String),
        ("attributes.channel", Type::Dyn),
    ])
}

fn feature_schema() -> StaticSchema {
    StaticSchema::new([
        ("links_24h", Type::Int),
        ("charges_1h", Type::Int),
        ("charges_24h", Type::Int),
        ("charge_sum_24h", Type::Decimal),
        ("transfers_out_1h", Type::Int),
        ("since_link_verified", Type::Duration),
        ("since_payee_registered", Type::Duration),
        ("since_credential_change", Type::Duration),
        ("device_age", Type::Duration),
        ("device_accounts_24h", Type::Int),
        ("ip_accounts_24h", Type::Int),
        ("failed_logins_1h", Type::Int),
        ("amount_ratio_30d", Type::Double),
        ("avg_amount_30d", Type::Decimal),
        ("max_amount_90d", Type::Decimal),
        ("new_payee", Type::Bool),
        ("name_match", Type::Double),
        ("local_hour", Type::Int),
        ("withdrawals_24h", Type::Int),
        ("reported_device", Type::Bool),
    ])
}

fn dec(s: &str) -> OwnedValue {
    OwnedValue::Decimal(Decimal::from_str(s).unwrap())
}

fn event(kind: &str, amount: &str, auth: &str) -> VecRecord {
    VecRecord(vec![
        OwnedValue::Str(kind.into()),
        dec(amount),
        OwnedValue::Str("JPY".into()),
        OwnedValue::Timestamp(Timestamp::parse_rfc3339("2026-11-21T10:35:00+09:00").unwrap()),
        OwnedValue::Str(auth.into()),
        OwnedValue::Null,
        OwnedValue::Str("ヤマダ タロウ".into()),
        OwnedValue::Str("bank-a".into()),
        OwnedValue::Str("app".into()),
    ])
}

fn features(links: i64, since_link_min: i64) -> VecRecord {
    VecRecord(vec![
        OwnedValue::Int(links),
        OwnedValue::Int(1),
        OwnedValue::Int(2),
        dec("120000"),
        OwnedValue::Int(0),
        OwnedValue::Duration(Span::from_secs(since_link_min * 60)),
        OwnedValue::Null,
        OwnedValue::Duration(Span::from_secs(40 * 86_400)),
        OwnedValue::Duration(Span::from_secs(400 * 86_400)),
        OwnedValue::Int(1),
        OwnedValue::Int(2),
        OwnedValue::Int(0),
        OwnedValue::Double(1.4),
        dec("35000"),
        dec("90000"),
        OwnedValue::Bool(false),
        OwnedValue::Double(0.97),
        OwnedValue::Int(10),
        OwnedValue::Int(0),
        OwnedValue::Bool(false),
    ])
}

const RULES: &[(&str, &str, i64, &str)] = &[
    ("pin-only-link", r#"event.type == "link_requested" && event.auth == "pin_only""#, 400, "challenge"),
    ("link-burst", r#"event.type == "link_requested" && features.links_24h >= 3"#, 300, "challenge"),
    ("link-then-drain", r#"event.type == "charge" && features.since_link_verified < duration("1h") && event.amount >= 50000"#, 400, "hold"),
    ("charge-burst", r#"event.type == "charge" && features.charges_1h >= 5"#, 250, "allow"),
    ("charge-sum", r#"event.type == "charge" && features.charge_sum_24h + event.amount > 500000"#, 300, "challenge"),
    ("big-vs-history", r#"event.amount > features.max_amount_90d * 3 && event.amount > 100000"#, 200, "allow"),
    ("ratio-spike", r#"features.amount_ratio_30d > 10.0"#, 150, "allow"),
    ("fresh-payee", r#"event.type == "withdrawal" && features.since_payee_registered < duration("24h")"#, 350, "hold"),
    ("fresh-payee-big", r#"event.type == "withdrawal" && features.new_payee && event.amount >= 1000000"#, 500, "hold"),
    (
        "credential-then-move",
        r#"event.type in ["withdrawal", "transfer"] && features.since_credential_change < duration("30m")"#,
        450,
        "hold",
    ),
    ("new-device-move", r#"event.type in ["withdrawal", "transfer", "charge"] && features.device_age < duration("1d")"#, 200, "challenge"),
    ("device-fanout", r#"features.device_accounts_24h >= 5"#, 400, "hold"),
    ("ip-fanout", r#"features.ip_accounts_24h >= 10"#, 300, "challenge"),
    ("login-failures", r#"event.type == "login" && features.failed_logins_1h >= 5"#, 300, "challenge"),
    ("night-transfer", r#"event.type == "transfer" && (features.local_hour < 5 || features.local_hour >= 23)"#, 100, "allow"),
    ("name-mismatch", r#"event.type == "payee_registered" && features.name_match < 0.6"#, 350, "hold"),
    ("kana-only-name", r#"event.type == "account_opened" && !event.holder.name_kana.matches("^[ァ-ヶー ]+$")"#, 100, "allow"),
    ("reported-device", r#"features.reported_device"#, 900, "block"),
    ("withdrawal-burst", r#"event.type == "withdrawal" && features.withdrawals_24h >= 3"#, 300, "hold"),
    ("transfer-out-burst", r#"event.type == "transfer" && event.direction == "out" && features.transfers_out_1h >= 4"#, 300, "hold"),
    ("round-amount", r#"event.type == "withdrawal" && event.amount % 100000 == 0 && event.amount >= 500000"#, 100, "allow"),
    ("crypto-out", r#"event.type == "crypto_withdrawal" && event.amount > 10"#, 200, "challenge"),
    ("foreign-currency", r#"event.currency != "JPY" && event.amount > 1000"#, 50, "allow"),
    ("atm-channel", r#"event.attributes.channel == "atm" && event.amount >= 500000"#, 200, "challenge"),
    ("avg-deviation", r#"event.type == "charge" && event.amount > features.avg_amount_30d * 5"#, 150, "allow"),
    ("missing-holder", r#"event.type == "transfer" && !has(event.holder.name_kana)"#, 100, "allow"),
    ("weak-auth-big", r#"event.auth in ["pin_only", "password"] && event.amount >= 300000"#, 250, "challenge"),
    ("many-charges-day", r#"features.charges_24h >= 10"#, 200, "challenge"),
    ("recent-link-any", r#"features.since_link_verified < duration("10m") && event.type != "link_verified""#, 100, "allow"),
    ("institution-watch", r#"event.institution.startsWith("test-") && event.amount > 0"#, 10, "allow"),
];

fn pack_text() -> String {
    let mut t = String::from("[pack]\nname = \"bench\"\n\n[thresholds]\nchallenge = 300\nhold = 600\nblock = 900\n");
    for (id, when, score, action) in RULES {
        t.push_str(&format!(
            "\n[[rule]]\nid = \"{id}\"\nwhen = '{when}'\nscore = {score}\naction = \"{action}\"\nreason = \"{id}: {{event.type}} of {{event.amount}} {{event.currency}}, link {{features.since_link_verified}} ago\"\n"
        ));
    }
    t
}

/// Runs `f` for about half a second and returns nanoseconds per call.
fn per_call(mut f: impl FnMut()) -> f64 {
    for _ in 0..10_000 {
        f();
    }
    let mut n = 0u64;
    let start = Instant::now();
    while start.elapsed().as_millis() < 500 {
        for _ in 0..1_000 {
            f();
        }
        n += 1_000;
    }
    start.elapsed().as_nanos() as f64 / n as f64
}

fn main() {
    let ev_schema = event_schema();
    let ft_schema = feature_schema();
    let schema = CompositeSchema::new().with("event", &ev_schema).with("features", &ft_schema);
    let rs = Ruleset::compile(&[PackSource::new("bench.toml", pack_text())], &schema)
        .unwrap_or_else(|e| panic!("{}", mamori_rules::render_all(&e)));
    assert_eq!(rs.rules().len(), 30);

    let quiet_ev = event("charge", "8000", "otp");
    let quiet_ft = features(0, 600);
    let quiet = CompositeRecord { parts: [&quiet_ev as &dyn Record, &quiet_ft] };
    let hot_ev = event("charge", "300000", "pin_only");
    let hot_ft = features(1, 35);
    let hot = CompositeRecord { parts: [&hot_ev as &dyn Record, &hot_ft] };
    assert!(!rs.evaluate(&quiet).fired());
    let d = rs.evaluate(&hot);
    assert!(d.reasons.len() >= 2, "{d:?}");

    // `ITERS=n` evaluates n times per case and exits: for `perf stat`, whose instruction
    // counts do not depend on what else the machine is doing.
    if let Some(n) = std::env::var("ITERS").ok().and_then(|s| s.parse::<u64>().ok()) {
        let rec: &dyn Record = if std::env::var_os("HOT").is_some() { &hot } else { &quiet };
        for _ in 0..n {
            black_box(rs.evaluate(black_box(rec)));
        }
        return;
    }
    let q = per_call(|| {
        black_box(rs.evaluate(black_box(&quiet)));
    });
    let h = per_call(|| {
        black_box(rs.evaluate(black_box(&hot)));
    });
    if std::env::var_os("CALIBRATE").is_some() {
        let id = match schema.resolve(&["features", "links_24h"]) {
            mamori_core::Resolution::Field(id, _) => id,
            _ => unreachable!(),
        };
        let g = per_call(|| {
            black_box(black_box(&hot as &dyn Record).get(black_box(id)));
        });
        let p = mamori_expr::compile_bool("features.links_24h >= 3", &schema).unwrap();
        let e = per_call(|| {
            black_box(p.eval_bool(black_box(&hot)));
        });
        println!("calibration: record.get {g:.1} ns, int >= int {e:.1} ns");
    }
    println!("ruleset: 30 rules, 9 event fields + 20 features");
    println!("  no rule fires:        {q:8.0} ns/event");
    println!("  {} rules fire ({}): {h:8.0} ns/event", d.reasons.len(), d.action);

    let mut c = Criterion::default().configure_from_args();
    {
        let mut g = c.benchmark_group("evaluate");
        g.bench_function("30 rules, none fires", |b| b.iter(|| rs.evaluate(black_box(&quiet))));
        g.bench_function("30 rules, 4 fire", |b| b.iter(|| rs.evaluate(black_box(&hot))));
        g.finish();
    }
    {
        let table: &[(&str, &str)] = &[
            ("string ==", r#"event.type == "charge""#),
            ("decimal >= int", "event.amount >= 50000"),
            ("decimal > decimal * int", "event.amount > features.max_amount_90d * 3"),
            ("decimal + decimal", "features.charge_sum_24h + event.amount > 500000"),
            ("int >= int", "features.links_24h >= 3"),
            ("double > double", "features.amount_ratio_30d > 10.0"),
            ("duration < literal", r#"features.since_link_verified < duration("1h")"#),
            ("timestamp arithmetic", r#"event.time - features.since_link_verified > timestamp("2026-01-01T00:00:00Z")"#),
            ("in [3 strings]", r#"event.type in ["withdrawal", "transfer", "charge"]"#),
            (
                "in [20 strings]",
                r#"event.type in ["a", "b", "c", "d", "e", "f", "g", "h", "i", "j", "k", "l", "m", "n", "o", "p", "q", "r", "s", "charge"]"#,
            ),
            ("startsWith", r#"event.institution.startsWith("bank-")"#),
            ("matches", r#"event.holder.name_kana.matches("^[ァ-ヶー ]+$")"#),
            ("has", "has(event.holder.name_kana)"),
            ("dyn ==", r#"event.attributes.channel == "app""#),
            ("&& of 3", r#"event.type == "charge" && features.since_link_verified < duration("1h") && event.amount >= 50000"#),
            ("?:", r#"(event.amount > 10000 ? features.links_24h : 0) > 0"#),
        ];
        let mut g = c.benchmark_group("expr");
        for (name, src) in table {
            let p = mamori_expr::compile_bool(src, &schema).unwrap_or_else(|e| panic!("{src}: {e:?}"));
            g.bench_function(*name, |b| b.iter(|| p.eval_bool(black_box(&hot))));
        }
        g.finish();
    }
    c.final_summary();
}
