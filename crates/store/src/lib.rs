//! cutover-store: the durable record of a migration, on sea-orm (SQLite by default,
//! Postgres by URL).
//!
//! It keeps every applied plan version, the migration's status and phase (with a version
//! column for optimistic concurrency), check runs, sign-offs, waivers and an append-only,
//! hash-chained transition log. Every command is stored in one transaction: the state
//! change, its check runs and its log entry land together or not at all, and a command
//! decided on a stale state is rejected with [`StoreError::Conflict`].
//!
//! The state rows are bound to the log (see `binding.rs`): [`Store::load`] refuses to
//! hand out a state whose rows do not match the state bound to the log's tail, or a tail
//! that does not verify, and [`Store::audit`] replays the whole log and names every row
//! that disagrees with it.

mod audit;
mod binding;
mod chain;
mod entity;
mod jobs;
mod mac;
mod outbox;
mod register;
mod snapshots;

use std::time::Duration;

use chrono::{DateTime, Utc};
use cutover_engine::{
    CheckRun, Command, Decision, Effect, Facts, MigrationState, Refusal, SignOff, Status, Visit,
    Waiver, Window, Withdrawal,
};
use sea_orm::{
    AccessMode,
    ActiveValue::{NotSet, Set},
    ColumnTrait, ConnectOptions, ConnectionTrait, Database, DatabaseConnection,
    DatabaseTransaction, DbBackend, DbErr, EntityTrait, IsolationLevel, QueryFilter, QueryOrder,
    QueryResult, QuerySelect, QueryTrait, Select, SqliteTransactionMode, TransactionOptions,
    TransactionTrait,
};
use serde::Serialize;
use sha2::{Digest, Sha256};

pub use audit::{Area, Audit, HeadCheck, Problem};
pub use binding::{Binding, Changes, PlanRef, RunRow};
pub use chain::{BrokenLink, GENESIS, LogEntry, Verification, short_hash, verify};
use entity::{check_finding, check_run, migration, plan, signoff, transition, waiver};
pub use jobs::Once;
pub use mac::{LOG_KEY_ENV, LogKey};
pub use outbox::{NewOutbox, OutboxMessage, OutboxStatus, message_id};
pub use register::{
    Accept, Acceptance, Change, Explanation, Proposed, RUN_ACTOR, RegisterItem, RegisterRun,
    Variance, VarianceEvent,
};
pub use snapshots::{
    NewSourceSnapshot, SnapshotPage, SnapshotStatus, SourceSnapshot, pack_chunk, unpack_chunk,
};

use binding::StateRows;

/// What can go wrong in the store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("cannot open database {url}: {reason}")]
    Connect { url: String, reason: String },
    /// The database is locked by another writer (SQLite), out of connections (Postgres),
    /// or no pooled connection came free in time.
    #[error("database busy; retry")]
    Busy,
    #[error(
        "another command changed the migration while this one was being decided; nothing was changed"
    )]
    Conflict,
    #[error(
        "this database already holds migration \"{0}\"; use another database for another migration"
    )]
    AlreadyExists(String),
    #[error("no migration has been started in this database; run `cutover start PLAN --as LEAD`")]
    NotStarted,
    /// The log's tail does not verify, or the state rows are not the state bound to it.
    #[error(
        "the log no longer verifies: {0}; nothing was changed (run `cutover history verify` to see where)"
    )]
    Unverified(String),
    /// The log's sequence number would pass `i64::MAX`.
    #[error("the log is full (its last entry is #{0}); nothing was changed")]
    LogFull(i64),
    #[error("stored data is inconsistent: {0}")]
    Corrupt(String),
    #[error("database error: {0}")]
    Db(String),
}

impl From<DbErr> for StoreError {
    fn from(e: DbErr) -> Self {
        let text = one_line(&e.to_string());
        if is_busy(&text) {
            StoreError::Busy
        } else {
            StoreError::Db(text)
        }
    }
}

/// Whether a database error means "too busy right now" rather than "wrong".
fn is_busy(text: &str) -> bool {
    let t = text.to_lowercase();
    [
        "database is locked",
        "database table is locked",
        "pool timed out",
        "too many clients",
        "too many connections",
        "remaining connection slots are reserved",
        "sorry, too many",
    ]
    .iter()
    .any(|m| t.contains(m))
}

/// One finding of a check run, as stored (decimals as exact text).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NewFinding {
    pub code: String,
    pub subject: String,
    pub old: Option<String>,
    pub new: Option<String>,
    pub expected: Option<String>,
    pub detail: String,
}

/// A plan version as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StoredPlan {
    pub version: i32,
    pub file_name: String,
    pub content: String,
    /// sha256 of `content`, hex.
    pub hash: String,
    pub applied_at: DateTime<Utc>,
    pub applied_by: Option<String>,
}

/// The last entry of the log: what a person who saw it can later ask `verify --head` about.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LogHead {
    pub seq: i64,
    pub hash: String,
}

/// Everything a decision needs, read at one instant, with the version it was read at.
#[derive(Debug, Clone)]
pub struct Snapshot {
    pub migration_id: i32,
    pub name: String,
    /// The lock version this snapshot was read at.
    pub version: i64,
    pub plan: StoredPlan,
    pub state: MigrationState,
    /// Check runs recorded since the current phase was entered.
    pub facts: Facts,
    /// The log's last entry when the snapshot was read.
    pub head: LogHead,
    /// The digest of the state rows read, which matched the state bound to `head`.
    pub state_sha256: String,
}

/// The facts a log entry keeps: the check runs as they are, and the register's live
/// variances as their count and the sha256 of their JSON (a register of thousands of keys
/// would otherwise be copied into every entry; the digest still pins what was decided on).
pub fn facts_json(facts: &Facts) -> String {
    let mut value = serde_json::to_value(facts).unwrap_or_else(|_| serde_json::json!({}));
    if !facts.variances.is_empty()
        && let Some(map) = value.as_object_mut()
    {
        let list = serde_json::to_string(&facts.variances).unwrap_or_default();
        map.insert(
            "variances".into(),
            serde_json::json!({
                "live": facts.variances.len(),
                "sha256": hex::encode(Sha256::digest(list.as_bytes())),
            }),
        );
    }
    serde_json::to_string(&value).unwrap_or_else(|_| "{}".into())
}

/// The sha256 of a plan's text, hex.
pub fn content_hash(content: &str) -> String {
    hex::encode(Sha256::digest(content.as_bytes()))
}

/// Hides the password of a database URL, for messages and logs.
pub fn redact_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_string();
    };
    let Some(at) = rest.rfind('@') else {
        return url.to_string();
    };
    let (creds, host) = rest.split_at(at);
    match creds.split_once(':') {
        Some((user, _)) => format!("{scheme}://{user}:***{host}"),
        None => url.to_string(),
    }
}

