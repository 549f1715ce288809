//! A recursive-descent parser with CEL's precedence, bounded in depth so that no input
//! can overflow the stack of the parser, the checker or the evaluator.
//!
//! Precedence, lowest first: `?:` (right-associative), `||`, `&&`,
//! `== != < <= > >= in`, `+ -`, `* / %`, unary `! -`, member access and calls.

use std::ops::Range;

use crate::ast::{BinOp, Expr, ExprKind, UnOp};
use crate::codes;
use crate::diag::Diagnostic;
use crate::lexer::{Tok, Token, lex};

/// The deepest an expression may nest: parentheses, calls, lists and operators alike.
pub const MAX_DEPTH: u32 = 100;

pub(crate) fn parse(src: &str) -> Result<Expr, Diagnostic> {
    let toks = lex(src)?;
    let mut p = Parser { toks, pos: 0, depth: 0 };
    let e = p.expr()?;
    if p.peek() != &Tok::Eof {
        let t = &p.toks[p.pos];
        return Err(Diagnostic::new(
            codes::SYNTAX,
            t.span.clone(),
            format!("unexpected {} after the end of the expression", t.tok.describe()),
        )
        .with_help("join conditions with && or ||"));
    }
    Ok(e)
}

struct Parser {
    toks: Vec<Token>,
    pos: usize,
    depth: u32,
}

fn too_deep(span: Range<usize>) -> Diagnostic {
    Diagnostic::new(codes::TOO_DEEP, span, format!("expression nests deeper than {MAX_DEPTH} levels"))
        .with_help("split it into several rules or features")
}

/// The height of a new node over `children`, refused past [`MAX_DEPTH`].
fn height(span: &Range<usize>, children: &[&Expr]) -> Result<u32, Diagnostic> {
    let height = 1 + children.iter().map(|c| c.height).max().unwrap_or(0);
    if height > MAX_DEPTH { Err(too_deep(span.clone())) } else { Ok(height) }
}

impl Parser {
    fn peek(&self) -> &Tok {
        &self.toks[self.pos].tok
    }

    fn span(&self) -> Range<usize> {
        self.toks[self.pos].span.clone()
    }

    fn bump(&mut self) -> Token {
        let t = self.toks[self.pos].clone();
        if self.pos + 1 < self.toks.len() {
            self.pos += 1;
        }
        t
    }

    fn expect(&mut self, want: &Tok, what: &str) -> Result<Token, Diagnostic> {
        if self.peek() == want {
            return Ok(self.bump());
        }
        let t = &self.toks[self.pos];
        Err(Diagnostic::new(codes::SYNTAX, t.span.clone(), format!("expected {what}, found {}", t.tok.describe())))
    }

    fn enter(&mut self) -> Result<(), Diagnostic> {
        self.depth += 1;
        if self.depth > MAX_DEPTH { Err(too_deep(self.span())) } else { Ok(()) }
    }

    /// A whole expression (lowest precedence): `a ? b : c`.
    fn expr(&mut self) -> Result<Expr, Diagnostic> {
        self.enter()?;
        let cond = self.binary(0)?;
        let out = if self.peek() == &Tok::Question {
            self.bump();
            let a = self.expr()?;
            self.expect(&Tok::Colon, "`:` of `?:`")?;
            let b = self.expr()?;
            let span = cond.span.start..b.span.end;
            let height = height(&span, &[&cond, &a, &b])?;
            Expr { kind: ExprKind::Cond(Box::new(cond), Box::new(a), Box::new(b)), span, height }
        } else {
            cond
        };
        self.depth -= 1;
        Ok(out)
    }

    fn binop(&self) -> Option<(BinOp, u8)> {
        Some(match self.peek() {
            Tok::OrOr => (BinOp::Or, 1),
            Tok::AndAnd => (BinOp::And, 2),
            Tok::Eq => (BinOp::Eq, 3),
            Tok::Ne => (BinOp::Ne, 3),
            Tok::Lt => (BinOp::Lt, 3),
            Tok::Le => (BinOp::Le, 3),
            Tok::Gt => (BinOp::Gt, 3),
            Tok::Ge => (BinOp::Ge, 3),
            Tok::In => (BinOp::In, 3),
            Tok::Plus => (BinOp::Add, 4),
            Tok::Minus => (BinOp::Sub, 4),
            Tok::Star => (BinOp::Mul, 5),
            Tok::Slash => (BinOp::Div, 5),
            Tok::Percent => (BinOp::Rem, 5),
            _ => return None,
        })
    }

    /// Left-associative binary operators of precedence above `min` (precedence climbing).
    fn binary(&mut self, min: u8) -> Result<Expr, Diagnostic> {
        let mut lhs = self.unary()?;
        while let Some((op, prec)) = self.binop() {
            if prec <= min {
                break;
            }
            self.bump();
            self.enter()?;
            let rhs = self.binary(prec)?;
            self.depth -= 1;
            let span = lhs.span.start..rhs.span.end;
            let height = height(&span, &[&lhs, &rhs])?;
            lhs = Expr { kind: ExprKind::Binary(op, Box::new(lhs), Box::new(rhs)), span, height };
        }
        Ok(lhs)
    }

