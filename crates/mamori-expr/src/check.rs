//! Type checking and lowering: one pass over the parsed tree that resolves every path
//! through the [`Schema`], checks operand types, reports every mistake it finds, and
//! builds the compiled [`Node`] tree (folding constant parts).

use std::collections::HashSet;
use std::ops::Range;
use std::sync::Arc;

use mamori_core::record::closest;
use mamori_core::{Decimal, OwnedValue, Resolution, Schema, Span, Timestamp, Type};

use crate::ast::{BinOp, Expr, ExprKind, UnOp};
use crate::codes;
use crate::diag::Diagnostic;
use crate::eval::{ArithOp, CmpOp, Conv, NoRecord, Node, StrOp, parse_decimal};

/// Above this many string constants, `x in [...]` uses a hash set.
const SET_THRESHOLD: usize = 8;
/// The largest compiled regular expression (bytes), so a pattern cannot eat memory.
const REGEX_SIZE_LIMIT: usize = 1 << 20;

const FUNCTIONS: &[&str] = &["has", "duration", "timestamp", "size", "int", "double", "decimal", "string", "min", "max", "abs", "matches"];
const METHODS: &[&str] = &[
    "startsWith",
    "endsWith",
    "contains",
    "matches",
    "size",
    "days",
    "hours",
    "minutes",
    "seconds",
    "milliseconds",
    "getFullYear",
    "getMonth",
    "getDate",
    "getDayOfMonth",
    "getDayOfWeek",
    "getDayOfYear",
    "getHours",
    "getMinutes",
    "getSeconds",
    "getMilliseconds",
];

/// A checked sub-expression.
pub(crate) struct C {
    pub ty: Type,
    pub node: Node,
    /// For a fractional literal (`100.5`): its exact decimal value, so that next to a
    /// decimal it is read as a decimal and money stays exact.
    exact: Option<Decimal>,
}

impl C {
    fn new(ty: Type, node: Node) -> C {
        C { ty, node, exact: None }
    }

    /// The result of a sub-expression that had an error: `dyn` is accepted everywhere,
    /// so one mistake is reported once.
    fn poisoned() -> C {
        C::new(Type::Dyn, Node::Const(OwnedValue::Null))
    }

    fn konst(ty: Type, v: OwnedValue) -> C {
        C::new(ty, Node::Const(v))
    }
}

fn is_bool(t: &Type) -> bool {
    matches!(t, Type::Bool | Type::Dyn)
}

fn is_num(t: &Type) -> bool {
    t.is_numeric()
}

/// Whether `==` between these types can ever be true.
fn eq_compatible(a: &Type, b: &Type) -> bool {
    match (a, b) {
        (Type::Dyn, t) | (t, Type::Dyn) => !matches!(t, Type::Null),
        _ if is_num(a) && is_num(b) => true,
        (Type::Bool, Type::Bool) | (Type::String, Type::String) | (Type::Timestamp, Type::Timestamp) | (Type::Duration, Type::Duration) => {
            true
        }
        _ => false,
    }
}

/// Whether `<` and friends apply to these types.
fn ord_compatible(a: &Type, b: &Type) -> bool {
    let orderable = |t: &Type| is_num(t) || matches!(t, Type::String | Type::Timestamp | Type::Duration | Type::Dyn);
    match (a, b) {
        (Type::Dyn, t) | (t, Type::Dyn) => orderable(t),
        _ if is_num(a) && is_num(b) => true,
        (Type::String, Type::String) | (Type::Timestamp, Type::Timestamp) | (Type::Duration, Type::Duration) => true,
        _ => false,
    }
}

/// The numeric type two numbers mix to: int with int stays int, a double makes a double,
/// otherwise decimal (exact).
fn num_join(a: &Type, b: &Type) -> Type {
    match (a, b) {
        (Type::Int, Type::Int) => Type::Int,
        (Type::Double, _) | (_, Type::Double) => Type::Double,
        _ => Type::Decimal,
    }
}

fn arith_type(op: BinOp, a: &Type, b: &Type) -> Option<Type> {
    use Type as T;
    let arithmetic = |t: &Type| is_num(t) || matches!(t, T::String | T::Timestamp | T::Duration | T::Dyn);
    match (a, b) {
        (T::Dyn, t) | (t, T::Dyn) if arithmetic(t) => Some(T::Dyn),
        _ if is_num(a) && is_num(b) => Some(num_join(a, b)),
        (T::String, T::String) if op == BinOp::Add => Some(T::String),
        (T::Timestamp, T::Timestamp) if op == BinOp::Sub => Some(T::Duration),
        (T::Timestamp, T::Duration) if matches!(op, BinOp::Add | BinOp::Sub) => Some(T::Timestamp),
        (T::Duration, T::Timestamp) if op == BinOp::Add => Some(T::Timestamp),
        (T::Duration, T::Duration) if matches!(op, BinOp::Add | BinOp::Sub) => Some(T::Duration),
        _ => None,
    }
}

