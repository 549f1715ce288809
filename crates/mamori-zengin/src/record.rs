//! Typed records, and their encoding to and from 120 bytes.

use crate::charset::{Charset, decode_text, encode_text};
use crate::error::{ErrorKind, RECORD, ZenginError, show_byte};
use crate::layout::{self, Field, RECORD_LEN, RECORD_TYPE};

/// 種別コード: what the transfers of a group are.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TransferKind {
    /// `21` 総合振込, a general transfer.
    General,
    /// `11` 給与振込, salary.
    Salary,
    /// `12` 賞与振込, bonus.
    Bonus,
}

impl TransferKind {
    /// The two-digit code, `"21"`, `"11"` or `"12"`.
    pub fn code(self) -> &'static str {
        match self {
            TransferKind::General => "21",
            TransferKind::Salary => "11",
            TransferKind::Bonus => "12",
        }
    }
}

/// 預金種目: the kind of account.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AccountType {
    /// `1` 普通預金, ordinary.
    Ordinary,
    /// `2` 当座預金, current (checking).
    Current,
    /// `4` 貯蓄預金, savings.
    Savings,
    /// `9` その他, other.
    Other,
}

impl AccountType {
    /// The one-digit code, `'1'`, `'2'`, `'4'` or `'9'`.
    pub fn code(self) -> char {
        match self {
            AccountType::Ordinary => '1',
            AccountType::Current => '2',
            AccountType::Savings => '4',
            AccountType::Other => '9',
        }
    }

    fn from_code(b: u8) -> Option<AccountType> {
        match b {
            b'1' => Some(AccountType::Ordinary),
            b'2' => Some(AccountType::Current),
            b'4' => Some(AccountType::Savings),
            b'9' => Some(AccountType::Other),
            _ => None,
        }
    }
}

/// 新規コード: whether this transfer is the first to this recipient.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum NewCode {
    /// `0` その他: neither of the below.
    #[default]
    Other,
    /// `1` 第1回振込分: the first transfer to this recipient.
    First,
    /// `2` 変更分: the recipient's details changed since the last transfer.
    Changed,
}

impl NewCode {
    /// The one-digit code, `'0'`, `'1'` or `'2'`.
    pub fn code(self) -> char {
        match self {
            NewCode::Other => '0',
            NewCode::First => '1',
            NewCode::Changed => '2',
        }
    }
}

/// 振込指定区分: how the receiving bank is to be notified.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TransferMethod {
    /// `7` 電信振込, telegraphic.
    Telegraphic,
    /// `8` 文書振込, by document.
    Document,
}

impl TransferMethod {
    /// The one-digit code, `'7'` or `'8'`.
    pub fn code(self) -> char {
        match self {
            TransferMethod::Telegraphic => '7',
            TransferMethod::Document => '8',
        }
    }
}

/// A month and day without a year (取組日, MMDD). 29 February is a valid date.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct MonthDay {
    /// 1–12.
    pub month: u8,
    /// 1–31, within the month's length.
    pub day: u8,
}

impl MonthDay {
    /// The date, if `month`/`day` is one in some year.
    pub fn new(month: u8, day: u8) -> Option<MonthDay> {
        let date = MonthDay { month, day };
        date.is_valid().then_some(date)
    }

    /// Whether this is a calendar date (29 February counts).
    pub fn is_valid(&self) -> bool {
        let days = match self.month {
            1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
            4 | 6 | 9 | 11 => 30,
            2 => 29,
            _ => return false,
        };
        (1..=days).contains(&self.day)
    }
}

/// The header record (データ区分 `1`): who sends the group's transfers, from which account.
///
/// コード区分 is not kept: it is always `0` (JIS); `1` (EBCDIC) is refused.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Header {
    /// 種別コード.
    pub kind: TransferKind,
    /// 依頼人コード, at most 10 digits.
    pub requester_code: u64,
    /// 依頼人名, at most 40 characters; trailing spaces are padding and not kept.
    pub requester_name: String,
    /// 取組日.
    pub transfer_date: MonthDay,
    /// 仕向銀行番号, at most 4 digits.
    pub bank_code: u16,
    /// 仕向銀行名, at most 15 characters.
    pub bank_name: String,
    /// 仕向支店番号, at most 3 digits.
    pub branch_code: u16,
    /// 仕向支店名, at most 15 characters.
    pub branch_name: String,
    /// 預金種目 of the requester's account.
    pub account_type: AccountType,
    /// 口座番号 of the requester's account, at most 7 digits.
    pub account_number: u32,
}

