//! cutover-store: the durable record of a migration, on sea-orm (SQLite by default,
//! Postgres by URL).
//!
//! It keeps every applied plan version, the migration's status and phase (with a version
//! column for optimistic concurrency), check runs, sign-offs, waivers and an append-only,
//! hash-chained transition log. Every command is stored in one transaction: the state
//! change, its check runs and its log entry land together or not at all, and a command
//! decided on a stale state is rejected with [`StoreError::Conflict`].

mod chain;
mod entity;
mod snapshots;

use chrono::{DateTime, Utc};
use cutover_engine::{
    CheckRun, Command, Decision, Effect, Facts, MigrationState, Refusal, SignOff, Status, Visit,
    Waiver, Window, Withdrawal,
};
use cutover_migration::{Migrator, MigratorTrait};
use sea_orm::{
    ActiveValue::{NotSet, Set},
    ColumnTrait, ConnectOptions, Database, DatabaseConnection, DatabaseTransaction, DbErr,
    EntityTrait, QueryFilter, QueryOrder, TransactionTrait,
};
use serde::Serialize;
use sha2::{Digest, Sha256};

pub use chain::{BrokenLink, GENESIS, LogEntry, Verification, verify};
use entity::{check_finding, check_run, migration, plan, signoff, transition, waiver};
pub use snapshots::{NewSourceSnapshot, SnapshotPage, SnapshotStatus, SourceSnapshot};

/// What can go wrong in the store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("cannot open database {url}: {reason}")]
    Connect { url: String, reason: String },
    #[error("the database is locked by another process; retry in a moment")]
    Locked,
    #[error(
        "another command changed the migration while this one was being decided; nothing was changed"
    )]
    Conflict,
    #[error(
        "this database already holds migration \"{0}\"; use another database for another migration"
    )]
    AlreadyExists(String),
    #[error("no migration has been started in this database; run `cutover start PLAN`")]
    NotStarted,
    #[error("stored data is inconsistent: {0}")]
    Corrupt(String),
    #[error("database error: {0}")]
    Db(String),
}

impl From<DbErr> for StoreError {
    fn from(e: DbErr) -> Self {
        let text = e.to_string();
        if text.contains("database is locked") || text.contains("database table is locked") {
            StoreError::Locked
        } else {
            StoreError::Db(text)
        }
    }
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

/// The store, over one database connection pool.
#[derive(Debug, Clone)]
pub struct Store {
    db: DatabaseConnection,
}

impl Store {
    /// Opens (creating a SQLite file if needed) and brings the schema up to date.
    pub async fn connect(url: &str) -> Result<Store, StoreError> {
        let shown = redact_url(url);
        let mut opts = ConnectOptions::new(url.to_string());
        opts.sqlx_logging(false)
            .max_connections(4)
            .connect_timeout(std::time::Duration::from_secs(5))
            .acquire_timeout(std::time::Duration::from_secs(5));
        let db = Database::connect(opts)
            .await
            .map_err(|e| StoreError::Connect {
                url: shown.clone(),
                reason: one_line(&e.to_string()),
            })?;
        Migrator::up(&db, None)
            .await
            .map_err(|e| match StoreError::from(e) {
                StoreError::Locked => StoreError::Locked,
                other => StoreError::Connect {
                    url: shown,
                    reason: format!("schema migration failed: {other}"),
                },
            })?;
        Ok(Store { db })
    }

    /// The underlying connection (for the job runtime, which shares the database).
    pub fn connection(&self) -> &DatabaseConnection {
        &self.db
    }

    /// Reads the migration, its current plan, state and facts.
    pub async fn load(&self) -> Result<Snapshot, StoreError> {
        let row = migration::Entity::find()
            .order_by_asc(migration::Column::Id)
            .one(&self.db)
            .await?
            .ok_or(StoreError::NotStarted)?;
        self.snapshot(row).await
    }

