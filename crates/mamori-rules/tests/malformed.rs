//! Malformed rule packs: every one is refused with located errors, none panics.

use mamori_core::{StaticSchema, Type};
use mamori_rules::{PackSource, RuleError, Ruleset, codes};
use proptest::prelude::*;

fn schema() -> StaticSchema {
    StaticSchema::new([("event.type", Type::String), ("event.amount", Type::Decimal), ("event.attributes.x", Type::Dyn)])
}

fn errors(text: &str) -> Vec<RuleError> {
    match Ruleset::compile(&[PackSource::new("m.toml", text)], &schema()) {
        Ok(_) => panic!("compiled: {text:.200}"),
        Err(e) => e,
    }
}

fn first_code(text: &str) -> &'static str {
    errors(text)[0].code
}

const HEAD: &str = "[pack]\nname = \"m\"\n";

#[test]
fn bad_toml() {
    for text in [
        "[pack",
        "[pack]\nname = ",
        "[pack]\nname = \"a\"\nname = \"b\"",
        "= 1",
        "[pack]\nname = 'x'\n[[rule]]\nid = \"a\"\nwhen = \"\"\"\n",
        "\u{0}",
    ] {
        let e = errors(text);
        assert_eq!(e[0].code, codes::TOML_SYNTAX, "{text:?}: {}", e[0]);
        assert!(e[0].line >= 1 && e[0].column >= 1);
    }
}

#[test]
fn empty_and_blank_files() {
    for text in ["", "\n\n", "# only a comment\n", "\u{feff}"] {
        assert_eq!(first_code(text), codes::MISSING_KEY, "{text:?}");
    }
    assert_eq!(first_code("[pack]\n"), codes::MISSING_KEY);
    // A pack without rules is valid: it decides nothing.
    assert!(Ruleset::compile(&[PackSource::new("m.toml", HEAD)], &schema()).is_ok());
}

#[test]
fn wrong_types() {
    let cases = [
        "pack = 1\n",
        "[pack]\nname = 1\n",
        "[pack]\nname = \"m\"\ndescription = []\n",
        &format!("thresholds = \"high\"\n{HEAD}"),
        &format!("{HEAD}[thresholds]\nhold = \"600\"\n"),
        &format!("{HEAD}[thresholds]\nhold = 6.5\n"),
        &format!("rule = \"x\"\n{HEAD}"),
        &format!("rule = [1, 2]\n{HEAD}"),
        &format!("{HEAD}[rule]\nid = \"a\"\nwhen = 'true'\n"),
        &format!("{HEAD}[[rule]]\nid = 5\nwhen = 'true'\n"),
        &format!("{HEAD}[[rule]]\nid = \"a\"\nwhen = true\n"),
        &format!("{HEAD}[[rule]]\nid = \"a\"\nwhen = 'true'\nscore = 1.5\n"),
        &format!("{HEAD}[[rule]]\nid = \"a\"\nwhen = 'true'\nshadow = \"yes\"\n"),
        &format!("{HEAD}[[rule]]\nid = \"a\"\nwhen = 'true'\naction = 3\n"),
        &format!("{HEAD}[[rule]]\nid = \"a\"\nwhen = 'true'\nreason = {{ x = 1 }}\n"),
        &format!("{HEAD}[[rule]]\nid = \"a\"\nwhen = 'true'\nscore = 1979-05-27\n"),
    ];
    for text in cases {
        assert_eq!(first_code(text), codes::WRONG_TYPE, "{text}");
    }
}

#[test]
fn every_error_is_collected() {
    let text = format!(
        "{HEAD}colour = 1\n[thresholds]\nhold = 0\n[[rule]]\nid = \"A\"\nwhen = 'event.amout > 1'\naction = \"stop\"\n[[rule]]\nwhen = 'true'\n[[rule]]\nid = \"b\"\nwhen = 'true'\nreason = \"{{\"\n"
    );
    let codes: Vec<&str> = errors(&text).iter().map(|e| e.code).collect();
    assert_eq!(codes, ["R101", "R107", "R104", "E001", "R106", "R102", "R108"]);
}

#[test]
fn huge_nesting() {
    // TOML nesting is bounded by the TOML parser.
    for text in
        [format!("{HEAD}x = {}", "[".repeat(100_000)), format!("{HEAD}x = {}", "{a=".repeat(100_000)), "[a".repeat(50_000).to_string()]
    {
        let e = errors(&text);
        assert_eq!(e[0].code, codes::TOML_SYNTAX, "{}", e[0].message);
    }
    // Expression nesting is bounded by the expression parser.
    for when in ["(".repeat(100_000), "!".repeat(100_000) + "true", vec!["true"; 50_000].join(" && "), "-".repeat(100_000) + "1 > 0"] {
        let text = format!("{HEAD}[[rule]]\nid = \"a\"\nwhen = '{when}'\n");
        assert_eq!(first_code(&text), mamori_expr::codes::TOO_DEEP);
    }
    let reason = "{".to_string() + &"(".repeat(10_000) + "}";
    let text = format!("{HEAD}[[rule]]\nid = \"a\"\nwhen = 'true'\nreason = '{reason}'\n");
    assert_eq!(first_code(&text), mamori_expr::codes::TOO_DEEP);
}

#[test]
fn many_rules_and_long_lists_compile() {
    let mut text = HEAD.to_string();
    for i in 0..2_000 {
        text.push_str(&format!("[[rule]]\nid = \"r{i}\"\nwhen = 'event.type == \"t{i}\"'\nscore = 1\n"));
    }
    let items: Vec<String> = (0..20_000).map(|i| format!("\"v{i}\"")).collect();
    text.push_str(&format!("[[rule]]\nid = \"list\"\nwhen = 'event.type in [{}]'\n", items.join(", ")));
    let rs = Ruleset::compile(&[PackSource::new("m.toml", text)], &schema()).unwrap();
    assert_eq!(rs.rules().len(), 2_001);
}

#[test]
fn errors_in_odd_positions_stay_in_range() {
    // Multi-byte characters, CRLF line ends, tabs: every position is a char boundary on its line.
    let text = "[pack]\r\nname = \"m\"\r\n[[rule]]\r\nid = \"a\"\r\nwhen = '\t\"ヤマダ\" == event.amout'\r\n";
    let e = errors(text);
    assert_eq!((e[0].code, e[0].line, e[0].column), ("E001", 5, 19));
    assert!(e[0].to_string().contains("^^^^^^^^^^^"));
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn arbitrary_text_never_panics(text in "\\PC{0,200}") {
        let _ = Ruleset::compile(&[PackSource::new("p.toml", text)], &schema());
    }

    #[test]
    fn mutated_packs_never_panic(cut in 0usize..400, insert in "[\\[\\]{}'\"=.\n a-z0-9#\\\\]{0,6}") {
        let base = format!("{HEAD}[thresholds]\nhold = 600\n[[rule]]\nid = \"a-b\"\nwhen = 'event.type == \"x\" && event.amount > 10.5'\nscore = 5\naction = \"hold\"\nreason = \"x {{event.amount}} {{{{y}}}}\"\n");
        let mut at = cut.min(base.len());
        while !base.is_char_boundary(at) {
            at -= 1;
        }
        let text = format!("{}{insert}{}", &base[..at], &base[at..]);
        if let Ok(rs) = Ruleset::compile(&[PackSource::new("p.toml", text)], &schema()) {
            let _ = rs.evaluate(&mamori_core::VecRecord::default());
        }
    }
}
