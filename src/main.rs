//! The `cutover` binary: parses the command line, wires the plan loader, the engine and
//! the store together, prints results and sets the exit code. No domain logic lives here.

mod check_cmd;
mod cli;
mod inventory_cmd;
mod notify_cmd;
mod pull_cmd;
mod recon_cmd;
mod render;
mod report_cmd;
mod serve_cmd;
mod sim_cmd;
mod variance_cmd;

use std::path::Path;
use std::process::ExitCode;

use clap::Parser;
use cutover_engine::{Command, Decision, MigrationState, Refusal, decide, plan_change};
use cutover_plan::Plan;
use cutover_runtime::{Extra, Stored, now, stored_loaded, stored_plan};
use cutover_store::{LogEntry, LogKey, Snapshot, Store, StoreOptions, short_hash};
use tracing::info;

use cli::{CheckCmd, Cli, Cmd, HistoryAction, PlanCmd, SignoffAction};

/// Exit codes: 0 done, 1 error, 2 usage or unreadable input, 3 refused.
use cutover_runtime::RunError as Failure;

fn main() -> ExitCode {
    restore_default_sigpipe();
    let cli = Cli::parse();
    // A long-running process tells what it does; a command only warns.
    let level = match cli.command {
        Cmd::Serve(_) | Cmd::Worker(_) => "info,sqlx=error,apalis=warn",
        _ => "warn,sqlx=error",
    };
    let logs = tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("CUTOVER_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(level)),
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()));
    match cli.log_format {
        cli::LogFormat::Json => logs.json().init(),
        cli::LogFormat::Text => logs.init(),
    }
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

/// A closed stdout (`cutover history | head`) ends the process quietly, as it does any
/// Unix filter; Rust ignores SIGPIPE by default, and `println!` then panics (exit 101).
fn restore_default_sigpipe() {
    #[cfg(unix)]
    // SAFETY: called first thing in `main`, before any other thread exists; resetting a
    // signal's disposition to its default has no other effect.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
}

