//! Reference rows (crosswalk, rates, hierarchy, record) through every connector kind:
//! HTTP (paging, retries, page hashes), a SQL database and a file; and the `ecb` preset
//! over the ECB's own XML, served on 127.0.0.1 and read as a file.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

use axum::Router;
use axum::extract::Query;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::get;
use common::*;
use cutover_recon::{CrosswalkRow, HierarchyRow, RateRow, Row};
use cutover_sources::{PullStatus, pull};
use rust_decimal::Decimal;
use serde_json::json;
use sha2::{Digest, Sha256};

const ECB_XML: &str = include_str!("fixtures/ecb_eurofxref.xml");

fn sha256_hex_of(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

fn rates(rows: &[Row]) -> Vec<&RateRow> {
    rows.iter()
        .filter_map(|r| match r {
            Row::Rate(r) => Some(r),
            _ => None,
        })
        .collect()
}

/// 1 / `x`, as the preset stores it.
fn inverse(x: &str) -> Decimal {
    (Decimal::ONE / x.parse::<Decimal>().unwrap())
        .round_dp(16)
        .normalize()
}

fn assert_ecb_rates(rows: &[Row]) {
    let r = rates(rows);
    // Five working days, two currencies each; the weekend has none.
    assert_eq!(r.len(), 10);
    let get = |d: &str, c: &str| {
        r.iter()
            .find(|x| x.day == day(d) && x.currency == c)
            .unwrap_or_else(|| panic!("no {c} rate on {d}"))
            .rate
    };
    assert_eq!(get("2026-10-01", "USD"), inverse("1.0862"));
    assert_eq!(get("2026-10-01", "USD").to_string(), "0.9206407659731173");
    assert_eq!(get("2026-10-07", "GBP"), inverse("0.8641"));
    assert_eq!(get("2026-10-05", "USD"), inverse("1.0880"));
    assert!(!r.iter().any(|x| x.day == day("2026-10-03")));
    // 1,230.72 USD is 1,133.05 EUR (to the cent) at the 1 October rate.
    let eur = (Decimal::new(123_072, 2) * get("2026-10-01", "USD")).round_dp(2);
    assert_eq!(eur, Decimal::new(113_305, 2));
}

#[tokio::test]
async fn ecb_preset_over_http() {
    let hits = Arc::new(AtomicU32::new(0));
    let h = hits.clone();
    let app = Router::new().route(
        "/stats/eurofxref/eurofxref-hist-90d.xml",
        get(move || {
            let h = h.clone();
            async move {
                // The first answer is a 503: retried like any other source.
                if h.fetch_add(1, Ordering::SeqCst) == 0 {
                    return StatusCode::SERVICE_UNAVAILABLE.into_response();
                }
                ([("content-type", "text/xml")], ECB_XML).into_response()
            }
        }),
    );
    let base = serve(app).await;
    let s = source(
        "  - id: fx
    preset: ecb
    http: { retries: { attempts: 3, base_delay: 10ms, max_delay: 20ms } }
",
    );
    let url = format!("{base}/stats/eurofxref/eurofxref-hist-90d.xml");
    let p = pull(
        &s,
        window("2026-10-01", "2026-10-07"),
        &env(&[("ECB_RATES_URL", &url)]),
    )
    .await
    .expect("pull");
    assert_eq!(hits.load(Ordering::SeqCst), 2);
    assert_eq!(p.status, PullStatus::Complete);
    assert_eq!(p.system, "ecb");
    assert_eq!(p.pages.len(), 1);
    assert_eq!(p.pages[0].sha256, sha256_hex_of(ECB_XML.as_bytes()));
    assert_eq!(p.pages[0].records, 10);
    assert_ecb_rates(&p.rows);
}

#[tokio::test]
async fn ecb_preset_read_from_a_file_with_the_http_key_removed() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("eurofxref.xml"), ECB_XML).unwrap();
    let s = source(
        "  - { id: fx, preset: ecb, http: null, file: { path: eurofxref.xml } }
",
    );
    let mut opts = env(&[]);
    opts.base_dir = dir.path().to_owned();
    let p = pull(&s, window("2026-10-01", "2026-10-07"), &opts)
        .await
        .expect("pull");
    assert_eq!(
        p.pages[0].request,
        format!("FILE {}", dir.path().join("eurofxref.xml").display())
    );
    assert_eq!(p.payload_sha256, sha256_hex_of(ECB_XML.as_bytes()));
    assert_ecb_rates(&p.rows);
}

#[tokio::test]
async fn a_zero_rate_quoted_per_plan_is_an_error_naming_the_row() {
    let dir = tempfile::tempdir().unwrap();
    let bad = ECB_XML.replace("rate='0.8541'", "rate='0'");
    std::fs::write(dir.path().join("eurofxref.xml"), bad).unwrap();
    let s = source("  - { id: fx, preset: ecb, http: null, file: { path: eurofxref.xml } }\n");
    let mut opts = env(&[]);
    opts.base_dir = dir.path().to_owned();
    let e = pull(&s, window("2026-10-01", "2026-10-07"), &opts)
        .await
        .unwrap_err();
    assert_eq!(
        e.to_string(),
        "row 4: field \"rate\": 0 is not above zero (quote: per_plan, a rate is units of GBP for one unit of the plan currency)"
    );
}

