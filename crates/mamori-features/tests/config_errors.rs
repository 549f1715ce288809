//! Malformed feature files: each mistake comes back with its stable code (`codes`), the
//! file, and the line and column (1-based, in characters) where it is. And loading never
//! panics, whatever the text.

use mamori_core::event::EventSchema;
use mamori_features::config::{self, ConfigError};
use mamori_features::input::CsvMapping;
use mamori_features::{FeatureSet, SourceMap, codes};
use proptest::prelude::*;
use proptest::test_runner::Config;

const FILE: &str = "features.toml";

/// Every error of loading `text` against the event contract (it must fail).
fn errors(text: &str) -> Vec<ConfigError> {
    let schema = EventSchema::new();
    match mamori_features::load(FILE, text, &schema) {
        Ok(_) => panic!("loaded without error:\n{text}"),
        Err(e) => e.0,
    }
}

/// The one error of `text`, which must be at `line`:`column` with `code`.
fn error_at(text: &str, code: &str, line: usize, column: usize) -> ConfigError {
    let errs = errors(text);
    assert_eq!(errs.len(), 1, "{errs:?}");
    let e = errs.into_iter().next().unwrap();
    assert_eq!((e.code, e.line, e.column), (code, line, column), "{e}\n{text}");
    assert_eq!(e.file, FILE);
    e
}

/// The one error of the `[input]` section of `text`, which must be at `line`:`column` with `code`.
fn input_error_at(text: &str, code: &str, line: usize, column: usize) -> ConfigError {
    let file = config::parse(FILE, text).unwrap_or_else(|e| panic!("{e}"));
    let map = SourceMap { file: FILE, text };
    let errs = match CsvMapping::from_config(&file, &map, &EventSchema::new()) {
        Ok(_) => panic!("mapped without error:\n{text}"),
        Err(e) => e.0,
    };
    assert_eq!(errs.len(), 1, "{errs:?}");
    let e = errs.into_iter().next().unwrap();
    assert_eq!((e.code, e.line, e.column), (code, line, column), "{e}\n{text}");
    e
}

/// A valid feature to start files with (lines 1 to 4).
const COUNT: &str = "[[feature]]\nname = \"n\"\nentity = \"customer\"\naggregate = \"count\"\n";

#[test]
fn invalid_toml() {
    let e = error_at("[[feature]\nname = \"x\"\n", codes::TOML, 1, 11);
    assert!(e.message.contains("expected `]`"), "{e}");
    error_at(&format!("{COUNT}window = \"1h\n"), codes::TOML, 5, 13);
}

#[test]
fn wrong_value_type_is_a_toml_error() {
    let e = error_at(&format!("{COUNT}include_current = \"yes\"\n"), codes::TOML, 5, 19);
    assert!(e.message.contains("expected a boolean"), "{e}");
}

#[test]
fn unknown_key() {
    let e = error_at("[[feature]]\nname = \"a\"\nentitty = \"customer\"\naggregate = \"count\"\n", codes::TOML, 3, 1);
    assert!(e.message.contains("unknown field `entitty`") && e.message.contains("`entity`"), "{e}");
    let e = error_at("[engine]\nlatenes = \"1h\"\n", codes::TOML, 2, 1);
    assert!(e.message.contains("expected `lateness`"), "{e}");
    error_at("[inputs]\nformat = \"csv\"\n", codes::TOML, 1, 2);
}

#[test]
fn duplicate_feature() {
    let e = error_at(&format!("{COUNT}\n{COUNT}"), codes::DUPLICATE_FEATURE, 7, 8);
    assert_eq!(e.message, "feature `n` is declared twice");
}

#[test]
fn bad_name() {
    for (name, col) in [("1a", 8), ("a-b", 8), ("", 8), ("ｱ", 8), ("a b", 8)] {
        let text = format!("[[feature]]\nname = \"{name}\"\nentity = \"customer\"\naggregate = \"count\"\n");
        error_at(&text, codes::BAD_NAME, 2, col);
    }
    // A name that is fine.
    let schema = EventSchema::new();
    let text = "[[feature]]\nname = \"_N_24h\"\nentity = \"customer\"\naggregate = \"count\"\n";
    assert!(mamori_features::load(FILE, text, &schema).is_ok());
}

#[test]
fn unknown_aggregate() {
    let e = error_at("[[feature]]\nname = \"a\"\nentity = \"customer\"\naggregate = \"median\"\n", codes::UNKNOWN_AGGREGATE, 4, 13);
    assert!(e.message.contains("`median`") && e.message.contains("time_since_last"), "{e}");
}

