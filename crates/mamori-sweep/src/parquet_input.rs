//! Parquet input: a streaming reader that yields flat rows of [`Cell`]s, and a streaming
//! writer for tests and benchmarks.
//!
//! The reader holds one row group's column readers at a time and decodes them in batches of
//! a few thousand rows, so its memory is bounded by a page per column plus one batch,
//! whatever the file's size. Only flat tables are read: a nested (group) or repeated column
//! is refused at [`ParquetRows::open`].
//!
//! Types map as follows:
//!
//! | Parquet | [`Cell`] |
//! | --- | --- |
//! | BOOLEAN | `Bool` |
//! | INT32, INT64, INT(8/16/32/64, signed or unsigned) | `Int` (an unsigned 64-bit value above `i64::MAX` is a record error) |
//! | DECIMAL on INT32, INT64, FIXED_LEN_BYTE_ARRAY or BYTE_ARRAY | `Decimal`, exactly, with the column's scale |
//! | FLOAT, DOUBLE | `Decimal` of the value's shortest round-trip text; NaN, infinities and values a 96-bit decimal cannot hold exactly are record errors |
//! | BYTE_ARRAY STRING/UTF8, ENUM, JSON, or without annotation | `Str` (invalid UTF-8 is a record error) |
//! | FIXED_LEN_BYTE_ARRAY(16) UUID | `Str`, the hyphenated lower-case form |
//! | TIMESTAMP(MILLIS/MICROS/NANOS), legacy TIMESTAMP_MILLIS/MICROS, legacy INT96 | `Timestamp` in µs |
//! | DATE | `Date` |
//! | null, or the NULL (unknown) logical type | `Null` |
//!
//! A TIMESTAMP that is not adjusted to UTC (a "local" or "naive" timestamp) is read as if it
//! were UTC: its wall-clock value counts from the Unix epoch unchanged. Nanoseconds are
//! floored to the microsecond. Other types (TIME, INTERVAL, FLOAT16, BSON, geospatial,
//! variant, a FIXED_LEN_BYTE_ARRAY without DECIMAL or UUID) are refused at open, naming the
//! column.

use std::fmt::Write as _;
use std::fs::File;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::Path;
use std::sync::Arc;

use parquet::basic::{Compression, ConvertedType, LogicalType, Repetition, TimeUnit, Type as PhysicalType, ZstdLevel};
use parquet::column::reader::{ColumnReader, ColumnReaderImpl};
use parquet::column::writer::ColumnWriter;
use parquet::data_type::{
    BoolType, ByteArray, ByteArrayType, DoubleType, FixedLenByteArray, FixedLenByteArrayType, FloatType, Int32Type, Int64Type, Int96,
    Int96Type,
};
use parquet::file::metadata::ParquetMetaData;
use parquet::file::properties::{EnabledStatistics, WriterProperties};
use parquet::file::reader::{FileReader, SerializedFileReader};
use parquet::file::writer::SerializedFileWriter;
use parquet::schema::types::{ColumnDescriptor, Type as SchemaType};
use rust_decimal::Decimal;

use crate::source::{Cell, RecordError};

/// Rows decoded per column at a time: large enough to amortise the per-batch work, small
/// enough that a batch of every column stays in cache-friendly memory.
const BATCH_ROWS: usize = 4096;

/// Rows per row group written by [`ParquetWriter`] (2^20, about a million).
const ROW_GROUP_ROWS: usize = 1 << 20;

/// The largest scale a [`Decimal`] holds.
const MAX_DECIMAL_SCALE: u32 = Decimal::MAX_SCALE;

/// Julian day number of 1970-01-01, the epoch of INT96 timestamps' day part.
const JULIAN_DAY_OF_EPOCH: i64 = 2_440_588;

const MICROS_PER_DAY: i64 = 86_400_000_000;

// ------------------------------------------------------------------------------------------
// Reader
// ------------------------------------------------------------------------------------------

/// How the values of one column become [`Cell`]s; decided once, at open.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Conv {
    /// The NULL (unknown) logical type: every value is null.
    Null,
    Bool,
    Int32,
    /// Unsigned 8/16/32-bit integers stored in INT32: the bits are a `u32`.
    UInt32,
    Int64,
    /// Unsigned 64-bit integers: the bits are a `u64`, which must fit an `i64`.
    UInt64,
    Date,
    DecimalInt32(u32),
    DecimalInt64(u32),
    /// A decimal stored as big-endian two's complement bytes (BYTE_ARRAY or
    /// FIXED_LEN_BYTE_ARRAY), with its scale.
    DecimalBytes(u32),
    Float,
    Double,
    Str,
    Uuid,
    TimestampMillis,
    TimestampMicros,
    TimestampNanos,
    Int96,
}

/// A typed column reader for the current row group and its reusable value buffer.
enum Reader {
    Bool(ColumnReaderImpl<BoolType>, Vec<bool>),
    Int32(ColumnReaderImpl<Int32Type>, Vec<i32>),
    Int64(ColumnReaderImpl<Int64Type>, Vec<i64>),
    Int96(ColumnReaderImpl<Int96Type>, Vec<Int96>),
    Float(ColumnReaderImpl<FloatType>, Vec<f32>),
    Double(ColumnReaderImpl<DoubleType>, Vec<f64>),
    Bytes(ColumnReaderImpl<ByteArrayType>, Vec<ByteArray>),
    Fixed(ColumnReaderImpl<FixedLenByteArrayType>, Vec<FixedLenByteArray>),
}

impl Reader {
    fn new(reader: ColumnReader) -> Reader {
        match reader {
            ColumnReader::BoolColumnReader(r) => Reader::Bool(r, Vec::new()),
            ColumnReader::Int32ColumnReader(r) => Reader::Int32(r, Vec::new()),
            ColumnReader::Int64ColumnReader(r) => Reader::Int64(r, Vec::new()),
            ColumnReader::Int96ColumnReader(r) => Reader::Int96(r, Vec::new()),
            ColumnReader::FloatColumnReader(r) => Reader::Float(r, Vec::new()),
            ColumnReader::DoubleColumnReader(r) => Reader::Double(r, Vec::new()),
            ColumnReader::ByteArrayColumnReader(r) => Reader::Bytes(r, Vec::new()),
            ColumnReader::FixedLenByteArrayColumnReader(r) => Reader::Fixed(r, Vec::new()),
        }
    }

    /// Reads `rows` records into the cleared buffers: returns (records, non-null values).
    fn read(&mut self, rows: usize, defs: &mut Vec<i16>) -> parquet::errors::Result<(usize, usize)> {
        defs.clear();
        macro_rules! read {
            ($reader:expr, $values:expr) => {{
                $values.clear();
                let (records, values, _levels) = $reader.read_records(rows, Some(defs), None, $values)?;
                Ok((records, values))
            }};
        }
        match self {
            Reader::Bool(r, v) => read!(r, v),
            Reader::Int32(r, v) => read!(r, v),
            Reader::Int64(r, v) => read!(r, v),
            Reader::Int96(r, v) => read!(r, v),
            Reader::Float(r, v) => read!(r, v),
            Reader::Double(r, v) => read!(r, v),
            Reader::Bytes(r, v) => read!(r, v),
            Reader::Fixed(r, v) => read!(r, v),
        }
    }
}

/// One column of the file: what it is, and its state in the current batch.
struct Column {
    conv: Conv,
    /// Whether the column is OPTIONAL (has definition levels).
    nullable: bool,
    reader: Option<Reader>,
    defs: Vec<i16>,
    /// The current batch's cells; a cell is replaced by `Null` when its row is handed out.
    cells: Vec<Cell>,
}

/// A cell of the current batch that could not be converted.
#[derive(Debug)]
struct CellError {
    row: usize,
    column: usize,
    message: String,
}

/// Streams the rows of a flat Parquet file, row group by row group, as `(row number, cells)`
/// with row numbers counted from 1 across the whole file.
///
/// A cell that cannot be converted (invalid UTF-8, an unsigned value too large, a float that
/// is not finite...) yields a [`RecordError`] for its row, naming the column, and reading
/// goes on with the next row. Data that cannot be decoded at all (a corrupt page, a column
/// chunk shorter than its row group) yields one [`RecordError`] numbered with the first row
/// of its row group and naming the column, after which the iterator ends: the rows after it
/// cannot be trusted to line up.
pub struct ParquetRows {
    file: String,
    reader: SerializedFileReader<File>,
    names: Vec<String>,
    columns: Vec<Column>,
    /// Index of the next row group to open.
    next_row_group: usize,
    /// 1-based number of the first row of the current row group.
    row_group_first: u64,
    /// Rows of the current row group not yet decoded.
    row_group_left: u64,
    /// Rows before the current batch, in the whole file.
    batch_offset: u64,
    batch_len: usize,
    /// Next row of the batch to hand out.
    batch_pos: usize,
    /// Conversion errors of the batch, sorted by row.
    errors: Vec<CellError>,
    error_pos: usize,
    /// The column being decoded, for errors that escape from the decoder.
    decoding: Option<usize>,
    /// Scratch text for float conversion.
    text: String,
    done: bool,
}

impl std::fmt::Debug for ParquetRows {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ParquetRows")
            .field("file", &self.file)
            .field("columns", &self.names)
            .field("next_row_group", &self.next_row_group)
            .field("rows_read", &(self.batch_offset + self.batch_pos as u64))
            .field("done", &self.done)
            .finish_non_exhaustive()
    }
}

