//! cutover-sim: a seeded simulated affiliate program served as two tracking platforms
//! over HTTP on loopback, so the whole product can be seen working without access to a
//! real platform.
//!
//! Both platforms answer in the API shapes of the presets in `workflows/presets/`
//! (Everflow entity table, TUNE getStats, CAKE row offsets, CSV export) under
//! `/old/...` and `/new/...`; by convention the old platform is pulled as Everflow (or
//! CAKE for windows beyond Everflow's 10,000-row cap) and the new one as TUNE. Both also
//! serve event-level data (registrations, FTDs, deposits) as Impact Actions. The new
//! platform differs by the documented causes in [`Differences`]; `GET /truth` (and
//! [`SimHandle::truth`]) lists what was injected. [`Faults`] adds 5xx bursts, slow
//! responses, truncated answers and malformed bodies.

mod events;
mod pair;
mod program;

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use chrono::{NaiveDate, Utc};
use rust_decimal::Decimal;

pub use events::{EventKind, SimEvent};
pub use pair::{AccountRef, Accounts, CrmDrift, PartnerRecord, Transfer, is_business_day};
pub use program::{Deal, Differences, Facts, Partner, Platform, Program, Truth};

/// Failures the simulator can act out.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Faults {
    /// The first N report requests answer 503 (with `Retry-After: 0`).
    pub burst_5xx: u32,
    /// The first N report requests answer 429 with `Retry-After: 1`.
    pub burst_429: u32,
    /// Every report answer is delayed this long.
    pub slow: Duration,
    /// Answers say they are cut off (Everflow `incomplete_results`; TUNE/CAKE pages stop
    /// short at the cap).
    pub truncate: bool,
    /// The N-th report request (1-based) gets a broken JSON body.
    pub malformed_request: Option<u32>,
}

/// API keys the platforms accept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Keys {
    pub old: String,
    pub new: String,
}

impl Default for Keys {
    fn default() -> Self {
        Keys {
            old: "sim-old-key".to_owned(),
            new: "sim-new-key".to_owned(),
        }
    }
}

/// How to build the simulated program.
#[derive(Debug, Clone)]
pub struct SimConfig {
    pub seed: u64,
    pub partners: usize,
    pub days: u32,
    /// The current day (defaults to today, UTC).
    pub today: Option<NaiveDate>,
    /// Today's numbers grow with the wall clock.
    pub live: bool,
    pub differences: Differences,
    pub faults: Faults,
    pub keys: Keys,
}

impl Default for SimConfig {
    fn default() -> Self {
        SimConfig {
            seed: 1,
            partners: 300,
            days: 90,
            today: None,
            live: false,
            differences: Differences::default(),
            faults: Faults::default(),
            keys: Keys::default(),
        }
    }
}

struct AppState {
    program: Program,
    faults: Faults,
    keys: Keys,
    requests: AtomicU32,
    /// The event lists of the latest Actions queries, so that paging through one query
    /// generates its events once instead of once per page.
    events: std::sync::Mutex<Vec<(EventQuery, Arc<Vec<SimEvent>>)>>,
}

/// What an Actions page is cut from: the platform, the queried instants and, while events
/// of the window may still arrive, the cutoff they are served before (it moves with the
/// clock when the program is live).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct EventQuery {
    platform: Platform,
    from: chrono::DateTime<Utc>,
    to: chrono::DateTime<Utc>,
    cutoff: Option<chrono::DateTime<Utc>>,
}

/// How many event lists [`AppState::events`] keeps (one query per platform at a time).
const EVENT_CACHE: usize = 2;

