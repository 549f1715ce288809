//! Compromised points of purchase through the judge and the built-in packs: fraud
//! reports lead back to the breached merchant and its window, and forward to the other
//! cards that paid there; a popular merchant is not flagged; the state survives a
//! snapshot.

use std::sync::Arc;

use mamori_core::Timestamp;
use mamori_core::VecRecord;
use mamori_core::event::{Event, EventSchema};
use mamori_features::FeatureVector;
use mamori_rules::{Action, Decision};
use mamori_server::cpp::{self, Cpp};
use mamori_server::{FeatureStage, Judge, Packs};
use serde_json::{Value, json};

const CARDS: usize = 200;
const DAY: i64 = 86_400;
/// 2026-01-05T00:00:00+09:00.
const T0: i64 = 1_767_538_800;

fn time(day: i64, hour: i64) -> String {
    Timestamp((T0 + day * DAY + hour * 3600) * 1_000_000).to_rfc3339()
}

fn card(i: usize) -> String {
    format!("tok_{i:04}")
}

/// A judge, and two twins fed as a sweep feeds its judges: one by a copy of the
/// compromise analysis run ahead of it (`Judge::judge_observed`), one by that and by a
/// feature stage run ahead (`Judge::judge_computed`). Every decision of the three must be
/// the same.
struct Feed {
    judge: Judge,
    twin: Judge,
    ahead: Cpp,
    facts: VecRecord,
    staged: Judge,
    stage: FeatureStage,
    features: FeatureVector,
    n: usize,
}

impl Feed {
    fn new() -> Feed {
        let events = Arc::new(EventSchema::new());
        let packs = Packs::builtin(&events).unwrap_or_else(|e| panic!("{e}"));
        let twin = Judge::new(packs.clone(), Arc::clone(&events));
        let ahead = twin.compromise_analysis();
        let staged = Judge::new(packs.clone(), Arc::clone(&events));
        let stage = FeatureStage::new(packs.clone(), Arc::clone(&events), None);
        Feed {
            judge: Judge::new(packs, events),
            twin,
            ahead,
            facts: VecRecord::default(),
            staged,
            stage,
            features: FeatureVector::default(),
            n: 0,
        }
    }

    fn send(&mut self, mut v: Value) -> (String, Decision) {
        self.n += 1;
        let id = format!("e-{:06}", self.n);
        v["id"] = json!(id);
        v["institution"] = json!("tsubame-card");
        let event = Event::from_json_value(&v).unwrap_or_else(|e| panic!("{e:?}: {v}"));
        let decision = self.judge.judge(&event);
        self.ahead.observe(&event, &mut self.facts);
        let said = (!cpp::says_nothing(&self.facts.0)).then_some(self.facts.0.as_slice());
        assert_eq!(self.twin.judge_observed(&event, said), decision, "event {id}, judged with the analysis run ahead");
        self.stage.features(&event, &mut self.features);
        let staged = self.staged.judge_computed(&event, &mut self.features, said);
        assert_eq!(staged, decision, "event {id}, judged with the analysis and the features computed ahead");
        (id, decision)
    }

    fn pay(&mut self, i: usize, merchant: &str, day: i64, hour: i64, device: Option<&str>) -> (String, Decision) {
        let mut v = json!({"type": "card_payment", "time": time(day, hour), "card": card(i), "merchant": merchant,
                           "terminal": format!("t-{merchant}"), "amount": "4800"});
        if let Some(d) = device {
            v["device"] = json!(d);
            v["ip"] = json!(format!("198.51.{}.{}", i / 200, i % 200 + 1));
        }
        self.send(v)
    }
}

/// Two hundred cards: all pay at a convenience store, each at three of twenty shops,
/// and cards 0..40 at a fee site on day `i` (card `i`), online from their own device.
/// Cards 10, 11, 12, 14, 16, 18 and 20, exposed at the fee site from day 10 to day 20,
/// are used by fraudsters on day 25 and reported on day 27.
fn breached_world() -> Feed {
    let mut f = Feed::new();
    let mut fraud = Vec::new();
    for day in 0..40 {
        if day == 25 {
            for i in [10, 11, 12, 14, 16, 18, 20] {
                fraud.push(f.pay(i, "m-elec", day, 3, Some(&format!("bad-{i}"))).0);
            }
        }
        for i in (0..CARDS).filter(|i| i % 36 == day as usize % 36) {
            f.pay(i, "m-conv", day, 8, None);
        }
        if day == 27 {
            let ids = std::mem::take(&mut fraud);
            f.send(json!({"type": "fraud_reported", "time": time(day, 10), "events": ids, "source": "customer"}));
        }
        for i in 0..CARDS {
            if day == 0 {
                f.pay(i, "m-conv", day, 9, None);
            }
            if (1..=3).contains(&day) {
                f.pay(i, &format!("m-shop-{:02}", (i * 7 + day as usize * 3) % 20), day, 12, None);
            }
        }
        let i = day as usize;
        f.pay(i, "m-fees", day, 20, Some(&format!("dev-{i}")));
    }
    f
}

