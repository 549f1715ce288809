//! The encoder's refusals, and the name converters.

use mamori_zengin::*;
use proptest::prelude::*;

fn header() -> Header {
    Header {
        kind: TransferKind::General,
        requester_code: 1,
        requester_name: "ﾃｽﾄ".into(),
        transfer_date: MonthDay { month: 1, day: 31 },
        bank_code: 1,
        bank_name: String::new(),
        branch_code: 1,
        branch_name: String::new(),
        account_type: AccountType::Ordinary,
        account_number: 1,
    }
}

fn transfer() -> Transfer {
    Transfer {
        bank_code: 5,
        bank_name: String::new(),
        branch_code: 1,
        branch_name: String::new(),
        clearing_house: None,
        account_type: AccountType::Ordinary,
        account_number: 1,
        recipient_name: "ﾔﾏﾀﾞ ﾀﾛｳ".into(),
        amount: 1000,
        new_code: NewCode::Other,
        customer_codes: CustomerCodes::default(),
        method: None,
    }
}

#[track_caller]
fn refused(t: Transfer, field: &str, offset: usize, kind: ErrorKind, gist: &str) {
    let e = encode_record(&Record::Data(t), Charset::Zengin).unwrap_err();
    assert_eq!((e.record, e.field, e.offset, e.kind), (0, field, offset, kind), "{e}");
    assert!(e.message.contains(gist), "{:?} lacks {gist:?}", e.message);
}

#[test]
fn too_long_name() {
    let name = "ｱ".repeat(31);
    refused(Transfer { recipient_name: name, ..transfer() }, "受取人名 (recipient name)", 51, ErrorKind::TooLong, "31 characters");
    // 30 fit.
    encode_record(&Record::Data(Transfer { recipient_name: "ｱ".repeat(30), ..transfer() }), Charset::Zengin).unwrap();
    let h = Header { requester_name: "A".repeat(41), ..header() };
    let e = encode_record(&Record::Header(h), Charset::Zengin).unwrap_err();
    assert_eq!((e.field, e.offset, e.kind), ("依頼人名 (requester name)", 15, ErrorKind::TooLong));
}

#[test]
fn kanji_in_a_name() {
    refused(Transfer { recipient_name: "山田太郎".into(), ..transfer() }, "受取人名 (recipient name)", 51, ErrorKind::Charset, "'山'");
    refused(
        Transfer { recipient_name: "ﾔﾏﾀﾞ田".into(), ..transfer() },
        "受取人名 (recipient name)",
        55,
        ErrorKind::Charset,
        "to_zengin_name",
    );
    // Full-width kana is not written as is either.
    refused(Transfer { recipient_name: "ヤマダ".into(), ..transfer() }, "受取人名 (recipient name)", 51, ErrorKind::Charset, "'ヤ'");
}

#[test]
fn characters_outside_the_set() {
    refused(Transfer { recipient_name: "yamada".into(), ..transfer() }, "受取人名 (recipient name)", 51, ErrorKind::Charset, "'y'");
    refused(Transfer { branch_name: "A&B".into(), ..transfer() }, "被仕向支店名 (receiving branch name)", 25, ErrorKind::Charset, "'&'");
    refused(Transfer { recipient_name: "ｷｬﾛﾙ".into(), ..transfer() }, "受取人名 (recipient name)", 52, ErrorKind::Charset, "'ｬ'");
    refused(
        Transfer { customer_codes: CustomerCodes::Edi("INV\n1".into()), ..transfer() },
        "EDI情報 (EDI information)",
        95,
        ErrorKind::Charset,
        "U+000A",
    );
    // The lenient set takes small kana; ¥ is written as 0x5C.
    let t = Transfer { recipient_name: "ｷｬﾛﾙ ¥".into(), ..transfer() };
    let bytes = encode_record(&Record::Data(t), Charset::Lenient).unwrap();
    assert_eq!(&bytes[50..57], b"\xB7\xAC\xDB\xD9 \x5C ");
}

