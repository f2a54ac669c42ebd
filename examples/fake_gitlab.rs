//! The GitLab test server as a program: try gljob without a GitLab, and benchmark it.
//!
//! ```sh
//! cargo run --example fake_gitlab                      # the demo pipeline on a free port
//! cargo run --example fake_gitlab -- --scenario bench  # 1,000 jobs, 50 to wait on, a 50 MB log
//! cargo run --example fake_gitlab -- --scenario bench-busy  # the same, every page changing per read
//! cargo run --example fake_gitlab -- --scenario bench-running  # every job changing per read
//! cargo run --example fake_gitlab -- --scenario bench-ten  # 1,000 jobs, 10 running for ever
//! cargo run --example fake_gitlab -- --tls DIR         # HTTPS with its own CA, written to DIR/ca.pem
//! cargo run --example fake_gitlab -- --scenario self --packages DIR
//!     # gljob's own pipeline (.gitlab-ci.yml) as GitLab would list it; uploads written to DIR
//! ```
//!
//! It prints the variables a runner would set; paste them into a shell and run gljob. It is built
//! from `tests/support/`, the same server the integration tests use, and is not part of a release.

#[path = "../tests/support/gitlab/mod.rs"]
mod gitlab;
#[path = "../tests/support/net.rs"]
mod net;

use gitlab::{API_TOKEN, GitLab, JOB_TOKEN, Job, OWN_JOB_ID, PIPELINE_ID, PROJECT_ID, Step};
use std::time::Duration;

struct Options {
    port: u16,
    scenario: String,
    tick: Duration,
    tls_dir: Option<String>,
    packages_dir: Option<String>,
}

fn parse_options() -> Result<Options, String> {
    let mut options = Options {
        // A free port, chosen by the system: the quick start must not fail on a busy one.
        port: 0,
        scenario: "demo".into(),
        tick: Duration::from_secs(1),
        tls_dir: None,
        packages_dir: None,
    };
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = || args.next().ok_or(format!("{arg} needs a value"));
        match arg.as_str() {
            "--port" => options.port = value()?.parse().map_err(|_| "--port: a number")?,
            "--scenario" => options.scenario = value()?,
            "--tick-ms" => {
                options.tick =
                    Duration::from_millis(value()?.parse().map_err(|_| "--tick-ms: a number")?)
            }
            "--tls" => options.tls_dir = Some(value()?),
            "--packages" => options.packages_dir = Some(value()?),
            "-h" | "--help" => {
                return Err("usage: fake_gitlab [--port N] [--scenario demo|bench|bench-busy|bench-running|bench-ten|self] [--tick-ms N] [--tls DIR] [--packages DIR]".into());
            }
            other => return Err(format!("unknown argument {other}")),
        }
    }
    Ok(options)
}

/// build and tests that finish over a few seconds, a failing allow_failure job, a manual deploy,
/// and a bridge to a downstream pipeline. Timelines advance once per tick of the clock.
fn demo(server: &GitLab) {
    server.add([
        Job::new(101, "build", "build", "running").then(&["running", "success"]),
        Job::new(102, "test 1/2", "test", "pending")
            .then(&["pending", "pending", "running", "running", "success"]),
        Job::new(103, "test 2/2", "test", "pending").then(&[
            "pending", "running", "running", "running", "running", "success",
        ]),
        Job::new(104, "lint", "test", "running")
            .allow_failure()
            .steps(vec![vec![], vec![], vec![Step::Fail("script_failure")]]),
        Job::new(105, "deploy-staging", "deploy", "manual")
            .after_play(&["running", "running", "success"]),
        Job::new(106, "downstream", "deploy", "created")
            .bridge(Some(2000))
            .then(&[
                "created", "created", "created", "running", "running", "success",
            ]),
    ]);
    // The pipeline `downstream` triggered: `gljob wait 'downstream::*'`, `gljob bridges --tree`.
    server.add_pipeline(
        gitlab::Pipeline::child(2000),
        [
            Job::new(201, "docs", "build", "running").then(&["running", "running", "success"]),
            Job::new(202, "pages", "deploy", "created")
                .then(&["created", "pending", "running", "running", "success"]),
        ],
    );
    // Artifacts: build's (`gljob artifacts build --wait`), and branch main's (`--ref main`).
    gitlab::add_demo_artifacts(server);
    let mut state = server.state();
    state.tick_on_reads = false;
    for id in [101, 102, 103, 104] {
        if let Some(job) = state.jobs.iter_mut().find(|j| j.id == id) {
            job.log = format!("\x1b[0Ksection_start:1764064800:step_script\r\x1b[0KRunning {id}\n")
                .into_bytes();
        }
    }
}

/// gljob's own pipeline (`.gitlab-ci.yml`) as GitLab lists it while it runs: the jobs the `gate`
/// job waits for end in success after a few ticks. `scripts/ci-local` runs the project's pipeline
/// under gitlab-ci-local against it, the job running gljob standing for `gate`.
fn own_pipeline(server: &GitLab) {
    server.add([
        Job::new(301, "test", "test", "running").then(&["running", "success"]),
        Job::new(302, "build:x86_64", "build", "running").then(&["success"]),
        Job::new(303, "build:aarch64", "build", "running").then(&["running", "success"]),
        Job::new(304, "check:x86_64", "check", "pending").then(&["running", "success"]),
        Job::new(305, "check:aarch64", "check", "created").then(&["pending", "running", "success"]),
    ]);
    server.state().tick_on_reads = false;
}

