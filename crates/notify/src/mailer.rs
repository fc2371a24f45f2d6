//! Where messages go: an SMTP server from `CUTOVER_SMTP_URL` (`smtp://host:port`,
//! `smtps://...`, `smtp://...?tls=required`; credentials in the URL or in
//! `CUTOVER_SMTP_USERNAME`/`CUTOVER_SMTP_PASSWORD`), or, when no URL is set, a mail
//! directory that receives one `.eml` file per message.

use std::path::{Path, PathBuf};
use std::time::Duration;

use lettre::message::{Mailbox, MultiPart, header};
use lettre::transport::smtp::authentication::Credentials;
use lettre::{AsyncFileTransport, AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

use crate::render::one_line;
use cutover_store::OutboxMessage;

/// The SMTP server's URL.
pub const SMTP_URL_ENV: &str = "CUTOVER_SMTP_URL";
/// SMTP user name, when the URL carries none.
pub const SMTP_USERNAME_ENV: &str = "CUTOVER_SMTP_USERNAME";
/// SMTP password, when the URL carries none.
pub const SMTP_PASSWORD_ENV: &str = "CUTOVER_SMTP_PASSWORD";
/// The `From:` of every message (`Name <address>` or `address`).
pub const MAIL_FROM_ENV: &str = "CUTOVER_MAIL_FROM";
/// The `From:` when [`MAIL_FROM_ENV`] is not set.
pub const DEFAULT_FROM: &str = "cutover <cutover@localhost>";

/// A configuration that cannot work; the message never holds a password.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("error: {SMTP_URL_ENV} {url} is not a usable SMTP URL: {reason}")]
    SmtpUrl { url: String, reason: String },
    #[error("error: {MAIL_FROM_ENV} \"{value}\" is not a mail address: {reason}")]
    From { value: String, reason: String },
    #[error("error: cannot use mail directory {dir}: {reason}")]
    MailDir { dir: String, reason: String },
}

/// Why one message was not delivered.
#[derive(Debug, thiserror::Error)]
pub enum SendError {
    /// The server refused it for good (5xx) or the message cannot be built (bad address):
    /// trying again will not help.
    #[error("{0}")]
    Permanent(String),
    /// The server is down, busy or answered 4xx: try again later.
    #[error("{0}")]
    Transient(String),
}

/// Hides the password in a URL (`smtp://user:***@host`), for messages.
pub fn redact(url: &str) -> String {
    cutover_store::redact_url(url)
}

/// The sender of every message.
#[derive(Debug, Clone)]
pub struct Sender {
    pub mailbox: Mailbox,
}

impl Sender {
    /// From [`MAIL_FROM_ENV`], or [`DEFAULT_FROM`].
    pub fn from_env() -> Result<Sender, ConfigError> {
        let value = std::env::var(MAIL_FROM_ENV).unwrap_or_else(|_| DEFAULT_FROM.to_string());
        Sender::parse(&value)
    }

    pub fn parse(value: &str) -> Result<Sender, ConfigError> {
        value
            .parse::<Mailbox>()
            .map(|mailbox| Sender { mailbox })
            .map_err(|e| ConfigError::From {
                value: one_line(value),
                reason: e.to_string(),
            })
    }

    /// The sender's domain: the right-hand side of every `Message-ID`.
    pub fn domain(&self) -> String {
        self.mailbox.email.domain().to_string()
    }
}

/// A transport messages are handed to.
#[derive(Clone)]
pub enum Mailer {
    Smtp {
        transport: AsyncSmtpTransport<Tokio1Executor>,
        /// The URL with its password hidden, for messages.
        shown: String,
    },
    Dir {
        transport: AsyncFileTransport<Tokio1Executor>,
        dir: PathBuf,
    },
}

impl std::fmt::Debug for Mailer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.describe())
    }
}

impl Mailer {
    /// SMTP when `smtp_url` is given, else the mail directory `mail_dir` (created).
    pub fn new(smtp_url: Option<&str>, mail_dir: &Path) -> Result<Mailer, ConfigError> {
        match smtp_url.filter(|u| !u.trim().is_empty()) {
            Some(url) => Mailer::smtp(url),
            None => Mailer::dir(mail_dir),
        }
    }

