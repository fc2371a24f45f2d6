//! Worst cases for `cutover_plan::load` at the 4 MiB size limit: generates a plan of one
//! kind (filled up to the limit) and times loading it.
//!
//! `cargo run --release -p cutover-plan --example load_bench -- KIND [RUNS]` prints the
//! plan's size, the median load time of RUNS (default 3) and the diagnostics found; run it
//! under `/usr/bin/time -v` for the peak RSS. `-- print KIND` writes the plan to stdout
//! (to feed `cutover validate`). `-- list` names the kinds. Figures: docs/performance.md.

use std::time::Instant;

use cutover_plan::{MAX_NODES, MAX_PLAN_BYTES, load};

const HEAD: &str = "migration: m
timezone: UTC
currency: EUR
layers:
  product: {}
people:
  - { id: alex, name: Alex, email: a@x.io, lead: true, layers: [product] }
";

const KINDS: &[(&str, &str)] = &[
    (
        "checks",
        "valid: checks, each the exit condition of one phase, up to the node limit",
    ),
    (
        "bad-refs",
        "the same, each condition naming its check misspelt (suggestions)",
    ),
    (
        "long-ids",
        "a 2 MB check id and a 2 MB misspelt reference to it",
    ),
    ("long-text", "valid: one check with a 4 MB description"),
    (
        "deep",
        "checks whose params nest 60 levels deep (the deepest allowed), up to the node limit",
    ),
    (
        "nested-lists",
        "lists of one list nested 60 deep (`[[[...1]]]`), up to the node limit",
    ),
    (
        "unknown-keys",
        "unknown top-level keys, up to the node limit",
    ),
    (
        "flow-list",
        "one flow list of numbers, up to the node limit (2 bytes a node)",
    ),
    (
        "too-many-nodes",
        "one flow list of numbers, one more than the node limit",
    ),
    ("duplicates", "repeats of one key, up to the node limit"),
    (
        "long-context",
        "a condition with a 50 KB id and as many children naming unknown checks as fit",
    ),
    (
        "people",
        "as many people as fit, owning layers that do not exist",
    ),
    ("sources", "as many sources as fit, with unknown time zones"),
    (
        "metrics",
        "valid: declared metrics, each named by a check's params and a source's metrics",
    ),
    (
        "bad-metrics",
        "the same, each check and source naming its metric misspelt (suggestions)",
    ),
];

/// `head`, then `item(0)`, `item(1)`, ... as long as `tail` still fits in the size limit
/// and the items' `nodes` each (keys, values, lists, mappings) in the node limit.
fn fill(head: &str, item: impl Fn(usize) -> String, nodes: usize, tail: &str) -> String {
    let mut text = String::from(head);
    for i in 0..(MAX_NODES - 100) / nodes {
        let next = item(i);
        if text.len() + next.len() + tail.len() > MAX_PLAN_BYTES {
            break;
        }
        text.push_str(&next);
    }
    text.push_str(tail);
    text
}

