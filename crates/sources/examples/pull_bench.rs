//! Pull-pipeline benchmark: 1M aggregate rows per side pulled from the simulator over
//! HTTP (old platform as CAKE row offsets, new as TUNE page+limit, 10,000 records a page),
//! normalised, stored as snapshots in SQLite, read back as a check would, mapped
//! (identity crosswalk) and reconciled exactly as `cutover check run` does. Reports the
//! whole pipeline's wall time, the reconcile step's alone (pure reconcile on the same
//! in-memory rows), and their ratio (issue 4's target: within 3x).
//!
//! `cargo run --release -p cutover-sources --example pull_bench [-- RUNS [default|none]]`
//!
//! The second argument picks the simulator's differences: `default` (every built-in
//! difference on; the time-zone shift alone makes almost every key a variance, so
//! reconcile builds ~920,000 findings) or `none` (both platforms agree: every key
//! matches, reconcile builds no findings; the cheapest reconcile, so the strictest ratio).

use std::net::SocketAddr;
use std::time::Instant;

use chrono::{Days, NaiveDate};
use cutover_plan::{CheckConfig, ScheduledKind};
use cutover_recon::config::{Built, build};
use cutover_recon::mapping::{Normaliser, PartnerCrosswalk};
use cutover_recon::reconcile::{ReconcileConfig, reconcile};
use cutover_recon::{Aggregate, Row, System};
use cutover_sim::{Differences, Platform, SimConfig};
use cutover_sources::{PullOptions, PullStatus, Window, pull};
use cutover_store::{NewSourceSnapshot, SnapshotPage, SnapshotStatus, Store};

const PLAN: &str = "migration: bench
timezone: UTC
currency: EUR
layers:
  bi: { description: BI }
people:
  - { id: lead, name: Lead, email: lead@example.com, lead: true, layers: [bi] }
phases:
  - id: discovery
    goal: g
    owners: [bi]
    exit:
      - { id: wait, min_duration: 1d }
sources:
  - id: old
    system: old
    preset: cake
    http: { rate_limit: 1000 }
  - id: new
    system: new
    preset: tune
    http: { rate_limit: 1000, paging: { size: 10000 } }
";

fn peak_rss_mib() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines().find(|l| l.starts_with("VmHWM:")).and_then(|l| {
                l.split_whitespace()
                    .nth(1)
                    .and_then(|v| v.parse::<f64>().ok())
            })
        })
        .map(|kib| kib / 1024.0)
        .unwrap_or(0.0)
}

/// The rows moved into the snapshot, as `cutover pull` / `check run` do (no copy).
fn snapshot(p: cutover_sources::Pull) -> NewSourceSnapshot {
    NewSourceSnapshot {
        source_id: p.source.clone(),
        system: p.system.clone(),
        window_from: p.window.from,
        window_to: p.window.to,
        status: match p.status {
            PullStatus::Complete => SnapshotStatus::Complete,
            PullStatus::Inconclusive { .. } => SnapshotStatus::Inconclusive,
        },
        reason: None,
        started_at: p.started_at,
        finished_at: p.finished_at,
        pages: p
            .pages
            .into_iter()
            .map(|x| SnapshotPage {
                request: x.request,
                status: x.status,
                bytes: x.bytes,
                sha256: x.sha256,
                records: x.records,
            })
            .collect(),
        bytes: p.bytes,
        payload_sha256: p.payload_sha256,
        rows: p.rows,
    }
}