#[test]
fn amount_wider_than_ten_digits() {
    refused(
        Transfer { amount: 10_000_000_000, ..transfer() },
        "振込金額 (amount)",
        81,
        ErrorKind::TooLong,
        "10000000000 does not fit in 10 digits",
    );
    let bytes = encode_record(&Record::Data(Transfer { amount: 9_999_999_999, ..transfer() }), Charset::Zengin).unwrap();
    assert_eq!(&bytes[80..90], b"9999999999");
}

#[test]
fn other_numbers_that_do_not_fit() {
    refused(Transfer { bank_code: 10_000, ..transfer() }, "被仕向銀行番号 (receiving bank code)", 2, ErrorKind::TooLong, "4 digits");
    refused(Transfer { branch_code: 1000, ..transfer() }, "被仕向支店番号 (receiving branch code)", 21, ErrorKind::TooLong, "3 digits");
    refused(Transfer { account_number: 10_000_000, ..transfer() }, "口座番号 (account number)", 44, ErrorKind::TooLong, "7 digits");
    refused(Transfer { clearing_house: Some(10_000), ..transfer() }, "手形交換所番号 (clearing house)", 39, ErrorKind::TooLong, "4 digits");
    let e = encode_record(&Record::Header(Header { requester_code: 10_000_000_000, ..header() }), Charset::Zengin).unwrap_err();
    assert_eq!((e.field, e.kind), ("依頼人コード (requester code)", ErrorKind::TooLong));
    let e = encode_record(&Record::Trailer(Trailer { count: 1_000_000, total: 0 }), Charset::Zengin).unwrap_err();
    assert_eq!((e.field, e.offset), ("合計件数 (record count)", 2));
}

#[test]
fn date_that_does_not_exist() {
    for (month, day) in [(2, 30), (4, 31), (13, 1), (0, 1), (1, 0)] {
        let e = encode_record(&Record::Header(Header { transfer_date: MonthDay { month, day }, ..header() }), Charset::Zengin).unwrap_err();
        assert_eq!((e.field, e.offset, e.kind), ("取組日 (transfer date)", 55, ErrorKind::Date), "{month}/{day}");
    }
    assert!(MonthDay::new(2, 29).is_some());
    assert!(MonthDay::new(2, 30).is_none());
}

#[test]
fn a_refused_record_writes_nothing() {
    let mut w = Writer::new(Vec::new(), Separator::CrLf);
    w.write_record(&Record::Header(header())).unwrap();
    let e = w.write_record(&Record::Data(Transfer { amount: u64::MAX, ..transfer() })).unwrap_err();
    assert_eq!((e.record, e.field), (2, "振込金額 (amount)"));
    assert_eq!(w.records_written(), 1);
    w.write_record(&Record::Data(transfer())).unwrap();
    w.write_record(&Record::Trailer(Trailer { count: 1, total: 1000 })).unwrap();
    let bytes = w.finish().unwrap();
    assert_eq!(bytes.len(), 4 * 122);
    let read: Vec<_> = Reader::new(&bytes[..]).collect::<Result<_, _>>().unwrap();
    assert_eq!(read.len(), 4);
}

#[test]
fn a_refused_group_writes_nothing() {
    let mut w = Writer::new(Vec::new(), Separator::None);
    let bad = Transfer { recipient_name: "鈴木".into(), ..transfer() };
    let e = w.write_group(&header(), &[transfer(), bad]).unwrap_err();
    assert_eq!((e.record, e.field, e.offset), (3, "受取人名 (recipient name)", 51));
    assert_eq!(w.records_written(), 0);
    let trailer = w.write_group(&header(), &[transfer(), transfer()]).unwrap();
    assert_eq!(trailer, Trailer { count: 2, total: 2000 });
    let bytes = w.with_eof_mark(true).finish().unwrap();
    assert_eq!(bytes.len(), 5 * 120 + 1);
    assert_eq!(bytes[600], 0x1A);
}