fn plan(kind: &str) -> Option<String> {
    let phase = "phases:\n  - { id: p, goal: g, owners: [product], exit: [] }\n";
    let text = match kind {
        "checks" | "bad-refs" => {
            // A check (7 nodes) and a condition naming it (5 nodes), up to the node limit.
            let n = (MAX_NODES - 1_000) / 12;
            let mut text = format!("{HEAD}checks:\n");
            for i in 0..n {
                text.push_str(&format!(
                    "  - {{ id: check_{i:06}, layer: product, kind: manual }}\n"
                ));
            }
            text.push_str("phases:\n  - id: p\n    goal: g\n    owners: [product]\n    exit:\n");
            let typo = if kind == "checks" { "check" } else { "chekc" };
            for i in 0..n {
                text.push_str(&format!("      - {{ id: x{i}, check: {typo}_{i:06} }}\n"));
            }
            text
        }
        "long-ids" => {
            let len = (MAX_PLAN_BYTES - 1000) / 2;
            let id = "a".repeat(len);
            let typo = format!("{}b", &id[1..]);
            format!(
                "{HEAD}checks:\n  - {{ id: {id}, layer: product, kind: manual }}\nphases:\n  - id: p\n    goal: g\n    owners: [product]\n    exit:\n      - {{ id: x, check: {typo} }}\n"
            )
        }
        "long-text" => {
            let text = format!(
                "{HEAD}checks:\n  - {{ id: c, layer: product, kind: manual, description: \"\" }}\nphases:\n  - {{ id: p, goal: g, owners: [product], exit: [{{ id: x, check: c }}] }}\n"
            );
            let pad = "d".repeat(MAX_PLAN_BYTES - text.len());
            text.replace("description: \"\"", &format!("description: \"{pad}\""))
        }
        "deep" => {
            let params = format!("{}1{}", "{ a: [".repeat(30), "] }".repeat(30));
            fill(
                &format!("{HEAD}checks:\n"),
                |i| {
                    format!(
                        "  - {{ id: r{i}, layer: product, kind: rollup, schedule: \"0 7 * * *\", params: {params} }}\n"
                    )
                },
                102,
                phase,
            )
        }
        "nested-lists" => {
            let item = format!("  - {}1{}\n", "[".repeat(59), "]".repeat(59));
            fill(&format!("{HEAD}x:\n"), |_| item.clone(), 61, phase)
        }
        "unknown-keys" => fill(HEAD, |i| format!("k{i}: 1\n"), 2, phase),
        "flow-list" => fill(
            &format!("{HEAD}x: ["),
            |_| "1,".to_owned(),
            1,
            &format!("]\n{phase}"),
        ),
        "too-many-nodes" => format!("{HEAD}x: [{}]\n{phase}", "1,".repeat(MAX_NODES)),
        "duplicates" => fill(HEAD, |_| "dup: 1\n".to_owned(), 2, phase),
        "long-context" => {
            let id = "z".repeat(50_000);
            fill(
                &format!(
                    "{HEAD}checks: []\nphases:\n  - id: p\n    goal: g\n    owners: [product]\n    exit:\n      - {{ id: {id}, all: ["
                ),
                |i| format!("{{ id: q{i}, check: nope }}, "),
                5,
                "] }\n",
            )
        }
        "people" => fill(
            HEAD,
            |i| {
                format!(
                    "  - {{ id: p{i}, name: P, email: a@x.io, layers: [prodcut_{}] }}\n",
                    i % 100
                )
            },
            10,
            &format!("checks: []\n{phase}"),
        ),
        "sources" => fill(
            &format!("{HEAD}checks: []\n{phase}sources:\n"),
            |i| {
                format!(
                    "  - {{ id: s{i}, system: cake, preset: cake_aggregate, timezone: Europe/Maltta }}\n"
                )
            },
            9,
            "",
        ),
        "metrics" | "bad-metrics" => {
            // A declared metric (2 nodes), an item of a check's list (1), an entry of a
            // source's metrics (2): up to the node limit or the size limit.
            let typo = if kind == "metrics" {
                "metric"
            } else {
                "metirc"
            };
            let per = "  metric_000000: count\n".len() + 2 * "metric_000000: c, ".len();
            let n = ((MAX_NODES - 1_000) / 5).min((MAX_PLAN_BYTES - 2_000) / per);
            let mut text = format!("{HEAD}metrics:\n");
            for i in 0..n {
                text.push_str(&format!("  metric_{i:06}: count\n"));
            }
            let list: Vec<String> = (0..n).map(|i| format!("{typo}_{i:06}")).collect();
            text.push_str(&format!(
                "checks:\n  - {{ id: r, layer: product, kind: reconcile, schedule: \"0 7 * * *\", params: {{ metrics: [{}] }} }}\n",
                list.join(", ")
            ));
            let map: Vec<String> = list.iter().map(|m| format!("{m}: c")).collect();
            text.push_str(&format!(
                "{phase}sources:\n  - {{ id: s, system: old, file: {{ path: s.csv }}, format: {{ type: csv }}, fields: {{ partner: p, day: d }}, metrics: {{ {} }} }}\n",
                map.join(", ")
            ));
            text
        }
        _ => return None,
    };
    Some(text)
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let usage = "usage: load_bench KIND [RUNS] | print KIND | list";
    match args.first().map(String::as_str) {
        None | Some("list") => {
            for (k, what) in KINDS {
                println!("{k:14} {what}");
            }
        }
        Some("print") => {
            let text = args.get(1).and_then(|k| plan(k)).expect(usage);
            print!("{text}");
        }
        Some(kind) => {
            let text = plan(kind).expect(usage);
            assert!(text.len() <= MAX_PLAN_BYTES, "{} bytes", text.len());
            let runs: usize = args.get(1).map_or(3, |r| r.parse().expect(usage));
            let mut times = Vec::new();
            let mut summary = String::new();
            for _ in 0..runs {
                let started = Instant::now();
                let result = load("bench.yaml", &text);
                times.push(started.elapsed().as_secs_f64());
                summary = match &result {
                    Ok(l) => format!(
                        "valid: {} checks, {} warnings",
                        l.plan.checks.len(),
                        l.warnings.len()
                    ),
                    Err(ds) => format!(
                        "invalid: {} diagnostics, first: {}",
                        ds.len(),
                        ds[0].to_string().chars().take(120).collect::<String>()
                    ),
                };
            }
            times.sort_by(f64::total_cmp);
            println!(
                "{kind}: {} bytes, median {:.3} s of {runs} ({:?}); {summary}",
                text.len(),
                times[times.len() / 2],
                times.iter().map(|t| format!("{t:.3}")).collect::<Vec<_>>()
            );
        }
    }
}
