//! `cutover variance list|show|explain|accept|reject|reopen`: the variance register as
//! people work it. Listing reads; the other commands check who may do what (the plan's
//! people and layers: the layer owning a metric accepts, never the person who explained)
//! and apply the change through the store, kept in `variance_events` with who, when and
//! why. A refusal (unknown or closed variance, wrong layer, past expiry, unknown
//! category) exits 3 and changes nothing.

use chrono::{NaiveDate, Utc};
use clap::{Args, Subcommand};
use cutover_plan::Plan;
use cutover_recon::classify::Category;
use cutover_recon::register::{Action, Status, next};
use cutover_store::{Change, Explanation, Store, StoreError, Variance};
use serde_json::{Value, json};
use tracing::warn;

use crate::{Failure, now, open, print_json, stored_plan};

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

fn refused(message: String) -> Failure {
    warn!("variance command refused: {message}");
    Failure {
        code: 3,
        message: format!("refused: {message}; nothing was changed"),
    }
}

/// The layer that accepts a variance of `metric` found by `check`: money metrics belong
/// to `finance` when the plan has that layer; everything else to the check's own layer.
pub fn owner(plan: &Plan, check: &str, metric: &str) -> Option<String> {
    if plan.vocabulary().is_money(metric) && plan.layer("finance").is_some() {
        return Some("finance".into());
    }
    plan.check(check).map(|c| c.layer.clone())
}

fn item(v: &Variance) -> Value {
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
        "proposed": v.proposed,
        "explanation": v.explanation,
        "accepted_by": v.accepted_by,
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
            let all: Vec<Variance> = store
                .variances(mid)
                .await?
                .into_iter()
                .filter(|v| status.is_none_or(|s| v.status == s))
                .filter(|v| check.as_ref().is_none_or(|c| &v.key.check == c))
                .filter(|v| partner.as_ref().is_none_or(|p| &v.key.partner == p))
                .collect();
            if json {
                print_json(&Value::Array(all.iter().map(item).collect()));
            } else if all.is_empty() {
                println!("No variances.");
            } else {
                for v in &all {
                    println!(
                        "#{} {} {} {} {} {}: old {} new {} delta {}{} [{}]{}",
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
                        v.proposed
                            .as_ref()
                            .map(|p| format!(" proposed {} ({})", p.category, p.confidence))
                            .unwrap_or_default(),
                    );
                }
            }
            Ok(0)
        }
        VarianceCmd::Show { id, json } => {
            let Some(v) = store.variance(mid, id).await? else {
                return Err(Failure::error(format!("error: there is no variance #{id}")));
            };
            let events = store.variance_events(id).await?;
            if json {
                let mut out = item(&v);
                out["first_seen"] = json!(v.first_seen);
                out["last_seen"] = json!(v.last_seen);
                out["runs"] = json!(v.runs);
                out["snapshots"] = json!(v.snapshots);
                out["owner"] = json!(owner(&plan, &v.key.check, &v.key.metric));
                out["events"] = json!(events);
                print_json(&out);
            } else {
                println!(
                    "Variance #{}: {} {} {} {} ({}), {}",
                    v.id, v.key.check, v.key.partner, v.key.day, v.key.metric, v.code, v.status
                );
                println!(
                    "  old {} new {} delta {}",
                    v.old.as_deref().unwrap_or("-"),
                    v.new.as_deref().unwrap_or("-"),
                    v.delta
                );
                if let Some(p) = &v.proposed {
                    println!("  proposed: {} ({})", p.category, p.confidence);
                }
                if let Some(e) = &v.explanation {
                    println!("  explained by {}: {} ({})", e.by, e.category, e.note);
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
            person(&plan, &by)?;
            if Category::parse(&category).is_none() {
                return Err(refused(format!(
                    "\"{category}\" is not a category ({})",
                    Category::ALL.map(|c| c.as_str()).join(", ")
                )));
            }
            let today = Utc::now().with_timezone(&plan.timezone).date_naive();
            if let Some(day) = expires.filter(|d| *d < today) {
                return Err(refused(format!(
                    "--expires {day} is in the past (today is {today} in {})",
                    plan.timezone
                )));
            }
            let at = now();
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
            };
            apply(&store, &plan, mid, &target, change).await
        }
        VarianceCmd::Accept { target, by } => {
            let change = Change {
                action: Action::Accept,
                actor: by,
                why: String::new(),
                at: now(),
                explanation: None,
            };
            apply(&store, &plan, mid, &target, change).await
        }
        VarianceCmd::Reject { target, by, note } => {
            let change = Change {
                action: Action::Reject,
                actor: by,
                why: note,
                at: now(),
                explanation: None,
            };
            apply(&store, &plan, mid, &target, change).await
        }
        VarianceCmd::Reopen { id, by, note } => {
            let change = Change {
                action: Action::Reopen,
                actor: by,
                why: note,
                at: now(),
                explanation: None,
            };
            let target = Target {
                id: Some(id),
                group: None,
            };
            apply(&store, &plan, mid, &target, change).await
        }
    }
}

