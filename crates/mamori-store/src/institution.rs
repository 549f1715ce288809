//! Institutions and their API keys.

use std::fmt;
use std::str::FromStr;

use mamori_core::Secret;
use sha2::{Digest, Sha256};

use crate::StoreError;

/// What kind of institution reports events.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum InstitutionKind {
    Bank,
    Emoney,
    Broker,
    Exchange,
    Card,
}

impl InstitutionKind {
    /// Every kind, in the order the contract lists them.
    pub const ALL: &'static [InstitutionKind] =
        &[InstitutionKind::Bank, InstitutionKind::Emoney, InstitutionKind::Broker, InstitutionKind::Exchange, InstitutionKind::Card];

    /// The wire and database string.
    pub const fn as_str(self) -> &'static str {
        match self {
            InstitutionKind::Bank => "bank",
            InstitutionKind::Emoney => "emoney",
            InstitutionKind::Broker => "broker",
            InstitutionKind::Exchange => "exchange",
            InstitutionKind::Card => "card",
        }
    }
}

impl fmt::Display for InstitutionKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A kind that is not one of `bank`, `emoney`, `broker`, `exchange`, `card`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown institution kind {0:?}: expected one of bank, emoney, broker, exchange, card")]
pub struct UnknownKind(pub String);

impl FromStr for InstitutionKind {
    type Err = UnknownKind;

    /// Exact and case-sensitive, like every closed vocabulary of the contract.
    fn from_str(s: &str) -> Result<Self, UnknownKind> {
        InstitutionKind::ALL.iter().copied().find(|k| k.as_str() == s).ok_or_else(|| UnknownKind(s.to_string()))
    }
}

/// What a key may do. `admin` may do everything its institution may.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Role {
    /// Sends events and runs the link flow.
    Integrator,
    /// Reads events and works cases.
    Analyst,
    /// Rules, partner controls, releases, webhooks; and all of the above.
    Admin,
}

impl Role {
    pub const ALL: &'static [Role] = &[Role::Integrator, Role::Analyst, Role::Admin];

    pub const fn as_str(self) -> &'static str {
        match self {
            Role::Integrator => "integrator",
            Role::Analyst => "analyst",
            Role::Admin => "admin",
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Role {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        Role::ALL
            .iter()
            .copied()
            .find(|r| r.as_str() == s)
            .ok_or_else(|| format!("unknown role {s:?}: expected integrator, analyst or admin"))
    }
}

/// Who a key speaks for: its institution and its role.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    pub institution: Institution,
    pub role: Role,
}

/// A registered institution.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Institution {
    pub id: String,
    pub kind: InstitutionKind,
    /// When it was registered, µs since the epoch (given by the caller).
    pub created_at_us: i64,
}

/// Whether `id` can name an institution: 1 to 64 characters of `A-Z a-z 0-9 . _ -`.
pub fn is_valid_institution_id(id: &str) -> bool {
    (1..=64).contains(&id.len()) && id.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
}

pub(crate) fn check_institution_id(id: &str) -> Result<(), StoreError> {
    if is_valid_institution_id(id) { Ok(()) } else { Err(StoreError::InvalidInstitutionId(id.to_string())) }
}

/// The prefix of every API key.
pub const KEY_PREFIX: &str = "mk_";

/// An institution's API key: `mk_` and 64 hex digits (32 random bytes). Shown once when the
/// institution is added; the store keeps only its SHA-256. `Debug` masks it.
#[derive(Clone, PartialEq, Eq)]
pub struct ApiKey(Secret<String>);

impl ApiKey {
    pub(crate) fn generate() -> Result<ApiKey, StoreError> {
        let mut bytes = [0u8; 32];
        getrandom::fill(&mut bytes).map_err(|e| StoreError::Random(e.to_string()))?;
        Ok(ApiKey(Secret::new(format!("{KEY_PREFIX}{}", hex::encode(bytes)))))
    }

    /// The key's text. Every call site hands a secret to someone on purpose.
    pub fn expose(&self) -> &str {
        self.0.expose()
    }

    /// What the store keeps of the key.
    pub fn hash(&self) -> [u8; 32] {
        key_hash(self.expose())
    }
}

impl fmt::Debug for ApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ApiKey(***)")
    }
}

pub(crate) fn key_hash(key: &str) -> [u8; 32] {
    Sha256::digest(key.as_bytes()).into()
}
