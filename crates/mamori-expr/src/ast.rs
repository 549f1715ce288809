//! The parsed form of an expression, before types.

use std::ops::Range;

use mamori_core::Decimal;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum UnOp {
    Not,
    Neg,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum BinOp {
    Or,
    And,
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    In,
    Add,
    Sub,
    Mul,
    Div,
    Rem,
}

impl BinOp {
    pub(crate) fn symbol(self) -> &'static str {
        match self {
            BinOp::Or => "||",
            BinOp::And => "&&",
            BinOp::Eq => "==",
            BinOp::Ne => "!=",
            BinOp::Lt => "<",
            BinOp::Le => "<=",
            BinOp::Gt => ">",
            BinOp::Ge => ">=",
            BinOp::In => "in",
            BinOp::Add => "+",
            BinOp::Sub => "-",
            BinOp::Mul => "*",
            BinOp::Div => "/",
            BinOp::Rem => "%",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum ExprKind {
    Int(i64),
    Double(f64, Option<Decimal>),
    Str(String),
    Bool(bool),
    Null,
    Ident(String),
    Member(Box<Expr>, String),
    Call { recv: Option<Box<Expr>>, name: String, name_span: Range<usize>, args: Vec<Expr> },
    List(Vec<Expr>),
    Unary(UnOp, Box<Expr>),
    Binary(BinOp, Box<Expr>, Box<Expr>),
    Cond(Box<Expr>, Box<Expr>, Box<Expr>),
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Expr {
    pub kind: ExprKind,
    pub span: Range<usize>,
    /// 1 for a leaf, else one more than the highest child: bounds every recursion over the tree.
    pub height: u32,
}

impl Expr {
    /// The dotted path this expression spells (`event.holder.name_kana`), if it is one.
    pub(crate) fn as_path(&self) -> Option<Vec<&str>> {
        let mut segs = Vec::new();
        let mut e = self;
        loop {
            match &e.kind {
                ExprKind::Ident(n) => {
                    segs.push(n.as_str());
                    segs.reverse();
                    return Some(segs);
                }
                ExprKind::Member(inner, n) => {
                    segs.push(n.as_str());
                    e = inner;
                }
                _ => return None,
            }
        }
    }
}