/// Next to a decimal, a fractional literal is read as the exact decimal it spells; an
/// integer constant next to a decimal or a double is converted once, here, rather than
/// at every evaluation.
fn coerce_literal(c: &mut C, other: &Type) {
    let k = match (other, &c.node, c.exact) {
        (Type::Decimal, _, Some(x)) => OwnedValue::Decimal(x),
        (Type::Decimal, Node::Const(OwnedValue::Int(i)), _) => OwnedValue::Decimal(Decimal::from(*i)),
        (Type::Double, Node::Const(OwnedValue::Int(i)), _) => OwnedValue::Double(*i as f64),
        _ => return,
    };
    c.exact = None;
    c.ty = other.clone();
    c.node = Node::Const(k);
}

fn coerce_pair(a: &mut C, b: &mut C) {
    let (ta, tb) = (a.ty.clone(), b.ty.clone());
    coerce_literal(a, &tb);
    coerce_literal(b, &ta);
}

/// Converts a number to the numeric type `to` (for `?:` branches and `min`/`max`).
fn promote(c: C, to: &Type) -> C {
    if c.ty == *to || !is_num(&c.ty) || !is_num(to) {
        return c;
    }
    let conv = match to {
        Type::Double => Conv::Double,
        Type::Decimal => Conv::Decimal,
        _ => return c,
    };
    C::new(to.clone(), fold(Node::Conv(conv, Box::new(c.node))))
}

/// Replaces a node whose inputs are all constants by its value.
fn fold(node: Node) -> Node {
    if let Node::Cond(xs) = node {
        if !xs[0].is_const() {
            return Node::Cond(xs);
        }
        let [c, a, b] = *xs;
        return if c.test(&NoRecord) == Some(true) { a } else { b };
    }
    let all_const = match &node {
        Node::Not(x)
        | Node::Neg(x)
        | Node::Size(x)
        | Node::DurPart(x, _)
        | Node::TimePart(x, _, _)
        | Node::Conv(_, x)
        | Node::Abs(x)
        | Node::IsNull { x, .. } => x.is_const(),
        Node::Cmp(_, xs) | Node::Arith(_, xs) | Node::Str(_, xs) => xs.iter().all(Node::is_const),
        Node::MinMax { args, .. } => args.iter().all(Node::is_const),
        _ => false,
    };
    if !all_const {
        return node;
    }
    let v = node.eval(&NoRecord).to_owned_value();
    Node::Const(v)
}

/// A comparison node: a field against a constant (the commonest condition) gets a node
/// of its own; constant operands are folded.
fn comparison(op: CmpOp, a: Node, b: Node) -> Node {
    match (a, b) {
        (Node::Field(field), Node::Const(k)) => Node::CmpField { op, field, k },
        (Node::Const(k), Node::Field(field)) => Node::CmpField { op: op.flip(), field, k },
        (a, b) => fold(Node::Cmp(op, Box::new([a, b]))),
    }
}

pub(crate) struct Checker<'s> {
    schema: &'s dyn Schema,
    pub diags: Vec<Diagnostic>,
}

impl<'s> Checker<'s> {
    pub(crate) fn new(schema: &'s dyn Schema) -> Self {
        Checker { schema, diags: Vec::new() }
    }

    fn error(&mut self, code: &'static str, span: Range<usize>, message: impl Into<String>, help: Option<String>) -> C {
        let mut d = Diagnostic::new(code, span, message);
        d.help = help;
        self.diags.push(d);
        C::poisoned()
    }

