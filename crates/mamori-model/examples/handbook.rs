//! The learner on the handbook's data with the handbook's own features
//! (`features-dev.csv.gz`) and protocol, shifted into July: train on 7 days, a 7-day
//! delay, test on the 7 days after it, test rows of customers already known to be
//! compromised removed; AUC ROC, Average Precision and Card Precision@100.
//!
//! cargo run --release -p mamori-model --example handbook -- ../shared/data/handbook [TRAIN_START_DAY...]
//!
//! Days count from 2018-04-01 (day 0); the default, 94, is 2018-07-04. Parameters other
//! than the defaults: `MAMORI_PARAMS='{"trees": 300, "depth": 4}'`.

use std::collections::HashSet;
use std::io::BufReader;
use std::time::Instant;

use mamori_model::metrics::{Scored, auc, average_precision, card_precision_at_k};
use mamori_model::{Forest, Params, train};

struct Tx {
    day: i64,
    customer: String,
    fraud: bool,
    x: Vec<f64>,
}

fn read(path: &str) -> csv::Reader<flate2::read::GzDecoder<BufReader<std::fs::File>>> {
    let f = std::fs::File::open(path).unwrap_or_else(|e| panic!("{path}: {e}"));
    csv::Reader::from_reader(flate2::read::GzDecoder::new(BufReader::new(f)))
}

fn main() {
    let mut args = std::env::args().skip(1);
    let dir = args.next().unwrap_or_else(|| "../shared/data/handbook".into());
    let starts: Vec<i64> = args.map(|a| a.parse().expect("a day number")).collect();
    let starts = if starts.is_empty() { vec![94] } else { starts };
    let mut raw = read(&format!("{dir}/handbook-dev.csv.gz"));
    let mut feats = read(&format!("{dir}/features-dev.csv.gz"));
    let names: Vec<String> =
        std::iter::once("TX_AMOUNT".to_string()).chain(feats.headers().unwrap().iter().skip(1).map(str::to_string)).collect();
    let t0 = jiff::civil::date(2018, 4, 1);
    let mut txs = Vec::new();
    for (r, f) in raw.records().zip(feats.records()) {
        let (r, f) = (r.unwrap(), f.unwrap());
        assert_eq!(&r[0], &f[0]);
        let date: jiff::civil::Date = r[1][..10].parse().unwrap();
        let day = (date - t0).get_days() as i64;
        let mut x = vec![r[4].parse::<f64>().unwrap()];
        x.extend(f.iter().skip(1).map(|v| v.parse::<f64>().unwrap()));
        txs.push(Tx { day, customer: r[2].to_string(), fraud: &r[5] == "1", x });
    }
    // Parameters to try, as JSON (`MAMORI_PARAMS='{"trees": 300}'`); the defaults otherwise.
    let params: Params = match std::env::var("MAMORI_PARAMS") {
        Ok(j) => serde_json::from_str(&j).unwrap_or_else(|e| panic!("MAMORI_PARAMS: {e}")),
        Err(_) => Params::default(),
    };
    println!("rows {}, features {}, params {params:?}", txs.len(), names.len());
    for start in starts {
        let (train_days, delay, test_days) = (7, 7, 7);
        let tr: Vec<&Tx> = txs.iter().filter(|t| (start..start + train_days).contains(&t.day)).collect();
        let x: Vec<Vec<f64>> = tr.iter().map(|t| t.x.clone()).collect();
        let y: Vec<bool> = tr.iter().map(|t| t.fraud).collect();
        let clock = Instant::now();
        let model = train(&names, &x, &y, &params).unwrap();
        let took = clock.elapsed();
        // The test days, without customers known to be compromised by then.
        let mut known: HashSet<&str> = tr.iter().filter(|t| t.fraud).map(|t| t.customer.as_str()).collect();
        let mut test: Vec<&Tx> = Vec::new();
        for d in 0..test_days {
            let day = start + train_days + delay + d;
            let delay_day = start + train_days + d - 1;
            known.extend(txs.iter().filter(|t| t.day == delay_day && t.fraud).map(|t| t.customer.as_str()));
            test.extend(txs.iter().filter(|t| t.day == day && !known.contains(t.customer.as_str())));
        }
        // Model time: the compiled forest over the test rows in one block, as `mamori score` does.
        let forest = Forest::new(&model);
        let flat: Vec<f64> = test.iter().flat_map(|t| t.x.iter().copied()).collect();
        let mut scores = vec![0.0; test.len()];
        let clock = Instant::now();
        forest.scores(&flat, names.len(), &mut scores);
        let scoring = clock.elapsed();
        assert!(test.iter().zip(&scores).all(|(t, s)| s.to_bits() == model.score(&t.x).to_bits()));
        let labels: Vec<bool> = test.iter().map(|t| t.fraud).collect();
        let rows: Vec<Scored> =
            test.iter().zip(&scores).map(|(t, &s)| Scored { day: t.day, customer: &t.customer, score: s, fraud: t.fraud }).collect();
        println!(
            "train days {start}..{} ({} rows, {} frauds) in {:.2} s; test {} rows, {} frauds: AUC {:.3} AP {:.3} CP@100 {:.3}; model time {:.2} µs/row",
            start + train_days - 1,
            tr.len(),
            y.iter().filter(|&&b| b).count(),
            took.as_secs_f64(),
            test.len(),
            labels.iter().filter(|&&b| b).count(),
            auc(&scores, &labels),
            average_precision(&scores, &labels),
            card_precision_at_k(&rows, 100),
            scoring.as_secs_f64() * 1e6 / test.len() as f64
        );
    }
}