impl ParquetRows {
    /// Opens `path` and reads its footer and schema; no row is read yet.
    ///
    /// Errors are file-level (record 0): the file cannot be opened, is not Parquet, has an
    /// unreadable footer, or has a column that is nested, repeated or of an unsupported type
    /// (then `field` names the column).
    pub fn open(path: &Path) -> Result<ParquetRows, RecordError> {
        let file_name = path.display().to_string();
        let whole = |field: &str, message: String| RecordError { file: file_name.clone(), record: 0, field: field.to_string(), message };
        let file = File::open(path).map_err(|e| whole("", format!("cannot open the file: {e}")))?;
        let reader = catch_unwind(AssertUnwindSafe(|| SerializedFileReader::new(file)))
            .map_err(|p| whole("", format!("not a readable Parquet file: the footer cannot be decoded ({})", panic_text(&*p))))?
            .map_err(|e| whole("", format!("not a readable Parquet file: {e}")))?;

        let (names, columns) = plan_columns(reader.metadata()).map_err(|(field, message)| whole(&field, message))?;
        Ok(ParquetRows {
            file: file_name,
            reader,
            names,
            columns,
            next_row_group: 0,
            row_group_first: 1,
            row_group_left: 0,
            batch_offset: 0,
            batch_len: 0,
            batch_pos: 0,
            errors: Vec::new(),
            error_pos: 0,
            decoding: None,
            text: String::new(),
            done: false,
        })
    }

    /// The top-level column names, in file order; each row has one cell per column, in this
    /// order.
    pub fn columns(&self) -> &[String] {
        &self.names
    }

    /// The number of rows the footer declares (for progress reporting).
    pub fn num_rows(&self) -> u64 {
        u64::try_from(self.reader.metadata().file_metadata().num_rows()).unwrap_or(0)
    }

    fn error(&self, record: u64, column: Option<usize>, message: String) -> RecordError {
        RecordError { file: self.file.clone(), record, field: column.and_then(|c| self.names.get(c)).cloned().unwrap_or_default(), message }
    }

    /// Decodes the next batch; `Ok(false)` at the end of the file.
    fn fill(&mut self) -> Result<bool, RecordError> {
        self.decoding = None;
        match catch_unwind(AssertUnwindSafe(|| self.fill_inner())) {
            Ok(r) => r,
            Err(p) => {
                let column = self.decoding;
                let message = format!(
                    "row group {} (from row {}) cannot be decoded: {}",
                    self.next_row_group.saturating_sub(1),
                    self.row_group_first,
                    panic_text(&*p)
                );
                Err(self.error(self.row_group_first, column, message))
            }
        }
    }

    fn fill_inner(&mut self) -> Result<bool, RecordError> {
        while self.row_group_left == 0 {
            if !self.open_row_group()? {
                return Ok(false);
            }
        }
        let rows = usize::try_from(self.row_group_left).unwrap_or(usize::MAX).min(BATCH_ROWS);
        self.batch_offset += self.batch_len as u64;
        self.batch_len = 0;
        self.batch_pos = 0;
        self.errors.clear();
        self.error_pos = 0;
        for c in 0..self.columns.len() {
            self.decoding = Some(c);
            self.decode_column(c, rows)?;
        }
        self.decoding = None;
        if !self.errors.is_empty() {
            self.errors.sort_by_key(|e| (e.row, e.column));
        }
        self.batch_len = rows;
        self.row_group_left -= rows as u64;
        Ok(true)
    }

    /// Opens the next row group's column readers; `Ok(false)` when there is none.
    fn open_row_group(&mut self) -> Result<bool, RecordError> {
        let index = self.next_row_group;
        if index >= self.reader.num_row_groups() {
            return Ok(false);
        }
        self.next_row_group += 1;
        let first = self.batch_offset + self.batch_len as u64 + 1;
        self.row_group_first = first;
        let rg = self.reader.get_row_group(index).map_err(|e| self.error(first, None, format!("row group {index} cannot be read: {e}")))?;
        let declared = rg.metadata().num_rows();
        let rows = u64::try_from(declared).map_err(|_| self.error(first, None, format!("row group {index} declares {declared} rows")))?;
        let mut readers = Vec::with_capacity(self.columns.len());
        for c in 0..self.columns.len() {
            let reader = rg
                .get_column_reader(c)
                .map_err(|e| self.error(first, Some(c), format!("row group {index}: the column cannot be read: {e}")))?;
            readers.push(Reader::new(reader));
        }
        drop(rg);
        for (column, reader) in self.columns.iter_mut().zip(readers) {
            column.reader = Some(reader);
        }
        self.row_group_left = rows;
        Ok(true)
    }

    /// Decodes `rows` rows of column `c` into its cells, noting cells that do not convert.
    fn decode_column(&mut self, c: usize, rows: usize) -> Result<(), RecordError> {
        let first = self.row_group_first;
        let group = self.next_row_group.saturating_sub(1);
        let batch_first = self.batch_offset + 1;
        let corrupt = |message: String| RecordError {
            file: self.file.clone(),
            record: first,
            field: self.names.get(c).cloned().unwrap_or_default(),
            message: format!("row group {group} (from row {first}) cannot be decoded from row {batch_first} on: {message}"),
        };
        let Some(column) = self.columns.get_mut(c) else {
            return Err(corrupt("no such column".into()));
        };
        let Column { conv, nullable, reader, defs, cells } = column;
        let Some(reader) = reader.as_mut() else {
            return Err(corrupt("the column has no reader".into()));
        };
        let (records, values) = reader.read(rows, defs).map_err(|e| corrupt(e.to_string()))?;
        if records != rows {
            return Err(corrupt(format!("the column chunk ends after {records} of {rows} rows")));
        }
        let nullable = *nullable;
        let expected = if nullable { defs.iter().take(rows).filter(|&&d| d > 0).count() } else { rows };
        if (nullable && defs.len() < rows) || values != expected {
            return Err(corrupt(format!("{values} values for {expected} non-null rows")));
        }
        let mut sink = Sink { nullable, defs, rows, cells, errors: &mut self.errors, column: c };
        let text = &mut self.text;
        match (*conv, &*reader) {
            (Conv::Null, _) => {
                sink.cells.clear();
                sink.cells.resize(rows, Cell::Null);
            }
            (Conv::Bool, Reader::Bool(_, v)) => sink.spread(v, |b| Ok(Cell::Bool(*b))),
            (Conv::Int32, Reader::Int32(_, v)) => sink.spread(v, |i| Ok(Cell::Int(i64::from(*i)))),
            // The bits of an unsigned 8/16/32-bit integer, reinterpreted.
            (Conv::UInt32, Reader::Int32(_, v)) => sink.spread(v, |i| Ok(Cell::Int(i64::from(*i as u32)))),
            (Conv::Date, Reader::Int32(_, v)) => sink.spread(v, |d| Ok(Cell::Date(*d))),
            (Conv::DecimalInt32(scale), Reader::Int32(_, v)) => sink.spread(v, |m| decimal(i128::from(*m), scale).map(Cell::Decimal)),
            (Conv::Int64, Reader::Int64(_, v)) => sink.spread(v, |i| Ok(Cell::Int(*i))),
            (Conv::UInt64, Reader::Int64(_, v)) => sink.spread(v, |i| {
                // The bits of an unsigned 64-bit integer, reinterpreted.
                let u = *i as u64;
                i64::try_from(u).map(Cell::Int).map_err(|_| format!("unsigned value {u} is larger than the largest integer {}", i64::MAX))
            }),
            (Conv::DecimalInt64(scale), Reader::Int64(_, v)) => sink.spread(v, |m| decimal(i128::from(*m), scale).map(Cell::Decimal)),
            (Conv::TimestampMillis, Reader::Int64(_, v)) => {
                sink.spread(v, |t| t.checked_mul(1000).map(Cell::Timestamp).ok_or_else(|| format!("timestamp {t} ms is out of range")))
            }
            (Conv::TimestampMicros, Reader::Int64(_, v)) => sink.spread(v, |t| Ok(Cell::Timestamp(*t))),
            (Conv::TimestampNanos, Reader::Int64(_, v)) => sink.spread(v, |t| Ok(Cell::Timestamp(t.div_euclid(1000)))),
            (Conv::Int96, Reader::Int96(_, v)) => sink.spread(v, int96_micros),
            (Conv::Float, Reader::Float(_, v)) => sink.spread(v, |f| float_decimal(*f, text).map(Cell::Decimal)),
            (Conv::Double, Reader::Double(_, v)) => sink.spread(v, |f| float_decimal(*f, text).map(Cell::Decimal)),
            (Conv::Str, Reader::Bytes(_, v)) => sink.spread(v, |b| utf8(b.data())),
            (Conv::DecimalBytes(scale), Reader::Bytes(_, v)) => sink.spread(v, |b| decimal_bytes(b.data(), scale).map(Cell::Decimal)),
            (Conv::DecimalBytes(scale), Reader::Fixed(_, v)) => sink.spread(v, |b| decimal_bytes(b.data(), scale).map(Cell::Decimal)),
            (Conv::Uuid, Reader::Fixed(_, v)) => sink.spread(v, |b| uuid(b.data()).map(Cell::Str)),
            (conv, _) => return Err(corrupt(format!("internal: no conversion {conv:?} for this physical type"))),
        }
        Ok(())
    }
}

