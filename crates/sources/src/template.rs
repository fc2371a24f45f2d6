//! Rendering request templates: `{placeholder}`s from the window and paging state,
//! `${ENV}` references from the environment. Each render yields the real text and a
//! redacted one (for logs and stored requests) in which secret-looking variables are `***`.

use cutover_plan::sources::{Piece, Template, template_pieces};

use crate::{PullError, PullOptions};

/// Values of the placeholders for one request.
#[derive(Debug, Default, Clone)]
pub(crate) struct Vars {
    pub from: String,
    pub to: String,
    pub to_exclusive: String,
    pub timezone: String,
    pub page: String,
    pub offset: String,
    pub limit: String,
    pub cursor: String,
}

impl Vars {
    fn get(&self, name: &str) -> &str {
        match name {
            "from" => &self.from,
            "to" => &self.to,
            "to_exclusive" => &self.to_exclusive,
            "timezone" => &self.timezone,
            "page" => &self.page,
            "offset" => &self.offset,
            "limit" => &self.limit,
            "cursor" => &self.cursor,
            _ => "",
        }
    }
}

/// Whether an environment variable's name says it holds a secret.
pub(crate) fn secret_name(name: &str) -> bool {
    ["KEY", "TOKEN", "SECRET", "PASSWORD", "PASS", "SID", "AUTH"]
        .iter()
        .any(|p| name.contains(p))
}

/// A rendered template: the text that is used, and the text that is shown (in stored
/// requests, errors and traces), in which every secret-looking variable is `***`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Rendered {
    pub real: String,
    pub shown: String,
}

pub(crate) fn render(
    source_id: &str,
    t: &Template,
    vars: &Vars,
    opts: &PullOptions,
    secrets: &mut Vec<String>,
) -> Result<Rendered, PullError> {
    render_with(source_id, &t.0, vars, opts, secrets, false, false)
}

/// Renders a query parameter or header value: whatever it reads from the environment
/// is a secret, whatever the variable's name (a key passed in `query:` or `headers:`
/// instead of `auth:`): shown as `***`, and redacted by value from every text the
/// platform hands back when it is at least 6 characters long (a shorter value is
/// masked where it is sent but not hunted for in other text, where it would erase
/// unrelated numbers).
pub(crate) fn render_param(
    source_id: &str,
    t: &Template,
    vars: &Vars,
    opts: &PullOptions,
    secrets: &mut Vec<String>,
) -> Result<Rendered, PullError> {
    render_with(source_id, &t.0, vars, opts, secrets, false, true)
}

/// Renders a URL template: a secret is data, never URL structure, so its value is
/// percent-encoded (all but the unreserved `A-Z a-z 0-9 - . _ ~`) wherever it stands. A
/// key with `/`, `?` or `#` in a path then reaches the platform whole instead of
/// breaking the URL (and part of it leaking where no redaction can recognise it).
pub(crate) fn render_url(
    source_id: &str,
    t: &Template,
    vars: &Vars,
    opts: &PullOptions,
    secrets: &mut Vec<String>,
) -> Result<Rendered, PullError> {
    render_with(source_id, &t.0, vars, opts, secrets, true, false)
}

/// Renders `text` (a POST body value): like [`render_param`], everything read from the
/// environment is a secret.
pub(crate) fn render_str(
    source_id: &str,
    text: &str,
    vars: &Vars,
    opts: &PullOptions,
    secrets: &mut Vec<String>,
) -> Result<Rendered, PullError> {
    render_with(source_id, text, vars, opts, secrets, false, true)
}

const URL_DATA: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// Values of secret-looking variables are added to `secrets` so every text the platform
/// hands back (bodies, next-page URLs, errors) can be redacted too.
fn render_with(
    source_id: &str,
    text: &str,
    vars: &Vars,
    opts: &PullOptions,
    secrets: &mut Vec<String>,
    url: bool,
    all_secret: bool,
) -> Result<Rendered, PullError> {
    let pieces = template_pieces(text).map_err(PullError::Config)?;
    let mut real = String::new();
    let mut shown = String::new();
    for p in pieces {
        match p {
            Piece::Text(t) => {
                real.push_str(t);
                shown.push_str(t);
            }
            Piece::Placeholder(name) => {
                real.push_str(vars.get(name));
                shown.push_str(vars.get(name));
            }
            Piece::Env { name, default } => {
                let (v, from_env) = match ((opts.env)(name), default) {
                    (Some(v), _) => (v, true),
                    (None, Some(d)) => (d.to_owned(), false),
                    (None, None) => {
                        return Err(PullError::MissingEnv {
                            source_id: source_id.to_owned(),
                            name: name.to_owned(),
                        });
                    }
                };
                let named = secret_name(name);
                if (named || (all_secret && from_env)) && !v.is_empty() {
                    if named || v.chars().count() >= 6 {
                        secrets.push(v.clone());
                    }
                    shown.push_str(MASK);
                    if url {
                        real.extend(percent_encoding::utf8_percent_encode(&v, URL_DATA));
                    } else {
                        real.push_str(&v);
                    }
                } else {
                    shown.push_str(&v);
                    real.push_str(&v);
                }
            }
        }
    }
    Ok(Rendered { real, shown })
}

/// What a secret is shown as.
pub(crate) const MASK: &str = "***";

