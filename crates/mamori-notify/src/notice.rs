//! What a message is about.

use std::fmt;

use serde::{Deserialize, Serialize};

/// What a notice is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// Someone asked to link the account with an e-money wallet (or another service).
    LinkRequested,
    /// A link became active.
    LinkActivated,
    /// A link was removed.
    LinkRevoked,
    /// A link was locked: no money moves through it until it is reviewed.
    LinkLocked,
    /// Money was charged from the account into a wallet.
    Charge,
    /// A transfer out of the account.
    TransferOut,
    /// A withdrawal (cash, or out of a wallet).
    Withdrawal,
    /// Crypto-assets sent out to an address.
    CryptoWithdrawal,
    /// The verification code that confirms a link.
    LinkCode,
    /// The customer reported "this wasn't me"; the link or account is frozen.
    ReportReceived,
    /// A held movement was reviewed and released: it goes ahead.
    HoldReleased,
    /// A held movement was reviewed and refused.
    HoldConfirmed,
    /// A claim for money taken by fraud was decided: what is paid back, and by when.
    Reimbursement,
    /// A look back over past transactions found one that may not have been the customer's.
    PastReview,
}

impl Kind {
    /// Every kind, in declaration order.
    pub const ALL: [Kind; 14] = [
        Kind::LinkRequested,
        Kind::LinkActivated,
        Kind::LinkRevoked,
        Kind::LinkLocked,
        Kind::Charge,
        Kind::TransferOut,
        Kind::Withdrawal,
        Kind::CryptoWithdrawal,
        Kind::LinkCode,
        Kind::ReportReceived,
        Kind::HoldReleased,
        Kind::HoldConfirmed,
        Kind::Reimbursement,
        Kind::PastReview,
    ];

    /// Whether the notice is about money leaving the account.
    pub fn moves_money(self) -> bool {
        matches!(self, Kind::Charge | Kind::TransferOut | Kind::Withdrawal | Kind::CryptoWithdrawal)
    }
}

/// Everything a message says. Serialized as JSON into the outbox.
///
/// `Debug` masks the account (last 4 characters), the link code and the report code.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Notice {
    pub kind: Kind,
    /// The institution whose customer this is (named in the message, e.g. "jp-bank").
    pub institution: String,
    /// The account the notice is about (the institution's own id), if any: shown masked,
    /// last 4 characters only.
    pub account: Option<String>,
    /// Event time, µs since the epoch; shown in Japan time.
    pub time: i64,
    /// Exact decimal text, e.g. "100000" or "0.5"; never a float.
    pub amount: Option<String>,
    /// Currency of `amount`; absent means JPY.
    pub currency: Option<String>,
    /// Who the money went to / the other side of the link, readable, e.g.
    /// "wallet-co account 9981" or a crypto address.
    pub counterparty: Option<String>,
    /// The service's decision on the event: "allow", "challenge", "hold" or "block".
    pub decision: String,
    /// The link's reference, shown so that the customer can quote it.
    pub link: Option<String>,
    /// One-time code the customer gives to report "this wasn't me" (absent on LinkCode
    /// notices).
    pub report_code: Option<String>,
    /// The 6-digit link verification code (LinkCode only). Never printed by Debug.
    pub code: Option<String>,
    /// When `code` expires, µs since the epoch (LinkCode only).
    pub expires: Option<i64>,
}

/// `****` and the last 4 characters; only `****` when there are 4 or fewer, so that a
/// short id is never shown whole.
pub(crate) fn mask_account(s: &str) -> String {
    let n = s.chars().count();
    let tail: String = if n > 4 { s.chars().skip(n - 4).collect() } else { String::new() };
    format!("****{tail}")
}

impl fmt::Debug for Notice {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let hidden = |v: &Option<String>| v.as_ref().map(|_| "***");
        f.debug_struct("Notice")
            .field("kind", &self.kind)
            .field("institution", &self.institution)
            .field("account", &self.account.as_deref().map(mask_account))
            .field("time", &mamori_core::Timestamp(self.time))
            .field("amount", &self.amount)
            .field("currency", &self.currency)
            .field("counterparty", &self.counterparty)
            .field("decision", &self.decision)
            .field("link", &self.link)
            .field("report_code", &hidden(&self.report_code))
            .field("code", &hidden(&self.code))
            .field("expires", &self.expires.map(mamori_core::Timestamp))
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn notice() -> Notice {
        Notice {
            kind: Kind::LinkCode,
            institution: "jp-bank".into(),
            account: Some("0012345678".into()),
            time: 1_795_255_200_000_000,
            amount: None,
            currency: None,
            counterparty: Some("wallet-co account 9981".into()),
            decision: "allow".into(),
            link: Some("lk-77".into()),
            report_code: Some("RPT-SECRET-1".into()),
            code: Some("493817".into()),
            expires: Some(1_795_255_800_000_000),
        }
    }

    #[test]
    fn debug_masks_secrets() {
        let d = format!("{:?}", notice());
        assert!(!d.contains("493817"), "{d}");
        assert!(!d.contains("RPT-SECRET-1"), "{d}");
        assert!(!d.contains("0012345678") && !d.contains("001234"), "{d}");
        assert!(d.contains("****5678"), "{d}");
        assert!(d.contains(r#"code: Some("***")"#), "{d}");
        assert!(d.contains(r#"report_code: Some("***")"#), "{d}");
        assert!(d.contains("2026-11-21T10:00:00.000Z"), "{d}");
        let alt = format!("{:#?}", notice());
        assert!(!alt.contains("493817") && !alt.contains("RPT-SECRET-1"));
        let none = Notice { code: None, report_code: None, account: None, ..notice() };
        assert!(format!("{none:?}").contains("code: None"));
    }

    #[test]
    fn masks_short_accounts_whole() {
        assert_eq!(mask_account("0012345678"), "****5678");
        assert_eq!(mask_account("12345"), "****2345");
        assert_eq!(mask_account("1234"), "****");
        assert_eq!(mask_account(""), "****");
        assert_eq!(mask_account("口座番号一二三四五"), "****二三四五");
    }

    #[test]
    fn serde_roundtrip_and_names() {
        let n = notice();
        let json = serde_json::to_string(&n).unwrap();
        assert!(json.contains(r#""kind":"link_code""#), "{json}");
        let back: Notice = serde_json::from_str(&json).unwrap();
        assert_eq!(back, n);
        for k in Kind::ALL {
            let s = serde_json::to_string(&k).unwrap();
            assert_eq!(serde_json::from_str::<Kind>(&s).unwrap(), k);
        }
        assert_eq!(serde_json::to_string(&Kind::CryptoWithdrawal).unwrap(), r#""crypto_withdrawal""#);
        assert_eq!(serde_json::to_string(&Kind::TransferOut).unwrap(), r#""transfer_out""#);
    }
}
