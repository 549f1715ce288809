//! The detection core end to end: v1 events as institutions send them, features declared
//! in TOML, a rule pack compiled against the event contract and those features, and the
//! decisions in the wire shape of spec/events.md.

use mamori_core::event::{Event, EventRecord, EventSchema};
use mamori_core::{CompositeRecord, CompositeSchema, Record, Timestamp};
use mamori_features::{Engine, FeatureVector};
use mamori_rules::{Action, PackSource, Ruleset};

const FEATURES: &str = r#"
[[feature]]
name = "link_verified_at"
entity = "link"
aggregate = "first_seen"
filter = 'event.type == "link_verified"'
output = false

[[feature]]
name = "minutes_since_link"
expr = "(event.time - features.link_verified_at).minutes()"

[[feature]]
name = "charges_24h"
entity = "link"
aggregate = "sum"
of = "event.amount"
window = "24h"
filter = 'event.type == "charge"'

[[feature]]
name = "charge_count_24h"
entity = "link"
aggregate = "count"
window = "24h"
filter = 'event.type == "charge"'
"#;

const RULES: &str = r#"
[pack]
name = "linking"

[[rule]]
id = "link-then-drain"
description = "A large charge soon after the link was verified"
when = 'event.type == "charge" && features.minutes_since_link < 60 && event.amount >= 50000'
score = 400
action = "hold"
reason = "charge of {event.amount} {event.currency} {features.minutes_since_link} min after the link was verified"

[[rule]]
id = "charge-cap-24h"
description = "Charges through one link above 100,000 JPY in 24 hours"
when = 'event.type == "charge" && features.charges_24h > 100000'
score = 700
action = "block"
reason = "{features.charge_count_24h} charges of {features.charges_24h} JPY through this link in 24 hours"

[[rule]]
id = "watch-small-charges"
when = 'event.type == "charge" && event.amount < 1000'
score = 10
action = "challenge"
shadow = true
reason = "small charge of {event.amount}"
"#;

fn event(json: &str) -> Event {
    Event::from_json_slice(json.as_bytes()).unwrap_or_else(|e| panic!("{json}: {e}"))
}

#[test]
fn link_then_drain_is_held_then_blocked() {
    let events = EventSchema::new();
    let (_, set) = mamori_features::load("features.toml", FEATURES, &events).unwrap();
    let schema = CompositeSchema::new().with("event", &events).with("features", set.schema());
    let rules =
        Ruleset::compile(&[PackSource::new("linking.toml", RULES)], &schema).unwrap_or_else(|e| panic!("{}", mamori_rules::render_all(&e)));
    let mut engine = Engine::new(&set);
    let mut fv = FeatureVector::default();

    let stream = [
        r#"{"id":"v1","type":"link_verified","time":"2026-11-21T10:00:00+09:00","institution":"wallet","link":"L1"}"#,
        r#"{"id":"c1","type":"charge","time":"2026-11-21T10:35:00+09:00","institution":"wallet","account":"w-1","link":"L1","amount":"60000"}"#,
        r#"{"id":"c2","type":"charge","time":"2026-11-21T12:10:00+09:00","institution":"wallet","account":"w-1","link":"L1","amount":50000}"#,
        r#"{"id":"c3","type":"charge","time":"2026-11-23T12:00:00+09:00","institution":"wallet","account":"w-1","link":"L1","amount":"500"}"#,
    ];
    let mut decisions = Vec::new();
    for json in stream {
        let e = event(json);
        let rec = EventRecord::new(&events, &e);
        engine.process(&rec, e.time, &mut fv);
        let both = CompositeRecord { parts: [&rec as &dyn Record, &fv] };
        decisions.push((e.id.clone(), rules.evaluate(&both)));
    }

    let (_, d) = &decisions[0];
    assert_eq!(d.action, Action::Allow);
    assert!(d.reasons.is_empty());

    let (_, d) = &decisions[1];
    assert_eq!(d.action, Action::Hold);
    assert_eq!(d.score, 400);
    assert_eq!(d.reasons[0].rule, "link-then-drain");
    assert_eq!(d.reasons[0].detail, "charge of 60000 JPY 35 min after the link was verified");

    // 110,000 JPY in a day through the link: the cap blocks, whatever the age of the link.
    let (_, d) = &decisions[2];
    assert_eq!(d.action, Action::Block);
    assert_eq!(d.reasons.iter().map(|r| r.rule.as_str()).collect::<Vec<_>>(), ["charge-cap-24h"]);
    assert_eq!(d.reasons[0].detail, "2 charges of 110000 JPY through this link in 24 hours");

    // Two days later a small charge: nothing acts; the shadow rule reports without acting.
    let (_, d) = &decisions[3];
    assert_eq!(d.action, Action::Allow);
    assert!(d.reasons.is_empty());
    assert_eq!(d.shadow.iter().map(|r| r.rule.as_str()).collect::<Vec<_>>(), ["watch-small-charges"]);

    // The wire shape of spec/events.md.
    let wire = serde_json::to_value(decisions[1].1.wire("c1", Timestamp::parse_rfc3339("2026-11-21T01:35:00.123Z").unwrap())).unwrap();
    assert_eq!(wire["event_id"], "c1");
    assert_eq!(wire["decision"], "hold");
    assert_eq!(wire["score"], 400);
    assert_eq!(wire["reasons"][0]["rule"], "link-then-drain");
    assert!(wire["ruleset"].as_str().unwrap().starts_with("sha256:"));
    assert_eq!(wire["decided_at"], "2026-11-21T01:35:00.123Z");
}

#[test]
fn a_rule_naming_an_undeclared_feature_is_refused_with_its_place() {
    let events = EventSchema::new();
    let (_, set) = mamori_features::load("features.toml", FEATURES, &events).unwrap();
    let schema = CompositeSchema::new().with("event", &events).with("features", set.schema());
    let pack = "[pack]\nname = \"p\"\n\n[[rule]]\nid = \"r\"\nwhen = 'features.charges_25h > 1'\naction = \"hold\"\n";
    let errs = Ruleset::compile(&[PackSource::new("p.toml", pack)], &schema).expect_err("unknown feature");
    let e = &errs[0];
    assert_eq!(e.code, "E001");
    assert_eq!((e.line, e.column), (6, 9));
    assert!(e.to_string().contains("features.charges_24h"), "{e}");
}