impl AppState {
    /// Every event `platform` reports as occurred in `from..to`, in the order the pages
    /// serve them. Generated once per query and cutoff; later pages reuse the list.
    fn events(
        &self,
        platform: Platform,
        from: chrono::DateTime<Utc>,
        to: chrono::DateTime<Utc>,
    ) -> Arc<Vec<SimEvent>> {
        let program = &self.program;
        // An event is recorded at most `late_days` days and a day after it occurred: a
        // window that ended before that is settled, whatever the clock says.
        let cutoff = program.event_cutoff();
        let settled = chrono::Days::new(u64::from(program.diffs.late_days) + 1);
        let key = EventQuery {
            platform,
            from,
            to,
            cutoff: to
                .checked_add_days(settled)
                .is_none_or(|t| t > cutoff)
                .then_some(cutoff),
        };
        let lock = || self.events.lock().unwrap_or_else(|p| p.into_inner());
        if let Some((_, list)) = lock().iter().find(|(k, _)| *k == key) {
            return Arc::clone(list);
        }
        let mut events = Vec::new();
        let mut d = from.date_naive();
        let last = (to - chrono::TimeDelta::seconds(1)).date_naive();
        while d <= last {
            for i in 0..program.partners.len() {
                events.extend(
                    program
                        .events(i, d, platform)
                        .into_iter()
                        .filter(|e| e.occurred_at >= from && e.occurred_at < to),
                );
            }
            d = d + chrono::Days::new(1);
        }
        let list = Arc::new(events);
        let mut cache = lock();
        cache.retain(|(k, _)| *k != key);
        if cache.len() >= EVENT_CACHE {
            cache.remove(0);
        }
        cache.push((key, Arc::clone(&list)));
        list
    }
}

/// A running simulator.
pub struct SimHandle {
    pub addr: SocketAddr,
    program: Program,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<()>,
}

impl SimHandle {
    /// `http://127.0.0.1:PORT/old` or `/new`.
    pub fn base_url(&self, platform: Platform) -> String {
        match platform {
            Platform::Old => format!("http://{}/old", self.addr),
            Platform::New => format!("http://{}/new", self.addr),
        }
    }

    pub fn truth(&self) -> Truth {
        self.program.ground_truth()
    }

    pub fn program(&self) -> &Program {
        &self.program
    }

    /// Stops the server and waits for it.
    pub async fn stop(mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        let _ = (&mut self.task).await;
    }
}

/// Builds the program a config describes.
pub fn program(config: &SimConfig) -> Program {
    let today = config.today.unwrap_or_else(|| Utc::now().date_naive());
    let mut p = Program::new(
        config.seed,
        config.partners,
        config.days,
        today,
        config.differences.clone(),
    );
    p.live = config.live;
    p
}

/// Starts the simulator on `addr` (use port 0 for any free port).
pub async fn start(config: SimConfig, addr: SocketAddr) -> std::io::Result<SimHandle> {
    let program = program(&config);
    let state = Arc::new(AppState {
        program: program.clone(),
        faults: config.faults,
        keys: config.keys,
        requests: AtomicU32::new(0),
        events: std::sync::Mutex::new(Vec::new()),
    });
    let app = router(state);
    let listener = tokio::net::TcpListener::bind(addr).await?;
    let addr = listener.local_addr()?;
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        let _ = axum::serve(listener, app)
            .with_graceful_shutdown(async {
                let _ = rx.await;
            })
            .await;
    });
    Ok(SimHandle {
        addr,
        program,
        shutdown: Some(tx),
        task,
    })
}

fn router(state: Arc<AppState>) -> Router {
    Router::new()
        .route("/truth", get(truth))
        .route("/{platform}/partners", get(partners))
        .route("/{platform}/partners/history", get(partner_history))
        .route("/rates/eurofxref-hist.xml", get(rates_xml))
        .route("/rates/rates.csv", get(rates_csv))
        .route("/crm/partners.json", get(crm_json))
        .route("/crm/partners.csv", get(crm_csv))
        .route(
            "/{platform}/v1/networks/reporting/entity/table",
            post(everflow),
        )
        .route("/{platform}/Apiv3/json", get(tune))
        .route("/{platform}/api/2/report/affiliate.json", get(cake))
        .route("/{platform}/export.csv", get(csv_export))
        .route("/{platform}/Advertisers/{sid}/Actions", get(impact_actions))
        .with_state(state)
}

fn platform_of(s: &str) -> Option<Platform> {
    match s {
        "old" => Some(Platform::Old),
        "new" => Some(Platform::New),
        _ => None,
    }
}

fn error(status: StatusCode, msg: &str) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "application/json")],
        format!(
            "{{\"error\":{}}}",
            serde_json::Value::String(msg.to_owned())
        ),
    )
        .into_response()
}

/// What every query-key report endpoint does first: the platform from the path, the
/// key from query parameter `key_param`, then the configured fault (if any).
async fn admit(
    state: &AppState,
    platform: &str,
    raw: Option<String>,
    key_param: &str,
) -> Result<(Platform, Vec<(String, String)>), Response> {
    let Some(pf) = platform_of(platform) else {
        return Err(error(StatusCode::NOT_FOUND, "no such platform"));
    };
    let q = query_pairs(raw);
    if !key_ok(state, pf, get_q(&q, key_param)) {
        return Err(error(
            StatusCode::UNAUTHORIZED,
            &format!("invalid {key_param}"),
        ));
    }
    if let (_, Some(r)) = fault(state).await {
        return Err(r);
    }
    Ok((pf, q))
}

