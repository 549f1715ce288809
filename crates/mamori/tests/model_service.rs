//! A model learned from the field and used by the service: events and `fraud_reported`
//! events go through the detector into its store; `mamori train --data-dir` learns from
//! them (beside the open store); the model, put in the data directory, is loaded, scores
//! events as `model.score` for a rule and names its drivers on the decision; a broken or
//! foreign model is refused and the one in use stays; a new one is swapped in.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;

use mamori_core::Timestamp;
use mamori_core::event::{Event, EventSchema};
use mamori_server::{Detector, Incoming, Packs};
use mamori_store::Store;
use serde_json::{Value, json};

const FEATURES: &str = r#"
[[feature]]
name = "amount"
expr = "event.amount"
description = "the charge's amount"

[[feature]]
name = "account_charges_1h"
entity = "account"
aggregate = "count"
window = "1h"
filter = 'event.type == "charge"'
description = "charges from the account in the last hour"

[[feature]]
name = "account_charged_24h"
entity = "account"
aggregate = "sum"
of = "event.amount"
window = "24h"
filter = 'event.type == "charge"'
"#;

const RULES: &str = r#"
[pack]
name = "model"

[[rule]]
id = "model-says-fraud"
description = "The learned model puts the odds of fraud over one half"
when = "model.score > 0.5"
score = 500
action = "hold"
reason = "the model scores it {model.score}"
"#;

struct TempDir(PathBuf);

