//! Issue 17, an independent review: where what gljob said disagreed with its exit code, or said
//! less than it knew. Each finding is one test, which failed before its fix:
//! - a JUnit report green while gljob exited 3, 5 or 124 (a confirming read refused, failing on
//!   every retry, or past `--timeout`; stdout full), after `wait`, `play --wait`, `retry --wait`;
//! - a JUnit `time` that was not a finite number for absurd durations;
//! - `cancel` answered 201 with the job still running, taken as done;
//! - a bare name picking `unit 4/3`, `unit 0/3` and other names GitLab never gives an instance;
//! - `wait` and `check` wording one verdict two ways, `check` silent on passed jobs, an allowed
//!   failure on two lines;
//! - `trace` suggesting a pattern or a stage for one job, and not naming the jobs that matched;
//! - a stage typo without a did-you-mean;
//! - `bridges` saying `none yet` of a trigger job that ended without a pipeline.

use crate::support;

use std::time::Duration;
use support::gitlab::{API_TOKEN, Fault, GitLab, Job, Rule};
use support::junit::{Report, parse, temp_path};
use support::{Run, Stdout, gljob, gljob_api, gljob_to};

const GITLAB_18: (u32, u32) = (18, 3);
const API: (&str, Option<&str>) = ("GITLAB_TOKEN", Some(API_TOKEN));
const LIST: &str = "/pipelines/1000/jobs";

/// Runs `args` with `--junit` and returns the run and its report, which must be there.
fn with_report(server: &GitLab, args: &[&str], extra: &[(&str, Option<&str>)]) -> (Run, Report) {
    with_report_to(server, args, extra, Stdout::Piped)
}

fn with_report_to(
    server: &GitLab,
    args: &[&str],
    extra: &[(&str, Option<&str>)],
    stdout: Stdout,
) -> (Run, Report) {
    let path = temp_path("truth");
    let mut args = args.to_vec();
    args.extend(["--junit", path.to_str().expect("a UTF-8 path")]);
    let run = gljob_to(server, &args, extra, stdout);
    let report = parse(&path);
    let _ = std::fs::remove_dir_all(path.parent().expect("a directory"));
    let report = report.unwrap_or_else(|why| panic!("{args:?}: {why}\n{}", run.stderr));
    (run, report)
}

/// The report's verdict is the exit code's: green exactly at 0, and otherwise a case in error
/// saying `what` ended the run, unless a job's own case failed.
#[track_caller]
fn agrees(run: &Run, report: &Report, what: &str) {
    assert_eq!(
        report.green(),
        run.code == 0,
        "exit {} with a report {}green\n{}\n--- stderr\n{}",
        run.code,
        if report.green() { "" } else { "not " },
        report.text,
        run.stderr
    );
    if run.code != 0 && report.failures == 0 {
        assert!(
            report.error_messages().iter().any(|m| m.contains(what)),
            "no error saying {what:?}: {}",
            report.text
        );
    }
}

