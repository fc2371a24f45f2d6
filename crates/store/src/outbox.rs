//! The notification outbox: emails a decision implies, stored in the decision's own
//! transaction and delivered afterwards by `cutover-notify`.
//!
//! A row is queued once (its `dedupe_key` is unique, so a retried job or command queues
//! nothing twice), carries a `Message-ID` fixed when it is queued, is claimed for delivery
//! with a lease (so two senders never send it at the same time), and is marked `sent` only
//! after the mail server accepted it. A sender that dies between the server's acceptance
//! and the mark leaves the row to be sent again after its lease, with the same
//! `Message-ID`, so a receiving system can drop the duplicate.

use chrono::{DateTime, Utc};
use sea_orm::{
    ActiveValue::{NotSet, Set},
    ColumnTrait, ConnectionTrait, DatabaseTransaction, DbBackend, EntityTrait, QueryFilter,
    QueryOrder, QuerySelect, TryInsertResult,
    sea_query::{Expr, ExprTrait, LockBehavior, LockType},
};
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::entity::outbox;
use crate::{Decided, LogEntry, Snapshot, Store, StoreError};

/// One email to queue.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NewOutbox {
    /// Unique per message within the migration: the same key is never queued twice.
    /// Rows queued with a decision get the log entry's sequence number as a prefix.
    pub key: String,
    /// What the message is about (`digest`, `gate_changed`, `transition`...).
    pub kind: String,
    /// The plan's person id of the recipient.
    pub recipient: String,
    /// The recipient's address as the plan gives it.
    pub address: String,
    pub subject: String,
    pub text: String,
    pub html: String,
    /// The right-hand side of the `Message-ID` (the sender's domain).
    pub domain: String,
}

/// Where a queued message stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum OutboxStatus {
    /// Waiting for (another) delivery attempt.
    Queued,
    /// Accepted by the mail server.
    Sent,
    /// Gave up after the last attempt.
    Failed,
}

impl OutboxStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            OutboxStatus::Queued => "queued",
            OutboxStatus::Sent => "sent",
            OutboxStatus::Failed => "failed",
        }
    }

    fn parse(s: &str) -> Result<OutboxStatus, StoreError> {
        match s {
            "queued" => Ok(OutboxStatus::Queued),
            "sent" => Ok(OutboxStatus::Sent),
            "failed" => Ok(OutboxStatus::Failed),
            other => Err(StoreError::Corrupt(format!(
                "outbox row has unknown status {other:?}"
            ))),
        }
    }
}

/// A queued, sent or failed message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OutboxMessage {
    pub id: i32,
    pub key: String,
    pub kind: String,
    pub recipient: String,
    pub address: String,
    pub subject: String,
    #[serde(skip)]
    pub text: String,
    #[serde(skip)]
    pub html: String,
    /// With angle brackets, as it goes into the header.
    pub message_id: String,
    pub status: OutboxStatus,
    pub attempts: i32,
    pub next_attempt_at: DateTime<Utc>,
    pub last_error: Option<String>,
    pub created_at: DateTime<Utc>,
    pub sent_at: Option<DateTime<Utc>>,
}

impl TryFrom<outbox::Model> for OutboxMessage {
    type Error = StoreError;
    fn try_from(m: outbox::Model) -> Result<Self, StoreError> {
        Ok(OutboxMessage {
            id: m.id,
            key: m.dedupe_key,
            kind: m.kind,
            recipient: m.recipient,
            address: m.address,
            subject: m.subject,
            text: m.body_text,
            html: m.body_html,
            message_id: m.message_id,
            status: OutboxStatus::parse(&m.status)?,
            attempts: m.attempts,
            next_attempt_at: m.next_attempt_at,
            last_error: m.last_error,
            created_at: m.created_at,
            sent_at: m.sent_at,
        })
    }
}

/// The `Message-ID` of a row: derived from the migration and the key only, so it is the
/// same on every attempt and on every process.
pub fn message_id(migration_id: i32, key: &str, domain: &str) -> String {
    let digest = hex::encode(Sha256::digest(format!("{migration_id}\n{key}").as_bytes()));
    let domain: String = domain
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '.' || *c == '-')
        .collect();
    let domain = if domain.is_empty() {
        "cutover.invalid".to_string()
    } else {
        domain
    };
    format!("<cutover.{}@{domain}>", &digest[..32])
}

