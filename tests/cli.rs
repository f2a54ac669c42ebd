//! The command line as a script writes it, through the built binary: short switches run together,
//! `--flag=value` beside `--flag value`, selectors after `--`, and the one-line usage errors (exit 2,
//! nothing sent) for a value that is missing or looks like a flag.

use crate::support;

use support::gitlab::{API_TOKEN, GitLab, Job};
use support::gljob;

const GITLAB_18: (u32, u32) = (18, 3);
const API: (&str, Option<&str>) = ("GITLAB_TOKEN", Some(API_TOKEN));

/// `-vf` is `-v -f`: the log is followed to the job's end (exit 0 on success) and each request is
/// logged on stderr.
#[test]
fn short_switches_run_together_are_each_given() {
    let server = GitLab::start(GITLAB_18);
    server.add([Job::new(101, "build", "build", "success").log(b"built\n")]);
    let run = gljob(&server, &["trace", "build", "-vf"], &[API]);
    run.expect(0).says("GET http://127.0.0.1").says("-> 200");
    assert_eq!(run.stdout, b"built\n");
    assert!(!server.requests_to("GET", "/trace").is_empty());
}

/// `--field=a --field b` prints the columns in the order given, and `--` ends the flags: the
/// selector after it is a job's name even though it starts with `-`.
#[test]
fn values_keep_their_order_and_two_dashes_end_the_flags() {
    let server = GitLab::start(GITLAB_18);
    server.add([
        Job::new(101, "build", "build", "success"),
        Job::new(102, "-v", "test", "failed"),
    ]);
    let run = gljob(
        &server,
        &["job", "--field=name", "--field", "id", "--", "-v"],
        &[API],
    );
    run.expect(0);
    assert_eq!(run.out(), "-v\t102\n");
    // Not taken for --verbose: nothing logged.
    run.never_says("GET http");
}

/// A flag's value that is missing or looks like a flag is a usage error naming the flag, under the
/// command's prefix, before anything is sent.
#[test]
fn a_missing_value_is_a_usage_error_before_sending() {
    let server = GitLab::start(GITLAB_18);
    server.add([Job::new(101, "build", "build", "success")]);
    let cases: [(&[&str], &str); 4] = [
        (
            &["wait", "build", "--timeout"],
            "gljob wait: --timeout needs a value (see gljob wait --help)\n",
        ),
        (
            &["wait", "build", "--timeout", "--json"],
            "gljob wait: --timeout needs a value, but was followed by '--json'; if that is the \
             value, write --timeout=--json (see gljob wait --help)\n",
        ),
        (
            &["jobs", "-vx"],
            "gljob jobs: unknown flag -vx (see gljob jobs --help)\n",
        ),
        (
            &["jobs", "--verbose=f"],
            "gljob jobs: --verbose takes no value, but was given 'f' (see gljob jobs --help)\n",
        ),
    ];
    for (args, message) in cases {
        let run = gljob(&server, args, &[API]);
        run.expect(2);
        assert_eq!(run.stderr, message, "{args:?}");
    }
    assert!(server.requests().is_empty());
}
