//! Input records: CSV rows through a declared column mapping. Each mapped column
//! becomes an event path with the event contract's type (or the declared type for
//! `attributes.*`), so one feature file reads CSV and NDJSON alike.

use mamori_core::{Decimal, FieldId, Record, Resolution, Schema, StaticSchema, Timestamp, Type, Value};

use crate::codes;
use crate::config::{ConfigError, ConfigErrors, FeatureFile, SourceMap};

/// How times in CSV cells are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimeFormat {
    /// RFC 3339 with offset.
    Rfc3339,
    /// Local `YYYY-MM-DDTHH:MM:SS[.f]` at a fixed offset (seconds east of UTC).
    Naive(i32),
}

/// The input format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Csv,
    Ndjson,
}

impl Format {
    /// The format a file's name implies (`.csv`, `.csv.gz`, `.ndjson`, `.jsonl`, `.json`).
    pub fn from_path(path: &str) -> Option<Format> {
        let p = path.strip_suffix(".gz").unwrap_or(path).to_ascii_lowercase();
        if p.ends_with(".csv") || p.ends_with(".tsv") {
            Some(Format::Csv)
        } else if p.ends_with(".ndjson") || p.ends_with(".jsonl") || p.ends_with(".json") {
            Some(Format::Ndjson)
        } else {
            None
        }
    }
}

/// One mapped column or constant.
#[derive(Debug, Clone)]
struct Mapped {
    path: String,
    ty: Type,
    /// Column name (None for a constant).
    column: Option<String>,
    constant: Option<String>,
}

/// A compiled CSV mapping: its schema, and how to turn a row into a record.
#[derive(Debug, Clone)]
pub struct CsvMapping {
    fields: Vec<Mapped>,
    schema: StaticSchema,
    pub time_format: TimeFormat,
    pub delimiter: u8,
    time_field: usize,
    id_field: Option<usize>,
    /// For each field, the column index in the file (after [`CsvMapping::bind`]).
    columns: Vec<Option<usize>>,
}

/// A row that could not be read, with its place.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RowError {
    pub line: u64,
    pub column: String,
    pub message: String,
}

impl std::fmt::Display for RowError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "line {}, column {}: {}", self.line, self.column, self.message)
    }
}

fn parse_type(s: &str) -> Option<Type> {
    Some(match s {
        "int" | "integer" => Type::Int,
        "decimal" => Type::Decimal,
        "double" | "float" => Type::Double,
        "string" => Type::String,
        "bool" | "boolean" => Type::Bool,
        "timestamp" => Type::Timestamp,
        _ => return None,
    })
}

