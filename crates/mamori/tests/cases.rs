//! Cases against the real binary: a gang across victims is one case; analysts assign,
//! comment, attach, resolve and release; other roles and institutions see nothing; a
//! restart keeps every case as it was.

use serde_json::{Value, json};

mod common;
use common::{Server, TempDir, add_institution, agent, bin, send};

fn add_key(data: &std::path::Path, institution: &str, role: &str) -> String {
    let out = bin().args(["key", "add", "--institution", institution, "--role", role, "--data-dir"]).arg(data).output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).lines().last().unwrap().to_string()
}

fn charge(id: &str, victim: u32, device: &str, amount: u32, link: &str) -> Value {
    json!({"id": id, "type": "charge", "time": format!("2026-11-21T10:{victim:02}:00+09:00"), "account": format!("w-{victim}"),
        "customer": format!("c-{victim}"), "device": device, "link": link, "amount": amount.to_string()})
}

#[test]
fn a_gang_is_one_case_that_analysts_work_to_a_verdict() {
    let dir = TempDir::new("cases");
    let data = dir.path("data");
    let admin = add_institution(&data, "wallet-x", "emoney");
    add_institution(&data, "wallet-y", "emoney");
    let analyst = add_key(&data, "wallet-x", "analyst");
    let integrator = add_key(&data, "wallet-x", "integrator");
    let outsider = add_key(&data, "wallet-y", "analyst");
    let mut server = Server::start(&data, &[]);
    let a = agent();
    let base = server.base.clone();
    let call = |method: &str, path: &str, key: &str, body: Option<Value>| {
        send(&a, method, &format!("{base}{path}"), Some(key), body.map(|b| b.to_string())).unwrap()
    };

    // Three victims charged over the cap from one device; one unrelated victim elsewhere.
    for (id, victim, device) in [("g1", 1, "d-gang"), ("g2", 2, "d-gang"), ("g3", 3, "d-gang"), ("u1", 9, "d-own")] {
        let d = call("POST", "/v1/events", &integrator, Some(charge(id, victim, device, 150_000, &format!("L{victim}")))).json();
        assert_eq!(d["decision"], "block", "{d}");
    }
    // A charge through a link requested and never activated: held.
    let req = json!({"id": "r5", "type": "link_requested", "time": "2026-11-21T10:30:00+09:00", "account": "w-5", "link": "L5",
        "bank": {"institution": "bank-a", "account": "b-5"}, "wallet": {"institution": "wallet-x", "account": "w-5"}, "auth": "otp"});
    assert_eq!(call("POST", "/v1/events", &integrator, Some(req)).status, 200);
    let d = call("POST", "/v1/events", &integrator, Some(charge("h5", 5, "d-5", 5_000, "L5"))).json();
    assert_eq!(d["decision"], "hold", "{d}");

    // Only analysts (and admins) of the institution see cases.
    assert_eq!(call("GET", "/v1/cases", &integrator, None).status, 403);
    assert_eq!(call("GET", "/v1/cases", &outsider, None).json()["cases"], json!([]));
    assert_eq!(call("GET", "/v1/cases/C-1", &outsider, None).status, 404);
    let list = call("GET", "/v1/cases?status=open", &analyst, None).json();
    let cases = list["cases"].as_array().unwrap();
    assert_eq!(cases.len(), 3, "{list}");
    let gang = cases.iter().find(|c| c["victims"] == 3).unwrap_or_else(|| panic!("no case with the gang's three victims: {list}"));
    let id = gang["id"].as_str().unwrap().to_string();
    assert_eq!(gang["amounts"]["JPY"], "450000", "{gang}");
    let by_rule = call("GET", "/v1/cases?rule=charge-over-cap&min_amount=300000", &analyst, None).json();
    assert_eq!(by_rule["cases"].as_array().unwrap().len(), 1, "{by_rule}");
    assert_eq!(call("GET", "/v1/cases?status=maybe", &analyst, None).status, 400);

    let case = call("GET", &format!("/v1/cases/{id}"), &analyst, None).json();
    assert!(case["entities"].as_array().unwrap().iter().any(|e| e["kind"] == "device" && e["value"] == "d-gang"), "{case}");
    assert_eq!(case["timeline"].as_array().unwrap().len(), 3, "{case}");
    assert!(case["timeline"][0]["reasons"].as_array().unwrap().iter().any(|r| r["rule"] == "charge-over-cap"), "{case}");

    // Assign, comment, attach; an integrator's resolve is refused and changes nothing.
    assert_eq!(call("POST", &format!("/v1/cases/{id}/assign"), &analyst, Some(json!({"to": "Sato", "by": "Suzuki"}))).status, 200);
    assert_eq!(
        call("POST", &format!("/v1/cases/{id}/comment"), &analyst, Some(json!({"text": "same device, three customers"}))).status,
        200
    );
    assert_eq!(call("POST", &format!("/v1/cases/{id}/comment"), &analyst, Some(json!({"text": " "}))).status, 422);
    let file = b"statement of the customer c-1".to_vec();
    let r = a
        .post(format!("{base}/v1/cases/{id}/attachments?name=statement.txt"))
        .header("Authorization", &format!("Bearer {analyst}"))
        .send(&file[..])
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    let refused = call("POST", &format!("/v1/cases/{id}/resolve"), &integrator, Some(json!({"verdict": "legit"})));
    assert_eq!(refused.status, 403, "{}", refused.body);
    assert_eq!(call("POST", &format!("/v1/cases/{id}/resolve"), &analyst, Some(json!({"verdict": "maybe"}))).status, 422);
    let case = call("GET", &format!("/v1/cases/{id}"), &analyst, None).json();
    assert_eq!((case["status"].as_str(), case["assignee"].as_str()), (Some("open"), Some("Sato")), "{case}");
    assert_eq!(case["attachments"][0]["size"], file.len(), "{case}");
    let sha = case["attachments"][0]["sha256"].as_str().unwrap().to_string();
    assert_eq!(std::fs::read(data.join("attachments").join(&sha)).unwrap(), file);

    // A verdict of fraud labels the case's events.
    let r = call(
        "POST",
        &format!("/v1/cases/{id}/resolve"),
        &analyst,
        Some(json!({"verdict": "fraud", "comment": "confirmed with the customers"})),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json()["verdict"], "fraud");
    assert_eq!(call("POST", &format!("/v1/cases/{id}/resolve"), &analyst, Some(json!({"verdict": "legit"}))).status, 409);
    let label = call("GET", &format!("/v1/events/mamori:verdict:{id}"), &admin, None);
    assert_eq!(label.status, 200, "{}", label.body);

    // The held charge is released once; it cannot then be confirmed; the wallet's webhook is told.
    let hook = call("PUT", "/v1/webhook", &admin, Some(json!({"url": "http://127.0.0.1:9/hooks"})));
    assert_eq!(hook.status, 200, "{}", hook.body);
    assert_eq!(call("POST", "/v1/events/h5/release", &integrator, Some(json!({"reason": "x"}))).status, 403);
    assert_eq!(call("POST", "/v1/events/g9/release", &analyst, Some(json!({"reason": "x"}))).status, 404);
    let r = call("POST", "/v1/events/h5/release", &analyst, Some(json!({"reason": "the customer confirmed by phone"})));
    assert_eq!((r.status, r.json()["state"].as_str()), (200, Some("released")), "{}", r.body);
    assert_eq!(call("POST", "/v1/events/h5/confirm", &analyst, Some(json!({"reason": "x"}))).status, 409);
    let notices = call("GET", "/v1/notices", &admin, None).json();
    let told = notices["notices"].as_array().unwrap().iter().any(|n| n["kind"] == "hold_released" && n["channel"] == "webhook");
    assert!(told, "{notices}");

    // A restart (from the snapshot, then from the events alone) keeps every case as it was.
    let before = call("GET", &format!("/v1/cases/{id}"), &analyst, None).body;
    let all_before = call("GET", "/v1/cases", &analyst, None).body;
    server.signal("-TERM");
    assert_eq!(server.wait_exit(), 0);
    for f in std::fs::read_dir(data.join("snapshots")).unwrap() {
        std::fs::remove_file(f.unwrap().path()).unwrap();
    }
    let server = Server::start(&data, &[]);
    let again = |path: &str| send(&a, "GET", &format!("{}{path}", server.base), Some(&analyst), None).unwrap().body;
    assert_eq!(again(&format!("/v1/cases/{id}")), before);
    assert_eq!(again("/v1/cases"), all_before);
}