/// Applies the fault mode; `Some(response)` when the request must fail.
async fn fault(state: &AppState) -> (u32, Option<Response>) {
    let n = state.requests.fetch_add(1, Ordering::SeqCst) + 1;
    let f = &state.faults;
    if !f.slow.is_zero() {
        tokio::time::sleep(f.slow).await;
    }
    if n <= f.burst_5xx {
        return (
            n,
            Some(
                (
                    StatusCode::SERVICE_UNAVAILABLE,
                    [(header::RETRY_AFTER, "0")],
                    "temporarily unavailable",
                )
                    .into_response(),
            ),
        );
    }
    if n <= f.burst_5xx + f.burst_429 {
        return (
            n,
            Some(
                (
                    StatusCode::TOO_MANY_REQUESTS,
                    [(header::RETRY_AFTER, "1")],
                    "slow down",
                )
                    .into_response(),
            ),
        );
    }
    if f.malformed_request == Some(n) {
        return (
            n,
            Some(
                (
                    StatusCode::OK,
                    [(header::CONTENT_TYPE, "application/json")],
                    "{\"table\": [{\"columns\": [",
                )
                    .into_response(),
            ),
        );
    }
    (n, None)
}

fn key_ok(state: &AppState, platform: Platform, given: Option<&str>) -> bool {
    let want = match platform {
        Platform::Old => &state.keys.old,
        Platform::New => &state.keys.new,
    };
    given == Some(want.as_str())
}

/// Parsed query string (repeated keys kept).
fn query_pairs(raw: Option<String>) -> Vec<(String, String)> {
    let raw = raw.unwrap_or_default();
    raw.split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (decode(k), decode(v))
        })
        .collect()
}

fn decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => {
                match u8::from_str_radix(
                    std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap_or("zz"),
                    16,
                ) {
                    Ok(b) => {
                        out.push(b);
                        i += 2;
                    }
                    Err(_) => out.push(b'%'),
                }
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn get_q<'a>(q: &'a [(String, String)], key: &str) -> Option<&'a str> {
    q.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
}

fn day(s: Option<&str>) -> Option<NaiveDate> {
    NaiveDate::parse_from_str(s?.get(..10)?, "%Y-%m-%d").ok()
}

/// The rows of a window: day-major, then report slot (partner, or the new platform's
/// account).
struct WindowRows<'p> {
    program: &'p Program,
    platform: Platform,
    from: NaiveDate,
    days: usize,
    slots: usize,
}

impl WindowRows<'_> {
    fn new(
        program: &Program,
        platform: Platform,
        from: NaiveDate,
        to: NaiveDate,
    ) -> WindowRows<'_> {
        let days = if to < from {
            0
        } else {
            (to - from).num_days() as usize + 1
        };
        WindowRows {
            program,
            platform,
            from,
            days,
            slots: program.slots(platform),
        }
    }

    fn len(&self) -> usize {
        self.days * self.slots
    }

    /// Row `idx`: the partner id as the platform reports it, the day and the facts.
    fn row(&self, idx: usize) -> (&str, NaiveDate, Facts) {
        let d = self.from + chrono::Days::new((idx / self.slots) as u64);
        let (id, f) = self.program.report_row(self.platform, idx % self.slots, d);
        (id, d, f)
    }
}

/// What was injected; with `from` and `to` (at most 31 days apart) also the window's
/// differing values ([`Program::window_truth`]).
async fn truth(State(state): State<Arc<AppState>>, RawQuery(raw): RawQuery) -> Response {
    let q = query_pairs(raw);
    let mut t = state.program.ground_truth();
    match (get_q(&q, "from"), get_q(&q, "to")) {
        (None, None) => {}
        (f, to) => match (day(f), day(to)) {
            (Some(f), Some(to)) if f <= to && (to - f).num_days() <= 31 => {
                t.window = Some(state.program.window_truth(f, to));
            }
            _ => {
                return error(
                    StatusCode::BAD_REQUEST,
                    "from and to must be days (YYYY-MM-DD), in order, at most 31 days apart",
                );
            }
        },
    }
    let body = serde_json::to_string_pretty(&t).unwrap_or_default();
    ([(header::CONTENT_TYPE, "application/json")], body).into_response()
}

