//! The audit chain: every entry of the `events` table is linked to the one before it by
//! SHA-256, so that removing or editing an entry is detectable
//! ([`Store::verify_dir`](crate::Store::verify_dir), `mamori audit verify`).
//!
//! # Layout
//! Each row of `events` carries `chain`, 32 bytes: `chain(seq) = link(chain(seq - 1), row)`,
//! where the chain before the first entry, `chain(0)`, is [`GENESIS`] (32 zero bytes) and
//! `link` is SHA-256 over, in this order and with nothing in between:
//!
//! | field                        | bytes                                              |
//! |------------------------------|----------------------------------------------------|
//! | `chain(seq - 1)`             | 32                                                 |
//! | `seq`                        | 8, unsigned, little-endian                         |
//! | `institution`                | 4 (its length in bytes, u32 little-endian), then its UTF-8 bytes |
//! | `id`                         | 4 (length, u32 LE), then its UTF-8 bytes           |
//! | `event_type`                 | 4 (length, u32 LE), then its UTF-8 bytes           |
//! | `time_us`                    | 8, signed (two's complement), little-endian        |
//! | `received_us`                | 8, signed (two's complement), little-endian        |
//! | `body_hash`                  | 32, as stored                                      |
//! | SHA-256 of `decision`        | 32 (the digest of the stored decision's UTF-8 bytes) |
//!
//! The body enters through `body_hash`, which the service sets to SHA-256 of the stored
//! body (for institutions' events and for its own records alike); a verifier therefore
//! also checks `body_hash = SHA-256(body)`.
//!
//! # What it shows, and what it does not
//! A verifier recomputes the chain from [`GENESIS`] over the rows in seq order. An edited
//! entry (its ids, times, body or decision) no longer links; a removed entry leaves a gap
//! in the dense seqs 1, 2, 3, ...; a row without a chain is reported as such. Removing the
//! newest entries leaves a shorter chain that is intact, and someone able to write the
//! database can recompute every link after an edit (there is no secret in it): both are
//! caught only by comparing the head ([`Verified::head_seq`], [`Verified::head`]) with one
//! recorded elsewhere earlier, which a verifier accepts as the expected head.

use std::fmt;

use sha2::{Digest, Sha256};

use crate::StoredEvent;

/// The chain before the first entry (seq 0): 32 zero bytes.
pub const GENESIS: [u8; 32] = [0; 32];

/// The chain of `e` following `prev`, the chain of the entry before it (see the module
/// docs for the exact layout).
pub fn link(prev: &[u8; 32], e: &StoredEvent) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(prev);
    h.update(e.seq.to_le_bytes());
    for field in [&e.institution, &e.id, &e.event_type] {
        // Every field is far below 4 GiB (requests are limited to a few MiB).
        h.update(u32::try_from(field.len()).unwrap_or(u32::MAX).to_le_bytes());
        h.update(field.as_bytes());
    }
    h.update(e.time_us.to_le_bytes());
    h.update(e.received_us.to_le_bytes());
    h.update(e.body_hash);
    h.update(Sha256::digest(&e.decision));
    h.finalize().into()
}

/// An intact chain, and its head: record `head_seq` and `head` elsewhere to detect later
/// that the newest entries were removed or the chain was recomputed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Verified {
    /// Entries checked.
    pub entries: u64,
    /// The seq of the newest entry (0: none).
    pub head_seq: u64,
    /// The chain of the newest entry ([`GENESIS`] when there is none).
    pub head: [u8; 32],
}

/// The first break found in the chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Broken {
    /// Entry `seq` is not there: the next entry found is `next` (a removed entry, or the
    /// first entry is not 1).
    Missing { seq: u64, next: u64 },
    /// Entry `seq` was edited: its chain does not follow from the entries before it, or its
    /// body no longer has its hash.
    Altered { seq: u64, institution: String, id: String, how: Alteration },
    /// Entry `seq` has no chain (it was cleared).
    Unchained { seq: u64 },
    /// The chain is intact but ends at `found_seq`, before the expected head: the newest
    /// entries were removed.
    Truncated { expected_seq: u64, found_seq: u64 },
    /// The chain at `seq` is not the expected head: the chain was recomputed after an
    /// edit at or before `seq`.
    HeadMismatch { seq: u64 },
}

