//! The HTTP contract of spec/events.md through the router, without a port: every error
//! case, idempotency, batches, reads, metrics, the OpenAPI document, and a restart that
//! rebuilds the feature state from the store.

use std::path::PathBuf;
use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode};
use http_body_util::BodyExt;
use mamori_core::Timestamp;
use mamori_core::event::EventSchema;
use mamori_core::time::ManualClock;
use mamori_server::{AppState, Detector, Packs, app};
use mamori_store::{InstitutionKind, Store};
use serde_json::{Value, json};
use tower::ServiceExt;

struct TempDir(PathBuf);

impl TempDir {
    fn new(name: &str) -> TempDir {
        let dir = std::env::temp_dir().join(format!("mamori-handlers-{name}-{}", std::process::id()));
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

struct Svc {
    rebuilt: mamori_server::detector::Rebuilt,
    app: Router,
    state: AppState,
    bank: String,
    wallet: String,
    clock: Arc<ManualClock>,
}

fn open(dir: &TempDir, keys: Option<(String, String)>) -> Svc {
    let store = Store::open(&dir.0).unwrap();
    let (bank, wallet) = keys.unwrap_or_else(|| {
        let b = store.add_institution("bank-a", InstitutionKind::Bank, 0).unwrap().expose().to_string();
        let w = store.add_institution("wallet-b", InstitutionKind::Emoney, 0).unwrap().expose().to_string();
        (b, w)
    });
    let events = Arc::new(EventSchema::new());
    let packs = Packs::builtin(&events).unwrap();
    let (detector, rebuilt) = Detector::open(store, packs, events).unwrap();
    let clock = Arc::new(ManualClock::new(Timestamp::parse_rfc3339("2026-11-21T01:00:00Z").unwrap()));
    let state = AppState::new(detector, Arc::clone(&clock) as Arc<dyn mamori_core::Clock>);
    Svc { rebuilt, app: app(state.clone()), state, bank, wallet, clock }
}

struct Resp {
    status: StatusCode,
    headers: axum::http::HeaderMap,
    body: Vec<u8>,
}

impl Resp {
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&self.body)))
    }
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
    fn pointers(&self) -> Vec<String> {
        self.json()["errors"].as_array().unwrap().iter().map(|e| e["pointer"].as_str().unwrap().to_string()).collect()
    }
}

async fn call(app: &Router, method: &str, uri: &str, key: Option<&str>, body: impl Into<Body>) -> Resp {
    let mut req = Request::builder().method(method).uri(uri).header("content-type", "application/json");
    if let Some(k) = key {
        req = req.header("authorization", format!("Bearer {k}"));
    }
    let resp = app.clone().oneshot(req.body(body.into()).unwrap()).await.unwrap();
    let status = resp.status();
    let headers = resp.headers().clone();
    let body = resp.into_body().collect().await.unwrap().to_bytes().to_vec();
    Resp { status, headers, body }
}

async fn post(s: &Svc, key: &str, event: &Value) -> Resp {
    call(&s.app, "POST", "/v1/events", Some(key), event.to_string()).await
}

fn charge(id: &str, time: &str, amount: &str) -> Value {
    json!({"id": id, "type": "charge", "time": time, "account": "w-1", "link": "L1", "amount": amount})
}

fn assert_problem(r: &Resp, status: u16) -> Value {
    assert_eq!(r.status.as_u16(), status, "{}", String::from_utf8_lossy(&r.body));
    assert_eq!(r.header("content-type"), Some("application/problem+json"));
    let p = r.json();
    assert_eq!(p["status"], status);
    assert!(p["type"].as_str().unwrap().starts_with("https://"));
    assert!(!p["title"].as_str().unwrap().is_empty());
    assert!(!p["detail"].as_str().unwrap().is_empty());
    p
}

#[tokio::test]
async fn health_needs_no_key() {
    let dir = TempDir::new("health");
    let s = open(&dir, None);
    let r = call(&s.app, "GET", "/healthz", None, Body::empty()).await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(r.header("x-request-id").is_some());
}

