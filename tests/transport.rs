//! Hardening: retries that never change a verdict, rate limits, private CAs, proxies, timeouts,
//! responses that are not what we expect, and tokens that stay where they belong.

use crate::support;

use support::gitlab::{API_TOKEN, Fault, GitLab, JOB_TOKEN, Job, Rule};
use support::net::{Proxy, Silent, TlsGitLab, make_pki};
use support::{gljob, gljob_api};

const GITLAB_18: (u32, u32) = (18, 3);

fn plays(server: &GitLab) -> usize {
    server.requests_to("POST", "/play").len()
}

#[test]
fn a_play_applied_whose_answer_is_lost_is_one_play_and_exit_0() {
    let server = GitLab::start(GITLAB_18);
    server.add([Job::new(5, "deploy", "deploy", "manual")]);
    server.fault(Rule::new("POST", "/play", Fault::NoAnswer.after_applying()));
    let run = gljob_api(
        &server,
        &[
            "play",
            "deploy",
            "--field",
            "status",
            "--request-timeout",
            "1s",
        ],
    );
    run.expect(0).says("took effect");
    assert_eq!(plays(&server), 1, "one command, one play");
    assert_eq!(server.job(5).status, "pending");
    assert_eq!(run.out(), "pending\n");
}

/// A 502 (a proxy's page) does not prove the play did not reach GitLab; the read-back shows the job
/// still manual, which does not prove it applied either: the outcome is unknown (exit 4, issue #8),
/// and the play is not sent again.
#[test]
fn a_play_that_got_a_502_and_did_not_apply_is_unknown_and_not_resent() {
    let server = GitLab::start(GITLAB_18);
    server.add([Job::new(5, "deploy", "deploy", "manual")]);
    server.fault(Fault::status("POST", "/play", 502, "<html>502</html>"));
    let run = gljob_api(&server, &["play", "deploy"]);
    run.expect(4);
    run.never_says("took effect");
    assert_eq!(plays(&server), 1);
    assert_eq!(server.job(5).status, "manual");
}

#[test]
fn a_replayed_manual_job_whose_answer_is_lost_is_found_by_its_new_attempt() {
    let server = GitLab::start(GITLAB_18);
    let mut job = Job::new(5, "deploy", "deploy", "success");
    job.manual = true;
    server.add([job]);
    server.fault(Fault::status("POST", "/play", 503, "").apply_first());
    let run = gljob_api(&server, &["play", "5", "--field", "id"]);
    run.expect(0).says("took effect");
    assert_eq!(run.out(), "10000\n");
    assert_eq!(plays(&server), 1);
}

#[test]
fn cancel_retry_erase_are_read_back_after_a_lost_answer() {
    let server = GitLab::start(GITLAB_18);
    server.add([
        Job::new(1, "a", "test", "running"),
        Job::new(2, "b", "test", "failed"),
        Job::new(3, "c", "test", "success").log(b"log"),
    ]);
    for (action, id) in [("cancel", "1"), ("retry", "2"), ("erase", "3")] {
        server.fault(Rule::new(
            "POST",
            &format!("/{action}"),
            Fault::Garbage.after_applying(),
        ));
        gljob_api(&server, &[action, id])
            .expect(0)
            .says("took effect");
        assert_eq!(
            server.requests_to("POST", &format!("/{action}")).len(),
            1,
            "{action}"
        );
    }
    assert_eq!(server.job(1).status, "canceled");
    assert!(server.job(2).retried);
    assert!(server.job(3).erased);
}

#[test]
fn a_write_that_cannot_connect_is_resent_and_then_reported_as_not_sent() {
    let server = GitLab::start(GITLAB_18);
    let closed = "http://127.0.0.1:9/api/v4";
    let run = gljob(
        &server,
        &["play", "5", "--retries", "1"],
        &[
            ("GITLAB_TOKEN", Some(API_TOKEN)),
            ("CI_API_V4_URL", Some(closed)),
        ],
    );
    // Refused twice (the first try and one resend): it never reached GitLab, so it did not
    // happen, and no read-back is attempted.
    run.expect(3)
        .says("retrying in")
        .says("could not reach GitLab");
    run.never_says("took effect").never_says("unknown");
    assert_eq!(
        run.stderr.matches("retrying in").count(),
        1,
        "{}",
        run.stderr
    );
}

