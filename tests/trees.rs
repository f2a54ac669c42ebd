//! Issue 9, the whole pipeline tree on GitLab 19: downstream selectors (`BRIDGE::SELECTOR`),
//! trigger jobs read from `/trigger_jobs` (19.2+) or `/bridges`, needs-style names for `parallel`
//! and `parallel:matrix`, multi-project downstream pipelines and the job token allowlist,
//! `bridges --tree`, job inputs (`--input`), archived jobs, keyset pages of the project jobs list.
//!
//! Every test drives state by request count (timelines advance one step per read: a pipeline's
//! job list advances its builds, its trigger jobs list advances its trigger jobs), and asserts
//! what GitLab received: which routes, which token header, which body.

use crate::support;

use serde_json::{Value, json};
use support::gitlab::{
    API_TOKEN, Fault, GitLab, Input, JOB_TOKEN, Job, OTHER_PROJECT_ID, OTHER_PROJECT_PATH,
    Pipeline, Project, READ_TOKEN, Recorded, Step, encode_cursor,
};
use support::{Run, gljob, gljob_api};

const V18_3: (u32, u32) = (18, 3);
const V18_9: (u32, u32) = (18, 9);
const V18_10: (u32, u32) = (18, 10);
const V19_0: (u32, u32) = (19, 0);
const V19_1: (u32, u32) = (19, 1);
const V19_2: (u32, u32) = (19, 2);
const FAST: [&str; 2] = ["--interval", "5ms"];

// ---- helpers ------------------------------------------------------------------------------------

/// gljob with the runner's environment only (the job token); `wait` gets `--interval 5ms`.
fn with_job_token(server: &GitLab, args: &[&str]) -> Run {
    let mut args = args.to_vec();
    if args.first() == Some(&"wait") {
        args.extend_from_slice(&FAST);
    }
    gljob(server, &args, &[])
}