#[test]
fn a_total_too_large_for_the_trailer() {
    let big = Transfer { amount: 9_999_999_999, ..transfer() };
    let transfers = vec![big; 101];
    let e = encode_file(&header(), &transfers, Separator::CrLf).unwrap_err();
    assert_eq!((e.record, e.field, e.kind), (103, "合計金額 (total amount)", ErrorKind::TooLong));
    assert!(e.message.contains("1009999999899"), "{e}");
    assert!(Trailer::for_transfers(&transfers[..100]).is_ok());
}

#[test]
fn finish_after_an_explicit_end_writes_one_end() {
    let mut w = Writer::new(Vec::new(), Separator::Lf);
    w.write_group(&header(), &[]).unwrap();
    w.write_record(&Record::End).unwrap();
    let bytes = w.finish().unwrap();
    assert_eq!(bytes.len(), 3 * 121);
}

// ---- Names ----------------------------------------------------------------------------

#[test]
fn full_width_katakana_to_half_width() {
    assert_eq!(to_half_width_kana("ヤマダ タロウ").unwrap(), "ﾔﾏﾀﾞ ﾀﾛｳ");
    assert_eq!(to_half_width_kana("ヤマダ　タロウ").unwrap(), "ﾔﾏﾀﾞ ﾀﾛｳ");
    assert_eq!(to_half_width_kana("やまだ　たろう").unwrap(), "ﾔﾏﾀﾞ ﾀﾛｳ");
    assert_eq!(to_half_width_kana("パピプペポ バビブベボ").unwrap(), "ﾊﾟﾋﾟﾌﾟﾍﾟﾎﾟ ﾊﾞﾋﾞﾌﾞﾍﾞﾎﾞ");
    assert_eq!(to_half_width_kana("ヴァイオリン ゔ").unwrap(), "ｳﾞｧｲｵﾘﾝ ｳﾞ");
    assert_eq!(to_half_width_kana("キャッシュ コーヒー").unwrap(), "ｷｬｯｼｭ ｺｰﾋｰ");
    assert_eq!(to_half_width_kana("ヲンナ ヰヱヮヵヶ").unwrap(), "ｦﾝﾅ ｲｴﾜｶｹ");
    assert_eq!(to_half_width_kana("ジョン・スミス").unwrap(), "ｼﾞｮﾝ･ｽﾐｽ");
    assert_eq!(to_half_width_kana("「ア」。、").unwrap(), "｢ｱ｣｡､");
    // Separate and combining voiced marks.
    assert_eq!(to_half_width_kana("カ゛ハ\u{309A}").unwrap(), "ｶﾞﾊﾟ");
    // Already half-width: unchanged.
    assert_eq!(to_half_width_kana("ｶ)ﾔﾏﾀﾞ").unwrap(), "ｶ)ﾔﾏﾀﾞ");
}

#[test]
fn ascii_to_upper_case_half_width() {
    assert_eq!(to_half_width_kana("abc XYZ 123").unwrap(), "ABC XYZ 123");
    assert_eq!(to_half_width_kana("ＡＢＣｄｅｆ１２３（カ）").unwrap(), "ABCDEF123(ｶ)");
    assert_eq!(to_half_width_kana("￥").unwrap(), "\\");
}

#[test]
fn kanji_cannot_be_converted() {
    let e = to_half_width_kana("山田").unwrap_err();
    assert_eq!((e.position, e.character), (0, '山'));
    let e = to_half_width_kana("ヤマダ 太郎").unwrap_err();
    assert_eq!((e.position, e.character), (4, '太'));
    assert!(e.to_string().contains("kana reading"), "{e}");
    assert_eq!(to_zengin_name("ヤマ田").unwrap_err().position, 2);
    assert!(to_half_width_kana("한국").is_err());
    assert!(to_half_width_kana("A\u{7}").is_err());
}

