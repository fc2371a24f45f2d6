//! `cutover recon` (a one-off reconcile of two aggregate CSV exports, no plan or store) and
//! the hidden `cutover gen-recon` (writes seeded benchmark inputs). File IO and the stderr
//! summary live here; the comparison itself is `cutover_recon::csvrecon`.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::time::Instant;

use clap::Args;
use cutover_plan::Outcome;
use cutover_recon::csvrecon::{Crosswalk, Input, Summary, Tolerance, reconcile_csv};
use cutover_recon::generate::{GenSpec, generate};
use rust_decimal::Decimal;

/// Exit codes: 0 pass or warn, 1 error, 2 usage or unreadable input, 3 fail, 4 inconclusive.
#[derive(Debug, Args)]
pub struct ReconArgs {
    /// The old platform's export (partner_id,day,metric,value,currency).
    #[arg(long)]
    pub old: PathBuf,
    /// The new platform's export, same header.
    #[arg(long)]
    pub new: PathBuf,
    /// old_partner_id,new_partner_id: maps new ids to old ones.
    #[arg(long)]
    pub crosswalk: Option<PathBuf>,
    /// Absolute tolerance.
    #[arg(long, default_value = "1")]
    pub abs: Decimal,
    /// Relative tolerance (of |old|).
    #[arg(long, default_value = "0.01")]
    pub rel: Decimal,
    /// Findings CSV: partner_id,day,metric,old_value,new_value,status.
    #[arg(long)]
    pub out: PathBuf,
    /// How many malformed rows (both sides together) may be skipped; more end the run
    /// with exit 2 and no verdict.
    #[arg(long, default_value_t = 0)]
    pub max_malformed: u64,
}

/// How many malformed rows a run refused for too many of them names.
const NAMED_MALFORMED: usize = 10;

#[derive(Debug, Args)]
pub struct GenReconArgs {
    /// Rows per side.
    #[arg(long, default_value_t = 1_000_000)]
    pub rows: u64,
    #[arg(long, default_value_t = 2_000)]
    pub partners: u32,
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// Directory for old.csv, new.csv and crosswalk.csv.
    #[arg(long)]
    pub dir: PathBuf,
}

fn open(path: &Path) -> Result<File, String> {
    File::open(path).map_err(|e| format!("error: {}: {e}", path.display()))
}

pub fn recon(args: &ReconArgs) -> u8 {
    let started = Instant::now();
    let crosswalk = match &args.crosswalk {
        None => None,
        Some(p) => {
            let bytes = match std::fs::read(p) {
                Ok(b) => b,
                Err(e) => {
                    eprintln!("error: {}: {e}", p.display());
                    return 2;
                }
            };
            match Crosswalk::parse(&p.display().to_string(), &bytes) {
                Ok(x) => Some(x),
                Err(e) => {
                    eprintln!("error: {e}");
                    return 2;
                }
            }
        }
    };
    let (old, new) = match (open(&args.old), open(&args.new)) {
        (Ok(o), Ok(n)) => (o, n),
        (Err(e), _) | (_, Err(e)) => {
            eprintln!("{e}");
            return 2;
        }
    };
    // Findings go to a temporary file next to OUT, renamed over it once complete: a
    // comparison that stops half-way (an overflow, a full disk) leaves OUT as it was.
    let tmp = temp_path(&args.out);
    let out = match File::create(&tmp) {
        Ok(f) => f,
        Err(e) => {
            eprintln!("error: {}: {e}", args.out.display());
            return 2;
        }
    };
    let discard = |code: u8| {
        let _ = std::fs::remove_file(&tmp);
        code
    };
    let mut out = BufWriter::with_capacity(1 << 20, out);
    let result = reconcile_csv(
        Input {
            name: args.old.display().to_string(),
            reader: old,
        },
        Input {
            name: args.new.display().to_string(),
            reader: new,
        },
        crosswalk.as_ref(),
        Tolerance {
            abs: args.abs,
            rel: args.rel,
        },
        &mut out,
    );
    let summary = match result {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: {e}");
            drop(out);
            return discard(2);
        }
    };
    if summary.malformed > args.max_malformed {
        // A verdict on data that was partly not read is worse than none: name the first
        // rows and stop before anything is written.
        drop(out);
        let mut e = std::io::stderr().lock();
        for m in summary.malformed_samples.iter().take(NAMED_MALFORMED) {
            let _ = writeln!(e, "{}:{}: malformed row: {}", m.file, m.line, m.reason);
        }
        let shown = summary.malformed_samples.len().min(NAMED_MALFORMED) as u64;
        if summary.malformed > shown {
            let _ = writeln!(
                e,
                "... and {} more malformed rows",
                summary.malformed - shown
            );
        }
        let _ = writeln!(
            e,
            "error: {} of {} rows are malformed (old {}, new {} readable), more than --max-malformed {} allows; no verdict, {} not written",
            summary.malformed,
            summary.old_rows + summary.new_rows + summary.malformed,
            summary.old_rows,
            summary.new_rows,
            args.max_malformed,
            args.out.display()
        );
        return discard(2);
    }
    let written = out.into_inner().map_err(|e| e.into_error()).and_then(|f| {
        drop(f);
        std::fs::rename(&tmp, &args.out)
    });
    if let Err(e) = written {
        eprintln!("error: {}: {e}", args.out.display());
        return discard(1);
    }
    let elapsed = started.elapsed().as_secs_f64();
    print_summary(&summary, elapsed);
    if summary.malformed > 0 {
        eprintln!(
            "skipped {} malformed rows (--max-malformed {}); they are in no key of the comparison",
            summary.malformed, args.max_malformed
        );
    }
    match summary.outcome().0 {
        Outcome::Pass | Outcome::Warn => 0,
        Outcome::Fail => 3,
        Outcome::Inconclusive => 4,
        Outcome::Error => 1,
    }
}

