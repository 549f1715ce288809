//! The built-in packs on short, hand-written stories: the holder checks against the
//! bank's own record (names compared normalised), elderly holders, links after a
//! credential change, the monthly cap by calendar month in Japan, payees after a change
//! of the account's e-mail, and logins from a new device and address.

use std::sync::Arc;

use mamori_core::event::{Event, EventSchema};
use mamori_rules::{Action, Decision};
use mamori_server::{Judge, Packs};
use serde_json::{Value, json};

fn judge() -> Judge {
    let events = Arc::new(EventSchema::new());
    let packs = Packs::builtin(&events).unwrap_or_else(|e| panic!("{e}"));
    Judge::new(packs, events)
}

fn decide(j: &mut Judge, v: Value) -> Decision {
    let event = Event::from_json_value(&v).unwrap_or_else(|e| panic!("{e:?}: {v}"));
    j.judge(&event)
}

fn rules(d: &Decision) -> Vec<&str> {
    d.reasons.iter().map(|r| r.rule.as_str()).collect()
}

fn detail<'d>(d: &'d Decision, rule: &str) -> &'d str {
    d.reasons.iter().find(|r| r.rule == rule).map(|r| r.detail.as_str()).unwrap_or_else(|| panic!("{rule} did not fire: {d:?}"))
}

/// The bank opened account b-1 for ヤマダ タロウ, born 1950-04-01, phone +819011112222;
/// the wallet opened w-1 two days before the link, with an IC chip.
fn opened(j: &mut Judge) {
    decide(
        j,
        json!({"id":"b-open","type":"account_opened","time":"2020-01-10T10:00:00+09:00","institution":"bank","account":"b-1","kyc":"in_person",
               "holder":{"name_kana":"ヤマダ タロウ","birth_date":"1950-04-01","phone":"+819011112222"}}),
    );
    decide(
        j,
        json!({"id":"w-open","type":"account_opened","time":"2026-11-19T10:00:00+09:00","institution":"wallet","account":"w-1","kyc":"ic_chip",
               "device":"d-w","holder":{"name_kana":"ヤマダ タロウ"}}),
    );
}

fn link(id: &str, time: &str, holder: Value, auth: &str) -> Value {
    json!({"id":id,"type":"link_requested","time":time,"institution":"bank","account":"b-1","link":format!("L-{id}"),
           "bank":{"institution":"bank","account":"b-1"},"wallet":{"institution":"wallet","account":"w-1"},"holder":holder,"auth":auth})
}

#[test]
fn the_wallets_holder_is_checked_against_the_banks() {
    let mut j = judge();
    opened(&mut j);
    // The same person, written in half-width kana: no mismatch; 76 years old: a signal only.
    let d = decide(
        &mut j,
        link("l1", "2026-11-21T10:00:00+09:00", json!({"name_kana":"ﾔﾏﾀﾞ ﾀﾛｳ","birth_date":"1950-04-01","phone":"+819011112222"}), "otp"),
    );
    assert_eq!(d.action, Action::Allow, "{d:?}");
    assert_eq!(rules(&d), ["link-elderly-holder", "identity"], "{d:?}");
    assert_eq!(detail(&d, "link-elderly-holder"), "the holder is 76 years old");
    assert_eq!(detail(&d, "identity"), "identity match: name (katakana, normalised) match, birth date match, phone match");
    // Another name: held.
    let d = decide(&mut j, link("l2", "2026-11-21T10:05:00+09:00", json!({"name_kana":"スズキ ハナコ","birth_date":"1950-04-01"}), "otp"));
    assert_eq!(d.action, Action::Hold, "{d:?}");
    assert!(rules(&d).contains(&"link-holder-name-mismatch"), "{d:?}");
    assert_eq!(
        detail(&d, "identity"),
        "identity mismatch: name (katakana, normalised) mismatch, birth date match, phone not on both sides"
    );
    // Another birth date: held.
    let d = decide(&mut j, link("l3", "2026-11-21T10:10:00+09:00", json!({"name_kana":"ヤマダ タロウ","birth_date":"1960-04-01"}), "otp"));
    assert!(rules(&d).contains(&"link-holder-birth-mismatch") && d.action == Action::Hold, "{d:?}");
    // Another phone and an elderly holder: two signals, together a challenge.
    let d = decide(
        &mut j,
        link(
            "l4",
            "2026-11-21T10:15:00+09:00",
            json!({"name_kana":"ヤマダ タロウ","birth_date":"1950-04-01","phone":"+819099998888"}),
            "otp",
        ),
    );
    assert_eq!(d.action, Action::Allow, "150 + 100 is under the challenge threshold: {d:?}");
    assert!(rules(&d).contains(&"link-phone-not-on-file"), "{d:?}");
    assert_eq!(detail(&d, "identity"), "identity partial: name (katakana, normalised) match, birth date match, phone mismatch");
}

