//! cutover-sources: pulls one window of report data from a source declared in the plan
//! (an HTTP report API, a file on disk, or a SQL query) and normalises it into the
//! canonical rows of `cutover-recon`.
//!
//! A pull is all or nothing: it returns every row with the hashes of the raw payloads it
//! read, or an error; a response that is cut off (truncation flag, a page at the row cap
//! with nothing after it, the page cap reached) makes the pull [`PullStatus::Inconclusive`],
//! never silently partial. Storing the result is the caller's job (`cutover-store`).
//! Secrets are read from the environment at pull time and never appear in a [`Pull`],
//! an error, or a trace.

mod diff;
mod http;
mod local;
mod map;
mod records;
mod template;

use std::collections::HashMap;
use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;

use chrono::{DateTime, NaiveDate, Utc};
use cutover_plan::Source;
use cutover_plan::sources::Connector;
use cutover_recon::Row;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

pub use diff::{Change, SnapshotDiff, diff_rows};

/// The report days a pull covers, inclusive, in the source's time zone.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Window {
    pub from: NaiveDate,
    pub to: NaiveDate,
}

/// Looks up an environment variable (tests pass a map; the binary passes the process env).
pub type EnvLookup = Arc<dyn Fn(&str) -> Option<String> + Send + Sync>;

/// Called after every page.
pub type ProgressFn = Arc<dyn Fn(&Progress) + Send + Sync>;

/// How far a pull has got.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Progress {
    pub pages: u32,
    pub rows: u64,
    pub bytes: u64,
}

/// What a pull needs besides the source and the window.
#[derive(Clone)]
pub struct PullOptions {
    pub env: EnvLookup,
    pub progress: Option<ProgressFn>,
    /// Relative `file` paths are read from here (the plan file's directory).
    pub base_dir: PathBuf,
}

impl fmt::Debug for PullOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PullOptions")
            .field("base_dir", &self.base_dir)
            .finish_non_exhaustive()
    }
}

impl PullOptions {
    /// Reads the process environment.
    pub fn from_process_env() -> Self {
        PullOptions {
            env: Arc::new(|k| std::env::var(k).ok()),
            progress: None,
            base_dir: PathBuf::from("."),
        }
    }

    /// Reads the given variables only.
    pub fn with_env(vars: HashMap<String, String>) -> Self {
        PullOptions {
            env: Arc::new(move |k| vars.get(k).cloned()),
            progress: None,
            base_dir: PathBuf::from("."),
        }
    }
}

/// One raw payload read during a pull.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Page {
    /// Method and URL with every secret replaced by `***`.
    pub request: String,
    pub status: u16,
    pub bytes: u64,
    pub sha256: String,
    /// Records the page held (before one record becomes several metric rows).
    pub records: u64,
}

/// Whether the rows are the whole window.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum PullStatus {
    Complete,
    /// The platform said, or the shape of its answer shows, that rows are missing.
    Inconclusive {
        reason: String,
    },
}

impl PullStatus {
    pub fn as_str(&self) -> &'static str {
        match self {
            PullStatus::Complete => "complete",
            PullStatus::Inconclusive { .. } => "inconclusive",
        }
    }
}

/// The result of pulling one window of one source.
#[derive(Debug, Clone, PartialEq)]
pub struct Pull {
    pub source: String,
    pub system: String,
    pub window: Window,
    pub started_at: DateTime<Utc>,
    pub finished_at: DateTime<Utc>,
    pub pages: Vec<Page>,
    /// sha256 over every page's raw bytes, in order.
    pub payload_sha256: String,
    pub bytes: u64,
    pub rows: Vec<Row>,
    pub status: PullStatus,
    /// Records read but left out of `rows` (an aggregate day outside the window, a
    /// long-layout label that is not a metric with `unknown_labels: skip`), counted.
    pub dropped: Vec<Dropped>,
}

/// Records a pull read and left out, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Dropped {
    pub reason: String,
    pub records: u64,
}

impl fmt::Display for Dropped {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {} left out", self.records, self.reason)
    }
}

/// Why a pull failed. Messages never contain secret values.
#[derive(Debug, thiserror::Error)]
pub enum PullError {
    #[error("environment variable {name} is not set (needed by source \"{source_id}\")")]
    MissingEnv { source_id: String, name: String },
    #[error("{request}: {message}")]
    Request { request: String, message: String },
    #[error("{request}: HTTP {status} after {attempts} attempt(s){detail}")]
    Http {
        request: String,
        status: u16,
        attempts: u32,
        detail: String,
    },
    #[error("{request}: timed out after {attempts} attempt(s)")]
    Timeout { request: String, attempts: u32 },
    #[error("page {page}: {message}")]
    Decode { page: u32, message: String },
    /// A 200 answer whose body is an error by the source's `errors:` (the platform's
    /// own message).
    #[error("{request}: the platform answered with an error: {message}")]
    Platform { request: String, message: String },
    #[error("page {page}: row path \"{path}\" {message}")]
    RowPath {
        page: u32,
        path: String,
        message: String,
    },
    #[error("row {row}: field \"{field}\": {message}")]
    Field {
        row: u64,
        field: String,
        message: String,
    },
    #[error("{path}: {message}")]
    Io { path: String, message: String },
    #[error("sql source: {0}")]
    Sql(String),
    #[error("{0}")]
    Config(String),
}

/// Pulls `window` from `source`.
#[tracing::instrument(skip_all, fields(source = %source.id, from = %window.from, to = %window.to), err)]
pub async fn pull(source: &Source, window: Window, opts: &PullOptions) -> Result<Pull, PullError> {
    if window.to < window.from {
        return Err(PullError::Config(format!(
            "the window ends ({}) before it starts ({})",
            window.to, window.from
        )));
    }
    let started_at = Utc::now();
    let raw = match &source.connector {
        Connector::Http(h) => http::pull(source, h, window, opts).await?,
        Connector::File { path } => local::file(source, path, window, opts).await?,
        Connector::Sql { url, query } => local::sql(source, url, query, window, opts).await?,
    };
    let mut hasher = Sha256::new();
    for body in &raw.bodies {
        hasher.update(body);
    }
    Ok(Pull {
        source: source.id.clone(),
        system: source.system.clone(),
        window,
        started_at,
        finished_at: Utc::now(),
        bytes: raw.pages.iter().map(|p| p.bytes).sum(),
        pages: raw.pages,
        payload_sha256: hex::encode(hasher.finalize()),
        rows: raw.rows,
        status: raw.status,
        dropped: raw.dropped,
    })
}

/// What a connector hands back.
pub(crate) struct Raw {
    pub pages: Vec<Page>,
    pub bodies: Vec<Vec<u8>>,
    pub rows: Vec<Row>,
    pub status: PullStatus,
    pub dropped: Vec<Dropped>,
}

pub(crate) fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// Installs the ring crypto provider for rustls once (reqwest is built without one).
pub(crate) fn install_crypto() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let _ = rustls::crypto::ring::default_provider().install_default();
    });
}
