//! How the `cutover` binary reads plan files it is given: a bounded read (an endless or
//! huge file is refused at the 4 MiB plan limit, not read until memory runs out), non-UTF-8
//! bytes named by offset, and file names escaped in what is printed.

use std::path::Path;
use std::process::{Command, Output};

const BIN: &str = env!("CARGO_BIN_EXE_cutover");

const TOO_LARGE: &str = "error: the plan is larger than the 4 MiB limit (4194304 bytes)";

fn run(dir: &Path, args: &[&str]) -> Output {
    Command::new(BIN)
        .args(args)
        .current_dir(dir)
        .env(
            "CUTOVER_DATABASE_URL",
            format!("sqlite://{}?mode=rwc", dir.join("cutover.db").display()),
        )
        .env_remove("CUTOVER_LOG")
        .output()
        .expect("run cutover")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn validate_of_an_endless_file_stops_at_the_plan_limit() {
    // It used to read /dev/zero until memory ran out.
    let dir = tempfile::tempdir().unwrap();
    let out = run(dir.path(), &["validate", "/dev/zero"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    assert_eq!(
        text(&out.stdout),
        format!("/dev/zero:1:4194305: {TOO_LARGE}\n/dev/zero: invalid (1 error)\n")
    );
}

#[test]
fn start_and_plan_apply_refuse_an_endless_file_and_change_nothing() {
    let dir = tempfile::tempdir().unwrap();
    for args in [
        &["start", "/dev/zero", "--as", "alex"][..],
        &["plan", "apply", "/dev/zero", "--as", "alex"][..],
    ] {
        let out = run(dir.path(), args);
        assert_eq!(
            out.status.code(),
            Some(1),
            "{args:?}: {}",
            text(&out.stderr)
        );
        assert_eq!(
            text(&out.stderr),
            format!(
                "/dev/zero:1:4194305: {TOO_LARGE}\n/dev/zero: invalid plan; nothing was changed\n"
            )
        );
        assert!(!dir.path().join("cutover.db").exists(), "{args:?}");
    }
}

#[test]
fn validate_of_a_file_one_byte_over_the_limit() {
    let dir = tempfile::tempdir().unwrap();
    let mut big = b"migration: m\n#".to_vec();
    big.resize(4 * 1024 * 1024 + 1, b'x');
    std::fs::write(dir.path().join("big.yaml"), &big).unwrap();
    let out = run(dir.path(), &["validate", "big.yaml"]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        text(&out.stdout),
        format!("big.yaml:2:4194292: {TOO_LARGE}\nbig.yaml: invalid (1 error)\n")
    );
}

#[test]
fn validate_names_the_offset_of_bytes_that_are_not_utf8() {
    // It used to exit 2 with "stream did not contain valid UTF-8", saying nothing of where.
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("latin1.yaml"),
        b"migration: m\nname: \xc3\xa9t\xe9\n",
    )
    .unwrap();
    let out = run(dir.path(), &["validate", "latin1.yaml"]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        text(&out.stdout),
        "latin1.yaml:2:9: error: the plan is not UTF-8 text: invalid byte 0xE9 at byte offset 22\nlatin1.yaml: invalid (1 error)\n"
    );
}

#[test]
fn validate_escapes_control_characters_in_file_names() {
    // A file name can hold a newline; printed raw it would forge a second line.
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("a\nb.yaml"), "a: [").unwrap();
    let out = run(dir.path(), &["validate", "a\nb.yaml"]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        text(&out.stdout),
        "a\\nb.yaml:1:5: error: invalid YAML: while parsing a node, did not find expected node content\na\\nb.yaml: invalid (1 error)\n"
    );
    let out = run(dir.path(), &["validate", "missing\u{1b}[2J.yaml"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).starts_with("error: cannot read missing\\u{1b}[2J.yaml: "),
        "{}",
        text(&out.stderr)
    );
}

/// Regression: `cutover validate … | head` panicked (exit 101) once the reader went away.
#[test]
fn a_closed_stdout_ends_the_command_quietly() {
    use std::os::unix::process::ExitStatusExt;
    let plan = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("workflows/affiliate-parallel-run.yaml");
    // Far more output than a pipe buffers, so a write must meet the closed pipe.
    let files = vec![plan; 3000];
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_cutover"))
        .arg("validate")
        .args(&files)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let out = child.wait_with_output().unwrap();
    // Killed by SIGPIPE (13), like any Unix filter, rather than exit 101.
    assert_eq!(out.status.signal(), Some(13), "{:?}", out.status);
    assert!(
        !text(&out.stderr).contains("panicked"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn start_escapes_the_file_name_and_refuses_control_characters_in_plan_text() {
    let dir = tempfile::tempdir().unwrap();
    // An invalid plan under a name with a newline: the closing line must not be forged.
    std::fs::write(dir.path().join("a\nb.yaml"), "a: [").unwrap();
    let out = run(dir.path(), &["start", "a\nb.yaml", "--as", "alex"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).ends_with("a\\nb.yaml: invalid plan; nothing was changed\n"),
        "{}",
        text(&out.stderr)
    );
    // A goal holding a terminal escape never gets into the store: the loader refuses it,
    // so `status` (which escapes what it reads back anyway) cannot print it raw.
    let example = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("workflows/affiliate-parallel-run.yaml"),
    )
    .unwrap();
    let plan = example.replacen(
        "goal: Capture current logic and stack dependencies",
        "goal: \"Capture\\e[2J current logic\"",
        1,
    );
    assert_ne!(plan, example, "the example plan's first goal moved");
    std::fs::write(dir.path().join("plan.yaml"), plan).unwrap();
    let out = run(dir.path(), &["start", "plan.yaml", "--as", "alex"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("control character U+001B (ESC)"),
        "{}",
        text(&out.stderr)
    );
}
