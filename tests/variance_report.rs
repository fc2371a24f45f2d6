//! `cutover report variances --format xlsx|html`: the statement finance files, read
//! back. The XLSX opens with calamine (a spreadsheet reader): the header row is bold, the
//! decimals are numbers with a money format, causes, explainers and acceptors are there,
//! and the remainder sheet adds up. The HTML is one self-contained page with every text
//! escaped.

use std::process::{Command, Output};

use calamine::{Data, Reader, Xlsx, open_workbook};

const BIN: &str = env!("CARGO_BIN_EXE_cutover");

const PLAN: &str = "migration: variance-report
timezone: UTC
currency: EUR
layers:
  bi: { description: BI }
  finance: { description: Finance }
people:
  - { id: lead, name: Lead, email: lead@example.com, lead: true, layers: [bi] }
  - { id: bea, name: Bea, email: bea@example.com, layers: [bi] }
  - { id: fiona, name: Fiona, email: fiona@example.com, layers: [finance] }
sources:
  - { id: old, system: old, rows: aggregate, file: { path: old.csv }, format: { type: csv }, fields: { partner: partner, day: day, currency: currency }, metrics: { ftd_count: ftd_count, ftd_amount: ftd_amount } }
  - { id: new, system: new, rows: aggregate, file: { path: new.csv }, format: { type: csv }, fields: { partner: partner, day: day, currency: currency }, metrics: { ftd_count: ftd_count, ftd_amount: ftd_amount } }
