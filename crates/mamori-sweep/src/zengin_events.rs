//! Zengin (全銀) transfer files as v1 events: every data record is a `transfer` out of
//! the requesting customer's account, on the group's transfer date.
//!
//! - `institution`: `--zengin-institution`, else the header's 仕向銀行番号 (`0009`);
//! - `customer`: the header's 依頼人コード; `account`: `BBB-NNNNNNN` (仕向支店番号 and 口座番号);
//! - `counterparty`: the 被仕向銀行番号 as institution, `BBB-NNNNNNN` as account; `holder`:
//!   the 受取人名 (half-width katakana, normalised like every kana name);
//! - `time`: 09:00 Japan time on 取組日 (the records carry month and day only: the year is
//!   `--zengin-year`, else the one year that puts the date within the sweep's range);
//!   records of a file keep their order;
//! - `id`: `zengin:<file name>:<record number>`;
//! - `attributes`: `zengin_kind` (`general`, `salary`, `bonus`), `payee_bank_name`,
//!   `payee_branch_name`, `new_code`.

use std::io::Read;
use std::ops::ControlFlow;

use mamori_core::Timestamp;
use mamori_core::event::Event;
use mamori_zengin::layout::{data, header};
use mamori_zengin::{Header, Reader, Record, TransferKind};
use serde_json::json;

use crate::input::Item;
use crate::source::RecordError;

/// How Zengin records become events.
#[derive(Debug, Clone, Default)]
pub struct ZenginOptions {
    /// The originating bank's institution id (default: its four-digit bank code).
    pub institution: Option<String>,
    /// The year of the transfer dates.
    pub year: Option<i16>,
    /// The sweep's range `[from, to)`, to infer the year from.
    pub range: Option<(Timestamp, Timestamp)>,
}

/// 09:00 JST on a date.
fn nine_am_jst(date: jiff::civil::Date) -> Timestamp {
    let days = date.since(jiff::civil::date(1970, 1, 1)).map_or(0, |s| i64::from(s.get_days()));
    // Midnight UTC is 09:00 in Japan.
    Timestamp(days * 86_400_000_000)
}

fn transfer_date(h: &Header, o: &ZenginOptions) -> Result<Timestamp, String> {
    let (m, d) = (h.transfer_date.month as i8, h.transfer_date.day as i8);
    let on = |y: i16| jiff::civil::Date::new(y, m, d).ok().map(nine_am_jst);
    if let Some(y) = o.year {
        return on(y).ok_or_else(|| format!("{y}-{m:02}-{d:02} is not a date"));
    }
    let Some((from, to)) = o.range else { return Err("the transfer date has no year: give --zengin-year".into()) };
    let year = |t: Timestamp| japan_year(t);
    let candidates: Vec<Timestamp> = (year(from) - 1..=year(to) + 1).filter_map(on).filter(|t| *t >= from && *t < to).collect();
    match candidates.as_slice() {
        [one] => Ok(*one),
        [] => Err(format!("取組日 {m:02}{d:02} falls in no year of the sweep's range: give --zengin-year")),
        _ => Err(format!("取組日 {m:02}{d:02} falls in more than one year of the sweep's range: give --zengin-year")),
    }
}

fn japan_year(t: Timestamp) -> i16 {
    mamori_server::links::japan_date(t).year()
}

fn kind_name(k: TransferKind) -> &'static str {
    match k {
        TransferKind::General => "general",
        TransferKind::Salary => "salary",
        TransferKind::Bonus => "bonus",
    }
}

