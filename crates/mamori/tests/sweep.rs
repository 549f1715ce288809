//! `mamori sweep` end to end: simulated history with injected incidents, the live service
//! on the same events, every input format, malformed records, outreach.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Output;

use common::*;
use mamori_sweep::parquet_input::{ColumnType, ParquetWriter};
use mamori_sweep::source::Cell;
use serde_json::Value;

fn run(args: &[&str]) -> Output {
    bin().arg("sweep").args(args).output().unwrap()
}

fn ok(out: &Output) -> String {
    assert_eq!(
        out.status.code(),
        Some(0),
        "stdout: {}\nstderr: {}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn simulate(dir: &Path, days: &str, scale: &str) -> PathBuf {
    let out = dir.join("sim");
    let o = bin()
        .args(["simulate", "--scenario", "all", "--seed", "11", "--days", days, "--scale", scale, "--out"])
        .arg(&out)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", String::from_utf8_lossy(&o.stderr));
    out
}

fn rows(path: &Path) -> Vec<BTreeMap<String, String>> {
    let mut r = csv::Reader::from_path(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let headers = r.headers().unwrap().clone();
    r.records().map(|rec| headers.iter().zip(rec.unwrap().iter()).map(|(h, v)| (h.to_string(), v.to_string())).collect()).collect()
}

fn p(path: &Path) -> &str {
    path.to_str().unwrap()
}

/// Every fraud chain the simulator injected has an event held or blocked by the sweep, its
/// victim is in victims.csv, and one thread or two give the same bytes.
#[test]
fn a_sweep_finds_every_injected_incident_and_threads_change_nothing() {
    let t = TempDir::new("sweep-incidents");
    let sim = simulate(&t.0, "14", "0.2");
    // Two inputs, the later half first, so history is far from time order; 1 MiB of
    // sorting memory, so it is sorted on disk.
    let text = std::fs::read_to_string(sim.join("events.ndjson")).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    let (first, second) = lines.split_at(lines.len() / 2);
    std::fs::write(t.path("a.ndjson"), second.join("\n")).unwrap();
    std::fs::write(t.path("b.ndjson"), first.join("\n")).unwrap();
    let mut outs = Vec::new();
    for threads in ["1", "2"] {
        let out = t.path(&format!("out-{threads}"));
        let stdout = ok(&run(&[
            "--input",
            p(&t.path("a.ndjson")),
            p(&t.path("b.ndjson")),
            "--from",
            "2026-04-06",
            "--to",
            "2026-04-19",
            "--out",
            p(&out),
            "--threads",
            threads,
            "--sort-memory",
            "1",
            "--min-action",
            "challenge",
        ]));
        assert!(stdout.contains(&format!("{} records read (0 rejected)", lines.len())), "{stdout}");
        outs.push(out);
    }
    for f in ["findings.csv", "findings.ndjson", "victims.csv"] {
        let one = std::fs::read(outs[0].join(f)).unwrap();
        assert!(one == std::fs::read(outs[1].join(f)).unwrap(), "{f} differs between one thread and two");
    }
    // The history in time order, in one file, read without sorting: the same findings.
    // (Out of order, the events from the first one out of order on are kept as they are
    // read, and those before are read again: none is lost or judged twice.)
    let time = |l: &&str| {
        let e: Value = serde_json::from_str(l).unwrap();
        mamori_core::Timestamp::parse_rfc3339(e["time"].as_str().unwrap()).unwrap()
    };
    let mut sorted = lines.clone();
    sorted.sort_by_key(time);
    std::fs::write(t.path("sorted.ndjson"), sorted.join("\n")).unwrap();
    let in_order = t.path("out-in-order");
    let args = ["--from", "2026-04-06", "--to", "2026-04-19", "--out", p(&in_order), "--threads", "2", "--min-action", "challenge"];
    ok(&run(&[&["--input", p(&t.path("sorted.ndjson"))][..], &args[..]].concat()));
    for f in ["findings.csv", "victims.csv"] {
        let lines = |dir: &Path| {
            let text = std::fs::read_to_string(dir.join(f)).unwrap();
            text.lines().map(str::to_string).collect::<BTreeSet<String>>()
        };
        assert_eq!(lines(&in_order), lines(&outs[1]), "{f}: sorted on disk against read in order");
    }
    let summary: Value = serde_json::from_slice(&std::fs::read(in_order.join("summary.json")).unwrap()).unwrap();
    assert_eq!((&summary["in_order"], &summary["one_reading"]), (&Value::Bool(true), &Value::Bool(false)));
    // In order and one thread: read once, judged as read; byte-identical findings. Out of
    // order and one thread, that reading stopped at the first record out of order and the
    // sweep sorted and replayed instead (`outs[0]`, equal to two threads' above).
    let once = t.path("out-once");
    let args = ["--from", "2026-04-06", "--to", "2026-04-19", "--out", p(&once), "--threads", "1", "--min-action", "challenge"];
    let stdout = ok(&run(&[&["--input", p(&t.path("sorted.ndjson"))][..], &args[..]].concat()));
    assert!(stdout.contains("replayed in one reading of"), "{stdout}");
    let summary: Value = serde_json::from_slice(&std::fs::read(once.join("summary.json")).unwrap()).unwrap();
    assert_eq!(
        (&summary["in_order"], &summary["one_reading"], &summary["read_secs"]),
        (&Value::Bool(true), &Value::Bool(true), &serde_json::json!(0.0))
    );
    assert_eq!(summary["replayed"].as_u64().unwrap() + summary["after_to"].as_u64().unwrap(), lines.len() as u64, "{summary}");
    for f in ["findings.csv", "findings.ndjson", "victims.csv"] {
        assert!(std::fs::read(once.join(f)).unwrap() == std::fs::read(in_order.join(f)).unwrap(), "{f}: one reading against two");
    }
    let summary: Value = serde_json::from_slice(&std::fs::read(outs[0].join("summary.json")).unwrap()).unwrap();
    assert_eq!((&summary["in_order"], &summary["one_reading"]), (&Value::Bool(false), &Value::Bool(false)));
    let summary: Value = serde_json::from_slice(&std::fs::read(outs[1].join("summary.json")).unwrap()).unwrap();
    assert_eq!(summary["in_order"], false);
    assert!(summary["sorted_runs"].as_u64().unwrap() >= 2, "{summary}");
    assert!(summary["entity_sets"].as_u64().unwrap() > 1, "{summary}");
    assert!(summary["entities"].as_u64().unwrap() >= summary["entity_sets"].as_u64().unwrap(), "{summary}");

    let findings = rows(&outs[0].join("findings.csv"));
    assert_eq!(summary["all"]["findings"].as_u64().unwrap(), findings.len() as u64);
    let found: BTreeSet<(String, String)> = findings.iter().map(|r| (r["institution"].clone(), r["event_id"].clone())).collect();
    // (scenario, money moved, found)
    let mut chains: BTreeMap<String, (String, u64, bool)> = BTreeMap::new();
    for l in rows(&sim.join("labels.csv")) {
        if l["fraud"] != "1" || l["chain"].is_empty() {
            continue;
        }
        let hit = found.contains(&(l["institution"].clone(), l["id"].clone()));
        let e = chains.entry(l["chain"].clone()).or_insert((l["scenario"].clone(), 0, false));
        e.1 += l["value_jpy"].parse::<u64>().unwrap();
        e.2 |= hit;
    }
    // Incidents that took money (a stolen login never used moved none).
    chains.retain(|_, (_, value, _)| *value > 0);
    assert!(chains.len() >= 30, "{} chains", chains.len());
    for scenario in ["link-drain", "takeover", "hot-wallet", "card-leak"] {
        assert!(chains.values().any(|c| c.0 == scenario), "no {scenario} incident");
    }
    let missed: Vec<_> = chains.iter().filter(|(_, (_, _, hit))| !hit).collect();
    assert!(missed.is_empty(), "chains with no event held or blocked: {missed:?}");

    // Every finding's customer is a victim; victims carry their totals and dates.
    let victims = rows(&outs[0].join("victims.csv"));
    let total: u64 = victims.iter().map(|v| v["findings"].parse::<u64>().unwrap()).sum();
    assert_eq!(total, findings.len() as u64);
    assert!(victims.iter().all(|v| v["first_date"] <= v["last_date"] && v["first_date"].starts_with("2026-04")));
    let svg = std::fs::read_to_string(outs[0].join("findings-by-month.svg")).unwrap();
    assert!(svg.starts_with("<svg") && svg.contains("2026-04"));
    let text = std::fs::read_to_string(outs[0].join("summary.txt")).unwrap();
    assert!(text.contains("by rule:") && text.contains("by month:") && text.contains("by institution:"));
}

/// The live service, given the same events in time order, holds and blocks exactly what
/// the sweep finds, for the same reasons.
/// Card payments are one set of entities (the compromise analysis joins them all): with two
/// threads a history of them in time order is judged as it is read, on one thread, and
/// gives what the two passes give the same history out of order. One thread gives the same,
/// without joining the entities (no sets reported).
#[test]
fn card_payments_in_order_are_judged_as_read_on_two_threads() {
    let t = TempDir::new("sweep-cards");
    // 20,000 payments over 10 days by 300 cards at 40 merchants, each card online from its
    // own device but every 500th from one device that so pays with several cards a day.
    let mut lines = Vec::new();
    let start = mamori_core::Timestamp::parse_rfc3339("2026-04-01T00:00:00+09:00").unwrap().as_micros();
    for i in 0u64..20_000 {
        let time = mamori_core::Timestamp(start + i as i64 * 43_000_000).to_rfc3339();
        let card = (i * 31) % 300;
        let device = if i % 500 == 0 { "dev-shared".to_string() } else { format!("dev-{card}") };
        lines.push(format!(
            r#"{{"id":"p{i}","type":"card_payment","time":"{time}","institution":"card-co","amount":"{}","card":"tok_{card}","merchant":"m-{}","terminal":"t-{}","device":"{device}"}}"#,
            500 + (i * 7919) % 20_000,
            (i * 17) % 40,
            (i * 13) % 80
        ));
    }
    std::fs::write(t.path("in-order.ndjson"), lines.join("\n")).unwrap();
    lines.reverse();
    std::fs::write(t.path("reversed.ndjson"), lines.join("\n")).unwrap();
    let sweep_on = |threads: &str, input: &str, out: &str| -> (String, Value) {
        let (input, out) = (t.path(input), t.path(out));
        let args = ["--input", p(&input), "--from", "2026-04-01", "--to", "2026-04-12", "--out", p(&out), "--threads", threads];
        let stdout = ok(&run(&args));
        let summary: Value = serde_json::from_slice(&std::fs::read(out.join("summary.json")).unwrap()).unwrap();
        (stdout, summary)
    };
    let sweep = |input: &str, out: &str| sweep_on("2", input, out);
    let (stdout, summary) = sweep("in-order.ndjson", "once");
    assert!(stdout.contains("20000 events replayed in one reading of"), "{stdout}");
    // Cards and merchants: each card pays at several merchants, each merchant is paid by
    // several cards, so they are one set.
    let entities = summary["entities"].as_u64().unwrap();
    assert!(entities > 2, "{summary}");
    assert!(stdout.contains(&format!("({entities} entities in one set, the largest 100.0% of events)")), "{stdout}");
    assert_eq!((&summary["one_reading"], &summary["entity_sets"]), (&Value::Bool(true), &serde_json::json!(1)), "{summary}");
    let (stdout, summary) = sweep_on("1", "in-order.ndjson", "alone");
    assert!(stdout.contains("20000 events replayed in one reading of") && !stdout.contains("entities in"), "{stdout}");
    let joined = (&summary["entities"], &summary["entity_sets"], &summary["largest_set_share"]);
    assert_eq!(joined, (&Value::Null, &Value::Null, &Value::Null), "{summary}");
    let (stdout, summary) = sweep("reversed.ndjson", "twice");
    assert!(!stdout.contains("one reading"), "{stdout}");
    assert_eq!((&summary["one_reading"], &summary["in_order"]), (&Value::Bool(false), &Value::Bool(false)), "{summary}");
    // Findings come in the order of the records, so as sets of lines.
    for f in ["findings.csv", "findings.ndjson", "victims.csv"] {
        let lines = |dir: &str| {
            let text = std::fs::read_to_string(t.path(dir).join(f)).unwrap();
            text.lines().map(str::to_string).collect::<BTreeSet<String>>()
        };
        assert!(lines("once").len() > 30, "{f}: too few to compare");
        assert_eq!(lines("once"), lines("twice"), "{f}: one reading against two passes");
        assert_eq!(lines("once"), lines("alone"), "{f}: two threads against one");
    }
}

#[test]
fn a_sweep_finds_what_the_live_service_decided() {
    let t = TempDir::new("sweep-live");
    let sim = simulate(&t.0, "7", "0.05");
    let data = t.path("data");
    let mut keys = BTreeMap::new();
    for i in rows(&sim.join("institutions.csv")) {
        keys.insert(i["id"].clone(), add_institution(&data, &i["id"], &i["kind"]));
    }
    let text = std::fs::read_to_string(sim.join("events.ndjson")).unwrap();
    let mut events: Vec<Value> = text.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    let time = |e: &Value| mamori_core::Timestamp::parse_rfc3339(e["time"].as_str().unwrap()).unwrap();
    events.sort_by_key(time);
    let server = Server::start(&data, &[]);
    let a = agent();
    let mut live = BTreeSet::new();
    let mut i = 0;
    while i < events.len() {
        let inst = events[i]["institution"].as_str().unwrap().to_string();
        let mut j = i;
        while j < events.len() && events[j]["institution"] == inst.as_str() && j - i < 1000 {
            j += 1;
        }
        let body = serde_json::to_string(&events[i..j]).unwrap();
        let answer = send(&a, "POST", &format!("{}/v1/events/batch", server.base), Some(&keys[&inst]), Some(body)).unwrap();
        assert_eq!(answer.status, 200, "{}", answer.body);
        for d in answer.json().as_array().unwrap() {
            let decision = d["decision"].as_str().unwrap();
            if decision == "hold" || decision == "block" {
                let rules: Vec<&str> = d["reasons"].as_array().unwrap().iter().map(|r| r["rule"].as_str().unwrap()).collect();
                live.insert((inst.clone(), d["event_id"].as_str().unwrap().to_string(), decision.to_string(), rules.join(" ")));
            }
        }
        i = j;
    }
    drop(server);
    assert!(live.len() >= 10, "the live service held or blocked only {}", live.len());

    let out = t.path("out");
    ok(&run(&["--input", p(&sim.join("events.ndjson")), "--from", "2026-04-01", "--to", "2026-04-30", "--out", p(&out)]));
    let swept: BTreeSet<_> = rows(&out.join("findings.csv"))
        .into_iter()
        .map(|r| (r["institution"].clone(), r["event_id"].clone(), r["decision"].clone(), r["rules"].clone()))
        .collect();
    let only_live: Vec<_> = live.difference(&swept).collect();
    let only_sweep: Vec<_> = swept.difference(&live).collect();
    assert!(only_live.is_empty() && only_sweep.is_empty(), "only live: {only_live:?}\nonly sweep: {only_sweep:?}");
}

const RULES_FEATURES: &str = r#"
[[feature]]
name = "payee_transfers_30d"
entity = "counterparty"
aggregate = "count"
window = "30d"
filter = 'event.type == "transfer"'
"#;

const RULES: &str = r#"
[pack]
name = "sweep-test"
description = "Large transfers to a payee first paid within 30 days"

[[rule]]
id = "large-transfer-new-payee"
description = "A transfer of 1,000,000 JPY or more to a payee paid for the first time"
when = 'event.type == "transfer" && event.amount >= 1000000 && features.payee_transfers_30d <= 1'
score = 1000
action = "hold"
reason = "{event.amount} JPY to a payee paid for the first time"
"#;

fn rules_dir(t: &TempDir) -> PathBuf {
    let dir = t.path("rules");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("features.toml"), RULES_FEATURES).unwrap();
    std::fs::write(dir.join("rules.toml"), RULES).unwrap();
    dir
}

fn zengin_file(amounts: &[u64]) -> Vec<u8> {
    use mamori_zengin::*;
    let header = Header {
        kind: TransferKind::General,
        requester_code: 1_000_000_001,
        requester_name: to_zengin_name("ヤマダ タロウ").unwrap(),
        transfer_date: MonthDay::new(9, 7).unwrap(),
        bank_code: 9900,
        bank_name: "ﾕｳﾁﾖ".into(),
        branch_code: 19,
        branch_name: "ﾎﾝﾃﾝ".into(),
        account_type: AccountType::Ordinary,
        account_number: 1_234_567,
    };
    let transfers = amounts
        .iter()
        .enumerate()
        .map(|(i, &amount)| Transfer {
            bank_code: 5,
            bank_name: "ﾐﾂﾋﾞｼ".into(),
            branch_code: 1,
            branch_name: "ﾄｳｷﾖｳ".into(),
            clearing_house: None,
            account_type: AccountType::Ordinary,
            account_number: 7_000_000 + i as u32 % 2,
            recipient_name: to_zengin_name("スズキ ハナコ").unwrap(),
            amount,
            new_code: NewCode::Other,
            customer_codes: CustomerCodes::default(),
            method: None,
        })
        .collect();
    let transfers: Vec<Transfer> = transfers;
    encode_file(&header, &transfers, Separator::CrLf).unwrap()
}

/// Zengin, CSV and Parquet histories give the same finding; a malformed Zengin record is
/// reported with its file, record and field, skipped or stopping the sweep as asked.
#[test]
fn every_input_format_and_malformed_records() {
    let t = TempDir::new("sweep-formats");
    let rules = rules_dir(&t);
    // Large transfers to payees A, B, then A again: the first two are to new payees.
    let zen = t.path("batch.zengin");
    std::fs::write(&zen, zengin_file(&[1_500_000, 2_000_000, 1_200_000])).unwrap();
    let args = |input: &str, out: &Path| -> Vec<String> {
        ["--rules", p(&rules), "--input", input, "--from", "2020-09-01", "--to", "2020-09-30", "--out", p(out)]
            .iter()
            .map(|s| s.to_string())
            .collect()
    };
    let o = t.path("zen-out");
    let a: Vec<String> = args(p(&zen), &o);
    let stdout = ok(&run(&a.iter().map(String::as_str).collect::<Vec<_>>()));
    assert!(stdout.contains("2 findings (2 held, 0 blocked, 0 challenged)"), "{stdout}");
    let findings = rows(&o.join("findings.csv"));
    let ids: Vec<&str> = findings.iter().map(|r| r["event_id"].as_str()).collect();
    assert_eq!(ids, ["zengin:batch.zengin:2", "zengin:batch.zengin:3"], "{findings:?}");
    assert_eq!(findings[0]["time"], "2020-09-07T00:00:00.000Z");
    assert_eq!(findings[0]["institution"], "9900");
    assert_eq!(findings[0]["account"], "019-1234567");
    let victims = rows(&o.join("victims.csv"));
    assert_eq!(victims.len(), 1);
    assert_eq!((victims[0]["customer"].as_str(), victims[0]["total_jpy"].as_str()), ("1000000001", "3500000"));

    // The same transfers as CSV and as Parquet, through a mapping.
    let mapping = t.path("mapping.toml");
    std::fs::write(
        &mapping,
        r#"
[input]
time_format = "naive"
utc_offset = "+09:00"
[input.columns]
id = "txn_id"
time = "booked_at"
account = "account"
customer = "customer"
amount = "amount_jpy"
"counterparty.institution" = "payee_bank"
"counterparty.account" = "payee_account"
[input.constants]
type = "transfer"
direction = "out"
institution = "9900"
"#,
    )
    .unwrap();
    let table = [("t1", 1_500_000, "001-7000000"), ("t2", 2_000_000, "001-7000001"), ("t3", 1_200_000, "001-7000000")];
    let mut csv = String::from("txn_id,booked_at,account,customer,amount_jpy,payee_bank,payee_account\n");
    for (id, amount, payee) in table {
        csv.push_str(&format!("{id},2020-09-07 09:00:00,019-1234567,1000000001,{amount},0005,{payee}\n"));
    }
    std::fs::write(t.path("t.csv"), csv).unwrap();
    let parquet = t.path("t.parquet");
    let mut w = ParquetWriter::create(
        &parquet,
        &[
            ("txn_id", ColumnType::Str),
            ("booked_at", ColumnType::Timestamp),
            ("account", ColumnType::Str),
            ("customer", ColumnType::Str),
            ("amount_jpy", ColumnType::Decimal { precision: 18, scale: 0 }),
            ("payee_bank", ColumnType::Str),
            ("payee_account", ColumnType::Str),
        ],
    )
    .unwrap();
    let at = mamori_core::Timestamp::parse_rfc3339("2020-09-07T09:00:00+09:00").unwrap().as_micros();
    for (id, amount, payee) in table {
        w.write(&[
            Cell::Str(id.into()),
            Cell::Timestamp(at),
            Cell::Str("019-1234567".into()),
            Cell::Str("1000000001".into()),
            Cell::Decimal(amount.into()),
            Cell::Str("0005".into()),
            Cell::Str(payee.into()),
        ])
        .unwrap();
    }
    w.finish().unwrap();
    for input in [t.path("t.csv"), parquet] {
        let o = t.path(&format!("{}-out", input.extension().unwrap().to_str().unwrap()));
        let mut a = args(p(&input), &o);
        a.extend(["--mapping".to_string(), p(&mapping).to_string()]);
        ok(&run(&a.iter().map(String::as_str).collect::<Vec<_>>()));
        let ids: Vec<String> = rows(&o.join("findings.csv")).into_iter().map(|r| r["event_id"].clone()).collect();
        assert_eq!(ids, ["t1", "t2"], "{}", input.display());
    }

    // A damaged amount in record 3: reported and skipped, or stopping the sweep.
    let mut bytes = zengin_file(&[1_500_000, 2_000_000, 1_200_000]);
    bytes[2 * 122 + 85] = b'?';
    let bad = t.path("bad.zengin");
    std::fs::write(&bad, bytes).unwrap();
    let o = t.path("bad-out");
    let a = args(p(&bad), &o);
    let skip = run(&a.iter().map(String::as_str).collect::<Vec<_>>());
    let stdout = ok(&skip);
    let stderr = String::from_utf8_lossy(&skip.stderr);
    assert!(stdout.contains("(1 rejected)"), "{stdout}");
    assert!(stderr.contains("bad.zengin: record 3, field 振込金額 (amount) at byte 86"), "{stderr}");
    let mut a = a;
    a.extend(["--on-error".to_string(), "stop".to_string()]);
    let stop = run(&a.iter().map(String::as_str).collect::<Vec<_>>());
    assert_eq!(stop.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&stop.stderr).contains("record 3, field 振込金額 (amount)"));

    // Usage errors.
    let o = t.path("x");
    let bad_range = run(&["--input", p(&zen), "--from", "2020-09-30", "--to", "2020-09-01", "--out", p(&o)]);
    assert_eq!(bad_range.status.code(), Some(1));
    let unknown = run(&["--input", "history.txt", "--from", "2020-09-01", "--to", "2020-09-30", "--out", p(&o)]);
    assert!(String::from_utf8_lossy(&unknown.stderr).contains("FORMAT:PATH"));
}

