//! `record_sync`: ids present in the new platform vs a third system (CRM / back office):
//! missing on either side, and field values that differ.

use std::collections::BTreeMap;

use cutover_plan::Outcome;

use crate::check::{CheckResult, Finding, Thresholds};

/// One record (partner, player...) as a system holds it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Record {
    pub id: String,
    pub fields: BTreeMap<String, String>,
}

/// Settings of the `record_sync` check.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RecordSyncConfig {
    /// Fields compared (none: ids only).
    pub fields: Vec<String>,
    /// Compare field values ignoring case and surrounding spaces.
    pub normalize: bool,
    pub thresholds: Thresholds,
}

pub fn record_sync(new: &[Record], crm: &[Record], cfg: &RecordSyncConfig) -> CheckResult {
    if new.is_empty() || crm.is_empty() {
        return CheckResult::inconclusive("a system has no records");
    }
    let n: BTreeMap<&str, &Record> = new.iter().map(|r| (r.id.as_str(), r)).collect();
    let c: BTreeMap<&str, &Record> = crm.iter().map(|r| (r.id.as_str(), r)).collect();
    let norm = |s: &str| {
        if cfg.normalize {
            s.trim().to_lowercase()
        } else {
            s.to_owned()
        }
    };
    let mut findings = Vec::new();
    for (id, r) in &n {
        let Some(cr) = c.get(id) else {
            findings.push(Finding::new(
                "missing_in_crm",
                *id,
                "in the new platform, not in the CRM",
            ));
            continue;
        };
        for f in &cfg.fields {
            let (a, b) = (r.fields.get(f), cr.fields.get(f));
            if a.map(|s| norm(s)) != b.map(|s| norm(s)) {
                findings.push(Finding::new(
                    "field_mismatch",
                    format!("{id}.{f}"),
                    format!(
                        "new {:?}, crm {:?}",
                        a.map(String::as_str).unwrap_or(""),
                        b.map(String::as_str).unwrap_or("")
                    ),
                ));
            }
        }
    }
    for id in c.keys() {
        if !n.contains_key(id) {
            findings.push(Finding::new(
                "missing_in_new",
                *id,
                "in the CRM, not in the new platform",
            ));
        }
    }
    let outcome = cfg.thresholds.judge(findings.len() as u64);
    let reason = format!(
        "{} records; {} missing in CRM, {} missing in new, {} field mismatches",
        n.len(),
        findings
            .iter()
            .filter(|f| f.code == "missing_in_crm")
            .count(),
        findings
            .iter()
            .filter(|f| f.code == "missing_in_new")
            .count(),
        findings
            .iter()
            .filter(|f| f.code == "field_mismatch")
            .count()
    );
    let _ = Outcome::Pass;
    CheckResult::new(outcome, reason, findings)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(id: &str, email: &str) -> Record {
        Record {
            id: id.into(),
            fields: [("email".to_owned(), email.to_owned())]
                .into_iter()
                .collect(),
        }
    }

    #[test]
    fn missing_and_mismatched() {
        let cfg = RecordSyncConfig {
            fields: vec!["email".into()],
            normalize: true,
            thresholds: Thresholds::STRICT,
        };
        let new = [rec("1", "a@x.io"), rec("2", "b@x.io"), rec("3", "c@x.io")];
        let crm = [
            rec("1", " A@X.io "),
            rec("2", "bb@x.io"),
            rec("4", "d@x.io"),
        ];
        let r = record_sync(&new, &crm, &cfg);
        assert_eq!(r.outcome, Outcome::Fail);
        assert_eq!(
            (
                r.count("missing_in_crm"),
                r.count("missing_in_new"),
                r.count("field_mismatch")
            ),
            (1, 1, 1)
        );
        let r = record_sync(&new, &new, &cfg);
        assert_eq!(r.outcome, Outcome::Pass);
        assert_eq!(record_sync(&[], &crm, &cfg).outcome, Outcome::Inconclusive);
    }
}
