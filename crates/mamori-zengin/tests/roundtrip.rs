//! Random valid files: encoded, then decoded, give back their records; with every separator.

use mamori_zengin::*;
use proptest::prelude::*;

/// The 全銀協 character set, every character of it.
fn zengin_chars() -> Vec<char> {
    let mut chars: Vec<char> = " 0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ()-./\\,".chars().collect();
    chars.extend(('\u{FF71}'..='\u{FF9F}').chain(['\u{FF62}', '\u{FF63}']));
    chars
}

/// Text of at most `max` characters; trailing spaces are padding, so none are generated.
fn text(max: usize) -> impl Strategy<Value = String> {
    prop::collection::vec(prop::sample::select(zengin_chars()), 0..=max)
        .prop_map(|v| v.into_iter().collect::<String>().trim_end().to_owned())
}

fn account_type() -> impl Strategy<Value = AccountType> {
    prop::sample::select(vec![AccountType::Ordinary, AccountType::Current, AccountType::Savings, AccountType::Other])
}

fn header() -> impl Strategy<Value = Header> {
    (
        prop::sample::select(vec![TransferKind::General, TransferKind::Salary, TransferKind::Bonus]),
        0..=9_999_999_999u64,
        text(40),
        (1..=12u8, 1..=31u8).prop_filter_map("not a date", |(m, d)| MonthDay::new(m, d)),
        (0..=9999u16, text(15), 0..=999u16, text(15)),
        account_type(),
        0..=9_999_999u32,
    )
        .prop_map(
            |(
                kind,
                requester_code,
                requester_name,
                transfer_date,
                (bank_code, bank_name, branch_code, branch_name),
                account_type,
                account_number,
            )| {
                Header {
                    kind,
                    requester_code,
                    requester_name,
                    transfer_date,
                    bank_code,
                    bank_name,
                    branch_code,
                    branch_name,
                    account_type,
                    account_number,
                }
            },
        )
}

fn transfer() -> impl Strategy<Value = Transfer> {
    let codes = prop_oneof![
        (text(10), text(10)).prop_map(|(code1, code2)| CustomerCodes::Codes { code1, code2 }),
        text(20).prop_map(CustomerCodes::Edi),
    ];
    (
        (0..=9999u16, text(15), 0..=999u16, text(15)),
        prop::option::of(0..=9999u16),
        account_type(),
        0..=9_999_999u32,
        text(30),
        prop_oneof![0..=9_999_999_999u64, 0..=100_000u64],
        prop::sample::select(vec![NewCode::Other, NewCode::First, NewCode::Changed]),
        codes,
        prop::option::of(prop::sample::select(vec![TransferMethod::Telegraphic, TransferMethod::Document])),
    )
        .prop_map(
            |(
                (bank_code, bank_name, branch_code, branch_name),
                clearing_house,
                account_type,
                account_number,
                recipient_name,
                amount,
                new_code,
                customer_codes,
                method,
            )| Transfer {
                bank_code,
                bank_name,
                branch_code,
                branch_name,
                clearing_house,
                account_type,
                account_number,
                recipient_name,
                amount,
                new_code,
                customer_codes,
                method,
            },
        )
}

fn groups() -> impl Strategy<Value = Vec<(Header, Vec<Transfer>)>> {
    prop::collection::vec((header(), prop::collection::vec(transfer(), 0..6)), 1..4)
}

fn separator() -> impl Strategy<Value = Separator> {
    prop::sample::select(vec![Separator::None, Separator::CrLf, Separator::Lf])
}

/// The records a file of `groups` holds.
fn records_of(groups: &[(Header, Vec<Transfer>)]) -> Vec<Record> {
    let mut records = Vec::new();
    for (h, ts) in groups {
        records.push(Record::Header(h.clone()));
        records.extend(ts.iter().cloned().map(Record::Data));
        records.push(Record::Trailer(Trailer::for_transfers(ts).unwrap()));
    }
    records.push(Record::End);
    records
}

