//! The command line: clap definitions only.

use std::path::PathBuf;

use chrono::NaiveDate;
use clap::{Args, Parser, Subcommand, ValueEnum};

/// The default store: a SQLite file in the working directory, created on first use.
pub const DEFAULT_DATABASE_URL: &str = "sqlite://cutover.db?mode=rwc";

#[derive(Debug, Parser)]
#[command(
    name = "cutover",
    version,
    about = "Run a parallel migration of an affiliate program between two tracking platforms, phase by gated phase."
)]
pub struct Cli {
    /// Store URL: sqlite://FILE?mode=rwc (default, in the working directory) or postgres://...
    #[arg(long, global = true, env = "CUTOVER_DATABASE_URL", default_value = DEFAULT_DATABASE_URL, hide_env_values = true)]
    pub database_url: String,

    /// Log lines on stderr as text or one JSON object each (level from CUTOVER_LOG).
    #[arg(long, global = true, value_enum, default_value = "text")]
    pub log_format: LogFormat,

    #[command(subcommand)]
    pub command: Cmd,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Debug, Subcommand)]
pub enum Cmd {
    /// Check plan files; print every diagnostic as FILE:LINE:COL (exit 0 valid, 1 invalid, 2 unreadable).
    Validate {
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
    /// Create the migration from a plan and enter its first phase.
    Start {
        file: PathBuf,
        /// The lead starting the migration (a lead of this plan).
        #[arg(long = "as")]
        by: String,
        #[command(flatten)]
        out: OutArgs,
    },
    /// Plan versions.
    #[command(subcommand)]
    Plan(PlanCmd),
    /// Where the migration stands: the phase and every exit condition, met or not.
    Status {
        #[arg(long)]
        json: bool,
    },
    /// Leave the current phase for the next (or a named later) one; exit 3 with every unmet condition if refused.
    Advance {
        #[arg(long = "as")]
        by: String,
        /// The phase the migration is in, as you saw it; refused if it has moved since.
        #[arg(long)]
        from: String,
        /// A later phase; every phase skipped must hold its gate too.
        #[arg(long)]
        to: Option<String>,
        #[arg(long)]
        reason: Option<String>,
        #[command(flatten)]
        out: OutArgs,
    },
    /// Go back to an earlier phase.
    Rollback {
        #[arg(long = "as")]
        by: String,
        #[arg(long)]
        to: String,
        #[arg(long)]
        reason: String,
        #[command(flatten)]
        out: OutArgs,
    },
    /// Sign off the current phase for a layer you own (or `signoff revoke`).
    #[command(args_conflicts_with_subcommands = true, subcommand_negates_reqs = true)]
    Signoff(SignoffCmd),
    /// Let one named exit condition count as met until a date (a lead of another layer).
    Waive {
        #[arg(long = "as")]
        by: String,
        #[arg(long)]
        condition: String,
        #[arg(long)]
        justification: String,
        /// Last day the waiver counts, YYYY-MM-DD in the plan's time zone.
        #[arg(long)]
        expires: NaiveDate,
        #[command(flatten)]
        out: OutArgs,
    },
    /// Checks.
    #[command(subcommand)]
    Check(CheckCmd),
    /// Stop the migration for good.
    Abort {
        #[arg(long = "as")]
        by: String,
        #[arg(long)]
        reason: String,
        #[command(flatten)]
        out: OutArgs,
    },
    /// Finish the migration from its final phase once its gate holds.
    Complete {
        #[arg(long = "as")]
        by: String,
        #[command(flatten)]
        out: OutArgs,
    },
    /// The transition log (or `history verify` to check it and the state against it).
    #[command(args_conflicts_with_subcommands = true)]
    History(HistoryCmd),
    /// Statements to file.
    #[command(subcommand)]
    Report(crate::report_cmd::ReportCmd),
    /// The variance register: list, show, explain, accept, reject, reopen.
    #[command(subcommand)]
    Variance(crate::variance_cmd::VarianceCmd),
    /// The discovery inventory and each item's state (or `inventory confirm ITEM --as P`).
    #[command(args_conflicts_with_subcommands = true)]
    Inventory(crate::inventory_cmd::InventoryCmd),
    /// Pull one window of a source and store it as a snapshot.
    Pull(crate::pull_cmd::PullArgs),
    /// Serve a simulated old and new platform on 127.0.0.1 until interrupted.
    Sim(crate::sim_cmd::SimArgs),
    /// Run the scheduler, the check workers and the outbox delivery until SIGINT/SIGTERM, with /healthz on --listen.
    Serve(crate::serve_cmd::ServeArgs),
    /// Run check workers only (more processes on one Postgres store share the work).
    Worker(crate::serve_cmd::WorkerArgs),
    /// Email: deliver the outbox (`send`), render a message (`preview`), list it (`outbox`).
    #[command(subcommand)]
    Notify(crate::notify_cmd::NotifyCmd),
    /// Compare two aggregate CSV exports (partner_id,day,metric,value,currency) key by key; findings to --out, summary to stderr (exit 0 pass/warn, 2 unreadable or more malformed rows than --max-malformed, 3 differences, 4 a side has no rows).
    Recon(crate::recon_cmd::ReconArgs),
    /// Write seeded old/new/crosswalk CSVs for the reconcile benchmark.
    #[command(hide = true)]
    GenRecon(crate::recon_cmd::GenReconArgs),
}

#[derive(Debug, Subcommand)]
pub enum PlanCmd {
    /// Store a new plan version and make it current (a lead of the current plan; nobody
    /// may grant themselves rights with it).
    Apply {
        file: PathBuf,
        #[arg(long = "as")]
        by: String,
        #[command(flatten)]
        out: OutArgs,
    },
}

/// Output of a command that appends to the log.
#[derive(Debug, Args)]
pub struct OutArgs {
    /// Print the result as JSON (with the full head hash).
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct SignoffCmd {
    #[command(subcommand)]
    pub action: Option<SignoffAction>,
    #[arg(long = "as", required = true)]
    pub by: Option<String>,
    #[arg(long, required = true)]
    pub layer: Option<String>,
    #[arg(long)]
    pub comment: Option<String>,
    #[command(flatten)]
    pub out: OutArgs,
}

#[derive(Debug, Subcommand)]
pub enum SignoffAction {
    /// Withdraw a layer's standing sign-off on the current phase.
    Revoke {
        #[arg(long = "as")]
        by: String,
        #[arg(long)]
        layer: String,
        #[arg(long)]
        reason: Option<String>,
        #[command(flatten)]
        out: OutArgs,
    },
}

#[derive(Debug, Subcommand)]
pub enum CheckCmd {
    /// Record the outcome of a manual check.
    Record {
        check: String,
        #[arg(long, value_enum)]
        outcome: OutcomeArg,
        #[arg(long = "as")]
        by: String,
        #[arg(long)]
        detail: Option<String>,
        #[command(flatten)]
        out: OutArgs,
    },
    /// Pull a scheduled check's sources for a window (or reuse stored snapshots), run it,
    /// and record its outcome and findings (exit 0 pass/warn, 3 fail, 4 inconclusive, 1 error).
    Run(crate::check_cmd::CheckRunArgs),
    /// Show a stored run of a check (default its latest): outcome, reason, the snapshots it
    /// read and its findings (exit 0; 1 no such run; 2 not a check of the plan).
    Show(crate::check_cmd::show::CheckShowArgs),
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum OutcomeArg {
    Pass,
    Warn,
    Fail,
    Error,
    Inconclusive,
}

impl From<OutcomeArg> for cutover_plan::Outcome {
    fn from(o: OutcomeArg) -> Self {
        use cutover_plan::Outcome;
        match o {
            OutcomeArg::Pass => Outcome::Pass,
            OutcomeArg::Warn => Outcome::Warn,
            OutcomeArg::Fail => Outcome::Fail,
            OutcomeArg::Error => Outcome::Error,
            OutcomeArg::Inconclusive => Outcome::Inconclusive,
        }
    }
}

#[derive(Debug, Args)]
pub struct HistoryCmd {
    #[command(subcommand)]
    pub action: Option<HistoryAction>,
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Subcommand)]
pub enum HistoryAction {
    /// Re-compute the hash chain (and every MAC when CUTOVER_LOG_KEY is set), replay the
    /// state from the log and name every row that disagrees; exit 1 on any problem.
    Verify {
        /// A head printed by an earlier command: it must still be an entry of the log.
        #[arg(long)]
        head: Option<String>,
        #[arg(long)]
        json: bool,
    },
}
