//! History as banks hold it, read as v1 events: NDJSON in the contract, CSV and Parquet
//! through a declared column mapping, Zengin transfer files. Every record becomes an
//! [`Event`] validated exactly as the service validates one, or a [`RecordError`] naming
//! the file, the record and the field (the column, for mapped files).

use std::collections::BTreeMap;
use std::io::{BufRead, Read};
use std::ops::ControlFlow;
use std::path::{Path, PathBuf};

// What a cell or a constant puts in a field: JSON, or a time or decimal already read.
use mamori_core::event::{Event, EventFields, EventType, FieldKey, Given as Filled, Stamp};
use mamori_core::{Decimal, Timestamp};
use serde_json::{Map, Value as Json};

use crate::parquet_input::ParquetRows;
use crate::source::{Cell, RecordError};
use crate::zengin_events::{self, ZenginOptions};

/// An input file's format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Ndjson,
    Csv,
    Parquet,
    Zengin,
}

impl Format {
    fn named(s: &str) -> Option<Format> {
        Some(match s {
            "ndjson" | "jsonl" => Format::Ndjson,
            "csv" => Format::Csv,
            "parquet" => Format::Parquet,
            "zengin" => Format::Zengin,
            _ => return None,
        })
    }
}

/// One input: a path and its format.
#[derive(Debug, Clone)]
pub struct Input {
    pub path: PathBuf,
    pub format: Format,
}

impl Input {
    /// `FORMAT:PATH` (`ndjson`, `csv`, `parquet`, `zengin`) or a path whose name says its
    /// format: `.ndjson`, `.jsonl`, `.json`, `.csv`, `.tsv` (each also `.gz`), `.parquet`,
    /// `.zengin`, `.zen`.
    pub fn parse(arg: &str) -> Result<Input, String> {
        if let Some((prefix, path)) = arg.split_once(':')
            && let Some(format) = Format::named(prefix)
        {
            return Ok(Input { path: PathBuf::from(path), format });
        }
        let lower = arg.to_ascii_lowercase();
        let name = lower.strip_suffix(".gz").unwrap_or(&lower);
        let format = if name.ends_with(".ndjson") || name.ends_with(".jsonl") || name.ends_with(".json") {
            Format::Ndjson
        } else if name.ends_with(".csv") || name.ends_with(".tsv") {
            Format::Csv
        } else if lower.ends_with(".parquet") || lower.ends_with(".pq") {
            Format::Parquet
        } else if lower.ends_with(".zengin") || lower.ends_with(".zen") {
            Format::Zengin
        } else {
            return Err(format!(
                "{arg}: cannot tell the format from the name; write FORMAT:PATH with FORMAT one of ndjson, csv, parquet, zengin"
            ));
        };
        Ok(Input { path: PathBuf::from(arg), format })
    }

    fn name(&self) -> String {
        self.path.display().to_string()
    }
}

/// How a typed attribute column is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Text,
    Decimal,
    Int,
    Bool,
    Time,
}

/// Which column (or constant) fills which event field, for CSV and Parquet.
///
/// The `[input]` section of a feature file, or a file with only that section:
/// `columns` (event path → column), `constants` (event path → value), `types`
/// (`attributes.*` → `int`, `decimal`, `bool` or `string`), `time_format` (`rfc3339` or
/// `naive`), `utc_offset` for naive times (default `+09:00`), `delimiter`.
#[derive(Debug, Clone)]
pub struct Mapping {
    /// (event path, column, kind)
    columns: Vec<(String, String, Kind)>,
    /// Where each column's value goes, found once.
    column_targets: Vec<Target>,
    /// Each constant's value, read once (or why it cannot be read), and where it goes.
    constants: Vec<(Target, Result<Filled, String>)>,
    naive_offset: Option<i32>,
    delimiter: u8,
    /// Events made from the constants checked once, when the mapping allows it.
    stamp: Option<Box<Stamp>>,
}

impl Mapping {
    pub fn load(path: &Path) -> Result<Mapping, String> {
        let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
        Mapping::parse(&text).map_err(|e| format!("{}: {e}", path.display()))
    }

    pub fn parse(text: &str) -> Result<Mapping, String> {
        let doc: toml::Table = text.parse().map_err(|e: toml::de::Error| e.to_string())?;
        let input = doc.get("input").and_then(|v| v.as_table()).ok_or("no [input] section")?;
        for k in input.keys() {
            if !["format", "columns", "constants", "types", "time_format", "utc_offset", "delimiter"].contains(&k.as_str()) {
                return Err(format!("[input]: unknown key {k:?}"));
            }
        }
        let table = |name: &str| -> Result<BTreeMap<String, String>, String> {
            let Some(t) = input.get(name) else { return Ok(BTreeMap::new()) };
            let t = t.as_table().ok_or(format!("[input.{name}] must be a table"))?;
            t.iter()
                .map(|(k, v)| match v {
                    toml::Value::String(s) => Ok((k.clone(), s.clone())),
                    toml::Value::Integer(i) => Ok((k.clone(), i.to_string())),
                    toml::Value::Boolean(b) => Ok((k.clone(), b.to_string())),
                    _ => Err(format!("[input.{name}] {k}: give a string")),
                })
                .collect()
        };
        let types = table("types")?;
        for (path, t) in &types {
            if !["int", "integer", "decimal", "bool", "string", "str"].contains(&t.as_str()) {
                return Err(format!("[input.types] {path}: unknown type {t:?} (int, decimal, bool, string)"));
            }
        }
        let kind_of = |path: &str| -> Result<Kind, String> {
            if let Some(t) = types.get(path) {
                return match t.as_str() {
                    "int" | "integer" => Ok(Kind::Int),
                    "decimal" => Ok(Kind::Decimal),
                    "bool" => Ok(Kind::Bool),
                    "string" | "str" => Ok(Kind::Text),
                    _ => Ok(Kind::Text),
                };
            }
            Ok(match path {
                "time" => Kind::Time,
                "amount" | "quantity" | "hot" | "cold" | "customer_total" => Kind::Decimal,
                "success" => Kind::Bool,
                _ => Kind::Text,
            })
        };
        let columns = table("columns")?.into_iter().map(|(p, c)| kind_of(&p).map(|k| (p, c, k))).collect::<Result<Vec<_>, String>>()?;
        let constants = table("constants")?.into_iter().map(|(p, c)| kind_of(&p).map(|k| (p, c, k))).collect::<Result<Vec<_>, String>>()?;
        for required in ["id", "time"] {
            if !columns.iter().any(|(p, ..)| p == required) {
                return Err(format!("[input.columns] must map a column to {required:?}"));
            }
        }
        if !columns.iter().chain(&constants).any(|(p, ..)| p == "type") {
            return Err("[input.columns] or [input.constants] must give \"type\"".into());
        }
        let naive_offset = match input.get("time_format").and_then(|v| v.as_str()).unwrap_or("rfc3339") {
            "rfc3339" => None,
            "naive" => {
                let z = input.get("utc_offset").and_then(|v| v.as_str()).unwrap_or("+09:00");
                Some(mamori_core::time::parse_fixed_zone(z).ok_or(format!("[input] utc_offset {z:?}: give +HH:MM"))?)
            }
            other => return Err(format!("[input] time_format {other:?}: rfc3339 or naive")),
        };
        let delimiter = match input.get("delimiter").and_then(|v| v.as_str()) {
            None => b',',
            Some(d) if d.len() == 1 => d.as_bytes()[0],
            Some("\\t") | Some("\t") => b'\t',
            Some(d) => return Err(format!("[input] delimiter {d:?}: one character")),
        };
        let paths = columns.iter().chain(&constants).map(|(p, ..)| p.as_str());
        let mut targets = Target::all(paths).into_iter();
        let column_targets = targets.by_ref().take(columns.len()).collect();
        let constants = constants
            .iter()
            .zip(targets)
            .map(|((p, value, kind), target)| {
                // A type is named once, not read again for every record.
                let ty = if target.typed == Typed::Type { EventType::parse(value) } else { None };
                let value = match ty {
                    Some(t) => Ok(Filled::Type(t)),
                    None => text_value(value, *kind, naive_offset).map_err(|e| format!("constant {p}: {e}")),
                };
                (target, value)
            })
            .collect();
        let mut m = Mapping { columns, column_targets, constants, naive_offset, delimiter, stamp: None };
        m.stamp = m.stamp();
        Ok(m)
    }

