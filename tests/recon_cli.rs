//! `cutover recon` through the real binary: findings file, stderr summary, exit codes,
//! malformed rows, duplicates, zero rows and a crosswalk.

use std::path::Path;
use std::process::{Command, Output};

const H: &str = "partner_id,day,metric,value,currency\n";

fn recon(
    dir: &Path,
    old: &str,
    new: &str,
    xwalk: Option<&str>,
    extra: &[&str],
) -> (Output, String) {
    std::fs::write(dir.join("old.csv"), old).unwrap();
    std::fs::write(dir.join("new.csv"), new).unwrap();
    let out = dir.join("findings.csv");
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_cutover"));
    cmd.arg("recon")
        .arg("--old")
        .arg(dir.join("old.csv"))
        .arg("--new")
        .arg(dir.join("new.csv"))
        .arg("--out")
        .arg(&out)
        .args(extra);
    if let Some(x) = xwalk {
        std::fs::write(dir.join("map.csv"), x).unwrap();
        cmd.arg("--crosswalk").arg(dir.join("map.csv"));
    }
    let output = cmd.output().unwrap();
    let findings = std::fs::read_to_string(&out).unwrap_or_default();
    (output, findings)
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[test]
fn statuses_tolerance_and_crosswalk() {
    let dir = tempfile::tempdir().unwrap();
    let old = format!(
        "{H}aff-1,2026-01-01,clicks_gross,100,\naff-1,2026-01-01,ftd_amount,1000.00,EUR\naff-2,2026-01-01,registrations,5,\naff-3,2026-01-01,ftd_count,2,\n"
    );
    let new = format!(
        "{H}N1,2026-01-01,clicks_gross,101,\nN1,2026-01-01,ftd_amount,1010.00,EUR\nN2,2026-01-01,registrations,9,\nN4,2026-01-01,ftd_count,1,\n"
    );
    let map = "old_partner_id,new_partner_id\naff-1,N1\naff-2,N2\naff-4,N4\n";
    let (o, findings) = recon(
        dir.path(),
        &old,
        &new,
        Some(map),
        &["--abs", "1", "--rel", "0.01"],
    );
    assert_eq!(o.status.code(), Some(3), "{}", stderr(&o));
    let mut lines: Vec<&str> = findings.lines().collect();
    assert_eq!(
        lines.remove(0),
        "partner_id,day,metric,old_value,new_value,status"
    );
    lines.sort();
    assert_eq!(
        lines,
        [
            "aff-1,2026-01-01,clicks_gross,100,101,within_tolerance",
            "aff-1,2026-01-01,ftd_amount,1000,1010,within_tolerance",
            "aff-2,2026-01-01,registrations,5,9,variance",
            "aff-3,2026-01-01,ftd_count,2,,only_old",
            "aff-4,2026-01-01,ftd_count,,1,only_new",
        ]
    );
    let e = stderr(&o);
    assert!(
        e.contains("match 0 within_tolerance 2 variance 1 only_old 1 only_new 1"),
        "{e}"
    );
    assert!(e.contains("rows/s, peak memory"), "{e}");
    assert!(e.contains("outcome: fail"), "{e}");
}

#[test]
fn exact_match_passes_with_empty_findings() {
    let dir = tempfile::tempdir().unwrap();
    let rows = format!("{H}a,2026-01-01,clicks_gross,1,\n");
    let (o, findings) = recon(dir.path(), &rows, &rows, None, &[]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(
        findings,
        "partner_id,day,metric,old_value,new_value,status\n"
    );
    assert!(stderr(&o).contains("outcome: pass"));
}

#[test]
fn malformed_rows_are_reported_and_never_match() {
    let dir = tempfile::tempdir().unwrap();
    let old = format!(
        "{H}a,2026-01-01,clicks_gross,1,\na,2026-01-02,clicks_gross,x,\na,2026-13-01,clicks_gross,1,\na,2026-01-03,,1,\n"
    );
    let new = format!("{H}a,2026-01-01,clicks_gross,1,\na,2026-01-02,clicks_gross,5,\nb\n");
    let (o, findings) = recon(dir.path(), &old, &new, None, &[]);
    let e = stderr(&o);
    let old_path = dir.path().join("old.csv");
    let new_path = dir.path().join("new.csv");
    assert!(
        e.contains(&format!(
            "{}:3: malformed row: bad value \"x\"",
            old_path.display()
        )),
        "{e}"
    );
    assert!(
        e.contains(&format!(
            "{}:4: malformed row: bad day \"2026-13-01\"",
            old_path.display()
        )),
        "{e}"
    );
    assert!(
        e.contains(&format!(
            "{}:5: malformed row: a metric name must not be empty",
            old_path.display()
        )),
        "{e}"
    );
    assert!(
        e.contains(&format!(
            "{}:4: malformed row: expected 5 fields, found 1",
            new_path.display()
        )),
        "{e}"
    );
    assert!(e.contains("malformed 4"), "{e}");
    // The bad old row is missing from the comparison, so its key is one-sided.
    assert!(
        findings.contains("a,2026-01-02,clicks_gross,,5,only_new"),
        "{findings}"
    );
    assert_eq!(o.status.code(), Some(3));
}

#[test]
fn duplicates_are_reported() {
    let dir = tempfile::tempdir().unwrap();
    let old = format!("{H}a,2026-01-01,clicks_gross,1,\na,2026-01-01,clicks_gross,2,\n");
    let new = format!("{H}a,2026-01-01,clicks_gross,3,\n");
    let (o, _) = recon(dir.path(), &old, &new, None, &[]);
    let e = stderr(&o);
    assert!(
        e.contains("duplicate key a,2026-01-01,clicks_gross (2 rows, summed)"),
        "{e}"
    );
    assert!(e.contains("outcome: warn"), "{e}");
    assert_eq!(o.status.code(), Some(0));
}

#[test]
fn zero_rows_is_inconclusive() {
    let dir = tempfile::tempdir().unwrap();
    let (o, _) = recon(
        dir.path(),
        H,
        &format!("{H}a,2026-01-01,clicks_gross,1,\n"),
        None,
        &[],
    );
    let e = stderr(&o);
    assert!(
        e.contains("outcome: inconclusive (the old source has no readable rows)"),
        "{e}"
    );
    assert_eq!(o.status.code(), Some(4));
}

#[test]
fn bad_header_and_bad_crosswalk_are_usage_errors() {
    let dir = tempfile::tempdir().unwrap();
    let (o, _) = recon(dir.path(), "a,b,c\n", H, None, &[]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("old.csv:1: expected the header"),
        "{}",
        stderr(&o)
    );
    let split = "old_partner_id,new_partner_id\nA,n\nB,n\n";
    let (o, _) = recon(dir.path(), H, H, Some(split), &[]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("map.csv:3: new partner \"n\" is already mapped to \"A\""),
        "{}",
        stderr(&o)
    );
    let (o, _) = recon(dir.path(), H, H, None, &["--rel", "-0.1"]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
}

#[test]
fn gen_recon_writes_reconcilable_files() {
    let dir = tempfile::tempdir().unwrap();
    let o = Command::new(env!("CARGO_BIN_EXE_cutover"))
        .args(["gen-recon", "--rows", "2000", "--partners", "10", "--dir"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    let out = dir.path().join("f.csv");
    let o = Command::new(env!("CARGO_BIN_EXE_cutover"))
        .arg("recon")
        .arg("--old")
        .arg(dir.path().join("old.csv"))
        .arg("--new")
        .arg(dir.path().join("new.csv"))
        .arg("--crosswalk")
        .arg(dir.path().join("crosswalk.csv"))
        .arg("--out")
        .arg(&out)
        .output()
        .unwrap();
    let e = stderr(&o);
    assert!(e.contains("rows: old 2000"), "{e}");
    assert!(e.contains("unmapped 0"), "{e}");
}

/// Regression: `recon` treated 100 EUR and 100 USD as a match and summed duplicate keys
/// across currencies.
#[test]
fn currency_mismatch_in_recon_cli() {
    let dir = tempfile::tempdir().unwrap();
    let old = format!(
        "{H}a,2026-01-01,ftd_amount,100,EUR\na,2026-01-02,ftd_amount,60,EUR\na,2026-01-02,ftd_amount,40,USD\na,2026-01-01,clicks_gross,7,\n"
    );
    let new = format!(
        "{H}a,2026-01-01,ftd_amount,100,USD\na,2026-01-02,ftd_amount,100,EUR\na,2026-01-01,clicks_gross,7,\n"
    );
    let (o, findings) = recon(dir.path(), &old, &new, None, &["--abs", "0"]);
    assert_eq!(o.status.code(), Some(3), "{}", stderr(&o));
    let mut lines: Vec<&str> = findings.lines().collect();
    lines[1..].sort();
    assert_eq!(
        lines,
        [
            "partner_id,day,metric,old_value,new_value,status",
            "a,2026-01-01,ftd_amount,100,100,currency_mismatch",
            "a,2026-01-02,ftd_amount,,100,currency_mismatch",
        ]
    );
    let e = stderr(&o);
    for line in [
        "currency mismatch a,2026-01-01,ftd_amount: old EUR, new USD",
        "currency mismatch a,2026-01-02,ftd_amount: old EUR and USD, new EUR",
        "duplicate key a,2026-01-02,ftd_amount (2 rows, summed)",
        "match 1 within_tolerance 0 variance 0 only_old 0 only_new 0 currency_mismatch 2",
        "outcome: fail (0 variance, 0 only_old, 0 only_new, 2 currency_mismatch)",
    ] {
        assert!(e.contains(line), "{line}\n{e}");
    }
}

/// Regression: summing duplicate keys overflowed `Decimal` silently (it saturated); now
/// it is an unreadable input (exit 2) naming the file, the rows and the key, and the
/// findings file is left as it was.
#[test]
fn overflow_in_sums_in_recon_cli() {
    let dir = tempfile::tempdir().unwrap();
    let max = "79228162514264337593543950335";
    std::fs::write(dir.path().join("findings.csv"), "earlier findings\n").unwrap();
    let old = format!("{H}a,2026-01-01,ftd_amount,{max},EUR\na,2026-01-01,ftd_amount,0.5,EUR\n");
    let new = format!("{H}a,2026-01-01,ftd_amount,1,EUR\n");
    let (o, findings) = recon(dir.path(), &old, &new, None, &[]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert_eq!(
        stderr(&o),
        format!(
            "error: {}:2: the rows of a,2026-01-01,ftd_amount EUR sum beyond the decimal range\n",
            dir.path().join("old.csv").display()
        )
    );
    assert_eq!(findings, "earlier findings\n");
    let names: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains("tmp"))
        .collect();
    assert!(names.is_empty(), "{names:?}");
}
