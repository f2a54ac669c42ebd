//! The oracle (issue #8): random pipelines, timelines, faults and commands, each run against the
//! GitLab test server, and judged by the server's OWN record (its jobs' final states, the writes
//! that took effect), never by what gljob printed.
//!
//! `tree_oracle` (at the end) does the same for the pipeline tree: a trigger job that creates its
//! pipeline late and is run again, judged by the pipeline of its latest attempt.
//!
//! Long run (one command):
//!
//! ```sh
//! GLJOB_ORACLE_CASES=5000 cargo test --test tests oracle:: -- --nocapture
//! ```
//!
//! Knobs (environment): `GLJOB_ORACLE_CASES` (default 150), `GLJOB_ORACLE_SEED` (a u64; the
//! default is fixed, so `cargo test` is repeatable), `GLJOB_ORACLE_THREADS` (default 4 runners,
//! runner `i` on seed `SEED + i`), `GLJOB_ORACLE_VERBOSE=1` (one line per case), and
//! `GLJOB_ORACLE_EXCLUDE=evil,echo,trace,foreign,writes` to leave out control characters in job
//! names, token-echoing bodies, `trace --follow`, parent-pipeline jobs, and play/retry/cancel (to
//! look past those bug classes for others). A failure prints its runner's seed, the shrunk case
//! (proptest shrinks it) and the command that reruns exactly that runner.
//!
//! Faults include a token revoked (401 on every read) once every selected job has ended, when a
//! verdict is near: the read that confirms it meets it.
//!
//! Invariants, for every case:
//! - the exit code is the verdict the server's history implies: 0 iff every selected job's latest
//!   attempt passes (success; failed/canceled with allow_failure unless --strict; skipped only with
//!   --allow-skipped; manual/scheduled and every active status are not final); with no fault and
//!   every selected job final, exactly that verdict; a run cut short (fault, deadline) may be
//!   3, 4 or 124, and 1 only when a selected job really did not pass; never 0 when a selected job's
//!   latest attempt did not pass; never 2 (the arguments are valid) nor 5 (stdout is read);
//! - at most one write (play, retry, cancel) applied per selected job per command, none for reads;
//!   exactly one with no fault;
//! - every gate (`wait`, `check`, `play --wait`, `retry --wait`) writes its `--junit` report, well
//!   formed, green (no failure, no error) exactly when it exits 0;
//! - wall time within `--timeout` + 2 s;
//! - no token nor proxy password in any output, with or without `--verbose` (the harness checks
//!   every run) and no raw control character in stderr, nor in stdout except `trace`'s.

use crate::support;

use proptest::prelude::*;
use proptest::test_runner::{Config, RngAlgorithm, TestError, TestRng, TestRunner};
use std::time::Duration;
use support::gitlab::{API_TOKEN, Fault, GitLab, Job, Pipeline, Rule, Step};
use support::net::Proxy;
use support::{PROXY_PASSWORDS, Stdout, control_char, run_within, runner_env};

const DEFAULT_SEED: u64 = 0x6c6a_6f62_2023_0008;
const DEFAULT_CASES: u32 = 150;

const FINALS: [&str; 4] = ["success", "failed", "canceled", "skipped"];
/// GitLab's statuses that are neither final nor waiting for a person (`manual`, `scheduled`).
static ACTIVE: std::sync::LazyLock<Vec<&'static str>> = std::sync::LazyLock::new(|| {
    support::gitlab::STATUSES
        .into_iter()
        .filter(|s| !FINALS.contains(s) && !matches!(*s, "manual" | "scheduled"))
        .collect()
});