impl TempDir {
    fn new(name: &str) -> TempDir {
        let dir = std::env::temp_dir().join(format!("mamori-model-service-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn rules_dir(root: &Path) -> PathBuf {
    let dir = root.join("rules");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("features.toml"), FEATURES).unwrap();
    std::fs::write(dir.join("model.toml"), RULES).unwrap();
    dir
}

fn open(data: &Path, rules: &Path) -> Detector {
    let events = Arc::new(EventSchema::new());
    let packs = Packs::from_dir(rules, &events).unwrap();
    Detector::open(Store::open(data).unwrap(), packs, events).unwrap().0
}

/// 2026-06-01T00:00:00Z plus `minutes`.
fn at(minutes: i64) -> String {
    Timestamp((1_780_272_000 + minutes * 60) * 1_000_000).to_rfc3339()
}

fn decide(d: &Detector, v: Value) -> Value {
    let event = Event::from_json_value(&v).unwrap_or_else(|e| panic!("{e:?}: {v}"));
    let (outcomes, wait) = d.decide("wallet-a", vec![Incoming::new(event, "wallet-a")], Timestamp(0)).unwrap();
    d.store().wait_durable(wait).unwrap();
    serde_json::from_slice(outcomes[0].decision()).unwrap()
}

fn charge(id: &str, minutes: i64, account: usize, amount: u64) -> Value {
    json!({"id": id, "type": "charge", "time": at(minutes), "account": format!("acct-{account}"), "link": format!("L{account}"),
           "amount": amount.to_string()})
}

/// Ten days of charges by 100 accounts. Stolen accounts are drained: five charges of
/// 80,000–99,000 JPY within the hour; the customers report them the next day.
fn history(d: &Detector) -> (usize, usize) {
    let mut x: u64 = 7;
    let mut rng = move || {
        x = x.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        x >> 33
    };
    let (mut n, mut frauds) = (0, 0);
    for day in 0..10i64 {
        for a in 0..100 {
            let m = day * 1440 + (a as i64 * 13) % 1400;
            decide(d, charge(&format!("c-{day}-{a}"), m, a, 1000 + rng() % 20_000));
            n += 1;
        }
        // Two accounts a day are drained, and reported the day after.
        let victims = [(day as usize * 7) % 100, (day as usize * 7 + 50) % 100];
        let mut ids = Vec::new();
        for &v in &victims {
            for k in 0..5 {
                let id = format!("f-{day}-{v}-{k}");
                decide(d, charge(&id, day * 1440 + 600 + k * 9, v, 80_000 + rng() % 19_000));
                ids.push(id);
                n += 1;
                frauds += 1;
            }
        }
        decide(
            d,
            json!({"id": format!("r-{day}"), "type": "fraud_reported", "time": at(day * 1440 + 1440 + 300), "events": ids, "source": "customer"}),
        );
    }
    (n, frauds)
}

fn train(data: &Path, rules: &Path, out: &Path, config: Option<&Path>) -> std::process::Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_mamori"));
    cmd.args(["train", "--data-dir"]).arg(data).arg("--rules").arg(rules);
    cmd.args(["--train-from", "2026-06-01", "--train-to", "2026-06-10", "--output"]).arg(out);
    if let Some(c) = config {
        cmd.arg("--config").arg(c);
    }
    cmd.output().unwrap()
}

#[test]
fn the_service_learns_from_its_reports_and_uses_the_model() {
    let tmp = TempDir::new("learn");
    let (data, rules) = (tmp.0.join("data"), rules_dir(&tmp.0));
    let d = open(&data, &rules);
    let (rows, frauds) = history(&d);
    // No model yet: `model.score` is null, the rule does not fire, decisions carry no model.
    let before = decide(&d, charge("probe-0", 10 * 1440 + 100, 3, 95_000));
    assert_eq!(before["decision"], "allow", "{before}");
    assert!(before.get("model").is_none(), "{before}");
    assert!(d.model_info().is_none());

    // Trained beside the open store. Days 1..9 are the training window: the reports of
    // day 9's drains come on day 10, within the 7-day label delay.
    let model_path = data.join(mamori_server::scorer::MODEL_FILE);
    let out = train(&data, &rules, &model_path, None);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let file: Value = serde_json::from_slice(&std::fs::read(&model_path).unwrap()).unwrap();
    // Nine of the ten days, every charge (reports are not money movements).
    assert_eq!(file["rows"], json!(rows / 10 * 9), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(file["frauds"], json!(frauds / 10 * 9));
    assert_eq!(file["events"][0], "charge");
    assert_eq!(file["model"]["features"], json!(["amount", "account_charges_1h", "account_charged_24h"]));

    // Loaded: a drain is held by the rule on the model's score, with the drivers in words.
    let info = d.load_model().unwrap().expect("a model");
    assert_eq!(info.rows, rows / 10 * 9);
    let mut last = Value::Null;
    for k in 0..4 {
        last = decide(&d, charge(&format!("probe-drain-{k}"), 10 * 1440 + 200 + k * 7, 42, 90_000 + k as u64 * 1000));
    }
    assert_eq!(last["decision"], "hold", "{last}");
    assert_eq!(last["reasons"][0]["rule"], "model-says-fraud");
    let model = &last["model"];
    assert_eq!(model["model"], json!(info.id));
    assert!(model["score"].as_f64().unwrap() > 0.5, "{model}");
    let drivers = model["drivers"].as_array().unwrap();
    assert!(!drivers.is_empty() && drivers.len() <= 3, "{model}");
    assert!(drivers.iter().all(|dr| dr["push"].as_f64().unwrap() > 0.0), "{model}");
    let details: Vec<&str> = drivers.iter().map(|dr| dr["detail"].as_str().unwrap()).collect();
    assert!(details.iter().any(|t| t.starts_with("the charge's amount = 9") && t.contains("raised the fraud score")), "{details:?}");
    // An ordinary charge is scored low and allowed.
    let fine = decide(&d, charge("probe-fine", 10 * 1440 + 300, 8, 3000));
    assert_eq!(fine["decision"], "allow", "{fine}");
    assert!(fine["model"]["score"].as_f64().unwrap() < 0.1, "{fine}");
    // The model scores charges only: a login carries no model.
    let login = decide(&d, json!({"id": "login-1", "type": "login", "time": at(10 * 1440 + 301), "account": "acct-8", "success": true}));
    assert!(login.get("model").is_none(), "{login}");

    // A damaged file, or one trained on other features, is refused; the model stays.
    std::fs::write(&model_path, b"{\"mamori_model\": 1, \"trees\": ").unwrap();
    assert!(d.load_model().unwrap_err().contains("not a mamori model"));
    let mut foreign = file.clone();
    foreign["features_fingerprint"] = json!("00".repeat(32));
    std::fs::write(&model_path, serde_json::to_vec(&foreign).unwrap()).unwrap();
    assert!(d.load_model().unwrap_err().contains("other features"));
    assert_eq!(d.model_info().unwrap().id, info.id);

    // A new model (fewer trees) is swapped in whole: the next decision names it.
    let config = tmp.0.join("small.toml");
    std::fs::write(&config, "events = [\"charge\"]\nlabel_delay = \"2d\"\n[params]\ntrees = 20\n").unwrap();
    let out = train(&data, &rules, &model_path, Some(&config));
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let swapped = d.load_model().unwrap().unwrap();
    assert_ne!(swapped.id, info.id);
    assert_eq!(swapped.trees, 20);
    let next = decide(&d, charge("probe-after", 10 * 1440 + 400, 9, 2000));
    assert_eq!(next["model"]["model"], json!(swapped.id));

    // `mamori score` of the same events, exported as v1 NDJSON, gives the scores the
    // service gave; events the model does not score get none.
    let export = tmp.0.join("events.ndjson");
    let mut lines = String::new();
    Store::scan_dir(&data, 1, |e| {
        lines.push_str(std::str::from_utf8(&e.body).unwrap());
        lines.push('\n');
        Ok::<_, std::convert::Infallible>(())
    })
    .unwrap();
    std::fs::write(&export, lines).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_mamori"))
        .args(["score", "--model"])
        .arg(&model_path)
        .arg("--rules")
        .arg(&rules)
        .arg("--input")
        .arg(&export)
        .args(["--output", "-"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let scores = String::from_utf8(out.stdout).unwrap();
    assert!(scores.starts_with("event_id,score\n"));
    let line = |id: &str| scores.lines().find(|l| l.starts_with(&format!("{id},"))).unwrap_or_else(|| panic!("{id} missing")).to_string();
    assert_eq!(line("probe-after"), format!("probe-after,{:.6}", next["model"]["score"].as_f64().unwrap()));
    assert_eq!(line("login-1"), "login-1,");
    assert_eq!(scores.lines().count(), 1 + rows + 10 + 8);

    // A restart finds the model in the data directory.
    let store = d.store().clone();
    drop(d);
    store.close().unwrap();
    let d = open(&data, &rules);
    assert_eq!(d.load_model().unwrap().unwrap().id, swapped.id);
}

#[test]
fn training_from_a_store_refuses_what_it_cannot_use() {
    let tmp = TempDir::new("refuse");
    let rules = rules_dir(&tmp.0);
    let out_path = tmp.0.join("m.json");
    // No store there.
    let out = train(&tmp.0.join("nothing"), &rules, &out_path, None);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("no mamori store"), "{}", String::from_utf8_lossy(&out.stderr));
    // A CSV config (features, label) does not apply to a store; nor does an unknown type.
    let data = tmp.0.join("data");
    drop(open(&data, &rules));
    for (cfg, says) in [("features = \"f.toml\"\n", "for CSV input"), ("events = [\"chrage\"]\n", "unknown event type")] {
        let c = tmp.0.join("c.toml");
        std::fs::write(&c, cfg).unwrap();
        let out = train(&data, &rules, &out_path, Some(&c));
        assert!(!out.status.success());
        assert!(String::from_utf8_lossy(&out.stderr).contains(says), "{}", String::from_utf8_lossy(&out.stderr));
    }
    // An empty store has nothing to learn.
    let out = train(&data, &rules, &out_path, None);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("no rows"), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(!out_path.exists());
}
