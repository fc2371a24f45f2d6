//! `cutover serve [--listen ADDR]`: the scheduler, the check workers and the outbox
//! delivery in one process, with `/healthz` answering on ADDR from the start and a
//! graceful shutdown on SIGINT or SIGTERM (running jobs finish first). `cutover worker`:
//! the check workers only (scale-out: more processes on one Postgres store).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use chrono::TimeDelta;
use clap::Args;
use cutover_notify::{Policy, Sender};
use cutover_runtime::jobs::{JobContext, Queue, WorkerSettings, run_workers};
use cutover_runtime::scheduler::{SchedulerSettings, run_delivery, run_scheduler};
use cutover_sources::PullOptions;
use cutover_store::{LogKey, Store, StoreOptions};
use tokio::sync::watch;
use tracing::info;

use crate::Failure;

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Where `/healthz` answers (port 0: any free port, printed at start-up).
    #[arg(long, default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,
    /// Where messages go when no SMTP URL is set (CUTOVER_SMTP_URL): one .eml file each.
    #[arg(long, default_value = "cutover-mail")]
    pub mail_dir: PathBuf,
    /// How far back a scheduled tick missed while nothing ran is still run, once (30m, 1h, 1d).
    #[arg(long, default_value = "1h", value_parser = duration)]
    pub catch_up: TimeDelta,
    /// How often the outbox is delivered (seconds).
    #[arg(long, default_value_t = 5)]
    pub deliver_every: u64,
    #[command(flatten)]
    pub worker: WorkerArgs,
}

#[derive(Debug, Args)]
pub struct WorkerArgs {
    /// Check workers in this process.
    #[arg(long, default_value_t = 1)]
    pub workers: usize,
    /// How often an idle worker looks for a due job, in milliseconds.
    #[arg(long, default_value_t = 200)]
    pub poll_ms: u64,
    /// Retries of a failing job (exponential backoff from 2 s); after the last one the
    /// run is recorded as `error` with the reason.
    #[arg(long, default_value_t = 3)]
    pub retries: usize,
}

fn duration(s: &str) -> Result<TimeDelta, String> {
    cutover_plan::parse_duration(s)
}

impl WorkerArgs {
    fn settings(&self) -> WorkerSettings {
        WorkerSettings {
            poll: Duration::from_millis(self.poll_ms.max(10)),
            retries: self.retries,
            ..WorkerSettings::default()
        }
    }
}

/// A store for a long-running process: a pool several loops share.
async fn open_shared(url: &str) -> Result<Store, Failure> {
    let options = StoreOptions {
        max_connections: 8,
        acquire_timeout: Duration::from_secs(30),
        ..StoreOptions::default()
    }
    .with_log_key(LogKey::from_env());
    Ok(Store::connect_with(url, options).await?)
}

/// Resolves when SIGINT or SIGTERM arrives.
async fn terminated() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

fn job_context(store: &Store, worker: &WorkerArgs) -> JobContext {
    JobContext {
        store: store.clone(),
        opts: Arc::new(PullOptions::from_process_env()),
        retries: worker.retries,
    }
}

/// The job counters at shutdown, one log line.
fn log_counters() {
    let counters: Vec<String> = cutover_runtime::metrics::snapshot()
        .into_iter()
        .map(|(name, n)| format!("{name}={n}"))
        .collect();
    info!(counters = %counters.join(" "), "stopped");
}

pub async fn serve(url: &str, args: ServeArgs) -> Result<u8, Failure> {
    // Configuration first: a bad SMTP URL is one line and exit 2, before anything starts.
    let mailer = crate::notify_cmd::mailer(&args.mail_dir)?;
    let sender = Sender::from_env().map_err(|e| Failure::usage(e.to_string()))?;
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .map_err(|e| Failure::usage(format!("error: cannot listen on {}: {e}", args.listen)))?;
    let addr = listener
        .local_addr()
        .map_err(|e| Failure::error(format!("error: cannot listen on {}: {e}", args.listen)))?;
    let (stop, stopped) = watch::channel(false);
    let app = axum::Router::new().route("/healthz", axum::routing::get(|| async { "ok\n" }));
    let mut http_stop = stopped.clone();
    let http = tokio::spawn(async move {
        axum::serve(listener, app)
            .with_graceful_shutdown(async move {
                let _ = http_stop.wait_for(|s| *s).await;
            })
            .await
    });
    println!(
        "cutover serve: /healthz on http://{addr}; mail to {}",
        mailer.describe()
    );

    let store = open_shared(url).await?;
    let queue = Queue::open(&store).await?;
    let scheduler = tokio::spawn(run_scheduler(
        store.clone(),
        queue.clone(),
        SchedulerSettings {
            catch_up: args.catch_up,
            ..SchedulerSettings::default()
        },
        stopped.clone(),
    ));
    let delivery = tokio::spawn(run_delivery(
        store.clone(),
        mailer,
        sender,
        Policy::default(),
        Duration::from_secs(args.deliver_every.max(1)),
        stopped.clone(),
    ));
    let ctx = job_context(&store, &args.worker);
    let settings = args.worker.settings();
    let n = args.worker.workers;
    let workers_stop = stopped.clone();
    let workers =
        tokio::spawn(
            async move { run_workers(&queue, ctx, &settings, "serve", n, workers_stop).await },
        );
    info!(%addr, "serving");
    terminated().await;
    info!("shutting down: finishing running jobs");
    let _ = stop.send(true);
    let _ = scheduler.await;
    let _ = delivery.await;
    let result = workers.await;
    let _ = http.await;
    log_counters();
    match result {
        Ok(Ok(())) => Ok(0),
        Ok(Err(e)) => Err(e),
        Err(e) => Err(Failure::error(format!("error: workers stopped: {e}"))),
    }
}

pub async fn worker(url: &str, args: WorkerArgs) -> Result<u8, Failure> {
    let store = open_shared(url).await?;
    let queue = Queue::open(&store).await?;
    let (stop, stopped) = watch::channel(false);
    let ctx = job_context(&store, &args);
    let settings = args.settings();
    let n = args.workers;
    let workers =
        tokio::spawn(
            async move { run_workers(&queue, ctx, &settings, "worker", n, stopped).await },
        );
    println!("cutover worker: {n} worker(s) on the queue");
    terminated().await;
    let _ = stop.send(true);
    let result = workers.await;
    log_counters();
    match result {
        Ok(Ok(())) => Ok(0),
        Ok(Err(e)) => Err(e),
        Err(e) => Err(Failure::error(format!("error: workers stopped: {e}"))),
    }
}
