//! Reason templates: `"charge of {event.amount} {event.currency} {features.since_link} after the link"`.
//!
//! `{expr}` is an expression checked like `when`; `{{` and `}}` are literal braces.
//! Values are written for a person: decimals exactly without trailing zeros, doubles with
//! at most two decimals, durations as `35 min` or `1 h 30 min`, timestamps in RFC 3339,
//! null as `unknown`.

use std::fmt::Write;
use std::ops::Range;

use mamori_core::{Decimal, Record, Schema, Value};
use mamori_expr::{Diagnostic, Program};

use crate::codes;

#[derive(Debug)]
enum Seg {
    Lit(String),
    Expr(Program),
}

/// A compiled reason template.
#[derive(Debug, Default)]
pub(crate) struct Template {
    segs: Vec<Seg>,
    /// A first guess at the rendered length, so rendering rarely grows its string.
    capacity: usize,
}

impl Template {
    /// The fields the template's expressions read.
    pub(crate) fn fields(&self) -> impl Iterator<Item = mamori_core::FieldId> + '_ {
        self.segs
            .iter()
            .flat_map(|s| match s {
                Seg::Lit(_) => &[][..],
                Seg::Expr(p) => p.fields(),
            })
            .copied()
    }

    /// Parses and compiles `src`; diagnostics have spans relative to `src`.
    pub(crate) fn compile(src: &str, schema: &dyn Schema) -> Result<Template, Vec<Diagnostic>> {
        let mut segs = Vec::new();
        let mut errors = Vec::new();
        let mut lit = String::new();
        let b = src.as_bytes();
        let mut i = 0;
        while i < b.len() {
            match b[i] {
                b'{' if b.get(i + 1) == Some(&b'{') => {
                    lit.push('{');
                    i += 2;
                }
                b'}' if b.get(i + 1) == Some(&b'}') => {
                    lit.push('}');
                    i += 2;
                }
                b'}' => {
                    errors.push(
                        Diagnostic::new(codes::BAD_TEMPLATE, i..i + 1, "`}` without a matching `{`")
                            .with_help("write `}}` for a literal brace"),
                    );
                    i += 1;
                }
                b'{' => {
                    let Some(end) = placeholder_end(src, i + 1) else {
                        errors.push(
                            Diagnostic::new(codes::BAD_TEMPLATE, i..src.len(), "`{` is not closed")
                                .with_help("close the placeholder with `}`, or write `{{` for a literal brace"),
                        );
                        break;
                    };
                    let inner = &src[i + 1..end];
                    if inner.trim().is_empty() {
                        errors.push(
                            Diagnostic::new(codes::BAD_TEMPLATE, i..end + 1, "empty placeholder `{}`")
                                .with_help("put an expression inside, such as {event.amount}"),
                        );
                    } else {
                        match mamori_expr::compile(inner, schema) {
                            Ok(p) => {
                                if !lit.is_empty() {
                                    segs.push(Seg::Lit(std::mem::take(&mut lit)));
                                }
                                segs.push(Seg::Expr(p));
                            }
                            Err(ds) => errors.extend(ds.into_iter().map(|mut d| {
                                d.span = shift(&d.span, i + 1);
                                d
                            })),
                        }
                    }
                    i = end + 1;
                }
                _ => {
                    let ch = src[i..].chars().next().unwrap_or('\u{fffd}');
                    lit.push(ch);
                    i += ch.len_utf8();
                }
            }
        }
        if !lit.is_empty() {
            segs.push(Seg::Lit(lit));
        }
        let capacity = segs.iter().map(|s| if let Seg::Lit(l) = s { l.len() } else { 16 }).sum();
        if errors.is_empty() { Ok(Template { segs, capacity }) } else { Err(errors) }
    }

    pub(crate) fn render(&self, rec: &dyn Record) -> String {
        let mut out = String::with_capacity(self.capacity);
        for s in &self.segs {
            match s {
                Seg::Lit(l) => out.push_str(l),
                Seg::Expr(p) => p.eval_with(rec, |v| write_value(&mut out, &v)),
            }
        }
        out
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.segs.is_empty()
    }
}

fn shift(r: &Range<usize>, by: usize) -> Range<usize> {
    r.start + by..r.end + by
}

/// The byte offset of the `}` closing a placeholder whose expression starts at `from`,
/// skipping braces inside quoted strings.
fn placeholder_end(src: &str, from: usize) -> Option<usize> {
    let b = src.as_bytes();
    let mut i = from;
    let mut quote: Option<u8> = None;
    while i < b.len() {
        let c = b[i];
        match quote {
            Some(q) => {
                if c == b'\\' {
                    i += 1;
                } else if c == q {
                    quote = None;
                }
            }
            None => match c {
                b'\'' | b'"' => quote = Some(c),
                b'}' => return Some(i),
                _ => {}
            },
        }
        i += 1;
    }
    None
}