impl CsvMapping {
    /// Builds the mapping declared in `[input]`, typing known paths by `events`
    /// (the event contract's schema, rooted at the event).
    pub fn from_config(file: &FeatureFile, map: &SourceMap<'_>, events: &dyn Schema) -> Result<CsvMapping, ConfigErrors> {
        let input = &file.input;
        let mut errs = Vec::new();
        let mut fields = Vec::new();
        let typed = |path: &str, span: std::ops::Range<usize>, errs: &mut Vec<ConfigError>| -> Option<Type> {
            if let Some(attr) = path.strip_prefix("attributes.") {
                if attr.is_empty() {
                    errs.push(map.error(span, codes::COLUMN, "`attributes.` needs a name"));
                    return None;
                }
                return match input.types.get(path) {
                    None => Some(Type::String),
                    Some(t) => match parse_type(t.get_ref()) {
                        Some(ty) => Some(ty),
                        None => {
                            errs.push(map.error(
                                t.span(),
                                codes::COLUMN,
                                format!("unknown type `{}`; use int, decimal, double, string, bool or timestamp", t.get_ref()),
                            ));
                            None
                        }
                    },
                };
            }
            let segs: Vec<&str> = path.split('.').collect();
            match events.resolve(&segs) {
                Resolution::Field(_, ty) => Some(ty),
                Resolution::Object => {
                    errs.push(map.error(span, codes::COLUMN, format!("`{path}` is an object; map one of its fields")));
                    None
                }
                Resolution::Unknown { suggestion } => {
                    let hint = suggestion.map(|s| format!("; did you mean `{s}`?")).unwrap_or_default();
                    errs.push(map.error(
                        span,
                        codes::COLUMN,
                        format!("`{path}` is not an event path (extra columns go to `attributes.NAME`){hint}"),
                    ));
                    None
                }
            }
        };
        for (path, col) in &input.columns {
            if let Some(ty) = typed(path, col.span(), &mut errs) {
                fields.push(Mapped { path: path.clone(), ty, column: Some(col.get_ref().clone()), constant: None });
            }
        }
        for (path, val) in &input.constants {
            if input.columns.contains_key(path) {
                errs.push(map.error(val.span(), codes::COLUMN, format!("`{path}` is both a column and a constant")));
                continue;
            }
            if let Some(ty) = typed(path, val.span(), &mut errs) {
                fields.push(Mapped { path: path.clone(), ty, column: None, constant: Some(val.get_ref().clone()) });
            }
        }
        for (path, t) in &input.types {
            if !input.columns.contains_key(path) && !input.constants.contains_key(path) {
                errs.push(map.error(t.span(), codes::COLUMN, format!("a type is given for `{path}`, which is not mapped")));
            }
        }
        let time_format = match input.time_format.as_ref().map(|s| (s.get_ref().as_str(), s.span())) {
            None | Some(("rfc3339", _)) => TimeFormat::Rfc3339,
            Some(("naive", _)) => {
                let off = match &input.utc_offset {
                    None => 0,
                    Some(o) => mamori_core::time::parse_fixed_zone(o.get_ref()).unwrap_or_else(|| {
                        errs.push(map.error(
                            o.span(),
                            codes::INPUT,
                            format!("`{}` is not an offset such as +09:00 (or UTC, Asia/Tokyo)", o.get_ref()),
                        ));
                        0
                    }),
                };
                TimeFormat::Naive(off)
            }
            Some((other, span)) => {
                errs.push(map.error(span, codes::INPUT, format!("unknown time_format `{other}`; use rfc3339 or naive")));
                TimeFormat::Rfc3339
            }
        };
        let delimiter = match &input.delimiter {
            None => b',',
            Some(d) if d.get_ref() == "\\t" || d.get_ref() == "\t" => b'\t',
            Some(d) if d.get_ref().len() == 1 && d.get_ref().is_ascii() => d.get_ref().as_bytes()[0],
            Some(d) => {
                errs.push(map.error(d.span(), codes::INPUT, "the delimiter must be one ASCII character"));
                b','
            }
        };
        let time_field = fields.iter().position(|f| f.path == "time");
        if time_field.is_none() && errs.is_empty() {
            errs.push(map.error(0..0, codes::INPUT, "CSV input needs a `time` column in [input.columns]"));
        }
        if !errs.is_empty() {
            return Err(ConfigErrors(errs));
        }
        let id_field = fields.iter().position(|f| f.path == "id");
        let schema = StaticSchema::new(fields.iter().map(|f| (f.path.clone(), f.ty.clone())));
        let columns = vec![None; fields.len()];
        let mapping = CsvMapping { fields, schema, time_format, delimiter, time_field: time_field.unwrap_or(0), id_field, columns };
        // A constant must read as its path's type, once, here rather than on every row.
        for f in &mapping.fields {
            if let Some(k) = &f.constant
                && let Err(e) = mapping.cell(&f.ty, k.as_bytes())
            {
                let span = input.constants.get(&f.path).map_or(0..0, |v| v.span());
                errs.push(map.error(span, codes::COLUMN, format!("constant `{}`: {e}", f.path)));
            }
        }
        if !errs.is_empty() {
            return Err(ConfigErrors(errs));
        }
        Ok(mapping)
    }

    /// The schema of the records this mapping produces (rooted at the event).
    pub fn schema(&self) -> &StaticSchema {
        &self.schema
    }

    /// Finds the mapped columns in a header row. Errors name the missing columns.
    pub fn bind(&mut self, header: &csv::ByteRecord) -> Result<(), String> {
        let mut missing = Vec::new();
        for (i, f) in self.fields.iter().enumerate() {
            if let Some(col) = &f.column {
                match header.iter().position(|h| h == col.as_bytes()) {
                    Some(c) => self.columns[i] = Some(c),
                    None => missing.push(col.clone()),
                }
            }
        }
        if missing.is_empty() { Ok(()) } else { Err(format!("the input has no column {}", missing.join(", "))) }
    }

