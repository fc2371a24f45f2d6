//! Facts the caller loads before a decision: check runs recorded so far, the variance
//! register's live items (for `variances:` and `clean_days:` exit conditions), and the
//! inventory's documentation probes and confirmations (for `inventory:` conditions).

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
    /// Whether each inventory item's documentation was found (probed by the caller: a
    /// file exists, a URL answers 2xx/3xx). An item without a probe is not documented.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub inventory_docs: Vec<InventoryDoc>,
    /// Every accepted `inventory confirm`, oldest first (read from the log).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub inventory_confirmations: Vec<InventoryConfirmation>,
}

/// The result of looking for one inventory item's documentation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InventoryDoc {
    pub item: String,
    /// The `documented:` value probed.
    pub documented: String,
    pub found: bool,
    /// What the probe saw: `HTTP 200`, `file exists`, `no such file`, `HTTP 404`...
    pub detail: String,
}

/// A person's confirmation of an inventory item, as logged.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InventoryConfirmation {
    pub item: String,
    pub by: String,
    pub at: DateTime<Utc>,
    /// The item's `documented:` value when it was confirmed; a plan that moves the
    /// documentation needs a new confirmation.
    pub documented: Option<String>,
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
    /// When a check run first found it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_seen: Option<DateTime<Utc>>,
}
