//! Reading one rule pack: TOML with spans, validated by hand so that every mistake in
//! the file is reported at once, each at its own place, and unknown keys are refused.

use std::ops::Range;

use mamori_core::record::edit_distance;
use toml::Spanned;
use toml::de::{DeTable, DeValue};

use crate::codes;
use crate::decision::Action;
use crate::error::RuleError;

/// Largest absolute rule score and threshold.
pub const MAX_SCORE: i64 = 1_000_000;
const MAX_NAME: usize = 64;

/// Scores at or above which the total score of a decision raises its action.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize)]
pub struct Thresholds {
    pub challenge: Option<i64>,
    pub hold: Option<i64>,
    pub block: Option<i64>,
}

impl Thresholds {
    /// The action these thresholds give a total score (`Allow` when none is reached).
    pub fn action_for(&self, score: i64) -> Action {
        let at = |t: Option<i64>| t.is_some_and(|t| score >= t);
        if at(self.block) {
            Action::Block
        } else if at(self.hold) {
            Action::Hold
        } else if at(self.challenge) {
            Action::Challenge
        } else {
            Action::Allow
        }
    }

    /// Joins the thresholds of several packs: the lowest of each level applies.
    pub(crate) fn join(self, o: Thresholds) -> Thresholds {
        let min = |a: Option<i64>, b: Option<i64>| match (a, b) {
            (Some(x), Some(y)) => Some(x.min(y)),
            (x, None) | (None, x) => x,
        };
        Thresholds { challenge: min(self.challenge, o.challenge), hold: min(self.hold, o.hold), block: min(self.block, o.block) }
    }
}

/// A string value and where it sits in the file.
#[derive(Debug, Clone)]
pub(crate) struct StrVal {
    pub text: String,
    /// The value's span in the file, quotes included.
    pub span: Range<usize>,
    /// Where the string's content starts in the file, when the content is the value byte
    /// for byte (no escapes), so that offsets inside it map exactly into the file.
    pub content_start: Option<usize>,
}

impl StrVal {
    /// Maps a byte range inside the string's value to a range in the file: exactly when
    /// the string has no escapes, else the whole string.
    pub(crate) fn map(&self, r: &Range<usize>) -> Range<usize> {
        match self.content_start {
            Some(b) => b + r.start..b + r.end,
            None => self.span.clone(),
        }
    }
}

#[derive(Debug)]
pub(crate) struct RuleDef {
    pub id: String,
    pub id_span: Range<usize>,
    pub description: String,
    pub when: StrVal,
    pub score: i64,
    pub action: Action,
    pub reason: Option<StrVal>,
    pub shadow: bool,
}

/// A circuit breaker: once one of `trips_on` fires for an event, every later event that
/// has the same `key` and matches `holds` is held until an operator releases it.
#[derive(Debug)]
pub(crate) struct BreakerDef {
    pub id: String,
    pub id_span: Range<usize>,
    pub description: String,
    pub trips_on: Vec<StrVal>,
    pub key: Vec<StrVal>,
    pub holds: StrVal,
}

#[derive(Debug)]
pub(crate) struct PackDef {
    pub name: String,
    pub name_span: Range<usize>,
    pub description: String,
    pub thresholds: Thresholds,
    pub rules: Vec<RuleDef>,
    pub breakers: Vec<BreakerDef>,
}

pub(crate) struct Reader<'a> {
    pub file: &'a str,
    pub text: &'a str,
    pub errors: &'a mut Vec<RuleError>,
}

type Table<'i> = DeTable<'i>;
type Val<'i> = Spanned<DeValue<'i>>;

fn type_name(v: &DeValue<'_>) -> &'static str {
    match v {
        DeValue::String(_) => "a string",
        DeValue::Integer(_) => "an integer",
        DeValue::Float(_) => "a float",
        DeValue::Boolean(_) => "a bool",
        DeValue::Datetime(_) => "a date-time",
        DeValue::Array(_) => "an array",
        DeValue::Table(_) => "a table",
    }
}

/// The candidate nearest to a mistyped key or action (two edits at most, so that a
/// swap of two letters such as `socre` is caught).
fn closest<'a>(wanted: &str, candidates: impl Iterator<Item = &'a str>) -> Option<String> {
    let limit = if wanted.chars().count() <= 3 { 1 } else { 2 };
    candidates.map(|c| (edit_distance(wanted, c), c)).filter(|(d, _)| *d <= limit).min_by_key(|(d, _)| *d).map(|(_, c)| c.to_string())
}

