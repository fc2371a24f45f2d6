//! The job runtime's bookkeeping: the cron ticks the scheduler handled (so two
//! schedulers on one database queue a tick once, and a restarted one knows what it
//! already did), and the idempotency key of every scheduled run, written in the run's own
//! transaction under the migration's write lock (so a retried or duplicated job never
//! stores a second run or queues a second email).

use chrono::{DateTime, Utc};
use sea_orm::{
    ActiveModelTrait,
    ActiveValue::{NotSet, Set},
    ColumnTrait, DatabaseTransaction, DbBackend, EntityTrait, QueryFilter, QueryOrder, QuerySelect,
    TryInsertResult,
    sea_query::Expr,
};

use crate::entity::{migration, run_key, schedule_tick};
use crate::outbox::{enqueue_in, with_seq};
use crate::{Decided, LogEntry, NewOutbox, Snapshot, Store, StoreError};

/// What [`Store::decide_locked_once`] did.
#[derive(Debug)]
pub enum Once<T> {
    /// Decided and stored, with the key.
    Stored(T),
    /// `decide` returned `None`: nothing was stored.
    Nothing,
    /// A run with this key was stored before, by the log entry `log_seq`: nothing was.
    AlreadyStored { log_seq: i64 },
}

impl Store {
    /// Like [`Store::decide_locked_with_outbox`], at most once per `key`: under the write
    /// lock, a key already stored stops everything ([`Once::AlreadyStored`]); otherwise
    /// the key is stored with the decision and its emails, in the same transaction.
    pub async fn decide_locked_once<'a, E>(
        &self,
        key: &str,
        decide: impl FnOnce(&Snapshot) -> Result<Option<(Decided<'a>, Vec<NewOutbox>)>, E>,
    ) -> Result<Once<(LogEntry, Decided<'a>, u64)>, E>
    where
        E: From<StoreError>,
    {
        let txn = self.begin_write().await?;
        let out = self.once_in(&txn, key, decide).await;
        match &out {
            Ok(Once::Stored(_)) => txn.commit().await.map_err(StoreError::from)?,
            _ => {
                let _ = txn.rollback().await;
            }
        }
        out
    }

    async fn once_in<'a, E>(
        &self,
        txn: &DatabaseTransaction,
        key: &str,
        decide: impl FnOnce(&Snapshot) -> Result<Option<(Decided<'a>, Vec<NewOutbox>)>, E>,
    ) -> Result<Once<(LogEntry, Decided<'a>, u64)>, E>
    where
        E: From<StoreError>,
    {
        let mut query = migration::Entity::find().order_by_asc(migration::Column::Id);
        if self.db.get_database_backend() == DbBackend::Postgres {
            // The lock every writer takes first (SQLite: the transaction is immediate).
            query = query.lock_exclusive();
        }
        let m = query
            .one(txn)
            .await
            .map_err(StoreError::from)?
            .ok_or(StoreError::NotStarted)?;
        if let Some(k) = run_key::Entity::find()
            .filter(run_key::Column::MigrationId.eq(m.id))
            .filter(run_key::Column::RunKey.eq(key))
            .one(txn)
            .await
            .map_err(StoreError::from)?
        {
            return Ok(Once::AlreadyStored { log_seq: k.log_seq });
        }
        let mut rows = Vec::new();
        let out = self
            .decide_in(txn, |snap| -> Result<Option<Decided<'a>>, E> {
                Ok(decide(snap)?.map(|(d, r)| {
                    rows = r;
                    d
                }))
            })
            .await?;
        let Some((entry, decided)) = out else {
            return Ok(Once::Nothing);
        };
        let queued = enqueue_in(txn, m.id, decided.at, &with_seq(entry.seq, rows)).await?;
        run_key::ActiveModel {
            id: NotSet,
            migration_id: Set(m.id),
            run_key: Set(key.to_string()),
            log_seq: Set(entry.seq),
            created_at: Set(decided.at),
        }
        .insert(txn)
        .await
        .map_err(StoreError::from)?;
        Ok(Once::Stored((entry, decided, queued)))
    }

    /// The log entry of the run stored with `key`, if one was.
    pub async fn run_key(&self, migration_id: i32, key: &str) -> Result<Option<i64>, StoreError> {
        Ok(run_key::Entity::find()
            .filter(run_key::Column::MigrationId.eq(migration_id))
            .filter(run_key::Column::RunKey.eq(key))
            .one(&self.db)
            .await?
            .map(|k| k.log_seq))
    }

    /// Records that the scheduler handles `tick` of `check` with `status` (`queued`,
    /// `skipped`); `false` when the tick was handled before (by this or another
    /// scheduler), and then nothing is written.
    pub async fn claim_tick(
        &self,
        migration_id: i32,
        check: &str,
        tick: DateTime<Utc>,
        plan_version: i32,
        status: &str,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let model = schedule_tick::ActiveModel {
            id: NotSet,
            migration_id: Set(migration_id),
            check_id: Set(check.to_string()),
            tick_at: Set(tick),
            plan_version: Set(plan_version),
            status: Set(status.to_string()),
            created_at: Set(now),
        };
        let result = schedule_tick::Entity::insert_many([model])
            .on_conflict_do_nothing_on([
                schedule_tick::Column::MigrationId,
                schedule_tick::Column::CheckId,
                schedule_tick::Column::TickAt,
            ])
            .exec_without_returning(&self.db)
            .await?;
        Ok(matches!(result, TryInsertResult::Inserted(n) if n > 0))
    }

    /// Sets the status of a handled tick (`done`, `superseded`...).
    pub async fn finish_tick(
        &self,
        migration_id: i32,
        check: &str,
        tick: DateTime<Utc>,
        status: &str,
    ) -> Result<(), StoreError> {
        schedule_tick::Entity::update_many()
            .col_expr(schedule_tick::Column::Status, Expr::value(status))
            .filter(schedule_tick::Column::MigrationId.eq(migration_id))
            .filter(schedule_tick::Column::CheckId.eq(check))
            .filter(schedule_tick::Column::TickAt.eq(tick))
            .exec(&self.db)
            .await?;
        Ok(())
    }

    /// The latest tick of `check` the scheduler handled, whatever became of it.
    pub async fn latest_tick(
        &self,
        migration_id: i32,
        check: &str,
    ) -> Result<Option<DateTime<Utc>>, StoreError> {
        Ok(schedule_tick::Entity::find()
            .filter(schedule_tick::Column::MigrationId.eq(migration_id))
            .filter(schedule_tick::Column::CheckId.eq(check))
            .order_by_desc(schedule_tick::Column::TickAt)
            .one(&self.db)
            .await?
            .map(|t| t.tick_at))
    }

    /// A tick of `check` queued since `since` and not finished yet (a job still running or
    /// waiting), if there is one.
    pub async fn open_tick(
        &self,
        migration_id: i32,
        check: &str,
        since: DateTime<Utc>,
    ) -> Result<Option<DateTime<Utc>>, StoreError> {
        Ok(schedule_tick::Entity::find()
            .filter(schedule_tick::Column::MigrationId.eq(migration_id))
            .filter(schedule_tick::Column::CheckId.eq(check))
            .filter(schedule_tick::Column::Status.eq("queued"))
            .filter(schedule_tick::Column::CreatedAt.gte(since))
            .order_by_desc(schedule_tick::Column::TickAt)
            .limit(1)
            .one(&self.db)
            .await?
            .map(|t| t.tick_at))
    }
}