/// 顧客コード1 and 2, or the EDI情報 that takes their place (識別表示 `Y`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum CustomerCodes {
    /// 識別表示 space: two codes of at most 10 characters each (often digits, or empty).
    Codes {
        /// 顧客コード1.
        code1: String,
        /// 顧客コード2.
        code2: String,
    },
    /// 識別表示 `Y`: EDI情報, at most 20 characters.
    Edi(String),
}

impl Default for CustomerCodes {
    fn default() -> Self {
        CustomerCodes::Codes { code1: String::new(), code2: String::new() }
    }
}

/// A data record (データ区分 `2`): one transfer.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Transfer {
    /// 被仕向銀行番号, at most 4 digits.
    pub bank_code: u16,
    /// 被仕向銀行名, at most 15 characters (may be empty).
    pub bank_name: String,
    /// 被仕向支店番号, at most 3 digits.
    pub branch_code: u16,
    /// 被仕向支店名, at most 15 characters (may be empty).
    pub branch_name: String,
    /// 手形交換所番号, at most 4 digits; `None` is written as four spaces.
    pub clearing_house: Option<u16>,
    /// 預金種目 of the recipient's account.
    pub account_type: AccountType,
    /// 口座番号 of the recipient's account, at most 7 digits.
    pub account_number: u32,
    /// 受取人名, at most 30 characters.
    pub recipient_name: String,
    /// 振込金額 in yen, at most 10 digits (9,999,999,999).
    pub amount: u64,
    /// 新規コード.
    pub new_code: NewCode,
    /// 顧客コード1 and 2, or EDI情報 (which sets 識別表示 `Y`).
    pub customer_codes: CustomerCodes,
    /// 振込指定区分; `None` is written as a space.
    pub method: Option<TransferMethod>,
}

/// The trailer record (データ区分 `8`): the count and total of its group's data records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Trailer {
    /// 合計件数, at most 6 digits.
    pub count: u64,
    /// 合計金額 in yen, at most 12 digits.
    pub total: u64,
}

impl Trailer {
    /// The trailer for a group of `transfers`: their count and the sum of their amounts.
    /// Refused when either does not fit its field (999,999 records, 999,999,999,999 yen).
    pub fn for_transfers(transfers: &[Transfer]) -> Result<Trailer, ZenginError> {
        let count = transfers.len() as u64;
        let total = transfers.iter().try_fold(0u64, |sum, t| sum.checked_add(t.amount)).unwrap_or(u64::MAX);
        let trailer = Trailer { count, total };
        check_fits(&layout::trailer::COUNT, count)?;
        check_fits(&layout::trailer::TOTAL, total)?;
        Ok(trailer)
    }
}

/// One record of a file.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Record {
    /// データ区分 `1`.
    Header(Header),
    /// データ区分 `2`.
    Data(Transfer),
    /// データ区分 `8`.
    Trailer(Trailer),
    /// データ区分 `9`.
    End,
}

/// The four kinds of record, by their データ区分.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RecordKind {
    /// `1`.
    Header,
    /// `2`.
    Data,
    /// `8`.
    Trailer,
    /// `9`.
    End,
}

impl RecordKind {
    /// The kind a record's first byte (データ区分) names.
    pub fn from_byte(b: u8) -> Option<RecordKind> {
        match b {
            b'1' => Some(RecordKind::Header),
            b'2' => Some(RecordKind::Data),
            b'8' => Some(RecordKind::Trailer),
            b'9' => Some(RecordKind::End),
            _ => None,
        }
    }

    /// The データ区分 byte.
    pub fn byte(self) -> u8 {
        match self {
            RecordKind::Header => b'1',
            RecordKind::Data => b'2',
            RecordKind::Trailer => b'8',
            RecordKind::End => b'9',
        }
    }
}

impl Record {
    /// This record's kind.
    pub fn kind(&self) -> RecordKind {
        match self {
            Record::Header(_) => RecordKind::Header,
            Record::Data(_) => RecordKind::Data,
            Record::Trailer(_) => RecordKind::Trailer,
            Record::End => RecordKind::End,
        }
    }
}

