//! Tests of the CSV reconcile: hand-made cases and a property test against a naive
//! reference implementation (BTreeMap of decimals).

use std::collections::BTreeMap;
use std::str::FromStr;

use proptest::prelude::*;
use rust_decimal::Decimal;

use super::*;

fn d(s: &str) -> Decimal {
    Decimal::from_str(s).unwrap()
}

fn run(old: &str, new: &str, xwalk: Option<&str>, abs: &str, rel: &str) -> (Summary, String) {
    let (s, out) = try_run(old, new, xwalk, abs, rel);
    (s.unwrap(), out)
}

fn try_run(
    old: &str,
    new: &str,
    xwalk: Option<&str>,
    abs: &str,
    rel: &str,
) -> (Result<Summary, ReconError>, String) {
    let x = xwalk.map(|x| Crosswalk::parse("map.csv", x.as_bytes()).unwrap());
    let mut out = Vec::new();
    let s = reconcile_csv(
        Input {
            name: "old.csv".into(),
            reader: old.as_bytes(),
        },
        Input {
            name: "new.csv".into(),
            reader: new.as_bytes(),
        },
        x.as_ref(),
        Tolerance {
            abs: d(abs),
            rel: d(rel),
        },
        &mut out,
    );
    (s, String::from_utf8(out).unwrap())
}

const H: &str = "partner_id,day,metric,value,currency\n";

#[test]
fn statuses_and_output() {
    let old = format!(
        "{H}p1,2026-01-01,clicks_gross,100,\np1,2026-01-01,ftd_amount,50.00,EUR\np2,2026-01-02,registrations,3,\np3,2026-01-01,clicks_gross,7,\n"
    );
    let new = format!(
        "{H}p1,2026-01-01,clicks_gross,101,\np1,2026-01-01,ftd_amount,50,EUR\np2,2026-01-02,registrations,10,\np4,2026-01-01,clicks_gross,1,\n"
    );
    let (s, out) = run(&old, &new, None, "1", "0.01");
    let mut lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.remove(0), OUTPUT_HEADER);
    lines.sort();
    assert_eq!(
        lines,
        vec![
            "p1,2026-01-01,clicks_gross,100,101,within_tolerance",
            "p2,2026-01-02,registrations,3,10,variance",
            "p3,2026-01-01,clicks_gross,7,,only_old",
            "p4,2026-01-01,clicks_gross,,1,only_new",
        ]
    );
    assert_eq!(
        (
            s.matched,
            s.within_tolerance,
            s.variance,
            s.only_old,
            s.only_new
        ),
        (1, 1, 1, 1, 1)
    );
    assert_eq!(s.outcome().0, Outcome::Fail);
}

#[test]
fn relative_tolerance_scales_with_old() {
    let old = format!("{H}p,2026-01-01,net_revenue,1000,EUR\n");
    let new = format!("{H}p,2026-01-01,net_revenue,1010,EUR\n");
    let (s, _) = run(&old, &new, None, "1", "0.01");
    assert_eq!(s.within_tolerance, 1);
    let new = format!("{H}p,2026-01-01,net_revenue,1010.01,EUR\n");
    let (s, _) = run(&old, &new, None, "1", "0.01");
    assert_eq!(s.variance, 1);
}

#[test]
fn malformed_rows_are_reported_with_line_and_never_match() {
    let old = format!(
        "{H}p,2026-01-01,clicks_gross,10,\np,2026-02-30,clicks_gross,1,\np,2026-01-02,,1,\np,2026-01-03,clicks_gross,ten,\np,2026-01-04,clicks_gross\n"
    );
    let new = format!("{H}p,2026-01-01,clicks_gross,10,\np,2026-01-03,clicks_gross,10,\n");
    let (s, out) = run(&old, &new, None, "0", "0");
    assert_eq!(s.malformed, 4);
    let lines: Vec<u64> = s.malformed_samples.iter().map(|m| m.line).collect();
    assert_eq!(lines, vec![3, 4, 5, 6]);
    assert_eq!(
        s.malformed_samples[1].reason,
        "a metric name must not be empty"
    );
    assert_eq!(s.malformed_samples[0].file, "old.csv");
    assert!(out.contains("p,2026-01-03,clicks_gross,,10,only_new"));
    assert_eq!(s.matched, 1);
}

#[test]
fn duplicates_are_summed_and_reported() {
    let old = format!("{H}p,2026-01-01,clicks_gross,10,\np,2026-01-01,clicks_gross,5,\n");
    let new = format!("{H}p,2026-01-01,clicks_gross,15,\n");
    let (s, out) = run(&old, &new, None, "0", "0");
    assert_eq!(s.duplicates, 1);
    assert_eq!(s.duplicate_samples[0].rows, 2);
    assert_eq!(s.duplicate_samples[0].file, "old.csv");
    assert_eq!(s.matched, 1);
    assert_eq!(out.lines().count(), 1);
    assert_eq!(s.outcome().0, Outcome::Warn);
}