/// A 1,000-job pipeline (with the job running gljob, 947 + 50 + 1 + 1 + 1): 50 `wait-N` jobs that
/// finish after three reads of the list, `big-log`, whose log grows by 5 MB per read until 50 MB,
/// and `slow`, which runs for ever (a wait on it is all rounds). Timelines advance per read, so
/// each tool measured sees the same work.
fn bench(server: &GitLab) {
    // Ids from 10,001: the job running gljob is 500, and an id listed twice is a list that
    // changed while it was read (gljob reads it again, and again, then gives up).
    let mut jobs: Vec<Job> = (1..=947)
        .map(|i| Job::new(10_000 + i, &format!("unit {i}"), "test", "success"))
        .collect();
    for i in 0..50u64 {
        jobs.push(
            Job::new(2000 + i, &format!("wait-{}", i + 1), "test", "running").steps(vec![
                vec![],
                vec![],
                vec![Step::Status("success")],
            ]),
        );
    }
    let chunk = "x".repeat(1023) + "\n";
    let five_mb = chunk.repeat(5 * 1024).into_bytes();
    let mut growing: Vec<Vec<Step>> = (0..10).map(|_| vec![Step::Log(five_mb.clone())]).collect();
    growing.push(vec![Step::Status("success")]);
    jobs.push(Job::new(9000, "big-log", "test", "running").steps(growing));
    jobs.push(Job::new(9001, "slow", "test", "running"));
    server.add(jobs);
}

/// The bench pipeline with running jobs whose `duration` grows with each read, as GitLab computes
/// a running job's duration when it is read: `busy` says which units run. With a running unit on
/// every page (`bench-busy`), every page of every read differs from the last; with every unit
/// running (`bench-running`), every job does, which is the most a round can cost.
fn bench_running(server: &GitLab, busy: impl Fn(u64) -> bool) {
    bench(server);
    let mut state = server.state();
    for job in state.jobs.iter_mut() {
        let unit = job
            .id
            .checked_sub(10_000)
            .filter(|unit| (1..=947).contains(unit));
        if unit.is_some_and(&busy) || job.id == 9001 {
            job.status = "running".into();
            job.running_ticks = Some(0);
        }
    }
}

/// What a gate's rounds cost GitLab: 1,000 jobs (999 units and the job running gljob), of which
/// the ten followed, `unit 950`, `unit 850`, … `unit 50`, one on each page, run for ever, their
/// `duration` growing with every read as GitLab computes it. The others passed.
fn bench_ten(server: &GitLab) {
    let jobs: Vec<Job> = (1..=999u64)
        .map(|i| {
            let mut job = Job::new(10_000 + i, &format!("unit {i}"), "test", "success");
            if i % 100 == 50 {
                job.status = "running".into();
                job.running_ticks = Some(0);
            }
            job
        })
        .collect();
    server.add(jobs);
}

fn main() {
    let options = match parse_options() {
        Ok(options) => options,
        Err(message) => {
            eprintln!("{message}");
            std::process::exit(2);
        }
    };
    if let Some(dir) = options.tls_dir {
        let pki = net::make_pki();
        std::fs::create_dir_all(&dir).expect("create the TLS directory");
        std::fs::write(format!("{dir}/ca.pem"), &pki.ca_pem).expect("write ca.pem");
        let tls = net::TlsGitLab::start(&pki);
        println!("{}", tls.port);
        eprintln!(
            "HTTPS test server on 127.0.0.1:{} (certificate for localhost and 127.0.0.1); CA in {dir}/ca.pem",
            tls.port
        );
        loop {
            std::thread::park();
        }
    }
    let server = match GitLab::try_start_on(&format!("127.0.0.1:{}", options.port), (18, 3)) {
        Ok(server) => server,
        Err(why) => {
            eprintln!(
                "fake_gitlab: {why}; choose another with --port N, or leave --port out for a free one"
            );
            std::process::exit(1);
        }
    };
    match options.scenario.as_str() {
        "demo" => demo(&server),
        "bench" => {
            bench(&server);
            // python-gitlab follows Link, which GitLab builds from its external URL: point it
            // here, or python-gitlab cannot list past the first page.
            server.state().external_root = server.url.clone();
        }
        // Units 900, 800, … 200 sit on pages 1 to 8 (ids descend from 10,947), unit 60 on page
        // 9, and `slow` on page 10; none is among `unit 1??`, which the bench checks.
        "bench-busy" => {
            bench_running(&server, |unit| unit % 100 == 0 && unit >= 200 || unit == 60);
            server.state().external_root = server.url.clone();
        }
        "bench-running" => {
            bench_running(&server, |_| true);
            server.state().external_root = server.url.clone();
        }
        "bench-ten" => bench_ten(&server),
        "self" => own_pipeline(&server),
        other => {
            eprintln!(
                "unknown scenario {other}; demo, bench, bench-busy, bench-running, bench-ten or \
                 self"
            );
            std::process::exit(2);
        }
    }
    server.state().packages_dir = options.packages_dir;
    server.save_initial();
    println!(
        "export CI_API_V4_URL={} CI_PROJECT_ID={PROJECT_ID} CI_PIPELINE_ID={PIPELINE_ID} CI_JOB_ID={OWN_JOB_ID} CI_JOB_TOKEN={JOB_TOKEN} GITLAB_TOKEN={API_TOKEN}",
        server.url
    );
    eprintln!(
        "GitLab test server (scenario {}) on {}; Ctrl-C stops it",
        options.scenario, server.url
    );
    let by_clock = !server.state().tick_on_reads;
    // The demo pipeline's clock starts with the first API request, so the first `gljob wait`
    // sees jobs change state, however long the build before it took.
    if by_clock {
        while !server
            .state()
            .requests
            .iter()
            .any(|r| r.path.contains("/api/v4/"))
        {
            std::thread::sleep(Duration::from_millis(50));
        }
    }
    loop {
        std::thread::sleep(options.tick);
        if by_clock {
            server.state().tick(None);
        }
    }
}
