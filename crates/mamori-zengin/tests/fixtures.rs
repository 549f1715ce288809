//! Hand-made files, decoded field by field.

mod common;

use common::*;
use mamori_zengin::*;

fn all_ok(bytes: &[u8]) -> Vec<(u64, Record)> {
    read_all(bytes).into_iter().map(|r| r.unwrap_or_else(|e| panic!("{e}"))).collect()
}

#[test]
fn crlf_fixture_decodes_every_field() {
    let bytes = fixture_1();
    assert_eq!(bytes.len(), 5 * 122);
    let mut reader = Reader::new(&bytes[..]);
    let records: Vec<(u64, Record)> = reader.by_ref().map(Result::unwrap).collect();
    assert_eq!(reader.separator(), Some(Separator::CrLf));
    assert_eq!(records.iter().map(|(n, _)| *n).collect::<Vec<_>>(), [1, 2, 3, 4, 5]);

    let Record::Header(h) = &records[0].1 else { panic!("not a header: {:?}", records[0]) };
    assert_eq!(h.kind, TransferKind::General);
    assert_eq!(h.requester_code, 1_234_567_890);
    assert_eq!(h.requester_name, "ｶ)ﾔﾏﾀﾞｼﾖｳｼﾞ");
    assert_eq!(h.transfer_date, MonthDay { month: 4, day: 25 });
    assert_eq!(h.bank_code, 1);
    assert_eq!(h.bank_name, "ﾐｽﾞﾎ");
    assert_eq!(h.branch_code, 1);
    assert_eq!(h.branch_name, "ﾄｳｷﾖｳ");
    assert_eq!(h.account_type, AccountType::Ordinary);
    assert_eq!(h.account_number, 1_234_567);

    let Record::Data(a) = &records[1].1 else { panic!("not data: {:?}", records[1]) };
    assert_eq!(a.bank_code, 5);
    assert_eq!(a.bank_name, "ﾐﾂﾋﾞｼUFJ");
    assert_eq!(a.branch_code, 123);
    assert_eq!(a.branch_name, "ｼﾌﾞﾔ");
    assert_eq!(a.clearing_house, None);
    assert_eq!(a.account_type, AccountType::Ordinary);
    assert_eq!(a.account_number, 7_654_321);
    assert_eq!(a.recipient_name, "ﾔﾏﾀﾞ ﾀﾛｳ");
    assert_eq!(
        a.recipient_name.chars().map(|c| c as u32).collect::<Vec<_>>(),
        [0xFF94, 0xFF8F, 0xFF80, 0xFF9E, 0x20, 0xFF80, 0xFF9B, 0xFF73]
    );
    assert_eq!(a.amount, 50_000);
    assert_eq!(a.new_code, NewCode::Other);
    assert_eq!(a.customer_codes, CustomerCodes::Codes { code1: "0000000001".into(), code2: String::new() });
    assert_eq!(a.method, Some(TransferMethod::Telegraphic));

    let Record::Data(b) = &records[2].1 else { panic!("not data: {:?}", records[2]) };
    assert_eq!(b.bank_code, 9);
    assert_eq!(b.bank_name, "ﾐﾂｲｽﾐﾄﾓ");
    assert_eq!(b.branch_code, 456);
    assert_eq!(b.branch_name, "ｳﾒﾀﾞ");
    assert_eq!(b.clearing_house, Some(101));
    assert_eq!(b.account_type, AccountType::Current);
    assert_eq!(b.account_number, 12_345);
    assert_eq!(b.recipient_name, "ｽｽﾞｷ ﾊﾅｺ");
    assert_eq!(b.amount, 1_234_567);
    assert_eq!(b.new_code, NewCode::First);
    assert_eq!(b.customer_codes, CustomerCodes::Edi("INV-2024/001".into()));
    assert_eq!(b.method, Some(TransferMethod::Document));

    assert_eq!(records[3].1, Record::Trailer(Trailer { count: 2, total: 1_284_567 }));
    assert_eq!(records[4].1, Record::End);
}