/// Decodes one record of exactly 120 bytes (no separator), checking every field.
/// Errors have `record` 0.
pub fn decode_record(bytes: &[u8], charset: Charset) -> Result<Record, ZenginError> {
    let Ok(rec) = <&[u8; RECORD_LEN]>::try_from(bytes) else {
        return Err(length_error(bytes.len()));
    };
    match RecordKind::from_byte(rec[0]) {
        Some(RecordKind::Header) => decode_header(rec, charset).map(Record::Header),
        Some(RecordKind::Data) => decode_transfer(rec, charset).map(Record::Data),
        Some(RecordKind::Trailer) => decode_trailer(rec).map(Record::Trailer),
        Some(RecordKind::End) => {
            filler(rec, &layout::end::DUMMY)?;
            Ok(Record::End)
        }
        None => Err(unknown_record_type(rec)),
    }
}

/// Encodes one record to its 120 bytes, checking that every value fits its field.
/// Errors have `record` 0.
pub fn encode_record(record: &Record, charset: Charset) -> Result<[u8; RECORD_LEN], ZenginError> {
    let mut out = [b' '; RECORD_LEN];
    out[0] = record.kind().byte();
    match record {
        Record::Header(h) => encode_header(&mut out, h, charset)?,
        Record::Data(t) => encode_transfer(&mut out, t, charset)?,
        Record::Trailer(t) => {
            put_digits(&mut out, &layout::trailer::COUNT, t.count)?;
            put_digits(&mut out, &layout::trailer::TOTAL, t.total)?;
        }
        Record::End => {}
    }
    Ok(out)
}

pub(crate) fn length_error(len: usize) -> ZenginError {
    let offset = if len < RECORD_LEN { len + 1 } else { RECORD_LEN + 1 };
    ZenginError::new(RECORD, offset, ErrorKind::Length, format!("record is {len} bytes long, expected {RECORD_LEN}"))
}

/// Whether a record looks like an EBCDIC header: データ区分 `1` (0xF1) and コード区分
/// `0` or `1` (0xF0, 0xF1) in EBCDIC.
pub(crate) fn looks_ebcdic(rec: &[u8]) -> bool {
    rec.len() > 3 && rec[0] == 0xF1 && matches!(rec[3], 0xF0 | 0xF1)
}

fn unknown_record_type(rec: &[u8; RECORD_LEN]) -> ZenginError {
    let b = rec[0];
    if looks_ebcdic(rec) {
        return ZenginError::at(
            &RECORD_TYPE,
            0,
            ErrorKind::Unsupported,
            "this looks like an EBCDIC header (コード区分 1): only JIS / Shift_JIS files (コード区分 0) are supported",
        );
    }
    ZenginError::at(&RECORD_TYPE, 0, ErrorKind::RecordType, format!("unknown record type {}: expected 1, 2, 8 or 9", show_byte(b)))
}

fn decode_header(rec: &[u8; RECORD_LEN], charset: Charset) -> Result<Header, ZenginError> {
    use layout::header as f;
    let kind = match &rec[f::KIND.range()] {
        b"21" => TransferKind::General,
        b"11" => TransferKind::Salary,
        b"12" => TransferKind::Bonus,
        other => {
            return Err(ZenginError::at(
                &f::KIND,
                0,
                ErrorKind::Code,
                format!("{} is not 21 (general transfer), 11 (salary) or 12 (bonus)", show_bytes(other)),
            ));
        }
    };
    match rec[f::CODE_CLASS.range()][0] {
        b'0' => {}
        b'1' => {
            return Err(ZenginError::at(
                &f::CODE_CLASS,
                0,
                ErrorKind::Unsupported,
                "コード区分 1 (EBCDIC) is not supported: only 0 (JIS / Shift_JIS)",
            ));
        }
        other => {
            return Err(ZenginError::at(&f::CODE_CLASS, 0, ErrorKind::Code, format!("{} is not 0 (JIS / Shift_JIS)", show_byte(other))));
        }
    }
    let requester_code = digits(rec, &f::REQUESTER_CODE)?;
    let requester_name = decode_text(rec, &f::REQUESTER_NAME, charset)?;
    let transfer_date = date(rec, &f::TRANSFER_DATE)?;
    let bank_code = digits(rec, &f::BANK_CODE)? as u16;
    let bank_name = decode_text(rec, &f::BANK_NAME, charset)?;
    let branch_code = digits(rec, &f::BRANCH_CODE)? as u16;
    let branch_name = decode_text(rec, &f::BRANCH_NAME, charset)?;
    let account_type = account_type(rec, &f::ACCOUNT_TYPE)?;
    let account_number = digits(rec, &f::ACCOUNT_NUMBER)? as u32;
    filler(rec, &f::DUMMY)?;
    Ok(Header {
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
    })
}

