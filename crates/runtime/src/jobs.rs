//! The job queue and its workers, on apalis: a named queue of [`CheckJob`]s in the
//! store's own database (SQLite by default, Postgres when the store is), workers that
//! poll it on an explicit interval, retry a failing job with exponential backoff, and run
//! it through the same path as `cutover check run`, at most once per idempotency key.

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use apalis::prelude::*;
use apalis_postgres::PostgresStorage;
use apalis_sqlite::SqliteStorage;
use cutover_engine::{Command, Status, Window};
use cutover_plan::Outcome;
use cutover_sources::PullOptions;
use cutover_store::Store;
use sea_orm::DbBackend;
use tracing::{Instrument, info, info_span, warn};

use crate::RunError;
use crate::check;
use crate::decide::{Extra, Stored, decide_and_store_once, stored_loaded};
use crate::metrics;
use crate::schedule::{self, CheckJob};

/// The queue's name: fixed, so renaming a Rust type never orphans queued jobs.
pub const QUEUE: &str = "cutover-run-check";

/// How the workers poll, retry and back off.
#[derive(Debug, Clone)]
pub struct WorkerSettings {
    /// How often an idle worker looks for a due job.
    pub poll: Duration,
    /// A running worker's heartbeat; a job of a worker silent for two heartbeats is
    /// handed to another worker.
    pub heartbeat: Duration,
    /// Retries after the first attempt; the last failure records an `error` run.
    pub retries: usize,
    /// The wait before the first retry; it doubles with each further one.
    pub backoff: Duration,
    /// The longest wait between attempts.
    pub backoff_max: Duration,
}

impl Default for WorkerSettings {
    fn default() -> Self {
        WorkerSettings {
            poll: Duration::from_millis(200),
            heartbeat: Duration::from_secs(5),
            retries: 3,
            backoff: Duration::from_secs(2),
            backoff_max: Duration::from_secs(60),
        }
    }
}

/// The queue in the store's database.
#[derive(Debug, Clone)]
pub enum Queue {
    Sqlite(apalis_sqlite::SqlitePool),
    Postgres(apalis_postgres::PgPool),
}

fn queue_error(e: impl std::fmt::Display) -> RunError {
    RunError::error(format!("error: job queue: {e}"))
}

impl Queue {
    /// The queue on the store's connection pool, its tables created if needed (apalis
    /// keeps its own migration table). SQLite durability stays the store's: apalis's
    /// `setup` (WAL, `synchronous=OFF`) is not run, only its migrations.
    pub async fn open(store: &Store) -> Result<Queue, RunError> {
        let db = store.connection();
        match db.get_database_backend() {
            DbBackend::Postgres => {
                let pool = db.get_postgres_connection_pool().clone();
                PostgresStorage::<()>::migrations()
                    .run(&pool)
                    .await
                    .map_err(queue_error)?;
                Ok(Queue::Postgres(pool))
            }
            _ => {
                let pool = db.get_sqlite_connection_pool().clone();
                SqliteStorage::<()>::migrations()
                    .run(&pool)
                    .await
                    .map_err(queue_error)?;
                Ok(Queue::Sqlite(pool))
            }
        }
    }

    /// Queues one job.
    pub async fn push(&self, job: CheckJob) -> Result<(), RunError> {
        match self {
            Queue::Sqlite(pool) => {
                let mut s = SqliteStorage::<CheckJob>::new(pool)
                    .with_config(apalis_sqlite::Config::default().queue(QUEUE));
                s.push(job).await.map_err(queue_error)
            }
            Queue::Postgres(pool) => {
                let mut s = PostgresStorage::<CheckJob>::new(pool)
                    .with_config(apalis_postgres::Config::default().queue(QUEUE));
                s.push(job).await.map_err(queue_error)
            }
        }
    }
}

/// What a job needs besides its arguments.
#[derive(Debug, Clone)]
pub struct JobContext {
    pub store: Store,
    pub opts: Arc<PullOptions>,
    pub retries: usize,
}

/// A poll strategy that wakes the worker every `period` and keeps its timer armed.
///
/// apalis-core 1.0.0's interval strategy replaces its timer after it fires without polling
/// the new one, so no waker is registered and a worker can sleep until the next heartbeat;
/// this one drains `Interval::poll_tick` until it is pending, which registers the waker.
#[derive(Debug)]
pub struct Tick {
    interval: tokio::time::Interval,
}

impl Tick {
    pub fn new(period: Duration) -> Tick {
        let mut interval = tokio::time::interval(period.max(Duration::from_millis(10)));
        interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        Tick { interval }
    }
}

impl PollStrategy for Tick {
    fn poll_drive(&mut self, cx: &mut Context<'_>, _: &PollSnapshot) -> Poll<Option<()>> {
        let mut fired = false;
        while self.interval.poll_tick(cx).is_ready() {
            fired = true;
        }
        if fired {
            Poll::Ready(Some(()))
        } else {
            Poll::Pending
        }
    }
}