fn write(groups: &[(Header, Vec<Transfer>)], separator: Separator, eof_mark: bool) -> Vec<u8> {
    let mut w = Writer::new(Vec::new(), separator).with_eof_mark(eof_mark);
    for (h, ts) in groups {
        w.write_group(h, ts).unwrap();
    }
    w.finish().unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]

    #[test]
    fn files_round_trip(groups in groups(), separator in separator(), eof_mark in any::<bool>()) {
        let bytes = write(&groups, separator, eof_mark);
        let expected = records_of(&groups);
        let per_record = 120 + separator.bytes().len();
        prop_assert_eq!(bytes.len(), expected.len() * per_record + usize::from(eof_mark));

        let mut reader = Reader::new(&bytes[..]);
        let read: Vec<(u64, Record)> = reader.by_ref().collect::<Result<_, _>>().map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!(reader.separator(), Some(separator));
        prop_assert_eq!(read.iter().map(|(n, _)| *n).collect::<Vec<_>>(), (1..=expected.len() as u64).collect::<Vec<_>>());
        prop_assert_eq!(read.into_iter().map(|(_, r)| r).collect::<Vec<_>>(), expected);
    }

    #[test]
    fn records_round_trip_byte_for_byte(groups in groups()) {
        for record in records_of(&groups) {
            let bytes = encode_record(&record, Charset::Zengin).unwrap();
            let decoded = decode_record(&bytes, Charset::Zengin).unwrap();
            prop_assert_eq!(&decoded, &record);
            prop_assert_eq!(encode_record(&decoded, Charset::Lenient).unwrap(), bytes);
        }
    }

    /// One byte of a valid file changed: the reader never panics, never loses its place,
    /// and every record it accepts is exactly the bytes it re-encodes to.
    #[test]
    fn a_damaged_file_is_read_record_by_record(
        groups in groups(),
        separator in separator(),
        at in any::<prop::sample::Index>(),
        byte in any::<u8>(),
    ) {
        let mut bytes = write(&groups, separator, false);
        let at = at.index(bytes.len());
        bytes[at] = byte;
        let mut reader = Reader::new(&bytes[..]);
        let items: Vec<_> = reader.by_ref().collect();
        // The damage may change what the reader detects; records are where it says.
        let detected = reader.separator().unwrap();
        for (n, record) in items.iter().filter_map(|item| item.as_ref().ok()) {
            let n = *n as usize;
            let raw = match detected {
                Separator::None => &bytes[(n - 1) * 120..n * 120],
                _ => &bytes.split(|&b| b == b'\n').nth(n - 1).unwrap()[..120],
            };
            prop_assert_eq!(&encode_record(record, Charset::Zengin).unwrap()[..], raw);
        }
        // A changed byte can split or join lines: one extra record at most, and the end error.
        prop_assert!(items.len() <= records_of(&groups).len() + 2, "{} items", items.len());
    }
}

/// What the fuzz target `fuzz/fuzz_targets/zengin.rs` checks: no panic, and an error-free
/// read means the bytes are the canonical encoding of the records read, up to the accepted
/// endings. Returns whether the read was error-free.
fn read_like_the_fuzz_target(data: &[u8]) -> Result<bool, TestCaseError> {
    let mut reader = Reader::new(data);
    let items: Vec<_> = reader.by_ref().collect();
    let mut records = Vec::new();
    for item in items {
        match item {
            Ok((_, r)) => records.push(r),
            Err(e) => {
                prop_assert!(e.offset <= 121, "{}", e);
                let _ = e.to_string();
                return Ok(false);
            }
        }
    }
    if records.is_empty() {
        return Ok(false);
    }
    let separator = reader.separator().unwrap();
    let mut w = Writer::new(Vec::new(), separator);
    for r in &records {
        w.write_record(r).unwrap();
    }
    let canonical = w.finish().unwrap();
    let body = &canonical[..canonical.len() - separator.bytes().len()];
    let rest = data.strip_prefix(body);
    prop_assert!(rest.is_some(), "an error-free file is not its canonical encoding");
    let endings: &[&[u8]] = match separator {
        Separator::None => &[b"", b"\x1a", b"\n", b"\r\n", b"\n\x1a", b"\r\n\x1a"],
        Separator::CrLf => &[b"", b"\x1a", b"\r\n", b"\r\n\x1a"],
        Separator::Lf => &[b"", b"\x1a", b"\n", b"\n\x1a"],
    };
    prop_assert!(endings.contains(&rest.unwrap()), "ending {:?}", rest);
    Ok(true)
}

proptest! {
    /// Any bytes.
    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(prop_oneof![any::<u8>(), Just(b' '), Just(b'0'), Just(b'\n')], 0..800)) {
        read_like_the_fuzz_target(&bytes)?;
    }

    /// Valid files with every ending are read without error; damaged ones never panic.
    #[test]
    fn valid_and_damaged_files_like_the_fuzz_target(
        groups in groups(),
        separator in separator(),
        ending in prop::sample::select(vec![&b""[..], b"\x1a", b"\r\n", b"\n"]),
        at in any::<prop::sample::Index>(),
        byte in any::<u8>(),
    ) {
        let mut bytes = write(&groups, separator, false);
        // After a line-separated file's last separator, only the EOF mark may follow.
        let ending = if separator == Separator::None || ending == b"\x1a" { ending } else { b"" };
        bytes.extend_from_slice(ending);
        prop_assert!(read_like_the_fuzz_target(&bytes)?, "a valid file was refused");
        let at = at.index(bytes.len());
        bytes[at] = byte;
        read_like_the_fuzz_target(&bytes)?;
    }
}
