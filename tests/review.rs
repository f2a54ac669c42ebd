//! What the hostile review of this version found, each turned into a test that failed before its
//! fix: verdicts on an older attempt, two attempts of one job in one list, answers about another
//! job, a retried job given by id, a trigger job hidden in a stage, a token cut in half by a
//! quoted body, tokens in other encodings, JUnit reports that were not XML or replaced a device,
//! and invisible characters that reorder or break lines. (A closed stdout, also found, cannot be
//! told apart: Rust opens /dev/null in its place before `main`, as for `>/dev/null`.)

mod support;

use support::gitlab::{API_TOKEN, Fault, GitLab, JOB_TOKEN, Job, render};
use support::{Stdout, gljob, gljob_api, gljob_to};

const GITLAB_18: (u32, u32) = (18, 3);
const GITLAB_19_2: (u32, u32) = (19, 2);
const API: (&str, Option<&str>) = ("GITLAB_TOKEN", Some(API_TOKEN));

/// Two attempts of `deploy` listed together (a list read mid-retry): one play, of the latest.
#[test]
fn two_attempts_in_one_list_are_one_job_its_latest() {
    let server = GitLab::start(GITLAB_18);
    server.add([
        Job::new(5, "deploy", "deploy", "manual"),
        Job::new(6, "deploy", "deploy", "manual").after_play(&["success"]),
    ]);
    gljob_api(&server, &["play", "deploy"]).expect(0);
    let plays = server.requests_to("POST", "/play");
    assert_eq!(plays.len(), 1, "one play");
    assert!(plays[0].path.ends_with("/jobs/6/play"), "{}", plays[0].path);

    // A wait judges the highest id, wherever the list puts it.
    let server = GitLab::start(GITLAB_18);
    server.add([
        Job::new(10, "build", "build", "success"),
        Job::new(11, "build", "build", "failed"),
    ]);
    gljob(&server, &["wait", "build", "--interval", "5ms"], &[])
        .expect(1)
        .says("NOT PASSED: build (#11) failed")
        .never_says("passed: build (#10)");
}

/// An answer about another job proves nothing about this one.
#[test]
fn an_answer_about_another_job_is_not_an_answer() {
    let other = serde_json::to_string(&render(&Job::new(77, "other", "test", "success"))).unwrap();
    // A play answered with job 77: the job read back is still manual, so the outcome is unknown.
    let server = GitLab::start(GITLAB_18);
    server.add([Job::new(5, "deploy", "deploy", "manual")]);
    server.fault(Fault::status("POST", "/jobs/5/play", 200, &other));
    gljob(
        &server,
        &[
            "play",
            "5",
            "--wait",
            "--timeout",
            "5s",
            "--interval",
            "5ms",
        ],
        &[API],
    )
    .expect(4)
    .never_says("passed");
    // A job read by id that answers with another id: unreadable, exit 3, never a pass.
    let server = GitLab::start(GITLAB_18);
    server.add([Job::new(4242, "x", "test", "running").in_pipeline(900)]);
    server.fault(Fault::status("GET", "/jobs/4242", 200, &other).forever());
    gljob(
        &server,
        &["wait", "4242", "--retries", "0", "--timeout", "5s"],
        &[API],
    )
    .expect(3)
    .never_says("passed");
}

/// A job given by the id of an attempt that was retried is judged by its latest attempt.
#[test]
fn an_id_of_a_retried_attempt_means_its_latest() {
    let server = GitLab::start(GITLAB_18);
    let mut old = Job::new(10, "build", "build", "success");
    old.retried = true;
    server.add([old, Job::new(11, "build", "build", "failed")]);
    for command in ["wait", "check"] {
        gljob(&server, &[command, "10"], &[API])
            .expect(1)
            .says("job 10 was retried; build (#11) is its latest attempt");
    }
}