#[test]
fn zero_rows_is_inconclusive() {
    let (s, _) = run(
        H,
        &format!("{H}p,2026-01-01,clicks_gross,1,\n"),
        None,
        "0",
        "0",
    );
    assert_eq!(s.outcome().0, Outcome::Inconclusive);
    assert_eq!(s.only_new, 1);
}

#[test]
fn crosswalk_maps_new_ids_and_merges() {
    let old = format!("{H}A,2026-01-01,clicks_gross,10,\nB,2026-01-01,clicks_gross,4,\n");
    let new = format!(
        "{H}n-a,2026-01-01,clicks_gross,10,\nn-b1,2026-01-01,clicks_gross,1,\nn-b2,2026-01-01,clicks_gross,3,\nzz,2026-01-01,clicks_gross,1,\n"
    );
    let x = "old_partner_id,new_partner_id\nA,n-a\nB,n-b1\nB,n-b2\n";
    let (s, out) = run(&old, &new, Some(x), "0", "0");
    assert_eq!(s.matched, 2, "{out}");
    assert_eq!(s.duplicates, 0);
    assert_eq!(s.unmapped, 1);
    assert!(out.contains("zz,2026-01-01,clicks_gross,,1,only_new"));
}

#[test]
fn crosswalk_split_is_an_error_with_line() {
    let e = Crosswalk::parse("m.csv", b"old_partner_id,new_partner_id\nA,n\nB,n\n").unwrap_err();
    assert_eq!(e.to_string().split(": ").next(), Some("m.csv:3"));
}

#[test]
fn bad_header_is_an_error() {
    let mut out = Vec::new();
    let e = reconcile_csv(
        Input {
            name: "o".into(),
            reader: &b"a,b\n"[..],
        },
        Input {
            name: "n".into(),
            reader: H.as_bytes(),
        },
        None,
        Tolerance::default(),
        &mut out,
    )
    .unwrap_err();
    assert!(matches!(e, ReconError::Header { .. }));
}

#[test]
fn exotic_values_use_decimals() {
    let old = format!(
        "{H}p,2026-01-01,ftd_amount,1.000001,EUR\np,2026-01-02,ftd_amount,123456789012345678,EUR\n"
    );
    let new = format!(
        "{H}p,2026-01-01,ftd_amount,1.000001,EUR\np,2026-01-02,ftd_amount,123456789012345679,EUR\n"
    );
    let (s, out) = run(&old, &new, None, "0", "0");
    assert_eq!(s.matched, 1);
    assert!(
        out.contains("123456789012345678,123456789012345679,variance"),
        "{out}"
    );
}

#[test]
fn duplicates_mixing_exact_and_exotic_values() {
    let old = format!("{H}p,2026-01-01,ftd_amount,1.001,EUR\np,2026-01-01,ftd_amount,2,EUR\n");
    let new = format!("{H}n,2026-01-01,ftd_amount,2,EUR\nn,2026-01-01,ftd_amount,1.001,EUR\n");
    let x = "old_partner_id,new_partner_id\np,n\n";
    let (s, out) = run(&old, &new, Some(x), "0", "0");
    assert_eq!((s.duplicates, s.matched), (2, 1), "{out}");
    let new = format!("{H}n,2026-01-01,ftd_amount,2.002,EUR\nn,2026-01-01,ftd_amount,1,EUR\n");
    let (s, out) = run(&old, &new, Some(x), "0", "0");
    assert!(
        out.contains("p,2026-01-01,ftd_amount,3.001,3.002,variance"),
        "{out}"
    );
    assert_eq!(s.duplicates, 2);
}

#[test]
fn extreme_values_do_not_panic() {
    let max = "79228162514264337593543950335";
    let old = format!(
        "{H}p,2026-01-01,ftd_amount,{max},EUR\np,2026-01-02,ftd_amount,-{max},EUR\np,2026-01-03,ftd_amount,1e400,EUR\n"
    );
    let new = format!("{H}p,2026-01-01,ftd_amount,1,EUR\np,2026-01-02,ftd_amount,{max},EUR\n");
    let (s, out) = run(&old, &new, None, max, "1");
    // 01-02: the difference is beyond the range, the allowance is not: a variance.
    assert!(
        out.contains(&format!("p,2026-01-02,ftd_amount,-{max},{max},variance")),
        "{out}"
    );
    assert!(
        out.contains(&format!("p,2026-01-01,ftd_amount,{max},1,within_tolerance")),
        "{out}"
    );
    assert_eq!(s.malformed, 1);
}

const MAX: &str = "79228162514264337593543950335";

