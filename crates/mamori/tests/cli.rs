//! The `mamori` command as a user runs it: exit codes, messages, and both CSV paths.

use std::path::PathBuf;
use std::process::{Command, Output};

fn mamori(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_mamori")).args(args).output().unwrap()
}

fn example(name: &str) -> String {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../examples/handbook").join(name).to_string_lossy().into_owned()
}

fn temp(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("mamori-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(name)
}

#[test]
fn usage_errors_exit_2_and_failures_exit_1() {
    let out = mamori(&["features", "--config"]);
    assert_eq!(out.status.code(), Some(2));
    let out = mamori(&["no-such-command"]);
    assert_eq!(out.status.code(), Some(2));
    let out = mamori(&["features", "--help"]);
    assert_eq!(out.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&out.stdout).contains("--on-error"));

    let out = mamori(&["features", "--config", "/nonexistent.toml", "--input", "x.csv", "--output", "-"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).starts_with("mamori: /nonexistent.toml"));
}

#[test]
fn a_bad_feature_file_is_refused_with_its_place() {
    let cfg = temp("bad.toml");
    std::fs::write(&cfg, "[input]\ntime_format = \"naive\"\ncolumns = { time = \"TX_DATETIME\" }\n[[feature]]\nname = \"n\"\nentity = \"custmer\"\naggregate = \"count\"\nwindow = \"1h\"\n").unwrap();
    let out = mamori(&["features", "--config", cfg.to_str().unwrap(), "--input", &example("sample.csv"), "--output", "-"]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("bad.toml:6:10: error[F006]"), "{err}");
    assert!(err.contains("did you mean `customer`?"), "{err}");
}

#[test]
fn the_sample_in_order_and_out_of_order() {
    let out = mamori(&["features", "--config", &example("features.toml"), "--input", &example("sample.csv"), "--output", "-"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8(out.stdout).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 2001);
    assert!(lines[0].starts_with("TRANSACTION_ID,TX_AMOUNT,TX_DURING_WEEKEND,TX_DURING_NIGHT,CUSTOMER_ID_NB_TX_1DAY_WINDOW"));
    // 2018-04-01 was a Sunday; the first transaction is at 00:00:31.
    assert_eq!(lines[1], "0,57.16,1,1,1,57.16,1,57.16,1,57.16,0,0,0,0,0,0");
    let summary = String::from_utf8_lossy(&out.stderr);
    assert!(summary.contains("rows: 2000, written: 2000, malformed: 0, late: 0"), "{summary}");
    assert!(summary.trim_end().ends_with("columnar"), "{summary}");
    let again =
        mamori(&["features", "--config", &example("features.toml"), "--input", &example("sample.csv"), "--output", "-", "--streaming"]);
    assert!(String::from_utf8_lossy(&again.stderr).trim_end().ends_with("streaming"));
    assert_eq!(String::from_utf8(again.stdout).unwrap(), text);

    // The same rows with one moved two hours back: streamed, and the late one reported.
    let sample = std::fs::read_to_string(example("sample.csv")).unwrap();
    let mut rows: Vec<&str> = sample.lines().collect();
    let moved = rows.remove(5);
    rows.push(moved);
    let shuffled = temp("shuffled.csv");
    std::fs::write(&shuffled, rows.join("\n") + "\n").unwrap();
    let out = mamori(&["features", "--config", &example("features.toml"), "--input", shuffled.to_str().unwrap(), "--output", "-"]);
    assert!(out.status.success());
    let summary = String::from_utf8_lossy(&out.stderr);
    assert!(summary.contains("late: 1 events arrived after the lateness allowed"), "{summary}");
    assert!(summary.contains("(lines 2001)"), "{summary}");
    assert!(summary.trim_end().ends_with("streaming"), "{summary}");
    assert_eq!(String::from_utf8(out.stdout).unwrap().lines().count(), 2001);
}

#[test]
fn malformed_rows_skip_or_stop() {
    let bad = temp("bad.csv");
    std::fs::write(&bad, "TRANSACTION_ID,TX_DATETIME,CUSTOMER_ID,TERMINAL_ID,TX_AMOUNT,TX_FRAUD,TX_FRAUD_SCENARIO\n0,2018-04-01T00:00:31,596,3156,57.16,0,0\n1,2018-04-01T00:02:10,4961,3412,abc,0,0\n2,2018-04-01T00:07:56,2,1365,146.00,0,0\n").unwrap();
    let out = mamori(&["features", "--config", &example("features.toml"), "--input", bad.to_str().unwrap(), "--output", "-"]);
    assert!(out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("malformed: line 3, column TX_AMOUNT"), "{err}");
    assert!(err.contains("rows: 3, written: 2, malformed: 1"), "{err}");
    let out = mamori(&[
        "features",
        "--config",
        &example("features.toml"),
        "--input",
        bad.to_str().unwrap(),
        "--output",
        "-",
        "--on-error",
        "stop",
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("stopped at a malformed row: line 3, column TX_AMOUNT"));
}

#[test]
fn simulate_writes_four_files_and_refuses_bad_usage() {
    let dir = temp("simulate");
    let d = dir.to_str().unwrap();
    let out = mamori(&["simulate", "--scenario", "card-leak", "--seed", "7", "--out", d, "--days", "7", "--scale", "0.1"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stdout).contains("events"));
    let read = |f: &str| std::fs::read_to_string(dir.join(f)).unwrap();
    let (events, labels, institutions, summary) =
        (read("events.ndjson"), read("labels.csv"), read("institutions.csv"), read("summary.txt"));
    assert!(events.lines().count() > 100);
    assert_eq!(labels.lines().count(), events.lines().count() + 1);
    assert!(labels.starts_with("institution,id,scenario,fraud,chain,step,value_jpy\n"));
    assert!(institutions.starts_with("id,kind\n") && institutions.contains(",card\n"));
    assert!(summary.contains("card-leak"));
    let again = temp("simulate-again");
    let out =
        mamori(&["simulate", "--scenario", "card-leak", "--seed", "7", "--out", again.to_str().unwrap(), "--days", "7", "--scale", "0.1"]);
    assert!(out.status.success());
    assert_eq!(std::fs::read(again.join("events.ndjson")).unwrap(), events.as_bytes());

    for bad in [
        vec!["simulate", "--scenario", "phishing", "--seed", "1", "--out", d],
        vec!["simulate", "--seed", "1", "--out", d],
        vec!["simulate", "--scenario", "all", "--out", d],
        vec!["simulate", "--scenario", "all", "--seed", "x", "--out", d],
        vec!["simulate", "--scenario", "all", "--seed", "1", "--out", d, "--scale", "0"],
        vec!["simulate", "--scenario", "all", "--seed", "1", "--out", d, "--days", "0"],
    ] {
        let out = mamori(&bad);
        assert_eq!(out.status.code(), Some(2), "{bad:?}: {}", String::from_utf8_lossy(&out.stderr));
    }
    let out = mamori(&["simulate", "--scenario", "phishing", "--seed", "1", "--out", d]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("phishing"));
    let out = mamori(&["simulate", "--help"]);
    assert!(String::from_utf8_lossy(&out.stdout).contains("--scenario"));

    // An output path that cannot be a directory is a failure, not a usage error.
    let file = temp("simulate-file");
    std::fs::write(&file, "x").unwrap();
    let out =
        mamori(&["simulate", "--scenario", "hot-wallet", "--seed", "1", "--out", file.to_str().unwrap(), "--scale", "0.05", "--days", "2"]);
    assert_eq!(out.status.code(), Some(1));
}
