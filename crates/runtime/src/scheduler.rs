//! The scheduler pass and the loops `cutover serve` runs: every `every`, queue the due
//! tick of each scheduled check of the active phase (at most once per tick across every
//! scheduler on the database; skipped while the check's previous job is still open), and
//! deliver the outbox.

use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use cutover_engine::Status;
use cutover_notify::{Mailer, Policy, Sender, deliver_due};
use cutover_store::{Store, StoreError};
use tracing::{info, warn};

use crate::RunError;
use crate::decide::{now, stored_plan};
use crate::jobs::Queue;
use crate::metrics;
use crate::schedule::{self, CheckJob};

/// How the scheduler decides what is due.
#[derive(Debug, Clone)]
pub struct SchedulerSettings {
    /// How often the scheduler looks for due ticks.
    pub every: Duration,
    /// How far back a missed tick (the process was down) is still run, once.
    pub catch_up: TimeDelta,
    /// A queued tick whose job has not finished after this long no longer blocks the
    /// check's next tick (its worker died; the queue hands the job to another).
    pub open_for: TimeDelta,
}

impl Default for SchedulerSettings {
    fn default() -> Self {
        SchedulerSettings {
            every: Duration::from_secs(1),
            catch_up: TimeDelta::hours(1),
            open_for: TimeDelta::minutes(10),
        }
    }
}

/// What one scheduler pass did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Pass {
    pub queued: Vec<CheckJob>,
    /// Checks whose due tick was skipped because their previous job is still open.
    pub skipped: Vec<String>,
    /// The earliest tick of a scheduled check after the pass: when the next pass is due.
    pub next: Option<DateTime<Utc>>,
}

/// One pass at `at`: re-reads the stored plan and state, and queues the due tick of each
/// scheduled check of the active phase. Nothing when no migration was started or it is
/// not active.
pub async fn schedule_pass(
    store: &Store,
    queue: &Queue,
    settings: &SchedulerSettings,
    at: DateTime<Utc>,
) -> Result<Pass, RunError> {
    let snap = match store.load().await {
        Ok(s) => s,
        Err(StoreError::NotStarted) => return Ok(Pass::default()),
        Err(e) => return Err(e.into()),
    };
    let mut pass = Pass::default();
    if snap.state.status != Status::Active {
        return Ok(pass);
    }
    let Some(phase) = snap.state.phase.as_deref() else {
        return Ok(pass);
    };
    let plan = stored_plan(&snap)?;
    let mid = snap.migration_id;
    for check in schedule::scheduled(&plan, phase) {
        let Some(s) = &check.schedule else { continue };
        if let Some(n) = s.cron.after(&at.with_timezone(&plan.timezone)).next() {
            let n = n.with_timezone(&Utc);
            pass.next = Some(pass.next.map_or(n, |p| p.min(n)));
        }
        let last = store.latest_tick(mid, &check.id).await?;
        let after = schedule::look_back(at, settings.catch_up, snap.state.entered_at, last);
        let Some(tick) = schedule::due_tick(&s.cron, plan.timezone, after, at) else {
            continue;
        };
        if let Some(open) = store
            .open_tick(mid, &check.id, at - settings.open_for)
            .await?
        {
            // Overlap policy: skip. The tick is kept as skipped, so it is not caught up.
            if store
                .claim_tick(mid, &check.id, tick, snap.plan.version, "skipped", at)
                .await?
            {
                info!(
                    check = %check.id,
                    tick = %tick.to_rfc3339(),
                    open = %open.to_rfc3339(),
                    "previous run still open; tick skipped"
                );
                pass.skipped.push(check.id.clone());
                metrics::TICKS_SKIPPED.inc();
            }
            continue;
        }
        if !store
            .claim_tick(mid, &check.id, tick, snap.plan.version, "queued", at)
            .await?
        {
            continue; // another scheduler queued it
        }
        let window = schedule::window_for(&plan, check, tick);
        let job = CheckJob {
            check: check.id.clone(),
            from: window.from,
            to: window.to,
            plan_version: snap.plan.version,
            tick,
        };
        queue.push(job.clone()).await?;
        info!(
            check = %job.check,
            tick = %tick.to_rfc3339(),
            window = %format!("{}..{}", job.from, job.to),
            "queued"
        );
        metrics::TICKS_QUEUED.inc();
        pass.queued.push(job);
    }
    Ok(pass)
}

/// Runs scheduler passes until `shutdown` turns true: at every scheduled check's next
/// tick, and at least every `settings.every` (to see phase and plan changes); a failed
/// pass is logged and the next one tries again.
pub async fn run_scheduler(
    store: Store,
    queue: Queue,
    settings: SchedulerSettings,
    mut shutdown: tokio::sync::watch::Receiver<bool>,
) {
    loop {
        let at = now();
        let next = match schedule_pass(&store, &queue, &settings, at).await {
            Ok(pass) => pass.next,
            Err(e) => {
                warn!(error = %e.message, "scheduler pass failed");
                None
            }
        };
        // Wake at the next tick (a little after it, so it is due), or after `every`.
        let mut wait = settings.every;
        if let Some(n) = next {
            let until = (n - now()).to_std().unwrap_or_default() + Duration::from_millis(5);
            wait = wait.min(until);
        }
        tokio::select! {
            _ = tokio::time::sleep(wait) => {}
            _ = shutdown.wait_for(|s| *s) => return,
        }
    }
}

/// Delivers the outbox every `every` until `shutdown` turns true (see
/// `cutover_notify::deliver_due`).
pub async fn run_delivery(
    store: Store,
    mailer: Mailer,
    sender: Sender,
    policy: Policy,
    every: Duration,
    mut shutdown: tokio::sync::watch::Receiver<bool>,
) {
    let mut interval = tokio::time::interval(every);
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = interval.tick() => {}
            _ = shutdown.wait_for(|s| *s) => return,
        }
        if let Err(e) = deliver_due(&store, &mailer, &sender, &policy, now()).await {
            warn!(error = %e, "outbox delivery failed");
        }
    }
}
