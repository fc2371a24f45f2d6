//! The `cutover` binary: parses the command line, wires the plan loader, the engine and
//! the store together, prints results and sets the exit code. No domain logic lives here.

mod check_cmd;
mod cli;
mod pull_cmd;
mod recon_cmd;
mod render;
mod sim_cmd;

use std::path::Path;
use std::process::ExitCode;

use chrono::{DateTime, SubsecRound, Utc};
use clap::Parser;
use cutover_engine::{Command, Decision, MigrationState, Refusal, decide};
use cutover_plan::Plan;
use cutover_store::{Snapshot, Store, StoreError};
use tracing::info;

use cli::{CheckCmd, Cli, Cmd, HistoryAction, PlanCmd, SignoffAction};

/// Exit codes: 0 done, 1 error, 2 usage or unreadable input, 3 refused.
#[derive(Debug)]
struct Failure {
    code: u8,
    message: String,
}

impl Failure {
    fn error(message: impl Into<String>) -> Self {
        Failure {
            code: 1,
            message: message.into(),
        }
    }
    fn usage(message: impl Into<String>) -> Self {
        Failure {
            code: 2,
            message: message.into(),
        }
    }
}

impl From<StoreError> for Failure {
    fn from(e: StoreError) -> Self {
        Failure::error(format!("error: {e}"))
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("CUTOVER_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_writer(std::io::stderr)
        .init();
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the runtime: {e}");
            return ExitCode::from(1);
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(code) => ExitCode::from(code),
        Err(f) => {
            eprintln!("{}", f.message);
            ExitCode::from(f.code)
        }
    }
}

/// Now, at the precision both databases keep (microseconds), so hashes re-compute.
fn now() -> DateTime<Utc> {
    Utc::now().trunc_subsecs(6)
}

async fn run(cli: Cli) -> Result<u8, Failure> {
    let url = cli.database_url.clone();
    match cli.command {
        Cmd::Validate { files } => Ok(validate(&files)),
        Cmd::Start { file, by } => start(&url, &file, by).await,
        Cmd::Plan(PlanCmd::Apply { file, by }) => plan_apply(&url, &file, by).await,
        Cmd::Status { json } => status(&url, json).await,
        Cmd::Advance { by, to, reason } => execute(&url, Command::Advance { by, to, reason }).await,
        Cmd::Rollback { by, to, reason } => {
            execute(&url, Command::Rollback { by, to, reason }).await
        }
        Cmd::Signoff(s) => match s.action {
            Some(SignoffAction::Revoke { by, layer, reason }) => {
                execute(&url, Command::RevokeSignOff { by, layer, reason }).await
            }
            None => {
                let (Some(by), Some(layer)) = (s.by, s.layer) else {
                    return Err(Failure::usage("error: signoff needs --as and --layer"));
                };
                execute(
                    &url,
                    Command::SignOff {
                        by,
                        layer,
                        comment: s.comment,
                    },
                )
                .await
            }
        },
        Cmd::Waive {
            by,
            condition,
            justification,
            expires,
        } => {
            execute(
                &url,
                Command::Waive {
                    by,
                    condition,
                    justification,
                    expires,
                },
            )
            .await
        }
        Cmd::Check(CheckCmd::Record {
            check,
            outcome,
            by,
            detail,
        }) => {
            execute(
                &url,
                Command::RecordOutcome {
                    by,
                    check,
                    outcome: outcome.into(),
                    detail,
                },
            )
            .await
        }
        Cmd::Abort { by, reason } => execute(&url, Command::Abort { by, reason }).await,
        Cmd::Complete { by } => execute(&url, Command::Complete { by }).await,
        Cmd::Check(CheckCmd::Run(args)) => check_cmd::run(&url, args).await,
        Cmd::Pull(args) => pull_cmd::run(&url, args).await,
        Cmd::Sim(args) => sim_cmd::run(args).await,
        Cmd::Recon(args) => Ok(recon_cmd::recon(&args)),
        Cmd::GenRecon(args) => Ok(recon_cmd::gen_recon(&args)),
        Cmd::History(h) => match h.action {
            Some(HistoryAction::Verify) => history_verify(&url).await,
            None => history(&url, h.json).await,
        },
    }
}

/// Reads a plan file: at most one byte past the plan size limit, so a huge or endless file
/// (`/dev/zero`) is refused instead of read whole. Unreadable: exit 2; larger than the
/// limit or not UTF-8: exit 1, as a located diagnostic.
fn read_file(path: &Path) -> Result<String, Failure> {
    use std::io::Read;
    let name = path.display().to_string();
    let mut bytes = Vec::new();
    std::fs::File::open(path)
        .and_then(|f| {
            f.take(cutover_plan::MAX_PLAN_BYTES as u64 + 1)
                .read_to_end(&mut bytes)
        })
        .map_err(|e| {
            let shown = cutover_plan::escape_controls(&name);
            Failure::usage(format!("error: cannot read {shown}: {e}"))
        })?;
    match cutover_plan::text_from_bytes(&name, &bytes) {
        Ok(text) => Ok(text.to_owned()),
        Err(d) => Err(Failure::error(format!(
            "{d}\n{}: invalid plan; nothing was changed",
            d.file
        ))),
    }
}

/// Loads a plan file, printing warnings; errors become a failure listing every diagnostic.
fn load_plan(path: &Path) -> Result<(Plan, String), Failure> {
    let text = read_file(path)?;
    let name = path.display().to_string();
    match cutover_plan::load(&name, &text) {
        Ok(loaded) => {
            for w in &loaded.warnings {
                eprintln!("{w}");
            }
            Ok((loaded.plan, text))
        }
        Err(diags) => {
            let lines: Vec<String> = diags.iter().map(ToString::to_string).collect();
            Err(Failure::error(format!(
                "{}\n{name}: invalid plan; nothing was changed",
                lines.join("\n")
            )))
        }
    }
}

fn validate(files: &[std::path::PathBuf]) -> u8 {
    let mut code = 0u8;
    for path in files {
        use std::io::Read;
        let name = path.display().to_string();
        let shown = cutover_plan::escape_controls(&name);
        // At most one byte past the limit: a huge or endless file is refused, not read.
        let mut bytes = Vec::new();
        let read = std::fs::File::open(path).and_then(|f| {
            f.take(cutover_plan::MAX_PLAN_BYTES as u64 + 1)
                .read_to_end(&mut bytes)
        });
        if let Err(e) = read {
            eprintln!("error: cannot read {shown}: {e}");
            code = 2;
            continue;
        }
        let text = match cutover_plan::text_from_bytes(&name, &bytes) {
            Ok(t) => t,
            Err(d) => {
                println!("{d}");
                println!("{shown}: invalid (1 error)");
                if code == 0 {
                    code = 1;
                }
                continue;
            }
        };
        match cutover_plan::load(&name, text) {
            Ok(loaded) => {
                for w in &loaded.warnings {
                    println!("{w}");
                }
                println!(
                    "{shown}: valid ({} phases, {} checks, {} people, {} warning{})",
                    loaded.plan.phases.len(),
                    loaded.plan.checks.len(),
                    loaded.plan.people.len(),
                    loaded.warnings.len(),
                    if loaded.warnings.len() == 1 { "" } else { "s" }
                );
            }
            Err(diags) => {
                for d in &diags {
                    println!("{d}");
                }
                let errors = diags
                    .iter()
                    .filter(|d| d.severity == cutover_plan::Severity::Error)
                    .count();
                println!(
                    "{shown}: invalid ({errors} error{})",
                    if errors == 1 { "" } else { "s" }
                );
                if code == 0 {
                    code = 1;
                }
            }
        }
    }
    code
}

async fn open(url: &str) -> Result<Store, Failure> {
    Ok(Store::connect(url).await?)
}

/// The stored current plan, re-validated.
fn stored_plan(snap: &Snapshot) -> Result<Plan, Failure> {
    stored_loaded(snap).map(|l| l.plan)
}

/// The stored current plan with its sources, re-validated.
fn stored_loaded(snap: &Snapshot) -> Result<cutover_plan::Loaded, Failure> {
    cutover_plan::load(&snap.plan.file_name, &snap.plan.content).map_err(|d| {
            Failure::error(format!(
                "error: stored plan version {} no longer validates ({} diagnostics); apply a fixed plan",
                snap.plan.version,
                d.len()
            ))
        })
}

async fn start(url: &str, file: &Path, by: Option<String>) -> Result<u8, Failure> {
    let (plan, text) = load_plan(file)?;
    let store = open(url).await?;
    let at = now();
    let command = Command::Start { by };
    let decision = match decide(
        &plan,
        &MigrationState::new(),
        &Default::default(),
        &command,
        at,
    ) {
        Ok(d) => d,
        Err(r) => return Err(refused(&r)),
    };
    let entry = store
        .create(
            &plan.migration,
            &file.display().to_string(),
            &text,
            at,
            &command,
            &decision,
        )
        .await?;
    info!(migration = %plan.migration, phase = ?decision.to_phase, "Migration started.");
    println!(
        "Started migration {} in phase {} (plan version 1, sha256 {}; log entry #{}).",
        plan.migration,
        decision.to_phase.as_deref().unwrap_or("?"),
        &cutover_store::content_hash(&text)[..12],
        entry.seq
    );
    print_effects(&decision);
    Ok(0)
}

async fn plan_apply(url: &str, file: &Path, by: Option<String>) -> Result<u8, Failure> {
    let (plan, text) = load_plan(file)?;
    let store = open(url).await?;
    let snap = store.load().await?;
    if let Some(by) = &by {
        let person = plan.person(by).ok_or_else(|| {
            Failure::error(format!("error: \"{by}\" is not a person of the plan"))
        })?;
        if !person.lead {
            return Err(refused(&Refusal::NotPermitted {
                by: by.clone(),
                reason: "is not a lead; only a lead may apply a plan".into(),
            }));
        }
    }
    if let Err(r) = cutover_engine::check_plan_change(&plan, &snap.name, &snap.state) {
        return Err(refused(&r));
    }
    if cutover_store::content_hash(&text) == snap.plan.hash {
        println!(
            "Plan unchanged: {} is already version {} (sha256 {}).",
            file.display(),
            snap.plan.version,
            &snap.plan.hash[..12]
        );
        return Ok(0);
    }
    let (version, entry) = store
        .apply_plan(
            &snap,
            &file.display().to_string(),
            &text,
            by.as_deref(),
            now(),
        )
        .await?;
    println!(
        "Applied plan version {version} from {} (log entry #{}).",
        file.display(),
        entry.seq
    );
    Ok(0)
}

async fn status(url: &str, json: bool) -> Result<u8, Failure> {
    let store = open(url).await?;
    let snap = store.load().await?;
    let plan = stored_plan(&snap)?;
    let view = render::StatusView::new(&snap, &plan, now());
    if json {
        println!(
            "{}",
            serde_json::to_string_pretty(&view).unwrap_or_else(|_| "{}".into())
        );
    } else {
        print!("{}", view.text());
    }
    Ok(0)
}

fn refused(r: &Refusal) -> Failure {
    Failure {
        code: 3,
        message: r.to_string(),
    }
}

/// Decides a command on a fresh snapshot and stores the result. When another command wins
/// the race, the command is decided again only if the migration is still in the same phase
/// (so `advance` never moves twice); otherwise it is refused and the refusal logged.
async fn execute(url: &str, command: Command) -> Result<u8, Failure> {
    let store = open(url).await?;
    execute_on(&store, command, &[]).await
}

/// [`execute`] on an open store, storing `findings` with the check run it records.
async fn execute_on(
    store: &Store,
    command: Command,
    findings: &[cutover_store::NewFinding],
) -> Result<u8, Failure> {
    for _attempt in 0..5 {
        let snap = store.load().await?;
        let plan = stored_plan(&snap)?;
        let at = now();
        let result = decide(&plan, &snap.state, &snap.facts, &command, at);
        match store
            .record_with_findings(&snap, at, &command, result.as_ref(), findings)
            .await
        {
            Ok(entry) => return Ok(report(&command, &result, entry.seq)),
            Err(StoreError::Conflict) => {
                let fresh = store.load().await?;
                if fresh.state.phase != snap.state.phase || fresh.state.status != snap.state.status
                {
                    let refusal = Refusal::Invalid {
                        reason: format!(
                            "another command moved the migration from {} to {} ({}) while this one was being decided; nothing was done",
                            snap.state.phase.as_deref().unwrap_or("-"),
                            fresh.state.phase.as_deref().unwrap_or("-"),
                            fresh.state.status.as_str()
                        ),
                    };
                    // Best effort: the log shows the lost race.
                    let _ = store.record(&fresh, now(), &command, Err(&refusal)).await;
                    return Err(refused(&refusal));
                }
                info!(
                    command = command.kind(),
                    "Concurrent update; deciding again."
                );
            }
            Err(e) => return Err(e.into()),
        }
    }
    Err(Failure::error(
        "error: the migration kept changing under this command (5 attempts); retry",
    ))
}

fn report(command: &Command, result: &Result<Decision, Refusal>, seq: i64) -> u8 {
    match result {
        Ok(decision) => {
            info!(command = command.kind(), summary = %decision.summary, "Command accepted.");
            println!("Accepted: {} (log entry #{seq}).", decision.summary);
            print_effects(decision);
            0
        }
        Err(refusal) => {
            eprintln!("{refusal}");
            eprintln!("(logged as entry #{seq}; nothing was changed)");
            3
        }
    }
}

fn print_effects(decision: &Decision) {
    for line in render::effect_lines(&decision.effects) {
        println!("  {line}");
    }
}

async fn history(url: &str, json: bool) -> Result<u8, Failure> {
    let store = open(url).await?;
    let entries = store.log().await?;
    if json {
        let values: Vec<serde_json::Value> = entries.iter().map(render::entry_json).collect();
        println!(
            "{}",
            serde_json::to_string_pretty(&values).unwrap_or_else(|_| "[]".into())
        );
    } else {
        for e in &entries {
            println!("{}", render::entry_line(e));
        }
    }
    Ok(0)
}

async fn history_verify(url: &str) -> Result<u8, Failure> {
    let store = open(url).await?;
    let entries = store.log().await?;
    let v = cutover_store::verify(&entries);
    if v.broken.is_empty() {
        println!(
            "ok: {} entries, hash chain intact (head {}).",
            v.entries,
            &v.head[..12.min(v.head.len())]
        );
        Ok(0)
    } else {
        for b in &v.broken {
            println!("broken: entry #{}: {}", b.seq, b.reason);
        }
        println!(
            "BROKEN: {} of {} entries fail verification.",
            v.broken.len(),
            v.entries
        );
        Ok(1)
    }
}