/// A crosswalk behind a paged JSON API: two pages, a 500 retried on the second, each
/// page's payload hashed.
#[tokio::test]
async fn crosswalk_over_paged_http_with_a_retry() {
    let fails = Arc::new(AtomicU32::new(0));
    let f = fails.clone();
    let app = Router::new().route(
        "/partners",
        get(
            move |Query(q): Query<std::collections::HashMap<String, String>>| {
                let f = f.clone();
                async move {
                    let page: u32 = q["page"].parse().unwrap();
                    if page == 2 && f.fetch_add(1, Ordering::SeqCst) == 0 {
                        return StatusCode::INTERNAL_SERVER_ERROR.into_response();
                    }
                    let items = match page {
                        1 => json!([
                            {"id": 70001, "ref": {"old": "AFF-001"}, "since": null},
                            {"id": 70005, "ref": {"old": "AFF-005"}, "since": "2026-10-01"}
                        ]),
                        2 => {
                            json!([{"id": 70009, "ref": {"old": "AFF-005"}, "since": "2026-10-03"}])
                        }
                        _ => json!([]),
                    };
                    axum::Json(json!({"partners": items})).into_response()
                }
            },
        ),
    );
    let base = serve(app).await;
    let s = source(&format!(
        "  - id: xw
    system: new
    rows: crosswalk
    http:
      url: \"{base}/partners\"
      paging: {{ style: page, param: page, size: 2 }}
      retries: {{ attempts: 3, base_delay: 10ms, max_delay: 20ms }}
    format: {{ type: json, rows: partners }}
    fields: {{ new: id, old: ref.old, valid_from: since }}
"
    ));
    let p = pull(&s, window("2026-10-01", "2026-10-07"), &env(&[]))
        .await
        .expect("pull");
    // Page 2 was asked twice: a 500, then the answer.
    assert_eq!(fails.load(Ordering::SeqCst), 2);
    assert_eq!(p.pages.len(), 2);
    assert_eq!(p.pages[1].records, 1);
    assert!(p.pages.iter().all(|pg| pg.sha256.len() == 64));
    assert_eq!(
        p.rows,
        vec![
            Row::Crosswalk(CrosswalkRow {
                old: "AFF-001".into(),
                new: "70001".into(),
                valid_from: None,
                valid_to: None
            }),
            Row::Crosswalk(CrosswalkRow {
                old: "AFF-005".into(),
                new: "70005".into(),
                valid_from: Some(day("2026-10-01")),
                valid_to: None
            }),
            Row::Crosswalk(CrosswalkRow {
                old: "AFF-005".into(),
                new: "70009".into(),
                valid_from: Some(day("2026-10-03")),
                valid_to: None
            }),
        ]
    );
}

/// Hierarchy, rates and records from a SQLite database (a BI warehouse or CRM replica).
#[tokio::test]
async fn hierarchy_rates_and_records_from_sql() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}?mode=rwc", dir.path().join("bi.db").display());
    {
        use sea_orm::ConnectionTrait;
        let db = sea_orm::Database::connect(&url).await.unwrap();
        db.execute_unprepared(
            "create table tree (id text, master text);
             insert into tree values ('m1', null), ('s1', 'm1'), ('s2', 'm1');
             create table fx (day text, cur text, rate text);
             insert into fx values ('2026-10-01', 'USD', '0.9206'), ('2026-10-02', 'USD', '0.9199'), ('2026-11-01', 'USD', '0.9');
             create table customers (cid text, email text, tier text);
             insert into customers values ('c1', 'a@example.com', 'gold'), ('c2', null, 'basic');",
        )
        .await
        .unwrap();
    }
    let opts = env(&[("BI_URL", &url)]);
    let w = window("2026-10-01", "2026-10-07");

    let s = source(
        "  - id: tree
    system: new
    rows: hierarchy
    sql: { url: \"${BI_URL}\", query: \"select id, master from tree order by id\" }
    fields: { partner: id, parent: master }
",
    );
    let p = pull(&s, w, &opts).await.expect("hierarchy");
    assert_eq!(
        p.pages[0].request,
        "SQL sqlite://".to_owned()
            + &url["sqlite://".len()..]
            + ": select id, master from tree order by id"
    );
    assert_eq!(
        p.rows,
        ["m1", "s1", "s2"]
            .iter()
            .map(|id| Row::Hierarchy(HierarchyRow {
                partner: (*id).into(),
                parent: (*id != "m1").then(|| "m1".into()),
                valid_from: None,
                valid_to: None,
            }))
            .collect::<Vec<_>>()
    );

    let s = source(
        "  - id: fx
    system: bi
    rows: rates
    sql: { url: \"${BI_URL}\", query: \"select * from fx where day between :from and :to order by day\" }
    fields: { day: day, currency: cur, rate: rate }
",
    );
    let p = pull(&s, w, &opts).await.expect("rates");
    assert_eq!(
        p.rows,
        vec![
            Row::Rate(RateRow {
                day: day("2026-10-01"),
                currency: "USD".into(),
                rate: Decimal::new(9206, 4)
            }),
            Row::Rate(RateRow {
                day: day("2026-10-02"),
                currency: "USD".into(),
                rate: Decimal::new(9199, 4)
            }),
        ]
    );
    assert_eq!(p.payload_sha256.len(), 64);

    let s = source(
        "  - id: crm
    system: crm
    rows: record
    sql: { url: \"${BI_URL}\", query: \"select * from customers order by cid\" }
    fields: { id: cid, email: email, tier: tier }
",
    );
    let p = pull(&s, w, &opts).await.expect("records");
    let Row::Record(r) = &p.rows[1] else {
        panic!("record")
    };
    assert_eq!(r.id, "c2");
    assert_eq!(r.fields.get("email"), None);
    assert_eq!(r.fields.get("tier").map(String::as_str), Some("basic"));
    assert_eq!(p.rows.len(), 2);
}