/// The platform's partner list: one entry per partner (old platform) or per account (a
/// new platform with its own ids, whose `ref_id` is the old platform's id of the
/// account's current partner), with the master as this platform names it.
async fn partners(State(state): State<Arc<AppState>>, Path(platform): Path<String>) -> Response {
    let Some(pf) = platform_of(&platform) else {
        return error(StatusCode::NOT_FOUND, "no such platform");
    };
    let prog = &state.program;
    let today = prog.today;
    let list: Vec<serde_json::Value> = match pf {
        Platform::New if prog.new_ids() => {
            // Each account's current owner (or its last one, for a closed account).
            let mut owners: std::collections::HashMap<String, (bool, usize)> =
                std::collections::HashMap::new();
            for h in prog.accounts.history() {
                let current = h.to.is_none_or(|t| today < t);
                let e = owners.entry(h.account).or_insert((current, h.owner));
                if current || !e.0 {
                    *e = (current, h.owner);
                }
            }
            prog.new_records()
                .into_iter()
                .map(|r| {
                    let owner = owners.get(&r.id).map_or(0, |o| o.1);
                    let p = &prog.partners[owner];
                    serde_json::json!({
                        "id": r.id, "ref_id": p.id, "name": r.name, "email": r.email,
                        "country": r.country, "status": r.status,
                        "master": prog.master_id(owner, pf, today), "links": p.links,
                        "coupon": p.coupon, "deal": p.deal,
                    })
                })
                .collect()
        }
        _ => prog
            .partners
            .iter()
            .enumerate()
            .map(|(i, p)| {
                let r = prog.record_of(p.id.clone(), i, false);
                serde_json::json!({
                    "id": p.id, "ref_id": p.id, "name": r.name, "email": r.email,
                    "country": r.country, "status": r.status,
                    "master": prog.master(i, pf), "links": p.links,
                    "coupon": p.coupon, "deal": p.deal,
                })
            })
            .collect(),
    };
    json_response(&list)
}

fn json_response<T: serde::Serialize>(v: &T) -> Response {
    (
        [(header::CONTENT_TYPE, "application/json")],
        serde_json::to_string(v).unwrap_or_default(),
    )
        .into_response()
}

/// The partner crosswalk as the new platform keeps it: one entry per account and owner
/// period (`ref_id` the old id; `master` the owner's master then, in this platform's ids;
/// `valid_from` inclusive, `valid_to` exclusive, null when open): the crosswalk and the
/// dated tree. On the old platform, and a new one without its own ids, every id refers to
/// itself.
async fn partner_history(
    State(state): State<Arc<AppState>>,
    Path(platform): Path<String>,
) -> Response {
    let Some(pf) = platform_of(&platform) else {
        return error(StatusCode::NOT_FOUND, "no such platform");
    };
    let prog = &state.program;
    let list: Vec<serde_json::Value> = if pf == Platform::New && prog.new_ids() {
        prog.accounts
            .history()
            .into_iter()
            .map(|h| {
                // The owner's master during the period (masters keep their accounts).
                let on = h.from.unwrap_or(prog.first_day);
                serde_json::json!({
                    "id": h.account, "ref_id": prog.partners[h.owner].id,
                    "master": prog.master_id(h.owner, pf, on),
                    "valid_from": h.from, "valid_to": h.to,
                })
            })
            .collect()
    } else {
        prog.partners
            .iter()
            .enumerate()
            .map(|(i, p)| {
                serde_json::json!({
                    "id": p.id, "ref_id": p.id, "master": prog.master(i, pf),
                    "valid_from": null, "valid_to": null,
                })
            })
            .collect()
    };
    json_response(&list)
}

/// The days of a `from`/`to` query (default: the whole history), newest first as the
/// ECB lists them. The window starts at the last business day on or before `from`, so
/// a window opening on a weekend still has the rate in force then.
fn rate_days(prog: &Program, q: &[(String, String)]) -> Vec<NaiveDate> {
    let mut from = day(get_q(q, "from")).unwrap_or(prog.first_day);
    for _ in 0..7 {
        if is_business_day(from) {
            break;
        }
        from = from.pred_opt().unwrap_or(from);
    }
    let to = day(get_q(q, "to")).unwrap_or(prog.today);
    let mut out = Vec::new();
    let mut d = to;
    while d >= from {
        out.push(d);
        match d.pred_opt() {
            Some(p) => d = p,
            None => break,
        }
    }
    out
}

