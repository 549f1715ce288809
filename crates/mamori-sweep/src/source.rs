//! What every input format yields: records with their place in their file, or an error
//! that names the file, the record and the field.

use rust_decimal::Decimal;

/// One cell of a tabular input (CSV or Parquet), typed as the file typed it.
#[derive(Debug, Clone, PartialEq)]
pub enum Cell {
    Null,
    Bool(bool),
    Int(i64),
    /// An exact decimal (Parquet DECIMAL, or a float column read through its shortest text).
    Decimal(Decimal),
    Str(String),
    /// Microseconds since the Unix epoch, UTC.
    Timestamp(i64),
    /// Days since the Unix epoch.
    Date(i32),
}

/// A record that could not be read: where, which field, what is wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{file}: record {record}, field {field}: {message}")]
pub struct RecordError {
    pub file: String,
    /// 1-based number of the record in its file (a line for NDJSON and CSV, a row for
    /// Parquet, a 120-byte record for Zengin).
    pub record: u64,
    pub field: String,
    pub message: String,
}
