//! The whole-file path computes exactly what the streaming engine computes: random
//! time-ordered CSV files (ties, missing values, several entities, delays) through both
//! give byte-identical output; a file out of time order is refused so the caller can
//! stream it instead.

use std::io::{BufRead, Cursor, Write};
use std::sync::{Arc, Mutex};

use mamori_features::batch::{self, OnError};
use mamori_features::input::CsvMapping;
use mamori_features::{FeatureSet, NotColumnar, SourceMap};
use proptest::prelude::*;

const CONFIG: &str = r#"
[input]
time_format = "naive"
[input.columns]
id = "id"
time = "t"
customer = "c"
terminal = "m"
amount = "a"
"attributes.flag" = "f"
[input.constants]
type = "card_payment"
institution = "x"
[input.types]
"attributes.flag" = "int"

[[feature]]
name = "amount"
expr = "event.amount"
[[feature]]
name = "n_1h"
entity = "customer"
aggregate = "count"
window = "1h"
[[feature]]
name = "sum_1h"
entity = "customer"
aggregate = "sum"
of = "event.amount"
window = "1h"
[[feature]]
name = "avg_1d"
entity = "customer"
aggregate = "avg"
of = "event.amount"
window = "1d"
[[feature]]
name = "share"
aggregate = "ratio"
numerator = "sum_1h"
denominator = "avg_1d"
[[feature]]
name = "risk"
entity = "terminal"
aggregate = "avg"
of = "event.attributes.flag"
window = "2h"
delay = "30m"
empty = 0
[[feature]]
name = "flags"
entity = "terminal"
aggregate = "sum"
of = "event.attributes.flag"
window = "3h"
"#;

#[derive(Clone)]
struct Shared(Arc<Mutex<Vec<u8>>>);

impl Write for Shared {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn setup() -> (FeatureSet, CsvMapping) {
    let file = mamori_features::config::parse("c.toml", CONFIG).unwrap();
    let map = SourceMap { file: "c.toml", text: CONFIG };
    let events = mamori_core::event::EventSchema::new();
    let mapping = CsvMapping::from_config(&file, &map, &events).unwrap();
    let set = FeatureSet::compile(&file, &map, mapping.schema()).unwrap();
    (set, mapping)
}

fn input(csv: &str) -> Box<dyn BufRead + Send> {
    Box::new(Cursor::new(csv.as_bytes().to_vec()))
}

fn both(csv: &str) -> (Vec<u8>, Result<Vec<u8>, NotColumnar>) {
    let (set, mut mapping) = setup();
    assert!(set.is_columnar());
    let streamed = Shared(Arc::new(Mutex::new(Vec::new())));
    batch::run_csv(&set, &mut mapping, input(csv), Box::new(streamed.clone()), "id", OnError::Skip, &mut |_| {}).unwrap();
    let (set, mut mapping) = setup();
    let columnar = Shared(Arc::new(Mutex::new(Vec::new())));
    let out = columnar.clone();
    let r = batch::run_csv_columnar(
        &set,
        &mut mapping,
        input(csv),
        move || Ok(Box::new(out) as Box<dyn Write + Send>),
        "id",
        OnError::Skip,
        &mut |_| {},
    )
    .unwrap();
    let s = streamed.0.lock().unwrap().clone();
    let c = columnar.0.lock().unwrap().clone();
    (s, r.map(|_| c))
}

fn render(rows: &[(u32, u8, u8, Option<u32>, u8)]) -> String {
    let mut csv = String::from("id,t,c,m,a,f\n");
    // Seconds since 2024-02-01T00:00:00; callers keep the total under 28 days.
    let mut t = 0u64;
    for (i, (gap, c, m, a, f)) in rows.iter().enumerate() {
        t += u64::from(*gap);
        let secs = t % 86_400;
        let day = 1 + t / 86_400;
        let amount = a.map(|a| format!("{}.{:02}", a / 100, a % 100)).unwrap_or_default();
        csv.push_str(&format!(
            "r{i},2024-02-{day:02}T{:02}:{:02}:{:02},c{c},m{m},{amount},{}\n",
            secs / 3600,
            secs / 60 % 60,
            secs % 60,
            f % 2
        ));
    }
    csv
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]
    #[test]
    fn columnar_equals_streaming(rows in prop::collection::vec((prop_oneof![Just(0u32), 0u32..1200, 0u32..7200], 0u8..4, 0u8..3, prop::option::weighted(0.9, 1u32..100_000), 0u8..2), 0..120)) {
        // At most 120 gaps of at most 2 hours: well inside February.
        let csv = render(&rows);
        let (streamed, columnar) = both(&csv);
        prop_assert_eq!(String::from_utf8(columnar.unwrap()).unwrap(), String::from_utf8(streamed).unwrap());
    }
}