#[derive(Debug, Clone)]
enum Tick {
    Status(&'static str),
    /// Someone retries the job; its new attempt walks these statuses.
    Retry(Vec<&'static str>),
    /// Someone retries the job and its new attempt ends with this status before the next read:
    /// a round that asks only for unfinished jobs never sees it.
    RetryEnded(&'static str),
}

#[derive(Debug, Clone)]
struct JobSpec {
    start: &'static str,
    allow_failure: bool,
    bridge: bool,
    /// Named like `parallel:` names it (`sel 2/3`).
    parallel: bool,
    /// A name with ESC and CR in it.
    evil: bool,
    ticks: Vec<Tick>,
    /// What the new attempt (or the played job) does after gljob's play or retry.
    after: Vec<&'static str>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Cmd {
    Wait,
    Check,
    PlayWait,
    RetryWait,
    Cancel,
    TraceFollow,
}

#[derive(Debug, Clone)]
enum FaultKind {
    Status(u16),
    RateLimited,
    Garbage,
    Truncated,
    Silence,
    ApplyThen502,
    ApplyLater(usize),
    EmptyObject,
    Shift(&'static str),
    IgnorePage,
    EchoToken,
    /// The token stops working once every selected job has ended: 401 on every read from then
    /// on (the read that confirms a verdict included). (GitLab down then, 502 past every retry,
    /// costs ten failing rounds: `tests/regression/truth.rs` has it.)
    Revoked,
}

#[derive(Debug, Clone)]
struct FaultSpec {
    kind: FaultKind,
    post: bool,
    skip: usize,
    times: usize,
}

#[derive(Debug, Clone)]
struct Case {
    cmd: Cmd,
    /// Jobs nobody selects, all passed: they make the list several pages long.
    background: usize,
    selected: Vec<JobSpec>,
    by_pattern: bool,
    strict: bool,
    allow_skipped: bool,
    faults: Vec<FaultSpec>,
    /// `play ID --wait` / `retry ID --wait` of a job of the parent pipeline (900), with a job of
    /// the same name in this pipeline that passed.
    foreign: bool,
    /// Through a CONNECT proxy with credentials (`HTTP_PROXY`), whose password must never show.
    proxied: bool,
    verbose: bool,
    /// GitLab 19.0 (a replay answers with the new job) rather than 18.3 (with the old one).
    gitlab_19: bool,
}

const PARENT: u64 = 900;

fn status_of(list: &'static [&'static str]) -> impl Strategy<Value = &'static str> {
    proptest::sample::select(list)
}

fn walk(end_final: bool) -> impl Strategy<Value = Vec<&'static str>> {
    (
        proptest::collection::vec(status_of(&ACTIVE[..]), 0..3),
        status_of(&FINALS),
    )
        .prop_map(move |(mut v, end)| {
            if end_final {
                v.push(end);
            }
            v
        })
}

fn tick() -> impl Strategy<Value = Tick> {
    prop_oneof![
        6 => status_of(&ACTIVE[..]).prop_map(Tick::Status),
        4 => status_of(&FINALS).prop_map(Tick::Status),
        1 => status_of(&["manual", "scheduled"]).prop_map(Tick::Status),
        1 => walk(true).prop_map(Tick::Retry),
        1 => status_of(&FINALS).prop_map(Tick::RetryEnded),
    ]
}

fn job_spec() -> impl Strategy<Value = JobSpec> {
    let start = prop_oneof![
        3 => status_of(&ACTIVE[..]),
        3 => status_of(&FINALS),
        1 => status_of(&["manual", "scheduled"]),
    ];
    (
        start,
        proptest::bool::weighted(0.3),
        proptest::bool::weighted(0.1),
        proptest::bool::weighted(0.2),
        proptest::bool::weighted(0.05),
        proptest::collection::vec(tick(), 0..5),
        walk(true),
        proptest::bool::weighted(0.9),
    )
        .prop_map(
            |(start, allow_failure, bridge, parallel, evil, mut ticks, after, ends)| {
                // Most jobs end; those that do not make the case one of a deadline.
                if ends {
                    ticks.push(Tick::Status(FINALS[ticks.len() % FINALS.len()]));
                }
                // As GitLab does: an attempt that ended stays ended (only a retry, a new attempt,
                // runs again), and nothing happens to an attempt once it was retried.
                let mut ended = FINALS.contains(&start);
                let mut real = Vec::new();
                for tick in ticks {
                    match tick {
                        Tick::Status(_) if ended => {}
                        Tick::Status(s) => {
                            ended = FINALS.contains(&s);
                            real.push(Tick::Status(s));
                        }
                        retry @ (Tick::Retry(_) | Tick::RetryEnded(_)) => {
                            real.push(retry);
                            break;
                        }
                    }
                }
                let ticks = real;
                JobSpec {
                    start,
                    allow_failure,
                    bridge,
                    parallel,
                    evil,
                    ticks,
                    after,
                }
            },
        )
}

fn fault_spec() -> impl Strategy<Value = FaultSpec> {
    // Network-level faults cost gljob a backoff (about a second): rarer, to keep cases fast.
    let kind = prop_oneof![
        3 => Just(FaultKind::Status(502)),
        2 => (500u16..505).prop_map(FaultKind::Status),
        1 => Just(FaultKind::Status(404)),
        3 => Just(FaultKind::RateLimited),
        1 => Just(FaultKind::Garbage),
        3 => Just(FaultKind::Truncated),
        1 => Just(FaultKind::Silence),
        3 => Just(FaultKind::ApplyThen502),
        2 => (0usize..4).prop_map(FaultKind::ApplyLater),
        3 => Just(FaultKind::EmptyObject),
        4 => status_of(&["failed", "success"]).prop_map(FaultKind::Shift),
        2 => Just(FaultKind::IgnorePage),
        1 => Just(FaultKind::EchoToken),
        3 => Just(FaultKind::Revoked),
    ];
    (kind, any::<bool>(), 0usize..6, 1usize..3).prop_map(|(kind, post, skip, times)| FaultSpec {
        kind,
        post,
        skip,
        times,
    })
}

fn case() -> impl Strategy<Value = Case> {
    let cmd = prop_oneof![
        4 => Just(Cmd::Wait),
        2 => Just(Cmd::Check),
        2 => Just(Cmd::PlayWait),
        2 => Just(Cmd::RetryWait),
        1 => Just(Cmd::Cancel),
        1 => Just(Cmd::TraceFollow),
    ];
    let background = prop_oneof![4 => 0usize..10, 1 => 95usize..246];
    (
        cmd,
        background,
        proptest::collection::vec(job_spec(), 1..4),
        any::<bool>(),
        proptest::bool::weighted(0.2),
        proptest::bool::weighted(0.2),
        proptest::collection::vec(fault_spec(), 0..3),
        proptest::bool::weighted(0.3),
        (
            proptest::bool::weighted(0.2),
            proptest::bool::weighted(0.3),
            any::<bool>(),
        ),
    )
        .prop_map(
            |(
                cmd,
                background,
                mut selected,
                by_pattern,
                strict,
                allow_skipped,
                faults,
                foreign,
                (proxied, verbose, gitlab_19),
            )| {
                let cmd = match cmd {
                    Cmd::TraceFollow if excluded("trace") => Cmd::Wait,
                    Cmd::PlayWait | Cmd::RetryWait | Cmd::Cancel if excluded("writes") => {
                        Cmd::Check
                    }
                    cmd => cmd,
                };
                // The command's own job (the first) has what the command needs.
                let first = &mut selected[0];
                match cmd {
                    Cmd::PlayWait => {
                        // Manual, or a finished manual job (a play retries it).
                        if !matches!(first.start, "success" | "failed" | "canceled") {
                            first.start = "manual";
                        }
                        first.bridge = false;
                        first.ticks.clear();
                    }
                    Cmd::RetryWait => {
                        if !matches!(first.start, "success" | "failed" | "canceled") {
                            first.start = "failed";
                        }
                        first.bridge = false;
                        first.ticks.clear();
                    }
                    Cmd::Cancel => {
                        first.start = "running";
                        first.bridge = false;
                        first.ticks.clear();
                    }
                    Cmd::TraceFollow => {
                        first.start = "running";
                        first.bridge = false;
                    }
                    Cmd::Wait | Cmd::Check => {}
                }
                if matches!(
                    cmd,
                    Cmd::PlayWait | Cmd::RetryWait | Cmd::Cancel | Cmd::TraceFollow
                ) {
                    selected.truncate(1);
                }
                // A retry between page reads is about snapshots, not about a write's target.
                let mut faults = faults;
                if !matches!(cmd, Cmd::Wait | Cmd::Check) {
                    faults.retain(|f| !matches!(f.kind, FaultKind::Shift(_)));
                }
                Case {
                    cmd,
                    background,
                    selected,
                    by_pattern,
                    strict,
                    allow_skipped,
                    faults,
                    foreign: foreign
                        && !excluded("foreign")
                        && matches!(cmd, Cmd::PlayWait | Cmd::RetryWait),
                    proxied,
                    verbose,
                    gitlab_19,
                }
            },
        )
}

fn name_of(spec: &JobSpec, i: usize, count: usize) -> String {
    let mut name = if spec.parallel {
        format!("sel {}/{}", i + 1, count)
    } else {
        format!("sel-{i}")
    };
    if spec.evil && !excluded("evil") {
        name.push_str("\u{1b}[32m\r ok");
    }
    name
}

fn log_line(status: &str) -> Step {
    Step::Log(format!("\u{1b}[32mnow {status}\u{1b}[0m\n").into_bytes())
}

fn server_for(case: &Case) -> (GitLab, Vec<String>) {
    let server = GitLab::start(if case.gitlab_19 { (19, 0) } else { (18, 3) });
    let count = case.selected.len();
    // In half the cases, running jobs' durations grow with every read, as GitLab's do: every
    // read of a page holding one differs from the last, in that job's bytes alone (gljob then
    // scans that job again and steps over the others it read before).
    let live = case.background % 2 == 1;
    let mut names = Vec::new();
    for (i, spec) in case.selected.iter().enumerate() {
        let name = name_of(spec, i, count);
        // Low ids: on the list's last page, below the background jobs.
        let mut job = Job::new(i as u64 + 1, &name, "test", spec.start);
        job.allow_failure = spec.allow_failure;
        job.manual = spec.start == "manual" || case.cmd == Cmd::PlayWait;
        if spec.bridge {
            job = job.bridge(None);
        }
        job.log = b"started\n".to_vec();
        if live {
            job.running_ticks = Some(0);
        }
        job = job.steps(
            spec.ticks
                .iter()
                .map(|tick| match tick {
                    Tick::Status(s) => vec![Step::Status(s), log_line(s)],
                    Tick::Retry(walk) => vec![Step::Retry(
                        walk.iter()
                            .map(|s| vec![Step::Status(s), log_line(s)])
                            .collect(),
                    )],
                    Tick::RetryEnded(s) => vec![Step::RetryEnded(s)],
                })
                .collect(),
        );
        job.after_play = spec
            .after
            .iter()
            .map(|s| vec![Step::Status(s), log_line(s)])
            .collect();
        job.after_retry = job.after_play.clone();
        if i == 0 && case.foreign {
            job.pipeline_id = PARENT;
            server.add([Job::new(400, &name, "test", "success")]);
        }
        server.add([job]);
        names.push(name);
    }
    server.add((0..case.background).map(|i| {
        let background = Job::new(600 + i as u64, &format!("bg-{i}"), "build", "success");
        match live && i % 7 == 3 {
            true => Job {
                status: "running".into(),
                running_ticks: Some(0),
                ..background
            },
            false => background,
        }
    }));
    let pages = (case.background + count + 1).div_ceil(100);
    for fault in &case.faults {
        let method = match fault.kind {
            // Faults about a write's effect strike writes.
            FaultKind::ApplyThen502 | FaultKind::ApplyLater(_) | FaultKind::EmptyObject => "POST",
            _ if fault.post => "POST",
            _ => "GET",
        };
        let kind = match &fault.kind {
            FaultKind::Status(code) => Fault::Status {
                status: *code,
                content_type: "text/html",
                body: format!("<html>{code}</html>").into_bytes(),
                headers: vec![("Retry-After", "0".into())],
            },
            FaultKind::RateLimited => Fault::Status {
                status: 429,
                content_type: "text/plain",
                body: b"Retry later".to_vec(),
                headers: vec![("Retry-After", "0".into())],
            },
            FaultKind::Garbage => Fault::Garbage,
            FaultKind::Truncated => Fault::TruncatedJson,
            FaultKind::Silence => Fault::NoAnswer,
            FaultKind::ApplyThen502 => Fault::Status {
                status: 502,
                content_type: "text/html",
                body: b"<html>502</html>".to_vec(),
                headers: Vec::new(),
            }
            .after_applying(),
            FaultKind::ApplyLater(after) => Fault::ApplyLater { after: *after },
            FaultKind::EmptyObject => Fault::EmptyObject,
            // Only where the list has several pages (the selected jobs on the last), so that a
            // careful client can see it: an id on two pages.
            // Not for a bridge: its attempts are on the bridges list, which no page shift on the
            // jobs list reveals.
            FaultKind::Shift(status) if pages > 1 && !case.selected[0].bridge => {
                Fault::ShiftBetweenPages {
                    name: names[0].clone(),
                    status,
                }
            }
            FaultKind::Shift(_) => continue,
            FaultKind::IgnorePage => Fault::IgnorePage,
            FaultKind::EchoToken if excluded("echo") => continue,
            FaultKind::EchoToken => Fault::EchoToken { status: 401 },
            FaultKind::Revoked => Fault::Status {
                status: 401,
                content_type: "application/json",
                body: br#"{"message":"401 Unauthorized"}"#.to_vec(),
                headers: Vec::new(),
            },
        };
        let (method, path) = match kind {
            Fault::ShiftBetweenPages { .. } | Fault::IgnorePage => ("GET", "/pipelines/1000/jobs"),
            _ => (method, "/api/v4/"),
        };
        let rule = match fault.kind {
            // On every read from the moment every selected job has ended (when a verdict is
            // near), or two reads later (a selection reads the jobs and the trigger jobs of
            // jobs that had ended already).
            FaultKind::Revoked => Rule::new("GET", path, kind)
                .once_final(&names)
                .skip(if fault.skip % 2 == 0 { 0 } else { 2 })
                .forever(),
            _ => Rule::new(method, path, kind)
                .skip(fault.skip)
                .times(fault.times),
        };
        server.fault(rule);
    }
    (server, names)
}

/// Whether a job in `status` passes.
fn passes(status: &str, allow_failure: bool, case: &Case) -> bool {
    match status {
        "success" => true,
        "failed" | "canceled" => allow_failure && !case.strict,
        "skipped" => case.allow_skipped,
        _ => false,
    }
}

fn args_for(case: &Case, names: &[String], timeout: &str) -> Vec<String> {
    let mut args: Vec<String> = Vec::new();
    let selectors: Vec<String> = if case.by_pattern {
        vec!["sel*".into()]
    } else {
        names.to_vec()
    };
    let first = names[0].clone();
    match case.cmd {
        Cmd::Wait => {
            args.push("wait".into());
            args.extend(selectors);
        }
        Cmd::Check => {
            args.push("check".into());
            args.extend(selectors);
        }
        // A job of another pipeline is named by its id.
        Cmd::PlayWait | Cmd::RetryWait if case.foreign => {
            let verb = if case.cmd == Cmd::PlayWait {
                "play"
            } else {
                "retry"
            };
            args.extend([verb.into(), "1".into(), "--wait".into()]);
        }
        Cmd::PlayWait => args.extend(["play".into(), first, "--wait".into()]),
        Cmd::RetryWait => args.extend(["retry".into(), first, "--wait".into()]),
        Cmd::Cancel => args.extend(["cancel".into(), first]),
        Cmd::TraceFollow => args.extend(["trace".into(), first, "--follow".into()]),
    }
    if matches!(
        case.cmd,
        Cmd::Wait | Cmd::PlayWait | Cmd::RetryWait | Cmd::TraceFollow
    ) {
        args.extend([
            "--interval".into(),
            "5ms".into(),
            "--timeout".into(),
            timeout.into(),
        ]);
    }
    if case.cmd != Cmd::TraceFollow && case.cmd != Cmd::Cancel {
        if case.strict {
            args.push("--strict".into());
        }
        if case.allow_skipped {
            args.push("--allow-skipped".into());
        }
    }
    args.extend(["--request-timeout".into(), "300ms".into()]);
    if case.verbose {
        args.push("--verbose".into());
    }
    args
}

/// Whether `cmd` is a gate, which takes `--junit`.
fn gate(cmd: Cmd) -> bool {
    matches!(cmd, Cmd::Wait | Cmd::Check | Cmd::PlayWait | Cmd::RetryWait)
}

/// Whether the job described ends in a final status if nobody acts on it (a deadline case if
/// not).
fn ends(spec: &JobSpec, cmd: Cmd) -> bool {
    let mut status = spec.start;
    for tick in &spec.ticks {
        match tick {
            Tick::Status(s) => status = s,
            Tick::Retry(walk) => status = walk.last().copied().unwrap_or("pending"),
            Tick::RetryEnded(s) => status = s,
        }
    }
    if matches!(cmd, Cmd::PlayWait | Cmd::RetryWait) {
        status = spec.after.last().copied().unwrap_or("pending");
    }
    FINALS.contains(&status)
}

fn check_case(case: Case) -> Result<(), TestCaseError> {
    let (server, names) = server_for(&case);
    let deadline_case = case
        .selected
        .iter()
        .enumerate()
        .any(|(i, spec)| !ends(spec, if i == 0 { case.cmd } else { Cmd::Wait }));
    let (timeout, limit) = if deadline_case {
        ("300ms", Duration::from_millis(300))
    } else {
        ("5s", Duration::from_secs(5))
    };
    let mut args = args_for(&case, &names, timeout);
    // Every gate writes its verdict as a JUnit report too: it must judge as the exit code does.
    let report = gate(case.cmd).then(|| support::junit::temp_path("oracle"));
    if let Some(path) = &report {
        args.extend(["--junit".into(), path.display().to_string()]);
    }
    let argv: Vec<&str> = args.iter().map(String::as_str).collect();
    let mut env = runner_env(&server);
    env.push(("GITLAB_TOKEN".into(), API_TOKEN.into()));
    let _proxy = case.proxied.then(|| {
        let proxy = Proxy::start();
        env.push((
            "HTTP_PROXY".into(),
            format!(
                "http://carrier:{}@127.0.0.1:{}",
                PROXY_PASSWORDS[0], proxy.port
            ),
        ));
        proxy
    });
    let run = run_within(&argv, &env, Stdout::Piped, Duration::from_secs(30));
    let Some(run) = run else {
        return Err(TestCaseError::fail(format!(
            "{args:?}: still running after 30 s"
        )));
    };
    if std::env::var_os("GLJOB_ORACLE_VERBOSE").is_some() {
        eprintln!(
            "case: exit {} in {:>5} ms: {args:?} faults {:?}",
            run.code,
            run.elapsed.as_millis(),
            case.faults
        );
    }
    let faulty = !case.faults.is_empty();
    // The server's record: each selected name's latest attempt, as gljob left it.
    let state: Vec<(String, String, bool)> = names
        .iter()
        .enumerate()
        .map(|(i, name)| {
            let pipeline = if i == 0 && case.foreign { PARENT } else { 1000 };
            let job = server.latest_in(pipeline, name);
            (name.clone(), job.status, job.allow_failure)
        })
        .collect();
    server.land_pending();
    let applied = server.applied();
    let ctx = || {
        format!(
            "{args:?}\n  exit {} in {:?}\n  server state {state:?}\n  applied {applied:?}\n  stderr: {:#?}",
            run.code,
            run.elapsed,
            run.stderr.lines().collect::<Vec<_>>()
        )
    };
    let fail = |why: &str| Err(TestCaseError::fail(format!("{why}\n{}", ctx())));

    if [2, 5].contains(&run.code) {
        return fail("exit 2/5 for valid arguments and a readable stdout");
    }
    if ![0, 1, 3, 4, 124].contains(&run.code) {
        return fail("an exit code outside the contract");
    }
    // Writes: at most one per selected job, none for reads; exactly one with no fault.
    let writes = applied.len();
    let writer = matches!(case.cmd, Cmd::PlayWait | Cmd::RetryWait | Cmd::Cancel);
    if !writer && writes > 0 {
        return fail("a read command applied a write");
    }
    if writer && writes > 1 {
        return fail("more than one write applied for one job");
    }
    if writer && !faulty && writes != 1 {
        return fail("no fault, yet the write did not apply exactly once");
    }
    let advice = run.stderr.contains("did not take effect") || run.stderr.contains("run it again");
    if writes > 0 && advice {
        return fail("the write applied (server record), yet gljob said it did not take effect");
    }
    // "Run it again" only where it provably did not apply: GitLab's 4xx refusal.
    let refused = case
        .faults
        .iter()
        .any(|f| f.post && matches!(f.kind, FaultKind::Status(400..=499) | FaultKind::EchoToken));
    if advice && !refused {
        return fail("'did not take effect' without a refusal: the outcome was unknown");
    }
    // The JUnit report: there, well-formed, and green exactly when the exit code is 0.
    if let Some(path) = &report {
        let parsed = support::junit::parse(path);
        let _ = std::fs::remove_dir_all(path.parent().expect("a directory"));
        match parsed {
            Err(why) => return fail(&format!("the JUnit report: {why}")),
            Ok(report) if report.green() != (run.code == 0) => {
                return fail(&format!(
                    "exit {}, yet the JUnit report is {}green:\n{}",
                    run.code,
                    if report.green() { "" } else { "not " },
                    report.text
                ));
            }
            Ok(_) => {}
        }
    }
    // Deadline.
    if matches!(
        case.cmd,
        Cmd::Wait | Cmd::PlayWait | Cmd::RetryWait | Cmd::TraceFollow
    ) && run.elapsed > limit + Duration::from_secs(2)
    {
        return fail("ran past --timeout + 2 s");
    }
    // Output hygiene.
    if let Some((at, c)) = control_char(run.stderr.as_bytes()) {
        return fail(&format!("raw control {c:#04x} at {at} in stderr"));
    }
    if case.cmd != Cmd::TraceFollow
        && let Some((at, c)) = control_char(&run.stdout)
    {
        return fail(&format!("raw control {c:#04x} at {at} in stdout"));
    }
    // The verdict.
    let pass: Vec<bool> = state
        .iter()
        .map(|(_, status, allow)| match case.cmd {
            Cmd::TraceFollow => status == "success",
            Cmd::Cancel => matches!(status.as_str(), "canceled" | "canceling"),
            _ => passes(status, *allow, &case),
        })
        .collect();
    let finals: Vec<bool> = state
        .iter()
        .map(|(_, status, _)| FINALS.contains(&status.as_str()))
        .collect();
    let all_pass = pass.iter().all(|p| *p);
    let some_final_failing = pass.iter().zip(&finals).any(|(p, f)| !p && *f);
    match run.code {
        0 if !all_pass => return fail("exit 0, yet a selected job's latest attempt did not pass"),
        1 if case.cmd != Cmd::Check && !some_final_failing => {
            return fail("exit 1, yet no selected job ended without passing");
        }
        _ => {}
    }
    if !faulty {
        let expected: &[i32] = match case.cmd {
            // A job that moves between the selection's read and the read that confirms a pass
            // (ends, or is retried) is no verdict: exit 3, as the README says.
            Cmd::Check if case.selected.iter().any(|s| !s.ticks.is_empty()) => {
                if all_pass {
                    &[0, 3]
                } else {
                    &[1, 3]
                }
            }
            Cmd::Check => {
                if all_pass {
                    &[0]
                } else {
                    &[1]
                }
            }
            Cmd::Cancel => &[0],
            _ if finals.iter().all(|f| *f) => {
                if all_pass {
                    &[0]
                } else {
                    &[1]
                }
            }
            // Someone still running at the deadline (1 if one already failed).
            _ if some_final_failing => &[1, 124],
            _ => &[124],
        };
        if !expected.contains(&run.code) {
            return fail(&format!("no fault: expected exit {expected:?}"));
        }
    }
    Ok(())
}

/// `GLJOB_ORACLE_EXCLUDE=evil,echo,trace,foreign,writes` leaves out control characters in names,
/// token-echoing bodies, `trace --follow`, parent-pipeline jobs, play/retry/cancel: to look past
/// those bug classes for others.
fn excluded(what: &str) -> bool {
    std::env::var("GLJOB_ORACLE_EXCLUDE").is_ok_and(|v| v.split(',').any(|w| w.trim() == what))
}

fn env_number(name: &str) -> Option<u64> {
    std::env::var(name).ok().and_then(|v| v.trim().parse().ok())
}

/// Runs `cases` cases of `strategy` from `seed` on one proptest runner, each judged by `check`:
/// `Err` with the report of a failure. `test` names the test, for the command that reruns it.
fn run_seed<S: Strategy>(
    test: &str,
    seed: u64,
    cases: u32,
    strategy: S,
    check: impl Fn(S::Value) -> Result<(), TestCaseError>,
) -> Result<(), String> {
    let mut bytes = [0u8; 32];
    for (i, chunk) in bytes.chunks_mut(8).enumerate() {
        chunk.copy_from_slice(&(seed.rotate_left(i as u32 * 16) ^ i as u64).to_le_bytes());
    }
    let config = Config {
        cases,
        failure_persistence: None,
        max_shrink_iters: 200,
        max_shrink_time: 60_000,
        ..Config::default()
    };
    let mut runner =
        TestRunner::new_with_rng(config, TestRng::from_seed(RngAlgorithm::ChaCha, &bytes));
    let started = std::time::Instant::now();
    let result = runner.run(&strategy, check);
    eprintln!(
        "{test}: seed {seed}, {cases} cases, {:.1} s",
        started.elapsed().as_secs_f64()
    );
    let rerun = format!(
        "GLJOB_ORACLE_SEED={seed} GLJOB_ORACLE_CASES={cases} GLJOB_ORACLE_THREADS=1 cargo test --test tests -- --exact oracle::{test} --nocapture"
    );
    match result {
        Ok(()) => Ok(()),
        Err(TestError::Fail(reason, case)) => Err(format!(
            "{test}: seed {seed} failed (rerun: {rerun})\nminimal case: {case:#?}\n{reason}"
        )),
        Err(TestError::Abort(reason)) => Err(format!("{test}: seed {seed}: aborted: {reason}")),
    }
}

/// The cases are shared among `GLJOB_ORACLE_THREADS` runners (default 4; gljob mostly waits on
/// the server, so they overlap well even on 2 cores), runner `i` on seed `SEED + i`.
#[test]
fn oracle() {
    run_shared("oracle", DEFAULT_CASES, case, check_case);
}

/// [`run_seed`] on `GLJOB_ORACLE_THREADS` runners sharing `GLJOB_ORACLE_CASES` (else `default`).
fn run_shared<S: Strategy + 'static>(
    test: &'static str,
    default: u32,
    strategy: fn() -> S,
    check: fn(S::Value) -> Result<(), TestCaseError>,
) {
    let seed = env_number("GLJOB_ORACLE_SEED").unwrap_or(DEFAULT_SEED);
    let cases = env_number("GLJOB_ORACLE_CASES").map_or(default, |n| n as u32);
    let threads = env_number("GLJOB_ORACLE_THREADS").map_or(4, |n| n.max(1) as u32);
    let started = std::time::Instant::now();
    let runners: Vec<_> = (0..threads)
        .map(|i| {
            let share = cases / threads + u32::from(i < cases % threads);
            std::thread::spawn(move || {
                run_seed(
                    test,
                    seed.wrapping_add(u64::from(i)),
                    share,
                    strategy(),
                    check,
                )
            })
        })
        .collect();
    let failures: Vec<String> = runners
        .into_iter()
        .filter_map(|r| r.join().expect("a runner").err())
        .collect();
    eprintln!(
        "{test}: {cases} cases from seed {seed} on {threads} runners, {:.1} s",
        started.elapsed().as_secs_f64()
    );
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

// ---- the pipeline tree: trigger jobs run again ---------------------------------------------------

/// `wait docs::lint` while the trigger job `docs` creates its pipeline (at once or later) and is
/// run again, up to twice, each attempt creating a pipeline of its own with its own `lint`.
#[derive(Debug, Clone)]
struct TreeCase {
    /// Ticks of `docs`'s first attempt before it creates its pipeline (0: created already).
    first_creates_after: usize,
    /// One per pipeline, in order of the attempts that create them: `lint`'s statuses there.
    lint_walks: Vec<Vec<&'static str>>,
    /// Per attempt but the last: ticks after creating its pipeline before `docs` is run again.
    run_again_after: Vec<usize>,
    /// Per later attempt: ticks before it creates its pipeline.
    creates_after: Vec<usize>,
    /// `slow`, a job of our pipeline that runs past all of it, is waited on too: the wait goes on
    /// after a replaced pipeline's `lint` ends, which then ends early.
    keep_alive: bool,
}

fn tree_case() -> impl Strategy<Value = TreeCase> {
    (1..=3usize)
        .prop_flat_map(|attempts| {
            (
                0..3usize,
                proptest::collection::vec(walk(true), attempts),
                proptest::collection::vec(0..6usize, attempts - 1),
                proptest::collection::vec(0..3usize, attempts - 1),
                any::<bool>(),
            )
        })
        .prop_map(
            |(first_creates_after, lint_walks, run_again_after, creates_after, keep_alive)| {
                TreeCase {
                    first_creates_after,
                    lint_walks,
                    run_again_after,
                    creates_after,
                    keep_alive,
                }
            },
        )
}

/// The child pipeline attempt `n` (from 0) of `docs` creates.
fn child_of(attempt: usize) -> u64 {
    2000 + 1000 * attempt as u64
}

/// The timeline of `docs`'s attempt `n` (from 0), its later attempts nested in its `Retry`.
fn docs_timeline(case: &TreeCase, n: usize) -> Vec<Vec<Step>> {
    let mut ticks: Vec<Vec<Step>> = Vec::new();
    let creates_after = if n == 0 {
        case.first_creates_after
    } else {
        ticks.push(vec![Step::Status("running")]);
        case.creates_after[n - 1]
    };
    if n > 0 || creates_after > 0 {
        ticks.extend((0..creates_after).map(|_| Vec::new()));
        ticks.push(vec![Step::CreateDownstream(child_of(n))]);
    }
    if n + 1 < case.lint_walks.len() {
        ticks.extend((0..case.run_again_after[n]).map(|_| Vec::new()));
        ticks.push(vec![Step::Retry(docs_timeline(case, n + 1))]);
    }
    ticks
}

fn tree_server(case: &TreeCase) -> GitLab {
    let server = GitLab::start((19, 2));
    // Time moves on every request: `docs` is run again whether or not gljob reads its list.
    server.tick_every_request();
    let created = case.first_creates_after == 0;
    server.add([Job::new(10, "docs", "deploy", "running")
        .bridge(created.then_some(child_of(0)))
        .steps(docs_timeline(case, 0))]);
    if case.keep_alive {
        let mut walk = vec!["running"; 80];
        walk.push("success");
        server.add([Job::new(11, "slow", "deploy", "running").then(&walk)]);
    }
    let last = case.lint_walks.len() - 1;
    for (n, walk) in case.lint_walks.iter().enumerate() {
        let pipeline = Pipeline::child(child_of(n));
        let pipeline = if n == 0 && created {
            pipeline
        } else {
            pipeline.late()
        };
        // A `lint` whose pipeline is replaced runs until well after that (`docs`'s whole
        // timeline is at most 3 + 2 * 10 ticks, a wait round reads at most a few routes): its
        // end is never a verdict a wait may rightly give, so giving it is a wrong verdict. With
        // `slow` waited on, it may end at once: the wait still outlasts the replacement.
        let walk: Vec<&str> = if n < last && !case.keep_alive {
            let mut long = vec!["running"; 40];
            long.extend(walk.last());
            long
        } else {
            walk.clone()
        };
        let lint = Job::new(21 + 10 * n as u64, "lint", "test", walk[0]).then(&walk[1..]);
        server.add_pipeline(pipeline, [lint]);
    }
    server
}

/// The verdict is `lint`'s in the pipeline that `docs`'s latest attempt created, as the server
/// stands when gljob exits: 0 iff it passed; never a verdict from a pipeline an earlier attempt
/// created (those `lint`s outlast their pipeline's replacement, see [`tree_server`]).
fn check_tree_case(case: TreeCase) -> Result<(), TestCaseError> {
    let server = tree_server(&case);
    let env = runner_env(&server);
    let mut argv = vec!["wait", "docs::lint", "--interval", "5ms", "--timeout", "5s"];
    if case.keep_alive {
        argv.push("slow");
    }
    let run = run_within(&argv, &env, Stdout::Piped, Duration::from_secs(30))
        .ok_or_else(|| TestCaseError::fail("gljob ran past 30 s"))?;
    let docs = server.latest("docs");
    let expected = docs.downstream_pipeline.and_then(|p| {
        let lint = server.latest_in(p, "lint");
        FINALS
            .contains(&lint.status.as_str())
            .then(|| i32::from(lint.status != "success"))
    });
    prop_assert_eq!(
        Some(run.code),
        expected,
        "docs #{} (pipeline {:?}); stderr:\n{}",
        docs.id,
        docs.downstream_pipeline,
        run.stderr
    );
    Ok(())
}

/// A small share of the oracle's cases: each is one wait of a few dozen 5 ms rounds.
#[test]
fn tree_oracle() {
    run_shared("tree_oracle", DEFAULT_CASES / 3, tree_case, check_tree_case);
}
