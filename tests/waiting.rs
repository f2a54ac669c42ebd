//! Gating: selecting sibling jobs, waiting on them, playing manual jobs, checking, following logs.
//! Job timelines advance one step per read of the pipeline's job list (or of a single job), so
//! every test is driven by request count, never by the clock.

use crate::support;

use support::gitlab::{API_TOKEN, Fault, GitLab, JOB_TOKEN, Job, Rule, Step};
use support::{Run, gljob, gljob_api};

const GITLAB_18: (u32, u32) = (18, 3);
const FAST: [&str; 2] = ["--interval", "5ms"];

fn wait(server: &GitLab, selectors: &[&str], extra: &[&str]) -> Run {
    let mut args = vec!["wait"];
    args.extend_from_slice(selectors);
    args.extend_from_slice(&FAST);
    args.extend_from_slice(extra);
    gljob(server, &args, &[])
}

fn list_reads(server: &GitLab) -> usize {
    server
        .requests_to("GET", "/pipelines/1000/jobs")
        .iter()
        .filter(|r| r.query_values("page") == ["1"])
        .count()
}

#[test]
fn waits_until_success_with_one_list_read_per_round_and_the_job_token() {
    let server = GitLab::start(GITLAB_18);
    server.add([
        Job::new(1, "build", "build", "running").then(&["running", "success"]),
        Job::new(2, "test", "test", "pending").then(&["pending", "running", "running", "success"]),
    ]);
    let run = wait(&server, &["build", "test"], &[]);
    run.expect(0);
    // Each read applies a step and answers. Resolution reads the whole list; each of the two
    // rounds asks for the unfinished jobs only, finds a followed job missing (it ended) and reads
    // the finished ones; a whole read at once that changes nothing confirms the verdict.
    assert_eq!(server.unfinished_reads(1000, "jobs"), 2);
    assert_eq!(server.finished_reads(1000, "jobs"), 2);
    assert_eq!(server.full_reads(1000, "jobs"), 2);
    assert_eq!(list_reads(&server), 6);
    for request in server.requests() {
        assert_eq!(
            request.path, "/api/v4/projects/42/pipelines/1000/jobs",
            "only list reads"
        );
        assert_eq!(request.header("JOB-TOKEN"), Some(JOB_TOKEN));
    }
    // One progress line per change, then one verdict line per job.
    run.says("build (#1): running -> success");
    run.says("test (#2): pending -> running");
    assert_eq!(
        run.stderr.matches("test (#2): running -> running").count(),
        0
    );
    run.says("passed: build (#1) success");
    run.says("passed: test (#2) success");
}

#[test]
fn a_failed_job_exits_1_with_its_reason_and_url() {
    let server = GitLab::start(GITLAB_18);
    server.add([
        Job::new(1, "build", "build", "success"),
        Job::new(2, "test", "test", "running").steps(vec![vec![Step::Fail("script_failure")]]),
    ]);
    let run = wait(&server, &["build", "test"], &[]);
    run.expect(1);
    run.says(
            "NOT PASSED: test (#2) failed (script_failure) https://gitlab.example.com/group/sub/app/-/jobs/2"
        );
}

#[test]
fn allow_failure_passes_with_a_warning_unless_strict() {
    let server = GitLab::start(GITLAB_18);
    server.add([Job::new(3, "lint", "test", "failed").allow_failure()]);
    let run = wait(&server, &["lint"], &[]);
    run.expect(0);
    // One line for the one fact.
    run.says(
        "passed with warning: lint (#3) failed (script_failure), allowed to fail; --strict would \
         fail it\n",
    );
    assert_eq!(run.stderr.matches("lint (#3)").count(), 2, "{}", run.stderr);
    wait(&server, &["lint"], &["--strict"]).expect(1);
    server.add([Job::new(4, "flaky", "test", "canceled").allow_failure()]);
    wait(&server, &["flaky"], &[]).expect(0);
}

#[test]
fn canceled_and_skipped_do_not_pass_unless_allowed() {
    let server = GitLab::start(GITLAB_18);
    server.add([
        Job::new(1, "a", "test", "running").then(&["running", "canceling", "canceled"]),
        Job::new(2, "b", "test", "skipped"),
    ]);
    let run = wait(&server, &["a"], &[]);
    run.expect(1);
    run.says("a (#1): running -> canceling");
    run.says("a (#1): canceling -> canceled");
    wait(&server, &["b"], &[]).expect(1);
    wait(&server, &["b"], &["--allow-skipped"]).expect(0);
}

