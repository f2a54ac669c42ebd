//! Running the built `gljob` as a runner would: a cleared environment holding only the variables
//! a GitLab runner sets, against the test server. Every run is checked for leaked tokens.
#![allow(dead_code)]

pub mod gitlab;
pub mod net;
pub mod schema;

use gitlab::{API_TOKEN, GitLab, JOB_TOKEN, OWN_JOB_ID, PIPELINE_ID, PROJECT_ID, READ_TOKEN};
use std::io::Read;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

pub struct Run {
    pub code: i32,
    pub stdout: Vec<u8>,
    pub stderr: String,
}

impl Run {
    pub fn out(&self) -> String {
        String::from_utf8_lossy(&self.stdout).into_owned()
    }

    /// Asserts that stderr holds `text`, showing stderr when it does not.
    #[track_caller]
    pub fn says(&self, text: &str) -> &Run {
        assert!(
            self.stderr.contains(text),
            "stderr lacks {text:?}\n--- stderr\n{}",
            self.stderr
        );
        self
    }

    /// Asserts the exit code, showing the streams when it is wrong.
    #[track_caller]
    pub fn expect(&self, code: i32) -> &Run {
        assert_eq!(
            self.code,
            code,
            "exit code\n--- stdout\n{}\n--- stderr\n{}",
            self.out(),
            self.stderr
        );
        self
    }
}

/// The environment a runner gives a job of pipeline [`PIPELINE_ID`] on `server`.
pub fn runner_env(server: &GitLab) -> Vec<(String, String)> {
    [
        ("CI", "true".to_string()),
        ("GITLAB_CI", "true".to_string()),
        ("CI_API_V4_URL", server.url.clone()),
        ("CI_SERVER_URL", format!("http://127.0.0.1:{}", server.port)),
        ("CI_JOB_TOKEN", JOB_TOKEN.to_string()),
        ("CI_PROJECT_ID", PROJECT_ID.to_string()),
        ("CI_PROJECT_PATH", gitlab::PROJECT_PATH.to_string()),
        ("CI_PIPELINE_ID", PIPELINE_ID.to_string()),
        ("CI_JOB_ID", OWN_JOB_ID.to_string()),
        ("CI_JOB_NAME", "deploy-gate".to_string()),
        ("CI_JOB_STAGE", "deploy".to_string()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect()
}

/// Runs gljob with the runner's environment plus `extra` (a value of `None` removes a variable).
pub fn gljob(server: &GitLab, args: &[&str], extra: &[(&str, Option<&str>)]) -> Run {
    let mut env = runner_env(server);
    for (key, value) in extra {
        env.retain(|(k, _)| k != key);
        if let Some(value) = value {
            env.push((key.to_string(), value.to_string()));
        }
    }
    run_with_env(args, &env)
}

/// With an access token of scope `api` in GITLAB_TOKEN.
pub fn gljob_api(server: &GitLab, args: &[&str]) -> Run {
    gljob(server, args, &[("GITLAB_TOKEN", Some(API_TOKEN))])
}

pub fn run_with_env(args: &[&str], env: &[(String, String)]) -> Run {
    let mut child = Command::new(env!("CARGO_BIN_EXE_gljob"))
        .args(args)
        .env_clear()
        .envs(env.iter().map(|(k, v)| (k, v)))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn gljob");
    let mut stdout_pipe = child.stdout.take().expect("stdout");
    let mut stderr_pipe = child.stderr.take().expect("stderr");
    let out_reader = std::thread::spawn(move || {
        let mut buf = Vec::new();
        let _ = stdout_pipe.read_to_end(&mut buf);
        buf
    });
    let err_reader = std::thread::spawn(move || {
        let mut buf = Vec::new();
        let _ = stderr_pipe.read_to_end(&mut buf);
        buf
    });
    // A watchdog, not a timing assumption: a hung gljob fails the test instead of hanging CI.
    let deadline = Instant::now() + Duration::from_secs(120);
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait for gljob") {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("gljob {args:?} did not finish within 120 s");
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    let stdout = out_reader.join().expect("stdout reader");
    let stderr = String::from_utf8_lossy(&err_reader.join().expect("stderr reader")).into_owned();
    let run = Run {
        code: status.code().unwrap_or(-1),
        stdout,
        stderr,
    };
    assert_no_token(&run, args);
    run
}

/// No token, nor a recognisable part of one, may appear in anything gljob prints.
#[track_caller]
pub fn assert_no_token(run: &Run, args: &[&str]) {
    let stdout = run.out();
    for token in [JOB_TOKEN, API_TOKEN, READ_TOKEN] {
        for needle in [token, &token[token.len() - 12..]] {
            assert!(
                !stdout.contains(needle) && !run.stderr.contains(needle),
                "gljob {args:?} printed a token\n--- stdout\n{stdout}\n--- stderr\n{}",
                run.stderr
            );
        }
    }
}
