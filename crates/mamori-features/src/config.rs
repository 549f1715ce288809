//! The feature file: TOML that declares inputs and features. Parsed here, checked and
//! compiled in [`crate::compile`]. Every error names the file, line and column.

use std::collections::BTreeMap;
use std::fmt;
use std::ops::Range;

use serde::Deserialize;
use toml::Spanned;

/// A feature file as written.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FeatureFile {
    #[serde(default)]
    pub engine: EngineSection,
    #[serde(default)]
    pub input: InputSection,
    #[serde(default)]
    pub output: OutputSection,
    #[serde(default, rename = "feature")]
    pub features: Vec<FeatureDecl>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EngineSection {
    /// How far behind the newest event time an event may arrive and still update state.
    pub lateness: Option<Spanned<String>>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InputSection {
    /// `csv` or `ndjson`; by default from the input file's name.
    pub format: Option<Spanned<String>>,
    /// For CSV: `rfc3339` (default) or `naive` (a local date-time without offset).
    pub time_format: Option<Spanned<String>>,
    /// For naive times: the offset east of UTC, such as `+09:00`, or `UTC`/`Asia/Tokyo` (default `+00:00`).
    pub utc_offset: Option<Spanned<String>>,
    /// For CSV: the field delimiter (default `,`).
    pub delimiter: Option<Spanned<String>>,
    /// For CSV: event path = column name.
    #[serde(default)]
    pub columns: BTreeMap<String, Spanned<String>>,
    /// Event path = constant value for every row (for example `type = "card_payment"`).
    #[serde(default)]
    pub constants: BTreeMap<String, Spanned<String>>,
    /// Types of `attributes.*` paths read from CSV: int, decimal, double, string, bool, timestamp.
    #[serde(default)]
    pub types: BTreeMap<String, Spanned<String>>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OutputSection {
    /// Name of the first output column, which carries the event id (default `event_id`).
    pub id_column: Option<String>,
}

/// One declared feature.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FeatureDecl {
    pub name: Spanned<String>,
    pub description: Option<String>,
    /// The entity whose events are aggregated: a shorthand (`customer`, `account`,
    /// `device`, ...) or a list of event paths.
    pub entity: Option<Spanned<EntitySpec>>,
    /// The entity read when this event asks for the value, if not `entity` itself
    /// (a bank's `link_requested` reads the wallet's account: `read_entity = "wallet"`).
    pub read_entity: Option<Spanned<EntitySpec>>,
    pub aggregate: Option<Spanned<String>>,
    /// The value aggregated (an expression over `event.*` and earlier `features.*`).
    pub of: Option<Spanned<String>>,
    /// For `aggregate = "expr"`: the expression computed from the event alone.
    pub expr: Option<Spanned<String>>,
    /// Which events update the state (a boolean expression); default all.
    pub filter: Option<Spanned<String>>,
    /// Window length (`10m`, `24h`, `30d`) or `all`.
    pub window: Option<Spanned<String>>,
    /// Events enter the window only this long after they happened (labels known late).
    pub delay: Option<Spanned<String>>,
    /// Whether the current event counts in its own features (default true).
    pub include_current: Option<bool>,
    /// The value when no event is in the window (default null; counts are always 0).
    pub empty: Option<toml::Value>,
    /// For `ratio`: the two features divided.
    pub numerator: Option<Spanned<String>>,
    pub denominator: Option<Spanned<String>>,
    /// Aggregate per bucket of this length instead of per event (bounded memory, approximate edges).
    pub buckets: Option<Spanned<String>>,
    /// Whether the feature is written by `mamori features` (default true).
    pub output: Option<bool>,
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(untagged)]
pub enum EntitySpec {
    Named(String),
    Paths(Vec<String>),
}

/// An error in a feature file, with its place.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    pub file: String,
    pub line: usize,
    pub column: usize,
    /// Stable code, listed in [`crate::codes`].
    pub code: &'static str,
    pub message: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}: error[{}]: {}", self.file, self.line, self.column, self.code, self.message)
    }
}

impl std::error::Error for ConfigError {}

/// Errors gathered while loading one file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigErrors(pub Vec<ConfigError>);

impl fmt::Display for ConfigErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, e) in self.0.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{e}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ConfigErrors {}

/// Turns byte offsets into 1-based line and column (in characters).
#[derive(Debug, Clone)]
pub struct SourceMap<'a> {
    pub file: &'a str,
    pub text: &'a str,
}

impl SourceMap<'_> {
    pub fn line_col(&self, offset: usize) -> (usize, usize) {
        let offset = offset.min(self.text.len());
        let before = &self.text[..floor_char_boundary(self.text, offset)];
        let line = before.matches('\n').count() + 1;
        let col = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
        (line, col)
    }

    pub fn error(&self, span: Range<usize>, code: &'static str, message: impl Into<String>) -> ConfigError {
        let (line, column) = self.line_col(span.start);
        ConfigError { file: self.file.to_string(), line, column, code, message: message.into() }
    }

    /// The byte offset in the file where the text of a TOML string value starts, when
    /// the string is written so that its bytes are the value's (no escapes); else the
    /// offset of the string itself.
    pub fn string_content_start(&self, span: &Range<usize>, value: &str) -> Option<usize> {
        let raw = self.text.get(span.clone())?;
        for q in ["'''", "\"\"\"", "'", "\""] {
            if raw.starts_with(q) && raw.len() >= 2 * q.len() {
                let mut inner = &raw[q.len()..raw.len() - q.len()];
                let mut start = span.start + q.len();
                if q.len() == 3 && inner.starts_with('\n') {
                    inner = &inner[1..];
                    start += 1;
                }
                return (inner == value).then_some(start);
            }
        }
        None
    }
}

fn floor_char_boundary(s: &str, mut i: usize) -> usize {
    while i > 0 && !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

/// Parses a feature file's TOML. Syntax and shape errors come back located.
pub fn parse(file: &str, text: &str) -> Result<FeatureFile, ConfigErrors> {
    let map = SourceMap { file, text };
    toml::from_str::<FeatureFile>(text).map_err(|e| {
        let span = e.span().unwrap_or(0..0);
        let msg = e.message().trim().to_string();
        ConfigErrors(vec![map.error(span, crate::codes::TOML, msg)])
    })
}
