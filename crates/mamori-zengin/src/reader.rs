//! Streaming decoder: records one at a time, with the file's structure checked.

use std::io::{self, Read};

use crate::charset::Charset;
use crate::error::{ErrorKind, SEPARATOR, ZenginError};
use crate::layout::{RECORD_LEN, RECORD_TYPE, trailer};
use crate::record::{Record, RecordKind, decode_record, length_error};
use crate::writer::Separator;

/// The end-of-file mark some systems append (SUB, Ctrl-Z).
pub(crate) const EOF_MARK: u8 = 0x1A;

/// How far into the file the separator is looked for: two records. A file without
/// separators may end with a line break, after at least two records (a header and an end
/// record); a line-separated file has its first LF well within this unless its first
/// record is badly broken.
const DETECT_WINDOW: usize = 2 * RECORD_LEN;

/// Reads a Zengin file record by record, checking each field and the file's structure.
///
/// Each item is `(record number, record)`, numbers 1-based and counting every record read,
/// good or bad. Memory use is bounded whatever the input: lines are never held beyond
/// 121 bytes.
///
/// **Separators.** Taken from the first LF in the first 240 bytes: a LF preceded by CR
/// means CR LF after every record, a LF alone means LF, and no LF there means records
/// follow each other with nothing between them (so a first record of the wrong length is
/// reported as such when its line is shorter than 240 bytes). The last record may lack its separator, and
/// one EOF byte `0x1A` may end the file (after the separator, or instead of it). In a file
/// without separators, one final CR LF or LF (before the optional `0x1A`) is accepted too.
///
/// **Structure.** One or more groups (a header, its data records, a trailer whose 合計件数
/// and 合計金額 match them), then exactly one end record.
///
/// **Errors.** A record that cannot be decoded, or is out of place, is an `Err` item, and
/// the reader goes on with the next record: with separators, the next line; without, the
/// next 120 bytes. The group's counts go on too, so one bad data record is reported once
/// (its trailer's 合計件数 is still checked; its 合計金額 is not, the sum being unknown).
/// The reader stops (yields `None` from then on) after an I/O error, after a file without
/// separators that ends inside a record, after an EBCDIC header as the first record, and
/// at the end of the input, where a missing end record is the last error.
#[derive(Debug)]
pub struct Reader<R> {
    input: Input<R>,
    charset: Charset,
    separator: Option<Separator>,
    record: u64,
    state: State,
    done: bool,
    line: Vec<u8>,
}

/// Where the reader is in the file's structure; numbers are record numbers.
#[derive(Debug, Clone, Copy)]
enum State {
    Start,
    Group { header: u64, count: u64, total: Option<u64> },
    AfterTrailer { trailer: u64 },
    AfterEnd { end: u64 },
}

impl<R: Read> Reader<R> {
    /// A reader of `input` with the 全銀協 character set ([`Charset::Zengin`]).
    /// `input` is read in chunks of 8 KiB, so it need not be buffered.
    pub fn new(input: R) -> Reader<R> {
        Reader {
            input: Input { inner: input, buf: Vec::new(), pos: 0, eof: false },
            charset: Charset::Zengin,
            separator: None,
            record: 0,
            state: State::Start,
            done: false,
            line: Vec::with_capacity(RECORD_LEN + 1),
        }
    }

    /// The same reader, accepting `charset` in text fields.
    pub fn with_charset(mut self, charset: Charset) -> Reader<R> {
        self.charset = charset;
        self
    }

    /// The separator found in the file; `None` until the first record has been read.
    pub fn separator(&self) -> Option<Separator> {
        self.separator
    }

    /// How many records have been read so far, good or bad.
    pub fn records_read(&self) -> u64 {
        self.record
    }

    fn detect(&mut self) -> io::Result<Separator> {
        let window = self.input.fill(DETECT_WINDOW)?;
        let window = &window[..window.len().min(DETECT_WINDOW)];
        Ok(match window.iter().position(|&b| b == b'\n') {
            Some(p) if p > 0 && window[p - 1] == b'\r' => Separator::CrLf,
            Some(_) => Separator::Lf,
            None => Separator::None,
        })
    }

    /// Reads the next record into `self.line`; `None` at the end of the input.
    fn read_raw(&mut self, separator: Separator) -> io::Result<Option<Raw>> {
        match separator {
            Separator::None => self.read_fixed(),
            Separator::CrLf | Separator::Lf => self.read_line(separator),
        }
    }

    fn read_fixed(&mut self) -> io::Result<Option<Raw>> {
        let head = self.input.fill(RECORD_LEN)?;
        if head.len() >= RECORD_LEN {
            self.line.clear();
            self.line.extend_from_slice(&head[..RECORD_LEN]);
            self.input.consume(RECORD_LEN);
            return Ok(Some(Raw { len: RECORD_LEN, separator_error: None, cut: false }));
        }
        // Fewer than 120 bytes left: the end of the file.
        const ENDINGS: [&[u8]; 6] = [b"", b"\x1a", b"\n", b"\r\n", b"\n\x1a", b"\r\n\x1a"];
        let len = head.len();
        if ENDINGS.contains(&head) {
            self.input.consume(len);
            return Ok(None);
        }
        self.line.clear();
        self.line.extend_from_slice(head);
        self.input.consume(len);
        Ok(Some(Raw { len, separator_error: None, cut: true }))
    }

