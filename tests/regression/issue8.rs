//! Issue #8, "Verdicts that cannot lie": one regression test (at least) per bug class found by the
//! hostile review of gljob 0.1.0. `tests/REGRESSIONS.md` maps each class to its tests and says how
//! each fared against the 0.1.0 binary. The contract tested is the one the README's exit codes
//! will say after the fix: 0 done/passed, 1 not passed, 2 usage (nothing sent), 3 GitLab
//! refused/failed or a selector matched nothing, 4 a write's outcome is unknown, 5 output could
//! not be written, 124 `--timeout` ran out (within timeout + 2 s, whatever the server does).

use crate::support;

use std::time::Duration;
use support::gitlab::{API_TOKEN, Fault, GitLab, JOB_TOKEN, Job, Rule, Step};
use support::net::Proxy;
use support::{
    Run, Stdout, URL_SECRET, assert_no_control, assert_no_secret, gljob, gljob_api, gljob_to,
    run_with_env, run_within, runner_env,
};

const GITLAB_18: (u32, u32) = (18, 3);
const GRACE: Duration = Duration::from_secs(2);
const API: (&str, Option<&str>) = ("GITLAB_TOKEN", Some(API_TOKEN));

fn no_stale_advice(run: &Run) {
    for advice in ["did not take effect", "run it again"] {
        assert!(
            !run.stderr.contains(advice),
            "an unknown outcome was called not applied ({advice:?})\n--- stderr\n{}",
            run.stderr
        );
    }
}

/// Runs `check`, noting `what` in `failures` if it panics: a test with many sub-cases reports
/// every one that fails, not only the first.
fn collect(failures: &mut Vec<String>, what: String, check: impl FnOnce()) {
    if std::panic::catch_unwind(std::panic::AssertUnwindSafe(check)).is_err() {
        failures.push(what);
    }
}

#[track_caller]
fn report(failures: &[String]) {
    assert!(
        failures.is_empty(),
        "{} sub-case(s) failed (each one's panic is printed above):\n{}",
        failures.len(),
        failures.join("\n")
    );
}

// ---- 1. play --wait of another pipeline's finished manual job ----------------------------------

#[test]
fn c1_play_wait_of_a_parent_pipelines_job_follows_the_attempt_in_its_own_pipeline() {
    let server = GitLab::start(GITLAB_18);
    server.add([
        // The parent pipeline's finished manual job: a play retries it, in pipeline 900.
        Job::new(5, "deploy", "deploy", "success")
            .manual()
            .in_pipeline(900)
            .after_play(&["running", "failed"]),
        // A job of the same name in this (child) pipeline, which passed: not the one played.
        Job::new(6, "deploy", "deploy", "success"),
    ]);
    let run = gljob_api(
        &server,
        &[
            "play",
            "5",
            "--wait",
            "--interval",
            "5ms",
            "--timeout",
            "20s",
        ],
    );
    run.expect(1);
    assert_eq!(server.applied(), [("play", 5)]);
    let new = server.latest_in(900, "deploy");
    assert_eq!((new.id, new.status.as_str()), (10_000, "failed"));
}

// ---- 2. usage errors after sending; output errors after a write --------------------------------

