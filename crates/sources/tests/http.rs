//! The HTTP connector against fixture servers on 127.0.0.1: every paging style, auth
//! kind and format, retries, rate limit, timeouts, truncation, bad bodies and redaction.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::{Query, RawQuery};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::{get, post};
use common::*;
use cutover_recon::{EventStatus, EventType, Metric, Row};
use cutover_sources::{PullError, PullStatus, pull};
use rust_decimal::Decimal;
use serde_json::{Value, json};

fn item(i: u64) -> Value {
    json!({"aff": format!("P{}", i % 3), "day": "2026-11-01", "n": i, "amt": format!("{}.25", i)})
}

fn agg_source(url: &str, extra_http: &str, rows_path: &str) -> String {
    format!(
        "  - id: s
    system: old
    http:
      url: \"{url}\"
{extra_http}
      retries: {{ attempts: 3, base_delay: 10ms, max_delay: 50ms }}
    format: {{ type: json, rows: \"{rows_path}\" }}
    fields: {{ partner: aff, day: day }}
    metrics: {{ ftd_count: n, ftd_amount: amt }}
"
    )
}

#[tokio::test]
async fn page_and_limit_with_total_pages() {
    let app = Router::new().route(
        "/r",
        get(
            |Query(q): Query<std::collections::HashMap<String, String>>| async move {
                let page: u64 = q["page"].parse().unwrap();
                let limit: u64 = q["limit"].parse().unwrap();
                assert_eq!(q["from"], "01/11/2026");
                let rows: Vec<Value> = (0..limit).map(|i| item((page - 1) * limit + i)).collect();
                axum::Json(json!({"data": {"rows": rows, "pages": 3}}))
            },
        ),
    );
    let base = serve(app).await;
    let s = source(&agg_source(
        &format!("{base}/r"),
        "      query: { from: \"{from}\" }\n      date_format: \"%d/%m/%Y\"\n      paging: { style: page, param: page, size_param: limit, size: 4, total_pages: data.pages }",
        "data.rows",
    ));
    let p = pull(&s, window("2026-11-01", "2026-11-01"), &env(&[]))
        .await
        .expect("pull");
    assert_eq!(p.pages.len(), 3);
    assert_eq!(p.rows.len(), 24);
    assert_eq!(p.status, PullStatus::Complete);
    assert_eq!(total(&p.rows, Metric::FtdCount), Decimal::from(66));
    // Money keeps its decimals exactly and carries the source currency; counts do not.
    let a = aggregates(&p.rows);
    assert!(a.iter().any(|a| a.metric == Metric::FtdAmount
        && a.value == Decimal::new(1125, 2)
        && a.currency.as_deref() == Some("EUR")));
    assert!(
        a.iter()
            .all(|a| a.metric != Metric::FtdCount || a.currency.is_none())
    );
}

#[tokio::test]
async fn page_paging_stops_on_a_short_page() {
    let app = Router::new().route(
        "/r",
        get(
            |Query(q): Query<std::collections::HashMap<String, String>>| async move {
                let page: u64 = q["p"].parse().unwrap();
                let n = if page < 3 { 5 } else { 2 };
                axum::Json(json!((0..n).map(item).collect::<Vec<_>>()))
            },
        ),
    );
    let base = serve(app).await;
    let s = source(&agg_source(
        &format!("{base}/r"),
        "      paging: { style: page, param: p, size: 5, first: 1 }",
        "",
    ));
    let p = pull(&s, window("2026-11-01", "2026-11-01"), &env(&[]))
        .await
        .expect("pull");
    assert_eq!(p.pages.len(), 3);
    assert_eq!(p.pages.iter().map(|p| p.records).sum::<u64>(), 12);
}

#[tokio::test]
async fn offset_paging() {
    let app = Router::new().route(
        "/r",
        get(
            |Query(q): Query<std::collections::HashMap<String, String>>| async move {
                let start: u64 = q["start_at_row"].parse().unwrap();
                let limit: u64 = q["row_limit"].parse().unwrap();
                let end = (start - 1 + limit).min(7);
                let rows: Vec<Value> = (start - 1..end).map(item).collect();
                axum::Json(json!({"rows": rows}))
            },
        ),
    );
    let base = serve(app).await;
    let s = source(&agg_source(
        &format!("{base}/r"),
        "      paging: { style: offset, param: start_at_row, size_param: row_limit, size: 3, first: 1 }",
        "rows",
    ));
    let p = pull(&s, window("2026-11-01", "2026-11-01"), &env(&[]))
        .await
        .expect("pull");
    assert_eq!(p.pages.len(), 3);
    assert_eq!(total(&p.rows, Metric::FtdCount), Decimal::from(21));
    assert!(p.pages[2].request.contains("start_at_row=7"));
}

#[tokio::test]
async fn cursor_paging_with_bearer_auth() {
    let app = Router::new().route(
        "/r",
        get(|headers: HeaderMap, Query(q): Query<std::collections::HashMap<String, String>>| async move {
            if headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()) != Some("Bearer tok-123") {
                return (StatusCode::UNAUTHORIZED, "no").into_response();
            }
            let after: u64 = q.get("starting_after").map(|c| c.parse().unwrap()).unwrap_or(0);
            let rows: Vec<Value> = (after..(after + 2).min(5)).map(item).collect();
            let next = if after + 2 < 5 { json!((after + 2).to_string()) } else { Value::Null };
            axum::Json(json!({"data": rows, "meta": {"next": next}})).into_response()
        }),
    );
    let base = serve(app).await;
    let s = source(&agg_source(
        &format!("{base}/r"),
        "      auth: { bearer: \"${TOKEN}\" }\n      paging: { style: cursor, param: starting_after, path: meta.next }",
        "data",
    ));
    let p = pull(
        &s,
        window("2026-11-01", "2026-11-01"),
        &env(&[("TOKEN", "tok-123")]),
    )
    .await
    .expect("pull");
    assert_eq!(p.pages.len(), 3);
    assert_eq!(p.pages.iter().map(|p| p.records).sum::<u64>(), 5);
    let e = pull(
        &s,
        window("2026-11-01", "2026-11-01"),
        &env(&[("TOKEN", "wrong")]),
    )
    .await
    .expect_err("401");
    assert!(matches!(e, PullError::Http { status: 401, .. }), "{e}");
    let e = pull(&s, window("2026-11-01", "2026-11-01"), &env(&[]))
        .await
        .expect_err("no env");
    assert_eq!(
        e.to_string(),
        "environment variable TOKEN is not set (needed by source \"s\")"
    );
}

#[tokio::test]
async fn link_header_paging() {
    let app = Router::new().route(
        "/r",
        get(
            |Query(q): Query<std::collections::HashMap<String, String>>| async move {
                let page: u64 = q.get("page").map(|c| c.parse().unwrap()).unwrap_or(1);
                let mut headers = HeaderMap::new();
                if page < 3 {
                    headers.insert(
                        header::LINK,
                        format!(
                            "</r?page={}>; rel=\"next\", </r?page=1>; rel=\"first\"",
                            page + 1
                        )
                        .parse()
                        .unwrap(),
                    );
                }
                (headers, axum::Json(json!([item(page)])))
            },
        ),
    );
    let base = serve(app).await;
    let s = source(&agg_source(
        &format!("{base}/r"),
        "      paging: { style: link_header }",
        "",
    ));
    let p = pull(&s, window("2026-11-01", "2026-11-01"), &env(&[]))
        .await
        .expect("pull");
    assert_eq!(p.pages.len(), 3);
    assert_eq!(total(&p.rows, Metric::FtdCount), Decimal::from(6));
}

#[tokio::test]
async fn query_key_is_sent_and_redacted_everywhere() {
    let app = Router::new().route(
        "/r",
        get(
            |Query(q): Query<std::collections::HashMap<String, String>>| async move {
                if q.get("api_key").map(String::as_str) != Some("s3cr3t-key") {
                    return (StatusCode::FORBIDDEN, "bad key s3cr3t-key?").into_response();
                }
                axum::Json(json!([item(1)])).into_response()
            },
        ),
    );
    let base = serve(app).await;
    let s = source(&agg_source(
        &format!("{base}/r"),
        "      auth: { query: api_key, key: \"${API_KEY}\" }",
        "",
    ));
    let p = pull(
        &s,
        window("2026-11-01", "2026-11-01"),
        &env(&[("API_KEY", "s3cr3t-key")]),
    )
    .await
    .expect("pull");
    assert!(
        p.pages[0].request.contains("api_key=***"),
        "{}",
        p.pages[0].request
    );
    assert!(!format!("{p:?}").contains("s3cr3t"));
    // A server that echoes the key in an error body: the error still hides it.
    let s2 = source(&agg_source(
        &format!("{base}/r"),
        "      auth: { query: api_key, key: \"${API_KEY}\" }",
        "",
    ));
    let e = pull(
        &s2,
        window("2026-11-01", "2026-11-01"),
        &env(&[("API_KEY", "s3cr3t-keyX")]),
    )
    .await
    .expect_err("403");
    assert!(!e.to_string().contains("s3cr3t-keyX"), "{e}");
}

#[tokio::test]
async fn retries_5xx_then_succeeds_and_honours_retry_after() {
    let hits = Arc::new(AtomicU32::new(0));
    let h = hits.clone();
    let app = Router::new().route(
        "/r",
        get(move || {
            let h = h.clone();
            async move {
                match h.fetch_add(1, Ordering::SeqCst) {
                    0 => (StatusCode::BAD_GATEWAY, "upstream").into_response(),
                    1 => (
                        StatusCode::TOO_MANY_REQUESTS,
                        [(header::RETRY_AFTER, "1")],
                        "slow down",
                    )
                        .into_response(),
                    _ => axum::Json(json!([item(1)])).into_response(),
                }
            }
        }),
    );
    let base = serve(app).await;
    let s = source(&agg_source(&format!("{base}/r"), "", ""));
    let t = Instant::now();
    let p = pull(&s, window("2026-11-01", "2026-11-01"), &env(&[]))
        .await
        .expect("pull");
    assert_eq!(hits.load(Ordering::SeqCst), 3);
    assert_eq!(p.rows.len(), 2);
    assert!(
        t.elapsed() >= Duration::from_millis(950),
        "{:?}",
        t.elapsed()
    );
}

#[tokio::test]
async fn gives_up_after_the_configured_attempts() {
    let hits = Arc::new(AtomicU32::new(0));
    let h = hits.clone();
    let app = Router::new().route(
        "/r",
        get(move || {
            let h = h.clone();
            async move {
                h.fetch_add(1, Ordering::SeqCst);
                (StatusCode::SERVICE_UNAVAILABLE, "down")
            }
        }),
    );
    let base = serve(app).await;
    let s = source(&agg_source(&format!("{base}/r"), "", ""));
    let e = pull(&s, window("2026-11-01", "2026-11-01"), &env(&[]))
        .await
        .expect_err("503");
    assert!(
        matches!(
            e,
            PullError::Http {
                status: 503,
                attempts: 3,
                ..
            }
        ),
        "{e}"
    );
    assert_eq!(hits.load(Ordering::SeqCst), 3);
    assert!(
        e.to_string().contains("HTTP 503 after 3 attempt(s): down"),
        "{e}"
    );
}

#[tokio::test]
async fn timeouts_and_connection_errors() {
    let app = Router::new().route(
        "/slow",
        get(|| async {
            tokio::time::sleep(Duration::from_secs(3)).await;
            "[]"
        }),
    );
    let base = serve(app).await;
    let s = source(&agg_source(
        &format!("{base}/slow"),
        "      timeout: 150ms",
        "",
    ));
    let e = pull(&s, window("2026-11-01", "2026-11-01"), &env(&[]))
        .await
        .expect_err("timeout");
    assert!(matches!(e, PullError::Timeout { attempts: 3, .. }), "{e}");

    // Nothing listens on this port.
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap()
    };
    let s = source(&agg_source(&format!("http://{closed}/r"), "", ""));
    let e = pull(&s, window("2026-11-01", "2026-11-01"), &env(&[]))
        .await
        .expect_err("refused");
    assert!(matches!(e, PullError::Request { .. }), "{e}");
    assert!(e.to_string().contains("after 3 attempts"), "{e}");
}