/// How a [`Store`] connects: its pool and the log key.
#[derive(Debug, Clone)]
pub struct StoreOptions {
    /// Most connections the pool opens.
    pub max_connections: u32,
    /// How long a query waits for a pooled connection before [`StoreError::Busy`].
    pub acquire_timeout: Duration,
    /// How long opening one connection may take.
    pub connect_timeout: Duration,
    /// Signs every new log entry, and is required of the tail, when set.
    pub log_key: Option<LogKey>,
}

impl StoreOptions {
    /// For one command of the CLI: it runs its queries one after another on a single
    /// connection (a second one would only be opened while the first is still being
    /// handed back to the pool), and a busy database is reported after a few seconds
    /// instead of queueing behind a hundred other processes.
    pub fn one_shot() -> StoreOptions {
        StoreOptions {
            max_connections: 1,
            acquire_timeout: Duration::from_secs(5),
            connect_timeout: Duration::from_secs(5),
            log_key: None,
        }
    }

    /// The same options with `key` signing the log.
    pub fn with_log_key(mut self, key: Option<LogKey>) -> StoreOptions {
        self.log_key = key;
        self
    }
}

impl Default for StoreOptions {
    /// A small pool for a long-running process sharing the database (tests, a server).
    fn default() -> StoreOptions {
        StoreOptions {
            max_connections: 4,
            ..StoreOptions::one_shot()
        }
    }
}

/// The store, over one database connection pool.
#[derive(Debug, Clone)]
pub struct Store {
    db: DatabaseConnection,
    key: Option<LogKey>,
    /// The inventory documentation probes the caller made (IO outside the store); every
    /// snapshot's facts carry them.
    inventory_docs: Vec<cutover_engine::InventoryDoc>,
}

/// What a caller of [`Store::decide_locked`] decided, to be stored.
#[derive(Debug, Clone)]
pub struct Decided<'a> {
    pub command: Command,
    pub result: Result<Decision, Refusal>,
    pub at: DateTime<Utc>,
    /// Findings of the check run an accepted decision records.
    pub findings: &'a [NewFinding],
    /// For an [`Command::ApplyPlan`]: the new plan's text, stored when accepted.
    pub plan_text: Option<&'a str>,
    /// What the recorded check run brings to the variance register, upserted with it.
    pub register: Option<&'a RegisterRun>,
}

/// The new plan version an accepted `ApplyPlan` stores, checked against the snapshot.
fn new_plan<'a>(
    snap: &Snapshot,
    command: &'a Command,
    content: &'a str,
) -> Result<NewPlan<'a>, StoreError> {
    let Command::ApplyPlan {
        file,
        sha256,
        version,
        ..
    } = command
    else {
        return Err(StoreError::Db(format!(
            "a plan text was given with a {} command",
            command.kind()
        )));
    };
    if *version != snap.plan.version + 1 {
        // Built against another plan version than this snapshot's.
        return Err(StoreError::Conflict);
    }
    if *sha256 != content_hash(content) {
        return Err(StoreError::Db(
            "the plan text does not match the sha256 in its command".into(),
        ));
    }
    Ok(NewPlan {
        version: *version,
        file,
        content,
    })
}

/// An accepted plan version to store with its `plan_apply` entry.
struct NewPlan<'a> {
    version: i32,
    file: &'a str,
    content: &'a str,
}

/// What an entry is appended against.
struct Base<'a> {
    migration_id: i32,
    version: i64,
    old: &'a MigrationState,
    plan_version: i32,
    /// The digest of the state rows the command was decided on (kept by a refusal).
    state_sha256: &'a str,
    facts: String,
}

/// Every accepted `inventory_confirm` of the log, oldest first.
async fn inventory_confirmations<C: ConnectionTrait>(
    conn: &C,
    migration_id: i32,
) -> Result<Vec<cutover_engine::InventoryConfirmation>, StoreError> {
    let rows = read_entries(
        conn,
        transition::Entity::find()
            .filter(transition::Column::MigrationId.eq(migration_id))
            .filter(transition::Column::Kind.eq("inventory_confirm"))
            .filter(transition::Column::Result.eq("accepted"))
            .order_by_asc(transition::Column::Seq),
    )
    .await?;
    let mut out = Vec::new();
    for r in rows {
        let e = r.map_err(|u| StoreError::Unverified(u.to_string()))?;
        if let Ok(Command::ConfirmInventory {
            by,
            item,
            documented,
        }) = serde_json::from_str::<Command>(&e.command)
        {
            out.push(cutover_engine::InventoryConfirmation {
                item,
                by,
                at: e.at,
                documented,
            });
        }
    }
    Ok(out)
}

impl Store {
    /// Carries these documentation probes in the facts of every snapshot read from now on.
    pub fn with_inventory_docs(mut self, docs: Vec<cutover_engine::InventoryDoc>) -> Store {
        self.inventory_docs = docs;
        self
    }

    /// Opens (creating a SQLite file if needed) and brings the schema up to date, with
    /// [`StoreOptions::default`] (no log key).
    pub async fn connect(url: &str) -> Result<Store, StoreError> {
        Store::connect_with(url, StoreOptions::default()).await
    }

    /// Opens with the given pool size, timeouts and log key, and brings the schema up to
    /// date (atomically: see [`cutover_migration::upgrade`]).
    pub async fn connect_with(url: &str, options: StoreOptions) -> Result<Store, StoreError> {
        let shown = redact_url(url);
        let mut opts = ConnectOptions::new(url.to_string());
        opts.sqlx_logging(false)
            .max_connections(options.max_connections.max(1))
            .min_connections(0)
            .connect_timeout(options.connect_timeout)
            .acquire_timeout(options.acquire_timeout);
        let db = match Database::connect(opts).await {
            Ok(db) => db,
            Err(e) => {
                let reason = one_line(&e.to_string());
                // The pool retries a refused connection and a server out of connection
                // slots alike until its timeout; only the server's port tells them apart.
                let busy = if reason.contains("pool timed out") {
                    server_listens(url).await
                } else {
                    is_busy(&reason)
                };
                return Err(if busy {
                    StoreError::Busy
                } else {
                    StoreError::Connect { url: shown, reason }
                });
            }
        };
        cutover_migration::upgrade(&db)
            .await
            .map_err(|e| match StoreError::from(e) {
                StoreError::Busy => StoreError::Busy,
                other => StoreError::Connect {
                    url: shown,
                    reason: format!("schema migration failed: {other}"),
                },
            })?;
        Ok(Store {
            db,
            key: options.log_key,
            inventory_docs: Vec::new(),
        })
    }