/// Exponential backoff between the attempts of one job: `base`, `2 base`, ... up to `max`.
#[derive(Debug, Clone)]
pub struct Exponential {
    next: Duration,
    max: Duration,
}

impl Exponential {
    pub fn new(base: Duration, max: Duration) -> Exponential {
        Exponential { next: base, max }
    }
}

impl tower::retry::backoff::Backoff for Exponential {
    type Future = Pin<Box<tokio::time::Sleep>>;
    fn next_backoff(&mut self) -> Self::Future {
        let wait = self.next;
        self.next = (self.next * 2).min(self.max);
        Box::pin(tokio::time::sleep(wait))
    }
}

/// Runs `n` workers on `queue` until `shutdown` resolves; each finishes its job first.
pub async fn run_workers(
    queue: &Queue,
    ctx: JobContext,
    settings: &WorkerSettings,
    name: &str,
    n: usize,
    shutdown: tokio::sync::watch::Receiver<bool>,
) -> Result<(), RunError> {
    let ctx = Arc::new(ctx);
    let mut handles = Vec::new();
    for i in 0..n.max(1) {
        // Unique per process: apalis refuses a name whose worker was seen within a
        // heartbeat (a restart), and re-queues a dead worker's jobs only from workers of
        // other names.
        let worker_name = format!("{name}-{}-{i}", std::process::id());
        let mut stop = shutdown.clone();
        let signal = async move {
            let _ = stop.wait_for(|s| *s).await;
            Ok::<(), std::io::Error>(())
        };
        let retry = RetryPolicy::retries(settings.retries)
            .with_backoff(Exponential::new(settings.backoff, settings.backoff_max));
        let name_for_log = worker_name.clone();
        let handle = match queue {
            Queue::Sqlite(pool) => {
                let config = apalis_sqlite::Config::default()
                    .queue(QUEUE)
                    .heartbeat_interval(settings.heartbeat)
                    .batch_size(1);
                let backend = SqliteStorage::<CheckJob>::new(pool)
                    .with_config(config)
                    .poll_with_strategy(Tick::new(settings.poll));
                let worker = WorkerBuilder::new(worker_name)
                    .backend(backend)
                    .data(ctx.clone())
                    .retry(retry)
                    .build(handle);
                tokio::spawn(logged(name_for_log, worker.run_until(signal)))
            }
            Queue::Postgres(pool) => {
                let config = apalis_postgres::Config::default()
                    .queue(QUEUE)
                    .heartbeat_interval(settings.heartbeat)
                    .batch_size(1);
                let backend = PostgresStorage::<CheckJob>::new(pool)
                    .with_config(config)
                    .poll_with_strategy(Tick::new(settings.poll));
                let worker = WorkerBuilder::new(worker_name)
                    .backend(backend)
                    .data(ctx.clone())
                    .retry(retry)
                    .build(handle);
                tokio::spawn(logged(name_for_log, worker.run_until(signal)))
            }
        };
        handles.push(handle);
    }
    for h in handles {
        match h.await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => return Err(queue_error(e)),
            Err(e) => return Err(queue_error(e)),
        }
    }
    Ok(())
}

/// A worker run that logs why it stopped, when it stopped with an error.
async fn logged<E: std::fmt::Display>(
    name: String,
    run: impl std::future::Future<Output = Result<(), E>>,
) -> Result<(), E> {
    let result = run.await;
    if let Err(e) = &result {
        tracing::error!(worker = %name, error = %e, "worker stopped");
    }
    result
}

/// The worker's handler: one span per job (check, window, attempt).
async fn handle(
    job: CheckJob,
    attempt: Attempt,
    ctx: Data<Arc<JobContext>>,
) -> Result<(), RunError> {
    let n = attempt.current();
    let span = info_span!(
        "check_job",
        check = %job.check,
        window = %format!("{}..{}", job.from, job.to),
        attempt = n
    );
    async {
        info!(tick = %job.tick.to_rfc3339(), "picked up");
        metrics::JOBS_STARTED.inc();
        run_job(&job, n, &ctx).await
    }
    .instrument(span)
    .await
}