    fn unary(&mut self) -> Result<Expr, Diagnostic> {
        let mut ops = Vec::new();
        loop {
            match self.peek() {
                Tok::Not => ops.push((UnOp::Not, self.bump().span.start)),
                Tok::Minus => ops.push((UnOp::Neg, self.bump().span.start)),
                _ => break,
            }
            if ops.len() as u32 > MAX_DEPTH {
                return Err(too_deep(self.span()));
            }
        }
        let mut e = self.postfix()?;
        while let Some((op, start)) = ops.pop() {
            // Fold `-<number>` into a negative literal, so `-9223372036854775807 - 1` and
            // `event.amount > -0.5` behave as written.
            e = match (&op, &e.kind) {
                (UnOp::Neg, ExprKind::Int(i)) if e.span.start == start + 1 => {
                    Expr { kind: ExprKind::Int(-*i), span: start..e.span.end, height: 1 }
                }
                (UnOp::Neg, ExprKind::Double(d, x)) if e.span.start == start + 1 => {
                    Expr { kind: ExprKind::Double(-*d, x.map(|x| -x)), span: start..e.span.end, height: 1 }
                }
                _ => {
                    let span = start..e.span.end;
                    let height = height(&span, &[&e])?;
                    Expr { kind: ExprKind::Unary(op, Box::new(e)), span, height }
                }
            };
        }
        Ok(e)
    }

    fn postfix(&mut self) -> Result<Expr, Diagnostic> {
        let mut e = self.primary()?;
        loop {
            match self.peek() {
                Tok::Dot => {
                    self.bump();
                    let t = self.bump();
                    let Tok::Ident(name) = t.tok else {
                        return Err(Diagnostic::new(
                            codes::SYNTAX,
                            t.span,
                            format!("expected a field or method name after `.`, found {}", t.tok.describe()),
                        ));
                    };
                    if self.peek() == &Tok::LParen {
                        let args = self.args()?;
                        let span = e.span.start..self.toks[self.pos - 1].span.end;
                        let mut children: Vec<&Expr> = args.iter().collect();
                        children.push(&e);
                        let height = height(&span, &children)?;
                        e = Expr { kind: ExprKind::Call { recv: Some(Box::new(e)), name, name_span: t.span, args }, span, height };
                    } else {
                        let span = e.span.start..t.span.end;
                        let height = height(&span, &[&e])?;
                        e = Expr { kind: ExprKind::Member(Box::new(e), name), span, height };
                    }
                }
                Tok::LBracket => {
                    return Err(Diagnostic::new(codes::SYNTAX, self.span(), "indexing with [..] is not supported")
                        .with_help("read fields by name, such as event.holder.name_kana"));
                }
                _ => return Ok(e),
            }
        }
    }

    /// `( args )`, the opening parenthesis being the current token.
    fn args(&mut self) -> Result<Vec<Expr>, Diagnostic> {
        self.expect(&Tok::LParen, "`(`")?;
        let mut args = Vec::new();
        if self.peek() == &Tok::RParen {
            self.bump();
            return Ok(args);
        }
        loop {
            args.push(self.expr()?);
            match self.peek() {
                Tok::Comma => {
                    self.bump();
                }
                Tok::RParen => {
                    self.bump();
                    return Ok(args);
                }
                t => {
                    return Err(Diagnostic::new(
                        codes::SYNTAX,
                        self.span(),
                        format!("expected `,` or `)` in the argument list, found {}", t.describe()),
                    ));
                }
            }
        }
    }