    /// The underlying connection (for the job runtime, which shares the database).
    pub fn connection(&self) -> &DatabaseConnection {
        &self.db
    }

    /// Whether new entries are signed (a log key is set).
    pub fn signs(&self) -> bool {
        self.key.is_some()
    }

    /// A transaction that sees one consistent state of every table it reads.
    async fn begin_read(&self) -> Result<DatabaseTransaction, StoreError> {
        Ok(match self.db.get_database_backend() {
            DbBackend::Postgres => {
                self.db
                    .begin_with_config(
                        Some(IsolationLevel::RepeatableRead),
                        Some(AccessMode::ReadOnly),
                    )
                    .await?
            }
            // A SQLite read transaction (WAL) reads one snapshot already.
            _ => self.db.begin().await?,
        })
    }

    /// A write transaction; on SQLite it takes the write lock up front (waiting out the
    /// busy timeout), so it never fails half-way on a lock upgrade.
    pub(crate) async fn begin_write(&self) -> Result<DatabaseTransaction, StoreError> {
        let sqlite = self.db.get_database_backend() == DbBackend::Sqlite;
        Ok(self
            .db
            .begin_with_options(TransactionOptions {
                sqlite_transaction_mode: sqlite.then_some(SqliteTransactionMode::Immediate),
                ..Default::default()
            })
            .await?)
    }

    /// Reads the migration, its current plan, state and facts, and checks that they are
    /// bound to the log: the tail's hash recomputes, it links to the entry before it (and
    /// carries a valid MAC when a key is set), and the state rows are the state bound to
    /// it. Otherwise [`StoreError::Unverified`] — nothing may be decided on such a state.
    pub async fn load(&self) -> Result<Snapshot, StoreError> {
        let txn = self.begin_read().await?;
        let snap = self.load_in(&txn).await;
        txn.rollback().await?;
        snap
    }

    async fn load_in(&self, txn: &DatabaseTransaction) -> Result<Snapshot, StoreError> {
        let row = migration::Entity::find()
            .order_by_asc(migration::Column::Id)
            .one(txn)
            .await
            .map_err(row_error("migrations"))?
            .ok_or(StoreError::NotStarted)?;
        let (rows, plan) = read_state(txn, &row).await?;
        if content_hash(&plan.content) != plan.hash {
            return Err(StoreError::Unverified(format!(
                "plans row version {}: its text does not match its sha256",
                plan.version
            )));
        }
        let history = visits(txn, row.id).await?;
        let tail = read_entries(
            txn,
            transition::Entity::find()
                .filter(transition::Column::MigrationId.eq(row.id))
                .order_by_desc(transition::Column::Seq)
                .limit(2),
        )
        .await?;
        let digest = rows.digest();
        let head = self.check_tail(&tail, &digest)?;
        let status = Status::parse(&row.status)
            .ok_or_else(|| StoreError::Corrupt(format!("unknown status \"{}\"", row.status)))?;
        Ok(Snapshot {
            migration_id: row.id,
            name: row.name,
            version: row.version,
            plan,
            state: MigrationState {
                status,
                phase: row.current_phase,
                entered_at: row.phase_entered_at,
                history,
                signoffs: rows.signoffs,
                waivers: rows.waivers,
            },
            facts: Facts {
                check_runs: rows.runs.into_iter().map(|r| r.run).collect(),
                variances: register::live_facts(txn, row.id).await?,
                inventory_docs: self.inventory_docs.clone(),
                inventory_confirmations: inventory_confirmations(txn, row.id).await?,
            },
            head,
            state_sha256: digest,
        })
    }

    /// The checks every command makes of the log's tail (newest first in `tail`).
    fn check_tail(&self, tail: &[LogRow], digest: &str) -> Result<LogHead, StoreError> {
        let bad = |why: String| Err(StoreError::Unverified(why));
        let last = match tail.first() {
            None => return bad("the log has no entries".into()),
            Some(Err(u)) => return bad(u.to_string()),
            Some(Ok(e)) => e,
        };
        if last.compute_hash() != last.hash {
            return bad(format!(
                "log entry #{} does not match its hash (it was edited)",
                last.seq
            ));
        }
        let prev = match last.seq.checked_sub(1) {
            Some(0) => {
                if last.prev_hash != GENESIS {
                    return bad("log entry #1 does not start the chain".into());
                }
                None
            }
            Some(before) if before > 0 => match tail.get(1) {
                Some(Ok(p)) if p.seq == before => {
                    if last.prev_hash != p.hash {
                        return bad(format!(
                            "log entry #{} does not link to entry #{before}",
                            last.seq
                        ));
                    }
                    Some(p)
                }
                Some(Err(u)) => return bad(u.to_string()),
                _ => {
                    return bad(format!(
                        "log entry #{} is not preceded by entry #{before}; entries are missing",
                        last.seq
                    ));
                }
            },
            _ => return bad(format!("log entry #{} has an impossible number", last.seq)),
        };
        if let Some(key) = &self.key {
            match &last.mac {
                Some(m) if !key.verifies(&last.hash, m) => {
                    return bad(format!(
                        "log entry #{}'s MAC does not match CUTOVER_LOG_KEY",
                        last.seq
                    ));
                }
                None if prev.is_some_and(|p| p.mac.is_some()) => {
                    return bad(format!(
                        "log entry #{} is not signed although the entry before it is",
                        last.seq
                    ));
                }
                _ => {}
            }
        }
        if !last.state.is_empty() {
            let binding = Binding::parse(&last.state).map_err(|e| {
                StoreError::Unverified(format!(
                    "log entry #{}'s state cannot be read: {e}",
                    last.seq
                ))
            })?;
            if binding.sha256 != digest {
                return bad(format!(
                    "the state rows do not match the state bound to log entry #{} (a row was changed outside cutover)",
                    last.seq
                ));
            }
        }
        Ok(LogHead {
            seq: last.seq,
            hash: last.hash.clone(),
        })
    }

    async fn check_runs_since(
        &self,
        migration_id: i32,
        since: Option<DateTime<Utc>>,
    ) -> Result<Vec<CheckRun>, StoreError> {
        let mut query =
            check_run::Entity::find().filter(check_run::Column::MigrationId.eq(migration_id));
        if let Some(since) = since {
            query = query.filter(check_run::Column::RecordedAt.gte(since));
        }
        let rows = query
            .order_by_asc(check_run::Column::RecordedAt)
            .order_by_asc(check_run::Column::Id)
            .all(&self.db)
            .await?;
        rows.into_iter()
            .map(|r| check_run_from_row(r).map(|r| r.run))
            .collect()
    }

    /// Every check run of the migration, oldest first (for history and reports).
    pub async fn check_runs(&self, snap: &Snapshot) -> Result<Vec<CheckRun>, StoreError> {
        self.check_runs_since(snap.migration_id, None).await
    }