/// Every followed job passed, then the read that confirms the verdict was refused, failed on
/// every retry, or ran past `--timeout`; or stdout could not take the result: the exit code is
/// 3, 124 or 5, and so is the report's verdict (green before).
#[test]
fn a_report_is_never_green_when_the_exit_code_is_not_0() {
    let refused = || Fault::status("GET", LIST, 401, r#"{"message":"401 Unauthorized"}"#);
    let wait = ["wait", "unit", "--interval", "5ms"];

    // The confirming read (the second read of the list) refused.
    let server = GitLab::start(GITLAB_18);
    server.add([Job::new(1, "unit", "test", "success")]);
    server.fault(refused().skip(1));
    let (run, report) = with_report(&server, &wait, &[]);
    run.expect(3);
    agrees(&run, &report, "401");
    assert_eq!(report.case("unit").2, None, "the job itself passed");

    // ... failing (502) on every retry of every round.
    let server = GitLab::start(GITLAB_18);
    server.add([Job::new(1, "unit", "test", "success")]);
    server.fault(Fault::status("GET", LIST, 502, "").skip(1).forever());
    let (run, report) = with_report(&server, &[&wait[..], &["--retries", "0"]].concat(), &[]);
    run.expect(3);
    agrees(&run, &report, "502");

    // ... never answered, past --timeout: exit 124 within 2 s of it.
    let server = GitLab::start(GITLAB_18);
    server.add([Job::new(1, "unit", "test", "success")]);
    server.fault(Rule::new("GET", LIST, Fault::NoAnswer).skip(1).forever());
    let (run, report) = with_report(&server, &[&wait[..], &["--timeout", "500ms"]].concat(), &[]);
    run.expect(124);
    assert!(
        run.elapsed < Duration::from_millis(2500),
        "{:?}",
        run.elapsed
    );
    agrees(&run, &report, "--timeout");

    // Every job passed and was confirmed, and stdout (`--json`) could not be written: exit 5.
    let server = GitLab::start(GITLAB_18);
    server.add([Job::new(1, "unit", "test", "success")]);
    let json = [&wait[..], &["--json"]].concat();
    let (run, report) = with_report_to(&server, &json, &[], Stdout::Full);
    run.expect(5);
    agrees(&run, &report, "standard output");

    // `check`, whose confirming read is refused, the same way; its jobs are in the report too.
    let server = GitLab::start(GITLAB_18);
    server.add([Job::new(1, "unit", "test", "success")]);
    server.fault(refused().skip(1));
    let (run, report) = with_report(&server, &["check", "unit"], &[]);
    run.expect(3);
    agrees(&run, &report, "401");
    assert_eq!(report.case("unit").2, None);
}

/// `retry --wait` and `play --wait` whose new attempt passed, then the confirming read refused:
/// exit 3, and a report that says so (green before).
#[test]
fn a_write_then_wait_whose_confirming_read_fails_has_a_report_in_error() {
    // Whole reads of the list: the selection, then the confirming read (refused); the round that
    // sees the new attempt pass asks for some statuses only.
    let server = GitLab::start(GITLAB_18);
    server.add([Job::new(2, "unit", "test", "failed").after_retry(&["success"])]);
    let confirming = || {
        Fault::status("GET", LIST, 403, r#"{"message":"403 Forbidden"}"#)
            .without_query("scope[]")
            .skip(1)
    };
    server.fault(confirming());
    let args = ["retry", "unit", "--wait", "--interval", "5ms"];
    let (run, report) = with_report(&server, &args, &[API]);
    run.expect(3);
    assert_eq!(server.applied(), [("retry", 2)]);
    agrees(&run, &report, "403");

    let server = GitLab::start(GITLAB_18);
    server.add([Job::new(5, "deploy", "deploy", "manual").after_play(&["success"])]);
    server.fault(confirming());
    let args = ["play", "deploy", "--wait", "--interval", "5ms"];
    let (run, report) = with_report(&server, &args, &[API]);
    run.expect(3);
    assert_eq!(server.applied(), [("play", 5)]);
    agrees(&run, &report, "403");

    // Without a fault, the same commands pass, and their reports are green.
    let server = GitLab::start(GITLAB_18);
    server.add([Job::new(5, "deploy", "deploy", "manual").after_play(&["success"])]);
    let (run, report) = with_report(&server, &args, &[API]);
    run.expect(0);
    agrees(&run, &report, "");
}

/// A JUnit `time` is a plain finite number whatever `duration` GitLab sends: two of 1e308 add up
/// to infinity (`time="inf"` before), a negative one is no time.
#[test]
fn junit_times_are_finite_for_absurd_durations() {
    for duration in ["1e308", "1.7976931348623157e308", "-5", "-0.0", "-1e308"] {
        let server = GitLab::start(GITLAB_18);
        server.add([
            Job::new(1, "unit", "test", "success"),
            Job::new(2, "lint", "test", "success"),
        ]);
        server.fault(
            Rule::new(
                "GET",
                LIST,
                Fault::Rewrite {
                    from: br#""duration":60.25"#.to_vec(),
                    to: format!(r#""duration":{duration}"#).into_bytes(),
                },
            )
            .forever(),
        );
        let (run, report) = with_report(&server, &["check", "unit", "lint"], &[]);
        run.expect(0);
        // `parse` refuses a time that is not a plain finite number.
        assert!(report.times.iter().all(|t| t.is_finite()), "{duration}");
    }
}

/// GitLab answered a cancel 201 with the job still running: not done. It is read back, and what
/// that shows is the outcome (exit 0 with "done" before).
#[test]
fn a_cancel_answered_with_the_job_still_running_is_read_back() {
    let running = |server: &GitLab| {
        serde_json::to_string(&support::gitlab::render(&server.job(4))).expect("JSON")
    };
    // The cancel did not apply, and reading back shows the job running: unknown, exit 4.
    let server = GitLab::start(GITLAB_18);
    server.add([Job::new(4, "e2e", "test", "running")]);
    let body = running(&server);
    server.fault(Fault::status("POST", "/cancel", 201, &body));
    let run = gljob(&server, &["cancel", "4"], &[API]);
    run.expect(4)
        .says("e2e (#4) still running")
        .says("unknown")
        .never_says("GitLab left it unchanged");
    assert_eq!(server.requests_to("POST", "/cancel").len(), 1, "sent once");
    assert_eq!(server.requests_to("GET", "/jobs/4").len(), 1, "read back");

    // The cancel applied, its answer still said running: reading back proves it, exit 0.
    let server = GitLab::start(GITLAB_18);
    server.add([Job::new(4, "e2e", "test", "running")]);
    server.fault(Rule::new(
        "POST",
        "/cancel",
        Fault::Rewrite {
            from: br#""status":"canceled""#.to_vec(),
            to: br#""status":"running""#.to_vec(),
        },
    ));
    let run = gljob_api(&server, &["cancel", "4"]);
    run.expect(0).says("took effect");
    assert_eq!(server.applied(), [("cancel", 4)]);

    // A finished job: GitLab answers it unchanged, which is what a cancel of it means.
    let server = GitLab::start(GITLAB_18);
    server.add([Job::new(4, "e2e", "test", "success")]);
    gljob_api(&server, &["cancel", "4"])
        .expect(0)
        .says("GitLab left it unchanged");
    assert!(
        server.requests_to("GET", "/jobs/4").is_empty(),
        "nothing to read back"
    );
}

/// A bare name takes the instances GitLab makes of a `parallel: N` job, `NAME I/N` with I from 1
/// to N, and nothing else that looks like one.
#[test]
fn a_bare_name_takes_only_real_parallel_instances() {
    let server = GitLab::start(GITLAB_18);
    let odd = [
        "unit 4/3",
        "unit 0/3",
        "unit 01/3",
        "unit 2/1",
        "unit 1/03",
        "unit 3/2",
    ];
    let mut id = 10;
    for name in odd {
        id += 1;
        server.add([Job::new(id, name, "test", "failed")]);
    }
    server.add([
        Job::new(1, "unit 1/2", "test", "success"),
        Job::new(2, "unit 2/2", "test", "success"),
    ]);
    let run = gljob(&server, &["check", "unit"], &[]);
    run.expect(0);
    assert_eq!(
        run.stderr.matches("passed: unit").count(),
        2,
        "{}",
        run.stderr
    );
    for name in odd {
        run.never_says(name);
    }
    // Each still names itself.
    gljob(&server, &["check", "unit 4/3"], &[]).expect(1);
}

/// One verdict, one wording: `wait` and `check` print the same line for each job, passed ones
/// too, and an allowed failure in one line.
#[test]
fn wait_and_check_word_each_verdict_alike() {
    let server = GitLab::start(GITLAB_18);
    server.add([
        Job::new(101, "unit", "test", "success"),
        Job::new(104, "lint", "test", "failed"),
        Job::new(105, "style", "test", "failed").allow_failure(),
    ]);
    let lines = |run: &Run| -> Vec<String> {
        let mut lines: Vec<String> = run
            .stderr
            .lines()
            .filter(|l| l.contains(": ") && !l.starts_with('[') && !l.starts_with("gljob"))
            .filter(|l| !l.contains("section_"))
            .map(str::to_string)
            .collect();
        lines.sort();
        lines
    };
    let wait = gljob(
        &server,
        &["wait", "unit", "lint", "style", "--no-sections"],
        &[],
    );
    wait.expect(1);
    let check = gljob(&server, &["check", "unit", "lint", "style"], &[]);
    check.expect(1);
    let url = "https://gitlab.example.com/group/sub/app/-/jobs/104";
    assert_eq!(
        lines(&check),
        [
            format!("NOT PASSED: lint (#104) failed (script_failure) {url}"),
            "passed with warning: style (#105) failed (script_failure), allowed to fail; \
             --strict would fail it"
                .to_string(),
            "passed: unit (#101) success".to_string(),
        ],
        "{}",
        check.stderr
    );
    assert_eq!(lines(&wait), lines(&check), "{}", wait.stderr);
}

/// `trace` takes one job: without a selector it says so (no pattern nor stage suggested), and a
/// selector matching several names them, a few at most.
#[test]
fn trace_asks_for_one_job_and_names_those_that_matched() {
    let server = GitLab::start(GITLAB_18);
    gljob(&server, &["trace"], &[API])
        .expect(2)
        .says("needs one job")
        .never_says("--stage")
        .never_says("pattern");
    server.add([
        Job::new(3, "test 1/2", "test", "success"),
        Job::new(4, "test 2/2", "test", "success"),
    ]);
    gljob(&server, &["trace", "test"], &[API])
        .expect(3)
        .says("2 jobs match (test 2/2 (#4), test 1/2 (#3))");
    let many: Vec<Job> = (0..8)
        .map(|i| Job::new(20 + i, &format!("e2e {}/8", i + 1), "e2e", "success"))
        .collect();
    server.add(many);
    let run = gljob(&server, &["trace", "e2e"], &[API]);
    run.expect(3).says("8 jobs match (").says(" and 3 more)");
    assert!(
        server.requests_to("GET", "/trace").is_empty(),
        "no log read"
    );
}

/// A stage that no job has, near one the pipeline has: did you mean it?
#[test]
fn a_stage_typo_names_the_nearest_stage() {
    let server = GitLab::start(GITLAB_18);
    server.add([
        Job::new(1, "build", "build", "success"),
        Job::new(2, "unit", "test", "success"),
    ]);
    gljob(&server, &["wait", "--stage", "tset"], &[])
        .expect(3)
        .says("stage 'tset' (did you mean stage 'test'?)");
    gljob(&server, &["check", "--stage", "nonsense"], &[])
        .expect(3)
        .never_says("did you mean");
}

/// A trigger job without a pipeline: `none yet` while it may still create one, `none` once it
/// has ended without one, in the table and in the tree alike (the README says the same).
#[test]
fn bridges_tell_a_pipeline_to_come_from_none() {
    let server = GitLab::start((19, 2));
    server.add([
        Job::new(10, "docs", "deploy", "manual").bridge(None),
        Job::new(11, "e2e", "deploy", "failed").bridge(None),
    ]);
    let run = gljob(&server, &["bridges"], &[]);
    run.expect(0);
    let out = run.out();
    let row = |name: &str| -> String {
        out.lines()
            .find(|l| l.contains(name))
            .unwrap_or_else(|| panic!("{name} in {out}"))
            .to_string()
    };
    assert!(row("docs").ends_with("  none yet"), "{out}");
    assert!(row("e2e").ends_with("  none"), "{out}");
    let run = gljob(&server, &["bridges", "--tree"], &[]);
    run.expect(0);
    let out = run.out();
    assert!(
        out.contains("docs (#10, trigger) manual -> none yet\n"),
        "{out}"
    );
    assert!(out.contains("e2e (#11, trigger) failed -> none\n"), "{out}");
}

/// `a::b::c::lint` where `c` (in `b`'s pipeline 3000) names `a`'s pipeline 2000, which is neither
/// its own nor the top one: still a loop, refused (exit 3) before anything is acted on; it was
/// followed until the depth limit, and `lint` judged in a pipeline above.
#[test]
fn a_trigger_job_naming_any_pipeline_on_the_way_up_is_refused() {
    let server = GitLab::start((19, 2));
    server.add([Job::new(10, "a", "deploy", "running").bridge(Some(2000))]);
    server.add_pipeline(
        support::gitlab::Pipeline::child(2000),
        [
            Job::new(20, "lint", "test", "success"),
            Job::new(21, "b", "deploy", "running").bridge(Some(3000)),
        ],
    );
    server.add_pipeline(
        support::gitlab::Pipeline::child(3000),
        [Job::new(31, "c", "deploy", "running").bridge(Some(2000))],
    );
    let run = gljob(&server, &["check", "a::b::c::lint"], &[]);
    run.expect(3);
    run.says("a::b::c::: trigger job c (#31) names pipeline 2000, which is above it");
    let run = gljob(&server, &["cancel", "a::b::c::lint"], &[API]);
    run.expect(3);
    assert!(
        server.requests_to("POST", "/cancel").is_empty(),
        "nothing canceled"
    );
}

/// A green report left at the path by an earlier gate line, then a usage error (exit 2, nothing
/// sent): the report is rewritten in error, not left green for a job that fails (found by a
/// review: two gate lines sharing one report path showed green in the merge request).
#[test]
fn a_usage_error_leaves_no_green_report_behind() {
    let server = GitLab::start(GITLAB_18);
    server.add([Job::new(1, "ok", "test", "success")]);
    let path = temp_path("usage");
    let report = path.to_str().expect("a UTF-8 path");
    gljob(&server, &["check", "ok", "--junit", report], &[]).expect(0);
    assert!(parse(&path).unwrap().green(), "green after the check");
    let usage_errors: [&[&str]; 5] = [
        &["wait", "ok", "--timeout", "banana"],
        &["wait", "500"],
        &["check", "ok", "--status", "nope"],
        &["wait", "ok", "--interval", "0s"],
        &["retry", "ok", "--wait"],
    ];
    for args in usage_errors {
        gljob(&server, &["check", "ok", "--junit", report], &[]).expect(0);
        let before = server.requests().len();
        let mut args = args.to_vec();
        args.extend(["--junit", report]);
        let run = gljob(&server, &args, &[]);
        run.expect(2);
        assert_eq!(server.requests().len(), before, "{args:?}: nothing sent");
        let after = parse(&path).unwrap_or_else(|why| panic!("{args:?}: {why}"));
        assert!(
            !after.green(),
            "{args:?}: the report is not green\n{}",
            after.text
        );
    }
    let _ = std::fs::remove_dir_all(path.parent().expect("a directory"));
}