/// Resolves a secret reference (and remembers its value for redaction).
pub(crate) fn secret(
    source_id: &str,
    env: &str,
    opts: &PullOptions,
    secrets: &mut Vec<String>,
) -> Result<String, PullError> {
    let v = (opts.env)(env).ok_or_else(|| PullError::MissingEnv {
        source_id: source_id.to_owned(),
        name: env.to_owned(),
    })?;
    if !v.is_empty() {
        secrets.push(v.clone());
    }
    Ok(v)
}

/// Replaces every known secret value in `text` with `***`, in any form an encoder can
/// have given it: raw, percent-encoded (upper or lower case hex, any mix of encoded and
/// literal bytes, as `url` and `form_urlencoded` write it), a space as `+`, `\/`, `\"`,
/// `\\` as JSON writes them and `&amp;`-style HTML entities. The longest match at a
/// position wins.
///
/// Requests the connector builds are shown through [`Rendered::shown`], built by the same
/// encoders as the real ones; this is for text the platform produced (bodies, next-page
/// URLs, error messages) and a second line of defence.
pub(crate) fn redact(text: &str, secrets: &[String]) -> String {
    let secrets: Vec<&[u8]> = secrets
        .iter()
        .filter(|s| !s.is_empty())
        .map(|s| s.as_bytes())
        .collect();
    if secrets.is_empty() {
        return text.to_owned();
    }
    let bytes = text.as_bytes();
    let mut out: Vec<u8> = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match secrets.iter().filter_map(|s| match_at(bytes, i, s)).max() {
            Some(end) => {
                out.extend_from_slice(MASK.as_bytes());
                i = end;
            }
            None => {
                out.push(bytes[i]);
                i += 1;
            }
        }
    }
    // A match starts and ends on character boundaries (a secret is UTF-8 and every
    // encoded form is ASCII), so this is valid UTF-8; be lenient anyway.
    match String::from_utf8(out) {
        Ok(s) => s,
        Err(e) => String::from_utf8_lossy(e.as_bytes()).into_owned(),
    }
}

fn hex(b: Option<&u8>) -> Option<u8> {
    let b = *b?;
    (b as char).to_digit(16).map(|d| d as u8)
}

/// Where the longest occurrence of `secret` starting at `at` ends, if there is one.
/// Each secret byte may appear literally, as `%XX`, as `+` (a space), backslash-escaped
/// (JSON) or as an HTML entity.
fn match_at(text: &[u8], at: usize, secret: &[u8]) -> Option<usize> {
    let step = |p: usize, b: u8, next: &mut Vec<usize>| {
        let Some(&c) = text.get(p) else { return };
        if c == b || (b == b' ' && c == b'+') {
            next.push(p + 1);
        }
        if c == b'%'
            && let (Some(h), Some(l)) = (hex(text.get(p + 1)), hex(text.get(p + 2)))
            && h * 16 + l == b
        {
            next.push(p + 3);
        }
        if c == b'\\' && matches!(b, b'/' | b'"' | b'\\') && text.get(p + 1) == Some(&b) {
            next.push(p + 2);
        }
        if c == b'&' {
            let entities: &[&[u8]] = match b {
                b'&' => &[b"&amp;"],
                b'<' => &[b"&lt;"],
                b'>' => &[b"&gt;"],
                b'"' => &[b"&quot;", b"&#34;"],
                b'\'' => &[b"&#39;", b"&#x27;", b"&apos;"],
                _ => &[],
            };
            for e in entities {
                if text[p..].starts_with(e) {
                    next.push(p + e.len());
                }
            }
        }
    };
    // Cheap rejection first: most positions match nothing.
    let mut pos = Vec::new();
    step(at, secret[0], &mut pos);
    for &b in &secret[1..] {
        if pos.is_empty() {
            return None;
        }
        let mut next = Vec::with_capacity(pos.len());
        for &p in &pos {
            step(p, b, &mut next);
        }
        next.sort_unstable();
        next.dedup();
        pos = next;
    }
    pos.into_iter().max()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(text: &str, secrets: &[&str]) -> String {
        let s: Vec<String> = secrets.iter().map(|s| (*s).to_owned()).collect();
        redact(text, &s)
    }

    #[test]
    fn every_encoded_form_is_redacted() {
        let secret = "a b~+&=%/é";
        let forms = [
            secret.to_owned(),
            url::form_urlencoded::byte_serialize(secret.as_bytes()).collect::<String>(),
            "a%20b%7E%2B%26%3D%25%2F%C3%A9".to_owned(),
            "a%20b%7e%2b%26%3d%25%2f%c3%a9".to_owned(),
            "a+b~%2B&=%25/%C3%A9".to_owned(),
            "a b~+&=%\\/é".to_owned(),
        ];
        for f in forms {
            assert_eq!(r(&format!("x?k={f}&y=1"), &[secret]), "x?k=***&y=1", "{f}");
        }
    }

    #[test]
    fn longest_secret_wins_and_text_stays_intact() {
        assert_eq!(r("tok tok-123 é", &["tok", "tok-123"]), "*** *** é");
        assert_eq!(r("nothing here", &["", "zz"]), "nothing here");
        assert_eq!(r("50%", &["%"]), "50***");
        assert_eq!(r("%4", &["4"]), "%***");
    }
}
