//! Pulling one window of a source and storing it as a snapshot (failed and inconclusive
//! pulls too, marked as such): what `cutover pull` and every check run do first.

use cutover_plan::Source;
use cutover_sources::{Pull, PullOptions, PullStatus, Window};
use cutover_store::{NewSourceSnapshot, SnapshotPage, SnapshotStatus, Store};

use crate::RunError;

/// The snapshot to store for a pull (takes the rows, does not copy them).
pub fn snapshot_of(p: Pull) -> NewSourceSnapshot {
    let (status, reason) = match p.status {
        PullStatus::Complete => (SnapshotStatus::Complete, None),
        PullStatus::Inconclusive { reason } => (SnapshotStatus::Inconclusive, Some(reason)),
    };
    NewSourceSnapshot {
        source_id: p.source,
        system: p.system,
        window_from: p.window.from,
        window_to: p.window.to,
        status,
        reason,
        started_at: p.started_at,
        finished_at: p.finished_at,
        pages: p
            .pages
            .into_iter()
            .map(|pg| SnapshotPage {
                request: pg.request,
                status: pg.status,
                bytes: pg.bytes,
                sha256: pg.sha256,
                records: pg.records,
            })
            .collect(),
        bytes: p.bytes,
        payload_sha256: p.payload_sha256,
        rows: p.rows,
    }
}

/// A pull that was stored.
pub struct StoredPull {
    pub id: i32,
    /// What was stored, rows included (complete or inconclusive).
    pub snapshot: NewSourceSnapshot,
    /// Records the pull read and left out (days outside the window, skipped labels).
    pub dropped: Vec<cutover_sources::Dropped>,
}

/// Pulls `window` of `source` and stores it as a snapshot. A failed pull is stored as a
/// failed snapshot (no rows) and returned as a failure naming it. For `check run`: a
/// check may use `stored.snapshot.rows` only when its status is complete.
pub async fn pull_and_store(
    store: &Store,
    source: &Source,
    window: Window,
    opts: &PullOptions,
) -> Result<StoredPull, RunError> {
    let started_at = chrono::Utc::now();
    match cutover_sources::pull(source, window, opts).await {
        Ok(mut p) => {
            let dropped = std::mem::take(&mut p.dropped);
            for d in &dropped {
                tracing::warn!(source = %source.id, records = d.records, reason = %d.reason, "Records left out.");
            }
            let snapshot = snapshot_of(p);
            let id = store.save_source_snapshot(&snapshot).await?;
            Ok(StoredPull {
                id,
                snapshot,
                dropped,
            })
        }
        Err(e) => {
            let id = store
                .save_source_snapshot(&NewSourceSnapshot {
                    source_id: source.id.clone(),
                    system: source.system.clone(),
                    window_from: window.from,
                    window_to: window.to,
                    status: SnapshotStatus::Failed,
                    reason: Some(e.to_string()),
                    started_at,
                    finished_at: chrono::Utc::now(),
                    pages: Vec::new(),
                    bytes: 0,
                    payload_sha256: String::new(),
                    rows: Vec::new(),
                })
                .await?;
            Err(RunError::error(format!(
                "error: pull of \"{}\" failed: {e}\n(recorded as failed snapshot #{id}; no rows were stored)",
                source.id
            )))
        }
    }
}
