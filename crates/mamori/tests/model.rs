//! `mamori train` and `mamori score` on a small file in the handbook's format: the
//! model learns the pattern, scores every row, is the same file when trained twice, and
//! refuses to score with other features than it was trained on.

use std::path::PathBuf;
use std::process::{Command, Output};

fn mamori(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_mamori")).args(args).output().unwrap()
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// 20 days, 200 customers, 5,000 terminals; frauds are the amounts over 220 (as in the
/// handbook's first scenario), one transaction in 40.
fn write_input(path: &PathBuf) {
    let mut s = String::from("TRANSACTION_ID,TX_DATETIME,CUSTOMER_ID,TERMINAL_ID,TX_AMOUNT,TX_FRAUD,TX_FRAUD_SCENARIO\n");
    let mut id = 0;
    let mut x: u64 = 12345;
    for day in 1..=20 {
        for k in 0..300 {
            x = x.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            let fraud = (x >> 33).is_multiple_of(40);
            let amount = if fraud { 230.0 + ((x >> 20) % 500) as f64 } else { 5.0 + ((x >> 24) % 200) as f64 };
            let secs = k * 280;
            s.push_str(&format!(
                "{id},2018-07-{day:02}T{:02}:{:02}:{:02},{},{},{amount:.2},{},{}\n",
                secs / 3600,
                secs / 60 % 60,
                secs % 60,
                (x >> 40) % 200,
                (x >> 8) % 5000,
                u8::from(fraud),
                u8::from(fraud)
            ));
            id += 1;
        }
    }
    std::fs::write(path, s).unwrap();
}

/// A fresh folder with the input and a model config over the handbook's features (with
/// `extra` lines before its parameters): (folder, input, config, the config's text,
/// the feature file).
fn workspace(name: &str, extra: &str) -> (PathBuf, PathBuf, PathBuf, String, PathBuf) {
    let dir = std::env::temp_dir().join(format!("mamori-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let input = dir.join("stream.csv");
    write_input(&input);
    let features = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../examples/handbook/features.toml");
    let config = dir.join("model.toml");
    let cfg = format!(
        "features = {:?}\nlabel = \"attributes.fraud\"\nlabel_delay = \"7d\"\n{extra}[params]\ntrees = 30\ndepth = 3\nlearning_rate = 0.3\n",
        features.display().to_string()
    );
    std::fs::write(&config, &cfg).unwrap();
    (dir, input, config, cfg, features)
}

#[test]
fn train_then_score() {
    let (dir, input, config, cfg, features) = workspace("model", "");
    let (c, i) = (config.to_str().unwrap(), input.to_str().unwrap());
    let m1 = dir.join("m1.json");
    let m2 = dir.join("m2.json");
    for m in [&m1, &m2] {
        let r = mamori(&[
            "train",
            "--config",
            c,
            "--input",
            i,
            "--train-from",
            "2018-07-01",
            "--train-to",
            "2018-07-11",
            "--output",
            m.to_str().unwrap(),
        ]);
        assert_eq!(r.status.code(), Some(0), "{}", text(&r.stderr));
        assert!(text(&r.stderr).contains("3000 rows"), "{}", text(&r.stderr));
    }
    assert_eq!(std::fs::read(&m1).unwrap(), std::fs::read(&m2).unwrap(), "training is deterministic");

    let scores = dir.join("scores.csv");
    let r = mamori(&["score", "--config", c, "--model", m1.to_str().unwrap(), "--input", i, "--output", scores.to_str().unwrap()]);
    assert_eq!(r.status.code(), Some(0), "{}", text(&r.stderr));
    let out = std::fs::read_to_string(&scores).unwrap();
    let mut lines = out.lines();
    assert_eq!(lines.next(), Some("TRANSACTION_ID,SCORE"));
    let rows: Vec<(u64, f64)> = lines.map(|l| l.split_once(',').map(|(a, b)| (a.parse().unwrap(), b.parse().unwrap())).unwrap()).collect();
    assert_eq!(rows.len(), 6000);
    assert_eq!(rows[5999].0, 5999);
    // On the days after training, every fraud scores above every legitimate row.
    let inp = std::fs::read_to_string(&input).unwrap();
    let frauds: Vec<bool> = inp.lines().skip(1).map(|l| l.split(',').nth(5) == Some("1")).collect();
    let later = 3000..6000;
    let min_fraud = later.clone().filter(|&k| frauds[k]).map(|k| rows[k].1).fold(f64::INFINITY, f64::min);
    let max_legit = later.filter(|&k| !frauds[k]).map(|k| rows[k].1).fold(0.0, f64::max);
    assert!(min_fraud > max_legit, "fraud from {min_fraud}, legit up to {max_legit}");

    // Other features than the model's: refused.
    let other = dir.join("features.toml");
    let ftext = std::fs::read_to_string(&features).unwrap();
    std::fs::write(&other, ftext.replace("window = \"30d\"", "window = \"31d\"")).unwrap();
    std::fs::write(&config, cfg.replace(&format!("{:?}", features.display().to_string()), "\"features.toml\"")).unwrap();
    let r = mamori(&["score", "--config", c, "--model", m1.to_str().unwrap(), "--input", i, "--output", "-"]);
    assert_eq!(r.status.code(), Some(1));
    assert!(text(&r.stderr).contains("trained on other features"), "{}", text(&r.stderr));
    // A config with an unknown key, and a label the input does not map: refused.
    std::fs::write(&config, "features = \"features.toml\"\nlabel = \"attributes.fraud\"\nlabel_delay = \"7d\"\ntress = 3\n").unwrap();
    let r =
        mamori(&["train", "--config", c, "--input", i, "--train-from", "2018-07-01", "--train-to", "2018-07-11", "--output", "/dev/null"]);
    assert!(r.status.code() == Some(1) && text(&r.stderr).contains("tress"), "{}", text(&r.stderr));
    std::fs::write(&config, "features = \"features.toml\"\nlabel = \"attributes.nope\"\nlabel_delay = \"7d\"\n").unwrap();
    let r =
        mamori(&["train", "--config", c, "--input", i, "--train-from", "2018-07-01", "--train-to", "2018-07-11", "--output", "/dev/null"]);
    assert!(r.status.code() == Some(1) && text(&r.stderr).contains("attributes.nope"), "{}", text(&r.stderr));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn eval_follows_the_handbook_protocol() {
    let (dir, input, config, _, features) = workspace("model-eval", "customer = \"customer\"\n");
    let (c, i) = (config.to_str().unwrap(), input.to_str().unwrap());
    // Train on July 1–3, wait 7 days, test July 11–13; then the same a week later.
    let args =
        ["eval", "--model-config", c, "--input", i, "--train-from", "2018-07-01", "--train-to", "2018-07-04", "--weeks", "2", "--json"];
    let r = mamori(&args);
    assert_eq!(r.status.code(), Some(0), "{}", text(&r.stderr));
    let windows: serde_json::Value = serde_json::from_slice(&r.stdout).unwrap();
    let w = windows.as_array().unwrap();
    assert_eq!(w.len(), 2);
    assert_eq!((w[0]["test_from"].as_str(), w[1]["train_from"].as_str()), (Some("2018-07-11"), Some("2018-07-08")));
    // The test rows are those of customers not known to be compromised: frauds in
    // training, then on each day of the delay before the test day.
    let inp = std::fs::read_to_string(&input).unwrap();
    let rows: Vec<(u32, String, bool)> = inp
        .lines()
        .skip(1)
        .map(|l| {
            let f: Vec<&str> = l.split(',').collect();
            (f[1][8..10].parse().unwrap(), f[2].to_string(), f[5] == "1")
        })
        .collect();
    let mut known: std::collections::HashSet<&str> = rows.iter().filter(|r| r.0 <= 3 && r.2).map(|r| r.1.as_str()).collect();
    let (mut test_rows, mut test_frauds) = (0, 0);
    for d in 0..3 {
        known.extend(rows.iter().filter(|r| r.0 == 3 + d && r.2).map(|r| r.1.as_str()));
        for r in rows.iter().filter(|r| r.0 == 11 + d && !known.contains(r.1.as_str())) {
            test_rows += 1;
            test_frauds += usize::from(r.2);
        }
    }
    assert_eq!((w[0]["train_rows"].as_u64(), w[0]["test_rows"].as_u64()), (Some(900), Some(test_rows)));
    assert_eq!(w[0]["test_frauds"].as_u64(), Some(test_frauds as u64));
    assert!(test_rows < 900 && test_frauds > 0);
    // The pattern is plain: ranked almost perfectly.
    for win in w {
        assert!(win["auc_roc"].as_f64().unwrap() > 0.97, "{win}");
        assert!(win["average_precision"].as_f64().unwrap() > 0.9, "{win}");
        let cp = win["card_precision_at_100"].as_f64().unwrap();
        assert!((0.0..=1.0).contains(&cp) && cp > 0.0, "{win}");
    }
    // Without a customer field there is no Card Precision: refused.
    std::fs::write(
        &config,
        format!("features = {:?}\nlabel = \"attributes.fraud\"\nlabel_delay = \"7d\"\n", features.display().to_string()),
    )
    .unwrap();
    let r = mamori(&args);
    assert!(r.status.code() == Some(1) && text(&r.stderr).contains("customer"), "{}", text(&r.stderr));
    let _ = std::fs::remove_dir_all(&dir);
}