#[test]
fn bad_window_span() {
    let e = error_at(&format!("{COUNT}window = \"10 minutes\"\n"), codes::BAD_SPAN, 5, 10);
    assert!(e.message.contains("10 minutes"), "{e}");
    let e = error_at(&format!("{COUNT}window = \"0\"\n"), codes::BAD_SPAN, 5, 10);
    assert!(e.message.contains("longer than zero"), "{e}");
    let e = error_at(&format!("{COUNT}delay = \"1h\"\n"), codes::BAD_SPAN, 5, 9);
    assert!(e.message.contains("finite window"), "{e}");
    error_at(&format!("{COUNT}window = \"1h\"\ndelay = \"-1h\"\n"), codes::BAD_SPAN, 6, 9);
    error_at(&format!("{COUNT}window = \"1h\"\nbuckets = \"1y\"\n"), codes::BAD_SPAN, 6, 11);
    error_at(&format!("[engine]\nlateness = \"soon\"\n\n{COUNT}"), codes::BAD_SPAN, 2, 12);
    error_at(&format!("{COUNT}window = \"99999999999999999d\"\n"), codes::BAD_SPAN, 5, 10);
}

#[test]
fn unknown_entity_shorthand() {
    let e = error_at("[[feature]]\nname = \"a\"\nentity = \"custmer\"\naggregate = \"count\"\n", codes::BAD_ENTITY, 3, 10);
    assert!(e.message.contains("unknown entity `custmer`"), "{e}");
    // The message lists the shorthands, the one meant among them.
    assert!(e.message.contains("customer, device"), "{e}");
}

/// An entity path close to a known one gets "did you mean"; a shorthand close to a
/// known shorthand only gets the list.
#[test]
fn unknown_entity_shorthand_suggests_the_closest() {
    let e = error_at("[[feature]]\nname = \"a\"\nentity = \"custmer\"\naggregate = \"count\"\n", codes::BAD_ENTITY, 3, 10);
    assert!(e.message.contains("did you mean `customer`?"), "{e}");
}

#[test]
fn unknown_entity_path() {
    let e = error_at(
        "[[feature]]\nname = \"a\"\nentity = [\"event.institution\", \"event.custmer\"]\naggregate = \"count\"\n",
        codes::BAD_ENTITY,
        3,
        10,
    );
    assert!(e.message.contains("unknown entity path `event.custmer`; did you mean `event.customer`?"), "{e}");
    let e = error_at("[[feature]]\nname = \"a\"\nentity = \"event.holder\"\naggregate = \"count\"\n", codes::BAD_ENTITY, 3, 10);
    assert!(e.message.contains("object"), "{e}");
    let e = error_at("[[feature]]\nname = \"a\"\nentity = \"event.events\"\naggregate = \"count\"\n", codes::BAD_ENTITY, 3, 10);
    assert!(e.message.contains("list"), "{e}");
    let e = error_at(
        "[[feature]]\nname = \"a\"\nentity = \"customer\"\nread_entity = \"device\"\naggregate = \"count\"\n",
        codes::BAD_ENTITY,
        4,
        15,
    );
    assert!(e.message.contains("as many parts"), "{e}");
}

#[test]
fn missing_keys() {
    let e = error_at("[[feature]]\nname = \"a\"\nentity = \"customer\"\naggregate = \"sum\"\nwindow = \"1h\"\n", codes::MISSING, 4, 13);
    assert_eq!(e.message, "aggregate `sum` needs `of`");
    error_at("[[feature]]\nname = \"a\"\nentity = \"customer\"\n", codes::MISSING, 2, 8);
    let e = error_at("[[feature]]\nname = \"a\"\naggregate = \"count\"\n", codes::MISSING, 2, 8);
    assert!(e.message.contains("needs `entity`"), "{e}");
    error_at(&format!("{COUNT}\n[[feature]]\nname = \"r\"\naggregate = \"ratio\"\nnumerator = \"n\"\n"), codes::MISSING, 8, 13);
    error_at("[[feature]]\nname = \"e\"\naggregate = \"expr\"\n", codes::MISSING, 3, 13);
}

