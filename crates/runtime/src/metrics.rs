//! Job and queue counters of this process, ready for the metrics endpoint the API adds:
//! monotonic totals since start, read with [`snapshot`] (Prometheus counter semantics).

use std::sync::atomic::{AtomicU64, Ordering};

/// One counter.
#[derive(Debug)]
pub struct Counter(AtomicU64);

impl Counter {
    const fn new() -> Counter {
        Counter(AtomicU64::new(0))
    }

    pub fn inc(&self) {
        self.0.fetch_add(1, Ordering::Relaxed);
    }

    pub fn get(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
}

/// Ticks the scheduler queued.
pub static TICKS_QUEUED: Counter = Counter::new();
/// Ticks skipped because the check's previous job was still open.
pub static TICKS_SKIPPED: Counter = Counter::new();
/// Job attempts a worker started.
pub static JOBS_STARTED: Counter = Counter::new();
/// Runs a job stored.
pub static RUNS_STORED: Counter = Counter::new();
/// Jobs that found their run stored already (duplicates, redeliveries).
pub static RUNS_ALREADY_STORED: Counter = Counter::new();
/// Attempts that failed and will be retried.
pub static ATTEMPTS_FAILED: Counter = Counter::new();
/// Jobs that used up their attempts and recorded an `error` run.
pub static JOBS_GIVEN_UP: Counter = Counter::new();

/// Every counter by its metric name.
pub fn snapshot() -> Vec<(&'static str, u64)> {
    [
        ("cutover_ticks_queued_total", &TICKS_QUEUED),
        ("cutover_ticks_skipped_total", &TICKS_SKIPPED),
        ("cutover_jobs_started_total", &JOBS_STARTED),
        ("cutover_runs_stored_total", &RUNS_STORED),
        ("cutover_runs_already_stored_total", &RUNS_ALREADY_STORED),
        ("cutover_job_attempts_failed_total", &ATTEMPTS_FAILED),
        ("cutover_jobs_given_up_total", &JOBS_GIVEN_UP),
    ]
    .into_iter()
    .map(|(name, c)| (name, c.get()))
    .collect()
}
