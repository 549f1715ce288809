//! The embedded durable store of the decision service.
//!
//! One folder holds `mamori.db` (SQLite in WAL mode, `synchronous=FULL`), `mamori.lock`
//! (held while a [`Store`] is open, so that one process at a time writes) and
//! `snapshots/` (see [`Store::save_snapshot`]).
//!
//! # Events: group commit
//! [`Store::submit`] gives events consecutive sequence numbers, makes them visible to
//! [`Store::lookup`] at once and queues them; it does not wait for the disk. One writer
//! thread owns the write connection: it takes everything queued, writes it in one
//! transaction and commits (an fsync of the WAL), then advances [`Store::durable_seq`] and
//! wakes [`Store::wait_durable`]. Concurrent callers therefore share fsyncs: the more that
//! wait, the more each commit carries.
//!
//! # The outbox
//! Notices to customers are rows of the same database. Those of the service's own records
//! (link codes, reports, reviews) are written in their record's transaction. Those of
//! institutions' events (`NewEvent::notices_later`) are written after them: the writer
//! keeps them in memory and writes many events' notices in one transaction of their own
//! once the oldest has waited [`Store::set_outbox_delay`] (5 ms by default), or when asked
//! to ([`Store::flush_outbox`]), and only while no events wait, so an event's commit never
//! carries them. That transaction moves [`Store::outbox_cursor`] on: every event up to it
//! has its notices written. What a crash loses of them belongs to events after the cursor,
//! which the service plans again on its next start ([`Store::replan`]).
//!
//! An outbox transaction is committed without an fsync of its own (`synchronous=NORMAL`
//! for that transaction): it survives a crash of the process at once, and reaches the disk
//! with the next event's commit, whose fsync covers the whole WAL. Until then a power
//! loss may take it back, cursor and all, and the notices are planned again. Nothing
//! reads past that: the courier reads notices only once they are on disk
//! ([`Store::due_notices`]), so a notice is never delivered, nor its report code given
//! out, and then lost; [`Store::flush_outbox`] returns once what it asked for is on disk;
//! an operator's retry is synced with its transaction. A delivery outcome lost that way
//! means a delivery made again (at least once, as after any crash). A reader that waits
//! for the disk so waits first for an event's commit, which syncs the whole WAL; only when
//! none comes within [`Store::set_sync_grace`] (10 ms by default) does the writer sync the
//! WAL for it alone, so that a busy courier adds no fsyncs for events to queue behind.
//!
//! # Fail-stop
//! If a commit fails, every waiter gets [`StoreError::Failed`], the events not yet durable
//! are dropped from memory and the store refuses further submits. Nothing is ever reported
//! durable that is not committed; the service exits and rebuilds from disk on restart.
//!
//! # Idempotency
//! `(institution, id)` is unique. A batch holding one already submitted (durable or not),
//! or holding one twice, is refused whole with [`StoreError::Duplicate`].
//!
//! # Audit chain
//! Every entry of `events` (institutions' events with their decisions, and the service's
//! own records) carries `chain`: SHA-256 over the chain of the entry before it and the
//! entry's fields, as laid out in [`audit`]. The writer computes it in seq order in the
//! entry's own transaction. [`Store::verify_dir`] (`mamori audit verify`) recomputes it
//! from the first entry, read-only beside a running service, and names the first removed,
//! edited or unchained entry. Removing the newest entries, or recomputing the chain after
//! an edit, is seen only against a head ([`Verified`]) recorded elsewhere earlier.
//!
//! The store reads no clock: every timestamp is given by the caller.

pub mod audit;
mod error;
mod institution;
mod record;
mod schema;
mod snapshot;

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::fs::{self, File, OpenOptions};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError, RwLock};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use rusqlite::{Connection, OpenFlags, OptionalExtension, TransactionBehavior, params};

pub use audit::{Alteration, Broken, Verified};
pub use error::{ScanError, StoreError};
pub use institution::{ApiKey, Institution, InstitutionKind, KEY_PREFIX, Principal, Role, UnknownKind, is_valid_institution_id};
pub use record::{Channel, NewEvent, NewNotice, Notice, NoticeStatus, NoticeUpdate, ReportCode, StoredEvent, WebhookEndpoint};
pub use schema::SCHEMA_VERSION;

use audit::{GENESIS, Verifier};
use institution::{check_institution_id, key_hash};

/// The database file inside the store's folder.
pub const DB_FILE: &str = "mamori.db";
/// The lock file inside the store's folder.
pub const LOCK_FILE: &str = "mamori.lock";

/// Idle read connections kept for reuse.
const MAX_IDLE_READERS: usize = 32;
const BUSY_TIMEOUT_MS: u32 = 5_000;
/// How often the checkpointer copies the WAL into the database file.
const CHECKPOINT_EVERY: std::time::Duration = std::time::Duration::from_millis(100);
/// WAL frames (4 KiB pages) past which the writer checkpoints itself between two commits
/// when nothing is queued, so that the next commit starts the WAL over: under constant
/// writes a concurrent checkpoint never finds the WAL fully copied, and the WAL would grow
/// without end.
const WAL_RESET_IDLE_FRAMES: i64 = 4_096;
/// ... and past which it does so even with events queued (they wait for it).
const WAL_RESET_FRAMES: i64 = 16_384;
/// What SQLite truncates the WAL file to after a restart (a WAL file kept at its size is
/// overwritten in place: its syncs commit no new file size).
const WAL_SIZE_LIMIT: i64 = 64 << 20;

/// A handle on an open store. Cheap to clone; every clone is the same store.
#[derive(Clone)]
pub struct Store {
    inner: Arc<Inner>,
}

struct Inner {
    dir: PathBuf,
    db: PathBuf,
    shared: Arc<Shared>,
    writer: Mutex<Option<JoinHandle<()>>>,
    checkpointer: Mutex<Option<JoinHandle<()>>>,
    readers: Mutex<Vec<Connection>>,
    /// SHA-256 of an API key → its institution: the per-request check reads no SQL.
    keys: RwLock<HashMap<[u8; 32], Principal>>,
    snapshot_lock: Mutex<()>,
    /// The next id of a report code.
    next_code_id: std::sync::atomic::AtomicU64,
    /// Held (flock) for as long as the store is open.
    _lock: File,
}

/// How long notices written after their events wait, at most, for others to share their
/// transaction (unless the store is told otherwise).
pub const DEFAULT_OUTBOX_DELAY: Duration = Duration::from_millis(5);
/// Notices waiting to be written past which they are written at once.
const OUTBOX_ROWS: usize = 2_048;
/// Event commits in a row after which waiting outbox work goes first.
const MAX_PASSED: u32 = 256;
/// How long a reader waiting for outbox transactions to reach the disk waits for an event's
/// commit (whose fsync covers them) before the writer syncs for it alone, unless the store
/// is told otherwise. While events flow one comes within a millisecond; an fsync of its own
/// would make the next events wait.
pub const DEFAULT_SYNC_GRACE: Duration = Duration::from_millis(10);

/// Called after a commit that wrote notices.
type Listener = Arc<dyn Fn() + Send + Sync>;

/// What the writer thread shares with the handles.
struct Shared {
    /// Told when notices were committed (the courier).
    listener: RwLock<Option<Listener>>,
    state: Mutex<State>,
    /// Signalled when events are queued or the store closes.
    work: Condvar,
    /// Signalled when `durable_seq` advances or the store fails.
    durable: Condvar,
    /// Signalled when the store closes, for the checkpointer.
    closing: Condvar,
    /// Frames in the WAL at the last checkpoint.
    wal_frames: AtomicI64,
    /// The one write connection: the writer thread, and `add_institution` between commits.
    write_conn: Mutex<Connection>,
    /// The WAL file, synced on its own when outbox transactions wait for an fsync and no
    /// event's commit comes to give them one.
    wal: PathBuf,
}

struct State {
    next_seq: u64,
    durable_seq: u64,
    /// Submitted, not yet taken by the writer, in seq order.
    queue: Vec<Queued>,
    /// Outcomes of deliveries, not yet taken by the writer.
    updates: Vec<NoticeUpdate>,
    /// Outbox transactions (notices after their events, delivery outcomes) the writer has
    /// taken, and committed.
    outbox_taken: u64,
    outbox_commits: u64,
    /// Outbox transactions on disk: an fsync came after them (they commit without one).
    outbox_synced: u64,
    /// Outbox transactions someone waits to see on disk.
    sync_wanted: u64,
    /// Since when someone waits (while `outbox_synced < sync_wanted`): the writer syncs for
    /// them only once `sync_grace` has passed with no event's commit to do it.
    sync_asked: Option<Instant>,
    sync_grace: Duration,
    /// fsyncs of the WAL on their own (`Work::Sync`).
    wal_syncs: u64,
    /// Institution → id → event submitted and not yet durable (or reserved by a submit
    /// that is checking the database).
    pending: HashMap<String, HashMap<String, Slot>>,
    failed: Option<String>,
    closed: bool,
    commits: u64,
    checkpoint_failures: u64,
    outbox: Outbox,
}