/// How an altered entry shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Alteration {
    /// Its stored chain differs from the one recomputed from the entries before it and
    /// its own fields.
    Chain,
    /// Its body is not the one its `body_hash` was computed from.
    Body,
}

impl fmt::Display for Broken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Broken::Missing { seq: 1, next } => write!(f, "entry 1 is missing (the sequence starts at {next})"),
            Broken::Missing { seq, next } => write!(f, "entry {seq} is missing (the sequence jumps from {} to {next})", seq - 1),
            Broken::Altered { seq, institution, id, how } => {
                // Escaped: an edited id could hold line breaks or terminal controls.
                write!(f, "entry {seq} ({}/{}) was altered: ", institution.escape_debug(), id.escape_debug())?;
                match how {
                    Alteration::Chain => f.write_str("its chain does not follow from the entries before it"),
                    Alteration::Body => f.write_str("its body does not match its body hash"),
                }
            }
            Broken::Unchained { seq } => write!(f, "entry {seq} has no chain"),
            Broken::Truncated { expected_seq, found_seq } => write!(
                f,
                "the chain ends at entry {found_seq}, before the expected head at entry {expected_seq}: entries after {found_seq} were removed"
            ),
            Broken::HeadMismatch { seq } => {
                write!(f, "entry {seq} is not the expected head: the chain was rewritten at or before entry {seq}")
            }
        }
    }
}

/// One stored row as the verifier sees it.
pub(crate) struct Row {
    pub event: StoredEvent,
    pub chain: Option<Vec<u8>>,
}

/// Recomputes the chain row by row (in seq order) and stops at the first break.
pub(crate) struct Verifier {
    expect: Option<(u64, [u8; 32])>,
    prev: [u8; 32],
    next_seq: u64,
}

impl Verifier {
    pub fn new(expect: Option<(u64, [u8; 32])>) -> Verifier {
        Verifier { expect, prev: GENESIS, next_seq: 1 }
    }

    pub fn check(&mut self, row: &Row) -> Result<(), Broken> {
        let e = &row.event;
        if e.seq != self.next_seq {
            return Err(Broken::Missing { seq: self.next_seq, next: e.seq });
        }
        let altered = |how| Broken::Altered { seq: e.seq, institution: e.institution.clone(), id: e.id.clone(), how };
        let Some(stored) = &row.chain else {
            return Err(Broken::Unchained { seq: e.seq });
        };
        if <[u8; 32]>::from(Sha256::digest(&e.body)) != e.body_hash {
            return Err(altered(Alteration::Body));
        }
        let chain = link(&self.prev, e);
        if stored[..] != chain[..] {
            return Err(altered(Alteration::Chain));
        }
        if self.expect.is_some_and(|(seq, head)| seq == e.seq && head != chain) {
            return Err(Broken::HeadMismatch { seq: e.seq });
        }
        self.prev = chain;
        self.next_seq += 1;
        Ok(())
    }