#[tokio::test]
async fn rate_limit_spaces_requests() {
    let app = Router::new().route(
        "/r",
        get(
            |Query(q): Query<std::collections::HashMap<String, String>>| async move {
                let page: u64 = q["page"].parse().unwrap();
                axum::Json(json!({"rows": [item(page)], "pages": 6}))
            },
        ),
    );
    let base = serve(app).await;
    let s = source(&agg_source(
        &format!("{base}/r"),
        "      rate_limit: 10\n      paging: { style: page, param: page, size: 1, total_pages: pages }",
        "rows",
    ));
    let t = Instant::now();
    let p = pull(&s, window("2026-11-01", "2026-11-01"), &env(&[]))
        .await
        .expect("pull");
    assert_eq!(p.pages.len(), 6);
    assert!(
        t.elapsed() >= Duration::from_millis(480),
        "{:?}",
        t.elapsed()
    );
}

#[tokio::test]
async fn truncation_flag_row_cap_and_page_cap_are_inconclusive() {
    let app = Router::new()
        .route(
            "/flag",
            post(|| async { axum::Json(json!({"table": [item(1)], "incomplete_results": true})) }),
        )
        .route(
            "/cap",
            get(|| async { axum::Json(json!({"table": [item(1), item(2), item(3)]})) }),
        )
        .route(
            "/endless",
            get(
                |Query(q): Query<std::collections::HashMap<String, String>>| async move {
                    let page: u64 = q["page"].parse().unwrap();
                    axum::Json(json!({"table": [item(page)]}))
                },
            ),
        );
    let base = serve(app).await;
    let w = window("2026-11-01", "2026-11-01");
    let s = source(&agg_source(
        &format!("{base}/flag"),
        "      method: POST\n      body: { from: \"{from}\" }\n      truncation: { flag: incomplete_results }",
        "table",
    ));
    let p = pull(&s, w, &env(&[])).await.expect("pull");
    assert!(
        matches!(&p.status, PullStatus::Inconclusive { reason } if reason.contains("incomplete_results")),
        "{:?}",
        p.status
    );

    let s = source(&agg_source(
        &format!("{base}/cap"),
        "      truncation: { row_cap: 3 }",
        "table",
    ));
    let p = pull(&s, w, &env(&[])).await.expect("pull");
    assert!(
        matches!(&p.status, PullStatus::Inconclusive { reason } if reason.contains("documented cap of 3")),
        "{:?}",
        p.status
    );

    let s = source(&agg_source(
        &format!("{base}/endless"),
        "      paging: { style: page, param: page, size: 1, max_pages: 4 }",
        "table",
    ));
    let p = pull(&s, w, &env(&[])).await.expect("pull");
    assert_eq!(p.pages.len(), 4);
    assert!(
        matches!(&p.status, PullStatus::Inconclusive { reason } if reason.contains("page cap of 4")),
        "{:?}",
        p.status
    );
}

