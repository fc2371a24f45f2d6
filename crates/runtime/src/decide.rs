//! Deciding a command and storing the result: taken or refused, under the migration's
//! write lock, with the emails it implies queued in the same transaction. Every command
//! that changes the migration goes through [`decide_and_store`], so a recorded check run
//! counts toward its gate exactly like any other decision.

use chrono::{DateTime, SubsecRound, Utc};
use cutover_engine::{Command, Decision, Facts, MigrationState, Refusal, decide};
use cutover_notify::{DecisionInput, Sender};
use cutover_plan::Plan;
use cutover_store::{
    Decided, LogEntry, NewFinding, NewOutbox, Once, RegisterRun, Snapshot, Store, StoreError,
};
use tracing::info;

use crate::RunError;

/// Now, at the precision both databases keep (microseconds), so hashes re-compute.
pub fn now() -> DateTime<Utc> {
    Utc::now().trunc_subsecs(6)
}

/// The stored current plan, re-validated.
pub fn stored_plan(snap: &Snapshot) -> Result<Plan, RunError> {
    stored_loaded(snap).map(|l| l.plan)
}

/// The stored current plan with its sources, re-validated.
pub fn stored_loaded(snap: &Snapshot) -> Result<cutover_plan::Loaded, RunError> {
    cutover_plan::load(&snap.plan.file_name, &snap.plan.content).map_err(|d| {
            RunError::error(format!(
                "error: stored plan version {} no longer validates ({} diagnostics); apply a fixed plan",
                snap.plan.version,
                d.len()
            ))
        })
}

/// What is stored besides the decision.
#[derive(Clone, Copy)]
pub enum Extra<'a> {
    /// Findings of the check run the decision records, and what it brings to the
    /// variance register.
    Findings(&'a [NewFinding], Option<&'a RegisterRun>),
    /// The text of the plan an `ApplyPlan` makes current.
    Plan(&'a str),
}

/// What [`decide_and_store`] stored.
// One value per command, moved once: boxing the large variant would buy nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Debug)]
pub enum Stored {
    /// The command, taken or refused, and its log entry.
    Logged {
        command: Command,
        result: Result<Decision, Refusal>,
        entry: LogEntry,
    },
    /// An `ApplyPlan` of the text that is already current: nothing was logged.
    PlanUnchanged { version: i32, hash: String },
    /// A decision with this idempotency key was stored before, as log entry `log_seq`:
    /// nothing was stored now (see [`decide_and_store_once`]).
    AlreadyStored { log_seq: i64 },
}

/// Times a decision is tried again when it unexpectedly conflicts (it is taken under the
/// migration's write lock, so it should not).
const ATTEMPTS: u32 = 3;

/// Why a locked decision stopped.
enum Stop {
    Store(StoreError),
    Fail(RunError),
}

impl From<StoreError> for Stop {
    fn from(e: StoreError) -> Self {
        Stop::Store(e)
    }
}

impl From<RunError> for Stop {
    fn from(f: RunError) -> Self {
        Stop::Fail(f)
    }
}

/// Decides the command `build` makes and stores the decision, taken or refused, under
/// the migration's write lock (see [`Store::decide_locked`]): concurrent commands queue
/// instead of racing, and every refusal is appended to the log, so exit 3 always means
/// "refused and logged".
///
/// The command is meant for the migration as it stood when the command started (`seen`):
/// if another command moved it to another phase or status before this one got the lock,
/// this one is refused (so a sign-off or record meant for one phase never lands in the
/// next); `advance` names its phase anyway.
pub async fn decide_and_store(
    store: &Store,
    build: &(dyn Fn(&Snapshot, &Plan) -> Result<Command, RunError> + Sync),
    extra: Extra<'_>,
) -> Result<Stored, RunError> {
    decide_and_store_once(store, build, extra, None).await
}

