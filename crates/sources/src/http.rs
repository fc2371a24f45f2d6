//! The HTTP connector: builds each request from the source's templates, sends it with a
//! timeout, a per-source rate limit and retries (exponential backoff with jitter on 429,
//! 5xx and connection errors, honouring `Retry-After`), walks the pages, and detects
//! truncated answers.

use std::time::{Duration, Instant};

use cutover_plan::Param;
use cutover_plan::Source;
use cutover_plan::sources::{Auth, ErrorBody, Http, HttpMethod, Paging};
use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use reqwest::{Client, Url};
use serde_json::Value;

use crate::map::Mapper;
use crate::records::{self, lookup};
use crate::template::{MASK, Vars, redact, render_param, render_str, render_url, secret};
use crate::{Page, Progress, PullError, PullOptions, PullStatus, Raw, Window, sha256_hex};

struct Ctx<'a> {
    source: &'a Source,
    http: &'a Http,
    opts: &'a PullOptions,
    secrets: Vec<String>,
    client: Client,
    next_slot: Option<Instant>,
    rng: u64,
}

/// What the next request is.
enum Next {
    /// Built from the templates with these paging values.
    Template {
        page: u64,
        offset: u64,
        cursor: String,
    },
    /// A URL the platform handed over.
    Url(Url),
}

