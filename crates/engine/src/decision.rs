//! What a decision returns: the new state and the effects to perform, or a refusal.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::facts::CheckRun;
use crate::gate::{GateReport, Unmet};
use crate::state::MigrationState;

/// An accepted command: the state to store and the effects for the caller to perform.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Decision {
    pub state: MigrationState,
    pub effects: Vec<Effect>,
    /// Phase before and after (equal when the command does not move the migration).
    pub from_phase: Option<String>,
    pub to_phase: Option<String>,
    /// One line for the log and the terminal.
    pub summary: String,
}

/// A side effect, as a value. The engine never performs one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "effect", rename_all = "snake_case")]
pub enum Effect {
    /// Tell the people of these layers (and the leads).
    Notify { layers: Vec<String>, notice: Notice },
    /// Start running a scheduled check (it is part of the current phase's gate).
    ScheduleCheck { check: String },
    /// Stop running a scheduled check.
    UnscheduleCheck { check: String },
    /// Store a check run.
    RecordCheckRun { run: CheckRun },
    /// Keep the gate evaluations the decision was made on.
    RecordEvidence { gates: Vec<GateReport> },
}

/// What a notification is about.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "notice", rename_all = "snake_case")]
pub enum Notice {
    PhaseEntered {
        phase: String,
        from: Option<String>,
        via: String,
        by: Option<String>,
    },
    SignedOff {
        phase: String,
        layer: String,
        by: String,
    },
    SignOffRevoked {
        phase: String,
        layer: String,
        by: String,
    },
    SignOffVoided {
        phase: String,
        layer: String,
        check: String,
    },
    WaiverGranted {
        condition: String,
        by: String,
        expires: String,
    },
    CheckRecorded {
        check: String,
        outcome: String,
        by: String,
    },
    Aborted {
        phase: String,
        by: String,
        reason: String,
    },
    Completed {
        phase: String,
        by: String,
    },
    /// A new plan version became current; `change` says who gained or lost what.
    PlanApplied {
        version: i32,
        by: String,
        change: String,
    },
}

/// A command that was not taken. It is an answer, not an error: nothing changed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "refusal", rename_all = "snake_case")]
pub enum Refusal {
    /// Exit conditions do not hold; every unmet one is listed.
    GateNotMet {
        from: String,
        to: String,
        unmet: Vec<Unmet>,
    },
    /// The person may not give this command.
    NotPermitted { by: String, reason: String },
    /// The command makes no sense in the current state or names something unknown.
    Invalid { reason: String },
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Refusal::GateNotMet { from, to, unmet } => {
                let n = unmet.len();
                write!(
                    f,
                    "refused: cannot leave {from} for {to}: {n} exit condition{} unmet",
                    if n == 1 { "" } else { "s" }
                )?;
                for u in unmet {
                    write!(
                        f,
                        "\n  {}/{} [{}]: {}",
                        u.phase,
                        u.condition,
                        u.owners.join(", "),
                        u.reason
                    )?;
                }
                Ok(())
            }
            Refusal::NotPermitted { by, reason } => write!(f, "refused: {by} {reason}"),
            Refusal::Invalid { reason } => write!(f, "refused: {reason}"),
        }
    }
}