/// A stage that holds a failed trigger job beside a passed build does not pass, with the job
/// token alone on 19.2 (which may read trigger jobs).
#[test]
fn a_trigger_job_in_a_stage_is_judged_with_the_job_token() {
    let server = GitLab::start(GITLAB_19_2);
    server.add([
        Job::new(1, "test-unit", "test", "success"),
        Job::new(2, "test-downstream", "test", "failed").bridge(None),
    ]);
    for args in [
        vec!["wait", "--stage", "test"],
        vec!["check", "test*"],
        vec!["check", "--stage", "test"],
    ] {
        gljob(&server, &args, &[]).expect(1).says("test-downstream");
    }
}

/// A body echoing a token past the part gljob quotes: no part of the token is printed.
#[test]
fn a_token_cut_by_the_quoted_body_is_still_removed() {
    let server = GitLab::start(GITLAB_18);
    let body = format!("<html>{}{API_TOKEN}{JOB_TOKEN}</html>", "A".repeat(96));
    server
        .fault(Fault::status("GET", "/pipelines/1000/jobs", 502, &body).content_type("text/html"));
    // The harness checks every run for the tokens, their first and their last 12 characters.
    gljob(&server, &["jobs", "--retries", "0"], &[API]).expect(3);
}

/// Tokens outside `[A-Za-z0-9_-]` echoed in lower-case percent-encoding or form encoding.
#[test]
fn tokens_in_other_encodings_are_removed() {
    let token = "glpat-a+b/c=d SECRETX";
    for echoed in [
        "glpat-a%2bb%2fc%3dd%20SECRETX",
        "glpat-a%2Bb%2Fc%3Dd+SECRETX",
    ] {
        let server = GitLab::start(GITLAB_18);
        server.fault(Fault::status(
            "GET",
            "/pipelines/1000/jobs",
            401,
            &format!(r#"{{"message":"401 Unauthorized {echoed}"}}"#),
        ));
        let run = gljob(&server, &["jobs"], &[("GITLAB_TOKEN", Some(token))]);
        run.expect(3).never_says("SECRETX");
    }
}

/// A JUnit report is XML whatever the job names hold, and never replaces what is not a file.
#[test]
fn junit_reports_are_xml_and_never_replace_a_device() {
    let server = GitLab::start(GITLAB_18);
    server.add([Job::new(
        1,
        "odd\u{fffe}\u{ffff}\u{1b}name",
        "test",
        "success",
    )]);
    let dir = std::env::temp_dir().join(format!("gljob-review-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("report.xml");
    gljob(
        &server,
        &["check", "odd*", "--junit", path.to_str().unwrap()],
        &[],
    )
    .expect(0);
    let text = std::fs::read_to_string(&path).unwrap();
    roxmltree::Document::parse(&text).expect("well-formed XML");

    let before = server.requests().len();
    gljob(&server, &["check", "odd*", "--junit", "/dev/full"], &[])
        .expect(2)
        .says("not a regular file");
    assert_eq!(server.requests().len(), before, "nothing sent");
    use std::os::unix::fs::FileTypeExt;
    let full = std::fs::metadata("/dev/full").expect("/dev/full");
    assert!(
        full.file_type().is_char_device(),
        "/dev/full is still a device"
    );
}

/// Characters that break or reorder a line on screen are shown escaped in human output.
#[test]
fn invisible_characters_are_shown_escaped() {
    let server = GitLab::start(GITLAB_18);
    server.add([Job::new(
        1,
        "a\u{2028}passed: deploy\u{200e}\u{feff}\u{ad}",
        "test",
        "failed",
    )]);
    let run = gljob(&server, &["wait", "a*", "--interval", "5ms"], &[]);
    run.expect(1);
    for c in ['\u{2028}', '\u{200e}', '\u{feff}', '\u{ad}'] {
        assert!(!run.stderr.contains(c), "{c:?} raw in {:?}", run.stderr);
    }
    let run = gljob_to(&server, &["jobs"], &[], Stdout::Piped);
    assert!(!run.out().contains('\u{2028}'), "{:?}", run.out());
}
