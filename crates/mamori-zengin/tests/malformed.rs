//! Every refusal of the reader: record number, field, offset and the gist of the message.

mod common;

use std::io::{self, Read};

use common::*;
use mamori_zengin::*;

const RECORD: &str = "レコード (record)";
const RECORD_TYPE: &str = "データ区分 (record type)";

/// The one error a file yields, checked for record, field, offset, kind and message parts.
#[track_caller]
fn only_error(bytes: &[u8], record: u64, field: &str, offset: usize, kind: ErrorKind, gist: &[&str]) -> ZenginError {
    let errs = errors(bytes);
    assert_eq!(errs.len(), 1, "expected one error, got {errs:#?}");
    check(&errs[0], record, field, offset, kind, gist);
    errs[0].clone()
}

#[track_caller]
fn check(e: &ZenginError, record: u64, field: &str, offset: usize, kind: ErrorKind, gist: &[&str]) {
    assert_eq!((e.record, e.field, e.offset, e.kind), (record, field, offset, kind), "{e}");
    for g in gist {
        assert!(e.message.contains(g), "message {:?} lacks {g:?}", e.message);
    }
}

/// Fixture 1 with one field of record `record` replaced.
fn patched(record: usize, offset: usize, with: &[u8]) -> Vec<u8> {
    let mut f = fixture_1();
    patch(&mut f, 2, record, offset, with);
    f
}

fn without(records: &[usize]) -> Vec<u8> {
    let recs: Vec<Vec<u8>> =
        fixture_1_records().into_iter().enumerate().filter(|(i, _)| !records.contains(&(i + 1))).map(|(_, r)| r).collect();
    file(&recs, b"\r\n")
}

// ---- Length -------------------------------------------------------------------------

#[test]
fn short_record_says_how_long_and_the_reader_goes_on() {
    let mut recs = fixture_1_records();
    recs[1].remove(60);
    let bytes = file(&recs, b"\r\n");
    only_error(&bytes, 2, RECORD, 120, ErrorKind::Length, &["119 bytes", "expected 120"]);
    // The bad record still counts as the group's data record, so the trailer agrees.
    assert_eq!(ok_numbers(&bytes), [1, 3, 4, 5]);
}

#[test]
fn long_record_says_how_long() {
    let mut recs = fixture_1_records();
    recs[2].insert(60, b' ');
    let bytes = file(&recs, b"\n");
    only_error(&bytes, 3, RECORD, 121, ErrorKind::Length, &["121 bytes"]);
    assert_eq!(ok_numbers(&bytes), [1, 2, 4, 5]);
}

#[test]
fn short_first_record_is_detected_as_a_line() {
    let mut recs = fixture_1_records();
    recs[0].truncate(100);
    let bytes = file(&recs, b"\r\n");
    only_error(&bytes, 1, RECORD, 101, ErrorKind::Length, &["100 bytes"]);
    // Its データ区分 still opens the group, so the data records are in place.
    assert_eq!(ok_numbers(&bytes), [2, 3, 4, 5]);
}

#[test]
fn unseparated_file_cut_inside_a_record_stops() {
    let mut bytes = file(&fixture_2_records(), b"");
    bytes.truncate(4 * 120 + 57);
    let items = read_all(&bytes);
    assert_eq!(items.len(), 5, "{items:#?}");
    assert!(items[..4].iter().all(Result::is_ok));
    check(items[4].as_ref().unwrap_err(), 5, RECORD, 58, ErrorKind::Length, &["ends 57 bytes into the record"]);
}

#[test]
fn empty_file() {
    only_error(b"", 1, RECORD_TYPE, 1, ErrorKind::Order, &["empty"]);
}

#[test]
fn empty_line_is_a_record_of_zero_bytes() {
    let mut bytes = fixture_1();
    bytes.extend_from_slice(b"\r\n");
    only_error(&bytes, 6, RECORD, 1, ErrorKind::Length, &["0 bytes"]);
}