/// Regression: summing duplicate keys saturated silently at `Decimal::MAX`; now it is an
/// error naming the file, the rows and the key.
#[test]
fn overflow_in_sums_of_duplicates_is_an_error_with_rows() {
    // Two values beyond the fixed-point form: caught while reading, with both lines.
    let old = format!(
        "{H}q,2026-01-01,clicks_gross,1,\np,2026-01-01,ftd_amount,{MAX},EUR\np,2026-01-01,ftd_amount,{MAX},EUR\n"
    );
    let new = format!("{H}p,2026-01-01,ftd_amount,1,EUR\n");
    let (e, out) = try_run(&old, &new, None, "0", "0");
    assert_eq!(
        e.unwrap_err().to_string(),
        format!(
            "old.csv:4: value {MAX} of p,2026-01-01,ftd_amount EUR takes the sum of the key (rows from line 3) beyond the decimal range"
        )
    );
    assert_eq!(out, "", "nothing is written");
    // A large value and a small one (fixed-point): caught while comparing.
    let old = format!("{H}p,2026-01-01,ftd_amount,1,EUR\np,2026-01-01,ftd_amount,{MAX},EUR\n");
    let (e, _) = try_run(&old, &new, None, "0", "0");
    assert_eq!(
        e.unwrap_err().to_string(),
        "old.csv:3: the rows of p,2026-01-01,ftd_amount EUR sum beyond the decimal range"
    );
    // Two new ids merged into one old id by the crosswalk.
    let old = format!("{H}p,2026-01-01,ftd_amount,1,EUR\n");
    let new =
        format!("{H}n1,2026-01-01,ftd_amount,{MAX},EUR\nn2,2026-01-01,ftd_amount,{MAX},EUR\n");
    let x = "old_partner_id,new_partner_id\np,n1\np,n2\n";
    let (e, _) = try_run(&old, &new, Some(x), "0", "0");
    assert_eq!(
        e.unwrap_err().to_string(),
        "new.csv:2: the rows of p,2026-01-01,ftd_amount EUR sum beyond the decimal range"
    );
    // Near the i64 and i32 limits of the fixed-point form: exact, no overflow.
    let big = "21474836.47";
    let old = format!(
        "{H}p,2026-01-01,ftd_amount,{big},EUR\np,2026-01-01,ftd_amount,{big},EUR\np,2026-01-01,ftd_amount,9223372036854775807,EUR\n"
    );
    let new = format!(
        "{H}p,2026-01-01,ftd_amount,9223372036854775807.01,EUR\np,2026-01-01,ftd_amount,42949672.92,EUR\n"
    );
    let (s, out) = run(&old, &new, None, "0", "0");
    assert_eq!(
        out.lines().nth(1),
        Some("p,2026-01-01,ftd_amount,9223372036897725479.94,9223372036897725479.93,variance")
    );
    assert_eq!(s.variance, 1);
}

/// The difference of two huge values with an allowance beyond the range (rel > 1): not
/// decidable in decimals, so an error naming the key and both rows.
#[test]
fn undecidable_difference_is_an_error() {
    let half = "50000000000000000000000000000";
    let old = format!("{H}p,2026-01-01,ftd_amount,{half},EUR\n");
    let new = format!("{H}p,2026-01-01,ftd_amount,-{half},EUR\n");
    let (e, _) = try_run(&old, &new, None, "0", "2");
    assert_eq!(
        e.unwrap_err().to_string(),
        "p,2026-01-01,ftd_amount EUR: the difference between old.csv:2 and new.csv:2 is beyond the decimal range"
    );
}

/// Regression: 100 EUR and 100 USD were a match.
#[test]
fn currency_mismatch_is_a_finding_never_a_match() {
    let old = format!(
        "{H}p,2026-01-01,ftd_amount,100,EUR\np,2026-01-02,ftd_amount,100,EUR\np,2026-01-03,ftd_amount,1.001,EUR\np,2026-01-01,clicks_gross,5,EUR\n"
    );
    let new = format!(
        "{H}p,2026-01-01,ftd_amount,100,USD\np,2026-01-02,ftd_amount,100,\np,2026-01-03,ftd_amount,1.001,GBP\np,2026-01-01,clicks_gross,5,\n"
    );
    let (s, out) = run(&old, &new, None, "1000", "1");
    let mut lines: Vec<&str> = out.lines().skip(1).collect();
    lines.sort();
    assert_eq!(
        lines,
        [
            "p,2026-01-01,ftd_amount,100,100,currency_mismatch",
            "p,2026-01-02,ftd_amount,100,100,currency_mismatch",
            "p,2026-01-03,ftd_amount,1.001,1.001,currency_mismatch",
        ]
    );
    // Counts carry no currency: clicks match.
    assert_eq!((s.matched, s.currency_mismatch), (1, 3));
    let mut details: Vec<String> = s.currency_samples.iter().map(|c| c.detail()).collect();
    details.sort();
    assert_eq!(
        details,
        [
            "old EUR, new GBP",
            "old EUR, new USD",
            "old EUR, new no currency"
        ]
    );
    assert_eq!(
        s.outcome(),
        (
            Outcome::Fail,
            "0 variance, 0 only_old, 0 only_new, 3 currency_mismatch".into()
        )
    );
}

