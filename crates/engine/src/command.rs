//! Commands a person (or the scheduler) gives the migration.

use chrono::NaiveDate;
use cutover_plan::Outcome;
use std::fmt;

use crate::facts::Window;
use crate::plan_change::PlanChange;
use serde::{Deserialize, Serialize};

/// A request to change the migration. Every command names who gives it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "command", rename_all = "snake_case")]
pub enum Command {
    /// Enter the first phase (decided against the plan being started: `by` must be one of
    /// its leads).
    Start { by: String },
    /// Leave the current phase `from` forward: to the next one, or to a named later one
    /// when every skipped phase's gate holds too. Refused when the migration is no longer
    /// in `from`, so two racing advances can never move it twice.
    Advance {
        by: String,
        from: String,
        to: Option<String>,
        reason: Option<String>,
    },
    /// Go back to an earlier phase.
    Rollback {
        by: String,
        to: String,
        reason: String,
    },
    /// Sign off the current phase for a layer.
    SignOff {
        by: String,
        layer: String,
        comment: Option<String>,
    },
    /// Withdraw a layer's standing sign-off on the current phase.
    RevokeSignOff {
        by: String,
        layer: String,
        reason: Option<String>,
    },
    /// Let one named condition count as met until `expires` (a day in the plan's zone).
    Waive {
        by: String,
        condition: String,
        justification: String,
        expires: NaiveDate,
    },
    /// Record the outcome of a manual check.
    RecordOutcome {
        by: String,
        check: String,
        outcome: Outcome,
        detail: Option<String>,
    },
    /// Record the outcome of a scheduled check's run (given by the runtime, not a person).
    RecordRun {
        check: String,
        outcome: Outcome,
        window: Option<Window>,
        detail: Option<String>,
    },
    /// Stop the migration for good.
    Abort { by: String, reason: String },
    /// Finish the migration from its final phase.
    Complete { by: String },
    /// Make a new plan version current. Decided against the *current* plan: only one of
    /// its leads may apply, and never to grant themselves a right they do not hold now.
    /// `change` is [`crate::plan_change`] of the current and the new plan.
    ApplyPlan {
        by: String,
        /// The new plan's file name, as given.
        file: String,
        /// sha256 of the new plan's text, hex.
        sha256: String,
        /// The version number the new plan gets.
        version: i32,
        change: PlanChange,
    },
    /// A person of an inventory item's owner layer confirms the item (as documented at
    /// `documented`, the current plan's value) describes the current setup.
    ConfirmInventory {
        by: String,
        item: String,
        documented: Option<String>,
    },
    /// A person's change to variances of the register (explain, accept, reject, reopen),
    /// logged like any command. Who may do what to which variance is checked by the
    /// caller against the register; the engine only checks that `by` is in the plan.
    Variance {
        by: String,
        action: VarianceAction,
        /// The variances changed (all of a group's that the action applies to).
        ids: Vec<i32>,
        group: Option<String>,
        category: Option<String>,
        note: Option<String>,
        expires: Option<NaiveDate>,
    },
}

/// What a [`Command::Variance`] does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum VarianceAction {
    Explain,
    Accept,
    Reject,
    Reopen,
}

impl VarianceAction {
    pub fn as_str(self) -> &'static str {
        match self {
            VarianceAction::Explain => "explain",
            VarianceAction::Accept => "accept",
            VarianceAction::Reject => "reject",
            VarianceAction::Reopen => "reopen",
        }
    }
}

impl fmt::Display for VarianceAction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Command {
    /// The name used in the transition log.
    pub fn kind(&self) -> &'static str {
        match self {
            Command::Start { .. } => "start",
            Command::Advance { .. } => "advance",
            Command::Rollback { .. } => "rollback",
            Command::SignOff { .. } => "signoff",
            Command::RevokeSignOff { .. } => "signoff_revoke",
            Command::Waive { .. } => "waive",
            Command::RecordOutcome { .. } => "check_record",
            Command::RecordRun { .. } => "check_run",
            Command::Abort { .. } => "abort",
            Command::Complete { .. } => "complete",
            Command::ApplyPlan { .. } => "plan_apply",
            Command::ConfirmInventory { .. } => "inventory_confirm",
            Command::Variance { action, .. } => match action {
                VarianceAction::Explain => "variance_explain",
                VarianceAction::Accept => "variance_accept",
                VarianceAction::Reject => "variance_reject",
                VarianceAction::Reopen => "variance_reopen",
            },
        }
    }

    /// The person giving the command, if any.
    pub fn actor(&self) -> Option<&str> {
        match self {
            Command::RecordRun { .. } => None,
            Command::Start { by }
            | Command::Advance { by, .. }
            | Command::Rollback { by, .. }
            | Command::SignOff { by, .. }
            | Command::RevokeSignOff { by, .. }
            | Command::Waive { by, .. }
            | Command::RecordOutcome { by, .. }
            | Command::Abort { by, .. }
            | Command::Complete { by }
            | Command::ApplyPlan { by, .. }
            | Command::ConfirmInventory { by, .. }
            | Command::Variance { by, .. } => Some(by),
        }
    }
}