// ---- Separators -------------------------------------------------------------------------

#[test]
fn a_separator_unlike_the_first_is_refused() {
    let recs = fixture_1_records();
    let mut bytes = Vec::new();
    for (i, r) in recs.iter().enumerate() {
        bytes.extend_from_slice(r);
        bytes.extend_from_slice(if i == 2 { b"\n" } else { b"\r\n" });
    }
    only_error(&bytes, 3, "改行 (separator)", 121, ErrorKind::Separator, &["LF alone", "CR LF"]);

    let mut bytes = Vec::new();
    for (i, r) in recs.iter().enumerate() {
        bytes.extend_from_slice(r);
        bytes.extend_from_slice(if i == 1 { b"\r\n" } else { b"\n" });
    }
    only_error(&bytes, 2, "改行 (separator)", 121, ErrorKind::Separator, &["ends with CR LF"]);
}

// ---- Record type ------------------------------------------------------------------------

#[test]
fn unknown_record_type() {
    let bytes = patched(3, 1, b"3");
    let errs = errors(&bytes);
    assert_eq!(errs.len(), 2, "{errs:#?}");
    check(&errs[0], 3, RECORD_TYPE, 1, ErrorKind::RecordType, &["unknown record type '3'", "1, 2, 8 or 9"]);
    // It is not counted: the trailer's count no longer matches.
    check(&errs[1], 4, "合計件数 (record count)", 2, ErrorKind::Mismatch, &["合計件数 is 2", "has 1 data records"]);
}

// ---- Numeric fields ------------------------------------------------------------------

#[test]
fn letter_in_the_amount() {
    let bytes = patched(2, 85, b"O");
    only_error(&bytes, 2, "振込金額 (amount)", 85, ErrorKind::Digits, &["non-digit 'O'", "numeric"]);
    // The group's total is unknown, so it is not checked, and the reader goes on.
    assert_eq!(ok_numbers(&bytes), [1, 3, 4, 5]);
}

#[test]
fn space_in_an_account_number() {
    let bytes = patched(3, 46, b" ");
    only_error(&bytes, 3, "口座番号 (account number)", 46, ErrorKind::Digits, &["space"]);
}

#[test]
fn non_digits_in_other_numeric_fields() {
    only_error(&patched(1, 7, b"X"), 1, "依頼人コード (requester code)", 7, ErrorKind::Digits, &["'X'"]);
    only_error(&patched(1, 59, b"\xB1"), 1, "仕向銀行番号 (sending bank code)", 59, ErrorKind::Digits, &["0xB1"]);
    only_error(&patched(2, 22, b"-"), 2, "被仕向支店番号 (receiving branch code)", 22, ErrorKind::Digits, &["'-'"]);
    only_error(&patched(3, 40, b" "), 3, "手形交換所番号 (clearing house)", 40, ErrorKind::Digits, &["space"]);
    only_error(&patched(4, 3, b"A"), 4, "合計件数 (record count)", 3, ErrorKind::Digits, &["'A'"]);
    only_error(&patched(4, 19, b"+"), 4, "合計金額 (total amount)", 19, ErrorKind::Digits, &["'+'"]);
}

// ---- Dates -----------------------------------------------------------------------------

#[test]
fn dates_that_do_not_exist() {
    only_error(&patched(1, 55, b"1301"), 1, "取組日 (transfer date)", 55, ErrorKind::Date, &["month 13"]);
    only_error(&patched(1, 55, b"0015"), 1, "取組日 (transfer date)", 55, ErrorKind::Date, &["month 00"]);
    only_error(&patched(1, 55, b"0431"), 1, "取組日 (transfer date)", 57, ErrorKind::Date, &["day 31", "month 04"]);
    only_error(&patched(1, 55, b"0230"), 1, "取組日 (transfer date)", 57, ErrorKind::Date, &["day 30", "month 02"]);
    only_error(&patched(1, 55, b"0100"), 1, "取組日 (transfer date)", 57, ErrorKind::Date, &["day 00"]);
    only_error(&patched(1, 55, b"04 5"), 1, "取組日 (transfer date)", 57, ErrorKind::Digits, &["space"]);
}