pub(crate) async fn pull(
    source: &Source,
    http: &Http,
    window: Window,
    opts: &PullOptions,
) -> Result<Raw, PullError> {
    crate::install_crypto();
    let client = Client::builder()
        .timeout(http.timeout)
        .connect_timeout(http.timeout.min(Duration::from_secs(10)))
        .build()
        .map_err(|e| PullError::Config(format!("cannot build the HTTP client: {e}")))?;
    let seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0x9E37_79B9_7F4A_7C15)
        | 1;
    let mut ctx = Ctx {
        source,
        http,
        opts,
        secrets: Vec::new(),
        client,
        next_slot: None,
        rng: seed,
    };
    let fmt = |d: chrono::NaiveDate| -> Result<String, PullError> {
        use std::fmt::Write;
        // A format that needs a time of day (`%H`) cannot format a day: an error, not a
        // panic in `to_string`.
        let mut out = String::new();
        write!(out, "{}", d.format(&http.date_format)).map_err(|_| {
            PullError::Config(format!(
                "source \"{}\": date_format \"{}\" cannot format a day (it needs a date only, e.g. \"%Y-%m-%d\")",
                source.id, http.date_format
            ))
        })?;
        Ok(out)
    };
    let base_vars = Vars {
        from: fmt(window.from)?,
        to: fmt(window.to)?,
        to_exclusive: fmt(window.to.succ_opt().unwrap_or(window.to))?,
        timezone: source.timezone.name().to_owned(),
        ..Vars::default()
    };
    let mapper = Mapper::new(source, Some(window))?;
    let (first_page, first_offset, size) = match &http.paging {
        Paging::Page { first, size, .. } => (*first, 0, *size),
        Paging::Offset { first, size, .. } => (1, *first, *size),
        _ => (1, 0, 0),
    };
    let mut next = Some(Next::Template {
        page: first_page,
        offset: first_offset,
        cursor: String::new(),
    });
    let mut raw = Raw {
        pages: Vec::new(),
        bodies: Vec::new(),
        rows: Vec::new(),
        status: PullStatus::Complete,
        dropped: Vec::new(),
    };
    let mut record_no: u64 = 0;
    let mut reported_total: Option<u64> = None;
    let mut progress = Progress::default();
    while let Some(step) = next.take() {
        let page_no = raw.pages.len() as u32 + 1;
        if page_no > http.max_pages {
            raw.status = PullStatus::Inconclusive {
                reason: format!(
                    "stopped at the page cap of {} pages with more pages to read",
                    http.max_pages
                ),
            };
            break;
        }
        let mut vars = base_vars.clone();
        let (page, offset, cursor) = match &step {
            Next::Template {
                page,
                offset,
                cursor,
            } => (*page, *offset, cursor.clone()),
            Next::Url(_) => (0, 0, String::new()),
        };
        vars.page = page.to_string();
        vars.offset = offset.to_string();
        vars.limit = size.to_string();
        vars.cursor = cursor.clone();
        let (url, shown) = ctx.url(&step, &vars, page, offset, &cursor)?;
        let (status, headers, body) = ctx.send(&url, &shown, &vars).await?;
        if let Some(eb) = &http.errors
            && let Some(message) = platform_error(&body, eb)
        {
            let message: String = redact(&message, &ctx.secrets).chars().take(500).collect();
            return Err(PullError::Platform {
                request: shown,
                message,
            });
        }
        let parsed = records::parse(&source.format, &body, page_no)?;
        let count = parsed.records.len() as u64;
        mapper.map_all(parsed.records, record_no, &mut raw.rows)?;
        record_no += count;
        raw.pages.push(Page {
            request: shown,
            status,
            bytes: body.len() as u64,
            sha256: sha256_hex(&body),
            records: count,
        });
        progress.pages = page_no;
        progress.rows = raw.rows.len() as u64;
        progress.bytes += body.len() as u64;
        raw.bodies.push(body);
        if let Some(p) = &opts.progress {
            p(&progress);
        }
        tracing::debug!(page = page_no, records = count, "Page read.");

        // A configured truncation path must be in every (JSON) body: without it nobody
        // can tell whether the report is whole.
        if let Some(root) = &parsed.root {
            let configured = [
                ("flag", &http.truncation.flag),
                ("total", &http.truncation.total),
            ];
            if let Some((what, path)) = configured.iter().find_map(|(w, p)| {
                p.as_ref()
                    .filter(|p| lookup(root, p).is_none())
                    .map(|p| (w, p))
            }) {
                raw.status = PullStatus::Inconclusive {
                    reason: format!(
                        "page {page_no} has no truncation {what} at \"{path}\" (configured under http.truncation), so whether the report is complete cannot be told"
                    ),
                };
                break;
            }
        }
        if let (Some(path), Some(root)) = (&http.truncation.total, &parsed.root)
            && let Some(t) = lookup(root, path).and_then(as_u64)
        {
            reported_total = Some(t);
        }
        // Truncation flag in the body.
        if let (Some(flag), Some(root)) = (&http.truncation.flag, &parsed.root)
            && lookup(root, flag).is_some_and(truthy)
        {
            raw.status = PullStatus::Inconclusive {
                reason: format!(
                    "page {page_no} says the result is incomplete (\"{flag}\" is true); narrow the window"
                ),
            };
            break;
        }

        next = match &http.paging {
            Paging::None => None,
            Paging::Page { total_pages, .. } => {
                let more = match total_pages
                    .as_ref()
                    .and_then(|p| parsed.root.as_ref().and_then(|r| lookup(r, p)))
                    .and_then(as_u64)
                {
                    Some(total) => page < total && count > 0,
                    None => count >= size && count > 0,
                };
                more.then(|| Next::Template {
                    page: page + 1,
                    offset: 0,
                    cursor: String::new(),
                })
            }
            Paging::Offset { .. } => (count >= size && count > 0).then(|| Next::Template {
                page: page + 1,
                offset: offset + count,
                cursor: String::new(),
            }),
            Paging::Cursor { path, .. } => parsed
                .root
                .as_ref()
                .and_then(|r| lookup(r, path))
                .and_then(non_empty_text)
                .filter(|c| *c != cursor)
                .map(|c| Next::Template {
                    page: page + 1,
                    offset: 0,
                    cursor: c,
                }),
            Paging::NextUrl { path } => match parsed
                .root
                .as_ref()
                .and_then(|r| lookup(r, path))
                .and_then(non_empty_text)
            {
                Some(u) => Some(Next::Url(url.join(&u).map_err(|e| PullError::Decode {
                    page: page_no,
                    message: format!("the next-page URL is not a URL ({e})"),
                })?)),
                None => None,
            },
            Paging::LinkHeader => link_next(&headers)
                .map(|u| {
                    url.join(&u).map_err(|e| PullError::Decode {
                        page: page_no,
                        message: format!("the Link header's next URL is not a URL ({e})"),
                    })
                })
                .transpose()?
                .map(Next::Url),
        };
        if next.is_none()
            && let Some(cap) = http.truncation.row_cap
            && count >= cap
        {
            raw.status = PullStatus::Inconclusive {
                reason: format!(
                    "page {page_no} returned {count} rows, the platform's documented cap of {cap}, and no next page; the report is probably cut off"
                ),
            };
        }
    }
    if raw.status == PullStatus::Complete
        && let Some(t) = reported_total
        && record_no < t
    {
        raw.status = PullStatus::Inconclusive {
            reason: format!(
                "the report says it has {t} rows but only {record_no} arrived; pages were cut short"
            ),
        };
    }
    raw.dropped = mapper.dropped();
    Ok(raw)
}