    /// The column names the mapping reads.
    fn column_for(&self, path: &str) -> Option<&str> {
        self.columns.iter().find(|(p, ..)| p == path).map(|(_, c, _)| c.as_str())
    }

    /// The stamp of the mapping's events: the constants checked once, each record's cells
    /// put into a copy of the event they make. `None` when a constant cannot be read or
    /// when the events' shape is not one a stamp makes ([`Stamp::new`]).
    fn stamp(&self) -> Option<Box<Stamp>> {
        if self.constants.iter().any(|(_, v)| v.is_err()) {
            return None;
        }
        let paths: Vec<&str> = self.columns.iter().map(|(p, ..)| p.as_str()).collect();
        Stamp::new(&self.constant_fields(0), &paths).map(Box::new)
    }

    /// The fields the constants that can be read set, with room for `more` besides.
    fn constant_fields(&self, more: usize) -> EventFields {
        let mut fields = EventFields::with_capacity(self.constants.len() + more);
        for (target, value) in &self.constants {
            if let Ok(v) = value {
                target.set(&mut fields, v.clone());
            }
        }
        fields
    }

    /// The event of a record, or its fields for [`Event::from_fields`] to check, from its
    /// cells (`cell(i, out)` writes the i-th mapped column's value into `out`, `None`
    /// when it has none: written in place, where a value returned is copied again).
    fn build(&self, mut cell: impl FnMut(usize, &mut Option<Filled>) -> Result<(), String>) -> Result<Built, (usize, String)> {
        // A constant that cannot be read is reported before any cell.
        if let Some((_, Err(e))) = self.constants.iter().find(|(_, v)| v.is_err()) {
            return Err((usize::MAX, e.clone()));
        }
        let mut cells = SPARE_CELLS.with_borrow_mut(std::mem::take);
        cells.clear();
        cells.resize_with(self.columns.len(), || None);
        let built = self.build_from(&mut cell, &mut cells);
        cells.clear();
        SPARE_CELLS.with_borrow_mut(|spare| *spare = cells);
        built
    }

    fn build_from(
        &self,
        cell: &mut impl FnMut(usize, &mut Option<Filled>) -> Result<(), String>,
        cells: &mut [Option<Filled>],
    ) -> Result<Built, (usize, String)> {
        for (i, out) in cells.iter_mut().enumerate() {
            cell(i, out).map_err(|e| (i, e))?;
        }
        if let Some(stamp) = &self.stamp
            && let Some(event) = stamp.make_into(cells, take_spare_event())
        {
            return Ok(Built::Event(event));
        }
        let mut fields = self.constant_fields(self.columns.len());
        for (target, v) in self.column_targets.iter().zip(cells.iter_mut()) {
            if let Some(v) = v.take() {
                target.set(&mut fields, v);
            }
        }
        Ok(Built::Fields(fields))
    }

    /// The field a JSON Pointer into a built event came from: the column, and the path.
    fn field_of(&self, pointer: &str) -> String {
        let path = pointer.trim_start_matches('/').replace('/', ".");
        match self.column_for(&path) {
            Some(c) => format!("{c} ({path})"),
            None if path.is_empty() => "(event)".into(),
            None => path,
        }
    }
}

/// A record as [`Mapping::build`] leaves it: an event made by the mapping's stamp (boxed,
/// most often in the room of an event done with), or fields for the checks of
/// [`Event::from_fields`].
enum Built {
    Event(Box<Event>),
    Fields(EventFields),
}

/// A time as the event would read its RFC 3339 text, which has milliseconds: a time
/// outside what that text can say stays text, to be refused as such.
fn filled_time(t: Timestamp) -> Filled {
    if jiff::Timestamp::from_microsecond(t.0).is_ok() {
        Filled::Time(Timestamp(t.0.div_euclid(1_000) * 1_000))
    } else {
        Filled::Json(Json::String(t.to_rfc3339()))
    }
}

/// The event field at a dotted path (`bank.account`), read once from the mapping: the
/// top-level field, and the path inside it when it is nested.
#[derive(Debug, Clone)]
struct Target {
    /// The top-level field, when some event type has it.
    key: Option<FieldKey>,
    /// Whether it is the event's `time` or its `amount`, which are set typed.
    typed: Typed,
    head: String,
    /// The rest of the path, for a nested field.
    rest: Option<String>,
    /// For a nested field, how many of the mapping's paths share its head: the room its
    /// object is made with.
    siblings: usize,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Typed {
    Time,
    Amount,
    Type,
    No,
}

impl Target {
    fn of(path: &str) -> Target {
        let (head, rest) = match path.split_once('.') {
            None => (path, None),
            Some((head, rest)) => (head, Some(rest.to_string())),
        };
        let typed = match path {
            "time" => Typed::Time,
            "amount" => Typed::Amount,
            "type" => Typed::Type,
            _ => Typed::No,
        };
        Target { key: FieldKey::of(head), typed, head: head.to_string(), rest, siblings: 0 }
    }

    /// The targets of `paths`, each nested one knowing how many share its head.
    fn all<'p>(paths: impl Iterator<Item = &'p str> + Clone) -> Vec<Target> {
        let mut targets: Vec<Target> = paths.clone().map(Target::of).collect();
        for t in targets.iter_mut().filter(|t| t.rest.is_some()) {
            t.siblings = paths.clone().filter(|p| p.split_once('.').is_some_and(|(h, _)| h == t.head)).count();
        }
        targets
    }

    /// Sets the field: nested fields go in an object, and the event's time, amount and type
    /// are set typed when they are.
    fn set(&self, fields: &mut EventFields, v: Filled) {
        let v = match (self.typed, v) {
            (Typed::Time, Filled::Time(t)) => return fields.insert_time(t),
            (Typed::Amount, Filled::Decimal(d)) => return fields.insert_amount(d),
            (Typed::Type, Filled::Type(t)) => return fields.insert_type(t),
            (_, v) => v.into_json(),
        };
        let Some(rest) = &self.rest else {
            return match self.key {
                Some(k) => fields.insert_field(k, v),
                None => fields.insert(&self.head, v),
            };
        };
        let head = match self.key {
            Some(k) => {
                if fields.get_field_mut(k).is_none() {
                    fields.insert_field(k, Json::Object(Map::with_capacity(self.siblings)));
                }
                fields.get_field_mut(k)
            }
            None => {
                if fields.get_mut(&self.head).is_none() {
                    fields.insert(&self.head, Json::Object(Map::with_capacity(self.siblings)));
                }
                fields.get_mut(&self.head)
            }
        };
        if let Some(Json::Object(m)) = head {
            set_path(m, rest, v);
        }
    }
}

fn set_path(obj: &mut Map<String, Json>, path: &str, v: Json) {
    match path.split_once('.') {
        None => {
            obj.insert(path.to_string(), v);
        }
        Some((head, rest)) => {
            // The head's name is copied only the first time it is met.
            if !obj.contains_key(head) {
                obj.insert(head.to_string(), Json::Object(Map::new()));
            }
            if let Some(Json::Object(m)) = obj.get_mut(head) {
                set_path(m, rest, v);
            }
        }
    }
}

/// A text cell as a value of the field's kind. Empty text is absent.
#[inline]
fn text_value(s: &str, kind: Kind, naive: Option<i32>) -> Result<Filled, String> {
    Ok(Filled::Json(match kind {
        Kind::Text | Kind::Decimal => Json::String(s.to_string()),
        Kind::Int => Json::Number(s.trim().parse::<i64>().map_err(|_| format!("{s:?} is not an integer"))?.into()),
        Kind::Bool => Json::Bool(match s.trim() {
            "true" | "TRUE" | "True" | "1" => true,
            "false" | "FALSE" | "False" | "0" => false,
            _ => return Err(format!("{s:?} is not true or false")),
        }),
        Kind::Time => match naive {
            None => Json::String(s.to_string()),
            Some(off) => return Ok(filled_time(Timestamp::parse_naive(s.trim().as_bytes(), off).map_err(|e| e.to_string())?)),
        },
    }))
}

/// The event's amount from its text: read as the event would read it, or, when it is not
/// a plain decimal, left as text for the event's checks to refuse in their words.
#[inline]
fn amount_text(s: &str) -> Filled {
    match mamori_core::amount::parse_decimal(s, false) {
        Ok(d) => Filled::Decimal(d),
        Err(_) => Filled::Json(Json::String(s.to_string())),
    }
}

