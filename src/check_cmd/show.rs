//! `cutover check show CHECK [--run N] [--json]`: one stored run of a check (default the
//! latest; `--run N` is the check's N-th run, from 1) with its outcome, reason, the
//! snapshots it read and its findings, as text or as one JSON object.

use clap::Args;
use cutover_store::{NewFinding, SourceSnapshot, Store};
use serde_json::{Map, Value, json};

use crate::{Failure, open, print_json, stored_loaded};

#[derive(Debug, Args)]
pub struct CheckShowArgs {
    /// The check id.
    pub check: String,
    /// The check's N-th recorded run (1 = its first); default its latest.
    #[arg(long)]
    pub run: Option<usize>,
    /// Print one JSON object.
    #[arg(long)]
    pub json: bool,
}

/// Finding codes whose subject is a partner id (the old platform's).
const PARTNER_SUBJECTS: [&str; 5] = [
    "old_differs",
    "new_differs",
    "both_differ",
    "no_period",
    "parent_differs",
];

/// The snapshot ids a run's detail names (`snapshot #12`), in order, each once, with the
/// role written before it (`old SOURCE snapshot #12`) when there is one.
fn snapshot_ids(detail: &str) -> Vec<(i32, Option<String>)> {
    const ROLES: [&str; 7] = [
        "old",
        "new",
        "crosswalk",
        "rates",
        "old_hierarchy",
        "new_hierarchy",
        "crm",
    ];
    let words: Vec<&str> = detail.split_whitespace().collect();
    let mut out: Vec<(i32, Option<String>)> = Vec::new();
    for (i, w) in words.iter().enumerate() {
        if i == 0 || words[i - 1] != "snapshot" {
            continue;
        }
        let digits: String = w
            .strip_prefix('#')
            .unwrap_or("")
            .chars()
            .take_while(char::is_ascii_digit)
            .collect();
        let Ok(id) = digits.parse::<i32>() else {
            continue;
        };
        let role = (i >= 3 && ROLES.contains(&words[i - 3])).then(|| words[i - 3].to_owned());
        match out.iter_mut().find(|(s, _)| *s == id) {
            Some(seen) => {
                if seen.1.is_none() {
                    seen.1 = role;
                }
            }
            None => out.push((id, role)),
        }
    }
    out
}

/// A finding as JSON: `partner`, `day`, `metric` read from its subject where it is a key
/// (`[SIDE:]PARTNER,DAY,METRIC[,link=L][,coupon=C]` or `PARTNER,METRIC`), `status` its
/// code, `old`/`new`/`expected` decimals as text, and the stored subject and detail.
fn finding_json(f: &NewFinding) -> Value {
    let mut o = Map::new();
    let (side, key) = match f.subject.split_once(':') {
        Some((s, rest)) if ["old", "new", "crm"].contains(&s) => (Some(s), rest),
        _ => (None, f.subject.as_str()),
    };
    let parts: Vec<&str> = key.split(',').collect();
    let (mut partner, mut day, mut metric) = (None, None, None);
    if parts.len() >= 3 && parts[1].parse::<chrono::NaiveDate>().is_ok() {
        partner = Some(parts[0]);
        day = Some(parts[1]);
        metric = Some(parts[2]);
        for extra in &parts[3..] {
            if let Some((k, v)) = extra.split_once('=') {
                o.insert(k.to_owned(), json!(v));
            }
        }
    } else if parts.len() == 2 && f.code.ends_with("difference") {
        partner = Some(parts[0]);
        metric = Some(parts[1]);
    } else if PARTNER_SUBJECTS.contains(&f.code.as_str())
        || (f.code == "unmapped_partner" && parts.len() == 1)
    {
        partner = Some(key);
    }
    o.insert("partner".into(), json!(partner));
    o.insert("day".into(), json!(day));
    o.insert("metric".into(), json!(metric));
    o.insert("old".into(), json!(f.old));
    o.insert("new".into(), json!(f.new));
    o.insert("status".into(), json!(f.code));
    if let Some(side) = side {
        o.insert("side".into(), json!(side));
    }
    o.insert("expected".into(), json!(f.expected));
    o.insert("subject".into(), json!(f.subject));
    o.insert("detail".into(), json!(f.detail));
    Value::Object(o)
}

fn snapshot_json(id: i32, role: &Option<String>, s: Option<&SourceSnapshot>) -> Value {
    match s {
        Some(s) => json!({
            "id": id,
            "role": role,
            "source": s.source_id,
            "system": s.system,
            "status": s.status.as_str(),
            "reason": s.reason,
            "window": { "from": s.window_from, "to": s.window_to },
            "rows": s.row_count,
            "payload_sha256": s.payload_sha256,
        }),
        None => json!({ "id": id, "role": role, "missing": true }),
    }
}

