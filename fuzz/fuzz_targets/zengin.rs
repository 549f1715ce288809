//! Any bytes given to the Zengin (全銀) reader: it must never panic; every record it
//! accepts must re-encode to exactly the 120 bytes it came from; and a file read without a
//! single error must be the canonical encoding of its records, up to the endings the
//! reader accepts (a missing last separator, a final `0x1A`).
#![no_main]

use libfuzzer_sys::fuzz_target;
use mamori_zengin::{Charset, Reader, Separator, Writer, decode_record, encode_record};

fuzz_target!(|data: &[u8]| {
    // The first 120 bytes as one record, with either character set.
    if let Some(first) = data.get(..120) {
        for charset in [Charset::Zengin, Charset::Lenient] {
            if let Ok(record) = decode_record(first, charset) {
                let again = encode_record(&record, charset).expect("a decoded record must encode");
                assert_eq!(&again[..], first, "the record changed in a round trip: {record:?}");
            }
        }
    }

    // The whole input as a file.
    let mut reader = Reader::new(data);
    let mut records = Vec::new();
    let mut clean = true;
    let mut last = 0;
    for item in reader.by_ref() {
        match item {
            Ok((n, record)) => {
                assert!(n > last, "record {n} after record {last}");
                last = n;
                records.push(record);
            }
            Err(e) => {
                clean = false;
                assert!(e.record >= last && e.offset <= 121, "{e}");
                last = e.record;
                let _ = e.to_string();
            }
        }
    }
    if clean && !records.is_empty() {
        let separator = reader.separator().expect("the separator is known once a record is read");
        let mut writer = Writer::new(Vec::new(), separator);
        for record in &records {
            writer.write_record(record).expect("an accepted record must encode");
        }
        let canonical = writer.finish().expect("writing to a Vec cannot fail");
        let body = &canonical[..canonical.len() - separator.bytes().len()];
        let rest = data.strip_prefix(body).expect("an error-free file must be the canonical encoding of its records");
        let endings: &[&[u8]] = match separator {
            Separator::None => &[b"", b"\x1a", b"\n", b"\r\n", b"\n\x1a", b"\r\n\x1a"],
            Separator::CrLf => &[b"", b"\x1a", b"\r\n", b"\r\n\x1a"],
            Separator::Lf => &[b"", b"\x1a", b"\n", b"\n\x1a"],
        };
        assert!(endings.contains(&rest), "unexpected bytes after the end record: {rest:?}");
    }
});