/// Notices written after their events, and the cursor that says how far they are written.
struct Outbox {
    /// Durable events' notices not written yet, in seq order.
    waiting: Vec<Later>,
    /// Notice rows in `waiting`.
    rows: usize,
    /// When the oldest of `waiting` began to wait.
    since: Option<Instant>,
    delay: Duration,
    /// The cursor on disk: every event up to it has its notices written.
    cursor: u64,
    /// A cursor asked for by `flush_outbox`, written once above `cursor`.
    wanted: u64,
    /// Whether the cursor may move on: only once events after it were planned again
    /// (`replanned`), or the next start would not plan them.
    moving: bool,
}

/// One event's notices, waiting to be written.
struct Later {
    seq: u64,
    at_us: i64,
    notices: Vec<NewNotice>,
    report_codes: Vec<ReportCode>,
}

impl Outbox {
    fn push(&mut self, later: Later) {
        if later.notices.is_empty() && later.report_codes.is_empty() {
            return;
        }
        self.rows += later.notices.len() + later.report_codes.len();
        self.since.get_or_insert_with(Instant::now);
        self.waiting.push(later);
    }

    /// What to write now, up to which cursor, if anything: waiting notices once the oldest
    /// has waited long enough (or they are many), and a cursor asked for or due at close.
    fn take(&mut self, durable_seq: u64, closed: bool, now: Instant) -> Option<(Vec<Later>, u64)> {
        if !self.moving {
            return None;
        }
        let asked = closed || self.wanted > self.cursor;
        let ripe = self.rows >= OUTBOX_ROWS || self.since.is_some_and(|t| now >= t + self.delay);
        if (asked && durable_seq > self.cursor) || ((asked || ripe) && !self.waiting.is_empty()) {
            self.rows = 0;
            self.since = None;
            return Some((std::mem::take(&mut self.waiting), durable_seq));
        }
        None
    }

    /// How long the writer may sleep before waiting notices are due.
    fn due_in(&self, now: Instant) -> Option<Duration> {
        (self.moving && !self.waiting.is_empty())
            .then(|| self.since.map_or(Duration::ZERO, |t| (t + self.delay).saturating_duration_since(now)))
    }
}

/// Counters for metrics and tests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StoreStats {
    /// The last seq given out (0: none).
    pub submitted_seq: u64,
    /// The last seq durable.
    pub durable_seq: u64,
    /// Transactions the writer committed since the store was opened.
    pub commits: u64,
    /// Checkpoints that failed (the WAL keeps the data; it only grows).
    pub checkpoint_failures: u64,
    /// Outbox transactions committed and not yet synced to disk.
    pub outbox_unsynced: u64,
    /// Outbox transactions (notices written after their events, delivery outcomes)
    /// committed since the store was opened; they count in `commits` too.
    pub outbox_commits: u64,
    /// fsyncs of the WAL on their own, for outbox transactions that no event's commit came
    /// to sync.
    pub wal_syncs: u64,
}

/// An event waiting for the writer, with what is written in its transaction.
struct Queued {
    event: Arc<StoredEvent>,
    notices: Vec<NewNotice>,
    report_codes: Vec<ReportCode>,
    /// The notices are written after the event (`NewEvent::notices_later`).
    later: bool,
}

enum Slot {
    Reserved,
    Pending(Arc<StoredEvent>),
}

impl State {
    fn check_open(&self) -> Result<(), StoreError> {
        match (&self.failed, self.closed) {
            (Some(why), _) => Err(StoreError::Failed(why.clone())),
            (None, true) => Err(StoreError::Closed),
            (None, false) => Ok(()),
        }
    }

    fn slot(&self, institution: &str, id: &str) -> Option<&Slot> {
        self.pending.get(institution)?.get(id)
    }