    pub(crate) fn check(&mut self, e: &Expr) -> C {
        match &e.kind {
            ExprKind::Int(i) => C::konst(Type::Int, OwnedValue::Int(*i)),
            ExprKind::Double(d, x) => C { ty: Type::Double, node: Node::Const(OwnedValue::Double(*d)), exact: *x },
            ExprKind::Str(s) => C::konst(Type::String, OwnedValue::Str(Arc::from(s.as_str()))),
            ExprKind::Bool(b) => C::konst(Type::Bool, OwnedValue::Bool(*b)),
            ExprKind::Null => C::konst(Type::Null, OwnedValue::Null),
            ExprKind::Ident(_) | ExprKind::Member(..) => self.path(e),
            ExprKind::Call { recv, name, name_span, args } => self.call(e, recv.as_deref(), name, name_span.clone(), args),
            ExprKind::List(_) => self.error(
                codes::LIST_OUTSIDE_IN,
                e.span.clone(),
                "a list can only stand on the right of `in`",
                Some("write x in [\"a\", \"b\"]".into()),
            ),
            ExprKind::Unary(op, x) => self.unary(e, *op, x),
            ExprKind::Binary(op, a, b) => self.binary(e, *op, a, b),
            ExprKind::Cond(c, a, b) => self.cond(c, a, b),
        }
    }

    /// Help for an unknown path: the schema's suggestion, else a known path that ends
    /// with what was written (`amount` → `event.amount`).
    fn unknown_help(&self, wanted: &str, suggestion: Option<String>) -> Option<String> {
        let s = suggestion.or_else(|| {
            let tail = format!(".{wanted}");
            self.schema.fields().into_iter().map(|(p, _)| p).filter(|p| p.ends_with(&tail)).min_by_key(|p| p.len())
        })?;
        Some(format!("did you mean `{s}`?"))
    }

    fn fields_below(&self, prefix: &str) -> Vec<String> {
        let prefix = format!("{prefix}.");
        self.schema.fields().into_iter().map(|(p, _)| p).filter(|p| p.starts_with(&prefix)).collect()
    }

    fn path(&mut self, e: &Expr) -> C {
        let Some(path) = e.as_path() else {
            if let ExprKind::Member(inner, name) = &e.kind {
                let _ = self.check(inner);
                return self.error(
                    codes::OPERATOR_TYPES,
                    e.span.clone(),
                    format!("`.{name}` can only follow a field path such as `event.holder`"),
                    None,
                );
            }
            return C::poisoned();
        };
        let wanted = path.join(".");
        match self.schema.resolve(&path) {
            Resolution::Field(id, ty) => C::new(ty, Node::Field(id)),
            Resolution::Object => {
                let below = self.fields_below(&wanted);
                let help = if below.is_empty() {
                    None
                } else {
                    let shown: Vec<String> = below.iter().take(4).map(|p| format!("`{p}`")).collect();
                    Some(format!("name one of its fields: {}{}", shown.join(", "), if below.len() > 4 { ", ..." } else { "" }))
                };
                self.error(codes::OBJECT_AS_VALUE, e.span.clone(), format!("`{wanted}` is an object, not a value"), help)
            }
            Resolution::Unknown { suggestion } => {
                let help = self.unknown_help(&wanted, suggestion);
                self.error(codes::UNKNOWN_FIELD, e.span.clone(), format!("unknown field `{wanted}`"), help)
            }
        }
    }

    fn unary(&mut self, e: &Expr, op: UnOp, x: &Expr) -> C {
        let x = self.check(x);
        match op {
            UnOp::Not => {
                if !is_bool(&x.ty) {
                    return self.error(codes::OPERATOR_TYPES, e.span.clone(), format!("`!` needs a bool, found {}", x.ty), None);
                }
                C::new(Type::Bool, fold(Node::Not(Box::new(x.node))))
            }
            UnOp::Neg => {
                if !(is_num(&x.ty) || matches!(x.ty, Type::Duration | Type::Dyn)) {
                    return self.error(
                        codes::OPERATOR_TYPES,
                        e.span.clone(),
                        format!("`-` needs a number or a duration, found {}", x.ty),
                        None,
                    );
                }
                C { ty: x.ty, node: fold(Node::Neg(Box::new(x.node))), exact: x.exact.map(|d| -d) }
            }
        }
    }