#[test]
fn unused_keys() {
    // A key the aggregate does not use is reported at the feature's name.
    let e = error_at(&format!("{COUNT}of = \"event.amount\"\n"), codes::UNUSED, 2, 8);
    assert_eq!(e.message, "`of` has no meaning for aggregate `count`");
    error_at("[[feature]]\nname = \"e\"\nexpr = \"event.amount\"\nwindow = \"1h\"\n", codes::UNUSED, 2, 8);
    error_at(&format!("{COUNT}expr = \"1\"\n"), codes::UNUSED, 2, 8);
    // A window on last_value, and buckets for an aggregate that cannot use them, at the key.
    let e = error_at(
        "[[feature]]\nname = \"a\"\nentity = \"customer\"\naggregate = \"last_value\"\nof = \"event.kyc\"\nwindow = \"1h\"\n",
        codes::UNUSED,
        6,
        10,
    );
    assert!(e.message.contains("last_value"), "{e}");
    error_at(
        "[[feature]]\nname = \"a\"\nentity = \"customer\"\naggregate = \"min\"\nof = \"event.amount\"\nwindow = \"1d\"\nbuckets = \"1h\"\n",
        codes::UNUSED,
        7,
        11,
    );
}

#[test]
fn expression_error_in_filter_points_into_the_expression() {
    // filter = '...' starts the expression at column 11; the comparison that fails is
    // 26 characters into it.
    let text = format!("{COUNT}filter = 'event.type == \"charge\" && event.amount > \"x\"'\n");
    let e = error_at(&text, codes::EXPR, 5, 11 + 26);
    assert!(e.message.contains("[E003]") && e.message.contains("cannot compare decimal with string"), "{e}");
    assert_eq!(e.to_string(), format!("{FILE}:5:37: error[F009]: {}", e.message));
    // An unknown field, with a suggestion, at the field.
    let e = error_at(&format!("{COUNT}filter = 'event.amount > 5 && event.devise == \"x\"'\n"), codes::EXPR, 5, 11 + 20);
    assert!(e.message.contains("did you mean `event.device`?"), "{e}");
    // A syntax error at the end of the expression.
    let e = error_at(&format!("{COUNT}filter = 'event.amount >'\n"), codes::EXPR, 5, 11 + 14);
    assert!(e.message.contains("[E010]"), "{e}");
    // In a multi-line string the place is found on its own line.
    let text = format!("{COUNT}filter = '''\nevent.type == \"charge\" &&\n  event.amount > \"x\"'''\n");
    error_at(&text, codes::EXPR, 7, 3);
    // With escapes the text differs from the value: the place is the string's start.
    let text = format!("{COUNT}filter = \"event.type == \\\"charge\\\" && event.amount > \\\"x\\\"\"\n");
    error_at(&text, codes::EXPR, 5, 10);
    // After multi-byte characters the column still counts characters.
    let text = format!("{COUNT}filter = 'event.type == \"ｱｲｳ\" && event.amount > \"x\"'\n");
    error_at(&text, codes::EXPR, 5, 11 + 23);
    // A filter that is not a condition.
    let e = error_at(&format!("{COUNT}filter = 'event.amount'\n"), codes::TYPE, 5, 10);
    assert!(e.message.contains("bool"), "{e}");
}

#[test]
fn expression_errors_in_of_and_expr() {
    let e = error_at("[[feature]]\nname = \"a\"\nentity = \"customer\"\naggregate = \"sum\"\nof = \"event.amont\"\n", codes::EXPR, 5, 6);
    assert!(e.message.contains("did you mean `event.amount`?"), "{e}");
    error_at("[[feature]]\nname = \"e\"\nexpr = 'event.amount * \"2\"'\n", codes::EXPR, 3, 9);
    // A feature declared later cannot be read.
    error_at(
        "[[feature]]\nname = \"e\"\nexpr = \"features.n + 1\"\n\n[[feature]]\nname = \"n\"\nentity = \"customer\"\naggregate = \"count\"\n",
        codes::EXPR,
        3,
        9,
    );
}

#[test]
fn type_error_sum_of_a_string() {
    let e = error_at("[[feature]]\nname = \"a\"\nentity = \"customer\"\naggregate = \"sum\"\nof = \"event.kyc\"\n", codes::TYPE, 5, 6);
    assert_eq!(e.message, "`sum` needs a number; `event.kyc` is string");
    error_at("[[feature]]\nname = \"a\"\nentity = \"customer\"\naggregate = \"max\"\nof = \"event.time\"\n", codes::TYPE, 5, 6);
    // A ratio of a feature that is not a number.
    error_at(
        "[[feature]]\nname = \"k\"\nentity = \"customer\"\naggregate = \"last_value\"\nof = \"event.kyc\"\n\n[[feature]]\nname = \"r\"\naggregate = \"ratio\"\nnumerator = \"k\"\ndenominator = \"k\"\n",
        codes::TYPE,
        9,
        13,
    );
}

