//! `cutover variance list|show|explain|accept|reject|reopen`: the variance register as
//! people work it. Listing reads, and says which variances are material under the plan's
//! `variance_policy` and the unexplained remainder; the other commands check who may do
//! what (the plan's people and layers: every layer a variance needs accepts it, never the
//! person who explained it) and apply the change through the store together with its
//! entry in the hash-chained transition log. A refusal (unknown or closed variance, wrong
//! layer, past expiry, unknown category) exits 3, is logged, and changes nothing.

use std::collections::BTreeMap;

use chrono::{NaiveDate, Utc};
use clap::{Args, Subcommand};
use cutover_engine::{Command as EngineCommand, Refusal, VarianceAction, decide};
use cutover_plan::{Plan, VarianceAmount};
use cutover_recon::classify::Category;
use cutover_recon::register::{Action, Status, next};
use cutover_store::{Accept, Change, Explanation, Store, StoreError, Variance};
use rust_decimal::Decimal;
use serde_json::{Value, json};
use tracing::info;

use crate::{Failure, head_line, log_refusal, now, open, print_json, stored_plan};

#[derive(Debug, Subcommand)]
pub enum VarianceCmd {
    /// The register, oldest first (filters combine).
    List {
        #[arg(long)]
        json: bool,
        /// open, explained, accepted, rejected, converged or resolved.
        #[arg(long)]
        status: Option<String>,
        #[arg(long)]
        check: Option<String>,
        /// A partner id as the old platform knows it.
        #[arg(long)]
        partner: Option<String>,
    },
    /// One variance with its history.
    Show {
        id: i32,
        #[arg(long)]
        json: bool,
    },
    /// Give a cause for a variance (or every open one of a group).
    Explain {
        #[command(flatten)]
        target: Target,
        /// One of the classifier's categories (tz_shift, fx, rounding...).
        #[arg(long)]
        category: String,
        #[arg(long)]
        note: String,
        #[arg(long = "as")]
        by: String,
        /// The day the explanation stops holding (today or later).
        #[arg(long)]
        expires: Option<NaiveDate>,
    },
    /// Accept an explained variance (a person of the layer owning its metric).
    Accept {
        #[command(flatten)]
        target: Target,
        #[arg(long = "as")]
        by: String,
    },
    /// Reject an explained variance's explanation (the owning layer): it is a defect.
    Reject {
        #[command(flatten)]
        target: Target,
        #[arg(long = "as")]
        by: String,
        #[arg(long)]
        note: String,
    },
    /// Open a closed or explained variance again.
    Reopen {
        id: i32,
        #[arg(long = "as")]
        by: String,
        #[arg(long, default_value = "")]
        note: String,
    },
}

/// One variance by id, or every variance of a group.
#[derive(Debug, Args)]
#[group(required = true, multiple = false)]
pub struct Target {
    pub id: Option<i32>,
    #[arg(long)]
    pub group: Option<String>,
}

/// A refusal of a variance command, before anything is changed (logged by the caller).
fn refused(message: String) -> Refusal {
    info!("variance command refused: {message}");
    Refusal::Invalid { reason: message }
}

/// The layer that accepts a variance of `metric` found by `check` (see
/// [`Plan::metric_owner`]).
pub fn owner(plan: &Plan, check: &str, metric: &str) -> Option<String> {
    plan.metric_owner(check, metric)
}

/// Whether a variance is live (neither converged nor resolved): only live ones count
/// towards a metric's cap and a gate.
pub fn live(v: &Variance) -> bool {
    !matches!(v.status, Status::Converged | Status::Resolved)
}

fn decimal(text: &str) -> Option<Decimal> {
    text.parse().ok()
}

/// Whether each variance of `all` is material under the plan's policy: the live ones as
/// a gate sees them (thresholds and the cumulative cap), the others by their thresholds.
pub fn materiality(plan: &Plan, all: &[Variance]) -> Vec<bool> {
    let policy = &plan.variance_policy;
    // An unreadable delta is material (the store never writes one).
    fn amount(v: &Variance) -> Option<VarianceAmount<'_>> {
        decimal(&v.delta).map(|delta| VarianceAmount {
            metric: v.key.metric.as_str(),
            old: v.old.as_deref().and_then(decimal),
            delta,
        })
    }
    let live_idx: Vec<usize> = (0..all.len()).filter(|&i| live(&all[i])).collect();
    let live_amounts: Vec<VarianceAmount<'_>> =
        live_idx.iter().filter_map(|&i| amount(&all[i])).collect();
    let live_ok: Vec<usize> = live_idx
        .iter()
        .copied()
        .filter(|&i| amount(&all[i]).is_some())
        .collect();
    let live_material = policy.material(&live_amounts);
    let mut out: Vec<bool> = all
        .iter()
        .map(|v| amount(v).is_none_or(|a| !policy.within_thresholds(&a)))
        .collect();
    for (i, m) in live_ok.into_iter().zip(live_material) {
        out[i] = m;
    }
    out
}