/// USD per EUR in the ECB's euro foreign exchange reference rate XML
/// (`eurofxref-hist.xml`): business days only, newest first; `from`/`to` narrow it.
async fn rates_xml(State(state): State<Arc<AppState>>, RawQuery(raw): RawQuery) -> Response {
    let prog = &state.program;
    let q = query_pairs(raw);
    let mut out = String::from(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<gesmes:Envelope xmlns:gesmes=\"http://www.gesmes.org/xml/2002-08-01\" xmlns=\"http://www.ecb.int/vocabulary/2002-08-01/eurofxref\">\n\t<gesmes:subject>Reference rates</gesmes:subject>\n\t<gesmes:Sender>\n\t\t<gesmes:name>European Central Bank</gesmes:name>\n\t</gesmes:Sender>\n\t<Cube>\n",
    );
    for d in rate_days(prog, &q) {
        if let Some(r) = prog.ecb_rate(d) {
            out.push_str(&format!(
                "\t\t<Cube time=\"{d}\">\n\t\t\t<Cube currency=\"USD\" rate=\"{r}\"/>\n\t\t</Cube>\n"
            ));
        }
    }
    out.push_str("\t</Cube>\n</gesmes:Envelope>\n");
    ([(header::CONTENT_TYPE, "application/xml")], out).into_response()
}

/// The same rates as CSV, one row per business day: `usd_per_eur` is the ECB quote,
/// `eur_per_usd` its inverse to 10 decimals (units of EUR for one USD, what a `rates`
/// source of a EUR plan reads).
async fn rates_csv(State(state): State<Arc<AppState>>, RawQuery(raw): RawQuery) -> Response {
    let prog = &state.program;
    let q = query_pairs(raw);
    let mut out = String::from("day,currency,usd_per_eur,eur_per_usd\n");
    let mut days = rate_days(prog, &q);
    days.reverse();
    for d in days {
        if let Some(r) = prog.ecb_rate(d) {
            let inv = pair::eur_per_usd(r);
            out.push_str(&format!("{d},USD,{r},{inv}\n"));
        }
    }
    ([(header::CONTENT_TYPE, "text/csv")], out).into_response()
}

fn crm_rows(prog: &Program) -> Vec<serde_json::Value> {
    prog.crm_records()
        .into_iter()
        .map(|r| {
            serde_json::json!({
                "partner_id": r.id, "name": r.name, "email": r.email,
                "country": r.country, "status": r.status,
            })
        })
        .collect()
}

/// The CRM's partner table (synced from the new platform, keyed by its ids) as JSON.
async fn crm_json(State(state): State<Arc<AppState>>) -> Response {
    json_response(&crm_rows(&state.program))
}

/// The CRM's partner table as CSV.
async fn crm_csv(State(state): State<Arc<AppState>>) -> Response {
    let mut out = String::from("partner_id,name,email,country,status\n");
    for r in state.program.crm_records() {
        out.push_str(&format!(
            "{},{},{},{},{}\n",
            r.id, r.name, r.email, r.country, r.status
        ));
    }
    ([(header::CONTENT_TYPE, "text/csv")], out).into_response()
}

fn d4(v: Decimal) -> String {
    v.normalize().to_string()
}