/// Queues `rows` on `conn` (a transaction the caller commits); a row whose key is already
/// queued is skipped. Returns how many were queued.
pub(crate) async fn enqueue_in<C: ConnectionTrait>(
    conn: &C,
    migration_id: i32,
    at: DateTime<Utc>,
    rows: &[NewOutbox],
) -> Result<u64, StoreError> {
    let mut queued = 0;
    for chunk in rows.chunks(200) {
        let models = chunk.iter().map(|r| outbox::ActiveModel {
            id: NotSet,
            migration_id: Set(migration_id),
            dedupe_key: Set(r.key.clone()),
            kind: Set(r.kind.clone()),
            recipient: Set(r.recipient.clone()),
            address: Set(r.address.clone()),
            subject: Set(r.subject.clone()),
            body_text: Set(r.text.clone()),
            body_html: Set(r.html.clone()),
            message_id: Set(message_id(migration_id, &r.key, &r.domain)),
            status: Set(OutboxStatus::Queued.as_str().to_string()),
            attempts: Set(0),
            next_attempt_at: Set(at),
            last_error: Set(None),
            created_at: Set(at),
            sent_at: Set(None),
        });
        let result = outbox::Entity::insert_many(models)
            .on_conflict_do_nothing_on([outbox::Column::DedupeKey])
            .exec_without_returning(conn)
            .await?;
        if let TryInsertResult::Inserted(n) = result {
            queued += n;
        }
    }
    Ok(queued)
}

/// Prefixes the keys of rows queued with a log entry, so the same message about two
/// decisions is two messages.
pub(crate) fn with_seq(seq: i64, rows: Vec<NewOutbox>) -> Vec<NewOutbox> {
    rows.into_iter()
        .map(|mut r| {
            r.key = format!("log{seq}/{}", r.key);
            r
        })
        .collect()
}

impl Store {
    /// Queues `rows` in a transaction of their own (for messages no decision implies:
    /// reminders, escalations). Returns how many were new.
    pub async fn enqueue(
        &self,
        migration_id: i32,
        at: DateTime<Utc>,
        rows: &[NewOutbox],
    ) -> Result<u64, StoreError> {
        let txn = self.begin_write().await?;
        let n = enqueue_in(&txn, migration_id, at, rows).await?;
        txn.commit().await?;
        Ok(n)
    }

