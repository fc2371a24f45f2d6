//! `cutover notify`: deliver the outbox once (`send`), render a message to stdout
//! (`preview`), list queued, sent and failed messages (`outbox`). The outbox rows a
//! decision implies are built by `cutover_runtime::rows_for`.

use std::collections::BTreeMap;
use std::path::PathBuf;

use chrono::{DateTime, Utc};
use clap::{Subcommand, ValueEnum};
use cutover_notify::{Mailer, Policy, SMTP_URL_ENV, Sender, deliver_due};
use cutover_store::OutboxStatus;

use crate::{Failure, now, open, print_json, render::clean as esc, stored_plan};

#[derive(Debug, Subcommand)]
pub enum NotifyCmd {
    /// Deliver every due outbox message once: over SMTP when CUTOVER_SMTP_URL is set
    /// (smtp://host:port, smtps://..., ?tls=required), else into --mail-dir.
    Send {
        /// Where messages go when no SMTP URL is set: one .eml file each.
        #[arg(long, default_value = "cutover-mail")]
        mail_dir: PathBuf,
        #[arg(long)]
        json: bool,
    },
    /// Render a message for one person to stdout from the stored state (nothing is queued).
    Preview {
        #[arg(long, value_enum)]
        kind: PreviewKind,
        /// The person (an id from the plan's people).
        #[arg(long)]
        to: String,
        /// Print the HTML part instead of the plain text.
        #[arg(long)]
        html: bool,
    },
    /// List the outbox: queued, sent and failed messages, newest first.
    Outbox {
        #[arg(long)]
        json: bool,
        /// Most messages listed.
        #[arg(long, default_value_t = 200)]
        limit: u64,
    },
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum PreviewKind {
    /// The owner's digest: their layers' latest check results and what to do next.
    Digest,
}

pub async fn run(url: &str, cmd: NotifyCmd) -> Result<u8, Failure> {
    match cmd {
        NotifyCmd::Send { mail_dir, json } => send(url, mail_dir, json).await,
        NotifyCmd::Preview { kind, to, html } => preview(url, kind, &to, html).await,
        NotifyCmd::Outbox { json, limit } => outbox(url, json, limit).await,
    }
}

/// The mailer from `CUTOVER_SMTP_URL` or the mail directory; a bad URL is one line and
/// exit 2 (the password is never shown).
pub fn mailer(mail_dir: &std::path::Path) -> Result<Mailer, Failure> {
    let url = std::env::var(SMTP_URL_ENV).ok();
    Mailer::new(url.as_deref(), mail_dir).map_err(|e| Failure::usage(e.to_string()))
}

async fn send(url: &str, mail_dir: PathBuf, json: bool) -> Result<u8, Failure> {
    let mailer = mailer(&mail_dir)?;
    let sender = Sender::from_env().map_err(|e| Failure::usage(e.to_string()))?;
    let store = open(url).await?;
    let report = deliver_due(&store, &mailer, &sender, &Policy::default(), now()).await?;
    let (queued, sent, failed) = store.outbox_counts().await?;
    if json {
        print_json(&serde_json::json!({
            "to": mailer.describe(),
            "sent": report.sent,
            "retrying": report.retrying,
            "failed": report.failed,
            "outbox": { "queued": queued, "sent": sent, "failed": failed },
        }));
    } else {
        println!(
            "Delivered {} message(s) to {}; {} will be retried, {} failed. Outbox: {queued} queued, {sent} sent, {failed} failed.",
            report.sent,
            mailer.describe(),
            report.retrying,
            report.failed
        );
    }
    Ok(if report.failed + report.retrying > 0 {
        1
    } else {
        0
    })
}

async fn preview(url: &str, kind: PreviewKind, to: &str, html: bool) -> Result<u8, Failure> {
    let store = open(url).await?;
    let snap = store.load().await?;
    let plan = stored_plan(&snap)?;
    let Some(person) = plan.person(to) else {
        return Err(Failure::usage(format!(
            "error: no person \"{}\" in plan version {} (people: {})",
            esc(to),
            snap.plan.version,
            plan.people
                .iter()
                .map(|p| p.id.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        )));
    };
    let draft = match kind {
        PreviewKind::Digest => {
            let mut findings = BTreeMap::new();
            for check in plan
                .checks
                .iter()
                .filter(|c| person.layers.contains(&c.layer))
            {
                if let Some((_, f)) = store.latest_findings(&snap, &check.id).await? {
                    findings.insert(check.id.clone(), f);
                }
            }
            cutover_notify::digest(
                &plan,
                &snap.state,
                &snap.facts,
                &findings,
                person,
                "preview".into(),
            )
            .map_err(|e| Failure::error(format!("error: {e}")))?
        }
    };
    println!("To: {} <{}>", esc(&person.name), esc(&person.email));
    println!("Subject: {}", esc(&draft.rendered.subject));
    println!();
    print!(
        "{}",
        if html {
            &draft.rendered.html
        } else {
            &draft.rendered.text
        }
    );
    Ok(0)
}

async fn outbox(url: &str, json: bool, limit: u64) -> Result<u8, Failure> {
    let store = open(url).await?;
    let rows = store.outbox(limit).await?;
    if json {
        print_json(&serde_json::to_value(&rows).unwrap_or_default());
        return Ok(0);
    }
    let (queued, sent, failed) = store.outbox_counts().await?;
    println!("Outbox: {queued} queued, {sent} sent, {failed} failed.");
    for r in rows {
        let when = match r.status {
            OutboxStatus::Sent => format!("sent {}", stamp(r.sent_at.unwrap_or(r.created_at))),
            OutboxStatus::Queued => format!("next {}", stamp(r.next_attempt_at)),
            OutboxStatus::Failed => "gave up".to_string(),
        };
        println!(
            "#{:<5} {:<6} {:<17} {:<12} attempts {} {}  {}{}",
            r.id,
            r.status.as_str(),
            r.kind,
            esc(&r.recipient),
            r.attempts,
            when,
            esc(&r.subject),
            r.last_error
                .map(|e| format!("  (last error: {})", esc(&e)))
                .unwrap_or_default()
        );
    }
    Ok(0)
}

fn stamp(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%d %H:%M:%SZ").to_string()
}
