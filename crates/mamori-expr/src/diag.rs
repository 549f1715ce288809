//! Diagnostics: what went wrong, where (byte offsets into the expression), and how to
//! fix it; rendered like a compiler, with the file, line, column, source line and a caret.

use std::fmt;
use std::ops::Range;

/// One mistake found while parsing or checking an expression.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    /// A stable code from [`crate::codes`], such as `"E001"`.
    pub code: &'static str,
    pub message: String,
    /// Byte offsets into the expression's source.
    pub span: Range<usize>,
    pub help: Option<String>,
}

impl Diagnostic {
    pub fn new(code: &'static str, span: Range<usize>, message: impl Into<String>) -> Self {
        Diagnostic { code, message: message.into(), span, help: None }
    }

    pub fn with_help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }

    /// Renders the diagnostic for an expression that starts at byte `expr_offset` of the
    /// file `file_name` whose whole text is `file_src`:
    ///
    /// ```text
    /// rules/linking.toml:12:20: error[E001]: unknown field `event.amout`
    ///    |
    /// 12 | when = 'event.amout > 5'
    ///    |          ^^^^^^^^^^^
    ///    = help: did you mean `event.amount`?
    /// ```
    pub fn render(&self, file_name: &str, file_src: &str, expr_offset: usize) -> String {
        let span = (expr_offset + self.span.start)..(expr_offset + self.span.end);
        render(file_name, file_src, span, self.code, &self.message, self.help.as_deref())
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "error[{}]: {}", self.code, self.message)?;
        if let Some(h) = &self.help {
            write!(f, " (help: {h})")?;
        }
        Ok(())
    }
}

impl std::error::Error for Diagnostic {}

/// The largest char boundary of `s` at or below `offset` (clamped to the length).
fn floor_boundary(s: &str, offset: usize) -> usize {
    let mut o = offset.min(s.len());
    while !s.is_char_boundary(o) {
        o -= 1;
    }
    o
}

/// The 1-based line and column (in characters) of byte `offset` in `src`.
pub fn line_col(src: &str, offset: usize) -> (usize, usize) {
    let offset = floor_boundary(src, offset);
    let before = &src[..offset];
    let line = before.bytes().filter(|&b| b == b'\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let col = before[line_start..].chars().count() + 1;
    (line, col)
}

/// Display width of a character in a terminal: 2 for East Asian wide and full-width
/// forms (kanji, kana, full-width Latin), 1 otherwise. An approximation without tables.
fn char_width(c: char) -> usize {
    let u = c as u32;
    let wide = matches!(u,
        0x1100..=0x115F | 0x2E80..=0x303E | 0x3041..=0x33FF | 0x3400..=0x4DBF | 0x4E00..=0x9FFF
        | 0xA000..=0xA4CF | 0xAC00..=0xD7A3 | 0xF900..=0xFAFF | 0xFE30..=0xFE4F | 0xFF00..=0xFF60
        | 0xFFE0..=0xFFE6 | 0x20000..=0x3FFFD);
    if wide { 2 } else { 1 }
}

/// Renders `file:line:col: error[code]: message`, the source line with a caret under
/// `span` (byte offsets into `src`, the whole file), and the help line if any.
pub fn render(file_name: &str, src: &str, span: Range<usize>, code: &str, message: &str, help: Option<&str>) -> String {
    use fmt::Write;
    let start = floor_boundary(src, span.start);
    let end = floor_boundary(src, span.end.max(span.start));
    let (line, col) = line_col(src, start);
    let line_start = src[..start].rfind('\n').map_or(0, |i| i + 1);
    let line_end = src[start..].find('\n').map_or(src.len(), |i| start + i);
    let text = src[line_start..line_end].trim_end_matches('\r');
    let num = line.to_string();
    let pad = " ".repeat(num.len());
    let mut out = String::new();
    let _ = writeln!(out, "{file_name}:{line}:{col}: error[{code}]: {message}");
    let _ = writeln!(out, "{pad} |");
    let _ = writeln!(out, "{num} | {text}");
    let mut caret = String::new();
    for c in src[line_start..start].chars() {
        if c == '\t' {
            caret.push('\t');
        } else {
            caret.extend(std::iter::repeat_n(' ', char_width(c)));
        }
    }
    let marked_end = end.min(line_end).max(start);
    let width: usize = src[start..marked_end].chars().map(char_width).sum();
    caret.extend(std::iter::repeat_n('^', width.max(1)));
    let _ = writeln!(out, "{pad} | {caret}");
    if let Some(h) = help {
        let _ = writeln!(out, "{pad} = help: {h}");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_and_column() {
        let src = "a\nbc\nデータx";
        assert_eq!(line_col(src, 0), (1, 1));
        assert_eq!(line_col(src, 2), (2, 1));
        assert_eq!(line_col(src, 3), (2, 2));
        let x = src.find('x').unwrap();
        assert_eq!(line_col(src, x), (3, 4));
        assert_eq!(line_col(src, 10_000), (3, 5));
        // Inside a multi-byte character: the character's own column.
        assert_eq!(line_col(src, 6), (3, 1));
    }

    #[test]
    fn renders_caret_under_span() {
        let src = "[[rule]]\nwhen = 'event.amout > 5'\n";
        let at = src.find("event").unwrap();
        let d = Diagnostic::new("E001", 0..11, "unknown field `event.amout`").with_help("did you mean `event.amount`?");
        let r = d.render("p.toml", src, at);
        assert_eq!(
            r,
            "p.toml:2:9: error[E001]: unknown field `event.amout`\n  |\n2 | when = 'event.amout > 5'\n  |         ^^^^^^^^^^^\n  = help: did you mean `event.amount`?\n"
        );
    }

    #[test]
    fn renders_wide_characters_and_empty_spans() {
        let src = "'ヤマダ' + 1";
        let at = src.find('+').unwrap();
        let r = render("f", src, at..at, "E003", "m", None);
        assert!(r.contains("\n  |          ^\n"), "{r}");
        let r = render("f", "", 5..9, "E010", "m", None);
        assert!(r.starts_with("f:1:1: error[E010]: m"), "{r}");
    }
}
