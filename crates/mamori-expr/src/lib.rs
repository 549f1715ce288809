//! mamori-expr: a compiled, type-checked subset of CEL (Common Expression Language).
//!
//! An expression is parsed, checked against a [`Schema`] (which resolves every dotted
//! path such as `event.amount` to a [`FieldId`] and a [`Type`] once) and lowered to a
//! compact tree that runs against any [`Record`] many times without allocating.
//! Mistakes come back as [`Diagnostic`]s with stable codes ([`codes`]) and byte spans.
//!
//! ```
//! use mamori_core::{OwnedValue, StaticSchema, Type, VecRecord, Decimal};
//! let schema = StaticSchema::new([("event.amount", Type::Decimal), ("event.type", Type::String)]);
//! let p = mamori_expr::compile_bool(r#"event.type == "charge" && event.amount >= 100000.5"#, &schema).unwrap();
//! let rec = VecRecord(vec![OwnedValue::Decimal(Decimal::new(1000005, 1)), OwnedValue::Str("charge".into())]);
//! assert!(p.eval_bool(&rec));
//! ```
//!
//! # The language
//!
//! | form | meaning |
//! |---|---|
//! | `12`, `0x1f`, `7u` | int (64-bit; a `u` suffix is accepted and ignored) |
//! | `0.5`, `1e3` | double; **next to a decimal it is read as the exact decimal it spells** (`event.amount > 100.5` is exact) |
//! | `'..'`, `".."`, `r'..'` | strings, with CEL escapes (`\n`, `\'`, `\x41`, `\u00e9`, `\U0001F600`, `\101`) |
//! | `true`, `false`, `null` | |
//! | `event.amount`, `features.charges_24h` | a field, resolved through the schema; a missing one reads as `null` |
//! | `c ? a : b` | null `c` takes `b` |
//! | `a \|\| b`, `a && b` | commutative like CEL: `true \|\| null` is true, `false && null` is false, otherwise a null makes null |
//! | `== != < <= > >=` | numbers compare across types: int with decimal exactly, with a double as doubles; strings by code point; times, durations |
//! | `x in [a, b]`, `x in list_field` | membership |
//! | `+ - * / %` | int with int is int (an overflow or a division by zero is null); with a decimal it is decimal (exact); with a double it is double (a result that is not finite is null); `+` joins strings; timestamp − timestamp = duration; timestamp ± duration; duration ± duration |
//! | `! -` | not, negate (numbers and durations) |
//! | `has(event.holder.name)` | the field is not null; `has(event.holder)`: any field below it is not null |
//! | `duration("10m")`, `timestamp("2026-11-21T10:00:00+09:00")` | literals, parsed at compile time |
//! | `d.days()`, `d.hours()`, `d.minutes()`, `d.seconds()`, `d.milliseconds()` | whole units of a duration, as an int, truncated toward zero |
//! | `t.getFullYear()`, `getMonth()` (0-11), `getDate()` (1-31), `getDayOfMonth()` (0-30), `getDayOfWeek()` (0 = Sunday), `getDayOfYear()`, `getHours()`, `getMinutes()`, `getSeconds()`, `getMilliseconds()` | parts of a timestamp as CEL defines them, in UTC or in the literal zone given: `t.getHours("Asia/Tokyo")`, `t.getDayOfWeek("+09:00")` (fixed offsets; Japan keeps no daylight saving time) |
//! | `s.startsWith(x)`, `s.endsWith(x)`, `s.contains(x)`, `s.matches("re")`, `size(s)`, `s.size()` | strings (size in characters); `matches` takes a literal pattern (Rust `regex` syntax), compiled once |
//! | `int(x)`, `double(x)`, `decimal(x)`, `string(x)` | conversions; a value that cannot convert is null (a literal one is a compile error). `int` truncates, and of a timestamp gives seconds since the epoch |
//! | `min(a, b, ...)`, `max(a, b, ...)`, `abs(x)` | |
//!
//! Null: every operator with a null operand gives null, except `x == null`,
//! `x != null`, `has()`, `&&`, `||` and the test of `?:`. A condition that is null does
//! not hold ([`Program::eval_bool`] is false).
//!
//! Types are checked at compile time (`event.amount > "x"` is error `E003`); fields of
//! type `dyn` (such as `event.attributes.*`) are checked when the expression runs, and a
//! mismatch gives null.
//!
//! Not supported (yet): indexing, maps, macros (`all`, `exists`, `map`, `filter`),
//! bytes, triple-quoted strings, time zones with daylight saving time.

pub mod codes;
pub mod diag;

mod ast;
mod check;
mod eval;
mod lexer;
mod parser;

use mamori_core::{Decimal, FieldId, OwnedValue, Record, Schema, Type, Value};