    fn remove(&mut self, institution: &str, id: &str) {
        if let Some(ids) = self.pending.get_mut(institution) {
            ids.remove(id);
            if ids.is_empty() {
                self.pending.remove(institution);
            }
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic while holding a lock leaves plain data behind (the writer marks the store
    // failed on its way out), so a poisoned lock is still usable.
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl fmt::Debug for Store {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Store").field("dir", &self.inner.dir).field("durable_seq", &self.durable_seq()).finish()
    }
}

impl Store {
    /// Opens the store in `dir`, creating the folder and the database if needed, and
    /// migrating an older schema. Fails with [`StoreError::NewerSchema`] on a database
    /// written by a newer build, and with [`StoreError::Locked`] while another `Store` (in
    /// this process or another) has the folder open.
    ///
    /// Entries without an audit chain are chained here: those of a database written before
    /// the chain existed (schema version 3 or older) get chained once, on the first open by
    /// a build that has it, all in one transaction (which reads and rewrites every entry
    /// once). Every entry from the first one without a chain on is chained, in seq order:
    /// an entry whose chain was cleared is chained anew, so only a head recorded earlier
    /// tells that the entries from there on were changed (see [`audit`]).
    pub fn open(dir: &Path) -> Result<Store, StoreError> {
        fs::create_dir_all(dir).map_err(|e| StoreError::io(dir, e))?;
        let lock_path = dir.join(LOCK_FILE);
        let lock_file =
            OpenOptions::new().create(true).truncate(false).write(true).open(&lock_path).map_err(|e| StoreError::io(&lock_path, e))?;
        match fs4::FileExt::try_lock(&lock_file) {
            Ok(()) => {}
            Err(fs4::TryLockError::WouldBlock) => return Err(StoreError::Locked { dir: dir.to_path_buf() }),
            Err(fs4::TryLockError::Error(e)) => return Err(StoreError::io(&lock_path, e)),
        }

        let db = dir.join(DB_FILE);
        let mut conn = Connection::open(&db)?;
        conn.busy_timeout(std::time::Duration::from_millis(BUSY_TIMEOUT_MS.into()))?;
        let mode: String = conn.pragma_update_and_check(None, "journal_mode", "wal", |r| r.get(0))?;
        if !mode.eq_ignore_ascii_case("wal") {
            return Err(StoreError::Corrupt(format!("journal_mode is {mode}, not wal")));
        }
        conn.pragma_update(None, "synchronous", "FULL")?;
        // Checkpoints run on their own thread, off the commit path (see `checkpointer`).
        conn.pragma_update(None, "wal_autocheckpoint", 0)?;
        conn.pragma_update(None, "journal_size_limit", WAL_SIZE_LIMIT)?;
        schema::migrate(&mut conn)?;
        let head = chain_unchained(&mut conn)?;

        let keys = load_keys(&conn)?;
        let max_seq: i64 = conn.query_row("SELECT coalesce(max(seq), 0) FROM events", [], |r| r.get(0))?;
        let max_seq = u64::try_from(max_seq).map_err(|_| StoreError::Corrupt(format!("seq {max_seq}")))?;
        let cursor: i64 = conn.query_row("SELECT seq FROM outbox_cursor WHERE one = 1", [], |r| r.get(0))?;
        let cursor = u64::try_from(cursor).map_err(|_| StoreError::Corrupt(format!("outbox cursor {cursor}")))?;
        let next_code_id: i64 = conn.query_row("SELECT coalesce(max(id), 0) + 1 FROM report_codes_by_id", [], |r| r.get(0))?;

        let shared = Arc::new(Shared {
            state: Mutex::new(State {
                next_seq: max_seq + 1,
                durable_seq: max_seq,
                queue: Vec::new(),
                updates: Vec::new(),
                outbox_taken: 0,
                outbox_commits: 0,
                outbox_synced: 0,
                wal_syncs: 0,
                sync_wanted: 0,
                sync_asked: None,
                sync_grace: DEFAULT_SYNC_GRACE,
                pending: HashMap::new(),
                failed: None,
                closed: false,
                commits: 0,
                checkpoint_failures: 0,
                outbox: Outbox { waiting: Vec::new(), rows: 0, since: None, delay: DEFAULT_OUTBOX_DELAY, cursor, wanted: 0, moving: false },
            }),
            listener: RwLock::new(None),
            work: Condvar::new(),
            durable: Condvar::new(),
            closing: Condvar::new(),
            wal_frames: AtomicI64::new(0),
            write_conn: Mutex::new(conn),
            wal: {
                let mut wal = db.clone().into_os_string();
                wal.push("-wal");
                PathBuf::from(wal)
            },
        });
        let writer = {
            let shared = Arc::clone(&shared);
            std::thread::Builder::new()
                .name("mamori-store-writer".into())
                .spawn(move || writer(&shared, head))
                .map_err(|e| StoreError::io(dir, e))?
        };
        let checkpoints = Connection::open(&db)?;
        checkpoints.busy_timeout(std::time::Duration::from_millis(BUSY_TIMEOUT_MS.into()))?;
        // A checkpoint syncs the WAL before copying it and the database file before the WAL
        // may start over, at this connection's setting.
        checkpoints.pragma_update(None, "synchronous", "FULL")?;
        let checkpointer = {
            let shared = Arc::clone(&shared);
            std::thread::Builder::new()
                .name("mamori-store-checkpoint".into())
                .spawn(move || checkpointer(&shared, &checkpoints))
                .map_err(|e| StoreError::io(dir, e))?
        };
        Ok(Store {
            inner: Arc::new(Inner {
                dir: dir.to_path_buf(),
                db,
                shared,
                writer: Mutex::new(Some(writer)),
                checkpointer: Mutex::new(Some(checkpointer)),
                readers: Mutex::new(Vec::new()),
                keys: RwLock::new(keys),
                snapshot_lock: Mutex::new(()),
                next_code_id: std::sync::atomic::AtomicU64::new(next_code_id.max(1) as u64),
                _lock: lock_file,
            }),
        })
    }

    /// The store's folder.
    pub fn dir(&self) -> &Path {
        &self.inner.dir
    }

    /// Registers an institution and returns its new API key, of which only the SHA-256 is
    /// kept. `now_us` is the registration time (µs since the epoch).
    pub fn add_institution(&self, id: &str, kind: InstitutionKind, now_us: i64) -> Result<ApiKey, StoreError> {
        check_institution_id(id)?;
        let key = ApiKey::generate()?;
        let hash = key.hash();
        {
            if lock(&self.inner.shared.state).closed {
                return Err(StoreError::Closed);
            }
            let mut conn = lock(&self.inner.shared.write_conn);
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let exists: bool = tx.query_row("SELECT EXISTS (SELECT 1 FROM institutions WHERE id = ?1)", [id], |r| r.get(0))?;
            if exists {
                return Err(StoreError::AlreadyExists(id.to_string()));
            }
            tx.execute(
                "INSERT INTO institutions (id, kind, key_hash, created_at_us) VALUES (?1, ?2, ?3, ?4)",
                params![id, kind.as_str(), &hash[..], now_us],
            )?;
            tx.execute(
                "INSERT INTO keys (key_hash, institution, role, created_us) VALUES (?1, ?2, 'admin', ?3)",
                params![&hash[..], id, now_us],
            )?;
            tx.commit()?;
        }
        let institution = Institution { id: id.to_string(), kind, created_at_us: now_us };
        self.inner.keys.write().unwrap_or_else(PoisonError::into_inner).insert(hash, Principal { institution, role: Role::Admin });
        Ok(key)
    }

    /// Adds a key with `role` for a registered institution and returns it (only its
    /// SHA-256 is kept).
    pub fn add_key(&self, institution: &str, role: Role, now_us: i64) -> Result<ApiKey, StoreError> {
        let key = ApiKey::generate()?;
        let hash = key.hash();
        let inst = {
            if lock(&self.inner.shared.state).closed {
                return Err(StoreError::Closed);
            }
            let mut conn = lock(&self.inner.shared.write_conn);
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let found: Option<(String, i64)> = tx
                .query_row("SELECT kind, created_at_us FROM institutions WHERE id = ?1", [institution], |r| Ok((r.get(0)?, r.get(1)?)))
                .optional()?;
            let Some((kind, created_at_us)) = found else {
                return Err(StoreError::UnknownInstitution(institution.to_string()));
            };
            tx.execute(
                "INSERT INTO keys (key_hash, institution, role, created_us) VALUES (?1, ?2, ?3, ?4)",
                params![&hash[..], institution, role.as_str(), now_us],
            )?;
            tx.commit()?;
            let kind = kind.parse().map_err(|e: UnknownKind| StoreError::Corrupt(e.to_string()))?;
            Institution { id: institution.to_string(), kind, created_at_us }
        };
        self.inner.keys.write().unwrap_or_else(PoisonError::into_inner).insert(hash, Principal { institution: inst, role });
        Ok(key)
    }

    /// The institution and role an API key speaks for, from memory.
    pub fn principal_by_key(&self, key: &str) -> Option<Principal> {
        let hash = key_hash(key);
        self.inner.keys.read().unwrap_or_else(PoisonError::into_inner).get(&hash).cloned()
    }

    /// The institution an API key belongs to, from memory.
    pub fn institution_by_key(&self, key: &str) -> Result<Option<Institution>, StoreError> {
        Ok(self.principal_by_key(key).map(|p| p.institution))
    }

    /// Every institution, by id.
    pub fn institutions(&self) -> Result<Vec<Institution>, StoreError> {
        self.read(|c| {
            let mut stmt = c.prepare_cached("SELECT id, kind, created_at_us FROM institutions ORDER BY id")?;
            let rows = stmt.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?, r.get::<_, i64>(2)?)))?;
            let mut out = Vec::new();
            for row in rows {
                let (id, kind, created_at_us) = row?;
                let kind = kind.parse().map_err(|e: UnknownKind| StoreError::Corrupt(e.to_string()))?;
                out.push(Institution { id, kind, created_at_us });
            }
            Ok(out)
        })
    }

    /// The event `(institution, id)`, durable or only submitted.
    pub fn lookup(&self, institution: &str, id: &str) -> Result<Option<StoredEvent>, StoreError> {
        // Pending first: an event leaves `pending` only after its commit, so one not found
        // there is either in the database or not submitted at all.
        if let Some(Slot::Pending(e)) = lock(&self.inner.shared.state).slot(institution, id) {
            return Ok(Some(StoredEvent::clone(e)));
        }
        self.read(|c| {
            let mut stmt = c.prepare_cached(&format!("SELECT {COLUMNS} FROM events WHERE institution = ?1 AND id = ?2"))?;
            stmt.query_row([institution, id], row_raw).optional()?.map(RawRow::into_event).transpose()
        })
    }

    /// Gives the events the next sequence numbers (returned in order), makes them visible
    /// to [`lookup`](Self::lookup) and queues them for the writer. Returns without waiting
    /// for the disk: call [`wait_durable`](Self::wait_durable) with the last seq before
    /// answering anyone.
    ///
    /// Refused whole, changing nothing: an event whose `(institution, id)` was submitted
    /// before or appears twice in `events` ([`StoreError::Duplicate`]); an invalid
    /// institution id, an empty id, a body or decision that is not UTF-8
    /// ([`StoreError::InvalidEvent`]); a failed or closed store.
    pub fn submit(&self, events: Vec<NewEvent>) -> Result<Vec<u64>, StoreError> {
        let shared = &self.inner.shared;
        lock(&shared.state).check_open()?;
        if events.is_empty() {
            return Ok(Vec::new());
        }
        for (index, e) in events.iter().enumerate() {
            validate(e).map_err(|reason| StoreError::InvalidEvent { index, reason })?;
        }
        let mut seen = HashSet::with_capacity(events.len());
        for e in &events {
            if !seen.insert((e.institution.as_str(), e.id.as_str())) {
                return Err(duplicate(e));
            }
        }
        drop(seen);

        // Reserve the keys, so that no concurrent submit takes them while the database is
        // asked about them outside the lock.
        {
            let mut st = lock(&shared.state);
            st.check_open()?;
            if let Some(e) = events.iter().find(|e| st.slot(&e.institution, &e.id).is_some()) {
                return Err(duplicate(e));
            }
            for e in &events {
                st.pending.entry(e.institution.clone()).or_default().insert(e.id.clone(), Slot::Reserved);
            }
        }
        let in_db = self.read(|c| {
            let mut stmt = c.prepare_cached("SELECT EXISTS (SELECT 1 FROM events WHERE institution = ?1 AND id = ?2)")?;
            for (i, e) in events.iter().enumerate() {
                if stmt.query_row([&e.institution, &e.id], |r| r.get::<_, bool>(0))? {
                    return Ok(Some(i));
                }
            }
            Ok(None)
        });

        let mut st = lock(&shared.state);
        let refused = match in_db {
            Err(e) => Some(e),
            Ok(Some(i)) => Some(duplicate(&events[i])),
            Ok(None) => st.check_open().err(),
        };
        if let Some(err) = refused {
            for e in &events {
                if let Some(Slot::Reserved) = st.slot(&e.institution, &e.id) {
                    st.remove(&e.institution, &e.id);
                }
            }
            return Err(err);
        }
        let n = events.len() as u64;
        let first = st.next_seq;
        st.next_seq += n;
        st.queue.reserve(events.len());
        for (seq, e) in (first..).zip(events) {
            let (event, notices, report_codes, later) = StoredEvent::new(seq, e);
            let event = Arc::new(event);
            if let Some(ids) = st.pending.get_mut(&event.institution) {
                ids.insert(event.id.clone(), Slot::Pending(Arc::clone(&event)));
            }
            st.queue.push(Queued { event, notices, report_codes, later });
        }
        drop(st);
        shared.work.notify_one();
        Ok((first..first + n).collect())
    }