/// A cell as a value of the field's kind. A text cell's string is moved out (left empty)
/// when `once`: no other field reads the cell.
fn cell_value(c: &mut Cell, once: bool, kind: Kind, naive: Option<i32>) -> Result<Option<Filled>, String> {
    Ok(Some(match (&mut *c, kind) {
        (Cell::Null, _) => return Ok(None),
        (Cell::Str(s), k) => {
            if s.is_empty() {
                return Ok(None);
            }
            match k {
                Kind::Text | Kind::Decimal if once => Filled::Json(Json::String(std::mem::take(s))),
                _ => text_value(s, k, naive)?,
            }
        }
        (Cell::Bool(b), Kind::Bool | Kind::Text) => Filled::Json(Json::Bool(*b)),
        (Cell::Int(i), Kind::Bool) => Filled::Json(Json::Bool(*i != 0)),
        (Cell::Int(i), Kind::Int) => Filled::Json(Json::Number((*i).into())),
        (Cell::Int(i), Kind::Decimal) => Filled::Decimal(Decimal::from(*i)),
        (Cell::Int(i), _) => Filled::Json(Json::String(i.to_string())),
        (Cell::Decimal(d), Kind::Int) => {
            Filled::Json(Json::Number(i64::try_from(*d).map_err(|_| format!("{d} is not an integer"))?.into()))
        }
        (Cell::Decimal(d), _) => Filled::Decimal(*d),
        (Cell::Timestamp(us), _) => filled_time(Timestamp(*us)),
        (Cell::Date(days), k) => {
            let us = i64::from(*days) * 86_400_000_000 - i64::from(naive.unwrap_or(0)) * 1_000_000;
            if k == Kind::Time { filled_time(Timestamp(us)) } else { Filled::Json(Json::String(date_text(*days))) }
        }
        (Cell::Bool(b), _) => Filled::Json(Json::String(b.to_string())),
    }))
}

fn date_text(days: i32) -> String {
    let d = jiff::civil::Date::new(1970, 1, 1).ok().and_then(|e| e.checked_add(jiff::Span::new().days(i64::from(days))).ok());
    d.map_or_else(|| days.to_string(), |d| d.to_string())
}

/// What a read produces, one record at a time.
pub type Item = Result<(u64, Box<Event>), RecordError>;

/// What readers need besides the file.
#[derive(Debug, Clone, Default)]
pub struct Context {
    pub mapping: Option<Mapping>,
    pub zengin: ZenginOptions,
}

/// One record as read, before it becomes an event ([`Binding::parse`]): reading is
/// sequential, parsing can be spread over threads.
#[derive(Debug)]
pub enum Raw {
    /// An NDJSON line (trimmed, not empty).
    Line(Vec<u8>),
    /// A CSV row.
    Row(crate::csv_rows::Row),
    /// A Parquet row.
    Cells(Vec<Cell>),
    /// Already an event (a Zengin record, converted as it was checked).
    Event(Box<Event>),
}

/// A raw record with its number in its file, or what made it unreadable.
pub type RawItem = Result<(u64, Raw), RecordError>;

/// How the records of one file become events: its name, its mapping, and where the
/// mapped columns are in it.
#[derive(Debug)]
pub struct Binding {
    file: String,
    how: How,
}

#[derive(Debug)]
enum How {
    Ndjson,
    /// `index`: the record's column of each mapped path; `once`: whether no other path
    /// reads that column (its cell's text can then be moved into the event).
    Mapped {
        mapping: Mapping,
        index: Vec<usize>,
        once: Vec<bool>,
    },
    Zengin,
}

impl Binding {
    /// Records that are events in the v1 contract, as JSON.
    pub fn ndjson(file: &str) -> Binding {
        Binding { file: file.to_string(), how: How::Ndjson }
    }

    /// Records whose columns `index` fill the paths of `mapping`.
    fn mapped(file: &str, mapping: Mapping, index: Vec<usize>) -> Binding {
        let once = index.iter().map(|i| index.iter().filter(|j| *j == i).count() == 1).collect();
        Binding { file: file.to_string(), how: How::Mapped { mapping, index, once } }
    }

    /// The event a record is, or why it is not one.
    pub fn parse(&self, record: u64, raw: Raw) -> Item {
        let file = self.file.as_str();
        match (raw, &self.how) {
            (Raw::Event(e), _) => Ok((record, e)),
            (Raw::Line(text), _) => Event::from_json_slice(&text).map(|e| (record, Box::new(e))).map_err(|e| {
                event_error(file, record, e, |p| if p.is_empty() { "(line)".into() } else { p.trim_start_matches('/').replace('/', ".") })
            }),
            (Raw::Row(row), How::Mapped { mapping: m, index, .. }) => {
                // The row's text checked once: each cell is then a slice of it (and a
                // cell is checked alone only when the row is not UTF-8).
                let whole = std::str::from_utf8(row.as_slice()).ok();
                let built = m.build(|i, out| {
                    let (_, column, kind) = &m.columns[i];
                    let Some(range) = row.range(index[i]) else { return Err(format!("the row has no column {column:?}")) };
                    let text = match whole {
                        Some(w) => w.get(range),
                        None => std::str::from_utf8(&row.as_slice()[range]).ok(),
                    };
                    let text = text.ok_or_else(|| "not UTF-8".to_string())?;
                    if text.is_empty() {
                        // Left `None`.
                    } else if *kind == Kind::Decimal && m.column_targets[i].typed == Typed::Amount {
                        *out = Some(amount_text(text));
                    } else if matches!(kind, Kind::Text | Kind::Decimal) {
                        // The commonest cell, built in place (as `text_value` would build it):
                        // a value returned from a call is copied off the stack.
                        *out = Some(Filled::Json(Json::String(text.to_string())));
                    } else {
                        *out = Some(text_value(text, *kind, m.naive_offset)?);
                    }
                    Ok(())
                });
                spare_row(row);
                finish(built, m, file, record)
            }
            (Raw::Cells(mut cells), How::Mapped { mapping: m, index, once }) => {
                let built = m.build(|i, out| {
                    *out = cell_value(&mut cells[index[i]], once[i], m.columns[i].2, m.naive_offset)?;
                    Ok(())
                });
                finish(built, m, file, record)
            }
            (Raw::Row(_) | Raw::Cells(_), _) => {
                Err(RecordError { file: file.to_string(), record, field: String::new(), message: "a mapped row without a mapping".into() })
            }
        }
    }
}

/// Reads every record of `input`, in file order, calling `f` with each event or error
/// until `f` breaks. A file that cannot be opened at all is an error.
pub fn read(input: &Input, ctx: &Context, f: &mut dyn FnMut(Item) -> ControlFlow<()>) -> Result<(), RecordError> {
    read_raw(input, ctx, &mut |binding, item| f(item.and_then(|(n, raw)| binding.parse(n, raw))))
}

/// Reads every record of `input` as it is, in file order, with how it becomes an event.
pub fn read_raw(
    input: &Input,
    ctx: &Context,
    f: &mut dyn FnMut(&std::sync::Arc<Binding>, RawItem) -> ControlFlow<()>,
) -> Result<(), RecordError> {
    let file = input.name();
    let whole = |message: String| RecordError { file: file.clone(), record: 0, field: String::new(), message };
    let mapping = |what: &str| ctx.mapping.clone().ok_or_else(|| whole(format!("a {what} input needs --mapping FILE")));
    match input.format {
        Format::Ndjson => {
            let binding = std::sync::Arc::new(Binding::ndjson(&file));
            read_ndjson(open(&input.path).map_err(whole)?, &file, &mut |item| f(&binding, item))
        }
        Format::Csv => read_csv(open(&input.path).map_err(whole)?, &file, mapping("CSV")?, f),
        Format::Parquet => read_parquet(&input.path, &file, mapping("Parquet")?, f),
        Format::Zengin => {
            let raw = std::fs::File::open(&input.path).map_err(|e| whole(e.to_string()))?;
            let binding = std::sync::Arc::new(Binding { file: file.clone(), how: How::Zengin });
            zengin_events::read(std::io::BufReader::with_capacity(1 << 16, raw), &file, &ctx.zengin, &mut |item| {
                f(&binding, item.map(|(n, e)| (n, Raw::Event(e))))
            })
        }
    }
}