#[tokio::test]
async fn bad_bodies_are_errors_with_page_and_row() {
    let app = Router::new()
        .route("/html", get(|| async { "<html>oops</html>" }))
        .route("/shape", get(|| async { axum::Json(json!({"data": {"rows": 5}})) }))
        .route(
            "/missing",
            get(|| async { axum::Json(json!([item(1), {"aff": "P9", "day": "2026-11-01", "amt": "1"}])) }),
        )
        .route(
            "/number",
            get(|| async { axum::Json(json!([item(1), item(2), {"aff": "P9", "day": "2026-11-01", "n": "12x", "amt": "1"}])) }),
        )
        .route(
            "/date",
            get(|| async { axum::Json(json!([{"aff": "P9", "day": "01.11.2026", "n": 1, "amt": "1"}])) }),
        );
    let base = serve(app).await;
    let w = window("2026-11-01", "2026-11-01");
    let run = |path: &str, rows: &str| {
        let s = source(&agg_source(&format!("{base}{path}"), "", rows));
        async move { pull(&s, w, &env(&[])).await.expect_err("bad").to_string() }
    };
    assert!(
        run("/html", "")
            .await
            .starts_with("page 1: the body is not valid JSON")
    );
    assert_eq!(
        run("/shape", "data.rows").await,
        "page 1: row path \"data.rows\" is not a list (found a number)"
    );
    assert_eq!(
        run("/shape", "data.items").await,
        "page 1: row path \"data.items\" is not in the body"
    );
    assert_eq!(
        run("/missing", "").await,
        "row 2: field \"ftd_count\": \"n\" is missing"
    );
    assert_eq!(
        run("/number", "").await,
        "row 3: field \"ftd_count\": \"12x\" is not a number"
    );
    assert_eq!(
        run("/date", "").await,
        "row 1: field \"day\": \"01.11.2026\" is not a date (expected YYYY-MM-DD)"
    );
}