#[test]
fn ratio_of_an_unknown_feature() {
    let text = format!("{COUNT}\n[[feature]]\nname = \"r\"\naggregate = \"ratio\"\nnumerator = \"n\"\ndenominator = \"m\"\n");
    let e = error_at(&text, codes::UNKNOWN_FEATURE, 10, 15);
    assert_eq!(e.message, "`m` is not a feature declared before `r`");
    // Declared after is not declared before.
    let text = format!("[[feature]]\nname = \"r\"\naggregate = \"ratio\"\nnumerator = \"n\"\ndenominator = \"n\"\n\n{COUNT}");
    error_at(&text, codes::UNKNOWN_FEATURE, 4, 13);
}

#[test]
fn empty_of_the_wrong_type() {
    let e = error_at(
        "[[feature]]\nname = \"a\"\nentity = \"customer\"\naggregate = \"avg\"\nof = \"event.amount\"\nempty = \"none\"\n",
        codes::EMPTY,
        2,
        8,
    );
    assert!(e.message.contains("double"), "{e}");
    error_at("[[feature]]\nname = \"a\"\nentity = \"customer\"\naggregate = \"first_seen\"\nempty = 0\n", codes::EMPTY, 2, 8);
    error_at(
        "[[feature]]\nname = \"a\"\nentity = \"customer\"\naggregate = \"sum\"\nof = \"event.amount\"\nempty = \"ten\"\n",
        codes::EMPTY,
        2,
        8,
    );
    error_at("[[feature]]\nname = \"a\"\nentity = \"customer\"\naggregate = \"time_since_last\"\nempty = 5\n", codes::EMPTY, 2, 8);
    error_at("[[feature]]\nname = \"e\"\nexpr = \"event.kyc\"\nempty = true\n", codes::EMPTY, 2, 8);
}

#[test]
fn every_error_is_reported_at_once() {
    let text = "[[feature]]\nname = \"a\"\nentity = \"customer\"\naggregate = \"median\"\n\n\
                [[feature]]\nname = \"b\"\nentity = \"customer\"\naggregate = \"count\"\nwindow = \"1x\"\n\n\
                [[feature]]\nname = \"c\"\nentity = \"customer\"\naggregate = \"count\"\n";
    let errs = errors(text);
    let got: Vec<(&str, usize, usize)> = errs.iter().map(|e| (e.code, e.line, e.column)).collect();
    assert_eq!(got, [(codes::UNKNOWN_AGGREGATE, 4, 13), (codes::BAD_SPAN, 10, 10)]);
}

/// A feature that fails to compile stands in as a placeholder so that later features
/// are still checked; a ratio of it should not add a second error of its own.
#[test]
fn no_follow_on_error_from_a_failed_feature() {
    let text = "[[feature]]\nname = \"a\"\nentity = \"customer\"\naggregate = \"median\"\n\n\
                [[feature]]\nname = \"r\"\naggregate = \"ratio\"\nnumerator = \"a\"\ndenominator = \"a\"\n";
    let errs = errors(text);
    assert_eq!(errs.iter().map(|e| e.code).collect::<Vec<_>>(), [codes::UNKNOWN_AGGREGATE], "{errs:?}");
}

#[test]
fn bad_input_settings() {
    let e = input_error_at("[input]\ntime_format = \"unix\"\n[input.columns]\ntime = \"T\"\n", codes::INPUT, 2, 15);
    assert!(e.message.contains("rfc3339 or naive"), "{e}");
    for (offset, col) in [("9", 14), ("+9:00", 14), ("+24:00", 14), ("0900", 14), ("+09:60", 14)] {
        let text = format!("[input]\ntime_format = \"naive\"\nutc_offset = \"{offset}\"\n[input.columns]\ntime = \"T\"\n");
        let e = input_error_at(&text, codes::INPUT, 3, col);
        assert!(e.message.contains("+09:00"), "{e}");
    }
    for d in [";;", "", "→"] {
        let e = input_error_at(&format!("[input]\ndelimiter = \"{d}\"\n[input.columns]\ntime = \"T\"\n"), codes::INPUT, 2, 13);
        assert!(e.message.contains("one ASCII character"), "{e}");
    }
    let e = input_error_at("[input]\n[input.columns]\namount = \"A\"\n", codes::INPUT, 1, 1);
    assert!(e.message.contains("`time` column"), "{e}");
}