fn open(path: &Path) -> Result<Box<dyn BufRead + Send>, String> {
    let raw = std::fs::File::open(path).map_err(|e| e.to_string())?;
    let name = path.to_string_lossy().to_ascii_lowercase();
    let r: Box<dyn Read + Send> =
        if name.ends_with(".gz") { Box::new(flate2::read::MultiGzDecoder::new(std::io::BufReader::new(raw))) } else { Box::new(raw) };
    Ok(Box::new(std::io::BufReader::with_capacity(1 << 20, r)))
}

fn event_error(file: &str, record: u64, e: mamori_core::event::EventErrors, field: impl Fn(&str) -> String) -> RecordError {
    let first = e.errors.first();
    let mut message = first.map(|f| f.reason.clone()).unwrap_or_default();
    if e.errors.len() > 1 {
        message.push_str(&format!(" (and {} more)", e.errors.len() - 1));
    }
    RecordError { file: file.to_string(), record, field: first.map(|f| field(&f.pointer)).unwrap_or_default(), message }
}

fn read_ndjson(mut r: Box<dyn BufRead + Send>, file: &str, f: &mut dyn FnMut(RawItem) -> ControlFlow<()>) -> Result<(), RecordError> {
    let mut line = Vec::new();
    let mut n = 0u64;
    loop {
        line.clear();
        let read = r.read_until(b'\n', &mut line).map_err(|e| RecordError {
            file: file.to_string(),
            record: n + 1,
            field: String::new(),
            message: format!("read failed: {e}"),
        })?;
        if read == 0 {
            return Ok(());
        }
        n += 1;
        let text = line.trim_ascii();
        if text.is_empty() {
            continue;
        }
        if f(Ok((n, Raw::Line(text.to_vec())))).is_break() {
            return Ok(());
        }
    }
}

fn read_csv(
    r: Box<dyn BufRead + Send>,
    file: &str,
    m: Mapping,
    f: &mut dyn FnMut(&std::sync::Arc<Binding>, RawItem) -> ControlFlow<()>,
) -> Result<(), RecordError> {
    let mut csv = crate::csv_rows::CsvRows::new(r, m.delimiter);
    let mut header = crate::csv_rows::Row::default();
    csv.read(&mut header).map_err(|e| RecordError {
        file: file.to_string(),
        record: 1,
        field: String::new(),
        message: format!("no header: {e}"),
    })?;
    let mut index = Vec::with_capacity(m.columns.len());
    for (path, column, _) in &m.columns {
        let i = header.iter().position(|h| h == column.as_bytes()).ok_or_else(|| RecordError {
            file: file.to_string(),
            record: 1,
            field: column.clone(),
            message: format!("the header has no column {column:?} (mapped to {path})"),
        })?;
        index.push(i);
    }
    let binding = std::sync::Arc::new(Binding::mapped(file, m, index));
    // Each row is handed on, so each needs its own record: one this thread parsed already
    // ([`spare_row`]), or a new one sized as the row before it, which takes two
    // allocations rather than growing field by field. (Capped, so that one huge row does
    // not make every later record huge.)
    let (mut bytes, mut fields) = (0, 0);
    loop {
        let line = csv.line();
        let mut row = SPARE_ROWS.with_borrow_mut(Vec::pop).unwrap_or_else(|| crate::csv_rows::Row::with_capacity(bytes, fields));
        let item = match csv.read(&mut row) {
            Ok(false) => return Ok(()),
            Ok(true) => {
                (bytes, fields) = (row.as_slice().len().next_power_of_two().min(4096), row.len().min(256));
                Ok((line, Raw::Row(row)))
            }
            Err(e) => Err(RecordError { file: file.to_string(), record: line, field: String::new(), message: e.to_string() }),
        };
        if f(&binding, item).is_break() {
            return Ok(());
        }
    }
}