/// The platform's own error message when a 200 body is an error by `eb`.
fn platform_error(body: &[u8], eb: &ErrorBody) -> Option<String> {
    let body = body.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(body);
    let root: Value = serde_json::from_slice(body).ok()?;
    let message = || -> Option<String> {
        let path = eb.message.as_deref()?;
        let mut texts = Vec::new();
        collect_texts(&root, &path.split('.').collect::<Vec<_>>(), &mut texts);
        (!texts.is_empty()).then(|| texts.join("; "))
    };
    match &eb.status {
        Some(path) => {
            let v = lookup(&root, path)?;
            let text = non_empty_text(v).or_else(|| match v {
                Value::Bool(b) => Some(b.to_string()),
                _ => None,
            })?;
            if eb.ok.contains(&text) {
                return None;
            }
            Some(match message() {
                Some(m) => m,
                None => format!("\"{path}\" is {text}, not {}", eb.ok.join(" or ")),
            })
        }
        None => message(),
    }
}

/// Every non-empty text at `path` under `v`; a segment that meets a list (and is not
/// an index) is applied to each item.
fn collect_texts(v: &Value, path: &[&str], out: &mut Vec<String>) {
    let Some((seg, rest)) = path.split_first() else {
        match v {
            Value::Array(items) => items.iter().for_each(|i| collect_texts(i, &[], out)),
            other => {
                if let Some(t) = non_empty_text(other) {
                    out.push(t);
                }
            }
        }
        return;
    };
    match v {
        Value::Object(m) => {
            if let Some(next) = m.get(*seg) {
                collect_texts(next, rest, out);
            }
        }
        Value::Array(items) => match seg.parse::<usize>() {
            Ok(i) => {
                if let Some(next) = items.get(i) {
                    collect_texts(next, rest, out);
                }
            }
            Err(_) => items.iter().for_each(|i| collect_texts(i, path, out)),
        },
        _ => {}
    }
}

fn truthy(v: &Value) -> bool {
    match v {
        Value::Bool(b) => *b,
        Value::Number(n) => n.as_f64().is_some_and(|f| f != 0.0),
        Value::String(s) => matches!(s.to_ascii_lowercase().as_str(), "true" | "1" | "yes"),
        _ => false,
    }
}