impl Iterator for ParquetRows {
    type Item = Result<(u64, Vec<Cell>), RecordError>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            if self.done {
                return None;
            }
            if self.batch_pos < self.batch_len {
                let i = self.batch_pos;
                self.batch_pos += 1;
                let number = self.batch_offset + i as u64 + 1;
                if self.errors.get(self.error_pos).is_some_and(|e| e.row == i) {
                    let first = self.error_pos;
                    while self.errors.get(self.error_pos).is_some_and(|e| e.row == i) {
                        self.error_pos += 1;
                    }
                    let e = &mut self.errors[first];
                    let (column, message) = (e.column, std::mem::take(&mut e.message));
                    return Some(Err(self.error(number, Some(column), message)));
                }
                let mut row = Vec::with_capacity(self.columns.len());
                for column in &mut self.columns {
                    row.push(column.cells.get_mut(i).map_or(Cell::Null, |c| std::mem::replace(c, Cell::Null)));
                }
                return Some(Ok((number, row)));
            }
            match self.fill() {
                Ok(true) => {}
                Ok(false) => {
                    self.done = true;
                    return None;
                }
                Err(e) => {
                    self.done = true;
                    // Release the readers and their pages now rather than at drop.
                    for column in &mut self.columns {
                        column.reader = None;
                    }
                    return Some(Err(e));
                }
            }
        }
    }
}

/// Where one column's batch of values goes.
struct Sink<'a> {
    nullable: bool,
    defs: &'a [i16],
    rows: usize,
    cells: &'a mut Vec<Cell>,
    errors: &'a mut Vec<CellError>,
    column: usize,
}

impl Sink<'_> {
    /// Lays the non-null `values` out over the batch's rows (nulls where the definition level
    /// says so), converting each with `conv`; a value that does not convert becomes a `Null`
    /// placeholder and a [`CellError`] for its row.
    #[inline]
    fn spread<T>(&mut self, values: &[T], mut conv: impl FnMut(&T) -> Result<Cell, String>) {
        self.cells.clear();
        self.cells.reserve(self.rows);
        let mut convert = |row: usize, v: &T, cells: &mut Vec<Cell>| match conv(v) {
            Ok(cell) => cells.push(cell),
            Err(message) => {
                self.errors.push(CellError { row, column: self.column, message });
                cells.push(Cell::Null);
            }
        };
        if self.nullable {
            let mut values = values.iter();
            for (row, &d) in self.defs.iter().take(self.rows).enumerate() {
                // A null row has no value; the counts were checked against the levels.
                match if d > 0 { values.next() } else { None } {
                    Some(v) => convert(row, v, self.cells),
                    None => self.cells.push(Cell::Null),
                }
            }
        } else {
            for (row, v) in values.iter().take(self.rows).enumerate() {
                convert(row, v, self.cells);
            }
        }
    }
}

/// Reads the schema: top-level names and a conversion for each, or `(column, message)` for
/// the first column that cannot be read.
fn plan_columns(metadata: &ParquetMetaData) -> Result<(Vec<String>, Vec<Column>), (String, String)> {
    let schema = metadata.file_metadata().schema_descr();
    let fields = schema.root_schema().get_fields();
    for field in fields {
        let name = field.name();
        if field.is_group() {
            return Err((name.into(), format!("column {name:?} is nested (a group); only flat tables of primitive columns are supported")));
        }
        if field.get_basic_info().repetition() == Repetition::REPEATED {
            return Err((name.into(), format!("column {name:?} is repeated (a list); only flat tables of single values are supported")));
        }
    }
    if fields.len() != schema.num_columns() {
        return Err((String::new(), format!("the schema has {} top-level fields but {} leaf columns", fields.len(), schema.num_columns())));
    }
    let mut names = Vec::with_capacity(fields.len());
    let mut columns = Vec::with_capacity(fields.len());
    for descr in schema.columns() {
        let name = descr.name().to_string();
        if descr.max_rep_level() != 0 || descr.max_def_level() > 1 {
            return Err((name.clone(), format!("column {name:?} is nested or repeated; only flat tables are supported")));
        }
        let conv = plan_column(descr).map_err(|m| (name.clone(), format!("column {name:?}: {m}")))?;
        columns.push(Column { conv, nullable: descr.max_def_level() > 0, reader: None, defs: Vec::new(), cells: Vec::new() });
        names.push(name);
    }
    Ok((names, columns))
}

/// The conversion for one leaf column, from its logical type if it has one, else from its
/// legacy converted type.
fn plan_column(descr: &ColumnDescriptor) -> Result<Conv, String> {
    let physical = descr.physical_type();
    let logical = descr.logical_type_ref();
    let converted = descr.converted_type();
    let unsupported = || {
        let annotation = match logical {
            Some(l) => format!("{l:?}"),
            None => converted.to_string(),
        };
        format!(
            "unsupported type {physical} ({annotation}); supported are BOOLEAN, integers, DECIMAL, FLOAT, DOUBLE, \
             strings (UTF8/ENUM/JSON), UUID, TIMESTAMP, INT96 timestamps and DATE"
        )
    };
    let legacy_scale = || column_scale(descr.type_scale());
    Ok(match (physical, logical) {
        (_, Some(LogicalType::Unknown)) => Conv::Null,
        (PhysicalType::BOOLEAN, None) => Conv::Bool,
        (PhysicalType::INT32, Some(LogicalType::Integer(t))) => {
            if t.is_signed {
                Conv::Int32
            } else {
                Conv::UInt32
            }
        }
        (PhysicalType::INT32, Some(LogicalType::Decimal(d))) => Conv::DecimalInt32(column_scale(d.scale)?),
        (PhysicalType::INT32, Some(LogicalType::Date)) => Conv::Date,
        (PhysicalType::INT32, None) => match converted {
            ConvertedType::NONE | ConvertedType::INT_8 | ConvertedType::INT_16 | ConvertedType::INT_32 => Conv::Int32,
            ConvertedType::UINT_8 | ConvertedType::UINT_16 | ConvertedType::UINT_32 => Conv::UInt32,
            ConvertedType::DATE => Conv::Date,
            ConvertedType::DECIMAL => Conv::DecimalInt32(legacy_scale()?),
            _ => return Err(unsupported()),
        },
        (PhysicalType::INT64, Some(LogicalType::Integer(t))) => {
            if t.is_signed {
                Conv::Int64
            } else {
                Conv::UInt64
            }
        }
        (PhysicalType::INT64, Some(LogicalType::Decimal(d))) => Conv::DecimalInt64(column_scale(d.scale)?),
        (PhysicalType::INT64, Some(LogicalType::Timestamp(t))) => match t.unit {
            TimeUnit::MILLIS => Conv::TimestampMillis,
            TimeUnit::MICROS => Conv::TimestampMicros,
            TimeUnit::NANOS => Conv::TimestampNanos,
        },
        (PhysicalType::INT64, None) => match converted {
            ConvertedType::NONE | ConvertedType::INT_64 => Conv::Int64,
            ConvertedType::UINT_64 => Conv::UInt64,
            ConvertedType::DECIMAL => Conv::DecimalInt64(legacy_scale()?),
            ConvertedType::TIMESTAMP_MILLIS => Conv::TimestampMillis,
            ConvertedType::TIMESTAMP_MICROS => Conv::TimestampMicros,
            _ => return Err(unsupported()),
        },
        (PhysicalType::INT96, None) => Conv::Int96,
        (PhysicalType::FLOAT, None) => Conv::Float,
        (PhysicalType::DOUBLE, None) => Conv::Double,
        (PhysicalType::BYTE_ARRAY, Some(LogicalType::String | LogicalType::Enum | LogicalType::Json)) => Conv::Str,
        (PhysicalType::BYTE_ARRAY | PhysicalType::FIXED_LEN_BYTE_ARRAY, Some(LogicalType::Decimal(d))) => {
            Conv::DecimalBytes(column_scale(d.scale)?)
        }
        (PhysicalType::BYTE_ARRAY, None) => match converted {
            ConvertedType::NONE | ConvertedType::UTF8 | ConvertedType::ENUM | ConvertedType::JSON => Conv::Str,
            ConvertedType::DECIMAL => Conv::DecimalBytes(legacy_scale()?),
            _ => return Err(unsupported()),
        },
        (PhysicalType::FIXED_LEN_BYTE_ARRAY, Some(LogicalType::Uuid)) if descr.type_length() == 16 => Conv::Uuid,
        (PhysicalType::FIXED_LEN_BYTE_ARRAY, None) => match converted {
            ConvertedType::DECIMAL => Conv::DecimalBytes(legacy_scale()?),
            _ => return Err(unsupported()),
        },
        _ => return Err(unsupported()),
    })
}

fn column_scale(scale: i32) -> Result<u32, String> {
    u32::try_from(scale).map_err(|_| format!("DECIMAL with a negative or missing scale ({scale})"))
}

// ------------------------------------------------------------------------------------------
// Value conversions
// ------------------------------------------------------------------------------------------

/// The exact decimal `unscaled × 10^-scale`, keeping `scale` when a [`Decimal`] can; when
/// it cannot (more than 28 places, or more than 96 bits), trailing zeros are dropped first,
/// and only a value that still does not fit is an error.
fn decimal(unscaled: i128, scale: u32) -> Result<Decimal, String> {
    // `try_from_i128_with_scale` refuses a scale above 28 and a value beyond 96 bits.
    if let Ok(d) = Decimal::try_from_i128_with_scale(unscaled, scale) {
        return Ok(d);
    }
    let (mut m, mut s) = (unscaled, scale);
    while s > 0 && m % 10 == 0 {
        m /= 10;
        s -= 1;
        if let Ok(d) = Decimal::try_from_i128_with_scale(m, s) {
            return Ok(d);
        }
    }
    Err(format!("decimal {} does not fit a 96-bit decimal of at most {MAX_DECIMAL_SCALE} places", unscaled_text(unscaled, scale)))
}