async fn everflow(
    State(state): State<Arc<AppState>>,
    Path(platform): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let Some(pf) = platform_of(&platform) else {
        return error(StatusCode::NOT_FOUND, "no such platform");
    };
    let key = headers.get("x-eflow-api-key").and_then(|v| v.to_str().ok());
    if !key_ok(&state, pf, key) {
        return error(StatusCode::UNAUTHORIZED, "invalid API key");
    }
    let (_, failed) = fault(&state).await;
    if let Some(r) = failed {
        return r;
    }
    let Ok(req) = serde_json::from_slice::<serde_json::Value>(&body) else {
        return error(StatusCode::BAD_REQUEST, "body must be JSON");
    };
    let (Some(from), Some(to)) = (day(req["from"].as_str()), day(req["to"].as_str())) else {
        return error(
            StatusCode::BAD_REQUEST,
            "from and to are required (YYYY-MM-DD)",
        );
    };
    let rows = WindowRows::new(&state.program, pf, from, to);
    let cap = 10_000usize;
    let n = rows.len().min(cap);
    let incomplete = rows.len() > cap || state.faults.truncate;
    let n = if state.faults.truncate { n / 2 } else { n };
    let mut out = String::with_capacity(n * 260 + 64);
    out.push_str("{\"table\":[");
    for i in 0..n {
        let (id, d, f) = rows.row(i);
        if i > 0 {
            out.push(',');
        }
        let ts = d
            .and_hms_opt(0, 0, 0)
            .map(|t| t.and_utc().timestamp())
            .unwrap_or(0);
        out.push_str(&format!(
            "{{\"columns\":[{{\"column_type\":\"affiliate\",\"id\":\"{id}\",\"label\":\"Partner {id}\"}},{{\"column_type\":\"date\",\"id\":\"{ts}\",\"label\":\"{d}\"}}],\"reporting\":{{\"imp\":0,\"total_click\":{},\"unique_click\":{},\"cv\":{},\"payout\":{},\"revenue\":{}}}}}",
            f.clicks_gross,
            f.clicks_unique,
            f.ftd_count,
            d4(f.commission),
            d4(f.net_revenue),
        ));
    }
    out.push_str(&format!("],\"incomplete_results\":{incomplete}}}"));
    ([(header::CONTENT_TYPE, "application/json")], out).into_response()
}

async fn tune(
    State(state): State<Arc<AppState>>,
    Path(platform): Path<String>,
    RawQuery(raw): RawQuery,
) -> Response {
    let (pf, q) = match admit(&state, &platform, raw, "NetworkToken").await {
        Ok(ok) => ok,
        Err(r) => return r,
    };
    let values: Vec<&str> = q
        .iter()
        .filter(|(k, _)| k == "filters[Stat.date][values][]")
        .map(|(_, v)| v.as_str())
        .collect();
    let (Some(from), Some(to)) = (day(values.first().copied()), day(values.get(1).copied())) else {
        return error(
            StatusCode::BAD_REQUEST,
            "a Stat.date BETWEEN filter is required",
        );
    };
    let page: usize = get_q(&q, "page")
        .and_then(|v| v.parse().ok())
        .unwrap_or(1)
        .max(1);
    let limit: usize = get_q(&q, "limit")
        .and_then(|v| v.parse().ok())
        .unwrap_or(50)
        .clamp(1, 100_000);
    let rows = WindowRows::new(&state.program, pf, from, to);
    let total = rows.len();
    let page_count = total.div_ceil(limit);
    // Saturating: page and limit come from the request.
    let start = (page - 1).saturating_mul(limit).min(total);
    let mut end = start.saturating_add(limit).min(total);
    if state.faults.truncate && end > start {
        end = start + (end - start) / 2;
    }
    let currency = state.program.currency(pf);
    let mut out = String::with_capacity((end.saturating_sub(start)) * 220 + 200);
    out.push_str("{\"request\":{\"Target\":\"Affiliate_Report\",\"Method\":\"getStats\"},\"response\":{\"status\":1,\"httpStatus\":200,\"data\":{");
    out.push_str(&format!(
        "\"page\":{page},\"current\":{},\"count\":{total},\"pageCount\":{page_count},\"data\":[",
        end.saturating_sub(start)
    ));
    for i in start..end {
        let (id, d, f) = rows.row(i);
        if i > start {
            out.push(',');
        }
        out.push_str(&format!(
            "{{\"Stat\":{{\"affiliate_id\":\"{id}\",\"date\":\"{d}\",\"clicks\":\"{}\",\"unique_clicks\":\"{}\",\"conversions\":\"{}\",\"payout\":\"{}\",\"revenue\":\"{}\",\"currency\":\"{currency}\"}}}}",
            f.clicks_gross,
            f.clicks_unique,
            f.ftd_count,
            d4(f.commission),
            d4(f.net_revenue),
        ));
    }
    out.push_str("]},\"errors\":[]}}");
    ([(header::CONTENT_TYPE, "application/json")], out).into_response()
}