// ---- Text ------------------------------------------------------------------------------

#[test]
fn bytes_that_are_not_shift_jis() {
    only_error(&patched(2, 53, b"\xFF"), 2, "受取人名 (recipient name)", 53, ErrorKind::Encoding, &["0xFF", "not valid Shift_JIS"]);
    only_error(&patched(2, 53, b"\xA0"), 2, "受取人名 (recipient name)", 53, ErrorKind::Encoding, &["0xA0"]);
    only_error(
        &patched(2, 53, b"\x81\x20"),
        2,
        "受取人名 (recipient name)",
        53,
        ErrorKind::Encoding,
        &["0x81 0x20", "not valid Shift_JIS"],
    );
    // A lead byte as the last byte of the field.
    only_error(&patched(2, 80, b"\x88"), 2, "受取人名 (recipient name)", 80, ErrorKind::Encoding, &["lead byte 0x88", "cut off"]);
}

#[test]
fn kanji_in_a_name() {
    // 山 is 0x8E 0x52 in Shift_JIS.
    let e = only_error(&patched(1, 15, b"\x8E\x52"), 1, "依頼人名 (requester name)", 15, ErrorKind::Charset, &["'山'", "0x8E 0x52"]);
    assert!(e.to_string().starts_with("record 1, 依頼人名 (requester name) at byte 15: "), "{e}");
}

#[test]
fn characters_outside_the_zengin_set() {
    only_error(&patched(2, 58, b"a"), 2, "受取人名 (recipient name)", 58, ErrorKind::Charset, &["'a'", "Zengin character set"]);
    only_error(&patched(2, 51, b"!"), 2, "受取人名 (recipient name)", 51, ErrorKind::Charset, &["'!'"]);
    only_error(&patched(2, 52, b"\xB0"), 2, "受取人名 (recipient name)", 52, ErrorKind::Charset, &["'ｰ'"]);
    only_error(&patched(2, 52, b"\xA6"), 2, "受取人名 (recipient name)", 52, ErrorKind::Charset, &["'ｦ'"]);
    only_error(&patched(2, 6, b"\t"), 2, "被仕向銀行名 (receiving bank name)", 6, ErrorKind::Charset, &["control byte 0x09"]);
    only_error(&patched(1, 81, b"@"), 1, "仕向支店名 (sending branch name)", 81, ErrorKind::Charset, &["'@'"]);
    only_error(&patched(2, 95, b"*"), 2, "顧客コード1 (customer code 1)", 95, ErrorKind::Charset, &["'*'"]);
    only_error(&patched(3, 95, b"&"), 3, "EDI情報 (EDI information)", 95, ErrorKind::Charset, &["'&'"]);
}

// ---- Codes and fillers -----------------------------------------------------------------

#[test]
fn codes_the_format_does_not_define() {
    only_error(&patched(1, 2, b"22"), 1, "種別コード (transfer kind)", 2, ErrorKind::Code, &["'22'", "21"]);
    only_error(&patched(1, 4, b"2"), 1, "コード区分 (code class)", 4, ErrorKind::Code, &["'2'"]);
    only_error(&patched(1, 96, b"3"), 1, "預金種目 (account type)", 96, ErrorKind::Code, &["'3'", "普通"]);
    only_error(&patched(2, 43, b"0"), 2, "預金種目 (account type)", 43, ErrorKind::Code, &["'0'"]);
    only_error(&patched(2, 91, b"5"), 2, "新規コード (new code)", 91, ErrorKind::Code, &["'5'", "0, 1 or 2"]);
    only_error(&patched(2, 112, b"6"), 2, "振込指定区分 (transfer method)", 112, ErrorKind::Code, &["'6'", "telegraphic"]);
    only_error(&patched(2, 113, b"N"), 2, "識別表示 (EDI flag)", 113, ErrorKind::Code, &["'N'", "space or Y"]);
}