#[test]
fn a_verdict_of_fraud_opens_a_claim_split_between_bank_and_wallet_and_tracked_to_paid() {
    let dir = TempDir::new("claims");
    let data = dir.path("data");
    let bank = add_institution(&data, "bank-a", "bank");
    let wallet = add_institution(&data, "wallet-x", "emoney");
    let server = Server::start(&data, &[]);
    let a = agent();
    let base = server.base.clone();
    let call = |method: &str, path: &str, key: &str, body: Option<Value>| {
        send(&a, method, &format!("{base}{path}"), Some(key), body.map(|b| b.to_string())).unwrap()
    };
    // The bank's own flow links b-1 to a wallet account opened with KYC none; three charges go through.
    let events = [
        (
            &bank,
            json!({"id": "o1", "type": "account_opened", "time": "2026-11-01T10:00:00+09:00", "account": "b-1", "kyc": "in_person",
            "holder": {"email": "taro@bank.example"}}),
        ),
        (&wallet, json!({"id": "o2", "type": "account_opened", "time": "2026-11-20T10:00:00+09:00", "account": "w-1", "kyc": "photo_id"})),
        (
            &bank,
            json!({"id": "r1", "type": "link_requested", "time": "2026-11-21T10:00:00+09:00", "account": "b-1", "link": "L1",
            "bank": {"institution": "bank-a", "account": "b-1"}, "wallet": {"institution": "wallet-x", "account": "w-1"}, "auth": "otp"}),
        ),
        (&bank, json!({"id": "v1", "type": "link_verified", "time": "2026-11-21T10:01:00+09:00", "account": "b-1", "link": "L1"})),
    ];
    for (key, e) in events {
        assert_eq!(call("POST", "/v1/events", key, Some(e)).status, 200);
    }
    for (id, minute, amount) in [("c1", 5, "20001"), ("c2", 6, "20000"), ("c3", 7, "9999")] {
        let e = json!({"id": id, "type": "charge", "time": format!("2026-11-21T10:{minute:02}:00+09:00"), "account": "w-1", "link": "L1", "amount": amount});
        let d = call("POST", "/v1/events", &wallet, Some(e)).json();
        assert_eq!(d["decision"], "allow", "{d}");
    }
    // The bank reports the link for its customer: a case of the bank's with the link's charges.
    let r = call("POST", "/v1/reports", &bank, Some(json!({"link": "L1"})));
    assert_eq!(r.status, 201, "{}", r.body);
    let cases = call("GET", "/v1/cases", &bank, None).json();
    let case = cases["cases"][0]["id"].as_str().unwrap().to_string();
    assert_eq!(cases["cases"][0]["reports"], json!(["R-1"]), "{cases}");
    let r = call(
        "POST",
        &format!("/v1/cases/{case}/resolve"),
        &bank,
        Some(json!({"verdict": "fraud", "comment": "link made with a stolen PIN"})),
    );
    assert_eq!(r.status, 200, "{}", r.body);

    // One claim: 50,000 JPY that left, split 50/50 with the odd yen to the bank, due in 5 business days.
    let list = call("GET", "/v1/reimbursements", &wallet, None).json();
    let claim = &list["reimbursements"][0];
    assert_eq!(claim["loss"], "50000", "{list}");
    assert_eq!(claim["shares"][0]["institution"], "bank-a", "{claim}");
    assert_eq!((claim["shares"][0]["amount"].as_str(), claim["shares"][1]["amount"].as_str()), (Some("25000"), Some("25000")), "{claim}");
    assert_eq!(claim["status"], "open");
    let id = claim["id"].as_str().unwrap().to_string();
    let opened = claim["opened"].as_str().unwrap();
    let due = mamori_claims::calendar::add_business_days(opened.parse().unwrap(), 5).to_string();
    assert_eq!(claim["due"], due.as_str(), "{claim}");

    // The victim is told what is paid back and by when (an e-mail waiting in the outbox here).
    let notices = call("GET", "/v1/notices?status=pending", &bank, None).json();
    assert!(notices["notices"].as_array().unwrap().iter().any(|n| n["kind"] == "reimbursement" && n["channel"] == "email"), "{notices}");

    // Payments: more than outstanding is refused; the wallet pays its half, then the bank.
    assert_eq!(call("POST", &format!("/v1/reimbursements/{id}/payments"), &wallet, Some(json!({"amount": "50001"}))).status, 422);
    let r = call("POST", &format!("/v1/reimbursements/{id}/payments"), &wallet, Some(json!({"amount": "25000"})));
    assert_eq!((r.status, r.json()["outstanding"].as_str()), (200, Some("25000")), "{}", r.body);
    let summary = call("GET", "/v1/reimbursements/summary", &bank, None).json();
    assert_eq!(summary["total"]["JPY"]["victims"], 1, "{summary}");
    assert_eq!(summary["total"]["JPY"]["loss"], "50000", "{summary}");
    assert_eq!(summary["by_institution"]["wallet-x"]["JPY"]["paid"], "25000", "{summary}");
    assert_eq!(summary["by_institution"]["bank-a"]["JPY"]["outstanding"], "25000", "{summary}");
    let r = call("POST", &format!("/v1/reimbursements/{id}/payments"), &bank, Some(json!({"amount": "25000"})));
    assert_eq!(r.json()["status"], "paid", "{}", r.body);

    // The export reads the store beside the running service.
    let out = bin().args(["reimbursements", "export", "--csv", "--institution", "wallet-x", "--data-dir"]).arg(&data).output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8(out.stdout).unwrap();
    let mut lines = text.lines();
    assert!(lines.next().unwrap().starts_with("claim,case,institution,victim,currency,loss"), "{text}");
    let row = lines.next().unwrap();
    assert!(row.starts_with(&format!("{id},{case},bank-a,account b-1,JPY,50000,50000,0,50000,0,paid,")), "{row}");
    assert!(row.ends_with("bank-a=25000;wallet-x=25000"), "{row}");
    assert_eq!(lines.next(), None);
    let none = bin().args(["reimbursements", "export", "--csv", "--institution", "bank-z", "--data-dir"]).arg(&data).output().unwrap();
    assert_eq!(String::from_utf8(none.stdout).unwrap().lines().count(), 1);
    let bad = bin().args(["reimbursements", "export", "--data-dir"]).arg(&data).output().unwrap();
    assert_eq!(bad.status.code(), Some(2));
}