/// [`decide_and_store`], at most once per `key` when one is given: the key is checked
/// under the write lock and stored in the decision's transaction, so a retried or
/// duplicated job stores nothing twice ([`Stored::AlreadyStored`]). A refusal that
/// gives up after repeated conflicts is logged without the key.
pub async fn decide_and_store_once(
    store: &Store,
    build: &(dyn Fn(&Snapshot, &Plan) -> Result<Command, RunError> + Sync),
    extra: Extra<'_>,
    key: Option<&str>,
) -> Result<Stored, RunError> {
    let seen = store.load().await?;
    // Parsed outside the lock; re-parsed under it only if another plan became current.
    let seen_plan = stored_plan(&seen)?;
    let mut last = None;
    let mut unchanged = None;
    for _ in 0..ATTEMPTS {
        let decide_fn = |snap: &Snapshot| -> Result<Option<(Decided<'_>, Vec<NewOutbox>)>, Stop> {
            let parsed;
            let plan = if snap.plan.hash == seen.plan.hash {
                &seen_plan
            } else {
                parsed = stored_plan(snap)?;
                &parsed
            };
            let command = build(snap, plan)?;
            let at = now();
            let result = if snap.state.phase != seen.state.phase
                || snap.state.status != seen.state.status
            {
                Err(Refusal::Invalid {
                    reason: format!(
                        "another command moved the migration from {} to {} ({}) while this one was being decided; nothing was done",
                        seen.state.phase.as_deref().unwrap_or("-"),
                        snap.state.phase.as_deref().unwrap_or("-"),
                        snap.state.status.as_str()
                    ),
                })
            } else {
                decide(plan, &snap.state, &snap.facts, &command, at)
            };
            let (findings, plan_text, register) = match extra {
                Extra::Findings(f, r) => (f, None, r),
                Extra::Plan(text) => {
                    if result.is_ok() && cutover_store::content_hash(text) == snap.plan.hash {
                        unchanged = Some((snap.plan.version, snap.plan.hash.clone()));
                        return Ok(None);
                    }
                    (&[][..], Some(text), None)
                }
            };
            let outbox = rows_for(
                plan,
                &snap.state,
                &snap.facts,
                &command,
                result.as_ref(),
                findings,
                at,
            )?;
            Ok(Some((
                Decided {
                    command,
                    result,
                    at,
                    findings,
                    plan_text,
                    register,
                },
                outbox,
            )))
        };
        let outcome = match key {
            Some(key) => store.decide_locked_once(key, decide_fn).await,
            None => store
                .decide_locked_with_outbox(decide_fn)
                .await
                .map(|o| o.map_or(Once::Nothing, Once::Stored)),
        };
        match outcome {
            Ok(Once::AlreadyStored { log_seq }) => return Ok(Stored::AlreadyStored { log_seq }),
            Ok(Once::Stored((entry, d, _queued))) => {
                return Ok(Stored::Logged {
                    command: d.command,
                    result: d.result,
                    entry,
                });
            }
            Ok(Once::Nothing) => {
                return match unchanged.take() {
                    Some((version, hash)) => Ok(Stored::PlanUnchanged { version, hash }),
                    None => Err(RunError::error("error: nothing was decided")),
                };
            }
            Err(Stop::Store(StoreError::Conflict)) => {
                info!("Concurrent update; deciding again.");
                last = Some(build(&seen, &seen_plan)?);
            }
            Err(Stop::Store(e)) => return Err(e.into()),
            Err(Stop::Fail(f)) => return Err(f),
        }
    }
    let Some(command) = last else {
        return Err(RunError::error("error: nothing was decided"));
    };
    let refusal = Refusal::Invalid {
        reason: format!(
            "the migration kept changing under this command ({ATTEMPTS} attempts); nothing was done, retry"
        ),
    };
    log_refusal(store, command, refusal).await
}

/// Appends a refusal, against the freshest state, until it lands. A refusal changes no
/// state, so it never has to be decided again.
pub async fn log_refusal(
    store: &Store,
    command: Command,
    refusal: Refusal,
) -> Result<Stored, RunError> {
    for attempt in 0..1_000 {
        let snap = store.load().await?;
        match store.record(&snap, now(), &command, Err(&refusal)).await {
            Ok(entry) => {
                return Ok(Stored::Logged {
                    command,
                    result: Err(refusal),
                    entry,
                });
            }
            Err(StoreError::Conflict) => backoff(attempt).await,
            Err(e) => return Err(e.into()),
        }
    }
    Err(StoreError::Busy.into())
}

/// A short, jittered pause before trying again, growing with the attempts.
async fn backoff(attempt: u32) {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    let spread = 8 * u64::from(attempt.min(15) + 1);
    let jitter = u64::from(nanos ^ std::process::id().wrapping_mul(2_654_435_761)) % spread;
    tokio::time::sleep(std::time::Duration::from_millis(1 + jitter)).await;
}

/// The outbox rows a decision implies (see `cutover_notify::for_decision`).
#[allow(clippy::too_many_arguments)]
pub fn rows_for(
    plan: &Plan,
    state: &MigrationState,
    facts: &Facts,
    command: &Command,
    result: Result<&Decision, &Refusal>,
    findings: &[NewFinding],
    at: DateTime<Utc>,
) -> Result<Vec<NewOutbox>, RunError> {
    // The domain only names Message-IDs; a bad CUTOVER_MAIL_FROM is reported by `send`.
    let domain = Sender::from_env()
        .map(|s| s.domain())
        .unwrap_or_else(|_| "localhost".into());
    let drafts = cutover_notify::for_decision(&DecisionInput {
        plan,
        state,
        facts,
        command,
        result,
        findings,
        at,
    })
    .map_err(|e| RunError::error(format!("error: {e}; nothing was stored")))?;
    Ok(drafts.into_iter().map(|d| d.into_outbox(&domain)).collect())
}