/// Regression: duplicate keys were summed across currencies (60 EUR + 40 USD = 100).
#[test]
fn duplicate_keys_across_currencies_are_not_summed() {
    let old = format!("{H}p,2026-01-01,ftd_amount,60,EUR\np,2026-01-01,ftd_amount,40,USD\n");
    let new = format!("{H}p,2026-01-01,ftd_amount,100,EUR\n");
    let (s, out) = run(&old, &new, None, "0", "0");
    assert_eq!(
        out.lines().nth(1),
        Some("p,2026-01-01,ftd_amount,,100,currency_mismatch")
    );
    assert_eq!(s.duplicates, 1);
    assert_eq!(s.currency_samples[0].detail(), "old EUR and USD, new EUR");
    // Only on one side, and with exotic values: still a mismatch, not only_old.
    let old = format!("{H}p,2026-01-01,ftd_amount,0.001,EUR\np,2026-01-01,ftd_amount,{MAX},USD\n");
    let (s, out) = run(
        &old,
        &format!("{H}q,2026-01-01,clicks_gross,1,\n"),
        None,
        "0",
        "0",
    );
    assert!(
        out.contains("p,2026-01-01,ftd_amount,,,currency_mismatch"),
        "{out}"
    );
    assert_eq!(
        s.currency_samples[0].detail(),
        "old EUR and USD, new missing"
    );
    // Two new ids merged by the crosswalk, in different currencies.
    let old = format!("{H}p,2026-01-01,ftd_amount,100,EUR\n");
    let new = format!("{H}n1,2026-01-01,ftd_amount,50,EUR\nn2,2026-01-01,ftd_amount,50,USD\n");
    let x = "old_partner_id,new_partner_id\np,n1\np,n2\n";
    let (s, out) = run(&old, &new, Some(x), "0", "0");
    assert!(
        out.contains("p,2026-01-01,ftd_amount,100,,currency_mismatch"),
        "{out}"
    );
    assert_eq!(s.duplicates, 0);
    assert_eq!(s.outcome().0, Outcome::Fail);
}

#[test]
fn quoted_ids_and_crlf() {
    let old = "partner_id,day,metric,value,currency\r\n\"a,b\",2026-01-01,clicks_gross,1,\r\n";
    let new = "partner_id,day,metric,value,currency\r\n\"a,b\",2026-01-01,clicks_gross,2,\r\n";
    let (_, out) = run(old, new, None, "0", "0");
    assert!(
        out.contains("\"a,b\",2026-01-01,clicks_gross,1,2,variance"),
        "{out}"
    );
}

/// Metric names of the property test: canonical counts and money, and names outside the
/// vocabulary (whose currency recon compares, as money's).
const NAMES: [&str; 7] = [
    "clicks_gross",
    "ftd_amount",
    "clicks",
    "ftd",
    "Net Gaming Revenue",
    "net_revenue",
    "clicks_unique",
];

/// Whether recon compares the currency of a metric: everything but canonical counts.
fn carries_currency(name: &str) -> bool {
    Metric::canonical(name).is_none_or(|m| m.is_money())
}

#[test]
fn free_metric_names_are_compared() {
    // Each side numbers names in order of appearance: "ftd" is 1st on old, 2nd on new.
    let old = format!(
        "{H}p,2026-01-01,ftd,3,\np,2026-01-01,clicks,10,\np,2026-01-01,only_here,1,\np,2026-01-01,ftd_count,3,\n"
    );
    let new = format!(
        "{H}n,2026-01-01,clicks,10,\nn,2026-01-01,ftd,4,\nn,2026-01-01,\"Deposits, EUR\",7.5,EUR\nn,2026-01-01,ftd_count,3,\n"
    );
    let x = "old_partner_id,new_partner_id\np,n\n";
    let (s, out) = run(&old, &new, Some(x), "0", "0");
    assert_eq!(s.malformed, 0);
    assert_eq!(
        out,
        "partner_id,day,metric,old_value,new_value,status\n\
         p,2026-01-01,ftd,3,4,variance\n\
         p,2026-01-01,only_here,1,,only_old\n\
         p,2026-01-01,\"Deposits, EUR\",,7.5,only_new\n"
    );
    assert_eq!(
        (s.matched, s.variance, s.only_old, s.only_new),
        (2, 1, 1, 1)
    );
}