/// The reconcile check's default settings (a plan check with no params).
fn reconcile_config() -> ReconcileConfig {
    let spec = CheckConfig::from_params(ScheduledKind::Reconcile, &[]).expect("params");
    match build(&spec, "EUR").expect("build") {
        Built::Reconcile { config, .. } => config,
        _ => unreachable!("a reconcile spec builds a reconcile config"),
    }
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let runs: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(3);
    let differences = match std::env::args().nth(2).as_deref() {
        None | Some("default") => Differences::default(),
        Some("none") => Differences::none(),
        Some(other) => panic!("differences: default or none, not {other}"),
    };
    let today = NaiveDate::from_ymd_opt(2026, 11, 20).unwrap_or_default();
    // 2,223 partners x 90 days = 200,070 records x 5 metrics = 1,000,350 rows per side.
    let config = SimConfig {
        seed: 1,
        partners: 2223,
        days: 100,
        today: Some(today),
        differences,
        ..SimConfig::default()
    };
    let sim = cutover_sim::start(config, SocketAddr::from(([127, 0, 0, 1], 0)))
        .await
        .expect("sim");
    let loaded = cutover_plan::load("bench.yaml", PLAN).expect("plan");
    let window = Window {
        from: today - Days::new(89),
        to: today,
    };
    let cfg = reconcile_config();
    let crosswalk = PartnerCrosswalk::new([])
        .with_identity(System::Old)
        .with_identity(System::New);
    // Exactly check_cmd's mapping step: aggregates only, crosswalk, no rate table.
    let normalise = |system, rows: &[Row]| {
        let aggregates: Vec<Aggregate> = rows
            .iter()
            .filter_map(|r| match r {
                Row::Aggregate(a) => Some(a.clone()),
                _ => None,
            })
            .collect();
        Normaliser {
            system,
            crosswalk: &crosswalk,
            rates: None,
        }
        .aggregates(&aggregates)
        .expect("values within the decimal range")
    };
    let (mut walls, mut recons, mut ratios) = (Vec::new(), Vec::new(), Vec::new());
    for run in 0..runs {
        let dir = tempfile::tempdir().expect("tempdir");
        let url = format!("sqlite://{}?mode=rwc", dir.path().join("b.db").display());
        let store = Store::connect(&url).await.expect("store");
        let t = Instant::now();
        let mut rows = 0usize;
        let mut bytes = 0u64;
        let (mut t_pull, mut t_store, mut t_read) = (0.0, 0.0, 0.0);
        let mut sides: Vec<Vec<Row>> = Vec::new();
        for (i, (base, key)) in [
            (sim.base_url(Platform::Old), "CAKE"),
            (sim.base_url(Platform::New), "TUNE"),
        ]
        .into_iter()
        .enumerate()
        {
            let env: std::collections::HashMap<String, String> = [
                (format!("{key}_BASE_URL"), base),
                ("CAKE_API_KEY".to_owned(), "sim-old-key".to_owned()),
                ("TUNE_NETWORK_TOKEN".to_owned(), "sim-new-key".to_owned()),
            ]
            .into_iter()
            .collect();
            let opts = PullOptions::with_env(env);
            let s = &loaded.sources[i];
            let t0 = Instant::now();
            let p = pull(s, window, &opts).await.expect("pull");
            assert_eq!(p.status, PullStatus::Complete);
            t_pull += t0.elapsed().as_secs_f64();
            bytes += p.bytes;
            let t1 = Instant::now();
            let snap = snapshot(p);
            store.save_source_snapshot(&snap).await.expect("store");
            t_store += t1.elapsed().as_secs_f64();
            let pulled = snap.rows.len();
            drop(snap);
            let t2 = Instant::now();
            let (_, back) = store
                .latest_complete_snapshot(&s.id, window.from, window.to)
                .await
                .expect("read")
                .expect("found");
            t_read += t2.elapsed().as_secs_f64();
            assert_eq!(back.len(), pulled);
            rows += back.len();
            sides.push(back);
        }
        let t3 = Instant::now();
        let (o, mut unmapped) = normalise(System::Old, &sides[0]);
        let (n, un) = normalise(System::New, &sides[1]);
        unmapped.extend(un);
        drop(sides);
        let t_map = t3.elapsed().as_secs_f64();
        let t4 = Instant::now();
        let result = reconcile(&o, &n, unmapped, &cfg);
        let t_recon = t4.elapsed().as_secs_f64();
        let wall = t.elapsed().as_secs_f64();
        assert_eq!(o.len() + n.len(), rows);
        let ratio = wall / t_recon;
        walls.push(wall);
        recons.push(t_recon);
        ratios.push(ratio);
        println!(
            "run {}: {rows} rows ({} per side), {:.1} MiB over HTTP, pipeline {wall:.2}s (pull+normalise {t_pull:.2}s, store {t_store:.2}s, read back {t_read:.2}s, map {t_map:.2}s, reconcile {t_recon:.2}s), {:.0} rows/s, pipeline/reconcile {ratio:.2}x, peak RSS {:.0} MiB",
            run + 1,
            rows / 2,
            bytes as f64 / 1048576.0,
            rows as f64 / wall,
            peak_rss_mib()
        );
        println!(
            "  reconcile: {} ({} findings): {}",
            result.outcome,
            result.findings.len(),
            result.reason
        );
    }
    let (wall, recon, ratio) = (median(walls), median(recons), median(ratios));
    println!(
        "median over {runs} runs: pipeline {wall:.2}s, pure reconcile {recon:.2}s, pipeline/reconcile {ratio:.2}x; {:.0} rows/s; peak RSS {:.0} MiB",
        2_000_700.0 / wall,
        peak_rss_mib()
    );
    sim.stop().await;
}