/// Observed, explained (accepted) and the unexplained remainder per metric, over the live
/// variances: sums of |delta| (money in the plan currency).
pub struct Remainder {
    pub metric: String,
    pub money: bool,
    pub variances: usize,
    pub observed: Decimal,
    pub explained: Decimal,
}

impl Remainder {
    pub fn unexplained(&self) -> Decimal {
        self.observed - self.explained
    }

    pub fn line(&self, currency: &str) -> String {
        let unit = if self.money {
            format!(" {currency}")
        } else {
            String::new()
        };
        format!(
            "{}: {} variance{}, observed {}{unit}, explained {}{unit}, unexplained remainder {}{unit}",
            self.metric,
            self.variances,
            if self.variances == 1 { "" } else { "s" },
            self.observed,
            self.explained,
            self.unexplained()
        )
    }
}

pub fn remainders(plan: &Plan, all: &[Variance]) -> Vec<Remainder> {
    let mut by: BTreeMap<&str, Remainder> = BTreeMap::new();
    for v in all.iter().filter(|v| live(v)) {
        let size = decimal(&v.delta).unwrap_or_default().abs();
        let r = by
            .entry(v.key.metric.as_str())
            .or_insert_with(|| Remainder {
                metric: v.key.metric.clone(),
                money: plan.vocabulary().is_money(&v.key.metric),
                variances: 0,
                observed: Decimal::ZERO,
                explained: Decimal::ZERO,
            });
        r.variances += 1;
        r.observed += size;
        if v.status == Status::Accepted {
            r.explained += size;
        }
    }
    by.into_values().collect()
}

fn item(plan: &Plan, v: &Variance, material: bool) -> Value {
    json!({
        "id": v.id,
        "group": v.group,
        "check": v.key.check,
        "partner": v.key.partner,
        "day": v.key.day,
        "metric": v.key.metric,
        "link": v.key.link,
        "coupon": v.key.coupon,
        "old": v.old,
        "new": v.new,
        "delta": v.delta,
        "money_impact": v.money_impact,
        "status": v.status,
        "material": material,
        "owner": owner(plan, &v.key.check, &v.key.metric),
        "proposed": v.proposed,
        "explanation": v.explanation,
        "accepted_by": v.accepted_by,
        "acceptances": v.acceptances,
    })
}

