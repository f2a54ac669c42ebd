//! Issue 17: what an independent review found at the edges, one test (or more) per finding:
//! deadlines through a proxy's CONNECT exchange, a CA file that cannot be read at once, tokens
//! echoed percent-encoded, and an API root without `/api/v4`.

use crate::support;

use std::time::Duration;
use support::gitlab::{API_TOKEN, Fault, GitLab, JOB_TOKEN, Job, Rule};
use support::net::{Proxy, TlsGitLab, make_pki};
use support::{Run, Stdout, run_within, runner_env};

const GITLAB_18: (u32, u32) = (18, 3);

/// Runs gljob with the runner's environment of `server` plus `extra`, killing it after `limit`
/// (a watchdog: a hung gljob fails the test instead of hanging CI).
fn gljob_within(
    server: &GitLab,
    args: &[&str],
    extra: &[(&str, &str)],
    limit: Duration,
) -> Option<Run> {
    let mut env = runner_env(server);
    for (key, value) in extra {
        env.retain(|(k, _)| k != key);
        env.push((key.to_string(), value.to_string()));
    }
    run_within(args, &env, Stdout::Piped, limit)
}

// 1. Deadlines through proxies.

/// The proxy's CONNECT reply, a byte every half second, would take 20 s: each byte comes well
/// within `--request-timeout`'s per-read bound, so only a bound on the whole exchange stops it.
#[test]
fn a_proxy_trickling_its_connect_reply_cannot_outlast_the_deadline() {
    let pki = make_pki();
    let tls = TlsGitLab::start(&pki);
    let proxy = Proxy::trickling(Duration::from_millis(500));
    let server = GitLab::start(GITLAB_18);
    let root = format!("https://localhost:{}/api/v4", tls.port);
    let proxy_url = format!("http://127.0.0.1:{}", proxy.port);
    let extra = [
        ("CI_API_V4_URL", root.as_str()),
        ("CI_SERVER_TLS_CA_FILE", pki.ca_pem.as_str()),
        ("HTTPS_PROXY", proxy_url.as_str()),
    ];

    let run = gljob_within(
        &server,
        &["wait", "deploy", "--timeout", "2s", "--interval", "1s"],
        &extra,
        Duration::from_secs(10),
    )
    .expect("gljob wait --timeout 2s was still running after 10 s");
    run.expect(124).says("--timeout");
    assert!(
        run.elapsed < Duration::from_secs(4),
        "--timeout 2s took {:?}",
        run.elapsed
    );

    // Without --timeout, the whole-answer bound of each call (4 x --request-timeout) covers the
    // CONNECT exchange too; the connect phase is the first part of it and ends within
    // --request-timeout. With --retries 0: within --request-timeout + 2 s, exit 3.
    let run = gljob_within(
        &server,
        &["job", "--request-timeout", "1s", "--retries", "0"],
        &extra,
        Duration::from_secs(10),
    )
    .expect("gljob job --request-timeout 1s was still running after 10 s");
    run.expect(3).says("http://127.0.0.1");
    assert!(
        run.elapsed < Duration::from_secs(3),
        "--request-timeout 1s took {:?}",
        run.elapsed
    );
    assert!(
        tls.requests.lock().unwrap().is_empty(),
        "no request reached GitLab"
    );
    assert!(!proxy.heads().is_empty(), "the requests went to the proxy");
}

/// The bound on the CONNECT exchange ends with it: an answer that comes through the tunnel slowly
/// (about 1.5 s here, each byte within --request-timeout 1s, the whole within its 4 s) is read
/// whole, as it is without a proxy.
#[test]
fn after_the_connect_exchange_the_tunnel_has_the_usual_bounds() {
    let server = GitLab::start(GITLAB_18);
    let proxy = Proxy::start();
    let plain = support::gljob(&server, &["job", "--json"], &[]);
    plain.expect(0);
    let bytes_per_sec = (plain.stdout.len() as u32 * 2 / 3).max(1);
    server.fault(Rule::new("GET", "/job", Fault::Trickle { bytes_per_sec }));
    let proxy_url = format!("http://127.0.0.1:{}", proxy.port);
    let run = support::gljob(
        &server,
        &["job", "--json", "--request-timeout", "1s", "--retries", "0"],
        &[("HTTP_PROXY", Some(&proxy_url))],
    );
    run.expect(0);
    assert_eq!(run.stdout, plain.stdout);
    assert!(
        run.elapsed > Duration::from_secs(1),
        "the answer came slowly: {:?}",
        run.elapsed
    );
    assert_eq!(proxy.heads().len(), 1);
}

// 2. A CA file that cannot be read at once.

