//! `cutover sim --seed N --port P`: serves the simulated old and new platforms on
//! loopback until interrupted, and prints how to point sources at them.

use std::net::SocketAddr;

use clap::Args;
use cutover_sim::{Differences, Platform, SimConfig};

use crate::Failure;

#[derive(Debug, Args)]
pub struct SimArgs {
    /// Seed of the simulated program (same seed, same numbers).
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Port on 127.0.0.1 (0 picks a free one).
    #[arg(long, default_value_t = 8470)]
    pub port: u16,
    /// Number of partners.
    #[arg(long, default_value_t = 300)]
    pub partners: usize,
    /// Days of history before today.
    #[arg(long, default_value_t = 90)]
    pub days: u32,
    /// Serve identical numbers on both platforms (no injected differences).
    #[arg(long)]
    pub no_differences: bool,
    /// Serve a real pair of platforms: the new one gives partners its own ids (one
    /// partner split over two accounts, one account handed over on a day) and converts
    /// money at the ECB's daily rates.
    #[arg(long, conflicts_with = "no_differences")]
    pub real_pair: bool,
}

pub async fn run(args: SimArgs) -> Result<u8, Failure> {
    let config = SimConfig {
        seed: args.seed,
        partners: args.partners,
        days: args.days,
        live: true,
        differences: if args.no_differences {
            Differences::none()
        } else if args.real_pair {
            Differences::real_pair()
        } else {
            Differences::default()
        },
        ..SimConfig::default()
    };
    let addr = SocketAddr::from(([127, 0, 0, 1], args.port));
    let sim = cutover_sim::start(config.clone(), addr)
        .await
        .map_err(|e| Failure::error(format!("error: cannot listen on {addr}: {e}")))?;
    let truth = sim.truth();
    println!("simulated platforms on http://{}", sim.addr);
    println!(
        "  old: {}  (Everflow / CAKE / CSV shapes; key {})",
        sim.base_url(Platform::Old),
        config.keys.old
    );
    println!(
        "  new: {}  (TUNE / CAKE / CSV shapes; key {})",
        sim.base_url(Platform::New),
        config.keys.new
    );
    println!(
        "  ground truth: http://{}/truth (add ?from=YYYY-MM-DD&to=YYYY-MM-DD for a window's values)",
        sim.addr
    );
    println!(
        "  partner lists: http://{a}/old/partners, http://{a}/new/partners; crosswalk: http://{a}/new/partners/history",
        a = sim.addr
    );
    println!(
        "  rates (ECB): http://{a}/rates/eurofxref-hist.xml, http://{a}/rates/rates.csv; CRM: http://{a}/crm/partners.json, http://{a}/crm/partners.csv",
        a = sim.addr
    );
    println!(
        "  new platform ids: {}",
        if config.differences.new_ids {
            "its own (see /truth partner_ids)"
        } else {
            "the old platform's (use --real-pair for its own)"
        }
    );
    println!(
        "  {} partners, days {} .. {} (today grows in real time)",
        truth.partners, truth.first_day, truth.last_day
    );
    println!("environment for the presets:");
    println!(
        "  export EVERFLOW_BASE_URL={} EVERFLOW_API_KEY={}",
        sim.base_url(Platform::Old),
        config.keys.old
    );
    println!(
        "  export TUNE_BASE_URL={} TUNE_NETWORK_TOKEN={}",
        sim.base_url(Platform::New),
        config.keys.new
    );
    println!(
        "  events (Impact Actions, either platform; any account SID): export IMPACT_BASE_URL={} IMPACT_ACCOUNT_SID=IRsim IMPACT_AUTH_TOKEN={}",
        sim.base_url(Platform::Old),
        config.keys.old
    );
    println!(
        "  new platform's events and the reference data of workflows/affiliate-parallel-run.yaml: export NEW_IMPACT_BASE_URL={new} NEW_IMPACT_ACCOUNT_SID=IRsim NEW_IMPACT_AUTH_TOKEN={key} ECB_RATES_URL=http://{a}/rates/eurofxref-hist.xml ECB_RATES_CSV_URL=http://{a}/rates/rates.csv CRM_EXPORT_URL=http://{a}/crm/partners.csv",
        new = sim.base_url(Platform::New),
        key = config.keys.new,
        a = sim.addr
    );
    println!("stop with Ctrl-C");
    tokio::signal::ctrl_c()
        .await
        .map_err(|e| Failure::error(format!("error: {e}")))?;
    sim.stop().await;
    Ok(0)
}