thread_local! {
    /// CSV rows already parsed on this thread, for the next rows read on it: where one
    /// thread both reads and parses (one judge, or a single parser), a row's two
    /// allocations are made once, not for every row.
    static SPARE_ROWS: std::cell::RefCell<Vec<crate::csv_rows::Row>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// The most rows a thread keeps: a thread that parses rows another thread read keeps a
/// few it will not use.
const SPARE_ROWS_KEPT: usize = 4;

thread_local! {
    /// Events made on this thread and done with, to be written over by the next records a
    /// mapping's stamp makes on it ([`Stamp::make_into`]): their strings and attribute
    /// tables are not allocated again for every record. They are taken oldest first: the
    /// longer since other cores read an event, the likelier its memory has left their
    /// caches, and writing over it waits for no other core.
    // Boxed as the sweep hands them on: a box is reused whole.
    static SPARE_EVENTS: std::cell::RefCell<std::collections::VecDeque<Box<Event>>> = const { std::cell::RefCell::new(std::collections::VecDeque::new()) };

    /// The room for a record's cells, reused by the next record read on this thread.
    static SPARE_CELLS: std::cell::RefCell<Vec<Option<Filled>>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// The most events a thread keeps for reuse: about two batches of a sweep's judge.
const SPARE_EVENTS_KEPT: usize = 2048;

/// An event done with, to write the next record over, if one is kept. The events to be
/// written over after it were last read on other cores: their memory is asked for ahead,
/// the events themselves eight records on, their strings and attribute tables (found
/// through the events, by then at hand) four on, and their attributes' text two on.
fn take_spare_event() -> Option<Box<Event>> {
    use mamori_features::ahead;
    SPARE_EVENTS.with_borrow_mut(|spare| {
        let e = spare.pop_front();
        if let Some(next) = spare.get(8) {
            ahead::event(next);
        }
        if let Some(next) = spare.get(4) {
            // The id and currency are written over too.
            ahead::text(next);
            ahead::first_byte(&next.id);
            ahead::first_byte(&next.currency);
        }
        if let Some(next) = spare.get(2) {
            ahead::attribute_text(next);
        }
        e
    })
}

/// Keeps events done with for the records this thread reads next (up to a bound; the rest
/// are dropped). Only worth it on the thread that parses: where another thread parses,
/// the events kept here would never be reused.
pub fn spare_events(events: impl Iterator<Item = Box<Event>>) {
    SPARE_EVENTS.with_borrow_mut(|spare| {
        let room = SPARE_EVENTS_KEPT.saturating_sub(spare.len());
        spare.extend(events.take(room));
    });
}

/// Keeps a parsed row for the next read on this thread (unless enough are kept, or it grew
/// large on one huge row).
fn spare_row(row: crate::csv_rows::Row) {
    if row.as_slice().len() <= 4096 && row.len() <= 256 {
        SPARE_ROWS.with_borrow_mut(|spare| {
            if spare.len() < SPARE_ROWS_KEPT {
                spare.push(row);
            }
        });
    }
}

fn finish(built: Result<Built, (usize, String)>, m: &Mapping, file: &str, record: u64) -> Item {
    match built {
        Ok(Built::Event(event)) => Ok((record, event)),
        Ok(Built::Fields(fields)) => {
            Event::from_fields(fields).map(|e| (record, Box::new(e))).map_err(|e| event_error(file, record, e, |p| m.field_of(p)))
        }
        Err((i, message)) => Err(RecordError {
            file: file.to_string(),
            record,
            field: m.columns.get(i).map(|(p, c, _)| format!("{c} ({p})")).unwrap_or_default(),
            message,
        }),
    }
}

fn read_parquet(
    path: &Path,
    file: &str,
    m: Mapping,
    f: &mut dyn FnMut(&std::sync::Arc<Binding>, RawItem) -> ControlFlow<()>,
) -> Result<(), RecordError> {
    let rows = ParquetRows::open(path).map_err(|e| RecordError { file: file.to_string(), ..e })?;
    let mut index = Vec::with_capacity(m.columns.len());
    for (path, column, _) in &m.columns {
        let i = rows.columns().iter().position(|h| h == column).ok_or_else(|| RecordError {
            file: file.to_string(),
            record: 0,
            field: column.clone(),
            message: format!("the file has no column {column:?} (mapped to {path})"),
        })?;
        index.push(i);
    }
    let binding = std::sync::Arc::new(Binding::mapped(file, m, index));
    for row in rows {
        let item = row.map(|(n, cells)| (n, Raw::Cells(cells))).map_err(|e| RecordError { file: file.to_string(), ..e });
        if f(&binding, item).is_break() {
            return Ok(());
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use proptest::strategy::Strategy;

    use super::*;

    const MAPPING: &str = r#"
[input]
time_format = "naive"
utc_offset = "+09:00"
[input.columns]
id = "TXN"
time = "AT"
account = "ACCT"
amount = "YEN"
link = "LINK"
"attributes.channel" = "CH"
[input.constants]
type = "charge"
institution = "bank-a"
[input.types]
"attributes.channel" = "int"
"#;

    fn collect(input: &Input, ctx: &Context) -> Vec<Item> {
        let mut out = Vec::new();
        read(input, ctx, &mut |i| {
            out.push(i);
            ControlFlow::Continue(())
        })
        .unwrap();
        out
    }

    fn temp(name: &str, body: &[u8]) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("mamori-sweep-input-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let p = dir.join(name);
        std::fs::write(&p, body).unwrap();
        p
    }

    /// Rows read into records parsed before keep nothing of them: short rows after long
    /// ones lack their cells, and long rows after them have them all.
    #[test]
    fn a_row_read_into_a_spare_record_is_that_row_alone() {
        let row = |i: usize, ch: &str| format!("t{i},2020-09-01 10:{i:02}:00,acc-{i},{}00,l-{i}{ch}\n", i + 1);
        let mut body = String::from("TXN,AT,ACCT,YEN,LINK,CH\n");
        for i in 0..6 {
            body.push_str(&row(i, &format!(",{i}")));
        }
        body.push_str(&row(6, ""));
        body.push_str("t7,2020-09-01 10:07:00\n");
        for i in 8..14 {
            body.push_str(&row(i, &format!(",{i}")));
        }
        let p = temp("spare.csv", body.as_bytes());
        let ctx = Context { mapping: Some(Mapping::parse(MAPPING).unwrap()), ..Context::default() };
        let items = collect(&Input { path: p, format: Format::Csv }, &ctx);
        assert_eq!(items.len(), 14);
        for (i, item) in items.iter().enumerate() {
            match i {
                6 | 7 => {
                    let err = item.as_ref().unwrap_err();
                    let field = if i == 6 { "CH (attributes.channel)" } else { "ACCT (account)" };
                    assert_eq!((err.record, err.field.as_str()), (i as u64 + 2, field), "{err}");
                    assert!(err.message.starts_with("the row has no column"), "{err}");
                }
                _ => {
                    let (_, e) = item.as_ref().unwrap();
                    assert_eq!(e.id, format!("t{i}"));
                    assert_eq!(e.account.as_deref(), Some(format!("acc-{i}").as_str()));
                    assert_eq!(e.amount.unwrap().to_string(), format!("{}00", i + 1));
                    assert_eq!(e.attributes.get("channel"), Some(&serde_json::json!(i)));
                }
            }
        }
    }

    #[test]
    fn csv_rows_become_events_and_bad_cells_name_their_column() {
        let p = temp(
            "a.csv",
            b"TXN,AT,ACCT,YEN,LINK,CH\nt1,2020-09-01 10:00:00,acc-1,50000,l-1,3\nt2,2020-09-01 10:05:00,acc-1,-5,l-1,3\nt3,2020-09-01 10:06:00,acc-1,100,l-1,x\nt4,2020-13-01 10:00:00,acc-1,100,l-1,1\n",
        );
        let ctx = Context { mapping: Some(Mapping::parse(MAPPING).unwrap()), ..Context::default() };
        let items = collect(&Input { path: p, format: Format::Csv }, &ctx);
        assert_eq!(items.len(), 4);
        let (n, e) = items[0].as_ref().unwrap();
        assert_eq!(*n, 2);
        assert_eq!(e.time.to_rfc3339(), "2020-09-01T01:00:00.000Z");
        assert_eq!(e.amount.unwrap().to_string(), "50000");
        assert_eq!(e.attributes.get("channel").unwrap(), &serde_json::json!(3));
        let e2 = items[1].as_ref().unwrap_err();
        assert_eq!((e2.record, e2.field.as_str()), (3, "YEN (amount)"), "{e2}");
        let e3 = items[2].as_ref().unwrap_err();
        assert_eq!((e3.record, e3.field.as_str()), (4, "CH (attributes.channel)"), "{e3}");
        assert!(e3.message.contains("not an integer"));
        let e4 = items[3].as_ref().unwrap_err();
        assert_eq!((e4.record, e4.field.as_str()), (5, "AT (time)"), "{e4}");
    }

    /// A constant that cannot be read refuses every record, saying which constant; a good
    /// one fills every event.
    #[test]
    fn constants_fill_every_event_or_refuse_every_record() {
        let p =
            temp("constants.csv", b"TXN,AT,ACCT,YEN,LINK\nt1,2020-09-01T10:00:00Z,acc-1,500,l-1\nt2,2020-09-01T10:01:00Z,acc-1,600,l-1\n");
        let mapping = |n: &str| {
            let text = format!(
                "[input.columns]\nid = \"TXN\"\ntime = \"AT\"\naccount = \"ACCT\"\namount = \"YEN\"\nlink = \"LINK\"\n\
                 [input.constants]\ntype = \"charge\"\ninstitution = \"bank-z\"\n\"attributes.n\" = \"{n}\"\n\
                 [input.types]\n\"attributes.n\" = \"int\"\n"
            );
            Context { mapping: Some(Mapping::parse(&text).unwrap()), ..Context::default() }
        };
        let items = collect(&Input { path: p.clone(), format: Format::Csv }, &mapping("7"));
        assert_eq!(items.len(), 2);
        for item in &items {
            let e = &item.as_ref().unwrap().1;
            assert_eq!((e.institution.as_deref(), e.attributes.get("n")), (Some("bank-z"), Some(&serde_json::json!(7))));
        }
        let items = collect(&Input { path: p, format: Format::Csv }, &mapping("x"));
        assert_eq!(items.len(), 2);
        for (i, item) in items.iter().enumerate() {
            let e = item.as_ref().unwrap_err();
            assert_eq!((e.record, e.message.as_str()), (i as u64 + 2, "constant attributes.n: \"x\" is not an integer"), "{e}");
        }
    }

    /// A constant type is the event's type; one no event has is refused, record by record,
    /// in the words the event's own check uses for it as text.
    #[test]
    fn a_constant_type_is_the_events_and_an_unknown_one_is_refused_as_text_is() {
        let p = temp(
            "type.csv",
            b"TXN,AT,ACCT,LINK
t1,2020-09-01T10:00:00Z,acc-1,l-1
t2,2020-09-01T10:01:00Z,acc-1,l-1
",
        );
        let mapping = |ty: &str| {
            let text = format!(
                "[input.columns]\nid = \"TXN\"\ntime = \"AT\"\naccount = \"ACCT\"\nlink = \"LINK\"\n[input.constants]\ntype = \"{ty}\"\n"
            );
            Context { mapping: Some(Mapping::parse(&text).unwrap()), ..Context::default() }
        };
        let m = mapping("link_revoked");
        assert!(matches!(
            m.mapping.as_ref().unwrap().constants[0],
            (Target { typed: Typed::Type, .. }, Ok(Filled::Type(EventType::LinkRevoked)))
        ));
        for item in collect(&Input { path: p.clone(), format: Format::Csv }, &m) {
            assert_eq!(item.unwrap().1.event_type(), EventType::LinkRevoked);
        }
        let wrong =
            serde_json::json!({"id": "t1", "time": "2020-09-01T10:00:00Z", "account": "acc-1", "link": "l-1", "type": "link_revokd"});
        let want = Event::from_json_value(&wrong).unwrap_err().errors[0].reason.clone();
        assert!(want.contains("did you mean \"link_revoked\""), "{want}");
        let items = collect(&Input { path: p, format: Format::Csv }, &mapping("link_revokd"));
        assert_eq!(items.len(), 2);
        for (i, item) in items.iter().enumerate() {
            let e = item.as_ref().unwrap_err();
            assert_eq!((e.record, e.field.as_str(), e.message.as_str()), (i as u64 + 2, "type", want.as_str()), "{e}");
        }
    }

    /// A cell that is not UTF-8 is refused by its column; text that is not UTF-8 in a
    /// column the mapping does not read, or beside the cell in a quoted field, is not.
    #[test]
    fn a_cell_not_in_utf8_is_named_by_its_column() {
        let p = temp(
            "utf8.csv",
            b"TXN,AT,ACCT,YEN,LINK,CH,NOTE\n\
              t1,2020-09-01 10:00:00,acc-\xff,500,l-1,3,ok\n\
              t2,2020-09-01 10:00:00,acc-2,500,l-1,3,\xfe\xff\n\
              t3,2020-09-01 10:00:00,\"\xe3\x81\x82\",500,l-1,3,\"\xe3\x81\"\n\
              t4,2020-09-01 10:00:00,acc-4,500,\"l-\xe3\x81\",\"\x82\",x\n",
        );
        let ctx = Context { mapping: Some(Mapping::parse(MAPPING).unwrap()), ..Context::default() };
        let items = collect(&Input { path: p, format: Format::Csv }, &ctx);
        assert_eq!(items.len(), 4);
        let e1 = items[0].as_ref().unwrap_err();
        assert_eq!((e1.record, e1.field.as_str(), e1.message.as_str()), (2, "ACCT (account)", "not UTF-8"), "{e1}");
        assert_eq!(items[1].as_ref().unwrap().1.account.as_deref(), Some("acc-2"));
        assert_eq!(items[2].as_ref().unwrap().1.account.as_deref(), Some("\u{3042}"));
        // The row's bytes together are UTF-8, the link's and the channel's cells alone are
        // not: the first in the mapping's order is named.
        let e4 = items[3].as_ref().unwrap_err();
        assert_eq!((e4.record, e4.field.as_str(), e4.message.as_str()), (5, "CH (attributes.channel)", "not UTF-8"), "{e4}");
    }

    /// The paths of [`mapped_row`]'s mapping and the columns that fill them: top-level
    /// fields, fields nested one and two levels deep, and fields no event has, at the top
    /// and above a nested one.
    const ROW_PATHS: [(&str, &str); 11] = [
        ("id", "A"),
        ("time", "B"),
        ("account", "C"),
        ("amount", "D"),
        ("direction", "E"),
        ("counterparty.institution", "F"),
        ("counterparty.account", "G"),
        ("attributes.deep.x", "H"),
        ("attributes.y", "I"),
        ("colour", "J"),
        ("extra.z", "K"),
    ];

    /// A binding of [`ROW_PATHS`] (a transfer), and the row's cell of each mapped column in
    /// the mapping's own order.
    fn mapped_row() -> (Binding, Vec<usize>) {
        let mut cols = String::from("[input.columns]\n");
        for (p, c) in &ROW_PATHS {
            cols.push_str(&format!("\"{p}\" = \"{c}\"\n"));
        }
        let m = Mapping::parse(&format!("{cols}[input.constants]\ntype = \"transfer\"\n")).unwrap();
        let index: Vec<usize> = m.columns.iter().map(|(_, c, _)| ROW_PATHS.iter().position(|(_, h)| h == c).unwrap()).collect();
        (Binding::mapped("f", m, index.clone()), index)
    }

    /// Checks that the row makes the event (or the first problem) that the JSON object
    /// with the same dotted paths makes; a cell that is not UTF-8 is named instead (the
    /// first in the mapping's order). Whether the row made an event.
    fn check_row(binding: &Binding, order: &[usize], cells: &[Vec<u8>]) -> bool {
        let got = binding.parse(2, Raw::Row(crate::csv_rows::Row::from(cells.to_vec())));
        if let Some(&bad) = order.iter().find(|&&i| std::str::from_utf8(&cells[i]).is_err()) {
            let g = got.unwrap_err();
            let (path, column) = ROW_PATHS[bad];
            assert_eq!((g.field.as_str(), g.message.as_str()), (format!("{column} ({path})").as_str(), "not UTF-8"));
            return false;
        }
        let mut object = serde_json::json!({"type": "transfer"});
        for ((path, _), cell) in ROW_PATHS.iter().zip(cells) {
            if cell.is_empty() {
                continue;
            }
            let text = std::str::from_utf8(cell).unwrap();
            let mut at = &mut object;
            let mut parts = path.split('.').peekable();
            while let Some(part) = parts.next() {
                let o = at.as_object_mut().unwrap();
                if parts.peek().is_none() {
                    o.insert(part.to_string(), serde_json::json!(text));
                    break;
                }
                at = o.entry(part.to_string()).or_insert_with(|| serde_json::json!({}));
            }
        }
        match (Event::from_json_value(&object), got) {
            (Ok(w), Ok((_, g))) => {
                assert_eq!(w, *g, "{object}");
                true
            }
            (Err(w), Err(g)) => {
                let first = &w.errors[0];
                assert_eq!(g.message.split(" (and").next().unwrap(), first.reason, "{object}");
                let path = first.pointer.trim_start_matches('/').replace('/', ".");
                assert!(g.field == path || g.field.ends_with(&format!("({path})")), "{g} {object}");
                false
            }
            (w, g) => panic!("{object}: {w:?} against {g:?}"),
        }
    }

    /// A mapped row makes the event (or the problems) that the JSON object with the same
    /// dotted paths makes.
    #[test]
    fn a_mapped_row_is_the_object_its_paths_make() {
        let (binding, order) = mapped_row();
        let row = ["t1", "2020-09-01T10:00:00+09:00", "acc-1", "500", "out", "bank-b", "acc-9", "1", "2", "blue", "3"];
        // Some cells left empty (absent fields): with "colour" and "extra" absent the event
        // is valid, with either present it is refused for it.
        let mut valid = 0;
        for skip in [&[][..], &[9, 10], &[9, 10, 5], &[9, 10, 7], &[9], &[10]] {
            let cells: Vec<Vec<u8>> =
                row.iter().enumerate().map(|(i, c)| if skip.contains(&i) { Vec::new() } else { c.as_bytes().to_vec() }).collect();
            valid += usize::from(check_row(&binding, &order, &cells));
        }
        assert_eq!(valid, 2);
    }

    /// A nested field's object is made with room for every path under its head, columns
    /// and constants alike; top-level fields need none.
    #[test]
    fn nested_fields_know_how_many_share_their_head() {
        let m = Mapping::parse(
            "[input.columns]\nid = \"A\"\ntime = \"B\"\n\"attributes.a\" = \"C\"\n\"attributes.deep.x\" = \"D\"\n\
             \"extra.z\" = \"E\"\n[input.constants]\ntype = \"transfer\"\n\"attributes.c\" = \"1\"\n",
        )
        .unwrap();
        let targets = m.column_targets.iter().chain(m.constants.iter().map(|(t, _)| t));
        let mut seen: Vec<(String, usize)> = targets
            .map(|t| (format!("{}{}", t.head, t.rest.as_deref().map(|r| format!(".{r}")).unwrap_or_default()), t.siblings))
            .collect();
        seen.sort();
        let want =
            [("attributes.a", 3), ("attributes.c", 3), ("attributes.deep.x", 3), ("extra.z", 1), ("id", 0), ("time", 0), ("type", 0)];
        assert_eq!(seen, want.map(|(p, n)| (p.to_string(), n)));
    }

    /// Cells (Parquet's) give their text to the event, except a cell two fields read.
    #[test]
    fn a_cell_read_by_two_fields_fills_both() {
        let m = Mapping::parse(
            "[input.columns]\nid = \"TXN\"\ntime = \"AT\"\naccount = \"ACCT\"\ncustomer = \"ACCT\"\n\
             link = \"LINK\"\namount = \"YEN\"\n[input.constants]\ntype = \"charge\"\n",
        )
        .unwrap();
        let header = ["TXN", "AT", "ACCT", "LINK", "YEN"];
        let index = m.columns.iter().map(|(_, c, _)| header.iter().position(|h| h == c).unwrap()).collect();
        let binding = Binding::mapped("f", m, index);
        let cells = vec![
            Cell::Str("t1".into()),
            Cell::Timestamp(1_598_922_000_000_000),
            Cell::Str("acc-1".into()),
            Cell::Str("l-1".into()),
            Cell::Decimal(mamori_core::Decimal::from(5000)),
        ];
        let (_, e) = binding.parse(1, Raw::Cells(cells)).unwrap();
        assert_eq!((e.id.as_str(), e.account.as_deref(), e.customer.as_deref()), ("t1", Some("acc-1"), Some("acc-1")));
        assert!(matches!(&e.kind, mamori_core::event::EventKind::Charge { link } if link == "l-1"));
    }

    proptest::proptest! {
        /// Any cells, text or not, valid or not: the row is the object its paths make, or
        /// its first cell that is not UTF-8 is named.
        #[test]
        fn any_mapped_row_is_the_object_its_paths_make(
            cells in proptest::collection::vec(
                proptest::prop_oneof![
                    proptest::strategy::Just(Vec::new()),
                    proptest::strategy::Strategy::prop_map("[a-z0-9 .+:-]{1,12}", String::into_bytes),
                    proptest::strategy::Strategy::prop_map(proptest::prelude::any::<String>(), String::into_bytes),
                    proptest::collection::vec(proptest::prelude::any::<u8>(), 1..6),
                ],
                11,
            ),
            fill in proptest::collection::vec(proptest::bool::weighted(0.85), 11),
        ) {
            // Most cells keep a valid value, so that about one row in six makes an event.
            let good = ["t1", "2020-09-01T10:00:00+09:00", "acc-1", "500", "out", "bank-b", "acc-9", "1", "2", "", ""];
            let cells: Vec<Vec<u8>> =
                cells.into_iter().zip(fill).zip(good).map(|((c, f), g)| if f { g.as_bytes().to_vec() } else { c }).collect();
            let (binding, order) = mapped_row();
            check_row(&binding, &order, &cells);
        }

        /// A Parquet timestamp or decimal makes the event (or the problem) its text
        /// makes: the time to the millisecond, the amount without trailing zeros, a time
        /// out of range refused, an amount not above zero or too precise for yen refused.
        #[test]
        fn typed_cells_make_the_events_their_text_makes(
            us in proptest::prop_oneof![-4_000_000_000_000_000i64..4_000_000_000_000_000, proptest::num::i64::ANY],
            mantissa in -3i64..2_000_000,
            scale in 0u32..4,
        ) {
            let m = Mapping::parse(
                "[input.columns]\nid = \"TXN\"\ntime = \"AT\"\naccount = \"ACCT\"\nlink = \"LINK\"\namount = \"YEN\"\n\
                 \"attributes.seen\" = \"AT\"\n\"attributes.yen\" = \"YEN\"\n[input.constants]\ntype = \"charge\"\n",
            )
            .unwrap();
            let header = ["TXN", "AT", "ACCT", "LINK", "YEN"];
            let index = m.columns.iter().map(|(_, c, _)| header.iter().position(|h| h == c).unwrap()).collect();
            let binding = Binding::mapped("f", m, index);
            let d = Decimal::new(mantissa, scale);
            let cells = |time: Cell, yen: Cell| vec![Cell::Str("t1".into()), time, Cell::Str("acc-1".into()), Cell::Str("l-1".into()), yen];
            let typed = binding.parse(1, Raw::Cells(cells(Cell::Timestamp(us), Cell::Decimal(d))));
            let text = binding.parse(
                1,
                Raw::Cells(cells(Cell::Str(Timestamp(us).to_rfc3339()), Cell::Str(d.normalize().to_string()))),
            );
            // (Debug shows times to the millisecond: compare the microseconds too.)
            proptest::prop_assert_eq!(typed.as_ref().map(|(_, e)| e.time.0).ok(), text.as_ref().map(|(_, e)| e.time.0).ok());
            proptest::prop_assert_eq!(format!("{typed:?}"), format!("{text:?}"));
        }
    }

    #[test]
    fn a_missing_column_stops_the_file_before_any_row() {
        let p = temp("b.csv", b"TXN,AT,ACCT,YEN\nt1,2020-09-01 10:00:00,acc-1,5\n");
        let ctx = Context { mapping: Some(Mapping::parse(MAPPING).unwrap()), ..Context::default() };
        let err = read(&Input { path: p, format: Format::Csv }, &ctx, &mut |_| ControlFlow::Continue(())).unwrap_err();
        // Columns are checked in the order of their event paths: attributes.channel first.
        assert_eq!(err.field, "CH");
        assert!(err.message.contains("no column"), "{err}");
    }

    #[test]
    fn ndjson_errors_name_line_and_pointer() {
        let p = temp(
            "c.ndjson",
            b"{\"id\":\"e1\",\"account\":\"a\",\"type\":\"login\",\"time\":\"2020-01-01T00:00:00Z\",\"success\":true}\n\nnot json\n{\"id\":\"e2\",\"account\":\"a\",\"type\":\"charge\",\"time\":\"2020-01-01T00:00:00Z\",\"link\":\"l\",\"amount\":\"-1\"}\n",
        );
        let items = collect(&Input { path: p, format: Format::Ndjson }, &Context::default());
        assert_eq!(items.len(), 3);
        assert_eq!(items[0].as_ref().unwrap().0, 1);
        let bad = items[1].as_ref().unwrap_err();
        assert_eq!((bad.record, bad.field.as_str()), (3, "(line)"));
        let bad = items[2].as_ref().unwrap_err();
        assert_eq!((bad.record, bad.field.as_str()), (4, "amount"), "{bad}");
    }

    #[test]
    fn mappings_are_checked() {
        assert!(Mapping::parse("[input]\n[input.columns]\ntime = \"t\"\n").unwrap_err().contains("\"id\""));
        assert!(Mapping::parse("[input]\nbogus = 1\n[input.columns]\nid=\"a\"\ntime=\"b\"\ntype=\"c\"\n").unwrap_err().contains("bogus"));
        assert!(
            Mapping::parse("[input]\n[input.columns]\nid=\"a\"\ntime=\"b\"\ntype=\"c\"\n[input.types]\n\"attributes.x\"=\"float\"\n")
                .unwrap_err()
                .contains("float")
        );
        assert!(Mapping::parse("not toml [").is_err());
    }

    #[test]
    fn inputs_are_recognised_by_name_or_prefix() {
        assert_eq!(Input::parse("a.csv.gz").unwrap().format, Format::Csv);
        assert_eq!(Input::parse("a.ndjson").unwrap().format, Format::Ndjson);
        assert_eq!(Input::parse("a.parquet").unwrap().format, Format::Parquet);
        assert_eq!(Input::parse("zengin:transfers.txt").unwrap().format, Format::Zengin);
        assert!(Input::parse("transfers.txt").is_err());
    }

    /// Mappings whose events a stamp makes: the columns of each, with the kind of cell each
    /// takes in the property below.
    const STAMPED: [(&str, &[(&str, &str)]); 4] = [
        (
            // The handbook's card payments, amounts in EUR (two places).
            "time_format = \"naive\"\nutc_offset = \"+00:00\"\n[input.constants]\ntype = \"card_payment\"\ninstitution = \"handbook\"\ncurrency = \"EUR\"\n[input.types]\n\"attributes.fraud\" = \"int\"\n",
            &[
                ("id", "id"),
                ("time", "naive"),
                ("customer", "text"),
                ("card", "card"),
                ("merchant", "text"),
                ("terminal", "text"),
                ("amount", "amount"),
                ("attributes.fraud", "int"),
            ],
        ),
        (
            // E-money charges in yen (no places).
            "time_format = \"naive\"\n[input.constants]\ntype = \"charge\"\ninstitution = \"jp-bank\"\n",
            &[("id", "id"), ("time", "naive"), ("customer", "text"), ("account", "text"), ("link", "text"), ("amount", "amount")],
        ),
        (
            // The institution from a column, an attribute constant beside a column's.
            "time_format = \"naive\"\n[input.constants]\ntype = \"charge\"\n\"attributes.source\" = \"batch\"\n",
            &[
                ("id", "id"),
                ("time", "naive"),
                ("institution", "text"),
                ("account", "text"),
                ("link", "text"),
                ("amount", "amount"),
                ("device", "text"),
                ("attributes.note", "text"),
            ],
        ),
        (
            // Times as RFC 3339 text, read as the checks read them.
            "[input.constants]\ntype = \"charge\"\ncurrency = \"USD\"\n",
            &[("id", "id"), ("time", "rfc3339"), ("account", "text"), ("link", "text"), ("amount", "amount")],
        ),
    ];

    fn stamped_binding(which: usize, stamp: bool) -> Binding {
        let (head, cols) = STAMPED[which];
        let mut text = String::from("[input]\n");
        text.push_str(head);
        text.push_str("[input.columns]\n");
        for (i, (p, _)) in cols.iter().enumerate() {
            text.push_str(&format!("\"{p}\" = \"C{i}\"\n"));
        }
        let mut m = Mapping::parse(&text).unwrap();
        assert!(m.stamp.is_some(), "mapping {which} has a stamp");
        if !stamp {
            m.stamp = None;
        }
        // Each of the mapping's columns (in its own order, by path) is cell `C{i}` of a row.
        let index = m.columns.iter().map(|(_, c, _)| c[1..].parse::<usize>().unwrap()).collect();
        Binding::mapped("f", m, index)
    }

    /// Cells of each kind, the valid and the refused alike.
    fn stamped_cell(kind: &str) -> proptest::strategy::BoxedStrategy<String> {
        use proptest::prelude::*;
        let pick = |v: &[&str]| proptest::sample::select(v.iter().map(|s| s.to_string()).collect::<Vec<_>>()).boxed();
        match kind {
            // Mostly valid cells, so that most records are whole events; the rest at the
            // edges of each check.
            "id" => prop_oneof![
                3 => "[a-z0-9é]{1,6}",
                1 => pick(&["", "x".repeat(128).leak(), "x".repeat(129).leak(), "é".repeat(128).leak(), "é".repeat(129).leak()]),
            ]
            .boxed(),
            "naive" => prop_oneof![
                3 => pick(&["2018-04-01 00:00:31", "2018-04-01T23:59:59", "2020-02-29 12:00:00.5"]),
                1 => pick(&["2018-02-30 00:00:00", "2018-04-01", "9999-12-31 23:59:59", "0001-01-01 00:00:00", "bad", ""]),
            ]
            .boxed(),
            "rfc3339" => pick(&["2020-09-01T10:00:00+09:00", "2020-09-01T10:00:00.123456Z", "2020-09-01 10:00:00", "", "x"]),
            "amount" => prop_oneof![
                3 => "[0-9]{1,6}(\\.[0-9]{1,3})?",
                1 => pick(&["0", "0.00", "-1", "0.001", "1.50", "abc", "", "1e3", "00012.30", "12345678901234567890123", " 5"]),
            ]
            .boxed(),
            "card" => prop_oneof![
                3 => "[a-z0-9]{1,8}",
                1 => pick(&["", "4111111111111111", "4111 1111 1111 1111", "4111-1111-1111-1111", "4111111111111112", "41111111111111111111", "4111111111111"]),
            ]
            .boxed(),
            "int" => prop_oneof![3 => "-?[0-9]{1,3}", 1 => pick(&["x", "", " 7 ", "99999999999999999999"])].boxed(),
            _ => prop_oneof![3 => "\\PC{1,4}", 1 => pick(&["", "ターミナル", " x "])].boxed(),
        }
    }

    proptest::proptest! {
        /// A record of a mapping with a stamp makes the event, or the problem, that the
        /// same record makes through the checks of `Event::from_fields`: as CSV text and
        /// as Parquet cells.
        #[test]
        fn a_stamped_record_is_the_record_checked_whole(
            (which, cells) in (0..STAMPED.len()).prop_flat_map(|w| {
                let strategies: Vec<_> = STAMPED[w].1.iter().map(|(_, k)| stamped_cell(k)).collect();
                (proptest::strategy::Just(w), strategies)
            }),
            typed in proptest::bool::ANY,
        ) {
            use proptest::prelude::*;
            let (fast, whole) = (stamped_binding(which, true), stamped_binding(which, false));
            // Equal events, and equal as the contract writes them (`1.50` and `1.5` are
            // equal decimals, not equal text).
            let same = |a: Item, b: Item| -> Result<(), TestCaseError> {
                if let (Ok((_, x)), Ok((_, y))) = (&a, &b) {
                    prop_assert_eq!(x.to_json_vec(), y.to_json_vec());
                }
                prop_assert_eq!(a, b);
                Ok(())
            };
            let row = || Raw::Row(crate::csv_rows::Row::from(cells.clone()));
            same(fast.parse(7, row()), whole.parse(7, row()))?;
            // Made again over events done with (of another type, with fields and
            // attributes the record does not have), as a sweep reuses them.
            let login = r#"{"id":"spare-login","type":"login","time":"2026-11-21T10:00:00Z","institution":"other","customer":"c9","account":"a9","success":true,"device":"d9","ip":"192.0.2.9","attributes":{"x":1,"y":"z"}}"#;
            spare_events(std::iter::once(Box::new(Event::from_json_slice(login.as_bytes()).unwrap())));
            if let Ok((_, mut e)) = fast.parse(8, row()) {
                // As if of another record of the same mapping: every attribute another value.
                for (i, v) in e.attributes.values_mut().enumerate() {
                    *v = Json::from(9000 + i);
                }
                spare_events(std::iter::once(e));
            }
            same(fast.parse(7, row()), whole.parse(7, row()))?;
            same(fast.parse(7, row()), whole.parse(7, row()))?;
            // The same as Parquet cells: text, or (`typed`) an integer or a decimal (with
            // its trailing zeros) where the text is one, and null where it is empty.
            let as_cells = || {
                Raw::Cells(
                    cells
                        .iter()
                        .map(|c| match (c.parse::<i64>(), c.parse::<Decimal>()) {
                            (Ok(i), _) if typed => Cell::Int(i),
                            (_, Ok(d)) if typed => Cell::Decimal(d),
                            _ if c.is_empty() && typed => Cell::Null,
                            _ => Cell::Str(c.clone()),
                        })
                        .collect(),
                )
            };
            same(fast.parse(7, as_cells()), whole.parse(7, as_cells()))?;
        }
    }

    /// The stamped mappings above do make events by their stamp, and the shapes a stamp
    /// does not make have none.
    #[test]
    fn stamps_make_the_events_of_plain_mappings_only() {
        let binding = stamped_binding(0, true);
        let How::Mapped { mapping, .. } = &binding.how else { panic!("mapped") };
        let stamp = mapping.stamp.as_ref().unwrap();
        // The mapping's columns in its own order (by path).
        let at = |path: &str| mapping.columns.iter().position(|(p, ..)| p == path).unwrap();
        let valid = || -> Vec<Option<Filled>> {
            let text = [("id", "t1"), ("time", "2018-04-01 00:00:31"), ("customer", "596"), ("card", "596"), ("merchant", "3156")];
            let mut cells = vec![None; mapping.columns.len()];
            for (path, t) in text.into_iter().chain([("terminal", "3156"), ("attributes.fraud", "0")]) {
                cells[at(path)] = text_value(t, mapping.columns[at(path)].2, mapping.naive_offset).ok();
            }
            cells[at("amount")] = Some(amount_text("57.16"));
            cells
        };
        let mut cells = valid();
        let event = stamp.make(&mut cells).expect("a valid record is stamped");
        assert_eq!((event.id.as_str(), event.amount), ("t1", Some(Decimal::new(5716, 2))));
        assert_eq!(event.attributes.get("fraud"), Some(&Json::from(0)));
        assert!(cells.iter().all(Option::is_none), "the cells are moved into the event");
        // Refused, and left as they were for the whole checks: a card number, an amount
        // finer than a cent, an empty id, a missing merchant.
        for (path, v) in [
            ("card", Some(Filled::Json(Json::String("4111111111111111".into())))),
            ("amount", Some(amount_text("1.001"))),
            ("id", Some(Filled::Json(Json::String(String::new())))),
            ("merchant", None),
        ] {
            let mut cells = valid();
            cells[at(path)] = v;
            let before = cells.clone();
            assert!(stamp.make(&mut cells).is_none(), "{path}");
            assert_eq!(cells, before);
        }
        let head = "[input]\ntime_format = \"naive\"\n";
        for (body, why) in [
            (
                "[input.columns]\nid = \"A\"\ntime = \"B\"\n\"counterparty.bank\" = \"C\"\n[input.constants]\ntype = \"transfer\"\n",
                "a nested field",
            ),
            (
                "[input.columns]\nid = \"A\"\ntime = \"B\"\ncustomer = \"C\"\n[input.constants]\ntype = \"charge\"\nlink = \"l\"\ncustomer = \"c\"\n",
                "a field also constant",
            ),
            (
                "[input.columns]\nid = \"A\"\ntime = \"B\"\nlink = \"C\"\n[input.constants]\ntype = \"card_payment\"\n",
                "a field the type has not",
            ),
            (
                "[input.columns]\nid = \"A\"\ntime = \"B\"\n[input.constants]\ntype = \"wallet_balance\"\nasset = \"BTC\"\nhot = \"1\"\ncold = \"1\"\ncustomer_total = \"1\"\n",
                "a crypto event",
            ),
            ("[input.columns]\nid = \"A\"\ntime = \"B\"\ntype = \"C\"\nlink = \"D\"\n", "the type a column"),
        ] {
            let m = Mapping::parse(&format!("{head}{body}")).unwrap();
            assert!(m.stamp.is_none(), "{why}");
        }
    }
}
