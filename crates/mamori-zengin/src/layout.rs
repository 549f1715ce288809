//! Where each field sits in a record: the 総合振込 layout, one table per record kind.
//!
//! Offsets are 1-based byte positions within the 120-byte record, as the 全銀協 format
//! documents them and as [`ZenginError::offset`](crate::ZenginError::offset) reports them.

use std::ops::Range;

/// The length of every record, in bytes, separator not included.
pub const RECORD_LEN: usize = 120;

/// How a field is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldKind {
    /// N: ASCII digits, right-aligned and zero padded.
    Numeric,
    /// C: text in the Zengin character set, left-aligned and space padded.
    Text,
    /// One character (or two) from a fixed list of values.
    Code,
    /// ダミー: spaces only.
    Filler,
}

/// One field of a record layout.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Field {
    /// The Japanese name of the field and an English one, e.g. `"振込金額 (amount)"`.
    pub name: &'static str,
    /// 1-based byte position of the field's first byte in the record.
    pub start: usize,
    /// Width in bytes.
    pub width: usize,
    /// How the field is written.
    pub kind: FieldKind,
}

impl Field {
    const fn new(name: &'static str, start: usize, width: usize, kind: FieldKind) -> Field {
        Field { name, start, width, kind }
    }

    /// 1-based byte position of the field's last byte.
    pub const fn end(&self) -> usize {
        self.start + self.width - 1
    }

    /// The 0-based byte range of the field in a record.
    pub const fn range(&self) -> Range<usize> {
        self.start - 1..self.start - 1 + self.width
    }
}

/// データ区分, the first byte of every record: `1` header, `2` data, `8` trailer, `9` end.
pub const RECORD_TYPE: Field = Field::new("データ区分 (record type)", 1, 1, FieldKind::Code);

/// ダミー name shared by every record kind.
const FILLER: &str = "ダミー (filler)";

/// The header record (ヘッダーレコード, データ区分 `1`).
pub mod header {
    use super::{FILLER, Field, FieldKind::*, RECORD_TYPE};

    /// 種別コード: `21` general transfer, `11` salary, `12` bonus.
    pub const KIND: Field = Field::new("種別コード (transfer kind)", 2, 2, Code);
    /// コード区分: `0` JIS (Shift_JIS); `1` (EBCDIC) is refused.
    pub const CODE_CLASS: Field = Field::new("コード区分 (code class)", 4, 1, Code);
    /// 依頼人コード: the requester's 10-digit code, assigned by the sending bank.
    pub const REQUESTER_CODE: Field = Field::new("依頼人コード (requester code)", 5, 10, Numeric);
    /// 依頼人名.
    pub const REQUESTER_NAME: Field = Field::new("依頼人名 (requester name)", 15, 40, Text);
    /// 取組日: MMDD.
    pub const TRANSFER_DATE: Field = Field::new("取組日 (transfer date)", 55, 4, Numeric);
    /// 仕向銀行番号.
    pub const BANK_CODE: Field = Field::new("仕向銀行番号 (sending bank code)", 59, 4, Numeric);
    /// 仕向銀行名.
    pub const BANK_NAME: Field = Field::new("仕向銀行名 (sending bank name)", 63, 15, Text);
    /// 仕向支店番号.
    pub const BRANCH_CODE: Field = Field::new("仕向支店番号 (sending branch code)", 78, 3, Numeric);
    /// 仕向支店名.
    pub const BRANCH_NAME: Field = Field::new("仕向支店名 (sending branch name)", 81, 15, Text);
    /// 預金種目 of the requester's account.
    pub const ACCOUNT_TYPE: Field = Field::new("預金種目 (account type)", 96, 1, Code);
    /// 口座番号 of the requester's account.
    pub const ACCOUNT_NUMBER: Field = Field::new("口座番号 (account number)", 97, 7, Numeric);
    /// ダミー.
    pub const DUMMY: Field = Field::new(FILLER, 104, 17, Filler);

    /// Every field, in order.
    pub const FIELDS: [Field; 13] = [
        RECORD_TYPE,
        KIND,
        CODE_CLASS,
        REQUESTER_CODE,
        REQUESTER_NAME,
        TRANSFER_DATE,
        BANK_CODE,
        BANK_NAME,
        BRANCH_CODE,
        BRANCH_NAME,
        ACCOUNT_TYPE,
        ACCOUNT_NUMBER,
        DUMMY,
    ];
}

/// The data record (データレコード, データ区分 `2`): one transfer.
pub mod data {
    use super::{FILLER, Field, FieldKind::*, RECORD_TYPE};