#[test]
fn free_metric_names_with_merged_partners_and_duplicates() {
    // Two new ids merge into one old id (the sort-by-global path), names in another order.
    let old = format!("{H}p,2026-01-01,ftd,5,\np,2026-01-01,clicks,10,\n");
    let new = format!(
        "{H}n2,2026-01-01,clicks,4,\nn1,2026-01-01,clicks,6,\nn1,2026-01-01,ftd,2,\nn1,2026-01-01,ftd,1,\nn2,2026-01-01,ftd,2,\n"
    );
    let x = "old_partner_id,new_partner_id\np,n1\np,n2\n";
    let (s, out) = run(&old, &new, Some(x), "0", "0");
    assert_eq!((s.matched, s.duplicates), (2, 1), "{out}");
    assert_eq!(s.duplicate_samples[0].metric.as_str(), "ftd");
    assert_eq!(
        s.duplicate_samples[0].metric,
        Metric::Other(crate::model::MetricName::new("ftd").unwrap())
    );
}

/// Issue 7's currencies and issue 8's free metric names in one comparison: a metric
/// outside the canonical list has its currency compared (recon cannot know it is a
/// count), its duplicates and merged rows in different currencies are a mismatch, and
/// the names and currencies are numbered in another order on each side.
#[test]
fn free_metric_names_and_currency_mismatches_in_one_file() {
    let old = format!(
        "{H}p,2026-01-01,bonus,10,EUR\n\
         p,2026-01-01,impressions,500,\n\
         p,2026-01-01,ftd_amount,100,EUR\n\
         p,2026-01-01,clicks_gross,5,EUR\n\
         p,2026-01-02,bonus,4,EUR\n\
         p,2026-01-02,bonus,6,GBP\n\
         p,2026-01-02,impressions,7,\n\
         q,2026-01-01,Net Gaming Revenue,1.005,USD\n\
         q,2026-01-01,bonus,3,EUR\n"
    );
    let new_p = "n,2026-01-02,impressions,7,EUR\n\
                 n,2026-01-01,impressions,500,\n\
                 n,2026-01-01,bonus,10,USD\n\
                 n,2026-01-01,ftd_amount,100,EUR\n\
                 n,2026-01-01,clicks_gross,5,\n\
                 n,2026-01-02,bonus,10,EUR\n";
    let new_q = "m1,2026-01-01,Net Gaming Revenue,1.000,USD\n\
                 m2,2026-01-01,Net Gaming Revenue,0.005,USD\n\
                 m1,2026-01-01,bonus,1,EUR\n\
                 m2,2026-01-01,bonus,2,USD\n";
    let x = "old_partner_id,new_partner_id\np,n\nq,m1\nq,m2\n";
    let p_lines = [
        "p,2026-01-01,bonus,10,10,currency_mismatch",
        "p,2026-01-02,bonus,,10,currency_mismatch",
        "p,2026-01-02,impressions,7,7,currency_mismatch",
    ];
    // Both new ids of q merge into one (the path that sorts by global key).
    let (s, out) = run(&old, &format!("{H}{new_p}{new_q}"), Some(x), "0", "0");
    let mut lines: Vec<&str> = out.lines().skip(1).collect();
    lines.sort();
    let mut want = p_lines.to_vec();
    want.push("q,2026-01-01,bonus,3,,currency_mismatch");
    assert_eq!(lines, want);
    // Matches: impressions without currency, ftd_amount in EUR, clicks (a count: its
    // currency is ignored), and NGR summed over the merged ids (an exotic value).
    assert_eq!(
        (s.matched, s.currency_mismatch, s.duplicates, s.malformed),
        (4, 4, 1, 0)
    );
    let mut details: Vec<(String, String)> = s
        .currency_samples
        .iter()
        .map(|c| (c.metric.to_string(), c.detail()))
        .collect();
    details.sort();
    assert_eq!(
        details,
        [
            ("bonus".into(), "old EUR and GBP, new EUR".into()),
            ("bonus".into(), "old EUR, new EUR and USD".into()),
            ("bonus".into(), "old EUR, new USD".into()),
            ("impressions".into(), "old no currency, new EUR".into()),
        ]
    );
    assert!(
        s.currency_samples
            .iter()
            .all(|c| matches!(c.metric, Metric::Other(_)))
    );
    assert_eq!(s.duplicate_samples[0].metric.as_str(), "bonus");
    assert_eq!(
        s.outcome(),
        (
            Outcome::Fail,
            "0 variance, 0 only_old, 0 only_new, 4 currency_mismatch".into()
        )
    );
    // Without q's merge the new keys are rewritten in place: the same findings for p.
    let old_p: String = old
        .lines()
        .filter(|l| !l.starts_with("q,"))
        .map(|l| format!("{l}\n"))
        .collect();
    let (s, out) = run(
        &old_p,
        &format!("{H}{new_p}"),
        Some("old_partner_id,new_partner_id\np,n\n"),
        "0",
        "0",
    );
    let mut lines: Vec<&str> = out.lines().skip(1).collect();
    lines.sort();
    assert_eq!(lines, p_lines);
    assert_eq!((s.matched, s.currency_mismatch), (3, 3));
}

