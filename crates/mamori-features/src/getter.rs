//! Reading a value for a feature: a plain path resolves straight to a field; anything
//! else is a compiled expression.

use mamori_core::{FieldId, Record, Resolution, Schema, Type, Value};

use crate::codes;
use crate::config::{ConfigError, SourceMap};

/// A compiled value source.
#[derive(Debug)]
pub(crate) enum Getter {
    Field(FieldId),
    Expr(mamori_expr::Program),
}

impl Getter {
    /// Compiles `src` (found at `span` in the file) against `schema`.
    pub fn compile(
        src: &str,
        span: &std::ops::Range<usize>,
        map: &SourceMap<'_>,
        schema: &dyn Schema,
    ) -> Result<(Getter, Type), ConfigError> {
        if is_plain_path(src) {
            let path: Vec<&str> = src.split('.').collect();
            match schema.resolve(&path) {
                Resolution::Field(id, ty) => return Ok((Getter::Field(id), ty)),
                Resolution::Object => {
                    return Err(map.error(span.clone(), codes::EXPR, format!("`{src}` is an object, not a value; name one of its fields")));
                }
                Resolution::Unknown { suggestion } => {
                    let hint = suggestion.map(|s| format!("; did you mean `{s}`?")).unwrap_or_default();
                    return Err(map.error(span.clone(), codes::EXPR, format!("unknown field `{src}`{hint}")));
                }
            }
        }
        let program = compile_expr(src, span, map, schema)?;
        let ty = program.result_type().clone();
        Ok((Getter::Expr(program), ty))
    }

    /// The features (by index) the value reads.
    pub fn feature_reads(&self) -> Vec<usize> {
        match self {
            Getter::Field(id) => crate::engine::feature_reads(std::slice::from_ref(id)).collect(),
            Getter::Expr(p) => crate::engine::feature_reads(p.fields()).collect(),
        }
    }

    /// The highest index of a feature (`features.*`, part 1 of the composite schema) this reads.
    pub fn last_feature_read(&self) -> Option<usize> {
        match self {
            Getter::Field(id) => (id.part() == 1).then_some(id.inner() as usize),
            Getter::Expr(p) => p.fields().iter().filter(|f| f.part() == 1).map(|f| f.inner() as usize).max(),
        }
    }

    /// Calls `f` with the value read from `rec`.
    #[inline]
    pub fn with<R>(&self, rec: &dyn Record, f: impl FnOnce(Value<'_>) -> R) -> R {
        match self {
            Getter::Field(id) => f(rec.get(*id)),
            // Strings the expression reads are lent, not copied out of the record.
            Getter::Expr(p) => p.eval_with(rec, f),
        }
    }
}

/// Compiles an expression, mapping its diagnostics into the file.
pub(crate) fn compile_expr(
    src: &str,
    span: &std::ops::Range<usize>,
    map: &SourceMap<'_>,
    schema: &dyn Schema,
) -> Result<mamori_expr::Program, ConfigError> {
    mamori_expr::compile(src, schema).map_err(|diags| {
        let d = &diags[0];
        let base = map.string_content_start(span, src);
        let at = base.map_or(span.start, |b| b + d.span.start);
        let help = d.help.as_ref().map(|h| format!("; {h}")).unwrap_or_default();
        map.error(at..at, codes::EXPR, format!("in `{src}`: [{}] {}{help}", d.code, d.message))
    })
}

pub(crate) fn is_plain_path(s: &str) -> bool {
    !s.is_empty()
        && s.split('.').all(|seg| {
            let mut c = seg.chars();
            matches!(c.next(), Some(ch) if ch.is_ascii_alphabetic() || ch == '_') && c.all(|ch| ch.is_ascii_alphanumeric() || ch == '_')
        })
        && !matches!(s, "true" | "false" | "null")
}
