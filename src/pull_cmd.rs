//! `cutover pull SOURCE --from DAY --to DAY`: pulls one window of a source named in the
//! plan, stores it as a snapshot (failed and inconclusive pulls too, marked as such), and
//! prints rows, pages, bytes and time, with a progress bar on a terminal.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use chrono::NaiveDate;
use clap::Args;
use cutover_plan::Source;
use cutover_runtime::pull::{StoredPull as Stored, pull_and_store};
use cutover_sources::{PullOptions, Window, diff_rows};
use cutover_store::{SnapshotStatus, Store};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::Failure;

#[derive(Debug, Args)]
pub struct PullArgs {
    /// The source id (from the plan's `sources:`).
    pub source: String,
    /// First report day (YYYY-MM-DD), in the source's time zone.
    #[arg(long)]
    pub from: NaiveDate,
    /// Last report day, inclusive.
    #[arg(long)]
    pub to: NaiveDate,
    /// Read sources from this plan file instead of the stored current plan.
    #[arg(long)]
    pub plan: Option<PathBuf>,
}

/// The sources of the plan file given, or of the stored plan; and the directory relative
/// `file` sources are read from.
async fn sources(store: &Store, plan: Option<&PathBuf>) -> Result<(Vec<Source>, PathBuf), Failure> {
    let (name, text, dir) = match plan {
        Some(p) => {
            let text = std::fs::read_to_string(p)
                .map_err(|e| Failure::usage(format!("error: cannot read {}: {e}", p.display())))?;
            let dir = p
                .parent()
                .map(PathBuf::from)
                .unwrap_or_else(|| PathBuf::from("."));
            (p.display().to_string(), text, dir)
        }
        None => {
            let snap = store.load().await?;
            (snap.plan.file_name, snap.plan.content, PathBuf::from("."))
        }
    };
    match cutover_plan::load(&name, &text) {
        Ok(l) => Ok((l.sources, dir)),
        Err(diags) => {
            let lines: Vec<String> = diags.iter().map(ToString::to_string).collect();
            Err(Failure::error(format!(
                "{}\n{name}: invalid plan",
                lines.join("\n")
            )))
        }
    }
}

fn human_bytes(n: u64) -> String {
    match n {
        n if n >= 1 << 20 => format!("{:.1} MiB", n as f64 / (1u64 << 20) as f64),
        n if n >= 1 << 10 => format!("{:.1} KiB", n as f64 / 1024.0),
        n => format!("{n} B"),
    }
}

pub async fn run(url: &str, args: PullArgs) -> Result<u8, Failure> {
    if args.to < args.from {
        return Err(Failure::usage(format!(
            "error: --to {} is before --from {}",
            args.to, args.from
        )));
    }
    let store = crate::open(url).await?;
    let (sources, base_dir) = sources(&store, args.plan.as_ref()).await?;
    let Some(source) = sources.iter().find(|s| s.id == args.source) else {
        let known: Vec<&str> = sources.iter().map(|s| s.id.as_str()).collect();
        return Err(Failure::usage(format!(
            "error: the plan has no source \"{}\" (known: {})",
            args.source,
            if known.is_empty() {
                "none".to_owned()
            } else {
                known.join(", ")
            }
        )));
    };
    let bar = ProgressBar::with_draw_target(
        None,
        if std::io::stderr().is_terminal() {
            ProgressDrawTarget::stderr()
        } else {
            ProgressDrawTarget::hidden()
        },
    );
    bar.set_style(
        ProgressStyle::with_template("{spinner} {msg} [{elapsed}]")
            .unwrap_or_else(|_| ProgressStyle::default_spinner()),
    );
    bar.set_message(format!("pulling {}", source.id));
    let mut opts = PullOptions::from_process_env();
    opts.base_dir = base_dir;
    let b = bar.clone();
    opts.progress = Some(Arc::new(move |p| {
        b.set_message(format!(
            "{} pages, {} rows, {}",
            p.pages,
            p.rows,
            human_bytes(p.bytes)
        ));
        b.tick();
    }));
    let window = Window {
        from: args.from,
        to: args.to,
    };
    let previous = store
        .latest_complete_snapshot(&source.id, args.from, args.to)
        .await?;
    let started = Instant::now();
    let result = pull_and_store(&store, source, window, &opts).await;
    bar.finish_and_clear();
    let Stored {
        id,
        snapshot: pulled,
        dropped,
    } = result?;
    let secs = started.elapsed().as_secs_f64();
    let records: u64 = pulled.pages.iter().map(|p| p.records).sum();
    println!(
        "{}: {} rows from {} records, {} page{}, {}, {:.2}s ({:.0} rows/s)",
        source.id,
        pulled.rows.len(),
        records,
        pulled.pages.len(),
        if pulled.pages.len() == 1 { "" } else { "s" },
        human_bytes(pulled.bytes),
        secs,
        pulled.rows.len() as f64 / secs.max(1e-9)
    );
    println!(
        "snapshot #{id} ({}) {} .. {}, payload sha256 {}",
        pulled.status.as_str(),
        args.from,
        args.to,
        pulled.payload_sha256
    );
    for d in &dropped {
        println!("left out: {d}");
    }
    if let Some((prev, rows)) = previous {
        let d = diff_rows(&rows, &pulled.rows);
        if d.is_empty() {
            println!("same rows as snapshot #{}", prev.id);
        } else {
            println!(
                "vs snapshot #{}: {} added, {} removed, {} changed (late data or restatements)",
                prev.id, d.added, d.removed, d.changed
            );
        }
    }
    match pulled.status {
        SnapshotStatus::Complete => Ok(0),
        _ => {
            eprintln!(
                "inconclusive: {}; checks will not read this snapshot",
                pulled.reason.as_deref().unwrap_or("rows are missing")
            );
            Ok(1)
        }
    }
}