#[tokio::test]
async fn keys_are_required_and_must_be_known() {
    let dir = TempDir::new("auth");
    let s = open(&dir, None);
    let e = charge("c1", "2026-11-21T10:00:00+09:00", "1000");
    let r = call(&s.app, "POST", "/v1/events", None, e.to_string()).await;
    assert_problem(&r, 401);
    assert_eq!(r.header("www-authenticate"), Some("Bearer"));
    let r = post(&s, "mk_not-a-key", &e).await;
    assert_problem(&r, 401);
    let r = call(&s.app, "POST", "/v1/events", Some(""), e.to_string()).await;
    assert_problem(&r, 401);
    let r = call(&s.app, "GET", "/v1/events/c1", None, Body::empty()).await;
    assert_problem(&r, 401);
    let r = call(&s.app, "POST", "/v1/events/batch", Some("nope"), json!([e]).to_string()).await;
    assert_problem(&r, 401);
    // Nothing was stored by any of them.
    assert_eq!(s.state.detector().store().stats().submitted_seq, 0);
}

#[tokio::test]
async fn another_institutions_event_is_forbidden() {
    let dir = TempDir::new("forbidden");
    let s = open(&dir, None);
    let mut e = charge("c1", "2026-11-21T10:00:00+09:00", "1000");
    e["institution"] = json!("wallet-b");
    let p = assert_problem(&post(&s, &s.bank, &e).await, 403);
    assert_eq!(p["errors"][0]["pointer"], "/institution");
    // Its own institution named explicitly is fine.
    assert_eq!(post(&s, &s.wallet, &e).await.status, StatusCode::OK);
    assert_eq!(s.state.detector().store().stats().submitted_seq, 1);
}

