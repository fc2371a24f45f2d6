//! cutover-engine: the migration's phase machine and gate evaluation.
//!
//! Pure: no IO, no clock. [`decide`] takes the plan, the state, the facts loaded by the
//! caller, a [`Command`] and `now`, and returns either a [`Decision`] (new state plus
//! effects as values) or a [`Refusal`] that lists why not. The caller stores the state and
//! performs the effects.

mod clean_days;
mod command;
mod decide;
mod decision;
mod facts;
mod gate;
mod inventory;
mod plan_change;
mod state;

pub use command::{Command, VarianceAction};
pub use decide::{check_plan_change, current_gate, decide, scheduled_checks};
pub use decision::{Decision, Effect, Notice, Refusal};
pub use facts::{CheckRun, Facts, InventoryConfirmation, InventoryDoc, VarianceFact, Window};
pub use gate::{ConditionReport, GateReport, Unmet, describe, evaluate, human};
pub use inventory::{ItemState, inventory_states};
pub use plan_change::{PersonChange, PlanChange, plan_change};
pub use state::{MigrationState, SignOff, Status, Visit, Waiver, Withdrawal};