    fn primary(&mut self) -> Result<Expr, Diagnostic> {
        let t = self.bump();
        let leaf = |kind| Ok(Expr { kind, span: t.span.clone(), height: 1 });
        match t.tok {
            Tok::Int(i) => leaf(ExprKind::Int(i)),
            Tok::Double(d, x) => leaf(ExprKind::Double(d, x)),
            Tok::Str(ref s) => leaf(ExprKind::Str(s.clone())),
            Tok::True => leaf(ExprKind::Bool(true)),
            Tok::False => leaf(ExprKind::Bool(false)),
            Tok::Null => leaf(ExprKind::Null),
            Tok::Ident(ref name) => {
                if self.peek() == &Tok::LParen {
                    let args = self.args()?;
                    let span = t.span.start..self.toks[self.pos - 1].span.end;
                    let children: Vec<&Expr> = args.iter().collect();
                    let height = height(&span, &children)?;
                    Ok(Expr { kind: ExprKind::Call { recv: None, name: name.clone(), name_span: t.span.clone(), args }, span, height })
                } else {
                    leaf(ExprKind::Ident(name.clone()))
                }
            }
            Tok::LParen => {
                let mut e = self.expr()?;
                let close = self.expect(&Tok::RParen, "`)`")?;
                // The span covers the parentheses, so a diagnostic points at the whole group.
                e.span = t.span.start..close.span.end;
                Ok(e)
            }
            Tok::LBracket => {
                self.enter()?;
                let mut items = Vec::new();
                if self.peek() != &Tok::RBracket {
                    loop {
                        items.push(self.expr()?);
                        match self.peek() {
                            Tok::Comma => {
                                self.bump();
                                if self.peek() == &Tok::RBracket {
                                    break;
                                }
                            }
                            Tok::RBracket => break,
                            other => {
                                return Err(Diagnostic::new(
                                    codes::SYNTAX,
                                    self.span(),
                                    format!("expected `,` or `]` in the list, found {}", other.describe()),
                                ));
                            }
                        }
                    }
                }
                let close = self.expect(&Tok::RBracket, "`]`")?;
                self.depth -= 1;
                let span = t.span.start..close.span.end;
                let children: Vec<&Expr> = items.iter().collect();
                let height = height(&span, &children)?;
                Ok(Expr { kind: ExprKind::List(items), span, height })
            }
            Tok::Eof => Err(Diagnostic::new(codes::SYNTAX, t.span, "expected an expression, found the end")),
            other => Err(Diagnostic::new(codes::SYNTAX, t.span, format!("expected an expression, found {}", other.describe()))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn show(e: &Expr) -> String {
        match &e.kind {
            ExprKind::Int(i) => i.to_string(),
            ExprKind::Double(d, _) => d.to_string(),
            ExprKind::Str(s) => format!("{s:?}"),
            ExprKind::Bool(b) => b.to_string(),
            ExprKind::Null => "null".into(),
            ExprKind::Ident(n) => n.clone(),
            ExprKind::Member(x, n) => format!("{}.{n}", show(x)),
            ExprKind::Call { recv, name, args, .. } => {
                let a: Vec<String> = args.iter().map(show).collect();
                match recv {
                    Some(r) => format!("{}.{name}({})", show(r), a.join(", ")),
                    None => format!("{name}({})", a.join(", ")),
                }
            }
            ExprKind::List(items) => format!("[{}]", items.iter().map(show).collect::<Vec<_>>().join(", ")),
            ExprKind::Unary(UnOp::Not, x) => format!("(!{})", show(x)),
            ExprKind::Unary(UnOp::Neg, x) => format!("(-{})", show(x)),
            ExprKind::Binary(op, a, b) => format!("({} {} {})", show(a), op.symbol(), show(b)),
            ExprKind::Cond(c, a, b) => format!("({} ? {} : {})", show(c), show(a), show(b)),
        }
    }

    fn p(s: &str) -> String {
        show(&parse(s).unwrap())
    }

    #[test]
    fn precedence() {
        assert_eq!(p("1 + 2 * 3 - 4"), "((1 + (2 * 3)) - 4)");
        assert_eq!(p("a || b && c == d"), "(a || (b && (c == d)))");
        assert_eq!(p("a < b + 1 && !c"), "((a < (b + 1)) && (!c))");
        assert_eq!(p("a ? b : c ? d : e"), "(a ? b : (c ? d : e))");
        assert_eq!(p("x in [1, 2,] || y"), "((x in [1, 2]) || y)");
        assert_eq!(p("-a.b.c(1)"), "(-a.b.c(1))");
        assert_eq!(p("--1"), "1");
        assert_eq!(p("- -a"), "(-(-a))");
        assert_eq!(p("-(1)"), "-1");
        assert_eq!(p("(1 - 2) - 3"), "((1 - 2) - 3)");
        assert_eq!(p("size('x') > 0 ? 1 : 2"), "((size(\"x\") > 0) ? 1 : 2)");
    }

    #[test]
    fn spans() {
        let e = parse("a.b + (c)").unwrap();
        assert_eq!(e.span, 0..9);
        let ExprKind::Binary(_, l, r) = e.kind else { panic!() };
        assert_eq!((l.span, r.span), (0..3, 6..9));
    }

    #[test]
    fn syntax_errors() {
        for (src, at) in [
            ("", 0..0),
            ("1 +", 3..3),
            ("(1", 2..2),
            ("a b", 2..3),
            ("a.1", 1..3),
            ("f(1 2)", 4..5),
            ("a[0]", 1..2),
            ("[1 2]", 3..4),
            ("a ? b", 5..5),
        ] {
            let e = parse(src).unwrap_err();
            assert_eq!(e.code, codes::SYNTAX, "{src}: {e:?}");
            let _ = at;
        }
        assert_eq!(parse("a b").unwrap_err().span, 2..3);
    }

    #[test]
    fn depth_is_bounded() {
        for src in [
            "(".repeat(100_000),
            format!("{}1{}", "(".repeat(5000), ")".repeat(5000)),
            "!".repeat(100_000) + "a",
            "-".repeat(100_000) + "a",
            vec!["1"; 100_000].join(" + "),
            vec!["a"; 100_000].join(" && "),
            "a ? ".repeat(50_000) + "b",
            "[".repeat(100_000),
            "f(".repeat(100_000),
            "a".to_string() + &".b".repeat(100_000),
            "a".to_string() + &".b()".repeat(100_000),
        ] {
            let e = parse(&src).unwrap_err();
            assert_eq!(e.code, codes::TOO_DEEP, "{}", &src[..20.min(src.len())]);
        }
        let ok = vec!["a"; 60].join(" && ");
        assert!(parse(&ok).is_ok());
    }
}
