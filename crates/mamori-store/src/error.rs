//! The store's one error type.

use std::path::PathBuf;

/// Everything that can go wrong in the store. `Failed` and `Closed` mean the store takes no
/// more events: the service stops and rebuilds from disk on restart.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("{path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error("{dir} is in use by another mamori process (lock file {dir}/mamori.lock)")]
    Locked { dir: PathBuf },
    #[error("the database has schema version {found}, newer than this build supports ({supported}): upgrade mamori")]
    NewerSchema { found: i64, supported: i64 },
    #[error("the database is not as expected: {0}")]
    Corrupt(String),
    #[error("institution id {0:?} is invalid: 1 to 64 characters of A-Z a-z 0-9 . _ -")]
    InvalidInstitutionId(String),
    #[error("institution {0:?} already exists")]
    AlreadyExists(String),
    #[error("no institution {0:?}: add it first (mamori institution add)")]
    UnknownInstitution(String),
    #[error("event {index} of the batch is invalid: {reason}")]
    InvalidEvent { index: usize, reason: String },
    #[error("event {id:?} of institution {institution:?} was already submitted")]
    Duplicate { institution: String, id: String },
    #[error("sequence number {0} was never assigned")]
    NotSubmitted(u64),
    #[error("the store stopped after a failed write and takes no more events: {0}")]
    Failed(String),
    #[error("the store is closed")]
    Closed,
    #[error("no random bytes for a key: {0}")]
    Random(String),
}

impl StoreError {
    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> StoreError {
        StoreError::Io { path: path.into(), source }
    }
}

/// The error of [`Store::scan`](crate::Store::scan): the store's, or the callback's own.
#[derive(Debug, thiserror::Error)]
pub enum ScanError<E> {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("scan callback: {0}")]
    Callback(E),
}