/// `--notify` queues one notice per finding in the service's outbox, never twice, and the
/// service starts on that store and lists them.
#[test]
fn notify_queues_each_finding_once() {
    let t = TempDir::new("sweep-notify");
    let sim = simulate(&t.0, "7", "0.05");
    let data = t.path("data");
    let mut keys = BTreeMap::new();
    for i in rows(&sim.join("institutions.csv")) {
        keys.insert(i["id"].clone(), add_institution(&data, &i["id"], &i["kind"]));
    }
    // Every institution's webhook (nothing listens there: the notices wait in the outbox).
    let server = Server::start(&data, &[]);
    let a = agent();
    for key in keys.values() {
        let body = serde_json::json!({"url": "http://127.0.0.1:9/hook"}).to_string();
        let answer = send(&a, "PUT", &format!("{}/v1/webhook", server.base), Some(key), Some(body)).unwrap();
        assert_eq!(answer.status, 200, "{}", answer.body);
    }
    drop(server);
    let out = t.path("out");
    let events = sim.join("events.ndjson");
    let args = ["--input", p(&events), "--from", "2026-04-01", "--to", "2026-04-30", "--out", p(&out), "--notify", "--data-dir", p(&data)];
    let first = ok(&run(&args));
    let queued = |s: &str| -> u64 {
        s.split("notices queued in ")
            .nth(1)
            .and_then(|r| r.split(" for ").nth(1))
            .and_then(|r| r.split(' ').next())
            .unwrap()
            .parse()
            .unwrap()
    };
    let n = queued(&first);
    assert!(n > 0, "{first}");
    let second = ok(&run(&args));
    assert_eq!(queued(&second), 0, "{second}");
    assert!(second.contains(&format!("; {n} notified before")), "{second}");

    let victims = rows(&out.join("victims.csv"));
    let server = Server::start(&data, &[]);
    let list = send(&a, "GET", &format!("{}/v1/notices", server.base), Some(&keys[&victims[0]["institution"]]), None).unwrap();
    assert_eq!(list.status, 200, "{}", list.body);
    assert!(list.body.contains("past_review"), "{}", list.body);
}

