//! `cutover report variances --format csv|md|xlsx|html [--out FILE]`: the variance
//! statement finance files. One row per variance, sorted by partner, metric and day: old,
//! new, delta, money impact, material or not, status, the classifier's proposal, the cause
//! given, its evidence, who explained and accepted it and when; then the unexplained
//! remainder per metric (observed − explained).
//!
//! XLSX is written with `rust_xlsxwriter`: a `Variances` sheet with a bold, frozen header
//! row, sized columns and the decimals as numbers (money `#,##0.00`), and a `Remainder`
//! sheet. HTML is one self-contained page (inline style, no script, nothing fetched) with
//! every text escaped.

use clap::Subcommand;
use cutover_plan::Plan;
use cutover_recon::register::Status;
use cutover_store::Variance;
use rust_decimal::Decimal;
use rust_xlsxwriter::{Format, Workbook, XlsxError};
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
    Xlsx,
    Html,
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

/// Columns holding decimals (written as numbers where the format has numbers): old, new,
/// delta, money_impact.
pub const NUMERIC: [usize; 4] = [5, 6, 7, 8];

/// The money_impact column.
const MONEY_IMPACT: usize = 8;

/// The statement: rows as text, plus what heads it.
pub struct Statement {
    pub migration: String,
    pub currency: String,
    pub rows: Vec<[String; 18]>,
    /// Per row: whether its metric is money.
    pub money: Vec<bool>,
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
        money: all
            .iter()
            .map(|v| plan.vocabulary().is_money(&v.key.metric))
            .collect(),
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
    if format == ReportFormat::Xlsx && out.is_none() {
        return Err(Failure::usage(
            "error: --format xlsx writes a binary file; give --out FILE",
        ));
    }
    let bytes = match format {
        ReportFormat::Csv => csv(&st)?,
        ReportFormat::Md => md(&st).into_bytes(),
        ReportFormat::Html => html(&st).into_bytes(),
        ReportFormat::Xlsx => {
            xlsx(&st).map_err(|e| Failure::error(format!("error: cannot write the XLSX: {e}")))?
        }
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

/// The statement as an XLSX workbook.
pub fn xlsx(st: &Statement) -> Result<Vec<u8>, XlsxError> {
    let mut wb = Workbook::new();
    let header = Format::new().set_bold();
    let money = Format::new().set_num_format("#,##0.00");
    let count = Format::new().set_num_format("#,##0.######");
    let ws = wb.add_worksheet();
    ws.set_name("Variances")?;
    let mut widths: Vec<usize> = HEADER.iter().map(|h| h.len()).collect();
    for (c, h) in HEADER.iter().enumerate() {
        ws.write_string_with_format(0, c as u16, *h, &header)?;
    }
    for (i, (r, is_money)) in st.rows.iter().zip(&st.money).enumerate() {
        let row = (i + 1) as u32;
        for (c, text) in r.iter().enumerate() {
            widths[c] = widths[c].max(text.chars().count());
            let number = NUMERIC
                .contains(&c)
                .then(|| text.parse::<Decimal>().ok())
                .flatten();
            match number {
                Some(d) => {
                    let f = if *is_money || c == MONEY_IMPACT {
                        &money
                    } else {
                        &count
                    };
                    ws.write_with_format(row, c as u16, d, f)?;
                }
                None if text.is_empty() => {}
                None => {
                    ws.write_string(row, c as u16, text)?;
                }
            }
        }
    }
    for (c, w) in widths.iter().enumerate() {
        ws.set_column_width(c as u16, (*w).clamp(6, 60) as f64 + 2.0)?;
    }
    ws.set_freeze_panes(1, 0)?;

    let ws = wb.add_worksheet();
    ws.set_name("Remainder")?;
    let head = [
        "metric",
        "unit",
        "variances",
        "observed",
        "explained",
        "unexplained",
    ];
    for (c, h) in head.iter().enumerate() {
        ws.write_string_with_format(0, c as u16, *h, &header)?;
    }
    for (i, r) in st.remainders.iter().enumerate() {
        let row = (i + 1) as u32;
        let f = if r.money { &money } else { &count };
        ws.write_string(row, 0, &r.metric)?;
        ws.write_string(
            row,
            1,
            if r.money {
                st.currency.as_str()
            } else {
                "count"
            },
        )?;
        ws.write_number(row, 2, r.variances as f64)?;
        ws.write_with_format(row, 3, r.observed, f)?;
        ws.write_with_format(row, 4, r.explained, f)?;
        ws.write_with_format(row, 5, r.unexplained(), f)?;
    }
    for (c, w) in [24, 8, 10, 14, 14, 14].iter().enumerate() {
        ws.set_column_width(c as u16, *w)?;
    }
    ws.set_freeze_panes(1, 0)?;
    wb.save_to_buffer()
}

/// Text made safe for HTML element content and attribute values.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for ch in s.chars() {
        match ch {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// The statement as one self-contained HTML page.
pub fn html(st: &Statement) -> String {
    let mut t = String::new();
    t.push_str("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n");
    t.push_str(&format!(
        "<title>Variances: {}</title>\n",
        escape(&st.migration)
    ));
    t.push_str(
        "<style>\nbody{font-family:sans-serif;margin:2em}\ntable{border-collapse:collapse;font-size:0.9em}\nth,td{border:1px solid #bbb;padding:0.25em 0.5em;vertical-align:top}\nth{background:#eee;position:sticky;top:0}\ntd.num{text-align:right;font-variant-numeric:tabular-nums}\ntr.open td,tr.rejected td{background:#fff3f0}\n</style>\n</head>\n<body>\n",
    );
    t.push_str(&format!(
        "<h1>Variances: {}</h1>\n<p>Money in {}. Unexplained (open or rejected): {} of {}.</p>\n",
        escape(&st.migration),
        escape(&st.currency),
        st.unexplained,
        st.total
    ));
    if !st.remainders.is_empty() {
        t.push_str("<ul class=\"remainder\">\n");
        for r in &st.remainders {
            t.push_str(&format!("<li>{}</li>\n", escape(&r.line(&st.currency))));
        }
        t.push_str("</ul>\n");
    }
    t.push_str("<table>\n<thead><tr>");
    for h in HEADER {
        t.push_str(&format!("<th>{}</th>", escape(h)));
    }
    t.push_str("</tr></thead>\n<tbody>\n");
    for r in &st.rows {
        t.push_str(&format!("<tr class=\"{}\">", escape(&r[10])));
        for (c, cell) in r.iter().enumerate() {
            if NUMERIC.contains(&c) {
                t.push_str(&format!("<td class=\"num\">{}</td>", escape(cell)));
            } else {
                t.push_str(&format!("<td>{}</td>", escape(cell)));
            }
        }
        t.push_str("</tr>\n");
    }
    t.push_str("</tbody>\n</table>\n</body>\n</html>\n");
    t
}