#[test]
fn filler_must_be_spaces() {
    only_error(&patched(1, 110, b"0"), 1, "ダミー (filler)", 110, ErrorKind::Filler, &["'0'", "spaces"]);
    only_error(&patched(2, 120, b"X"), 2, "ダミー (filler)", 120, ErrorKind::Filler, &["'X'"]);
    only_error(&patched(4, 20, b"\x00"), 4, "ダミー (filler)", 20, ErrorKind::Filler, &["0x00"]);
    only_error(&patched(5, 64, b"9"), 5, "ダミー (filler)", 64, ErrorKind::Filler, &["'9'"]);
}

// ---- EBCDIC ----------------------------------------------------------------------------

#[test]
fn ebcdic_code_class_is_refused_and_the_reader_stops() {
    let items = read_all(&patched(1, 4, b"1"));
    assert_eq!(items.len(), 1, "{items:#?}");
    check(items[0].as_ref().unwrap_err(), 1, "コード区分 (code class)", 4, ErrorKind::Unsupported, &["EBCDIC", "not supported"]);
}

#[test]
fn an_ebcdic_file_is_refused() {
    // "1210" in EBCDIC, then anything.
    let mut rec = vec![0xF1, 0xF2, 0xF1, 0xF0];
    rec.resize(120, 0x40);
    let mut bytes = rec.repeat(3);
    bytes.extend_from_slice(&[0xF9; 120]);
    let items = read_all(&bytes);
    assert_eq!(items.len(), 1, "{items:#?}");
    check(items[0].as_ref().unwrap_err(), 1, RECORD_TYPE, 1, ErrorKind::Unsupported, &["EBCDIC"]);
}

// ---- Order -----------------------------------------------------------------------------

#[test]
fn data_before_header() {
    let errs = errors(&without(&[1]));
    assert_eq!(errs.len(), 4, "{errs:#?}");
    check(&errs[0], 1, RECORD_TYPE, 1, ErrorKind::Order, &["data record before any header record"]);
    check(&errs[1], 2, RECORD_TYPE, 1, ErrorKind::Order, &["data record before any header record"]);
    check(&errs[2], 3, RECORD_TYPE, 1, ErrorKind::Order, &["trailer record before any header record"]);
    check(&errs[3], 4, RECORD_TYPE, 1, ErrorKind::Order, &["end record before any group"]);
}

#[test]
fn header_inside_a_group() {
    let mut recs = fixture_1_records();
    recs.insert(2, header_1());
    let bytes = file(&recs, b"\r\n");
    let errs = errors(&bytes);
    assert_eq!(errs.len(), 2, "{errs:#?}");
    check(&errs[0], 3, RECORD_TYPE, 1, ErrorKind::Order, &["header record", "starts at record 1 has no trailer"]);
    // The new group has one data record; its trailer says two.
    check(&errs[1], 5, "合計件数 (record count)", 2, ErrorKind::Mismatch, &["合計件数 is 2", "record 3 has 1 data records"]);
}

#[test]
fn missing_trailer() {
    only_error(&without(&[4]), 4, RECORD_TYPE, 1, ErrorKind::Order, &["end record", "starts at record 1 has no trailer"]);
}

#[test]
fn data_after_trailer() {
    let mut recs = fixture_1_records();
    recs.insert(4, data_1a());
    only_error(&file(&recs, b"\r\n"), 5, RECORD_TYPE, 1, ErrorKind::Order, &["data record after the trailer (record 4)"]);
}

#[test]
fn two_trailers() {
    let mut recs = fixture_1_records();
    recs.insert(4, trailer_1());
    only_error(&file(&recs, b"\r\n"), 5, RECORD_TYPE, 1, ErrorKind::Order, &["second trailer", "record 4"]);
}

