//! Hand-made files for the tests, typed byte by byte: ASCII as text, half-width kana as
//! their Shift_JIS bytes (ｱ=0xB1 .. ﾝ=0xDD, ﾞ=0xDE, ﾟ=0xDF). None of them comes from the
//! crate's encoder.
#![allow(dead_code)]

use mamori_zengin::{Reader, Record, ZenginError};

/// `n` spaces.
pub fn sp(n: usize) -> Vec<u8> {
    vec![b' '; n]
}

/// One record from its parts, which must add up to 120 bytes.
pub fn rec(parts: &[&[u8]]) -> Vec<u8> {
    let r = parts.concat();
    assert_eq!(r.len(), 120, "a fixture record is {} bytes", r.len());
    r
}

/// Records joined, each followed by `sep`.
pub fn file(records: &[Vec<u8>], sep: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    for r in records {
        out.extend_from_slice(r);
        out.extend_from_slice(sep);
    }
    out
}

/// Header of the CRLF fixture: 総合振込 from ｶ)ﾔﾏﾀﾞｼﾖｳｼﾞ, 25 April, ﾐｽﾞﾎ 0001 / ﾄｳｷﾖｳ 001.
pub fn header_1() -> Vec<u8> {
    rec(&[
        b"1",
        b"21",
        b"0",
        b"1234567890",
        // ｶ ) ﾔ ﾏ ﾀ ﾞ ｼ ﾖ ｳ ｼ ﾞ
        b"\xB6)\xD4\xCF\xC0\xDE\xBC\xD6\xB3\xBC\xDE",
        &sp(29),
        b"0425",
        b"0001",
        b"\xD0\xBD\xDE\xCE", // ﾐｽﾞﾎ
        &sp(11),
        b"001",
        b"\xC4\xB3\xB7\xD6\xB3", // ﾄｳｷﾖｳ
        &sp(10),
        b"1",
        b"1234567",
        &sp(17),
    ])
}

/// First transfer: 50,000 yen to ﾔﾏﾀﾞ ﾀﾛｳ, telegraphic, customer code 1.
pub fn data_1a() -> Vec<u8> {
    rec(&[
        b"2",
        b"0005",
        b"\xD0\xC2\xCB\xDE\xBCUFJ", // ﾐﾂﾋﾞｼUFJ
        &sp(7),
        b"123",
        b"\xBC\xCC\xDE\xD4", // ｼﾌﾞﾔ
        &sp(11),
        b"    ",
        b"1",
        b"7654321",
        b"\xD4\xCF\xC0\xDE \xC0\xDB\xB3", // ﾔﾏﾀﾞ ﾀﾛｳ
        &sp(22),
        b"0000050000",
        b"0",
        b"0000000001",
        &sp(10),
        b"7",
        b" ",
        &sp(7),
    ])
}

/// Second transfer: 1,234,567 yen to ｽｽﾞｷ ﾊﾅｺ, by document, first transfer, with EDI情報.
pub fn data_1b() -> Vec<u8> {
    rec(&[
        b"2",
        b"0009",
        b"\xD0\xC2\xB2\xBD\xD0\xC4\xD3", // ﾐﾂｲｽﾐﾄﾓ
        &sp(8),
        b"456",
        b"\xB3\xD2\xC0\xDE", // ｳﾒﾀﾞ
        &sp(11),
        b"0101",
        b"2",
        b"0012345",
        b"\xBD\xBD\xDE\xB7 \xCA\xC5\xBA", // ｽｽﾞｷ ﾊﾅｺ
        &sp(22),
        b"0001234567",
        b"1",
        b"INV-2024/001",
        &sp(8),
        b"8",
        b"Y",
        &sp(7),
    ])
}

/// Trailer of the CRLF fixture: 2 records, 1,284,567 yen.
pub fn trailer_1() -> Vec<u8> {
    rec(&[b"8", b"000002", b"000001284567", &sp(101)])
}

/// The end record.
pub fn end() -> Vec<u8> {
    rec(&[b"9", &sp(119)])
}

/// The CRLF fixture's records: header, two transfers, trailer, end.
pub fn fixture_1_records() -> Vec<Vec<u8>> {
    vec![header_1(), data_1a(), data_1b(), trailer_1(), end()]
}

/// Fixture 1: one group, CR LF after every record.
pub fn fixture_1() -> Vec<u8> {
    file(&fixture_1_records(), b"\r\n")
}

/// Fixture 2's records: a salary group with one transfer, a bonus group with none, end.
pub fn fixture_2_records() -> Vec<Vec<u8>> {
    vec![
        rec(&[
            b"1",
            b"11",
            b"0",
            b"0000000042",
            b"\xC3\xBD\xC4(\xB6", // ﾃｽﾄ(ｶ
            &sp(35),
            b"0229",
            b"0179",
            &sp(15),
            b"010",
            &sp(15),
            b"2",
            b"0000001",
            &sp(17),
        ]),
        rec(&[
            b"2",
            b"0001",
            &sp(15),
            b"002",
            &sp(15),
            b"    ",
            b"4",
            b"1111111",
            // ｺ ﾞ ﾄ ｳ . ｹ ﾝ - ｲ ﾁ / A , B ¥(0x5C)
            b"\xBA\xDE\xC4\xB3.\xB9\xDD-\xB2\xC1/A,B\\",
            &sp(15),
            b"9999999999",
            b"2",
            b"1234567890",
            b"0987654321",
            b" ",
            b" ",
            &sp(7),
        ]),
        rec(&[b"8", b"000001", b"009999999999", &sp(101)]),
        rec(&[
            b"1",
            b"12",
            b"0",
            b"9999999999",
            b"\xCE\xDF\xDD\xC1\xD6", // ﾎﾟﾝﾁﾖ
            &sp(35),
            b"1231",
            b"9900",
            b"\xD5\xB3\xC1\xD6", // ﾕｳﾁﾖ
            &sp(11),
            b"019",
            b"\xBE\xDE\xDB\xB2\xC1\xB7\xD5\xB3", // ｾﾞﾛｲﾁｷﾕｳ
            &sp(7),
            b"9",
            b"9999999",
            &sp(17),
        ]),
        rec(&[b"8", b"000000", b"000000000000", &sp(101)]),
        end(),
    ]
}

/// Fixture 2: two groups, no separators, EOF mark 0x1A at the end.
pub fn fixture_2() -> Vec<u8> {
    let mut f = file(&fixture_2_records(), b"");
    f.push(0x1A);
    f
}

/// Every item the reader yields for `bytes`.
pub fn read_all(bytes: &[u8]) -> Vec<Result<(u64, Record), ZenginError>> {
    Reader::new(bytes).collect()
}

/// The errors the reader yields for `bytes`.
pub fn errors(bytes: &[u8]) -> Vec<ZenginError> {
    read_all(bytes).into_iter().filter_map(Result::err).collect()
}

/// The record numbers the reader yields as `Ok`.
pub fn ok_numbers(bytes: &[u8]) -> Vec<u64> {
    read_all(bytes).into_iter().filter_map(|r| r.ok().map(|(n, _)| n)).collect()
}

/// Replaces bytes of record `record` (1-based) from byte `offset` (1-based) in a file
/// whose records are each followed by `sep_len` bytes.
pub fn patch(file: &mut [u8], sep_len: usize, record: usize, offset: usize, with: &[u8]) {
    let start = (record - 1) * (120 + sep_len) + offset - 1;
    file[start..start + with.len()].copy_from_slice(with);
}
