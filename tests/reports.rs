//! The verdict where people look: `--junit FILE` (GitLab's `artifacts:reports:junit`) and the
//! collapsible log section around a wait's progress inside a GitLab job.

use crate::support;

use support::gitlab::{API_TOKEN, Fault, GitLab, Job};
use support::junit::Report;
use support::{Run, gljob};

const GITLAB_18: (u32, u32) = (18, 3);

fn temp_report(tag: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("gljob-report-{}-{tag}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("a temporary directory");
    dir.join("gljob-junit.xml")
}

/// The report, parsed, with its structure checked as GitLab reads it (`support::junit`).
fn read_report(path: &std::path::Path) -> Report {
    support::junit::parse(path).unwrap_or_else(|why| panic!("{why}"))
}

fn wait_with_report(server: &GitLab, path: &std::path::Path, extra: &[&str]) -> Run {
    let mut args = vec!["wait", "--stage", "test", "--interval", "5ms", "--junit"];
    let path = path.to_str().expect("a UTF-8 path");
    args.push(path);
    args.extend_from_slice(extra);
    gljob(server, &args, &[])
}

#[test]
fn the_report_judges_each_job_as_the_exit_code_does() {
    let server = GitLab::start(GITLAB_18);
    server.add([
        Job::new(1, "unit", "test", "running").then(&["success"]),
        Job::new(2, "e2e", "test", "running").then(&["failed"]),
        Job::new(3, "lint", "test", "failed").allow_failure(),
        Job::new(4, "docs", "test", "skipped"),
    ]);
    let path = temp_report("judged");
    let run = wait_with_report(&server, &path, &["--allow-skipped"]);
    run.expect(1);
    let report = read_report(&path);
    assert_eq!((report.failures, report.skipped), (1, 1));
    let case = |name: &str| {
        report
            .cases
            .iter()
            .find(|c| c.0 == name)
            .unwrap_or_else(|| panic!("{name}"))
            .clone()
    };
    assert_eq!(case("unit"), ("unit".into(), "test".into(), None));
    assert_eq!(
        case("e2e").2.as_deref(),
        Some("failure: e2e is failed"),
        "a failure element with the status"
    );
    assert_eq!(
        case("lint").2,
        None,
        "an allowed failure passed (with a warning)"
    );
    assert_eq!(case("docs").2.as_deref(), Some("skipped: skipped"));
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(text.contains("script_failure"), "failure_reason: {text}");

    // --strict: the allowed failure fails too, as the exit code says.
    let server = GitLab::start(GITLAB_18);
    server.add([Job::new(3, "lint", "test", "failed").allow_failure()]);
    wait_with_report(&server, &path, &["--strict"]).expect(1);
    assert_eq!(read_report(&path).failures, 1);
}

#[test]
fn the_report_is_written_on_timeout_and_on_gitlab_trouble() {
    let server = GitLab::start(GITLAB_18);
    server.add([
        Job::new(1, "unit", "test", "success"),
        Job::new(2, "slow", "test", "running"),
    ]);
    let path = temp_report("timeout");
    wait_with_report(&server, &path, &["--timeout", "300ms"]).expect(124);
    let report = read_report(&path);
    assert_eq!(report.failures, 1);
    assert!(
        report.cases.iter().any(|c| c.0 == "slow"
            && c.2.as_deref().is_some_and(|o| {
                o.contains("slow is running: still unfinished when --timeout ran out")
            })),
        "{:?}",
        report.cases
    );

    // GitLab refuses the second round: the report holds what was known then, and the exit code
    // is GitLab's (3), unchanged by the report.
    let server = GitLab::start(GITLAB_18);
    server.add([Job::new(2, "slow", "test", "running")]);
    server.fault(
        Fault::status(
            "GET",
            "/pipelines/1000/jobs",
            401,
            r#"{"message":"401 Unauthorized"}"#,
        )
        .skip(1),
    );
    let path = temp_report("trouble");
    wait_with_report(&server, &path, &[]).expect(3);
    let report = read_report(&path);
    assert_eq!(report.failures, 1);
    assert!(
        report.cases[0]
            .2
            .as_deref()
            .is_some_and(|o| o.contains("still unfinished when GitLab failed the wait")),
        "{:?}",
        report.cases
    );
}

#[test]
fn check_writes_the_report_and_a_missing_directory_sends_nothing() {
    let server = GitLab::start(GITLAB_18);
    server.add([
        Job::new(1, "unit", "test", "success"),
        Job::new(2, "deploy", "deploy", "manual"),
    ]);
    let path = temp_report("check");
    let path_text = path.to_str().unwrap();
    gljob(
        &server,
        &[
            "check",
            "unit",
            "deploy",
            "--status",
            "success,manual",
            "--junit",
            path_text,
        ],
        &[],
    )
    .expect(0);
    assert_eq!(read_report(&path).failures, 0);
    gljob(
        &server,
        &["check", "unit", "deploy", "--junit", path_text],
        &[],
    )
    .expect(1);
    assert_eq!(read_report(&path).failures, 1, "manual is not passed");

    let before = server.requests().len();
    gljob(
        &server,
        &["check", "unit", "--junit", "/nonexistent-dir/x.xml"],
        &[],
    )
    .expect(2)
    .says("does not exist");
    assert_eq!(server.requests().len(), before, "nothing sent");
    let run = gljob(
        &server,
        &["play", "deploy", "--junit", path_text],
        &[("GITLAB_TOKEN", Some(API_TOKEN))],
    );
    run.expect(2).says("need --wait");
}

#[test]
fn inside_a_gitlab_job_the_progress_is_a_collapsed_section_and_the_verdict_stays_outside() {
    let server = GitLab::start(GITLAB_18);
    server.add([Job::new(1, "unit", "test", "running").then(&["running", "success"])]);
    let run = gljob(&server, &["wait", "unit", "--interval", "5ms"], &[]);
    run.expect(0);
    let start = run
        .stderr
        .find("\x1b[0Ksection_start:")
        .expect("a section start");
    let end = run
        .stderr
        .find("\x1b[0Ksection_end:")
        .expect("a section end");
    let header = &run.stderr[start..];
    assert!(
        header
            .contains(":gljob_wait[collapsed=true]\r\x1b[0Kgljob: waiting for 1 job: 1 running\n"),
        "{:?}",
        run.stderr
    );
    let progress = run
        .stderr
        .find("unit (#1): running -> success")
        .expect("progress");
    let verdict = run
        .stderr
        .find("passed: unit (#1) success")
        .expect("verdict");
    assert!(
        start < progress && progress < end && end < verdict,
        "{:?}",
        run.stderr
    );
    support::assert_no_control(&run, true, "markers aside");

    // Not inside GitLab, with --no-sections, or with NO_COLOR: plain lines, no escape at all.
    for extra in [vec![("GITLAB_CI", None)], vec![("NO_COLOR", Some("1"))]] {
        let server = GitLab::start(GITLAB_18);
        server.add([Job::new(1, "unit", "test", "success")]);
        let run = gljob(&server, &["wait", "unit"], &extra);
        run.expect(0);
        run.never_says("\x1b");
    }
    let server = GitLab::start(GITLAB_18);
    server.add([Job::new(1, "unit", "test", "success")]);
    let run = gljob(&server, &["wait", "unit", "--no-sections"], &[]);
    run.expect(0).never_says("\x1b");
}