    fn read_line(&mut self, separator: Separator) -> io::Result<Option<Raw>> {
        let head = self.input.fill(2)?;
        if head.is_empty() || head == [EOF_MARK] {
            let len = head.len();
            self.input.consume(len);
            return Ok(None);
        }
        let line = self.input.read_line(&mut self.line, RECORD_LEN + 1)?;
        let mut len = line.len;
        let mut separator_error = None;
        let ends_cr = line.last == Some(b'\r');
        if line.lf {
            if ends_cr {
                len -= 1;
            }
            match (separator, ends_cr) {
                (Separator::CrLf, false) => separator_error = Some("record ends with LF alone, but the first record ends with CR LF"),
                (Separator::Lf, true) => separator_error = Some("record ends with CR LF, but the first record ends with LF alone"),
                _ => {}
            }
        } else if line.last == Some(EOF_MARK) {
            // The last line, without separator, followed by the EOF mark.
            len -= 1;
        }
        Ok(Some(Raw { len, separator_error, cut: false }))
    }

    /// The error for the end of the input, if the file is not complete there.
    fn at_end(&self) -> Option<ZenginError> {
        let message = match self.state {
            State::AfterEnd { .. } => return None,
            State::Start if self.record == 0 => "the file is empty: expected a header record".to_owned(),
            State::Start | State::AfterTrailer { .. } => "the file ends without an end record (データ区分 9)".to_owned(),
            State::Group { header, .. } => {
                format!("the file ends inside the group that starts at record {header}: its trailer and the end record are missing")
            }
        };
        Some(ZenginError::new(RECORD_TYPE.name, 1, ErrorKind::Order, message).in_record(self.record + 1))
    }

    /// Moves the structure on by record `n` of kind `kind` (`record` if it decoded), and
    /// says what is wrong with its place.
    fn advance(&mut self, n: u64, kind: RecordKind, record: Option<&Record>) -> Option<ZenginError> {
        let order = |message: String| Some(ZenginError::new(RECORD_TYPE.name, 1, ErrorKind::Order, message).in_record(n));
        let what = match kind {
            RecordKind::Header => "header record",
            RecordKind::Data => "data record",
            RecordKind::Trailer => "trailer record",
            RecordKind::End => "end record",
        };
        match (self.state, kind) {
            (State::AfterEnd { end }, _) => order(format!("{what} after the end record (record {end})")),
            (state, RecordKind::Header) => {
                self.state = State::Group { header: n, count: 0, total: Some(0) };
                match state {
                    State::Group { header, .. } => {
                        order(format!("header record, but the group that starts at record {header} has no trailer"))
                    }
                    _ => None,
                }
            }
            (State::Group { header, count, total }, RecordKind::Data) => {
                let amount = match record {
                    Some(Record::Data(t)) => Some(t.amount),
                    _ => None,
                };
                let total = total.zip(amount).and_then(|(sum, a)| sum.checked_add(a));
                self.state = State::Group { header, count: count.saturating_add(1), total };
                None
            }
            (State::Start, RecordKind::Data) => order("data record before any header record".to_owned()),
            (State::AfterTrailer { trailer }, RecordKind::Data) => {
                order(format!("data record after the trailer (record {trailer}): a new group needs a header record first"))
            }
            (State::Group { header, count, total }, RecordKind::Trailer) => {
                self.state = State::AfterTrailer { trailer: n };
                match record {
                    Some(Record::Trailer(t)) => mismatch(n, header, count, total, t.count, t.total),
                    _ => None,
                }
            }
            (State::Start, RecordKind::Trailer) => order("trailer record before any header record".to_owned()),
            (State::AfterTrailer { trailer }, RecordKind::Trailer) => {
                order(format!("second trailer record: the group already ended at record {trailer}"))
            }
            (State::Group { header, .. }, RecordKind::End) => {
                self.state = State::AfterEnd { end: n };
                order(format!("end record, but the group that starts at record {header} has no trailer"))
            }
            (State::Start, RecordKind::End) => {
                self.state = State::AfterEnd { end: n };
                order("end record before any group: a file needs a header, its data records and a trailer first".to_owned())
            }
            (State::AfterTrailer { .. }, RecordKind::End) => {
                self.state = State::AfterEnd { end: n };
                None
            }
        }
    }
}

