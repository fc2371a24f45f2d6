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

pub(crate) fn render(
    source_id: &str,
    t: &Template,
    vars: &Vars,
    opts: &PullOptions,
    secrets: &mut Vec<String>,
) -> Result<String, PullError> {
    render_str(source_id, &t.0, vars, opts, secrets)
}

/// Renders `text`; values of secret-looking variables are added to `secrets` so every
/// shown request and error can be redacted.
pub(crate) fn render_str(
    source_id: &str,
    text: &str,
    vars: &Vars,
    opts: &PullOptions,
    secrets: &mut Vec<String>,
) -> Result<String, PullError> {
    let pieces = template_pieces(text).map_err(PullError::Config)?;
    let mut real = String::new();
    for p in pieces {
        match p {
            Piece::Text(t) => real.push_str(t),
            Piece::Placeholder(name) => real.push_str(vars.get(name)),
            Piece::Env { name, default } => {
                let v = match ((opts.env)(name), default) {
                    (Some(v), _) => v,
                    (None, Some(d)) => d.to_owned(),
                    (None, None) => {
                        return Err(PullError::MissingEnv {
                            source_id: source_id.to_owned(),
                            name: name.to_owned(),
                        });
                    }
                };
                if secret_name(name) && !v.is_empty() {
                    secrets.push(v.clone());
                }
                real.push_str(&v);
            }
        }
    }
    Ok(real)
}

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

/// Replaces every known secret value in `text` with `***` (longest first).
pub(crate) fn redact(text: &str, secrets: &[String]) -> String {
    let mut sorted: Vec<&String> = secrets.iter().collect();
    sorted.sort_by_key(|s| std::cmp::Reverse(s.len()));
    let mut out = text.to_owned();
    for s in sorted {
        if !s.is_empty() {
            out = out.replace(s.as_str(), "***");
            let enc: String = s
                .bytes()
                .map(|b| {
                    if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
                        (b as char).to_string()
                    } else {
                        format!("%{b:02X}")
                    }
                })
                .collect();
            if enc != *s {
                out = out.replace(enc.as_str(), "***");
            }
        }
    }
    out
}