#[test]
fn reads_are_retried_on_5xx_and_429_honouring_retry_after() {
    let server = GitLab::start(GITLAB_18);
    server.fault(
        Fault::status("GET", "/job", 429, "Retry later")
            .content_type("text/plain")
            .header("Retry-After", "0"),
    );
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        .to_string();
    server.fault(Fault::status("GET", "/job", 429, "Retry later").header("RateLimit-Reset", &now));
    let run = gljob(&server, &["job", "--field", "id"], &[]);
    run.expect(0);
    assert_eq!(run.out(), "500\n");
    assert_eq!(
        run.stderr.matches("retrying in 0.0s").count(),
        2,
        "{}",
        run.stderr
    );
    assert_eq!(server.requests().len(), 3);

    // A 502 without a header: exponential backoff (about a second), then success.
    server.fault(Fault::status(
        "GET",
        "/job",
        502,
        "<html>bad gateway</html>",
    ));
    gljob(&server, &["job"], &[])
        .expect(0)
        .says("GitLab answered 502 ")
        .says("retrying in");
    assert_eq!(server.requests().len(), 5);
}

#[test]
fn retries_are_bounded_by_the_flag() {
    let server = GitLab::start(GITLAB_18);
    for _ in 0..3 {
        server.fault(Fault::status("GET", "/job", 503, "").header("Retry-After", "0"));
    }
    gljob(&server, &["job", "--retries", "2"], &[])
        .expect(3)
        .says("503");
    assert_eq!(server.requests().len(), 3, "the first try and two retries");
    server.fault(Fault::status("GET", "/job", 503, ""));
    gljob(&server, &["job", "--retries", "0"], &[]).expect(3);
    assert_eq!(server.requests().len(), 4);
}

#[test]
fn writes_are_never_retried_on_a_5xx() {
    let server = GitLab::start(GITLAB_18);
    server.add([Job::new(1, "a", "test", "running")]);
    server.fault(Fault::status("POST", "/cancel", 503, "").header("Retry-After", "0"));
    // The 503 did not apply; the job is read back, still running: nothing proves the cancel
    // applied, nor that it did not (issue #8): exit 4, and it is not sent again.
    gljob_api(&server, &["cancel", "1"]).expect(4);
    assert_eq!(server.requests_to("POST", "/cancel").len(), 1);
}

#[test]
fn a_silent_server_cannot_hang_a_job() {
    let silent = Silent::start();
    let server = GitLab::start(GITLAB_18);
    let root = format!("http://127.0.0.1:{}/api/v4", silent.port);
    let run = gljob(
        &server,
        &["job", "--request-timeout", "300ms", "--retries", "0"],
        &[("CI_API_V4_URL", Some(&root))],
    );
    run.expect(3).says("did not answer within");
}