    /// Reads a row into `out` (one value per field). Strings borrow from the row.
    pub fn read<'r>(&'r self, row: &'r csv::ByteRecord, line: u64, out: &mut RowValues<'r>) -> Result<Timestamp, RowError> {
        out.clear();
        for (i, f) in self.fields.iter().enumerate() {
            let (bytes, name): (&[u8], &str) = match (self.columns[i], &f.constant) {
                (Some(c), _) => (row.get(c).unwrap_or(b""), f.column.as_deref().unwrap_or("")),
                (None, Some(k)) => (k.as_bytes(), f.path.as_str()),
                (None, None) => (b"", f.path.as_str()),
            };
            let v = self.cell(&f.ty, bytes).map_err(|message| RowError { line, column: name.to_string(), message })?;
            out.push(v);
        }
        match out[self.time_field] {
            Value::Timestamp(t) => Ok(t),
            _ => Err(RowError {
                line,
                column: self.fields[self.time_field].column.clone().unwrap_or_default(),
                message: "the time is empty".into(),
            }),
        }
    }

    fn cell<'r>(&self, ty: &Type, b: &'r [u8]) -> Result<Value<'r>, String> {
        if b.is_empty() {
            return Ok(Value::Null);
        }
        let text = || std::str::from_utf8(b).map_err(|_| "not valid UTF-8".to_string());
        Ok(match ty {
            Type::String | Type::Dyn => Value::Str(text()?),
            Type::Int => Value::Int(parse_int(b).ok_or_else(|| format!("{:?} is not an integer", String::from_utf8_lossy(b)))?),
            Type::Decimal => {
                Value::Decimal(parse_decimal(b).ok_or_else(|| format!("{:?} is not a decimal number", String::from_utf8_lossy(b)))?)
            }
            Type::Double => Value::Double(text()?.parse::<f64>().map_err(|_| format!("{:?} is not a number", String::from_utf8_lossy(b)))?),
            Type::Bool => Value::Bool(match b {
                b"true" | b"1" | b"TRUE" | b"True" => true,
                b"false" | b"0" | b"FALSE" | b"False" => false,
                _ => return Err(format!("{:?} is not true/false/1/0", String::from_utf8_lossy(b))),
            }),
            Type::Timestamp => {
                let t = match self.time_format {
                    TimeFormat::Naive(off) => Timestamp::parse_naive(b, off),
                    TimeFormat::Rfc3339 => Timestamp::parse_rfc3339(text()?),
                };
                Value::Timestamp(t.map_err(|e| e.to_string())?)
            }
            other => return Err(format!("columns of type {other} cannot be read from CSV")),
        })
    }

    /// The position of the id field among the record's values.
    pub fn id_field(&self) -> Option<usize> {
        self.id_field
    }
}

/// The values of one row, in field order (on the stack for up to 16 fields).
pub type RowValues<'r> = smallvec::SmallVec<[Value<'r>; 16]>;

/// A CSV row as a record.
#[derive(Debug)]
pub struct RowRecord<'a, 'r>(pub &'a [Value<'r>]);

impl Record for RowRecord<'_, '_> {
    #[inline]
    fn get(&self, field: FieldId) -> Value<'_> {
        self.0.get(field.inner() as usize).copied().unwrap_or(Value::Null)
    }
}

fn parse_int(b: &[u8]) -> Option<i64> {
    let (neg, digits) = match b.first()? {
        b'-' => (true, &b[1..]),
        b'+' => (false, &b[1..]),
        _ => (false, b),
    };
    if digits.is_empty() || digits.len() > 18 {
        return std::str::from_utf8(b).ok()?.parse().ok();
    }
    let mut v: i64 = 0;
    for &c in digits {
        if !c.is_ascii_digit() {
            return None;
        }
        v = v * 10 + i64::from(c - b'0');
    }
    Some(if neg { -v } else { v })
}

/// Exact decimal from text: a fast path for plain `[-]digits[.digits]` of up to 18
/// digits, else the contract's own parser ([`mamori_core::amount::parse_decimal`]).
pub fn parse_decimal(b: &[u8]) -> Option<Decimal> {
    let (neg, body) = match b.first()? {
        b'-' => (true, &b[1..]),
        _ => (false, b),
    };
    if !body.is_empty() && body.len() <= 18 && body[0] != b'.' && body[body.len() - 1] != b'.' {
        let mut m: i64 = 0;
        let mut scale = None;
        let mut plain = true;
        for (i, &c) in body.iter().enumerate() {
            if c.is_ascii_digit() {
                m = m * 10 + i64::from(c - b'0');
            } else if c == b'.' && scale.is_none() {
                scale = Some((body.len() - i - 1) as u32);
            } else {
                plain = false;
                break;
            }
        }
        if plain {
            return Some(Decimal::new(if neg { -m } else { m }, scale.unwrap_or(0)));
        }
    }
    mamori_core::amount::parse_decimal(std::str::from_utf8(b).ok()?, true).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimals() {
        assert_eq!(parse_decimal(b"57.16"), Some(Decimal::new(5716, 2)));
        assert_eq!(parse_decimal(b"-3"), Some(Decimal::new(-3, 0)));
        assert_eq!(parse_decimal(b"1e3"), Some(Decimal::new(1000, 0)));
        assert_eq!(parse_decimal(b"0.000000000000000001"), Some(Decimal::new(1, 18)));
        for bad in [&b""[..], b"-", b"1.2.3", b"abc", b"1.", b".", b"1,5", b"+-1"] {
            assert_eq!(parse_decimal(bad), None, "{:?}", String::from_utf8_lossy(bad));
        }
    }

    #[test]
    fn ints() {
        assert_eq!(parse_int(b"-42"), Some(-42));
        assert_eq!(parse_int(b"4x"), None);
        assert_eq!(parse_int(b"9223372036854775807"), Some(i64::MAX));
        assert_eq!(parse_int(b"9223372036854775808"), None);
    }
}
