//! Tokens of the expression language, with byte spans.

use std::ops::Range;
use std::str::FromStr;

use mamori_core::Decimal;

use crate::codes;
use crate::diag::Diagnostic;

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Tok {
    Int(i64),
    /// A literal with a fraction or exponent; `exact` is its exact decimal value when it
    /// has one, so that `event.amount > 100.5` stays exact money arithmetic.
    Double(f64, Option<Decimal>),
    Str(String),
    Ident(String),
    True,
    False,
    Null,
    In,
    LParen,
    RParen,
    LBracket,
    RBracket,
    Comma,
    Dot,
    Question,
    Colon,
    OrOr,
    AndAnd,
    Not,
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    Plus,
    Minus,
    Star,
    Slash,
    Percent,
    Eof,
}

impl Tok {
    pub(crate) fn describe(&self) -> String {
        match self {
            Tok::Int(i) => format!("number `{i}`"),
            Tok::Double(d, _) => format!("number `{d}`"),
            Tok::Str(_) => "string".into(),
            Tok::Ident(s) => format!("`{s}`"),
            Tok::True => "`true`".into(),
            Tok::False => "`false`".into(),
            Tok::Null => "`null`".into(),
            Tok::In => "`in`".into(),
            Tok::Eof => "end of expression".into(),
            t => format!("`{}`", t.symbol()),
        }
    }

