//! Source snapshots: storing every pull of a source's window (raw payload hashes, redacted
//! requests, time, counts and the normalised rows) and reading them back, so a check run
//! can be reproduced from exactly the data it saw.
//!
//! A snapshot is written in one transaction, header and rows together, and carries its
//! status from the start: a failed or inconclusive pull can be stored for the record but
//! is never returned by [`Store::latest_complete_snapshot`].

use chrono::{DateTime, NaiveDate, Utc};
use cutover_recon::Row;
use sea_orm::{
    ActiveValue::{NotSet, Set},
    ColumnTrait, EntityTrait, QueryFilter, QueryOrder, TransactionTrait,
};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::entity::{source_snapshot, source_snapshot_rows};
use crate::{Store, StoreError};

/// Rows per stored chunk.
const CHUNK: usize = 10_000;

/// How a pull ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SnapshotStatus {
    /// Every row of the window: a check may read it.
    Complete,
    /// Rows are known to be missing (truncation); kept for inspection only.
    Inconclusive,
    /// The pull failed; no rows.
    Failed,
}

impl SnapshotStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            SnapshotStatus::Complete => "complete",
            SnapshotStatus::Inconclusive => "inconclusive",
            SnapshotStatus::Failed => "failed",
        }
    }

    fn parse(s: &str) -> Result<Self, StoreError> {
        match s {
            "complete" => Ok(SnapshotStatus::Complete),
            "inconclusive" => Ok(SnapshotStatus::Inconclusive),
            "failed" => Ok(SnapshotStatus::Failed),
            other => Err(StoreError::Corrupt(format!(
                "unknown snapshot status \"{other}\""
            ))),
        }
    }
}

/// One raw payload a pull read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SnapshotPage {
    /// Method and URL, secrets replaced by `***`.
    pub request: String,
    pub status: u16,
    pub bytes: u64,
    pub sha256: String,
    pub records: u64,
}

/// A pull to store.
#[derive(Debug, Clone, PartialEq)]
pub struct NewSourceSnapshot {
    pub source_id: String,
    pub system: String,
    pub window_from: NaiveDate,
    pub window_to: NaiveDate,
    pub status: SnapshotStatus,
    /// Why it is inconclusive or failed.
    pub reason: Option<String>,
    pub started_at: DateTime<Utc>,
    pub finished_at: DateTime<Utc>,
    pub pages: Vec<SnapshotPage>,
    pub bytes: u64,
    pub payload_sha256: String,
    pub rows: Vec<Row>,
}

/// A stored snapshot's header.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SourceSnapshot {
    pub id: i32,
    pub source_id: String,
    pub system: String,
    pub window_from: NaiveDate,
    pub window_to: NaiveDate,
    pub status: SnapshotStatus,
    pub reason: Option<String>,
    pub started_at: DateTime<Utc>,
    pub finished_at: DateTime<Utc>,
    pub pages: Vec<SnapshotPage>,
    pub bytes: u64,
    pub row_count: u64,
    /// sha256 over the raw payloads, in page order.
    pub payload_sha256: String,
    /// sha256 over the stored row chunks, in order (checked on read).
    pub rows_sha256: String,
}

fn header(m: source_snapshot::Model) -> Result<SourceSnapshot, StoreError> {
    Ok(SourceSnapshot {
        id: m.id,
        status: SnapshotStatus::parse(&m.status)?,
        pages: serde_json::from_str(&m.pages)
            .map_err(|e| StoreError::Corrupt(format!("snapshot {}: pages: {e}", m.id)))?,
        source_id: m.source_id,
        system: m.system,
        window_from: m.window_from,
        window_to: m.window_to,
        reason: m.reason,
        started_at: m.started_at,
        finished_at: m.finished_at,
        bytes: m.bytes.max(0) as u64,
        row_count: m.row_count.max(0) as u64,
        payload_sha256: m.payload_sha256,
        rows_sha256: m.rows_sha256,
    })
}

