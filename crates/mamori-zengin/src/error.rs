//! The one error type of the crate.

use crate::layout::Field;

/// What went wrong, for a caller that wants to branch on it; the message says it for people.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ErrorKind {
    /// Reading or writing failed.
    Io(std::io::ErrorKind),
    /// A record is not 120 bytes long (or the file ends inside one).
    Length,
    /// A record ends with a different line separator from the one the file started with.
    Separator,
    /// データ区分 is not `1`, `2`, `8` or `9`.
    RecordType,
    /// A numeric field holds something other than ASCII digits.
    Digits,
    /// 取組日 is not a calendar date.
    Date,
    /// A code field holds a value the format does not define.
    Code,
    /// Bytes that are not valid Shift_JIS.
    Encoding,
    /// A character outside the accepted character set (a kanji, a lower-case letter, ...).
    Charset,
    /// A ダミー field that is not all spaces.
    Filler,
    /// Something the format allows but this crate does not read: EBCDIC (コード区分 `1`).
    Unsupported,
    /// A record out of place: data before a header, a missing trailer or end record, ...
    Order,
    /// A trailer's 合計件数 or 合計金額 that does not match its group's data records.
    Mismatch,
    /// A value to encode that does not fit its field's width.
    TooLong,
}

/// An error about one record: where it is and what is wrong.
///
/// `record` is the 1-based record number in the file (0 for a record encoded or decoded on
/// its own, outside a [`Reader`](crate::Reader) or [`Writer`](crate::Writer)); `field`
/// names the field in Japanese and English, as in [`layout`](crate::layout); `offset` is
/// the 1-based byte position in the record of the first offending byte (121 for what
/// follows the record, 0 when no position applies, as for an I/O error).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("record {record}, {field} at byte {offset}: {message}")]
pub struct ZenginError {
    /// 1-based record number, or 0 outside a file.
    pub record: u64,
    /// The field, e.g. `"振込金額 (amount)"`.
    pub field: &'static str,
    /// 1-based byte position in the record.
    pub offset: usize,
    /// The kind of problem.
    pub kind: ErrorKind,
    /// What is wrong, with the values involved.
    pub message: String,
}

/// The field name used for a whole record (its length).
pub(crate) const RECORD: &str = "レコード (record)";
/// The field name used for the line separator after a record.
pub(crate) const SEPARATOR: &str = "改行 (separator)";
/// The field name used for I/O errors.
pub(crate) const STREAM: &str = "ファイル (stream)";

impl ZenginError {
    pub(crate) fn new(field: &'static str, offset: usize, kind: ErrorKind, message: impl Into<String>) -> ZenginError {
        ZenginError { record: 0, field, offset, kind, message: message.into() }
    }

    /// An error about `field`, at `index` bytes (0-based) into it.
    pub(crate) fn at(field: &Field, index: usize, kind: ErrorKind, message: impl Into<String>) -> ZenginError {
        ZenginError::new(field.name, field.start + index, kind, message)
    }

    pub(crate) fn io(record: u64, error: &std::io::Error) -> ZenginError {
        ZenginError { record, field: STREAM, offset: 0, kind: ErrorKind::Io(error.kind()), message: error.to_string() }
    }

    pub(crate) fn in_record(mut self, record: u64) -> ZenginError {
        self.record = record;
        self
    }
}

/// A byte for a message: `'A' (0x41)` when printable ASCII, `0x0A` otherwise.
pub(crate) fn show_byte(b: u8) -> String {
    if b.is_ascii_graphic() || b == b' ' { format!("'{}' (0x{b:02X})", b as char) } else { format!("0x{b:02X}") }
}