/// `unscaled × 10^-scale` as text, for messages.
fn unscaled_text(unscaled: i128, scale: u32) -> String {
    let digits = unscaled.unsigned_abs().to_string();
    let sign = if unscaled < 0 { "-" } else { "" };
    let scale = scale as usize;
    if scale == 0 {
        format!("{sign}{digits}")
    } else if digits.len() > scale {
        let (int, frac) = digits.split_at(digits.len() - scale);
        format!("{sign}{int}.{frac}")
    } else {
        format!("{sign}0.{}{digits}", "0".repeat(scale - digits.len()))
    }
}

/// A big-endian two's complement unscaled value (DECIMAL on BYTE_ARRAY or
/// FIXED_LEN_BYTE_ARRAY).
fn decimal_bytes(bytes: &[u8], scale: u32) -> Result<Decimal, String> {
    let Some(&lead) = bytes.first() else {
        return Err("empty DECIMAL bytes".into());
    };
    let negative = lead & 0x80 != 0;
    let fill = if negative { 0xff } else { 0x00 };
    let (high, low) = bytes.split_at(bytes.len().saturating_sub(16));
    // Bytes beyond 16 must only repeat the sign, and the sign must survive in the low 16.
    let low_negative = low.first().is_some_and(|b| b & 0x80 != 0);
    if high.iter().any(|&b| b != fill) || (!high.is_empty() && low_negative != negative) {
        return Err(format!("DECIMAL of {} bytes is out of range", bytes.len()));
    }
    let mut buf = [fill; 16];
    buf[16 - low.len()..].copy_from_slice(low);
    decimal(i128::from_be_bytes(buf), scale)
}

/// A float as the decimal of its shortest round-trip text (`0.1f32` is `0.1`).
fn float_decimal<F: std::fmt::Display + Copy + Into<f64>>(value: F, text: &mut String) -> Result<Decimal, String> {
    if !value.into().is_finite() {
        return Err(format!("{value} is not a finite number"));
    }
    text.clear();
    // Display never uses an exponent and prints the shortest text that reads back the same.
    let _ = write!(text, "{value}");
    Decimal::from_str_exact(text).map_err(|_| format!("{value} does not fit a 96-bit decimal of at most {MAX_DECIMAL_SCALE} places"))
}

fn utf8(bytes: &[u8]) -> Result<Cell, String> {
    match std::str::from_utf8(bytes) {
        Ok(s) => Ok(Cell::Str(s.to_owned())),
        Err(e) => Err(format!("invalid UTF-8 after byte {} of a {}-byte string", e.valid_up_to(), bytes.len())),
    }
}

fn uuid(bytes: &[u8]) -> Result<String, String> {
    if bytes.len() != 16 {
        return Err(format!("UUID of {} bytes", bytes.len()));
    }
    let mut s = String::with_capacity(36);
    for (i, b) in bytes.iter().enumerate() {
        if matches!(i, 4 | 6 | 8 | 10) {
            s.push('-');
        }
        let _ = write!(s, "{b:02x}");
    }
    Ok(s)
}

/// A legacy INT96 timestamp: nanoseconds of the day (little-endian 8 bytes), then the Julian
/// day (4 bytes).
fn int96_micros(value: &Int96) -> Result<Cell, String> {
    let [lo, hi, day] = match value.data() {
        &[lo, hi, day] => [lo, hi, day],
        _ => return Err("INT96 value without 3 words".into()),
    };
    let nanos_of_day = (u64::from(hi) << 32) | u64::from(lo);
    // Reinterpret the day word as signed, as writers do.
    let julian_day = i64::from(day as i32);
    let micros_of_day = i64::try_from(nanos_of_day / 1000).map_err(|_| "INT96 timestamp out of range".to_string())?;
    (julian_day - JULIAN_DAY_OF_EPOCH)
        .checked_mul(MICROS_PER_DAY)
        .and_then(|t| t.checked_add(micros_of_day))
        .map(Cell::Timestamp)
        .ok_or_else(|| format!("INT96 timestamp (Julian day {julian_day}) out of range"))
}

fn panic_text(payload: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_string()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "the decoder failed".to_string()
    }
}

// ------------------------------------------------------------------------------------------
// Writer
// ------------------------------------------------------------------------------------------

/// The type of a column written by [`ParquetWriter`]; every column is OPTIONAL.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ColumnType {
    /// BOOLEAN.
    Bool,
    /// INT64 (signed 64-bit integer).
    Int,
    /// DECIMAL(precision, scale), precision 1 to 38 and scale at most the precision: INT32
    /// up to precision 9, INT64 up to 18, FIXED_LEN_BYTE_ARRAY above. A cell must hold
    /// exactly (no rounding) at this scale, within the precision.
    Decimal {
        /// Total number of digits.
        precision: u8,
        /// Digits after the decimal point.
        scale: u8,
    },
    /// BYTE_ARRAY annotated STRING (UTF-8).
    Str,
    /// INT64 TIMESTAMP(MICROS), adjusted to UTC.
    Timestamp,
    /// INT32 DATE (days since the Unix epoch).
    Date,
}

/// One column's buffered values for the current row group.
enum Buffer {
    Bool(Vec<bool>),
    Int32(Vec<i32>),
    Int64(Vec<i64>),
    Bytes(Vec<ByteArray>),
    Fixed(Vec<FixedLenByteArray>),
}

struct WriteColumn {
    name: String,
    ty: ColumnType,
    /// Byte length of a FIXED_LEN_BYTE_ARRAY decimal.
    fixed_len: usize,
    defs: Vec<i16>,
    values: Buffer,
}

/// Writes a flat Parquet file, row by row, with zstd compression and row groups of about a
/// million rows. Rows are buffered for one row group at a time, so memory is bounded however
/// many rows are written. [`ParquetWriter::finish`] must be called to write the footer:
/// a writer dropped without it leaves an unreadable file.
pub struct ParquetWriter {
    path: String,
    writer: SerializedFileWriter<File>,
    columns: Vec<WriteColumn>,
    row_group_rows: usize,
    buffered: usize,
    rows: u64,
    /// Unscaled decimals of the row being written, computed while it is checked.
    unscaled: Vec<i128>,
}

impl std::fmt::Debug for ParquetWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ParquetWriter")
            .field("path", &self.path)
            .field("columns", &self.columns.iter().map(|c| (&c.name, c.ty)).collect::<Vec<_>>())
            .field("row_group_rows", &self.row_group_rows)
            .field("buffered", &self.buffered)
            .field("rows", &self.rows)
            .finish_non_exhaustive()
    }
}

impl ParquetWriter {
    /// Creates (or truncates) `path` for a table of `columns`, in order, all OPTIONAL.
    pub fn create(path: &Path, columns: &[(&str, ColumnType)]) -> Result<ParquetWriter, String> {
        ParquetWriter::with_row_group_rows(path, columns, ROW_GROUP_ROWS)
    }

    /// [`ParquetWriter::create`] with `row_group_rows` rows per row group.
    pub(crate) fn with_row_group_rows(path: &Path, columns: &[(&str, ColumnType)], row_group_rows: usize) -> Result<ParquetWriter, String> {
        let name = path.display().to_string();
        if columns.is_empty() {
            return Err(format!("{name}: a Parquet table needs at least one column"));
        }
        let row_group_rows = row_group_rows.max(1);
        let mut fields = Vec::with_capacity(columns.len());
        let mut write_columns = Vec::with_capacity(columns.len());
        for (i, &(column, ty)) in columns.iter().enumerate() {
            if column.is_empty() {
                return Err(format!("{name}: column {i} has an empty name"));
            }
            if columns[..i].iter().any(|(other, _)| *other == column) {
                return Err(format!("{name}: column {column:?} appears twice"));
            }
            let (field, fixed_len) = column_field(column, ty).map_err(|e| format!("{name}: column {column:?}: {e}"))?;
            fields.push(Arc::new(field));
            let values = match ty {
                ColumnType::Bool => Buffer::Bool(Vec::new()),
                ColumnType::Int | ColumnType::Timestamp => Buffer::Int64(Vec::new()),
                ColumnType::Date => Buffer::Int32(Vec::new()),
                ColumnType::Str => Buffer::Bytes(Vec::new()),
                ColumnType::Decimal { precision, .. } if precision <= 9 => Buffer::Int32(Vec::new()),
                ColumnType::Decimal { precision, .. } if precision <= 18 => Buffer::Int64(Vec::new()),
                ColumnType::Decimal { .. } => Buffer::Fixed(Vec::new()),
            };
            write_columns.push(WriteColumn { name: column.to_string(), ty, fixed_len, defs: Vec::new(), values });
        }
        let schema =
            SchemaType::group_type_builder("schema").with_fields(fields).build().map_err(|e| format!("{name}: invalid schema: {e}"))?;
        let props = WriterProperties::builder()
            .set_compression(Compression::ZSTD(ZstdLevel::default()))
            .set_max_row_group_row_count(Some(row_group_rows))
            .set_statistics_enabled(EnabledStatistics::Chunk)
            .build();
        let file = File::create(path).map_err(|e| format!("{name}: cannot create the file: {e}"))?;
        let writer = SerializedFileWriter::new(file, Arc::new(schema), Arc::new(props))
            .map_err(|e| format!("{name}: cannot start the Parquet file: {e}"))?;
        Ok(ParquetWriter { path: name, writer, columns: write_columns, row_group_rows, buffered: 0, rows: 0, unscaled: Vec::new() })
    }