/// More distinct currencies, or metric names, than the packed key holds is an error that
/// names the limit, never a wrong answer or a dropped row.
#[test]
fn too_many_currencies_or_metric_names_is_an_error() {
    let letters = |i: usize| -> String {
        [i / 676, i / 26 % 26, i % 26]
            .iter()
            .map(|&d| char::from(b'A' + d as u8))
            .collect()
    };
    let new = format!("{H}p,2026-01-01,ftd_amount,1,EUR\n");
    // 255 currencies fit; a count's currency is not counted.
    let mut old = String::from(H);
    for i in 0..255 {
        old.push_str(&format!("p{i},2026-01-01,ftd_amount,1,{}\n", letters(i)));
    }
    old.push_str("q,2026-01-01,clicks_gross,1,ZZZ\n");
    let (r, _) = try_run(&old, &new, None, "0", "0");
    assert_eq!(r.unwrap().currency_mismatch, 0);
    old.push_str(&format!("x,2026-01-01,bonus,1,{}\n", letters(255)));
    let (r, _) = try_run(&old, &new, None, "0", "0");
    assert_eq!(
        r.unwrap_err().to_string(),
        "old.csv:258: more than 255 distinct currencies; compare the files in parts"
    );
    // 1,010 names besides the canonical ones in one file fit, one more does not.
    let names = |side: &str, n: usize| -> String {
        let mut s = String::from(H);
        for i in 0..n {
            s.push_str(&format!("p,2026-01-01,{side}_{i},1,\n"));
        }
        s
    };
    let (r, _) = try_run(&names("m", 1_010), &new, None, "0", "0");
    assert_eq!(r.unwrap().only_old, 1_010);
    let (r, _) = try_run(&names("m", 1_011), &new, None, "0", "0");
    assert_eq!(
        r.unwrap_err().to_string(),
        "old.csv:1012: more than 1010 distinct metric names besides the 14 canonical ones; compare the files in parts"
    );
    // Shared names count once; the two files together may not hold more.
    let (r, _) = try_run(&names("m", 1_000), &names("m", 1_010), None, "0", "0");
    assert_eq!(r.unwrap().only_new, 10);
    let (r, _) = try_run(&names("a", 600), &names("b", 600), None, "0", "0");
    assert_eq!(
        r.unwrap_err().to_string(),
        "old.csv and new.csv: more than 1010 distinct metric names besides the 14 canonical ones; compare the files in parts"
    );
}

#[test]
fn bad_metric_names_are_malformed_rows() {
    let old = format!(
        "{H}p,2026-01-01,a\u{7}b,1,\np,2026-01-01, ftd,1,\np,2026-01-01,\"{}\",1,\n",
        "m".repeat(101)
    );
    let (s, _) = run(
        &old,
        &format!("{H}p,2026-01-01,clicks_gross,1,\n"),
        None,
        "0",
        "0",
    );
    let reasons: Vec<&str> = s
        .malformed_samples
        .iter()
        .map(|m| m.reason.as_str())
        .collect();
    assert_eq!(
        reasons,
        vec![
            "metric name \"a\\u{7}b\" contains a control character",
            "metric name \" ftd\" starts or ends with white space",
            &format!(
                "metric name \"{}…\" is 101 bytes long; the limit is 100",
                "m".repeat(100)
            ),
        ]
    );
}

