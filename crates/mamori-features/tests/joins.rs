//! Cross-institution joins over real v1 events: an e-money wallet reports the accounts it
//! opens, and a bank asked to link one of its accounts to a wallet reads, through
//! `read_entity = "wallet"`, what the wallet reported about that wallet account: its age,
//! its KYC method, and how many different people its opening device opened accounts for.
//! Then the same through `batch::run_ndjson`, from a file to a CSV.

mod common;
use common::TempDir;

use mamori_core::event::{Event, EventRecord, EventSchema};
use mamori_core::{OwnedValue, Span, Timestamp};
use mamori_features::batch::{self, OnError, RunError};
use mamori_features::{Engine, FeatureSet, FeatureVector};

const FEATURES: &str = r#"
[engine]
lateness = "1h"

# What the wallet reported when it opened the account the link names.
[[feature]]
name = "wallet_opened_at"
entity = "account"
read_entity = "wallet"
aggregate = "first_seen"
filter = 'event.type == "account_opened"'
output = false

[[feature]]
name = "wallet_age"
expr = "event.time - features.wallet_opened_at"

[[feature]]
name = "wallet_kyc"
entity = "account"
read_entity = "wallet"
aggregate = "last_value"
of = "event.kyc"
filter = 'event.type == "account_opened"'

# Different people the opening device opened accounts for in the day up to each opening.
[[feature]]
name = "device_holders_24h"
entity = "device"
aggregate = "distinct"
of = "event.holder.name_kana_key"
window = "24h"
filter = 'event.type == "account_opened"'

# That number as it was when the wallet account was opened, read at link time.
[[feature]]
name = "wallet_device_holders"
entity = "account"
read_entity = "wallet"
aggregate = "last_value"
of = "features.device_holders_24h"
filter = 'event.type == "account_opened"'

[[feature]]
name = "young_wallet"
expr = 'features.wallet_age < duration("1d")'

# Link requests per wallet account, whichever bank asks.
[[feature]]
name = "wallet_links_24h"
entity = "wallet"
aggregate = "count"
window = "24h"
filter = 'event.type == "link_requested"'
"#;

/// Account openings at the wallet `wallet-co` (all on device `d-1`), and link requests
/// from banks, in time order. The kana names of a1 and a3 are the same person written
/// two ways.
const EVENTS: &[&str] = &[
    r#"{"id":"a1","type":"account_opened","time":"2026-11-01T10:00:00+09:00","institution":"wallet-co","account":"w-1","kyc":"mail","device":"d-1","holder":{"name_kana":"ヤマダ タロウ"}}"#,
    r#"{"id":"a2","type":"account_opened","time":"2026-11-01T12:00:00+09:00","institution":"wallet-co","account":"w-2","kyc":"none","device":"d-1","holder":{"name_kana":"ｽｽﾞｷ ﾊﾅｺ"}}"#,
    r#"{"id":"a3","type":"account_opened","time":"2026-11-01T13:00:00+09:00","institution":"wallet-co","account":"w-3","kyc":"photo_id","device":"d-1","holder":{"name_kana":"やまだ　たろう"}}"#,
    r#"{"id":"l1","type":"link_requested","time":"2026-11-01T14:00:00+09:00","institution":"bank-a","link":"L1","bank":{"institution":"bank-a","account":"b-1"},"wallet":{"institution":"wallet-co","account":"w-3"},"auth":"pin_only"}"#,
    r#"{"id":"l2","type":"link_requested","time":"2026-11-02T10:00:00+09:00","institution":"bank-b","link":"L2","bank":{"institution":"bank-b","account":"b-7"},"wallet":{"institution":"wallet-co","account":"w-3"},"auth":"otp"}"#,
    r#"{"id":"a4","type":"account_opened","time":"2026-11-03T09:00:00+09:00","institution":"wallet-co","account":"w-4","kyc":"ic_chip","device":"d-1","holder":{"name_kana":"サトウ ジロウ"}}"#,
    r#"{"id":"l3","type":"link_requested","time":"2026-11-05T10:00:00+09:00","institution":"bank-a","link":"L3","bank":{"institution":"bank-a","account":"b-2"},"wallet":{"institution":"wallet-co","account":"w-1"},"auth":"passkey"}"#,
    r#"{"id":"l4","type":"link_requested","time":"2026-11-05T10:05:00+09:00","institution":"bank-a","link":"L4","bank":{"institution":"bank-a","account":"b-3"},"wallet":{"institution":"wallet-co","account":"w-9"},"auth":"pin_only"}"#,
    r#"{"id":"l5","type":"link_requested","time":"2026-11-05T10:10:00+09:00","institution":"bank-a","link":"L5","bank":{"institution":"bank-a","account":"b-4"},"wallet":{"institution":"other-pay","account":"w-1"},"auth":"pin_only"}"#,
    r#"{"id":"l6","type":"link_requested","time":"2026-11-05T10:20:00+09:00","institution":"bank-a","link":"L6","bank":{"institution":"bank-a","account":"b-5"},"wallet":{"institution":"wallet-co","account":"w-4"},"auth":"ekyc"}"#,
];

