//! Delivery of the outbox: claim the due rows, hand each to the mailer, mark it sent only
//! once the server accepted it, and back off exponentially when it did not.
//!
//! At least once, never lost: a process that dies after the server accepted a message and
//! before it was marked sent leaves the row to be sent again when its lease runs out, with
//! the same `Message-ID`, which receivers use to drop the duplicate.

use chrono::{DateTime, TimeDelta, Utc};
use cutover_store::{Store, StoreError};
use serde::Serialize;
use tracing::{info, warn};

use crate::mailer::{Mailer, SendError, Sender, build_message};

/// How delivery retries.
#[derive(Debug, Clone)]
pub struct Policy {
    /// Attempts before a message is given up (`failed`).
    pub max_attempts: i32,
    /// The wait after the first failed attempt; it doubles with every further one.
    pub base: TimeDelta,
    /// The longest wait between attempts.
    pub cap: TimeDelta,
    /// How long a claimed message is reserved for this sender.
    pub lease: TimeDelta,
    /// Rows claimed at a time.
    pub batch: u64,
    /// Stop after this many messages were handed over (sent or not) in one call.
    pub max_messages: usize,
}

impl Default for Policy {
    fn default() -> Policy {
        Policy {
            max_attempts: 10,
            base: TimeDelta::seconds(30),
            cap: TimeDelta::hours(1),
            lease: TimeDelta::minutes(5),
            batch: 200,
            max_messages: usize::MAX,
        }
    }
}

impl Policy {
    /// When to try again after `attempts` failed attempts, or `None` to give up.
    pub fn retry_at(&self, now: DateTime<Utc>, attempts: i32) -> Option<DateTime<Utc>> {
        if attempts >= self.max_attempts {
            return None;
        }
        let factor = 1i32 << (attempts.clamp(1, 20) - 1);
        let wait = self
            .base
            .checked_mul(factor)
            .unwrap_or(self.cap)
            .min(self.cap);
        Some(now + wait)
    }
}

/// What one delivery pass did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Report {
    pub sent: usize,
    /// Failed this time, queued again with a later attempt time.
    pub retrying: usize,
    /// Given up: a permanent refusal or the last attempt.
    pub failed: usize,
}

/// Delivers every message due at `now` once (the scheduler calls this on its tick; `cutover
/// notify send` calls it once). Messages that fail are queued again per `policy`.
pub async fn deliver_due(
    store: &Store,
    mailer: &Mailer,
    sender: &Sender,
    policy: &Policy,
    now: DateTime<Utc>,
) -> Result<Report, StoreError> {
    let mut report = Report::default();
    let mut handed = 0usize;
    while handed < policy.max_messages {
        let room = (policy.max_messages - handed).min(policy.batch as usize) as u64;
        let rows = store.claim_due(now, policy.lease, room).await?;
        if rows.is_empty() {
            break;
        }
        let mut failures = Vec::new();
        for row in rows {
            handed += 1;
            let result = match build_message(sender, &row) {
                Ok(message) => mailer.send(message).await,
                Err(e) => Err(e),
            };
            let attempts = row.attempts + 1;
            match result {
                Ok(()) => {
                    // Marked at once: a crash now resends only this message.
                    store.mark_sent(row.id, Utc::now()).await?;
                    report.sent += 1;
                }
                Err(SendError::Permanent(reason)) => {
                    warn!(id = row.id, %reason, "message refused for good");
                    failures.push((row.id, reason, None));
                    report.failed += 1;
                }
                Err(SendError::Transient(reason)) => {
                    let retry = policy.retry_at(now, attempts);
                    if retry.is_some() {
                        report.retrying += 1;
                    } else {
                        warn!(id = row.id, %reason, attempts, "message given up");
                        report.failed += 1;
                    }
                    failures.push((row.id, reason, retry));
                }
            }
        }
        // Failed attempts are recorded together; a crash before this leaves them claimed
        // until the lease runs out, then they are tried again.
        store.mark_attempts_failed(&failures).await?;
    }
    info!(
        sent = report.sent,
        retrying = report.retrying,
        failed = report.failed,
        "outbox delivery pass"
    );
    Ok(report)
}