    /// Blocks until every event with a seq up to `seq` is committed and synced to disk.
    /// Errors: [`StoreError::Failed`] if a commit failed first; [`StoreError::NotSubmitted`]
    /// for a seq not yet given out.
    pub fn wait_durable(&self, seq: u64) -> Result<(), StoreError> {
        let shared = &self.inner.shared;
        let mut st = lock(&shared.state);
        loop {
            if st.durable_seq >= seq {
                return Ok(());
            }
            if let Some(why) = &st.failed {
                return Err(StoreError::Failed(why.clone()));
            }
            if seq >= st.next_seq {
                return Err(StoreError::NotSubmitted(seq));
            }
            st = shared.durable.wait(st).unwrap_or_else(PoisonError::into_inner);
        }
    }

    /// The highest seq up to which every event is durable (0: none).
    pub fn durable_seq(&self) -> u64 {
        lock(&self.inner.shared.state).durable_seq
    }

    /// Counters: seqs given out and durable, commits so far.
    pub fn stats(&self) -> StoreStats {
        let st = lock(&self.inner.shared.state);
        StoreStats {
            submitted_seq: st.next_seq - 1,
            durable_seq: st.durable_seq,
            commits: st.commits,
            checkpoint_failures: st.checkpoint_failures,
            outbox_unsynced: st.outbox_commits - st.outbox_synced,
            outbox_commits: st.outbox_commits,
            wal_syncs: st.wal_syncs,
        }
    }

    /// Records what became of deliveries, in the writer's next outbox transaction (never in
    /// an event's: only while no events wait), and returns once that is committed. An
    /// outcome lost in a crash before this returns means the notice is delivered again:
    /// delivery is at least once, and every delivery carries the notice's id for the
    /// receiver to drop a repeat.
    pub fn record_deliveries(&self, updates: Vec<NoticeUpdate>) -> Result<(), StoreError> {
        if updates.is_empty() {
            return Ok(());
        }
        let shared = &self.inner.shared;
        let mut st = lock(&shared.state);
        st.check_open()?;
        st.updates.extend(updates);
        // The next outbox transaction the writer takes carries them; wait for its commit.
        let ticket = st.outbox_taken + 1;
        shared.work.notify_one();
        loop {
            if st.outbox_commits >= ticket {
                return Ok(());
            }
            if let Some(why) = &st.failed {
                return Err(StoreError::Failed(why.clone()));
            }
            if st.closed && st.updates.is_empty() && st.outbox_taken < ticket {
                return Err(StoreError::Closed);
            }
            st = shared.durable.wait(st).unwrap_or_else(PoisonError::into_inner);
        }
    }

    /// Every event up to this seq has its notices written (as of the last outbox write, or
    /// of the open). The notices of later events that were to be written after them
    /// (`NewEvent::notices_later`) may be lost to a crash: whoever made them plans them
    /// again with [`replan`](Self::replan), then calls [`replanned`](Self::replanned).
    pub fn outbox_cursor(&self) -> u64 {
        lock(&self.inner.shared.state).outbox.cursor
    }

    /// Queues the notices of the durable event `seq` (received at `at_us`), planned again
    /// after a restart because the event is past [`outbox_cursor`](Self::outbox_cursor).
    pub fn replan(&self, seq: u64, at_us: i64, notices: Vec<NewNotice>, report_codes: Vec<ReportCode>) {
        lock(&self.inner.shared.state).outbox.push(Later { seq, at_us, notices, report_codes });
    }

    /// Says that every event past the cursor was planned again: from now on the outbox
    /// writes and moves its cursor. Until then nothing written after its event is written,
    /// and the cursor stays where it is, so that the next start plans those events.
    pub fn replanned(&self) {
        lock(&self.inner.shared.state).outbox.moving = true;
        self.inner.shared.work.notify_one();
    }

    /// How long notices written after their events wait, at most, to share a transaction.
    pub fn set_outbox_delay(&self, delay: Duration) {
        lock(&self.inner.shared.state).outbox.delay = delay;
        self.inner.shared.work.notify_one();
    }

    /// How long a reader that must see outbox transactions on disk ([`due_notices`],
    /// [`flush_outbox`]) waits for an event's commit to sync them before the writer syncs
    /// the WAL for it alone ([`DEFAULT_SYNC_GRACE`] unless set).
    ///
    /// [`due_notices`]: Self::due_notices
    /// [`flush_outbox`]: Self::flush_outbox
    pub fn set_sync_grace(&self, grace: Duration) {
        lock(&self.inner.shared.state).sync_grace = grace;
        self.inner.shared.work.notify_one();
    }

    /// Calls `f` (on the writer's thread: it must be quick) after every commit that wrote
    /// notices.
    pub fn set_notice_listener(&self, f: impl Fn() + Send + Sync + 'static) {
        *self.inner.shared.listener.write().unwrap_or_else(PoisonError::into_inner) = Some(Arc::new(f));
    }

    /// Blocks until every event up to `seq` is durable with its notices written, and the
    /// outbox cursor on disk says so (once the outbox moves, see
    /// [`replanned`](Self::replanned); until then, until the events are durable).
    pub fn flush_outbox(&self, seq: u64) -> Result<(), StoreError> {
        self.wait_durable(seq)?;
        let shared = &self.inner.shared;
        let mut st = lock(&shared.state);
        if !st.outbox.moving {
            return Ok(());
        }
        st.outbox.wanted = st.outbox.wanted.max(seq);
        shared.work.notify_one();
        while st.outbox.cursor < seq {
            st.check_open()?;
            st = shared.durable.wait(st).unwrap_or_else(PoisonError::into_inner);
        }
        drop(st);
        self.sync_outbox()
    }

    /// Blocks until every outbox transaction committed so far is on disk: at once when an
    /// event's commit came after it (its fsync covers the whole WAL), or else once the
    /// writer has synced the WAL for them.
    fn sync_outbox(&self) -> Result<(), StoreError> {
        let shared = &self.inner.shared;
        let mut st = lock(&shared.state);
        let target = st.outbox_commits;
        if st.outbox_synced >= target {
            return Ok(());
        }
        st.sync_wanted = st.sync_wanted.max(target);
        st.sync_asked.get_or_insert_with(Instant::now);
        shared.work.notify_one();
        while st.outbox_synced < target {
            st.check_open()?;
            st = shared.durable.wait(st).unwrap_or_else(PoisonError::into_inner);
        }
        Ok(())
    }

    /// Pending notices due at `now_us`, oldest first, at most `limit`: only notices on disk
    /// (it waits for the outbox's last transactions to be synced), so that none is
    /// delivered and then lost to a power cut.
    pub fn due_notices(&self, now_us: i64, limit: usize) -> Result<Vec<Notice>, StoreError> {
        self.sync_outbox()?;
        self.read(|c| {
            let mut stmt = c.prepare_cached(&due_sql(limit))?;
            let rows = stmt.query_map(params![now_us], notice_row)?;
            rows.map(|r| r.map_err(StoreError::from).and_then(|r| r)).collect()
        })
    }

    /// When the next pending notice falls due, if any is pending.
    pub fn next_notice_due(&self) -> Result<Option<i64>, StoreError> {
        self.read(|c| Ok(c.query_row("SELECT min(next_at_us) FROM notices WHERE status = 'pending'", [], |r| r.get(0))?))
    }

    /// How far delivery is behind at `now_us`: the pending notices due by then, and when the
    /// oldest of them fell due. Counts what is committed, on disk or not.
    pub fn notice_backlog(&self, now_us: i64) -> Result<(u64, Option<i64>), StoreError> {
        self.read(|c| {
            let (count, oldest): (i64, Option<i64>) = c.query_row(
                "SELECT count(*), min(next_at_us) FROM notices WHERE status = 'pending' AND next_at_us <= ?1",
                [now_us],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )?;
            Ok((u64::try_from(count).unwrap_or(0), oldest))
        })
    }

