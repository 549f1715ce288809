//! The service's own records, kept in the store's sequence beside the events: a code
//! sent for a link, a code tried, a partner control changed, a report made. They are not
//! events of the contract (no institution sent them) and are never judged; replaying the
//! store applies them to the registry in order, as the service did.

use serde::{Deserialize, Serialize};

use crate::cases::CaseRecord;
use crate::registry::{AccountRef, Subject};

/// The store's record type of every [`Record`].
pub const RECORD_TYPE: &str = "mamori_record";
/// Ids of records, and of the events the service writes itself, start with this; an
/// institution's event may not.
pub const RESERVED_ID_PREFIX: &str = "mamori:";

/// Whether a stored type is one of the service's records rather than an event of the
/// contract (what training and exports skip).
pub fn is_record(event_type: &str) -> bool {
    event_type == RECORD_TYPE || event_type == crate::detector::RELEASE_TYPE
}

/// One record. `at_us` is the service's clock when it was made.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "record", rename_all = "snake_case", deny_unknown_fields)]
pub enum Record {
    /// A code was sent for a link through the bank's registered channel.
    Challenge {
        link: String,
        #[serde(with = "hex_array")]
        code_hash: [u8; 32],
        #[serde(with = "hex_array")]
        salt: [u8; 16],
        expires_us: i64,
        channel: String,
        /// The address, masked.
        to: String,
        /// The institution that asked.
        by: String,
        at_us: i64,
    },
    /// A code was tried for a link.
    Attempt { link: String, ok: bool, by: String, at_us: i64 },
    /// `institution` set its controls over links with `partner`.
    Control {
        institution: String,
        partner: String,
        suspend_links: bool,
        suspend_charges: bool,
        min_kyc: Option<String>,
        /// The person (or system) who made the change, as the institution names them.
        by: String,
        reason: String,
        at_us: i64,
    },
    /// "This wasn't me": what it freezes, who reported, with which code (if a customer's).
    Report {
        report: String,
        by: String,
        #[serde(default, with = "hex_option")]
        code_hash: Option<[u8; 32]>,
        subject: Subject,
        at_us: i64,
    },
    /// An analyst's work on a case, or a held event released or confirmed.
    Case(CaseRecord),
    /// A sweep of past events found `event` (institution, id) would have been held or
    /// blocked, and its customer (`owner`) was sent a notice. One per finding: its id is
    /// derived from the event's, so a finding is never notified twice.
    Outreach { event: (String, String), owner: AccountRef, ruleset: String, rules: Vec<String>, at_us: i64 },
    /// The packs in use from here on: at start, and after every reload that took.
    Ruleset { ruleset: String, features: String, origin: String, reason: String, at_us: i64 },
}

impl Record {
    /// The record's bytes as stored.
    pub fn to_json(&self) -> Vec<u8> {
        serde_json::to_vec(self).unwrap_or_default()
    }

    pub fn from_json(bytes: &[u8]) -> Result<Record, String> {
        serde_json::from_slice(bytes).map_err(|e| e.to_string())
    }

    /// The record as the store keeps it: under `institution` and `id` (reserved), at
    /// `now`, with the notices and report codes it writes in its own transaction.
    pub fn to_stored(
        &self,
        institution: String,
        id: String,
        now: mamori_core::Timestamp,
        notices: Vec<mamori_store::NewNotice>,
        report_codes: Vec<mamori_store::ReportCode>,
    ) -> mamori_store::NewEvent {
        use sha2::Digest;
        let body = self.to_json();
        mamori_store::NewEvent {
            institution,
            id,
            event_type: RECORD_TYPE.to_string(),
            time_us: now.as_micros(),
            received_us: now.as_micros(),
            body_hash: sha2::Sha256::digest(&body).into(),
            decision: b"{}".to_vec(),
            body,
            notices,
            report_codes,
            notices_later: false,
        }
    }
}

mod hex_array {
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer, const N: usize>(v: &[u8; N], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&hex::encode(v))
    }

    pub fn deserialize<'de, D: Deserializer<'de>, const N: usize>(d: D) -> Result<[u8; N], D::Error> {
        let s = String::deserialize(d)?;
        let mut out = [0u8; N];
        hex::decode_to_slice(&s, &mut out).map_err(serde::de::Error::custom)?;
        Ok(out)
    }
}

mod hex_option {
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(v: &Option<[u8; 32]>, s: S) -> Result<S::Ok, S::Error> {
        match v {
            Some(v) => s.serialize_some(&hex::encode(v)),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<[u8; 32]>, D::Error> {
        let Some(s) = Option::<String>::deserialize(d)? else { return Ok(None) };
        let mut out = [0u8; 32];
        hex::decode_to_slice(&s, &mut out).map_err(serde::de::Error::custom)?;
        Ok(Some(out))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_read_back_as_written() {
        let records = [
            Record::Challenge {
                link: "L1".into(),
                code_hash: [9; 32],
                salt: [1; 16],
                expires_us: 10,
                channel: "email".into(),
                to: "t***@example.jp".into(),
                by: "bank-a".into(),
                at_us: 5,
            },
            Record::Attempt { link: "L1".into(), ok: false, by: "bank-a".into(), at_us: 6 },
            Record::Control {
                institution: "bank-a".into(),
                partner: "wallet-x".into(),
                suspend_links: true,
                suspend_charges: false,
                min_kyc: Some("photo_id".into()),
                by: "Sato".into(),
                reason: "weak KYC".into(),
                at_us: 7,
            },
            Record::Report {
                report: "R-1".into(),
                by: "customer".into(),
                code_hash: Some([3; 32]),
                subject: Subject { account: Some(AccountRef::new("bank-a", "1")), ..Subject::default() },
                at_us: 8,
            },
            Record::Outreach {
                event: ("bank-a".into(), "t-9".into()),
                owner: AccountRef::new("bank-a", "1"),
                ruleset: "sha256:00".into(),
                rules: vec!["link-then-drain".into()],
                at_us: 9,
            },
        ];
        for r in records {
            assert_eq!(Record::from_json(&r.to_json()).unwrap(), r);
        }
        assert!(Record::from_json(br#"{"record":"attempt","link":"L","ok":true,"by":"b","at_us":1,"extra":1}"#).is_err());
        assert!(Record::from_json(br#"{"record":"challenge","link":"L"}"#).is_err());
    }
}