    pub fn finish(self) -> Result<Verified, Broken> {
        let head_seq = self.next_seq - 1;
        if let Some((seq, head)) = self.expect {
            if seq > head_seq {
                return Err(Broken::Truncated { expected_seq: seq, found_seq: head_seq });
            }
            if seq == 0 && head != GENESIS {
                return Err(Broken::HeadMismatch { seq });
            }
        }
        Ok(Verified { entries: head_seq, head_seq, head: self.prev })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(seq: u64) -> StoredEvent {
        let body = format!("{{\"id\":\"e-{seq}\"}}").into_bytes();
        StoredEvent {
            seq,
            institution: "bank-a".into(),
            id: format!("e-{seq}"),
            event_type: "transfer".into(),
            time_us: -5,
            received_us: 1_795_255_200_000_000,
            body_hash: Sha256::digest(&body).into(),
            body,
            decision: b"{\"decision\":\"allow\"}".to_vec(),
        }
    }

    /// The layout written out by hand, as an auditor would re-implement it.
    #[test]
    fn link_is_the_documented_layout() {
        let e = event(7);
        let prev = [0xab; 32];
        let mut bytes = Vec::new();
        bytes.extend_from_slice(&prev);
        bytes.extend_from_slice(&[7, 0, 0, 0, 0, 0, 0, 0]);
        bytes.extend_from_slice(&[6, 0, 0, 0]);
        bytes.extend_from_slice(b"bank-a");
        bytes.extend_from_slice(&[3, 0, 0, 0]);
        bytes.extend_from_slice(b"e-7");
        bytes.extend_from_slice(&[8, 0, 0, 0]);
        bytes.extend_from_slice(b"transfer");
        bytes.extend_from_slice(&(-5i64).to_le_bytes());
        bytes.extend_from_slice(&1_795_255_200_000_000i64.to_le_bytes());
        bytes.extend_from_slice(&Sha256::digest(b"{\"id\":\"e-7\"}"));
        bytes.extend_from_slice(&Sha256::digest(b"{\"decision\":\"allow\"}"));
        assert_eq!(link(&prev, &e), <[u8; 32]>::from(Sha256::digest(&bytes)));
        // Moving a byte from one field to the next changes the link.
        let mut shifted = e.clone();
        shifted.institution = "bank-ae".into();
        shifted.id = "-7".into();
        assert_ne!(link(&prev, &shifted), link(&prev, &e));
    }

    fn rows(n: u64) -> Vec<Row> {
        let mut prev = GENESIS;
        (1..=n)
            .map(|seq| {
                let event = event(seq);
                prev = link(&prev, &event);
                Row { event, chain: Some(prev.to_vec()) }
            })
            .collect()
    }

    fn verify(rows: &[Row], expect: Option<(u64, [u8; 32])>) -> Result<Verified, Broken> {
        let mut v = Verifier::new(expect);
        for r in rows {
            v.check(r)?;
        }
        v.finish()
    }

    #[test]
    fn verifier_finds_the_first_break() {
        let mut rows = rows(5);
        let ok = verify(&rows, None).unwrap();
        assert_eq!((ok.entries, ok.head_seq), (5, 5));
        assert_eq!(ok.head[..], rows[4].chain.as_deref().unwrap()[..]);
        assert_eq!(verify(&rows, Some((5, ok.head))), Ok(ok));
        assert_eq!(verify(&rows, Some((5, [1; 32]))), Err(Broken::HeadMismatch { seq: 5 }));
        assert_eq!(verify(&rows, Some((6, ok.head))), Err(Broken::Truncated { expected_seq: 6, found_seq: 5 }));
        assert_eq!(verify(&[], None), Ok(Verified { entries: 0, head_seq: 0, head: GENESIS }));
        assert_eq!(verify(&[], Some((0, GENESIS))).unwrap().head_seq, 0);

        rows[3].event.time_us += 1;
        let broken = verify(&rows, None).unwrap_err();
        assert_eq!(broken.to_string(), "entry 4 (bank-a/e-4) was altered: its chain does not follow from the entries before it");
        rows[3].event.time_us -= 1;
        rows[2].chain = None;
        assert_eq!(verify(&rows, None).unwrap_err().to_string(), "entry 3 has no chain");
        rows.remove(1);
        assert_eq!(verify(&rows, None).unwrap_err().to_string(), "entry 2 is missing (the sequence jumps from 1 to 3)");
        rows.remove(0);
        assert_eq!(verify(&rows, None).unwrap_err().to_string(), "entry 1 is missing (the sequence starts at 3)");
    }
}
