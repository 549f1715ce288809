//! `Ruleset::fields_for`: what deciding an event of one kind may read, so that whoever
//! computes fields (the feature engine) can skip the rest.

use mamori_core::{FieldId, Resolution, Schema, StaticSchema, Type};
use mamori_rules::{PackSource, Ruleset};

fn schema() -> StaticSchema {
    StaticSchema::new([
        ("event.type", Type::String),
        ("event.amount", Type::Decimal),
        ("event.asset", Type::String),
        ("features.link_age", Type::Int),
        ("features.charges_1h", Type::Int),
        ("features.logins_failed", Type::Int),
        ("features.kyc", Type::String),
        ("features.outflow", Type::Int),
        ("features.unused", Type::Int),
    ])
}

fn id(path: &str) -> FieldId {
    let segs: Vec<&str> = path.split('.').collect();
    match schema().resolve(&segs) {
        Resolution::Field(id, _) => id,
        _ => panic!("{path}"),
    }
}

const PACK: &str = r#"
[pack]
name = "p"

[[rule]]
id = "young-link-charge"
when = 'event.type == "charge" && features.link_age < 60'
reason = "charged {event.amount} with {features.charges_1h} in the hour"
score = 50
action = "hold"

[[rule]]
id = "failed-logins"
when = 'event.type in ["login", "password_reset"] && features.logins_failed > 5'
score = 50
action = "block"

[[rule]]
id = "weak-kyc"
when = 'features.kyc == "none"'
score = 10
action = "challenge"
shadow = true

[[rule]]
id = "outflow"
when = 'event.type == "crypto_withdrawal" && features.outflow > 100'
score = 90
action = "hold"

[[breaker]]
id = "drain"
trips_on = ["outflow"]
key = ["event.asset"]
holds = 'event.amount > 0'
"#;

#[test]
fn fields_for_names_what_the_rules_that_can_fire_read() {
    let rules = Ruleset::compile(&[PackSource::new("p.toml", PACK)], &schema()).unwrap_or_else(|e| panic!("{e:?}"));
    let ty = id("event.type");
    let names = |value: &str| {
        let fields = rules.fields_for(ty, value);
        let mut names: Vec<&str> = [
            "event.type",
            "event.amount",
            "event.asset",
            "features.link_age",
            "features.charges_1h",
            "features.logins_failed",
            "features.kyc",
            "features.outflow",
            "features.unused",
        ]
        .into_iter()
        .filter(|p| fields.contains(&id(p)))
        .collect();
        names.sort_unstable();
        names
    };
    // A charge: its own rule's condition and reason, the unguarded (shadow) rule, the
    // breaker's key and `holds`; not what the login and crypto rules read.
    assert_eq!(names("charge"), ["event.amount", "event.asset", "event.type", "features.charges_1h", "features.kyc", "features.link_age"]);
    // Either value of an `in` list.
    assert_eq!(names("password_reset"), ["event.amount", "event.asset", "event.type", "features.kyc", "features.logins_failed"]);
    assert_eq!(names("crypto_withdrawal"), ["event.amount", "event.asset", "event.type", "features.kyc", "features.outflow"]);
    // A type no rule names: only the unguarded rule and the breaker.
    assert_eq!(names("trade"), ["event.amount", "event.asset", "features.kyc"]);
    // Guarded on another field: no rule is ruled out.
    assert_eq!(rules.fields_for(id("event.asset"), "BTC").len(), 8);
}

/// Three roots, as the service's packs have: the event, its features, and what another
/// analysis says of it (part 2).
fn rooted() -> (StaticSchema, StaticSchema, StaticSchema) {
    (
        StaticSchema::new([("type", Type::String), ("amount", Type::Decimal)]),
        StaticSchema::new([("charges_1h", Type::Int)]),
        StaticSchema::new([("point", Type::String), ("cards", Type::Int)]),
    )
}

fn reads_analysis(pack: &str) -> bool {
    let (event, features, analysis) = rooted();
    let schema = mamori_core::CompositeSchema::new().with("event", &event).with("features", &features).with("analysis", &analysis);
    let rules = Ruleset::compile(&[PackSource::new("p.toml", pack)], &schema).unwrap_or_else(|e| panic!("{e:?}"));
    assert!(rules.reads_part(0), "every pack here reads the event");
    rules.reads_part(2)
}

#[test]
fn reads_part_says_whether_anything_deciding_reads_a_root() {
    let head = "[pack]\nname = \"p\"\n";
    let rule =
        |when: &str, reason: &str| format!("[[rule]]\nid = \"r\"\nwhen = '{when}'\nreason = \"{reason}\"\nscore = 1\naction = \"hold\"\n");
    // Nothing reads the analysis.
    assert!(!reads_analysis(&format!("{head}{}", rule("event.amount > 5 && features.charges_1h > 2", "{event.amount}"))));
    // A condition, a reason, a shadow rule's condition.
    assert!(reads_analysis(&format!("{head}{}", rule("event.amount > 5 && analysis.cards >= 2", "x"))));
    assert!(reads_analysis(&format!("{head}{}", rule("event.amount > 5", "at {analysis.point}"))));
    assert!(reads_analysis(&format!("{head}{}shadow = true\n", rule("has(analysis.point) && event.amount > 1", "x"))));
    // A breaker's `holds`, and its key.
    let breaker = |key: &str, holds: &str| {
        format!(
            "{head}{}[[breaker]]\nid = \"b\"\ntrips_on = [\"r\"]\nkey = [\"{key}\"]\nholds = '{holds}'\n",
            rule("event.amount > 5", "x")
        )
    };
    assert!(!reads_analysis(&breaker("event.type", "event.amount > 0")));
    assert!(reads_analysis(&breaker("event.type", "analysis.cards > 0")));
    assert!(reads_analysis(&breaker("analysis.point", "event.amount > 0")));
}
