//! Pull-pipeline benchmark: 1M aggregate rows per side pulled from the simulator over
//! HTTP (old platform as CAKE row offsets, new as TUNE page+limit, 10,000 records a page),
//! normalised, stored as snapshots in SQLite, and read back as a check would.
//!
//! `cargo run --release -p cutover-sources --example pull_bench [-- RUNS]`

use std::net::SocketAddr;
use std::time::Instant;

use chrono::{Days, NaiveDate};
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

fn snapshot(p: &cutover_sources::Pull) -> NewSourceSnapshot {
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
            .iter()
            .map(|x| SnapshotPage {
                request: x.request.clone(),
                status: x.status,
                bytes: x.bytes,
                sha256: x.sha256.clone(),
                records: x.records,
            })
            .collect(),
        bytes: p.bytes,
        payload_sha256: p.payload_sha256.clone(),
        rows: p.rows.clone(),
    }
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let runs: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(3);
    let today = NaiveDate::from_ymd_opt(2026, 11, 20).unwrap_or_default();
    // 2,223 partners x 90 days = 200,070 records x 5 metrics = 1,000,350 rows per side.
    let config = SimConfig {
        seed: 1,
        partners: 2223,
        days: 100,
        today: Some(today),
        differences: Differences::default(),
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
    let mut walls = Vec::new();
    for run in 0..runs {
        let dir = tempfile::tempdir().expect("tempdir");
        let url = format!("sqlite://{}?mode=rwc", dir.path().join("b.db").display());
        let store = Store::connect(&url).await.expect("store");
        let t = Instant::now();
        let mut rows = 0usize;
        let mut bytes = 0u64;
        let (mut t_pull, mut t_store, mut t_read) = (0.0, 0.0, 0.0);
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
            let t1 = Instant::now();
            store
                .save_source_snapshot(&snapshot(&p))
                .await
                .expect("store");
            t_store += t1.elapsed().as_secs_f64();
            let t2 = Instant::now();
            let (_, back) = store
                .latest_complete_snapshot(&s.id, window.from, window.to)
                .await
                .expect("read")
                .expect("found");
            t_read += t2.elapsed().as_secs_f64();
            assert_eq!(back.len(), p.rows.len());
            rows += p.rows.len();
            bytes += p.bytes;
        }
        let wall = t.elapsed().as_secs_f64();
        walls.push(wall);
        println!(
            "run {}: {rows} rows ({} per side), {:.1} MiB over HTTP, wall {wall:.2}s (pull+normalise {t_pull:.2}s, store {t_store:.2}s, read back {t_read:.2}s), {:.0} rows/s, peak RSS {:.0} MiB",
            run + 1,
            rows / 2,
            bytes as f64 / 1048576.0,
            rows as f64 / wall,
            peak_rss_mib()
        );
    }
    walls.sort_by(f64::total_cmp);
    let median = walls[walls.len() / 2];
    println!(
        "median wall {median:.2}s over {runs} runs; {:.0} rows/s; peak RSS {:.0} MiB",
        2_000_700.0 / median,
        peak_rss_mib()
    );
    sim.stop().await;
}