    /// Creates the migration with its first plan version and applies the start decision,
    /// all in one transaction.
    pub async fn create(
        &self,
        name: &str,
        plan_file: &str,
        plan_content: &str,
        at: DateTime<Utc>,
        command: &Command,
        decision: &Decision,
    ) -> Result<LogEntry, StoreError> {
        self.create_with_outbox(name, plan_file, plan_content, at, command, decision, vec![])
            .await
    }

    /// Like [`Store::create`], and queues `outbox` (the emails the start implies) in the
    /// same transaction.
    #[allow(clippy::too_many_arguments)]
    pub async fn create_with_outbox(
        &self,
        name: &str,
        plan_file: &str,
        plan_content: &str,
        at: DateTime<Utc>,
        command: &Command,
        decision: &Decision,
        outbox: Vec<NewOutbox>,
    ) -> Result<LogEntry, StoreError> {
        let txn = self.begin_write().await?;
        if self.db.get_database_backend() == DbBackend::Postgres {
            // Two first `start`s racing must not create two migrations.
            txn.execute_unprepared("SELECT pg_advisory_xact_lock(7238911850140021250)")
                .await?;
        }
        if let Some(existing) = migration::Entity::find().one(&txn).await? {
            return Err(StoreError::AlreadyExists(existing.name));
        }
        let inserted = migration::Entity::insert(migration::ActiveModel {
            id: NotSet,
            name: Set(name.to_string()),
            status: Set(Status::NotStarted.as_str().to_string()),
            current_phase: Set(None),
            phase_entered_at: Set(None),
            plan_version: Set(0),
            version: Set(0),
            created_at: Set(at),
            updated_at: Set(at),
        })
        .exec(&txn)
        .await
        .map_err(|e| {
            if e.to_string().to_lowercase().contains("unique") {
                StoreError::AlreadyExists(name.to_string())
            } else {
                e.into()
            }
        })?;
        let id = inserted.last_insert_id;
        let old = MigrationState::new();
        let entry = self
            .append(
                &txn,
                Base {
                    migration_id: id,
                    version: 0,
                    old: &old,
                    plan_version: 1,
                    state_sha256: "",
                    facts: "{}".to_string(),
                },
                at,
                command,
                Ok(decision),
                &[],
                Some(NewPlan {
                    version: 1,
                    file: plan_file,
                    content: plan_content,
                }),
                None,
            )
            .await?;
        self.enqueue_for_entry(&txn, id, &entry, at, outbox).await?;
        txn.commit().await?;
        Ok(entry)
    }

    /// Stores an accepted decision, or logs a refusal, against the snapshot it was decided
    /// on. Fails with [`StoreError::Conflict`] when the migration changed since.
    pub async fn record(
        &self,
        snap: &Snapshot,
        at: DateTime<Utc>,
        command: &Command,
        result: Result<&Decision, &Refusal>,
    ) -> Result<LogEntry, StoreError> {
        self.record_with_findings(snap, at, command, result, &[])
            .await
    }

    /// Like [`Store::record`], and stores `findings` with the check run the decision
    /// records, in the same transaction.
    pub async fn record_with_findings(
        &self,
        snap: &Snapshot,
        at: DateTime<Utc>,
        command: &Command,
        result: Result<&Decision, &Refusal>,
        findings: &[NewFinding],
    ) -> Result<LogEntry, StoreError> {
        self.write(snap, at, command, result, findings, None).await
    }

    /// Stores the decision on a [`Command::ApplyPlan`]: when accepted, `content` becomes
    /// plan version `snap.plan.version + 1` (the command's `version`, whose sha256 it must
    /// have), logged as `plan_apply` with the people/layer diff; a refusal is logged like
    /// any other.
    pub async fn apply_plan(
        &self,
        snap: &Snapshot,
        at: DateTime<Utc>,
        command: &Command,
        result: Result<&Decision, &Refusal>,
        content: &str,
    ) -> Result<LogEntry, StoreError> {
        let plan = match result {
            Ok(_) => Some(new_plan(snap, command, content)?),
            Err(_) => None,
        };
        self.write(snap, at, command, result, &[], plan).await
    }

