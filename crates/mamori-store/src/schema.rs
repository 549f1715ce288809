//! The database schema, versioned with `PRAGMA user_version`: migration `i` (0-based) takes
//! the schema from version `i` to `i + 1`. Append to the list; never edit a released entry.

use rusqlite::{Connection, TransactionBehavior};

use crate::StoreError;

pub(crate) const MIGRATIONS: &[&str] = &[
    // 1: institutions and events.
    r#"
    CREATE TABLE institutions (
        id            TEXT PRIMARY KEY NOT NULL,
        kind          TEXT NOT NULL CHECK (kind IN ('bank', 'emoney', 'broker', 'exchange', 'card')),
        key_hash      BLOB NOT NULL UNIQUE CHECK (length(key_hash) = 32),
        created_at_us INTEGER NOT NULL
    ) STRICT;

    CREATE TABLE events (
        seq         INTEGER PRIMARY KEY NOT NULL CHECK (seq > 0),
        institution TEXT NOT NULL,
        id          TEXT NOT NULL,
        event_type  TEXT NOT NULL,
        time_us     INTEGER NOT NULL,
        received_us INTEGER NOT NULL,
        body        TEXT NOT NULL,
        body_hash   BLOB NOT NULL CHECK (length(body_hash) = 32),
        decision    TEXT NOT NULL,
        UNIQUE (institution, id)
    ) STRICT;
    "#,
    // 2: the notification outbox, report codes, webhook endpoints.
    r#"
    CREATE TABLE notices (
        id          INTEGER PRIMARY KEY NOT NULL,
        seq         INTEGER NOT NULL,
        institution TEXT NOT NULL,
        channel     TEXT NOT NULL CHECK (channel IN ('email', 'webhook')),
        target      TEXT NOT NULL,
        payload     TEXT NOT NULL,
        status      TEXT NOT NULL CHECK (status IN ('pending', 'sent', 'dead')),
        attempts    INTEGER NOT NULL,
        next_at_us  INTEGER NOT NULL,
        last_error  TEXT,
        created_us  INTEGER NOT NULL,
        done_us     INTEGER
    ) STRICT;
    CREATE INDEX notices_due ON notices (next_at_us) WHERE status = 'pending';
    CREATE INDEX notices_by_institution ON notices (institution, status, id);

    CREATE TABLE report_codes (
        code_hash   BLOB PRIMARY KEY NOT NULL CHECK (length(code_hash) = 32),
        institution TEXT NOT NULL,
        subject     TEXT NOT NULL,
        expires_us  INTEGER NOT NULL,
        created_us  INTEGER NOT NULL
    ) STRICT, WITHOUT ROWID;

    CREATE TABLE webhooks (
        institution TEXT PRIMARY KEY NOT NULL,
        url         TEXT NOT NULL,
        secret      BLOB NOT NULL,
        updated_us  INTEGER NOT NULL
    ) STRICT;
    "#,
    // 3: API keys with roles; every existing key is its institution's administrator.
    r#"
    CREATE TABLE keys (
        key_hash    BLOB PRIMARY KEY NOT NULL CHECK (length(key_hash) = 32),
        institution TEXT NOT NULL REFERENCES institutions (id),
        role        TEXT NOT NULL CHECK (role IN ('integrator', 'analyst', 'admin')),
        created_us  INTEGER NOT NULL
    ) STRICT, WITHOUT ROWID;
    INSERT INTO keys (key_hash, institution, role, created_us) SELECT key_hash, id, 'admin', created_at_us FROM institutions;
    "#,
    // 4: the audit chain (see `audit.rs`). Rows of older databases are chained by
    // `Store::open` right after this; the index finds rows without a chain at no cost
    // (it is empty once they are chained: the writer chains every row it inserts).
    r#"
    ALTER TABLE events ADD COLUMN chain BLOB CHECK (chain IS NULL OR length(chain) = 32);
    CREATE INDEX events_unchained ON events (seq) WHERE chain IS NULL;
    "#,
    // 5: the outbox cursor: every event up to `seq` has its notices written. Notices written
    // after their event (`NewEvent::notices_later`) move it on in their transaction; until
    // now every notice was written with its event, so every stored event is covered.
    r#"
    CREATE TABLE outbox_cursor (
        one INTEGER PRIMARY KEY NOT NULL CHECK (one = 1),
        seq INTEGER NOT NULL CHECK (seq >= 0)
    ) STRICT;
    INSERT INTO outbox_cursor (one, seq) SELECT 1, coalesce(max(seq), 0) FROM events;
    "#,
    // 6: report codes found by a sequential id that the code carries, beside a hash of the
    // whole code: a new code is appended, where one keyed by its hash lands on a random
    // page. Codes handed out before stay in `report_codes`.
    r#"
    CREATE TABLE report_codes_by_id (
        id          INTEGER PRIMARY KEY NOT NULL CHECK (id > 0),
        code_hash   BLOB NOT NULL CHECK (length(code_hash) = 32),
        institution TEXT NOT NULL,
        subject     TEXT NOT NULL,
        expires_us  INTEGER NOT NULL,
        created_us  INTEGER NOT NULL
    ) STRICT;
    "#,
];

/// The schema version this build writes.
pub const SCHEMA_VERSION: i64 = MIGRATIONS.len() as i64;

pub(crate) fn migrate(conn: &mut Connection) -> Result<(), StoreError> {
    let found: i64 = conn.pragma_query_value(None, "user_version", |r| r.get(0))?;
    if found > SCHEMA_VERSION {
        return Err(StoreError::NewerSchema { found, supported: SCHEMA_VERSION });
    }
    if found < 0 {
        return Err(StoreError::Corrupt(format!("schema version {found}")));
    }
    for (from, sql) in MIGRATIONS.iter().enumerate().skip(found as usize) {
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        tx.execute_batch(sql)?;
        tx.pragma_update(None, "user_version", from as i64 + 1)?;
        tx.commit()?;
    }
    Ok(())
}
