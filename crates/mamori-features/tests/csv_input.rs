//! CSV input: a declared column mapping ([`CsvMapping`]) turns rows into records of the
//! event contract's paths, and `batch::run_csv` writes each row's features. Malformed
//! rows are reported with their line and column and skipped, or stop the run.

mod common;
use common::TempDir;

use std::io::{BufRead, Cursor, Write as _};

use mamori_core::event::EventSchema;
use mamori_core::{Decimal, Schema, Timestamp, Type, Value};
use mamori_features::batch::{self, OnError, RunError, Summary};
use mamori_features::input::{CsvMapping, RowValues, TimeFormat};
use mamori_features::{FeatureSet, SourceMap, config};

const FEATURES: &str = r#"
[input]
format = "csv"
time_format = "naive"
utc_offset = "+09:00"

[input.columns]
id = "tx_id"
time = "tx_time"
customer = "cust"
amount = "amt"
"attributes.channel" = "channel"
"attributes.score" = "score"

[input.constants]
type = "card_payment"
institution = "bank-x"

[input.types]
"attributes.score" = "int"

[output]
id_column = "tx_id"

[[feature]]
name = "n_2h"
entity = "customer"
aggregate = "count"
window = "2h"

[[feature]]
name = "n_1h"
entity = "customer"
aggregate = "count"
window = "1h"

[[feature]]
name = "amount_1h"
entity = "customer"
aggregate = "sum"
of = "event.amount"
window = "1h"

[[feature]]
name = "avg_1h"
entity = "customer"
aggregate = "avg"
of = "event.amount"
window = "1h"

[[feature]]
name = "web_1h"
entity = "customer"
aggregate = "count"
window = "1h"
filter = 'event.attributes.channel == "web" && event.type == "card_payment"'

[[feature]]
name = "top_score"
entity = "customer"
aggregate = "max"
of = "event.attributes.score"

[[feature]]
name = "since_last"
entity = "customer"
aggregate = "time_since_last"

[[feature]]
name = "first"
entity = "customer"
aggregate = "first_seen"

[[feature]]
name = "big"
expr = "event.amount >= 1000"
"#;

const HEADER: &str = "tx_id,n_2h,n_1h,amount_1h,avg_1h,web_1h,top_score,since_last,first,big";

/// Five good rows; times are local at +09:00, one with a fraction of a second, one with
/// a `T`; t4 has no amount, t3 no score; t5's channel is quoted with a comma in it.
const GOOD: &str = "tx_id,tx_time,cust,amt,channel,score
t1,2026-11-01 09:00:00,c1,1000,web,10
t2,2026-11-01T09:30:00,c1,250.50,app,30
t3,2026-11-01 09:45:00.5,c2,99.99,web,
t4,2026-11-01 10:00:00,c1,,web,20
t5,2026-11-01 10:30:00,c1,0.5,\"app,v2\",5
";

/// Each row's features, as `run_csv` writes them.
const GOOD_OUT: &[&str] = &[
    HEADER,
    "t1,1,1,1000,1000,1,10,,2026-11-01T00:00:00.000Z,1",
    "t2,2,2,1250.5,625.25,1,30,1800,2026-11-01T00:00:00.000Z,0",
    "t3,1,1,99.99,99.99,1,,,2026-11-01T00:45:00.500Z,0",
    // (09:00, 10:00] leaves t1 out; t4 has no amount: the sum and mean are t2's.
    "t4,3,2,250.5,250.5,1,30,1800,2026-11-01T00:00:00.000Z,",
    "t5,4,2,0.5,0.5,1,30,1800,2026-11-01T00:00:00.000Z,0",
];