pub async fn run(url: &str, cmd: VarianceCmd) -> Result<u8, Failure> {
    let store = open(url).await?;
    let snap = store.load().await?;
    let plan = stored_plan(&snap)?;
    let mid = snap.migration_id;
    match cmd {
        VarianceCmd::List {
            json,
            status,
            check,
            partner,
        } => {
            let status = match status.as_deref().map(|s| (s, Status::parse(s))) {
                Some((s, None)) => {
                    return Err(Failure::usage(format!(
                        "error: --status {s} is not a status (open, explained, accepted, rejected, converged, resolved)"
                    )));
                }
                Some((_, st)) => st,
                None => None,
            };
            let every = store.variances(mid).await?;
            let material = materiality(&plan, &every);
            let all: Vec<(&Variance, bool)> = every
                .iter()
                .zip(material)
                .filter(|(v, _)| status.is_none_or(|s| v.status == s))
                .filter(|(v, _)| check.as_ref().is_none_or(|c| &v.key.check == c))
                .filter(|(v, _)| partner.as_ref().is_none_or(|p| &v.key.partner == p))
                .collect();
            if json {
                print_json(&Value::Array(
                    all.iter().map(|(v, m)| item(&plan, v, *m)).collect(),
                ));
                return Ok(0);
            }
            if all.is_empty() {
                println!("No variances.");
                return Ok(0);
            }
            for (v, m) in &all {
                println!(
                    "#{} {} {} {} {} {}: old {} new {} delta {}{} [{}, {}]{}",
                    v.id,
                    v.key.check,
                    v.key.partner,
                    v.key.day,
                    v.key.metric,
                    v.code,
                    v.old.as_deref().unwrap_or("-"),
                    v.new.as_deref().unwrap_or("-"),
                    v.delta,
                    v.money_impact
                        .as_deref()
                        .map(|m| format!(", impact {m} {}", plan.currency))
                        .unwrap_or_default(),
                    v.status,
                    if *m { "material" } else { "immaterial" },
                    v.proposed
                        .as_ref()
                        .map(|p| format!(" proposed {} ({})", p.category, p.confidence))
                        .unwrap_or_default(),
                );
            }
            let shown: Vec<Variance> = all.iter().map(|(v, _)| (*v).clone()).collect();
            for r in remainders(&plan, &shown) {
                println!("{}", r.line(&plan.currency));
            }
            Ok(0)
        }
        VarianceCmd::Show { id, json } => {
            let every = store.variances(mid).await?;
            let material = materiality(&plan, &every);
            let Some((v, material)) = every.iter().zip(material).find(|(v, _)| v.id == id) else {
                return Err(Failure::error(format!("error: there is no variance #{id}")));
            };
            let events = store.variance_events(id).await?;
            let required = plan.required_acceptors(&v.key.check, &v.key.metric);
            if json {
                let mut out = item(&plan, v, material);
                out["first_seen"] = json!(v.first_seen);
                out["last_seen"] = json!(v.last_seen);
                out["runs"] = json!(v.runs);
                out["snapshots"] = json!(v.snapshots);
                out["required_acceptors"] = json!(required);
                out["events"] = json!(events);
                print_json(&out);
            } else {
                println!(
                    "Variance #{}: {} {} {} {} ({}), {}, {}",
                    v.id,
                    v.key.check,
                    v.key.partner,
                    v.key.day,
                    v.key.metric,
                    v.code,
                    v.status,
                    if material { "material" } else { "immaterial" }
                );
                println!(
                    "  old {} new {} delta {}{}",
                    v.old.as_deref().unwrap_or("-"),
                    v.new.as_deref().unwrap_or("-"),
                    v.delta,
                    v.money_impact
                        .as_deref()
                        .map(|m| format!(", impact {m} {}", plan.currency))
                        .unwrap_or_default(),
                );
                println!(
                    "  owner {}; needs acceptance by {}",
                    owner(&plan, &v.key.check, &v.key.metric).unwrap_or_else(|| "none".into()),
                    required.join(" and ")
                );
                if let Some(p) = &v.proposed {
                    println!("  proposed: {} ({})", p.category, p.confidence);
                }
                if let Some(e) = &v.explanation {
                    println!("  explained by {}: {} ({})", e.by, e.category, e.note);
                }
                for a in &v.acceptances {
                    println!(
                        "  accepted by {} for {} at {}",
                        a.by,
                        a.layers.join(", "),
                        a.at.format("%Y-%m-%d %H:%M:%SZ")
                    );
                }
                for e in events {
                    println!(
                        "  {} {} {} -> {}: {}",
                        e.at.format("%Y-%m-%d %H:%M:%SZ"),
                        e.actor,
                        e.action,
                        e.to,
                        e.why
                    );
                }
            }
            Ok(0)
        }
        VarianceCmd::Explain {
            target,
            category,
            note,
            by,
            expires,
        } => {
            let at = now();
            let command = command(
                VarianceAction::Explain,
                &by,
                &target,
                Some(&category),
                Some(&note),
                expires,
            );
            let today = Utc::now().with_timezone(&plan.timezone).date_naive();
            let precheck = if Category::parse(&category).is_none() {
                Err(refused(format!(
                    "\"{category}\" is not a category ({})",
                    Category::ALL.map(|c| c.as_str()).join(", ")
                )))
            } else if let Some(day) = expires.filter(|d| *d < today) {
                Err(refused(format!(
                    "--expires {day} is in the past (today is {today} in {})",
                    plan.timezone
                )))
            } else {
                Ok(())
            };
            let change = Change {
                action: Action::Explain,
                actor: by.clone(),
                why: note.clone(),
                at,
                explanation: Some(Explanation {
                    category,
                    note,
                    by,
                    at,
                    expires,
                }),
                accept: None,
            };
            apply(&store, &plan, mid, &target, command, change, precheck).await
        }
        VarianceCmd::Accept { target, by } => {
            let command = command(VarianceAction::Accept, &by, &target, None, None, None);
            let change = Change {
                action: Action::Accept,
                actor: by,
                why: String::new(),
                at: now(),
                explanation: None,
                accept: None,
            };
            apply(&store, &plan, mid, &target, command, change, Ok(())).await
        }
        VarianceCmd::Reject { target, by, note } => {
            let command = command(
                VarianceAction::Reject,
                &by,
                &target,
                None,
                Some(&note),
                None,
            );
            let change = Change {
                action: Action::Reject,
                actor: by,
                why: note,
                at: now(),
                explanation: None,
                accept: None,
            };
            apply(&store, &plan, mid, &target, command, change, Ok(())).await
        }
        VarianceCmd::Reopen { id, by, note } => {
            let target = Target {
                id: Some(id),
                group: None,
            };
            let command = command(
                VarianceAction::Reopen,
                &by,
                &target,
                None,
                Some(&note),
                None,
            );
            let change = Change {
                action: Action::Reopen,
                actor: by,
                why: note,
                at: now(),
                explanation: None,
                accept: None,
            };
            apply(&store, &plan, mid, &target, command, change, Ok(())).await
        }
    }
}

