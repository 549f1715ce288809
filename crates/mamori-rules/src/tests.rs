//! Unit tests of packs, rulesets and decisions. The data-driven cases are in
//! `tests/golden/`; malformed inputs in `tests/malformed.rs`.

use std::str::FromStr;

use mamori_core::{Decimal, OwnedValue, StaticSchema, Timestamp, Type, VecRecord};

use super::*;

fn schema() -> StaticSchema {
    StaticSchema::new([
        ("event.type", Type::String),
        ("event.amount", Type::Decimal),
        ("event.auth", Type::String),
        ("features.links_24h", Type::Int),
    ])
}

fn rec(ty: &str, amount: &str, auth: &str, links: i64) -> VecRecord {
    VecRecord(vec![
        OwnedValue::Str(ty.into()),
        OwnedValue::Decimal(Decimal::from_str(amount).unwrap()),
        OwnedValue::Str(auth.into()),
        OwnedValue::Int(links),
    ])
}

const LINKING: &str = r#"
[pack]
name = "linking"
description = "links"

[thresholds]
challenge = 300
hold = 600

[[rule]]
id = "pin-only-link"
description = "A link requested with only an account number and PIN"
when = 'event.type == "link_requested" && event.auth == "pin_only"'
score = 400
action = "challenge"
reason = "link requested with {event.auth} only, {features.links_24h} links from this device today"

[[rule]]
id = "many-links"
when = 'features.links_24h >= 3'
score = 250

[[rule]]
id = "watch-big"
when = 'event.amount > 1000000'
score = 999
action = "block"
shadow = true
"#;

const DRAIN: &str = r#"
[pack]
name = "drain"
[[rule]]
id = "big-charge"
when = 'event.type == "charge" && event.amount >= 100000'
score = 300
reason = "charge of {event.amount} JPY"
"#;

fn ruleset(texts: &[(&str, &str)]) -> Ruleset {
    let sources: Vec<PackSource> = texts.iter().map(|(n, t)| PackSource::new(*n, *t)).collect();
    Ruleset::compile(&sources, &schema()).unwrap_or_else(|e| panic!("{}", render_all(&e)))
}

#[test]
fn decides_with_actions_scores_and_thresholds() {
    let rs = ruleset(&[("linking.toml", LINKING), ("drain.toml", DRAIN)]);
    let d = rs.evaluate(&rec("link_requested", "0", "pin_only", 1));
    assert_eq!((d.action, d.score), (Action::Challenge, 400));
    assert_eq!(d.reasons[0].detail, "link requested with pin_only only, 1 links from this device today");

    // 400 + 250 = 650 reaches the hold threshold: raised from challenge to hold.
    let d = rs.evaluate(&rec("link_requested", "0", "pin_only", 3));
    assert_eq!((d.action, d.score), (Action::Hold, 650));
    let order: Vec<&str> = d.reasons.iter().map(|r| r.rule.as_str()).collect();
    assert_eq!(order, ["pin-only-link", "many-links"]);
    assert_eq!(d.reasons[1].detail, "many-links");

    // Thresholds of one pack apply to the total, which other packs add to.
    let d = rs.evaluate(&rec("charge", "100000.00", "otp", 0));
    assert_eq!((d.action, d.score), (Action::Challenge, 300));
    assert_eq!(d.reasons[0].detail, "charge of 100000 JPY");

    // Shadow rules are reported, never acting.
    let d = rs.evaluate(&rec("charge", "5000000", "otp", 0));
    assert_eq!((d.action, d.score), (Action::Challenge, 300));
    assert_eq!(d.shadow.len(), 1);
    assert_eq!(d.shadow[0].rule, "watch-big");

    let d = rs.evaluate(&rec("login", "0", "otp", 0));
    assert_eq!((d.action, d.score, d.reasons.len(), d.fired()), (Action::Allow, 0, 0, false));
    assert!(d.ruleset.starts_with("sha256:") && d.ruleset.len() == 7 + 64);
}