async fn run(cli: Cli) -> Result<u8, Failure> {
    let url = cli.database_url.clone();
    match cli.command {
        Cmd::Validate { files } => Ok(validate(&files)),
        Cmd::Start { file, by, out } => start(&url, &file, by, out.json).await,
        Cmd::Plan(PlanCmd::Apply { file, by, out }) => plan_apply(&url, &file, by, out.json).await,
        Cmd::Status { json } => status(&url, json).await,
        Cmd::Advance {
            by,
            from,
            to,
            reason,
            out,
        } => {
            let command = Command::Advance {
                by,
                from,
                to,
                reason,
            };
            // The gate may read the inventory, whose documentation is probed first.
            let store = inventory_cmd::open_probed(&url).await?;
            decide_and_store(
                &store,
                &|_, _| Ok(command.clone()),
                Extra::Findings(&[], None),
                out.json,
            )
            .await
        }
        Cmd::Rollback {
            by,
            to,
            reason,
            out,
        } => execute(&url, Command::Rollback { by, to, reason }, out.json).await,
        Cmd::Signoff(s) => match s.action {
            Some(SignoffAction::Revoke {
                by,
                layer,
                reason,
                out,
            }) => execute(&url, Command::RevokeSignOff { by, layer, reason }, out.json).await,
            None => {
                let (Some(by), Some(layer)) = (s.by, s.layer) else {
                    return Err(Failure::usage("error: signoff needs --as and --layer"));
                };
                let command = Command::SignOff {
                    by,
                    layer,
                    comment: s.comment,
                };
                execute(&url, command, s.out.json).await
            }
        },
        Cmd::Waive {
            by,
            condition,
            justification,
            expires,
            out,
        } => {
            let command = Command::Waive {
                by,
                condition,
                justification,
                expires,
            };
            execute(&url, command, out.json).await
        }
        Cmd::Check(CheckCmd::Record {
            check,
            outcome,
            by,
            detail,
            out,
        }) => {
            let command = Command::RecordOutcome {
                by,
                check,
                outcome: outcome.into(),
                detail,
            };
            execute(&url, command, out.json).await
        }
        Cmd::Abort { by, reason, out } => {
            execute(&url, Command::Abort { by, reason }, out.json).await
        }
        Cmd::Complete { by, out } => execute(&url, Command::Complete { by }, out.json).await,
        Cmd::Check(CheckCmd::Run(args)) => check_cmd::run(&url, args).await,
        Cmd::Check(CheckCmd::Show(args)) => check_cmd::show::show(&url, args).await,
        Cmd::Pull(args) => pull_cmd::run(&url, args).await,
        Cmd::Variance(v) => variance_cmd::run(&url, v).await,
        Cmd::Inventory(i) => inventory_cmd::run(&url, i).await,
        Cmd::Report(r) => report_cmd::report(&url, r).await,
        Cmd::Sim(args) => sim_cmd::run(args).await,
        Cmd::Notify(cmd) => notify_cmd::run(&url, cmd).await,
        Cmd::Serve(args) => serve_cmd::serve(&url, args).await,
        Cmd::Worker(args) => serve_cmd::worker(&url, args).await,
        Cmd::Recon(args) => Ok(recon_cmd::recon(&args)),
        Cmd::GenRecon(args) => Ok(recon_cmd::gen_recon(&args)),
        Cmd::History(h) => match h.action {
            Some(HistoryAction::Verify { head, json }) => {
                history_verify(&url, head.as_deref(), json).await
            }
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
            cutover_plan::escape_controls(&d.file)
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
                "{}\n{}: invalid plan; nothing was changed",
                lines.join("\n"),
                cutover_plan::escape_controls(&name)
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

/// Opens the store for one command: a pool of one connection with a short acquire
/// timeout, and the log key from `CUTOVER_LOG_KEY` when set.
async fn open(url: &str) -> Result<Store, Failure> {
    let options = StoreOptions::one_shot().with_log_key(LogKey::from_env());
    Ok(Store::connect_with(url, options).await?)
}

/// `head 3fa2c1d4e5f60718 (entry #7)`: the log head after a command, for the record.
fn head_line(entry: &LogEntry) -> String {
    format!("head {} (entry #{})", short_hash(&entry.hash), entry.seq)
}

async fn start(url: &str, file: &Path, by: String, json: bool) -> Result<u8, Failure> {
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
        Err(r) => {
            // There is no migration yet, so no log to record the refusal in.
            return Err(Failure {
                code: 3,
                message: format!("{r}\n(nothing was stored: the migration was not created)"),
            });
        }
    };
    let outbox = cutover_runtime::rows_for(
        &plan,
        &MigrationState::new(),
        &Default::default(),
        &command,
        Ok(&decision),
        &[],
        at,
    )?;
    let entry = store
        .create_with_outbox(
            &plan.migration,
            &file.display().to_string(),
            &text,
            at,
            &command,
            &decision,
            outbox,
        )
        .await?;
    info!(migration = %plan.migration, phase = ?decision.to_phase, "Migration started.");
    if json {
        print_json(&accepted_json(&command, &decision, &entry));
        return Ok(0);
    }
    println!(
        "Started migration {} in phase {} (plan version 1, sha256 {}; log entry #{}).",
        plan.migration,
        decision.to_phase.as_deref().unwrap_or("?"),
        short_hash(&cutover_store::content_hash(&text)),
        entry.seq
    );
    print_effects(&decision);
    println!("{}", head_line(&entry));
    Ok(0)
}

async fn plan_apply(url: &str, file: &Path, by: String, json: bool) -> Result<u8, Failure> {
    let (new_plan, text) = load_plan(file)?;
    let store = open(url).await?;
    let file_name = file.display().to_string();
    let sha256 = cutover_store::content_hash(&text);
    let build = |snap: &Snapshot, current: &Plan| {
        Ok(Command::ApplyPlan {
            by: by.clone(),
            file: file_name.clone(),
            sha256: sha256.clone(),
            version: snap.plan.version + 1,
            change: plan_change(current, &new_plan),
        })
    };
    decide_and_store(&store, &build, Extra::Plan(&text), json).await
}

async fn status(url: &str, json: bool) -> Result<u8, Failure> {
    let store = inventory_cmd::open_probed(url).await?;
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

/// Decides a command on a fresh snapshot and stores the result. See [`decide_and_store`].
async fn execute(url: &str, command: Command, json: bool) -> Result<u8, Failure> {
    let store = open(url).await?;
    decide_and_store(
        &store,
        &|_, _| Ok(command.clone()),
        Extra::Findings(&[], None),
        json,
    )
    .await
}

/// Decides the command `build` makes and stores the decision (see
/// [`cutover_runtime::decide_and_store`]), then prints it.
async fn decide_and_store(
    store: &Store,
    build: &(dyn Fn(&Snapshot, &Plan) -> Result<Command, Failure> + Sync),
    extra: Extra<'_>,
    json: bool,
) -> Result<u8, Failure> {
    let stored = cutover_runtime::decide_and_store(store, build, extra).await?;
    Ok(report_stored(stored, json))
}

/// Prints what was stored; the exit code (0 accepted, 3 refused).
/// Logs a refusal decided outside the engine (e.g. by the variance register's rules) in
/// the hash chain, then prints it like an engine refusal.
async fn log_refusal(
    store: &Store,
    command: &Command,
    refusal: Refusal,
    json: bool,
) -> Result<u8, Failure> {
    let stored = cutover_runtime::log_refusal(store, command.clone(), refusal).await?;
    Ok(report_stored(stored, json))
}

fn report_stored(stored: Stored, json: bool) -> u8 {
    match stored {
        Stored::Logged {
            command,
            result,
            entry,
        } => report(&command, &result, &entry, json),
        Stored::PlanUnchanged { version, hash } => {
            println!(
                "Plan unchanged: it is already version {version} (sha256 {}); nothing was logged.",
                short_hash(&hash)
            );
            0
        }
        Stored::AlreadyStored { log_seq } => {
            println!("Already recorded (log entry #{log_seq}); nothing was stored.");
            0
        }
    }
}

fn accepted_json(command: &Command, d: &Decision, entry: &LogEntry) -> serde_json::Value {
    serde_json::json!({
        "result": "accepted",
        "kind": command.kind(),
        "seq": entry.seq,
        "summary": d.summary,
        "from_phase": d.from_phase,
        "to_phase": d.to_phase,
        "effects": d.effects,
        "head": entry.hash,
    })
}

fn print_json(v: &serde_json::Value) {
    println!(
        "{}",
        serde_json::to_string_pretty(v).unwrap_or_else(|_| "{}".into())
    );
}

fn report(
    command: &Command,
    result: &Result<Decision, Refusal>,
    entry: &LogEntry,
    json: bool,
) -> u8 {
    match result {
        Ok(decision) => {
            info!(command = command.kind(), summary = %decision.summary, "Command accepted.");
            if json {
                print_json(&accepted_json(command, decision, entry));
                return 0;
            }
            match command {
                Command::ApplyPlan {
                    version,
                    file,
                    change,
                    ..
                } => {
                    println!(
                        "Applied plan version {version} from {file} (log entry #{}).",
                        entry.seq
                    );
                    println!("  people and layers: {change}");
                }
                _ => {
                    println!("Accepted: {} (log entry #{}).", decision.summary, entry.seq);
                    print_effects(decision);
                }
            }
            println!("{}", head_line(entry));
            0
        }
        Err(refusal) => {
            eprintln!("{refusal}");
            eprintln!("(logged as entry #{}; nothing was changed)", entry.seq);
            if json {
                print_json(&serde_json::json!({
                    "result": "refused",
                    "kind": command.kind(),
                    "seq": entry.seq,
                    "refusal": refusal,
                    "message": refusal.to_string(),
                    "head": entry.hash,
                }));
            } else {
                println!("{}", head_line(entry));
            }
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
    let rows = store.read_log().await?;
    let unreadable = rows.iter().filter(|r| r.is_err()).count();
    if json {
        let values: Vec<serde_json::Value> = rows
            .iter()
            .map(|r| match r {
                Ok(e) => render::entry_json(e),
                Err(u) => serde_json::json!({ "seq": u.seq, "unreadable": u.reason }),
            })
            .collect();
        print_json(&serde_json::Value::Array(values));
    } else {
        for r in &rows {
            match r {
                Ok(e) => println!("{}", render::entry_line(e)),
                Err(u) => println!("{}", render::clean(&u.to_string())),
            }
        }
    }
    if unreadable > 0 {
        return Err(Failure::error(format!(
            "error: {unreadable} log entr{} cannot be read; run `cutover history verify`",
            if unreadable == 1 { "y" } else { "ies" }
        )));
    }
    Ok(0)
}

async fn history_verify(url: &str, head: Option<&str>, json: bool) -> Result<u8, Failure> {
    if let Some(h) = head
        && (!(12..=64).contains(&h.len()) || !h.chars().all(|c| c.is_ascii_hexdigit()))
    {
        return Err(Failure::usage(
            "error: --head takes a log head as printed by a command: 12 to 64 hex digits",
        ));
    }
    let store = open(url).await?;
    let audit = store.audit(head).await?;
    if json {
        print_json(&serde_json::to_value(&audit).unwrap_or_default());
        return Ok(if audit.ok() { 0 } else { 1 });
    }
    for p in &audit.problems {
        println!("{}", render::clean(&p.to_string()));
    }
    for n in &audit.notes {
        println!("note: {}", render::clean(n));
    }
    if audit.ok() {
        let mut line = format!(
            "ok: {} entries, hash chain intact, state matches the log",
            audit.entries
        );
        if let Some(n) = audit.signed {
            line.push_str(&format!(", {n} MACs verified"));
        }
        if let Some(h) = &audit.head_check
            && let Some(seq) = h.seq
        {
            line.push_str(&format!(
                "; head {} is entry #{seq}, followed by {} entr{}",
                short_hash(&h.given),
                h.extended_by,
                if h.extended_by == 1 { "y" } else { "ies" }
            ));
        }
        if let Some(h) = &audit.head {
            line.push_str(&format!(" (head {}).", short_hash(&h.hash)));
        }
        println!("{line}");
        Ok(0)
    } else {
        println!(
            "BROKEN: {} problem{} in {} entries.",
            audit.problems.len(),
            if audit.problems.len() == 1 { "" } else { "s" },
            audit.entries
        );
        Ok(1)
    }
}