#[test]
fn a_manual_job_approved_in_the_middle_of_a_wait() {
    let server = GitLab::start(GITLAB_18);
    server.add([Job::new(5, "deploy", "deploy", "manual")
        .then(&["manual", "manual", "pending", "running", "success"])]);
    let run = wait(&server, &["deploy"], &[]);
    run.expect(0);
    run.says("deploy (#5): manual -> pending");
    // Four rounds over its unfinished jobs (manual, manual, pending, running: each listed), the
    // round it ended in reads the finished ones too, and the whole list confirms it.
    assert_eq!(server.unfinished_reads(1000, "jobs"), 4);
    assert_eq!(server.finished_reads(1000, "jobs"), 1);
    assert_eq!(server.full_reads(1000, "jobs"), 2);
}

#[test]
fn scheduled_becomes_running_then_success() {
    let server = GitLab::start(GITLAB_18);
    server.add([Job::new(6, "nightly", "deploy", "scheduled").then(&[
        "scheduled",
        "running",
        "success",
    ])]);
    let run = wait(&server, &["nightly"], &[]);
    run.expect(0);
    run.says("nightly (#6): scheduled -> running");
}

#[test]
fn a_retry_in_the_middle_of_a_wait_is_followed_by_name() {
    let server = GitLab::start(GITLAB_18);
    server.add([Job::new(7, "e2e", "test", "running").steps(vec![
        vec![],
        vec![Step::Retry(vec![
            vec![Step::Status("running")],
            vec![Step::Status("success")],
        ])],
    ])]);
    let run = wait(&server, &["e2e"], &[]);
    run.expect(0);
    assert!(
        run.stderr
            .contains("e2e (#10000): running -> pending (new attempt, was #7)"),
        "{}",
        run.stderr
    );
    run.says("passed: e2e (#10000) success");
}

#[test]
fn timeout_exits_124_with_each_jobs_last_status() {
    let server = GitLab::start(GITLAB_18);
    server.add([
        Job::new(5, "deploy", "deploy", "manual"),
        Job::new(1, "build", "build", "success"),
    ]);
    let run = gljob(
        &server,
        &[
            "wait",
            "deploy",
            "build",
            "--interval",
            "20ms",
            "--timeout",
            "100ms",
        ],
        &[],
    );
    run.expect(124);
    run.says("still waiting: deploy (#5) manual");
    run.says("passed: build (#1) success");
    run.says("timed out");
}