/// The engine command that logs a variance change (its ids are filled in once the
/// targets are known).
fn command(
    action: VarianceAction,
    by: &str,
    target: &Target,
    category: Option<&str>,
    note: Option<&str>,
    expires: Option<NaiveDate>,
) -> EngineCommand {
    EngineCommand::Variance {
        by: by.to_string(),
        action,
        ids: target.id.into_iter().collect(),
        group: target.group.clone(),
        category: category.map(str::to_string),
        note: note.filter(|n| !n.is_empty()).map(str::to_string),
        expires,
    }
}

fn person<'p>(plan: &'p Plan, id: &str) -> Result<&'p cutover_plan::Person, Refusal> {
    plan.people
        .iter()
        .find(|p| p.id == id)
        .ok_or_else(|| refused(format!("\"{id}\" is not a person of the plan")))
}

/// The variances a command acts on, or why not.
async fn targets(
    store: &Store,
    mid: i32,
    target: &Target,
    action: Action,
) -> Result<Result<Vec<Variance>, Refusal>, Failure> {
    Ok(match (&target.id, &target.group) {
        (Some(id), _) => match store.variance(mid, *id).await? {
            Some(v) => Ok(vec![v]),
            None => Err(refused(format!("there is no variance #{id}"))),
        },
        (None, Some(g)) => {
            let members: Vec<Variance> = store
                .variances(mid)
                .await?
                .into_iter()
                .filter(|v| v.group.as_deref() == Some(g.as_str()))
                .collect();
            // A group acts on the members the action applies to; closed ones stay.
            let open: Vec<Variance> = members
                .iter()
                .filter(|v| next(v.status, action).is_ok())
                .cloned()
                .collect();
            if members.is_empty() {
                Err(refused(format!("no variance is in group \"{g}\"")))
            } else if open.is_empty() {
                Err(refused(format!(
                    "no variance of group \"{g}\" can be {}ed now",
                    action.as_str().trim_end_matches('e')
                )))
            } else {
                Ok(open)
            }
        }
        (None, None) => return Err(Failure::usage("error: give a variance id or --group")),
    })
}

/// Who may do `change` to `v`; for an acceptance, the layers it still needs.
fn allowed(
    plan: &Plan,
    who: &cutover_plan::Person,
    v: &Variance,
    change: &Change,
) -> Result<(), Refusal> {
    if let Err(e) = next(v.status, change.action) {
        return Err(refused(format!("variance #{}: {e}", v.id)));
    }
    if !matches!(change.action, Action::Accept | Action::Reject) {
        return Ok(());
    }
    let required = plan.required_acceptors(&v.key.check, &v.key.metric);
    let Some(layer) = owner(plan, &v.key.check, &v.key.metric) else {
        return Err(refused(format!(
            "variance #{}: no layer of the plan owns {} of {}",
            v.id, v.key.metric, v.key.check
        )));
    };
    let lead = if who.lead {
        " (a lead accepts only for their own layers)"
    } else {
        ""
    };
    if !required.iter().any(|l| who.layers.contains(l)) {
        let needs = if required.len() > 1 {
            format!(" and needs acceptance by {}", required.join(" and "))
        } else {
            String::new()
        };
        return Err(refused(format!(
            "variance #{}: {} is owned by the {layer} layer{needs} and {} is not in {}{lead}",
            v.id,
            v.key.metric,
            who.id,
            if required.len() > 1 {
                "any of them"
            } else {
                "it"
            }
        )));
    }
    if let Some(e) = v.explanation.as_ref().filter(|e| e.by == who.id) {
        return Err(refused(format!(
            "variance #{}: {} explained it and may not also {} it (two people)",
            v.id,
            e.by,
            change.action.as_str()
        )));
    }
    if change.action == Action::Accept {
        let done: Vec<&str> = v
            .acceptances
            .iter()
            .flat_map(|a| a.layers.iter().map(String::as_str))
            .collect();
        let open: Vec<&str> = required
            .iter()
            .map(String::as_str)
            .filter(|l| !done.contains(l))
            .collect();
        if !open.iter().any(|l| who.layers.iter().any(|w| w == l)) {
            return Err(refused(format!(
                "variance #{}: already accepted for {}; it awaits {}, and {} is not in {}",
                v.id,
                done.join(", "),
                open.join(" and "),
                who.id,
                if open.len() > 1 { "any of them" } else { "it" }
            )));
        }
        if v.acceptances.iter().any(|a| a.by == who.id) {
            return Err(refused(format!(
                "variance #{}: {} accepted it already; another person accepts for {}",
                v.id,
                who.id,
                open.join(" and ")
            )));
        }
    }
    Ok(())
}