#[test]
fn a_broker_pays_half_the_loss_plus_fees_plus_ten_thousand_yen() {
    let dir = TempDir::new("claims-broker");
    let data = dir.path("data");
    let broker = add_institution(&data, "sec-a", "broker");
    add_institution(&data, "bank-a", "bank");
    let server = Server::start(&data, &[]);
    let a = agent();
    let base = server.base.clone();
    let call = |method: &str, path: &str, body: Option<Value>| {
        send(&a, method, &format!("{base}{path}"), Some(&broker), body.map(|b| b.to_string())).unwrap()
    };
    let w = json!({"id": "w1", "type": "withdrawal", "time": "2026-11-21T10:00:00+09:00", "account": "s-1", "amount": "1000000",
        "payee": {"institution": "bank-a", "account": "p-1"}, "attributes": {"fee": "2200"}});
    assert_eq!(call("POST", "/v1/events", Some(w)).json()["decision"], "allow");
    assert_eq!(call("POST", "/v1/reports", Some(json!({"event": "w1"}))).status, 201);
    let case = call("GET", "/v1/cases", None).json()["cases"][0]["id"].as_str().unwrap().to_string();
    assert_eq!(call("POST", &format!("/v1/cases/{case}/resolve"), Some(json!({"verdict": "fraud"}))).status, 200);
    let claim = call("GET", "/v1/reimbursements", None).json()["reimbursements"][0].clone();
    assert_eq!((claim["loss"].as_str(), claim["fees"].as_str()), (Some("1000000"), Some("2200")), "{claim}");
    let sec = claim["shares"].as_array().unwrap().iter().find(|s| s["institution"] == "sec-a").unwrap();
    assert_eq!(sec["amount"], "512200", "{claim}");
    assert_eq!((claim["reimbursed"].as_str(), claim["unreimbursed"].as_str()), (Some("512200"), Some("490000")), "{claim}");
}