/// The error for a trailer whose count or total differs from its group's data records.
fn mismatch(n: u64, header: u64, count: u64, total: Option<u64>, said_count: u64, said_total: u64) -> Option<ZenginError> {
    let total_differs = total.is_some_and(|sum| sum != said_total);
    let sum = total.unwrap_or_default();
    let error = if said_count != count {
        let mut message = format!("合計件数 is {said_count}, but the group that starts at record {header} has {count} data records");
        if total_differs {
            message.push_str(&format!("; 合計金額 is {said_total}, but they sum to {sum}"));
        }
        ZenginError::at(&trailer::COUNT, 0, ErrorKind::Mismatch, message)
    } else if total_differs {
        ZenginError::at(
            &trailer::TOTAL,
            0,
            ErrorKind::Mismatch,
            format!("合計金額 is {said_total}, but the {count} data records of the group that starts at record {header} sum to {sum}"),
        )
    } else {
        return None;
    };
    Some(error.in_record(n))
}

impl<R: Read> Iterator for Reader<R> {
    type Item = Result<(u64, Record), ZenginError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        let separator = match self.separator {
            Some(s) => s,
            None => match self.detect() {
                Ok(s) => *self.separator.insert(s),
                Err(e) => {
                    self.done = true;
                    return Some(Err(ZenginError::io(1, &e)));
                }
            },
        };
        let raw = match self.read_raw(separator) {
            Ok(Some(raw)) => raw,
            Ok(None) => {
                self.done = true;
                return self.at_end().map(Err);
            }
            Err(e) => {
                self.done = true;
                return Some(Err(ZenginError::io(self.record + 1, &e)));
            }
        };
        self.record += 1;
        let n = self.record;
        let kind = if raw.len > 0 { self.line.first().and_then(|&b| RecordKind::from_byte(b)) } else { None };

        if raw.len != RECORD_LEN {
            let mut error = length_error(raw.len);
            if raw.cut {
                self.done = true;
                error.message = format!("the file ends {} bytes into the record: a record is {RECORD_LEN} bytes", raw.len);
            }
            if let Some(kind) = kind {
                self.advance(n, kind, None);
            }
            return Some(Err(error.in_record(n)));
        }

        let decoded = decode_record(&self.line[..RECORD_LEN], self.charset);
        let order = kind.and_then(|kind| self.advance(n, kind, decoded.as_ref().ok()));
        if let Some(message) = raw.separator_error {
            return Some(Err(ZenginError::new(SEPARATOR, RECORD_LEN + 1, ErrorKind::Separator, message).in_record(n)));
        }
        match decoded {
            Err(e) => {
                if e.kind == ErrorKind::Unsupported && n == 1 {
                    self.done = true;
                }
                Some(Err(e.in_record(n)))
            }
            Ok(record) => match order {
                Some(e) => Some(Err(e)),
                None => Some(Ok((n, record))),
            },
        }
    }
}

/// One record as read: its length without separator (its first 121 bytes at most are in
/// the reader's line buffer), a separator that differs from the file's, and whether the
/// input ended inside it.
#[derive(Debug)]
struct Raw {
    len: usize,
    separator_error: Option<&'static str>,
    cut: bool,
}

/// A line as read: its length without the LF, whether it had one, and its last byte.
#[derive(Debug)]
struct Line {
    len: usize,
    lf: bool,
    last: Option<u8>,
}

/// A small read buffer that can look ahead a given number of bytes.
#[derive(Debug)]
struct Input<R> {
    inner: R,
    buf: Vec<u8>,
    pos: usize,
    eof: bool,
}

const CHUNK: usize = 8192;

impl<R: Read> Input<R> {
    /// The unread bytes, at least `want` of them unless the input ends first.
    fn fill(&mut self, want: usize) -> io::Result<&[u8]> {
        while self.buf.len() - self.pos < want && !self.eof {
            if self.pos > 0 {
                self.buf.drain(..self.pos);
                self.pos = 0;
            }
            let old = self.buf.len();
            self.buf.resize(old + CHUNK, 0);
            match self.inner.read(&mut self.buf[old..]) {
                Ok(n) => {
                    self.buf.truncate(old + n);
                    self.eof = n == 0;
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => self.buf.truncate(old),
                Err(e) => {
                    self.buf.truncate(old);
                    return Err(e);
                }
            }
        }
        Ok(&self.buf[self.pos..])
    }

    fn consume(&mut self, n: usize) {
        self.pos += n;
    }

    /// Reads up to and including the next LF (or to the end of the input), keeping at most
    /// `max_keep` bytes of the line, LF excluded, in `keep`.
    fn read_line(&mut self, keep: &mut Vec<u8>, max_keep: usize) -> io::Result<Line> {
        keep.clear();
        let mut line = Line { len: 0, lf: false, last: None };
        loop {
            let avail = self.fill(1)?;
            if avail.is_empty() {
                return Ok(line);
            }
            let (take, lf) = match avail.iter().position(|&b| b == b'\n') {
                Some(p) => (p, true),
                None => (avail.len(), false),
            };
            let room = max_keep.saturating_sub(keep.len()).min(take);
            keep.extend_from_slice(&avail[..room]);
            if take > 0 {
                line.last = Some(avail[take - 1]);
            }
            line.len += take;
            self.consume(take + usize::from(lf));
            if lf {
                line.lf = true;
                return Ok(line);
            }
        }
    }
}
