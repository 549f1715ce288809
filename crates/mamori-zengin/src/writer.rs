//! Encoder: typed records to 120-byte Shift_JIS records.

use std::io::Write;

use crate::charset::Charset;
use crate::error::ZenginError;
use crate::layout::RECORD_LEN;
use crate::reader::EOF_MARK;
use crate::record::{Header, Record, Trailer, Transfer, encode_record};

/// What follows each record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Separator {
    /// Nothing: records follow each other directly (the file is a multiple of 120 bytes).
    None,
    /// CR LF (`0x0D 0x0A`), the usual choice for files sent to a bank.
    #[default]
    CrLf,
    /// LF (`0x0A`) alone.
    Lf,
}

impl Separator {
    /// The separator's bytes.
    pub fn bytes(self) -> &'static [u8] {
        match self {
            Separator::None => b"",
            Separator::CrLf => b"\r\n",
            Separator::Lf => b"\n",
        }
    }
}

/// Writes records as 120 bytes each, followed by the separator.
///
/// A record with a value that does not fit is refused with an error and nothing of it is
/// written; the writer can go on with the next. The writer does not check the order of
/// records: [`Writer::write_group`] and [`Writer::finish`] (or [`encode_file`]) make a
/// well-formed file.
#[derive(Debug)]
pub struct Writer<W: Write> {
    inner: W,
    separator: Separator,
    charset: Charset,
    eof_mark: bool,
    written: u64,
    ended: bool,
}

impl<W: Write> Writer<W> {
    /// A writer with `separator` after every record (the last one included), checking text
    /// against the 全銀協 character set ([`Charset::Zengin`]), without EOF mark.
    pub fn new(inner: W, separator: Separator) -> Writer<W> {
        Writer { inner, separator, charset: Charset::Zengin, eof_mark: false, written: 0, ended: false }
    }

    /// The same writer, accepting `charset` in text fields.
    pub fn with_charset(mut self, charset: Charset) -> Writer<W> {
        self.charset = charset;
        self
    }

    /// The same writer, ending the file with the EOF byte `0x1A` in [`Writer::finish`] if `mark`.
    pub fn with_eof_mark(mut self, mark: bool) -> Writer<W> {
        self.eof_mark = mark;
        self
    }

    /// How many records have been written.
    pub fn records_written(&self) -> u64 {
        self.written
    }

    /// Encodes and writes one record. On error nothing is written; the error's `record` is
    /// the number this record would have had.
    pub fn write_record(&mut self, record: &Record) -> Result<(), ZenginError> {
        let n = self.written + 1;
        let bytes = encode_record(record, self.charset).map_err(|e| e.in_record(n))?;
        let mut out = Vec::with_capacity(RECORD_LEN + 2);
        out.extend_from_slice(&bytes);
        out.extend_from_slice(self.separator.bytes());
        self.inner.write_all(&out).map_err(|e| ZenginError::io(n, &e))?;
        self.written = n;
        if matches!(record, Record::End) {
            self.ended = true;
        }
        Ok(())
    }

    /// Writes a whole group: `header`, one data record per transfer, and the trailer their
    /// count and amounts make, which is returned. Every record is encoded before any is
    /// written, so on error nothing of the group is written.
    pub fn write_group(&mut self, header: &Header, transfers: &[Transfer]) -> Result<Trailer, ZenginError> {
        let first = self.written + 1;
        let trailer_number = first + transfers.len() as u64 + 1;
        let trailer = Trailer::for_transfers(transfers).map_err(|e| e.in_record(trailer_number))?;
        let sep = self.separator.bytes();
        let mut out = Vec::with_capacity((transfers.len() + 2) * (RECORD_LEN + sep.len()));
        let records = std::iter::once(Record::Header(header.clone()))
            .chain(transfers.iter().cloned().map(Record::Data))
            .chain([Record::Trailer(trailer)]);
        for (n, record) in (first..).zip(records) {
            out.extend_from_slice(&encode_record(&record, self.charset).map_err(|e| e.in_record(n))?);
            out.extend_from_slice(sep);
        }
        self.inner.write_all(&out).map_err(|e| ZenginError::io(first, &e))?;
        self.written = trailer_number;
        Ok(trailer)
    }

    /// Writes the end record (unless [`Writer::write_record`] already wrote one), then the
    /// EOF mark if asked, flushes, and returns the inner writer.
    pub fn finish(mut self) -> Result<W, ZenginError> {
        if !self.ended {
            self.write_record(&Record::End)?;
        }
        let n = self.written;
        if self.eof_mark {
            self.inner.write_all(&[EOF_MARK]).map_err(|e| ZenginError::io(n, &e))?;
        }
        self.inner.flush().map_err(|e| ZenginError::io(n, &e))?;
        Ok(self.inner)
    }
}

/// A whole one-group file: `header`, the transfers, their trailer and the end record, each
/// followed by `separator`, with the 全銀協 character set.
///
/// ```
/// use mamori_zengin::*;
///
/// let header = Header {
///     kind: TransferKind::General,
///     requester_code: 1234567890,
///     requester_name: to_zengin_name("カ）ヤマダショウジ").unwrap(),
///     transfer_date: MonthDay::new(4, 25).unwrap(),
///     bank_code: 1,
///     bank_name: "ﾐｽﾞﾎ".into(),
///     branch_code: 1,
///     branch_name: "ﾄｳｷﾖｳ".into(),
///     account_type: AccountType::Ordinary,
///     account_number: 1234567,
/// };
/// let transfer = Transfer {
///     bank_code: 5,
///     bank_name: String::new(),
///     branch_code: 123,
///     branch_name: String::new(),
///     clearing_house: None,
///     account_type: AccountType::Ordinary,
///     account_number: 7654321,
///     recipient_name: to_zengin_name("ヤマダ　タロウ").unwrap(),
///     amount: 50_000,
///     new_code: NewCode::Other,
///     customer_codes: CustomerCodes::default(),
///     method: None,
/// };
/// let bytes = encode_file(&header, &[transfer.clone()], Separator::CrLf).unwrap();
/// assert_eq!(bytes.len(), 4 * 122);
///
/// let records: Vec<Record> = Reader::new(&bytes[..]).map(|r| r.unwrap().1).collect();
/// assert_eq!(records[1], Record::Data(transfer));
/// assert_eq!(records[2], Record::Trailer(Trailer { count: 1, total: 50_000 }));
/// ```
pub fn encode_file(header: &Header, transfers: &[Transfer], separator: Separator) -> Result<Vec<u8>, ZenginError> {
    let mut writer = Writer::new(Vec::with_capacity((transfers.len() + 3) * (RECORD_LEN + 2)), separator);
    writer.write_group(header, transfers)?;
    writer.finish()
}
