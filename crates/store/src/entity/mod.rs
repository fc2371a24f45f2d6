//! sea-orm entities, one per table. They stay inside the store; the rest of cutover sees
//! engine types only.

pub mod check_finding;
pub mod check_run;
pub mod migration;
pub mod outbox;
pub mod plan;
pub mod run_key;
pub mod schedule_tick;
pub mod signoff;
pub mod source_snapshot;
pub mod source_snapshot_rows;
pub mod transition;
pub mod variance;
pub mod variance_event;
pub mod waiver;