    /// Buffers one row, one cell per column in order; writes a row group when the buffer is
    /// full. A row with the wrong number of cells, or a cell that does not match its column's
    /// type, is an error and nothing of the row is written.
    pub fn write(&mut self, row: &[Cell]) -> Result<(), String> {
        if row.len() != self.columns.len() {
            return Err(format!("{}: row {} has {} cells for {} columns", self.path, self.rows + 1, row.len(), self.columns.len()));
        }
        // Check every cell before buffering any, so a bad row leaves no trace.
        self.unscaled.clear();
        for (column, cell) in self.columns.iter().zip(row) {
            let ok = match (column.ty, cell) {
                (_, Cell::Null)
                | (ColumnType::Bool, Cell::Bool(_))
                | (ColumnType::Int, Cell::Int(_))
                | (ColumnType::Str, Cell::Str(_))
                | (ColumnType::Timestamp, Cell::Timestamp(_))
                | (ColumnType::Date, Cell::Date(_)) => true,
                (ColumnType::Decimal { precision, scale }, Cell::Decimal(d)) => {
                    let m = unscaled_at(*d, precision, scale)
                        .map_err(|e| format!("{}: row {}, column {:?}: {e}", self.path, self.rows + 1, column.name))?;
                    self.unscaled.push(m);
                    true
                }
                _ => false,
            };
            if !ok {
                return Err(format!(
                    "{}: row {}, column {:?}: {cell:?} does not match the column type {:?}",
                    self.path,
                    self.rows + 1,
                    column.name,
                    column.ty
                ));
            }
        }
        let mut unscaled = self.unscaled.iter();
        for (column, cell) in self.columns.iter_mut().zip(row) {
            if matches!(cell, Cell::Null) {
                column.defs.push(0);
                continue;
            }
            column.defs.push(1);
            match (&mut column.values, cell) {
                (Buffer::Bool(v), Cell::Bool(b)) => v.push(*b),
                (Buffer::Int64(v), Cell::Int(i) | Cell::Timestamp(i)) => v.push(*i),
                (Buffer::Int32(v), Cell::Date(d)) => v.push(*d),
                (Buffer::Bytes(v), Cell::Str(s)) => v.push(ByteArray::from(s.as_bytes().to_vec())),
                (values, Cell::Decimal(_)) => {
                    let m = unscaled.next().copied().unwrap_or_default();
                    // In range by the precision check in `unscaled_at`.
                    match values {
                        Buffer::Int32(v) => v.push(i32::try_from(m).unwrap_or_default()),
                        Buffer::Int64(v) => v.push(i64::try_from(m).unwrap_or_default()),
                        Buffer::Fixed(v) => {
                            let bytes = m.to_be_bytes();
                            v.push(FixedLenByteArray::from(bytes[16 - column.fixed_len..].to_vec()));
                        }
                        _ => {}
                    }
                }
                _ => {}
            }
        }
        self.buffered += 1;
        self.rows += 1;
        if self.buffered >= self.row_group_rows {
            self.flush_row_group()?;
        }
        Ok(())
    }

    /// Writes the buffered rows, if any, as one row group.
    fn flush_row_group(&mut self) -> Result<(), String> {
        if self.buffered == 0 {
            return Ok(());
        }
        let path = &self.path;
        let fail = |e: parquet::errors::ParquetError| format!("{path}: cannot write a row group: {e}");
        let mut group = self.writer.next_row_group().map_err(fail)?;
        for column in &mut self.columns {
            let Some(mut writer) = group.next_column().map_err(fail)? else {
                return Err(format!("{path}: the file's schema lost column {:?}", column.name));
            };
            let defs = Some(column.defs.as_slice());
            let written = match (writer.untyped(), &mut column.values) {
                (ColumnWriter::BoolColumnWriter(w), Buffer::Bool(v)) => w.write_batch(v, defs, None),
                (ColumnWriter::Int32ColumnWriter(w), Buffer::Int32(v)) => w.write_batch(v, defs, None),
                (ColumnWriter::Int64ColumnWriter(w), Buffer::Int64(v)) => w.write_batch(v, defs, None),
                (ColumnWriter::ByteArrayColumnWriter(w), Buffer::Bytes(v)) => w.write_batch(v, defs, None),
                (ColumnWriter::FixedLenByteArrayColumnWriter(w), Buffer::Fixed(v)) => w.write_batch(v, defs, None),
                _ => return Err(format!("{path}: internal: column {:?} has a writer of another type", column.name)),
            };
            written.map_err(fail)?;
            writer.close().map_err(fail)?;
            column.defs.clear();
            match &mut column.values {
                Buffer::Bool(v) => v.clear(),
                Buffer::Int32(v) => v.clear(),
                Buffer::Int64(v) => v.clear(),
                Buffer::Bytes(v) => v.clear(),
                Buffer::Fixed(v) => v.clear(),
            }
        }
        group.close().map_err(fail)?;
        self.buffered = 0;
        Ok(())
    }

    /// Writes the last row group and the footer; returns the number of rows written.
    pub fn finish(mut self) -> Result<u64, String> {
        self.flush_row_group()?;
        let rows = self.rows;
        let path = self.path;
        // `into_inner` writes the footer and flushes the buffer, reporting a failure of either.
        self.writer.into_inner().map_err(|e| format!("{path}: cannot finish the Parquet file: {e}"))?;
        Ok(rows)
    }
}

/// The schema field for a writer column, and the byte length of a FIXED_LEN_BYTE_ARRAY
/// decimal (0 otherwise).
fn column_field(name: &str, ty: ColumnType) -> Result<(SchemaType, usize), String> {
    let (physical, logical, len) = match ty {
        ColumnType::Bool => (PhysicalType::BOOLEAN, None, 0),
        ColumnType::Int => (PhysicalType::INT64, Some(LogicalType::integer(64, true)), 0),
        ColumnType::Str => (PhysicalType::BYTE_ARRAY, Some(LogicalType::String), 0),
        ColumnType::Timestamp => (PhysicalType::INT64, Some(LogicalType::timestamp(true, TimeUnit::MICROS)), 0),
        ColumnType::Date => (PhysicalType::INT32, Some(LogicalType::Date), 0),
        ColumnType::Decimal { precision, scale } => {
            if !(1..=38).contains(&precision) || scale > precision {
                return Err(format!("DECIMAL({precision}, {scale}) needs 1 ≤ precision ≤ 38 and scale ≤ precision"));
            }
            let logical = Some(LogicalType::decimal(i32::from(scale), i32::from(precision)));
            match precision {
                0..=9 => (PhysicalType::INT32, logical, 0),
                10..=18 => (PhysicalType::INT64, logical, 0),
                _ => (PhysicalType::FIXED_LEN_BYTE_ARRAY, logical, decimal_bytes_len(precision)),
            }
        }
    };
    let mut builder = SchemaType::primitive_type_builder(name, physical).with_repetition(Repetition::OPTIONAL).with_logical_type(logical);
    if let ColumnType::Decimal { precision, scale } = ty {
        builder = builder.with_precision(i32::from(precision)).with_scale(i32::from(scale));
    }
    if len > 0 {
        builder = builder.with_length(i32::try_from(len).map_err(|e| e.to_string())?);
    }
    let field = builder.build().map_err(|e| e.to_string())?;
    Ok((field, len))
}

/// The fewest bytes whose two's complement holds every value of `precision` digits.
fn decimal_bytes_len(precision: u8) -> usize {
    let max = 10i128.pow(u32::from(precision.min(38))) - 1;
    (1..=16).find(|&n| n == 16 || max < 1i128 << (8 * n - 1)).unwrap_or(16)
}

