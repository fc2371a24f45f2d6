//! `cutover check run CHECK --from DAY --to DAY [--reuse]`: runs one check over a window
//! through `cutover_runtime::check` (pull or reuse the window's snapshots, run the check,
//! record the run through the engine), prints its outcome, finding counts and the
//! decision, and sets the exit code: 0 pass or warn, 3 fail (or the record refused), 4
//! inconclusive, 1 error.

use chrono::NaiveDate;
use clap::Args;
use cutover_plan::Outcome;
use cutover_runtime::check;
use cutover_sources::PullOptions;

use crate::{Failure, open, report_stored, stored_loaded};

pub mod show;

#[derive(Debug, Args)]
pub struct CheckRunArgs {
    /// The check id (a scheduled check of the plan).
    pub check: String,
    /// First report day (YYYY-MM-DD).
    #[arg(long)]
    pub from: NaiveDate,
    /// Last report day, inclusive.
    #[arg(long)]
    pub to: NaiveDate,
    /// Use the latest complete snapshots of exactly this window instead of pulling.
    #[arg(long)]
    pub reuse: bool,
}

pub async fn run(url: &str, args: CheckRunArgs) -> Result<u8, Failure> {
    if args.to < args.from {
        return Err(Failure::usage(format!(
            "error: --to {} is before --from {}",
            args.to, args.from
        )));
    }
    let store = open(url).await?;
    let snap = store.load().await?;
    let loaded = stored_loaded(&snap)?;
    let window = cutover_sources::Window {
        from: args.from,
        to: args.to,
    };
    let opts = PullOptions::from_process_env();
    let run = check::evaluate(&store, &loaded, &args.check, window, args.reuse, &opts).await?;
    println!(
        "{}: {} for {}..{}: {}",
        run.check, run.outcome, args.from, args.to, run.detail
    );
    for (code, n) in &run.codes {
        println!("  {n} {code}");
    }
    let code = report_stored(check::record(&store, &run).await?, false);
    if code != 0 {
        return Ok(code);
    }
    Ok(match run.outcome {
        Outcome::Pass | Outcome::Warn => 0,
        Outcome::Fail => 3,
        Outcome::Inconclusive => 4,
        Outcome::Error => 1,
    })
}
