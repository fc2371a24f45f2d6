//! End-to-end: `cutover check run` pulls a reconcile check's two sources from the
//! simulated platforms, runs the check, and records it through the engine: a failing run
//! voids its layer's sign-off, a run that could not compare is `error` and never
//! satisfies the gate, and a passing (or warning) run counts toward the exit condition.

mod support;
use support::{Env, sim_plan, start_sim, text};

#[test]
fn check_run_pulls_reconciles_records_and_feeds_the_gate() {
    let (_sim, base) = start_sim();
    let env = Env::new(&sim_plan("check-run-e2e"), base);
    let today = chrono::Utc::now().date_naive();
    let from = (today - chrono::Days::new(10)).to_string();
    let to = (today - chrono::Days::new(4)).to_string();

    let o = env.run(&["start", "plan.yaml", "--as", "lead"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let o = env.run(&["signoff", "--as", "bea", "--layer", "bi"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));

    // The strict check sees the simulator's injected differences: fail, exit 3, and bi's
    // sign-off is voided.
    let o = env.run(&["check", "run", "strict_recon", "--from", &from, "--to", &to]);
    let out = text(&o);
    assert_eq!(o.status.code(), Some(3), "{out}");
    assert!(
        out.contains(&format!("strict_recon: fail for {from}..{to}")),
        "{out}"
    );
    assert!(out.contains("old old snapshot #1"), "{out}");
    assert!(out.contains("new new snapshot #2"), "{out}");
    assert!(out.contains(" variance\n"), "{out}");
    assert!(
        out.contains("bi's sign-off on parallel_validation voided"),
        "{out}"
    );

    // Reusing a window nobody pulled: the check could not run, so it is `error`.
    let o = env.run(&[
        "check",
        "run",
        "lenient_recon",
        "--from",
        &from,
        "--to",
        &from,
        "--reuse",
    ]);
    let out = text(&o);
    assert_eq!(o.status.code(), Some(1), "{out}");
    assert!(out.contains("lenient_recon: error"), "{out}");
    assert!(out.contains("no complete snapshot of old"), "{out}");
    let o = env.run(&["advance", "--as", "lead", "--from", "parallel_validation"]);
    let out = text(&o);
    assert_eq!(o.status.code(), Some(3), "{out}");
    assert!(
        out.contains("parallel_validation/recon_ok [bi]: latest run of lenient_recon is error"),
        "{out}"
    );
    assert!(out.contains("awaiting sign-off from bi"), "{out}");

    // The lenient check on the stored snapshots of the pulled window: every count within
    // its tolerance, but the new platform reports money in USD and the old one in EUR:
    // each money key is a currency_mismatch (never a match however wide the tolerance),
    // counted like a variance, which its thresholds make a warning. No new pull happens
    // (no snapshot #3).
    let o = env.run(&[
        "check",
        "run",
        "lenient_recon",
        "--from",
        &from,
        "--to",
        &to,
        "--reuse",
    ]);
    let out = text(&o);
    assert_eq!(o.status.code(), Some(0), "{out}");
    assert!(out.contains("lenient_recon: warn"), "{out}");
    assert!(out.contains(" 0 variance, "), "{out}");
    assert!(out.contains(" currency_mismatch\n"), "{out}");
    assert!(
        out.contains("snapshot #1") && !out.contains("snapshot #3"),
        "{out}"
    );

    let o = env.run(&["signoff", "--as", "bea", "--layer", "bi"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let o = env.run(&["advance", "--as", "lead", "--from", "parallel_validation"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));

    // The runs and their findings are stored; the log verifies.
    let o = env.run(&["history", "--json"]);
    let entries: Vec<serde_json::Value> = serde_json::from_slice(&o.stdout).unwrap();
    let runs: Vec<(&str, &str)> = entries
        .iter()
        .filter(|e| e["kind"] == "check_run")
        .map(|e| {
            (
                e["command"]["check"].as_str().unwrap(),
                e["command"]["outcome"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        runs,
        vec![
            ("strict_recon", "fail"),
            ("lenient_recon", "error"),
            ("lenient_recon", "warn")
        ]
    );
    let db = env.db.clone();
    let findings = tokio::runtime::Runtime::new()
        .unwrap()
        .block_on(async move {
            let store = cutover_store::Store::connect(&db).await.unwrap();
            let snap = store.load().await.unwrap();
            store.latest_findings(&snap, "strict_recon").await.unwrap()
        });
    let (run, findings) = findings.expect("a stored run");
    assert_eq!(run.outcome, cutover_plan::Outcome::Fail);
    assert!(run.window.is_some());
    assert!(!findings.is_empty());
    assert!(
        findings
            .iter()
            .any(|f| f.code == "variance" && f.old.is_some() && f.new.is_some())
    );
    // Regression (issue 7): EUR against USD is a finding naming both currencies.
    assert!(
        findings
            .iter()
            .any(|f| f.code == "currency_mismatch" && f.detail == "old EUR, new USD"),
        "{findings:?}"
    );
    let o = env.run(&["history", "verify"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
}