#[test]
fn a_link_soon_after_a_credential_change_is_challenged() {
    let mut j = judge();
    opened(&mut j);
    decide(
        &mut j,
        json!({"id":"c1","type":"credential_changed","time":"2026-11-21T09:00:00+09:00","institution":"bank","account":"b-1","what":"phone"}),
    );
    let d = decide(&mut j, link("l1", "2026-11-21T12:00:00+09:00", json!({"name_kana":"ヤマダ タロウ"}), "otp"));
    assert_eq!(d.action, Action::Challenge, "{d:?}");
    assert_eq!(detail(&d, "link-after-credential-change"), "the bank account's credentials changed 3 h before this link was requested");
}

#[test]
fn the_monthly_cap_counts_the_calendar_month_in_japan() {
    let mut j = judge();
    decide(&mut j, json!({"id":"v","type":"link_verified","time":"2026-09-01T10:00:00+09:00","institution":"bank","link":"L1"}));
    let charge = |id: &str, time: &str| json!({"id":id,"type":"charge","time":time,"institution":"wallet","account":"w-1","link":"L1","amount":"100000"});
    for (id, time) in [("c1", "2026-10-10T10:00:00+09:00"), ("c2", "2026-10-20T10:00:00+09:00"), ("c3", "2026-10-31T23:00:00+09:00")] {
        let d = decide(&mut j, charge(id, time));
        assert!(!rules(&d).contains(&"charge-over-monthly-cap"), "{id}: {d:?}");
    }
    // 00:30 on 1 November in Japan: a new month, though 30 days hold 400,000 JPY.
    let d = decide(&mut j, charge("c4", "2026-11-01T00:30:00+09:00"));
    assert!(!rules(&d).contains(&"charge-over-monthly-cap"), "{d:?}");
    for id in ["c5", "c6"] {
        decide(&mut j, charge(id, "2026-11-10T10:00:00+09:00"));
    }
    let d = decide(&mut j, charge("c7", "2026-11-11T10:00:00+09:00"));
    assert_eq!(d.action, Action::Block, "{d:?}");
    assert_eq!(
        detail(&d, "charge-over-monthly-cap"),
        "charges of 400000 JPY through this link this month, over the 300,000 JPY monthly cap"
    );
}

#[test]
fn a_payee_after_an_email_change_is_held_and_a_new_device_and_address_noted() {
    let mut j = judge();
    let login = |id: &str, time: &str, device: &str, ip: &str| json!({"id":id,"type":"login","time":time,"institution":"broker","account":"s-1","success":true,"method":"password","device":device,"ip":ip});
    let d = decide(&mut j, login("g1", "2026-11-01T09:00:00+09:00", "d-home", "198.51.100.7"));
    assert!(rules(&d).is_empty(), "the first login has nothing to compare with: {d:?}");
    let d = decide(&mut j, login("g2", "2026-11-21T09:00:00+09:00", "d-evil", "203.0.113.9"));
    assert_eq!(
        detail(&d, "login-new-device-and-address"),
        "login from a device and an address never seen on this account in 1 earlier logins"
    );
    decide(
        &mut j,
        json!({"id":"e","type":"credential_changed","time":"2026-11-21T09:05:00+09:00","institution":"broker","account":"s-1","what":"email"}),
    );
    let d = decide(
        &mut j,
        json!({"id":"p","type":"payee_registered","time":"2026-11-21T09:20:00+09:00","institution":"broker","account":"s-1",
               "payee":{"institution":"other-bank","account":"x-9"},"holder":{"name_kana":"ヤマダ タロウ"}}),
    );
    assert_eq!(d.action, Action::Hold, "{d:?}");
    assert_eq!(detail(&d, "payee-after-channel-change"), "payee registered 0 h after the account's e-mail or phone was changed");
}