    /// Decides and stores one command under the migration's write lock: the snapshot
    /// handed to `decide` is the latest (read in the write transaction, its tail and state
    /// binding checked), and what it returns is appended before anyone else may write, so
    /// it never conflicts. `decide` returning `Ok(None)` stores nothing; an error aborts.
    ///
    /// Concurrent commands queue on the lock instead of deciding, losing the race and
    /// deciding again (SQLite: `BEGIN IMMEDIATE`; Postgres: `SELECT ... FOR UPDATE` on
    /// the migration row, which every writer takes first).
    pub async fn decide_locked<'a, E>(
        &self,
        decide: impl FnOnce(&Snapshot) -> Result<Option<Decided<'a>>, E>,
    ) -> Result<Option<(LogEntry, Decided<'a>)>, E>
    where
        E: From<StoreError>,
    {
        let txn = self.begin_write().await?;
        let out = self.decide_in(&txn, decide).await;
        match &out {
            Ok(Some(_)) => txn.commit().await.map_err(StoreError::from)?,
            _ => {
                // Nothing to keep; a failed rollback only means the connection is gone.
                let _ = txn.rollback().await;
            }
        }
        out
    }

    async fn decide_in<'a, E>(
        &self,
        txn: &DatabaseTransaction,
        decide: impl FnOnce(&Snapshot) -> Result<Option<Decided<'a>>, E>,
    ) -> Result<Option<(LogEntry, Decided<'a>)>, E>
    where
        E: From<StoreError>,
    {
        if self.db.get_database_backend() == DbBackend::Postgres {
            migration::Entity::find()
                .order_by_asc(migration::Column::Id)
                .lock_exclusive()
                .one(txn)
                .await
                .map_err(StoreError::from)?;
        }
        let snap = self.load_in(txn).await?;
        let Some(decided) = decide(&snap)? else {
            return Ok(None);
        };
        let plan = match (&decided.result, decided.plan_text) {
            (Ok(_), Some(text)) => Some(new_plan(&snap, &decided.command, text)?),
            _ => None,
        };
        let facts = facts_json(&snap.facts);
        let entry = self
            .append(
                txn,
                Base {
                    migration_id: snap.migration_id,
                    version: snap.version,
                    old: &snap.state,
                    plan_version: snap.plan.version,
                    state_sha256: &snap.state_sha256,
                    facts,
                },
                decided.at,
                &decided.command,
                decided.result.as_ref(),
                decided.findings,
                plan,
                decided.register,
            )
            .await?;
        Ok(Some((entry, decided)))
    }

    async fn write(
        &self,
        snap: &Snapshot,
        at: DateTime<Utc>,
        command: &Command,
        result: Result<&Decision, &Refusal>,
        findings: &[NewFinding],
        new_plan: Option<NewPlan<'_>>,
    ) -> Result<LogEntry, StoreError> {
        let facts = facts_json(&snap.facts);
        let txn = self.begin_write().await?;
        let entry = self
            .append(
                &txn,
                Base {
                    migration_id: snap.migration_id,
                    version: snap.version,
                    old: &snap.state,
                    plan_version: snap.plan.version,
                    state_sha256: &snap.state_sha256,
                    facts,
                },
                at,
                command,
                result,
                findings,
                new_plan,
                None,
            )
            .await?;
        txn.commit().await?;
        Ok(entry)
    }

    /// The findings of the latest run of `check`, with that run's outcome.
    pub async fn latest_findings(
        &self,
        snap: &Snapshot,
        check: &str,
    ) -> Result<Option<(CheckRun, Vec<NewFinding>)>, StoreError> {
        let Some(run) = check_run::Entity::find()
            .filter(check_run::Column::MigrationId.eq(snap.migration_id))
            .filter(check_run::Column::CheckId.eq(check))
            .order_by_desc(check_run::Column::Id)
            .one(&self.db)
            .await?
        else {
            return Ok(None);
        };
        let findings = self.run_findings(run.id).await?;
        Ok(Some((check_run_from_row(run)?.run, findings)))
    }

    /// Every recorded run of `check` with its row id, oldest first.
    pub async fn runs_of_check(
        &self,
        snap: &Snapshot,
        check: &str,
    ) -> Result<Vec<(i32, CheckRun)>, StoreError> {
        check_run::Entity::find()
            .filter(check_run::Column::MigrationId.eq(snap.migration_id))
            .filter(check_run::Column::CheckId.eq(check))
            .order_by_asc(check_run::Column::Id)
            .all(&self.db)
            .await?
            .into_iter()
            .map(|r| check_run_from_row(r).map(|r| (r.id, r.run)))
            .collect()
    }

    /// The stored findings of the check run with row id `run`, in the order recorded.
    pub async fn run_findings(&self, run: i32) -> Result<Vec<NewFinding>, StoreError> {
        Ok(check_finding::Entity::find()
            .filter(check_finding::Column::CheckRunId.eq(run))
            .order_by_asc(check_finding::Column::Id)
            .all(&self.db)
            .await?
            .into_iter()
            .map(|f| NewFinding {
                code: f.code,
                subject: f.subject,
                old: f.old_value,
                new: f.new_value,
                expected: f.expected_value,
                detail: f.detail,
            })
            .collect())
    }

    /// Every plan version, oldest first.
    pub async fn plans(&self, snap: &Snapshot) -> Result<Vec<StoredPlan>, StoreError> {
        Ok(plan::Entity::find()
            .filter(plan::Column::MigrationId.eq(snap.migration_id))
            .order_by_asc(plan::Column::Version)
            .all(&self.db)
            .await?
            .into_iter()
            .map(plan_from_row)
            .collect())
    }

    /// The whole transition log, oldest first; an entry that cannot be read is an error
    /// naming it (see [`Store::read_log`] to get the others too).
    pub async fn log(&self) -> Result<Vec<LogEntry>, StoreError> {
        self.read_log()
            .await?
            .into_iter()
            .map(|r| r.map_err(|u| StoreError::Corrupt(u.to_string())))
            .collect()
    }

    /// The whole transition log, oldest first, each entry read or why it cannot be.
    pub async fn read_log(&self) -> Result<Vec<LogRow>, StoreError> {
        let Some(row) = migration::Entity::find()
            .order_by_asc(migration::Column::Id)
            .one(&self.db)
            .await?
        else {
            return Err(StoreError::NotStarted);
        };
        read_entries(
            &self.db,
            transition::Entity::find()
                .filter(transition::Column::MigrationId.eq(row.id))
                .order_by_asc(transition::Column::Seq)
                .order_by_asc(transition::Column::Id),
        )
        .await
    }

    #[allow(clippy::too_many_arguments)]
    async fn append(
        &self,
        txn: &DatabaseTransaction,
        base: Base<'_>,
        at: DateTime<Utc>,
        command: &Command,
        result: Result<&Decision, &Refusal>,
        findings: &[NewFinding],
        new_plan: Option<NewPlan<'_>>,
        register: Option<&RegisterRun>,
    ) -> Result<LogEntry, StoreError> {
        let command_json = serde_json::to_string(command).unwrap_or_default();
        let id = base.migration_id;
        let entry = match result {
            Ok(decision) => {
                let new = &decision.state;
                let plan_version = new_plan.as_ref().map(|p| p.version);
                bump_version(txn, id, base.version, at, |am| {
                    am.status = Set(new.status.as_str().to_string());
                    am.current_phase = Set(new.phase.clone());
                    am.phase_entered_at = Set(new.entered_at);
                    if let Some(v) = plan_version {
                        am.plan_version = Set(v);
                    }
                })
                .await?;
                let plan = match &new_plan {
                    Some(p) => {
                        insert_plan(txn, id, p, at, command.actor()).await?;
                        Some(PlanRef {
                            version: p.version,
                            sha256: content_hash(p.content),
                        })
                    }
                    None => None,
                };
                let signoffs = sync_signoffs(txn, id, base.old, new).await?;
                let waivers = sync_waivers(txn, id, base.old, new).await?;
                let phase = decision.from_phase.clone().or(new.phase.clone());
                let mut runs = Vec::new();
                for effect in &decision.effects {
                    if let Effect::RecordCheckRun { run } = effect {
                        let row = insert_check_run(txn, id, phase.as_deref(), run).await?;
                        insert_findings(txn, row.id, findings).await?;
                        if let Some(reg) = register.filter(|r| r.check == run.check) {
                            register::upsert(txn, id, row.id, at, reg).await?;
                        }
                        runs.push(row);
                    }
                }
                let after = migration::Entity::find_by_id(id)
                    .one(txn)
                    .await?
                    .ok_or_else(|| StoreError::Corrupt("the migration row vanished".into()))?;
                let (rows, _) = read_state(txn, &after).await?;
                let binding = Binding {
                    sha256: rows.digest(),
                    changes: Some(Changes {
                        status: new.status.as_str().to_string(),
                        phase: new.phase.clone(),
                        entered_at: new.entered_at,
                        plan,
                        signoffs,
                        waivers,
                        check_runs: runs,
                    }),
                };
                LogEntry {
                    seq: 0,
                    at,
                    kind: command.kind().to_string(),
                    result: "accepted".into(),
                    actor: command.actor().map(str::to_string),
                    from_phase: decision.from_phase.clone(),
                    to_phase: decision.to_phase.clone(),
                    plan_version: base.plan_version,
                    summary: decision.summary.clone(),
                    command: command_json,
                    effects: serde_json::to_string(&decision.effects).unwrap_or_default(),
                    facts: base.facts,
                    state: binding.to_json(),
                    prev_hash: String::new(),
                    hash: String::new(),
                    mac: None,
                }
            }
            Err(refusal) => {
                // A refusal changes no state, but it is logged, so the lock version moves
                // to keep the chain linear; it keeps the state bound to it.
                bump_version(txn, id, base.version, at, |_| {}).await?;
                let binding = Binding {
                    sha256: base.state_sha256.to_string(),
                    changes: None,
                };
                LogEntry {
                    seq: 0,
                    at,
                    kind: command.kind().to_string(),
                    result: "refused".into(),
                    actor: command.actor().map(str::to_string),
                    from_phase: base.old.phase.clone(),
                    to_phase: base.old.phase.clone(),
                    plan_version: base.plan_version,
                    summary: refusal.to_string(),
                    command: command_json,
                    effects: serde_json::to_string(refusal).unwrap_or_default(),
                    facts: base.facts,
                    state: binding.to_json(),
                    prev_hash: String::new(),
                    hash: String::new(),
                    mac: None,
                }
            }
        };
        self.push_entry(txn, id, entry).await
    }

    async fn push_entry(
        &self,
        txn: &DatabaseTransaction,
        migration_id: i32,
        mut entry: LogEntry,
    ) -> Result<LogEntry, StoreError> {
        let last: Option<(i64, String)> = transition::Entity::find()
            .select_only()
            .column(transition::Column::Seq)
            .column(transition::Column::Hash)
            .filter(transition::Column::MigrationId.eq(migration_id))
            .order_by_desc(transition::Column::Seq)
            .into_tuple()
            .one(txn)
            .await?;
        let (seq, prev) = match last {
            Some((seq, hash)) => (seq.checked_add(1).ok_or(StoreError::LogFull(seq))?, hash),
            None => (1, GENESIS.to_string()),
        };
        entry.seq = seq;
        entry.prev_hash = prev;
        entry.hash = entry.compute_hash();
        entry.mac = self.key.as_ref().map(|k| k.sign(&entry.hash));
        transition::Entity::insert(transition::ActiveModel {
            id: NotSet,
            migration_id: Set(migration_id),
            seq: Set(entry.seq),
            at: Set(entry.at),
            kind: Set(entry.kind.clone()),
            result: Set(entry.result.clone()),
            actor: Set(entry.actor.clone()),
            from_phase: Set(entry.from_phase.clone()),
            to_phase: Set(entry.to_phase.clone()),
            plan_version: Set(entry.plan_version),
            summary: Set(entry.summary.clone()),
            command: Set(entry.command.clone()),
            effects: Set(entry.effects.clone()),
            facts: Set(entry.facts.clone()),
            state: Set(entry.state.clone()),
            prev_hash: Set(entry.prev_hash.clone()),
            hash: Set(entry.hash.clone()),
            mac: Set(entry.mac.clone()),
        })
        .exec(txn)
        .await
        .map_err(|e| {
            if e.to_string().to_lowercase().contains("unique") {
                StoreError::Conflict
            } else {
                e.into()
            }
        })?;
        Ok(entry)
    }
}