fn as_u64(v: &Value) -> Option<u64> {
    match v {
        Value::Number(n) => n.as_u64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

fn non_empty_text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) if !s.is_empty() => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// The `rel="next"` target of a `Link` header, parsed per RFC 8288: link-values are
/// separated by commas outside `<...>` and quoted strings (a target URL may contain a
/// comma), parameters by `;`, `rel` may be quoted and hold several space-separated
/// relation types, compared case-insensitively.
fn link_next(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(reqwest::header::LINK)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(parse_link_header)
        .find(|(_, rels)| rels.iter().any(|r| r.eq_ignore_ascii_case("next")))
        .map(|(target, _)| target)
}

/// `<target>; rel="a b"; x=y, <target2>; ...` -> (target, rel types) per link-value.
/// Malformed link-values are skipped.
fn parse_link_header(text: &str) -> Vec<(String, Vec<String>)> {
    let mut out = Vec::new();
    let mut rest = text;
    loop {
        rest = rest.trim_start_matches(|c: char| c == ',' || c.is_whitespace());
        if rest.is_empty() {
            break;
        }
        let Some(after_lt) = rest.strip_prefix('<') else {
            // Not a link-value: skip to the next comma outside quotes.
            rest = skip_value(rest);
            continue;
        };
        let Some(end) = after_lt.find('>') else { break };
        let target = after_lt[..end].trim().to_owned();
        rest = &after_lt[end + 1..];
        let mut rels = Vec::new();
        // Parameters until a comma (outside quotes) or the end.
        loop {
            rest = rest.trim_start();
            let Some(p) = rest.strip_prefix(';') else {
                break;
            };
            rest = p.trim_start();
            let name_end = rest
                .find(|c: char| c == '=' || c == ';' || c == ',' || c.is_whitespace())
                .unwrap_or(rest.len());
            let name = rest[..name_end].to_ascii_lowercase();
            rest = rest[name_end..].trim_start();
            let mut value = String::new();
            if let Some(v) = rest.strip_prefix('=') {
                rest = v.trim_start();
                if let Some(q) = rest.strip_prefix('"') {
                    let mut chars = q.char_indices();
                    let mut consumed = q.len();
                    while let Some((i, c)) = chars.next() {
                        match c {
                            '\\' => {
                                if let Some((_, e)) = chars.next() {
                                    value.push(e);
                                }
                            }
                            '"' => {
                                consumed = i + 1;
                                break;
                            }
                            c => value.push(c),
                        }
                    }
                    rest = &q[consumed..];
                } else {
                    let end = rest.find([';', ',']).unwrap_or(rest.len());
                    value = rest[..end].trim().to_owned();
                    rest = &rest[end..];
                }
            }
            if name == "rel" && rels.is_empty() {
                rels = value.split_whitespace().map(str::to_owned).collect();
            }
        }
        out.push((target, rels));
    }
    out
}

/// The text after the next comma that is outside a quoted string.
fn skip_value(text: &str) -> &str {
    let mut quoted = false;
    let mut escaped = false;
    for (i, c) in text.char_indices() {
        match c {
            _ if escaped => escaped = false,
            '\\' if quoted => escaped = true,
            '"' => quoted = !quoted,
            ',' if !quoted => return &text[i + 1..],
            _ => {}
        }
    }
    ""
}

/// `Retry-After` as seconds or an HTTP date.
fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let v = headers
        .get(reqwest::header::RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim();
    if let Ok(secs) = v.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let at = chrono::DateTime::parse_from_rfc2822(v).ok()?;
    let delta = at.with_timezone(&chrono::Utc) - chrono::Utc::now();
    Some(delta.to_std().unwrap_or(Duration::ZERO))
}

impl Ctx<'_> {
    fn method_name(&self) -> &'static str {
        match self.http.method {
            HttpMethod::Get => "GET",
            HttpMethod::Post => "POST",
        }
    }

    /// The URL of the next request, and how it is shown: the shown URL is built by the
    /// same parser and query encoder from the same templates, with every secret as
    /// `***` (so it is redacted whatever the encoder makes of the secret), then anything
    /// secret left in it (a next-page URL from the platform) is redacted by value.
    fn url(
        &mut self,
        step: &Next,
        vars: &Vars,
        page: u64,
        offset: u64,
        cursor: &str,
    ) -> Result<(Url, String), PullError> {
        let id = &self.source.id;
        let (mut url, mut shown) = match step {
            Next::Url(u) => (u.clone(), u.clone()),
            Next::Template { .. } => {
                let text = render_url(id, &self.http.url, vars, self.opts, &mut self.secrets)?;
                let url = Url::parse(&text.real).map_err(|e| {
                    PullError::Config(format!(
                        "source \"{id}\": \"{}\" is not a URL ({e})",
                        redact(&text.shown, &self.secrets)
                    ))
                })?;
                // A secret in the host or port may make the shown text unparsable: then
                // the real URL is shown, redacted by value.
                let shown = Url::parse(&text.shown).unwrap_or_else(|_| url.clone());
                let mut pairs: Vec<(&str, String, String)> = Vec::new();
                for (k, t) in &self.http.query {
                    let v = render_param(id, t, vars, self.opts, &mut self.secrets)?;
                    pairs.push((k, v.real, v.shown));
                }
                match &self.http.paging {
                    Paging::Page {
                        param,
                        size_param,
                        size,
                        ..
                    } => {
                        pairs.push((param, page.to_string(), page.to_string()));
                        if let Some(sp) = size_param {
                            pairs.push((sp, size.to_string(), size.to_string()));
                        }
                    }
                    Paging::Offset {
                        param,
                        size_param,
                        size,
                        ..
                    } => {
                        pairs.push((param, offset.to_string(), offset.to_string()));
                        if let Some(sp) = size_param {
                            pairs.push((sp, size.to_string(), size.to_string()));
                        }
                    }
                    Paging::Cursor { param, .. } if !cursor.is_empty() => {
                        pairs.push((param, cursor.to_owned(), cursor.to_owned()));
                    }
                    _ => {}
                }
                let mut url = url;
                let mut shown = shown;
                append_pairs(
                    &mut url,
                    pairs.iter().map(|(k, real, _)| (*k, real.as_str())),
                );
                append_pairs(
                    &mut shown,
                    pairs.iter().map(|(k, _, shown)| (*k, shown.as_str())),
                );
                (url, shown)
            }
        };
        if let Auth::Query { name, value } = &self.http.auth {
            let key = secret(id, &value.env, self.opts, &mut self.secrets)?;
            if !url.query_pairs().any(|(k, _)| k == name.as_str()) {
                append_pairs(&mut url, [(name.as_str(), key.as_str())]);
                append_pairs(&mut shown, [(name.as_str(), MASK)]);
            }
        }
        let shown = redact(&format!("{} {shown}", self.method_name()), &self.secrets);
        Ok((url, shown))
    }

    fn body(&mut self, p: &Param, vars: &Vars) -> Result<Value, PullError> {
        Ok(match p {
            Param::Null => Value::Null,
            Param::Bool(b) => Value::Bool(*b),
            Param::Number(n) => serde_json::from_str(n).unwrap_or(Value::String(n.clone())),
            Param::String(s) => Value::String(
                render_str(&self.source.id, s, vars, self.opts, &mut self.secrets)?.real,
            ),
            Param::List(items) => Value::Array(
                items
                    .iter()
                    .map(|i| self.body(i, vars))
                    .collect::<Result<_, _>>()?,
            ),
            Param::Map(kv) => {
                let mut m = serde_json::Map::new();
                for (k, v) in kv {
                    let v = self.body(v, vars)?;
                    m.insert(k.clone(), v);
                }
                Value::Object(m)
            }
        })
    }

    fn headers(&mut self, vars: &Vars) -> Result<HeaderMap, PullError> {
        let id = self.source.id.clone();
        let mut h = HeaderMap::new();
        let bad = |name: &str| {
            PullError::Config(format!(
                "source \"{id}\": header \"{name}\" is not a valid header"
            ))
        };
        for (k, t) in &self.http.headers {
            let v = render_param(&id, t, vars, self.opts, &mut self.secrets)?.real;
            let mut hv = HeaderValue::from_str(&v).map_err(|_| bad(k))?;
            if t.uses_env() {
                hv.set_sensitive(true);
            }
            h.insert(
                HeaderName::from_bytes(k.as_bytes()).map_err(|_| bad(k))?,
                hv,
            );
        }
        match &self.http.auth {
            Auth::Header { name, value } => {
                let key = secret(&id, &value.env, self.opts, &mut self.secrets)?;
                let mut hv = HeaderValue::from_str(&key).map_err(|_| bad(name))?;
                hv.set_sensitive(true);
                h.insert(
                    HeaderName::from_bytes(name.as_bytes()).map_err(|_| bad(name))?,
                    hv,
                );
            }
            Auth::Bearer { token } => {
                let t = secret(&id, &token.env, self.opts, &mut self.secrets)?;
                let mut hv = HeaderValue::from_str(&format!("Bearer {t}"))
                    .map_err(|_| bad("Authorization"))?;
                hv.set_sensitive(true);
                h.insert(reqwest::header::AUTHORIZATION, hv);
            }
            Auth::Basic { user, password } => {
                let u = secret(&id, &user.env, self.opts, &mut self.secrets)?;
                let p = secret(&id, &password.env, self.opts, &mut self.secrets)?;
                let enc = base64(format!("{u}:{p}").as_bytes());
                self.secrets.push(enc.clone());
                let mut hv = HeaderValue::from_str(&format!("Basic {enc}"))
                    .map_err(|_| bad("Authorization"))?;
                hv.set_sensitive(true);
                h.insert(reqwest::header::AUTHORIZATION, hv);
            }
            Auth::Query { .. } | Auth::None => {}
        }
        Ok(h)
    }

    fn jitter(&mut self) -> f64 {
        // xorshift64*
        self.rng ^= self.rng >> 12;
        self.rng ^= self.rng << 25;
        self.rng ^= self.rng >> 27;
        let x = self.rng.wrapping_mul(0x2545_F491_4F6C_DD1D);
        0.5 + (x >> 11) as f64 / (1u64 << 53) as f64 * 0.5
    }

    fn backoff(&mut self, attempt: u32) -> Duration {
        let r = self.http.retries;
        let exp = r.base_delay.saturating_mul(
            1u32.checked_shl(attempt.saturating_sub(1))
                .unwrap_or(u32::MAX),
        );
        exp.min(r.max_delay).mul_f64(self.jitter())
    }

    async fn pace(&mut self) {
        let Some(rps) = self.http.rate_limit else {
            return;
        };
        let interval = Duration::from_secs(1) / rps.max(1);
        let now = Instant::now();
        let slot = self.next_slot.map_or(now, |s| s.max(now));
        if slot > now {
            tokio::time::sleep(slot - now).await;
        }
        self.next_slot = Some(slot + interval);
    }

    /// Sends one request with retries; returns status, headers and the body.
    async fn send(
        &mut self,
        url: &Url,
        shown: &str,
        vars: &Vars,
    ) -> Result<(u16, HeaderMap, Vec<u8>), PullError> {
        let headers = self.headers(vars)?;
        let body = match &self.http.body {
            Some(p) => Some(self.body(p, vars)?),
            None => None,
        };
        let attempts = self.http.retries.attempts.max(1);
        let shown = shown.to_owned();
        let mut last_timeout = false;
        let mut last: Option<PullError> = None;
        for attempt in 1..=attempts {
            self.pace().await;
            let mut req = match self.http.method {
                HttpMethod::Get => self.client.get(url.clone()),
                HttpMethod::Post => self.client.post(url.clone()),
            }
            .headers(headers.clone());
            if let Some(b) = &body {
                req = req.json(b);
            }
            let wait = match req.send().await {
                Ok(resp) => {
                    let status = resp.status();
                    let rh = resp.headers().clone();
                    if status.is_success() {
                        match resp.bytes().await {
                            Ok(b) => return Ok((status.as_u16(), rh, b.to_vec())),
                            Err(e) => {
                                last_timeout = e.is_timeout();
                                last = Some(PullError::Request {
                                    request: shown.clone(),
                                    message: redact(
                                        &format!(
                                            "reading the body failed: {}",
                                            error_chain(&e.without_url())
                                        ),
                                        &self.secrets,
                                    ),
                                });
                                self.backoff(attempt)
                            }
                        }
                    } else if status.as_u16() == 429 || status.is_server_error() {
                        let text = resp.text().await.unwrap_or_default();
                        last_timeout = false;
                        last = Some(PullError::Http {
                            request: shown.clone(),
                            status: status.as_u16(),
                            attempts: attempt,
                            detail: snippet(&redact(&text, &self.secrets)),
                        });
                        match retry_after(&rh) {
                            Some(d) => d.min(Duration::from_secs(300)),
                            None => self.backoff(attempt),
                        }
                    } else {
                        let text = resp.text().await.unwrap_or_default();
                        return Err(PullError::Http {
                            request: shown,
                            status: status.as_u16(),
                            attempts: attempt,
                            detail: snippet(&redact(&text, &self.secrets)),
                        });
                    }
                }
                Err(e) => {
                    let retryable =
                        e.is_timeout() || e.is_connect() || e.is_request() || e.is_body();
                    last_timeout = e.is_timeout();
                    // The request is shown (redacted) next to the message: drop reqwest's
                    // copy of the URL, which carries the secrets as sent.
                    let message = redact(&error_chain(&e.without_url()), &self.secrets);
                    if !retryable {
                        return Err(PullError::Request {
                            request: shown,
                            message,
                        });
                    }
                    last = Some(PullError::Request {
                        request: shown.clone(),
                        message,
                    });
                    self.backoff(attempt)
                }
            };
            if attempt < attempts {
                tracing::warn!(request = %shown, attempt, wait_ms = wait.as_millis() as u64, "Retrying.");
                tokio::time::sleep(wait).await;
            }
        }
        Err(match last {
            _ if last_timeout => PullError::Timeout {
                request: shown,
                attempts,
            },
            Some(PullError::Http {
                request,
                status,
                detail,
                ..
            }) => PullError::Http {
                request,
                status,
                attempts,
                detail,
            },
            Some(PullError::Request { request, message }) => PullError::Request {
                request,
                message: format!("{message} (after {attempts} attempts)"),
            },
            Some(other) => other,
            None => PullError::Request {
                request: shown,
                message: "no attempt was made".to_owned(),
            },
        })
    }
}