fn decode_transfer(rec: &[u8; RECORD_LEN], charset: Charset) -> Result<Transfer, ZenginError> {
    use layout::data as f;
    let bank_code = digits(rec, &f::BANK_CODE)? as u16;
    let bank_name = decode_text(rec, &f::BANK_NAME, charset)?;
    let branch_code = digits(rec, &f::BRANCH_CODE)? as u16;
    let branch_name = decode_text(rec, &f::BRANCH_NAME, charset)?;
    let clearing_house =
        if rec[f::CLEARING_HOUSE.range()].iter().all(|&b| b == b' ') { None } else { Some(digits(rec, &f::CLEARING_HOUSE)? as u16) };
    let account_type = account_type(rec, &f::ACCOUNT_TYPE)?;
    let account_number = digits(rec, &f::ACCOUNT_NUMBER)? as u32;
    let recipient_name = decode_text(rec, &f::RECIPIENT_NAME, charset)?;
    let amount = digits(rec, &f::AMOUNT)?;
    let new_code = match code(rec, &f::NEW_CODE) {
        b'0' => NewCode::Other,
        b'1' => NewCode::First,
        b'2' => NewCode::Changed,
        other => return Err(code_error(&f::NEW_CODE, other, "0, 1 or 2")),
    };
    // 識別表示 decides how bytes 92-111 are read, so it is checked first.
    let edi = match code(rec, &f::EDI_FLAG) {
        b' ' => false,
        b'Y' => true,
        other => return Err(code_error(&f::EDI_FLAG, other, "a space or Y")),
    };
    let customer_codes = if edi {
        CustomerCodes::Edi(decode_text(rec, &f::EDI, charset)?)
    } else {
        CustomerCodes::Codes {
            code1: decode_text(rec, &f::CUSTOMER_CODE_1, charset)?,
            code2: decode_text(rec, &f::CUSTOMER_CODE_2, charset)?,
        }
    };
    let method = match code(rec, &f::METHOD) {
        b' ' => None,
        b'7' => Some(TransferMethod::Telegraphic),
        b'8' => Some(TransferMethod::Document),
        other => return Err(code_error(&f::METHOD, other, "7 (telegraphic), 8 (document) or a space")),
    };
    filler(rec, &f::DUMMY)?;
    Ok(Transfer {
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
    })
}

fn decode_trailer(rec: &[u8; RECORD_LEN]) -> Result<Trailer, ZenginError> {
    use layout::trailer as f;
    let count = digits(rec, &f::COUNT)?;
    let total = digits(rec, &f::TOTAL)?;
    filler(rec, &f::DUMMY)?;
    Ok(Trailer { count, total })
}

fn encode_header(out: &mut [u8; RECORD_LEN], h: &Header, charset: Charset) -> Result<(), ZenginError> {
    use layout::header as f;
    out[f::KIND.range()].copy_from_slice(h.kind.code().as_bytes());
    out[f::CODE_CLASS.range()][0] = b'0';
    put_digits(out, &f::REQUESTER_CODE, h.requester_code)?;
    encode_text(out, &f::REQUESTER_NAME, &h.requester_name, charset)?;
    let MonthDay { month, day } = h.transfer_date;
    if !h.transfer_date.is_valid() {
        return Err(ZenginError::at(&f::TRANSFER_DATE, 0, ErrorKind::Date, format!("month {month}, day {day} is not a date")));
    }
    put_digits(out, &f::TRANSFER_DATE, u64::from(month) * 100 + u64::from(day))?;
    put_digits(out, &f::BANK_CODE, h.bank_code.into())?;
    encode_text(out, &f::BANK_NAME, &h.bank_name, charset)?;
    put_digits(out, &f::BRANCH_CODE, h.branch_code.into())?;
    encode_text(out, &f::BRANCH_NAME, &h.branch_name, charset)?;
    out[f::ACCOUNT_TYPE.range()][0] = h.account_type.code() as u8;
    put_digits(out, &f::ACCOUNT_NUMBER, h.account_number.into())?;
    Ok(())
}