fn has_rule(d: &Decision, rule: &str) -> Option<String> {
    d.reasons.iter().find(|r| r.rule == rule).map(|r| r.detail.clone())
}

#[test]
fn reports_flag_the_breached_merchant_and_its_window_only() {
    let mut f = breached_world();
    let flagged: Vec<_> = f.judge.compromised().cloned().collect();
    assert_eq!(flagged.len(), 1, "{flagged:?}");
    let c = &flagged[0];
    assert_eq!(c.merchant, "m-fees");
    assert_eq!(c.reported_cards, 7);
    // The reported cards paid there from day 10 to day 20 at 20:00; one day of margin.
    let at = |d: i64, h: i64| (T0 + d * DAY + h * 3600) * 1_000_000;
    assert_eq!((c.from, c.to), (at(9, 20), at(21, 20)));

    // Card 15 paid at the fee site on day 15 (inside), was not reported: challenged
    // online, with the facts.
    let (_, d) = f.pay(15, "m-shop-03", 41, 12, Some("dev-15"));
    assert_eq!(d.action, Action::Challenge, "{d:?}");
    let detail = has_rule(&d, "card-compromised-point").unwrap_or_else(|| panic!("{d:?}"));
    assert!(detail.contains("m-fees") && detail.contains("7 cards"), "{detail}");
    // From a device it never used: held.
    let (_, d) = f.pay(17, "m-shop-03", 41, 13, Some("dev-stranger"));
    assert_eq!(d.action, Action::Hold, "{d:?}");
    assert!(has_rule(&d, "card-at-risk-new-device").is_some(), "{d:?}");
    // In a shop (no device): not a card-not-present payment, not challenged for this.
    let (_, d) = f.pay(13, "m-shop-03", 41, 14, None);
    assert!(has_rule(&d, "card-compromised-point").is_none(), "{d:?}");
    // Card 5 paid there on day 5, before the breach; card 30 on day 30, after it.
    for i in [5, 30] {
        let (_, d) = f.pay(i, "m-shop-04", 41, 15, Some(&format!("dev-{i}")));
        assert_eq!(d.action, Action::Allow, "card {i}: {d:?}");
    }
}

#[test]
fn a_handful_of_reports_at_a_popular_merchant_flags_nothing() {
    let mut f = Feed::new();
    // Everyone shops at the convenience store; three cards are used fraudulently.
    for i in 0..CARDS {
        f.pay(i, "m-conv", 0, 9, None);
        f.pay(i, &format!("m-shop-{:02}", i % 20), 1, 9, None);
    }
    let ids: Vec<String> = (0..3).map(|i| f.pay(i, "m-elec", 5, 3, Some(&format!("bad-{i}"))).0).collect();
    f.send(json!({"type": "fraud_reported", "time": time(6, 10), "events": ids, "source": "customer"}));
    assert_eq!(f.judge.compromised().count(), 0);
    // A reported card is at risk of its own, breach or not: from a device it never used,
    // held (and its twin, fed by the analysis run ahead, must hear of the report too).
    let (_, d) = f.pay(0, "m-shop-05", 7, 12, Some("dev-stranger"));
    assert!(has_rule(&d, "card-at-risk-new-device").is_some(), "{d:?}");
}

#[test]
fn the_flag_survives_a_snapshot() {
    let f = breached_world();
    let bytes = f.judge.snapshot();
    let events = Arc::new(EventSchema::new());
    let packs = Packs::builtin(&events).unwrap_or_else(|e| panic!("{e}"));
    let judge = Judge::restore(packs, events, &bytes).unwrap_or_else(|e| panic!("{e}"));
    // The twin goes on as it was: what it must agree with is the restored judge.
    let mut g = Feed { judge, ..f };
    assert_eq!(g.judge.compromised().count(), 1);
    let (_, d) = g.pay(19, "m-shop-03", 41, 12, Some("dev-19"));
    assert!(has_rule(&d, "card-compromised-point").is_some(), "{d:?}");
    // A report naming an event the judge never saw changes nothing.
    g.send(json!({"type": "fraud_reported", "time": time(41, 13), "events": ["nope"], "source": "police"}));
    assert_eq!(g.judge.compromised().count(), 1);
}