/// Appends query pairs with the URL's own form encoder; an empty query is dropped.
fn append_pairs<'a>(url: &mut Url, pairs: impl IntoIterator<Item = (&'a str, &'a str)>) {
    {
        let mut q = url.query_pairs_mut();
        for (k, v) in pairs {
            q.append_pair(k, v);
        }
    }
    if url.query() == Some("") {
        url.set_query(None);
    }
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        s.push_str(": ");
        s.push_str(&c.to_string());
        cur = c.source();
    }
    s
}

fn snippet(text: &str) -> String {
    let t = text.trim();
    if t.is_empty() {
        return String::new();
    }
    let cut: String = t.chars().take(200).collect();
    format!(": {cut}")
}

/// Standard base64 with padding (RFC 4648), for HTTP Basic credentials.
fn base64(input: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(input)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_matches_rfc4648() {
        assert_eq!(base64(b"sid:token"), "c2lkOnRva2Vu");
        assert_eq!(base64(b"a"), "YQ==");
        assert_eq!(base64(b"ab"), "YWI=");
    }

    #[test]
    fn link_header_next() {
        let mut h = HeaderMap::new();
        h.insert(
            reqwest::header::LINK,
            HeaderValue::from_static(
                "<https://x/a?page=1>; rel=\"prev\", <https://x/a?page=3>; rel=\"next\"",
            ),
        );
        assert_eq!(link_next(&h).as_deref(), Some("https://x/a?page=3"));
    }

    #[test]
    fn link_header_per_rfc_8288() {
        let cases = [
            // A comma inside the target URL.
            (
                "<https://x/a?fields=a,b&page=1>; rel=\"prev\", <https://x/a?fields=a,b&page=3>; rel=\"next\"",
                Some("https://x/a?fields=a,b&page=3"),
            ),
            // Several relation types, other parameters with quoted commas and semicolons.
            (
                "<https://x/p2>; title=\"a, b; c\"; rel=\"last next\"",
                Some("https://x/p2"),
            ),
            // Unquoted and upper-case rel, extra spaces.
            ("  <https://x/p4> ;REL = NEXT ", Some("https://x/p4")),
            // "nextpage" is not "next"; a rel in a title is not a rel.
            ("<https://x/n>; rel=\"nextpage\"", None),
            ("<https://x/n>; title=\"rel=next\"", None),
            // A malformed value before a good one is skipped.
            ("garbage, <https://x/ok>; rel=next", Some("https://x/ok")),
            ("", None),
        ];
        for (text, want) in cases {
            let mut h = HeaderMap::new();
            h.insert(reqwest::header::LINK, HeaderValue::from_str(text).unwrap());
            assert_eq!(link_next(&h).as_deref(), want, "{text}");
        }
    }
}
