//! Facts the caller loads before a decision: check runs recorded so far.

use chrono::{DateTime, NaiveDate, Utc};
use cutover_plan::Outcome;
use serde::{Deserialize, Serialize};

/// One recorded outcome of a check (manual or scheduled).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckRun {
    pub check: String,
    pub outcome: Outcome,
    pub recorded_at: DateTime<Utc>,
    /// The person who recorded a manual outcome; `None` for scheduled runs.
    pub recorded_by: Option<String>,
    pub detail: Option<String>,
    /// The days of data a scheduled run compared; `None` for manual outcomes.
    #[serde(default)]
    pub window: Option<Window>,
}

/// A window of report days, inclusive, in the plan's time zone.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Window {
    pub from: NaiveDate,
    pub to: NaiveDate,
}

/// What the gate is evaluated on, besides the state itself.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Facts {
    /// Check runs, any order; the engine sorts what it reads.
    pub check_runs: Vec<CheckRun>,
}