/// (partner, day, metric, value, scale, currency)
type Row = (u8, u8, u8, i64, u32, &'static str);

/// The naive reference: parse with `str::split`, sum into BTreeMaps, compare.
fn reference(
    old: &[Row],
    new: &[Row],
    abs: Decimal,
    rel: Decimal,
) -> BTreeMap<(String, String, String), &'static str> {
    type Sums =
        BTreeMap<(String, String, String), (Decimal, std::collections::BTreeSet<&'static str>)>;
    let sum = |rows: &[Row]| {
        let mut m: Sums = BTreeMap::new();
        for &(p, day, metric, v, scale, cur) in rows {
            let metric = NAMES[metric as usize];
            let k = (
                format!("p{p}"),
                format!("2026-01-{:02}", day + 1),
                metric.to_owned(),
            );
            let e = m.entry(k).or_default();
            e.0 += Decimal::new(v, scale);
            e.1.insert(if carries_currency(metric) { cur } else { "" });
        }
        m
    };
    let (o, n) = (sum(old), sum(new));
    let mut out = BTreeMap::new();
    for (k, (ov, oc)) in &o {
        let s = match n.get(k) {
            _ if oc.len() > 1 => "currency_mismatch",
            Some((_, nc)) if nc.len() > 1 || nc != oc => "currency_mismatch",
            None => "only_old",
            Some((nv, _)) if nv == ov => continue,
            Some((nv, _)) if (*nv - *ov).abs() <= abs.max(rel * ov.abs()) => "within_tolerance",
            Some(_) => "variance",
        };
        out.insert(k.clone(), s);
    }
    for (k, (_, nc)) in &n {
        if !o.contains_key(k) {
            out.insert(
                k.clone(),
                if nc.len() > 1 {
                    "currency_mismatch"
                } else {
                    "only_new"
                },
            );
        }
    }
    out
}

/// Mostly small values in hundredths; some with 3 decimals or too big for the fixed-point
/// fast path, so both paths and their mix are exercised.
fn rows() -> impl Strategy<Value = Vec<Row>> {
    let value = prop_oneof![
        8 => (-2000i64..2000, Just(2u32)),
        1 => (-2000i64..2000, Just(3u32)),
        1 => (-10_000_000_000i64..10_000_000_000, Just(2u32)),
    ];
    let currency = prop_oneof![8 => Just("EUR"), 1 => Just("USD"), 1 => Just("")];
    prop::collection::vec(
        (0u8..6, 0u8..4, 0u8..7, value, currency)
            .prop_map(|(p, d, m, (v, s), c)| (p, d, m, v, s, c)),
        0..40,
    )
}

/// The rows as a CSV side; `id` names partner `p` on the row with this index.
fn csv_of(rows: &[Row], id: impl Fn(u8, usize) -> String) -> String {
    let mut s = String::from(H);
    for (i, &(p, day, metric, v, scale, cur)) in rows.iter().enumerate() {
        s.push_str(&format!(
            "{},2026-01-{:02},{},{},{cur}\n",
            id(p, i),
            day + 1,
            NAMES[metric as usize],
            Decimal::new(v, scale)
        ));
    }
    s
}

/// The status of each key in a findings file.
fn statuses(out: &str) -> BTreeMap<(String, String, String), &'static str> {
    out.lines()
        .skip(1)
        .map(|l| {
            let f: Vec<&str> = l.split(',').collect();
            let status = match f[5] {
                "only_old" => "only_old",
                "only_new" => "only_new",
                "variance" => "variance",
                "within_tolerance" => "within_tolerance",
                "currency_mismatch" => "currency_mismatch",
                other => panic!("status {other}"),
            };
            ((f[0].to_owned(), f[1].to_owned(), f[2].to_owned()), status)
        })
        .collect()
}

proptest! {
    #[test]
    fn statuses_match_naive_reference(old in rows(), new in rows(), abs in 0i64..300, rel in 0i64..20) {
        let csv = |rows: &[Row]| csv_of(rows, |p, _| format!("p{p}"));
        let (abs, rel) = (Decimal::new(abs, 2), Decimal::new(rel, 2));
        let (_, out) = run(&csv(&old), &csv(&new), None, &abs.to_string(), &rel.to_string());
        prop_assert_eq!(statuses(&out), reference(&old, &new, abs, rel));
    }

    /// The same through a crosswalk: the new side's ids renamed (keys rewritten in place),
    /// or partner p0 split over two new ids that the crosswalk merges (keys sorted by
    /// their global form). Metric names and currencies are numbered per side in order of
    /// appearance, so their ids differ between the sides too.
    #[test]
    fn statuses_match_naive_reference_through_a_crosswalk(
        old in rows(),
        new in rows(),
        merge in any::<bool>(),
        abs in 0i64..300,
        rel in 0i64..20,
    ) {
        let new_id = |p: u8, i: usize| {
            if merge && p == 0 {
                format!("n0{}", if i.is_multiple_of(2) { "a" } else { "b" })
            } else {
                format!("n{p}")
            }
        };
        let mut x = String::from("old_partner_id,new_partner_id\n");
        for p in 0..6 {
            x.push_str(&format!("p{p},n{p}\n"));
        }
        if merge {
            x.push_str("p0,n0a\np0,n0b\n");
        }
        let (abs, rel) = (Decimal::new(abs, 2), Decimal::new(rel, 2));
        let (s, out) = run(
            &csv_of(&old, |p, _| format!("p{p}")),
            &csv_of(&new, new_id),
            Some(&x),
            &abs.to_string(),
            &rel.to_string(),
        );
        prop_assert_eq!(s.unmapped, 0);
        prop_assert_eq!(statuses(&out), reference(&old, &new, abs, rel));
    }
}