fn ts(s: &str) -> OwnedValue {
    OwnedValue::Timestamp(Timestamp::parse_rfc3339(s).unwrap())
}

fn mins(m: i64) -> OwnedValue {
    OwnedValue::Duration(Span::from_secs(m * 60))
}

fn s(v: &str) -> OwnedValue {
    OwnedValue::Str(v.into())
}

fn int(i: i64) -> OwnedValue {
    OwnedValue::Int(i)
}

const NULL: OwnedValue = OwnedValue::Null;

/// Runs the events through the features: each event's id and features by name.
fn run(features: &str, events: &[&str]) -> Vec<(String, Vec<(String, OwnedValue)>)> {
    let schema = EventSchema::new();
    let (_, set) = mamori_features::load("joins.toml", features, &schema).unwrap_or_else(|e| panic!("{e}"));
    let names: Vec<String> = set.names().map(str::to_string).collect();
    let mut engine = Engine::new(&set);
    let mut out = FeatureVector::default();
    events
        .iter()
        .map(|line| {
            let event = Event::from_json_slice(line.as_bytes()).unwrap_or_else(|e| panic!("{e}: {line}"));
            let outcome = engine.process(&EventRecord::new(&schema, &event), event.time, &mut out);
            assert!(!outcome.late && !outcome.overflow, "{line}");
            (event.id.clone(), names.iter().cloned().zip(out.0.iter().cloned()).collect())
        })
        .collect()
}

fn get<'a>(rows: &'a [(String, Vec<(String, OwnedValue)>)], id: &str, feature: &str) -> &'a OwnedValue {
    let (_, row) = rows.iter().find(|(i, _)| i == id).unwrap_or_else(|| panic!("no event {id}"));
    &row.iter().find(|(n, _)| n == feature).unwrap_or_else(|| panic!("no feature {feature}")).1
}

#[test]
fn a_bank_reads_what_the_wallet_reported() {
    let rows = run(FEATURES, EVENTS);
    let want: &[(&str, [OwnedValue; 7])] = &[
        // Openings name no wallet ref: nothing to read, no link counted. The device has
        // opened accounts for 1, 2, 2 (a3 is a1's holder again) and, two days later, 1.
        ("a1", [NULL, NULL, NULL, int(1), NULL, NULL, int(0)]),
        ("a2", [NULL, NULL, NULL, int(2), NULL, NULL, int(0)]),
        ("a3", [NULL, NULL, NULL, int(2), NULL, NULL, int(0)]),
        // An hour after w-3 was opened, with photo id, on a device with two holders.
        ("l1", [ts("2026-11-01T13:00:00+09:00"), mins(60), s("photo_id"), int(0), int(2), OwnedValue::Bool(true), int(1)]),
        // Another bank asks for the same wallet account 20 hours later.
        ("l2", [ts("2026-11-01T13:00:00+09:00"), mins(21 * 60), s("photo_id"), int(0), int(2), OwnedValue::Bool(true), int(2)]),
        ("a4", [NULL, NULL, NULL, int(1), NULL, NULL, int(0)]),
        ("l3", [ts("2026-11-01T10:00:00+09:00"), mins(4 * 24 * 60), s("mail"), int(0), int(1), OwnedValue::Bool(false), int(1)]),
        // A wallet account nobody reported, and one of another wallet with the same id.
        ("l4", [NULL, NULL, NULL, int(0), NULL, NULL, int(1)]),
        ("l5", [NULL, NULL, NULL, int(0), NULL, NULL, int(1)]),
        ("l6", [ts("2026-11-03T09:00:00+09:00"), mins(2 * 24 * 60 + 80), s("ic_chip"), int(0), int(1), OwnedValue::Bool(false), int(1)]),
    ];
    let names =
        ["wallet_opened_at", "wallet_age", "wallet_kyc", "device_holders_24h", "wallet_device_holders", "young_wallet", "wallet_links_24h"];
    assert_eq!(rows.len(), want.len());
    for (id, values) in want {
        for (name, v) in names.iter().zip(values) {
            assert_eq!(get(&rows, id, name), v, "{id}: {name}");
        }
    }
}