/// Reads a Zengin file as events (see the module documentation).
pub fn read(input: impl Read, file: &str, o: &ZenginOptions, f: &mut dyn FnMut(Item) -> ControlFlow<()>) -> Result<(), RecordError> {
    let name: String = std::path::Path::new(file).file_name().map_or(file.into(), |n| n.to_string_lossy().into_owned());
    let name: String = name.chars().take(96).collect();
    // The group's header and its date, or why its data records cannot be read.
    let mut group: Result<(Header, Timestamp), String> = Err("no header before it".into());
    let error =
        |record: u64, field: &str, message: String| RecordError { file: file.to_string(), record, field: field.to_string(), message };
    for item in Reader::new(input) {
        let out: Item = match item {
            Err(e) => {
                let header_only =
                    |name: &str| header::FIELDS.iter().any(|f| f.name == name) && !data::FIELDS.iter().any(|f| f.name == name);
                if header_only(e.field) {
                    group = Err(format!("its header (record {}) was refused", e.record));
                }
                Err(error(e.record, &format!("{} at byte {}", e.field, e.offset), e.message))
            }
            Ok((n, Record::Header(h))) => match transfer_date(&h, o) {
                Ok(t) => {
                    group = Ok((h, t));
                    continue;
                }
                Err(message) => {
                    group = Err(format!("its header (record {n}) has no usable date"));
                    Err(error(n, "取組日 (transfer date)", message))
                }
            },
            Ok((_, Record::Trailer(_) | Record::End)) => {
                group = Err("no header before it".into());
                continue;
            }
            Ok((n, Record::Data(t))) => match &group {
                Err(why) => Err(error(n, "データレコード (data record)", format!("cannot be read: {why}"))),
                Ok((h, time)) => {
                    let institution = o.institution.clone().unwrap_or_else(|| format!("{:04}", h.bank_code));
                    let mut ev = json!({
                        "id": format!("zengin:{name}:{n}"),
                        "type": "transfer",
                        "time": time.to_rfc3339(),
                        "institution": institution,
                        "customer": format!("{:010}", h.requester_code),
                        "account": format!("{:03}-{:07}", h.branch_code, h.account_number),
                        "amount": t.amount.to_string(),
                        "currency": "JPY",
                        "direction": "out",
                        "counterparty": {"institution": format!("{:04}", t.bank_code), "account": format!("{:03}-{:07}", t.branch_code, t.account_number)},
                        "attributes": {
                            "zengin_kind": kind_name(h.kind),
                            "payee_bank_name": t.bank_name.trim_end(),
                            "payee_branch_name": t.branch_name.trim_end(),
                            "new_code": t.new_code.code(),
                        },
                    });
                    let holder = t.recipient_name.trim_end();
                    if !holder.is_empty() {
                        ev["holder"] = json!({ "name_kana": holder });
                    }
                    Event::from_json_value(&ev).map(|e| (n, Box::new(e))).map_err(|e| {
                        let first = e.errors.first();
                        error(
                            n,
                            &first.map(|x| x.pointer.trim_start_matches('/').replace('/', ".")).unwrap_or_default(),
                            first.map(|x| x.reason.clone()).unwrap_or_default(),
                        )
                    })
                }
            },
        };
        if f(out).is_break() {
            return Ok(());
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use mamori_zengin::{AccountType, CustomerCodes, MonthDay, NewCode, Separator, Transfer, encode_file};

    fn header(month: u8, day: u8) -> Header {
        Header {
            kind: TransferKind::General,
            requester_code: 1234567890,
            requester_name: "ﾔﾏﾀﾞ ﾀﾛｳ".into(),
            transfer_date: MonthDay::new(month, day).unwrap(),
            bank_code: 9900,
            bank_name: "ﾕｳﾁﾖ".into(),
            branch_code: 19,
            branch_name: "ﾎﾝﾃﾝ".into(),
            account_type: AccountType::Ordinary,
            account_number: 1234567,
        }
    }

    fn transfer(amount: u64, name: &str) -> Transfer {
        Transfer {
            bank_code: 5,
            bank_name: "ﾐﾂﾋﾞｼ".into(),
            branch_code: 1,
            branch_name: "ﾄｳｷﾖｳ".into(),
            clearing_house: None,
            account_type: AccountType::Ordinary,
            account_number: 7654321,
            recipient_name: name.into(),
            amount,
            new_code: NewCode::Other,
            customer_codes: CustomerCodes::default(),
            method: None,
        }
    }

    fn events(bytes: &[u8], o: &ZenginOptions) -> Vec<Item> {
        let mut out = Vec::new();
        read(bytes, "batch.zengin", o, &mut |i| {
            out.push(i);
            ControlFlow::Continue(())
        })
        .unwrap();
        out
    }

    #[test]
    fn data_records_become_transfers_out() {
        let bytes = encode_file(&header(9, 7), &[transfer(480_000, "ｽｽﾞｷ ﾊﾅｺ"), transfer(20_000, "ｻﾄｳ ｹﾝ")], Separator::CrLf).unwrap();
        let o = ZenginOptions { year: Some(2020), ..ZenginOptions::default() };
        let items = events(&bytes, &o);
        assert_eq!(items.len(), 2);
        let (n, e) = items[0].as_ref().unwrap();
        assert_eq!(*n, 2);
        assert_eq!(e.id, "zengin:batch.zengin:2");
        assert_eq!(e.time.to_rfc3339(), "2020-09-07T00:00:00.000Z");
        assert_eq!(e.institution.as_deref(), Some("9900"));
        assert_eq!(e.customer.as_deref(), Some("1234567890"));
        assert_eq!(e.account.as_deref(), Some("019-1234567"));
        assert_eq!(e.amount.unwrap().to_string(), "480000");
        let mamori_core::EventKind::Transfer { counterparty, holder, .. } = &e.kind else { panic!("{e:?}") };
        assert_eq!((counterparty.institution.as_str(), counterparty.account.as_str()), ("0005", "001-7654321"));
        assert!(holder.as_ref().unwrap().name_kana.is_some());
    }

    #[test]
    fn the_year_comes_from_the_range_or_is_asked_for() {
        let bytes = encode_file(&header(3, 31), &[transfer(1, "ｱ")], Separator::None).unwrap();
        let range = |a: &str, b: &str| Some((Timestamp::parse_rfc3339(a).unwrap(), Timestamp::parse_rfc3339(b).unwrap()));
        let o = ZenginOptions { range: range("2019-01-01T00:00:00+09:00", "2019-12-31T00:00:00+09:00"), ..Default::default() };
        assert_eq!(events(&bytes, &o)[0].as_ref().unwrap().1.time.to_rfc3339(), "2019-03-31T00:00:00.000Z");
        let o = ZenginOptions { range: range("2018-01-01T00:00:00+09:00", "2020-12-31T00:00:00+09:00"), ..Default::default() };
        let items = events(&bytes, &o);
        let first = items[0].as_ref().unwrap_err();
        assert_eq!((first.record, first.field.as_str()), (1, "取組日 (transfer date)"), "{first}");
        let second = items[1].as_ref().unwrap_err();
        assert_eq!(second.record, 2);
        assert!(second.message.contains("record 1"), "{second}");
    }

    #[test]
    fn a_damaged_record_is_reported_with_its_field_and_the_rest_is_read() {
        let mut bytes = encode_file(&header(9, 7), &[transfer(5, "ｱ"), transfer(6, "ｲ")], Separator::CrLf).unwrap();
        // 振込金額 of the first data record (record 2) starts at byte 81.
        let at = 122 + 80;
        bytes[at] = b'X';
        let o = ZenginOptions { year: Some(2020), ..ZenginOptions::default() };
        let items = events(&bytes, &o);
        let bad = items[0].as_ref().unwrap_err();
        assert_eq!(bad.record, 2);
        assert!(bad.field.contains("振込金額"), "{bad}");
        assert_eq!(items[1].as_ref().unwrap().0, 3);
    }
}