#[test]
fn c2_play_and_retry_wait_without_a_pipeline_never_send_then_exit_2() {
    let mut failures = Vec::new();
    for action in ["play", "retry"] {
        let server = GitLab::start(GITLAB_18);
        let status = if action == "play" { "manual" } else { "failed" };
        server.add([Job::new(5, "deploy", "deploy", status)
            .manual()
            .after_play(&["running", "success"])
            .after_retry(&["running", "success"])]);
        let run = gljob(
            &server,
            &[
                action,
                "5",
                "--wait",
                "--interval",
                "5ms",
                "--timeout",
                "20s",
            ],
            &[API, ("CI_PIPELINE_ID", None)],
        );
        let sent = server.requests().len();
        // Either a usage error before anything is sent, or (following the job's own pipeline
        // from its payload) the right verdict.
        if !((run.code == 2 && sent == 0) || (run.code == 0 && server.applied().len() == 1)) {
            failures.push(format!(
                "{action}: exit {} after {sent} requests: {}",
                run.code,
                run.stderr.trim_end()
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn c2_cancel_into_a_full_stdout_is_sent_then_exit_5() {
    let server = GitLab::start(GITLAB_18);
    server.add([Job::new(1, "e2e", "test", "running")]);
    let run = gljob_to(&server, &["cancel", "1"], &[API], Stdout::Full);
    assert_eq!(server.applied(), [("cancel", 1)]);
    run.expect(5);
}

// ---- 3. cancel read-back must prove the effect --------------------------------------------------

#[test]
fn c3_a_cancel_that_failed_before_gitlab_applied_it_is_exit_4_not_done() {
    let faults = [
        Fault::status("POST", "/cancel", 502, "<html>502 Bad Gateway</html>")
            .content_type("text/html"),
        Rule::new("POST", "/cancel", Fault::Garbage),
        Rule::new("POST", "/cancel", Fault::NoAnswer),
    ];
    for rule in faults {
        let what = format!("{:?}", rule.fault);
        let server = GitLab::start(GITLAB_18);
        server.add([Job::new(1, "e2e", "test", "running")]);
        server.fault(rule);
        let run = gljob(&server, &["cancel", "1", "--request-timeout", "1s"], &[API]);
        assert_eq!(server.job(1).status, "running", "{what}");
        assert!(server.applied().is_empty(), "{what}");
        assert!(
            !run.stderr.contains("took effect"),
            "{what}: {}",
            run.stderr
        );
        assert_eq!(run.code, 4, "{what}\n{}", run.stderr);
    }
}

#[test]
fn c3_a_cancel_applied_before_its_answer_was_lost_is_proven_and_exit_0() {
    let server = GitLab::start(GITLAB_18);
    server.add([Job::new(1, "e2e", "test", "running")]);
    server.fault(
        Fault::status("POST", "/cancel", 502, "<html>502</html>")
            .content_type("text/html")
            .apply_first(),
    );
    gljob_api(&server, &["cancel", "1"]).expect(0);
    assert_eq!(server.applied(), [("cancel", 1)]);
    assert_eq!(server.requests_to("POST", "/cancel").len(), 1);
}

#[test]
fn c3_plays_and_retries_applied_before_a_502_are_proven_by_the_read_back() {
    let mut failures = Vec::new();
    // A play whose job has already run to its end when read back: it left `manual`.
    collect(&mut failures, "play read back success".into(), || {
        let server = GitLab::start(GITLAB_18);
        server.add([Job::new(5, "deploy", "deploy", "manual").after_play(&["success"])]);
        server.fault(Fault::status("POST", "/play", 502, "<html>502</html>").apply_first());
        let run = gljob_api(&server, &["play", "5"]);
        no_stale_advice(&run);
        run.expect(0);
    });
    // A retry of a parent pipeline's job: its new attempt is in the job's own pipeline (900).
    collect(&mut failures, "retry in the parent pipeline".into(), || {
        let server = GitLab::start(GITLAB_18);
        server.add([Job::new(7, "flaky", "test", "failed").in_pipeline(900)]);
        server.fault(Fault::status("POST", "/retry", 502, "<html>502</html>").apply_first());
        let run = gljob_api(&server, &["retry", "7"]);
        assert_eq!(server.applied(), [("retry", 7)]);
        no_stale_advice(&run);
        run.expect(0);
    });
    // A replayed finished manual job: a newer attempt exists.
    collect(
        &mut failures,
        "replay of a finished manual job".into(),
        || {
            let server = GitLab::start(GITLAB_18);
            server.add([Job::new(5, "deploy", "deploy", "failed").manual()]);
            server.fault(Fault::status("POST", "/play", 502, "<html>502</html>").apply_first());
            let run = gljob_api(&server, &["play", "5"]);
            no_stale_advice(&run);
            run.expect(0);
        },
    );
    report(&failures);
}

// ---- 4. --timeout bounds every wait ---------------------------------------------------------

/// Runs each case on its own thread (each waits out its own timeout) and checks 124 within the
/// timeout plus the grace.
fn deadline_cases(cases: Vec<(String, Vec<String>, Rule, Vec<i32>)>) {
    let handles: Vec<_> = cases
        .into_iter()
        .map(|(what, args, rule, codes)| {
            std::thread::spawn(move || {
                let server = GitLab::start(GITLAB_18);
                server.add([
                    Job::new(1, "build", "build", "running"),
                    Job::new(5, "deploy", "deploy", "manual").after_play(&["running"]),
                    Job::new(7, "flaky", "test", "failed").after_retry(&["running"]),
                ]);
                server.add((100..350).map(|i| Job::new(i, &format!("t{i}"), "test", "running")));
                server.fault(rule);
                let args: Vec<&str> = args.iter().map(String::as_str).collect();
                let mut env = runner_env(&server);
                env.push(("GITLAB_TOKEN".into(), API_TOKEN.into()));
                // Killed well past the limit, so that a binary that ignores it cannot hang CI.
                let run = run_within(&args, &env, Stdout::Piped, Duration::from_secs(8));
                let pages = server.requests().len();
                match run {
                    Some(run) => (what, run.code, run.elapsed, run.stderr, pages, codes),
                    None => (
                        what,
                        -9,
                        Duration::from_secs(8),
                        "killed after 8 s".into(),
                        pages,
                        codes,
                    ),
                }
            })
        })
        .collect();
    let mut failures = Vec::new();
    for handle in handles {
        let (what, code, elapsed, stderr, requests, codes) = handle.join().expect("case thread");
        if !codes.contains(&code) || elapsed > Duration::from_secs(2) + GRACE || requests >= 200 {
            failures.push(format!(
                "{what}: exit {code} after {elapsed:?} and {requests} requests (want {codes:?} within 4 s, < 200 requests)\n  stderr: {}",
                stderr.lines().last().unwrap_or_default()
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn c4_timeout_bounds_wait_play_retry_and_trace_against_any_server() {
    let commands: [(&str, &[&str]); 4] = [
        ("wait", &["wait", "build"]),
        ("play --wait", &["play", "5", "--wait"]),
        ("retry --wait", &["retry", "7", "--wait"]),
        ("trace --follow", &["trace", "1", "--follow"]),
    ];
    let faults = || {
        [
            (
                "429 Retry-After: 60",
                Fault::status("GET", "/", 429, "Retry later")
                    .content_type("text/plain")
                    .header("Retry-After", "60"),
            ),
            ("silence", Rule::new("GET", "/", Fault::NoAnswer)),
            (
                "a byte a second",
                Rule::new("GET", "/", Fault::Trickle { bytes_per_sec: 1 }),
            ),
        ]
    };
    let mut cases = Vec::new();
    for (name, command) in commands {
        for (fault_name, rule) in faults() {
            let mut args: Vec<String> = command.iter().map(|s| s.to_string()).collect();
            args.extend(["--timeout", "2s", "--interval", "50ms"].map(String::from));
            cases.push((
                format!("{name} against {fault_name}"),
                args,
                rule.forever(),
                vec![124],
            ));
        }
    }
    deadline_cases(cases);
}

// ---- 5. secrets never printed ---------------------------------------------------------------

#[test]
fn c5_url_userinfo_and_query_tokens_are_never_printed() {
    let server = GitLab::start(GITLAB_18);
    server.add([Job::new(1, "build", "build", "failed")]);
    let port = server.port;
    let roots = [
        format!("http://oauth2:{URL_SECRET}@127.0.0.1:{port}/api/v4"),
        format!("http://oauth2:{URL_SECRET}@127.0.0.1:99999/api/v4"),
        format!("http://oauth2:{URL_SECRET}@127.0.0.1:abc/api/v4"),
        format!("http://oauth2:{URL_SECRET}@[::1/api/v4"),
        format!("http://127.0.0.1:{port}/api/v4?private_token={URL_SECRET}"),
    ];
    let mut failures = Vec::new();
    for root in &roots {
        for (args, how) in [
            (vec!["jobs", "--verbose"], "CI_API_V4_URL"),
            (vec!["check", "build", "--verbose"], "CI_API_V4_URL"),
            (
                vec!["jobs", "--verbose", "--api-url", root.as_str()],
                "--api-url",
            ),
        ] {
            collect(&mut failures, format!("{how} {root} {args:?}"), || {
                let run = gljob(&server, &args, &[API, ("CI_API_V4_URL", Some(root))]);
                assert_no_secret(&run, &[URL_SECRET], &format!("{how} {root}"));
            });
        }
        // CI_SERVER_URL alone (the API root derived from it).
        let server_url = root.trim_end_matches("/api/v4").to_string();
        collect(&mut failures, format!("CI_SERVER_URL {server_url}"), || {
            let run = gljob(
                &server,
                &["jobs", "--verbose"],
                &[
                    API,
                    ("CI_API_V4_URL", None),
                    ("CI_SERVER_URL", Some(&server_url)),
                ],
            );
            assert_no_secret(&run, &[URL_SECRET], &format!("CI_SERVER_URL {server_url}"));
        });
    }
    report(&failures);
}

#[test]
fn c5_bodies_that_echo_the_token_and_proxy_passwords_are_never_printed() {
    let mut failures = Vec::new();
    for status in [401, 403, 502] {
        for args in [
            vec!["job", "1", "--verbose", "--retries", "0"],
            vec!["jobs", "--verbose", "--retries", "0"],
            vec!["cancel", "1", "--verbose"],
            vec![
                "wait",
                "build",
                "--verbose",
                "--interval",
                "5ms",
                "--timeout",
                "300ms",
            ],
        ] {
            let server = GitLab::start(GITLAB_18);
            server.add([Job::new(1, "build", "build", "running")]);
            server.fault(Rule::new("", "/", Fault::EchoToken { status }).forever());
            collect(&mut failures, format!("{status} echoing {args:?}"), || {
                let run = gljob(&server, &args, &[API]);
                // The harness also checks every run for the three test tokens.
                assert_no_secret(&run, &[API_TOKEN, JOB_TOKEN], &format!("{status} {args:?}"));
            });
        }
    }
    let server = GitLab::start(GITLAB_18);
    let proxy = Proxy::start();
    let password = "Pa55/w0rdXYZ";
    for proxy_url in [
        format!("http://carrier:{password}@127.0.0.1:{}", proxy.port),
        format!("http://carrier:{password}@127.0.0.1:9"),
    ] {
        collect(&mut failures, format!("HTTP_PROXY {proxy_url}"), || {
            let run = gljob(
                &server,
                &["jobs", "--verbose", "--retries", "0"],
                &[("HTTP_PROXY", Some(&proxy_url))],
            );
            assert_no_secret(&run, &[password, "w0rdXYZ", "carrier:Pa55"], &proxy_url);
        });
    }
    report(&failures);
}

// ---- 6. consistent snapshots across pages -----------------------------------------------------

#[test]
fn c6_a_job_retried_between_two_page_reads_is_not_dropped() {
    for command in ["wait", "check"] {
        let server = GitLab::start(GITLAB_18);
        // 150 tests and this job (#500): page 1 is #500, #150..#52; page 2 is #51..#1.
        server.add((1..=150).map(|i| Job::new(i, &format!("test-{i}"), "test", "success")));
        server
            .state()
            .jobs
            .iter_mut()
            .find(|j| j.id == 3)
            .unwrap()
            .status = "failed".into();
        // Right after the first page 1: test-3 is retried and its new attempt fails at once.
        server.fault(Rule::new(
            "GET",
            "/pipelines/1000/jobs",
            Fault::ShiftBetweenPages {
                name: "test-3".into(),
                status: "failed",
            },
        ));
        let mut args = vec![command, "test-*"];
        if command == "wait" {
            args.extend(["--interval", "5ms", "--timeout", "20s"]);
        }
        let run = gljob(&server, &args, &[]);
        assert_eq!(server.latest("test-3").status, "failed");
        assert_eq!(run.code, 1, "{command}: test-3 failed\n{}", run.stderr);
    }
}

// ---- 7. a reader that goes away ---------------------------------------------------------------

#[test]
fn c7_trace_follow_into_a_closed_pipe_is_exit_5() {
    let server = GitLab::start(GITLAB_18);
    let mut ticks: Vec<Vec<Step>> = (0..150)
        .map(|i| vec![Step::Log(format!("line {i} of the log\n").into_bytes())])
        .collect();
    ticks.push(vec![Step::Status("success")]);
    server.add([Job::new(1, "e2e", "test", "running").steps(ticks)]);
    let run = gljob_to(
        &server,
        &["trace", "1", "--follow", "--interval", "5ms"],
        &[API],
        Stdout::Head(10),
    );
    run.expect(5);
    let run = gljob_to(
        &server,
        &["trace", "1", "--follow", "--interval", "5ms"],
        &[API],
        Stdout::Full,
    );
    run.expect(5);
}

// ---- 8. control characters ----------------------------------------------------------------

const EVIL_NAME: &str = "x\r\n\u{1b}[32mpassed: deploy";

#[test]
fn c8_control_characters_from_gitlab_are_shown_escaped() {
    let server = GitLab::start(GITLAB_18);
    let mut job = Job::new(7, EVIL_NAME, "te\u{1b}st", "failed").log(b"\x1b[31mred\x1b[0m\r\n");
    job.failure_reason = Some("script\u{1b}]0;owned\u{7}_failure\r".into());
    job.web_url = Some("https://gitlab.example.com/\u{1b}[2Jjobs/7\r\n".into());
    server.add([job]);
    let mut failures = Vec::new();
    for args in [
        vec!["jobs"],
        vec!["job", "7"],
        vec!["wait", "7", "--interval", "5ms"],
        vec!["check", "7"],
        vec!["check", "7", "--status", "success"],
        vec!["bridges"],
    ] {
        collect(&mut failures, format!("{args:?}"), || {
            let run = gljob(&server, &args, &[API]);
            assert_no_control(&run, true, &format!("{args:?}"));
        });
    }
    // GitLab's (or a proxy's) message with ESC and CR/LF.
    server.fault(
        Fault::status(
            "GET",
            "/jobs/7",
            404,
            "{\"message\":\"404 \\u001b[31mNot\\r\\nFound\"}",
        )
        .forever(),
    );
    collect(&mut failures, "GitLab's message".into(), || {
        let run = gljob(&server, &["job", "7", "--retries", "0"], &[API]);
        assert_no_control(&run, true, "error message");
        run.expect(3);
    });

    // --json is GitLab's JSON unchanged; trace keeps the log's bytes.
    let server = GitLab::start(GITLAB_18);
    let mut job = Job::new(7, EVIL_NAME, "test", "failed").log(b"\x1b[31mred\x1b[0m\r\n");
    job.web_url = Some("https://x/\u{1b}".into());
    server.add([job]);
    let run = gljob_api(&server, &["jobs", "--json"]);
    run.expect(0);
    let value: serde_json::Value = serde_json::from_slice(&run.stdout).expect("JSON");
    let evil = value
        .as_array()
        .expect("an array")
        .iter()
        .find(|job| job["id"] == 7)
        .expect("job 7 in the list");
    assert_eq!(evil["name"], EVIL_NAME);
    assert_eq!(evil["web_url"], "https://x/\u{1b}");
    let run = gljob_api(&server, &["trace", "7"]);
    run.expect(0);
    assert_eq!(run.stdout, b"\x1b[31mred\x1b[0m\r\n");
    report(&failures);
}

// ---- 9. unknown write outcomes --------------------------------------------------------------

#[test]
fn c9_a_play_that_lands_after_its_answer_timed_out_is_unknown_not_retry_advice() {
    let server = GitLab::start(GITLAB_18);
    server.add([Job::new(5, "deploy", "deploy", "manual")]);
    // No answer; the play lands only after 50 more requests (long after any read-back).
    server.fault(Rule::new("POST", "/play", Fault::ApplyLater { after: 50 }));
    let run = gljob_api(&server, &["play", "5", "--request-timeout", "1s"]);
    server.land_pending();
    assert_eq!(
        server.applied(),
        [("play", 5)],
        "one play applied, no resend"
    );
    no_stale_advice(&run);
    run.expect(4);
}

#[test]
fn c9_retry_whose_answer_was_lost_but_landed_is_read_back() {
    let server = GitLab::start(GITLAB_18);
    server.add([Job::new(7, "flaky", "test", "failed")]);
    // Lands before the next request: the read-back sees the new attempt.
    server.fault(Rule::new("POST", "/retry", Fault::ApplyLater { after: 0 }));
    let run = gljob_api(&server, &["retry", "7", "--request-timeout", "1s"]);
    server.land_pending();
    assert_eq!(server.applied(), [("retry", 7)]);
    no_stale_advice(&run);
    assert!(
        [0, 4].contains(&run.code),
        "exit {}\n{}",
        run.code,
        run.stderr
    );
}

#[test]
fn c9_an_empty_object_after_the_play_applied_is_never_not_applied() {
    for (status, action) in [
        ("manual", "play"),
        ("failed", "retry"),
        ("running", "cancel"),
    ] {
        let server = GitLab::start(GITLAB_18);
        server.add([Job::new(5, "deploy", "deploy", status).manual()]);
        server.fault(Rule::new("POST", &format!("/{action}"), Fault::EmptyObject));
        let run = gljob_api(&server, &[action, "5"]);
        assert_eq!(server.applied(), [(action, 5)]);
        no_stale_advice(&run);
        assert!(
            [0, 4].contains(&run.code),
            "{action}: exit {}\n{}",
            run.code,
            run.stderr
        );
    }
}

// ---- 10. unbounded pagination ----------------------------------------------------------------

#[test]
fn c10_full_pages_forever_stop_with_bounded_requests() {
    let server = GitLab::start(GITLAB_18);
    server.add((1..=250).map(|i| Job::new(i, &format!("t{i}"), "test", "success")));
    server.fault(Rule::new("GET", "/pipelines/1000/jobs", Fault::IgnorePage).forever());
    let run = run_within(
        &["jobs"],
        &runner_env(&server),
        Stdout::Piped,
        Duration::from_secs(10),
    );
    let sent = server.requests().len();
    assert!(sent < 200, "{sent} requests");
    run.expect("`jobs` stopped by itself").expect(3);
    deadline_cases(vec![(
        "wait against endless pages".into(),
        ["wait", "t*", "--timeout", "2s", "--interval", "50ms"]
            .map(String::from)
            .to_vec(),
        Rule::new("GET", "/pipelines/1000/jobs", Fault::IgnorePage).forever(),
        vec![3, 124],
    )]);
}

// ---- 11. truncated or invalid JSON on a read is transient ---------------------------------------

#[test]
fn c11_a_garbage_page_then_a_good_one_succeeds() {
    let server = GitLab::start(GITLAB_18);
    server.add((1..=150).map(|i| Job::new(i, &format!("t{i}"), "test", "success")));
    server.fault(Rule::new(
        "GET",
        "/pipelines/1000/jobs",
        Fault::TruncatedJson,
    ));
    let run = gljob(&server, &["jobs", "--field", "id"], &[]);
    run.expect(0);
    assert_eq!(run.out().lines().count(), 151);

    server.fault(Fault::status("GET", "/pipelines/1000/jobs", 200, "{\"truncated").skip(1));
    gljob(&server, &["check", "t*"], &[]).expect(0);

    server.fault(Rule::new("GET", "/jobs/7", Fault::TruncatedJson));
    gljob_api(&server, &["job", "7", "--field", "status"]).expect(0);
}

// ---- 12. usage errors send nothing ------------------------------------------------------------

/// Arguments, variables set (or removed), and what the message must name.
type UsageCase<'a> = (Vec<&'a str>, Vec<(&'a str, Option<&'a str>)>, &'a str);

#[test]
fn c12_usage_errors_are_exit_2_with_nothing_sent() {
    let server = GitLab::start(GITLAB_18);
    server.add([Job::new(1, "build", "build", "success")]);
    let cases: Vec<UsageCase> = vec![
        (
            vec!["jobs", "--request-timeout", "0"],
            vec![],
            "--request-timeout",
        ),
        (
            vec!["jobs"],
            vec![("CI_API_V4_URL", Some("http://127.0.0.1:99999/api/v4"))],
            "CI_API_V4_URL",
        ),
        (
            vec!["jobs"],
            vec![("CI_API_V4_URL", Some("http://127.0.0.1:abc/api/v4"))],
            "CI_API_V4_URL",
        ),
        (
            vec!["jobs"],
            vec![("CI_API_V4_URL", Some("http://[::1/api/v4"))],
            "CI_API_V4_URL",
        ),
        (vec!["jobs", "--project", ""], vec![], "--project"),
        (
            vec!["check", "build", "--status", "sucess"],
            vec![],
            "sucess",
        ),
        (
            vec!["jobs"],
            vec![("CI_JOB_TOKEN", Some("glcbt-EVILvalue\r\nX-Injected: 1"))],
            "CI_JOB_TOKEN",
        ),
        (
            vec!["jobs"],
            vec![("GITLAB_TOKEN", Some("glpat-EVILvalue\nX-Injected: 1"))],
            "GITLAB_TOKEN",
        ),
    ];
    // Every case is tried, and all that fail are reported together.
    let mut failures = Vec::new();
    for (args, extra, named) in cases {
        let before = server.requests().len();
        let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            gljob(&server, &args, &extra)
        }));
        let sent = server.requests().len() - before;
        let what = format!("{args:?} {extra:?}");
        let run = match result {
            Ok(run) => run,
            Err(_) => {
                failures.push(format!("{what}: printed a token (see above)"));
                continue;
            }
        };
        if (run.code, sent) != (2, 0) {
            failures.push(format!(
                "{what}: exit {} after {sent} requests (want 2 after none): {}",
                run.code,
                run.stderr.trim_end()
            ));
            continue;
        }
        let mut wanted = vec![named];
        if named == "sucess" {
            // The message lists GitLab's 13 statuses, as the test server knows them.
            wanted.extend(support::gitlab::STATUSES);
        }
        for word in wanted {
            if !run.stderr.contains(word) {
                failures.push(format!(
                    "{what}: the message lacks {word:?}: {}",
                    run.stderr.trim_end()
                ));
            }
        }
        for secret in ["EVILvalue", "X-Injected"] {
            if run.stderr.contains(secret) || run.out().contains(secret) {
                failures.push(format!("{what}: printed the variable's value"));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    // The harness is not fooled: the same environment without the bad value does send.
    let env = runner_env(&server);
    run_with_env(&["jobs"], &env).expect(0);
}
