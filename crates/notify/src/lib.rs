//! cutover-notify: the emails of a migration. It decides who hears what from a decision
//! (per-owner digests after check runs, gate changes, transitions done or refused, sign-off
//! requests, waivers, reminders), renders each as multipart plain text + HTML from
//! embedded minijinja templates, and delivers the store's outbox over SMTP or into a mail
//! directory with retries and backoff. See docs/notifications.md.

pub mod compose;
pub mod deliver;
pub mod mailer;
pub mod render;

pub use compose::{ComposeError, DecisionInput, Draft, digest, event, for_decision};
pub use deliver::{Policy, Report, deliver_due};
pub use mailer::{
    ConfigError, DEFAULT_FROM, MAIL_FROM_ENV, Mailer, SMTP_URL_ENV, SendError, Sender,
    build_message,
};
pub use render::Rendered;