    /// `institution`'s notices, newest first, of one status or all, at most `limit`.
    pub fn notices(&self, institution: &str, status: Option<NoticeStatus>, limit: usize) -> Result<Vec<Notice>, StoreError> {
        self.flush_outbox(self.stats().submitted_seq)?;
        self.read(|c| {
            let mut stmt = c.prepare_cached(&format!(
                "SELECT {NOTICE_COLUMNS} FROM notices WHERE institution = ?1 AND (?2 IS NULL OR status = ?2) ORDER BY id DESC LIMIT ?3"
            ))?;
            let rows = stmt.query_map(params![institution, status.map(NoticeStatus::as_str), limit as i64], notice_row)?;
            rows.map(|r| r.map_err(StoreError::from).and_then(|r| r)).collect()
        })
    }

    /// The notices caused by the event of seq `seq`.
    pub fn notices_of(&self, seq: u64) -> Result<Vec<Notice>, StoreError> {
        self.flush_outbox(seq)?;
        self.read(|c| {
            let mut stmt = c.prepare_cached(&format!("SELECT {NOTICE_COLUMNS} FROM notices WHERE seq = ?1 ORDER BY id"))?;
            let rows = stmt.query_map([seq as i64], notice_row)?;
            rows.map(|r| r.map_err(StoreError::from).and_then(|r| r)).collect()
        })
    }

    /// One notice by id.
    pub fn notice(&self, id: i64) -> Result<Option<Notice>, StoreError> {
        self.flush_outbox(self.stats().submitted_seq)?;
        self.read(|c| {
            let mut stmt = c.prepare_cached(&format!("SELECT {NOTICE_COLUMNS} FROM notices WHERE id = ?1"))?;
            stmt.query_row([id], notice_row).optional()?.transpose()
        })
    }

    /// An id for a new report code, never given out before by this store (an id given out
    /// for a code that a crash lost before it was written may be given again: that code
    /// was never sent).
    pub fn next_report_code_id(&self) -> u64 {
        self.inner.next_code_id.fetch_add(1, Ordering::Relaxed)
    }

    /// The report code with id `id` (or, without one, an older code found by its hash) if
    /// one was handed out with this SHA-256 (used or not, expired or not: the caller
    /// decides).
    pub fn report_code(&self, id: Option<u64>, hash: &[u8; 32]) -> Result<Option<ReportCode>, StoreError> {
        let row = |r: &rusqlite::Row<'_>| -> rusqlite::Result<(Vec<u8>, ReportCode)> {
            Ok((
                r.get(0)?,
                ReportCode {
                    id,
                    hash: *hash,
                    institution: r.get(1)?,
                    subject: r.get::<_, String>(2)?.into_bytes(),
                    expires_us: r.get(3)?,
                    created_us: r.get(4)?,
                },
            ))
        };
        let found = self.read(|c| match id {
            Some(id) => {
                let Ok(id) = i64::try_from(id) else { return Ok(None) };
                let mut stmt = c.prepare_cached(
                    "SELECT code_hash, institution, subject, expires_us, created_us FROM report_codes_by_id WHERE id = ?1",
                )?;
                Ok::<_, StoreError>(stmt.query_row([id], row).optional()?)
            }
            None => {
                let mut stmt = c.prepare_cached(
                    "SELECT code_hash, institution, subject, expires_us, created_us FROM report_codes WHERE code_hash = ?1",
                )?;
                Ok(stmt.query_row([&hash[..]], row).optional()?)
            }
        })?;
        Ok(found.filter(|(stored, _)| stored.as_slice() == hash.as_slice()).map(|(_, code)| code))
    }

    /// Sets `institution`'s webhook endpoint and signing secret (committed when this
    /// returns).
    pub fn set_webhook(&self, institution: &str, endpoint: &WebhookEndpoint) -> Result<(), StoreError> {
        check_institution_id(institution)?;
        lock(&self.inner.shared.state).check_open()?;
        let conn = lock(&self.inner.shared.write_conn);
        conn.execute(
            "INSERT INTO webhooks (institution, url, secret, updated_us) VALUES (?1, ?2, ?3, ?4) \
             ON CONFLICT (institution) DO UPDATE SET url = excluded.url, secret = excluded.secret, updated_us = excluded.updated_us",
            params![institution, endpoint.url, endpoint.secret, endpoint.updated_us],
        )?;
        Ok(())
    }

    /// The institutions that set a webhook endpoint.
    pub fn webhook_institutions(&self) -> Result<Vec<String>, StoreError> {
        self.read(|c| {
            let mut stmt = c.prepare_cached("SELECT institution FROM webhooks ORDER BY institution")?;
            let rows = stmt.query_map([], |r| r.get::<_, String>(0))?;
            Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
        })
    }

    /// `institution`'s webhook endpoint, if it set one.
    pub fn webhook(&self, institution: &str) -> Result<Option<WebhookEndpoint>, StoreError> {
        self.read(|c| {
            let mut stmt = c.prepare_cached("SELECT url, secret, updated_us FROM webhooks WHERE institution = ?1")?;
            Ok(stmt
                .query_row([institution], |r| Ok(WebhookEndpoint { url: r.get(0)?, secret: r.get(1)?, updated_us: r.get(2)? }))
                .optional()?)
        })
    }

    /// Calls `f` with every durable event whose seq is at least `from_seq`, in seq order,
    /// from one consistent read of the database. Stops at the first error of `f`.
    pub fn scan<E>(&self, from_seq: u64, f: impl FnMut(StoredEvent) -> Result<(), E>) -> Result<(), ScanError<E>> {
        self.read(|c| scan_with(c, from_seq, f))
    }

    /// Like [`Store::scan`], for a store that another process (a running service) may
    /// have open: no lock is taken and nothing is written. The events are those durable
    /// when the read began. Fails on a folder with no store or a store of another schema
    /// version.
    pub fn scan_dir<E>(dir: &Path, from_seq: u64, f: impl FnMut(StoredEvent) -> Result<(), E>) -> Result<(), ScanError<E>> {
        let conn = open_dir(dir)?;
        scan_with(&conn, from_seq, f)
    }

    /// Checks the audit chain of the store in `dir` (see [`audit`]): recomputes it over
    /// every entry in seq order and returns the head, or the first break: a missing entry
    /// (a gap in the seqs, or a first seq that is not 1), an altered one (its stored chain
    /// is not the recomputed one, or its body is not the one its hash was taken of), one
    /// without a chain. With `expect` (a head `(seq, chain)` recorded earlier) it also
    /// reports a chain that ends before that seq ([`Broken::Truncated`]) or holds another
    /// chain at it ([`Broken::HeadMismatch`]).
    ///
    /// Like [`Store::scan_dir`]: for a store that a running service may hold open, read
    /// in one read transaction, without the lock, writing nothing; the entries are those
    /// durable when the read began. The outer error is the store's (no store there, a
    /// database of another schema version, an unreadable row).
    pub fn verify_dir(dir: &Path, expect: Option<(u64, [u8; 32])>) -> Result<Result<Verified, Broken>, StoreError> {
        let conn = open_dir(dir)?;
        let tx = conn.unchecked_transaction()?;
        let mut stmt = tx.prepare(&format!("SELECT {COLUMNS}, chain FROM events ORDER BY seq"))?;
        let mut rows = stmt.query([])?;
        let mut verifier = Verifier::new(expect);
        while let Some(r) = rows.next()? {
            let chain: Option<Vec<u8>> = r.get(9)?;
            let event = row_raw(r)?.into_event()?;
            if let Err(broken) = verifier.check(&audit::Row { event, chain }) {
                return Ok(Err(broken));
            }
        }
        Ok(verifier.finish())
    }

    /// Saves opaque bytes (the feature state as of `seq`) as the newest snapshot, keeping
    /// the two newest. Waits until `seq` is durable with its notices written first, so a
    /// snapshot is never ahead of the events it summarises, nor of the outbox cursor (a
    /// start plans again only events after both).
    pub fn save_snapshot(&self, seq: u64, bytes: &[u8]) -> Result<(), StoreError> {
        self.flush_outbox(seq)?;
        let _one_at_a_time = lock(&self.inner.snapshot_lock);
        snapshot::save(&self.inner.dir, seq, bytes)
    }

    /// The newest intact snapshot and its seq, if any.
    pub fn latest_snapshot(&self) -> Result<Option<(u64, Vec<u8>)>, StoreError> {
        let _one_at_a_time = lock(&self.inner.snapshot_lock);
        snapshot::latest(&self.inner.dir, self.durable_seq())
    }

    /// Writes everything submitted, stops the writer and reports whether all of it became
    /// durable. Other clones of this handle can still read; they can no longer submit.
    pub fn close(self) -> Result<(), StoreError> {
        self.inner.shutdown()
    }

    /// Runs `f` on a read connection of the pool (opened on demand).
    fn read<T, E: From<StoreError>>(&self, f: impl FnOnce(&Connection) -> Result<T, E>) -> Result<T, E> {
        let conn = lock(&self.inner.readers).pop();
        let conn = match conn {
            Some(c) => c,
            None => open_reader(&self.inner.db)?,
        };
        let out = f(&conn);
        let mut idle = lock(&self.inner.readers);
        if idle.len() < MAX_IDLE_READERS {
            idle.push(conn);
        }
        out
    }
}

