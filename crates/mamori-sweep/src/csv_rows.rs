//! CSV records read as the `csv` crate reads them (its defaults, a chosen delimiter,
//! rows of any length), with most rows split without its state machine.
//!
//! A row with no quote and no carriage return but the one before its line feed is split
//! at the delimiter where it stands: what the state machine would make of it, found with
//! a search for the line feed and one pass over the row, a table lookup a byte, instead
//! of a step of the machine a byte. Anything else (the first record, where a byte-order
//! mark may stand; a quoted field; a lone carriage return; a row longer than what is
//! buffered; the end of the input) goes through `csv_core`, the state machine the `csv`
//! crate runs, fed from where the split rows left off. Line numbers count line feeds as
//! `csv_core` does, so [`CsvRows::line`] is what `csv`'s `position().line()` says at the
//! same point. `rows_are_read_as_the_csv_crate_reads_them` holds both to the same
//! records and lines on text made of the bytes that matter.

use std::io::{self, BufRead};
use std::ops::Range;

use csv_core::ReadRecordResult;

/// One CSV record: its text, and where each field lies in it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Row {
    text: Vec<u8>,
    spans: Vec<(usize, usize)>,
}

impl Row {
    /// Room for `bytes` of text in `fields` fields.
    pub fn with_capacity(bytes: usize, fields: usize) -> Self {
        Row { text: Vec::with_capacity(bytes), spans: Vec::with_capacity(fields) }
    }

    /// The record's text: its fields, and what stands between them.
    pub fn as_slice(&self) -> &[u8] {
        &self.text
    }

    /// Where field `i` lies in [`Row::as_slice`].
    pub fn range(&self, i: usize) -> Option<Range<usize>> {
        self.spans.get(i).map(|&(a, b)| a..b)
    }

    /// The number of fields.
    pub fn len(&self) -> usize {
        self.spans.len()
    }

    pub fn is_empty(&self) -> bool {
        self.spans.is_empty()
    }

    /// The fields in order.
    pub fn iter(&self) -> impl Iterator<Item = &[u8]> {
        self.spans.iter().map(|&(a, b)| &self.text[a..b])
    }

    pub fn clear(&mut self) {
        self.text.clear();
        self.spans.clear();
    }

    pub fn push_field(&mut self, field: &[u8]) {
        let start = self.text.len();
        self.text.extend_from_slice(field);
        self.spans.push((start, self.text.len()));
    }
}

impl<T: AsRef<[u8]>> From<Vec<T>> for Row {
    fn from(fields: Vec<T>) -> Self {
        let mut row = Row::default();
        for f in &fields {
            row.push_field(f.as_ref());
        }
        row
    }
}

/// A reader of CSV records from `R`.
pub(crate) struct CsvRows<R> {
    r: R,
    core: csv_core::Reader,
    delimiter: u8,
    /// The bytes a split row stops at: the delimiter, a quote, a carriage return.
    special: [bool; 256],
    /// 1 + the line feeds consumed.
    line: u64,
    /// Whether the first record is read (a byte-order mark may precede it).
    started: bool,
    /// Whether the state machine said the input ended.
    ended: bool,
    /// The state machine's output and field ends, reused.
    out: Vec<u8>,
    ends: Vec<usize>,
}

impl<R: BufRead> CsvRows<R> {
    pub(crate) fn new(r: R, delimiter: u8) -> Self {
        CsvRows {
            r,
            core: csv_core::ReaderBuilder::new().delimiter(delimiter).build(),
            delimiter,
            special: std::array::from_fn(|b| b == usize::from(delimiter) || b == usize::from(b'"') || b == usize::from(b'\r')),
            line: 1,
            started: false,
            ended: false,
            out: vec![0; 256],
            ends: vec![0; 32],
        }
    }

    /// The line the reader stands on: 1 + the line feeds read so far.
    pub(crate) fn line(&self) -> u64 {
        self.line
    }

    /// Reads the next record into `row` (cleared first); `false` at the end.
    pub(crate) fn read(&mut self, row: &mut Row) -> io::Result<bool> {
        row.clear();
        if self.ended {
            return Ok(false);
        }
        if self.started {
            loop {
                let buf = self.r.fill_buf()?;
                // Line ends before a record are skipped, as the state machine skips them.
                let skip = buf.iter().position(|&b| b != b'\n' && b != b'\r').unwrap_or(buf.len());
                let feeds = buf[..skip].iter().filter(|&&b| b == b'\n').count() as u64;
                if skip == buf.len() && !buf.is_empty() {
                    self.line += feeds;
                    self.r.consume(skip);
                    continue;
                }
                let Some(nl) = memchr::memchr(b'\n', &buf[skip..]).map(|i| skip + i) else { break };
                let (body, taken) = match buf[nl - 1] {
                    // A carriage return then a line feed: the return ends the record, and the
                    // feed is skipped before the next.
                    b'\r' => (&buf[skip..nl - 1], nl),
                    _ => (&buf[skip..nl], nl + 1),
                };
                // The fields found, and any quote or return, in one pass.
                let (mut start, mut plain) = (0, true);
                while let Some(k) = body[start..].iter().position(|&b| self.special[usize::from(b)]) {
                    let at = start + k;
                    if body[at] != self.delimiter {
                        plain = false;
                        break;
                    }
                    row.spans.push((start, at));
                    start = at + 1;
                }
                if !plain {
                    row.clear();
                    break;
                }
                row.spans.push((start, body.len()));
                row.text.extend_from_slice(body);
                self.line += feeds + u64::from(taken > nl);
                self.r.consume(taken);
                return Ok(true);
            }
        }
        self.started = true;
        self.by_machine(row)
    }

