//! Sources as they meet real platform APIs (servers on 127.0.0.1): an error in a 200
//! body shows the platform's own message, a configured truncation path missing from the
//! body makes the pull inconclusive, and a secret passed in `query:` or `headers:`
//! instead of `auth:` is redacted by value wherever it would show.

mod common;

use axum::Router;
use axum::extract::RawQuery;
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use axum::routing::get;
use common::*;
use cutover_sources::{PullError, PullStatus, pull};
use serde_json::json;

fn tune_row() -> serde_json::Value {
    json!({"Stat": {"affiliate_id": "7", "date": "2026-10-01", "clicks": "3", "unique_clicks": "2",
        "conversions": "1", "payout": "5.00", "revenue": "9.50", "currency": "EUR"}})
}

#[tokio::test]
async fn an_error_in_a_200_body_shows_the_platform_message() {
    let app = Router::new().route(
        "/Apiv3/json",
        get(|| async {
            axum::Json(json!({"response": {"status": -1, "data": [], "errors": [
                {"publicMessage": "Invalid NetworkToken tok-3f9a77c2e1"},
                {"publicMessage": "Rate limit 50/min"}
            ]}}))
        }),
    );
    let base = serve(app).await;
    let s = source("  - { id: tu, system: new, preset: tune }\n");
    let e = pull(
        &s,
        window("2026-10-01", "2026-10-01"),
        &env(&[
            ("TUNE_BASE_URL", &base),
            ("TUNE_NETWORK_TOKEN", "tok-3f9a77c2e1"),
        ]),
    )
    .await
    .unwrap_err();
    assert!(matches!(e, PullError::Platform { .. }), "{e}");
    let text = e.to_string();
    assert!(
        text.ends_with(
            ": the platform answered with an error: Invalid NetworkToken ***; Rate limit 50/min"
        ),
        "{text}"
    );
    assert!(!text.contains("tok-3f9a77c2e1"), "{text}");
    assert!(text.contains("NetworkToken=***"), "{text}");
}

#[tokio::test]
async fn a_status_that_is_ok_reads_rows_and_a_missing_truncation_path_is_inconclusive() {
    // status 1 and the total: complete.
    let app = Router::new()
        .route(
            "/with/Apiv3/json",
            get(|| async {
                axum::Json(json!({"response": {"status": 1, "errors": [], "data": {
                    "data": [tune_row()], "pageCount": 1, "count": 1}}}))
            }),
        )
        // No `count`: the configured truncation total is not in the body.
        .route(
            "/without/Apiv3/json",
            get(|| async {
                axum::Json(json!({"response": {"status": 1, "errors": [], "data": {
                    "data": [tune_row()], "pageCount": 1}}}))
            }),
        );
    let base = serve(app).await;
    let s = source("  - { id: tu, system: new, preset: tune }\n");
    let w = window("2026-10-01", "2026-10-01");
    let p = pull(
        &s,
        w,
        &env(&[
            ("TUNE_BASE_URL", &format!("{base}/with")),
            ("TUNE_NETWORK_TOKEN", "t0ken-value"),
        ]),
    )
    .await
    .expect("pull");
    assert_eq!(p.status, PullStatus::Complete);
    assert_eq!(p.rows.len(), 5);
    let p = pull(
        &s,
        w,
        &env(&[
            ("TUNE_BASE_URL", &format!("{base}/without")),
            ("TUNE_NETWORK_TOKEN", "t0ken-value"),
        ]),
    )
    .await
    .expect("pull");
    assert_eq!(
        p.status,
        PullStatus::Inconclusive {
            reason: "page 1 has no truncation total at \"response.data.count\" (configured under http.truncation), so whether the report is complete cannot be told".into()
        }
    );
}

/// `query:` and `headers:` read variables whose names do not look secret; their values
/// are still never shown: not in the stored request, not in an error the platform
/// echoes them in.
#[tokio::test]
async fn secrets_in_query_and_headers_are_redacted_by_value() {
    let app = Router::new().route(
        "/r",
        get(|RawQuery(q): RawQuery, h: HeaderMap| async move {
            let account = h
                .get("x-account")
                .and_then(|v| v.to_str().ok())
                .unwrap_or("")
                .to_owned();
            if account != "acct-hidden-42" {
                return (StatusCode::BAD_REQUEST, "no account").into_response();
            }
            let q = q.unwrap_or_default();
            if q.contains("page=2") {
                // The platform echoes what it got, credential included.
                return (
                    StatusCode::FORBIDDEN,
                    format!("denied for query {q} and account {account}"),
                )
                    .into_response();
            }
            axum::Json(json!([{"p": "A", "d": "2026-10-01", "c": 1}])).into_response()
        }),
    );
    let base = serve(app).await;
    let yaml = |path: &str| {
        format!(
            "  - id: s
    system: old
    http:
      url: \"{base}{path}\"
      query: {{ credential: \"${{PARTNER_CREDENTIAL}}\", tz: \"${{REPORT_TZ:-UTC}}\" }}
      headers: {{ X-Account: \"${{ACCOUNT_HANDLE}}\" }}
    format: {{ type: json }}
    fields: {{ partner: p, day: d }}
    metrics: {{ clicks_gross: c }}
"
        )
    };
    let opts = env(&[
        ("PARTNER_CREDENTIAL", "cred-9d8c7b6a"),
        ("ACCOUNT_HANDLE", "acct-hidden-42"),
    ]);
    let w = window("2026-10-01", "2026-10-01");
    let p = pull(&source(&yaml("/r")), w, &opts).await.expect("pull");
    assert_eq!(
        p.pages[0].request,
        format!("GET {base}/r?credential=***&tz=UTC")
    );
    let e = pull(&source(&yaml("/r?page=2")), w, &opts)
        .await
        .unwrap_err()
        .to_string();
    assert!(e.contains("HTTP 403"), "{e}");
    assert!(
        !e.contains("cred-9d8c7b6a") && !e.contains("acct-hidden-42"),
        "{e}"
    );
    assert!(
        e.contains("credential=***") && e.contains("account ***"),
        "{e}"
    );
}
