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
    )
    .unwrap();
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
        "{H}p,2026-01-01,ftd_amount,{max},EUR\np,2026-01-01,ftd_amount,{max},EUR\np,2026-01-02,ftd_amount,-{max},EUR\np,2026-01-03,ftd_amount,1e400,EUR\n"
    );
    let new = format!("{H}p,2026-01-01,ftd_amount,1,EUR\np,2026-01-02,ftd_amount,{max},EUR\n");
    let (s, _) = run(&old, &new, None, max, "1");
    assert_eq!(s.variance + s.within_tolerance, 2);
    assert_eq!(s.malformed, 1);
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

/// Metric names of the property test: canonical ones and names outside the vocabulary.
const NAMES: [&str; 6] = [
    "clicks_gross",
    "ftd_amount",
    "clicks",
    "ftd",
    "Net Gaming Revenue",
    "net_revenue",
];

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

type Row = (u8, u8, u8, i64, u32);

/// The naive reference: parse with `str::split`, sum into BTreeMaps, compare.
fn reference(
    old: &[Row],
    new: &[Row],
    abs: Decimal,
    rel: Decimal,
) -> BTreeMap<(String, String, String), &'static str> {
    let sum = |rows: &[Row]| {
        let mut m: BTreeMap<(String, String, String), Decimal> = BTreeMap::new();
        for &(p, day, metric, v, scale) in rows {
            let k = (
                format!("p{p}"),
                format!("2026-01-{:02}", day + 1),
                NAMES[metric as usize].to_owned(),
            );
            *m.entry(k).or_default() += Decimal::new(v, scale);
        }
        m
    };
    let (o, n) = (sum(old), sum(new));
    let mut out = BTreeMap::new();
    for (k, ov) in &o {
        let s = match n.get(k) {
            None => "only_old",
            Some(nv) if nv == ov => continue,
            Some(nv) if (*nv - *ov).abs() <= abs.max(rel * ov.abs()) => "within_tolerance",
            Some(_) => "variance",
        };
        out.insert(k.clone(), s);
    }
    for k in n.keys() {
        if !o.contains_key(k) {
            out.insert(k.clone(), "only_new");
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
    prop::collection::vec(
        (0u8..6, 0u8..4, 0u8..6, value).prop_map(|(p, d, m, (v, s))| (p, d, m, v, s)),
        0..40,
    )
}

proptest! {
    #[test]
    fn statuses_match_naive_reference(old in rows(), new in rows(), abs in 0i64..300, rel in 0i64..20) {
        let csv = |rows: &[Row]| {
            let mut s = String::from(H);
            for &(p, day, metric, v, scale) in rows {
                s.push_str(&format!(
                    "p{p},2026-01-{:02},{},{},\n",
                    day + 1,
                    NAMES[metric as usize],
                    Decimal::new(v, scale)
                ));
            }
            s
        };
        let (abs, rel) = (Decimal::new(abs, 2), Decimal::new(rel, 2));
        let (_, out) = run(&csv(&old), &csv(&new), None, &abs.to_string(), &rel.to_string());
        let got: BTreeMap<(String, String, String), &str> = out
            .lines()
            .skip(1)
            .map(|l| {
                let f: Vec<&str> = l.split(',').collect();
                let status = match f[5] {
                    "only_old" => "only_old",
                    "only_new" => "only_new",
                    "variance" => "variance",
                    "within_tolerance" => "within_tolerance",
                    other => panic!("status {other}"),
                };
                ((f[0].to_owned(), f[1].to_owned(), f[2].to_owned()), status)
            })
            .collect();
        prop_assert_eq!(got, reference(&old, &new, abs, rel));
    }
}