impl Inner {
    fn shutdown(&self) -> Result<(), StoreError> {
        lock(&self.shared.state).closed = true;
        self.shared.work.notify_all();
        self.shared.closing.notify_all();
        // The writer catches its own failures; a panic is recorded by its guard. The
        // checkpointer only saves WAL space: SQLite checkpoints when the last connection
        // closes anyway.
        for thread in [&self.writer, &self.checkpointer] {
            let handle = lock(thread).take();
            if let Some(handle) = handle {
                let _ = handle.join();
            }
        }
        match &lock(&self.shared.state).failed {
            Some(why) => Err(StoreError::Failed(why.clone())),
            None => Ok(()),
        }
    }
}

impl Drop for Inner {
    fn drop(&mut self) {
        let _ = self.shutdown();
    }
}

fn duplicate(e: &NewEvent) -> StoreError {
    StoreError::Duplicate { institution: e.institution.clone(), id: e.id.clone() }
}

fn validate(e: &NewEvent) -> Result<(), String> {
    if !is_valid_institution_id(&e.institution) {
        return Err(format!("institution {:?} is not a valid institution id", e.institution));
    }
    if e.id.is_empty() {
        return Err("empty id".into());
    }
    if std::str::from_utf8(&e.body).is_err() {
        return Err("body is not UTF-8".into());
    }
    if std::str::from_utf8(&e.decision).is_err() {
        return Err("decision is not UTF-8".into());
    }
    Ok(())
}

/// Every event from `from_seq` on, in seq order, from one read transaction of `conn`.
fn scan_with<E>(conn: &Connection, from_seq: u64, mut f: impl FnMut(StoredEvent) -> Result<(), E>) -> Result<(), ScanError<E>> {
    let from = i64::try_from(from_seq).unwrap_or(i64::MAX);
    let tx = conn.unchecked_transaction().map_err(StoreError::from)?;
    let mut stmt = tx.prepare_cached(&format!("SELECT {COLUMNS} FROM events WHERE seq >= ?1 ORDER BY seq")).map_err(StoreError::from)?;
    let mut rows = stmt.query([from]).map_err(StoreError::from)?;
    while let Some(row) = rows.next().map_err(StoreError::from)? {
        let event = row_raw(row).map_err(StoreError::from)?.into_event()?;
        f(event).map_err(ScanError::Callback)?;
    }
    Ok(())
}

/// A read connection to the store in `dir`, which another process may hold open (no lock
/// taken). Fails on a folder with no store and on a database of another schema version.
fn open_dir(dir: &Path) -> Result<Connection, StoreError> {
    let db = dir.join(DB_FILE);
    if !db.is_file() {
        return Err(StoreError::io(&db, std::io::Error::new(std::io::ErrorKind::NotFound, "no mamori store here")));
    }
    let conn = open_reader(&db)?;
    let version: i64 = conn.pragma_query_value(None, "user_version", |r| r.get(0))?;
    if version > schema::SCHEMA_VERSION {
        return Err(StoreError::NewerSchema { found: version, supported: schema::SCHEMA_VERSION });
    }
    if version < schema::SCHEMA_VERSION {
        return Err(StoreError::Corrupt(format!(
            "schema version {version}, older than this build's ({}): open it once with this build (mamori serve) to migrate it",
            schema::SCHEMA_VERSION
        )));
    }
    Ok(conn)
}

/// Rows chained per round of [`chain_unchained`].
const CHAIN_ROUND: i64 = 1_024;

/// Chains every entry from the first one without a chain on, in seq order, in one
/// transaction (see [`Store::open`]); returns the chain of the newest entry ([`GENESIS`]
/// when there is none), from which the writer goes on.
fn chain_unchained(conn: &mut Connection) -> Result<[u8; 32], StoreError> {
    // The partial index `events_unchained` holds exactly the rows without a chain.
    let first: Option<i64> = conn.query_row("SELECT min(seq) FROM events WHERE chain IS NULL", [], |r| r.get(0))?;
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    if let Some(first) = first {
        let before: Option<(i64, Option<Vec<u8>>)> = tx
            .query_row("SELECT seq, chain FROM events WHERE seq < ?1 ORDER BY seq DESC LIMIT 1", [first], |r| Ok((r.get(0)?, r.get(1)?)))
            .optional()?;
        let mut prev = match before {
            None => GENESIS,
            Some((seq, chain)) => chain_of(seq, chain)?,
        };
        let mut select = tx.prepare(&format!("SELECT {COLUMNS} FROM events WHERE seq >= ?1 ORDER BY seq LIMIT ?2"))?;
        let mut update = tx.prepare("UPDATE events SET chain = ?1 WHERE seq = ?2")?;
        let mut from = first;
        loop {
            // In rounds: no row is updated while a read of the table is under way.
            let round = select.query_map([from, CHAIN_ROUND], row_raw)?.collect::<rusqlite::Result<Vec<_>>>()?;
            let Some(last) = round.last() else { break };
            from = last.seq + 1;
            for raw in round {
                let e = raw.into_event()?;
                prev = audit::link(&prev, &e);
                update.execute(params![&prev[..], e.seq as i64])?;
            }
        }
    }
    let newest: Option<(i64, Option<Vec<u8>>)> =
        tx.query_row("SELECT seq, chain FROM events ORDER BY seq DESC LIMIT 1", [], |r| Ok((r.get(0)?, r.get(1)?))).optional()?;
    let head = match newest {
        None => GENESIS,
        Some((seq, chain)) => chain_of(seq, chain)?,
    };
    tx.commit()?;
    Ok(head)
}

fn chain_of(seq: i64, chain: Option<Vec<u8>>) -> Result<[u8; 32], StoreError> {
    chain.and_then(|c| c.try_into().ok()).ok_or_else(|| StoreError::Corrupt(format!("no audit chain at seq {seq}")))
}

/// The query of [`Store::due_notices`], with its limit written in: a bound `LIMIT` after an
/// `ORDER BY` makes SQLite prepare the statement again at every run (its planner reads the
/// limit), which was a third of the courier's reading of the outbox.
fn due_sql(limit: usize) -> String {
    format!("SELECT {NOTICE_COLUMNS} FROM notices WHERE status = 'pending' AND next_at_us <= ?1 ORDER BY next_at_us, id LIMIT {limit}")
}

fn open_reader(db: &Path) -> Result<Connection, StoreError> {
    let conn = Connection::open_with_flags(db, OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX)?;
    conn.busy_timeout(std::time::Duration::from_millis(BUSY_TIMEOUT_MS.into()))?;
    conn.pragma_update(None, "query_only", true)?;
    Ok(conn)
}

fn load_keys(conn: &Connection) -> Result<HashMap<[u8; 32], Principal>, StoreError> {
    let mut stmt =
        conn.prepare("SELECT i.id, i.kind, k.key_hash, i.created_at_us, k.role FROM keys k JOIN institutions i ON i.id = k.institution")?;
    let mut rows = stmt.query([])?;
    let mut keys = HashMap::new();
    while let Some(r) = rows.next()? {
        let id: String = r.get(0)?;
        let kind: String = r.get(1)?;
        let hash: Vec<u8> = r.get(2)?;
        let kind = kind.parse().map_err(|e: UnknownKind| StoreError::Corrupt(e.to_string()))?;
        let hash: [u8; 32] = hash.try_into().map_err(|_| StoreError::Corrupt(format!("key hash of {id}")))?;
        let role: String = r.get(4)?;
        let role = role.parse().map_err(StoreError::Corrupt)?;
        keys.insert(hash, Principal { institution: Institution { id, kind, created_at_us: r.get(3)? }, role });
    }
    Ok(keys)
}

const COLUMNS: &str = "seq, institution, id, event_type, time_us, received_us, body, body_hash, decision";

const NOTICE_COLUMNS: &str =
    "id, seq, institution, channel, target, payload, status, attempts, next_at_us, last_error, created_us, done_us";