/// The mapping and the features of `text`, as `mamori features` builds them for CSV.
fn compile(text: &str) -> (CsvMapping, FeatureSet, String) {
    let file = config::parse("csv.toml", text).unwrap_or_else(|e| panic!("{e}"));
    let map = SourceMap { file: "csv.toml", text };
    let mapping = CsvMapping::from_config(&file, &map, &EventSchema::new()).unwrap_or_else(|e| panic!("{e}"));
    let set = FeatureSet::compile(&file, &map, mapping.schema()).unwrap_or_else(|e| panic!("{e}"));
    let id_column = file.output.id_column.clone().unwrap_or_else(|| "event_id".to_string());
    (mapping, set, id_column)
}

/// Runs `features` over the file at `input`; the summary (or error) and the output.
fn run_path(features: &str, input: &str, on_error: OnError, dir: &TempDir) -> (Result<Summary, RunError>, String) {
    let (mut mapping, set, id_column) = compile(features);
    let out = dir.path("out.csv");
    let mut progress_calls = 0;
    let result = batch::run_csv(
        &set,
        &mut mapping,
        batch::open_input(input).unwrap(),
        batch::open_output(&out).unwrap(),
        &id_column,
        on_error,
        &mut |_| progress_calls += 1,
    );
    if result.is_ok() {
        assert!(progress_calls >= 1, "progress is reported at the end");
    }
    (result, std::fs::read_to_string(&out).unwrap_or_default())
}

/// Runs `features` over `csv` (bytes), through a file in a temp dir.
fn run_bytes(features: &str, csv: &[u8], on_error: OnError) -> (Result<Summary, RunError>, String) {
    let dir = TempDir::new("csv");
    let input = dir.path("in.csv");
    std::fs::write(&input, csv).unwrap();
    run_path(features, &input, on_error, &dir)
}

#[test]
fn the_mapping_types_columns_by_the_event_contract() {
    let (mapping, set, id_column) = compile(FEATURES);
    assert_eq!(id_column, "tx_id");
    assert_eq!(mapping.time_format, TimeFormat::Naive(9 * 3600));
    assert_eq!(mapping.delimiter, b',');
    let mut fields = mapping.schema().fields();
    fields.sort_by(|a, b| a.0.cmp(&b.0));
    let want: Vec<(String, Type)> = [
        ("amount", Type::Decimal),
        ("attributes.channel", Type::String),
        ("attributes.score", Type::Int),
        ("customer", Type::String),
        ("id", Type::String),
        ("institution", Type::String),
        ("time", Type::Timestamp),
        ("type", Type::String),
    ]
    .into_iter()
    .map(|(p, t)| (p.to_string(), t))
    .collect();
    assert_eq!(fields, want);
    assert_eq!(set.len(), 9);
}

#[test]
fn a_row_read_through_the_mapping() {
    let (mut mapping, _, _) = compile(FEATURES);
    let mut rdr = csv::ReaderBuilder::new().from_reader(GOOD.as_bytes());
    mapping.bind(&rdr.byte_headers().unwrap().clone()).unwrap();
    let schema = mapping.schema().clone();
    let id = |path: &str| match schema.resolve(&path.split('.').collect::<Vec<_>>()) {
        mamori_core::Resolution::Field(id, _) => id.inner() as usize,
        other => panic!("{path}: {other:?}"),
    };
    let rows: Vec<csv::ByteRecord> = rdr.byte_records().map(Result::unwrap).collect();
    let mut vals = RowValues::new();
    let t = mapping.read(&rows[2], 4, &mut vals).unwrap();
    assert_eq!(t, Timestamp::parse_rfc3339("2026-11-01T09:45:00.5+09:00").unwrap());
    assert_eq!(vals[id("id")], Value::Str("t3"));
    assert_eq!(vals[id("customer")], Value::Str("c2"));
    assert_eq!(vals[id("amount")], Value::Decimal(Decimal::new(9999, 2)));
    assert_eq!(vals[id("attributes.channel")], Value::Str("web"));
    assert_eq!(vals[id("attributes.score")], Value::Null, "an empty cell is null");
    assert_eq!(vals[id("type")], Value::Str("card_payment"));
    assert_eq!(vals[id("institution")], Value::Str("bank-x"));
    assert_eq!(mapping.id_field(), Some(id("id")));
    let t = mapping.read(&rows[4], 6, &mut vals).unwrap();
    assert_eq!(t, Timestamp::parse_rfc3339("2026-11-01T01:30:00Z").unwrap());
    assert_eq!(vals[id("attributes.channel")], Value::Str("app,v2"));

    let bad = csv::ByteRecord::from(vec!["t9", "2026-11-01 09:00:00", "c1", "1e", "web", "1"]);
    let e = mapping.read(&bad, 12, &mut RowValues::new()).unwrap_err();
    assert_eq!((e.line, e.column.as_str()), (12, "amt"));
    assert_eq!(e.to_string(), "line 12, column amt: \"1e\" is not a decimal number");
}