    /// An SMTP transport from a URL. Credentials from the environment apply when the URL
    /// has none.
    pub fn smtp(url: &str) -> Result<Mailer, ConfigError> {
        let shown = one_line(&redact(url));
        let fail = |reason: String| ConfigError::SmtpUrl {
            url: shown.clone(),
            reason: scrub(&reason, url),
        };
        let scheme = url.split_once("://").map(|(s, _)| s);
        if !matches!(scheme, Some("smtp" | "smtps")) {
            return Err(fail(
                "the scheme must be smtp:// or smtps:// (e.g. smtp://mail.example.com:587?tls=required)"
                    .into(),
            ));
        }
        let mut builder = AsyncSmtpTransport::<Tokio1Executor>::from_url(url)
            .map_err(|e| fail(e.to_string()))?
            .timeout(Some(Duration::from_secs(20)));
        let url_has_user = url
            .split_once("://")
            .map(|(_, rest)| rest.split('/').next().unwrap_or("").contains('@'))
            .unwrap_or(false);
        if !url_has_user && let Ok(user) = std::env::var(SMTP_USERNAME_ENV) {
            let password = std::env::var(SMTP_PASSWORD_ENV).unwrap_or_default();
            builder = builder.credentials(Credentials::new(user, password));
        }
        Ok(Mailer::Smtp {
            transport: builder.build(),
            shown,
        })
    }

    /// A mail directory: one `.eml` file per message.
    pub fn dir(dir: &Path) -> Result<Mailer, ConfigError> {
        std::fs::create_dir_all(dir).map_err(|e| ConfigError::MailDir {
            dir: dir.display().to_string(),
            reason: e.to_string(),
        })?;
        Ok(Mailer::Dir {
            transport: AsyncFileTransport::<Tokio1Executor>::new(dir),
            dir: dir.to_path_buf(),
        })
    }

    /// Where messages go, for people.
    pub fn describe(&self) -> String {
        match self {
            Mailer::Smtp { shown, .. } => format!("SMTP {shown}"),
            Mailer::Dir { dir, .. } => format!("mail directory {}", dir.display()),
        }
    }

    /// Hands one message over; `Ok` means the server (or the directory) accepted it.
    pub async fn send(&self, message: Message) -> Result<(), SendError> {
        match self {
            Mailer::Smtp { transport, .. } => match transport.send(message).await {
                Ok(_) => Ok(()),
                Err(e) if e.is_permanent() => Err(SendError::Permanent(one_line(&e.to_string()))),
                Err(e) => Err(SendError::Transient(one_line(&e.to_string()))),
            },
            Mailer::Dir { transport, .. } => transport
                .send(message)
                .await
                .map(|_| ())
                .map_err(|e| SendError::Transient(one_line(&e.to_string()))),
        }
    }
}

/// Removes the URL's password from a text (an error message that quotes the URL).
fn scrub(text: &str, url: &str) -> String {
    let mut out = one_line(text);
    if let Some((_, rest)) = url.split_once("://")
        && let Some(at) = rest.rfind('@')
        && let Some((_, password)) = rest[..at].split_once(':')
        && !password.is_empty()
    {
        out = out.replace(password, "***");
    }
    out
}

/// The MIME message of an outbox row: multipart/alternative (plain text, then HTML), with
/// the row's `Message-ID`. Every header value is one line: no text can add a header.
pub fn build_message(sender: &Sender, row: &OutboxMessage) -> Result<Message, SendError> {
    let name = one_line(&row.recipient);
    let address = row
        .address
        .trim()
        .parse()
        .map_err(|e| SendError::Permanent(format!("bad address {:?}: {e}", row.address)))?;
    Message::builder()
        .from(sender.mailbox.clone())
        .to(Mailbox::new(Some(name), address))
        .subject(one_line(&row.subject))
        .message_id(Some(one_line(&row.message_id)))
        .header(header::MIME_VERSION_1_0)
        .multipart(MultiPart::alternative_plain_html(
            row.text.clone(),
            row.html.clone(),
        ))
        .map_err(|e| SendError::Permanent(format!("cannot build the message: {e}")))
}