#[test]
fn ruleset_id_ignores_load_order_and_formatting() {
    let a = ruleset(&[("linking.toml", LINKING), ("drain.toml", DRAIN)]);
    let b = ruleset(&[("x/drain.toml", DRAIN), ("y/linking.toml", LINKING)]);
    assert_eq!(a.id(), b.id());
    let reformatted = DRAIN.replace("score = 300", "score   =   300 # a comment");
    let c = ruleset(&[("linking.toml", LINKING), ("drain.toml", &reformatted)]);
    assert_eq!(a.id(), c.id());
    let changed = DRAIN.replace("score = 300", "score = 301");
    let d = ruleset(&[("linking.toml", LINKING), ("drain.toml", &changed)]);
    assert_ne!(a.id(), d.id());
    let names: Vec<&str> = a.packs().iter().map(|p| p.name.as_str()).collect();
    assert_eq!(names, ["drain", "linking"]);
    assert_eq!(a.rules().len(), 4);
    assert_eq!(a.rules().next().unwrap().pack, "drain");
    assert_eq!(a.fields().len(), 4);
}

#[test]
fn serializes_in_the_wire_shape() {
    let rs = ruleset(&[("linking.toml", LINKING)]);
    let d = rs.evaluate(&rec("link_requested", "0", "pin_only", 3));
    let v = serde_json::to_value(&d).unwrap();
    let keys: Vec<&String> = v.as_object().unwrap().keys().collect();
    assert_eq!(keys, ["decision", "score", "reasons", "ruleset"]);
    assert_eq!(v["decision"], "hold");
    assert_eq!(v["score"], 650);
    assert_eq!(
        v["reasons"][0],
        serde_json::json!({"rule": "pin-only-link", "score": 400, "detail": "link requested with pin_only only, 3 links from this device today"})
    );
    let t = Timestamp::parse_rfc3339("2026-11-21T10:00:00.123Z").unwrap();
    let w = serde_json::to_value(d.wire("e-1", t)).unwrap();
    let keys: Vec<&String> = w.as_object().unwrap().keys().collect();
    assert_eq!(keys, ["event_id", "decision", "score", "reasons", "ruleset", "decided_at"]);
    assert_eq!(w["decided_at"], "2026-11-21T10:00:00.123Z");
    let back: Decision = serde_json::from_value(v).unwrap();
    assert_eq!((back.action, back.score, back.reasons.len(), &*back.ruleset), (Action::Hold, 650, 2, rs.id()));
    assert!(Action::Allow < Action::Challenge && Action::Challenge < Action::Hold && Action::Hold < Action::Block);
    assert_eq!("block".parse::<Action>(), Ok(Action::Block));
}

#[test]
fn collects_errors_across_packs_with_positions() {
    let bad = "[pack]\nname = \"bad\"\n[[rule]]\nid = \"x\"\nwhen = 'event.amout > 1'\n[[rule]]\nid = \"y\"\nwhen = 'event.type == 1'\nsocre = 5\n";
    let dup = "[pack]\nname = \"dup\"\n[[rule]]\nid = \"x\"\nwhen = 'true'\n";
    let sources = [PackSource::new("bad.toml", bad), PackSource::new("dup.toml", dup)];
    let errs = Ruleset::compile(&sources, &schema()).unwrap_err();
    let got: Vec<(String, &str, usize, usize)> = errs.iter().map(|e| (e.file.clone(), e.code, e.line, e.column)).collect();
    assert_eq!(
        got,
        [
            ("bad.toml".to_string(), "E001", 5, 9),
            ("bad.toml".to_string(), "E003", 8, 9),
            ("bad.toml".to_string(), "R101", 9, 1),
            ("dup.toml".to_string(), "R105", 4, 6),
        ]
    );
    assert_eq!(errs[0].help.as_deref(), Some("did you mean `event.amount`?"));
    assert_eq!(errs[2].help.as_deref(), Some("did you mean `score`?"));
    assert_eq!(errs[3].help.as_deref(), Some("first defined at bad.toml:4:6"));
    assert_eq!(
        errs[0].to_string(),
        "bad.toml:5:9: error[E001]: unknown field `event.amout`\n  |\n5 | when = 'event.amout > 1'\n  |         ^^^^^^^^^^^\n  = help: did you mean `event.amount`?"
    );
    assert!(render_all(&errs).ends_with("4 errors"));
}