#[derive(Debug, Subcommand)]
pub enum ReportCmd {
    /// The variance statement: per partner and metric, old, new, delta, cause, evidence,
    /// who explained and accepted it and when.
    Variances {
        #[arg(long, value_enum, default_value_t = ReportFormat::Md)]
        format: ReportFormat,
        /// Write here instead of standard output.
        #[arg(long)]
        out: Option<std::path::PathBuf>,
    },
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum ReportFormat {
    Csv,
    Md,
}

const REPORT_HEADER: [&str; 17] = [
    "id",
    "check",
    "partner",
    "day",
    "metric",
    "old",
    "new",
    "delta",
    "money_impact",
    "status",
    "proposed",
    "cause",
    "evidence",
    "explained_by",
    "explained_at",
    "accepted_by",
    "accepted_at",
];

pub async fn report(url: &str, cmd: ReportCmd) -> Result<u8, Failure> {
    let ReportCmd::Variances { format, out } = cmd;
    let store = open(url).await?;
    let snap = store.load().await?;
    let plan = stored_plan(&snap)?;
    let mut all = store.variances(snap.migration_id).await?;
    all.sort_by(|a, b| {
        (&a.key.partner, &a.key.metric, a.key.day, a.id).cmp(&(
            &b.key.partner,
            &b.key.metric,
            b.key.day,
            b.id,
        ))
    });
    let mut rows: Vec<[String; 17]> = Vec::new();
    for v in &all {
        let events = store.variance_events(v.id).await?;
        let accepted_at = if v.status == Status::Accepted {
            events
                .iter()
                .rev()
                .find(|e| e.action == "accept")
                .map(|e| e.at.to_rfc3339())
                .unwrap_or_default()
        } else {
            String::new()
        };
        let evidence = v
            .proposed
            .as_ref()
            .and_then(|p| p.evidence.get("sentence").and_then(Value::as_str))
            .unwrap_or_default()
            .to_string();
        let e = v.explanation.as_ref();
        rows.push([
            v.id.to_string(),
            v.key.check.clone(),
            v.key.partner.clone(),
            v.key.day.to_string(),
            v.key.metric.clone(),
            v.old.clone().unwrap_or_default(),
            v.new.clone().unwrap_or_default(),
            v.delta.clone(),
            v.money_impact.clone().unwrap_or_default(),
            v.status.to_string(),
            v.proposed
                .as_ref()
                .map(|p| p.category.clone())
                .unwrap_or_default(),
            e.map(|e| format!("{}: {}", e.category, e.note))
                .unwrap_or_default(),
            evidence,
            e.map(|e| e.by.clone()).unwrap_or_default(),
            e.map(|e| e.at.to_rfc3339()).unwrap_or_default(),
            v.accepted_by.clone().unwrap_or_default(),
            accepted_at,
        ]);
    }
    let text = match format {
        ReportFormat::Csv => {
            let mut w = csv::Writer::from_writer(Vec::new());
            let written = w
                .write_record(REPORT_HEADER)
                .and_then(|_| rows.iter().try_for_each(|r| w.write_record(r)));
            let bytes = written
                .map_err(|e| e.to_string())
                .and_then(|_| w.into_inner().map_err(|e| e.to_string()))
                .map_err(|e| Failure::error(format!("error: cannot write the CSV: {e}")))?;
            String::from_utf8_lossy(&bytes).into_owned()
        }
        ReportFormat::Md => {
            let cell = |s: &str| s.replace('|', "\\|").replace('\n', " ");
            let mut t = format!(
                "# Variances: {}\n\nMoney in {}. Unexplained (open or rejected): {} of {}.\n\n| {} |\n|{}\n",
                plan.migration,
                plan.currency,
                all.iter()
                    .filter(|v| matches!(v.status, Status::Open | Status::Rejected))
                    .count(),
                all.len(),
                REPORT_HEADER.join(" | "),
                " --- |".repeat(REPORT_HEADER.len())
            );
            for r in &rows {
                t.push_str(&format!(
                    "| {} |\n",
                    r.iter().map(|c| cell(c)).collect::<Vec<_>>().join(" | ")
                ));
            }
            t
        }
    };
    match out {
        Some(path) => std::fs::write(&path, text)
            .map_err(|e| Failure::error(format!("error: cannot write {}: {e}", path.display())))?,
        None => print!("{text}"),
    }
    Ok(0)
}

fn person<'p>(plan: &'p Plan, id: &str) -> Result<&'p cutover_plan::Person, Failure> {
    plan.people
        .iter()
        .find(|p| p.id == id)
        .ok_or_else(|| refused(format!("\"{id}\" is not a person of the plan")))
}

