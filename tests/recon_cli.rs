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
    let (o, findings) = recon(dir.path(), &old, &new, None, &["--max-malformed", "4"]);
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
    assert!(
        e.contains("skipped 4 malformed rows (--max-malformed 4)"),
        "{e}"
    );
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

/// A verdict on data that was mostly not read is worse than none: beyond
/// `--max-malformed` (default 0) the run stops with exit 2, names the first rows and
/// writes no findings.
#[test]
fn mostly_malformed_input_gives_exit_2_and_no_verdict() {
    let dir = tempfile::tempdir().unwrap();
    let good = "a,2026-01-01,clicks,1,\nb,2026-01-01,clicks,2,\n";
    let mut old = format!("{H}{good}");
    for i in 0..12 {
        old.push_str(&format!(
            "a,2026-01-{:02},clicks,not-a-number-{i},\n",
            i + 2
        ));
    }
    let new = format!("{H}{good}");
    let (o, findings) = recon(dir.path(), &old, &new, None, &[]);
    let e = stderr(&o);
    assert_eq!(o.status.code(), Some(2), "{e}");
    let old_path = dir.path().join("old.csv").display().to_string();
    assert!(
        e.contains(&format!(
            "{old_path}:4: malformed row: bad value \"not-a-number-0\""
        )),
        "{e}"
    );
    assert!(
        e.contains(&format!("{old_path}:13:")),
        "the first ten rows: {e}"
    );
    assert!(
        !e.contains(&format!("{old_path}:14:")),
        "only the first ten: {e}"
    );
    assert!(e.contains("... and 2 more malformed rows"), "{e}");
    assert!(
        e.contains("error: 12 of 16 rows are malformed (old 2, new 2 readable), more than --max-malformed 0 allows; no verdict"),
        "{e}"
    );
    assert!(!e.contains("outcome:"), "no verdict: {e}");
    assert!(findings.is_empty(), "no findings file: {findings}");
    assert!(!dir.path().join("findings.csv").exists());

    // One malformed row too many is still too many; with rows to spare the run goes on.
    let (o, _) = recon(dir.path(), &old, &new, None, &["--max-malformed", "11"]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    let (o, findings) = recon(dir.path(), &old, &new, None, &["--max-malformed", "12"]);
    let e = stderr(&o);
    assert_eq!(o.status.code(), Some(0), "{e}");
    assert!(e.contains("outcome: warn"), "{e}");
    assert!(
        e.contains("skipped 12 malformed rows (--max-malformed 12)"),
        "{e}"
    );
    assert_eq!(
        findings,
        "partner_id,day,metric,old_value,new_value,status\n"
    );
}

/// A tiny deterministic generator (no dependency): xorshift64*.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

type Key = (String, String, String);

/// The reference rule, written out plainly: sum each side per (partner, day, metric),
/// remembering its currencies; a key on one side only is only_old / only_new; sides (or
/// rows of one side) in different currencies are a currency_mismatch; else equal values
/// match, |new - old| <= max(abs, rel * |old|) is within_tolerance, more a variance.
fn reference_statuses(
    old: &str,
    new: &str,
    abs: rust_decimal::Decimal,
    rel: rust_decimal::Decimal,
) -> std::collections::BTreeMap<Key, &'static str> {
    use rust_decimal::Decimal;
    use std::collections::{BTreeMap, BTreeSet};
    type Sums = BTreeMap<Key, (Decimal, BTreeSet<String>)>;
    let sums = |text: &str| -> Sums {
        let mut m = Sums::new();
        for line in text.lines().skip(1) {
            let f: Vec<&str> = line.split(',').collect();
            let e = m
                .entry((f[0].into(), f[1].into(), f[2].into()))
                .or_default();
            e.0 += f[3].parse::<Decimal>().unwrap();
            e.1.insert(f[4].into());
        }
        m
    };
    let (o, n) = (sums(old), sums(new));
    let keys: BTreeSet<&Key> = o.keys().chain(n.keys()).collect();
    let mut out = BTreeMap::new();
    for k in keys {
        let s = match (o.get(k), n.get(k)) {
            (Some(_), None) => "only_old",
            (None, Some(_)) => "only_new",
            (Some((ov, oc)), Some((nv, nc))) => {
                if oc.len() > 1 || nc.len() > 1 || oc != nc {
                    "currency_mismatch"
                } else if ov == nv {
                    "match"
                } else if (nv - ov).abs() <= abs.max(rel * ov.abs()) {
                    "within_tolerance"
                } else {
                    "variance"
                }
            }
            (None, None) => unreachable!(),
        };
        out.insert(k.clone(), s);
    }
    out
}

/// Exports whose metrics are called whatever the platform calls them (`clicks`, `ftd`,
/// `Deposits`, `bonus_cost`...) give exactly the statuses of the reference rule.
#[test]
fn free_metric_names_give_the_reference_statuses() {
    let dir = tempfile::tempdir().unwrap();
    let metrics = [
        "clicks",
        "ftd",
        "Deposits",
        "bonus_cost",
        "impressions_total",
    ];
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let (mut old, mut new) = (H.to_owned(), H.to_owned());
    for p in 0..15 {
        for d in 1..=4 {
            for m in metrics {
                let money = m == "Deposits" || m == "bonus_cost";
                let cur = if money { "EUR" } else { "" };
                let cents = rng.below(1_000_000) as i64;
                let v = rust_decimal::Decimal::new(cents, 2);
                let key = format!("p{p},2026-02-{d:02},{m}");
                let roll = rng.below(20);
                if roll != 0 {
                    old.push_str(&format!("{key},{v},{cur}\n"));
                }
                let nv = match rng.below(6) {
                    0 => v + rust_decimal::Decimal::new(rng.below(80) as i64, 2),
                    1 => v + rust_decimal::Decimal::new(rng.below(100_000) as i64 + 1, 2),
                    _ => v,
                };
                let ncur = if money && rng.below(15) == 0 {
                    "USD"
                } else {
                    cur
                };
                match roll {
                    1 => {}
                    // A key split over two rows of the new export: summed.
                    2 => {
                        let half = rust_decimal::Decimal::new(cents / 2, 2);
                        new.push_str(&format!("{key},{half},{ncur}\n"));
                        new.push_str(&format!("{key},{},{ncur}\n", nv - half));
                    }
                    _ => new.push_str(&format!("{key},{nv},{ncur}\n")),
                }
            }
        }
    }
    let (o, findings) = recon(
        dir.path(),
        &old,
        &new,
        None,
        &["--abs", "1", "--rel", "0.01"],
    );
    let e = stderr(&o);
    assert!(matches!(o.status.code(), Some(0 | 3)), "{e}");
    assert!(e.contains("malformed 0"), "every free name is read: {e}");
    let expected = reference_statuses(&old, &new, 1.into(), rust_decimal::Decimal::new(1, 2));
    let expected: Vec<(Key, &str)> = expected
        .into_iter()
        .filter(|(_, s)| *s != "match")
        .collect();
    let mut got: Vec<(Key, &str)> = findings
        .lines()
        .skip(1)
        .map(|l| {
            let f: Vec<&str> = l.split(',').collect();
            ((f[0].into(), f[1].into(), f[2].into()), f[5])
        })
        .collect();
    got.sort();
    assert!(
        expected.len() > 50,
        "the data has differences of every kind"
    );
    for s in [
        "within_tolerance",
        "variance",
        "only_old",
        "only_new",
        "currency_mismatch",
    ] {
        assert!(expected.iter().any(|(_, x)| *x == s), "no {s} in the data");
    }
    assert_eq!(got, expected);
}
