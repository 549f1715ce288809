//! Verified linking, notices and "this wasn't me" end to end: the real binary, a real SMTP
//! server on loopback (aiosmtpd, installed by `scripts/install-test-deps`) and a real
//! webhook receiver. Codes are read from the e-mails the customer received, never from
//! the service's answers.
//!
//! Without Python's packages (no network on a user's machine) the tests say `SKIP` and
//! pass, unless `MAMORI_REQUIRE_TEST_DEPS=1` (CI) makes them required.

use std::net::TcpListener;
use std::time::{Duration, Instant};

use mamori_notify::sink::{SmtpSink, WebhookSink};
use serde_json::{Value, json};

mod common;
use common::{Answer, Server, TempDir, add_institution, agent, send};

/// The sink, or `None` when the test must skip.
fn sink(port: u16) -> Option<SmtpSink> {
    SmtpSink::start_on(port, 0).unwrap_or_else(|e| panic!("{e}"))
}

/// RFC 3339 `secs` seconds from when the test began (event times near the service's
/// clock; the same call gives the same time, so a resent event is the same event).
fn at(secs: i64) -> String {
    static START: std::sync::OnceLock<i64> = std::sync::OnceLock::new();
    let start = *START.get_or_init(|| std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as i64);
    mamori_core::Timestamp::from_secs(start + secs).to_rfc3339()
}

fn call(base: &str, method: &str, path: &str, key: Option<&str>, body: Option<Value>) -> Answer {
    send(&agent(), method, &format!("{base}{path}"), key, body.map(|b| b.to_string())).unwrap()
}

/// The messages to `to` whose subject or body contains `needle`.
fn mail_to<'a>(msgs: &'a [Value], to: &str, needle: &str) -> Vec<&'a Value> {
    let has = |m: &Value, f: &str| m[f].as_str().unwrap_or("").contains(needle);
    msgs.iter().filter(|m| m["rcpt_tos"][0] == to && (has(m, "subject") || has(m, "body"))).collect()
}

