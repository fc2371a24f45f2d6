//! Where a migration stands: its status, current phase, sign-offs, waivers and phase history.
//!
//! The state is plain data. The store persists it; only [`crate::decide`] produces a new one.

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

/// Lifecycle of the migration as a whole.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Created, not yet in its first phase.
    NotStarted,
    /// In a phase.
    Active,
    /// The final phase's gate held and the lead completed the migration.
    Completed,
    /// Stopped by the lead; no further commands are taken.
    Aborted,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::NotStarted => "not_started",
            Status::Active => "active",
            Status::Completed => "completed",
            Status::Aborted => "aborted",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [
            Status::NotStarted,
            Status::Active,
            Status::Completed,
            Status::Aborted,
        ]
        .into_iter()
        .find(|x| x.as_str() == s)
    }
}

/// The migration's state.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MigrationState {
    pub status: Status,
    /// The current phase (the last phase while completed or aborted). `None` only before start.
    pub phase: Option<String>,
    /// When the current phase was entered.
    pub entered_at: Option<DateTime<Utc>>,
    /// Every phase visit in order; it only grows.
    pub history: Vec<Visit>,
    /// Every sign-off ever given; revoked and voided ones stay, marked.
    pub signoffs: Vec<SignOff>,
    /// Every waiver ever granted.
    pub waivers: Vec<Waiver>,
}

/// One stay in a phase.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Visit {
    pub phase: String,
    pub entered_at: DateTime<Utc>,
    /// How the phase was entered: `start`, `advance` or `rollback`.
    pub via: String,
    pub by: Option<String>,
    pub reason: Option<String>,
}

/// A layer's sign-off on a phase.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignOff {
    /// 1-based, in order given.
    pub seq: u32,
    pub phase: String,
    pub layer: String,
    pub by: String,
    pub at: DateTime<Utc>,
    pub comment: Option<String>,
    /// Set when the signer (or the lead) withdrew it.
    pub revoked: Option<Withdrawal>,
    /// Set when a check of the layer failed after the sign-off.
    pub voided: Option<Withdrawal>,
}

impl SignOff {
    pub fn standing(&self) -> bool {
        self.revoked.is_none() && self.voided.is_none()
    }
}

/// Why and when a sign-off stopped counting.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Withdrawal {
    pub at: DateTime<Utc>,
    /// The person (revoke) or the check (void).
    pub by: String,
    pub reason: String,
}

/// A waiver that satisfies one named condition until it expires.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Waiver {
    pub seq: u32,
    pub condition: String,
    pub by: String,
    pub at: DateTime<Utc>,
    pub justification: String,
    /// Last day (in the plan's zone) the waiver counts; it lapses at the end of that day.
    pub expires: NaiveDate,
    /// The instant the waiver lapses (end of `expires` in the plan's zone).
    pub expires_at: DateTime<Utc>,
}

impl MigrationState {
    /// A migration that exists but has not entered its first phase.
    pub fn new() -> Self {
        MigrationState {
            status: Status::NotStarted,
            phase: None,
            entered_at: None,
            history: Vec::new(),
            signoffs: Vec::new(),
            waivers: Vec::new(),
        }
    }
}

impl Default for MigrationState {
    fn default() -> Self {
        Self::new()
    }
}