    fn binary(&mut self, e: &Expr, op: BinOp, a: &Expr, b: &Expr) -> C {
        if op == BinOp::In {
            return self.in_(e, a, b);
        }
        let mut ca = self.check(a);
        let mut cb = self.check(b);
        let sym = op.symbol();
        match op {
            BinOp::And | BinOp::Or => {
                for (c, side, x) in [(&ca, "left", a), (&cb, "right", b)] {
                    if !is_bool(&c.ty) {
                        self.error(
                            codes::NOT_BOOL,
                            x.span.clone(),
                            format!("`{sym}` needs bool operands; the {side} side is {}", c.ty),
                            comparison_help(&c.ty),
                        );
                    }
                }
                let mut items = Vec::new();
                for c in [ca, cb] {
                    match c.node {
                        Node::And(xs) if op == BinOp::And => items.extend(xs),
                        Node::Or(xs) if op == BinOp::Or => items.extend(xs),
                        n => items.push(n),
                    }
                }
                let node = if op == BinOp::And { Node::And(items.into()) } else { Node::Or(items.into()) };
                C::new(Type::Bool, node)
            }
            BinOp::Eq | BinOp::Ne => {
                let negate = op == BinOp::Ne;
                match (&ca.ty, &cb.ty) {
                    (Type::Null, Type::Null) => return C::konst(Type::Bool, OwnedValue::Bool(!negate)),
                    (Type::Null, _) => return C::new(Type::Bool, fold(Node::IsNull { x: Box::new(cb.node), negate })),
                    (_, Type::Null) => return C::new(Type::Bool, fold(Node::IsNull { x: Box::new(ca.node), negate })),
                    _ => {}
                }
                coerce_pair(&mut ca, &mut cb);
                if !eq_compatible(&ca.ty, &cb.ty) {
                    return self.error(
                        codes::OPERATOR_TYPES,
                        e.span.clone(),
                        format!("cannot compare {} with {} using `{sym}`", ca.ty, cb.ty),
                        conversion_help(&ca.ty, &cb.ty),
                    );
                }
                let cop = if negate { CmpOp::Ne } else { CmpOp::Eq };
                C::new(Type::Bool, comparison(cop, ca.node, cb.node))
            }
            BinOp::Lt | BinOp::Le | BinOp::Gt | BinOp::Ge => {
                if ca.ty == Type::Null || cb.ty == Type::Null {
                    return self.error(
                        codes::NULL_ORDERING,
                        e.span.clone(),
                        format!("`{sym}` with null is never true"),
                        Some("test for a missing value with `x == null` or `has(x)`".into()),
                    );
                }
                coerce_pair(&mut ca, &mut cb);
                if !ord_compatible(&ca.ty, &cb.ty) {
                    return self.error(
                        codes::OPERATOR_TYPES,
                        e.span.clone(),
                        format!("cannot compare {} with {} using `{sym}`", ca.ty, cb.ty),
                        conversion_help(&ca.ty, &cb.ty),
                    );
                }
                let cop = match op {
                    BinOp::Lt => CmpOp::Lt,
                    BinOp::Le => CmpOp::Le,
                    BinOp::Gt => CmpOp::Gt,
                    _ => CmpOp::Ge,
                };
                C::new(Type::Bool, comparison(cop, ca.node, cb.node))
            }
            _ => {
                coerce_pair(&mut ca, &mut cb);
                let Some(ty) = arith_type(op, &ca.ty, &cb.ty) else {
                    return self.error(
                        codes::OPERATOR_TYPES,
                        e.span.clone(),
                        format!("cannot apply `{sym}` to {} and {}", ca.ty, cb.ty),
                        conversion_help(&ca.ty, &cb.ty),
                    );
                };
                let aop = match op {
                    BinOp::Add => ArithOp::Add,
                    BinOp::Sub => ArithOp::Sub,
                    BinOp::Mul => ArithOp::Mul,
                    BinOp::Div => ArithOp::Div,
                    _ => ArithOp::Rem,
                };
                C::new(ty, fold(Node::Arith(aop, Box::new([ca.node, cb.node]))))
            }
        }
    }