/// Fields that have broken parsers: multi-byte characters at every byte offset of a
/// valid value, empty and blank fields, huge and tiny numbers, NaN and infinities,
/// unbalanced quotes, control characters.
fn nasty_fields(valid: &str) -> Vec<String> {
    let mut v: Vec<String> = [
        "",
        " ",
        "\t",
        "\0",
        "\"",
        "\"\"",
        "\"\"\"",
        "\"a",
        "a\"",
        "\"a\"b",
        ",",
        "\r",
        "NaN",
        "nan",
        "inf",
        "-inf",
        "Infinity",
        "1e400",
        "-1e400",
        "1e-400",
        "1e",
        "e1",
        "1E99999999999",
        "-",
        "+",
        ".",
        "-.",
        "+.5",
        "--1",
        "1..2",
        "0x10",
        "1_000",
        "79228162514264337593543950335",
        "79228162514264337593543950336",
        "-79228162514264337593543950336",
        "99999999999999999999999999999999999999",
        "9223372036854775807",
        "-9223372036854775808",
        "21474836.48",
        "-21474836.48",
        "0.000000000000000000000000000001",
        "99999999999999.99",
        "999999999999999.99",
        "0000-01-01",
        "9999-12-31",
        "10000-01-01",
        "2024-02-30",
        "2026-00-10",
        "２０２６-01-01",
        "eur",
        "EU",
        "EURO",
        "€",
        "ÉUR",
    ]
    .into_iter()
    .map(str::to_owned)
    .collect();
    v.push("9".repeat(10_000));
    for ch in ["é", "€", "😀", "\u{301}"] {
        for i in 0..=valid.len() {
            v.push(format!("{}{ch}{}", &valid[..i], &valid[i..]));
            if i < valid.len() {
                v.push(format!("{}{ch}{}", &valid[..i], &valid[i + 1..]));
            }
        }
    }
    v
}

/// Every nasty value in every field of a row: the row is read or is a malformed row
/// with its line, the comparison never panics and never fails as a whole.
#[test]
fn nasty_fields_are_malformed_rows_never_panics() {
    let valid = ["p1", "2026-01-01", "ftd_amount", "12.50", "EUR"];
    let new = format!("{H}p1,2026-01-01,ftd_amount,12.50,EUR\n");
    for field in 0..valid.len() {
        let values = nasty_fields(valid[field]);
        let mut old = String::from(H);
        for (i, v) in values.iter().enumerate() {
            // One key a row (huge values summed on one key would overflow, rightly).
            let mut row = valid.map(str::to_owned);
            row[0] = format!("p{i}");
            row[field] = v.clone();
            old.push_str(&row.join(","));
            old.push('\n');
        }
        let (s, out) = try_run(&old, &new, None, "0", "0");
        let s = s.unwrap_or_else(|e| panic!("field {field}: {e}"));
        // A row is either read or malformed; lines are counted from the header.
        assert_eq!(
            s.old_rows + s.malformed,
            values.len() as u64,
            "field {field}"
        );
        for m in &s.malformed_samples {
            assert!(m.line >= 2, "{m:?}");
        }
        assert!(out.starts_with(OUTPUT_HEADER));
    }
}

#[test]
fn a_multibyte_day_is_a_malformed_row_with_its_line() {
    let old = format!("{H}p,2026-01-0é,clicks_gross,1,\np,2026-01-01,clicks_gross,1,\n");
    let new = format!("{H}p,2026-01-01,clicks_gross,1,\n");
    let (s, _) = run(&old, &new, None, "0", "0");
    assert_eq!(s.malformed, 1);
    assert_eq!(s.malformed_samples[0].line, 2);
    assert_eq!(
        s.malformed_samples[0].reason,
        "bad day \"2026-01-0é\" (expected YYYY-MM-DD)"
    );
}

proptest! {
    /// Arbitrary text as a side (and a crosswalk): read or rejected, never a panic.
    #[test]
    fn arbitrary_input_never_panics(
        lines in prop::collection::vec("[a-z0-9,.\"\\-+eE€é😀 \r]{0,40}", 0..20),
        header in any::<bool>(),
    ) {
        let mut text = if header { String::from(H) } else { String::new() };
        for l in &lines {
            text.push_str(l);
            text.push('\n');
        }
        let _ = try_run(&text, &text, None, "0.5", "0.01");
        let _ = Crosswalk::parse("x.csv", text.as_bytes());
    }

    /// Arbitrary values in the value and currency fields.
    #[test]
    fn arbitrary_values_never_panic(values in prop::collection::vec(("\\PC{0,30}", "\\PC{0,4}"), 1..20)) {
        let mut old = String::from(H);
        for (v, c) in &values {
            let v = v.replace([',', '\n', '"'], "");
            let c = c.replace([',', '\n', '"'], "");
            old.push_str(&format!("p,2026-01-01,ftd_amount,{v},{c}\n"));
        }
        let new = format!("{H}p,2026-01-01,ftd_amount,1,EUR\n");
        let (r, _) = try_run(&old, &new, None, "0", "0");
        if let Err(e) = r {
            prop_assert!(matches!(e, ReconError::Overflow(_)), "{}", e);
        }
    }
}