/// Every feature of every row as a number, through the streaming engine and through
/// columns made for numbers (what `mamori score` reads), bit for bit (NaN for none).
fn numbers_both(csv: &str) -> (Vec<u64>, Vec<u64>) {
    let (set, mut mapping) = setup();
    let mut streamed = Vec::new();
    batch::for_each_csv_row(&set, &mut mapping, input(csv), OnError::Skip, &mut |_| {}, |_, _, _, fv| {
        streamed.extend(fv.0.iter().map(|v| v.as_value().as_f64().unwrap_or(f64::NAN).to_bits()));
        Ok(())
    })
    .unwrap();
    let (set, mut mapping) = setup();
    let loaded =
        batch::load_csv_columnar(mamori_features::Columns::for_numbers(&set), &mut mapping, input(csv), OnError::Skip, &mut |_| {})
            .unwrap()
            .unwrap();
    let mut columnar = Vec::new();
    for row in 0..loaded.cols.len() {
        columnar.extend((0..set.len()).map(|i| loaded.cols.number(i, row).to_bits()));
    }
    (streamed, columnar)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(100))]
    #[test]
    fn columnar_numbers_equal_streaming(rows in prop::collection::vec((prop_oneof![Just(0u32), 0u32..1200, 0u32..7200], 0u8..4, 0u8..3, prop::option::weighted(0.9, 1u32..100_000), 0u8..2), 0..120)) {
        let csv = render(&rows);
        let (streamed, columnar) = numbers_both(&csv);
        prop_assert_eq!(columnar, streamed);
    }
}

#[test]
fn out_of_order_files_are_refused() {
    let csv = "id,t,c,m,a,f\nr1,2024-02-01T10:00:00,c1,m1,1.00,0\nr2,2024-02-01T09:00:00,c1,m1,2.00,1\n";
    let (_, columnar) = both(csv);
    assert_eq!(columnar, Err(NotColumnar::OutOfOrder));
}

#[test]
fn only_plain_windows_are_columnar() {
    let events = mamori_core::event::EventSchema::new();
    let plain = "[[feature]]\nname = \"n\"\nentity = \"customer\"\naggregate = \"count\"\nwindow = \"1h\"\n";
    assert!(mamori_features::load("a", plain, &events).unwrap().1.is_columnar());
    for other in [
        "[[feature]]\nname = \"n\"\nentity = \"customer\"\naggregate = \"distinct\"\nof = \"event.device\"\nwindow = \"1h\"\n",
        "[[feature]]\nname = \"n\"\nentity = \"customer\"\naggregate = \"count\"\n",
        "[[feature]]\nname = \"n\"\nentity = \"customer\"\naggregate = \"count\"\nwindow = \"1h\"\nfilter = 'event.type == \"charge\"'\n",
        "[[feature]]\nname = \"n\"\nentity = \"customer\"\naggregate = \"count\"\nwindow = \"1h\"\ninclude_current = false\n",
        "[[feature]]\nname = \"n\"\nentity = \"account\"\nread_entity = \"wallet\"\naggregate = \"count\"\nwindow = \"1h\"\n",
    ] {
        assert!(!mamori_features::load("a", other, &events).unwrap().1.is_columnar(), "{other}");
    }
}