fn notice_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Result<Notice, StoreError>> {
    let channel: String = r.get(3)?;
    let status: String = r.get(6)?;
    let seq: i64 = r.get(1)?;
    let attempts: i64 = r.get(7)?;
    let (Some(channel), Some(status)) = (Channel::parse(&channel), NoticeStatus::parse(&status)) else {
        return Ok(Err(StoreError::Corrupt(format!("notice with channel {channel:?} and status {status:?}"))));
    };
    Ok(Ok(Notice {
        id: r.get(0)?,
        seq: u64::try_from(seq).unwrap_or(0),
        institution: r.get(2)?,
        channel,
        target: r.get(4)?,
        payload: r.get::<_, String>(5)?.into_bytes(),
        status,
        attempts: u32::try_from(attempts).unwrap_or(u32::MAX),
        next_at_us: r.get(8)?,
        last_error: r.get(9)?,
        created_us: r.get(10)?,
        done_us: r.get(11)?,
    }))
}

/// A row as SQLite hands it over, checked into a [`StoredEvent`] by `into_event`.
struct RawRow {
    seq: i64,
    institution: String,
    id: String,
    event_type: String,
    time_us: i64,
    received_us: i64,
    body: String,
    body_hash: Vec<u8>,
    decision: String,
}

fn row_raw(r: &rusqlite::Row<'_>) -> rusqlite::Result<RawRow> {
    Ok(RawRow {
        seq: r.get(0)?,
        institution: r.get(1)?,
        id: r.get(2)?,
        event_type: r.get(3)?,
        time_us: r.get(4)?,
        received_us: r.get(5)?,
        body: r.get(6)?,
        body_hash: r.get(7)?,
        decision: r.get(8)?,
    })
}

impl RawRow {
    fn into_event(self) -> Result<StoredEvent, StoreError> {
        let seq = u64::try_from(self.seq).map_err(|_| StoreError::Corrupt(format!("seq {}", self.seq)))?;
        let body_hash = self.body_hash.try_into().map_err(|_| StoreError::Corrupt(format!("body hash of seq {seq}")))?;
        Ok(StoredEvent {
            seq,
            institution: self.institution,
            id: self.id,
            event_type: self.event_type,
            time_us: self.time_us,
            received_us: self.received_us,
            body: self.body.into_bytes(),
            body_hash,
            decision: self.decision.into_bytes(),
        })
    }
}

/// What the writer does next.
enum Work {
    /// Events, with the notices written with them.
    Events(Vec<Queued>),
    /// Notices written after their events with the cursor they take the outbox to, and
    /// delivery outcomes; synced (`true`) or not.
    Outbox(Vec<Later>, Option<u64>, Vec<NoticeUpdate>, bool),
    /// An fsync of the WAL for outbox transactions committed without one.
    Sync,
}

/// The writer thread: one transaction per wake-up with every event queued; notices written
/// after their events and delivery outcomes in transactions of their own, only while no
/// events wait. `head` is the audit chain of the newest durable entry.
fn writer(shared: &Shared, mut head: [u8; 32]) {
    let _guard = PanicGuard(shared);
    // Event commits in a row while outbox work waited: events never wait for the outbox,
    // unless they come so fast that it would wait for ever.
    let mut passed = 0;
    loop {
        let work = {
            let mut st = lock(&shared.state);
            loop {
                let outbox_waits = !st.updates.is_empty() || !st.outbox.waiting.is_empty();
                if !st.queue.is_empty() && (!outbox_waits || passed < MAX_PASSED) {
                    passed = if outbox_waits { passed + 1 } else { 0 };
                    break Work::Events(std::mem::take(&mut st.queue));
                }
                let now = Instant::now();
                let (durable, closed) = (st.durable_seq, st.closed);
                let sync_due = closed || (st.outbox_synced < st.sync_wanted && st.sync_asked.is_some_and(|t| now >= t + st.sync_grace));
                let notices = st.outbox.take(durable, closed, now);
                if notices.is_some() || !st.updates.is_empty() {
                    passed = 0;
                    st.outbox_taken += 1;
                    let (later, cursor) = notices.map_or((Vec::new(), None), |(l, c)| (l, Some(c)));
                    // Synced when someone waits for the disk, at close, and for an
                    // operator's retry (answered as done).
                    let sync = sync_due || st.updates.iter().any(|u| matches!(u, NoticeUpdate::Retry { .. }));
                    break Work::Outbox(later, cursor, std::mem::take(&mut st.updates), sync);
                }
                if !st.queue.is_empty() {
                    // The outbox's notices are not due yet.
                    break Work::Events(std::mem::take(&mut st.queue));
                }
                if st.outbox_synced < st.outbox_commits && sync_due {
                    break Work::Sync;
                }
                if st.closed {
                    return;
                }
                let sync_in = (st.outbox_synced < st.sync_wanted)
                    .then(|| st.sync_asked.map_or(Duration::ZERO, |t| (t + st.sync_grace).saturating_duration_since(now)));
                st = match st.outbox.due_in(now).into_iter().chain(sync_in).min() {
                    Some(wait) => shared.work.wait_timeout(st, wait).unwrap_or_else(PoisonError::into_inner).0,
                    None => shared.work.wait(st).unwrap_or_else(PoisonError::into_inner),
                };
            }
        };
        let (written, wrote_notices) = match &work {
            Work::Events(batch) => {
                let written = write_batch(&mut lock(&shared.write_conn), batch, &head).map_err(|e| e.to_string());
                (written, batch.iter().any(|q| !q.later && !q.notices.is_empty()))
            }
            Work::Outbox(later, cursor, updates, sync) => (
                write_outbox(&mut lock(&shared.write_conn), later, *cursor, updates, *sync).map(|()| head).map_err(|e| e.to_string()),
                later.iter().any(|l| !l.notices.is_empty()),
            ),
            // The writer's own thread: nothing writes the WAL meanwhile.
            Work::Sync => (File::open(&shared.wal).and_then(|f| f.sync_data()).map(|()| head).map_err(|e| e.to_string()), false),
        };
        let mut st = lock(&shared.state);
        match (written, work) {
            (Ok(chained), Work::Events(batch)) => {
                // Only once committed: after a failed commit the store stops anyway.
                head = chained;
                if let Some(last) = batch.last() {
                    st.durable_seq = last.event.seq;
                }
                st.commits += 1;
                // Its fsync covered the whole WAL, the outbox's transactions before it too.
                st.outbox_synced = st.outbox_commits;
                for q in batch {
                    st.remove(&q.event.institution, &q.event.id);
                    if q.later {
                        let at_us = q.event.received_us;
                        st.outbox.push(Later { seq: q.event.seq, at_us, notices: q.notices, report_codes: q.report_codes });
                    }
                }
            }
            (Ok(_), Work::Outbox(_, cursor, _, sync)) => {
                if let Some(c) = cursor {
                    st.outbox.cursor = c;
                }
                st.commits += 1;
                st.outbox_commits += 1;
                if sync {
                    st.outbox_synced = st.outbox_commits;
                }
            }
            (Ok(_), Work::Sync) => {
                st.outbox_synced = st.outbox_commits;
                st.wal_syncs += 1;
            }
            (Err(e), work) => {
                let what = match work {
                    Work::Events(batch) => match (batch.first(), batch.last()) {
                        (Some(a), Some(b)) => format!("commit of seqs {}..={}", a.event.seq, b.event.seq),
                        _ => "commit of no events".to_string(),
                    },
                    Work::Outbox(later, _, updates, _) => {
                        format!("commit of the notices of {} events and of {} delivery outcomes", later.len(), updates.len())
                    }
                    Work::Sync => format!("fsync of {}", shared.wal.display()),
                };
                fail(&mut st, format!("{what}: {e}"));
                drop(st);
                shared.durable.notify_all();
                return;
            }
        }
        if st.outbox_synced >= st.sync_wanted {
            st.sync_asked = None;
        }
        drop(st);
        shared.durable.notify_all();
        if wrote_notices {
            let listener = shared.listener.read().unwrap_or_else(PoisonError::into_inner).clone();
            if let Some(f) = listener {
                f();
            }
        }
        let frames = shared.wal_frames.load(Ordering::Relaxed);
        if frames > WAL_RESET_FRAMES || (frames > WAL_RESET_IDLE_FRAMES && lock(&shared.state).queue.is_empty()) {
            // After the waiters were woken: only events queued meanwhile wait. Most of the
            // WAL was copied by the checkpointer already; if this copies the rest, the next
            // commit starts the WAL over.
            if let Ok(true) = checkpoint(&lock(&shared.write_conn), shared) {
                shared.wal_frames.store(0, Ordering::Relaxed);
            }
        }
    }
}

/// A passive checkpoint: copies what it can of the WAL into the database file, never waiting
/// for (nor blocking) the writer. Returns whether the whole WAL is copied.
fn checkpoint(conn: &Connection, shared: &Shared) -> rusqlite::Result<bool> {
    let (busy, log, copied) =
        conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, i64>(1)?, r.get::<_, i64>(2)?)))?;
    shared.wal_frames.store(log, Ordering::Relaxed);
    Ok(busy == 0 && log == copied)
}