#[test]
fn an_unknown_status_is_not_final_and_is_named() {
    let server = GitLab::start(GITLAB_18);
    server.add([Job::new(8, "gate", "test", "pending").then(&[
        "pending",
        "waiting_for_approval",
        "waiting_for_approval",
        "waiting_for_approval",
        "waiting_for_approval",
        "waiting_for_approval",
        "success",
    ])]);
    let run = wait(&server, &["gate"], &[]);
    run.expect(0);
    assert!(
        run.stderr
            .contains("gate (#8): pending -> waiting_for_approval"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr
            .contains("gate (#8): waiting_for_approval -> success"),
        "{}",
        run.stderr
    );
    // A status gljob does not know is neither among the unfinished statuses it asks for nor
    // among the finished ones: the job is missing from both of a round's reads, and each such
    // round reads the whole list, so its absence is never taken for an end.
    assert_eq!(server.unfinished_reads(1000, "jobs"), 2);
    assert_eq!(server.finished_reads(1000, "jobs"), 2);
    assert_eq!(server.full_reads(1000, "jobs"), 4);
}

#[test]
fn bridges_are_selectable_and_polled_only_when_selected() {
    let server = GitLab::start(GITLAB_18);
    server.add([
        Job::new(1, "build", "build", "success"),
        Job::new(9, "trigger-downstream", "deploy", "running").bridge(Some(2000)),
    ]);
    // A bridge name does not match a build, so the bridges are read too: a job token on GitLab
    // 18 cannot, and the error says why.
    let run = wait(&server, &["trigger-downstream"], &[]);
    run.expect(3);
    run.says("/bridges");
    run.says("does not accept CI_JOB_TOKEN");

    // With an access token, a bridge is waited on; bridges are read on each round.
    server
        .state()
        .jobs
        .iter_mut()
        .find(|j| j.id == 9)
        .unwrap()
        .timeline = vec![vec![Step::Status("running")], vec![Step::Status("success")]].into();
    let run = gljob_api(
        &server,
        &["wait", "trigger-downstream", "--interval", "5ms"],
    );
    run.expect(0);
    assert!(
        run.stderr
            .contains("trigger-downstream [bridge] (#9): running -> success"),
        "{}",
        run.stderr
    );

    // Waiting on a build alone never reads bridges after resolution.
    let before = server.requests_to("GET", "/bridges").len();
    let run = gljob_api(&server, &["wait", "build", "--interval", "5ms"]);
    run.expect(0);
    assert_eq!(
        server.requests_to("GET", "/bridges").len(),
        before + 1,
        "one read, to resolve"
    );
}

#[test]
fn job_token_only_on_gitlab_17_is_a_clear_error() {
    let server = GitLab::start((17, 11));
    server.add([Job::new(1, "build", "build", "success")]);
    let run = wait(&server, &["build"], &[]);
    run.expect(3);
    run.says("404 \"404 Project Not Found\"");
    run.says("GITLAB_TOKEN");
    // An access token works there.
    let run = gljob(
        &server,
        &["wait", "build"],
        &[("GITLAB_TOKEN", Some(API_TOKEN))],
    );
    run.expect(0);
}

#[test]
fn a_thousand_jobs_cost_one_request_a_round_while_nothing_ends() {
    let server = GitLab::start(GITLAB_18);
    // Ids from 1001: gljob's own job is 500, and GitLab's ids are unique.
    let mut jobs: Vec<Job> = (1..=999)
        .map(|i| Job::new(1000 + i, &format!("unit {i}/999"), "test", "success"))
        .collect();
    for job in jobs.iter_mut().take(50) {
        job.status = "running".into();
        job.timeline = vec![vec![], vec![], vec![Step::Status("success")]].into();
    }
    server.add(jobs);
    let selectors: Vec<String> = (1..=50).map(|i| format!("unit {i}/999")).collect();
    let mut args: Vec<&str> = selectors.iter().map(String::as_str).collect();
    args.push("unit 1??/999");
    let run = wait(&server, &args, &[]);
    run.expect(0);
    // 1,000 jobs (with gljob's own) are 10 pages. Resolution reads them all; the first round
    // asks for the unfinished jobs only (the 50 running: one page); in the second they have all
    // ended, so the finished ones are read (999 of them: 10 pages), and every page once more to
    // confirm the verdict.
    let reads = server.requests_to("GET", "/pipelines/1000/jobs");
    assert_eq!(
        reads.len(),
        32,
        "2 whole reads and 1 of the finished jobs × 10 pages, 2 rounds × 1 page"
    );
    assert_eq!(server.full_reads(1000, "jobs"), 2);
    assert_eq!(server.unfinished_reads(1000, "jobs"), 2);
    assert_eq!(server.finished_reads(1000, "jobs"), 1);
    // Besides: the pattern makes gljob look for trigger jobs once, at resolution (`/trigger_jobs`,
    // then `/bridges` on this 18.3, which the job token cannot read: a warning says so).
    assert_eq!(
        server.requests().len(),
        34,
        "list pages and one look for trigger jobs"
    );
    run.says("trigger jobs could not be read");
    run.says("passed: unit 150/999");
}

#[test]
fn selectors_add_up_and_never_pick_the_running_job() {
    let server = GitLab::start(GITLAB_18);
    server.add([
        Job::new(1, "build", "build", "success"),
        Job::new(2, "deploy-staging", "deploy", "success"),
        Job::new(3, "test 1/2", "test", "success"),
        Job::new(4, "test 2/2", "test", "success"),
    ]);
    // deploy-gate (#500, stage deploy) runs gljob: neither the pattern nor the stage picks it.
    let run = wait(
        &server,
        &["deploy*", "build"],
        &["--stage", "deploy", "--stage", "test"],
    );
    run.expect(0);
    run.never_says("#500");
    assert_eq!(run.stderr.matches("passed:").count(), 4, "{}", run.stderr);

    let run = wait(&server, &["deploy-gate"], &[]);
    run.expect(3);
    assert!(
        run.stderr
            .contains("no job in pipeline 1000 matches name 'deploy-gate'"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr
            .contains("'deploy-gate' (stage deploy, this job)"),
        "{}",
        run.stderr
    );
    let run = wait(&server, &["nonesuch*"], &[]);
    run.expect(3);
    run.says("pattern 'nonesuch*'");
    run.says("'test 1/2' (stage test)");
}

#[test]
fn an_id_outside_the_pipeline_is_read_on_its_own_with_an_access_token() {
    let server = GitLab::start(GITLAB_18);
    let mut elsewhere = Job::new(77, "nightly", "test", "running")
        .then(&["running", "running", "running", "success"]);
    elsewhere.pipeline_id = 999;
    server.add([elsewhere, Job::new(1, "build", "build", "success")]);
    let run = wait(&server, &["77"], &[]);
    run.expect(3)
        .says("job 77 is not in pipeline 1000")
        .says("GITLAB_TOKEN");
    let run = gljob_api(&server, &["wait", "77", "build", "--interval", "5ms"]);
    run.expect(0).says("nightly (#77): running -> success");
    assert!(!server.requests_to("GET", "/projects/42/jobs/77").is_empty());
}

#[test]
fn check_judges_now_without_waiting() {
    let server = GitLab::start(GITLAB_18);
    server.add([
        Job::new(1, "build", "build", "success"),
        Job::new(2, "test", "test", "running"),
        Job::new(3, "deploy", "deploy", "manual"),
    ]);
    gljob(&server, &["check", "build"], &[]).expect(0);
    let run = gljob(&server, &["check", "build", "test"], &[]);
    run.expect(1);
    run.says("passed: build (#1) success");
    run.says("NOT PASSED: test (#2) running, not final https://");
    gljob(
        &server,
        &["check", "deploy", "--status", "manual,success"],
        &[],
    )
    .expect(0);
    gljob(&server, &["check", "test", "--status", "success"], &[]).expect(1);
    assert_eq!(
        list_reads(&server),
        6,
        "one read per check, and a second for each pass (2 of 4)"
    );
}

/// A pass of `check` is confirmed by a second read: a job retried while the pipeline's pages
/// were read (its new attempt on page 1, read already) turns the pass into exit 3, never 0.
#[test]
fn a_check_whose_pass_the_second_read_does_not_show_is_no_verdict() {
    let server = GitLab::start(GITLAB_18);
    // Retried at the second read of the list: what the first read judged is gone by then.
    server.add([Job::new(1, "build", "build", "success").steps(vec![
        vec![],
        vec![Step::Retry(vec![vec![Step::Status("running")]])],
    ])]);
    gljob(&server, &["check", "build"], &[])
        .expect(3)
        .says("changed while the pipeline was read");
    assert_eq!(list_reads(&server), 2);
}

#[test]
fn play_wait_follows_the_played_job() {
    let server = GitLab::start(GITLAB_18);
    server.add([Job::new(5, "deploy", "deploy", "manual").after_play(&["running", "success"])]);
    let run = gljob_api(
        &server,
        &[
            "play",
            "deploy",
            "--var",
            "TARGET=prod",
            "--wait",
            "--interval",
            "5ms",
        ],
    );
    run.expect(0);
    run.says("deploy (#5): pending -> running");
    run.says("passed: deploy (#5) success");
    assert_eq!(server.requests_to("POST", "/play").len(), 1);
    let played = server.job(5).played_with.unwrap();
    assert_eq!(played[0]["value"], "prod");
}

#[test]
fn replaying_a_finished_manual_job_waits_on_the_new_attempt() {
    let server = GitLab::start(GITLAB_18);
    let mut job = Job::new(5, "deploy", "deploy", "success").after_play(&["running", "failed"]);
    job.manual = true;
    server.add([job]);
    let run = gljob_api(&server, &["play", "deploy", "--wait", "--interval", "5ms"]);
    // GitLab answered with the old, successful job; the new attempt fails.
    run.expect(1);
    run.says("(new attempt, was #5)");
    run.says("NOT PASSED: deploy (#10000) failed");
}

#[test]
fn retry_wait_follows_the_new_attempt() {
    let server = GitLab::start(GITLAB_18);
    server.add([Job::new(2, "test", "test", "failed").after_retry(&["running", "success"])]);
    let run = gljob_api(&server, &["retry", "test", "--wait", "--interval", "5ms"]);
    run.expect(0);
    run.says("retried #2 as test (#10000)");
    run.says("test (#10000): pending -> running");
    run.says("passed: test (#10000) success");
}

#[test]
fn trace_follow_prints_only_new_bytes_and_ends_with_the_job() {
    let server = GitLab::start(GITLAB_18);
    server.add([Job::new(2, "test", "test", "running")
        .log(b"\x1b[32mstart\x1b[0m\n")
        .steps(vec![
            vec![Step::Log(b"line 2\n".to_vec())],
            vec![],
            vec![Step::Log(b"line 3 \xff\n".to_vec())],
            vec![Step::Status("success")],
        ])]);
    let run = gljob_api(&server, &["trace", "test", "--follow", "--interval", "5ms"]);
    run.expect(0);
    assert_eq!(
        run.stdout,
        b"\x1b[32mstart\x1b[0m\nline 2\nline 3 \xff\n".to_vec()
    );

    server.add([Job::new(3, "lint", "test", "running").steps(vec![
        vec![Step::Log(b"checking\n".to_vec())],
        vec![Step::EraseLog, Step::Log(b"again\n".to_vec())],
        vec![Step::Fail("script_failure")],
    ])]);
    let run = gljob_api(&server, &["trace", "3", "--follow", "--interval", "5ms"]);
    run.expect(1);
    assert_eq!(run.out(), "checking\nagain\n");
    run.says("got shorter");
    assert!(
        run.stderr
            .contains("lint (#3) ended failed (script_failure)"),
        "{}",
        run.stderr
    );
}

#[test]
fn trace_follow_of_a_name_moves_to_the_retried_attempt() {
    let server = GitLab::start(GITLAB_18);
    server.add([Job::new(4, "e2e", "test", "running").steps(vec![
        vec![Step::Log(b"attempt 1\n".to_vec())],
        vec![Step::Fail("script_failure")],
        vec![Step::Retry(vec![
            vec![Step::Log(b"attempt 2\n".to_vec())],
            vec![Step::Status("success")],
        ])],
    ])]);
    let run = gljob_api(&server, &["trace", "e2e", "--follow", "--interval", "5ms"]);
    run.expect(0)
        .says("e2e (#4) ended failed and was retried as #10000");
    assert_eq!(run.out(), "attempt 1\nattempt 2\n");

    // By id too, the job is judged by its latest attempt, as `wait` judges an id (a sixth review
    // found the failed attempt's id exiting 1 after its retry passed, and 0 the other way round).
    let server = GitLab::start(GITLAB_18);
    let mut failed = Job::new(5, "lint", "test", "failed");
    failed.retried = true;
    server.add([failed, Job::new(6, "lint", "test", "success")]);
    gljob_api(&server, &["trace", "5", "--follow", "--interval", "5ms"])
        .expect(0)
        .says("lint (#5) ended failed and was retried as #6");
}

#[test]
fn passing_failures_inside_a_wait_do_not_end_it() {
    let server = GitLab::start(GITLAB_18);
    server.add([Job::new(1, "build", "build", "running").then(&["running", "running", "success"])]);
    // Resolution gets through; the first round's read meets a proxy's 502 page.
    server.fault(
        Fault::status(
            "GET",
            "/pipelines/1000/jobs",
            502,
            "<html>bad gateway</html>",
        )
        .content_type("text/html")
        .skip(1),
    );
    let run = gljob(
        &server,
        &["wait", "build", "--retries", "0", "--interval", "5ms"],
        &[],
    );
    run.expect(0);
    assert_eq!(
        run.stderr
            .matches("this round failed, trying again")
            .count(),
        1,
        "{}",
        run.stderr
    );
    run.says("502");

    // A refusal is not passing: it ends the wait with exit 3.
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
    let run = gljob(&server, &["wait", "slow", "--interval", "5ms"], &[]);
    run.expect(3);
    run.says("401");
}

/// A wait on a pipeline of three pages: rounds ask only for the unfinished jobs (one page,
/// wherever the followed job is in the whole list), and a change on any page is judged at once.
#[test]
fn a_change_on_any_page_after_rounds_without_one_is_judged() {
    // The list is sorted by id, newest first: 400 is on page 1, 5 on page 3.
    for (page, id) in [(1, 400), (3, 5)] {
        let server = GitLab::start(GITLAB_18);
        let mut jobs: Vec<Job> = (100..350)
            .map(|i| Job::new(i, &format!("unit {i}"), "test", "success"))
            .collect();
        jobs.push(Job::new(id, "e2e", "test", "running").steps(vec![
            vec![],
            vec![],
            vec![],
            vec![],
            vec![Step::Status("failed")],
        ]));
        server.add(jobs);
        let run = wait(&server, &["e2e"], &["--timeout", "20s"]);
        run.expect(1);
        run.says(&format!("NOT PASSED: e2e (#{id}) failed"));
        let page_reads = |n: usize| {
            server
                .requests_to("GET", "/pipelines/1000/jobs")
                .iter()
                .filter(|r| {
                    r.query_values("page")
                        .first()
                        .is_some_and(|p| *p == n.to_string())
                })
                .count()
        };
        // Four rounds while it runs (one page each); in the round it ended in, its finished jobs
        // (250: three pages); whole reads to resolve and to confirm.
        assert_eq!(server.unfinished_reads(1000, "jobs"), 4, "page {page}");
        assert_eq!(server.finished_reads(1000, "jobs"), 1, "page {page}");
        assert_eq!(server.full_reads(1000, "jobs"), 2, "page {page}");
        assert_eq!(
            page_reads(3),
            3,
            "page {page}: only whole reads and the finished jobs go past page 1"
        );
    }
}

// ---- rounds that ask only for what can change ---------------------------------------------------

/// A skipped job made `created` again (as retrying a pipeline does to its skipped jobs): the
/// answer differs from the last by the status alone, of the same length, and the gate goes on
/// waiting and judges the job as it ends (a fingerprint of the answer once took it as unchanged,
/// and `--allow-skipped` passed).
#[test]
fn a_skipped_job_made_created_again_is_no_pass() {
    let server = GitLab::start(GITLAB_18);
    server.add([
        Job::new(1, "a", "test", "skipped").then(&[
            "skipped", "skipped", "created", "pending", "running", "failed",
        ]),
        Job::new(2, "b", "test", "running").then(&[
            "running", "running", "running", "running", "running", "running", "running", "success",
        ]),
    ]);
    let run = wait(&server, &["a", "b"], &["--allow-skipped"]);
    run.expect(1);
    run.says("a (#1): skipped -> created");
    run.says("NOT PASSED: a (#1) failed");
}

/// A job that passed, retried and failed between two reads (never seen unfinished), while the
/// wait goes on for another: the rounds that ask only for unfinished jobs cannot see it, and the
/// whole read that must confirm a verdict does: exit 1, judged by the newest attempt.
#[test]
fn a_passed_job_retried_and_failed_unseen_is_judged_by_the_confirming_read() {
    let server = GitLab::start(GITLAB_18);
    let mut retried_late = vec![vec![]; 6];
    retried_late.push(vec![Step::RetryEnded("failed")]);
    server.add([
        Job::new(1, "a", "test", "success").steps(retried_late),
        Job::new(2, "b", "test", "running")
            .then(&["running", "running", "running", "running", "success"]),
    ]);
    let run = wait(&server, &["a", "b"], &[]);
    run.expect(1);
    let newest = server.latest("a");
    assert_ne!(newest.id, 1, "a was retried");
    run.says(&format!(
        "a (#{}): success -> failed (new attempt, was #1)",
        newest.id
    ));
    run.never_says("passed: a");
}

/// `--verbose` says what each round asked for: the unfinished jobs (`scope[]=…`), and the whole
/// list when a followed job left them.
#[test]
fn verbose_shows_what_a_round_asked_for() {
    let server = GitLab::start(GITLAB_18);
    server.add([Job::new(2, "b", "test", "running").then(&["running", "running", "success"])]);
    let run = wait(&server, &["b"], &["--verbose"]);
    run.expect(0);
    run.says("/pipelines/1000/jobs?scope[]=created&scope[]=waiting_for_resource");
    run.says("scope[]=running&scope[]=canceling&scope[]=manual&scope[]=scheduled&per_page=100&page=1 -> 200");
    run.says("b (#2) is not among the unfinished jobs of pipeline 1000; reading the finished ones");
    run.says("scope[]=success&scope[]=failed&scope[]=canceled&scope[]=skipped&per_page=100&page=1 -> 200");
    run.says("/pipelines/1000/jobs?per_page=100&page=1 -> 200");
    run.never_says(JOB_TOKEN);
}

/// A GitLab that refuses `scope[]` (400, as for a status it does not know) gets whole lists from
/// then on, and the verdict is the same.
#[test]
fn a_gitlab_that_refuses_scope_gets_whole_lists() {
    let server = GitLab::start(GITLAB_18);
    server.add([
        Job::new(2, "b", "test", "running").then(&["running", "running", "running", "failed"])
    ]);
    server.fault(
        Fault::status(
            "GET",
            "/pipelines/1000/jobs",
            400,
            r#"{"error":"scope does not have a valid value"}"#,
        )
        .with_query("scope[]")
        .forever(),
    );
    let run = wait(&server, &["b"], &[]);
    run.expect(1);
    run.says("GitLab refused to list only some statuses of pipeline 1000's jobs");
    run.says("NOT PASSED: b (#2) failed");
    let scoped = server
        .requests_to("GET", "/pipelines/1000/jobs")
        .iter()
        .filter(|r| !r.query_values("scope[]").is_empty())
        .count();
    assert_eq!(scoped, 1, "asked once, then never again");
}

/// A busy pipeline: more unfinished jobs than fit on a page, one ending between the pages of
/// every round's read (found by a review: `X-Total went from 220 to 219 between pages` failed
/// ten rounds in a row, exit 3, while every job passed). A list of some statuses is read as a
/// listing: what its shifting pages miss is read again, and the verdict is right.
#[test]
fn a_busy_pipeline_whose_unfinished_jobs_end_between_pages_is_waited_on() {
    let server = GitLab::start(GITLAB_18);
    let jobs: Vec<Job> = (1..=120)
        .map(|i| {
            Job::new(2000 + i, &format!("unit {i}"), "test", "running")
                .then(&["running", "running", "running", "running", "success"])
        })
        .collect();
    server.add(jobs);
    server.fault(
        Rule::new(
            "GET",
            "/pipelines/1000/jobs",
            Fault::EndOneBetweenPages {
                prefix: "unit ".into(),
            },
        )
        .with_query("scope[]")
        .forever(),
    );
    let run = wait(&server, &["--stage", "test"], &["--timeout", "20s"]);
    run.expect(0);
    run.never_says("this round failed");
    run.never_says("changed while it was read");
}

/// Many followed jobs, a few ending in a round: that round reads the unfinished jobs and the
/// finished ones (together, the whole list), never the whole list on top (found by a review:
/// 20 requests a round for 1,000 running jobs, twice a whole read).
#[test]
fn a_round_in_which_jobs_end_reads_no_more_than_a_whole_list() {
    let server = GitLab::start(GITLAB_18);
    let jobs: Vec<Job> = (1..=250)
        .map(|i| {
            let end = if i <= 10 { 3 } else { 6 };
            let mut timeline = vec!["running"; end - 1];
            timeline.push("success");
            Job::new(2000 + i, &format!("unit {i}"), "test", "running").then(&timeline)
        })
        .collect();
    server.add(jobs);
    let run = wait(&server, &["--stage", "test"], &["--timeout", "20s"]);
    run.expect(0);
    assert_eq!(
        server.full_reads(1000, "jobs"),
        2,
        "whole reads only to select and to confirm"
    );
    assert!(server.finished_reads(1000, "jobs") >= 2);
}

/// A proxy or GitLab refusing the scoped read (403 here) while the whole list reads: every
/// round reads whole lists from then on, and the verdict is the same (it was exit 3 at once).
#[test]
fn a_refused_scoped_read_falls_back_to_whole_lists() {
    let server = GitLab::start(GITLAB_18);
    server.add([Job::new(2, "b", "test", "running").then(&["running", "running", "success"])]);
    server.fault(
        Fault::status(
            "GET",
            "/pipelines/1000/jobs",
            403,
            r#"{"message":"403 Forbidden"}"#,
        )
        .with_query("scope[]")
        .forever(),
    );
    let run = wait(&server, &["b"], &[]);
    run.expect(0);
    run.says("GitLab refused to list only some statuses of pipeline 1000's jobs (");
    run.says("passed: b (#2) success");
}