#[test]
fn the_joined_features_have_the_types_rules_expect() {
    let schema = EventSchema::new();
    let (_, set) = mamori_features::load("joins.toml", FEATURES, &schema).unwrap();
    let types: Vec<String> = set.types().map(|t| t.to_string()).collect();
    assert_eq!(types, ["timestamp", "duration", "string", "int", "int", "bool", "int"]);
    // `output = false` keeps a feature out of the written columns, not out of the vector.
    assert_eq!(set.outputs().collect::<Vec<_>>(), [1, 2, 3, 4, 5, 6]);
}

/// The natural way to write the device join: the account's first_seen, the device's
/// distinct holders, and the last_value of that feature keyed by account. The last one
/// shares the first's log (same entity, same filter), which is filled when the first is
/// computed, before `device_holders_24h` is: the value captured is not this event's
/// (null with a fresh output vector, the previous event's when the vector is reused).
#[test]
fn device_join_without_a_feature_in_between() {
    let features = r#"
[[feature]]
name = "wallet_opened_at"
entity = "account"
read_entity = "wallet"
aggregate = "first_seen"
filter = 'event.type == "account_opened"'

[[feature]]
name = "device_holders_24h"
entity = "device"
aggregate = "distinct"
of = "event.holder.name_kana_key"
window = "24h"
filter = 'event.type == "account_opened"'

[[feature]]
name = "wallet_device_holders"
entity = "account"
read_entity = "wallet"
aggregate = "last_value"
of = "features.device_holders_24h"
filter = 'event.type == "account_opened"'
"#;
    // A link to w-2, opened when d-1 had opened accounts for two people.
    let to_w2 = r#"{"id":"l7","type":"link_requested","time":"2026-11-01T14:30:00+09:00","institution":"bank-a","link":"L7","bank":{"institution":"bank-a","account":"b-8"},"wallet":{"institution":"wallet-co","account":"w-2"},"auth":"otp"}"#;
    let rows = run(features, &[EVENTS[0], EVENTS[1], EVENTS[2], EVENTS[3], to_w2]);
    assert_eq!(get(&rows, "l1", "wallet_opened_at"), &ts("2026-11-01T13:00:00+09:00"));
    assert_eq!(get(&rows, "a2", "device_holders_24h"), &int(2));
    assert_eq!(get(&rows, "l7", "wallet_device_holders"), &int(2));
    assert_eq!(get(&rows, "l1", "wallet_device_holders"), &int(2));
}

/// Features can key on any event path, and the kana key joins names written differently.
#[test]
fn the_holder_name_key_joins_spellings() {
    let features = r#"
[[feature]]
name = "accounts_for_name"
entity = ["event.holder.name_kana_key"]
aggregate = "count"
window = "30d"
"#;
    let rows = run(features, &EVENTS[..3]);
    let counts: Vec<&OwnedValue> = ["a1", "a2", "a3"].iter().map(|id| get(&rows, id, "accounts_for_name")).collect();
    assert_eq!(counts, [&int(1), &int(1), &int(2)]);
}