/// `codes::INPUT` covers an unknown format, but `[input] format` is never checked.
#[test]
fn unknown_input_format() {
    let text = "[input]\nformat = \"xml\"\n[input.columns]\ntime = \"T\"\n";
    let schema = EventSchema::new();
    let loaded = mamori_features::load(FILE, text, &schema).err();
    let file = config::parse(FILE, text).unwrap();
    let mapped = CsvMapping::from_config(&file, &SourceMap { file: FILE, text }, &schema).err();
    let e = loaded.or(mapped).expect("`format = \"xml\"` refused by load or by the CSV mapping");
    assert_eq!((e.0[0].code, e.0[0].line, e.0[0].column), (codes::INPUT, 2, 10));
}

#[test]
fn unknown_column_path() {
    let e = input_error_at("[input]\n[input.columns]\ntime = \"T\"\namout = \"A\"\n", codes::COLUMN, 4, 9);
    assert!(e.message.contains("did you mean `amount`?") && e.message.contains("attributes.NAME"), "{e}");
    let e = input_error_at("[input]\n[input.columns]\ntime = \"T\"\nholder = \"H\"\n", codes::COLUMN, 4, 10);
    assert!(e.message.contains("object"), "{e}");
    let e = input_error_at(
        "[input]\n[input.columns]\ntime = \"T\"\n\"attributes.x\" = \"X\"\n[input.types]\n\"attributes.x\" = \"float64\"\n",
        codes::COLUMN,
        6,
        18,
    );
    assert!(e.message.contains("unknown type `float64`"), "{e}");
    input_error_at("[input]\n[input.columns]\ntime = \"T\"\n[input.types]\n\"attributes.y\" = \"int\"\n", codes::COLUMN, 5, 18);
    input_error_at("[input]\n[input.columns]\ntime = \"T\"\ntype = \"TY\"\n[input.constants]\ntype = \"charge\"\n", codes::COLUMN, 6, 8);
    input_error_at("[input]\n[input.columns]\ntime = \"T\"\n\"attributes.\" = \"X\"\n", codes::COLUMN, 4, 17);
}

#[test]
fn features_over_a_csv_mapping_are_checked_against_its_columns() {
    // `device` is an event path, but this mapping has no such column.
    let text = "[input]\n[input.columns]\ntime = \"T\"\ncustomer = \"C\"\n\n[[feature]]\nname = \"a\"\nentity = \"device\"\naggregate = \"count\"\n";
    let file = config::parse(FILE, text).unwrap();
    let map = SourceMap { file: FILE, text };
    let mapping = CsvMapping::from_config(&file, &map, &EventSchema::new()).unwrap();
    let errs = FeatureSet::compile(&file, &map, mapping.schema()).unwrap_err().0;
    assert_eq!((errs[0].code, errs[0].line, errs[0].column), (codes::BAD_ENTITY, 8, 10), "{errs:?}");
}

fn handbook() -> String {
    std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../examples/handbook/features.toml")).unwrap()
}

/// The example that the handbook run uses loads against its own CSV mapping.
#[test]
fn the_handbook_example_loads() {
    let text = handbook();
    let file = config::parse("features.toml", &text).unwrap();
    let map = SourceMap { file: "features.toml", text: &text };
    let mapping = CsvMapping::from_config(&file, &map, &EventSchema::new()).unwrap();
    let set = FeatureSet::compile(&file, &map, mapping.schema()).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(set.len(), text.matches("[[feature]]").count());
}

/// Loads `text` every way the command line does; only checks that nothing panics and
/// that every error's place is inside the text.
fn load_everything(text: &str) {
    let lines = text.split('\n').count();
    let check = |errs: &[ConfigError]| {
        assert!(!errs.is_empty());
        for e in errs {
            assert!(e.line >= 1 && e.line <= lines && e.column >= 1, "{e} outside the text ({lines} lines)");
            let line = text.split('\n').nth(e.line - 1).unwrap();
            assert!(e.column <= line.chars().count() + 1, "{e}: column beyond the line {line:?}");
        }
    };
    let schema = EventSchema::new();
    if let Err(e) = mamori_features::load(FILE, text, &schema) {
        check(&e.0);
    }
    let Ok(file) = config::parse(FILE, text) else { return };
    let map = SourceMap { file: FILE, text };
    match CsvMapping::from_config(&file, &map, &schema) {
        Ok(mapping) => {
            if let Err(e) = FeatureSet::compile(&file, &map, mapping.schema()) {
                check(&e.0);
            }
        }
        Err(e) => check(&e.0),
    }
}

