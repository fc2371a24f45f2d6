//! Facts the caller loads before a decision: check runs recorded so far, and the variance
//! register's live items (for `variances:` exit conditions).

use chrono::{DateTime, NaiveDate, Utc};
use cutover_plan::Outcome;
use rust_decimal::Decimal;
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
    /// The register's live variances (neither converged nor resolved), any order. Whether
    /// one is material is the plan's to say (see [`cutover_plan::VariancePolicy`]).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub variances: Vec<VarianceFact>,
}

/// One live variance of the register, as a gate reads it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VarianceFact {
    pub id: i32,
    pub check: String,
    /// As the old platform knows the partner.
    pub partner: String,
    pub day: NaiveDate,
    pub metric: String,
    /// `open`, `explained`, `accepted` or `rejected`.
    pub status: String,
    pub old: Option<Decimal>,
    pub delta: Decimal,
    /// |delta| in the plan currency, for money metrics.
    pub money_impact: Option<Decimal>,
    /// The layers whose acceptance the variance holds (since its last explanation).
    #[serde(default)]
    pub accepted_layers: Vec<String>,
    /// The day its explanation stops holding, if it was given one.
    #[serde(default)]
    pub expires: Option<NaiveDate>,
}
