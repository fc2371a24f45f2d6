//! Local connectors: a CSV or JSON file on disk, and a SQL query against a Postgres or
//! SQLite database (a BI warehouse, a CRM replica) given by URL.

use cutover_plan::Source;
use cutover_plan::sources::Template;
use sea_orm::{Database, FromQueryResult, JsonValue, Statement};

use crate::map::Mapper;
use crate::records;
use crate::template::{Vars, redact, render};
use crate::{Page, PullError, PullOptions, PullStatus, Raw, Window, sha256_hex};

pub(crate) async fn file(
    source: &Source,
    path: &Template,
    window: Window,
    opts: &PullOptions,
) -> Result<Raw, PullError> {
    let mut secrets = Vec::new();
    let rendered = render(&source.id, path, &Vars::default(), opts, &mut secrets)?;
    let full = opts.base_dir.join(&rendered.real);
    // The path as shown: a secret in it is `***`.
    let shown = opts.base_dir.join(&rendered.shown).display().to_string();
    let body = tokio::fs::read(&full).await.map_err(|e| PullError::Io {
        path: shown.clone(),
        message: redact(&e.to_string(), &secrets),
    })?;
    let parsed = records::parse(&source.format, &body, 1)?;
    let mapper = Mapper::new(source, Some(window))?;
    let mut rows = Vec::new();
    for (i, rec) in parsed.records.iter().enumerate() {
        mapper.map(rec, i as u64 + 1, &mut rows)?;
    }
    Ok(Raw {
        pages: vec![Page {
            request: format!("FILE {shown}"),
            status: 0,
            bytes: body.len() as u64,
            sha256: sha256_hex(&body),
            records: parsed.records.len() as u64,
        }],
        bodies: vec![body],
        rows,
        status: PullStatus::Complete,
        dropped: mapper.dropped(),
    })
}

pub(crate) async fn sql(
    source: &Source,
    url: &Template,
    query: &str,
    window: Window,
    opts: &PullOptions,
) -> Result<Raw, PullError> {
    let mut secrets = Vec::new();
    let rendered = render(&source.id, url, &Vars::default(), opts, &mut secrets)?;
    let url = rendered.real;
    let db = Database::connect(&url)
        .await
        .map_err(|e| PullError::Sql(redact(&e.to_string(), &secrets)))?;
    let text = query
        .replace(":from", &format!("'{}'", window.from.format("%Y-%m-%d")))
        .replace(":to", &format!("'{}'", window.to.format("%Y-%m-%d")));
    let stmt = Statement::from_string(db.get_database_backend(), text.clone());
    let found = JsonValue::find_by_statement(stmt)
        .all(&db)
        .await
        .map_err(|e| PullError::Sql(redact(&e.to_string(), &secrets)))?;
    let _ = db.close().await;
    let body = serde_json::to_vec(&found).unwrap_or_default();
    let mapper = Mapper::new(source, Some(window))?;
    let mut rows = Vec::new();
    for (i, rec) in found.iter().enumerate() {
        mapper.map(rec, i as u64 + 1, &mut rows)?;
    }
    let host = redact(&rendered.shown, &secrets);
    let host = match host.split_once('@') {
        // Never show credentials embedded in a database URL.
        Some((scheme_user, rest)) => {
            let scheme = scheme_user.split("://").next().unwrap_or("db");
            format!("{scheme}://***@{rest}")
        }
        None => host,
    };
    Ok(Raw {
        pages: vec![Page {
            request: format!("SQL {host}: {text}"),
            status: 0,
            bytes: body.len() as u64,
            sha256: sha256_hex(&body),
            records: found.len() as u64,
        }],
        bodies: vec![body],
        rows,
        status: PullStatus::Complete,
        dropped: mapper.dropped(),
    })
}