    fn in_(&mut self, e: &Expr, a: &Expr, b: &Expr) -> C {
        let x = self.check(a);
        if let ExprKind::List(items) = &b.kind {
            let mut nodes = Vec::with_capacity(items.len());
            for item in items {
                let mut c = self.check(item);
                coerce_literal(&mut c, &x.ty);
                if !eq_compatible(&x.ty, &c.ty) {
                    self.error(
                        codes::LIST_ELEMENT_TYPE,
                        item.span.clone(),
                        format!("a list element of type {} can never equal the {} on the left of `in`", c.ty, x.ty),
                        None,
                    );
                }
                nodes.push(c.node);
            }
            if nodes.iter().all(Node::is_const) {
                let consts: Vec<OwnedValue> =
                    nodes.into_iter().map(|n| if let Node::Const(k) = n { k } else { OwnedValue::Null }).collect();
                if consts.len() > SET_THRESHOLD && consts.iter().all(|k| matches!(k, OwnedValue::Str(_))) {
                    let set: HashSet<Box<str>> =
                        consts.iter().map(|k| if let OwnedValue::Str(s) = k { Box::from(&**s) } else { Box::from("") }).collect();
                    return C::new(Type::Bool, Node::InStrSet(Box::new(x.node), Box::new(set)));
                }
                let lhs_const = x.node.is_const();
                let ints: Vec<i64> = consts.iter().filter_map(|k| if let OwnedValue::Int(i) = k { Some(*i) } else { None }).collect();
                let node = if ints.len() == consts.len() {
                    Node::InInts(Box::new(x.node), ints.into())
                } else {
                    Node::InConst(Box::new(x.node), consts.into())
                };
                let node = if lhs_const { Node::Const(node.eval(&NoRecord).to_owned_value()) } else { node };
                return C::new(Type::Bool, node);
            }
            return C::new(Type::Bool, Node::InList(Box::new(x.node), nodes.into()));
        }
        let l = self.check(b);
        match &l.ty {
            Type::List(inner) if eq_compatible(&x.ty, inner) => {}
            Type::List(inner) => {
                return self.error(codes::OPERATOR_TYPES, e.span.clone(), format!("a {} can never be in a list of {inner}", x.ty), None);
            }
            Type::Dyn => {}
            t => {
                return self.error(
                    codes::OPERATOR_TYPES,
                    b.span.clone(),
                    format!("`in` needs a list on its right, found {t}"),
                    Some("write x in [\"a\", \"b\"]".into()),
                );
            }
        }
        C::new(Type::Bool, Node::InValue(Box::new([x.node, l.node])))
    }

    fn cond(&mut self, c: &Expr, a: &Expr, b: &Expr) -> C {
        let cc = self.check(c);
        if !is_bool(&cc.ty) {
            self.error(
                codes::NOT_BOOL,
                c.span.clone(),
                format!("the condition of `?:` must be a bool, found {}", cc.ty),
                comparison_help(&cc.ty),
            );
        }
        let mut ca = self.check(a);
        let mut cb = self.check(b);
        coerce_pair(&mut ca, &mut cb);
        let ty = match (&ca.ty, &cb.ty) {
            (x, y) if x == y => x.clone(),
            (Type::Null, t) | (t, Type::Null) => t.clone(),
            (Type::Dyn, _) | (_, Type::Dyn) => Type::Dyn,
            (x, y) if is_num(x) && is_num(y) => num_join(x, y),
            (x, y) => {
                return self.error(
                    codes::BRANCH_TYPES,
                    a.span.start..b.span.end,
                    format!("the branches of `?:` have different types: {x} and {y}"),
                    Some("convert one branch, for example with string(x) or decimal(x)".into()),
                );
            }
        };
        let (ca, cb) = (promote(ca, &ty), promote(cb, &ty));
        C::new(ty, fold(Node::Cond(Box::new([cc.node, ca.node, cb.node]))))
    }

    fn arg_count(&mut self, e: &Expr, name: &str, args: &[Expr], want: usize) -> bool {
        if args.len() == want {
            return true;
        }
        let s = if want == 1 { "" } else { "s" };
        self.error(codes::ARGUMENT_COUNT, e.span.clone(), format!("`{name}` takes {want} argument{s}, found {}", args.len()), None);
        false
    }