#[test]
fn run_csv_writes_exact_values() {
    let (result, out) = run_bytes(FEATURES, GOOD.as_bytes(), OnError::Skip);
    let summary = result.unwrap();
    assert_eq!((summary.rows, summary.written, summary.malformed), (5, 5, 0));
    assert!(summary.errors.is_empty() && summary.late_lines.is_empty() && !summary.stopped);
    assert_eq!(summary.stats.events, 5);
    assert_eq!(out.lines().collect::<Vec<_>>(), GOOD_OUT);
}

#[test]
fn run_csv_reads_gzip() {
    let dir = TempDir::new("csv-gz");
    let input = dir.path("in.csv.gz");
    let mut gz = flate2::write::GzEncoder::new(std::fs::File::create(&input).unwrap(), flate2::Compression::best());
    gz.write_all(GOOD.as_bytes()).unwrap();
    gz.finish().unwrap();
    let (result, out) = run_path(FEATURES, &input, OnError::Skip, &dir);
    assert_eq!(result.unwrap().written, 5);
    assert_eq!(out.lines().collect::<Vec<_>>(), GOOD_OUT);
}

#[test]
fn gzip_members_are_read_one_after_another() {
    // Two gzip streams concatenated (as `cat a.gz b.gz` makes) are one file.
    let dir = TempDir::new("csv-gz2");
    let input = dir.path("in.csv.gz");
    let (head, tail) = GOOD.split_at(GOOD.find("t4,").unwrap());
    let mut bytes = Vec::new();
    for part in [head, tail] {
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz.write_all(part.as_bytes()).unwrap();
        bytes.extend(gz.finish().unwrap());
    }
    std::fs::write(&input, bytes).unwrap();
    let mut lines = Vec::new();
    for l in batch::open_input(&input).unwrap().lines() {
        lines.push(l.unwrap());
    }
    assert_eq!(lines.join("\n") + "\n", GOOD);
    let (result, out) = run_path(FEATURES, &input, OnError::Skip, &dir);
    assert_eq!(result.unwrap().written, 5);
    assert_eq!(out.lines().collect::<Vec<_>>(), GOOD_OUT);
}

/// Good rows around every kind of bad one. Line 3 is a quoted field over two lines.
fn malformed_csv() -> Vec<u8> {
    let mut b = Vec::new();
    b.extend_from_slice(b"tx_id,tx_time,cust,amt,channel,score\n"); // 1
    b.extend_from_slice(b"t1,2026-11-01 09:00:00,c1,1000,web,10\n"); // 2
    b.extend_from_slice(b"t2,2026-11-01 09:05:00,c1,1,\"we\nb\",10\n"); // 3-4
    b.extend_from_slice(b"t3,2026-11-01 09:10:00,c1,12.3.4,web,10\n"); // 5: bad decimal
    b.extend_from_slice(b"t4,2026-11-01 09:20,c1,5,web,10\n"); // 6: bad time
    b.extend_from_slice(b"t5,2026-11-01 09:30:00,c1,5,web\n"); // 7: a field short
    b.extend_from_slice(b"t6,2026-11-01 09:40:00,\xffc1,5,web,10\n"); // 8: not UTF-8
    b.extend_from_slice(b"t7,2026-11-01 09:50:00,c1,5,web,ten\n"); // 9: bad int
    b.extend_from_slice(b"t8,,c1,5,web,10\n"); // 10: no time
    b.extend_from_slice(b"t9,2026-11-01 10:00:00,c1,7,app,10,extra\n"); // 11: a field too many
    b.extend_from_slice(b"t10,2026-11-01 10:30:00,c1,7,app,40\n"); // 12
    b
}