/// A `date_format` that needs a time of day cannot format a window's day: chrono's
/// formatter fails, and `to_string` used to turn that into a panic.
#[tokio::test]
async fn date_format_with_a_time_of_day_is_an_error_not_a_panic() {
    let s = source(&agg_source(
        "http://127.0.0.1:9/r",
        "      date_format: \"%Y-%m-%d %H:%M\"",
        "",
    ));
    let e = pull(&s, window("2026-11-01", "2026-11-01"), &env(&[]))
        .await
        .expect_err("no time of day");
    assert_eq!(
        e.to_string(),
        "source \"s\": date_format \"%Y-%m-%d %H:%M\" cannot format a day (it needs a date only, e.g. \"%Y-%m-%d\")"
    );
}

#[tokio::test]
async fn impact_preset_follows_next_page_uri_with_basic_auth() {
    let app = Router::new().route(
        "/Advertisers/{sid}/Actions",
        get(|headers: HeaderMap, RawQuery(q): RawQuery| async move {
            // "IRsid123:tok456" in Basic auth.
            if headers
                .get(header::AUTHORIZATION)
                .and_then(|v| v.to_str().ok())
                != Some("Basic SVJzaWQxMjM6dG9rNDU2")
            {
                return (StatusCode::UNAUTHORIZED, "auth").into_response();
            }
            let q = q.unwrap_or_default();
            let page2 = q.contains("Page=2");
            if !page2 {
                assert!(q.contains("StartDate=2026-11-01T00%3A00%3A00Z"), "{q}");
                assert!(q.contains("EndDate=2026-11-03T00%3A00%3A00Z"), "{q}");
            }
            let body = if page2 {
                include_str!("fixtures/impact_actions_page2.json")
            } else {
                include_str!("fixtures/impact_actions_page1.json")
            };
            ([(header::CONTENT_TYPE, "application/json")], body).into_response()
        }),
    );
    let base = serve(app).await;
    let s = source("  - { id: impact, system: new, preset: impact, currency: USD }\n");
    let opts = env(&[
        ("IMPACT_BASE_URL", &base),
        ("IMPACT_ACCOUNT_SID", "IRsid123"),
        ("IMPACT_AUTH_TOKEN", "tok456"),
    ]);
    let p = pull(&s, window("2026-11-01", "2026-11-02"), &opts)
        .await
        .expect("pull");
    assert_eq!(p.pages.len(), 2);
    assert!(
        p.pages.iter().all(|pg| !pg.request.contains("IRsid123")),
        "{:?}",
        p.pages
    );
    let events: Vec<_> = p
        .rows
        .iter()
        .filter_map(|r| match r {
            Row::Event(e) => Some(e),
            _ => None,
        })
        .collect();
    assert_eq!(events.len(), 3);
    assert_eq!(events[0].kind, EventType::Ftd);
    assert_eq!(events[0].status, EventStatus::Approved);
    assert_eq!(events[0].amount, Some(Decimal::new(10000, 2)));
    assert_eq!(events[0].coupon.as_deref(), Some("SUMMER10"));
    assert_eq!(events[1].status, EventStatus::Pending);
    assert_eq!(events[2].kind, EventType::Registration);
    assert_eq!(events[2].status, EventStatus::Reversed);
    assert_eq!(
        events[0].occurred_at.to_rfc3339(),
        "2026-11-01T16:30:00+00:00"
    );
}

