//! Keys with roles against the real binary: what each role may do, and that a request
//! refused for its role changes nothing.

use serde_json::json;

mod common;
use common::{Server, TempDir, add_institution, agent, bin, send};

fn add_key(data: &std::path::Path, institution: &str, role: &str) -> std::process::Output {
    bin().args(["key", "add", "--institution", institution, "--role", role, "--data-dir"]).arg(data).output().unwrap()
}

fn key(out: &std::process::Output) -> String {
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).lines().last().unwrap().to_string()
}

#[test]
fn each_role_does_its_own_work_and_nothing_else() {
    let dir = TempDir::new("roles");
    let data = dir.path("data");
    let admin = add_institution(&data, "bank-a", "bank");
    add_institution(&data, "bank-b", "bank");
    let integrator = key(&add_key(&data, "bank-a", "integrator"));
    let analyst = key(&add_key(&data, "bank-a", "analyst"));
    let other = key(&add_key(&data, "bank-b", "analyst"));
    assert!(integrator.starts_with("mk_") && integrator != analyst);
    let unknown = add_key(&data, "bank-z", "analyst");
    assert_eq!(unknown.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&unknown.stderr).contains("no institution \"bank-z\""));
    assert_eq!(add_key(&data, "bank-a", "root").status.code(), Some(2));

    let server = Server::start(&data, &[]);
    let a = agent();
    let call = |method: &str, path: &str, key: &str, body: Option<serde_json::Value>| {
        send(&a, method, &format!("{}{path}", server.base), Some(key), body.map(|b| b.to_string())).unwrap()
    };
    let event = |id: &str| json!({"id": id, "type": "login", "time": "2026-11-21T10:00:00+09:00", "account": "a-1", "success": true});
    let controls = json!({"suspend_links": true, "by": "Sato", "reason": "test"});

    // The integrator sends events, and may not administer.
    assert_eq!(call("POST", "/v1/events", &integrator, Some(event("e1"))).status, 200);
    for (method, path, body) in [
        ("PUT", "/v1/partners/wallet-x/controls", Some(controls.clone())),
        ("PUT", "/v1/webhook", Some(json!({"url": "http://127.0.0.1:9/x"}))),
        ("POST", "/v1/breakers/release", Some(json!({"breaker": "b", "key": ["k"], "reason": "r"}))),
    ] {
        let r = call(method, path, &integrator, body);
        assert_eq!(r.status, 403, "{path}: {}", r.body);
        assert!(r.body.contains("forbidden-role") && r.body.contains("an admin key"), "{}", r.body);
    }
    // The analyst reads, and may not send: the refused event is not there afterwards.
    let r = call("POST", "/v1/events", &analyst, Some(event("e2")));
    assert_eq!(r.status, 403, "{}", r.body);
    assert_eq!(call("GET", "/v1/events/e2", &admin, None).status, 404);
    assert_eq!(call("GET", "/v1/events/e1", &analyst, None).status, 200);
    assert_eq!(call("PUT", "/v1/partners/wallet-x/controls", &analyst, Some(controls.clone())).status, 403);
    assert_eq!(call("GET", "/v1/partners", &admin, None).json()["partners"], json!({}));
    // The admin does all of it.
    assert_eq!(call("POST", "/v1/events", &admin, Some(event("e3"))).status, 200);
    assert_eq!(call("PUT", "/v1/partners/wallet-x/controls", &admin, Some(controls)).status, 200);
    // Another institution's key sees none of it, whatever its role.
    assert_eq!(call("GET", "/v1/events/e1", &other, None).status, 404);
    assert_eq!(call("GET", "/v1/partners", &other, None).json()["partners"], json!({}));
}
