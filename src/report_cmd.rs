//! `cutover report variances --format csv|md|xlsx|html [--out FILE]`: the variance
//! statement finance files. One row per variance, sorted by partner, metric and day: old,
//! new, delta, money impact, material or not, status, the classifier's proposal, the cause
//! given, its evidence, who explained and accepted it and when; then the unexplained
//! remainder per metric (observed − explained).

use clap::Subcommand;
use cutover_plan::Plan;
use cutover_recon::register::Status;
use cutover_store::Variance;
use serde_json::Value;

use crate::variance_cmd::{Remainder, materiality, remainders};
use crate::{Failure, open, stored_plan};

#[derive(Debug, Subcommand)]
pub enum ReportCmd {
    /// The variance statement: per partner and metric, old, new, delta, cause, evidence,
    /// who explained and accepted it and when.
    Variances {
        #[arg(long, value_enum, default_value_t = ReportFormat::Md)]
        format: ReportFormat,
        /// Write here instead of standard output (required for xlsx).
        #[arg(long)]
        out: Option<std::path::PathBuf>,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ReportFormat {
    Csv,
    Md,
}

/// The statement's columns, in order.
pub const HEADER: [&str; 18] = [
    "id",
    "check",
    "partner",
    "day",
    "metric",
    "old",
    "new",
    "delta",
    "money_impact",
    "material",
    "status",
    "proposed",
    "cause",
    "evidence",
    "explained_by",
    "explained_at",
    "accepted_by",
    "accepted_at",
];

/// Columns holding decimals (written as numbers where the format has numbers).
#[allow(dead_code)]
pub const NUMERIC: [usize; 4] = [5, 6, 7, 8];

/// The statement: rows as text, plus what heads it.
pub struct Statement {
    pub migration: String,
    pub currency: String,
    pub rows: Vec<[String; 18]>,
    pub remainders: Vec<Remainder>,
    /// Live variances that are open or rejected, of all.
    pub unexplained: usize,
    pub total: usize,
}

/// Builds the statement from the register.
pub async fn statement(
    store: &cutover_store::Store,
    plan: &Plan,
    mid: i32,
) -> Result<Statement, Failure> {
    let mut all = store.variances(mid).await?;
    all.sort_by(|a, b| {
        (&a.key.partner, &a.key.metric, a.key.day, a.id).cmp(&(
            &b.key.partner,
            &b.key.metric,
            b.key.day,
            b.id,
        ))
    });
    let material = materiality(plan, &all);
    let mut rows = Vec::with_capacity(all.len());
    for (v, m) in all.iter().zip(&material) {
        let accepted_at = if v.status == Status::Accepted {
            match v.acceptances.last() {
                Some(a) => a.at.to_rfc3339(),
                None => store
                    .variance_events(v.id)
                    .await?
                    .iter()
                    .rev()
                    .find(|e| e.action == "accept")
                    .map(|e| e.at.to_rfc3339())
                    .unwrap_or_default(),
            }
        } else {
            String::new()
        };
        rows.push(row(v, *m, accepted_at));
    }
    Ok(Statement {
        migration: plan.migration.clone(),
        currency: plan.currency.clone(),
        rows,
        remainders: remainders(plan, &all),
        unexplained: all
            .iter()
            .filter(|v| matches!(v.status, Status::Open | Status::Rejected))
            .count(),
        total: all.len(),
    })
}

fn row(v: &Variance, material: bool, accepted_at: String) -> [String; 18] {
    let evidence = v
        .proposed
        .as_ref()
        .and_then(|p| p.evidence.get("sentence").and_then(Value::as_str))
        .unwrap_or_default()
        .to_string();
    let e = v.explanation.as_ref();
    let accepted_by = if v.acceptances.is_empty() {
        v.accepted_by.clone().unwrap_or_default()
    } else {
        v.acceptances
            .iter()
            .map(|a| a.by.clone())
            .collect::<Vec<_>>()
            .join("; ")
    };
    [
        v.id.to_string(),
        v.key.check.clone(),
        v.key.partner.clone(),
        v.key.day.to_string(),
        v.key.metric.clone(),
        v.old.clone().unwrap_or_default(),
        v.new.clone().unwrap_or_default(),
        v.delta.clone(),
        v.money_impact.clone().unwrap_or_default(),
        if material { "yes" } else { "no" }.to_string(),
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
        accepted_by,
        accepted_at,
    ]
}

pub async fn report(url: &str, cmd: ReportCmd) -> Result<u8, Failure> {
    let ReportCmd::Variances { format, out } = cmd;
    let store = open(url).await?;
    let snap = store.load().await?;
    let plan = stored_plan(&snap)?;
    let st = statement(&store, &plan, snap.migration_id).await?;
    let bytes = match format {
        ReportFormat::Csv => csv(&st)?,
        ReportFormat::Md => md(&st).into_bytes(),
    };
    match out {
        Some(path) => std::fs::write(&path, bytes)
            .map_err(|e| Failure::error(format!("error: cannot write {}: {e}", path.display())))?,
        None => {
            use std::io::Write;
            std::io::stdout()
                .write_all(&bytes)
                .map_err(|e| Failure::error(format!("error: cannot write the report: {e}")))?;
        }
    }
    Ok(0)
}

fn csv(st: &Statement) -> Result<Vec<u8>, Failure> {
    let mut w = csv::Writer::from_writer(Vec::new());
    let written = w
        .write_record(HEADER)
        .and_then(|_| st.rows.iter().try_for_each(|r| w.write_record(r)));
    written
        .map_err(|e| e.to_string())
        .and_then(|_| w.into_inner().map_err(|e| e.to_string()))
        .map_err(|e| Failure::error(format!("error: cannot write the CSV: {e}")))
}

fn md(st: &Statement) -> String {
    let cell = |s: &str| s.replace('|', "\\|").replace('\n', " ");
    let mut t = format!(
        "# Variances: {}\n\nMoney in {}. Unexplained (open or rejected): {} of {}.\n\n",
        cell(&st.migration),
        st.currency,
        st.unexplained,
        st.total,
    );
    for r in &st.remainders {
        t.push_str(&format!("- {}\n", cell(&r.line(&st.currency))));
    }
    if !st.remainders.is_empty() {
        t.push('\n');
    }
    t.push_str(&format!(
        "| {} |\n|{}\n",
        HEADER.join(" | "),
        " --- |".repeat(HEADER.len())
    ));
    for r in &st.rows {
        t.push_str(&format!(
            "| {} |\n",
            r.iter().map(|c| cell(c)).collect::<Vec<_>>().join(" | ")
        ));
    }
    t
}
