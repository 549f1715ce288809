//! The compiled form: a tree of typed nodes with every field already resolved to a
//! [`FieldId`], every literal parsed, every regular expression compiled and constant
//! parts folded. Evaluation walks it without allocating, except to build new strings
//! (`+` on strings, `string(x)`).

use std::borrow::Cow;
use std::cmp::Ordering;
use std::collections::HashSet;

use mamori_core::{Decimal, FieldId, OwnedValue, Record, Span, Timestamp, Value};
use regex::Regex;
use rust_decimal::prelude::ToPrimitive;

/// A value during evaluation: a [`Value`] that may also own a string it built.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum V<'a> {
    Null,
    Bool(bool),
    Int(i64),
    Double(f64),
    Dec(Decimal),
    Str(Cow<'a, str>),
    Ts(Timestamp),
    Dur(Span),
    List(&'a [String]),
}

impl<'a> From<Value<'a>> for V<'a> {
    #[inline]
    fn from(v: Value<'a>) -> Self {
        match v {
            Value::Null => V::Null,
            Value::Bool(b) => V::Bool(b),
            Value::Int(i) => V::Int(i),
            Value::Double(d) => {
                if d.is_finite() {
                    V::Double(d)
                } else {
                    V::Null
                }
            }
            Value::Decimal(d) => V::Dec(d),
            Value::Str(s) => V::Str(Cow::Borrowed(s)),
            Value::Timestamp(t) => V::Ts(t),
            Value::Duration(s) => V::Dur(s),
            Value::StrList(l) => V::List(l),
        }
    }
}

