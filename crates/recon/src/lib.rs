//! cutover-recon: canonical rows and the checks that compare them. Pure: no IO crate.

pub mod model;
pub use model::*;