#[test]
fn end_without_any_group() {
    let bytes = file(&[end()], b"\r\n");
    only_error(&bytes, 1, RECORD_TYPE, 1, ErrorKind::Order, &["end record before any group"]);
}

#[test]
fn records_after_end() {
    let mut recs = fixture_1_records();
    recs.push(header_1());
    recs.push(end());
    let bytes = file(&recs, b"\r\n");
    let errs = errors(&bytes);
    assert_eq!(errs.len(), 2, "{errs:#?}");
    check(&errs[0], 6, RECORD_TYPE, 1, ErrorKind::Order, &["header record after the end record (record 5)"]);
    check(&errs[1], 7, RECORD_TYPE, 1, ErrorKind::Order, &["end record after the end record (record 5)"]);
    assert_eq!(ok_numbers(&bytes), [1, 2, 3, 4, 5]);
}

#[test]
fn missing_end_at_eof() {
    let bytes = without(&[5]);
    only_error(&bytes, 5, RECORD_TYPE, 1, ErrorKind::Order, &["ends without an end record"]);
    assert_eq!(ok_numbers(&bytes), [1, 2, 3, 4]);
}

#[test]
fn file_ends_inside_a_group() {
    only_error(&without(&[4, 5]), 4, RECORD_TYPE, 1, ErrorKind::Order, &["inside the group that starts at record 1"]);
}

// ---- Trailer totals --------------------------------------------------------------------

#[test]
fn trailer_count_that_does_not_match() {
    let e = only_error(
        &patched(4, 2, b"000003"),
        4,
        "合計件数 (record count)",
        2,
        ErrorKind::Mismatch,
        &["合計件数 is 3", "has 2 data records"],
    );
    assert!(!e.message.contains("合計金額"), "{e}");
}

#[test]
fn trailer_total_that_does_not_match() {
    only_error(
        &patched(4, 8, b"000001284568"),
        4,
        "合計金額 (total amount)",
        8,
        ErrorKind::Mismatch,
        &["合計金額 is 1284568", "sum to 1284567", "2 data records"],
    );
}

#[test]
fn trailer_count_and_total_that_do_not_match() {
    only_error(
        &patched(4, 2, b"000009000000000001"),
        4,
        "合計件数 (record count)",
        2,
        ErrorKind::Mismatch,
        &["合計件数 is 9", "has 2 data records", "合計金額 is 1", "sum to 1284567"],
    );
}

// ---- I/O -------------------------------------------------------------------------------

/// Gives `ok` bytes of `data`, then fails.
#[derive(Debug)]
struct Failing<'a> {
    data: &'a [u8],
    ok: usize,
}

impl Read for Failing<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.ok == 0 {
            return Err(io::Error::other("disk on fire"));
        }
        let n = buf.len().min(self.ok).min(self.data.len()).min(50);
        buf[..n].copy_from_slice(&self.data[..n]);
        self.data = &self.data[n..];
        self.ok -= n;
        Ok(n)
    }
}

#[test]
fn io_error_stops_the_reader() {
    let bytes = fixture_1();
    let items: Vec<_> = Reader::new(Failing { data: &bytes, ok: 300 }).collect();
    assert_eq!(items.len(), 3, "{items:#?}");
    assert!(items[..2].iter().all(Result::is_ok));
    let e = items[2].as_ref().unwrap_err();
    assert_eq!((e.record, e.kind), (3, ErrorKind::Io(io::ErrorKind::Other)));
    assert!(e.message.contains("disk on fire"));
}

#[test]
fn reads_in_small_pieces() {
    // A reader that gives 50 bytes at a time reads the same as a slice.
    let bytes = fixture_1();
    let items: Vec<_> = Reader::new(Failing { data: &bytes, ok: usize::MAX }).collect();
    assert_eq!(items, read_all(&bytes));
}
