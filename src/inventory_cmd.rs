//! `cutover inventory [--json]` and `cutover inventory confirm ITEM --as P`: the discovery
//! inventory of the plan, each item's state (documented: its file exists or its URL
//! answers 2xx/3xx; confirmed by a person of its owner layer), and confirmations, which go
//! into the hash-chained log like any command (a refusal exits 3). The documentation
//! probes are IO and happen here; they enter the engine as facts ([`probe_docs`]).

use std::path::Path;
use std::time::Duration;

use clap::{Args, Subcommand};
use cutover_engine::{Command, InventoryDoc, inventory_states};
use cutover_plan::{ConditionKind, Plan};
use cutover_runtime::Extra;
use cutover_store::Store;
use serde_json::json;

use crate::{Failure, decide_and_store, open, print_json, stored_plan};

#[derive(Debug, Args)]
pub struct InventoryCmd {
    #[command(subcommand)]
    pub action: Option<InventoryAction>,
    /// Print the items as JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Subcommand)]
pub enum InventoryAction {
    /// Confirm an inventory item as documented in the current plan (a person of its owner
    /// layer); logged, exit 3 if refused.
    Confirm {
        item: String,
        #[arg(long = "as")]
        by: String,
        #[command(flatten)]
        out: crate::cli::OutArgs,
    },
}

pub async fn run(url: &str, cmd: InventoryCmd) -> Result<u8, Failure> {
    match cmd.action {
        None => list(url, cmd.json).await,
        Some(InventoryAction::Confirm { item, by, out }) => confirm(url, item, by, out.json).await,
    }
}

/// Whether an exit condition of the phase `from` or a later one reads the inventory
/// (all phases when `from` is not known).
pub fn plan_reads_inventory(plan: &Plan, from: Option<&str>) -> bool {
    fn any(c: &cutover_plan::Condition) -> bool {
        match &c.kind {
            ConditionKind::Inventory => true,
            ConditionKind::Any(k) | ConditionKind::All(k) => k.iter().any(any),
            _ => false,
        }
    }
    let start = from.and_then(|f| plan.phase_index(f)).unwrap_or(0);
    plan.phases[start..].iter().any(|p| p.exit.iter().any(any))
}

/// Opens the store with the inventory's documentation probed, when an `inventory:`
/// condition of the current phase or a later one may be evaluated (so its gate sees the
/// probes); otherwise just opens it.
pub async fn open_probed(url: &str) -> Result<Store, Failure> {
    let store = open(url).await?;
    let snap = store.load().await?;
    let plan = stored_plan(&snap)?;
    if !plan_reads_inventory(&plan, snap.state.phase.as_deref()) {
        return Ok(store);
    }
    let docs = probe_docs(&plan, &snap.plan.file_name).await;
    Ok(store.with_inventory_docs(docs))
}

/// Looks for each documented item's file (relative to the plan file's directory) or URL
/// (a GET answering 2xx or 3xx within 10 seconds; redirects are not followed).
pub async fn probe_docs(plan: &Plan, plan_file: &str) -> Vec<InventoryDoc> {
    let base = Path::new(plan_file)
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_default();
    let mut client = None;
    let mut out = Vec::new();
    for it in &plan.inventory {
        let Some(doc) = &it.documented else {
            continue;
        };
        let (found, detail) = if doc.starts_with("http://") || doc.starts_with("https://") {
            let c = client.get_or_insert_with(|| {
                install_crypto();
                reqwest::Client::builder()
                    .timeout(Duration::from_secs(10))
                    .redirect(reqwest::redirect::Policy::none())
                    .build()
            });
            match c {
                Err(e) => (false, format!("no HTTP client: {e}")),
                Ok(c) => match c.get(doc).send().await {
                    Ok(r) => {
                        let s = r.status();
                        (
                            s.is_success() || s.is_redirection(),
                            format!("HTTP {}", s.as_u16()),
                        )
                    }
                    Err(e) => (false, format!("no answer: {}", one_line(&e))),
                },
            }
        } else if doc.contains("://") {
            (false, "not a file path or an http(s) URL".to_string())
        } else {
            let path = base.join(doc);
            match std::fs::metadata(&path) {
                Ok(m) if m.is_file() => (true, "file exists".to_string()),
                Ok(_) => (false, format!("{} is not a file", path.display())),
                Err(e) => (false, format!("{}: {e}", path.display())),
            }
        };
        out.push(InventoryDoc {
            item: it.id.clone(),
            documented: doc.clone(),
            found,
            detail,
        });
    }
    out
}

/// An error with its sources, on one line.
fn one_line(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut src = e.source();
    while let Some(inner) = src {
        s.push_str(": ");
        s.push_str(&inner.to_string());
        src = inner.source();
    }
    s.replace('\n', " ")
}

fn install_crypto() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let _ = rustls::crypto::ring::default_provider().install_default();
    });
}

async fn list(url: &str, json: bool) -> Result<u8, Failure> {
    let store = open(url).await?;
    let mut snap = store.load().await?;
    let plan = stored_plan(&snap)?;
    snap.facts.inventory_docs = probe_docs(&plan, &snap.plan.file_name).await;
    let states = inventory_states(&plan, &snap.facts);
    if json {
        print_json(&json!({ "items": states }));
        return Ok(0);
    }
    if states.is_empty() {
        println!("The plan lists no inventory items.");
        return Ok(0);
    }
    let ready = states.iter().filter(|s| s.ready()).count();
    println!(
        "{} inventory items, {ready} documented and confirmed:",
        states.len()
    );
    for s in &states {
        println!(
            "  {} [{} {}, owner {}] {}: {}",
            s.id,
            s.priority.as_str(),
            s.workflow,
            s.owner,
            s.documented.as_deref().unwrap_or("-"),
            match (&s.confirmed_by, s.ready()) {
                (Some(by), true) => format!(
                    "ready (confirmed by {by}{})",
                    s.confirmed_at
                        .map(|a| format!(" at {}", a.format("%Y-%m-%d %H:%M UTC")))
                        .unwrap_or_default()
                ),
                _ => s.state(),
            }
        );
        if !s.depends_on.is_empty() {
            println!("      depends on {}", s.depends_on.join(", "));
        }
    }
    Ok(0)
}

async fn confirm(url: &str, item: String, by: String, json: bool) -> Result<u8, Failure> {
    let store = open(url).await?;
    let build = |_: &cutover_store::Snapshot, plan: &Plan| {
        Ok(Command::ConfirmInventory {
            by: by.clone(),
            item: item.clone(),
            documented: plan
                .inventory_item(&item)
                .and_then(|i| i.documented.clone()),
        })
    };
    decide_and_store(&store, &build, Extra::Findings(&[], None), json).await
}