pub async fn show(url: &str, args: CheckShowArgs) -> Result<u8, Failure> {
    let store: Store = open(url).await?;
    let snap = store.load().await?;
    let loaded = stored_loaded(&snap)?;
    let plan = &loaded.plan;
    if plan.check(&args.check).is_none() {
        return Err(Failure::usage(format!(
            "error: \"{}\" is not a check of the plan (checks: {})",
            args.check,
            plan.checks
                .iter()
                .map(|c| c.id.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        )));
    }
    let runs = store.runs_of_check(&snap, &args.check).await?;
    if runs.is_empty() {
        return Err(Failure::error(format!(
            "error: {} has no recorded run (run it with `cutover check run {}`, or record a manual outcome with `cutover check record`)",
            args.check, args.check
        )));
    }
    let n = args.run.unwrap_or(runs.len());
    if n == 0 || n > runs.len() {
        return Err(Failure::error(format!(
            "error: {} has no run {n}; it has {} (1..={})",
            args.check,
            runs.len(),
            runs.len()
        )));
    }
    let (row_id, run) = &runs[n - 1];
    let findings = store.run_findings(*row_id).await?;
    let detail = run.detail.clone().unwrap_or_default();
    let mut snapshots = Vec::new();
    for (id, role) in snapshot_ids(&detail) {
        snapshots.push((id, role, store.source_snapshot(id).await?));
    }
    if args.json {
        print_json(&json!({
            "check": args.check,
            "run": n,
            "outcome": run.outcome.to_string(),
            "reason": detail,
            "window": run.window.map(|w| json!({ "from": w.from, "to": w.to })),
            "recorded_at": run.recorded_at,
            "recorded_by": run.recorded_by,
            "snapshots": snapshots
                .iter()
                .map(|(id, role, s)| snapshot_json(*id, role, s.as_ref()))
                .collect::<Vec<_>>(),
            "findings": findings.iter().map(finding_json).collect::<Vec<_>>(),
        }));
        return Ok(0);
    }
    let window = run
        .window
        .map(|w| format!(" for {}..{}", w.from, w.to))
        .unwrap_or_default();
    let by = run
        .recorded_by
        .as_deref()
        .map(|p| format!(" by {p}"))
        .unwrap_or_default();
    println!(
        "{} run {n} of {}: {}{window} (recorded {}{by})",
        args.check,
        runs.len(),
        run.outcome,
        run.recorded_at.format("%Y-%m-%d %H:%M:%S UTC")
    );
    println!("reason: {}", if detail.is_empty() { "-" } else { &detail });
    if !snapshots.is_empty() {
        println!("snapshots:");
        for (id, role, s) in &snapshots {
            let role = role.as_deref().map(|r| format!("{r} ")).unwrap_or_default();
            match s {
                Some(s) => println!(
                    "  #{id} {role}{} ({}, {} rows, {}..{})",
                    s.source_id,
                    s.status.as_str(),
                    s.row_count,
                    s.window_from,
                    s.window_to
                ),
                None => println!("  #{id} {role}(no longer stored)"),
            }
        }
    }
    if findings.is_empty() {
        println!("findings: none");
    } else {
        println!("findings ({}):", findings.len());
        for f in &findings {
            let mut line = format!("  {} {}", f.code, f.subject);
            for (name, v) in [("old", &f.old), ("new", &f.new), ("expected", &f.expected)] {
                if let Some(v) = v {
                    line.push_str(&format!(" {name} {v}"));
                }
            }
            if !f.detail.is_empty() {
                line.push_str(&format!(": {}", f.detail));
            }
            println!("{line}");
        }
    }
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn snapshot_ids_with_roles() {
        let d = "1 of 2 partners disagree; old pay_old snapshot #3 (8 rows), crosswalk xw snapshot #6 (3 rows); pull of \"fx\" failed: x (recorded as failed snapshot #7; no rows)";
        assert_eq!(
            snapshot_ids(d),
            vec![
                (3, Some("old".into())),
                (6, Some("crosswalk".into())),
                (7, None)
            ]
        );
    }

    #[test]
    fn findings_read_their_keys() {
        let f = |code: &str, subject: &str| NewFinding {
            code: code.into(),
            subject: subject.into(),
            old: Some("1".into()),
            new: None,
            expected: None,
            detail: String::new(),
        };
        let v = finding_json(&f("variance", "AFF-1,2026-10-01,ftd_amount,link=b1"));
        assert_eq!(
            (
                &v["partner"],
                &v["day"],
                &v["metric"],
                &v["link"],
                &v["status"]
            ),
            (
                &json!("AFF-1"),
                &json!("2026-10-01"),
                &json!("ftd_amount"),
                &json!("b1"),
                &json!("variance")
            )
        );
        let v = finding_json(&f("unmapped_partner", "new:799,2026-10-01,ftd_count"));
        assert_eq!((&v["partner"], &v["side"]), (&json!("799"), &json!("new")));
        let v = finding_json(&f("old_differs", "AFF-1"));
        assert_eq!((&v["partner"], &v["day"]), (&json!("AFF-1"), &Value::Null));
        let v = finding_json(&f("lowest_difference", "AFF-2,ftd_count"));
        assert_eq!(
            (&v["partner"], &v["metric"]),
            (&json!("AFF-2"), &json!("ftd_count"))
        );
        let v = finding_json(&f("amount_differs", "ftd:c1"));
        assert_eq!(
            (&v["partner"], &v["subject"]),
            (&Value::Null, &json!("ftd:c1"))
        );
    }
}