#[test]
fn malformed_rows_are_reported_with_line_and_column_and_skipped() {
    let (result, out) = run_bytes(FEATURES, &malformed_csv(), OnError::Skip);
    let summary = result.unwrap();
    assert_eq!((summary.rows, summary.written, summary.malformed), (10, 3, 7));
    let got: Vec<(u64, &str)> = summary.errors.iter().map(|e| (e.line, e.column.as_str())).collect();
    assert_eq!(got, [(5, "amt"), (6, "tx_time"), (7, "-"), (8, "cust"), (9, "score"), (10, "tx_time"), (11, "-")]);
    let messages: Vec<&str> = summary.errors.iter().map(|e| e.message.as_str()).collect();
    assert_eq!(messages[0], "\"12.3.4\" is not a decimal number");
    assert!(messages[1].contains("YYYY-MM-DDTHH:MM:SS") && messages[1].contains("2026-11-01 09:20"), "{}", messages[1]);
    assert_eq!(messages[2], "expected 6 fields, found 5");
    assert_eq!(messages[3], "not valid UTF-8");
    assert_eq!(messages[4], "\"ten\" is not an integer");
    assert_eq!(messages[5], "the time is empty");
    assert_eq!(messages[6], "expected 6 fields, found 7");
    assert_eq!(
        out.lines().collect::<Vec<_>>(),
        [
            HEADER,
            "t1,1,1,1000,1000,1,10,,2026-11-01T00:00:00.000Z,1",
            // The channel "we\nb" is not "web".
            "t2,2,2,1001,500.5,1,10,300,2026-11-01T00:00:00.000Z,0",
            "t10,3,1,7,7,0,40,5100,2026-11-01T00:00:00.000Z,0",
        ]
    );
}

#[test]
fn on_error_stop_stops_at_the_first_malformed_row() {
    let (result, out) = run_bytes(FEATURES, &malformed_csv(), OnError::Stop);
    match result {
        Err(RunError::Stopped(e)) => {
            assert_eq!((e.line, e.column.as_str()), (5, "amt"));
            assert_eq!(
                RunError::Stopped(e).to_string(),
                "stopped at a malformed row: line 5, column amt: \"12.3.4\" is not a decimal number"
            );
        }
        other => panic!("{other:?}"),
    }
    // The rows before it are written.
    assert_eq!(out.lines().count(), 3);
    assert!(out.starts_with(HEADER));
}

#[test]
fn on_error_stop_on_a_short_row() {
    let csv = "tx_id,tx_time,cust,amt,channel,score\nt1,2026-11-01 09:00:00,c1,1,web,1\nt2,2026-11-01 09:00:01,c1\n";
    let (result, out) = run_bytes(FEATURES, csv.as_bytes(), OnError::Stop);
    match result {
        Err(RunError::Stopped(e)) => assert_eq!((e.line, e.column.as_str(), e.message.as_str()), (3, "-", "expected 6 fields, found 3")),
        other => panic!("{other:?}"),
    }
    assert_eq!(out.lines().count(), 2);
}

#[test]
fn missing_mapped_columns_are_refused_by_name() {
    let csv = "tx_id,tx_time,cust,score\nt1,2026-11-01 09:00:00,c1,1\n";
    let (result, _) = run_bytes(FEATURES, csv.as_bytes(), OnError::Skip);
    match result {
        Err(RunError::Input(msg)) => assert_eq!(msg, "the input has no column amt, channel"),
        other => panic!("{other:?}"),
    }
    // An empty file has no header at all.
    let (result, _) = run_bytes(FEATURES, b"", OnError::Skip);
    assert!(matches!(result, Err(RunError::Input(ref m)) if m.starts_with("the input has no column")), "{result:?}");
}