/// Whether something accepts TCP connections at a Postgres URL's host and port (false for
/// any other URL, or one without a host).
async fn server_listens(url: &str) -> bool {
    let Some(rest) = url
        .strip_prefix("postgres://")
        .or_else(|| url.strip_prefix("postgresql://"))
    else {
        return false;
    };
    let authority = rest.split(['/', '?']).next().unwrap_or_default();
    let hostport = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    if hostport.is_empty() {
        return false;
    }
    let target = match hostport.rsplit_once(':') {
        Some((_, port)) if !port.is_empty() && port.chars().all(|c| c.is_ascii_digit()) => {
            hostport.to_string()
        }
        _ => format!("{hostport}:5432"),
    };
    matches!(
        tokio::time::timeout(
            Duration::from_secs(1),
            tokio::net::TcpStream::connect(target)
        )
        .await,
        Ok(Ok(_))
    )
}

fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// A log entry as read: the entry, or why its row cannot be read.
pub type LogRow = Result<LogEntry, UnreadableEntry>;

/// A transition-log row that cannot be read back (a corrupt timestamp, a wrong type).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct UnreadableEntry {
    /// The row's id, when readable.
    pub id: Option<i32>,
    pub seq: Option<i64>,
    /// Its stored hash, when readable (so the next entry's link can still be checked).
    pub hash: Option<String>,
    pub reason: String,
}

impl std::fmt::Display for UnreadableEntry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match (self.seq, self.id) {
            (Some(seq), _) => write!(f, "log entry #{seq} cannot be read: {}", self.reason),
            (None, Some(id)) => write!(
                f,
                "the log row with id {id} cannot be read: {}",
                self.reason
            ),
            (None, None) => write!(f, "a log row cannot be read: {}", self.reason),
        }
    }
}

/// Reads transition-log rows column by column, so one bad value names its entry instead
/// of failing the whole query.
async fn read_entries<C: ConnectionTrait>(
    conn: &C,
    select: Select<transition::Entity>,
) -> Result<Vec<LogRow>, StoreError> {
    let stmt = select.build(conn.get_database_backend());
    let rows = conn.query_all_raw(stmt).await?;
    Ok(rows.iter().map(decode_entry).collect())
}

fn decode_entry(r: &QueryResult) -> LogRow {
    let id = r.try_get::<i32>("", "id").ok();
    let seq = r.try_get::<i64>("", "seq").ok();
    let hash = r.try_get::<String>("", "hash").ok();
    let unreadable = |col: &str, e: DbErr| {
        let raw = r
            .try_get::<Option<String>>("", col)
            .ok()
            .flatten()
            .map(|v| {
                let shown: String = v.chars().take(40).collect();
                format!(" (holds {shown:?})")
            })
            .unwrap_or_default();
        UnreadableEntry {
            id,
            seq,
            hash: hash.clone(),
            reason: format!("column {col}{raw}: {}", one_line(&e.to_string())),
        }
    };
    macro_rules! col {
        ($t:ty, $name:literal) => {
            r.try_get::<$t>("", $name)
                .map_err(|e| unreadable($name, e))?
        };
    }
    Ok(LogEntry {
        seq: col!(i64, "seq"),
        at: col!(DateTime<Utc>, "at"),
        kind: col!(String, "kind"),
        result: col!(String, "result"),
        actor: col!(Option<String>, "actor"),
        from_phase: col!(Option<String>, "from_phase"),
        to_phase: col!(Option<String>, "to_phase"),
        plan_version: col!(i32, "plan_version"),
        summary: col!(String, "summary"),
        command: col!(String, "command"),
        effects: col!(String, "effects"),
        facts: col!(String, "facts"),
        state: col!(Option<String>, "state").unwrap_or_default(),
        prev_hash: col!(String, "prev_hash"),
        hash: col!(String, "hash"),
        mac: col!(Option<String>, "mac"),
    })
}