impl Store {
    /// Stores a pull as a new snapshot (header and rows in one transaction); returns its id.
    pub async fn save_source_snapshot(&self, s: &NewSourceSnapshot) -> Result<i32, StoreError> {
        let rows: &[Row] = if s.status == SnapshotStatus::Failed {
            &[]
        } else {
            &s.rows
        };
        let mut chunks = Vec::new();
        let mut hasher = Sha256::new();
        for chunk in rows.chunks(CHUNK) {
            let text = serde_json::to_string(chunk)
                .map_err(|e| StoreError::Db(format!("cannot encode rows: {e}")))?;
            hasher.update(text.as_bytes());
            chunks.push(text);
        }
        let rows_sha256 = hex::encode(hasher.finalize());
        let pages = serde_json::to_string(&s.pages)
            .map_err(|e| StoreError::Db(format!("cannot encode pages: {e}")))?;
        let txn = self.connection().begin().await?;
        let inserted = source_snapshot::Entity::insert(source_snapshot::ActiveModel {
            id: NotSet,
            source_id: Set(s.source_id.clone()),
            system: Set(s.system.clone()),
            window_from: Set(s.window_from),
            window_to: Set(s.window_to),
            status: Set(s.status.as_str().to_owned()),
            reason: Set(s.reason.clone()),
            started_at: Set(s.started_at),
            finished_at: Set(s.finished_at),
            page_count: Set(s.pages.len() as i32),
            bytes: Set(s.bytes as i64),
            row_count: Set(rows.len() as i64),
            payload_sha256: Set(s.payload_sha256.clone()),
            rows_sha256: Set(rows_sha256),
            pages: Set(pages),
        })
        .exec(&txn)
        .await?;
        let id = inserted.last_insert_id;
        // A few chunks per statement keeps each under the backends' parameter limits.
        let models: Vec<source_snapshot_rows::ActiveModel> = chunks
            .into_iter()
            .enumerate()
            .map(|(i, text)| source_snapshot_rows::ActiveModel {
                id: NotSet,
                snapshot_id: Set(id),
                chunk: Set(i as i32),
                rows: Set(text),
            })
            .collect();
        let mut models = models.into_iter().peekable();
        while models.peek().is_some() {
            let batch: Vec<_> = models.by_ref().take(16).collect();
            source_snapshot_rows::Entity::insert_many(batch)
                .exec(&txn)
                .await?;
        }
        txn.commit().await?;
        tracing::info!(snapshot = id, source = %s.source_id, status = s.status.as_str(), rows = rows.len(), "Snapshot stored.");
        Ok(id)
    }

    /// One snapshot's header.
    pub async fn source_snapshot(&self, id: i32) -> Result<Option<SourceSnapshot>, StoreError> {
        source_snapshot::Entity::find_by_id(id)
            .one(self.connection())
            .await?
            .map(header)
            .transpose()
    }

    /// Every snapshot of `source_id` for exactly this window, newest first.
    pub async fn source_snapshots(
        &self,
        source_id: &str,
        from: NaiveDate,
        to: NaiveDate,
    ) -> Result<Vec<SourceSnapshot>, StoreError> {
        source_snapshot::Entity::find()
            .filter(source_snapshot::Column::SourceId.eq(source_id))
            .filter(source_snapshot::Column::WindowFrom.eq(from))
            .filter(source_snapshot::Column::WindowTo.eq(to))
            .order_by_desc(source_snapshot::Column::Id)
            .all(self.connection())
            .await?
            .into_iter()
            .map(header)
            .collect()
    }

    /// The newest complete snapshot of `source_id` for exactly this window, with its rows.
    /// This is what a check reads; inconclusive and failed pulls are never returned.
    pub async fn latest_complete_snapshot(
        &self,
        source_id: &str,
        from: NaiveDate,
        to: NaiveDate,
    ) -> Result<Option<(SourceSnapshot, Vec<Row>)>, StoreError> {
        let found = source_snapshot::Entity::find()
            .filter(source_snapshot::Column::SourceId.eq(source_id))
            .filter(source_snapshot::Column::WindowFrom.eq(from))
            .filter(source_snapshot::Column::WindowTo.eq(to))
            .filter(source_snapshot::Column::Status.eq(SnapshotStatus::Complete.as_str()))
            .order_by_desc(source_snapshot::Column::Id)
            .one(self.connection())
            .await?;
        let Some(m) = found else {
            return Ok(None);
        };
        let snap = header(m)?;
        let rows = self.snapshot_rows(&snap).await?;
        Ok(Some((snap, rows)))
    }

    /// The rows of a snapshot, checked against the hash stored with it.
    pub async fn snapshot_rows(&self, snap: &SourceSnapshot) -> Result<Vec<Row>, StoreError> {
        let chunks = source_snapshot_rows::Entity::find()
            .filter(source_snapshot_rows::Column::SnapshotId.eq(snap.id))
            .order_by_asc(source_snapshot_rows::Column::Chunk)
            .all(self.connection())
            .await?;
        let mut hasher = Sha256::new();
        let mut rows = Vec::with_capacity(snap.row_count as usize);
        for c in chunks {
            hasher.update(c.rows.as_bytes());
            let mut part: Vec<Row> = serde_json::from_str(&c.rows).map_err(|e| {
                StoreError::Corrupt(format!("snapshot {} chunk {}: {e}", snap.id, c.chunk))
            })?;
            rows.append(&mut part);
        }
        if hex::encode(hasher.finalize()) != snap.rows_sha256 || rows.len() as u64 != snap.row_count
        {
            return Err(StoreError::Corrupt(format!(
                "snapshot {}: stored rows do not match their hash",
                snap.id
            )));
        }
        Ok(rows)
    }
}