#[tokio::test]
async fn cellxpert_preset_reads_xml_with_two_headers() {
    let app = Router::new().route(
        "/api/",
        get(|headers: HeaderMap, Query(q): Query<std::collections::HashMap<String, String>>| async move {
            let h = |n: &str| headers.get(n).and_then(|v| v.to_str().ok()).map(str::to_owned);
            if h("x-api-key").as_deref() != Some("cx-key") || h("affiliateid").as_deref() != Some("77") {
                return (StatusCode::UNAUTHORIZED, "auth").into_response();
            }
            assert_eq!(q["command"], "mediareport");
            assert_eq!(q["fromdate"], "2026-11-01");
            (
                [(header::CONTENT_TYPE, "application/xml")],
                include_str!("fixtures/cellxpert_mediareport.xml"),
            )
                .into_response()
        }),
    );
    let base = serve(app).await;
    let s = source("  - { id: cx, system: old, preset: cellxpert }\n");
    let opts = env(&[
        ("CELLXPERT_BASE_URL", &base),
        ("CELLXPERT_API_KEY", "cx-key"),
        ("CELLXPERT_AFFILIATE_ID", "77"),
    ]);
    let p = pull(&s, window("2026-11-01", "2026-11-02"), &opts)
        .await
        .expect("pull");
    assert_eq!(p.pages[0].records, 3);
    assert_eq!(p.rows.len(), 18);
    assert_eq!(total(&p.rows, Metric::FtdCount), Decimal::from(7));
    assert_eq!(total(&p.rows, Metric::Commission), Decimal::new(62550, 2));
    let a = aggregates(&p.rows);
    assert!(a.iter().any(|a| a.link.as_deref() == Some("btag_77_a") && a.currency.as_deref() == Some("EUR")));
    assert!(!p.pages[0].request.contains("cx-key"));
}