/// The phase visits, derived from the log's accepted start, advance and rollback entries.
async fn visits<C: ConnectionTrait>(conn: &C, migration_id: i32) -> Result<Vec<Visit>, StoreError> {
    // No ORDER BY: it would make SQLite walk the whole log in seq order instead of using
    // the visits index; the few entries are sorted here.
    let mut entries = read_entries(
        conn,
        transition::Entity::find()
            .filter(transition::Column::MigrationId.eq(migration_id))
            .filter(transition::Column::Result.eq("accepted"))
            .filter(transition::Column::Kind.is_in(["start", "advance", "rollback"])),
    )
    .await?
    .into_iter()
    .map(|t| t.map_err(|u| StoreError::Unverified(u.to_string())))
    .collect::<Result<Vec<_>, _>>()?;
    entries.sort_by_key(|t| t.seq);
    Ok(entries
        .into_iter()
        .map(|t| {
            let reason = serde_json::from_str::<serde_json::Value>(&t.command)
                .ok()
                .and_then(|v| v.get("reason").and_then(|r| r.as_str()).map(str::to_string));
            Visit {
                phase: t.to_phase.unwrap_or_default(),
                entered_at: t.at,
                via: t.kind,
                by: t.actor,
                reason,
            }
        })
        .collect())
}

/// A state row that cannot be decoded is named by its table (and is a reason to run
/// `history verify`); any other error stays a database error.
fn row_error(table: &str) -> impl Fn(DbErr) -> StoreError + '_ {
    move |e| {
        let text = one_line(&e.to_string());
        if text.contains("decoding column") {
            StoreError::Unverified(format!("a {table} row cannot be read ({text})"))
        } else {
            e.into()
        }
    }
}

/// The state rows of a migration (and its current plan), as they stand in `conn`.
async fn read_state<C: ConnectionTrait>(
    conn: &C,
    row: &migration::Model,
) -> Result<(StateRows, StoredPlan), StoreError> {
    let plan = plan::Entity::find()
        .filter(plan::Column::MigrationId.eq(row.id))
        .filter(plan::Column::Version.eq(row.plan_version))
        .one(conn)
        .await
        .map_err(row_error("plans"))?
        .map(plan_from_row)
        .ok_or_else(|| {
            StoreError::Unverified(format!(
                "migrations.plan_version is {} but there is no such plans row",
                row.plan_version
            ))
        })?;
    let signoffs = signoff::Entity::find()
        .filter(signoff::Column::MigrationId.eq(row.id))
        .order_by_asc(signoff::Column::Seq)
        .all(conn)
        .await
        .map_err(row_error("signoffs"))?
        .into_iter()
        .map(signoff_from_row)
        .collect();
    let waivers = waiver::Entity::find()
        .filter(waiver::Column::MigrationId.eq(row.id))
        .order_by_asc(waiver::Column::Seq)
        .all(conn)
        .await
        .map_err(row_error("waivers"))?
        .into_iter()
        .map(waiver_from_row)
        .collect();
    let runs = match row.phase_entered_at {
        Some(since) => check_run::Entity::find()
            .filter(check_run::Column::MigrationId.eq(row.id))
            .filter(check_run::Column::RecordedAt.gte(since))
            .order_by_asc(check_run::Column::RecordedAt)
            .order_by_asc(check_run::Column::Id)
            .all(conn)
            .await
            .map_err(row_error("check_runs"))?
            .into_iter()
            .map(check_run_from_row)
            .collect::<Result<Vec<_>, _>>()?,
        None => Vec::new(),
    };
    let rows = StateRows {
        name: row.name.clone(),
        status: row.status.clone(),
        phase: row.current_phase.clone(),
        entered_at: row.phase_entered_at,
        plan: PlanRef {
            version: plan.version,
            sha256: plan.hash.clone(),
        },
        signoffs,
        waivers,
        runs,
    };
    Ok((rows, plan))
}

async fn bump_version(
    txn: &DatabaseTransaction,
    migration_id: i32,
    version: i64,
    at: DateTime<Utc>,
    set: impl FnOnce(&mut migration::ActiveModel),
) -> Result<(), StoreError> {
    let mut am = migration::ActiveModel {
        version: Set(version + 1),
        updated_at: Set(at),
        ..Default::default()
    };
    set(&mut am);
    let res = migration::Entity::update_many()
        .set(am)
        .filter(migration::Column::Id.eq(migration_id))
        .filter(migration::Column::Version.eq(version))
        .exec(txn)
        .await?;
    if res.rows_affected == 1 {
        Ok(())
    } else {
        Err(StoreError::Conflict)
    }
}

async fn insert_plan(
    txn: &DatabaseTransaction,
    migration_id: i32,
    p: &NewPlan<'_>,
    at: DateTime<Utc>,
    by: Option<&str>,
) -> Result<(), StoreError> {
    plan::Entity::insert(plan::ActiveModel {
        id: NotSet,
        migration_id: Set(migration_id),
        version: Set(p.version),
        file_name: Set(p.file.to_string()),
        content: Set(p.content.to_string()),
        content_hash: Set(content_hash(p.content)),
        applied_at: Set(at),
        applied_by: Set(by.map(str::to_string)),
    })
    .exec(txn)
    .await
    .map_err(|e| {
        if e.to_string().to_lowercase().contains("unique") {
            StoreError::Conflict
        } else {
            e.into()
        }
    })?;
    Ok(())
}

async fn insert_check_run(
    txn: &DatabaseTransaction,
    migration_id: i32,
    phase: Option<&str>,
    run: &CheckRun,
) -> Result<RunRow, StoreError> {
    let phase = phase.unwrap_or_default().to_string();
    let source = if run.recorded_by.is_some() {
        "manual"
    } else {
        "scheduled"
    };
    let inserted = check_run::Entity::insert(check_run::ActiveModel {
        id: NotSet,
        migration_id: Set(migration_id),
        check_id: Set(run.check.clone()),
        phase: Set(phase.clone()),
        outcome: Set(run.outcome.as_str().to_string()),
        window_from: Set(run.window.map(|w| w.from)),
        window_to: Set(run.window.map(|w| w.to)),
        detail: Set(run.detail.clone()),
        recorded_by: Set(run.recorded_by.clone()),
        recorded_at: Set(run.recorded_at),
        source: Set(source.into()),
    })
    .exec(txn)
    .await?;
    Ok(RunRow {
        id: inserted.last_insert_id,
        phase,
        source: source.into(),
        run: run.clone(),
    })
}