    /// 被仕向銀行番号.
    pub const BANK_CODE: Field = Field::new("被仕向銀行番号 (receiving bank code)", 2, 4, Numeric);
    /// 被仕向銀行名.
    pub const BANK_NAME: Field = Field::new("被仕向銀行名 (receiving bank name)", 6, 15, Text);
    /// 被仕向支店番号.
    pub const BRANCH_CODE: Field = Field::new("被仕向支店番号 (receiving branch code)", 21, 3, Numeric);
    /// 被仕向支店名.
    pub const BRANCH_NAME: Field = Field::new("被仕向支店名 (receiving branch name)", 24, 15, Text);
    /// 手形交換所番号: four digits, or four spaces.
    pub const CLEARING_HOUSE: Field = Field::new("手形交換所番号 (clearing house)", 39, 4, Numeric);
    /// 預金種目 of the recipient's account.
    pub const ACCOUNT_TYPE: Field = Field::new("預金種目 (account type)", 43, 1, Code);
    /// 口座番号 of the recipient's account.
    pub const ACCOUNT_NUMBER: Field = Field::new("口座番号 (account number)", 44, 7, Numeric);
    /// 受取人名.
    pub const RECIPIENT_NAME: Field = Field::new("受取人名 (recipient name)", 51, 30, Text);
    /// 振込金額, in yen.
    pub const AMOUNT: Field = Field::new("振込金額 (amount)", 81, 10, Numeric);
    /// 新規コード: `0`, `1` or `2`.
    pub const NEW_CODE: Field = Field::new("新規コード (new code)", 91, 1, Code);
    /// 顧客コード1 (when 識別表示 is a space).
    pub const CUSTOMER_CODE_1: Field = Field::new("顧客コード1 (customer code 1)", 92, 10, Text);
    /// 顧客コード2 (when 識別表示 is a space).
    pub const CUSTOMER_CODE_2: Field = Field::new("顧客コード2 (customer code 2)", 102, 10, Text);
    /// EDI情報: the same 20 bytes as 顧客コード1 and 2, when 識別表示 is `Y`.
    pub const EDI: Field = Field::new("EDI情報 (EDI information)", 92, 20, Text);
    /// 振込指定区分: `7` telegraphic, `8` document, or a space.
    pub const METHOD: Field = Field::new("振込指定区分 (transfer method)", 112, 1, Code);
    /// 識別表示: a space, or `Y` when bytes 92–111 are EDI情報.
    pub const EDI_FLAG: Field = Field::new("識別表示 (EDI flag)", 113, 1, Code);
    /// ダミー.
    pub const DUMMY: Field = Field::new(FILLER, 114, 7, Filler);

    /// Every field, in order ([`EDI`] overlaps the two customer codes and is not listed).
    pub const FIELDS: [Field; 16] = [
        RECORD_TYPE,
        BANK_CODE,
        BANK_NAME,
        BRANCH_CODE,
        BRANCH_NAME,
        CLEARING_HOUSE,
        ACCOUNT_TYPE,
        ACCOUNT_NUMBER,
        RECIPIENT_NAME,
        AMOUNT,
        NEW_CODE,
        CUSTOMER_CODE_1,
        CUSTOMER_CODE_2,
        METHOD,
        EDI_FLAG,
        DUMMY,
    ];
}

/// The trailer record (トレーラレコード, データ区分 `8`): closes a group.
pub mod trailer {
    use super::{FILLER, Field, FieldKind::*, RECORD_TYPE};

    /// 合計件数: the number of data records in the group.
    pub const COUNT: Field = Field::new("合計件数 (record count)", 2, 6, Numeric);
    /// 合計金額: the sum of the group's 振込金額.
    pub const TOTAL: Field = Field::new("合計金額 (total amount)", 8, 12, Numeric);
    /// ダミー.
    pub const DUMMY: Field = Field::new(FILLER, 20, 101, Filler);

    /// Every field, in order.
    pub const FIELDS: [Field; 4] = [RECORD_TYPE, COUNT, TOTAL, DUMMY];
}

/// The end record (エンドレコード, データ区分 `9`): the last record of a file.
pub mod end {
    use super::{FILLER, Field, FieldKind::*, RECORD_TYPE};

    /// ダミー.
    pub const DUMMY: Field = Field::new(FILLER, 2, 119, Filler);

    /// Every field, in order.
    pub const FIELDS: [Field; 2] = [RECORD_TYPE, DUMMY];
}

#[cfg(test)]
mod tests {
    use super::*;

    fn contiguous(fields: &[Field]) {
        let mut next = 1;
        for f in fields {
            assert_eq!(f.start, next, "{} starts at {}, expected {next}", f.name, f.start);
            next = f.end() + 1;
        }
        assert_eq!(next - 1, RECORD_LEN, "the fields add up to {} bytes", next - 1);
    }

    #[test]
    fn every_layout_covers_120_bytes_without_gaps() {
        contiguous(&header::FIELDS);
        contiguous(&data::FIELDS);
        contiguous(&trailer::FIELDS);
        contiguous(&end::FIELDS);
        assert_eq!(data::EDI.start, data::CUSTOMER_CODE_1.start);
        assert_eq!(data::EDI.end(), data::CUSTOMER_CODE_2.end());
    }
}
