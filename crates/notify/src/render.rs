//! Templates (minijinja, embedded): every message is rendered twice, as plain text and as
//! HTML (auto-escaped, so partner names and notes cannot inject markup).

use std::sync::OnceLock;

use minijinja::{AutoEscape, Environment, Value};
use serde::Serialize;

/// A rendered message body and subject.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rendered {
    pub subject: String,
    pub text: String,
    pub html: String,
}

fn env() -> &'static Environment<'static> {
    static ENV: OnceLock<Environment<'static>> = OnceLock::new();
    ENV.get_or_init(|| {
        let mut env = Environment::new();
        env.set_auto_escape_callback(|name| {
            if name.ends_with(".html") {
                AutoEscape::Html
            } else {
                AutoEscape::None
            }
        });
        env.set_keep_trailing_newline(true);
        for (name, source) in [
            ("layout.html", include_str!("../templates/layout.html")),
            ("digest.txt", include_str!("../templates/digest.txt")),
            ("digest.html", include_str!("../templates/digest.html")),
            ("event.txt", include_str!("../templates/event.txt")),
            ("event.html", include_str!("../templates/event.html")),
        ] {
            env.add_template(name, source)
                .expect("embedded templates parse (covered by tests)");
        }
        env
    })
}

/// Renders template `name` (`digest` or `event`) as text and HTML with `ctx`.
pub(crate) fn render(
    name: &str,
    subject: String,
    ctx: &impl Serialize,
) -> Result<Rendered, minijinja::Error> {
    let env = env();
    let mut value = Value::from_serialize(ctx);
    // The subject is shown in the HTML title too.
    value = minijinja::context! { subject => subject.clone(), ..value };
    let text = env.get_template(&format!("{name}.txt"))?.render(&value)?;
    let html = env.get_template(&format!("{name}.html"))?.render(&value)?;
    Ok(Rendered {
        subject: one_line(&subject),
        text,
        html,
    })
}

/// A header-safe line: every control character (CR and LF above all) becomes a space, so
/// no text from a plan, a note or a partner name can start a header of its own.
pub fn one_line(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        out.push(if c.is_control() { ' ' } else { c });
    }
    out.trim().to_string()
}
