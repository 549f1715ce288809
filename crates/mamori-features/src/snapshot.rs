//! The binary format of an engine snapshot: a header that says what the bytes are and
//! which feature set they belong to, a checksum, and the engine's state in `postcard`.
//!
//! ```text
//! offset  size  field
//!      0    13  magic: b"MAMORI-ENGINE"
//!     13     4  format version, u32 little-endian (FORMAT_VERSION)
//!     17    32  fingerprint of the feature set (FeatureSet::fingerprint)
//!     49     8  payload length in bytes, u64 little-endian
//!     57    32  SHA-256 of bytes 0..57 followed by the payload
//!     89     n  payload: the state, postcard
//! ```
//!
//! [`open`] checks all of it before a byte of the payload is decoded, so that a snapshot
//! of another format, of another feature set, cut short or damaged is refused with the
//! reason; what the payload decodes to is then checked by the engine (every column of a
//! log as long as its times, times in order, free slots in range, keys unique) so that
//! no later read can go out of bounds.

use std::borrow::Cow;
use std::collections::VecDeque;

use mamori_core::{Decimal, OwnedValue, Span, Timestamp};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use sha2::{Digest, Sha256};

/// The first bytes of every snapshot.
pub const MAGIC: &[u8; 13] = b"MAMORI-ENGINE";
/// The version of the layout above and of the state's encoding; bumped on any change to either.
pub const FORMAT_VERSION: u32 = 2;

const VERSION_AT: usize = MAGIC.len();
const FINGERPRINT_AT: usize = VERSION_AT + 4;
const LENGTH_AT: usize = FINGERPRINT_AT + 32;
const CHECKSUM_AT: usize = LENGTH_AT + 8;
/// Length of the header: the payload starts here.
pub const HEADER_LEN: usize = CHECKSUM_AT + 32;

/// Why a snapshot could not be restored.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SnapshotError {
    #[error("not an engine snapshot: it does not start with `MAMORI-ENGINE`")]
    BadMagic,
    #[error("engine snapshot format version {found} is not supported (this build reads version {supported})")]
    UnsupportedVersion { found: u32, supported: u32 },
    #[error("engine snapshot is truncated: {len} bytes, {expected} expected")]
    Truncated { len: usize, expected: usize },
    #[error("engine snapshot has {extra} bytes after its end")]
    TrailingBytes { extra: usize },
    #[error("engine snapshot is corrupt: its checksum does not match its contents")]
    Checksum,
    #[error(
        "engine snapshot was made for a different feature set (fingerprint {found}, this one is {expected}): replay the events instead"
    )]
    WrongFeatureSet { found: String, expected: String },
    #[error("engine snapshot is corrupt: {0}")]
    Corrupt(String),
}

/// Wraps a payload for the feature set with `fingerprint`.
pub(crate) fn seal(fingerprint: &[u8; 32], payload: Vec<u8>) -> Vec<u8> {
    let mut out = Vec::with_capacity(HEADER_LEN + payload.len());
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&FORMAT_VERSION.to_le_bytes());
    out.extend_from_slice(fingerprint);
    out.extend_from_slice(&(payload.len() as u64).to_le_bytes());
    let sum = checksum(&out, &payload);
    out.extend_from_slice(&sum);
    out.extend_from_slice(&payload);
    out
}

fn checksum(header: &[u8], payload: &[u8]) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(&header[..CHECKSUM_AT]);
    h.update(payload);
    h.finalize().into()
}