#[tokio::test]
async fn invalid_events_name_each_field_and_change_nothing() {
    let dir = TempDir::new("invalid");
    let s = open(&dir, None);
    let mut e = charge("c1", "2026-11-21T10:00:00+09:00", "-5");
    e["amont"] = json!(5);
    e["time"] = json!("yesterday");
    let r = post(&s, &s.wallet, &e).await;
    assert_problem(&r, 422);
    let mut ptrs = r.pointers();
    ptrs.sort();
    assert_eq!(ptrs, ["/amont", "/amount", "/time"]);

    assert_problem(&call(&s.app, "POST", "/v1/events", Some(&s.wallet), "{\"id\": ").await, 400);
    assert_problem(&call(&s.app, "POST", "/v1/events", Some(&s.wallet), "[]").await, 422);
    let dup = r#"{"id":"c1","id":"c2","type":"charge","time":"2026-11-21T10:00:00+09:00","link":"L1","amount":"1"}"#;
    assert_problem(&call(&s.app, "POST", "/v1/events", Some(&s.wallet), dup).await, 400);
    let big = format!(
        "{{\"id\":\"x\",\"type\":\"login\",\"time\":\"2026-11-21T10:00:00+09:00\",\"attributes\":{{\"pad\":\"{}\"}}}}",
        "x".repeat(1 << 20)
    );
    assert_problem(&call(&s.app, "POST", "/v1/events", Some(&s.wallet), big).await, 413);
    let mut req = Request::builder().method("POST").uri("/v1/events").header("content-type", "text/plain");
    req = req.header("authorization", format!("Bearer {}", s.wallet));
    let resp = s.app.clone().oneshot(req.body(Body::from(e.to_string())).unwrap()).await.unwrap();
    assert_eq!(resp.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
    // A card number where a token belongs is refused, and so never stored.
    let pan = json!({"id":"p1","type":"card_payment","time":"2026-11-21T10:00:00+09:00","card":"4111 1111 1111 1111","merchant":"m","amount":"100"});
    let r = post(&s, &s.wallet, &pan).await;
    assert_eq!(assert_problem(&r, 422)["errors"][0]["pointer"], "/card");
    assert!(!String::from_utf8_lossy(&r.body).contains("4111"));
    assert_eq!(s.state.detector().store().stats().submitted_seq, 0);
}

#[tokio::test]
async fn decisions_are_idempotent_and_readable() {
    let dir = TempDir::new("idem");
    let s = open(&dir, None);
    let e = charge("c1", "2026-11-21T10:00:00+09:00", "1000");
    let first = post(&s, &s.wallet, &e).await;
    assert_eq!(first.status, StatusCode::OK);
    assert_eq!(first.header("content-type"), Some("application/json"));
    assert_eq!(first.header("idempotent-replay"), None);
    let d = first.json();
    assert_eq!(d["event_id"], "c1");
    assert_eq!(d["decision"], "allow");
    assert!(d["ruleset"].as_str().unwrap().starts_with("sha256:"));
    assert_eq!(d["decided_at"], "2026-11-21T01:00:00.000Z");

    // The same event again, keys reordered and spaced differently: the first decision.
    let again =
        r#"{ "amount": "1000", "link": "L1", "account": "w-1", "time": "2026-11-21T10:00:00+09:00", "type": "charge", "id": "c1" }"#;
    let r = call(&s.app, "POST", "/v1/events", Some(&s.wallet), again).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.header("idempotent-replay"), Some("true"));
    assert_eq!(r.body, first.body);

    // The same id with another body is a conflict, and changes nothing.
    let p = assert_problem(&post(&s, &s.wallet, &charge("c1", "2026-11-21T10:00:00+09:00", "2000")).await, 409);
    assert_eq!(p["errors"][0]["pointer"], "/id");
    // Another institution may use the same id.
    assert_eq!(post(&s, &s.bank, &e).await.status, StatusCode::OK);

    let r = call(&s.app, "GET", "/v1/events/c1", Some(&s.wallet), Body::empty()).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.body, first.body);
    assert_problem(&call(&s.app, "GET", "/v1/events/nope", Some(&s.wallet), Body::empty()).await, 404);

    // Counted once.
    let m = String::from_utf8(call(&s.app, "GET", "/metrics", None, Body::empty()).await.body).unwrap();
    assert!(m.contains(r#"mamori_events_total{event_type="charge",institution="wallet-b"} 1"#), "{m}");
    assert!(m.contains(r#"mamori_replays_total{event_type="charge",institution="wallet-b"} 1"#), "{m}");
    assert!(m.contains(r#"mamori_decisions_total{decision="allow"} 2"#), "{m}");
    assert!(m.contains("mamori_http_request_duration_seconds_bucket"), "{m}");
    assert!(m.contains("mamori_store_commit_wait_seconds_bucket"), "{m}");
    // The store's counters, as whole numbers.
    for name in ["mamori_store_commits", "mamori_store_outbox_commits", "mamori_store_wal_syncs"] {
        let value = m.lines().find_map(|l| l.strip_prefix(name).and_then(|v| v.strip_prefix(' ')));
        assert!(value.is_some_and(|v| v.parse::<u64>().is_ok()), "{name}: {m}");
    }
    assert_eq!(s.state.detector().store().stats().submitted_seq, 2);
}

/// The value of an unlabelled metric in the exposition.
fn metric(m: &str, name: &str) -> f64 {
    let value = m.lines().find_map(|l| l.strip_prefix(name).and_then(|v| v.strip_prefix(' ')));
    value.and_then(|v| v.parse().ok()).unwrap_or_else(|| panic!("{name}: {m}"))
}

/// With no courier running, an outgoing transfer's e-mail to the registered address waits: the
/// metrics say how many notices are due and for how long the oldest has been.
#[tokio::test]
async fn the_notice_backlog_is_in_the_metrics() {
    let dir = TempDir::new("backlog");
    let s = open(&dir, None);
    let opened = json!({"id": "o1", "type": "account_opened", "time": "2026-11-21T10:00:00+09:00", "account": "b-1",
                        "kyc": "in_person", "holder": {"email": "taro@bank.example"}});
    assert_eq!(post(&s, &s.bank, &opened).await.status, StatusCode::OK);
    let scrape = || async { String::from_utf8(call(&s.app, "GET", "/metrics", None, Body::empty()).await.body).unwrap() };
    let before = scrape().await;
    assert_eq!((metric(&before, "mamori_notices_due"), metric(&before, "mamori_notice_lag_seconds")), (0.0, 0.0));

    let out = json!({"id": "t1", "type": "transfer", "time": "2026-11-21T10:01:00+09:00", "account": "b-1", "amount": "30000",
                     "direction": "out", "counterparty": {"institution": "bank-c", "account": "c-9"}});
    assert_eq!(post(&s, &s.bank, &out).await.status, StatusCode::OK);
    let store = s.state.detector().store().clone();
    tokio::task::spawn_blocking(move || store.flush_outbox(store.stats().submitted_seq)).await.unwrap().unwrap();
    s.clock.advance(mamori_core::Span::from_secs(90));
    let m = scrape().await;
    assert!(metric(&m, "mamori_notices_due") >= 1.0, "{m}");
    assert_eq!(metric(&m, "mamori_notice_lag_seconds"), 90.0, "{m}");
}

#[tokio::test]
async fn batches_are_taken_whole_and_answered_in_order() {
    let dir = TempDir::new("batch");
    let s = open(&dir, None);
    let link = json!({"id":"v1","type":"link_verified","time":"2026-11-21T10:00:00+09:00","link":"L1"});
    let batch = json!([
        link,
        charge("c1", "2026-11-21T10:10:00+09:00", "40000"),
        charge("c2", "2026-11-21T10:20:00+09:00", "40000"),
        charge("c3", "2026-11-21T10:30:00+09:00", "40000")
    ]);
    // One bad event refuses all: pointers carry its index.
    let mut bad = batch.clone();
    bad[2]["amount"] = json!("abc");
    bad[3]["nope"] = json!(1);
    let r = call(&s.app, "POST", "/v1/events/batch", Some(&s.wallet), bad.to_string()).await;
    assert_problem(&r, 422);
    assert_eq!(r.pointers(), ["/2/amount", "/3/nope"]);
    assert_eq!(s.state.detector().store().stats().submitted_seq, 0);
    assert_problem(&call(&s.app, "POST", "/v1/events/batch", Some(&s.wallet), "[]").await, 422);
    assert_problem(&call(&s.app, "POST", "/v1/events/batch", Some(&s.wallet), "{}").await, 422);

    let r = call(&s.app, "POST", "/v1/events/batch", Some(&s.wallet), batch.to_string()).await;
    assert_eq!(r.status, StatusCode::OK, "{}", String::from_utf8_lossy(&r.body));
    let ds = r.json();
    let ids: Vec<&str> = ds.as_array().unwrap().iter().map(|d| d["event_id"].as_str().unwrap()).collect();
    assert_eq!(ids, ["v1", "c1", "c2", "c3"]);
    // Features see the batch in order: each charge knows how long ago the link was verified.
    let actions: Vec<&str> = ds.as_array().unwrap().iter().map(|d| d["decision"].as_str().unwrap()).collect();
    assert_eq!(actions, ["allow", "challenge", "challenge", "challenge"]);
    for (d, minutes) in ds.as_array().unwrap()[1..].iter().zip([10, 20, 30]) {
        assert_eq!(d["reasons"][0]["rule"], "charge-soon-after-link");
        assert!(d["reasons"][0]["detail"].as_str().unwrap().contains(&format!(" {minutes} min after")), "{d}");
    }

    // The whole batch again: replayed; a batch mixing old and new: only the new are decided.
    let r = call(&s.app, "POST", "/v1/events/batch", Some(&s.wallet), batch.to_string()).await;
    assert_eq!(r.header("idempotent-replay"), Some("true"));
    assert_eq!(r.json(), ds);
    let mixed = json!([
        charge("c3", "2026-11-21T10:30:00+09:00", "40000"),
        charge("c4", "2026-11-21T10:40:00+09:00", "100"),
        charge("c4", "2026-11-21T10:40:00+09:00", "100")
    ]);
    let r = call(&s.app, "POST", "/v1/events/batch", Some(&s.wallet), mixed.to_string()).await;
    assert_eq!(r.header("idempotent-replay"), None);
    let ds2 = r.json();
    assert_eq!(ds2[0], ds[3]);
    assert_eq!(ds2[1], ds2[2]);
    assert_eq!(s.state.detector().store().stats().submitted_seq, 5);
    // A conflict anywhere refuses the batch.
    let conflict = json!([charge("c5", "2026-11-21T10:50:00+09:00", "100"), charge("c1", "2026-11-21T10:10:00+09:00", "1")]);
    let p = assert_problem(&call(&s.app, "POST", "/v1/events/batch", Some(&s.wallet), conflict.to_string()).await, 409);
    assert_eq!(p["errors"][0]["pointer"], "/1/id");
    assert_eq!(s.state.detector().store().stats().submitted_seq, 5);
    // Over 10,000 events.
    let many: Vec<Value> = (0..10_001).map(|i| charge(&format!("m{i}"), "2026-11-21T11:00:00+09:00", "1")).collect();
    assert_problem(&call(&s.app, "POST", "/v1/events/batch", Some(&s.wallet), Value::Array(many).to_string()).await, 422);
}

#[tokio::test]
async fn routes_match_the_openapi_document() {
    let dir = TempDir::new("openapi");
    let s = open(&dir, None);
    let r = call(&s.app, "GET", "/openapi.json", None, Body::empty()).await;
    let doc = r.json();
    assert_eq!(doc["openapi"], "3.1.0");
    let mut documented: Vec<(String, String)> = Vec::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for method in item.as_object().unwrap().keys() {
            documented.push((method.to_uppercase(), path.clone()));
        }
    }
    documented.sort();
    let mut routes: Vec<(String, String)> = mamori_server::ROUTES.iter().map(|(m, p)| ((*m).to_string(), (*p).to_string())).collect();
    routes.sort();
    assert_eq!(documented, routes);
    // Every documented route is served; every other method or path is a problem.
    for (method, path) in &routes {
        let uri = path.replace("{id}", "x");
        let r = call(&s.app, method, &uri, Some(&s.bank), "{}").await;
        // (A 404 of the route itself, such as "no model loaded", is not a missing route.)
        let unrouted = r.status == StatusCode::NOT_FOUND && r.json()["type"].as_str().is_some_and(|t| t.ends_with("/not-found"));
        assert!(!unrouted || path.contains("{id}"), "{method} {path}: {}", r.status);
        assert_ne!(r.status, StatusCode::METHOD_NOT_ALLOWED, "{method} {path}");
        // Every documented status of the route is one the document lists.
        let listed = &doc["paths"][path][method.to_lowercase()]["responses"];
        assert!(listed.get(r.status.as_str()).is_some(), "{method} {path} answered {} which is not documented", r.status);
    }
    assert_problem(&call(&s.app, "GET", "/v2/nothing", None, Body::empty()).await, 404);
    assert_problem(&call(&s.app, "DELETE", "/v1/events", Some(&s.bank), Body::empty()).await, 405);
}

#[tokio::test]
async fn a_restart_rebuilds_the_features_from_the_store() {
    let dir = TempDir::new("restart");
    // A link verified ten days earlier (past its cool-off), then charges of 60,000 JPY.
    let link = json!({"id":"v1","type":"link_verified","time":"2026-11-11T10:00:00+09:00","link":"L1"});
    let keys;
    {
        let s = open(&dir, None);
        keys = (s.bank.clone(), s.wallet.clone());
        assert_eq!(post(&s, &s.wallet, &link).await.status, StatusCode::OK);
        for (i, t) in ["10:10", "10:20", "10:30"].iter().enumerate() {
            let r = post(&s, &s.wallet, &charge(&format!("c{i}"), &format!("2026-11-21T{t}:00+09:00"), "60000")).await;
            assert_eq!(r.json()["decision"], "allow", "{}", r.json());
        }
        s.state.detector().store().clone().close().unwrap();
    }
    // A new process: the fourth charge still sees the first three.
    let s = open(&dir, Some(keys));
    let r = post(&s, &s.wallet, &charge("c3", "2026-11-21T10:40:00+09:00", "60000")).await;
    let d = r.json();
    assert_eq!(d["decision"], "challenge", "{d}");
    let rapid = d["reasons"].as_array().unwrap().iter().find(|r| r["rule"] == "rapid-charges").expect("rapid-charges");
    assert!(rapid["detail"].as_str().unwrap().contains("4 charges of 240000 JPY"), "{d}");
    // And what was decided before the restart is still there.
    let r = call(&s.app, "GET", "/v1/events/c0", Some(&s.wallet), Body::empty()).await;
    assert_eq!(r.json()["decision"], "allow");
}

#[tokio::test]
async fn reloading_swaps_the_ruleset_or_changes_nothing() {
    let dir = TempDir::new("reload");
    let s = open(&dir, None);
    let events = EventSchema::new();
    let before = s.state.detector().ruleset_id();
    let packs_dir = TempDir::new("reload-packs");
    std::fs::write(packs_dir.0.join("features.toml"), mamori_server::packs::BUILTIN[0].1).unwrap();
    std::fs::write(
        packs_dir.0.join("bad.toml"),
        "[pack]\nname = \"x\"\n[[rule]]\nid = \"r\"\nwhen = 'event.amont > 1'\naction = \"block\"\n",
    )
    .unwrap();
    let err = Packs::from_dir(&packs_dir.0, &events).unwrap_err().to_string();
    assert!(err.contains("bad.toml:5:9: error[E001]"), "{err}");
    assert!(err.contains("amount"), "{err}");
    assert_eq!(s.state.detector().ruleset_id(), before);

    std::fs::write(
        packs_dir.0.join("bad.toml"),
        "[pack]\nname = \"x\"\n[[rule]]\nid = \"big\"\nwhen = 'event.amount > 1000'\naction = \"block\"\nscore = 5\n",
    )
    .unwrap();
    let packs = Packs::from_dir(&packs_dir.0, &events).unwrap();
    s.state.detector().reload(packs).unwrap();
    assert_ne!(s.state.detector().ruleset_id(), before);
    let d = post(&s, &s.wallet, &charge("c1", "2026-11-21T10:00:00+09:00", "5000")).await.json();
    assert_eq!(d["decision"], "block");
    assert_eq!(d["reasons"][0]["rule"], "big");
}

fn withdrawal(id: &str, time: &str, asset: &str, amount: &str) -> Value {
    json!({"id": id, "type": "crypto_withdrawal", "time": time, "account": "ops", "asset": asset, "amount": amount, "wallet": {"id": "hot-1", "tier": "hot"}, "to_address": format!("addr-{id}")})
}

#[tokio::test]
async fn a_tripped_breaker_holds_the_asset_until_released_and_survives_a_restart() {
    let dir = TempDir::new("breaker");
    let keys;
    let exchange;
    {
        let store = Store::open(&dir.0).unwrap();
        exchange = store.add_institution("kumo", InstitutionKind::Exchange, 0).unwrap().expose().to_string();
        store.close().unwrap();
    }
    {
        let s = open(&dir, None);
        keys = (s.bank.clone(), s.wallet.clone());
        let balance = json!({"id":"bal","type":"wallet_balance","time":"2026-11-21T10:00:00+09:00","asset":"XEM","hot":"1000000","cold":"19000000","customer_total":"20000000"});
        assert_eq!(post(&s, &exchange, &balance).await.status, StatusCode::OK);
        // Three withdrawals of 60,000 XEM to new addresses out of a 1,000,000 hot wallet in
        // an hour: each of 1% or more is confirmed with the customer first; together they
        // are over 15%, the third is blocked, and the breaker trips.
        for id in ["w0", "w0b"] {
            let d = post(&s, &exchange, &withdrawal(id, "2026-11-21T10:00:30+09:00", "XEM", "60000")).await.json();
            assert_eq!(d["decision"], "challenge", "{d}");
            let rules: Vec<&str> = d["reasons"].as_array().unwrap().iter().map(|r| r["rule"].as_str().unwrap()).collect();
            assert!(rules.contains(&"withdrawal-fresh-address-share"), "{d}");
        }
        let d = post(&s, &exchange, &withdrawal("w1", "2026-11-21T10:01:00+09:00", "XEM", "60000")).await.json();
        assert_eq!(d["decision"], "block", "{d}");
        // A small withdrawal two hours later: the rule no longer fires, the breaker holds it.
        let d = post(&s, &exchange, &withdrawal("w2", "2026-11-21T12:30:00+09:00", "XEM", "10")).await.json();
        assert_eq!(d["decision"], "hold", "{d}");
        assert_eq!(d["reasons"][0]["rule"], "breaker:hot-wallet-drain");
        assert!(d["reasons"][0]["detail"].as_str().unwrap().contains("tripped at 2026-11-21T01:01:00.000Z by event w1"), "{d}");
        // Another asset is not held.
        let other = json!({"id":"bal2","type":"wallet_balance","time":"2026-11-21T12:31:00+09:00","asset":"BTC","hot":"100","cold":"1900","customer_total":"2000"});
        assert_eq!(post(&s, &exchange, &other).await.status, StatusCode::OK);
        let d = post(&s, &exchange, &withdrawal("w3", "2026-11-21T12:32:00+09:00", "BTC", "0.01")).await.json();
        assert_eq!(d["decision"], "allow", "{d}");
        let list = call(&s.app, "GET", "/v1/breakers", Some(&exchange), Body::empty()).await.json();
        assert_eq!(list["tripped"][0]["key"], json!(["kumo", "XEM"]));
        assert_eq!(call(&s.app, "GET", "/v1/breakers", Some(&s.bank), Body::empty()).await.json()["tripped"], json!([]));
        // A snapshot now: the restart starts from it (breakers included) and replays what follows.
        assert_eq!(s.state.detector().snapshot_now().unwrap(), 7);
        s.state.detector().store().clone().close().unwrap();
    }
    // After a restart the breaker is still tripped.
    let s = open(&dir, Some(keys));
    assert_eq!((s.rebuilt.snapshot_seq, s.rebuilt.events), (7, 0));
    let d = post(&s, &exchange, &withdrawal("w4", "2026-11-21T12:40:00+09:00", "XEM", "10")).await.json();
    assert_eq!(d["decision"], "hold", "{d}");
    let release = |key: &str, body: Value| {
        let app = s.app.clone();
        let key = key.to_string();
        async move { call(&app, "POST", "/v1/breakers/release", Some(&key), body.to_string()).await }
    };
    let body = json!({"breaker": "hot-wallet-drain", "key": ["kumo", "XEM"], "reason": "keys rotated, drain address reported"});
    assert_problem(&release(&s.bank, body.clone()).await, 403);
    assert_problem(&release(&exchange, json!({"breaker": "hot-wallet-drain", "key": ["kumo", "XEM"], "reason": " "})).await, 422);
    assert_problem(&release(&exchange, json!({"breaker": "hot-wallet-drain", "key": ["kumo", "BTC"], "reason": "x"})).await, 404);
    assert_problem(&release(&exchange, json!({"breaker": "hot-wallet-drain", "key": ["kumo", "XEM"]})).await, 422);
    let r = release(&exchange, body.clone()).await;
    assert_eq!(r.status, StatusCode::OK, "{}", String::from_utf8_lossy(&r.body));
    assert_eq!(r.json()["released"]["event_id"], "w1");
    let d = post(&s, &exchange, &withdrawal("w5", "2026-11-21T12:50:00+09:00", "XEM", "10")).await.json();
    assert_eq!(d["decision"], "allow", "{d}");
    s.state.detector().store().clone().close().unwrap();
    drop(s);
    // The release is on disk too (replayed after the snapshot).
    let s = open(&dir, Some(("x".into(), "y".into())));
    assert_eq!((s.rebuilt.snapshot_seq, s.rebuilt.events), (7, 2));
    let list = call(&s.app, "GET", "/v1/breakers", Some(&exchange), Body::empty()).await.json();
    assert_eq!(list["tripped"], json!([]));
    let d = post(&s, &exchange, &withdrawal("w6", "2026-11-21T12:55:00+09:00", "XEM", "10")).await.json();
    assert_eq!(d["decision"], "allow", "{d}");
}

#[tokio::test]
async fn the_model_in_use_is_readable_by_any_institution() {
    let dir = TempDir::new("model");
    let s = open(&dir, None);
    assert_problem(&call(&s.app, "GET", "/v1/model", None, Body::empty()).await, 401);
    let p = assert_problem(&call(&s.app, "GET", "/v1/model", Some(&s.bank), Body::empty()).await, 404);
    assert!(p["detail"].as_str().unwrap().contains("model.json"));
    // A model over two built-in features, trained on rows where the second decides.
    let names = vec!["wallet_age_hours".to_string(), "device_holders_7d".to_string()];
    let x: Vec<Vec<f64>> = (0..400).map(|i| vec![f64::from(i % 50), f64::from(i % 7)]).collect();
    let y: Vec<bool> = x.iter().map(|r| r[1] >= 5.0).collect();
    let model = mamori_model::train(&names, &x, &y, &mamori_model::Params { trees: 5, ..Default::default() }).unwrap();
    let fingerprint = hex::encode(s.state.detector().packs_features().fingerprint());
    let file = mamori_model::ModelFile {
        mamori_model: mamori_model::MODEL_FILE_VERSION,
        features_fingerprint: fingerprint,
        trained_from: "2026-11-01".into(),
        trained_to: "2026-11-08".into(),
        as_of: "2026-11-15T00:00:00Z".into(),
        rows: 400,
        frauds: y.iter().filter(|&&b| b).count(),
        events: vec!["link_requested".into()],
        model,
    };
    std::fs::write(dir.0.join(mamori_server::scorer::MODEL_FILE), file.to_json()).unwrap();
    let info = s.state.detector().load_model().unwrap().unwrap();
    let r = call(&s.app, "GET", "/v1/model", Some(&s.wallet), Body::empty()).await;
    assert_eq!(r.status, StatusCode::OK);
    let body = r.json();
    assert_eq!(body["id"], json!(info.id));
    assert_eq!(body["features"], json!(names));
    assert_eq!(body["events"], json!(["link_requested"]));
    assert_eq!(body["trees"], 5);
}