impl V<'_> {
    pub(crate) fn as_value(&self) -> Value<'_> {
        match self {
            V::Null => Value::Null,
            V::Bool(b) => Value::Bool(*b),
            V::Int(i) => Value::Int(*i),
            V::Double(d) => Value::Double(*d),
            V::Dec(d) => Value::Decimal(*d),
            V::Str(s) => Value::Str(s),
            V::Ts(t) => Value::Timestamp(*t),
            V::Dur(s) => Value::Duration(*s),
            V::List(l) => Value::StrList(l),
        }
    }

    pub(crate) fn to_owned_value(&self) -> OwnedValue {
        self.as_value().to_owned_value()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CmpOp {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

impl CmpOp {
    /// The operator with its operands swapped: `k < x` is `x > k`.
    pub(crate) fn flip(self) -> CmpOp {
        match self {
            CmpOp::Lt => CmpOp::Gt,
            CmpOp::Le => CmpOp::Ge,
            CmpOp::Gt => CmpOp::Lt,
            CmpOp::Ge => CmpOp::Le,
            op => op,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ArithOp {
    Add,
    Sub,
    Mul,
    Div,
    Rem,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum StrOp {
    StartsWith,
    EndsWith,
    Contains,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Conv {
    Int,
    Double,
    Decimal,
    String,
    /// RFC 3339, or a date alone (`1950-04-01`) as midnight UTC.
    Timestamp,
}

#[derive(Debug)]
pub(crate) enum Node {
    Const(OwnedValue),
    Field(FieldId),
    /// `x == null` (`negate` false) or `x != null` / `has(x)` (`negate` true).
    IsNull {
        x: Box<Node>,
        negate: bool,
    },
    /// `has(event.holder)`: any field below the object is not null.
    HasAny(Box<[FieldId]>),
    Not(Box<Node>),
    Neg(Box<Node>),
    And(Box<[Node]>),
    Or(Box<[Node]>),
    Cond(Box<[Node; 3]>),
    Cmp(CmpOp, Box<[Node; 2]>),
    /// `field op constant`: most conditions of most rules.
    CmpField {
        op: CmpOp,
        field: FieldId,
        k: OwnedValue,
    },
    Arith(ArithOp, Box<[Node; 2]>),
    /// `x in [constants]`.
    InConst(Box<Node>, Box<[OwnedValue]>),
    /// `x in [integer constants]` (`t.getDayOfWeek() in [0, 6]`): an integer is looked for
    /// among them as it is; another number as [`Node::InConst`] would compare it.
    InInts(Box<Node>, Box<[i64]>),
    /// `x in [many string constants]` (the set boxed to keep every node small).
    #[allow(clippy::box_collection)]
    InStrSet(Box<Node>, Box<HashSet<Box<str>>>),
    /// `x in [expressions]`.
    InList(Box<Node>, Box<[Node]>),
    /// `x in list_valued_field`.
    InValue(Box<[Node; 2]>),
    Str(StrOp, Box<[Node; 2]>),
    Matches(Box<Node>, Box<Regex>),
    Size(Box<Node>),
    /// `d.minutes()` and friends: whole units of `unit` microseconds, truncated toward zero.
    DurPart(Box<Node>, i64),
    /// `t.getHours()` and friends, at a fixed offset in seconds.
    TimePart(Box<Node>, mamori_core::time::TimePart, i32),
    /// [`Node::TimePart`] of a field (`event.time.getHours()`), read straight from the record.
    TimePartField(FieldId, mamori_core::time::TimePart, i32),
    Conv(Conv, Box<Node>),
    MinMax {
        max: bool,
        args: Box<[Node]>,
    },
    Abs(Box<Node>),
}

/// A record that has no fields: used to fold constant parts at compile time.
pub(crate) struct NoRecord;

impl Record for NoRecord {
    fn get(&self, _: FieldId) -> Value<'_> {
        Value::Null
    }
}

impl Node {
    pub(crate) fn is_const(&self) -> bool {
        matches!(self, Node::Const(_))
    }

    /// `field == "k"` or `field in ["k1", ...]`: the field and the constants.
    pub(crate) fn string_guard(&self) -> Option<(FieldId, Vec<&str>)> {
        match self {
            Node::CmpField { op: CmpOp::Eq, field, k: OwnedValue::Str(s) } => Some((*field, vec![&**s])),
            Node::InConst(x, items) => match (&**x, items.iter().all(|k| matches!(k, OwnedValue::Str(_)))) {
                (Node::Field(f), true) => {
                    Some((*f, items.iter().filter_map(|k| if let OwnedValue::Str(s) = k { Some(&**s) } else { None }).collect()))
                }
                _ => None,
            },
            Node::InStrSet(x, set) => match &**x {
                Node::Field(f) => Some((*f, set.iter().map(|s| &**s).collect())),
                _ => None,
            },
            _ => None,
        }
    }

    /// Every field this node reads, into `out`.
    pub(crate) fn fields(&self, out: &mut Vec<FieldId>) {
        match self {
            Node::Const(_) => {}
            Node::Field(id) | Node::CmpField { field: id, .. } | Node::TimePartField(id, _, _) => out.push(*id),
            Node::HasAny(ids) => out.extend_from_slice(ids),
            Node::IsNull { x, .. }
            | Node::Not(x)
            | Node::Neg(x)
            | Node::InConst(x, _)
            | Node::InInts(x, _)
            | Node::InStrSet(x, _)
            | Node::Matches(x, _)
            | Node::Size(x)
            | Node::DurPart(x, _)
            | Node::TimePart(x, _, _)
            | Node::Conv(_, x)
            | Node::Abs(x) => x.fields(out),
            Node::And(xs) | Node::Or(xs) | Node::MinMax { args: xs, .. } => xs.iter().for_each(|x| x.fields(out)),
            Node::InList(x, xs) => {
                x.fields(out);
                xs.iter().for_each(|x| x.fields(out));
            }
            Node::Cond(xs) => xs.iter().for_each(|x| x.fields(out)),
            Node::Cmp(_, xs) | Node::Arith(_, xs) | Node::InValue(xs) | Node::Str(_, xs) => xs.iter().for_each(|x| x.fields(out)),
        }
    }

    /// Hands the node's value to `f`, reading a field or a constant directly (the
    /// common operands of a rule) and evaluating anything else.
    #[inline(always)]
    fn with_val<R>(&self, rec: &dyn Record, f: impl FnOnce(Value<'_>) -> R) -> R {
        match self {
            Node::Field(id) => f(rec.get(*id)),
            Node::Const(k) => f(k.as_value()),
            _ => {
                let v = self.eval(rec);
                f(v.as_value())
            }
        }
    }

    /// Evaluates to a bool; `None` for null or a value of another type. The common
    /// nodes of conditions are handled here; the rest in a separate function, so that
    /// this one stays small.
    #[inline]
    pub(crate) fn test(&self, rec: &dyn Record) -> Option<bool> {
        match self {
            Node::CmpField { op, field, k } => cmp(*op, &rec.get(*field), &k.as_value()),
            Node::And(xs) => {
                let mut unknown = false;
                for x in xs.iter() {
                    match x.test(rec) {
                        Some(false) => return Some(false),
                        Some(true) => {}
                        None => unknown = true,
                    }
                }
                if unknown { None } else { Some(true) }
            }
            Node::Or(xs) => {
                let mut unknown = false;
                for x in xs.iter() {
                    match x.test(rec) {
                        Some(true) => return Some(true),
                        Some(false) => {}
                        None => unknown = true,
                    }
                }
                if unknown { None } else { Some(false) }
            }
            _ => self.test_other(rec),
        }
    }

    #[inline(never)]
    fn test_other(&self, rec: &dyn Record) -> Option<bool> {
        match self {
            Node::Cmp(op, xs) => xs[0].with_val(rec, |a| xs[1].with_val(rec, |b| cmp(*op, &a, &b))),
            Node::Not(x) => x.test(rec).map(|b| !b),
            Node::IsNull { x, negate } => Some(x.with_val(rec, |v| v.is_null()) != *negate),
            Node::HasAny(ids) => Some(ids.iter().any(|id| !rec.get(*id).is_null())),
            Node::InConst(x, items) => x.with_val(rec, |x| match x {
                Value::Null => None,
                Value::Str(s) => Some(items.iter().any(|k| matches!(k, OwnedValue::Str(t) if **t == *s))),
                x => Some(items.iter().any(|k| compare(&x, &k.as_value()) == Some(Ordering::Equal))),
            }),
            Node::InInts(x, items) => x.with_val(rec, |x| match x {
                Value::Null => None,
                Value::Int(i) => Some(items.contains(&i)),
                x => Some(items.iter().any(|&k| compare(&x, &Value::Int(k)) == Some(Ordering::Equal))),
            }),
            Node::InStrSet(x, set) => x.with_val(rec, |x| match x {
                Value::Str(s) => Some(set.contains(s)),
                _ => None,
            }),
            Node::Str(op, xs) => xs[0].with_val(rec, |a| {
                xs[1].with_val(rec, |b| match (a, b) {
                    (Value::Str(a), Value::Str(b)) => Some(match op {
                        StrOp::StartsWith => a.starts_with(b),
                        StrOp::EndsWith => a.ends_with(b),
                        StrOp::Contains => a.contains(b),
                    }),
                    _ => None,
                })
            }),
            Node::Matches(x, re) => x.with_val(rec, |x| match x {
                Value::Str(s) => Some(re.is_match(s)),
                _ => None,
            }),
            Node::Field(id) => match rec.get(*id) {
                Value::Bool(b) => Some(b),
                _ => None,
            },
            Node::Const(OwnedValue::Bool(b)) => Some(*b),
            _ => match self.eval(rec) {
                V::Bool(b) => Some(b),
                _ => None,
            },
        }
    }

    pub(crate) fn eval<'a>(&'a self, rec: &'a dyn Record) -> V<'a> {
        match self {
            Node::Const(k) => V::from(k.as_value()),
            Node::Field(id) => V::from(rec.get(*id)),
            Node::IsNull { .. }
            | Node::HasAny(_)
            | Node::Not(_)
            | Node::And(_)
            | Node::Or(_)
            | Node::Cmp(..)
            | Node::CmpField { .. }
            | Node::InConst(..)
            | Node::InInts(..)
            | Node::InStrSet(..)
            | Node::Str(..)
            | Node::Matches(..) => self.test(rec).map_or(V::Null, V::Bool),
            Node::Neg(x) => match x.eval(rec) {
                V::Int(i) => i.checked_neg().map_or(V::Null, V::Int),
                V::Double(d) => V::Double(-d),
                V::Dec(d) => V::Dec(-d),
                V::Dur(s) => s.0.checked_neg().map_or(V::Null, |m| V::Dur(Span(m))),
                _ => V::Null,
            },
            Node::Cond(xs) => {
                if xs[0].test(rec) == Some(true) {
                    xs[1].eval(rec)
                } else {
                    xs[2].eval(rec)
                }
            }
            Node::Arith(op, xs) => arith(*op, xs[0].eval(rec), xs[1].eval(rec)),
            Node::InList(x, items) => {
                let x = x.eval(rec);
                if x == V::Null {
                    return V::Null;
                }
                let x = x.as_value();
                V::Bool(items.iter().any(|k| k.with_val(rec, |k| compare(&x, &k) == Some(Ordering::Equal))))
            }
            Node::InValue(xs) => match (xs[0].eval(rec), xs[1].eval(rec)) {
                (V::Str(s), V::List(l)) => V::Bool(l.iter().any(|e| *e == *s)),
                _ => V::Null,
            },
            Node::Size(x) => match x.eval(rec) {
                V::Str(s) => V::Int(s.chars().count() as i64),
                V::List(l) => V::Int(l.len() as i64),
                _ => V::Null,
            },
            Node::DurPart(x, unit) => match x.eval(rec) {
                V::Dur(s) => V::Int(s.0 / unit),
                _ => V::Null,
            },
            Node::TimePart(x, part, offset) => match x.eval(rec) {
                V::Ts(t) => V::Int(t.part(*part, *offset)),
                _ => V::Null,
            },
            Node::TimePartField(id, part, offset) => match rec.get(*id) {
                Value::Timestamp(t) => V::Int(t.part(*part, *offset)),
                _ => V::Null,
            },
            Node::Conv(c, x) => convert(*c, x.eval(rec)),
            Node::MinMax { max, args } => {
                let mut best = args[0].eval(rec);
                for a in args[1..].iter() {
                    let v = a.eval(rec);
                    match compare(&v.as_value(), &best.as_value()) {
                        Some(Ordering::Greater) if *max => best = v,
                        Some(Ordering::Less) if !*max => best = v,
                        Some(_) => {}
                        None => return V::Null,
                    }
                }
                if best == V::Null { V::Null } else { best }
            }
            Node::Abs(x) => match x.eval(rec) {
                V::Int(i) => i.checked_abs().map_or(V::Null, V::Int),
                V::Double(d) => V::Double(d.abs()),
                V::Dec(d) => V::Dec(d.abs()),
                V::Dur(s) => s.0.checked_abs().map_or(V::Null, |m| V::Dur(Span(m))),
                _ => V::Null,
            },
        }
    }
}

fn dec(v: &V<'_>) -> Option<Decimal> {
    match v {
        V::Int(i) => Some(Decimal::from(*i)),
        V::Dec(d) => Some(*d),
        _ => None,
    }
}

fn f64_of(v: &V<'_>) -> Option<f64> {
    match v {
        V::Int(i) => Some(*i as f64),
        V::Double(d) => Some(*d),
        V::Dec(d) => Some(mamori_core::amount::decimal_to_f64(*d)),
        _ => None,
    }
}

fn finite(d: f64) -> V<'static> {
    if d.is_finite() { V::Double(d) } else { V::Null }
}

/// Orders two values: numbers across types (exactly between int and decimal, as doubles
/// when one is a double), strings by code point, and same-typed times, durations and
/// bools. `None` when they cannot be compared (a null, or types that do not mix).
#[inline]
pub(crate) fn compare(a: &Value<'_>, b: &Value<'_>) -> Option<Ordering> {
    match (a, b) {
        (Value::Int(x), Value::Int(y)) => Some(x.cmp(y)),
        (Value::Str(x), Value::Str(y)) => Some(x.cmp(y)),
        (Value::Decimal(x), Value::Decimal(y)) => Some(x.cmp(y)),
        (Value::Double(x), Value::Double(y)) => x.partial_cmp(y),
        (Value::Duration(x), Value::Duration(y)) => Some(x.cmp(y)),
        (Value::Timestamp(x), Value::Timestamp(y)) => Some(x.cmp(y)),
        (Value::Int(x), Value::Decimal(y)) => Some(Decimal::from(*x).cmp(y)),
        (Value::Decimal(x), Value::Int(y)) => Some(x.cmp(&Decimal::from(*y))),
        (Value::Double(_), Value::Int(_) | Value::Decimal(_)) | (Value::Int(_) | Value::Decimal(_), Value::Double(_)) => {
            a.as_f64()?.partial_cmp(&b.as_f64()?)
        }
        (Value::Bool(x), Value::Bool(y)) => Some(x.cmp(y)),
        _ => None,
    }
}

#[inline(always)]
fn cmp(op: CmpOp, a: &Value<'_>, b: &Value<'_>) -> Option<bool> {
    let o = match (a, b) {
        (Value::Str(x), Value::Str(y)) if matches!(op, CmpOp::Eq | CmpOp::Ne) => return Some((x == y) == (op == CmpOp::Eq)),
        (Value::Int(x), Value::Int(y)) => x.cmp(y),
        (Value::Decimal(x), Value::Decimal(y)) => x.cmp(y),
        _ => compare(a, b)?,
    };
    Some(match op {
        CmpOp::Eq => o == Ordering::Equal,
        CmpOp::Ne => o != Ordering::Equal,
        CmpOp::Lt => o == Ordering::Less,
        CmpOp::Le => o != Ordering::Greater,
        CmpOp::Gt => o == Ordering::Greater,
        CmpOp::Ge => o != Ordering::Less,
    })
}

pub(crate) fn arith<'a>(op: ArithOp, a: V<'a>, b: V<'a>) -> V<'a> {
    use ArithOp::*;
    match (&a, &b) {
        (V::Int(x), V::Int(y)) => {
            let r = match op {
                Add => x.checked_add(*y),
                Sub => x.checked_sub(*y),
                Mul => x.checked_mul(*y),
                Div => x.checked_div(*y),
                Rem => x.checked_rem(*y),
            };
            r.map_or(V::Null, V::Int)
        }
        (V::Int(_) | V::Dec(_), V::Int(_) | V::Dec(_)) => {
            let (Some(x), Some(y)) = (dec(&a), dec(&b)) else { return V::Null };
            let r = match op {
                Add => x.checked_add(y),
                Sub => x.checked_sub(y),
                Mul => x.checked_mul(y),
                Div => x.checked_div(y),
                Rem => x.checked_rem(y),
            };
            r.map_or(V::Null, V::Dec)
        }
        (V::Int(_) | V::Dec(_) | V::Double(_), V::Int(_) | V::Dec(_) | V::Double(_)) => {
            let (Some(x), Some(y)) = (f64_of(&a), f64_of(&b)) else { return V::Null };
            finite(match op {
                Add => x + y,
                Sub => x - y,
                Mul => x * y,
                Div => x / y,
                Rem => x % y,
            })
        }
        (V::Str(_), V::Str(_)) if op == Add => {
            let (V::Str(x), V::Str(y)) = (a, b) else { return V::Null };
            let mut s = x.into_owned();
            s.push_str(&y);
            V::Str(Cow::Owned(s))
        }
        (V::Ts(x), V::Ts(y)) if op == Sub => x.0.checked_sub(y.0).map_or(V::Null, |m| V::Dur(Span(m))),
        (V::Ts(x), V::Dur(y)) if op == Add => x.0.checked_add(y.0).map_or(V::Null, |m| V::Ts(Timestamp(m))),
        (V::Ts(x), V::Dur(y)) if op == Sub => x.0.checked_sub(y.0).map_or(V::Null, |m| V::Ts(Timestamp(m))),
        (V::Dur(x), V::Ts(y)) if op == Add => x.0.checked_add(y.0).map_or(V::Null, |m| V::Ts(Timestamp(m))),
        (V::Dur(x), V::Dur(y)) if op == Add => x.0.checked_add(y.0).map_or(V::Null, |m| V::Dur(Span(m))),
        (V::Dur(x), V::Dur(y)) if op == Sub => x.0.checked_sub(y.0).map_or(V::Null, |m| V::Dur(Span(m))),
        _ => V::Null,
    }
}

/// Parses a decimal written plainly (`0.1`, `-12`) or in scientific notation (`1e-3`).
pub(crate) fn parse_decimal(s: &str) -> Option<Decimal> {
    use std::str::FromStr;
    let t = s.trim();
    if t.contains(['e', 'E']) {
        Decimal::from_scientific(t).ok()
    } else {
        Decimal::from_str_exact(t).or_else(|_| Decimal::from_str(t)).ok()
    }
}

/// `timestamp(x)` at run time: RFC 3339, or a date alone as midnight UTC.
fn parse_timestamp(s: &str) -> Option<Timestamp> {
    if s.len() == 10 {
        return Timestamp::parse_naive(format!("{s}T00:00:00").as_bytes(), 0).ok();
    }
    Timestamp::parse_rfc3339(s).ok()
}

pub(crate) fn convert(c: Conv, v: V<'_>) -> V<'_> {
    match (c, v) {
        (_, V::Null) => V::Null,
        (Conv::Int, V::Int(i)) => V::Int(i),
        (Conv::Int, V::Double(d)) => {
            let t = d.trunc();
            if (i64::MIN as f64..i64::MAX as f64).contains(&t) { V::Int(t as i64) } else { V::Null }
        }
        (Conv::Int, V::Dec(d)) => d.trunc().to_i64().map_or(V::Null, V::Int),
        (Conv::Int, V::Str(s)) => s.trim().parse::<i64>().map_or(V::Null, V::Int),
        (Conv::Int, V::Ts(t)) => V::Int(t.as_secs()),
        (Conv::Double, V::Int(i)) => V::Double(i as f64),
        (Conv::Double, V::Double(d)) => V::Double(d),
        (Conv::Double, V::Dec(d)) => finite(mamori_core::amount::decimal_to_f64(d)),
        (Conv::Double, V::Str(s)) => s.trim().parse::<f64>().map_or(V::Null, finite),
        (Conv::Decimal, V::Int(i)) => V::Dec(Decimal::from(i)),
        (Conv::Decimal, V::Dec(d)) => V::Dec(d),
        (Conv::Decimal, V::Double(d)) => parse_decimal(&d.to_string()).map_or(V::Null, V::Dec),
        (Conv::Decimal, V::Str(s)) => parse_decimal(&s).map_or(V::Null, V::Dec),
        (Conv::String, V::Str(s)) => V::Str(s),
        (Conv::String, v) => V::Str(Cow::Owned(canonical_string(&v))),
        (Conv::Timestamp, V::Ts(t)) => V::Ts(t),
        (Conv::Timestamp, V::Str(s)) => parse_timestamp(s.trim()).map_or(V::Null, V::Ts),
        _ => V::Null,
    }
}

/// The form `string(x)` gives: integers and decimals as written (a decimal without
/// trailing zeros), doubles in their shortest exact form, durations as `10m` or `36h`,
/// timestamps in RFC 3339 (UTC, milliseconds), lists joined by `, `.
pub(crate) fn canonical_string(v: &V<'_>) -> String {
    match v {
        V::Null => "null".into(),
        V::Bool(b) => b.to_string(),
        V::Int(i) => i.to_string(),
        V::Double(d) => d.to_string(),
        V::Dec(d) => d.normalize().to_string(),
        V::Str(s) => s.to_string(),
        V::Ts(t) => t.to_rfc3339(),
        V::Dur(s) => s.to_string(),
        V::List(l) => l.join(", "),
    }
}