#[test]
fn extra_columns_and_column_order_do_not_matter() {
    let csv =
        "score,junk,channel,amt,cust,tx_time,tx_id\n10,x,web,1000,c1,2026-11-01 09:00:00,t1\n30,y,app,250.50,c1,2026-11-01T09:30:00,t2\n";
    let (result, out) = run_bytes(FEATURES, csv.as_bytes(), OnError::Skip);
    assert_eq!(result.unwrap().written, 2);
    assert_eq!(out.lines().collect::<Vec<_>>(), GOOD_OUT[..3]);
}

#[test]
fn tab_separated_rfc3339_without_id_column() {
    let features = "[input]\ndelimiter = \"\\t\"\n\n[input.columns]\ntime = \"when\"\ndevice = \"dev\"\n\n\
                    [[feature]]\nname = \"per_device\"\nentity = \"device\"\naggregate = \"count\"\nwindow = \"10m\"\n\n\
                    [[feature]]\nname = \"gap\"\nentity = \"device\"\naggregate = \"time_since_last\"\nwindow = \"10m\"\n";
    let tsv = "when\tdev\n2026-11-01T09:00:00+09:00\td1\n2026-11-01T00:01:30.25Z\td1\n2026-11-01T09:20:00+09:00\td1\n\t\n";
    let (result, out) = run_bytes(features, tsv.as_bytes(), OnError::Skip);
    let summary = result.unwrap();
    assert_eq!((summary.rows, summary.written, summary.malformed), (4, 3, 1));
    assert_eq!((summary.errors[0].line, summary.errors[0].message.as_str()), (5, "the time is empty"));
    // Without an id column the id is the row's number.
    assert_eq!(out.lines().collect::<Vec<_>>(), ["event_id,per_device,gap", "1,1,", "2,2,90.25", "3,1,"]);
}

#[test]
fn late_rows_are_reported_by_line() {
    let features = "[engine]\nlateness = \"10m\"\n\n[input.columns]\ntime = \"t\"\ncustomer = \"c\"\n\n\
                    [[feature]]\nname = \"n\"\nentity = [\"event.customer\"]\naggregate = \"count\"\nwindow = \"1d\"\n";
    let csv = "t,c\n2026-11-01T10:00:00Z,a\n2026-11-01T09:55:00Z,a\n2026-11-01T09:00:00Z,a\n2026-11-01T10:01:00Z,a\n";
    let (result, out) = run_bytes(features, csv.as_bytes(), OnError::Skip);
    let summary = result.unwrap();
    assert_eq!(summary.stats.late, 1);
    assert_eq!(summary.late_lines, [4]);
    // The late row is written (read from the state as it is) and does not count later.
    assert_eq!(out.lines().collect::<Vec<_>>(), ["event_id,n", "1,1", "2,1", "3,0", "4,3"]);
}