#[tokio::test]
async fn csv_over_http_and_malformed_csv() {
    let app = Router::new()
        .route(
            "/ok.csv",
            get(|| async { "date,partner_id,clicks,registrations,ftd,ftd_amount,commission,currency\n2026-11-01,P1,10,3,1,100.50,25,EUR\n2026-11-01,P2,5,1,0,0,0,EUR\n" }),
        )
        .route(
            "/bad.csv",
            get(|| async { "date,partner_id,clicks,registrations,ftd,ftd_amount,commission,currency\n2026-11-01,P1,10\n" }),
        );
    let base = serve(app).await;
    let opts = |path: &str| {
        env(&[
            ("CSV_EXPORT_URL", &format!("{base}{path}")),
            ("CSV_EXPORT_KEY", "k"),
        ])
    };
    let s = source("  - { id: csv, system: bi, preset: csv_export }\n");
    let p = pull(&s, window("2026-11-01", "2026-11-01"), &opts("/ok.csv"))
        .await
        .expect("pull");
    assert_eq!(p.rows.len(), 10);
    assert_eq!(total(&p.rows, Metric::FtdAmount), Decimal::new(10050, 2));
    let e = pull(&s, window("2026-11-01", "2026-11-01"), &opts("/bad.csv"))
        .await
        .expect_err("bad");
    assert!(
        e.to_string().starts_with("page 1: bad CSV at data line 1"),
        "{e}"
    );
}

#[tokio::test]
async fn file_and_sql_sources() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("bi.csv"),
        "partner;day;ftd_amount\nP1;2026-11-01;10.10\nP1;2026-11-02;5\n",
    )
    .unwrap();
    let s = source(
        "  - id: bi
    system: bi
    file: { path: bi.csv }
    format: { type: csv, delimiter: \";\" }
    fields: { partner: partner, day: day }
    metrics: { ftd_amount: ftd_amount }
",
    );
    let mut opts = env(&[]);
    opts.base_dir = dir.path().to_owned();
    let p = pull(&s, window("2026-11-01", "2026-11-02"), &opts)
        .await
        .expect("file");
    assert_eq!(total(&p.rows, Metric::FtdAmount), Decimal::new(1510, 2));
    assert_eq!(p.pages[0].sha256.len(), 64);

    // SQL: a CRM replica in SQLite.
    let db_path = dir.path().join("crm.db");
    let url = format!("sqlite://{}?mode=rwc", db_path.display());
    {
        use sea_orm::ConnectionTrait;
        let db = sea_orm::Database::connect(&url).await.unwrap();
        db.execute_unprepared(
            "create table ftds (id text, day text, at text, partner text, amount text, state text);
             insert into ftds values ('e1', '2026-11-01', '2026-11-01 10:00:00', 'P1', '100.00', 'approved');
             insert into ftds values ('e2', '2026-11-02', '2026-11-02 11:00:00', 'P2', '50.5', 'pending');
             insert into ftds values ('e3', '2026-11-05', '2026-11-05 11:00:00', 'P2', '1', 'approved');",
        )
        .await
        .unwrap();
    }
    let s = source(
        "  - id: crm
    system: crm
    rows: event
    currency: EUR
    sql: { url: \"${CRM_URL}\", query: \"select * from ftds where day between :from and :to order by id\" }
    fields:
      id: id
      kind: { value: ftd }
      occurred_at: at
      partner: partner
      amount: amount
      status: state
",
    );
    let p = pull(
        &s,
        window("2026-11-01", "2026-11-02"),
        &env(&[("CRM_URL", &url)]),
    )
    .await
    .expect("sql");
    assert_eq!(p.rows.len(), 2);
    let Row::Event(e) = &p.rows[1] else { panic!() };
    assert_eq!(e.amount, Some(Decimal::new(505, 1)));
    assert_eq!(e.status, EventStatus::Pending);
    assert_eq!(e.currency.as_deref(), Some("EUR"));
}