async fn cake(
    State(state): State<Arc<AppState>>,
    Path(platform): Path<String>,
    RawQuery(raw): RawQuery,
) -> Response {
    let (pf, q) = match admit(&state, &platform, raw, "api_key").await {
        Ok(ok) => ok,
        Err(r) => return r,
    };
    let (Some(from), Some(to)) = (day(get_q(&q, "start_date")), day(get_q(&q, "end_date"))) else {
        return error(
            StatusCode::BAD_REQUEST,
            "start_date and end_date are required",
        );
    };
    let start_at: usize = get_q(&q, "start_at_row")
        .and_then(|v| v.parse().ok())
        .unwrap_or(1)
        .max(1);
    let limit: usize = get_q(&q, "row_limit")
        .and_then(|v| v.parse().ok())
        .unwrap_or(100)
        .clamp(1, 10_000);
    let rows = WindowRows::new(&state.program, pf, from, to);
    let total = rows.len();
    let start = start_at - 1;
    let end = if state.faults.truncate {
        // A truncating platform answers a full page and then nothing.
        if start == 0 { limit.min(total) } else { start }
    } else {
        start.saturating_add(limit).min(total)
    };
    let mut out = String::with_capacity(end.saturating_sub(start) * 200 + 100);
    out.push_str(&format!(
        "{{\"request_status\":\"Success\",\"response\":{{\"row_count\":{total},\"data\":{{\"affiliates\":["
    ));
    for i in start..end.max(start) {
        let (id, d, f) = rows.row(i);
        if i > start {
            out.push(',');
        }
        out.push_str(&format!(
            "{{\"affiliate_id\":{id},\"date\":\"{d}\",\"clicks\":{},\"unique_clicks\":{},\"conversions\":{},\"cost\":{},\"revenue\":{}}}",
            f.clicks_gross,
            f.clicks_unique,
            f.ftd_count,
            d4(f.commission),
            d4(f.net_revenue),
        ));
    }
    out.push_str("]}}}");
    ([(header::CONTENT_TYPE, "application/json")], out).into_response()
}

async fn csv_export(
    State(state): State<Arc<AppState>>,
    Path(platform): Path<String>,
    RawQuery(raw): RawQuery,
) -> Response {
    let (pf, q) = match admit(&state, &platform, raw, "key").await {
        Ok(ok) => ok,
        Err(r) => return r,
    };
    let (Some(from), Some(to)) = (day(get_q(&q, "from")), day(get_q(&q, "to"))) else {
        return error(StatusCode::BAD_REQUEST, "from and to are required");
    };
    let rows = WindowRows::new(&state.program, pf, from, to);
    let currency = state.program.currency(pf);
    let mut out =
        String::from("date,partner_id,clicks,registrations,ftd,ftd_amount,commission,currency\n");
    for i in 0..rows.len() {
        let (id, d, f) = rows.row(i);
        out.push_str(&format!(
            "{d},{id},{},{},{},{},{},{currency}\n",
            f.clicks_gross,
            f.registrations,
            f.ftd_count,
            d4(f.ftd_amount),
            d4(f.commission)
        ));
    }
    ([(header::CONTENT_TYPE, "text/csv")], out).into_response()
}

