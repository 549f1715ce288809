//! Every rule-pack diagnostic code (`R1xx`), in one place.
//!
//! Errors inside an expression (`when`, or a `{..}` placeholder of a reason) carry the
//! expression language's own codes (`E0xx`, see [`mamori_expr::codes`]). As there: a
//! code names one kind of mistake for good; never reuse or renumber one.

/// The file is not valid TOML.
pub const TOML_SYNTAX: &str = "R100";
/// A key the pack format does not know (a typo such as `socre`, or a new key this version does not read).
pub const UNKNOWN_KEY: &str = "R101";
/// A required key or table is missing: `[pack]`, `pack.name`, a rule's `id` or `when`.
pub const MISSING_KEY: &str = "R102";
/// A key holds a value of the wrong type (`score = "high"`).
pub const WRONG_TYPE: &str = "R103";
/// A rule id that is not lowercase letters, digits and `-` (at most 64 characters).
pub const BAD_RULE_ID: &str = "R104";
/// Two rules with the same id, in one pack or across the packs of a ruleset.
pub const DUPLICATE_RULE_ID: &str = "R105";
/// An action other than `allow`, `challenge`, `hold` or `block`.
pub const UNKNOWN_ACTION: &str = "R106";
/// Thresholds that are not positive or not in increasing order `challenge < hold < block`.
pub const BAD_THRESHOLDS: &str = "R107";
/// A reason template with an unclosed `{`, a lone `}` or an empty `{}`.
pub const BAD_TEMPLATE: &str = "R108";
/// A score outside -1,000,000..=1,000,000.
pub const SCORE_RANGE: &str = "R109";
/// A pack name that is not lowercase letters, digits, `-` and `_` (at most 64 characters).
pub const BAD_PACK_NAME: &str = "R110";
/// Two packs with the same name in one ruleset.
pub const DUPLICATE_PACK: &str = "R111";
/// A breaker's `trips_on` names a rule no pack of the ruleset defines.
pub const UNKNOWN_RULE: &str = "R112";
/// Two breakers with the same id, or a breaker id that is not lowercase letters, digits and `-`.
pub const BAD_BREAKER: &str = "R113";

/// Every code with a one-line title, in order.
pub const ALL: &[(&str, &str)] = &[
    (TOML_SYNTAX, "invalid TOML"),
    (UNKNOWN_KEY, "unknown key"),
    (MISSING_KEY, "missing key"),
    (WRONG_TYPE, "value of the wrong type"),
    (BAD_RULE_ID, "invalid rule id"),
    (DUPLICATE_RULE_ID, "duplicate rule id"),
    (UNKNOWN_ACTION, "unknown action"),
    (BAD_THRESHOLDS, "invalid thresholds"),
    (BAD_TEMPLATE, "invalid reason template"),
    (SCORE_RANGE, "score out of range"),
    (BAD_PACK_NAME, "invalid pack name"),
    (DUPLICATE_PACK, "duplicate pack name"),
    (UNKNOWN_RULE, "unknown rule"),
    (BAD_BREAKER, "invalid or duplicate breaker"),
];

/// The one-line title of a rule-pack or expression code.
pub fn title(code: &str) -> Option<&'static str> {
    ALL.iter().find(|(c, _)| *c == code).map(|(_, t)| *t).or_else(|| mamori_expr::codes::title(code))
}

#[cfg(test)]
mod tests {
    #[test]
    fn codes_are_unique_and_distinct_from_expression_codes() {
        let mut seen = std::collections::HashSet::new();
        for (c, _) in super::ALL.iter().chain(mamori_expr::codes::ALL) {
            assert!(seen.insert(*c), "duplicate code {c}");
        }
        for (c, _) in super::ALL {
            assert!(c.len() == 4 && c.starts_with('R'), "{c}");
        }
    }
}
