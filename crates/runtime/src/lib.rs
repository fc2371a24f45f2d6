//! cutover-runtime: the one path a check run takes, whoever starts it (`cutover check
//! run`, the scheduler, later the API): pull the check's sources for a window, run the
//! check, and store the run with its findings, its variance-register sightings and the
//! emails it implies in one transaction, decided by `cutover-engine` under the
//! migration's write lock.

pub mod check;
pub mod decide;
mod error;
pub mod jobs;
pub mod metrics;
pub mod pull;
pub mod schedule;
pub mod scheduler;

pub use decide::{
    Extra, Stored, decide_and_store, log_refusal, now, rows_for, stored_loaded, stored_plan,
};
pub use error::RunError;