/// A file another process holds a write lease on: a regular file whose open waits until the
/// lease is given up or broken (`/proc/sys/fs/lease-break-time`, 45 s by default), like
/// `/proc/kmsg`, whose reads wait for the kernel's next message. Made here, so that the test
/// does not depend on what the machine's /proc lets root read.
#[cfg(target_os = "linux")]
struct Leased {
    path: std::path::PathBuf,
    pem: String,
    _file: std::fs::File,
}

#[cfg(target_os = "linux")]
impl Leased {
    fn create(name: &str) -> Leased {
        use std::os::fd::AsRawFd;
        unsafe extern "C" {
            fn fcntl(fd: i32, cmd: i32, ...) -> i32;
        }
        // <fcntl.h> on Linux (asm-generic, as on x86_64 and aarch64).
        const F_SETSIG: i32 = 10;
        const F_SETLEASE: i32 = 1024;
        const F_WRLCK: i32 = 1;
        // Ignored unless handled: breaking the lease signals its holder (SIGIO by default, which
        // would end the test process).
        const SIGWINCH: i32 = 28;
        let dir = std::env::temp_dir().join(format!("gljob-edges-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join(name);
        let pem = make_pki().ca_pem;
        std::fs::write(&path, &pem).unwrap();
        let file = std::fs::File::open(&path).unwrap();
        // SAFETY: plain fcntl calls on a descriptor this function owns.
        let (sig, lease) = unsafe {
            (
                fcntl(file.as_raw_fd(), F_SETSIG, SIGWINCH),
                fcntl(file.as_raw_fd(), F_SETLEASE, F_WRLCK),
            )
        };
        assert_eq!(
            (sig, lease),
            (0, 0),
            "a write lease on {} (leases enabled in /proc/sys/fs/leases-enable?): {}",
            path.display(),
            std::io::Error::last_os_error()
        );
        Leased {
            path,
            pem,
            _file: file,
        }
    }
}

#[cfg(target_os = "linux")]
#[test]
fn a_ca_file_that_cannot_be_read_at_once_is_refused_at_once() {
    let server = GitLab::start(GITLAB_18);
    let leased = Leased::create("held.pem");
    let path = leased.path.to_str().unwrap();
    for variable in ["CI_SERVER_TLS_CA_FILE", "SSL_CERT_FILE"] {
        let run = gljob_within(
            &server,
            &["wait", "deploy", "--timeout", "3s"],
            &[
                ("CI_API_V4_URL", "https://gitlab.example.com/api/v4"),
                (variable, path),
            ],
            Duration::from_secs(10),
        )
        .expect("gljob was still reading the CA file after 10 s");
        // A usage error naming the variable and the file, and what to do.
        run.expect(2)
            .says(variable)
            .says(path)
            .says("cannot be read without waiting")
            .says("point");
        assert!(
            run.elapsed < Duration::from_secs(2),
            "refused after {:?}",
            run.elapsed
        );
    }
    // The same certificate in a file no one holds is a CA file like any other (not read from the
    // held one: that open would wait for the lease too).
    let copy = leased.path.with_file_name("free.pem");
    std::fs::write(&copy, &leased.pem).unwrap();
    let run = gljob_within(
        &server,
        &["job", "--retries", "0", "--request-timeout", "1s"],
        &[
            ("CI_API_V4_URL", "https://127.0.0.1:9/api/v4"),
            ("CI_SERVER_TLS_CA_FILE", copy.to_str().unwrap()),
        ],
        Duration::from_secs(10),
    )
    .unwrap();
    run.expect(3).never_says("CA file");
    assert!(server.requests().is_empty());
    let _ = std::fs::remove_dir_all(leased.path.parent().unwrap());
}

// 3. Tokens echoed percent-encoded.

/// Every byte encoded, hex digits in both cases.
fn every_byte(secret: &str) -> String {
    secret
        .bytes()
        .enumerate()
        .map(|(i, b)| {
            if i % 2 == 0 {
                format!("%{b:02X}")
            } else {
                format!("%{b:02x}")
            }
        })
        .collect()
}

/// Only `-` and `_` encoded, as some encoders do.
fn dashes(secret: &str) -> String {
    secret.replace('-', "%2D").replace('_', "%5f")
}

/// A byte here and there, splitting the secret.
fn split(secret: &str) -> String {
    secret
        .bytes()
        .enumerate()
        .map(|(i, b)| {
            if i % 5 == 1 {
                format!("%{b:02X}")
            } else {
                (b as char).to_string()
            }
        })
        .collect()
}

/// Percent-decodes `text` as a reader of gljob's output could, up to three times over.
fn decodings(text: &str) -> Vec<String> {
    let mut all = vec![text.to_string()];
    for _ in 0..3 {
        let last = all.last().unwrap();
        let bytes = last.as_bytes();
        let mut out = Vec::with_capacity(bytes.len());
        let mut i = 0;
        while i < bytes.len() {
            let hex = |at: usize| (bytes[at] as char).to_digit(16);
            if bytes[i] == b'%'
                && i + 2 < bytes.len()
                && let (Some(high), Some(low)) = (hex(i + 1), hex(i + 2))
            {
                out.push((high * 16 + low) as u8);
                i += 3;
            } else {
                out.push(bytes[i]);
                i += 1;
            }
        }
        all.push(String::from_utf8_lossy(&out).into_owned());
    }
    all
}

/// None of the run's tokens, nor either end of one, in `text` or any of its decodings.
#[track_caller]
fn assert_no_token_decoded(text: &str, what: &str) {
    for decoded in decodings(text) {
        for token in [JOB_TOKEN, API_TOKEN] {
            for needle in [token, &token[token.len() - 12..], &token[..12]] {
                assert!(
                    !decoded.contains(needle),
                    "{what}: a token, percent-encoded ({needle:?} once decoded):\n{text}"
                );
            }
        }
    }
}

#[test]
fn a_token_echoed_percent_encoded_reaches_no_output() {
    let server = GitLab::start(GITLAB_18);
    let mut deploy = Job::new(
        7,
        &format!("deploy {}", every_byte(JOB_TOKEN)),
        "test",
        "failed",
    );
    deploy.failure_reason = Some(format!("rejected {}", dashes(API_TOKEN)));
    deploy.web_url = Some(format!(
        "https://gitlab.example.com/group/sub/app/-/jobs/7?ref={}",
        split(JOB_TOKEN)
    ));
    let lint = Job::new(8, &format!("lint {}", dashes(JOB_TOKEN)), "test", "failed");
    let unit = Job::new(9, &format!("unit {}", split(API_TOKEN)), "test", "failed");
    server.add([deploy, lint, unit]);
    let report = std::env::temp_dir()
        .join(format!("gljob-edges-junit-{}", std::process::id()))
        .join("report.xml");
    std::fs::create_dir_all(report.parent().unwrap()).unwrap();
    let report_path = report.to_str().unwrap();

    let runs: [(&str, &[&str]); 7] = [
        ("the table", &["jobs"]),
        ("key: value", &["job", "7"]),
        (
            "--field",
            &[
                "job",
                "7",
                "--field",
                "name",
                "--field",
                "failure_reason",
                "--field",
                "web_url",
            ],
        ),
        ("--dotenv", &["job", "7", "--dotenv"]),
        (
            "--dotenv --field",
            &["job", "7", "--dotenv", "--field", "failure_reason"],
        ),
        (
            "wait's verdict on stderr, and --junit",
            &[
                "wait",
                "7",
                "8",
                "9",
                "--interval",
                "5ms",
                "--junit",
                report_path,
            ],
        ),
        ("check's verdict", &["check", "7", "8", "9", "--verbose"]),
    ];
    for (what, args) in runs {
        let run = support::gljob_api(&server, args);
        assert!(run.code == 0 || run.code == 1, "{what}: {}", run.stderr);
        assert!(
            !run.stdout.is_empty() || !run.stderr.is_empty(),
            "{what}: said nothing"
        );
        assert_no_token_decoded(&run.out(), &format!("{what} (stdout)"));
        assert_no_token_decoded(&run.stderr, &format!("{what} (stderr)"));
    }
    let junit = std::fs::read_to_string(&report).expect("the report was written");
    assert!(junit.contains("<testcase"), "{junit}");
    assert_no_token_decoded(&junit, "--junit");

    // An error body quoting the token, encoded: GitLab's words are quoted on stderr.
    for (encoded, content_type) in [
        (every_byte(JOB_TOKEN), "application/json"),
        (dashes(JOB_TOKEN), "text/html"),
    ] {
        let body = format!(r#"{{"message":"401 Unauthorized - token {encoded} is not valid"}}"#);
        server.fault(Fault::status("GET", "/job", 401, &body).content_type(content_type));
        let run = support::gljob(&server, &["job", "--retries", "0"], &[]);
        run.expect(3).says("401");
        assert_no_token_decoded(&run.stderr, "an error quoting the token");
    }
    let _ = std::fs::remove_dir_all(report.parent().unwrap());
}

// 4. An API root without /api/v4.

#[test]
fn an_api_root_without_api_v4_is_named_with_the_fix() {
    let server = GitLab::start(GITLAB_18);
    let bare = format!("http://127.0.0.1:{}", server.port);
    // The test server answers outside /api/v4 as a web server does: 404, text/html.
    for (args, path) in [
        (&["job", "--retries", "0"][..], "/job"),
        (
            &["wait", "deploy", "--retries", "0", "--timeout", "5s"][..],
            "/projects/42/pipelines/1000/jobs",
        ),
    ] {
        for root in [bare.clone(), format!("{bare}/")] {
            let run = support::gljob(&server, args, &[("CI_API_V4_URL", Some(&root))]);
            run.expect(3)
                .says(&format!("{bare}{path} answered 404"))
                .says(&format!(
                    "set CI_API_V4_URL (or --api-url) to {bare}/api/v4"
                ));
            assert_eq!(run.stderr.lines().count(), 1, "{}", run.stderr);
        }
    }
    // GitLab itself, outside /api/v4, sends a request without a session to its sign-in page.
    server.fault(
        Fault::status("GET", "/job", 302, "")
            .content_type("text/html")
            .header("Location", &format!("{bare}/users/sign_in")),
    );
    let run = support::gljob(
        &server,
        &["job", "--retries", "0"],
        &[("CI_API_V4_URL", Some(&bare))],
    );
    run.expect(3)
        .says(&format!(
            "{bare}/job answered 302 (to {bare}/users/sign_in)"
        ))
        .says("/users/sign_in")
        .says(&format!("to {bare}/api/v4"));

    // Under /api/v4, a 404 that is not one of GitLab's names the URL too.
    server.fault(
        Fault::status("GET", "/job", 404, "<html><body>Not Found</body></html>")
            .content_type("text/html"),
    );
    let run = support::gljob(&server, &["job", "--retries", "0"], &[]);
    run.expect(3)
        .says(&format!("{}/job answered 404", server.url))
        .says("is GitLab's API root");

    // GitLab's own 404s keep their words and hints, and suggest nothing about /api/v4.
    for (args, words, hint) in [
        (
            &["job", "12345", "--retries", "0"][..],
            "\"404 Not found\"",
            "no such job in this project",
        ),
        (
            &["job", "7", "--project", "99", "--retries", "0"][..],
            "\"404 Project Not Found\"",
            "check CI_PROJECT_ID or --project",
        ),
    ] {
        let run = support::gljob_api(&server, args);
        run.expect(3)
            .says(&format!("GitLab answered 404 {words}"))
            .says(hint)
            .never_says("api/v4")
            .never_says("not GitLab's API");
    }
}

/// A runner's environment whose API root is an HTTPS server with a CA nobody gave gljob (job 5,
/// `deploy`, is its pipeline's), and that server, which records any request that got through.
fn behind_an_untrusted_certificate() -> (TlsGitLab, Vec<(String, String)>) {
    let tls = TlsGitLab::start(&make_pki());
    let server = GitLab::start((18, 3));
    server.add([Job::new(5, "deploy", "deploy", "running")]);
    let mut env = runner_env(&server);
    env.retain(|(name, _)| name != "CI_API_V4_URL");
    env.push((
        "CI_API_V4_URL".into(),
        format!("https://localhost:{}/api/v4", tls.port),
    ));
    (tls, env)
}

/// A write that never reached GitLab (the TLS handshake failed: a certificate not trusted, the
/// commonest first-run mistake) was not applied: exit 3, "safe to run again", not exit 4 and a
/// request to look at the job first (found by a review).
#[test]
fn a_write_stopped_by_an_untrusted_certificate_was_not_applied() {
    let (tls, mut env) = behind_an_untrusted_certificate();
    env.push(("GITLAB_TOKEN".into(), API_TOKEN.into()));
    let run = run_within(
        &["cancel", "5", "--retries", "0"],
        &env,
        Stdout::Piped,
        Duration::from_secs(20),
    )
    .expect("gljob exits");
    assert_eq!(run.code, 3, "{}", run.stderr);
    assert!(run.stderr.contains("safe to run"), "{}", run.stderr);
    assert!(
        tls.requests.lock().unwrap().is_empty(),
        "no request crossed"
    );
}

/// A failure a longer `--timeout` would meet again (a certificate not trusted) ends with its own
/// exit code (3) when the next try would come past `--timeout`, not with 124, which a gate's
/// `allow_failure: exit_codes: [124]` takes for a mere timeout (found by a review). A pause
/// GitLab asked for (429 with `Retry-After`) past `--timeout` is still 124
/// (`regression::issue8::c4_*`).
#[test]
fn a_lasting_failure_is_not_taken_for_a_timeout() {
    let (_tls, env) = behind_an_untrusted_certificate();
    let run = run_within(
        &["wait", "deploy", "--timeout", "3s"],
        &env,
        Stdout::Piped,
        Duration::from_secs(20),
    )
    .expect("gljob exits");
    assert_eq!(run.code, 3, "{}", run.stderr);
    assert!(run.stderr.contains("past --timeout"), "{}", run.stderr);
    assert!(run.elapsed < Duration::from_secs(5), "{:?}", run.elapsed);
}