#[test]
fn unseparated_fixture_with_eof_mark_decodes_every_field() {
    let bytes = fixture_2();
    assert_eq!(bytes.len(), 6 * 120 + 1);
    let mut reader = Reader::new(&bytes[..]);
    let records: Vec<Record> = reader.by_ref().map(|r| r.unwrap().1).collect();
    assert_eq!(reader.separator(), Some(Separator::None));
    assert_eq!(records.len(), 6);

    let Record::Header(h) = &records[0] else { panic!("{:?}", records[0]) };
    assert_eq!(h.kind, TransferKind::Salary);
    assert_eq!(h.requester_code, 42);
    assert_eq!(h.requester_name, "ﾃｽﾄ(ｶ");
    assert_eq!(h.transfer_date, MonthDay { month: 2, day: 29 });
    assert_eq!((h.bank_code, h.bank_name.as_str()), (179, ""));
    assert_eq!((h.branch_code, h.branch_name.as_str()), (10, ""));
    assert_eq!(h.account_type, AccountType::Current);
    assert_eq!(h.account_number, 1);

    let Record::Data(t) = &records[1] else { panic!("{:?}", records[1]) };
    assert_eq!((t.bank_code, t.bank_name.as_str(), t.branch_code, t.branch_name.as_str()), (1, "", 2, ""));
    assert_eq!(t.clearing_house, None);
    assert_eq!(t.account_type, AccountType::Savings);
    assert_eq!(t.account_number, 1_111_111);
    assert_eq!(t.recipient_name, "ｺﾞﾄｳ.ｹﾝ-ｲﾁ/A,B\\");
    assert_eq!(t.amount, 9_999_999_999);
    assert_eq!(t.new_code, NewCode::Changed);
    assert_eq!(t.customer_codes, CustomerCodes::Codes { code1: "1234567890".into(), code2: "0987654321".into() });
    assert_eq!(t.method, None);

    assert_eq!(records[2], Record::Trailer(Trailer { count: 1, total: 9_999_999_999 }));

    let Record::Header(h) = &records[3] else { panic!("{:?}", records[3]) };
    assert_eq!(h.kind, TransferKind::Bonus);
    assert_eq!(h.requester_code, 9_999_999_999);
    assert_eq!(h.requester_name, "ﾎﾟﾝﾁﾖ");
    assert_eq!(h.transfer_date, MonthDay { month: 12, day: 31 });
    assert_eq!((h.bank_code, h.bank_name.as_str()), (9900, "ﾕｳﾁﾖ"));
    assert_eq!((h.branch_code, h.branch_name.as_str()), (19, "ｾﾞﾛｲﾁｷﾕｳ"));
    assert_eq!(h.account_type, AccountType::Other);
    assert_eq!(h.account_number, 9_999_999);

    assert_eq!(records[4], Record::Trailer(Trailer { count: 0, total: 0 }));
    assert_eq!(records[5], Record::End);
}

#[test]
fn lf_fixture_without_final_separator() {
    // LF after each record but the last, no EOF mark.
    let records = fixture_1_records();
    let mut bytes = file(&records, b"\n");
    bytes.pop();
    let mut reader = Reader::new(&bytes[..]);
    let got: Vec<(u64, Record)> = reader.by_ref().map(Result::unwrap).collect();
    assert_eq!(reader.separator(), Some(Separator::Lf));
    assert_eq!(got.len(), 5);
    assert_eq!(got, all_ok(&fixture_1()));
}

#[test]
fn every_accepted_ending_reads_the_same() {
    let expected = all_ok(&fixture_1());
    let recs = fixture_1_records();
    for (sep, tail) in [
        (&b"\r\n"[..], &b""[..]),
        (b"\r\n", b"\x1a"),
        (b"\n", b""),
        (b"\n", b"\x1a"),
        (b"", b""),
        (b"", b"\x1a"),
        (b"", b"\r\n"),
        (b"", b"\n\x1a"),
    ] {
        let mut bytes = file(&recs, sep);
        bytes.extend_from_slice(tail);
        assert_eq!(all_ok(&bytes), expected, "separator {sep:?}, tail {tail:?}");
        // And without the last separator, with the EOF mark right after the end record.
        if !sep.is_empty() {
            let mut cut = file(&recs, sep);
            cut.truncate(cut.len() - sep.len());
            cut.extend_from_slice(tail);
            assert_eq!(all_ok(&cut), expected, "separator {sep:?} missing at the end, tail {tail:?}");
        }
    }
}

#[test]
fn fixture_records_re_encode_to_their_bytes() {
    for raw in fixture_1_records().iter().chain(&fixture_2_records()) {
        let record = decode_record(raw, Charset::Zengin).unwrap();
        assert_eq!(&encode_record(&record, Charset::Zengin).unwrap()[..], &raw[..], "{record:?}");
    }
}

#[test]
fn the_encoder_writes_the_fixture() {
    // The other way round: the typed records of fixture 1, written by the encoder, are the
    // hand-made bytes.
    let records: Vec<Record> = all_ok(&fixture_1()).into_iter().map(|(_, r)| r).collect();
    let Record::Header(header) = &records[0] else { unreachable!() };
    let transfers: Vec<Transfer> = records
        .iter()
        .filter_map(|r| match r {
            Record::Data(t) => Some(t.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(encode_file(header, &transfers, Separator::CrLf).unwrap(), fixture_1());
}

#[test]
fn small_kana_need_the_lenient_charset() {
    // ｷｬｯｼｭ (0xB7 0xAC 0xAF 0xBC 0xAD) as the recipient name of fixture 1's first transfer.
    let mut bytes = fixture_1();
    patch(&mut bytes, 2, 2, 51, b"\xB7\xAC\xAF\xBC\xAD   ");
    let errs = errors(&bytes);
    assert_eq!(errs.len(), 1, "{errs:?}");
    assert_eq!((errs[0].record, errs[0].field, errs[0].offset), (2, "受取人名 (recipient name)", 52));
    assert_eq!(errs[0].kind, ErrorKind::Charset);
    assert!(errs[0].message.contains("'ｬ'"), "{}", errs[0].message);

    let lenient: Vec<Record> = Reader::new(&bytes[..]).with_charset(Charset::Lenient).map(|r| r.unwrap().1).collect();
    let Record::Data(t) = &lenient[1] else { panic!() };
    assert_eq!(t.recipient_name, "ｷｬｯｼｭ");
    assert_eq!(to_zengin_name(&t.recipient_name).unwrap(), "ｷﾔﾂｼﾕ");
}