    fn literal_str<'e>(&mut self, name: &str, arg: &'e Expr, example: &str) -> Option<&'e str> {
        if let ExprKind::Str(s) = &arg.kind {
            return Some(s);
        }
        self.error(codes::LITERAL_REQUIRED, arg.span.clone(), format!("`{name}` takes a literal string, such as {example}"), None);
        None
    }

    fn call(&mut self, e: &Expr, recv: Option<&Expr>, name: &str, name_span: Range<usize>, args: &[Expr]) -> C {
        match recv {
            Some(r) => self.method(e, r, name, name_span, args),
            None => self.function(e, name, name_span, args),
        }
    }

    fn function(&mut self, e: &Expr, name: &str, name_span: Range<usize>, args: &[Expr]) -> C {
        match name {
            "has" => {
                if !self.arg_count(e, name, args, 1) {
                    return C::poisoned();
                }
                let Some(path) = args[0].as_path() else {
                    return self.error(
                        codes::HAS_NEEDS_FIELD,
                        args[0].span.clone(),
                        "`has` takes a field path, such as has(event.holder.name_kana)",
                        None,
                    );
                };
                let wanted = path.join(".");
                match self.schema.resolve(&path) {
                    Resolution::Field(id, _) => C::new(Type::Bool, Node::IsNull { x: Box::new(Node::Field(id)), negate: true }),
                    Resolution::Object => {
                        let ids: Vec<_> = self
                            .fields_below(&wanted)
                            .iter()
                            .filter_map(|p| match self.schema.resolve(&p.split('.').collect::<Vec<_>>()) {
                                Resolution::Field(id, _) => Some(id),
                                _ => None,
                            })
                            .collect();
                        C::new(Type::Bool, Node::HasAny(ids.into()))
                    }
                    Resolution::Unknown { suggestion } => {
                        let help = self.unknown_help(&wanted, suggestion);
                        self.error(codes::UNKNOWN_FIELD, args[0].span.clone(), format!("unknown field `{wanted}`"), help)
                    }
                }
            }
            "duration" => {
                if !self.arg_count(e, name, args, 1) {
                    return C::poisoned();
                }
                let Some(s) = self.literal_str(name, &args[0], "duration(\"10m\")") else { return C::poisoned() };
                match Span::parse(s) {
                    Ok(d) => C::konst(Type::Duration, OwnedValue::Duration(d)),
                    Err(err) => self.error(codes::INVALID_LITERAL, args[0].span.clone(), err.to_string(), None),
                }
            }
            "timestamp" => {
                if !self.arg_count(e, name, args, 1) {
                    return C::poisoned();
                }
                // A literal is parsed now (a bad one is refused at load time); anything else
                // at run time: RFC 3339, or a date alone as midnight UTC, null otherwise.
                if let ExprKind::Str(s) = &args[0].kind {
                    return match Timestamp::parse_rfc3339(s) {
                        Ok(t) => C::konst(Type::Timestamp, OwnedValue::Timestamp(t)),
                        Err(err) => self.error(codes::INVALID_LITERAL, args[0].span.clone(), err.to_string(), None),
                    };
                }
                let x = self.check(&args[0]);
                if !matches!(x.ty, Type::String | Type::Timestamp | Type::Dyn) {
                    return self.error(codes::ARGUMENT_TYPE, args[0].span.clone(), format!("cannot convert {} to timestamp", x.ty), None);
                }
                C::new(Type::Timestamp, fold(Node::Conv(Conv::Timestamp, Box::new(x.node))))
            }
            "size" => {
                if !self.arg_count(e, name, args, 1) {
                    return C::poisoned();
                }
                let x = self.check(&args[0]);
                self.size(x, &args[0].span)
            }
            "int" | "double" | "decimal" | "string" => {
                if !self.arg_count(e, name, args, 1) {
                    return C::poisoned();
                }
                self.conversion(name, &args[0])
            }
            "min" | "max" => {
                if args.len() < 2 {
                    return self.error(
                        codes::ARGUMENT_COUNT,
                        e.span.clone(),
                        format!("`{name}` takes two or more arguments, found {}", args.len()),
                        None,
                    );
                }
                let mut cs: Vec<C> = args.iter().map(|a| self.check(a)).collect();
                if cs.iter().any(|c| c.ty == Type::Decimal) {
                    cs.iter_mut().for_each(|c| coerce_literal(c, &Type::Decimal));
                }
                let mut ty = cs[0].ty.clone();
                for (c, a) in cs.iter().zip(args).skip(1) {
                    ty = match (&ty, &c.ty) {
                        (x, y) if x == y && ord_compatible(x, y) => ty,
                        (Type::Dyn, y) | (y, Type::Dyn) if ord_compatible(y, &Type::Dyn) => Type::Dyn,
                        (x, y) if is_num(x) && is_num(y) => num_join(x, y),
                        (x, y) => {
                            return self.error(
                                codes::ARGUMENT_TYPE,
                                a.span.clone(),
                                format!("`{name}` needs arguments of one comparable type; found {x} and {y}"),
                                None,
                            );
                        }
                    };
                }
                if !ord_compatible(&ty, &ty) {
                    return self.error(codes::ARGUMENT_TYPE, e.span.clone(), format!("`{name}` cannot order values of type {ty}"), None);
                }
                let nodes: Vec<Node> = cs.into_iter().map(|c| promote(c, &ty).node).collect();
                C::new(ty, fold(Node::MinMax { max: name == "max", args: nodes.into() }))
            }
            "abs" => {
                if !self.arg_count(e, name, args, 1) {
                    return C::poisoned();
                }
                let x = self.check(&args[0]);
                if !(is_num(&x.ty) || matches!(x.ty, Type::Duration | Type::Dyn)) {
                    return self.error(
                        codes::ARGUMENT_TYPE,
                        args[0].span.clone(),
                        format!("`abs` takes a number or a duration, found {}", x.ty),
                        None,
                    );
                }
                C::new(x.ty, fold(Node::Abs(Box::new(x.node))))
            }
            "matches" => {
                if !self.arg_count(e, name, args, 2) {
                    return C::poisoned();
                }
                let x = self.check(&args[0]);
                self.matches(x, &args[0].span, &args[1])
            }
            m if METHODS.contains(&m) => self.error(
                codes::UNKNOWN_FUNCTION,
                name_span,
                format!("`{m}` is a method"),
                Some(format!("call it on its receiver, such as event.holder.name_kana.{m}(...)")),
            ),
            _ => {
                let help = closest(name, FUNCTIONS.iter().chain(METHODS).copied()).map(|s| format!("did you mean `{s}`?"));
                self.error(codes::UNKNOWN_FUNCTION, name_span, format!("unknown function `{name}`"), help)
            }
        }
    }

    fn size(&mut self, x: C, span: &Range<usize>) -> C {
        if !matches!(x.ty, Type::String | Type::List(_) | Type::Dyn) {
            return self.error(codes::ARGUMENT_TYPE, span.clone(), format!("`size` takes a string or a list, found {}", x.ty), None);
        }
        C::new(Type::Int, fold(Node::Size(Box::new(x.node))))
    }

    fn matches(&mut self, x: C, span: &Range<usize>, pattern: &Expr) -> C {
        if !matches!(x.ty, Type::String | Type::Dyn) {
            return self.error(codes::ARGUMENT_TYPE, span.clone(), format!("`matches` applies to a string, found {}", x.ty), None);
        }
        let Some(p) = self.literal_str("matches", pattern, "matches(\"^[0-9]+$\")") else { return C::poisoned() };
        match regex::RegexBuilder::new(p).size_limit(REGEX_SIZE_LIMIT).dfa_size_limit(REGEX_SIZE_LIMIT).build() {
            Ok(re) => C::new(Type::Bool, Node::Matches(Box::new(x.node), Box::new(re))),
            Err(err) => {
                let msg = err.to_string();
                let first = msg.lines().last().unwrap_or("invalid regular expression").trim().trim_start_matches("error: ").to_string();
                self.error(codes::INVALID_LITERAL, pattern.span.clone(), format!("invalid regular expression: {first}"), None)
            }
        }
    }

    fn conversion(&mut self, name: &str, arg: &Expr) -> C {
        // A literal string is converted now, so a bad one is reported at compile time.
        if let ExprKind::Str(s) = &arg.kind {
            let v = match name {
                "int" => s.trim().parse::<i64>().ok().map(|i| (Type::Int, OwnedValue::Int(i))),
                "double" => s.trim().parse::<f64>().ok().filter(|d| d.is_finite()).map(|d| (Type::Double, OwnedValue::Double(d))),
                "decimal" => parse_decimal(s).map(|d| (Type::Decimal, OwnedValue::Decimal(d))),
                _ => Some((Type::String, OwnedValue::Str(Arc::from(s.as_str())))),
            };
            return match v {
                Some((ty, v)) => C::konst(ty, v),
                None => self.error(codes::INVALID_LITERAL, arg.span.clone(), format!("{s:?} is not a valid {name}"), None),
            };
        }
        let x = self.check(arg);
        if let (true, Some(d)) = (name == "decimal", x.exact) {
            return C::konst(Type::Decimal, OwnedValue::Decimal(d));
        }
        let (conv, ty, ok) = match name {
            "int" => (Conv::Int, Type::Int, is_num(&x.ty) || matches!(x.ty, Type::String | Type::Timestamp | Type::Dyn)),
            "double" => (Conv::Double, Type::Double, is_num(&x.ty) || matches!(x.ty, Type::String | Type::Dyn)),
            "decimal" => (Conv::Decimal, Type::Decimal, is_num(&x.ty) || matches!(x.ty, Type::String | Type::Dyn)),
            _ => (Conv::String, Type::String, true),
        };
        if !ok {
            return self.error(codes::ARGUMENT_TYPE, arg.span.clone(), format!("cannot convert {} to {name}", x.ty), None);
        }
        C::new(ty, fold(Node::Conv(conv, Box::new(x.node))))
    }

    fn method(&mut self, e: &Expr, r: &Expr, name: &str, name_span: Range<usize>, args: &[Expr]) -> C {
        let x = self.check(r);
        let no_method = |this: &mut Self, ty: &Type| {
            this.error(codes::UNKNOWN_FUNCTION, name_span.clone(), format!("{ty} has no method `{name}`"), None)
        };
        match name {
            "startsWith" | "endsWith" | "contains" => {
                if !matches!(x.ty, Type::String | Type::Dyn) {
                    return no_method(self, &x.ty);
                }
                if !self.arg_count(e, name, args, 1) {
                    return C::poisoned();
                }
                let a = self.check(&args[0]);
                if !matches!(a.ty, Type::String | Type::Dyn) {
                    return self.error(
                        codes::ARGUMENT_TYPE,
                        args[0].span.clone(),
                        format!("`{name}` takes a string, found {}", a.ty),
                        None,
                    );
                }
                let op = match name {
                    "startsWith" => StrOp::StartsWith,
                    "endsWith" => StrOp::EndsWith,
                    _ => StrOp::Contains,
                };
                C::new(Type::Bool, fold(Node::Str(op, Box::new([x.node, a.node]))))
            }
            "matches" => {
                if !self.arg_count(e, name, args, 1) {
                    return C::poisoned();
                }
                self.matches(x, &r.span, &args[0])
            }
            "size" => {
                if !self.arg_count(e, name, args, 0) {
                    return C::poisoned();
                }
                self.size(x, &r.span)
            }
            "days" | "hours" | "minutes" | "seconds" | "milliseconds" => {
                if !matches!(x.ty, Type::Duration | Type::Dyn) {
                    return no_method(self, &x.ty);
                }
                if !self.arg_count(e, name, args, 0) {
                    return C::poisoned();
                }
                let unit = match name {
                    "days" => 86_400_000_000,
                    "hours" => 3_600_000_000,
                    "minutes" => 60_000_000,
                    "seconds" => 1_000_000,
                    _ => 1_000,
                };
                C::new(Type::Int, fold(Node::DurPart(Box::new(x.node), unit)))
            }
            _ if mamori_core::time::TimePart::ALL.iter().any(|(n, _)| *n == name) => {
                let part = mamori_core::time::TimePart::ALL.iter().find(|(n, _)| *n == name).map(|(_, p)| *p);
                let Some(part) = part else { return C::poisoned() };
                if !matches!(x.ty, Type::Timestamp | Type::Dyn) {
                    return no_method(self, &x.ty);
                }
                if args.len() > 1 {
                    return self.error(
                        codes::ARGUMENT_COUNT,
                        e.span.clone(),
                        format!("`{name}` takes at most one argument (a time zone)"),
                        None,
                    );
                }
                // The zone is a literal, read now: UTC by default, as in CEL.
                let offset = match args.first() {
                    None => 0,
                    Some(a) => {
                        match &a.kind {
                            ExprKind::Str(z) => match mamori_core::time::parse_fixed_zone(z) {
                                Some(o) => o,
                                None => {
                                    return self.error(
                                    codes::INVALID_LITERAL,
                                    a.span.clone(),
                                    format!("{z:?} is not a time zone mamori knows; use \"UTC\", \"Asia/Tokyo\" or an offset such as \"+09:00\""),
                                    None,
                                );
                                }
                            },
                            _ => {
                                return self.error(
                                    codes::LITERAL_REQUIRED,
                                    a.span.clone(),
                                    format!("`{name}` takes a literal time zone such as \"Asia/Tokyo\""),
                                    None,
                                );
                            }
                        }
                    }
                };
                C::new(
                    Type::Int,
                    match x.node {
                        Node::Field(id) => Node::TimePartField(id, part, offset),
                        x => fold(Node::TimePart(Box::new(x), part, offset)),
                    },
                )
            }
            _ => {
                let help = closest(name, METHODS.iter().copied()).map(|s| format!("did you mean `{s}`?"));
                self.error(codes::UNKNOWN_FUNCTION, name_span, format!("unknown method `{name}`"), help)
            }
        }
    }
}

fn comparison_help(t: &Type) -> Option<String> {
    match t {
        t if t.is_numeric() => Some("compare it, such as `x > 0`".into()),
        Type::String => Some("compare it, such as `x == \"...\"`".into()),
        _ => None,
    }
}

fn conversion_help(a: &Type, b: &Type) -> Option<String> {
    match (a, b) {
        (Type::String, t) | (t, Type::String) if t.is_numeric() => {
            Some("convert explicitly with string(x), or int(x) / decimal(x) for a number written as a string".into())
        }
        (Type::Timestamp, t) | (t, Type::Timestamp) if t.is_numeric() => {
            Some("write a time as timestamp(\"2026-11-21T10:00:00+09:00\")".into())
        }
        (Type::Duration, t) | (t, Type::Duration) if t.is_numeric() => {
            Some("write a duration as duration(\"10m\"), or convert with d.minutes()".into())
        }
        _ => None,
    }
}