/// Checks the header of `bytes` and returns the payload, if it is a whole, intact
/// snapshot made for the feature set with `fingerprint`.
pub(crate) fn open<'b>(bytes: &'b [u8], fingerprint: &[u8; 32]) -> Result<&'b [u8], SnapshotError> {
    let truncated = |expected: usize| SnapshotError::Truncated { len: bytes.len(), expected };
    if bytes.len() < MAGIC.len() {
        // A prefix of the magic is a snapshot cut short; anything else is not one.
        return Err(if MAGIC.starts_with(bytes) { truncated(HEADER_LEN) } else { SnapshotError::BadMagic });
    }
    if &bytes[..VERSION_AT] != MAGIC {
        return Err(SnapshotError::BadMagic);
    }
    let version = u32::from_le_bytes(field(bytes, VERSION_AT).ok_or_else(|| truncated(HEADER_LEN))?);
    if version != FORMAT_VERSION {
        return Err(SnapshotError::UnsupportedVersion { found: version, supported: FORMAT_VERSION });
    }
    if bytes.len() < HEADER_LEN {
        return Err(truncated(HEADER_LEN));
    }
    let declared = u64::from_le_bytes(field(bytes, LENGTH_AT).ok_or_else(|| truncated(HEADER_LEN))?);
    let expected = usize::try_from(declared).ok().and_then(|n| n.checked_add(HEADER_LEN)).unwrap_or(usize::MAX);
    if bytes.len() < expected {
        return Err(truncated(expected));
    }
    if bytes.len() > expected {
        return Err(SnapshotError::TrailingBytes { extra: bytes.len() - expected });
    }
    let payload = &bytes[HEADER_LEN..];
    let stored: [u8; 32] = field(bytes, CHECKSUM_AT).ok_or_else(|| truncated(HEADER_LEN))?;
    if stored != checksum(bytes, payload) {
        return Err(SnapshotError::Checksum);
    }
    let found: [u8; 32] = field(bytes, FINGERPRINT_AT).ok_or_else(|| truncated(HEADER_LEN))?;
    if &found != fingerprint {
        return Err(SnapshotError::WrongFeatureSet { found: hex(&found), expected: hex(fingerprint) });
    }
    Ok(payload)
}

fn field<const N: usize>(bytes: &[u8], at: usize) -> Option<[u8; N]> {
    bytes.get(at..at + N)?.try_into().ok()
}

pub(crate) fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// Decodes a whole payload: every byte must be used.
pub(crate) fn decode<'de, T: Deserialize<'de>>(payload: &'de [u8]) -> Result<T, SnapshotError> {
    let (v, rest) = postcard::take_from_bytes(payload).map_err(|e| SnapshotError::Corrupt(e.to_string()))?;
    if !rest.is_empty() {
        return Err(SnapshotError::Corrupt(format!("{} bytes left after the state", rest.len())));
    }
    Ok(v)
}

pub(crate) fn encode<T: Serialize>(state: &T) -> Vec<u8> {
    // Serializing into a Vec fails only on types postcard cannot represent, and the state has none.
    postcard::to_stdvec(state).expect("the engine state is representable in postcard")
}

/// An [`OwnedValue`] as the snapshot holds it: a decimal as its 16 bytes (scale and sign,
/// negative zero included, come back exactly), times and spans as their microseconds.
#[derive(Serialize, Deserialize)]
enum WireValue<'a> {
    Null,
    Bool(bool),
    Int(i64),
    Double(f64),
    Decimal([u8; 16]),
    Str(Cow<'a, str>),
    Timestamp(i64),
    Duration(i64),
    StrList(Cow<'a, [String]>),
}

impl<'a> From<&'a OwnedValue> for WireValue<'a> {
    fn from(v: &'a OwnedValue) -> Self {
        match v {
            OwnedValue::Null => WireValue::Null,
            OwnedValue::Bool(b) => WireValue::Bool(*b),
            OwnedValue::Int(i) => WireValue::Int(*i),
            OwnedValue::Double(d) => WireValue::Double(*d),
            OwnedValue::Decimal(d) => WireValue::Decimal(d.serialize()),
            OwnedValue::Str(s) => WireValue::Str(Cow::Borrowed(s)),
            OwnedValue::Timestamp(t) => WireValue::Timestamp(t.as_micros()),
            OwnedValue::Duration(s) => WireValue::Duration(s.as_micros()),
            OwnedValue::StrList(l) => WireValue::StrList(Cow::Borrowed(l)),
        }
    }
}