pub use diag::{Diagnostic, line_col, render};
pub use parser::MAX_DEPTH;

/// A compiled expression: run it with [`Program::eval_bool`], [`Program::eval`] and friends.
#[derive(Debug)]
pub struct Program {
    node: eval::Node,
    ty: Type,
    fields: Vec<FieldId>,
}

/// Parses and checks `src` against `schema` and compiles it. Every type error found is
/// returned; a syntax error stops at the first.
pub fn compile(src: &str, schema: &dyn Schema) -> Result<Program, Vec<Diagnostic>> {
    let ast = parser::parse(src).map_err(|d| vec![d])?;
    let mut checker = check::Checker::new(schema);
    let c = checker.check(&ast);
    if !checker.diags.is_empty() {
        return Err(checker.diags);
    }
    let mut fields = Vec::new();
    c.node.fields(&mut fields);
    fields.sort_unstable();
    fields.dedup();
    Ok(Program { node: c.node, ty: c.ty, fields })
}

/// Like [`compile`], for a condition: the expression must be a bool (or `dyn`).
pub fn compile_bool(src: &str, schema: &dyn Schema) -> Result<Program, Vec<Diagnostic>> {
    let p = compile(src, schema)?;
    if matches!(p.ty, Type::Bool | Type::Dyn) {
        return Ok(p);
    }
    let start = src.len() - src.trim_start().len();
    let end = src.trim_end().len().max(start);
    let help = if p.ty.is_numeric() {
        Some("compare it, such as `... > 0`".to_string())
    } else if p.ty == Type::String {
        Some("compare it, such as `... == \"...\"`".to_string())
    } else {
        None
    };
    let mut d = Diagnostic::new(codes::NOT_BOOL, start..end, format!("a condition must be a bool, this is {}", p.ty));
    d.help = help;
    Err(vec![d])
}

impl Program {
    /// The static type of the expression's value (`dyn` when known only at run time).
    pub fn result_type(&self) -> &Type {
        &self.ty
    }

    /// The fields the expression reads, sorted and without repeats.
    pub fn fields(&self) -> &[FieldId] {
        &self.fields
    }

    /// A cheap necessary condition, for indexing many conditions: if the expression
    /// can only be true when one string field equals one of some constants (one of its
    /// `&&` terms is `field == "k"` or `field in ["k1", "k2"]`), that field and those
    /// constants. Callers may skip the expression when the field holds anything else.
    pub fn string_guard(&self) -> Option<(FieldId, Vec<&str>)> {
        let terms: &[eval::Node] = match &self.node {
            eval::Node::And(xs) => xs,
            n => std::slice::from_ref(n),
        };
        terms.iter().find_map(eval::Node::string_guard)
    }

    /// Whether the expression is a constant (reads no field).
    pub fn is_constant(&self) -> bool {
        matches!(self.node, eval::Node::Const(_))
    }

    /// The condition holds: true only for a bool `true` (null and anything else are false).
    #[inline]
    pub fn eval_bool(&self, rec: &dyn Record) -> bool {
        self.node.test(rec) == Some(true)
    }

    /// The condition as a three-valued bool: `None` for null (or a non-bool `dyn`).
    #[inline]
    pub fn eval_opt_bool(&self, rec: &dyn Record) -> Option<bool> {
        self.node.test(rec)
    }

    /// Hands the value to `f` without copying strings out of the record.
    pub fn eval_with<T>(&self, rec: &dyn Record, f: impl FnOnce(Value<'_>) -> T) -> T {
        let v = self.node.eval(rec);
        f(v.as_value())
    }

    /// The value, owned.
    pub fn eval(&self, rec: &dyn Record) -> OwnedValue {
        self.node.eval(rec).to_owned_value()
    }

    /// A numeric value as a double (ints, decimals and doubles); `None` otherwise.
    #[inline]
    pub fn eval_f64(&self, rec: &dyn Record) -> Option<f64> {
        match self.node.eval(rec) {
            eval::V::Int(i) => Some(i as f64),
            eval::V::Double(d) => Some(d),
            eval::V::Dec(d) => Value::Decimal(d).as_f64(),
            _ => None,
        }
    }

    /// An int value; `None` for null or any other type.
    #[inline]
    pub fn eval_i64(&self, rec: &dyn Record) -> Option<i64> {
        match self.node.eval(rec) {
            eval::V::Int(i) => Some(i),
            _ => None,
        }
    }

    /// An exact value (an int or a decimal) as a decimal; `None` otherwise.
    #[inline]
    pub fn eval_decimal(&self, rec: &dyn Record) -> Option<Decimal> {
        match self.node.eval(rec) {
            eval::V::Int(i) => Some(Decimal::from(i)),
            eval::V::Dec(d) => Some(d),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests;
