//! The values that rules and features see, and their static types.
//!
//! [`Value`] borrows from the record it was read from, so reading a field never allocates.
//! [`OwnedValue`] is what feature state keeps between events.

use std::fmt;
use std::sync::Arc;

use rust_decimal::Decimal;

use crate::time::{Span, Timestamp};

/// The static type of a field, a feature or an expression.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Type {
    Null,
    Bool,
    Int,
    Double,
    /// Exact decimal: every amount of money.
    Decimal,
    String,
    Timestamp,
    Duration,
    List(Box<Type>),
    /// Known only at run time (`event.attributes.*`).
    Dyn,
}

impl Type {
    pub fn is_numeric(&self) -> bool {
        matches!(self, Type::Int | Type::Double | Type::Decimal)
    }

    /// Whether values of this type read as a number (`Value::as_f64`): numbers, flags,
    /// and nothing at all (a missing value).
    pub fn reads_as_number(&self) -> bool {
        self.is_numeric() || matches!(self, Type::Bool | Type::Null)
    }
}

impl fmt::Display for Type {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Type::Null => f.write_str("null"),
            Type::Bool => f.write_str("bool"),
            Type::Int => f.write_str("int"),
            Type::Double => f.write_str("double"),
            Type::Decimal => f.write_str("decimal"),
            Type::String => f.write_str("string"),
            Type::Timestamp => f.write_str("timestamp"),
            Type::Duration => f.write_str("duration"),
            Type::List(t) => write!(f, "list({t})"),
            Type::Dyn => f.write_str("dyn"),
        }
    }
}

/// A value read from a record. A field that the event does not carry reads as `Null`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Value<'a> {
    Null,
    Bool(bool),
    Int(i64),
    Double(f64),
    Decimal(Decimal),
    Str(&'a str),
    Timestamp(Timestamp),
    Duration(Span),
    /// A list of strings (for example the event ids of a `fraud_reported`).
    StrList(&'a [String]),
}

impl<'a> Value<'a> {
    pub fn is_null(&self) -> bool {
        matches!(self, Value::Null)
    }

    /// The type of this value (`Null` for a missing one).
    pub fn type_of(&self) -> Type {
        match self {
            Value::Null => Type::Null,
            Value::Bool(_) => Type::Bool,
            Value::Int(_) => Type::Int,
            Value::Double(_) => Type::Double,
            Value::Decimal(_) => Type::Decimal,
            Value::Str(_) => Type::String,
            Value::Timestamp(_) => Type::Timestamp,
            Value::Duration(_) => Type::Duration,
            Value::StrList(_) => Type::List(Box::new(Type::String)),
        }
    }

    /// The value as a double, for numbers only (used for ratios and averages, never to store money).
    pub fn as_f64(&self) -> Option<f64> {
        match *self {
            Value::Int(i) => Some(i as f64),
            Value::Double(d) => Some(d),
            Value::Decimal(d) => Some(crate::amount::decimal_to_f64(d)),
            Value::Bool(b) => Some(if b { 1.0 } else { 0.0 }),
            _ => None,
        }
    }

    /// The value as an exact decimal, for integers and decimals.
    pub fn as_decimal(&self) -> Option<Decimal> {
        match *self {
            Value::Int(i) => Some(Decimal::from(i)),
            Value::Decimal(d) => Some(d),
            Value::Bool(b) => Some(Decimal::from(u8::from(b))),
            _ => None,
        }
    }

    pub fn to_owned_value(&self) -> OwnedValue {
        match *self {
            Value::Null => OwnedValue::Null,
            Value::Bool(b) => OwnedValue::Bool(b),
            Value::Int(i) => OwnedValue::Int(i),
            Value::Double(d) => OwnedValue::Double(d),
            Value::Decimal(d) => OwnedValue::Decimal(d),
            Value::Str(s) => OwnedValue::Str(Arc::from(s)),
            Value::Timestamp(t) => OwnedValue::Timestamp(t),
            Value::Duration(s) => OwnedValue::Duration(s),
            Value::StrList(l) => OwnedValue::StrList(Arc::from(l)),
        }
    }
}

impl fmt::Display for Value<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Null => f.write_str("null"),
            Value::Bool(b) => write!(f, "{b}"),
            Value::Int(i) => write!(f, "{i}"),
            Value::Double(d) => write!(f, "{d}"),
            Value::Decimal(d) => write!(f, "{d}"),
            Value::Str(s) => f.write_str(s),
            Value::Timestamp(t) => write!(f, "{t}"),
            Value::Duration(s) => write!(f, "{s}"),
            Value::StrList(l) => write!(f, "[{}]", l.join(", ")),
        }
    }
}

/// A value that owns its data: what feature state holds and hands to rules.
#[derive(Debug, Clone, PartialEq, Default)]
pub enum OwnedValue {
    #[default]
    Null,
    Bool(bool),
    Int(i64),
    Double(f64),
    Decimal(Decimal),
    Str(Arc<str>),
    Timestamp(Timestamp),
    Duration(Span),
    StrList(Arc<[String]>),
}

impl OwnedValue {
    pub fn is_null(&self) -> bool {
        matches!(self, OwnedValue::Null)
    }

    pub fn as_value(&self) -> Value<'_> {
        match self {
            OwnedValue::Null => Value::Null,
            OwnedValue::Bool(b) => Value::Bool(*b),
            OwnedValue::Int(i) => Value::Int(*i),
            OwnedValue::Double(d) => Value::Double(*d),
            OwnedValue::Decimal(d) => Value::Decimal(*d),
            OwnedValue::Str(s) => Value::Str(s),
            OwnedValue::Timestamp(t) => Value::Timestamp(*t),
            OwnedValue::Duration(s) => Value::Duration(*s),
            OwnedValue::StrList(l) => Value::StrList(l),
        }
    }
}

impl fmt::Display for OwnedValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.as_value(), f)
    }
}