/// Waits for a message to `to` whose subject or body contains `needle`; returns its body.
fn wait_mail(s: &SmtpSink, to: &str, needle: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let msgs = s.messages();
        if let Some(m) = mail_to(&msgs, to, needle).last() {
            return m["body"].as_str().unwrap().to_string();
        }
        assert!(Instant::now() < deadline, "no message to {to} with {needle:?}; got {msgs:#?}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The six-digit code of a code message.
fn six_digits(body: &str) -> String {
    let chars: Vec<char> = body.chars().collect();
    for w in chars.windows(8) {
        if !w[0].is_ascii_digit() && w[1..7].iter().all(char::is_ascii_digit) && !w[7].is_ascii_digit() {
            return w[1..7].iter().collect();
        }
    }
    panic!("no six-digit code in {body}");
}

/// The report code (`XXXX-XXXX-XXXX-XXXX`) of a notice.
fn report_code(body: &str) -> String {
    body.split(|c: char| !(c.is_ascii_alphanumeric() || c == '-'))
        .find(|w| w.len() == 19 && [4, 9, 14].iter().all(|&i| w.as_bytes()[i] == b'-'))
        .unwrap_or_else(|| panic!("no report code in {body}"))
        .to_string()
}

/// The subject of a code message.
const CODE_SUBJECT: &str = "Verification code for an account link";

struct World {
    server: Server,
    bank: String,
    wallet: String,
    outsider: String,
}

fn opened(w: &World, account: &str, email: &str) {
    let e = json!({"id": format!("open-{account}"), "type": "account_opened", "time": at(-86_400 * 400), "account": account, "kyc": "in_person",
        "holder": {"name_kana": "ﾔﾏﾀﾞ ﾀﾛｳ", "birth_date": "1950-04-01", "phone": "090-1111-2222", "email": email}});
    assert_eq!(call(&w.server.base, "POST", "/v1/events", Some(&w.bank), Some(e)).status, 200);
}

fn request(w: &World, link: &str, account: &str, wallet_account: &str, auth: &str) -> Answer {
    let e = json!({"id": format!("req-{link}"), "type": "link_requested", "time": at(0), "account": wallet_account, "link": link,
        "bank": {"institution": "bank-a", "account": account}, "wallet": {"institution": "wallet-x", "account": wallet_account},
        "holder": {"name_kana": "ヤマダ タロウ", "birth_date": "1950-04-01", "phone": "+819011112222", "email": "attacker@evil.example"},
        "auth": auth});
    call(&w.server.base, "POST", "/v1/links", Some(&w.wallet), Some(e))
}

fn verify(w: &World, link: &str, code: &str) -> Answer {
    call(&w.server.base, "POST", &format!("/v1/links/{link}/verify"), Some(&w.bank), Some(json!({"code": code})))
}

fn charge(w: &World, id: &str, link: &str, amount: u32) -> Value {
    let e = json!({"id": id, "type": "charge", "time": at(60), "account": "w-1", "link": link, "amount": amount.to_string()});
    let a = call(&w.server.base, "POST", "/v1/events", Some(&w.wallet), Some(e));
    assert_eq!(a.status, 200, "{}", a.body);
    a.json()
}

fn rules(d: &Value) -> Vec<String> {
    d["reasons"].as_array().unwrap().iter().map(|r| r["rule"].as_str().unwrap().to_string()).collect()
}

#[test]
fn a_link_is_verified_through_the_banks_channel_and_a_report_freezes_it_mid_run() {
    let Some(smtp) = sink(0) else { return };
    let hook = WebhookSink::start(1).unwrap();
    let dir = TempDir::new("links");
    let data = dir.path("data");
    let bank = add_institution(&data, "bank-a", "bank");
    let wallet = add_institution(&data, "wallet-x", "emoney");
    let outsider = add_institution(&data, "bank-b", "bank");
    let server = Server::start(&data, &["--smtp-url", &smtp.url()]);
    let w = World { server, bank, wallet, outsider };

    // The bank's webhook: a secret shown once.
    let a = call(&w.server.base, "PUT", "/v1/webhook", Some(&w.bank), Some(json!({"url": hook.url})));
    assert_eq!(a.status, 200, "{}", a.body);
    let secret = a.json()["secret"].as_str().unwrap().to_string();
    assert!(secret.starts_with("whsec_"));
    let bad = call(&w.server.base, "PUT", "/v1/webhook", Some(&w.bank), Some(json!({"url": "ftp://x"})));
    assert_eq!(bad.status, 422, "{}", bad.body);

    opened(&w, "b-1", "taro@bank.example");
    opened(&w, "b-2", "hanako@bank.example");

    // A PIN-only request from the wallet, carrying another e-mail: challenged, and the
    // code goes to the e-mail the bank registered, never to the one in the request.
    let a = request(&w, "L1", "b-1", "w-1", "pin_only");
    assert_eq!(a.status, 200, "{}", a.body);
    let d = a.json();
    assert_eq!(d["decision"], "challenge", "{d}");
    assert!(rules(&d).contains(&"pin-only-link".to_string()) && rules(&d).contains(&"identity".to_string()), "{d}");
    let identity =
        d["reasons"].as_array().unwrap().iter().find(|r| r["rule"] == "identity").unwrap()["detail"].as_str().unwrap().to_string();
    assert_eq!(identity, "identity match: name (katakana, normalised) match, birth date match, phone match");
    assert_eq!(d["challenge"]["channel"], "email", "{d}");
    assert_eq!(d["challenge"]["to"], "t***@bank.example", "{d}");
    assert_eq!(d["link"]["state"], "challenged", "{d}");
    assert!(!a.body.contains("attacker"), "{}", a.body);
    let code = six_digits(&wait_mail(&smtp, "taro@bank.example", CODE_SUBJECT));
    let requested = wait_mail(&smtp, "taro@bank.example", "wallet-x");
    assert!(!requested.to_lowercase().contains("http"), "{requested}");
    assert!(smtp.messages().iter().all(|m| m["rcpt_tos"][0] != "attacker@evil.example"));
    // The same request again: its first decision, no second code.
    let again = request(&w, "L1", "b-1", "w-1", "pin_only");
    assert!(again.replay && again.json()["challenge"].is_null(), "{}", again.body);

    // A charge before the link is active is held; the wallet cannot activate a PIN-only
    // link by reporting it verified.
    let d = charge(&w, "c0", "L1", 10_000);
    assert_eq!(d["decision"], "hold", "{d}");
    assert!(rules(&d).contains(&"link-not-active".to_string()), "{d}");
    let e = json!({"id": "v-by-wallet", "type": "link_verified", "time": at(1), "account": "w-1", "link": "L1"});
    let d = call(&w.server.base, "POST", "/v1/events", Some(&w.wallet), Some(e)).json();
    assert_eq!(d["decision"], "hold", "{d}");
    assert!(rules(&d).contains(&"pin-only-link-unconfirmed".to_string()), "{d}");

    // Wrong codes count down; the right one activates.
    let wrong = if code == "000000" { "111111" } else { "000000" };
    for left in [4, 3] {
        let a = verify(&w, "L1", wrong);
        assert_eq!((a.status, a.json()["attempts_left"].as_u64()), (422, Some(left)), "{}", a.body);
    }
    let bad = verify(&w, "L1", "12345");
    assert_eq!(bad.status, 422, "{}", bad.body);
    let unknown = verify(&w, "L-none", &code);
    assert_eq!((unknown.status, unknown.json()["type"].as_str().unwrap_or("").ends_with("unknown-link")), (404, true), "{}", unknown.body);
    let a = verify(&w, "L1", &code);
    assert_eq!(a.status, 200, "{}", a.body);
    assert_eq!(a.json()["link"]["state"], "active");
    assert_eq!(a.json()["link"]["verified_by"], "challenge");
    let again = verify(&w, "L1", &code);
    assert_eq!(again.status, 409, "already verified: {}", again.body);

    // Five wrong codes lock a link for good; the right code then changes nothing.
    let a = request(&w, "L2", "b-2", "w-2", "otp");
    assert_eq!(a.json()["link"]["state"], "challenged", "{}", a.body);
    let code2 = six_digits(&wait_mail(&smtp, "hanako@bank.example", CODE_SUBJECT));
    let wrong2 = if code2 == "000000" { "111111" } else { "000000" };
    for n in 1..=5 {
        let a = verify(&w, "L2", wrong2);
        let expected = if n < 5 { 422 } else { 423 };
        assert_eq!(a.status, expected, "attempt {n}: {}", a.body);
    }
    let a = verify(&w, "L2", &code2);
    assert_eq!(a.status, 423, "{}", a.body);
    let l2 = call(&w.server.base, "GET", "/v1/links/L2", Some(&w.bank), None).json();
    assert_eq!(l2["state"], "locked", "{l2}");
    assert_eq!(l2["history"].as_array().unwrap().iter().filter(|s| s["what"] == "wrong code").count(), 5, "{l2}");
    let resend = call(&w.server.base, "POST", "/v1/links/L2/challenge", Some(&w.bank), None);
    assert_eq!(resend.status, 423, "{}", resend.body);
    wait_mail(&smtp, "hanako@bank.example", "Account link lock");

    // A run of charges; the customer reports the second one from its e-mail; the rest
    // are held at once, with the report as the reason.
    let mut decisions = Vec::new();
    for (i, id) in ["c1", "c2", "c3", "c4", "c5"].iter().enumerate() {
        if i == 2 {
            let body = wait_mail(&smtp, "taro@bank.example", "10,001");
            let rc = report_code(&body);
            let a = call(&w.server.base, "POST", "/v1/reports", None, Some(json!({"code": rc.to_lowercase()})));
            assert_eq!(a.status, 201, "{}", a.body);
            assert_eq!(a.json()["frozen"]["link"], "L1", "{}", a.body);
            let labelled: Vec<String> =
                a.json()["labelled"].as_array().unwrap().iter().map(|e| e["id"].as_str().unwrap().to_string()).collect();
            assert!(["c1", "c2", "req-L1"].iter().all(|id| labelled.iter().any(|l| l == id)), "{labelled:?}");
            let twice = call(&w.server.base, "POST", "/v1/reports", None, Some(json!({"code": rc})));
            assert_eq!(twice.status, 409, "{}", twice.body);
            let unknown = call(&w.server.base, "POST", "/v1/reports", None, Some(json!({"code": "0000-0000-0000"})));
            assert_eq!(unknown.status, 404, "{}", unknown.body);
        }
        decisions.push(charge(&w, id, "L1", 10_000 + i as u32));
    }
    for d in &decisions[..2] {
        assert_ne!(d["decision"], "hold", "{d}");
    }
    for d in &decisions[2..] {
        assert_eq!(d["decision"], "hold", "{d}");
        let reason = d["reasons"].as_array().unwrap().iter().find(|r| r["rule"] == "reported").unwrap_or_else(|| panic!("{d}"));
        assert!(reason["detail"].as_str().unwrap().contains("R-1"), "{d}");
    }
    // The fraud label is an event of the wallet's (its charges) and of the bank's.
    let label = call(&w.server.base, "GET", "/v1/events/mamori:report:R-1", Some(&w.wallet), None);
    assert_eq!(label.status, 200, "{}", label.body);
    wait_mail(&smtp, "taro@bank.example", "Report received");

    // Every notice also reached the bank's webhook, signed; the first delivery failed and
    // was retried with the same delivery id.
    let got = hook.wait_for(3, Duration::from_secs(30));
    assert!(got.len() >= 3, "{}", got.len());
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as i64;
    for (h, body) in &got {
        assert!(mamori_notify::verify(secret.as_bytes(), &h["mamori-timestamp"], &h["mamori-signature"], body, now, 300), "{h:?}");
        assert!(!mamori_notify::verify(b"whsec_other", &h["mamori-timestamp"], &h["mamori-signature"], body, now, 300));
    }
    let first = &got[0].0["mamori-delivery"];
    let deadline = Instant::now() + Duration::from_secs(40);
    while hook.deliveries().iter().filter(|(h, _)| &h["mamori-delivery"] == first).count() < 2 {
        assert!(Instant::now() < deadline, "the failed delivery {first} was not retried");
        std::thread::sleep(Duration::from_millis(50));
    }

    // Lists: the account's links with their history, the outbox without addresses.
    let list = call(&w.server.base, "GET", "/v1/links?account=b-1", Some(&w.bank), None).json();
    assert_eq!(list["links"][0]["id"], "L1", "{list}");
    assert!(list["links"][0]["frozen"]["report"] == "R-1", "{list}");
    let notices = call(&w.server.base, "GET", "/v1/notices?status=sent", Some(&w.bank), None);
    assert!(!notices.body.contains("taro@"), "{}", notices.body);
    // Another institution sees nothing of the bank's links, cannot verify nor report them.
    let other = call(&w.server.base, "GET", "/v1/links/L1", Some(&w.outsider), None);
    assert_eq!(other.status, 404, "{}", other.body);
    let a = call(&w.server.base, "POST", "/v1/reports", Some(&w.outsider), Some(json!({"link": "L1"})));
    assert_eq!(a.status, 404, "{}", a.body);

    // A graceful restart (from the snapshot it saves) keeps every link as it was.
    let before = call(&w.server.base, "GET", "/v1/links?account=b-1", Some(&w.bank), None).json();
    let mut w = w;
    w.server.signal("-TERM");
    assert_eq!(w.server.wait_exit(), 0, "{}", w.server.log());
    w.server = Server::start(&data, &["--smtp-url", &smtp.url()]);
    assert_eq!(call(&w.server.base, "GET", "/v1/links?account=b-1", Some(&w.bank), None).json(), before);
    let d = charge(&w, "c6", "L1", 10_000);
    assert_eq!(d["decision"], "hold", "{d}");
    let a = verify(&w, "L2", &code2);
    assert_eq!(a.status, 423, "{}", a.body);
}

/// A port nothing listens on (yet).
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

fn notices(w: &World, status: &str) -> Vec<Value> {
    let a = call(&w.server.base, "GET", &format!("/v1/notices?status={status}"), Some(&w.bank), None);
    assert_eq!(a.status, 200, "{}", a.body);
    a.json()["notices"].as_array().unwrap().clone()
}

#[test]
fn notices_wait_out_a_dead_smtp_server_and_a_crash() {
    let port = free_port();
    let url = format!("smtp://127.0.0.1:{port}");
    let dir = TempDir::new("links-outbox");
    let data = dir.path("data");
    let bank = add_institution(&data, "bank-a", "bank");
    let wallet = add_institution(&data, "wallet-x", "emoney");
    let outsider = add_institution(&data, "bank-b", "bank");
    let mut w = World { server: Server::start(&data, &["--smtp-url", &url]), bank, wallet, outsider };
    opened(&w, "b-1", "taro@bank.example");
    let t = json!({"id": "t1", "type": "transfer", "time": at(10), "account": "b-1", "direction": "out", "amount": "54321",
        "counterparty": {"institution": "bank-z", "account": "999"}});
    assert_eq!(call(&w.server.base, "POST", "/v1/events", Some(&w.bank), Some(t)).status, 200);
    let a = request(&w, "L1", "b-1", "w-1", "otp");
    assert_eq!(a.json()["challenge"]["channel"], "email", "{}", a.body);
    // Nothing listens: the deliveries fail, are kept, and wait for their next attempt.
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let pending = notices(&w, "pending");
        if pending.len() >= 3 && pending.iter().all(|n| n["attempts"].as_u64() >= Some(1)) {
            assert!(pending[0]["last_error"].as_str().is_some_and(|e| !e.is_empty()), "{pending:?}");
            break;
        }
        assert!(Instant::now() < deadline, "deliveries were not tried: {pending:?}");
        std::thread::sleep(Duration::from_millis(50));
    }
    // The service dies; the SMTP server comes up; the service starts again.
    w.server.signal("-KILL");
    w.server.wait_exit();
    let Some(smtp) = sink(port) else { return };
    w.server = Server::start(&data, &["--smtp-url", &url]);
    let body = wait_mail(&smtp, "taro@bank.example", "54,321");
    assert!(body.contains("bank-z"), "{body}");
    let code = six_digits(&wait_mail(&smtp, "taro@bank.example", CODE_SUBJECT));
    // The code issued before the crash still verifies: the link's state came back.
    let a = verify(&w, "L1", &code);
    assert_eq!(a.status, 200, "{}", a.body);
    let deadline = Instant::now() + Duration::from_secs(30);
    while !notices(&w, "pending").is_empty() {
        assert!(Instant::now() < deadline, "still pending: {:?}", notices(&w, "pending"));
        std::thread::sleep(Duration::from_millis(50));
    }
    let sent = notices(&w, "sent");
    assert!(sent.iter().any(|n| n["kind"] == "transfer_out" && n["attempts"].as_u64() >= Some(1)), "{sent:?}");
    assert!(notices(&w, "dead").is_empty());
    // Each notice went out once: a delivery is recorded before the next round reads the outbox.
    let msgs = smtp.messages();
    assert_eq!(mail_to(&msgs, "taro@bank.example", "54,321").len(), 1, "{msgs:#?}");
}

#[test]
fn partner_controls_the_banks_own_flow_expiry_and_revocation() {
    let Some(smtp) = sink(0) else { return };
    let dir = TempDir::new("links-controls");
    let data = dir.path("data");
    let config = dir.path("mamori.toml");
    std::fs::write(&config, "[links]\ncode_valid = \"1s\"\n[notify]\nreport_code_valid = \"1s\"\n").unwrap();
    let bank = add_institution(&data, "bank-a", "bank");
    let wallet = add_institution(&data, "wallet-x", "emoney");
    let outsider = add_institution(&data, "wallet-y", "emoney");
    let server = Server::start(&data, &["--smtp-url", &smtp.url(), "--config", config.to_str().unwrap()]);
    let w = World { server, bank, wallet, outsider };
    let base = w.server.base.clone();
    opened(&w, "b-1", "taro@bank.example");
    let e = json!({"id": "open-wy", "type": "account_opened", "time": at(-3600), "account": "wy-1", "kyc": "none"});
    assert_eq!(call(&base, "POST", "/v1/events", Some(&w.outsider), Some(e)).status, 200);

    // A minimum KYC for one partner's accounts, recorded with who and why.
    let controls = |partner: &str, body: Value| call(&base, "PUT", &format!("/v1/partners/{partner}/controls"), Some(&w.bank), Some(body));
    let a = controls(
        "wallet-y",
        json!({"min_kyc": "photo_id", "by": "Sato, fraud operations", "reason": "wallet-y opens accounts without KYC"}),
    );
    assert_eq!(a.status, 200, "{}", a.body);
    assert_eq!(controls("wallet-y", json!({"min_kyc": "passport", "by": "Sato", "reason": "x"})).status, 422);
    assert_eq!(controls("wallet-y", json!({"suspend_links": true, "by": "", "reason": "x"})).status, 422);
    let e = json!({"id": "req-wy", "type": "link_requested", "time": at(0), "account": "wy-1", "link": "LY",
        "bank": {"institution": "bank-a", "account": "b-1"}, "wallet": {"institution": "wallet-y", "account": "wy-1"}, "auth": "ekyc"});
    let d = call(&base, "POST", "/v1/links", Some(&w.outsider), Some(e)).json();
    assert_eq!(d["decision"], "block", "{d}");
    let reason =
        d["reasons"].as_array().unwrap().iter().find(|r| r["rule"] == "partner-kyc-below-minimum").unwrap_or_else(|| panic!("{d}"));
    assert!(reason["detail"].as_str().unwrap().contains("KYC none"), "{d}");
    assert!(d["challenge"].is_null() && d["link"]["state"] == "refused", "{d}");

    // The bank runs its own flow and reports events: the same state as the API.
    for e in [
        json!({"id": "own-req", "type": "link_requested", "time": at(1), "account": "b-1", "link": "L9",
            "bank": {"institution": "bank-a", "account": "b-1"}, "wallet": {"institution": "wallet-x", "account": "w-1"}, "auth": "otp"}),
        json!({"id": "own-ver", "type": "link_verified", "time": at(2), "account": "b-1", "link": "L9"}),
    ] {
        assert_eq!(call(&base, "POST", "/v1/events", Some(&w.bank), Some(e)).json()["decision"], "allow");
    }
    let l9 = call(&base, "GET", "/v1/links/L9", Some(&w.wallet), None).json();
    assert_eq!((l9["state"].as_str(), l9["verified_by"].as_str()), (Some("active"), Some("bank-a")), "{l9}");
    assert_eq!(charge(&w, "k1", "L9", 5_000)["decision"], "allow");

    // The kill switch: charges, then new links, with the partner.
    let a = controls("wallet-x", json!({"suspend_charges": true, "by": "Sato, fraud operations", "reason": "wallet-x KYC weakness"}));
    assert_eq!(a.status, 200, "{}", a.body);
    let d = charge(&w, "k2", "L9", 5_000);
    assert_eq!(d["decision"], "block", "{d}");
    let reason =
        d["reasons"].as_array().unwrap().iter().find(|r| r["rule"] == "partner-charges-suspended").unwrap_or_else(|| panic!("{d}"));
    assert!(reason["detail"].as_str().unwrap().contains("Sato, fraud operations: wallet-x KYC weakness"), "{d}");
    controls("wallet-x", json!({"suspend_links": true, "suspend_charges": true, "by": "Sato", "reason": "review"}));
    let d = request(&w, "L10", "b-1", "w-1", "otp").json();
    assert_eq!(d["decision"], "block", "{d}");
    assert!(rules(&d).contains(&"partner-links-suspended".to_string()), "{d}");
    let partners = call(&base, "GET", "/v1/partners", Some(&w.bank), None).json();
    assert_eq!(partners["partners"]["wallet-x"]["history"].as_array().unwrap().len(), 2, "{partners}");
    assert_eq!(partners["partners"]["wallet-y"]["history"][0]["by"], "Sato, fraud operations", "{partners}");
    controls("wallet-x", json!({"by": "Sato", "reason": "fixed"}));

    // A code is valid for the configured time only; a new one replaces it.
    let d = request(&w, "L11", "b-1", "w-1", "otp").json();
    assert_eq!(d["link"]["state"], "challenged", "{d}");
    let old = six_digits(&wait_mail(&smtp, "taro@bank.example", CODE_SUBJECT));
    std::thread::sleep(Duration::from_millis(1_200));
    let a = verify(&w, "L11", &old);
    assert_eq!((a.status, a.json()["type"].as_str().unwrap_or("").ends_with("code-expired")), (410, true), "{}", a.body);
    let a = call(&base, "POST", "/v1/links/L11/challenge", Some(&w.bank), None);
    assert_eq!(a.status, 200, "{}", a.body);
    assert_eq!(a.json()["challenge"]["to"], "t***@bank.example");
    let deadline = Instant::now() + Duration::from_secs(30);
    while mail_to(&smtp.messages(), "taro@bank.example", CODE_SUBJECT).len() < 2 {
        assert!(Instant::now() < deadline, "no second code");
        std::thread::sleep(Duration::from_millis(20));
    }

    // Revoked: the wallet's charges through it are refused; the customer is told.
    let a = call(&base, "POST", "/v1/links/L9/revoke", Some(&w.bank), None);
    assert_eq!((a.status, a.json()["link"]["state"].as_str()), (200, Some("revoked")), "{}", a.body);
    assert_eq!(call(&base, "POST", "/v1/links/L9/revoke", Some(&w.bank), None).status, 409);
    let d = charge(&w, "k3", "L9", 5_000);
    assert_eq!(d["decision"], "block", "{d}");
    assert!(rules(&d).contains(&"link-closed".to_string()), "{d}");
    wait_mail(&smtp, "taro@bank.example", "Account link removal");
    // A report code is valid for the configured time only.
    let t = |id: &str, amount: &str| {
        json!({"id": id, "type": "transfer", "time": at(20), "account": "b-1", "direction": "out", "amount": amount,
            "counterparty": {"institution": "bank-z", "account": "999"}})
    };
    assert_eq!(call(&base, "POST", "/v1/events", Some(&w.bank), Some(t("t1", "7777"))).json()["decision"], "allow");
    let rc = report_code(&wait_mail(&smtp, "taro@bank.example", "7,777"));
    std::thread::sleep(Duration::from_millis(1_200));
    let a = call(&base, "POST", "/v1/reports", None, Some(json!({"code": rc})));
    assert_eq!(a.status, 410, "{}", a.body);
    // The bank reports the transfer for its customer: the account is frozen.
    let a = call(&base, "POST", "/v1/reports", Some(&w.bank), Some(json!({"event": "t1", "link": "L9"})));
    assert_eq!(a.status, 422, "one subject only: {}", a.body);
    let a = call(&base, "POST", "/v1/reports", Some(&w.bank), Some(json!({"event": "t1"})));
    assert_eq!(a.status, 201, "{}", a.body);
    assert_eq!(a.json()["frozen"]["account"]["account"], "b-1", "{}", a.body);
    let d = call(&base, "POST", "/v1/events", Some(&w.bank), Some(t("t2", "8888"))).json();
    assert_eq!(d["decision"], "hold", "{d}");
    assert!(rules(&d).contains(&"reported".to_string()), "{d}");
    let a = call(&base, "POST", "/v1/reports", Some(&w.bank), Some(json!({"event": "nope"})));
    assert_eq!(a.status, 404, "{}", a.body);
    // A reserved id is refused.
    let e = json!({"id": "mamori:x", "type": "login", "time": at(5), "account": "b-1", "success": true});
    assert_eq!(call(&base, "POST", "/v1/events", Some(&w.bank), Some(e)).status, 422);
}

#[test]
fn notices_lost_to_a_crash_before_they_were_written_are_planned_again() {
    let port = free_port();
    let url = format!("smtp://127.0.0.1:{port}");
    let dir = TempDir::new("links-replan");
    let data = dir.path("data");
    let config = dir.path("mamori.toml");
    // Notices wait an hour to share a transaction: none is written before the kill.
    std::fs::write(&config, "[notify]\noutbox_delay = \"1h\"\n").unwrap();
    let bank = add_institution(&data, "bank-a", "bank");
    let wallet = add_institution(&data, "wallet-x", "emoney");
    let outsider = add_institution(&data, "bank-b", "bank");
    let server = Server::start(&data, &["--smtp-url", &url, "--config", config.to_str().unwrap()]);
    let mut w = World { server, bank, wallet, outsider };
    opened(&w, "b-1", "taro@bank.example");
    for (id, amount) in [("t1", "11111"), ("t2", "22222"), ("t3", "33333")] {
        let t = json!({"id": id, "type": "transfer", "time": at(10), "account": "b-1", "direction": "out", "amount": amount,
            "counterparty": {"institution": "bank-z", "account": "999"}});
        assert_eq!(call(&w.server.base, "POST", "/v1/events", Some(&w.bank), Some(t)).status, 200);
    }
    w.server.signal("-KILL");
    w.server.wait_exit();

    // The next start plans the three transfers' notices again, from the state as of each.
    let smtp = sink(port);
    w.server = Server::start(&data, &["--smtp-url", &url]);
    // One read of every status: two reads (pending, then sent) could miss a notice
    // delivered between them.
    let all = |w: &World| notices(w, "");
    let mut events: Vec<String> = all(&w).iter().map(|n| n["event"]["id"].as_str().unwrap().to_string()).collect();
    events.sort();
    assert_eq!(events, ["t1", "t2", "t3"], "{:?}", all(&w));
    if let Some(smtp) = &smtp {
        for amount in ["11,111", "22,222", "33,333"] {
            wait_mail(smtp, "taro@bank.example", amount);
        }
    }
    // A clean stop and start plans nothing again: each notice exists once.
    w.server.signal("-TERM");
    w.server.wait_exit();
    w.server = Server::start(&data, &["--smtp-url", &url]);
    assert_eq!(all(&w).len(), 3, "{:?}", all(&w));
    if let Some(smtp) = &smtp {
        let msgs = smtp.messages();
        assert_eq!(mail_to(&msgs, "taro@bank.example", "22,222").len(), 1, "{msgs:#?}");
    }
}
