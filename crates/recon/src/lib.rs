//! cutover-recon: canonical rows, mapping into one vocabulary, and the check kinds that
//! compare two platforms (reconcile, rollup, attribution, event_flow, payout, record_sync,
//! event_match), and the classifier that proposes causes for their variances (`classify`).
//! Pure: no IO crate; callers hand in rows or readers and get results back.

pub mod attribution;
pub mod check;
pub mod classify;
pub mod config;
pub mod csvrecon;
pub mod event_flow;
pub mod event_match;
pub mod generate;
pub mod mapping;
pub mod model;
pub mod payout;
pub mod reconcile;
pub mod record_sync;
pub mod reference;
pub mod register;
pub mod rollup;

pub use check::{CheckResult, Finding, Thresholds};
pub use model::*;