/// `METHOD path?query` of every request, for failure messages.
fn log(server: &GitLab) -> String {
    server
        .requests()
        .iter()
        .map(|r| {
            let query: Vec<String> = r.query.iter().map(|(k, v)| format!("{k}={v}")).collect();
            format!("{} {}?{}", r.method, r.path, query.join("&"))
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// Every request carried the job token, and no access token.
#[track_caller]
fn only_job_token(server: &GitLab) {
    for r in server.requests() {
        assert_eq!(
            r.header("JOB-TOKEN"),
            Some(JOB_TOKEN),
            "{} {}\n{}",
            r.method,
            r.path,
            log(server)
        );
        assert_eq!(r.header("PRIVATE-TOKEN"), None, "{} {}", r.method, r.path);
    }
}

/// Every request carried this access token, and no job token.
#[track_caller]
fn only_access_token(server: &GitLab, token: &str) {
    for r in server.requests() {
        assert_eq!(
            r.header("PRIVATE-TOKEN"),
            Some(token),
            "{} {}\n{}",
            r.method,
            r.path,
            log(server)
        );
        assert_eq!(r.header("JOB-TOKEN"), None, "{} {}", r.method, r.path);
    }
}

/// Requests whose path contains `part`.
fn requests_with(server: &GitLab, part: &str) -> Vec<Recorded> {
    server
        .requests()
        .into_iter()
        .filter(|r| r.path.contains(part))
        .collect()
}

/// Index of the first request whose path contains `part`.
fn first_index(server: &GitLab, part: &str) -> Option<usize> {
    server.requests().iter().position(|r| r.path.contains(part))
}

/// Page-1 reads of a pipeline's trigger jobs, by either route.
fn trigger_reads(server: &GitLab, pipeline: u64) -> usize {
    server.list_reads(pipeline, "trigger_jobs") + server.list_reads(pipeline, "bridges")
}

/// The one line of stderr holding every one of `parts`; fails unless exactly one does.
#[track_caller]
fn one_line_with(run: &Run, parts: &[&str]) -> String {
    let lines: Vec<&str> = run
        .stderr
        .lines()
        .filter(|l| parts.iter().all(|p| l.contains(p)))
        .collect();
    assert_eq!(
        lines.len(),
        1,
        "want exactly one stderr line with {parts:?}\n--- stderr\n{}",
        run.stderr
    );
    lines[0].to_string()
}

fn sorted_lines(text: &str) -> Vec<String> {
    let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
    lines.sort();
    lines
}

fn body(request: &Recorded) -> Value {
    serde_json::from_slice(&request.body).unwrap_or_else(|_| {
        panic!(
            "not JSON: {:?} (body of {} {})",
            String::from_utf8_lossy(&request.body),
            request.method,
            request.path
        )
    })
}

/// The column (in characters) where `name` starts on `line`: how deep it is indented, whatever
/// draws the indentation (spaces or box-drawing characters).
fn column(line: &str, name: &str) -> usize {
    let at = line.find(name).expect("the name is on the line");
    line[..at].chars().count()
}

/// The first stdout line holding `part`.
#[track_caller]
fn stdout_line(run: &Run, part: &str) -> (usize, String) {
    run.out()
        .lines()
        .enumerate()
        .find(|(_, l)| l.contains(part))
        .map(|(i, l)| (i, l.to_string()))
        .unwrap_or_else(|| panic!("no stdout line with {part:?}\n--- stdout\n{}", run.out()))
}

/// 1000 ─ docs (bridge #10) ─▶ child 2000: `lint-docs` (#21), success after `reads` reads of
/// 2000's job list.
fn one_child(version: (u32, u32), reads: usize) -> GitLab {
    let server = GitLab::start(version);
    server.add([
        Job::new(1, "build", "build", "success"),
        Job::new(10, "docs", "deploy", "running").bridge(Some(2000)),
    ]);
    let mut timeline = vec!["running"; reads.saturating_sub(1)];
    timeline.push("success");
    server.add_pipeline(
        Pipeline::child(2000),
        [Job::new(21, "lint-docs", "test", "pending").then(&timeline)],
    );
    server
}

// ---- the tree ---------------------------------------------------------------------------------

/// `a::b::job`: three levels, job token alone on 19.2. Only `/trigger_jobs` is used (never
/// `/bridges`), the leaf pipeline's list is read whole to resolve, its unfinished jobs once a
/// round, whole again in the round the job ended (it is missing from its unfinished jobs) and to
/// confirm; no list is read more often than the leaf's.
#[test]
fn a_tree_of_three_levels_is_waited_on_with_the_job_token_on_19_2() {
    let server = GitLab::start(V19_2);
    server.add([
        Job::new(1, "build", "build", "success"),
        Job::new(10, "a", "deploy", "running").bridge(Some(2000)),
    ]);
    server.add_pipeline(
        Pipeline::child(2000),
        [
            Job::new(20, "prepare", "build", "success"),
            Job::new(25, "b", "deploy", "running").bridge(Some(3000)),
        ],
    );
    server.add_pipeline(
        Pipeline::child(3000),
        [
            Job::new(30, "job", "test", "pending").then(&["running", "success"]),
            Job::new(31, "job-other", "test", "failed"),
        ],
    );
    let run = with_job_token(&server, &["wait", "a::b::job"]);
    run.expect(0);
    one_line_with(&run, &["passed", "(#30)", "success"]);
    run.never_says("#31");

    assert_eq!(
        server.full_reads(3000, "jobs"),
        2,
        "resolution and the read that confirms the verdict\n{}",
        log(&server)
    );
    // The round the job ended in: its unfinished jobs (it is missing), then its finished ones.
    assert_eq!(server.unfinished_reads(3000, "jobs"), 1, "{}", log(&server));
    assert_eq!(server.finished_reads(3000, "jobs"), 1, "{}", log(&server));
    assert!(server.list_reads(1000, "trigger_jobs") >= 1);
    assert!(server.list_reads(2000, "trigger_jobs") >= 1);
    assert!(
        requests_with(&server, "/bridges").is_empty(),
        "19.2 has /trigger_jobs\n{}",
        log(&server)
    );
    for (pipeline, list) in [
        (1000, "jobs"),
        (1000, "trigger_jobs"),
        (2000, "jobs"),
        (2000, "trigger_jobs"),
        (3000, "trigger_jobs"),
    ] {
        assert!(
            server.list_reads(pipeline, list) <= server.list_reads(3000, "jobs"),
            "{pipeline}/{list} read more than once a round (and once to confirm)\n{}",
            log(&server)
        );
    }
    only_job_token(&server);
    assert!(server.requests().iter().all(|r| r.method == "GET"));
}

/// A round reads each followed pipeline once, a pipeline whose followed jobs all ended too (a job
/// there retried, or its trigger job run again, would change the verdict while the wait goes on):
/// `api::*` takes three reads, and `docs::*`'s pipeline is read as often, never more.
#[test]
fn a_finished_downstream_pipeline_is_read_once_a_round_while_the_wait_goes_on() {
    let server = GitLab::start(V19_2);
    server.add([
        Job::new(10, "docs", "deploy", "success").bridge(Some(2000)),
        Job::new(11, "api", "deploy", "success").bridge(Some(3000)),
    ]);
    server.add_pipeline(
        Pipeline::child(2000),
        [Job::new(21, "spellcheck", "test", "success")],
    );
    server.add_pipeline(
        Pipeline::child(3000),
        [Job::new(31, "contract", "test", "running").then(&["running", "running", "success"])],
    );
    let run = with_job_token(&server, &["wait", "docs::*", "api::*"]);
    run.expect(0);
    one_line_with(&run, &["passed", "(#21)"]);
    one_line_with(&run, &["passed", "(#31)"]);
    // Whole to resolve and to confirm; in the round `contract` ended in, missing from the
    // unfinished jobs of 3000, it is found among the finished ones; the unfinished jobs once a
    // round, of the finished pipeline too.
    assert_eq!(server.full_reads(3000, "jobs"), 2, "{}", log(&server));
    assert_eq!(server.finished_reads(3000, "jobs"), 1, "{}", log(&server));
    assert_eq!(server.full_reads(2000, "jobs"), 2, "{}", log(&server));
    assert_eq!(server.unfinished_reads(3000, "jobs"), 2, "{}", log(&server));
    assert_eq!(server.unfinished_reads(2000, "jobs"), 2, "{}", log(&server));
    assert!(trigger_reads(&server, 1000) <= 4, "{}", log(&server));
    only_job_token(&server);
}

/// A trigger job that fails before creating its pipeline is the verdict for everything under
/// it: exit 1, said in one line; the pipeline that never existed is never asked for.
#[test]
fn a_trigger_job_that_fails_before_creating_its_pipeline_is_exit_1_in_one_line() {
    // Running (no pipeline yet) on the first read, failed on the second.
    let server = GitLab::start(V19_2);
    server.add([
        Job::new(1, "build", "build", "success"),
        Job::new(10, "docs", "deploy", "running")
            .bridge(None)
            .steps(vec![
                vec![],
                vec![Step::Fail("downstream_pipeline_creation_failed")],
            ]),
    ]);
    let run = with_job_token(&server, &["wait", "docs::*", "build"]);
    run.expect(1);
    let line = one_line_with(&run, &["docs", "#10", "NOT PASSED"]);
    assert!(line.contains("failed"), "{line}");
    one_line_with(&run, &["passed", "build (#1)"]);
    assert_eq!(
        server.full_reads(1000, "trigger_jobs"),
        2,
        "resolution (no pipeline yet: wait) and the read that confirms\n{}",
        log(&server)
    );
    // The round that saw it fail: missing from the unfinished trigger jobs, found among the
    // finished ones.
    assert_eq!(
        server.finished_reads(1000, "trigger_jobs"),
        1,
        "{}",
        log(&server)
    );
    assert_eq!(
        server.unfinished_reads(1000, "trigger_jobs"),
        1,
        "{}",
        log(&server)
    );
    assert!(requests_with(&server, "/pipelines/2000").is_empty());
    only_job_token(&server);

    // Already failed (or skipped, or canceled) when gljob starts: the same verdict, after one
    // read and the read that confirms it.
    for status in ["failed", "skipped", "canceled"] {
        let server = GitLab::start(V19_2);
        server.add([Job::new(10, "docs", "deploy", status).bridge(None)]);
        let run = with_job_token(&server, &["wait", "docs::lint"]);
        run.expect(1);
        let line = one_line_with(&run, &["docs", "#10", "NOT PASSED"]);
        assert!(line.contains(status), "{line}");
        assert_eq!(
            server.list_reads(1000, "trigger_jobs"),
            2,
            "{}",
            log(&server)
        );
        assert!(requests_with(&server, "/pipelines/2000").is_empty());
    }
}

/// Several selectors under one trigger job that ends without its pipeline: still one verdict
/// line for everything under it, and the trigger job's change is shown once (one progress line
/// per change), however many selectors go through it.
#[test]
fn everything_under_a_failed_trigger_job_is_one_verdict_line() {
    let server = GitLab::start(V19_2);
    server.add([Job::new(10, "docs", "deploy", "running")
        .bridge(None)
        .steps(vec![
            vec![],
            vec![Step::Fail("downstream_pipeline_creation_failed")],
        ])]);
    let run = with_job_token(&server, &["wait", "docs::lint", "docs::spell", "docs::*"]);
    run.expect(1);
    let verdicts: Vec<&str> = run
        .stderr
        .lines()
        .filter(|l| l.contains("NOT PASSED"))
        .collect();
    assert_eq!(
        verdicts.len(),
        1,
        "one line for everything under docs\n{}",
        run.stderr
    );
    assert!(
        verdicts[0].contains("docs") && verdicts[0].contains("#10"),
        "{}",
        verdicts[0]
    );
    let changes = run
        .stderr
        .lines()
        .filter(|l| l.contains("#10") && l.contains("-> failed"))
        .count();
    assert_eq!(changes, 1, "one progress line per change\n{}", run.stderr);
    assert_eq!(server.unfinished_reads(1000, "trigger_jobs"), 1);
    assert_eq!(server.finished_reads(1000, "trigger_jobs"), 1);
    assert_eq!(
        server.full_reads(1000, "trigger_jobs"),
        2,
        "{}",
        log(&server)
    );
}

/// While the trigger job has no downstream pipeline (`downstream_pipeline: null`), `wait` waits
/// for it; the child pipeline is asked for only once the trigger job names it.
#[test]
fn a_downstream_pipeline_created_late_is_waited_for() {
    let server = GitLab::start(V19_2);
    server.add([Job::new(10, "docs", "deploy", "pending")
        .bridge(None)
        .steps(vec![vec![], vec![Step::Status("running")]])
        .creates_downstream_on_tick(3, 2000)]);
    server.add_pipeline(
        Pipeline::child(2000).late(),
        [
            Job::new(21, "spellcheck", "test", "pending").then(&["running", "success"]),
            Job::new(22, "linkcheck", "test", "created").then(&["pending", "running", "success"]),
        ],
    );
    let run = with_job_token(&server, &["wait", "docs::*"]);
    run.expect(0);
    one_line_with(&run, &["passed", "(#21)", "success"]);
    one_line_with(&run, &["passed", "(#22)", "success"]);
    let first_child_request =
        first_index(&server, "/pipelines/2000/").expect("the child pipeline was read");
    let trigger_reads_before = server.requests()[..first_child_request]
        .iter()
        .filter(|r| r.path.ends_with("/pipelines/1000/trigger_jobs"))
        .count();
    // The third read shows it; the child is read in that round or the next.
    assert!(
        (3..=4).contains(&trigger_reads_before),
        "{trigger_reads_before} reads of the trigger jobs before the child's\n{}",
        log(&server)
    );
    assert_eq!(server.list_reads(2000, "jobs"), 4, "{}", log(&server));
    assert!(requests_with(&server, "/bridges").is_empty());
    only_job_token(&server);
}

/// 19.0 and 19.1 take the job token on `/bridges` but have no `/trigger_jobs`: its catch-all 404
/// comes once, then `/bridges` for the rest of the run.
#[test]
fn job_token_on_19_0_and_19_1_falls_back_to_bridges_once_per_run() {
    for version in [V19_0, V19_1] {
        let server = one_child(version, 3);
        let run = with_job_token(&server, &["wait", "docs::lint-docs"]);
        run.expect(0);
        one_line_with(&run, &["passed", "(#21)"]);
        let trigger_jobs = requests_with(&server, "/trigger_jobs");
        assert_eq!(
            trigger_jobs.len(),
            1,
            "{version:?}: one 404 per run\n{}",
            log(&server)
        );
        let first_trigger_jobs = first_index(&server, "/trigger_jobs").unwrap();
        let first_bridges = first_index(&server, "/bridges").expect("bridges read");
        assert!(first_trigger_jobs < first_bridges, "{}", log(&server));
        assert!(
            server.list_reads(1000, "bridges") >= 1,
            "{version:?}\n{}",
            log(&server)
        );
        assert_eq!(server.full_reads(2000, "jobs"), 2, "{}", log(&server));
        assert_eq!(server.unfinished_reads(2000, "jobs"), 2, "{}", log(&server));
        assert_eq!(server.finished_reads(2000, "jobs"), 1, "{}", log(&server));
        only_job_token(&server);
    }
}

/// Only the catch-all's body (`{"error":"404 Not Found"}`: no such route) means "use
/// `/bridges`"; a 404 with a `message` is an answer of the route itself (§10.1): exit 3, and
/// `/bridges` is not tried.
#[test]
fn a_real_404_of_trigger_jobs_is_not_a_reason_to_fall_back() {
    let server = one_child(V19_2, 1);
    server.fault(Fault::status(
        "GET",
        "/trigger_jobs",
        404,
        r#"{"message":"404 Project Not Found"}"#,
    ));
    let run = with_job_token(&server, &["wait", "docs::lint-docs"]);
    run.expect(3).says("404 Project Not Found");
    assert!(
        requests_with(&server, "/bridges").is_empty(),
        "{}",
        log(&server)
    );
    assert_eq!(requests_with(&server, "/trigger_jobs").len(), 1);
    assert!(requests_with(&server, "/pipelines/2000").is_empty());
}

/// 18.3 with an access token (`read_api`): `/trigger_jobs` does not exist (one 404), `/bridges`
/// takes the token. With the job token alone, 18.3 cannot read trigger jobs at all: exit 3 naming
/// GITLAB_TOKEN, and the child pipeline is never asked for.
#[test]
fn an_access_token_on_18_3_reads_bridges_and_the_job_token_alone_cannot() {
    let server = one_child(V18_3, 2);
    let mut args = vec!["wait", "docs::lint-docs"];
    args.extend_from_slice(&FAST);
    let run = gljob(&server, &args, &[("GITLAB_TOKEN", Some(READ_TOKEN))]);
    run.expect(0);
    one_line_with(&run, &["passed", "(#21)"]);
    assert!(
        requests_with(&server, "/trigger_jobs").len() <= 1,
        "{}",
        log(&server)
    );
    assert!(server.list_reads(1000, "bridges") >= 1, "{}", log(&server));
    assert_eq!(server.full_reads(2000, "jobs"), 2, "{}", log(&server));
    assert_eq!(server.unfinished_reads(2000, "jobs"), 1, "{}", log(&server));
    assert_eq!(server.finished_reads(2000, "jobs"), 1, "{}", log(&server));
    only_access_token(&server, READ_TOKEN);

    let server = one_child(V18_3, 2);
    let run = with_job_token(&server, &["wait", "docs::lint-docs"]);
    run.expect(3).says("GITLAB_TOKEN");
    assert!(
        requests_with(&server, "/trigger_jobs").len() <= 1,
        "{}",
        log(&server)
    );
    assert!(requests_with(&server, "/pipelines/2000").is_empty());
}

/// Every command that takes selectors takes `BRIDGE::SELECTOR`; writes and single-job reads of a
/// multi-project downstream go to that project (`downstream_pipeline.project_id`).
#[test]
fn every_selector_command_takes_a_downstream_selector() {
    let server = GitLab::start(V19_2);
    server.add_project(Project::other().allowing_42());
    server.add([
        Job::new(10, "docs", "deploy", "success").bridge(Some(2000)),
        Job::new(12, "deploy-eu", "deploy", "success").bridge(Some(3000)),
    ]);
    server.add_pipeline(
        Pipeline::child(2000),
        [
            Job::new(21, "spellcheck", "test", "success").log(b"spelling ok\n"),
            Job::new(22, "publish", "deploy", "manual").after_play(&["running"]),
            Job::new(23, "flaky", "test", "failed"),
            Job::new(24, "slow", "test", "running"),
        ],
    );
    server.add_pipeline(
        Pipeline::in_project(3000, OTHER_PROJECT_ID),
        [Job::new(41, "smoke", "test", "manual")],
    );

    with_job_token(&server, &["check", "docs::spellcheck"]).expect(0);
    assert_eq!(
        with_job_token(&server, &["job", "docs::spellcheck", "--field", "id"])
            .expect(0)
            .out(),
        "21\n"
    );
    with_job_token(&server, &["wait", "docs::spellcheck"]).expect(0);
    only_job_token(&server);

    let run = gljob_api(&server, &["trace", "docs::spellcheck"]);
    assert_eq!(run.expect(0).out(), "spelling ok\n");
    assert_eq!(
        server
            .requests_to("GET", "/projects/42/jobs/21/trace")
            .len(),
        1
    );
    gljob_api(&server, &["play", "docs::publish"]).expect(0);
    gljob_api(&server, &["retry", "docs::flaky"]).expect(0);
    gljob_api(&server, &["cancel", "docs::slow"]).expect(0);
    gljob_api(&server, &["play", "deploy-eu::smoke"]).expect(0);
    assert_eq!(
        server.applied(),
        [("play", 22), ("retry", 23), ("cancel", 24), ("play", 41)]
    );
    assert_eq!(
        server
            .requests_to("POST", "/projects/42/jobs/22/play")
            .len(),
        1
    );
    assert_eq!(
        server
            .requests_to("POST", "/projects/42/jobs/23/retry")
            .len(),
        1
    );
    assert_eq!(
        server
            .requests_to("POST", "/projects/42/jobs/24/cancel")
            .len(),
        1
    );
    assert_eq!(
        server
            .requests_to("POST", "/projects/43/jobs/41/play")
            .len(),
        1,
        "the downstream's own project\n{}",
        log(&server)
    );
    for r in server.requests().iter().filter(|r| r.method == "POST") {
        assert_eq!(r.header("PRIVATE-TOKEN"), Some(API_TOKEN));
    }
}

// ---- multi-project downstream and the job token allowlist -------------------------------------

/// 1000 ─ deploy-eu (#12) ─▶ pipeline 3000 of project 43: `smoke` (#41), success.
fn multi_project(project: Project) -> GitLab {
    let server = GitLab::start(V19_2);
    server.add_project(project);
    server.add([Job::new(12, "deploy-eu", "deploy", "running").bridge(Some(3000))]);
    server.add_pipeline(
        Pipeline::in_project(3000, OTHER_PROJECT_ID),
        [Job::new(41, "smoke", "test", "success")],
    );
    server
}

/// Project 43 does not allowlist project 42: GitLab's 403 to the job token becomes exit 3 with
/// one line naming the allowlist (of that project) and GITLAB_TOKEN. Allowlisted, the job token
/// works; an access token works without it.
#[test]
fn a_multi_project_downstream_refused_to_the_job_token_names_the_allowlist() {
    let server = multi_project(Project::other());
    let run = with_job_token(&server, &["wait", "deploy-eu::smoke"]);
    run.expect(3);
    let line = one_line_with(&run, &["GITLAB_TOKEN"]);
    assert!(line.to_lowercase().contains("allowlist"), "{line}");
    assert!(
        line.contains(OTHER_PROJECT_PATH) || line.contains("43"),
        "names the project: {line}"
    );
    let refused = server.requests_to("GET", "/projects/43/pipelines/3000/jobs");
    assert_eq!(refused.len(), 1, "a 403 is not retried\n{}", log(&server));
    assert_eq!(refused[0].header("JOB-TOKEN"), Some(JOB_TOKEN));
    assert!(
        requests_with(&server, "/projects/42/pipelines/3000").is_empty(),
        "the downstream pipeline is project 43's\n{}",
        log(&server)
    );

    let server = multi_project(Project::other().allowing_42());
    let run = with_job_token(&server, &["wait", "deploy-eu::smoke"]);
    run.expect(0);
    one_line_with(&run, &["passed", "(#41)"]);
    assert_eq!(
        server
            .requests_to("GET", "/projects/43/pipelines/3000/jobs")
            .len(),
        2,
        "resolution and the read that confirms the verdict"
    );
    only_job_token(&server);

    let server = multi_project(Project::other());
    let mut args = vec!["wait", "deploy-eu::smoke"];
    args.extend_from_slice(&FAST);
    let run = gljob(&server, &args, &[("GITLAB_TOKEN", Some(READ_TOKEN))]);
    run.expect(0);
    only_access_token(&server, READ_TOKEN);
}

// ---- names ------------------------------------------------------------------------------------

/// A bare name selects the job and all its instances as `needs:` does; an instance name selects
/// one; patterns match full names; a longer name is another job.
#[test]
fn needs_style_names_select_every_parallel_and_matrix_instance() {
    let server = GitLab::start(V19_2);
    server.add(Job::parallel(
        1,
        "unit",
        "test",
        &["success", "failed", "success"],
    ));
    server.add([Job::new(4, "unit-extra", "test", "failed")]);
    server.add(Job::matrix(
        11,
        "build",
        "build",
        "success",
        &[
            &["linux", "amd64"],
            &["linux", "arm64"],
            &["windows", "amd64"],
        ],
    ));
    server.add([Job::new(14, "build-docs", "build", "failed")]);

    let names = |selector: &str| {
        sorted_lines(
            &with_job_token(&server, &["job", selector, "--field", "name"])
                .expect(0)
                .out(),
        )
    };
    assert_eq!(names("unit"), ["unit 1/3", "unit 2/3", "unit 3/3"]);
    assert_eq!(
        names("build"),
        [
            "build: [linux, amd64]",
            "build: [linux, arm64]",
            "build: [windows, amd64]"
        ]
    );
    assert_eq!(names("unit 2/3"), ["unit 2/3"]);
    assert_eq!(names("build: [linux, arm64]"), ["build: [linux, arm64]"]);
    assert_eq!(names("unit-extra"), ["unit-extra"]);

    // build-docs (failed) is not `build`; the matrix passed.
    with_job_token(&server, &["check", "build"]).expect(0);
    let run = with_job_token(&server, &["check", "unit"]);
    run.expect(1);
    one_line_with(&run, &["unit 2/3", "(#2)"]);
    run.never_says("unit-extra");
    only_job_token(&server);
}

/// Patterns keep matching full names (passes with the current binary).
#[test]
fn patterns_and_instance_names_still_match_full_names() {
    let server = GitLab::start(V19_2);
    server.add(Job::parallel(1, "unit", "test", &["success"; 3]));
    server.add(Job::matrix(
        11,
        "build",
        "build",
        "success",
        &[&["linux", "amd64"], &["linux", "arm64"]],
    ));
    let ids = |selector: &str| {
        sorted_lines(
            &with_job_token(&server, &["job", selector, "--field", "id"])
                .expect(0)
                .out(),
        )
    };
    assert_eq!(ids("unit ?/3"), ["1", "2", "3"]);
    assert_eq!(ids("build: [linux, *]"), ["11", "12"]);
    assert_eq!(ids("unit 3/3"), ["3"]);
}

// ---- bridges ------------------------------------------------------------------------------------

/// `gljob bridges` shows each downstream pipeline's own status (derived from its jobs), not the
/// trigger job's (passes with the current binary, which reads it from `downstream_pipeline`).
#[test]
fn bridges_show_each_downstream_pipelines_status() {
    let server = GitLab::start(V19_2);
    server.add_project(Project::other().allowing_42());
    server.add([
        // Without strategy: depend a trigger job succeeds once its pipeline exists.
        Job::new(10, "docs", "deploy", "success").bridge(Some(2000)),
        Job::new(12, "deploy-eu", "deploy", "success").bridge(Some(3000)),
    ]);
    server.add_pipeline(
        Pipeline::child(2000),
        [
            Job::new(21, "spellcheck", "test", "running"),
            Job::new(22, "linkcheck", "test", "success"),
        ],
    );
    server.add_pipeline(
        Pipeline::in_project(3000, OTHER_PROJECT_ID),
        [Job::new(41, "smoke", "test", "failed")],
    );
    assert_eq!(server.pipeline_status(2000), "running");
    assert_eq!(server.pipeline_status(3000), "failed");
    let run = gljob(&server, &["bridges"], &[]);
    run.expect(0);
    assert!(
        run.out().contains("pipeline 2000 (running)"),
        "{}",
        run.out()
    );
    assert!(
        run.out().contains("pipeline 3000 (failed)"),
        "{}",
        run.out()
    );
    let run = gljob(
        &server,
        &[
            "bridges",
            "--field",
            "name",
            "--field",
            "downstream_pipeline.project_id",
        ],
        &[],
    );
    assert_eq!(
        sorted_lines(&run.expect(0).out()),
        ["deploy-eu\t43", "docs\t42"]
    );
    only_job_token(&server);
}

/// `gljob bridges` on 19.2 reads `/trigger_jobs`, never the deprecated `/bridges`.
#[test]
fn bridges_on_19_2_reads_trigger_jobs() {
    let server = one_child(V19_2, 1);
    gljob(&server, &["bridges"], &[]).expect(0);
    assert_eq!(
        server.list_reads(1000, "trigger_jobs"),
        1,
        "{}",
        log(&server)
    );
    assert!(
        requests_with(&server, "/bridges").is_empty(),
        "{}",
        log(&server)
    );
    only_job_token(&server);
}

/// `bridges --tree`: pipelines, trigger jobs and jobs, each level indented under its trigger job.
#[test]
fn bridges_tree_prints_the_whole_tree_indented() {
    let server = GitLab::start(V19_2);
    server.add([
        Job::new(1, "compile", "build", "success"),
        Job::new(10, "docs", "deploy", "running").bridge(Some(2000)),
    ]);
    server.add_pipeline(
        Pipeline::child(2000),
        [
            Job::new(21, "spellcheck", "test", "success"),
            Job::new(25, "pages", "deploy", "running").bridge(Some(3000)),
        ],
    );
    server.add_pipeline(
        Pipeline::child(3000),
        [Job::new(31, "publish", "deploy", "running")],
    );
    let run = gljob(&server, &["bridges", "--tree"], &[]);
    run.expect(0);
    let (compile_at, compile) = stdout_line(&run, "compile");
    let (docs_at, docs) = stdout_line(&run, "docs");
    let (p2000_at, _) = stdout_line(&run, "2000");
    let (spell_at, spell) = stdout_line(&run, "spellcheck");
    let (pages_at, pages) = stdout_line(&run, "pages");
    let (p3000_at, _) = stdout_line(&run, "3000");
    let (publish_at, publish) = stdout_line(&run, "publish");
    stdout_line(&run, "1000");
    let (compile, docs) = (column(&compile, "compile"), column(&docs, "docs"));
    let (spell, pages) = (column(&spell, "spellcheck"), column(&pages, "pages"));
    let publish = column(&publish, "publish");
    assert_eq!(compile, docs, "siblings\n{}", run.out());
    assert_eq!(spell, pages, "siblings\n{}", run.out());
    assert!(docs < spell, "{}", run.out());
    assert!(pages < publish, "{}", run.out());
    assert!(docs_at <= p2000_at && p2000_at < spell_at, "{}", run.out());
    assert!(
        pages_at <= p3000_at && p3000_at < publish_at,
        "{}",
        run.out()
    );
    assert!(
        compile_at < spell_at || compile_at > publish_at,
        "{}",
        run.out()
    );
    assert!(
        requests_with(&server, "/bridges").is_empty(),
        "{}",
        log(&server)
    );
    only_job_token(&server);
}

// ---- job inputs -------------------------------------------------------------------------------

fn declared_inputs() -> Vec<Input> {
    vec![
        Input::new("ENV", "string").options(&[json!("staging"), json!("prod")]),
        Input::new("replicas", "number"),
        Input::new("dry_run", "boolean"),
        Input::new("regions", "array"),
    ]
}

/// A manual `deploy` (#5) with declared inputs.
fn with_inputs(version: (u32, u32)) -> GitLab {
    let server = GitLab::start(version);
    server.add([
        Job::new(5, "deploy", "deploy", "manual").inputs(declared_inputs()),
        Job::new(6, "e2e", "test", "failed")
            .inputs(vec![
                Input::new("suite", "string"),
                Input::new("shards", "number"),
            ])
            .after_retry(&["running"]),
    ]);
    server
}

/// String, number, boolean and array inputs: one body `{"job_inputs": {...}}` with JSON's own
/// types, sent after `GET /version` (access token) showed 18.10 or later.
#[test]
fn inputs_of_each_type_are_sent_as_job_inputs() {
    let server = with_inputs(V19_2);
    let run = gljob_api(
        &server,
        &[
            "play",
            "deploy",
            "--input",
            "ENV=prod",
            "--input",
            "replicas:=3",
            "--input",
            "dry_run:=true",
            "--input",
            r#"regions:=["eu","us"]"#,
        ],
    );
    run.expect(0);
    let plays = server.requests_to("POST", "/projects/42/jobs/5/play");
    assert_eq!(plays.len(), 1, "{}", log(&server));
    let expected = json!({"job_inputs": {"ENV": "prod", "replicas": 3, "dry_run": true, "regions": ["eu", "us"]}});
    assert_eq!(body(&plays[0]), expected);
    assert!(
        plays[0]
            .header("Content-Type")
            .is_some_and(|c| c.starts_with("application/json")),
        "Grape reads a JSON body only with its content type: {:?}",
        plays[0].header("Content-Type")
    );
    assert_eq!(
        server.job(5).ext.played_inputs,
        Some(expected["job_inputs"].clone())
    );
    let versions = server.requests_to("GET", "/api/v4/version");
    assert_eq!(versions.len(), 1, "{}", log(&server));
    assert_eq!(versions[0].header("PRIVATE-TOKEN"), Some(API_TOKEN));
    assert!(
        first_index(&server, "/version") < first_index(&server, "/play"),
        "the version is read before the write\n{}",
        log(&server)
    );
    only_access_token(&server, API_TOKEN);

    // With --var too: both keys.
    let server = with_inputs(V19_2);
    gljob_api(
        &server,
        &[
            "play",
            "deploy",
            "--input",
            "ENV=staging",
            "--var",
            "TARGET=eu",
        ],
    )
    .expect(0);
    let plays = server.requests_to("POST", "/play");
    assert_eq!(plays.len(), 1);
    assert_eq!(
        body(&plays[0]),
        json!({"job_inputs": {"ENV": "staging"},
               "job_variables_attributes": [{"key": "TARGET", "value": "eu"}]})
    );
}

/// `retry --input` sends `{"inputs": {...}}`, the parameter GitLab's retry route declares.
#[test]
fn retry_inputs_are_sent_under_inputs() {
    let server = with_inputs(V19_2);
    let run = gljob_api(
        &server,
        &[
            "retry",
            "e2e",
            "--input",
            "suite=smoke",
            "--input",
            "shards:=4",
        ],
    );
    run.expect(0);
    let retries = server.requests_to("POST", "/projects/42/jobs/6/retry");
    assert_eq!(retries.len(), 1, "{}", log(&server));
    assert_eq!(
        body(&retries[0]),
        json!({"inputs": {"suite": "smoke", "shards": 4}})
    );
    assert_eq!(server.requests_to("GET", "/api/v4/version").len(), 1);
    let new = server.latest("e2e");
    assert_ne!(new.id, 6);
    assert_eq!(
        new.ext.retried_inputs,
        Some(json!({"suite": "smoke", "shards": 4}))
    );
}

/// GitLab refuses an unknown input, a wrong type or a value outside the options with 400 and
/// its message: exit 3 with that message; the job stays manual.
#[test]
fn gitlabs_refusal_of_an_input_is_exit_3_with_its_message() {
    let cases = [
        ("colour=red", "Unknown input: colour"),
        (
            "replicas=three",
            "`replicas` input: provided value is not a number",
        ),
        (
            "ENV=qa",
            "`ENV` input: `qa` cannot be used because it is not in the list of allowed options",
        ),
    ];
    for (input, message) in cases {
        let server = with_inputs(V19_2);
        let run = gljob_api(&server, &["play", "deploy", "--input", input]);
        run.expect(3).says(message);
        assert_eq!(server.requests_to("POST", "/play").len(), 1, "sent once");
        assert!(server.applied().is_empty());
        assert_eq!(server.job(5).status, "manual");
    }
}

/// A malformed `--input` is exit 2 before anything is sent, on play and retry.
#[test]
fn a_malformed_input_is_exit_2_with_nothing_sent() {
    for input in ["no-equals", "=value", ":=1", "n:=not json", "n:={", "n:="] {
        for command in ["play", "retry"] {
            let server = with_inputs(V19_2);
            let job = if command == "play" { "deploy" } else { "e2e" };
            let run = gljob_api(&server, &[command, job, "--input", input]);
            run.expect(2).says("--input");
            assert!(
                server.requests().is_empty(),
                "{command} --input {input:?} sent\n{}",
                log(&server)
            );
        }
    }
}

/// On GitLab 18.9 inputs would be dropped silently: gljob reads the version and refuses, saying
/// inputs need 18.10; no write is sent. 18.10 is enough.
#[test]
fn inputs_on_18_9_are_refused_before_any_write() {
    let server = with_inputs(V18_9);
    let run = gljob_api(&server, &["play", "deploy", "--input", "ENV=prod"]);
    run.expect(3).says("18.10");
    let run = gljob_api(&server, &["retry", "e2e", "--input", "suite=smoke"]);
    run.expect(3).says("18.10");
    assert!(
        server.requests().iter().all(|r| r.method == "GET"),
        "{}",
        log(&server)
    );
    assert!(!server.requests_to("GET", "/api/v4/version").is_empty());
    only_access_token(&server, API_TOKEN);
    assert_eq!(server.job(5).status, "manual");

    let server = with_inputs(V18_10);
    gljob_api(&server, &["play", "deploy", "--input", "ENV=prod"]).expect(0);
    assert_eq!(
        body(&server.requests_to("POST", "/play")[0]),
        json!({"job_inputs": {"ENV": "prod"}})
    );
}

// ---- archived jobs ----------------------------------------------------------------------------

/// An archived job cannot be played or retried (403 on 19). Selected by name, gljob knows from
/// the list (`"archived": true`) and says so without sending; by id, it says so after the 403.
#[test]
fn archived_jobs_are_named_as_archived_on_play_and_retry() {
    let server = GitLab::start(V19_2);
    server.add([
        Job::new(5, "deploy", "deploy", "manual").archived(),
        Job::new(6, "e2e", "test", "failed").archived(),
    ]);
    gljob_api(&server, &["play", "deploy"])
        .expect(3)
        .says("archived");
    gljob_api(&server, &["retry", "e2e"])
        .expect(3)
        .says("archived");
    assert!(
        server.requests().iter().all(|r| r.method == "GET"),
        "known archived: nothing sent\n{}",
        log(&server)
    );

    gljob_api(&server, &["play", "5"])
        .expect(3)
        .says("archived");
    gljob_api(&server, &["retry", "6"])
        .expect(3)
        .says("archived");
    assert!(server.requests_to("POST", "/play").len() <= 1);
    assert!(server.requests_to("POST", "/retry").len() <= 1);
    assert!(server.applied().is_empty());
}

// ---- keyset pages -----------------------------------------------------------------------------

/// 250 jobs (ids 1001..=1250) plus gljob's own (#500) in project 42; `Link` headers name a
/// second listener, which must receive nothing.
fn many_jobs() -> (GitLab, GitLab) {
    let server = GitLab::start(V18_3);
    server.add((1001..=1250).map(|id| Job::new(id, &format!("job {id}"), "test", "success")));
    let elsewhere = GitLab::start(V18_3);
    server.set_external_root(&elsewhere.url);
    (server, elsewhere)
}

#[track_caller]
fn keyset_request(r: &Recorded, cursor: Option<String>) {
    assert_eq!(r.method, "GET");
    assert_eq!(r.path, "/api/v4/projects/42/jobs");
    assert_eq!(r.query_values("pagination"), ["keyset"]);
    assert_eq!(r.query_values("per_page"), ["100"]);
    assert_eq!(r.query_values("order_by"), ["id"]);
    assert_eq!(r.query_values("sort"), ["desc"]);
    assert!(r.query_values("page").is_empty());
    let cursor: Vec<String> = cursor.into_iter().collect();
    assert_eq!(r.query_values("cursor"), cursor);
    assert_eq!(r.header("JOB-TOKEN"), Some(JOB_TOKEN));
}

/// `jobs --project-wide` pages by keyset: the cursor comes from the `Link` (on another host) and
/// goes to gljob's own API root; the last page has no `Link`.
#[test]
fn keyset_pages_send_the_cursor_to_the_api_root_never_to_the_links_host() {
    let (server, elsewhere) = many_jobs();
    let run = gljob(&server, &["jobs", "--project-wide", "--field", "id"], &[]);
    run.expect(0);
    let mut expected: Vec<String> = (1001..=1250).rev().map(|id| id.to_string()).collect();
    expected.push("500".into());
    assert_eq!(run.out().lines().collect::<Vec<_>>(), expected);
    let requests = server.requests();
    assert_eq!(requests.len(), 3, "{}", log(&server));
    keyset_request(&requests[0], None);
    keyset_request(&requests[1], Some(encode_cursor(1151)));
    keyset_request(&requests[2], Some(encode_cursor(1051)));
    for r in &requests {
        assert_eq!(
            r.header("Host"),
            Some(format!("127.0.0.1:{}", server.port).as_str())
        );
    }
    assert!(
        elsewhere.requests().is_empty(),
        "the Link's host was called: {:?}",
        elsewhere.requests()
    );
}

/// `--limit` stops paging once it has enough; scopes go on every page.
#[test]
fn keyset_pages_stop_at_the_limit() {
    let (server, elsewhere) = many_jobs();
    let run = gljob(
        &server,
        &[
            "jobs",
            "--project-wide",
            "--scope",
            "success",
            "--limit",
            "150",
            "--field",
            "id",
        ],
        &[],
    );
    run.expect(0);
    let expected: Vec<String> = (1101..=1250).rev().map(|id| id.to_string()).collect();
    assert_eq!(run.out().lines().collect::<Vec<_>>(), expected);
    let requests = server.requests();
    assert_eq!(requests.len(), 2, "{}", log(&server));
    for r in &requests {
        assert_eq!(r.query_values("scope[]"), ["success"]);
    }
    keyset_request(&requests[0], None);
    keyset_request(&requests[1], Some(encode_cursor(1151)));
    assert!(elsewhere.requests().is_empty());

    let run = gljob(
        &server,
        &["jobs", "--project-wide", "--limit", "20", "--field", "id"],
        &[],
    );
    assert_eq!(run.expect(0).out().lines().count(), 20);
    assert_eq!(server.requests().len(), 3, "one more request for 20 jobs");
}

/// A GitLab that answers keyset with 405 gets offset pages (`page=`, `X-Next-Page`) instead.
#[test]
fn keyset_refused_with_405_falls_back_to_offset_pages() {
    let (server, elsewhere) = many_jobs();
    server.fault(Fault::status(
        "GET",
        "/projects/42/jobs",
        405,
        r#"{"error":"Keyset pagination is not yet available for this type of request"}"#,
    ));
    let run = gljob(&server, &["jobs", "--project-wide", "--field", "id"], &[]);
    run.expect(0);
    assert_eq!(run.out().lines().count(), 251);
    let requests = server.requests();
    let keyset: Vec<&Recorded> = requests
        .iter()
        .filter(|r| r.query_values("pagination") == ["keyset"])
        .collect();
    assert_eq!(keyset.len(), 1, "{}", log(&server));
    let pages: Vec<Vec<&str>> = requests
        .iter()
        .filter(|r| r.query_values("pagination").is_empty())
        .map(|r| r.query_values("page"))
        .collect();
    assert_eq!(pages, [["1"], ["2"], ["3"]], "{}", log(&server));
    assert!(elsewhere.requests().is_empty());
}

// ---- the test server itself (so that the tests above fail only for gljob's reasons) ----------

/// One request to the test server over a raw socket (HTTP/1.0: never chunked): status, headers,
/// body as JSON (`Null` when it is not JSON).
fn http(
    server: &GitLab,
    method: &str,
    path: &str,
    token: Option<(&str, &str)>,
    body: Option<Value>,
) -> (u16, Vec<(String, String)>, Value) {
    use std::io::{Read, Write};
    let mut stream =
        std::net::TcpStream::connect(("127.0.0.1", server.port)).expect("connect to the server");
    let body = body.map(|b| b.to_string()).unwrap_or_default();
    let mut request = format!(
        "{method} /api/v4{path} HTTP/1.0\r\nHost: 127.0.0.1:{}\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: {}\r\n",
        server.port,
        body.len()
    );
    if let Some((name, value)) = token {
        request.push_str(&format!("{name}: {value}\r\n"));
    }
    request.push_str("\r\n");
    request.push_str(&body);
    stream.write_all(request.as_bytes()).expect("send");
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer).expect("read the answer");
    let text = String::from_utf8_lossy(&answer).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").expect("an HTTP answer");
    let mut lines = head.lines();
    let status: u16 = lines
        .next()
        .and_then(|l| l.split(' ').nth(1))
        .and_then(|s| s.parse().ok())
        .expect("a status line");
    let headers = lines
        .filter_map(|l| l.split_once(": "))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    (
        status,
        headers,
        serde_json::from_str(body).unwrap_or(Value::Null),
    )
}

fn header_of<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

const JOB: Option<(&str, &str)> = Some(("JOB-TOKEN", JOB_TOKEN));
const API: Option<(&str, &str)> = Some(("PRIVATE-TOKEN", API_TOKEN));

#[test]
fn server_trigger_jobs_downstream_pipelines_and_the_allowlist() {
    // No /trigger_jobs before 19.2: the catch-all, whatever the token.
    let server = one_child(V19_1, 1);
    let (status, _, body) = http(
        &server,
        "GET",
        "/projects/42/pipelines/1000/trigger_jobs",
        None,
        None,
    );
    assert_eq!((status, body), (404, json!({"error": "404 Not Found"})));
    let (status, _, body) = http(
        &server,
        "GET",
        "/projects/42/pipelines/1000/bridges",
        JOB,
        None,
    );
    assert_eq!(status, 200, "{body}");
    let server = one_child(V18_3, 1);
    let (status, _, body) = http(
        &server,
        "GET",
        "/projects/42/pipelines/1000/bridges",
        JOB,
        None,
    );
    assert_eq!(
        (status, body),
        (404, json!({"message": "404 Project Not Found"}))
    );

    // A downstream pipeline created on the third read of the trigger jobs.
    let server = GitLab::start(V19_2);
    server.add([Job::new(10, "docs", "deploy", "pending")
        .bridge(None)
        .creates_downstream_on_tick(3, 2000)]);
    server.add_pipeline(
        Pipeline::child(2000).late(),
        [Job::new(21, "spellcheck", "test", "pending").then(&["running", "success"])],
    );
    for _ in 0..2 {
        let (status, headers, body) = http(
            &server,
            "GET",
            "/projects/42/pipelines/1000/trigger_jobs",
            JOB,
            None,
        );
        assert_eq!(status, 200);
        assert_eq!(body[0]["downstream_pipeline"], Value::Null);
        assert_eq!(header_of(&headers, "X-Total"), Some("1"));
        let (status, _, body) = http(
            &server,
            "GET",
            "/projects/42/pipelines/2000/jobs",
            JOB,
            None,
        );
        assert_eq!((status, body), (404, json!({"message": "404 Not found"})));
        let (status, _, _) = http(&server, "GET", "/projects/42/pipelines/2000", JOB, None);
        assert_eq!(status, 404);
    }
    let (_, _, body) = http(
        &server,
        "GET",
        "/projects/42/pipelines/1000/trigger_jobs",
        JOB,
        None,
    );
    let downstream = &body[0]["downstream_pipeline"];
    assert_eq!(downstream["id"], 2000);
    assert_eq!(downstream["project_id"], 42);
    assert_eq!(downstream["source"], "parent_pipeline");
    assert_eq!(downstream["status"], "pending");
    let (status, _, pipeline) = http(&server, "GET", "/projects/42/pipelines/2000", JOB, None);
    assert_eq!((status, pipeline["id"].clone()), (200, json!(2000)));
    // Reading the child's list advances the child's jobs only.
    let (_, _, body) = http(
        &server,
        "GET",
        "/projects/42/pipelines/2000/jobs",
        JOB,
        None,
    );
    assert_eq!(body[0]["status"], "running");
    assert_eq!(body[0]["pipeline"]["status"], "running");
    let (_, _, body) = http(
        &server,
        "GET",
        "/projects/42/pipelines/1000/trigger_jobs",
        JOB,
        None,
    );
    assert_eq!(body[0]["downstream_pipeline"]["status"], "running");
    http(
        &server,
        "GET",
        "/projects/42/pipelines/2000/jobs",
        JOB,
        None,
    );
    assert_eq!(server.pipeline_status(2000), "success");

    // Another project: the job token needs its allowlist.
    let server = multi_project(Project::other());
    let (status, _, body) = http(
        &server,
        "GET",
        "/projects/43/pipelines/3000/jobs",
        JOB,
        None,
    );
    assert_eq!(
        (status, body),
        (
            403,
            json!({"message": "403 Forbidden - Authentication by CI/CD job token not allowed from group/sub/app to group/deploy/envs."})
        )
    );
    let (status, _, body) = http(
        &server,
        "GET",
        "/projects/43/pipelines/3000/jobs",
        API,
        None,
    );
    assert_eq!((status, body[0]["id"].clone()), (200, json!(41)));
    assert!(
        body[0]["web_url"]
            .as_str()
            .unwrap()
            .contains(OTHER_PROJECT_PATH)
    );
    let (status, _, _) = http(
        &server,
        "GET",
        "/projects/42/pipelines/3000/jobs",
        API,
        None,
    );
    assert_eq!(status, 404, "pipeline 3000 is project 43's");
    let (status, _, _) = http(&server, "GET", "/projects/42/jobs/41", API, None);
    assert_eq!(status, 404, "job 41 is project 43's");
    let server = multi_project(Project::other().allowing_42());
    let (status, _, _) = http(
        &server,
        "GET",
        "/projects/43/pipelines/3000/jobs",
        JOB,
        None,
    );
    assert_eq!(status, 200);
    let server = multi_project(Project::other().unlimited());
    let (status, _, _) = http(
        &server,
        "GET",
        "/projects/43/pipelines/3000/jobs",
        JOB,
        None,
    );
    assert_eq!(status, 200);

    // Statuses folded as GitLab's Composite does.
    let server = GitLab::start(V19_2);
    server.add_pipeline(
        Pipeline::child(2001),
        [
            Job::new(1, "a", "t", "success"),
            Job::new(2, "b", "t", "failed").allow_failure(),
        ],
    );
    server.add_pipeline(
        Pipeline::child(2002),
        [
            Job::new(3, "a", "t", "success"),
            Job::new(4, "b", "t", "manual"),
        ],
    );
    server.add_pipeline(
        Pipeline::child(2003),
        [
            Job::new(5, "a", "t", "failed"),
            Job::new(6, "b", "t", "running"),
        ],
    );
    server.add_pipeline(
        Pipeline::child(2004),
        [
            Job::new(7, "a", "t", "failed"),
            Job::new(8, "b", "t", "success"),
        ],
    );
    server.add_pipeline(
        Pipeline::child(2005),
        [
            Job::new(9, "a", "t", "success"),
            Job::new(11, "b", "t", "manual").allow_failure(),
        ],
    );
    let statuses: Vec<String> = (2001..=2005).map(|p| server.pipeline_status(p)).collect();
    assert_eq!(
        statuses,
        ["success", "manual", "running", "failed", "success"]
    );
}

#[test]
fn server_version_inputs_and_archived_jobs() {
    let server = with_inputs(V19_2);
    let (status, _, body) = http(&server, "GET", "/version", JOB, None);
    assert_eq!(
        (status, body),
        (401, json!({"message": "401 Unauthorized"}))
    );
    let (status, _, body) = http(&server, "GET", "/version", API, None);
    assert_eq!((status, body["version"].clone()), (200, json!("19.2.0-ee")));

    let play = |server: &GitLab, body: Value| {
        let (status, _, answer) = http(server, "POST", "/projects/42/jobs/5/play", API, Some(body));
        (status, answer)
    };
    assert_eq!(
        play(&server, json!({"job_inputs": {"colour": "red", "size": 1}})),
        (
            400,
            json!({"message": "400 Bad request - Unknown inputs: colour, size"})
        )
    );
    assert_eq!(
        play(
            &server,
            json!({"job_inputs": {"replicas": "three", "dry_run": "yes", "regions": "eu"}})
        ),
        (
            400,
            json!({"message": "400 Bad request - `replicas` input: provided value is not a number, `dry_run` input: provided value is not a boolean, `regions` input: provided value is not an array"})
        )
    );
    assert_eq!(
        play(&server, json!({"job_inputs": "ENV=prod"})),
        (400, json!({"error": "job_inputs is invalid"}))
    );
    assert_eq!(server.job(5).status, "manual");
    // Strings that decode to the type pass, as native JSON values do.
    let (status, _) = play(
        &server,
        json!({"job_inputs": {"ENV": "prod", "replicas": "3", "dry_run": true, "regions": ["eu"]}}),
    );
    assert_eq!(status, 200);
    assert_eq!(
        server.job(5).ext.played_inputs,
        Some(json!({"ENV": "prod", "replicas": "3", "dry_run": true, "regions": ["eu"]}))
    );

    // Retry takes `inputs`; `job_inputs` there is not a parameter of the route.
    let (status, _, answer) = http(
        &server,
        "POST",
        "/projects/42/jobs/6/retry",
        API,
        Some(json!({"inputs": {"shards": "x"}})),
    );
    assert_eq!(
        (status, answer),
        (
            400,
            json!({"message": "400 Bad request - `shards` input: provided value is not a number"})
        )
    );
    let (status, _, answer) = http(
        &server,
        "POST",
        "/projects/42/jobs/6/retry",
        API,
        Some(json!({"inputs": {"shards": 2}})),
    );
    assert_eq!(status, 201);
    let new = answer["id"].as_u64().unwrap();
    assert_eq!(
        server.job(new).ext.retried_inputs,
        Some(json!({"shards": 2}))
    );

    // 18.9: no such parameter, dropped without a word.
    let server = with_inputs(V18_9);
    let (status, _, _) = http(
        &server,
        "POST",
        "/projects/42/jobs/5/play",
        API,
        Some(json!({"job_inputs": {"colour": "red"}})),
    );
    assert_eq!(status, 200);
    assert_eq!(server.job(5).ext.played_inputs, None);

    // Archived: 403 on play and retry; cancel is still allowed.
    let server = GitLab::start(V19_2);
    server.add([
        Job::new(5, "deploy", "deploy", "manual").archived(),
        Job::new(6, "e2e", "test", "failed").archived(),
    ]);
    let (status, _, body) = http(&server, "POST", "/projects/42/jobs/5/play", API, None);
    assert_eq!((status, body), (403, json!({"message": "403 Forbidden"})));
    let (status, _, body) = http(&server, "POST", "/projects/42/jobs/6/retry", API, None);
    assert_eq!((status, body), (403, json!({"message": "403 Forbidden"})));
    let (_, _, body) = http(&server, "GET", "/projects/42/jobs/5", API, None);
    assert_eq!(body["archived"], true);
    let (status, _, _) = http(
        &server,
        "POST",
        "/projects/42/jobs/6/retry",
        Some(("PRIVATE-TOKEN", READ_TOKEN)),
        None,
    );
    assert_eq!(status, 403, "read_api cannot write");
    assert!(server.applied().is_empty());
}

#[test]
fn server_keyset_pages() {
    let (server, elsewhere) = many_jobs();
    let first =
        "/projects/42/jobs?pagination=keyset&per_page=100&order_by=id&sort=desc&scope[]=success";
    let (status, headers, body) = http(&server, "GET", first, JOB, None);
    assert_eq!(status, 200);
    assert_eq!(body.as_array().unwrap().len(), 100);
    assert_eq!(body[0]["id"], 1250);
    assert!(
        headers.iter().all(|(k, _)| !k.starts_with("X-")),
        "{headers:?}"
    );
    let link = header_of(&headers, "Link").expect("a next link");
    let cursor = encode_cursor(1151);
    assert_eq!(
        link,
        format!(
            "<{}/projects/42/jobs?cursor={}&order_by=id&pagination=keyset&per_page=100&scope%5B%5D=success&sort=desc>; rel=\"next\"",
            elsewhere.url,
            cursor.replace('=', "%3D")
        )
    );
    let second = format!("{first}&cursor={}", cursor.replace('=', "%3D"));
    let (_, headers, body) = http(&server, "GET", &second, JOB, None);
    assert_eq!(body[0]["id"], 1150);
    assert!(header_of(&headers, "Link").is_some());
    let third = format!("{first}&cursor={}", encode_cursor(1051));
    let (_, headers, body) = http(&server, "GET", &third, JOB, None);
    assert_eq!(
        body.as_array().unwrap().len(),
        50,
        "gljob's own job is running"
    );
    assert_eq!(header_of(&headers, "Link"), None, "the last page");

    let (status, _, body) = http(
        &server,
        "GET",
        "/projects/42/jobs?pagination=keyset&order_by=created_at",
        JOB,
        None,
    );
    assert_eq!(
        (status, body),
        (
            405,
            json!({"error": "Keyset pagination is not yet available for this type of request"})
        )
    );
    let (status, _, _) = http(
        &server,
        "GET",
        "/projects/42/jobs?pagination=keyset&sort=asc",
        JOB,
        None,
    );
    assert_eq!(status, 405);
    assert!(elsewhere.requests().is_empty());
}

/// A trigger job run again mid-wait creates a new pipeline: the jobs selected below it are then
/// judged there, not in the pipeline the first attempt created (whose `lint` passes here).
#[test]
fn a_trigger_job_run_again_mid_wait_is_followed_into_its_new_pipeline() {
    let server = GitLab::start(V19_2);
    server.add([Job::new(10, "docs", "deploy", "running")
        .bridge(Some(2000))
        .steps(vec![
            vec![],
            vec![Step::Retry(vec![
                vec![Step::Status("running")],
                vec![Step::CreateDownstream(3000)],
            ])],
        ])]);
    server.add_pipeline(
        Pipeline::child(2000),
        [Job::new(21, "lint", "test", "running").then(&[
            "running", "running", "running", "running", "running", "running", "success",
        ])],
    );
    server.add_pipeline(
        Pipeline::child(3000).late(),
        [Job::new(31, "lint", "test", "running").then(&["running", "failed"])],
    );
    let run = with_job_token(&server, &["wait", "docs::lint"]);
    run.expect(1);
    run.says("was run again and created pipeline 3000")
        .says("NOT PASSED: lint (#31) failed");
    run.never_says("passed: lint (#21)");
}

/// The same when the trigger job had not created its pipeline yet when the wait began: the jobs
/// found once it does remember the way down, so a later run of the trigger job is followed too.
#[test]
fn a_trigger_job_awaited_then_run_again_is_followed_into_its_new_pipeline() {
    let server = GitLab::start(V19_2);
    server.add([Job::new(10, "docs", "deploy", "running")
        .bridge(None)
        .steps(vec![
            vec![],
            vec![Step::CreateDownstream(2000)],
            vec![],
            vec![Step::Retry(vec![
                vec![Step::Status("running")],
                vec![Step::CreateDownstream(3000)],
            ])],
        ])]);
    server.add_pipeline(
        Pipeline::child(2000).late(),
        [Job::new(21, "lint", "test", "running").then(&[
            "running", "running", "running", "running", "running", "running", "running", "running",
            "success",
        ])],
    );
    server.add_pipeline(
        Pipeline::child(3000).late(),
        [Job::new(31, "lint", "test", "running").then(&["running", "failed"])],
    );
    let run = with_job_token(&server, &["wait", "docs::lint"]);
    run.expect(1);
    run.says("created pipeline 2000")
        .says("was run again and created pipeline 3000")
        .says("NOT PASSED: lint (#31) failed");
    run.never_says("passed: lint (#21)");
}

/// Found by a hostile review: while the wait goes on for another job (`slow`), a trigger job run
/// again after its first pipeline's `lint` passed moves the verdict to the new pipeline's `lint`.
/// Before, a pipeline whose jobs had all ended was not read again: exit 0 on a failed job.
#[test]
fn a_trigger_job_run_again_after_its_job_ended_is_followed_while_the_wait_goes_on() {
    let server = GitLab::start(V19_2);
    server.add([
        Job::new(10, "docs", "deploy", "running")
            .bridge(Some(2000))
            .steps(vec![
                vec![],
                vec![],
                vec![],
                vec![Step::Retry(vec![
                    vec![Step::Status("running")],
                    vec![Step::CreateDownstream(3000)],
                ])],
            ]),
        Job::new(11, "slow", "deploy", "running").then(&[
            "running", "running", "running", "running", "running", "running", "running", "running",
            "running", "running", "success",
        ]),
    ]);
    server.add_pipeline(
        Pipeline::child(2000),
        [Job::new(21, "lint", "test", "success")],
    );
    server.add_pipeline(
        Pipeline::child(3000).late(),
        [Job::new(31, "lint", "test", "running").then(&["running", "failed"])],
    );
    let run = with_job_token(&server, &["wait", "docs::lint", "slow"]);
    run.expect(1);
    run.says("was run again and created pipeline 3000")
        .says("NOT PASSED: lint (#31) failed");
    run.never_says("passed: lint (#21)");
}

/// The same for a trigger job that failed before creating its pipeline and is then run again:
/// while the wait goes on for `slow`, the new attempt's pipeline is the verdict (here it passes).
#[test]
fn a_trigger_job_that_failed_without_a_pipeline_then_ran_again_is_followed_while_the_wait_goes_on()
{
    let server = GitLab::start(V19_2);
    server.add([
        Job::new(10, "docs", "deploy", "running")
            .bridge(None)
            .steps(vec![
                vec![Step::Status("failed")],
                vec![],
                vec![Step::Retry(vec![
                    vec![Step::Status("running")],
                    vec![Step::CreateDownstream(3000)],
                ])],
            ]),
        Job::new(11, "slow", "deploy", "running").then(&[
            "running", "running", "running", "running", "running", "running", "running", "running",
            "running", "running", "success",
        ]),
    ]);
    server.add_pipeline(
        Pipeline::child(3000).late(),
        [Job::new(31, "lint", "test", "running").then(&["running", "success"])],
    );
    let run = with_job_token(&server, &["wait", "docs::lint", "slow"]);
    run.expect(0);
    run.says("passed: lint (#31) success");
}

/// Found by the same review: `a::b::job` when the trigger job `a`, two levels up, is run again.
/// Its new pipeline has a new `b` with a pipeline of its own; that `job` is the verdict. Before,
/// only the nearest trigger job (`b`) was watched: exit 0 on the first `job`.
#[test]
fn a_trigger_job_two_levels_up_run_again_is_followed_down_its_new_pipelines() {
    let server = GitLab::start(V19_2);
    server.add([
        Job::new(10, "a", "deploy", "running")
            .bridge(Some(2000))
            .steps(vec![
                vec![],
                vec![],
                vec![],
                vec![Step::Retry(vec![
                    vec![Step::Status("running")],
                    vec![Step::CreateDownstream(4000)],
                ])],
            ]),
        Job::new(11, "slow", "deploy", "running").then(&[
            "running", "running", "running", "running", "running", "running", "running", "running",
            "running", "running", "running", "running", "success",
        ]),
    ]);
    server.add_pipeline(
        Pipeline::child(2000),
        [Job::new(20, "b", "test", "running").bridge(Some(3000))],
    );
    server.add_pipeline(
        Pipeline::child(3000),
        [Job::new(30, "job", "test", "success")],
    );
    server.add_pipeline(
        Pipeline::child(4000).late(),
        [Job::new(40, "b", "test", "running").bridge(Some(5000))],
    );
    server.add_pipeline(
        Pipeline::child(5000),
        [Job::new(50, "job", "test", "running").then(&["running", "failed"])],
    );
    let run = with_job_token(&server, &["wait", "a::b::job", "slow"]);
    run.expect(1);
    run.says("was run again and created pipeline 4000")
        .says("NOT PASSED: job (#50) failed");
    run.never_says("passed: job (#30)");
}

/// The same when `b` had not created its pipeline yet when it was selected: what awaits it
/// remembers `a` too, and so does the job found once `b`'s pipeline exists.
#[test]
fn a_trigger_job_above_an_awaited_one_run_again_is_followed_down_its_new_pipelines() {
    let server = GitLab::start(V19_2);
    server.add([
        Job::new(10, "a", "deploy", "running")
            .bridge(Some(2000))
            .steps(vec![
                vec![],
                vec![],
                vec![],
                vec![],
                vec![],
                vec![],
                vec![Step::Retry(vec![
                    vec![Step::Status("running")],
                    vec![Step::CreateDownstream(4000)],
                ])],
            ]),
        Job::new(11, "slow", "deploy", "running").then(&[
            "running", "running", "running", "running", "running", "running", "running", "running",
            "running", "running", "running", "running", "success",
        ]),
    ]);
    server.add_pipeline(
        Pipeline::child(2000),
        [Job::new(20, "b", "test", "running")
            .bridge(None)
            .steps(vec![vec![], vec![Step::CreateDownstream(3000)]])],
    );
    server.add_pipeline(
        Pipeline::child(3000).late(),
        [Job::new(30, "job", "test", "success")],
    );
    server.add_pipeline(
        Pipeline::child(4000).late(),
        [Job::new(40, "b", "test", "running").bridge(Some(5000))],
    );
    server.add_pipeline(
        Pipeline::child(5000),
        [Job::new(50, "job", "test", "running").then(&["running", "failed"])],
    );
    let run = with_job_token(&server, &["wait", "a::b::job", "slow"]);
    run.expect(1);
    run.says("created pipeline 3000")
        .says("was run again and created pipeline 4000")
        .says("NOT PASSED: job (#50) failed");
    run.never_says("passed: job (#30)");
}

/// `check` confirms a pass with a second read, and that read takes in the trigger jobs on the way
/// down: `docs` run again after the selection read its pipeline is no pass of the old one's
/// `lint` (exit 0 before: a ninth hostile review), but exit 3.
#[test]
fn a_check_below_a_trigger_job_run_again_after_the_selection_is_no_pass() {
    let server = GitLab::start(V19_2);
    // Run again as the selection reads the trigger jobs; its new attempt (the test server's
    // copy still names pipeline 2000) creates pipeline 3000 by the next read, the confirming one.
    server.add([Job::new(10, "docs", "deploy", "success")
        .bridge(Some(2000))
        .steps(vec![vec![Step::Retry(vec![vec![Step::CreateDownstream(
            3000,
        )]])]])]);
    server.add_pipeline(
        Pipeline::child(2000),
        [Job::new(21, "lint", "test", "success")],
    );
    server.add_pipeline(
        Pipeline::child(3000).late(),
        [Job::new(31, "lint", "test", "failed")],
    );
    let run = with_job_token(&server, &["check", "docs::lint"]);
    assert_eq!(run.code, 3, "{}\n{}", run.stderr, log(&server));
    run.says("changed while the pipeline was read");
    run.never_says("passed");
}
