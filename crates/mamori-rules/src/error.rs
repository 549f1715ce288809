//! Errors in rule packs, located in their file.

use std::fmt;
use std::ops::Range;

/// One mistake in a rule pack: where (file, 1-based line and column, byte span in the
/// file), what (a stable code and a message) and how to fix it. `Display` renders it
/// like a compiler, with the source line and a caret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleError {
    /// `R1xx` for the pack format ([`crate::codes`]), `E0xx` inside an expression ([`mamori_expr::codes`]).
    pub code: &'static str,
    /// The name the source was given (its path).
    pub file: String,
    pub line: usize,
    pub column: usize,
    /// Byte offsets in the file.
    pub span: Range<usize>,
    pub message: String,
    pub help: Option<String>,
    rendered: String,
}

impl RuleError {
    pub(crate) fn new(
        file: &str,
        text: &str,
        span: Range<usize>,
        code: &'static str,
        message: impl Into<String>,
        help: Option<String>,
    ) -> Self {
        let message = message.into();
        let (line, column) = mamori_expr::line_col(text, span.start);
        let rendered = mamori_expr::render(file, text, span.clone(), code, &message, help.as_deref());
        RuleError { code, file: file.to_string(), line, column, span, message, help, rendered }
    }

    /// The first line alone: `file:line:col: error[code]: message`.
    pub fn summary(&self) -> String {
        format!("{}:{}:{}: error[{}]: {}", self.file, self.line, self.column, self.code, self.message)
    }
}

impl fmt::Display for RuleError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.rendered.trim_end())
    }
}

impl std::error::Error for RuleError {}

/// Renders a list of errors one after the other, with a closing count, as a compiler would.
pub fn render_all(errors: &[RuleError]) -> String {
    let mut out = String::new();
    for e in errors {
        out.push_str(&e.to_string());
        out.push_str("\n\n");
    }
    let n = errors.len();
    out.push_str(&format!("{n} error{}", if n == 1 { "" } else { "s" }));
    out
}
