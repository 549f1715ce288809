//! Every diagnostic code of the expression language, in one place.
//!
//! A code names one kind of mistake for good: documentation, golden tests and rule
//! authors' search engines refer to it. Never reuse a code for a different mistake and
//! never renumber; retire a code by leaving it here with a note. The rule-pack codes
//! (`R1xx`) live in `mamori-rules`' own `codes.rs`.

/// A dotted path (`event.amout`) that the schema does not know; the help names the closest known path.
pub const UNKNOWN_FIELD: &str = "E001";
/// A path that names an object with fields below it (`event.holder`) used where a value is needed.
pub const OBJECT_AS_VALUE: &str = "E002";
/// An operator applied to operands of types it does not accept (`event.amount > "x"`, `!event.amount`).
pub const OPERATOR_TYPES: &str = "E003";
/// A condition that is not a bool: a rule's `when`, the test of `?:`, an operand of `&&` or `||`.
pub const NOT_BOOL: &str = "E004";
/// A function or method that does not exist, or does not exist on that type.
pub const UNKNOWN_FUNCTION: &str = "E005";
/// A function or method called with the wrong number of arguments.
pub const ARGUMENT_COUNT: &str = "E006";
/// A function or method argument of the wrong type.
pub const ARGUMENT_TYPE: &str = "E007";
/// An argument that must be written as a literal (`duration("10m")`, `timestamp(..)`, `matches(..)`).
pub const LITERAL_REQUIRED: &str = "E008";
/// A literal that cannot be read: a bad duration or timestamp, an invalid regular expression,
/// a decimal string that is not a number, an integer too large for 64 bits.
pub const INVALID_LITERAL: &str = "E009";
/// The text is not an expression: an unexpected token, a missing operand or parenthesis.
pub const SYNTAX: &str = "E010";
/// A string literal without its closing quote.
pub const UNTERMINATED_STRING: &str = "E011";
/// An unknown escape sequence in a string literal (`"\q"`).
pub const INVALID_ESCAPE: &str = "E012";
/// A character that cannot start any token (`#`, `$`, a lone `=` or `&`).
pub const UNEXPECTED_CHAR: &str = "E013";
/// The expression nests deeper than the limit ([`crate::MAX_DEPTH`]).
pub const TOO_DEEP: &str = "E014";
/// The two branches of `c ? a : b` have types that do not mix.
pub const BRANCH_TYPES: &str = "E015";
/// A list literal `[..]` somewhere other than the right side of `in`.
pub const LIST_OUTSIDE_IN: &str = "E016";
/// `has()` given something other than a field path.
pub const HAS_NEEDS_FIELD: &str = "E017";
/// List elements whose types cannot be compared with the left side of `in`.
pub const LIST_ELEMENT_TYPE: &str = "E018";
/// A comparison that always has the same answer because a side is the `null` literal
/// used with an ordering operator (`x < null`).
pub const NULL_ORDERING: &str = "E019";

/// Every code with a one-line title, in order (for documentation and for checking uniqueness).
pub const ALL: &[(&str, &str)] = &[
    (UNKNOWN_FIELD, "unknown field"),
    (OBJECT_AS_VALUE, "object used as a value"),
    (OPERATOR_TYPES, "operator does not apply to these types"),
    (NOT_BOOL, "condition is not a bool"),
    (UNKNOWN_FUNCTION, "unknown function or method"),
    (ARGUMENT_COUNT, "wrong number of arguments"),
    (ARGUMENT_TYPE, "argument of the wrong type"),
    (LITERAL_REQUIRED, "argument must be a literal"),
    (INVALID_LITERAL, "invalid literal"),
    (SYNTAX, "syntax error"),
    (UNTERMINATED_STRING, "unterminated string"),
    (INVALID_ESCAPE, "invalid escape sequence"),
    (UNEXPECTED_CHAR, "unexpected character"),
    (TOO_DEEP, "expression nested too deeply"),
    (BRANCH_TYPES, "branches of ?: have different types"),
    (LIST_OUTSIDE_IN, "list literal outside `in`"),
    (HAS_NEEDS_FIELD, "has() needs a field path"),
    (LIST_ELEMENT_TYPE, "list element type does not match"),
    (NULL_ORDERING, "ordering comparison with null"),
];

/// The one-line title of a code, if it is one of ours.
pub fn title(code: &str) -> Option<&'static str> {
    ALL.iter().find(|(c, _)| *c == code).map(|(_, t)| *t)
}

#[cfg(test)]
mod tests {
    #[test]
    fn codes_are_unique_and_well_formed() {
        let mut seen = std::collections::HashSet::new();
        for (c, t) in super::ALL {
            assert!(seen.insert(*c), "duplicate code {c}");
            assert!(c.len() == 4 && c.starts_with('E') && c[1..].bytes().all(|b| b.is_ascii_digit()), "{c}");
            assert!(!t.is_empty());
        }
    }
}