fn base64_decode(s: &str) -> Option<Vec<u8>> {
    let val = |c: u8| -> Option<u32> {
        Some(match c {
            b'A'..=b'Z' => u32::from(c - b'A'),
            b'a'..=b'z' => u32::from(c - b'a') + 26,
            b'0'..=b'9' => u32::from(c - b'0') + 52,
            b'+' => 62,
            b'/' => 63,
            _ => return None,
        })
    };
    let s = s.trim().trim_end_matches('=');
    let mut out = Vec::with_capacity(s.len() * 3 / 4);
    let (mut acc, mut bits) = (0u32, 0u32);
    for c in s.bytes() {
        acc = (acc << 6) | val(c)?;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    Some(out)
}

/// `user:password` of a Basic `Authorization` header.
fn basic_auth(headers: &HeaderMap) -> Option<(String, String)> {
    let v = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let raw = base64_decode(v.strip_prefix("Basic ")?)?;
    let text = String::from_utf8(raw).ok()?;
    let (u, p) = text.split_once(':')?;
    Some((u.to_owned(), p.to_owned()))
}

/// An ISO 8601 instant or a bare day (midnight UTC).
fn instant(s: Option<&str>) -> Option<chrono::DateTime<Utc>> {
    let s = s?;
    chrono::DateTime::parse_from_rfc3339(s)
        .map(|t| t.with_timezone(&Utc))
        .ok()
        .or_else(|| day(Some(s)).map(|d| d.and_hms_opt(0, 0, 0).unwrap_or_default().and_utc()))
}

fn encode_query(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// Impact's Actions: `GET /Advertisers/{AccountSID}/Actions` with Basic auth (SID, token),
/// `StartDate`/`EndDate` (at most 45 days apart; here they filter on `EventDate`),
/// `PageSize` (default 100, at most 20,000) and `Page`; the next page is named in
/// `@nextpageuri`. The new platform writes its dates at +01:00 (its day starts an hour
/// earlier).
async fn impact_actions(
    State(state): State<Arc<AppState>>,
    Path((platform, sid)): Path<(String, String)>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Response {
    let Some(pf) = platform_of(&platform) else {
        return error(StatusCode::NOT_FOUND, "no such platform");
    };
    match basic_auth(&headers) {
        Some((user, token)) if user == sid && key_ok(&state, pf, Some(&token)) => {}
        _ => {
            return error(
                StatusCode::UNAUTHORIZED,
                "invalid account SID or auth token",
            );
        }
    }
    let (_, failed) = fault(&state).await;
    if let Some(r) = failed {
        return r;
    }
    let q = query_pairs(raw);
    let (Some(from), Some(to)) = (
        instant(get_q(&q, "StartDate")),
        instant(get_q(&q, "EndDate")),
    ) else {
        return error(
            StatusCode::BAD_REQUEST,
            "StartDate and EndDate are required (ISO 8601)",
        );
    };
    if to < from || to - from > chrono::TimeDelta::days(45) {
        return error(
            StatusCode::BAD_REQUEST,
            "StartDate and EndDate must be in order and at most 45 days apart",
        );
    }
    let page: usize = get_q(&q, "Page")
        .and_then(|v| v.parse().ok())
        .unwrap_or(1)
        .max(1);
    let size: usize = get_q(&q, "PageSize")
        .and_then(|v| v.parse().ok())
        .unwrap_or(100)
        .clamp(1, 20_000);
    let program = &state.program;
    let events = state.events(pf, from, to);
    let total = events.len();
    let pages = total.div_ceil(size).max(1);
    let start = (page - 1).saturating_mul(size).min(total);
    let end = start.saturating_add(size).min(total);
    let offset = program.offset(pf);
    let at = |t: chrono::DateTime<Utc>| {
        t.with_timezone(&offset)
            .format("%Y-%m-%dT%H:%M:%S%:z")
            .to_string()
    };
    let money = |v: Decimal| match pf {
        Platform::Old => format!("{:.4}", v.round_dp(4)),
        Platform::New if program.diffs.rounding => format!("{:.2}", v.round_dp(2)),
        Platform::New => d4(v),
    };
    let currency = program.currency(pf);
    let path = format!("/{platform}/Advertisers/{sid}/Actions");
    let base_q = format!(
        "StartDate={}&EndDate={}&PageSize={size}",
        encode_query(get_q(&q, "StartDate").unwrap_or_default()),
        encode_query(get_q(&q, "EndDate").unwrap_or_default()),
    );
    let uri = |p: usize| format!("{path}?{base_q}&Page={p}");
    let actions: Vec<serde_json::Value> = events[start..end]
        .iter()
        .map(|e| {
            serde_json::json!({
                "Id": e.id,
                "CampaignId": "1000",
                "ActionTrackerName": e.kind.tracker(),
                "State": e.state,
                "MediaPartnerId": e.partner,
                "MediaPartnerName": format!("Partner {}", e.partner),
                "AdId": e.link,
                "PromoCode": e.coupon.clone().unwrap_or_default(),
                "CustomerId": e.customer,
                "Oid": e.order_id,
                "ClickId": e.click_id,
                "Amount": money(e.amount),
                "Payout": money(e.payout),
                "Currency": currency,
                "EventDate": at(e.occurred_at),
                "CreationDate": at(e.recorded_at),
            })
        })
        .collect();
    let body = serde_json::json!({
        "@page": page.to_string(),
        "@numpages": pages.to_string(),
        "@pagesize": size.to_string(),
        "@total": total.to_string(),
        "@start": start.to_string(),
        "@end": end.saturating_sub(1).to_string(),
        "@uri": uri(page),
        "@firstpageuri": uri(1),
        "@previouspageuri": if page > 1 { uri(page - 1) } else { String::new() },
        "@nextpageuri": if page < pages { uri(page + 1) } else { String::new() },
        "@lastpageuri": uri(pages),
        "Actions": actions,
    });
    (
        [(header::CONTENT_TYPE, "application/json")],
        body.to_string(),
    )
        .into_response()
}