#[test]
fn zengin_names_fold_what_the_set_lacks() {
    assert_eq!(to_zengin_name("ヤマダ　タロウ").unwrap(), "ﾔﾏﾀﾞ ﾀﾛｳ");
    assert_eq!(to_zengin_name("キャッシュ コーヒー").unwrap(), "ｷﾔﾂｼﾕ ｺ-ﾋ-");
    assert_eq!(to_zengin_name("ジョン・スミス").unwrap(), "ｼﾞﾖﾝ.ｽﾐｽ");
    assert_eq!(to_zengin_name("ヲ ァィゥェォ").unwrap(), "ｵ ｱｲｳｴｵ");
    assert_eq!(to_zengin_name("かぶしきがいしゃ　てすと").unwrap(), "ｶﾌﾞｼｷｶﾞｲｼﾔ ﾃｽﾄ");
    assert_eq!(to_zengin_name("ｴｰｽ‐ワン").unwrap(), "ｴ-ｽ-ﾜﾝ");
    assert_eq!(to_zengin_name("abc(カ)").unwrap(), "ABC(ｶ)");
    let e = to_zengin_name("A&B").unwrap_err();
    assert_eq!((e.position, e.character), (1, '&'));
    assert!(e.to_string().contains("Zengin"), "{e}");
}

fn typed_name() -> impl Strategy<Value = String> {
    // Hiragana, katakana (with the small and voiced ones), full-width and ASCII letters,
    // digits, spaces and the punctuation names carry.
    let ranges: Vec<(u32, u32)> = vec![
        (0x3041, 0x3096),
        (0x30A1, 0x30FA),
        (0xFF71, 0xFF9F),
        (0x41, 0x5A),
        (0x61, 0x7A),
        (0x30, 0x39),
        (0xFF21, 0xFF3A),
        (0xFF41, 0xFF5A),
        (0xFF10, 0xFF19),
    ];
    let pieces = prop::sample::select(ranges).prop_flat_map(|(a, b)| (a..=b).prop_map(|c| char::from_u32(c).unwrap()));
    let marks = prop::sample::select(vec![' ', '\u{3000}', 'ー', '・', '（', '）', '(', ')', '-', '.', '/', ',', '゛', '゜']);
    prop::collection::vec(prop_oneof![4 => pieces, 1 => marks], 0..40).prop_map(|v| v.into_iter().collect())
}

proptest! {
    #[test]
    fn zengin_names_can_always_be_written(name in typed_name()) {
        let z = to_zengin_name(&name).unwrap();
        prop_assert!(z.chars().all(|c| Charset::Zengin.allows(c)), "{:?} → {:?}", name, z);
        let half = to_half_width_kana(&name).unwrap();
        prop_assert!(half.chars().all(|c| Charset::Lenient.encode_char(c).is_some()), "{:?} → {:?}", name, half);
        // Converting twice changes nothing more.
        prop_assert_eq!(to_zengin_name(&z).unwrap(), z.clone());
        prop_assert_eq!(to_half_width_kana(&half).unwrap(), half);
        // Within the field's width, such a name is written and read back unchanged.
        let z: String = z.chars().take(30).collect::<String>().trim_end().to_owned();
        let t = Transfer { recipient_name: z.clone(), ..transfer() };
        let bytes = encode_record(&Record::Data(t.clone()), Charset::Zengin).unwrap();
        prop_assert_eq!(decode_record(&bytes, Charset::Zengin).unwrap(), Record::Data(t));
    }
}

#[test]
fn codes_are_their_digits() {
    assert_eq!(TransferKind::General.code(), "21");
    assert_eq!([TransferKind::Salary.code(), TransferKind::Bonus.code()], ["11", "12"]);
    let types = [AccountType::Ordinary, AccountType::Current, AccountType::Savings, AccountType::Other];
    assert_eq!(types.map(AccountType::code), ['1', '2', '4', '9']);
    assert_eq!([NewCode::Other, NewCode::First, NewCode::Changed].map(NewCode::code), ['0', '1', '2']);
    assert_eq!([TransferMethod::Telegraphic, TransferMethod::Document].map(TransferMethod::code), ['7', '8']);
    assert_eq!([RecordKind::Header, RecordKind::Data, RecordKind::Trailer, RecordKind::End].map(RecordKind::byte), *b"1289");
}