#[test]
fn expression_positions_map_into_multiline_and_escaped_strings() {
    let text = "[pack]\nname = \"p\"\n[[rule]]\nid = \"a\"\nwhen = '''\nevent.type == \"x\" &&\n  event.amout > 1'''\n[[rule]]\nid = \"b\"\nwhen = \"event.type == \\\"x\\\" && event.amout > 1\"\n[[rule]]\nid = \"c\"\nwhen = 'true'\nreason = 'amount {event.amout}'\n";
    let errs = Ruleset::compile(&[PackSource::new("p.toml", text)], &schema()).unwrap_err();
    let got: Vec<(usize, usize)> = errs.iter().map(|e| (e.line, e.column)).collect();
    // Exact inside a multi-line literal string; the string's start when it has escapes.
    assert_eq!(got, [(7, 3), (10, 8), (14, 19)]);
}

#[test]
fn duplicate_pack_names() {
    let sources = [PackSource::new("a.toml", DRAIN), PackSource::new("b.toml", DRAIN.replace("big-charge", "other"))];
    let errs = Ruleset::compile(&sources, &schema()).unwrap_err();
    assert_eq!(errs.len(), 1);
    assert_eq!((errs[0].code, errs[0].file.as_str()), (codes::DUPLICATE_PACK, "b.toml"));
}

#[test]
fn empty_ruleset_allows() {
    let rs = Ruleset::compile(&[], &schema()).unwrap();
    let d = rs.evaluate(&rec("x", "1", "y", 0));
    assert_eq!((d.action, d.score), (Action::Allow, 0));
}

mod index {
    use proptest::prelude::*;

    use super::*;

    const TYPES: [&str; 4] = ["charge", "login", "transfer", "x"];

    fn condition() -> impl Strategy<Value = String> {
        let term = prop_oneof![
            (0..4usize).prop_map(|i| format!("event.type == \"{}\"", TYPES[i])),
            (0..4usize).prop_map(|i| format!("\"{}\" == event.type", TYPES[i])),
            (0..4usize, 0..4usize).prop_map(|(i, j)| format!("event.type in [\"{}\", \"{}\"]", TYPES[i], TYPES[j])),
            (0..4usize).prop_map(|i| format!("event.type != \"{}\"", TYPES[i])),
            (0..4usize).prop_map(|i| format!("event.auth == \"{}\"", TYPES[i])),
            (0i64..5).prop_map(|n| format!("features.links_24h >= {n}")),
            Just("event.amount > 100".to_string()),
            Just("true".to_string()),
        ];
        prop::collection::vec(term, 1..4).prop_flat_map(|terms| prop_oneof![Just(terms.join(" && ")), Just(terms.join(" || "))])
    }

    proptest! {
        #[test]
        fn index_decides_like_testing_every_rule(
            conds in prop::collection::vec((condition(), 0i64..500, 0usize..4, any::<bool>()), 1..12),
            ty in 0..5usize, auth in 0..4usize, links in 0i64..6, amount in 0i64..300,
        ) {
            let mut text = String::from("[pack]\nname = \"p\"\n[thresholds]\nhold = 700\n");
            for (i, (c, score, a, shadow)) in conds.iter().enumerate() {
                let action = Action::ALL[*a];
                text.push_str(&format!("[[rule]]\nid = \"r{i}\"\nwhen = '{c}'\nscore = {score}\naction = \"{action}\"\nshadow = {shadow}\n"));
            }
            let rs = Ruleset::compile(&[PackSource::new("p.toml", text)], &schema()).unwrap();
            let ty = if ty == 4 { None } else { Some(TYPES[ty]) };
            let mut r = rec(ty.unwrap_or(""), &amount.to_string(), TYPES[auth], links);
            if ty.is_none() {
                r.0[0] = OwnedValue::Null;
            }
            prop_assert_eq!(rs.evaluate(&r), rs.evaluate_every_rule(&r));
        }
    }
}