    async fn snapshot(&self, row: migration::Model) -> Result<Snapshot, StoreError> {
        let plan = plan::Entity::find()
            .filter(plan::Column::MigrationId.eq(row.id))
            .filter(plan::Column::Version.eq(row.plan_version))
            .one(&self.db)
            .await?
            .ok_or_else(|| {
                StoreError::Corrupt(format!("plan version {} is missing", row.plan_version))
            })?;
        let signoffs = signoff::Entity::find()
            .filter(signoff::Column::MigrationId.eq(row.id))
            .order_by_asc(signoff::Column::Seq)
            .all(&self.db)
            .await?
            .into_iter()
            .map(signoff_from_row)
            .collect();
        let waivers = waiver::Entity::find()
            .filter(waiver::Column::MigrationId.eq(row.id))
            .order_by_asc(waiver::Column::Seq)
            .all(&self.db)
            .await?
            .into_iter()
            .map(|w| Waiver {
                seq: w.seq as u32,
                condition: w.condition_id,
                by: w.granted_by,
                at: w.granted_at,
                justification: w.justification,
                expires: w.expires,
                expires_at: w.expires_at,
            })
            .collect();
        let history = transition::Entity::find()
            .filter(transition::Column::MigrationId.eq(row.id))
            .filter(transition::Column::Result.eq("accepted"))
            .filter(transition::Column::Kind.is_in(["start", "advance", "rollback"]))
            .order_by_asc(transition::Column::Seq)
            .all(&self.db)
            .await?
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
            .collect();
        let status = Status::parse(&row.status)
            .ok_or_else(|| StoreError::Corrupt(format!("unknown status \"{}\"", row.status)))?;
        let facts = match row.phase_entered_at {
            Some(since) => Facts {
                check_runs: self.check_runs_since(row.id, Some(since)).await?,
            },
            None => Facts::default(),
        };
        Ok(Snapshot {
            migration_id: row.id,
            name: row.name,
            version: row.version,
            plan: StoredPlan {
                version: plan.version,
                file_name: plan.file_name,
                hash: plan.content_hash,
                content: plan.content,
                applied_at: plan.applied_at,
                applied_by: plan.applied_by,
            },
            state: MigrationState {
                status,
                phase: row.current_phase,
                entered_at: row.phase_entered_at,
                history,
                signoffs,
                waivers,
            },
            facts,
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
        rows.into_iter().map(check_run_from_row).collect()
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
        let txn = self.db.begin().await?;
        if let Some(existing) = migration::Entity::find().one(&txn).await? {
            return Err(StoreError::AlreadyExists(existing.name));
        }
        let inserted = migration::Entity::insert(migration::ActiveModel {
            id: NotSet,
            name: Set(name.to_string()),
            status: Set(Status::NotStarted.as_str().to_string()),
            current_phase: Set(None),
            phase_entered_at: Set(None),
            plan_version: Set(1),
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
        insert_plan(&txn, id, 1, plan_file, plan_content, at, command.actor()).await?;
        let entry = self
            .append(
                &txn,
                id,
                0,
                &MigrationState::new(),
                1,
                at,
                command,
                Ok(decision),
                "{}".to_string(),
                &[],
            )
            .await?;
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
        let facts = serde_json::to_string(&snap.facts).unwrap_or_else(|_| "{}".into());
        let txn = self.db.begin().await?;
        let entry = self
            .append(
                &txn,
                snap.migration_id,
                snap.version,
                &snap.state,
                snap.plan.version,
                at,
                command,
                result,
                facts,
                findings,
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
        let findings = check_finding::Entity::find()
            .filter(check_finding::Column::CheckRunId.eq(run.id))
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
            .collect();
        Ok(Some((check_run_from_row(run)?, findings)))
    }

    /// Stores a new plan version and makes it current; logged as `plan_apply`.
    pub async fn apply_plan(
        &self,
        snap: &Snapshot,
        plan_file: &str,
        plan_content: &str,
        by: Option<&str>,
        at: DateTime<Utc>,
    ) -> Result<(i32, LogEntry), StoreError> {
        let new_version = snap.plan.version + 1;
        let txn = self.db.begin().await?;
        bump_version(&txn, snap.migration_id, snap.version, at, |am| {
            am.plan_version = Set(new_version);
        })
        .await?;
        insert_plan(
            &txn,
            snap.migration_id,
            new_version,
            plan_file,
            plan_content,
            at,
            by,
        )
        .await?;
        let hash = content_hash(plan_content);
        let command = serde_json::json!({
            "command": "plan_apply",
            "file": plan_file,
            "sha256": hash,
            "version": new_version,
        });
        let entry = LogEntry {
            seq: 0,
            at,
            kind: "plan_apply".into(),
            result: "accepted".into(),
            actor: by.map(str::to_string),
            from_phase: snap.state.phase.clone(),
            to_phase: snap.state.phase.clone(),
            plan_version: new_version,
            summary: format!(
                "applied plan version {new_version} from {plan_file} (sha256 {})",
                &hash[..12]
            ),
            command: command.to_string(),
            effects: "[]".into(),
            facts: serde_json::json!({ "previous_version": snap.plan.version, "previous_sha256": snap.plan.hash }).to_string(),
            prev_hash: String::new(),
            hash: String::new(),
        };
        let entry = push_entry(&txn, snap.migration_id, entry).await?;
        txn.commit().await?;
        Ok((new_version, entry))
    }

    /// Every plan version, oldest first.
    pub async fn plans(&self, snap: &Snapshot) -> Result<Vec<StoredPlan>, StoreError> {
        Ok(plan::Entity::find()
            .filter(plan::Column::MigrationId.eq(snap.migration_id))
            .order_by_asc(plan::Column::Version)
            .all(&self.db)
            .await?
            .into_iter()
            .map(|p| StoredPlan {
                version: p.version,
                file_name: p.file_name,
                content: p.content,
                hash: p.content_hash,
                applied_at: p.applied_at,
                applied_by: p.applied_by,
            })
            .collect())
    }

    /// The whole transition log, oldest first.
    pub async fn log(&self) -> Result<Vec<LogEntry>, StoreError> {
        let Some(row) = migration::Entity::find()
            .order_by_asc(migration::Column::Id)
            .one(&self.db)
            .await?
        else {
            return Err(StoreError::NotStarted);
        };
        Ok(transition::Entity::find()
            .filter(transition::Column::MigrationId.eq(row.id))
            .order_by_asc(transition::Column::Seq)
            .all(&self.db)
            .await?
            .into_iter()
            .map(entry_from_row)
            .collect())
    }

    #[allow(clippy::too_many_arguments)]
    async fn append(
        &self,
        txn: &DatabaseTransaction,
        migration_id: i32,
        version: i64,
        old: &MigrationState,
        plan_version: i32,
        at: DateTime<Utc>,
        command: &Command,
        result: Result<&Decision, &Refusal>,
        facts: String,
        findings: &[NewFinding],
    ) -> Result<LogEntry, StoreError> {
        let command_json = serde_json::to_string(command).unwrap_or_default();
        let entry = match result {
            Ok(decision) => {
                let new = &decision.state;
                bump_version(txn, migration_id, version, at, |am| {
                    am.status = Set(new.status.as_str().to_string());
                    am.current_phase = Set(new.phase.clone());
                    am.phase_entered_at = Set(new.entered_at);
                })
                .await?;
                sync_signoffs(txn, migration_id, old, new).await?;
                sync_waivers(txn, migration_id, old, new).await?;
                let phase = decision.from_phase.clone().or(new.phase.clone());
                for effect in &decision.effects {
                    if let Effect::RecordCheckRun { run } = effect {
                        let run_id =
                            insert_check_run(txn, migration_id, phase.as_deref(), run).await?;
                        insert_findings(txn, run_id, findings).await?;
                    }
                }
                LogEntry {
                    seq: 0,
                    at,
                    kind: command.kind().to_string(),
                    result: "accepted".into(),
                    actor: command.actor().map(str::to_string),
                    from_phase: decision.from_phase.clone(),
                    to_phase: decision.to_phase.clone(),
                    plan_version,
                    summary: decision.summary.clone(),
                    command: command_json,
                    effects: serde_json::to_string(&decision.effects).unwrap_or_default(),
                    facts,
                    prev_hash: String::new(),
                    hash: String::new(),
                }
            }
            Err(refusal) => {
                // A refusal changes no state, but it is logged, so the lock version moves
                // to keep the chain linear.
                bump_version(txn, migration_id, version, at, |_| {}).await?;
                LogEntry {
                    seq: 0,
                    at,
                    kind: command.kind().to_string(),
                    result: "refused".into(),
                    actor: command.actor().map(str::to_string),
                    from_phase: old.phase.clone(),
                    to_phase: old.phase.clone(),
                    plan_version,
                    summary: refusal.to_string(),
                    command: command_json,
                    effects: serde_json::to_string(refusal).unwrap_or_default(),
                    facts,
                    prev_hash: String::new(),
                    hash: String::new(),
                }
            }
        };
        push_entry(txn, migration_id, entry).await
    }
}

fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
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

async fn push_entry(
    txn: &DatabaseTransaction,
    migration_id: i32,
    mut entry: LogEntry,
) -> Result<LogEntry, StoreError> {
    let last = transition::Entity::find()
        .filter(transition::Column::MigrationId.eq(migration_id))
        .order_by_desc(transition::Column::Seq)
        .one(txn)
        .await?;
    let (seq, prev) = match last {
        Some(l) => (l.seq + 1, l.hash),
        None => (1, GENESIS.to_string()),
    };
    entry.seq = seq;
    entry.prev_hash = prev;
    entry.hash = entry.compute_hash();
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
        prev_hash: Set(entry.prev_hash.clone()),
        hash: Set(entry.hash.clone()),
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

async fn insert_plan(
    txn: &DatabaseTransaction,
    migration_id: i32,
    version: i32,
    file: &str,
    content: &str,
    at: DateTime<Utc>,
    by: Option<&str>,
) -> Result<(), StoreError> {
    plan::Entity::insert(plan::ActiveModel {
        id: NotSet,
        migration_id: Set(migration_id),
        version: Set(version),
        file_name: Set(file.to_string()),
        content: Set(content.to_string()),
        content_hash: Set(content_hash(content)),
        applied_at: Set(at),
        applied_by: Set(by.map(str::to_string)),
    })
    .exec(txn)
    .await?;
    Ok(())
}

async fn insert_check_run(
    txn: &DatabaseTransaction,
    migration_id: i32,
    phase: Option<&str>,
    run: &CheckRun,
) -> Result<i32, StoreError> {
    let inserted = check_run::Entity::insert(check_run::ActiveModel {
        id: NotSet,
        migration_id: Set(migration_id),
        check_id: Set(run.check.clone()),
        phase: Set(phase.unwrap_or_default().to_string()),
        outcome: Set(run.outcome.as_str().to_string()),
        window_from: Set(run.window.map(|w| w.from)),
        window_to: Set(run.window.map(|w| w.to)),
        detail: Set(run.detail.clone()),
        recorded_by: Set(run.recorded_by.clone()),
        recorded_at: Set(run.recorded_at),
        source: Set(if run.recorded_by.is_some() {
            "manual".into()
        } else {
            "scheduled".into()
        }),
    })
    .exec(txn)
    .await?;
    Ok(inserted.last_insert_id)
}

async fn insert_findings(
    txn: &DatabaseTransaction,
    run_id: i32,
    findings: &[NewFinding],
) -> Result<(), StoreError> {
    for chunk in findings.chunks(500) {
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
        .exec(txn)
        .await?;
    }
    Ok(())
}

async fn sync_signoffs(
    txn: &DatabaseTransaction,
    migration_id: i32,
    old: &MigrationState,
    new: &MigrationState,
) -> Result<(), StoreError> {
    for s in &new.signoffs {
        match old.signoffs.iter().find(|o| o.seq == s.seq) {
            Some(o) if o == s => {}
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
    }
    Ok(())
}

async fn sync_waivers(
    txn: &DatabaseTransaction,
    migration_id: i32,
    old: &MigrationState,
    new: &MigrationState,
) -> Result<(), StoreError> {
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
    }
    Ok(())
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

fn check_run_from_row(r: check_run::Model) -> Result<CheckRun, StoreError> {
    Ok(CheckRun {
        outcome: r.outcome.parse().map_err(StoreError::Corrupt)?,
        check: r.check_id,
        recorded_at: r.recorded_at,
        recorded_by: r.recorded_by,
        detail: r.detail,
        window: match (r.window_from, r.window_to) {
            (Some(from), Some(to)) => Some(Window { from, to }),
            _ => None,
        },
    })
}

fn entry_from_row(t: transition::Model) -> LogEntry {
    LogEntry {
        seq: t.seq,
        at: t.at,
        kind: t.kind,
        result: t.result,
        actor: t.actor,
        from_phase: t.from_phase,
        to_phase: t.to_phase,
        plan_version: t.plan_version,
        summary: t.summary,
        command: t.command,
        effects: t.effects,
        facts: t.facts,
        prev_hash: t.prev_hash,
        hash: t.hash,
    }
}
