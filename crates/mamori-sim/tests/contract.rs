//! Every generated event is valid under the v1 contract, carries its institution, and
//! has exactly one label row; ids are unique per institution; references point at
//! institutions of the run.

use std::collections::{BTreeMap, BTreeSet};

use mamori_core::{Event, EventKind, EventType};
use mamori_sim::{Config, Kind, Scenario};

mod common;

/// Which kinds of institution may send each event type in the simulation.
fn sender_ok(t: EventType, kind: &str) -> bool {
    match t {
        EventType::AccountOpened => ["bank", "emoney"].contains(&kind),
        EventType::Login | EventType::CredentialChanged | EventType::Trade => kind == "broker",
        EventType::LinkRequested | EventType::LinkVerified => kind == "bank",
        EventType::LinkRevoked | EventType::Charge => kind == "emoney",
        EventType::PayeeRegistered | EventType::Withdrawal => kind == "broker",
        EventType::CryptoWithdrawal | EventType::WalletBalance => kind == "exchange",
        EventType::CardPayment => kind == "card",
        EventType::FraudReported => true,
        EventType::Transfer => false,
    }
}

fn check_files(config: &Config) {
    let sim = mamori_sim::generate(config);
    let ndjson = sim.events_ndjson();
    let labels = sim.labels_csv();
    let institutions = sim.institutions_csv();

    let mut inst_lines = institutions.lines();
    assert_eq!(inst_lines.next(), Some("id,kind"));
    let kinds: BTreeMap<&str, &str> = inst_lines.map(|l| l.split_once(',').unwrap()).collect();
    for k in kinds.values() {
        assert!(["bank", "emoney", "broker", "exchange", "card"].contains(k), "{k}");
    }
    let want_kinds: BTreeSet<&str> = config.scenarios.iter().flat_map(|s| s.kinds()).map(|k| k.as_str()).collect();
    let have_kinds: BTreeSet<&str> = kinds.values().copied().collect();
    assert_eq!(want_kinds, have_kinds);

    let mut rows = labels.lines();
    assert_eq!(rows.next(), Some("institution,id,scenario,fraud,chain,step,value_jpy"));
    let rows: Vec<&str> = rows.collect();
    let lines: Vec<&str> = ndjson.lines().collect();
    assert_eq!(lines.len(), rows.len(), "one label row per event");
    assert!(!lines.is_empty());

    let mut seen: BTreeMap<(String, String), (i64, usize)> = BTreeMap::new();
    let mut parsed = Vec::with_capacity(lines.len());
    for (n, (line, row)) in lines.iter().zip(&rows).enumerate() {
        let ev = Event::from_json_slice(line.as_bytes()).unwrap_or_else(|e| panic!("line {}: {e}\n{line}", n + 1));
        let inst = ev.institution.clone().unwrap_or_else(|| panic!("line {}: no institution", n + 1));
        let kind = kinds.get(inst.as_str()).unwrap_or_else(|| panic!("{inst} is not in institutions.csv"));
        assert!(sender_ok(ev.event_type(), kind), "{kind} {inst} sent {}", ev.event_type());

        let cols: Vec<&str> = row.split(',').collect();
        assert_eq!(cols.len(), 7, "{row}");
        assert_eq!((cols[0], cols[1]), (inst.as_str(), ev.id.as_str()), "the label row names the event of its line");
        let scenario: Scenario = cols[2].parse().unwrap();
        assert!(config.scenarios.contains(&scenario));
        let fraud = match cols[3] {
            "0" => false,
            "1" => true,
            other => panic!("fraud {other:?}"),
        };
        assert_eq!(fraud, !cols[4].is_empty(), "a chain exactly on fraud events: {row}");
        assert!(!cols[5].is_empty());
        let value: i64 = cols[6].parse().unwrap();
        if ev.event_type().is_money() {
            assert!(value > 0, "{row}");
            if ev.currency == "JPY" {
                assert_eq!(value.to_string(), ev.amount.unwrap().to_string(), "{row}");
            }
        } else {
            assert_eq!(value, 0, "{row}");
        }
        if let EventKind::LinkRequested { bank, wallet, .. } = &ev.kind {
            assert_eq!(bank.institution, inst);
            assert_eq!(kinds.get(wallet.institution.as_str()), Some(&"emoney"));
        }
        if let EventKind::PayeeRegistered { payee, .. } | EventKind::Withdrawal { payee } = &ev.kind {
            assert_eq!(kinds.get(payee.institution.as_str()), Some(&"bank"));
        }
        let t = ev.time.as_secs();
        assert!(seen.insert((inst.clone(), ev.id.clone()), (t, n)).is_none(), "id {} twice at {inst}", ev.id);
        parsed.push(ev);
    }
    // Reports name earlier events of their own institution.
    for ev in &parsed {
        if let EventKind::FraudReported { events, .. } = &ev.kind {
            let inst = ev.institution.clone().unwrap();
            for id in events {
                let (t, _) = seen.get(&(inst.clone(), id.clone())).unwrap_or_else(|| panic!("report names unknown {id} at {inst}"));
                assert!(*t <= ev.time.as_secs());
            }
        }
    }
}

#[test]
fn every_event_of_every_scenario_is_valid_and_labelled() {
    for seed in [1, 2, 3] {
        check_files(&Config { scenarios: Scenario::ALL.to_vec(), seed, days: 21, scale: 0.15 });
    }
}

#[test]
fn each_scenario_alone() {
    for s in Scenario::ALL {
        let config = Config { scenarios: vec![s], seed: 5, days: 14, scale: 0.1 };
        check_files(&config);
        let sim = mamori_sim::generate(&config);
        assert!(sim.events.iter().all(|e| e.label.scenario == s));
        assert!(sim.events.iter().any(|e| e.label.fraud), "{s} has fraud");
        let kinds: Vec<Kind> = sim.institutions.iter().map(|i| i.kind).collect();
        assert!(kinds.iter().all(|k| s.kinds().contains(k)));
    }
}

#[test]
fn card_fields_are_tokens() {
    let run = common::Run::new(9, &[Scenario::CardLeak], 7, 0.1);
    let mut n = 0;
    for e in &run.events {
        if let EventKind::CardPayment { card, .. } = &e.kind {
            assert!(card.expose().starts_with("tok_"));
            n += 1;
        }
    }
    assert!(n > 100);
}

#[test]
fn bad_configs_are_refused() {
    let mut c = Config::new(1);
    assert!(c.check().is_ok());
    c.days = 0;
    assert!(c.check().is_err());
    c.days = 28;
    c.scale = 0.0;
    assert!(c.check().is_err());
    c.scale = f64::NAN;
    assert!(c.check().is_err());
    c.scale = 1.0;
    c.scenarios.clear();
    assert!(c.check().is_err());
}

#[test]
fn short_windows_and_tiny_scales_are_valid_too() {
    for days in [1, 2, 7] {
        for seed in [1, 2] {
            check_files(&Config { scenarios: Scenario::ALL.to_vec(), seed, days, scale: 0.02 });
        }
    }
}