    fn symbol(&self) -> &'static str {
        match self {
            Tok::LParen => "(",
            Tok::RParen => ")",
            Tok::LBracket => "[",
            Tok::RBracket => "]",
            Tok::Comma => ",",
            Tok::Dot => ".",
            Tok::Question => "?",
            Tok::Colon => ":",
            Tok::OrOr => "||",
            Tok::AndAnd => "&&",
            Tok::Not => "!",
            Tok::Eq => "==",
            Tok::Ne => "!=",
            Tok::Lt => "<",
            Tok::Le => "<=",
            Tok::Gt => ">",
            Tok::Ge => ">=",
            Tok::Plus => "+",
            Tok::Minus => "-",
            Tok::Star => "*",
            Tok::Slash => "/",
            Tok::Percent => "%",
            _ => "?",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Token {
    pub tok: Tok,
    pub span: Range<usize>,
}

pub(crate) fn lex(src: &str) -> Result<Vec<Token>, Diagnostic> {
    let b = src.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        let start = i;
        let simple = |tok: Tok, len: usize| (tok, len);
        let (tok, len) = match c {
            b' ' | b'\t' | b'\n' | b'\r' => {
                i += 1;
                continue;
            }
            b'/' if b.get(i + 1) == Some(&b'/') => {
                while i < b.len() && b[i] != b'\n' {
                    i += 1;
                }
                continue;
            }
            b'(' => simple(Tok::LParen, 1),
            b')' => simple(Tok::RParen, 1),
            b'[' => simple(Tok::LBracket, 1),
            b']' => simple(Tok::RBracket, 1),
            b',' => simple(Tok::Comma, 1),
            b'?' => simple(Tok::Question, 1),
            b':' => simple(Tok::Colon, 1),
            b'+' => simple(Tok::Plus, 1),
            b'-' => simple(Tok::Minus, 1),
            b'*' => simple(Tok::Star, 1),
            b'/' => simple(Tok::Slash, 1),
            b'%' => simple(Tok::Percent, 1),
            b'|' if b.get(i + 1) == Some(&b'|') => simple(Tok::OrOr, 2),
            b'&' if b.get(i + 1) == Some(&b'&') => simple(Tok::AndAnd, 2),
            b'=' if b.get(i + 1) == Some(&b'=') => simple(Tok::Eq, 2),
            b'!' if b.get(i + 1) == Some(&b'=') => simple(Tok::Ne, 2),
            b'!' => simple(Tok::Not, 1),
            b'<' if b.get(i + 1) == Some(&b'=') => simple(Tok::Le, 2),
            b'<' => simple(Tok::Lt, 1),
            b'>' if b.get(i + 1) == Some(&b'=') => simple(Tok::Ge, 2),
            b'>' => simple(Tok::Gt, 1),
            b'|' | b'&' | b'=' => {
                let (want, what) = match c {
                    b'|' => ("||", "or"),
                    b'&' => ("&&", "and"),
                    _ => ("==", "equality"),
                };
                return Err(Diagnostic::new(codes::UNEXPECTED_CHAR, i..i + 1, format!("unexpected `{}`", c as char))
                    .with_help(format!("for {what} write `{want}`")));
            }
            b'.' if b.get(i + 1).is_some_and(u8::is_ascii_digit) => {
                return Err(
                    Diagnostic::new(codes::SYNTAX, i..i + 1, "a number must start with a digit").with_help("write 0.5 instead of .5")
                );
            }
            b'.' => simple(Tok::Dot, 1),
            b'0'..=b'9' => number(src, i)?,
            b'"' | b'\'' => string(src, i, i, false)?,
            b'r' | b'R' if matches!(b.get(i + 1), Some(b'"' | b'\'')) => string(src, i, i + 1, true)?,
            c if c.is_ascii_alphabetic() || c == b'_' => {
                let mut j = i;
                while j < b.len() && (b[j].is_ascii_alphanumeric() || b[j] == b'_') {
                    j += 1;
                }
                let tok = match &src[i..j] {
                    "true" => Tok::True,
                    "false" => Tok::False,
                    "null" => Tok::Null,
                    "in" => Tok::In,
                    s => Tok::Ident(s.to_string()),
                };
                (tok, j - i)
            }
            _ => {
                let ch = src[i..].chars().next().unwrap_or('?');
                let d = Diagnostic::new(codes::UNEXPECTED_CHAR, i..i + ch.len_utf8(), format!("unexpected character `{ch}`"));
                return Err(match ch {
                    '“' | '”' | '‘' | '’' => d.with_help("use straight quotes ' or \" around strings"),
                    '＝' | '＜' | '＞' | '（' | '）' => d.with_help("this is a full-width character; use the ASCII one"),
                    _ => d,
                });
            }
        };
        i += len;
        out.push(Token { tok, span: start..i });
    }
    out.push(Token { tok: Tok::Eof, span: b.len()..b.len() });
    Ok(out)
}

fn number(src: &str, start: usize) -> Result<(Tok, usize), Diagnostic> {
    let b = src.as_bytes();
    let mut i = start;
    if b[i] == b'0' && matches!(b.get(i + 1), Some(b'x' | b'X')) {
        i += 2;
        let ds = i;
        while i < b.len() && b[i].is_ascii_hexdigit() {
            i += 1;
        }
        let v = i64::from_str_radix(&src[ds..i], 16)
            .map_err(|_| Diagnostic::new(codes::INVALID_LITERAL, start..i, "invalid hexadecimal integer (empty or over 64 bits)"))?;
        if matches!(b.get(i), Some(b'u' | b'U')) {
            i += 1;
        }
        return Ok((Tok::Int(v), i - start));
    }
    while i < b.len() && b[i].is_ascii_digit() {
        i += 1;
    }
    let mut is_double = false;
    if b.get(i) == Some(&b'.') && b.get(i + 1).is_some_and(u8::is_ascii_digit) {
        is_double = true;
        i += 1;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
    }
    if matches!(b.get(i), Some(b'e' | b'E')) {
        let mut j = i + 1;
        if matches!(b.get(j), Some(b'+' | b'-')) {
            j += 1;
        }
        if b.get(j).is_some_and(u8::is_ascii_digit) {
            while j < b.len() && b[j].is_ascii_digit() {
                j += 1;
            }
            is_double = true;
            i = j;
        }
    }
    let text = &src[start..i];
    if is_double {
        let v: f64 = text.parse().map_err(|_| Diagnostic::new(codes::INVALID_LITERAL, start..i, "invalid number"))?;
        if !v.is_finite() {
            return Err(Diagnostic::new(codes::INVALID_LITERAL, start..i, "number out of range"));
        }
        let exact = if text.contains(['e', 'E']) { Decimal::from_scientific(text).ok() } else { Decimal::from_str_exact(text).ok() };
        return Ok((Tok::Double(v, exact), i - start));
    }
    let v = i64::from_str(text).map_err(|_| {
        Diagnostic::new(codes::INVALID_LITERAL, start..i, "integer does not fit in 64 bits")
            .with_help("write it as a decimal: decimal(\"...\")")
    })?;
    if matches!(b.get(i), Some(b'u' | b'U')) {
        i += 1;
    }
    Ok((Tok::Int(v), i - start))
}

/// Reads a string literal whose quote is at `quote`; `start` is where the token starts
/// (before an `r` prefix). Escapes follow CEL: `\\ \' \" \` \? \a \b \f \n \r \t \v`,
/// `\xHH`, `\uHHHH`, `\UHHHHHHHH` and three octal digits.
fn string(src: &str, start: usize, quote: usize, raw: bool) -> Result<(Tok, usize), Diagnostic> {
    let b = src.as_bytes();
    let q = b[quote];
    let mut out = String::new();
    let mut i = quote + 1;
    loop {
        let Some(&c) = b.get(i) else {
            return Err(Diagnostic::new(codes::UNTERMINATED_STRING, start..src.len(), "string literal is not closed")
                .with_help(format!("add the closing {}", q as char)));
        };
        if c == q {
            i += 1;
            break;
        }
        if c == b'\n' || c == b'\r' {
            return Err(Diagnostic::new(codes::UNTERMINATED_STRING, start..i, "string literal is not closed before the end of the line")
                .with_help(format!("add the closing {}", q as char)));
        }
        if c == b'\\' && !raw {
            let esc_start = i;
            let Some(&e) = b.get(i + 1) else {
                return Err(Diagnostic::new(codes::UNTERMINATED_STRING, start..src.len(), "string literal is not closed"));
            };
            i += 2;
            let simple = match e {
                b'\\' => Some('\\'),
                b'\'' => Some('\''),
                b'"' => Some('"'),
                b'`' => Some('`'),
                b'?' => Some('?'),
                b'a' => Some('\x07'),
                b'b' => Some('\x08'),
                b'f' => Some('\x0c'),
                b'n' => Some('\n'),
                b'r' => Some('\r'),
                b't' => Some('\t'),
                b'v' => Some('\x0b'),
                _ => None,
            };
            if let Some(ch) = simple {
                out.push(ch);
                continue;
            }
            let (digits, radix) = match e {
                b'x' | b'X' => (2, 16),
                b'u' => (4, 16),
                b'U' => (8, 16),
                b'0'..=b'3' => {
                    i -= 1;
                    (3, 8)
                }
                _ => {
                    let len = src[esc_start + 1..].chars().next().map_or(1, char::len_utf8);
                    return Err(Diagnostic::new(codes::INVALID_ESCAPE, esc_start..esc_start + 1 + len, "unknown escape sequence")
                        .with_help("valid escapes: \\\\ \\' \\\" \\n \\r \\t \\xHH \\uHHHH \\UHHHHHHHH"));
                }
            };
            let end = i + digits;
            let hex = src.get(i..end).filter(|h| h.bytes().all(|c| c.is_ascii_hexdigit()));
            let ch = hex.and_then(|h| u32::from_str_radix(h, radix).ok()).and_then(char::from_u32);
            match ch {
                Some(ch) => out.push(ch),
                None => {
                    let end = end.min(src.len());
                    let end = (esc_start + 2..=end).rev().find(|&e| src.is_char_boundary(e)).unwrap_or(esc_start + 2);
                    return Err(Diagnostic::new(codes::INVALID_ESCAPE, esc_start..end, "invalid numeric escape")
                        .with_help("\\x takes 2 hex digits, \\u 4, \\U 8 (a valid code point), an octal escape 3 digits"));
                }
            }
            i = end;
            continue;
        }
        // Copy one whole character.
        let ch = src[i..].chars().next().unwrap_or('\u{fffd}');
        out.push(ch);
        i += ch.len_utf8();
    }
    Ok((Tok::Str(out), i - start))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn toks(s: &str) -> Vec<Tok> {
        lex(s).unwrap().into_iter().map(|t| t.tok).collect()
    }

    #[test]
    fn numbers() {
        assert_eq!(toks("12 0x1f 7u"), vec![Tok::Int(12), Tok::Int(31), Tok::Int(7), Tok::Eof]);
        let Tok::Double(v, Some(d)) = &toks("0.1")[0] else { panic!() };
        assert_eq!((*v, d.to_string()), (0.1, "0.1".to_string()));
        assert!(matches!(toks("1e3")[0], Tok::Double(v, _) if v == 1000.0));
        assert_eq!(lex("99999999999999999999").unwrap_err().code, codes::INVALID_LITERAL);
        assert_eq!(lex(".5").unwrap_err().code, codes::SYNTAX);
    }

    #[test]
    fn strings_and_escapes() {
        assert_eq!(
            toks(r#"'a\'b' "x\n\u00e9\x41\101" r'\d'"#)[..3],
            [Tok::Str("a'b".into()), Tok::Str("x\néAA".into()), Tok::Str("\\d".into())]
        );
        assert_eq!(lex("'abc").unwrap_err().code, codes::UNTERMINATED_STRING);
        assert_eq!(lex("'a\nb'").unwrap_err().code, codes::UNTERMINATED_STRING);
        let e = lex(r"'\q'").unwrap_err();
        assert_eq!((e.code, e.span.clone()), (codes::INVALID_ESCAPE, 1..3));
        assert_eq!(lex(r"'\u12'").unwrap_err().code, codes::INVALID_ESCAPE);
        assert_eq!(lex(r"'\uD800'").unwrap_err().code, codes::INVALID_ESCAPE);
        assert_eq!(lex("'ヤマダ'").unwrap()[0].tok, Tok::Str("ヤマダ".into()));
        assert_eq!(lex(r"'\ヤ'").unwrap_err().span, 1..5);
    }

    #[test]
    fn operators_and_comments() {
        assert_eq!(
            toks("a<=b // hi\n&& !c"),
            vec![Tok::Ident("a".into()), Tok::Le, Tok::Ident("b".into()), Tok::AndAnd, Tok::Not, Tok::Ident("c".into()), Tok::Eof]
        );
        let e = lex("a = b").unwrap_err();
        assert_eq!((e.code, e.help.as_deref()), (codes::UNEXPECTED_CHAR, Some("for equality write `==`")));
        assert_eq!(lex("a # b").unwrap_err().span, 2..3);
        assert_eq!(lex("“x”").unwrap_err().span, 0..3);
    }
}
