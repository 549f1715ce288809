//! mamori-zengin: the Zengin (全銀協) fixed-length transfer format, 総合振込 files.
//!
//! A file is a sequence of 120-byte records in Shift_JIS (コード区分 `0`, JIS): one or more
//! groups of a [`Header`], its data records ([`Transfer`]) and a [`Trailer`] with their
//! count and total, then one end record. Names are half-width katakana, decoded to Unicode
//! U+FF61..=U+FF9F.
//!
//! - [`Reader`] streams records from any [`std::io::Read`], detects the separator (CR LF,
//!   LF or none), checks every field and the structure, and reports each problem with its
//!   record number, field and byte offset ([`ZenginError`]), going on where it can.
//! - [`Writer`] and [`encode_file`] write records; values that do not fit are refused.
//! - [`decode_record`] and [`encode_record`] work on one record.
//! - [`to_zengin_name`] and [`to_half_width_kana`] convert names people type
//!   (`ヤマダ　タロウ`, `やまだ たろう`) to what the format carries (`ﾔﾏﾀﾞ ﾀﾛｳ`).
//! - [`layout`] has every field's position and width.
//!
//! The README has the layout tables, the character set and the list of what is refused.

mod charset;
mod error;
mod kana;
pub mod layout;
mod reader;
mod record;
mod writer;

pub use charset::Charset;
pub use error::{ErrorKind, ZenginError};
pub use kana::{KanaError, to_half_width_kana, to_zengin_name};
pub use reader::Reader;
pub use record::{
    AccountType, CustomerCodes, Header, MonthDay, NewCode, Record, RecordKind, Trailer, Transfer, TransferKind, TransferMethod,
    decode_record, encode_record,
};
pub use writer::{Separator, Writer, encode_file};
