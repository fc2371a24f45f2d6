//! Regression (issue 7): redaction of secrets that hold reserved characters. Redaction used
//! to percent-encode secrets by hand, differently from the URL encoder that built the
//! request (`~` kept, a space as `%20` where the form encoder writes `+`...), so such a key
//! reached the snapshot's stored request unredacted.
//!
//! Every auth kind (query parameter, header, bearer, basic), a secret in a query template
//! and in the URL path, and a next-page URL from the platform that echoes the key; query
//! names and secret values hold every reserved character, a space, `~`, `%`, `"`, `<`, `>`,
//! a backslash and multi-byte characters. Against a real server on 127.0.0.1 that echoes
//! everything it received in its error bodies, no form of a secret may appear in a stored
//! `Page.request`, in an error, or in the trace output (all levels, `log` records too).
//!
//! One test function: it installs the process-wide trace subscriber.

mod common;

use std::io::Write;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::extract::RawQuery;
use axum::http::{HeaderMap, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use common::*;
use cutover_sources::{Pull, PullError, pull};
use serde_json::json;
use url::Url;

/// Distinctive tokens around every reserved character: an alphanumeric token is written
/// as is by every encoder, so its absence shows no part of the secret got out.
const SECRET: &str = "zq7Xv!#$&'()*+,/:;=?@[] ~%\"<>\\é€😀-a1b2c3-w8Ky";
/// What a header can carry (visible ASCII and spaces).
const ASCII_SECRET: &str = "zq7Xv!#$&'()*+,/:;=?@[] ~%\"<>\\-a1b2c3-w8Ky";
/// The other half of a basic-auth pair.
const PASSWORD: &str = "pW9q ~+%2B&=?#/é😀-m4n5";
/// A query-parameter name with every reserved character (not secret, but it must be
/// encoded the same way in the request and in what is shown).
const NAME: &str = "api key!#$&'()*+,/:;=?@[]~%\"<>é";

fn base64(input: &[u8]) -> String {
    const T: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in input.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for (i, shift) in [18, 12, 6, 0].into_iter().enumerate() {
            out.push(if i <= chunk.len() {
                T[(n >> shift) as usize & 63] as char
            } else {
                '='
            });
        }
    }
    out
}