/// Checks every target variance allows the change by this person, then applies it to all
/// of them at once (or to none), logged with the command; a refusal is logged instead.
async fn apply(
    store: &Store,
    plan: &Plan,
    mid: i32,
    target: &Target,
    mut command: EngineCommand,
    mut change: Change,
    precheck: Result<(), Refusal>,
) -> Result<u8, Failure> {
    let found = targets(store, mid, target, change.action).await?;
    let checked = precheck
        .and_then(|_| person(plan, &change.actor))
        .and_then(|who| {
            let targets = found?;
            if target.group.is_none() {
                for v in &targets {
                    allowed(plan, who, v, &change)?;
                }
                return Ok((who, targets));
            }
            // A group acts on the members this person may change (another layer's
            // members, or ones this layer accepted already, stay as they are).
            let mut first = None;
            let mut kept = Vec::new();
            for v in targets {
                match allowed(plan, who, &v, &change) {
                    Ok(()) => kept.push(v),
                    Err(r) => {
                        first.get_or_insert(r);
                    }
                }
            }
            match (kept.is_empty(), first) {
                (true, Some(r)) => Err(r),
                _ => Ok((who, kept)),
            }
        });
    let (who, targets) = match checked {
        Ok(x) => x,
        Err(refusal) => return log_refusal(store, &command, refusal, false).await,
    };
    if let EngineCommand::Variance { ids, .. } = &mut command {
        *ids = targets.iter().map(|v| v.id).collect();
    }
    if change.action == Action::Accept {
        change.accept = Some(Accept {
            layers: who.layers.clone(),
            required: targets
                .iter()
                .map(|v| (v.id, plan.required_acceptors(&v.key.check, &v.key.metric)))
                .collect(),
        });
    }
    let ids: Vec<(i32, Status)> = targets.iter().map(|v| (v.id, v.status)).collect();
    let at = change.at;
    let outcome = store
        .variance_command(&command, at, &ids, &change, |snap| {
            decide(plan, &snap.state, &snap.facts, &command, at)
        })
        .await;
    match outcome {
        Ok((entry, Ok(to))) => {
            for (v, s) in targets.iter().zip(to) {
                let awaiting = if change.action == Action::Accept && s != Status::Accepted {
                    let required = plan.required_acceptors(&v.key.check, &v.key.metric);
                    let mut done: Vec<&str> = v
                        .acceptances
                        .iter()
                        .flat_map(|a| a.layers.iter().map(String::as_str))
                        .collect();
                    done.extend(who.layers.iter().map(String::as_str));
                    let open: Vec<&str> = required
                        .iter()
                        .map(String::as_str)
                        .filter(|l| !done.contains(l))
                        .collect();
                    format!(" (awaiting acceptance by {})", open.join(" and "))
                } else {
                    String::new()
                };
                println!(
                    "Variance #{} {} {} {} {}: {} -> {s} by {}{awaiting}.",
                    v.id,
                    v.key.check,
                    v.key.partner,
                    v.key.day,
                    v.key.metric,
                    v.status,
                    change.actor
                );
            }
            println!("Logged as entry #{}; {}", entry.seq, head_line(&entry));
            Ok(0)
        }
        Ok((entry, Err(refusal))) => Ok(crate::report(&command, &Err(refusal), &entry, false)),
        Err(StoreError::Conflict) => Err(Failure::error(
            "error: a variance changed while this command ran; nothing was changed, retry",
        )),
        Err(e) => Err(e.into()),
    }
}