/// Runs one job: nothing if its key was stored before or its check is no longer
/// scheduled; else the check through [`check::record_once`]. A failure is returned (and
/// retried) until the last attempt, which records an `error` run with the reason.
pub async fn run_job(job: &CheckJob, attempt: usize, ctx: &JobContext) -> Result<(), RunError> {
    let store = &ctx.store;
    let snap = store.load().await?;
    let mid = snap.migration_id;
    let key = job.key();
    if let Some(seq) = store.run_key(mid, &key).await? {
        info!(seq, "already stored; nothing to do");
        metrics::RUNS_ALREADY_STORED.inc();
        store.finish_tick(mid, &job.check, job.tick, "done").await?;
        return Ok(());
    }
    let loaded = stored_loaded(&snap)?;
    let scheduled = snap.state.status == Status::Active
        && snap.state.phase.as_deref().is_some_and(|p| {
            schedule::scheduled(&loaded.plan, p)
                .iter()
                .any(|c| c.id == job.check)
        });
    if !scheduled {
        info!("the check is no longer scheduled; nothing to do");
        store
            .finish_tick(mid, &job.check, job.tick, "unscheduled")
            .await?;
        return Ok(());
    }
    let result = async {
        let evaluated =
            check::evaluate(store, &loaded, &job.check, job.window(), false, &ctx.opts).await?;
        let stored = check::record_once(store, &evaluated, &key).await?;
        Ok::<_, RunError>((evaluated.outcome, stored))
    }
    .await;
    match result {
        Ok((outcome, stored)) => {
            log_stored(&stored, Some(outcome));
            store.finish_tick(mid, &job.check, job.tick, "done").await?;
            Ok(())
        }
        Err(e) if attempt > ctx.retries => {
            let reason = e.message.trim_start_matches("error: ").replace('\n', " ");
            warn!(%reason, "giving up; recording an error run");
            metrics::JOBS_GIVEN_UP.inc();
            let command = Command::RecordRun {
                check: job.check.clone(),
                outcome: Outcome::Error,
                window: Some(Window {
                    from: job.from,
                    to: job.to,
                }),
                detail: Some(format!("gave up after {attempt} attempts: {reason}")),
            };
            let stored = decide_and_store_once(
                store,
                &|_, _| Ok(command.clone()),
                Extra::Findings(&[], None),
                Some(&key),
            )
            .await?;
            log_stored(&stored, Some(Outcome::Error));
            store
                .finish_tick(mid, &job.check, job.tick, "error")
                .await?;
            Ok(())
        }
        Err(e) => {
            warn!(error = %e.message, "attempt failed; will retry");
            metrics::ATTEMPTS_FAILED.inc();
            Err(e)
        }
    }
}

fn log_stored(stored: &Stored, outcome: Option<Outcome>) {
    match stored {
        Stored::Logged { result, entry, .. } => {
            metrics::RUNS_STORED.inc();
            info!(
                seq = entry.seq,
                outcome = outcome.map(|o| o.as_str()).unwrap_or("-"),
                accepted = result.is_ok(),
                "run recorded"
            )
        }
        Stored::AlreadyStored { log_seq } => {
            metrics::RUNS_ALREADY_STORED.inc();
            info!(log_seq, "already stored by another job")
        }
        Stored::PlanUnchanged { .. } => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::task::{Wake, Waker};

    struct Count(AtomicUsize);

    impl Wake for Count {
        fn wake(self: Arc<Self>) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }

    /// The stall apalis-core 1.0.0's interval strategy has: after it fired, the worker
    /// must be woken for the next period without polling the strategy in between.
    #[tokio::test]
    async fn tick_stays_armed_after_it_fired() {
        let count = Arc::new(Count(AtomicUsize::new(0)));
        let waker = Waker::from(count.clone());
        let mut cx = Context::from_waker(&waker);
        let snap = PollSnapshot::default();
        let mut tick = Tick::new(Duration::from_millis(50));
        // The first tick: whenever the timer driver has seen it.
        tokio::time::timeout(
            Duration::from_secs(2),
            std::future::poll_fn(|cx| tick.poll_drive(cx, &snap).map(|_| ())),
        )
        .await
        .expect("first tick");
        tokio::time::sleep(Duration::from_millis(60)).await;
        assert!(tick.poll_drive(&mut cx, &snap).is_ready());
        let woken = count.0.load(Ordering::SeqCst);
        tokio::time::sleep(Duration::from_millis(200)).await;
        assert!(
            count.0.load(Ordering::SeqCst) > woken,
            "not woken after the period"
        );
        assert!(tick.poll_drive(&mut cx, &snap).is_ready());
        // Once drained it is pending again until the next period.
        assert!(tick.poll_drive(&mut cx, &snap).is_pending());
    }

    #[tokio::test]
    async fn backoff_doubles_up_to_its_cap() {
        use tower::retry::backoff::Backoff;
        let mut b = Exponential::new(Duration::from_millis(10), Duration::from_millis(35));
        let mut waits = Vec::new();
        for _ in 0..4 {
            waits.push(b.next.as_millis());
            b.next_backoff().await;
        }
        assert_eq!(waits, vec![10, 20, 35, 35]);
    }

    #[test]
    fn the_run_key_names_check_window_and_plan_version() {
        let job = CheckJob {
            check: "recon".into(),
            from: "2026-11-29".parse().unwrap(),
            to: "2026-11-30".parse().unwrap(),
            plan_version: 3,
            tick: chrono::Utc::now(),
        };
        assert_eq!(job.key(), "recon/2026-11-29/2026-11-30/v3");
        let later = CheckJob {
            tick: job.tick + chrono::TimeDelta::seconds(2),
            ..job.clone()
        };
        assert_eq!(later.key(), job.key(), "ticks of one window share the key");
    }
}