/// Checks every target variance allows the change by this person, then applies it to all
/// of them at once (or to none).
async fn apply(
    store: &Store,
    plan: &Plan,
    mid: i32,
    target: &Target,
    change: Change,
) -> Result<u8, Failure> {
    let who = person(plan, &change.actor)?;
    let targets: Vec<Variance> = match (&target.id, &target.group) {
        (Some(id), _) => match store.variance(mid, *id).await? {
            Some(v) => vec![v],
            None => return Err(refused(format!("there is no variance #{id}"))),
        },
        (None, Some(g)) => {
            let members: Vec<Variance> = store
                .variances(mid)
                .await?
                .into_iter()
                .filter(|v| v.group.as_deref() == Some(g.as_str()))
                .collect();
            if members.is_empty() {
                return Err(refused(format!("no variance is in group \"{g}\"")));
            }
            // A group acts on the members the action applies to; closed ones stay.
            let open: Vec<Variance> = members
                .into_iter()
                .filter(|v| next(v.status, change.action).is_ok())
                .collect();
            if open.is_empty() {
                return Err(refused(format!(
                    "no variance of group \"{g}\" can be {}ed now",
                    change.action.as_str().trim_end_matches('e')
                )));
            }
            open
        }
        (None, None) => return Err(Failure::usage("error: give a variance id or --group")),
    };
    for v in &targets {
        if let Err(e) = next(v.status, change.action) {
            return Err(refused(format!("variance #{}: {e}", v.id)));
        }
        if matches!(change.action, Action::Accept | Action::Reject) {
            let Some(layer) = owner(plan, &v.key.check, &v.key.metric) else {
                return Err(refused(format!(
                    "variance #{}: no layer of the plan owns {} of {}",
                    v.id, v.key.metric, v.key.check
                )));
            };
            if !who.layers.contains(&layer) {
                return Err(refused(format!(
                    "variance #{}: {} is owned by the {layer} layer and {} is not in it{}",
                    v.id,
                    v.key.metric,
                    who.id,
                    if who.lead {
                        " (a lead accepts only for their own layers)"
                    } else {
                        ""
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
        }
    }
    let ids: Vec<(i32, Status)> = targets.iter().map(|v| (v.id, v.status)).collect();
    match store.change_variances(mid, &ids, &change).await {
        Ok(to) => {
            for (v, s) in targets.iter().zip(to) {
                println!(
                    "Variance #{} {} {} {} {}: {} -> {s} by {}.",
                    v.id,
                    v.key.check,
                    v.key.partner,
                    v.key.day,
                    v.key.metric,
                    v.status,
                    change.actor
                );
            }
            Ok(0)
        }
        Err(StoreError::Conflict) => Err(Failure::error(
            "error: a variance changed while this command ran; nothing was changed, retry",
        )),
        Err(e) => Err(e.into()),
    }
}