    /// Like [`Store::decide_locked`], and queues the rows `decide` returns with the
    /// decision, in the same transaction: the decision is stored with its emails or not
    /// at all. Rows are queued for accepted decisions and refusals alike (a refused
    /// transition is news too); their keys get the log entry's number as a prefix.
    pub async fn decide_locked_with_outbox<'a, E>(
        &self,
        decide: impl FnOnce(&Snapshot) -> Result<Option<(Decided<'a>, Vec<NewOutbox>)>, E>,
    ) -> Result<Option<(LogEntry, Decided<'a>, u64)>, E>
    where
        E: From<StoreError>,
    {
        let txn = self.begin_write().await?;
        let mut rows = Vec::new();
        let mut migration_id = 0;
        let out = self
            .decide_in(&txn, |snap| {
                migration_id = snap.migration_id;
                Ok(decide(snap)?.map(|(d, r)| {
                    rows = r;
                    d
                }))
            })
            .await;
        let out = match out {
            Ok(Some((entry, decided))) => {
                let rows = with_seq(entry.seq, std::mem::take(&mut rows));
                match enqueue_in(&txn, migration_id, decided.at, &rows).await {
                    Ok(n) => Ok(Some((entry, decided, n))),
                    Err(e) => Err(E::from(e)),
                }
            }
            Ok(None) => Ok(None),
            Err(e) => Err(e),
        };
        match &out {
            Ok(Some(_)) => txn.commit().await.map_err(StoreError::from)?,
            _ => {
                let _ = txn.rollback().await;
            }
        }
        out
    }

    /// Queues `rows` against the log entry just written in `txn` (used by `create`).
    pub(crate) async fn enqueue_for_entry(
        &self,
        txn: &DatabaseTransaction,
        migration_id: i32,
        entry: &LogEntry,
        at: DateTime<Utc>,
        rows: Vec<NewOutbox>,
    ) -> Result<u64, StoreError> {
        enqueue_in(txn, migration_id, at, &with_seq(entry.seq, rows)).await
    }

    /// Every message, newest first (at most `limit`).
    pub async fn outbox(&self, limit: u64) -> Result<Vec<OutboxMessage>, StoreError> {
        outbox::Entity::find()
            .order_by_desc(outbox::Column::Id)
            .limit(limit)
            .all(&self.db)
            .await?
            .into_iter()
            .map(OutboxMessage::try_from)
            .collect()
    }

    /// How many messages are queued, sent and failed.
    pub async fn outbox_counts(&self) -> Result<(u64, u64, u64), StoreError> {
        let mut counts = (0, 0, 0);
        for (status, slot) in [
            (OutboxStatus::Queued, &mut counts.0),
            (OutboxStatus::Sent, &mut counts.1),
            (OutboxStatus::Failed, &mut counts.2),
        ] {
            *slot = sea_orm::PaginatorTrait::count(
                outbox::Entity::find().filter(outbox::Column::Status.eq(status.as_str())),
                &self.db,
            )
            .await?;
        }
        Ok(counts)
    }

    /// Claims up to `limit` queued messages due at `now`, oldest first, for `lease`: no
    /// other sender claims them until the lease runs out (a sender that dies leaves them
    /// to be claimed again then).
    pub async fn claim_due(
        &self,
        now: DateTime<Utc>,
        lease: chrono::TimeDelta,
        limit: u64,
    ) -> Result<Vec<OutboxMessage>, StoreError> {
        let txn = self.begin_write().await?;
        let mut query = outbox::Entity::find()
            .filter(outbox::Column::Status.eq(OutboxStatus::Queued.as_str()))
            .filter(outbox::Column::NextAttemptAt.lte(now))
            .order_by_asc(outbox::Column::Id)
            .limit(limit);
        if self.db.get_database_backend() == DbBackend::Postgres {
            query = query.lock_with_behavior(LockType::Update, LockBehavior::SkipLocked);
        }
        let rows = query.all(&txn).await?;
        if !rows.is_empty() {
            let ids: Vec<i32> = rows.iter().map(|r| r.id).collect();
            outbox::Entity::update_many()
                .col_expr(outbox::Column::NextAttemptAt, Expr::value(now + lease))
                .filter(outbox::Column::Id.is_in(ids))
                .exec(&txn)
                .await?;
        }
        txn.commit().await?;
        rows.into_iter().map(OutboxMessage::try_from).collect()
    }

    /// Marks a message sent: the mail server accepted it at `at`.
    pub async fn mark_sent(&self, id: i32, at: DateTime<Utc>) -> Result<(), StoreError> {
        outbox::Entity::update_many()
            .col_expr(
                outbox::Column::Status,
                Expr::value(OutboxStatus::Sent.as_str()),
            )
            .col_expr(
                outbox::Column::Attempts,
                Expr::col(outbox::Column::Attempts).add(1),
            )
            .col_expr(outbox::Column::SentAt, Expr::value(Some(at)))
            .col_expr(
                outbox::Column::LastError,
                Expr::value(Option::<String>::None),
            )
            .filter(outbox::Column::Id.eq(id))
            .exec(&self.db)
            .await?;
        Ok(())
    }

    /// Records a failed attempt: the message is tried again at `retry_at`, or given up
    /// (`failed`) when that is `None`.
    pub async fn mark_attempt_failed(
        &self,
        id: i32,
        error: &str,
        retry_at: Option<DateTime<Utc>>,
    ) -> Result<(), StoreError> {
        mark_failed_on(&self.db, id, error, retry_at).await
    }

    /// [`Store::mark_attempt_failed`] for many messages, in one transaction (a server
    /// that is down fails a whole batch).
    pub async fn mark_attempts_failed(
        &self,
        failures: &[(i32, String, Option<DateTime<Utc>>)],
    ) -> Result<(), StoreError> {
        if failures.is_empty() {
            return Ok(());
        }
        let txn = self.begin_write().await?;
        for (id, error, retry_at) in failures {
            mark_failed_on(&txn, *id, error, *retry_at).await?;
        }
        txn.commit().await?;
        Ok(())
    }
}

async fn mark_failed_on<C: ConnectionTrait>(
    conn: &C,
    id: i32,
    error: &str,
    retry_at: Option<DateTime<Utc>>,
) -> Result<(), StoreError> {
    {
        let status = match retry_at {
            Some(_) => OutboxStatus::Queued,
            None => OutboxStatus::Failed,
        };
        let mut update = outbox::Entity::update_many()
            .col_expr(outbox::Column::Status, Expr::value(status.as_str()))
            .col_expr(
                outbox::Column::Attempts,
                Expr::col(outbox::Column::Attempts).add(1),
            )
            .col_expr(
                outbox::Column::LastError,
                Expr::value(Some(error.to_string())),
            )
            .filter(outbox::Column::Id.eq(id))
            .filter(outbox::Column::Status.eq(OutboxStatus::Queued.as_str()));
        if let Some(at) = retry_at {
            update = update.col_expr(outbox::Column::NextAttemptAt, Expr::value(at));
        }
        update.exec(conn).await?;
        Ok(())
    }
}