/// Findings per multi-row insert: 7 bound values a row, under SQLite's (32,766) and
/// Postgres's (65,535) parameter limits.
const FINDINGS_PER_INSERT: usize = 4_000;

/// Stores a run's findings in multi-row inserts (inside the run's transaction; no ids
/// returned). Only what the check reports is stored: a reconcile's findings are its
/// non-matching keys, the matching ones are counted in the run's detail.
async fn insert_findings(
    txn: &DatabaseTransaction,
    run_id: i32,
    findings: &[NewFinding],
) -> Result<(), StoreError> {
    for chunk in findings.chunks(FINDINGS_PER_INSERT) {
        check_finding::Entity::insert_many(chunk.iter().map(|f| check_finding::ActiveModel {
            id: NotSet,
            check_run_id: Set(run_id),
            code: Set(f.code.clone()),
            subject: Set(f.subject.clone()),
            old_value: Set(f.old.clone()),
            new_value: Set(f.new.clone()),
            expected_value: Set(f.expected.clone()),
            detail: Set(f.detail.clone()),
        }))
        .exec_without_returning(txn)
        .await?;
    }
    Ok(())
}

/// Writes new and changed sign-offs; returns them (what the entry changed).
async fn sync_signoffs(
    txn: &DatabaseTransaction,
    migration_id: i32,
    old: &MigrationState,
    new: &MigrationState,
) -> Result<Vec<SignOff>, StoreError> {
    let mut changed = Vec::new();
    for s in &new.signoffs {
        match old.signoffs.iter().find(|o| o.seq == s.seq) {
            Some(o) if o == s => continue,
            Some(_) => {
                let am = signoff::ActiveModel {
                    revoked_at: Set(s.revoked.as_ref().map(|w| w.at)),
                    revoked_by: Set(s.revoked.as_ref().map(|w| w.by.clone())),
                    revoke_reason: Set(s.revoked.as_ref().map(|w| w.reason.clone())),
                    voided_at: Set(s.voided.as_ref().map(|w| w.at)),
                    voided_by: Set(s.voided.as_ref().map(|w| w.by.clone())),
                    void_reason: Set(s.voided.as_ref().map(|w| w.reason.clone())),
                    ..Default::default()
                };
                signoff::Entity::update_many()
                    .set(am)
                    .filter(signoff::Column::MigrationId.eq(migration_id))
                    .filter(signoff::Column::Seq.eq(s.seq as i32))
                    .exec(txn)
                    .await?;
            }
            None => {
                signoff::Entity::insert(signoff::ActiveModel {
                    id: NotSet,
                    migration_id: Set(migration_id),
                    seq: Set(s.seq as i32),
                    phase: Set(s.phase.clone()),
                    layer: Set(s.layer.clone()),
                    signed_by: Set(s.by.clone()),
                    signed_at: Set(s.at),
                    comment: Set(s.comment.clone()),
                    revoked_at: Set(s.revoked.as_ref().map(|w| w.at)),
                    revoked_by: Set(s.revoked.as_ref().map(|w| w.by.clone())),
                    revoke_reason: Set(s.revoked.as_ref().map(|w| w.reason.clone())),
                    voided_at: Set(s.voided.as_ref().map(|w| w.at)),
                    voided_by: Set(s.voided.as_ref().map(|w| w.by.clone())),
                    void_reason: Set(s.voided.as_ref().map(|w| w.reason.clone())),
                })
                .exec(txn)
                .await?;
            }
        }
        changed.push(s.clone());
    }
    Ok(changed)
}

/// Writes new waivers; returns them.
async fn sync_waivers(
    txn: &DatabaseTransaction,
    migration_id: i32,
    old: &MigrationState,
    new: &MigrationState,
) -> Result<Vec<Waiver>, StoreError> {
    let mut added = Vec::new();
    for w in new
        .waivers
        .iter()
        .filter(|w| !old.waivers.iter().any(|o| o.seq == w.seq))
    {
        waiver::Entity::insert(waiver::ActiveModel {
            id: NotSet,
            migration_id: Set(migration_id),
            seq: Set(w.seq as i32),
            condition_id: Set(w.condition.clone()),
            granted_by: Set(w.by.clone()),
            granted_at: Set(w.at),
            justification: Set(w.justification.clone()),
            expires: Set(w.expires),
            expires_at: Set(w.expires_at),
        })
        .exec(txn)
        .await?;
        added.push(w.clone());
    }
    Ok(added)
}

fn plan_from_row(p: plan::Model) -> StoredPlan {
    StoredPlan {
        version: p.version,
        file_name: p.file_name,
        content: p.content,
        hash: p.content_hash,
        applied_at: p.applied_at,
        applied_by: p.applied_by,
    }
}

fn signoff_from_row(s: signoff::Model) -> SignOff {
    let withdrawal = |at: Option<DateTime<Utc>>, by: Option<String>, reason: Option<String>| {
        at.map(|at| Withdrawal {
            at,
            by: by.unwrap_or_default(),
            reason: reason.unwrap_or_default(),
        })
    };
    SignOff {
        seq: s.seq as u32,
        phase: s.phase,
        layer: s.layer,
        by: s.signed_by,
        at: s.signed_at,
        comment: s.comment,
        revoked: withdrawal(s.revoked_at, s.revoked_by, s.revoke_reason),
        voided: withdrawal(s.voided_at, s.voided_by, s.void_reason),
    }
}

fn waiver_from_row(w: waiver::Model) -> Waiver {
    Waiver {
        seq: w.seq as u32,
        condition: w.condition_id,
        by: w.granted_by,
        at: w.granted_at,
        justification: w.justification,
        expires: w.expires,
        expires_at: w.expires_at,
    }
}

fn check_run_from_row(r: check_run::Model) -> Result<RunRow, StoreError> {
    Ok(RunRow {
        id: r.id,
        phase: r.phase,
        source: r.source,
        run: CheckRun {
            outcome: r
                .outcome
                .parse()
                .map_err(|e| StoreError::Unverified(format!("check_runs row id {}: {e}", r.id)))?,
            check: r.check_id,
            recorded_at: r.recorded_at,
            recorded_by: r.recorded_by,
            detail: r.detail,
            window: match (r.window_from, r.window_to) {
                (Some(from), Some(to)) => Some(Window { from, to }),
                _ => None,
            },
        },
    })
}