impl From<WireValue<'_>> for OwnedValue {
    fn from(v: WireValue<'_>) -> Self {
        match v {
            WireValue::Null => OwnedValue::Null,
            WireValue::Bool(b) => OwnedValue::Bool(b),
            WireValue::Int(i) => OwnedValue::Int(i),
            WireValue::Double(d) => OwnedValue::Double(d),
            // Never panics: the scale is bounded and unused flag bits are masked.
            WireValue::Decimal(b) => OwnedValue::Decimal(Decimal::deserialize(b)),
            WireValue::Str(s) => OwnedValue::Str(s.into()),
            WireValue::Timestamp(t) => OwnedValue::Timestamp(Timestamp(t)),
            WireValue::Duration(s) => OwnedValue::Duration(Span(s)),
            WireValue::StrList(l) => OwnedValue::StrList(l.into_owned().into()),
        }
    }
}

/// `#[serde(with)]` for an [`OwnedValue`].
pub(crate) mod owned_value {
    use super::*;

    pub fn serialize<S: Serializer>(v: &OwnedValue, s: S) -> Result<S::Ok, S::Error> {
        WireValue::from(v).serialize(s)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<OwnedValue, D::Error> {
        WireValue::deserialize(d).map(OwnedValue::from)
    }
}

/// `#[serde(with)]` for an optional column of [`OwnedValue`]s.
pub(crate) mod owned_values {
    use super::*;

    struct Col<'a>(&'a VecDeque<OwnedValue>);

    impl Serialize for Col<'_> {
        fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
            s.collect_seq(self.0.iter().map(WireValue::from))
        }
    }

    pub fn serialize<S: Serializer>(v: &Option<VecDeque<OwnedValue>>, s: S) -> Result<S::Ok, S::Error> {
        v.as_ref().map(Col).serialize(s)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<VecDeque<OwnedValue>>, D::Error> {
        let v: Option<Vec<WireValue<'static>>> = Deserialize::deserialize(d)?;
        Ok(v.map(|v| v.into_iter().map(OwnedValue::from).collect()))
    }
}

/// `#[serde(with)]` for an optional set of value hashes: written sorted, so that equal
/// states give equal snapshots whatever order the set was filled in.
pub(crate) mod hash_set {
    use super::*;

    type Set = hashbrown::HashSet<u64, foldhash::fast::FixedState>;

    pub fn serialize<S: Serializer>(v: &Option<Set>, s: S) -> Result<S::Ok, S::Error> {
        let sorted = v.as_ref().map(|set| {
            let mut all: Vec<u64> = set.iter().copied().collect();
            all.sort_unstable();
            all
        });
        sorted.serialize(s)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Set>, D::Error> {
        let v: Option<Vec<u64>> = Deserialize::deserialize(d)?;
        Ok(v.map(|v| {
            let mut set = Set::with_capacity_and_hasher(v.len(), foldhash::fast::FixedState::default());
            set.extend(v);
            set
        }))
    }
}

/// Bytes written as bytes (a length and the bytes, in postcard), read without trusting
/// the length further than the input goes.
pub(crate) struct Bytes<'a>(pub &'a [u8]);

impl Serialize for Bytes<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_bytes(self.0)
    }
}

/// The owned side of [`Bytes`].
pub(crate) struct ByteBuf<T>(pub T);

impl<'de, T: for<'x> From<&'x [u8]>> Deserialize<'de> for ByteBuf<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Visit<T>(std::marker::PhantomData<T>);
        impl<T: for<'x> From<&'x [u8]>> serde::de::Visitor<'_> for Visit<T> {
            type Value = ByteBuf<T>;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("bytes")
            }
            fn visit_bytes<E: serde::de::Error>(self, v: &[u8]) -> Result<Self::Value, E> {
                Ok(ByteBuf(T::from(v)))
            }
        }
        d.deserialize_bytes(Visit(std::marker::PhantomData))
    }
}