fn form(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

/// Every form a secret can take on the wire or in a body.
fn forms(secret: &str) -> Vec<String> {
    let mut v = vec![secret.to_owned(), form(secret)];
    let pct = |upper: bool, keep: &[u8]| -> String {
        secret
            .bytes()
            .map(|b| {
                if b.is_ascii_alphanumeric() || keep.contains(&b) {
                    (b as char).to_string()
                } else if upper {
                    format!("%{b:02X}")
                } else {
                    format!("%{b:02x}")
                }
            })
            .collect()
    };
    v.push(pct(true, b"-_.~"));
    v.push(pct(false, b"-_.~"));
    v.push(pct(true, b""));
    v.push(pct(false, b""));
    // As the url crate encodes it in a query, a path and a path segment.
    let mut u = Url::parse("http://h/").unwrap();
    u.set_query(Some(secret));
    v.push(u.query().unwrap_or_default().to_owned());
    let mut u = Url::parse("http://h/").unwrap();
    u.set_path(secret);
    v.push(u.path().trim_start_matches('/').to_owned());
    let mut u = Url::parse("http://h/").unwrap();
    u.path_segments_mut().unwrap().push(secret);
    v.push(u.path().trim_start_matches('/').to_owned());
    // As JSON writes it.
    let j = serde_json::to_string(secret).unwrap();
    v.push(j.trim_matches('"').to_owned());
    v.push(base64(secret.as_bytes()));
    v
}

fn leaks() -> Vec<String> {
    let mut v = Vec::new();
    for s in [SECRET, ASCII_SECRET, PASSWORD] {
        v.extend(forms(s));
    }
    for (u, p) in [(SECRET, PASSWORD), (ASCII_SECRET, PASSWORD)] {
        let b = base64(format!("{u}:{p}").as_bytes());
        v.push(form(&b));
        v.push(b);
    }
    v.extend(["zq7Xv", "a1b2c3", "w8Ky", "pW9q", "m4n5"].map(str::to_owned));
    v.sort();
    v.dedup();
    v
}

#[track_caller]
fn assert_clean(what: &str, text: &str) {
    for f in leaks() {
        assert!(!text.contains(&f), "{what} leaks {f:?}:\n{text}");
    }
}

fn assert_pull_clean(what: &str, p: &Pull) {
    for pg in &p.pages {
        assert_clean(what, &pg.request);
    }
    assert_clean(what, &format!("{p:?}"));
}

/// The trace output of the whole test, `log` records included.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Everything the server saw, as text: echoed back in error bodies.
fn echo(uri: &Uri, headers: &HeaderMap) -> String {
    let q = uri.query().unwrap_or_default();
    let decoded: Vec<String> = url::form_urlencoded::parse(q.as_bytes())
        .map(|(k, v)| format!("{k}={v}"))
        .collect();
    let hs: Vec<String> = headers
        .iter()
        .map(|(k, v)| format!("{k}: {}", String::from_utf8_lossy(v.as_bytes())))
        .collect();
    json!({"error": "denied", "uri": uri.to_string(), "query": decoded, "headers": hs}).to_string()
}

fn denied(uri: &Uri, headers: &HeaderMap, status: StatusCode) -> Response {
    (status, echo(uri, headers)).into_response()
}

fn item() -> serde_json::Value {
    json!({"aff": "P1", "day": "2026-11-01", "n": 1, "amt": "1.50"})
}

fn query_has(q: &Option<String>, name: &str, value: &str) -> bool {
    url::form_urlencoded::parse(q.as_deref().unwrap_or_default().as_bytes())
        .any(|(k, v)| k == name && v == value)
}

fn basic_of(headers: &HeaderMap) -> Option<String> {
    headers
        .get(header::AUTHORIZATION)
        .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
}

fn app() -> Router {
    Router::new()
        // Query-parameter auth; `next` pages carry the key as the platform writes it.
        .route(
            "/q",
            get(
                |uri: Uri, headers: HeaderMap, RawQuery(q): RawQuery| async move {
                    if !query_has(&q, NAME, SECRET) {
                        return denied(&uri, &headers, StatusCode::UNAUTHORIZED);
                    }
                    axum::Json(json!([item()])).into_response()
                },
            ),
        )
        .route(
            "/next",
            get(
                |uri: Uri, headers: HeaderMap, RawQuery(q): RawQuery| async move {
                    if !query_has(&q, NAME, SECRET) {
                        return denied(&uri, &headers, StatusCode::UNAUTHORIZED);
                    }
                    if query_has(&q, "page", "2") {
                        return axum::Json(json!({"rows": [item()], "next": null})).into_response();
                    }
                    // The platform's own encoding of the key: every byte, lower-case hex.
                    let key: String = SECRET.bytes().map(|b| format!("%{b:02x}")).collect();
                    let next = format!("/next?page=2&{}={key}", form(NAME));
                    axum::Json(json!({"rows": [item()], "next": next})).into_response()
                },
            ),
        )
        .route(
            "/h",
            get(|uri: Uri, headers: HeaderMap| async move {
                if headers.get("x-api-key").map(|v| v.as_bytes()) != Some(ASCII_SECRET.as_bytes()) {
                    return denied(&uri, &headers, StatusCode::UNAUTHORIZED);
                }
                axum::Json(json!([item()])).into_response()
            }),
        )
        .route(
            "/b",
            get(|uri: Uri, headers: HeaderMap| async move {
                let want = format!("Bearer {ASCII_SECRET}");
                if basic_of(&headers).as_deref() != Some(want.as_str()) {
                    return denied(&uri, &headers, StatusCode::UNAUTHORIZED);
                }
                axum::Json(json!([item()])).into_response()
            }),
        )
        .route(
            "/basic",
            get(|uri: Uri, headers: HeaderMap| async move {
                let want = format!(
                    "Basic {}",
                    base64(format!("{SECRET}:{PASSWORD}").as_bytes())
                );
                if basic_of(&headers).as_deref() != Some(want.as_str()) {
                    return denied(&uri, &headers, StatusCode::UNAUTHORIZED);
                }
                axum::Json(json!([item()])).into_response()
            }),
        )
        // Always fails, retryably: every attempt is traced.
        .route(
            "/down",
            get(|uri: Uri, headers: HeaderMap| async move {
                denied(&uri, &headers, StatusCode::SERVICE_UNAVAILABLE)
            }),
        )
        .fallback(|uri: Uri, headers: HeaderMap| async move {
            denied(&uri, &headers, StatusCode::NOT_FOUND)
        })
}

fn yaml_str(s: &str) -> String {
    serde_json::to_string(s).unwrap()
}

fn src(url: &str, http_extra: &str, rows: &str) -> cutover_plan::Source {
    source(&format!(
        "  - id: s
    system: old
    http:
      url: {}
{http_extra}
      retries: {{ attempts: 2, base_delay: 10ms, max_delay: 20ms }}
    format: {{ type: json, rows: \"{rows}\" }}
    fields: {{ partner: aff, day: day }}
    metrics: {{ ftd_count: n, ftd_amount: amt }}
",
        yaml_str(url)
    ))
}

#[tokio::test]
async fn redaction_of_reserved_chars_in_every_auth_kind() {
    let captured = Captured::default();
    let sink = captured.clone();
    tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_ansi(false)
        .with_writer(move || sink.clone())
        .try_init()
        .expect("the only subscriber of this test binary");

    let base = serve(app()).await;
    let w = window("2026-11-01", "2026-11-01");
    let query_auth = format!(
        "      auth: {{ query: {}, key: \"${{API_KEY}}\" }}",
        yaml_str(NAME)
    );
    let opts = |pairs: &[(&str, &str)]| {
        let mut all: Vec<(&str, &str)> = vec![
            ("API_KEY", SECRET),
            ("ASCII_KEY", ASCII_SECRET),
            ("BASIC_USER", SECRET),
            ("BASIC_PASS", PASSWORD),
        ];
        all.extend_from_slice(pairs);
        env(&all)
    };
    let mut errors: Vec<PullError> = Vec::new();

    // 1. Query-parameter auth: sent exactly, shown as `***` under the same encoded name.
    let s = src(&format!("{base}/q"), &query_auth, "");
    let p = pull(&s, w, &opts(&[])).await.expect("query auth");
    assert_eq!(
        p.pages[0].request,
        format!("GET {base}/q?{}=***", form(NAME))
    );
    assert_pull_clean("query auth", &p);

    // 2. A next-page URL from the platform carrying the key in its own encoding.
    let s = src(
        &format!("{base}/next"),
        &format!("{query_auth}\n      paging: {{ style: next_url, path: next }}"),
        "rows",
    );
    let p = pull(&s, w, &opts(&[])).await.expect("next url");
    assert_eq!(p.pages.len(), 2);
    assert_eq!(
        p.pages[1].request,
        format!("GET {base}/next?page=2&{}=***", form(NAME))
    );
    assert_pull_clean("next url", &p);

    // 3. The key in a query template and in the URL path (where `#`, `?` and `/` break the
    //    path: the platform answers 404, echoing everything it got).
    let s = src(
        &format!("{base}/p/${{ACCOUNT_SID}}/r"),
        "      query: { \"t ok&=\": \"${API_TOKEN}\", plain: \"a b\" }",
        "",
    );
    let e = pull(
        &s,
        w,
        &opts(&[("ACCOUNT_SID", SECRET), ("API_TOKEN", SECRET)]),
    )
    .await
    .expect_err("404");
    let PullError::Http {
        status: 404,
        request,
        ..
    } = &e
    else {
        panic!("{e}")
    };
    assert_eq!(
        request,
        &format!("GET {base}/p/***/r?t+ok%26%3D=***&plain=a+b")
    );
    errors.push(e);

    // 4. Denied, and retried: the echoed query and headers are redacted in the error.
    for (path, auth) in [
        ("/down", query_auth.clone()),
        (
            "/down",
            "      auth: { header: X-Api-Key, key: \"${ASCII_KEY}\" }".to_owned(),
        ),
        (
            "/down",
            "      auth: { bearer: \"${ASCII_KEY}\" }".to_owned(),
        ),
        (
            "/down",
            "      auth: { basic: { user: \"${BASIC_USER}\", password: \"${BASIC_PASS}\" } }"
                .to_owned(),
        ),
        (
            "/q",
            "      auth: { query: api_key, key: \"${API_KEY}\" }".to_owned(),
        ),
    ] {
        let s = src(&format!("{base}{path}"), &auth, "");
        let e = pull(&s, w, &opts(&[])).await.expect_err("denied");
        assert!(matches!(e, PullError::Http { .. }), "{e}");
        errors.push(e);
    }

    // 5. Header, bearer and basic auth succeed with reserved characters.
    for (path, auth) in [
        (
            "/h",
            "      auth: { header: X-Api-Key, key: \"${ASCII_KEY}\" }",
        ),
        ("/b", "      auth: { bearer: \"${ASCII_KEY}\" }"),
        (
            "/basic",
            "      auth: { basic: { user: \"${BASIC_USER}\", password: \"${BASIC_PASS}\" } }",
        ),
    ] {
        let s = src(&format!("{base}{path}"), auth, "");
        let p = pull(&s, w, &opts(&[]))
            .await
            .unwrap_or_else(|e| panic!("{path}: {e}"));
        assert_eq!(p.pages[0].request, format!("GET {base}{path}"));
        assert_pull_clean(path, &p);
    }

    // 6. Multi-byte secrets go out in headers as raw bytes (the server here wants the ASCII
    //    one and echoes what it got); a secret with a line break cannot be a header: a
    //    configuration error that names the header, never the value.
    for path in ["/h", "/b"] {
        let auth = if path == "/h" {
            "      auth: { header: X-Api-Key, key: \"${API_KEY}\" }"
        } else {
            "      auth: { bearer: \"${API_KEY}\" }"
        };
        let s = src(&format!("{base}{path}"), auth, "");
        let e = pull(&s, w, &opts(&[])).await.expect_err("denied");
        assert!(matches!(e, PullError::Http { status: 401, .. }), "{e}");
        errors.push(e);
    }
    for (auth, header) in [
        (
            "      auth: { header: X-Api-Key, key: \"${BAD_KEY}\" }",
            "X-Api-Key",
        ),
        ("      auth: { bearer: \"${BAD_KEY}\" }", "Authorization"),
    ] {
        let s = src(&format!("{base}/h"), auth, "");
        let e = pull(&s, w, &opts(&[("BAD_KEY", "zq7Xv\r\n&=w8Ky")]))
            .await
            .expect_err("bad header");
        assert_eq!(
            e.to_string(),
            format!("source \"s\": header \"{header}\" is not a valid header")
        );
        errors.push(e);
    }

    // 7. An unparsable URL template with a secret in it.
    let s = src("http://[${API_KEY}/r", "", "");
    let e = pull(&s, w, &opts(&[])).await.expect_err("bad url");
    assert!(
        e.to_string()
            .starts_with("source \"s\": \"http://[***/r\" is not a URL"),
        "{e}"
    );
    errors.push(e);

    for e in &errors {
        assert_clean("error", &e.to_string());
        assert_clean("error", &format!("{e:?}"));
    }
    let traces = String::from_utf8_lossy(&captured.0.lock().unwrap()).into_owned();
    // The retries and the failed pulls were traced (so the check below saw them).
    assert!(traces.contains("Retrying."), "{traces}");
    assert!(traces.contains("HTTP 503 after 2 attempt(s)"), "{traces}");
    assert_clean("traces", &traces);
}