fn print_summary(s: &Summary, elapsed: f64) {
    let mut e = std::io::stderr().lock();
    for m in &s.malformed_samples {
        let _ = writeln!(e, "{}:{}: malformed row: {}", m.file, m.line, m.reason);
    }
    let shown = s.malformed_samples.len() as u64;
    if s.malformed > shown {
        let _ = writeln!(e, "... and {} more malformed rows", s.malformed - shown);
    }
    for d in &s.duplicate_samples {
        let _ = writeln!(
            e,
            "{}: duplicate key {},{},{} ({} rows, summed)",
            d.file, d.partner, d.day, d.metric, d.rows
        );
    }
    for u in &s.unmapped_samples {
        let _ = writeln!(e, "unmapped new partner id \"{u}\" (compared as is)");
    }
    for c in &s.currency_samples {
        let _ = writeln!(
            e,
            "currency mismatch {},{},{}: {}",
            c.partner,
            c.day,
            c.metric,
            c.detail()
        );
    }
    let shown = s.currency_samples.len() as u64;
    if s.currency_mismatch > shown {
        let _ = writeln!(
            e,
            "... and {} more currency mismatches",
            s.currency_mismatch - shown
        );
    }
    let (outcome, reason) = s.outcome();
    let rows = s.old_rows + s.new_rows;
    let _ = writeln!(
        e,
        "rows: old {} new {} | match {} within_tolerance {} variance {} only_old {} only_new {} currency_mismatch {} | malformed {} duplicates {} unmapped {}",
        s.old_rows,
        s.new_rows,
        s.matched,
        s.within_tolerance,
        s.variance,
        s.only_old,
        s.only_new,
        s.currency_mismatch,
        s.malformed,
        s.duplicates,
        s.unmapped
    );
    let peak = peak_rss_kib()
        .map(|k| format!("{:.1} MiB", k as f64 / 1024.0))
        .unwrap_or_else(|| "unknown".into());
    let _ = writeln!(
        e,
        "{:.2} s, {:.0} rows/s, peak memory {peak}",
        elapsed,
        rows as f64 / elapsed.max(1e-9)
    );
    let _ = writeln!(e, "outcome: {outcome} ({reason})");
}

/// `.NAME.tmp-PID` next to `out`.
fn temp_path(out: &Path) -> PathBuf {
    let name = out
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "findings".into());
    out.with_file_name(format!(".{name}.tmp-{}", std::process::id()))
}

/// Peak resident set size (VmHWM) in KiB, on Linux.
fn peak_rss_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

pub fn gen_recon(args: &GenReconArgs) -> u8 {
    if let Err(e) = std::fs::create_dir_all(&args.dir) {
        eprintln!("error: {}: {e}", args.dir.display());
        return 2;
    }
    let create = |name: &str| -> Result<BufWriter<File>, String> {
        let p = args.dir.join(name);
        File::create(&p)
            .map(|f| BufWriter::with_capacity(1 << 20, f))
            .map_err(|e| format!("error: {}: {e}", p.display()))
    };
    let files = (
        create("old.csv"),
        create("new.csv"),
        create("crosswalk.csv"),
    );
    let (mut o, mut n, mut x) = match files {
        (Ok(o), Ok(n), Ok(x)) => (o, n, x),
        (Err(e), _, _) | (_, Err(e), _) | (_, _, Err(e)) => {
            eprintln!("{e}");
            return 2;
        }
    };
    let spec = GenSpec {
        rows: args.rows,
        partners: args.partners,
        seed: args.seed,
    };
    let result = generate(spec, &mut o, &mut n, &mut x)
        .and_then(|s| o.flush().and(n.flush()).and(x.flush()).map(|_| s));
    match result {
        Ok(s) => {
            eprintln!(
                "wrote {} old rows, {} new rows over {} days to {}",
                s.old_rows,
                s.new_rows,
                s.days,
                args.dir.display()
            );
            0
        }
        Err(e) => {
            eprintln!("error: {e}");
            1
        }
    }
}