/// The checkpointer thread: a passive checkpoint every `CHECKPOINT_EVERY`, so that commits
/// rarely copy anything themselves.
fn checkpointer(shared: &Shared, conn: &Connection) {
    let mut st = lock(&shared.state);
    while !st.closed {
        st = shared.closing.wait_timeout(st, CHECKPOINT_EVERY).unwrap_or_else(PoisonError::into_inner).0;
        if st.closed {
            break;
        }
        drop(st);
        let done = checkpoint(conn, shared);
        st = lock(&shared.state);
        if done.is_err() {
            st.checkpoint_failures += 1;
        }
    }
}

fn fail(st: &mut State, why: String) {
    st.failed.get_or_insert(why);
    st.queue.clear();
    st.pending.clear();
    st.outbox.waiting.clear();
}

/// Marks the store failed if the writer thread unwinds, so that no waiter blocks forever.
struct PanicGuard<'a>(&'a Shared);

impl Drop for PanicGuard<'_> {
    fn drop(&mut self) {
        if std::thread::panicking() {
            fail(&mut lock(&self.0.state), "the writer thread panicked".into());
            self.0.durable.notify_all();
        }
    }
}

/// A replacement payload as SQLite text.
fn utf8(payload: &Option<Vec<u8>>) -> rusqlite::Result<Option<&str>> {
    payload.as_deref().map(std::str::from_utf8).transpose().map_err(|err| rusqlite::Error::Utf8Error(3, err))
}

/// Writes the notices of the event `seq` (received at `at_us`) and their report codes.
fn insert_notices(
    tx: &rusqlite::Transaction<'_>,
    seq: u64,
    at_us: i64,
    notices: &[NewNotice],
    codes: &[ReportCode],
) -> rusqlite::Result<()> {
    let mut notice = tx.prepare_cached(
        "INSERT INTO notices (seq, institution, channel, target, payload, status, attempts, next_at_us, created_us) \
         VALUES (?1, ?2, ?3, ?4, ?5, 'pending', 0, ?6, ?6)",
    )?;
    for n in notices {
        let payload = std::str::from_utf8(&n.payload).map_err(|err| rusqlite::Error::Utf8Error(5, err))?;
        notice.execute(params![seq as i64, n.institution, n.channel.as_str(), n.target, payload, at_us])?;
    }
    for c in codes {
        let subject = std::str::from_utf8(&c.subject).map_err(|err| rusqlite::Error::Utf8Error(3, err))?;
        match c.id {
            Some(id) => tx
                .prepare_cached(
                    "INSERT INTO report_codes_by_id (id, code_hash, institution, subject, expires_us, created_us) \
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                )?
                .execute(params![id as i64, &c.hash[..], c.institution, subject, c.expires_us, c.created_us])?,
            None => tx
                .prepare_cached(
                    "INSERT INTO report_codes (code_hash, institution, subject, expires_us, created_us) VALUES (?1, ?2, ?3, ?4, ?5)",
                )?
                .execute(params![&c.hash[..], c.institution, subject, c.expires_us, c.created_us])?,
        };
    }
    Ok(())
}

/// Writes and commits the notices of events already durable with the outbox cursor they
/// take it to, and delivery outcomes; with an fsync only if `sync` (the next event's
/// commit syncs the WAL anyway).
fn write_outbox(conn: &mut Connection, later: &[Later], cursor: Option<u64>, updates: &[NoticeUpdate], sync: bool) -> rusqlite::Result<()> {
    if sync {
        return write_outbox_tx(conn, later, cursor, updates);
    }
    set_synchronous(conn, false)?;
    let written = write_outbox_tx(conn, later, cursor, updates);
    // Back to FULL whatever happened: events' commits must sync.
    set_synchronous(conn, true)?;
    written
}

/// `PRAGMA synchronous = FULL` (`full`) or `NORMAL`, through a statement kept prepared:
/// the outbox sets it hundreds of times a second while notices flow.
fn set_synchronous(conn: &Connection, full: bool) -> rusqlite::Result<()> {
    let sql = if full { "PRAGMA synchronous = FULL" } else { "PRAGMA synchronous = NORMAL" };
    conn.prepare_cached(sql)?.execute([]).map(drop)
}

fn write_outbox_tx(conn: &mut Connection, later: &[Later], cursor: Option<u64>, updates: &[NoticeUpdate]) -> rusqlite::Result<()> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    for l in later {
        insert_notices(&tx, l.seq, l.at_us, &l.notices, &l.report_codes)?;
    }
    if let Some(c) = cursor {
        tx.prepare_cached("UPDATE outbox_cursor SET seq = ?1 WHERE one = 1")?.execute([c as i64])?;
    }
    for u in updates {
        match u {
            NoticeUpdate::Sent { id, at_us, payload } => {
                tx.prepare_cached(
                    "UPDATE notices SET status = 'sent', done_us = ?2, payload = coalesce(?3, payload) WHERE id = ?1 AND status = 'pending'",
                )?
                .execute(params![id, at_us, utf8(payload)?])?;
            }
            NoticeUpdate::Failed { id, at_us, error, next_at_us: Some(next), .. } => {
                tx.prepare_cached(
                    "UPDATE notices SET attempts = attempts + 1, last_error = ?3, next_at_us = ?4 WHERE id = ?1 AND status = 'pending'",
                )?
                .execute(params![id, at_us, error, next])?;
            }
            NoticeUpdate::Failed { id, at_us, error, next_at_us: None, payload } => {
                tx.prepare_cached(
                    "UPDATE notices SET status = 'dead', attempts = attempts + 1, last_error = ?3, done_us = ?2, \
                     payload = coalesce(?4, payload) WHERE id = ?1 AND status = 'pending'",
                )?
                .execute(params![id, at_us, error, utf8(payload)?])?;
            }
            NoticeUpdate::Retry { id, at_us } => {
                tx.prepare_cached(
                    "UPDATE notices SET status = 'pending', attempts = 0, next_at_us = ?2, done_us = NULL WHERE id = ?1 AND status = 'dead'",
                )?
                .execute(params![id, at_us])?;
            }
        }
    }
    tx.commit()
}

/// Writes and commits one batch; returns the audit chain of its last event (`head`, that
/// of the newest durable entry before it, when it has none).
fn write_batch(conn: &mut Connection, batch: &[Queued], head: &[u8; 32]) -> rusqlite::Result<[u8; 32]> {
    let mut chain = *head;
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    {
        let mut stmt = tx.prepare_cached(
            "INSERT INTO events (seq, institution, id, event_type, time_us, received_us, body, body_hash, decision, chain) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
        )?;
        for Queued { event: e, notices, report_codes, later } in batch {
            if !later {
                insert_notices(&tx, e.seq, e.received_us, notices, report_codes)?;
            }
            // Checked in `submit`; should it fail here, the commit fails (fail-stop).
            let body = std::str::from_utf8(&e.body).map_err(|err| rusqlite::Error::Utf8Error(6, err))?;
            let decision = std::str::from_utf8(&e.decision).map_err(|err| rusqlite::Error::Utf8Error(8, err))?;
            // The batch is in seq order and follows the newest durable entry.
            chain = audit::link(&chain, e);
            stmt.execute(params![
                e.seq as i64,
                e.institution,
                e.id,
                e.event_type,
                e.time_us,
                e.received_us,
                body,
                &e.body_hash[..],
                decision,
                &chain[..]
            ])?;
        }
    }
    tx.commit()?;
    Ok(chain)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_kept_synchronous_statements_set_it_every_time() {
        let conn = Connection::open_in_memory().unwrap();
        let level = |c: &Connection| c.pragma_query_value(None, "synchronous", |r| r.get::<_, i64>(0)).unwrap();
        for _ in 0..3 {
            set_synchronous(&conn, false).unwrap();
            assert_eq!(level(&conn), 1);
            set_synchronous(&conn, true).unwrap();
            assert_eq!(level(&conn), 2);
        }
    }

    #[test]
    fn due_notices_are_read_without_preparing_their_query_again() {
        let dir = std::env::temp_dir().join(format!("mamori-store-due-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let store = Store::open(&dir).unwrap();
        for now in 0..5 {
            assert!(store.due_notices(now, 64).unwrap().is_empty());
        }
        // The same pooled connection (the last one returned), the same cached statement.
        let again = store.read(|c| Ok::<_, StoreError>(c.prepare_cached(&due_sql(64))?.get_status(rusqlite::StatementStatus::RePrepare)));
        store.close().unwrap();
        let _ = std::fs::remove_dir_all(&dir);
        assert_eq!(again.unwrap(), 0, "the due notices' query was prepared again at each run");
    }
}
