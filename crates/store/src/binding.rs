//! What binds the state rows to the log.
//!
//! The state a decision is made on lives in rows (`migrations`, the current `plans` row,
//! `signoffs`, `waivers`, and the `check_runs` of the current phase visit). Every log entry
//! stores in its `state` column a [`Binding`]: the sha256 of those rows as they stand after
//! the entry, and, for an accepted entry, the rows it created or changed ([`Changes`],
//! including the ids of the check runs it recorded). The entry's hash covers the binding.
//!
//! * Every command reads the rows and the log's tail in one read transaction and refuses
//!   to go on when the rows' digest is not the tail's (an edited phase, an inserted
//!   sign-off or check run) — see `Store::load`.
//! * `history verify` replays the [`Changes`] of every accepted entry from an empty state
//!   and reports each row that disagrees with the replay, naming it — see `audit.rs`.

use chrono::{DateTime, Utc};
use cutover_engine::{CheckRun, SignOff, Waiver};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// A stored check run with the row fields the engine does not see.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunRow {
    pub id: i32,
    /// The phase the run was recorded in.
    pub phase: String,
    /// `manual` or `scheduled`.
    pub source: String,
    pub run: CheckRun,
}

/// A plan version as the log knows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlanRef {
    pub version: i32,
    pub sha256: String,
}

/// The state rows a decision is made on, exactly as read back from the database.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub(crate) struct StateRows {
    pub name: String,
    pub status: String,
    pub phase: Option<String>,
    pub entered_at: Option<DateTime<Utc>>,
    pub plan: PlanRef,
    pub signoffs: Vec<SignOff>,
    pub waivers: Vec<Waiver>,
    /// Check runs recorded since the current phase was entered, by (recorded_at, id).
    pub runs: Vec<RunRow>,
}

impl StateRows {
    /// sha256 of the rows' canonical JSON, hex.
    pub fn digest(&self) -> String {
        let json = serde_json::to_vec(self).unwrap_or_default();
        hex::encode(Sha256::digest(&json))
    }
}

/// What an accepted entry changed: the migration row's fields after it, the plan version
/// it made current (start and plan apply), and every sign-off, waiver and check run row it
/// created or changed, in full.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Changes {
    pub status: String,
    pub phase: Option<String>,
    pub entered_at: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub plan: Option<PlanRef>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub signoffs: Vec<SignOff>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub waivers: Vec<Waiver>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub check_runs: Vec<RunRow>,
}

/// The `state` column of a log entry.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Binding {
    /// [`StateRows::digest`] after the entry.
    pub sha256: String,
    /// Set on accepted entries.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub changes: Option<Changes>,
}

impl Binding {
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }

    pub fn parse(text: &str) -> Result<Binding, String> {
        serde_json::from_str(text).map_err(|e| e.to_string())
    }
}