/// The built-in rule on the learned model: silent without a model, a challenge when the
/// model loaded into the judge scores the event 0.9 or more, with its drivers in words.
#[test]
fn a_high_model_score_is_challenged() {
    let mut j = judge();
    let open = |id: &str, minute: u32, kana: &str| {
        json!({"id": id, "type": "account_opened", "time": format!("2026-11-21T10:{minute:02}:00+09:00"), "institution": "wallet",
               "account": format!("w-{id}"), "kyc": "mail", "device": "d-shared", "holder": {"name_kana": kana}})
    };
    let d = decide(&mut j, open("a1", 0, "ヤマダ タロウ"));
    assert!(!rules(&d).contains(&"model-high-risk") && d.model.is_none(), "{d:?}");
    // A model of one built-in feature: a device that opened wallets for 3 or more people.
    let names = vec!["device_holders_7d".to_string()];
    let x: Vec<Vec<f64>> = (0..600).map(|i| vec![f64::from(i % 6)]).collect();
    let y: Vec<bool> = x.iter().map(|r| r[0] >= 3.0).collect();
    let model = mamori_model::train(&names, &x, &y, &mamori_model::Params { trees: 50, learning_rate: 0.3, ..Default::default() }).unwrap();
    let file = mamori_model::ModelFile {
        mamori_model: mamori_model::MODEL_FILE_VERSION,
        features_fingerprint: hex::encode(j.packs().features.fingerprint()),
        trained_from: "2026-11-01".into(),
        trained_to: "2026-11-08".into(),
        as_of: "2026-11-15T00:00:00Z".into(),
        rows: x.len(),
        frauds: y.iter().filter(|&&b| b).count(),
        events: vec!["account_opened".into()],
        model,
    };
    let scorer = mamori_server::scorer::Scorer::from_bytes(&file.to_json(), &j.packs().features).unwrap();
    j.set_model(Some(Arc::new(scorer)));
    let d = decide(&mut j, open("a2", 5, "スズキ ハナコ"));
    assert!(!rules(&d).contains(&"model-high-risk"), "{d:?}");
    assert!(d.model.as_ref().unwrap().score < 0.1, "{d:?}");
    let d = decide(&mut j, open("a3", 9, "サトウ ジロウ"));
    assert!(rules(&d).contains(&"model-high-risk"), "{d:?}");
    assert!(d.action >= Action::Challenge);
    assert!(detail(&d, "model-high-risk").starts_with("the learned model puts the probability of fraud at 99%"), "{d:?}");
    let m = d.model.unwrap();
    assert_eq!(m.drivers.len(), 1);
    assert_eq!(m.drivers[0].feature, "device_holders_7d");
    assert_eq!(m.drivers[0].value, Some(3.0));
    assert!(m.drivers[0].detail.starts_with("device_holders_7d = 3 raised the fraud score"), "{:?}", m.drivers);
}

/// A held event opens a case for its customer; a judge told to open none (as a sweep's
/// judges are) decides it the same and keeps no case.
#[test]
fn held_events_open_cases_unless_the_judge_is_told_not_to() {
    let held = link("l2", "2026-11-21T10:05:00+09:00", json!({"name_kana":"スズキ ハナコ","birth_date":"1950-04-01"}), "otp");
    let mut opening = judge();
    opened(&mut opening);
    let mut quiet = judge();
    quiet.open_cases(false);
    opened(&mut quiet);
    let (a, b) = (decide(&mut opening, held.clone()), decide(&mut quiet, held));
    assert_eq!(a.action, Action::Hold, "{a:?}");
    assert_eq!((a.action, rules(&a)), (b.action, rules(&b)));
    let cases: Vec<_> = opening.cases().of("bank").collect();
    assert_eq!(cases.len(), 1, "one case for the held link");
    assert!(cases[0].events.iter().any(|e| e.id == "l2"), "{:?}", cases[0].events);
    assert_eq!(quiet.cases().of("bank").count(), 0);
}
