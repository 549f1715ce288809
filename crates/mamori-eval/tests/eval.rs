//! The evaluation's arithmetic on a small hand-labelled stream: fraud cases stopped at
//! their first hold, block or unpassable challenge, money after that counted as stopped,
//! challenges the fraudster can pass (after taking over the channel) not counted, and
//! honest customers held or challenged counted against the rules.

use std::collections::HashMap;
use std::io::Cursor;
use std::sync::Arc;

use mamori_core::event::EventSchema;
use mamori_eval::{Label, evaluate, read_labels, render_svg, render_table};
use mamori_server::{Judge, Packs};

const RULES: &str = r#"
[pack]
name = "t"

[[rule]]
id = "pin"
when = 'event.type == "link_requested" && event.auth == "pin_only"'
action = "challenge"
score = 300

[[rule]]
id = "big-charge"
when = 'event.type == "charge" && event.amount >= 90000'
action = "hold"
score = 500

[[rule]]
id = "new-device"
when = 'event.type == "login" && event.device == "evil"'
action = "challenge"
score = 200

[[rule]]
id = "big-crypto"
when = 'event.type == "crypto_withdrawal" && event.amount >= 100'
action = "hold"
score = 500

[[rule]]
id = "big-withdrawal"
when = 'event.type == "withdrawal" && event.amount >= 1000000'
action = "block"
score = 900
"#;