    /// The next record through the state machine.
    fn by_machine(&mut self, row: &mut Row) -> io::Result<bool> {
        let (mut outlen, mut endlen) = (0, 0);
        loop {
            let input = self.r.fill_buf()?;
            let before = self.core.line();
            let (res, nin, nout, nend) = self.core.read_record(input, &mut self.out[outlen..], &mut self.ends[endlen..]);
            self.r.consume(nin);
            self.line += self.core.line() - before;
            outlen += nout;
            endlen += nend;
            match res {
                ReadRecordResult::InputEmpty => {}
                ReadRecordResult::OutputFull => self.out.resize(self.out.len() * 2, 0),
                ReadRecordResult::OutputEndsFull => self.ends.resize(self.ends.len() * 2, 0),
                ReadRecordResult::Record => {
                    let mut start = 0;
                    for &end in &self.ends[..endlen] {
                        row.push_field(&self.out[start..end]);
                        start = end;
                    }
                    return Ok(true);
                }
                ReadRecordResult::End => {
                    self.ended = true;
                    return Ok(false);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every record and the line before it, as `csv` reads `text`.
    fn by_csv(text: &[u8], delimiter: u8) -> Vec<(u64, Vec<Vec<u8>>)> {
        let mut r = csv::ReaderBuilder::new().delimiter(delimiter).has_headers(false).flexible(true).from_reader(text);
        let mut all = Vec::new();
        let mut row = csv::ByteRecord::new();
        loop {
            let line = r.position().line();
            if !r.read_byte_record(&mut row).unwrap() {
                all.push((line, Vec::new()));
                return all;
            }
            all.push((line, row.iter().map(<[u8]>::to_vec).collect()));
        }
    }

    /// The same through [`CsvRows`], buffered `cap` bytes at a time.
    fn by_rows(text: &[u8], delimiter: u8, cap: usize) -> Vec<(u64, Vec<Vec<u8>>)> {
        let mut r = CsvRows::new(io::BufReader::with_capacity(cap, text), delimiter);
        let mut all = Vec::new();
        let mut row = Row::default();
        loop {
            let line = r.line();
            if !r.read(&mut row).unwrap() {
                all.push((line, Vec::new()));
                assert!(!r.read(&mut row).unwrap(), "the end stays the end");
                return all;
            }
            all.push((line, row.iter().map(<[u8]>::to_vec).collect()));
        }
    }

    #[test]
    fn a_plain_file_and_its_quirks() {
        for text in [
            &b"a,b\n1,2\n"[..],
            b"a,b\r\n1,2\r\n3,4",
            b"\xef\xbb\xbfa,b\n1,2\n",
            b"a,b\n\n\n1,\"2\n3\",4\n5,6\n",
            b"a\n1\r2\n,\n,,x\n",
            b"",
            b"\n\r\n",
        ] {
            // (`csv_core`, for both readers, strips a byte-order mark only when more than the
            // mark is buffered, and `csv` buffers 8 KiB.)
            for cap in [1, 2, 3, 7, 64].into_iter().filter(|&c| c > 3 || !text.starts_with(b"\xef")) {
                assert_eq!(by_rows(text, b',', cap), by_csv(text, b','), "{:?} buffered {cap}", String::from_utf8_lossy(text));
            }
        }
    }

    proptest::proptest! {
        /// Text made of letters, spaces, delimiters, quotes, returns and feeds (a byte-order
        /// mark at the start now and then) gives the same records, with the same line
        /// before each, whatever the buffer's size.
        #[test]
        fn rows_are_read_as_the_csv_crate_reads_them(
            bytes in proptest::collection::vec(proptest::sample::select(&b"ab ,;\"\r\n\n\n"[..]), 0..120),
            bom in proptest::prelude::any::<bool>(),
            semicolon in proptest::prelude::any::<bool>(),
            cap in 1usize..40,
        ) {
            let mut text = if bom { b"\xef\xbb\xbf".to_vec() } else { Vec::new() };
            text.extend_from_slice(&bytes);
            let delimiter = if semicolon { b';' } else { b',' };
            let cap = if bom { cap.max(4) } else { cap };
            proptest::prop_assert_eq!(by_rows(&text, delimiter, cap), by_csv(&text, delimiter));
        }
    }
}