// --- batch::run_ndjson ---------------------------------------------------------------

/// The events with a blank line (line 3), a line that is not JSON (line 5) and an event
/// that breaks the contract (line 7).
fn ndjson_with_errors() -> String {
    let mut lines: Vec<String> = EVENTS.iter().map(|l| l.to_string()).collect();
    lines.insert(2, String::new());
    lines.insert(4, r#"{"id":"x1","type":"account_opened","#.to_string());
    lines.insert(
        6,
        r#"{"id":"x2","type":"account_opened","time":"2026-11-01T13:30:00+09:00","account":"w-5","kyc":"passport"}"#.to_string(),
    );
    lines.join("\n") + "\n"
}

fn run_file(dir: &TempDir, input: &str, on_error: OnError) -> (Result<batch::Summary, RunError>, String) {
    let schema = EventSchema::new();
    let (file, set): (_, FeatureSet) = mamori_features::load("joins.toml", FEATURES, &schema).unwrap();
    assert!(file.output.id_column.is_none());
    let out = dir.path(if on_error == OnError::Stop { "stop.csv" } else { "skip.csv" });
    let result = batch::run_ndjson(
        &set,
        &schema,
        batch::open_input(input).unwrap(),
        batch::open_output(&out).unwrap(),
        "event_id",
        on_error,
        &mut |_| {},
    );
    (result, std::fs::read_to_string(&out).unwrap())
}

const HEADER: &str = "event_id,wallet_age,wallet_kyc,device_holders_24h,wallet_device_holders,young_wallet,wallet_links_24h";

#[test]
fn run_ndjson_skips_malformed_lines_and_names_them() {
    let dir = TempDir::new("ndjson-skip");
    let input = dir.path("events.ndjson");
    std::fs::write(&input, ndjson_with_errors()).unwrap();
    let (result, csv) = run_file(&dir, &input, OnError::Skip);
    let summary = result.unwrap();
    assert_eq!((summary.rows, summary.written, summary.malformed), (12, 10, 2));
    assert!(!summary.stopped);
    assert_eq!(summary.errors.len(), 2);
    assert_eq!(summary.errors[0].line, 5);
    assert!(summary.errors[0].message.contains("malformed JSON"), "{}", summary.errors[0]);
    assert_eq!((summary.errors[1].line, summary.errors[1].column.as_str()), (7, "/kyc"));
    assert!(summary.errors[1].to_string().starts_with("line 7, column /kyc: "), "{}", summary.errors[1]);
    assert_eq!(summary.stats.events, 10);
    assert_eq!(summary.stats.late, 0);
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(
        lines,
        [
            HEADER,
            "a1,,,1,,,0",
            "a2,,,2,,,0",
            "a3,,,2,,,0",
            "l1,3600,photo_id,0,2,1,1",
            "l2,75600,photo_id,0,2,1,2",
            "a4,,,1,,,0",
            "l3,345600,mail,0,1,0,1",
            "l4,,,0,,,1",
            "l5,,,0,,,1",
            "l6,177600,ic_chip,0,1,0,1",
        ]
    );
}

#[test]
fn run_ndjson_stops_at_the_first_malformed_line() {
    let dir = TempDir::new("ndjson-stop");
    let input = dir.path("events.ndjson");
    std::fs::write(&input, ndjson_with_errors()).unwrap();
    let (result, csv) = run_file(&dir, &input, OnError::Stop);
    match result {
        Err(RunError::Stopped(e)) => {
            assert_eq!(e.line, 5);
            let msg = RunError::Stopped(e).to_string();
            assert!(msg.starts_with("stopped at a malformed row: line 5, column : invalid event: malformed JSON"), "{msg}");
        }
        other => panic!("{other:?}"),
    }
    // What came before the malformed line is written.
    assert_eq!(csv.lines().collect::<Vec<_>>(), [HEADER, "a1,,,1,,,0", "a2,,,2,,,0", "a3,,,2,,,0"]);
}

#[test]
fn run_ndjson_reads_gzip_and_reports_late_lines() {
    use std::io::Write as _;
    let dir = TempDir::new("ndjson-gz");
    let input = dir.path("events.ndjson.gz");
    // An opening three hours before the newest event is beyond the lateness of one hour.
    let late = r#"{"id":"z1","type":"account_opened","time":"2026-11-05T07:00:00+09:00","institution":"wallet-co","account":"w-8","kyc":"none","device":"d-1"}"#;
    let text = EVENTS.join("\n") + "\n" + late + "\n";
    let mut gz = flate2::write::GzEncoder::new(std::fs::File::create(&input).unwrap(), flate2::Compression::default());
    gz.write_all(text.as_bytes()).unwrap();
    gz.finish().unwrap();
    let (result, csv) = run_file(&dir, &input, OnError::Skip);
    let summary = result.unwrap();
    assert_eq!((summary.rows, summary.written, summary.malformed), (11, 11, 0));
    assert_eq!(summary.stats.late, 1);
    assert_eq!(summary.late_lines, [11]);
    assert_eq!(csv.lines().last(), Some("z1,,,0,,,0"));
    assert_eq!(csv.lines().nth(4), Some("l1,3600,photo_id,0,2,1,1"));
}

#[test]
fn run_ndjson_missing_input_is_an_io_error() {
    let dir = TempDir::new("ndjson-missing");
    let path = dir.path("nope.ndjson");
    match batch::open_input(&path) {
        Err(e @ RunError::Io { .. }) => assert!(e.to_string().starts_with(&path), "{e}"),
        Err(e) => panic!("{e}"),
        Ok(_) => panic!("opened a missing file"),
    }
}

/// An entity part may be an expression over the event: charges per link and calendar
/// month in Japan (a service's monthly cap), not per rolling 30 days.
#[test]
fn an_entity_keyed_by_the_calendar_month() {
    const MONTHLY: &str = r#"
[[feature]]
name = "month_charges"
entity = ["event.link", 'event.time.getFullYear("Asia/Tokyo") * 100 + event.time.getMonth("Asia/Tokyo")']
aggregate = "sum"
of = "event.amount"
window = "31d"
filter = 'event.type == "charge"'

[[feature]]
name = "rolling_30d"
entity = "link"
aggregate = "sum"
of = "event.amount"
window = "30d"
filter = 'event.type == "charge"'
"#;
    let charge = |id: &str, time: &str, amount: u32| {
        format!(r#"{{"id":"{id}","type":"charge","time":"{time}","institution":"w","account":"a","link":"L1","amount":"{amount}"}}"#)
    };
    let events = [
        charge("c1", "2026-10-20T10:00:00+09:00", 200_000),
        charge("c2", "2026-10-31T23:30:00+09:00", 100_000),
        // 00:30 on 1 November in Japan (still 31 October in UTC): a new month.
        charge("c3", "2026-11-01T00:30:00+09:00", 100_000),
        charge("c4", "2026-11-05T10:00:00+09:00", 100_000),
    ];
    let lines: Vec<&str> = events.iter().map(String::as_str).collect();
    let rows = run(MONTHLY, &lines);
    let dec = |s: &str| OwnedValue::Decimal(s.parse().unwrap());
    let got: Vec<(&OwnedValue, &OwnedValue)> =
        ["c1", "c2", "c3", "c4"].iter().map(|id| (get(&rows, id, "month_charges"), get(&rows, id, "rolling_30d"))).collect();
    assert_eq!(
        got,
        [
            (&dec("200000"), &dec("200000")),
            (&dec("300000"), &dec("300000")),
            (&dec("100000"), &dec("400000")),
            (&dec("200000"), &dec("500000")),
        ]
    );
    // An entity is computed from the event alone: features are unknown there.
    let bad = MONTHLY
        .replace(r#"'event.time.getFullYear("Asia/Tokyo") * 100 + event.time.getMonth("Asia/Tokyo")'"#, "'features.rolling_30d * 2'");
    let err = mamori_features::load("bad.toml", &bad, &EventSchema::new()).expect_err("refused").to_string();
    assert!(err.contains("unknown field `features.rolling_30d`"), "{err}");
}