#[test]
fn answers_that_are_not_what_gitlab_sends_are_one_line_errors() {
    let server = GitLab::start(GITLAB_18);
    let cases: [(&str, &str, &str); 5] = [
        ("/job", r#"{"id": 500, "status": "runn"#, "not JSON"),
        ("/job", "{]", "not JSON"),
        (
            "/job",
            r#"{"id": "five hundred", "status": "running"}"#,
            "not a job GitLab would send",
        ),
        (
            "/job",
            r#"{"name": "no id"}"#,
            "not a job GitLab would send",
        ),
        (
            "/pipelines/1000/jobs",
            r#"{"message": "not a list"}"#,
            "not a JSON array",
        ),
    ];
    for (path, body, expected) in cases {
        // With --retries 0: an unreadable read is retried otherwise (issue #8).
        server.fault(Fault::status("GET", path, 200, body));
        let args: &[&str] = if path == "/job" {
            &["job", "--retries", "0"]
        } else {
            &["jobs", "--retries", "0"]
        };
        let run = gljob(&server, args, &[]);
        run.expect(3).says(expected);
        assert_eq!(run.stderr.lines().count(), 1, "{}", run.stderr);
    }
}

#[test]
fn a_private_ca_is_trusted_only_when_given() {
    let pki = make_pki();
    let tls = TlsGitLab::start(&pki);
    let server = GitLab::start(GITLAB_18);
    let root = format!("https://localhost:{}/api/v4", tls.port);
    let dir = std::env::temp_dir().join(format!("gljob-ca-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let ca_path = dir.join("ca.pem");
    std::fs::write(&ca_path, &pki.ca_pem).unwrap();
    let ca_path = ca_path.to_str().unwrap();
    let env = |extra: &[(&'static str, Option<&str>)]| {
        let mut all: Vec<(&str, Option<&str>)> = vec![("CI_API_V4_URL", Some(&root))];
        all.extend_from_slice(extra);
        gljob(&server, &["job", "--field", "id", "--retries", "0"], &all)
    };

    let run = env(&[]);
    run.expect(3)
        .says("not trusted")
        .says("CI_SERVER_TLS_CA_FILE");
    assert!(
        tls.requests.lock().unwrap().is_empty(),
        "no request crossed an untrusted TLS"
    );

    assert_eq!(
        env(&[("CI_SERVER_TLS_CA_FILE", Some(ca_path))])
            .expect(0)
            .out(),
        "500\n"
    );
    // Runners before 16.6 put the PEM text itself in the variable.
    assert_eq!(
        env(&[("CI_SERVER_TLS_CA_FILE", Some(&pki.ca_pem))])
            .expect(0)
            .out(),
        "500\n"
    );
    assert_eq!(
        env(&[("SSL_CERT_FILE", Some(ca_path))]).expect(0).out(),
        "500\n"
    );
    // A bundle with several certificates (another CA first) works too.
    let other = make_pki();
    let bundle = dir.join("bundle.pem");
    std::fs::write(&bundle, format!("{}{}", other.ca_pem, pki.ca_pem)).unwrap();
    let run = gljob(
        &server,
        &["job", "--ca-file", bundle.to_str().unwrap()],
        &[("CI_API_V4_URL", Some(&root))],
    );
    run.expect(0);
    let heads = tls.requests.lock().unwrap().clone();
    assert!(
        heads.iter().all(|h| h.contains(JOB_TOKEN)),
        "the token went over TLS"
    );

    // Bad CA inputs are usage errors, before any request.
    let before = tls.requests.lock().unwrap().len();
    env(&[("CI_SERVER_TLS_CA_FILE", Some("/nonexistent/ca.pem"))])
        .expect(2)
        .says("CI_SERVER_TLS_CA_FILE: cannot read the CA file");
    let empty = dir.join("empty.pem");
    std::fs::write(&empty, "no certificate here\n").unwrap();
    env(&[("SSL_CERT_FILE", Some(empty.to_str().unwrap()))])
        .expect(2)
        .says("holds no PEM certificate");
    assert_eq!(tls.requests.lock().unwrap().len(), before);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn requests_go_through_the_proxy_with_its_credentials_which_are_never_printed() {
    let server = GitLab::start(GITLAB_18);
    let proxy = Proxy::start();
    let with_credentials = format!("http://carrier:Pr0xySecret@127.0.0.1:{}", proxy.port);
    let run = gljob(
        &server,
        &["jobs", "--verbose"],
        &[
            ("HTTP_PROXY", Some(&with_credentials)),
            ("NO_PROXY", Some("gitlab.example.com")),
        ],
    );
    run.expect(0);
    run.never_says("Pr0xySecret");
    assert!(!run.out().contains("Pr0xySecret"));
    let heads = proxy.heads();
    assert_eq!(heads.len(), 1, "{heads:?}");
    assert!(
        heads[0].starts_with(&format!("CONNECT 127.0.0.1:{} ", server.port)),
        "{heads:?}"
    );
    // Basic credentials for carrier:Pr0xySecret.
    assert!(
        heads[0].contains("Y2FycmllcjpQcjB4eVNlY3JldA=="),
        "{heads:?}"
    );
    assert!(
        !heads[0].contains(JOB_TOKEN),
        "the proxy sees only the tunnel"
    );
    assert_eq!(server.requests().len(), 1);

    // HTTPS_PROXY is for https roots: this root is http.
    gljob(
        &server,
        &["jobs"],
        &[("HTTPS_PROXY", Some(&with_credentials))],
    )
    .expect(0);
    // ALL_PROXY covers both.
    gljob(
        &server,
        &["jobs"],
        &[("ALL_PROXY", Some(&with_credentials))],
    )
    .expect(0);
    assert_eq!(proxy.heads().len(), 2);

    // NO_PROXY by IP, by IP and port, and `*`.
    let port_entry = format!("127.0.0.1:{}", server.port);
    for no_proxy in ["127.0.0.1", port_entry.as_str(), "*"] {
        gljob(
            &server,
            &["jobs"],
            &[
                ("http_proxy", Some(&with_credentials)),
                ("no_proxy", Some(no_proxy)),
            ],
        )
        .expect(0);
    }
    assert_eq!(proxy.heads().len(), 2, "NO_PROXY bypassed the proxy");
}

#[test]
fn a_dead_proxy_is_named_without_its_credentials() {
    let server = GitLab::start(GITLAB_18);
    let dead = "http://carrier:Pr0xySecret@127.0.0.1:9";
    let run = gljob(
        &server,
        &["job", "--retries", "0"],
        &[("HTTP_PROXY", Some(dead))],
    );
    run.expect(3).says("http://127.0.0.1:9");
    run.never_says("Pr0xySecret");
    let run = gljob(
        &server,
        &["job"],
        &[("HTTP_PROXY", Some("socks5://127.0.0.1:1080"))],
    );
    run.expect(2).says("HTTP_PROXY");
}

#[test]
fn plain_http_to_another_host_warns_once() {
    let server = GitLab::start(GITLAB_18);
    let run = gljob(
        &server,
        &["job", "--retries", "0", "--request-timeout", "2s"],
        &[("CI_API_V4_URL", Some("http://gitlab.invalid/api/v4"))],
    );
    run.expect(3);
    assert_eq!(
        run.stderr.matches("token travels unencrypted").count(),
        1,
        "{}",
        run.stderr
    );
    let run = gljob(&server, &["job"], &[]);
    run.never_says("unencrypted");
}

/// A stderr that fails to take a line (`2>/dev/full`, a full disk) must not turn a verdict into an
/// abort: `eprintln!` panics there, and with `panic = "abort"` the exit code would be 134.
#[test]
fn a_failing_stderr_does_not_change_the_verdict() {
    // Linux has /dev/full; a machine without it cannot run this test, and says so by failing.
    assert!(
        std::path::Path::new("/dev/full").exists(),
        "this test needs /dev/full"
    );
    let server = GitLab::start(GITLAB_18);
    server.add([Job::new(2, "test", "test", "running").then(&["running", "failed"])]);
    let script = "\"$GLJOB\" wait test --interval 5ms 2>/dev/full; echo \"exit $?\"; \
                  \"$GLJOB\" bogus-command 2>/dev/full; echo \"exit $?\"; \
                  \"$GLJOB\" wait test --interval 5ms >&- 2>&-; echo \"exit $?\"";
    let output = std::process::Command::new("sh")
        .arg("-c")
        .arg(script)
        .env_clear()
        .envs(support::runner_env(&server))
        .env("GLJOB", env!("CARGO_BIN_EXE_gljob"))
        .output()
        .expect("run sh");
    assert_eq!(
        String::from_utf8_lossy(&output.stdout),
        "exit 1\nexit 2\nexit 1\n"
    );
}

/// Every command, against every kind of fault, with `--verbose`: the harness searches all output
/// of every run for the tokens (and their tails).
#[test]
fn no_token_leaks_from_any_command_or_fault() {
    let commands: [&[&str]; 13] = [
        &["job"],
        &["job", "1"],
        &["agents"],
        &["jobs"],
        &["jobs", "--project-wide"],
        &["bridges"],
        &["trace", "1"],
        &["play", "1", "--var", "A=1"],
        &["cancel", "1"],
        &["retry", "1"],
        &["erase", "1"],
        &["wait", "a", "--interval", "5ms"],
        &["check", "a"],
    ];
    let faults: Vec<Option<Rule>> = vec![
        None,
        Some(Fault::status(
            "",
            "/",
            401,
            r#"{"message":"401 Unauthorized"}"#,
        )),
        Some(Fault::status(
            "",
            "/",
            403,
            r#"{"message":"403 Forbidden"}"#,
        )),
        Some(Fault::status("", "/", 500, "<html>500</html>")),
        Some(Fault::status("", "/", 200, "{\"truncated")),
        Some(Rule::new("", "/", Fault::Garbage)),
        Some(Rule::new("", "/", Fault::NoAnswer)),
    ];
    // Each case on its own thread: the silent ones wait out their request timeout together.
    let mut cases = Vec::new();
    for fault in &faults {
        for args in commands {
            let fault = fault.clone();
            cases.push(std::thread::spawn(move || {
                let server = GitLab::start(GITLAB_18);
                server.add([Job::new(1, "a", "test", "failed").log(b"log")]);
                if let Some(fault) = fault {
                    for method in ["GET", "POST"] {
                        server.fault(fault.clone().method(method));
                    }
                }
                let mut args = args.to_vec();
                args.extend(["--verbose", "--retries", "0", "--request-timeout", "1s"]);
                let run = gljob(&server, &args, &[("GITLAB_TOKEN", Some(API_TOKEN))]);
                (args.join(" "), run.code, run.stderr)
            }));
        }
    }
    let mut runs = 0;
    for case in cases {
        let (args, code, stderr) = case.join().expect("a case");
        assert!(
            [0, 1, 3, 4].contains(&code),
            "{args}: exit {code}: {stderr}"
        );
        runs += 1;
    }
    assert_eq!(runs, 91);
}