fn encode_transfer(out: &mut [u8; RECORD_LEN], t: &Transfer, charset: Charset) -> Result<(), ZenginError> {
    use layout::data as f;
    put_digits(out, &f::BANK_CODE, t.bank_code.into())?;
    encode_text(out, &f::BANK_NAME, &t.bank_name, charset)?;
    put_digits(out, &f::BRANCH_CODE, t.branch_code.into())?;
    encode_text(out, &f::BRANCH_NAME, &t.branch_name, charset)?;
    if let Some(house) = t.clearing_house {
        put_digits(out, &f::CLEARING_HOUSE, house.into())?;
    }
    out[f::ACCOUNT_TYPE.range()][0] = t.account_type.code() as u8;
    put_digits(out, &f::ACCOUNT_NUMBER, t.account_number.into())?;
    encode_text(out, &f::RECIPIENT_NAME, &t.recipient_name, charset)?;
    put_digits(out, &f::AMOUNT, t.amount)?;
    out[f::NEW_CODE.range()][0] = t.new_code.code() as u8;
    match &t.customer_codes {
        CustomerCodes::Codes { code1, code2 } => {
            encode_text(out, &f::CUSTOMER_CODE_1, code1, charset)?;
            encode_text(out, &f::CUSTOMER_CODE_2, code2, charset)?;
        }
        CustomerCodes::Edi(edi) => {
            encode_text(out, &f::EDI, edi, charset)?;
            out[f::EDI_FLAG.range()][0] = b'Y';
        }
    }
    if let Some(method) = t.method {
        out[f::METHOD.range()][0] = method.code() as u8;
    }
    Ok(())
}

/// The value of a numeric field: ASCII digits only.
fn digits(rec: &[u8], field: &Field) -> Result<u64, ZenginError> {
    let mut value = 0u64;
    for (i, &b) in rec[field.range()].iter().enumerate() {
        if !b.is_ascii_digit() {
            return Err(ZenginError::at(field, i, ErrorKind::Digits, format!("{} in a numeric field", non_digit(b))));
        }
        value = value * 10 + u64::from(b - b'0');
    }
    Ok(value)
}

fn non_digit(b: u8) -> String {
    if b == b' ' { "a space (numeric fields are zero padded)".to_owned() } else { format!("non-digit {}", show_byte(b)) }
}

fn date(rec: &[u8], field: &Field) -> Result<MonthDay, ZenginError> {
    let mmdd = digits(rec, field)?;
    let (month, day) = ((mmdd / 100) as u8, (mmdd % 100) as u8);
    if !(1..=12).contains(&month) {
        return Err(ZenginError::at(field, 0, ErrorKind::Date, format!("month {month:02} is not 01-12")));
    }
    MonthDay::new(month, day)
        .ok_or_else(|| ZenginError::at(field, 2, ErrorKind::Date, format!("day {day:02} does not exist in month {month:02}")))
}

fn code(rec: &[u8], field: &Field) -> u8 {
    rec[field.start - 1]
}

fn code_error(field: &Field, b: u8, expected: &str) -> ZenginError {
    ZenginError::at(field, 0, ErrorKind::Code, format!("{} is not {expected}", show_byte(b)))
}

fn account_type(rec: &[u8], field: &Field) -> Result<AccountType, ZenginError> {
    let b = code(rec, field);
    AccountType::from_code(b).ok_or_else(|| code_error(field, b, "1 (普通), 2 (当座), 4 (貯蓄) or 9 (その他)"))
}

fn filler(rec: &[u8], field: &Field) -> Result<(), ZenginError> {
    match rec[field.range()].iter().position(|&b| b != b' ') {
        None => Ok(()),
        Some(i) => Err(ZenginError::at(
            field,
            i,
            ErrorKind::Filler,
            format!("{} where the filler must be spaces", show_byte(rec[field.start - 1 + i])),
        )),
    }
}

fn show_bytes(bytes: &[u8]) -> String {
    if bytes.iter().all(|b| b.is_ascii_graphic() || *b == b' ') {
        format!("'{}'", String::from_utf8_lossy(bytes))
    } else {
        bytes.iter().map(|b| format!("0x{b:02X}")).collect::<Vec<_>>().join(" ")
    }
}

fn check_fits(field: &Field, value: u64) -> Result<(), ZenginError> {
    let width = u32::try_from(field.width).unwrap_or(u32::MAX);
    if 10u64.checked_pow(width).is_some_and(|limit| value >= limit) {
        return Err(ZenginError::at(field, 0, ErrorKind::TooLong, format!("{value} does not fit in {} digits", field.width)));
    }
    Ok(())
}

/// Writes `value` right-aligned and zero padded, refusing one wider than the field.
fn put_digits(out: &mut [u8], field: &Field, value: u64) -> Result<(), ZenginError> {
    check_fits(field, value)?;
    let mut v = value;
    for b in out[field.range()].iter_mut().rev() {
        *b = b'0' + (v % 10) as u8;
        v /= 10;
    }
    Ok(())
}