/// Where a string's content starts, if it is its value byte for byte.
fn content_start(text: &str, span: &Range<usize>, value: &str) -> Option<usize> {
    let raw = text.get(span.clone())?;
    let delim = ["'''", "\"\"\"", "'", "\""].into_iter().find(|d| raw.starts_with(d))?;
    if raw.len() < 2 * delim.len() || !raw.ends_with(delim) {
        return None;
    }
    let mut start = span.start + delim.len();
    let mut inner = &raw[delim.len()..raw.len() - delim.len()];
    if delim.len() == 3 {
        if let Some(rest) = inner.strip_prefix("\r\n") {
            inner = rest;
            start += 2;
        } else if let Some(rest) = inner.strip_prefix('\n') {
            inner = rest;
            start += 1;
        }
    }
    (inner == value).then_some(start)
}

impl Reader<'_> {
    pub(crate) fn error(&mut self, span: Range<usize>, code: &'static str, message: impl Into<String>, help: Option<String>) {
        self.errors.push(RuleError::new(self.file, self.text, span, code, message, help));
    }

    fn get<'t, 'i>(table: &'t Table<'i>, key: &str) -> Option<&'t Val<'i>> {
        table.iter().find(|(k, _)| k.get_ref() == key).map(|(_, v)| v)
    }

    /// Refuses keys other than `allowed`, suggesting the closest.
    fn known_keys(&mut self, table: &Table<'_>, allowed: &[&str], what: &str) {
        for (k, _) in table.iter() {
            let name: &str = k.get_ref();
            if !allowed.contains(&name) {
                let help = match closest(name, allowed.iter().copied()) {
                    Some(s) => format!("did you mean `{s}`?"),
                    None => format!("{what} takes: {}", allowed.join(", ")),
                };
                self.error(k.span(), codes::UNKNOWN_KEY, format!("unknown key `{name}` in {what}"), Some(help));
            }
        }
    }

    fn wrong_type(&mut self, key: &str, v: &Val<'_>, want: &str) {
        self.error(v.span(), codes::WRONG_TYPE, format!("`{key}` must be {want}, found {}", type_name(v.get_ref())), None);
    }

    fn string(&mut self, table: &Table<'_>, key: &str) -> Option<StrVal> {
        let v = Self::get(table, key)?;
        match v.get_ref() {
            DeValue::String(s) => {
                let span = v.span();
                Some(StrVal { content_start: content_start(self.text, &span, s), text: s.to_string(), span })
            }
            _ => {
                self.wrong_type(key, v, "a string");
                None
            }
        }
    }

    fn required_string(&mut self, table: &Table<'_>, key: &str, header: &Range<usize>, what: &str) -> Option<StrVal> {
        if Self::get(table, key).is_none() {
            self.error(header.clone(), codes::MISSING_KEY, format!("{what} has no `{key}`"), None);
            return None;
        }
        self.string(table, key)
    }

    fn int(&mut self, table: &Table<'_>, key: &str) -> Option<(i64, Range<usize>)> {
        let v = Self::get(table, key)?;
        match v.get_ref() {
            DeValue::Integer(i) => match i64::from_str_radix(i.as_str(), i.radix()) {
                Ok(n) if (-MAX_SCORE..=MAX_SCORE).contains(&n) => Some((n, v.span())),
                _ => {
                    self.error(v.span(), codes::SCORE_RANGE, format!("`{key}` must be between -{MAX_SCORE} and {MAX_SCORE}"), None);
                    None
                }
            },
            _ => {
                self.wrong_type(key, v, "an integer");
                None
            }
        }
    }

    fn bool(&mut self, table: &Table<'_>, key: &str) -> Option<bool> {
        let v = Self::get(table, key)?;
        match v.get_ref() {
            DeValue::Boolean(b) => Some(*b),
            _ => {
                self.wrong_type(key, v, "true or false");
                None
            }
        }
    }

    /// Reads a whole pack; `None` if the file is not TOML or has no usable `[pack]`.
    pub(crate) fn pack(&mut self) -> Option<PackDef> {
        let root = match DeTable::parse(self.text) {
            Ok(t) => t,
            Err(e) => {
                let span = e.span().unwrap_or(0..0);
                let msg = e.message().lines().next().unwrap_or("invalid TOML").to_string();
                self.error(span, codes::TOML_SYNTAX, format!("invalid TOML: {msg}"), None);
                return None;
            }
        };
        let root = root.get_ref();
        self.known_keys(root, &["pack", "thresholds", "rule", "breaker"], "a rule pack");

        let mut pack = PackDef {
            name: String::new(),
            name_span: 0..0,
            description: String::new(),
            thresholds: Thresholds::default(),
            rules: Vec::new(),
            breakers: Vec::new(),
        };
        match Self::get(root, "pack") {
            None => {
                self.error(
                    0..0,
                    codes::MISSING_KEY,
                    "the file has no [pack] table",
                    Some("start the file with [pack] and name = \"...\"".into()),
                );
                return None;
            }
            Some(v) => match v.get_ref() {
                DeValue::Table(t) => {
                    let header = v.span();
                    self.known_keys(t, &["name", "description"], "[pack]");
                    if let Some(name) = self.required_string(t, "name", &header, "[pack]") {
                        let ok = !name.text.is_empty()
                            && name.text.len() <= MAX_NAME
                            && name.text.bytes().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == b'-' || c == b'_');
                        if !ok {
                            self.error(
                                name.span.clone(),
                                codes::BAD_PACK_NAME,
                                format!("pack name {:?} must be 1 to {MAX_NAME} lowercase letters, digits, `-` or `_`", name.text),
                                None,
                            );
                        }
                        pack.name = name.text;
                        pack.name_span = name.span;
                    }
                    pack.description = self.string(t, "description").map(|s| s.text).unwrap_or_default();
                }
                _ => self.wrong_type("pack", v, "a table"),
            },
        }
        if let Some(v) = Self::get(root, "thresholds") {
            match v.get_ref() {
                DeValue::Table(t) => pack.thresholds = self.thresholds(t),
                _ => self.wrong_type("thresholds", v, "a table"),
            }
        }
        if let Some(v) = Self::get(root, "rule") {
            match v.get_ref() {
                DeValue::Array(items) => {
                    for item in items.iter() {
                        match item.get_ref() {
                            DeValue::Table(t) => {
                                if let Some(r) = self.rule(t, &item.span()) {
                                    pack.rules.push(r);
                                }
                            }
                            _ => self.wrong_type("rule", item, "a table ([[rule]])"),
                        }
                    }
                }
                DeValue::Table(_) => {
                    self.error(
                        v.span(),
                        codes::WRONG_TYPE,
                        "`rule` must be an array of tables",
                        Some("write each rule under [[rule]], with double brackets".into()),
                    );
                }
                _ => self.wrong_type("rule", v, "an array of tables ([[rule]])"),
            }
        }
        if let Some(v) = Self::get(root, "breaker") {
            match v.get_ref() {
                DeValue::Array(items) => {
                    for item in items.iter() {
                        match item.get_ref() {
                            DeValue::Table(t) => {
                                if let Some(b) = self.breaker(t, &item.span()) {
                                    pack.breakers.push(b);
                                }
                            }
                            _ => self.wrong_type("breaker", item, "a table ([[breaker]])"),
                        }
                    }
                }
                _ => self.wrong_type("breaker", v, "an array of tables ([[breaker]])"),
            }
        }
        Some(pack)
    }

    fn strings(&mut self, t: &Table<'_>, key: &str, header: &Range<usize>, what: &str) -> Vec<StrVal> {
        let Some(v) = Self::get(t, key) else {
            self.error(header.clone(), codes::MISSING_KEY, format!("{what} has no `{key}`"), None);
            return Vec::new();
        };
        let DeValue::Array(items) = v.get_ref() else {
            self.wrong_type(key, v, "an array of strings");
            return Vec::new();
        };
        let mut out = Vec::new();
        for item in items.iter() {
            match item.get_ref() {
                DeValue::String(text) => {
                    let span = item.span();
                    let content_start = content_start(self.text, &span, text);
                    out.push(StrVal { text: text.to_string(), span, content_start });
                }
                _ => self.wrong_type(key, item, "a string"),
            }
        }
        if items.is_empty() {
            self.error(v.span(), codes::MISSING_KEY, format!("`{key}` of {what} is empty"), None);
        }
        out
    }

    fn breaker(&mut self, t: &Table<'_>, header: &Range<usize>) -> Option<BreakerDef> {
        self.known_keys(t, &["id", "description", "trips_on", "key", "holds"], "a [[breaker]]");
        let id = self.required_string(t, "id", header, "this [[breaker]]");
        if let Some(id) = &id {
            let ok = !id.text.is_empty()
                && id.text.len() <= MAX_NAME
                && id.text.bytes().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == b'-');
            if !ok {
                self.error(
                    id.span.clone(),
                    codes::BAD_BREAKER,
                    format!("breaker id {:?} must be 1 to {MAX_NAME} lowercase letters, digits or `-`", id.text),
                    None,
                );
            }
        }
        let what = id.as_ref().map_or_else(|| "this [[breaker]]".to_string(), |i| format!("breaker {:?}", i.text));
        let description = self.string(t, "description").map(|s| s.text).unwrap_or_default();
        let trips_on = self.strings(t, "trips_on", header, &what);
        let key = self.strings(t, "key", header, &what);
        let holds = self.required_string(t, "holds", header, &what);
        let id = id?;
        Some(BreakerDef { id: id.text, id_span: id.span, description, trips_on, key, holds: holds? })
    }

    fn thresholds(&mut self, t: &Table<'_>) -> Thresholds {
        self.known_keys(t, &["challenge", "hold", "block"], "[thresholds]");
        let mut th = Thresholds::default();
        let mut seen: Vec<(&str, i64, Range<usize>)> = Vec::new();
        for key in ["challenge", "hold", "block"] {
            let Some((n, span)) = self.int(t, key) else { continue };
            if n <= 0 {
                self.error(span, codes::BAD_THRESHOLDS, format!("threshold `{key}` must be positive, found {n}"), None);
                continue;
            }
            if let Some((prev, p, _)) = seen.iter().rev().find(|(_, p, _)| *p >= n) {
                self.error(
                    span.clone(),
                    codes::BAD_THRESHOLDS,
                    format!("threshold `{key}` ({n}) must be above `{prev}` ({p})"),
                    Some("thresholds rise in the order challenge < hold < block".into()),
                );
            }
            seen.push((key, n, span));
            match key {
                "challenge" => th.challenge = Some(n),
                "hold" => th.hold = Some(n),
                _ => th.block = Some(n),
            }
        }
        th
    }

    fn rule(&mut self, t: &Table<'_>, header: &Range<usize>) -> Option<RuleDef> {
        self.known_keys(t, &["id", "description", "when", "score", "action", "reason", "shadow"], "a [[rule]]");
        let id = self.required_string(t, "id", header, "this [[rule]]");
        if let Some(id) = &id {
            let ok = !id.text.is_empty()
                && id.text.len() <= MAX_NAME
                && id.text.bytes().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == b'-');
            if !ok {
                let suggestion: String = id.text.to_lowercase().chars().map(|c| if c.is_ascii_alphanumeric() { c } else { '-' }).collect();
                self.error(
                    id.span.clone(),
                    codes::BAD_RULE_ID,
                    format!("rule id {:?} must be 1 to {MAX_NAME} lowercase letters, digits or `-`", id.text),
                    (!suggestion.is_empty() && suggestion.len() <= MAX_NAME && suggestion != id.text)
                        .then(|| format!("such as {suggestion:?}")),
                );
            }
        }
        let what = match &id {
            Some(id) => format!("rule {:?}", id.text),
            None => "this [[rule]]".to_string(),
        };
        let when = self.required_string(t, "when", header, &what);
        let description = self.string(t, "description").map(|s| s.text).unwrap_or_default();
        let score = self.int(t, "score").map_or(0, |(n, _)| n);
        let mut action = Action::Allow;
        if let Some(a) = self.string(t, "action") {
            match a.text.parse::<Action>() {
                Ok(x) => action = x,
                Err(_) => {
                    let names: Vec<&str> = Action::ALL.iter().map(|a| a.as_str()).collect();
                    let help = match closest(&a.text, names.iter().copied()) {
                        Some(s) => format!("did you mean {s:?}?"),
                        None => format!("one of: {}", names.join(", ")),
                    };
                    self.error(a.span, codes::UNKNOWN_ACTION, format!("unknown action {:?}", a.text), Some(help));
                }
            }
        }
        let reason = self.string(t, "reason");
        let shadow = self.bool(t, "shadow").unwrap_or(false);
        let id = id?;
        Some(RuleDef { id: id.text, id_span: id.span, description, when: when?, score, action, reason, shadow })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_offsets() {
        let t = "a = 'x y'\nb = \"p\\tq\"\nc = '''\nm'''\nd = \"plain\"";
        let s = |needle: &str| {
            let at = t.find(needle).unwrap();
            at..at + needle.len()
        };
        assert_eq!(content_start(t, &s("'x y'"), "x y"), Some(5));
        assert_eq!(content_start(t, &s("\"p\\tq\""), "p\tq"), None);
        assert_eq!(content_start(t, &s("'''\nm'''"), "m"), Some(t.find("m'''").unwrap()));
        assert_eq!(content_start(t, &s("\"plain\""), "plain"), Some(t.find("plain").unwrap()));
    }

    #[test]
    fn thresholds_raise() {
        let th = Thresholds { challenge: Some(300), hold: Some(600), block: None };
        assert_eq!(th.action_for(299), Action::Allow);
        assert_eq!(th.action_for(300), Action::Challenge);
        assert_eq!(th.action_for(10_000), Action::Hold);
        let j = th.join(Thresholds { challenge: Some(500), hold: None, block: Some(900) });
        assert_eq!(j, Thresholds { challenge: Some(300), hold: Some(600), block: Some(900) });
    }
}