/// Writes a value for a person to read (see the module documentation).
pub fn write_value(out: &mut String, v: &Value<'_>) {
    match v {
        Value::Null => out.push_str("unknown"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Int(i) => out.push_str(itoa::Buffer::new().format(*i)),
        Value::Double(d) => write_double(out, *d),
        Value::Decimal(d) => write_decimal(out, *d),
        Value::Str(s) => out.push_str(s),
        Value::Timestamp(t) => {
            let s = t.to_rfc3339();
            out.push_str(&s.replace(".000Z", "Z"));
        }
        Value::Duration(s) => write_duration(out, s.as_micros()),
        Value::StrList(l) => out.push_str(&l.join(", ")),
    }
}

/// A value as a person reads it (see the module documentation).
pub fn display_value(v: &Value<'_>) -> String {
    let mut s = String::new();
    write_value(&mut s, v);
    s
}

fn write_decimal(out: &mut String, d: Decimal) {
    let n = d.normalize();
    if n.scale() == 0
        && let Ok(i) = i64::try_from(n)
    {
        out.push_str(itoa::Buffer::new().format(i));
        return;
    }
    let _ = write!(out, "{n}");
}

fn write_double(out: &mut String, d: f64) {
    let s = format!("{d:.2}");
    let s = if s.contains('.') { s.trim_end_matches('0').trim_end_matches('.') } else { &s };
    out.push_str(if s == "-0" { "0" } else { s });
}

fn write_duration(out: &mut String, micros: i64) {
    const UNITS: [(u64, &str); 5] = [(86_400_000_000, "d"), (3_600_000_000, "h"), (60_000_000, "min"), (1_000_000, "s"), (1_000, "ms")];
    if micros < 0 {
        out.push('-');
    }
    let a = micros.unsigned_abs();
    if a == 0 {
        out.push_str("0 s");
        return;
    }
    let Some(first) = UNITS.iter().position(|(u, _)| a >= *u) else {
        let _ = write!(out, "{a} µs");
        return;
    };
    let (u, name) = UNITS[first];
    let mut buf = itoa::Buffer::new();
    out.push_str(buf.format(a / u));
    out.push(' ');
    out.push_str(name);
    if let Some(&(v, next)) = UNITS.get(first + 1) {
        let rest = (a % u) / v;
        if rest > 0 {
            out.push(' ');
            out.push_str(buf.format(rest));
            out.push(' ');
            out.push_str(next);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::str::FromStr;

    use mamori_core::{Span, Timestamp};

    use super::*;

    fn show(v: Value<'_>) -> String {
        display_value(&v)
    }

    #[test]
    fn readable_values() {
        assert_eq!(show(Value::Decimal(Decimal::from_str("100000.00").unwrap())), "100000");
        assert_eq!(show(Value::Decimal(Decimal::from_str("0.30").unwrap())), "0.3");
        assert_eq!(show(Value::Decimal(Decimal::from_str("-0.00").unwrap())), "0");
        assert_eq!(show(Value::Decimal(Decimal::from_str("0.000000000000000001").unwrap())), "0.000000000000000001");
        assert_eq!(show(Value::Double(1.23456)), "1.23");
        assert_eq!(show(Value::Double(2.5)), "2.5");
        assert_eq!(show(Value::Double(3.0)), "3");
        assert_eq!(show(Value::Double(-0.001)), "0");
        assert_eq!(show(Value::Double(1234567.891)), "1234567.89");
        assert_eq!(show(Value::Null), "unknown");
        assert_eq!(show(Value::Duration(Span::from_secs(35 * 60))), "35 min");
        assert_eq!(show(Value::Duration(Span::from_secs(2 * 3600))), "2 h");
        assert_eq!(show(Value::Duration(Span::from_secs(90 * 60))), "1 h 30 min");
        assert_eq!(show(Value::Duration(Span::from_secs(36 * 3600 + 59))), "1 d 12 h");
        assert_eq!(show(Value::Duration(Span::from_secs(45))), "45 s");
        assert_eq!(show(Value::Duration(Span(1_500_000))), "1 s 500 ms");
        assert_eq!(show(Value::Duration(Span(-120_000_000))), "-2 min");
        assert_eq!(show(Value::Duration(Span(0))), "0 s");
        assert_eq!(show(Value::Duration(Span(12))), "12 µs");
        assert_eq!(show(Value::Duration(Span(i64::MIN))), "-106751991 d 4 h");
        let t = Timestamp::parse_rfc3339("2026-11-21T19:00:00+09:00").unwrap();
        assert_eq!(show(Value::Timestamp(t)), "2026-11-21T10:00:00Z");
        let t = Timestamp::parse_rfc3339("2026-11-21T19:00:00.25+09:00").unwrap();
        assert_eq!(show(Value::Timestamp(t)), "2026-11-21T10:00:00.250Z");
    }

    #[test]
    fn placeholders_skip_quoted_braces() {
        assert_eq!(placeholder_end("a + '}' }", 0), Some(8));
        assert_eq!(placeholder_end(r#"a + "\"}" }x"#, 0), Some(10));
        assert_eq!(placeholder_end("a + '}", 0), None);
    }
}