fn judge() -> Judge {
    static N: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let dir = std::env::temp_dir().join(format!("mamori-eval-{}-{n}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("t.toml"), RULES).unwrap();
    let events = Arc::new(EventSchema::new());
    let packs = Packs::from_dir(&dir, &events).unwrap();
    let _ = std::fs::remove_dir_all(&dir);
    Judge::new(packs, events)
}

fn label(inst: &str, id: &str, scenario: &str, fraud: u8, chain: &str, value: u64) -> ((String, String), Label) {
    (
        (inst.into(), id.into()),
        Label {
            institution: inst.into(),
            id: id.into(),
            scenario: scenario.into(),
            fraud,
            chain: chain.into(),
            step: String::new(),
            value_jpy: value,
        },
    )
}

#[test]
fn each_hot_wallet_withdrawal_counts_on_its_own() {
    // A drain: 40 leaves, 150 is held, 60 leaves anyway (the attacker holds the keys).
    let w = |id: &str, min: u8, amount: &str| {
        format!(
            r#"{{"id":"{id}","type":"crypto_withdrawal","time":"2026-11-21T03:{min:02}:00+09:00","institution":"ex","account":"ops","asset":"XEM","amount":"{amount}","wallet":{{"id":"h","tier":"hot"}},"to_address":"a{id}"}}"#
        )
    };
    let events = [w("d1", 1, "40"), w("d2", 2, "150"), w("d3", 3, "60")];
    let labels: HashMap<_, _> = [
        label("ex", "d1", "hot-wallet", 1, "H", 4_000),
        label("ex", "d2", "hot-wallet", 1, "H", 15_000),
        label("ex", "d3", "hot-wallet", 1, "H", 6_000),
    ]
    .into_iter()
    .collect();
    let r = evaluate(&mut judge(), Cursor::new(events.join("\n")), &labels).unwrap();
    let hot = r.scenarios.iter().find(|s| s.scenario == "hot-wallet").unwrap();
    assert_eq!((hot.fraud_value_jpy, hot.fraud_value_stopped_jpy), (25_000, 15_000));
    assert_eq!((hot.fraud_chains, hot.fraud_chains_stopped), (1, 1));
}

#[test]
fn cases_stop_at_their_first_unpassable_step() {
    let events = [
        // Case A: the PIN-only link is challenged: the fraudster cannot pass, so both charges never move.
        r#"{"id":"a1","type":"link_requested","time":"2026-11-21T10:00:00+09:00","institution":"bank","link":"LA","bank":{"institution":"bank","account":"x"},"wallet":{"institution":"w","account":"y"},"auth":"pin_only"}"#,
        r#"{"id":"a2","type":"charge","time":"2026-11-21T10:05:00+09:00","institution":"w","account":"wa","link":"LA","amount":"50000"}"#,
        r#"{"id":"a3","type":"charge","time":"2026-11-21T10:06:00+09:00","institution":"w","account":"wa","link":"LA","amount":"50000"}"#,
        // Case B: the phone is changed first, so the later challenge is passable; 200,000 moves; the block stops 1,000,000.
        r#"{"id":"b1","type":"credential_changed","time":"2026-11-21T11:00:00+09:00","institution":"broker","account":"v","what":"phone"}"#,
        r#"{"id":"b2","type":"login","time":"2026-11-21T11:01:00+09:00","institution":"broker","account":"v","success":true,"device":"evil"}"#,
        r#"{"id":"b3","type":"withdrawal","time":"2026-11-21T11:02:00+09:00","institution":"broker","account":"v","payee":{"institution":"nb","account":"p"},"amount":"200000"}"#,
        r#"{"id":"b4","type":"withdrawal","time":"2026-11-21T11:03:00+09:00","institution":"broker","account":"v","payee":{"institution":"nb","account":"p"},"amount":"1000000"}"#,
        // Honest: a held large charge (a false positive), a challenged login, an allowed charge.
        r#"{"id":"h1","type":"charge","time":"2026-11-21T12:00:00+09:00","institution":"w","account":"wa","link":"LH","amount":"95000"}"#,
        r#"{"id":"h2","type":"login","time":"2026-11-21T12:01:00+09:00","institution":"broker","account":"h","success":true,"device":"evil"}"#,
        r#"{"id":"h3","type":"charge","time":"2026-11-21T12:02:00+09:00","institution":"w","account":"wa","link":"LH","amount":"1000"}"#,
    ];
    let labels: HashMap<_, _> = [
        label("bank", "a1", "link-drain", 1, "A", 0),
        label("w", "a2", "link-drain", 1, "A", 50_000),
        label("w", "a3", "link-drain", 1, "A", 50_000),
        label("broker", "b1", "takeover", 1, "B", 0),
        label("broker", "b2", "takeover", 1, "B", 0),
        label("broker", "b3", "takeover", 1, "B", 200_000),
        label("broker", "b4", "takeover", 1, "B", 1_000_000),
        label("w", "h1", "link-drain", 0, "", 95_000),
        label("broker", "h2", "takeover", 0, "", 0),
        label("w", "h3", "link-drain", 0, "", 1_000),
    ]
    .into_iter()
    .collect();
    let mut j = judge();
    let r = evaluate(&mut j, Cursor::new(events.join("\n")), &labels).unwrap();
    assert!(r.rejected.is_empty(), "{:?}", r.rejected);
    let link = r.scenarios.iter().find(|s| s.scenario == "link-drain").unwrap();
    assert_eq!((link.fraud_value_jpy, link.fraud_value_stopped_jpy), (100_000, 100_000));
    assert_eq!((link.fraud_chains, link.fraud_chains_stopped), (1, 1));
    assert_eq!((link.legit_money_events, link.legit_money_held_or_blocked), (2, 1));
    let take = r.scenarios.iter().find(|s| s.scenario == "takeover").unwrap();
    assert_eq!((take.fraud_value_jpy, take.fraud_value_stopped_jpy), (1_200_000, 1_000_000));
    assert_eq!(take.legit_challenged, 1);
    assert_eq!(r.all.fraud_value_stopped_jpy, 1_100_000);
    assert!((take.stopped_share() - 1_000_000.0 / 1_200_000.0).abs() < 1e-12);
    let table = render_table(&r);
    assert!(table.contains("link-drain") && table.contains("100.00%"), "{table}");
    let svg = render_svg(&r);
    assert!(svg.starts_with("<svg") && svg.trim_end().ends_with("</svg>") && svg.contains("takeover"));

    // An event without a label is an error, not a silent skip.
    let mut fewer = labels.clone();
    fewer.remove(&("w".to_string(), "h3".to_string()));
    assert!(evaluate(&mut judge(), Cursor::new(events.join("\n")), &fewer).unwrap_err().to_string().contains("no label"));
}

#[test]
fn malformed_labels_are_refused_with_their_row() {
    let dir = std::env::temp_dir().join(format!("mamori-eval-labels-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let p = dir.join("labels.csv");
    for (text, want) in [
        ("institution,id,scenario,fraud,chain,step,value_jpy\nb,1,x,2,,,0\n", "row 2: fraud must be 0 or 1"),
        ("institution,id,scenario,fraud,chain,step,value_jpy\nb,1,x,0,,,abc\n", "row 2"),
        ("institution,id,scenario,fraud,chain,step,value_jpy\nb,1,x,0,,,1\nb,1,x,0,,,1\n", "row 3: a second label"),
        ("institution,id\nb,1\n", "row 2"),
    ] {
        std::fs::write(&p, text).unwrap();
        let e = read_labels(&p).unwrap_err().to_string();
        assert!(e.contains(want), "{e}");
    }
    std::fs::write(&p, "institution,id,scenario,fraud,chain,step,value_jpy\nb,1,x,1,c,login,0\n").unwrap();
    assert_eq!(read_labels(&p).unwrap().len(), 1);
    let _ = std::fs::remove_dir_all(&dir);
}