/// A merchant breached for ten days, found from the cards reported later, as the live
/// service finds it: the sweep runs the compromise analysis because the built-in rules read
/// it, on one thread or two, in time order or not. Rules that do not read it get the
/// findings they get without it.
#[test]
fn a_sweep_finds_the_cards_of_a_breached_merchant() {
    let t = TempDir::new("sweep-breach");
    let t0 = mamori_core::Timestamp::parse_rfc3339("2026-01-05T00:00:00+09:00").unwrap().as_micros();
    let mut lines = Vec::new();
    let mut pay = |card: usize, merchant: &str, day: i64, hour: i64, device: Option<String>| {
        let id = format!("p{}", lines.len());
        let time = mamori_core::Timestamp(t0 + (day * 86_400 + hour * 3_600) * 1_000_000).to_rfc3339();
        let device = device.map_or(String::new(), |d| format!(r#","device":"{d}","ip":"198.51.100.{}""#, card % 200 + 1));
        lines.push(format!(
            r#"{{"id":"{id}","type":"card_payment","time":"{time}","institution":"card-co","card":"tok_{card:04}","merchant":"{merchant}","terminal":"t-{merchant}","amount":"4800"{device}}}"#
        ));
        id
    };
    // 200 cards at a convenience store and three of twenty shops; cards 0..40 at a fee
    // site online on day `card`. Cards that paid there on days 10 to 20 are used by
    // fraudsters on day 25 and reported on day 27.
    let mut fraud = Vec::new();
    let mut reports = Vec::new();
    for day in 0..40i64 {
        if day == 25 {
            for i in [10, 11, 12, 14, 16, 18, 20] {
                fraud.push(pay(i, "m-elec", day, 3, Some(format!("bad-{i}"))));
            }
        }
        for i in (0..200).filter(|i| i % 36 == day as usize % 36) {
            pay(i, "m-conv", day, 8, None);
        }
        if day == 27 {
            reports.push((day, std::mem::take(&mut fraud)));
        }
        for i in 0..200 {
            if day == 0 {
                pay(i, "m-conv", day, 9, None);
            }
            if (1..=3).contains(&day) {
                pay(i, &format!("m-shop-{:02}", (i * 7 + day as usize * 3) % 20), day, 12, None);
            }
        }
        pay(day as usize, "m-fees", day, 20, Some(format!("dev-{day}")));
    }
    // After the report: card 15 (at the fee site on day 15) online from its own device,
    // card 17 from a stranger's; card 5 paid there before the breach.
    pay(15, "m-shop-03", 41, 12, Some("dev-15".into()));
    pay(17, "m-shop-03", 41, 13, Some("dev-stranger".into()));
    pay(5, "m-shop-04", 41, 15, Some("dev-5".into()));
    for (day, ids) in reports {
        let time = mamori_core::Timestamp(t0 + (day * 86_400 + 10 * 3_600) * 1_000_000).to_rfc3339();
        let ids: Vec<String> = ids.iter().map(|i| format!("\"{i}\"")).collect();
        lines.push(format!(
            r#"{{"id":"r{day}","type":"fraud_reported","time":"{time}","institution":"card-co","events":[{}],"source":"customer"}}"#,
            ids.join(",")
        ));
    }
    // In time order (the report was pushed last), and not.
    let time_of = |l: &String| serde_json::from_str::<Value>(l).unwrap()["time"].as_str().unwrap().to_string();
    let mut ordered = lines.clone();
    ordered.sort_by_key(|l| mamori_core::Timestamp::parse_rfc3339(&time_of(l)).unwrap());
    std::fs::write(t.path("ordered.ndjson"), ordered.join("\n")).unwrap();
    std::fs::write(t.path("shuffled.ndjson"), lines.join("\n")).unwrap();
    let found = |input: &str, threads: &str, rules: Option<&Path>| -> BTreeMap<String, String> {
        let out = t.path(&format!("out-{input}-{threads}-{}", rules.is_some()));
        let input = t.path(input);
        let mut args = vec!["--input", p(&input), "--from", "2026-01-05", "--to", "2026-03-01", "--out", p(&out)];
        args.extend(["--threads", threads, "--min-action", "challenge"]);
        if let Some(r) = rules {
            args.extend(["--rules", p(r)]);
        }
        ok(&run(&args));
        let text = std::fs::read_to_string(out.join("findings.ndjson")).unwrap();
        text.lines()
            .map(|l| serde_json::from_str::<Value>(l).unwrap())
            .filter(|f| f["event"]["time"].as_str().is_some_and(|t| t.starts_with("2026-02-15")))
            .map(|f| {
                let d = &f["decision"];
                let rules: Vec<&str> = d["reasons"].as_array().unwrap().iter().map(|r| r["rule"].as_str().unwrap()).collect();
                (f["event"]["card"].as_str().unwrap().to_string(), format!("{} {}", d["decision"].as_str().unwrap(), rules.join(" ")))
            })
            .collect()
    };
    let expected = found("ordered.ndjson", "1", None);
    assert!(expected["tok_0015"].starts_with("challenge") && expected["tok_0015"].contains("card-compromised-point"), "{expected:?}");
    assert!(expected["tok_0017"].starts_with("hold") && expected["tok_0017"].contains("card-at-risk-new-device"), "{expected:?}");
    assert!(!expected.contains_key("tok_0005"), "{expected:?}");
    for (input, threads) in [("ordered.ndjson", "2"), ("shuffled.ndjson", "1"), ("shuffled.ndjson", "2")] {
        assert_eq!(found(input, threads, None), expected, "{input} on {threads} threads");
    }
    // A pack that reads nothing of the analysis: a card online from a new device.
    let rules = t.path("rules");
    std::fs::create_dir_all(&rules).unwrap();
    std::fs::write(
        rules.join("features.toml"),
        "[[feature]]\nname = \"card_devices\"\nentity = \"card\"\naggregate = \"distinct\"\nof = \"event.device\"\nwindow = \"all\"\n",
    )
    .unwrap();
    std::fs::write(
        rules.join("cards.toml"),
        "[pack]\nname = \"cards\"\n[[rule]]\nid = \"second-device\"\nwhen = 'has(event.device) && features.card_devices >= 2'\nscore = 1\naction = \"hold\"\nreason = \"{features.card_devices} devices\"\n",
    )
    .unwrap();
    let plain = found("ordered.ndjson", "1", Some(&rules));
    assert_eq!(plain.get("tok_0017").map(String::as_str), Some("hold second-device"), "{plain:?}");
    assert!(!plain.contains_key("tok_0015") && !plain.contains_key("tok_0005"), "{plain:?}");
    for (input, threads) in [("ordered.ndjson", "2"), ("shuffled.ndjson", "2")] {
        assert_eq!(found(input, threads, Some(&rules)), plain, "{input} on {threads} threads, no analysis read");
    }
}