#[test]
fn run_csv_from_memory() {
    // Any reader and writer will do.
    let (mut mapping, set, id_column) = compile(FEATURES);
    let out = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    struct Shared(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);
    impl std::io::Write for Shared {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().write(b)
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let summary = batch::run_csv(
        &set,
        &mut mapping,
        Box::new(Cursor::new(GOOD.as_bytes().to_vec())),
        Box::new(Shared(out.clone())),
        &id_column,
        OnError::Skip,
        &mut |_| {},
    )
    .unwrap();
    assert_eq!(summary.written, 5);
    let text = String::from_utf8(out.lock().unwrap().clone()).unwrap();
    assert_eq!(text.lines().collect::<Vec<_>>(), GOOD_OUT);
}

#[test]
fn crlf_line_endings() {
    let csv = GOOD.replace('\n', "\r\n");
    let (result, out) = run_bytes(FEATURES, csv.as_bytes(), OnError::Skip);
    assert_eq!(result.unwrap().written, 5);
    assert_eq!(out.lines().collect::<Vec<_>>(), GOOD_OUT);
}

/// Spreadsheets often save UTF-8 CSV with a byte-order mark before the header.
#[test]
fn a_utf8_byte_order_mark_is_not_part_of_the_first_column_name() {
    let csv = format!("\u{feff}{GOOD}");
    let (result, out) = run_bytes(FEATURES, csv.as_bytes(), OnError::Skip);
    assert_eq!(result.unwrap().written, 5);
    assert_eq!(out.lines().collect::<Vec<_>>(), GOOD_OUT);
}

#[test]
fn only_the_first_errors_are_kept_but_all_are_counted() {
    let mut csv = String::from("tx_id,tx_time,cust,amt,channel,score\n");
    for i in 0..50 {
        csv.push_str(&format!("t{i},2026-11-01 09:00:00,c1,x{i},web,1\n"));
    }
    csv.push_str("ok,2026-11-01 09:00:00,c1,1,web,1\n");
    let (result, out) = run_bytes(FEATURES, csv.as_bytes(), OnError::Skip);
    let summary = result.unwrap();
    assert_eq!((summary.rows, summary.written, summary.malformed), (51, 1, 50));
    assert_eq!(summary.errors.len(), Summary::KEPT_ERRORS);
    assert_eq!(summary.errors.iter().map(|e| e.line).collect::<Vec<_>>(), (2..22).collect::<Vec<u64>>());
    assert_eq!(out.lines().count(), 2);
}

/// Rows are read ahead in batches on another thread: line numbers stay right across
/// batches, and stopping in the middle of a long file returns (the reader is not left
/// blocked).
#[test]
fn line_numbers_across_read_ahead_batches() {
    let mut csv = String::from("tx_id,tx_time,cust,amt,channel,score\n");
    for i in 0..20_000u32 {
        let amount = if i == 9_000 || i == 15_000 { "bad".to_string() } else { (i % 97 + 1).to_string() };
        csv.push_str(&format!("t{i},2026-11-01 {:02}:{:02}:{:02},c{},{amount},web,1\n", i / 3600, i / 60 % 60, i % 60, i % 7));
    }
    let (result, out) = run_bytes(FEATURES, csv.as_bytes(), OnError::Skip);
    let summary = result.unwrap();
    assert_eq!((summary.rows, summary.written, summary.malformed), (20_000, 19_998, 2));
    assert_eq!(summary.errors.iter().map(|e| e.line).collect::<Vec<_>>(), [9_002, 15_002]);
    assert_eq!(out.lines().count(), 19_999);
    assert!(out.lines().nth(9_001).unwrap().starts_with("t9001,"));

    let (result, out) = run_bytes(FEATURES, csv.as_bytes(), OnError::Stop);
    match result {
        Err(RunError::Stopped(e)) => assert_eq!((e.line, e.column.as_str()), (9_002, "amt")),
        other => panic!("{other:?}"),
    }
    assert_eq!(out.lines().count(), 9_001);
}

/// A constant is typed like a column: one that cannot be read as its path's type
/// should be refused when the file is loaded, not make every row malformed.
#[test]
fn a_constant_of_the_wrong_type_is_a_config_error() {
    let text = "[input.columns]\ntime = \"t\"\n\n[input.constants]\namount = \"lots\"\n";
    let file = config::parse("csv.toml", text).unwrap();
    let map = SourceMap { file: "csv.toml", text };
    match CsvMapping::from_config(&file, &map, &EventSchema::new()) {
        Err(e) => assert_eq!((e.0[0].code, e.0[0].line, e.0[0].column), (mamori_features::codes::COLUMN, 5, 10)),
        Ok(_) => {
            let (result, _) = run_bytes(text, b"t\n2026-11-01T00:00:00Z\n", OnError::Skip);
            panic!("accepted; the run then says {:?}", result.map(|s| s.errors));
        }
    }
}
