//! `cutover check run` (a plan's reconcile check over wide CSV file sources and a
//! crosswalk source) and `cutover recon` (the long CSVs) give every key the same status
//! on the same generated data: the seeded `gen-recon` files (renamed partners, noise
//! within and beyond tolerance, rows missing on one side, a partner shifted by a day, one
//! partner's money scaled), the wide layout written from the long one here.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Command, Output};

const BIN: &str = env!("CARGO_BIN_EXE_cutover");

/// The 14 canonical metrics, the wide files' columns.
const METRICS: [&str; 14] = [
    "clicks_gross",
    "clicks_unique",
    "registrations",
    "ftd_count",
    "ftd_amount",
    "qualified_ftd",
    "deposits_count",
    "deposits_amount",
    "withdrawals_amount",
    "purchases",
    "purchases_amount",
    "trades",
    "net_revenue",
    "commission",
];

fn text(o: &Output) -> String {
    format!(
        "exit {:?}\n--- stdout\n{}\n--- stderr\n{}",
        o.status.code(),
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// Writes the wide layout of a long `partner_id,day,metric,value,currency` file (one row a
/// partner and day, a blank where the side has no row); returns its first and last day.
fn widen(long: &Path, wide: &Path) -> (String, String) {
    let text = std::fs::read_to_string(long).unwrap();
    let mut rows: BTreeMap<(String, String), (String, Vec<String>)> = BTreeMap::new();
    for line in text.lines().skip(1) {
        let f: Vec<&str> = line.split(',').collect();
        assert_eq!(f.len(), 5, "{line}");
        let i = METRICS.iter().position(|m| *m == f[2]).expect(f[2]);
        let row = rows
            .entry((f[0].to_owned(), f[1].to_owned()))
            .or_insert_with(|| (String::new(), vec![String::new(); METRICS.len()]));
        assert!(row.1[i].is_empty(), "{line} twice");
        row.1[i] = f[3].to_owned();
        if !f[4].is_empty() {
            row.0 = f[4].to_owned();
        }
    }
    let mut out = format!("partner,day,currency,{}\n", METRICS.join(","));
    for ((p, d), (cur, values)) in &rows {
        out.push_str(&format!("{p},{d},{cur},{}\n", values.join(",")));
    }
    std::fs::write(wide, out).unwrap();
    let days: Vec<&String> = rows.keys().map(|(_, d)| d).collect();
    (
        days.iter().min().unwrap().to_string(),
        days.iter().max().unwrap().to_string(),
    )
}

fn plan() -> String {
    let metrics = METRICS
        .iter()
        .map(|m| format!("{m}: {m}"))
        .collect::<Vec<_>>()
        .join(", ");
    let side = |id: &str, file: &str| {
        format!(
            "  - {{ id: {id}, system: {id}, file: {{ path: {file} }}, format: {{ type: csv }}, empty: missing, fields: {{ partner: partner, day: day, currency: currency }}, metrics: {{ {metrics} }} }}\n"
        )
    };
    format!(
        "migration: parity
timezone: UTC
currency: EUR
layers:
  bi: {{ description: BI }}
people:
  - {{ id: lead, name: Lead, email: lead@example.com, lead: true }}
  - {{ id: bea, name: Bea, email: bea@example.com, layers: [bi] }}
sources:
{}{}  - {{ id: xw, system: new, rows: crosswalk, file: {{ path: crosswalk.csv }}, format: {{ type: csv }}, fields: {{ old: old_partner_id, new: new_partner_id }} }}
checks:
  - {{ id: recon, layer: bi, kind: reconcile, schedule: \"0 7 * * *\", sources: {{ old: old, new: new, crosswalk: xw }}, params: {{ tolerance: {{ abs: 1, rel: 0.01 }} }} }}
phases:
  - id: parallel_validation
    goal: Compare
    owners: [bi]
    exit:
      - {{ id: recon_ok, check: recon, outcome: pass }}
  - id: done
    goal: Done
    owners: [bi]
    exit:
      - {{ id: settle, min_duration: 1d }}
",
        side("old", "old_wide.csv"),
        side("new", "new_wide.csv")
    )
}

#[test]
fn check_run_and_recon_agree_on_every_key() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let run = |args: &[&str], db: &str| {
        Command::new(BIN)
            .args(args)
            .current_dir(d)
            .env("CUTOVER_DATABASE_URL", db)
            .output()
            .expect("run cutover")
    };
    let db = format!("sqlite://{}?mode=rwc", d.join("c.db").display());
    let o = run(
        &[
            "gen-recon",
            "--rows",
            "60000",
            "--partners",
            "40",
            "--seed",
            "7",
            "--dir",
            ".",
        ],
        &db,
    );
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let (f1, t1) = widen(&d.join("old.csv"), &d.join("old_wide.csv"));
    let (f2, t2) = widen(&d.join("new.csv"), &d.join("new_wide.csv"));
    let (from, to) = (f1.min(f2), t1.max(t2));
    std::fs::write(d.join("plan.yaml"), plan()).unwrap();

    let o = run(
        &[
            "recon",
            "--old",
            "old.csv",
            "--new",
            "new.csv",
            "--crosswalk",
            "crosswalk.csv",
            "--abs",
            "1",
            "--rel",
            "0.01",
            "--out",
            "recon.csv",
        ],
        &db,
    );
    assert!(matches!(o.status.code(), Some(0 | 3)), "{}", text(&o));
    let recon: Vec<(String, String)> = std::fs::read_to_string(d.join("recon.csv"))
        .unwrap()
        .lines()
        .skip(1)
        .map(|l| {
            let f: Vec<&str> = l.split(',').collect();
            (
                format!("{},{},{}", f[0], f[1], f[2]),
                f[f.len() - 1].to_owned(),
            )
        })
        .collect();

    let o = run(&["start", "plan.yaml", "--as", "lead"], &db);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let o = run(
        &["check", "run", "recon", "--from", &from, "--to", &to],
        &db,
    );
    assert_eq!(o.status.code(), Some(3), "{}", text(&o));
    let (_, found) = tokio::runtime::Runtime::new()
        .unwrap()
        .block_on(async {
            let store = cutover_store::Store::connect(&db).await.unwrap();
            let snap = store.load().await.unwrap();
            store.latest_findings(&snap, "recon").await.unwrap()
        })
        .expect("a stored run");
    let mut check: Vec<(String, String)> = found.into_iter().map(|f| (f.subject, f.code)).collect();

    let mut recon = recon;
    recon.sort();
    check.sort();
    // Every kind of difference the generator makes is there, on both paths alike.
    let count = |code: &str| recon.iter().filter(|(_, c)| c == code).count();
    for code in ["within_tolerance", "variance", "only_old", "only_new"] {
        assert!(count(code) > 0, "no {code} in recon's findings");
    }
    assert_eq!(check.len(), recon.len(), "{}", text(&o));
    let differ: Vec<_> = check
        .iter()
        .zip(&recon)
        .filter(|(a, b)| a != b)
        .take(5)
        .collect();
    assert!(differ.is_empty(), "check run vs recon: {differ:?}");
}