/// Pieces of feature files to splice into the handbook's.
const SNIPPETS: &[&str] = &[
    "\"",
    "'",
    "'''",
    "\"\"\"",
    "[",
    "]]",
    "[[feature]]\n",
    "=",
    "\n",
    "#",
    "{",
    "}",
    "\\",
    "\\u00e9",
    "ｱｲｳ",
    "é",
    "🦀",
    "\u{0}",
    "name = \"x\"\n",
    "window = \"all\"\n",
    "window = \"0\"\n",
    "delay = \"7d\"\n",
    "buckets = \"1h\"\n",
    "aggregate = \"ratio\"\n",
    "aggregate = \"last_value\"\n",
    "of = \"features.TX_AMOUNT\"\n",
    "of = \"event.amount\"\n",
    "filter = 'event.amount > \"x\" && '\n",
    "read_entity = \"wallet\"\n",
    "entity = []\n",
    "entity = [\"event.time\"]\n",
    "empty = 1.5\n",
    "empty = { a = 1 }\n",
    "include_current = false\n",
    "numerator = \"TX_AMOUNT\"\n",
    "expr = \"features.TX_AMOUNT / 0\"\n",
    "[input.types]\n\"attributes.fraud\" = \"bool\"\n",
    "[engine]\nlateness = \"0\"\n",
    "utc_offset = \"-23:59\"\n",
    "(((((((((((((((((((((((((((((((((",
    "1e999999",
    "-9223372036854775808",
];

#[derive(Debug, Clone)]
enum Mutation {
    Delete { at: usize, len: usize },
    Insert { at: usize, snippet: usize },
    DuplicateLine { line: usize },
    SwapLines { a: usize, b: usize },
}

fn apply(text: &str, m: &Mutation) -> String {
    let boundary = |at: usize| {
        let mut i = at % (text.len() + 1);
        while !text.is_char_boundary(i) {
            i -= 1;
        }
        i
    };
    match *m {
        Mutation::Delete { at, len } => {
            let a = boundary(at);
            let b = boundary(a + len);
            format!("{}{}", &text[..a], &text[b.max(a)..])
        }
        Mutation::Insert { at, snippet } => {
            let a = boundary(at);
            format!("{}{}{}", &text[..a], SNIPPETS[snippet % SNIPPETS.len()], &text[a..])
        }
        Mutation::DuplicateLine { line } => {
            let mut lines: Vec<&str> = text.split('\n').collect();
            let i = line % lines.len();
            lines.insert(i, lines[i]);
            lines.join("\n")
        }
        Mutation::SwapLines { a, b } => {
            let mut lines: Vec<&str> = text.split('\n').collect();
            let n = lines.len();
            lines.swap(a % n, b % n);
            lines.join("\n")
        }
    }
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        (any::<usize>(), 1usize..40).prop_map(|(at, len)| Mutation::Delete { at, len }),
        (any::<usize>(), any::<usize>()).prop_map(|(at, snippet)| Mutation::Insert { at, snippet }),
        any::<usize>().prop_map(|line| Mutation::DuplicateLine { line }),
        (any::<usize>(), any::<usize>()).prop_map(|(a, b)| Mutation::SwapLines { a, b }),
    ]
}

fn config() -> Config {
    let mut c = Config { failure_persistence: None, ..Config::default() };
    if std::env::var_os("PROPTEST_CASES").is_none() {
        c.cases = 300;
    }
    c
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn loading_arbitrary_text_never_panics(text in "\\PC{0,400}") {
        load_everything(&text);
    }

    #[test]
    fn loading_toml_like_text_never_panics(text in "(\\[\\[feature\\]\\]\n|name = \"[a-z_]{1,3}\"\n|[a-z_]{1,12} = (\"[^\"\n]{0,20}\"|'[^'\n]{0,20}'|[0-9.e+-]{1,6}|true|\\[\\]|\\{\\})\n|\n){0,30}") {
        load_everything(&text);
    }

    #[test]
    fn loading_a_mutated_handbook_never_panics(ms in prop::collection::vec(mutation(), 1..6)) {
        let mut text = handbook();
        for m in &ms {
            text = apply(&text, m);
        }
        load_everything(&text);
    }
}