/// The unscaled value of `d` at `scale`, exactly, and within `precision` digits.
fn unscaled_at(d: Decimal, precision: u8, scale: u8) -> Result<i128, String> {
    let (m, s) = (d.mantissa(), d.scale());
    let target = u32::from(scale);
    let unscaled = if s <= target {
        10i128.checked_pow(target - s).and_then(|p| m.checked_mul(p))
    } else {
        let p = 10i128.pow(s - target);
        (m % p == 0).then(|| m / p)
    };
    let Some(unscaled) = unscaled else {
        return Err(format!("{d} does not fit DECIMAL({precision}, {scale}) exactly"));
    };
    if unscaled.unsigned_abs() >= 10u128.pow(u32::from(precision)) {
        return Err(format!("{d} has more than {precision} digits for DECIMAL({precision}, {scale})"));
    }
    Ok(unscaled)
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;
    use std::sync::atomic::{AtomicU64, Ordering};
    use std::time::Instant;

    use parquet::basic::ConvertedType;
    use parquet::schema::parser::parse_message_type;

    use super::*;

    /// A file in the temp directory, removed on drop.
    struct Temp(PathBuf);

    impl Temp {
        fn new(tag: &str) -> Temp {
            static NEXT: AtomicU64 = AtomicU64::new(0);
            let n = NEXT.fetch_add(1, Ordering::Relaxed);
            let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.subsec_nanos()).unwrap_or(0);
            Temp(std::env::temp_dir().join(format!("mamori-parquet-{}-{nanos}-{n}-{tag}.parquet", std::process::id())))
        }
    }

    impl Drop for Temp {
        fn drop(&mut self) {
            let _ = std::fs::remove_file(&self.0);
        }
    }

    type Row = Result<(u64, Vec<Cell>), RecordError>;

    fn read_all(path: &Path) -> (Vec<String>, Vec<Row>) {
        let rows = ParquetRows::open(path).unwrap();
        let names = rows.columns().to_vec();
        (names, rows.collect())
    }

    fn ok_rows(rows: Vec<Row>) -> Vec<Vec<Cell>> {
        rows.into_iter()
            .enumerate()
            .map(|(i, r)| {
                let (n, cells) = r.unwrap();
                assert_eq!(n, i as u64 + 1);
                cells
            })
            .collect()
    }

    fn dec(s: &str) -> Decimal {
        Decimal::from_str_exact(s).unwrap()
    }

    fn dec_cell(s: &str) -> Cell {
        Cell::Decimal(dec(s))
    }

    fn str_cell(s: &str) -> Cell {
        Cell::Str(s.to_string())
    }

    /// Column values for [`write_raw`]: `None` is null.
    enum Raw {
        Bool(Vec<Option<bool>>),
        I32(Vec<Option<i32>>),
        I64(Vec<Option<i64>>),
        I96(Vec<Option<[u32; 3]>>),
        F32(Vec<Option<f32>>),
        F64(Vec<Option<f64>>),
        Bytes(Vec<Option<Vec<u8>>>),
        Fixed(Vec<Option<Vec<u8>>>),
    }

    /// Writes any flat schema with parquet's own writer: one `Vec<Raw>` per row group.
    fn write_raw(path: &Path, schema: SchemaType, groups: Vec<Vec<Raw>>) {
        let props = WriterProperties::builder().build();
        let mut w = SerializedFileWriter::new(File::create(path).unwrap(), Arc::new(schema), Arc::new(props)).unwrap();
        let required: Vec<bool> = w.schema_descr().columns().iter().map(|c| c.max_def_level() == 0).collect();
        for group in groups {
            let mut rg = w.next_row_group().unwrap();
            for (c, raw) in group.into_iter().enumerate() {
                let mut col = rg.next_column().unwrap().unwrap();
                macro_rules! put {
                    ($w:expr, $vals:expr, $map:expr) => {{
                        let defs: Vec<i16> = $vals.iter().map(|v| i16::from(v.is_some())).collect();
                        let values: Vec<_> = $vals.into_iter().flatten().map($map).collect();
                        let defs = if required[c] { None } else { Some(defs.as_slice()) };
                        $w.write_batch(&values, defs, None).unwrap();
                    }};
                }
                match (col.untyped(), raw) {
                    (ColumnWriter::BoolColumnWriter(w), Raw::Bool(v)) => put!(w, v, |x| x),
                    (ColumnWriter::Int32ColumnWriter(w), Raw::I32(v)) => put!(w, v, |x| x),
                    (ColumnWriter::Int64ColumnWriter(w), Raw::I64(v)) => put!(w, v, |x| x),
                    (ColumnWriter::Int96ColumnWriter(w), Raw::I96(v)) => put!(w, v, |[a, b, c]| {
                        let mut x = Int96::new();
                        x.set_data(a, b, c);
                        x
                    }),
                    (ColumnWriter::FloatColumnWriter(w), Raw::F32(v)) => put!(w, v, |x| x),
                    (ColumnWriter::DoubleColumnWriter(w), Raw::F64(v)) => put!(w, v, |x| x),
                    (ColumnWriter::ByteArrayColumnWriter(w), Raw::Bytes(v)) => put!(w, v, ByteArray::from),
                    (ColumnWriter::FixedLenByteArrayColumnWriter(w), Raw::Fixed(v)) => {
                        put!(w, v, FixedLenByteArray::from)
                    }
                    _ => panic!("raw column {c} does not match the schema"),
                }
                col.close().unwrap();
            }
            rg.close().unwrap();
        }
        w.close().unwrap();
    }

    fn all_types() -> Vec<(&'static str, ColumnType)> {
        vec![
            ("flag", ColumnType::Bool),
            ("n", ColumnType::Int),
            ("yen", ColumnType::Decimal { precision: 18, scale: 0 }),
            ("wei", ColumnType::Decimal { precision: 38, scale: 18 }),
            ("small", ColumnType::Decimal { precision: 9, scale: 2 }),
            ("name", ColumnType::Str),
            ("at", ColumnType::Timestamp),
            ("day", ColumnType::Date),
        ]
    }

    #[test]
    fn round_trip_of_every_writer_type_with_nulls() {
        let t = Temp::new("roundtrip");
        let rows = vec![
            vec![
                Cell::Bool(true),
                Cell::Int(i64::MIN),
                dec_cell("123456789012345678"),
                dec_cell("1.000000000000000001"),
                dec_cell("-1234567.89"),
                str_cell("口座 ✓"),
                Cell::Timestamp(1_700_000_000_123_456),
                Cell::Date(19_000),
            ],
            vec![Cell::Null; 8],
            vec![
                Cell::Bool(false),
                Cell::Int(i64::MAX),
                dec_cell("-999999999999999999"),
                // 96 bits at scale 18: about 79 billion whole units.
                dec_cell("-79228162514.264337593543950335"),
                dec_cell("0.5"),
                str_cell(""),
                Cell::Timestamp(-1),
                Cell::Date(-1),
            ],
            vec![
                Cell::Null,
                Cell::Int(0),
                dec_cell("0"),
                // Far beyond 96 bits at scale 18, but exact with fewer places.
                dec_cell("1000000000000000000"),
                Cell::Null,
                str_cell("x"),
                Cell::Null,
                Cell::Date(0),
            ],
        ];
        let mut w = ParquetWriter::create(&t.0, &all_types()).unwrap();
        for row in &rows {
            w.write(row).unwrap();
        }
        assert_eq!(w.finish().unwrap(), 4);

        let (names, read) = read_all(&t.0);
        assert_eq!(names, ["flag", "n", "yen", "wei", "small", "name", "at", "day"]);
        let read = ok_rows(read);
        assert_eq!(read, rows);
        // Decimals keep the column's scale where a 96-bit decimal can.
        let Cell::Decimal(wei) = &read[0][3] else { panic!() };
        assert_eq!(wei.scale(), 18);
        let Cell::Decimal(yen) = &read[0][2] else { panic!() };
        assert_eq!(yen.scale(), 0);
        let Cell::Decimal(small) = &read[2][4] else { panic!() };
        assert_eq!((small.to_string().as_str(), small.scale()), ("0.50", 2));
    }

    #[test]
    fn writer_refuses_cells_that_do_not_match() {
        let t = Temp::new("mismatch");
        let mut w = ParquetWriter::create(&t.0, &all_types()).unwrap();
        let good = vec![
            Cell::Bool(true),
            Cell::Int(1),
            dec_cell("1"),
            dec_cell("1"),
            dec_cell("1"),
            str_cell("a"),
            Cell::Timestamp(1),
            Cell::Date(1),
        ];
        let mut bad = good.clone();
        bad[1] = str_cell("1");
        let e = w.write(&bad).unwrap_err();
        assert!(e.contains("\"n\""), "{e}");
        let mut bad = good.clone();
        bad[4] = dec_cell("0.001");
        assert!(w.write(&bad).unwrap_err().contains("exactly"));
        let mut bad = good.clone();
        bad[4] = dec_cell("10000000");
        assert!(w.write(&bad).unwrap_err().contains("digits"));
        let mut bad = good.clone();
        bad[6] = Cell::Int(1);
        assert!(w.write(&bad).is_err());
        assert!(w.write(&good[..3]).unwrap_err().contains("3 cells for 8 columns"));
        w.write(&good).unwrap();
        // Nothing of the refused rows was buffered.
        assert_eq!(w.finish().unwrap(), 1);
        assert_eq!(ok_rows(read_all(&t.0).1), vec![good]);

        assert!(ParquetWriter::create(&t.0, &[]).is_err());
        assert!(ParquetWriter::create(&t.0, &[("a", ColumnType::Int), ("a", ColumnType::Int)]).is_err());
        assert!(ParquetWriter::create(&t.0, &[("d", ColumnType::Decimal { precision: 39, scale: 0 })]).is_err());
        assert!(ParquetWriter::create(&t.0, &[("d", ColumnType::Decimal { precision: 4, scale: 5 })]).is_err());
    }

    #[test]
    fn rows_are_numbered_across_row_groups_and_batches() {
        let t = Temp::new("groups");
        let columns = [("id", ColumnType::Int), ("s", ColumnType::Str), ("at", ColumnType::Timestamp)];
        // Row groups of 4500 rows: batches of 4096 end inside and at the end of each.
        let mut w = ParquetWriter::with_row_group_rows(&t.0, &columns, 4500).unwrap();
        let total = 10_007u64;
        for i in 0..total {
            let i = i as i64;
            let s = if i % 7 == 0 { Cell::Null } else { Cell::Str(format!("s{i}")) };
            w.write(&[Cell::Int(i), s, Cell::Timestamp(i * 1000)]).unwrap();
        }
        assert_eq!(w.finish().unwrap(), total);

        let rows = ParquetRows::open(&t.0).unwrap();
        assert_eq!(rows.num_rows(), total);
        assert_eq!(rows.reader.num_row_groups(), 3);
        let mut n = 0u64;
        for row in rows {
            let (number, cells) = row.unwrap();
            n += 1;
            assert_eq!(number, n);
            let i = (n - 1) as i64;
            let s = if i % 7 == 0 { Cell::Null } else { Cell::Str(format!("s{i}")) };
            assert_eq!(cells, vec![Cell::Int(i), s, Cell::Timestamp(i * 1000)]);
        }
        assert_eq!(n, total);
    }

    #[test]
    fn every_parquet_type_maps_to_its_cell() {
        let t = Temp::new("types");
        let schema = parse_message_type(
            "message m {
               optional int32 i8 (INTEGER(8,true));
               optional int32 u32 (INTEGER(32,false));
               optional int64 u64 (INTEGER(64,false));
               required int64 plain;
               optional int32 legacy_u16 (UINT_16);
               optional int32 d9 (DECIMAL(9,2));
               optional int64 d18 (DECIMAL(18,18));
               optional fixed_len_byte_array(16) d38 (DECIMAL(38,18));
               optional binary dbin (DECIMAL(30,3));
               optional float f;
               optional double g;
               optional binary s (STRING);
               optional binary e (ENUM);
               optional binary j (JSON);
               optional binary legacy_s (UTF8);
               optional binary raw;
               optional fixed_len_byte_array(16) id (UUID);
               optional int64 tms (TIMESTAMP(MILLIS,true));
               optional int64 tns (TIMESTAMP(NANOS,false));
               optional int96 t96;
               optional int32 day (DATE);
               optional boolean b;
               optional int32 nothing (UNKNOWN);
             }",
        )
        .unwrap();
        // -1 in 16-byte and 3-byte two's complement; 2^70 + 5 (needs 9 bytes).
        let big = (1i128 << 70) + 5;
        let cols = vec![
            Raw::I32(vec![Some(-128), None]),
            Raw::I32(vec![Some(-1), Some(7)]),
            Raw::I64(vec![Some(i64::MAX), None]),
            Raw::I64(vec![Some(1), Some(2)]),
            Raw::I32(vec![Some(65535), None]),
            Raw::I32(vec![Some(-12345), Some(0)]),
            Raw::I64(vec![Some(1), None]),
            Raw::Fixed(vec![Some(vec![0xff; 16]), Some((big).to_be_bytes().to_vec())]),
            Raw::Bytes(vec![Some(vec![0xff, 0xff, 0xfe]), Some(big.to_be_bytes()[7..].to_vec())]),
            Raw::F32(vec![Some(0.1), Some(-0.0)]),
            Raw::F64(vec![Some(0.1 + 0.2), Some(1e-7)]),
            Raw::Bytes(vec![Some("ｶﾀｶﾅ".into()), None]),
            Raw::Bytes(vec![Some(b"RED".to_vec()), None]),
            Raw::Bytes(vec![Some(br#"{"a":1}"#.to_vec()), None]),
            Raw::Bytes(vec![Some(b"legacy".to_vec()), None]),
            Raw::Bytes(vec![Some(b"raw".to_vec()), None]),
            Raw::Fixed(vec![Some((0u8..16).map(|b| b * 17).collect()), None]),
            Raw::I64(vec![Some(1_700_000_000_123), Some(-1)]),
            Raw::I64(vec![Some(1_700_000_000_123_456_789), Some(-1)]),
            // 2023-11-14 22:13:20.123456789 UTC and 1970-01-01 00:00:00.000001999.
            Raw::I96(vec![
                Some({
                    let nanos: u64 = (22 * 3600 + 13 * 60 + 20) * 1_000_000_000 + 123_456_789;
                    [nanos as u32, (nanos >> 32) as u32, 2_440_588 + 19_675]
                }),
                Some([1999, 0, 2_440_588]),
            ]),
            Raw::I32(vec![Some(19_675), Some(-719_162)]),
            Raw::Bool(vec![Some(true), None]),
            Raw::I32(vec![None, None]),
        ];
        write_raw(&t.0, schema, vec![cols]);

        let (names, rows) = read_all(&t.0);
        assert_eq!(names.len(), 23);
        let rows = ok_rows(rows);
        let big_dec = Decimal::from_i128_with_scale(big, 3);
        assert_eq!(
            rows[0],
            vec![
                Cell::Int(-128),
                Cell::Int(u32::MAX as i64),
                Cell::Int(i64::MAX),
                Cell::Int(1),
                Cell::Int(65535),
                dec_cell("-123.45"),
                dec_cell("0.000000000000000001"),
                dec_cell("-0.000000000000000001"),
                dec_cell("-0.002"),
                dec_cell("0.1"),
                dec_cell("0.30000000000000004"),
                str_cell("ｶﾀｶﾅ"),
                str_cell("RED"),
                str_cell(r#"{"a":1}"#),
                str_cell("legacy"),
                str_cell("raw"),
                str_cell("00112233-4455-6677-8899-aabbccddeeff"),
                Cell::Timestamp(1_700_000_000_123_000),
                Cell::Timestamp(1_700_000_000_123_456),
                Cell::Timestamp(1_700_000_000_123_456),
                Cell::Date(19_675),
                Cell::Bool(true),
                Cell::Null,
            ]
        );
        assert_eq!(
            rows[1],
            vec![
                Cell::Null,
                Cell::Int(7),
                Cell::Null,
                Cell::Int(2),
                Cell::Null,
                dec_cell("0.00"),
                Cell::Null,
                Cell::Decimal(Decimal::from_i128_with_scale(big, 18)),
                Cell::Decimal(big_dec),
                dec_cell("0"),
                dec_cell("0.0000001"),
                Cell::Null,
                Cell::Null,
                Cell::Null,
                Cell::Null,
                Cell::Null,
                Cell::Null,
                Cell::Timestamp(-1000),
                // Nanoseconds floor to the microsecond, also before the epoch.
                Cell::Timestamp(-1),
                Cell::Timestamp(1),
                Cell::Date(-719_162),
                Cell::Null,
                Cell::Null,
            ]
        );
        let Cell::Decimal(d) = &rows[1][5] else { panic!() };
        assert_eq!(d.scale(), 2);
    }

    #[test]
    fn legacy_converted_types_without_logical_types() {
        let t = Temp::new("legacy");
        let field = |name: &str, physical, converted| {
            Arc::new(
                SchemaType::primitive_type_builder(name, physical)
                    .with_repetition(Repetition::OPTIONAL)
                    .with_converted_type(converted)
                    .build()
                    .unwrap(),
            )
        };
        let mut dec = SchemaType::primitive_type_builder("amount", PhysicalType::INT64)
            .with_repetition(Repetition::OPTIONAL)
            .with_converted_type(ConvertedType::DECIMAL)
            .with_precision(12)
            .with_scale(4);
        dec = dec.with_logical_type(None);
        let schema = SchemaType::group_type_builder("m")
            .with_fields(vec![
                field("ms", PhysicalType::INT64, ConvertedType::TIMESTAMP_MILLIS),
                field("us", PhysicalType::INT64, ConvertedType::TIMESTAMP_MICROS),
                field("u64", PhysicalType::INT64, ConvertedType::UINT_64),
                field("day", PhysicalType::INT32, ConvertedType::DATE),
                Arc::new(dec.build().unwrap()),
            ])
            .build()
            .unwrap();
        write_raw(
            &t.0,
            schema,
            vec![vec![
                Raw::I64(vec![Some(1_000), Some(2)]),
                Raw::I64(vec![Some(1_000), Some(2)]),
                Raw::I64(vec![Some(5), Some(-1)]),
                Raw::I32(vec![Some(3), None]),
                Raw::I64(vec![Some(-15), Some(10_000)]),
            ]],
        );
        let (_, rows) = read_all(&t.0);
        assert_eq!(rows.len(), 2);
        assert_eq!(
            rows[0],
            Ok((1, vec![Cell::Timestamp(1_000_000), Cell::Timestamp(1_000), Cell::Int(5), Cell::Date(3), dec_cell("-0.0015")]))
        );
        // u64::MAX does not fit an Int: the row is an error naming the column.
        let e = rows[1].clone().unwrap_err();
        assert_eq!((e.record, e.field.as_str()), (2, "u64"));
        assert!(e.message.contains("18446744073709551615"), "{}", e.message);
    }

    #[test]
    fn bad_cells_are_errors_for_their_row_only() {
        let t = Temp::new("badcells");
        let schema = parse_message_type(
            "message m {
               optional binary s (STRING);
               optional double g;
               optional float f;
               required int32 id;
             }",
        )
        .unwrap();
        let groups = vec![
            vec![
                Raw::Bytes(vec![Some(b"ok".to_vec()), Some(vec![b'a', 0xc3, 0x28]), Some(b"fine".to_vec())]),
                Raw::F64(vec![Some(1.5), Some(f64::NAN), Some(1e300)]),
                Raw::F32(vec![Some(f32::INFINITY), None, Some(2.5)]),
                Raw::I32(vec![Some(1), Some(2), Some(3)]),
            ],
            vec![
                Raw::Bytes(vec![Some(b"next".to_vec())]),
                Raw::F64(vec![Some(1e-40)]),
                Raw::F32(vec![Some(0.25)]),
                Raw::I32(vec![Some(4)]),
            ],
            vec![Raw::Bytes(vec![Some(b"last".to_vec())]), Raw::F64(vec![None]), Raw::F32(vec![Some(0.25)]), Raw::I32(vec![Some(5)])],
        ];
        write_raw(&t.0, schema, groups);
        let (_, rows) = read_all(&t.0);
        assert_eq!(rows.len(), 5);
        // Row 1: the float is infinite.
        let e = rows[0].clone().unwrap_err();
        assert_eq!((e.record, e.field.as_str()), (1, "f"));
        assert!(e.message.contains("not a finite"), "{}", e.message);
        // Row 2: invalid UTF-8 and NaN: the first column's error is reported.
        let e = rows[1].clone().unwrap_err();
        assert_eq!((e.record, e.field.as_str()), (2, "s"));
        assert!(e.message.contains("UTF-8"), "{}", e.message);
        // Row 3: 1e300 does not fit a decimal.
        let e = rows[2].clone().unwrap_err();
        assert_eq!((e.record, e.field.as_str()), (3, "g"));
        // Row 4 (second row group): 1e-40 needs more than 28 places.
        let e = rows[3].clone().unwrap_err();
        assert_eq!((e.record, e.field.as_str()), (4, "g"));
        assert_eq!(rows[4], Ok((5, vec![str_cell("last"), Cell::Null, dec_cell("0.25"), Cell::Int(5)])));
        assert!(e.to_string().contains("record 4, field g"));
    }

    #[test]
    fn nested_and_repeated_columns_are_refused_at_open() {
        let cases = [
            ("message m { optional int64 a; optional group g { optional int32 x; } }", "g", "nested"),
            ("message m { optional int64 a; repeated int32 r; }", "r", "repeated"),
            ("message m { optional group l (LIST) { repeated group list { optional int32 element; } } }", "l", "nested"),
        ];
        for (schema, column, word) in cases {
            let t = Temp::new("nested");
            write_raw(&t.0, parse_message_type(schema).unwrap(), vec![]);
            let e = ParquetRows::open(&t.0).unwrap_err();
            assert_eq!((e.record, e.field.as_str()), (0, column), "{schema}");
            assert!(e.message.contains(word) && e.message.contains(column), "{}", e.message);
        }
    }

    #[test]
    fn unsupported_types_are_refused_at_open_naming_the_column() {
        let t = Temp::new("time");
        let schema = parse_message_type("message m { optional int64 a; optional int32 clock (TIME(MILLIS,true)); }").unwrap();
        write_raw(&t.0, schema, vec![]);
        let e = ParquetRows::open(&t.0).unwrap_err();
        assert_eq!((e.record, e.field.as_str()), (0, "clock"));
        assert!(e.message.contains("unsupported type INT32"), "{}", e.message);
    }

    #[test]
    fn an_empty_table_has_columns_and_no_rows() {
        let t = Temp::new("empty");
        let w = ParquetWriter::create(&t.0, &[("a", ColumnType::Int), ("b", ColumnType::Str)]).unwrap();
        assert_eq!(w.finish().unwrap(), 0);
        let (names, rows) = read_all(&t.0);
        assert_eq!(names, ["a", "b"]);
        assert!(rows.is_empty());
    }

    /// A tiny deterministic generator for the corruption tests.
    fn xorshift(state: &mut u64) -> u64 {
        *state ^= *state << 13;
        *state ^= *state >> 7;
        *state ^= *state << 17;
        *state
    }

    fn sample_file(path: &Path, rows: i64, group: usize) {
        let columns = [("id", ColumnType::Int), ("s", ColumnType::Str), ("amount", ColumnType::Decimal { precision: 18, scale: 2 })];
        let mut w = ParquetWriter::with_row_group_rows(path, &columns, group).unwrap();
        for i in 0..rows {
            w.write(&[Cell::Int(i), Cell::Str(format!("account-{}", i % 97)), Cell::Decimal(Decimal::new(i * 37, 2))]).unwrap();
        }
        w.finish().unwrap();
    }

    #[test]
    fn files_that_are_not_parquet_are_clean_errors() {
        let t = Temp::new("garbage");
        let mut state = 0x9e37_79b9_7f4a_7c15u64;
        let garbage: Vec<u8> = (0..5000).map(|_| xorshift(&mut state) as u8).collect();
        for bytes in [&garbage[..], b"", b"PAR1", b"PAR1PAR1", b"PAR1\0\0\0\0PAR1", b"a,b\n1,2\n"] {
            std::fs::write(&t.0, bytes).unwrap();
            let e = ParquetRows::open(&t.0).unwrap_err();
            assert_eq!((e.record, e.field.as_str()), (0, ""));
            assert!(e.message.contains("not a readable Parquet file"), "{}", e.message);
            assert_eq!(e.file, t.0.display().to_string());
        }
        let e = ParquetRows::open(Path::new("/nonexistent/mamori/x.parquet")).unwrap_err();
        assert!(e.message.contains("cannot open"), "{}", e.message);

        // A real file cut anywhere: the footer is gone, or the file is too short.
        let real = Temp::new("real");
        sample_file(&real.0, 3000, 1000);
        let bytes = std::fs::read(&real.0).unwrap();
        for cut in [bytes.len() - 1, bytes.len() - 8, bytes.len() / 2, 100, 7] {
            std::fs::write(&t.0, &bytes[..cut]).unwrap();
            let e = ParquetRows::open(&t.0).unwrap_err();
            assert!(e.message.contains("not a readable Parquet file"), "{cut}: {}", e.message);
        }
    }

    #[test]
    fn a_corrupt_page_is_an_error_for_its_row_group_and_the_end() {
        let t = Temp::new("corrupt");
        sample_file(&t.0, 3000, 1000);
        let (start, _len) = {
            let r = SerializedFileReader::new(File::open(&t.0).unwrap()).unwrap();
            r.metadata().row_group(1).column(1).byte_range()
        };
        let mut bytes = std::fs::read(&t.0).unwrap();
        // Garbage over the first page header of column "s" in the second row group.
        for b in &mut bytes[start as usize..start as usize + 12] {
            *b = 0xff;
        }
        std::fs::write(&t.0, &bytes).unwrap();
        let (_, rows) = read_all(&t.0);
        assert_eq!(rows.len(), 1001);
        assert!(rows[..1000].iter().all(|r| r.is_ok()));
        let e = rows[1000].clone().unwrap_err();
        assert_eq!((e.record, e.field.as_str()), (1001, "s"));
        assert!(e.message.contains("row group 1"), "{}", e.message);
    }

    #[test]
    fn random_corruption_never_panics_and_always_ends() {
        let t = Temp::new("fuzz-src");
        sample_file(&t.0, 5000, 1200);
        let clean = std::fs::read(&t.0).unwrap();
        let data_end = {
            let r = SerializedFileReader::new(File::open(&t.0).unwrap()).unwrap();
            let last = r.metadata().row_group(r.num_row_groups() - 1);
            let (s, l) = last.column(last.num_columns() - 1).byte_range();
            (s + l) as usize
        };
        let f = Temp::new("fuzz");
        // From this state the first corruption makes parquet 59.3's decoder panic (an
        // assertion on a page too short), which the reader reports as an error.
        let mut state = 0x8a41_a3c3_bdd0_f372u64;
        for _ in 0..150 {
            let mut bytes = clean.clone();
            for _ in 0..1 + xorshift(&mut state) % 4 {
                let at = 4 + (xorshift(&mut state) as usize) % (data_end - 4);
                bytes[at] = xorshift(&mut state) as u8;
            }
            std::fs::write(&f.0, &bytes).unwrap();
            let rows = ParquetRows::open(&f.0).unwrap();
            let mut n = 0usize;
            for row in rows {
                n += 1;
                assert!(n <= 5001, "the iterator does not end");
                if let Err(e) = row {
                    assert!(e.record >= 1);
                }
            }
        }
    }

    /// `cargo test -p mamori-sweep --lib parquet_input::tests::read_speed -- --ignored --nocapture`
    #[test]
    #[ignore = "benchmark: writes and reads a few million rows"]
    fn read_speed() {
        let rows: i64 = std::env::var("MAMORI_PARQUET_BENCH_ROWS").ok().and_then(|s| s.parse().ok()).unwrap_or(3_000_000);
        let t = Temp::new("bench");
        let columns = [
            ("id", ColumnType::Int),
            ("at", ColumnType::Timestamp),
            ("account", ColumnType::Str),
            ("amount", ColumnType::Decimal { precision: 18, scale: 2 }),
            ("flag", ColumnType::Bool),
            ("day", ColumnType::Date),
        ];
        let started = Instant::now();
        let mut w = ParquetWriter::create(&t.0, &columns).unwrap();
        let mut row = Vec::with_capacity(6);
        for i in 0..rows {
            row.clear();
            row.extend([
                Cell::Int(i),
                Cell::Timestamp(1_600_000_000_000_000 + i * 1_000_003),
                Cell::Str(format!("acct-{:06}", i % 100_003)),
                Cell::Decimal(Decimal::new((i * 7919) % 10_000_000, 2)),
                if i % 11 == 0 { Cell::Null } else { Cell::Bool(i % 3 == 0) },
                Cell::Date(18_000 + (i / 100_000) as i32),
            ]);
            w.write(&row).unwrap();
        }
        w.finish().unwrap();
        let wrote = started.elapsed();
        let size = std::fs::metadata(&t.0).unwrap().len();

        let started = Instant::now();
        let mut n = 0u64;
        let mut check = 0i64;
        for row in ParquetRows::open(&t.0).unwrap() {
            let (_, cells) = row.unwrap();
            if let Cell::Int(i) = cells[0] {
                check = check.wrapping_add(i);
            }
            n += 1;
        }
        let read = started.elapsed();
        assert_eq!(n, rows as u64);
        assert_eq!(check, rows * (rows - 1) / 2);
        println!(
            "{rows} rows, {size} bytes: write {:.2}s ({:.2} M rows/s), read {:.2}s ({:.2} M rows/s)",
            wrote.as_secs_f64(),
            rows as f64 / wrote.as_secs_f64() / 1e6,
            read.as_secs_f64(),
            rows as f64 / read.as_secs_f64() / 1e6
        );
    }
}