checks:
  - { id: recon, layer: bi, kind: reconcile, schedule: \"0 7 * * *\", sources: { old: old, new: new } }
phases:
  - id: parallel_validation
    goal: Compare
    owners: [bi]
    exit:
      - { id: recon_ok, check: recon, outcome: pass }
  - id: done
    goal: Done
    owners: [bi]
";

const OLD: &str = "partner,day,ftd_count,ftd_amount,currency
P1,2026-10-01,2,1234.50,EUR
P2,2026-10-01,3,30.00,EUR
";

const NEW: &str = "partner,day,ftd_count,ftd_amount,currency
P1,2026-10-01,2,1224.25,EUR
P2,2026-10-01,2,30.00,EUR
";

struct Env {
    dir: tempfile::TempDir,
    db: String,
}

impl Env {
    fn new() -> Env {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(dir.path().join("plan.yaml"), PLAN).unwrap();
        std::fs::write(dir.path().join("old.csv"), OLD).unwrap();
        std::fs::write(dir.path().join("new.csv"), NEW).unwrap();
        let db = format!("sqlite://{}?mode=rwc", dir.path().join("c.db").display());
        let env = Env { dir, db };
        env.ok(&["start", "plan.yaml", "--as", "lead"]);
        let o = env.run(&[
            "check",
            "run",
            "recon",
            "--from",
            "2026-10-01",
            "--to",
            "2026-10-01",
        ]);
        assert!(matches!(o.status.code(), Some(0 | 3)), "{}", text(&o));
        let list: serde_json::Value =
            serde_json::from_slice(&env.run(&["variance", "list", "--json"]).stdout).unwrap();
        let p1 = list
            .as_array()
            .unwrap()
            .iter()
            .find(|v| v["partner"] == "P1")
            .unwrap()["id"]
            .to_string();
        env.ok(&[
            "variance",
            "explain",
            &p1,
            "--category",
            "rounding",
            "--note",
            "fees <b>rounded</b> & \"capped\"",
            "--as",
            "bea",
        ]);
        env.ok(&["variance", "accept", &p1, "--as", "fiona"]);
        env
    }

    fn run(&self, args: &[&str]) -> Output {
        Command::new(BIN)
            .args(args)
            .current_dir(self.dir.path())
            .env("CUTOVER_DATABASE_URL", &self.db)
            .output()
            .expect("run cutover")
    }

    fn ok(&self, args: &[&str]) -> String {
        let o = self.run(args);
        assert_eq!(o.status.code(), Some(0), "{args:?}: {}", text(&o));
        text(&o)
    }
}

fn text(o: &Output) -> String {
    format!(
        "exit {:?}\n--- stdout\n{}\n--- stderr\n{}",
        o.status.code(),
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

fn s(d: Option<&Data>) -> String {
    match d {
        Some(Data::String(s)) => s.clone(),
        other => panic!("expected a string, found {other:?}"),
    }
}

fn f(d: Option<&Data>) -> f64 {
    match d {
        Some(Data::Float(x)) => *x,
        Some(Data::Int(i)) => *i as f64,
        other => panic!("expected a number, found {other:?}"),
    }
}

#[test]
fn the_xlsx_statement_reads_back_with_numbers_formats_and_people() {
    let env = Env::new();
    // Binary output needs a file.
    let o = env.run(&["report", "variances", "--format", "xlsx"]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    env.ok(&[
        "report",
        "variances",
        "--format",
        "xlsx",
        "--out",
        "statement.xlsx",
    ]);
    let mut wb: Xlsx<_> = open_workbook(env.dir.path().join("statement.xlsx")).expect("opens");
    assert_eq!(wb.sheet_names(), ["Variances", "Remainder"]);
    let range = wb.worksheet_range("Variances").unwrap();
    let header: Vec<String> = (0..18).map(|c| s(range.get_value((0, c)))).collect();
    let col = |name: &str| header.iter().position(|h| h == name).unwrap() as u32;
    assert_eq!(header[0], "id");
    assert_eq!(range.height(), 3, "a header and two variances");
    // Sorted by partner: P1 first.
    assert_eq!(s(range.get_value((1, col("partner")))), "P1");
    assert_eq!(s(range.get_value((1, col("metric")))), "ftd_amount");
    assert_eq!(f(range.get_value((1, col("old")))), 1234.5);
    assert_eq!(f(range.get_value((1, col("new")))), 1224.25);
    assert_eq!(f(range.get_value((1, col("delta")))), -10.25);
    assert_eq!(f(range.get_value((1, col("money_impact")))), 10.25);
    assert_eq!(s(range.get_value((1, col("status")))), "accepted");
    assert_eq!(
        s(range.get_value((1, col("cause")))),
        "rounding: fees <b>rounded</b> & \"capped\""
    );
    assert_eq!(s(range.get_value((1, col("explained_by")))), "bea");
    assert_eq!(s(range.get_value((1, col("accepted_by")))), "fiona");
    assert!(!s(range.get_value((1, col("accepted_at")))).is_empty());
    assert_eq!(s(range.get_value((2, col("partner")))), "P2");
    assert_eq!(f(range.get_value((2, col("delta")))), -1.0);
    assert_eq!(s(range.get_value((2, col("status")))), "open");
    assert_eq!(
        range.get_value((2, col("money_impact"))),
        Some(&Data::Empty)
    );

    let styles = wb.worksheet_style("Variances").unwrap();
    let bold = styles
        .get((0, 0))
        .and_then(|st| st.font.as_ref())
        .is_some_and(|f| f.is_bold());
    assert!(bold, "the header row is bold");
    let money = styles
        .get((1, col("money_impact")))
        .and_then(|st| st.number_format.as_ref())
        .map(|n| n.format_code.clone());
    assert_eq!(money.as_deref(), Some("#,##0.00"));

    let rem = wb.worksheet_range("Remainder").unwrap();
    assert_eq!(s(rem.get_value((1, 0))), "ftd_amount");
    assert_eq!(s(rem.get_value((1, 1))), "EUR");
    assert_eq!(f(rem.get_value((1, 3))), 10.25);
    assert_eq!(f(rem.get_value((1, 4))), 10.25);
    assert_eq!(f(rem.get_value((1, 5))), 0.0);
    assert_eq!(s(rem.get_value((2, 0))), "ftd_count");
    assert_eq!(f(rem.get_value((2, 5))), 1.0);
}

#[test]
fn the_html_statement_is_self_contained_and_escaped() {
    let env = Env::new();
    env.ok(&[
        "report",
        "variances",
        "--format",
        "html",
        "--out",
        "statement.html",
    ]);
    let page = std::fs::read_to_string(env.dir.path().join("statement.html")).unwrap();
    assert!(page.starts_with("<!DOCTYPE html>"), "{page}");
    assert!(
        page.contains(
            "<td>rounding: fees &lt;b&gt;rounded&lt;/b&gt; &amp; &quot;capped&quot;</td>"
        ),
        "{page}"
    );
    assert!(!page.contains("<b>rounded"), "unescaped text: {page}");
    for outside in ["http://", "https://", "<script", "<link", "src="] {
        assert!(!page.contains(outside), "{outside} in {page}");
    }
    assert!(
        page.contains("<li>ftd_amount: 1 variance, observed 10.25 EUR, explained 10.25 EUR, unexplained remainder 0.00 EUR</li>"),
        "{page}"
    );
    assert!(page.contains("<td class=\"num\">-10.25</td>"), "{page}");
    // Standard output when no --out is given.
    let out = env.ok(&["report", "variances", "--format", "html"]);
    assert!(out.contains("<table>"), "{out}");
}
