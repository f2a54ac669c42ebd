//! Running the built `gljob` as a runner would: a cleared environment holding only the variables
//! a GitLab runner sets, against the test server. Every run is checked for leaked tokens.
#![allow(dead_code)]

pub mod gitlab;
pub mod junit;
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
    /// Wall time from spawn to exit.
    pub elapsed: Duration,
}

/// Where gljob's stdout goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stdout {
    /// A pipe read to its end.
    Piped,
    /// `>/dev/full`: every write fails with ENOSPC.
    Full,
    /// `| head -c N`: the reader takes N bytes, then closes the pipe.
    Head(usize),
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

    /// Asserts that stderr does not hold `text`, showing stderr when it does.
    #[track_caller]
    pub fn never_says(&self, text: &str) -> &Run {
        assert!(
            !self.stderr.contains(text),
            "stderr holds {text:?}\n--- stderr\n{}",
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
    run_to(args, env, Stdout::Piped)
}

/// Like [`gljob`], with stdout going to `stdout`.
pub fn gljob_to(
    server: &GitLab,
    args: &[&str],
    extra: &[(&str, Option<&str>)],
    stdout: Stdout,
) -> Run {
    let mut env = runner_env(server);
    for (key, value) in extra {
        env.retain(|(k, _)| k != key);
        if let Some(value) = value {
            env.push((key.to_string(), value.to_string()));
        }
    }
    run_to(args, &env, stdout)
}

pub fn run_to(args: &[&str], env: &[(String, String)], stdout: Stdout) -> Run {
    run_within(args, env, stdout, Duration::from_secs(120))
        .unwrap_or_else(|| panic!("gljob {args:?} did not finish within 120 s"))
}

/// Runs gljob, killing it after `limit`: `None` when it had to be killed.
pub fn run_within(
    args: &[&str],
    env: &[(String, String)],
    stdout: Stdout,
    limit: Duration,
) -> Option<Run> {
    let started = Instant::now();
    let out = match stdout {
        Stdout::Full => Stdio::from(
            std::fs::OpenOptions::new()
                .write(true)
                .open("/dev/full")
                .expect("/dev/full"),
        ),
        Stdout::Piped | Stdout::Head(_) => Stdio::piped(),
    };
    let mut child = Command::new(env!("CARGO_BIN_EXE_gljob"))
        .args(args)
        .env_clear()
        .envs(env.iter().map(|(k, v)| (k, v)))
        .stdin(Stdio::null())
        .stdout(out)
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn gljob");
    let stdout_pipe = child.stdout.take();
    let mut stderr_pipe = child.stderr.take().expect("stderr");
    let out_reader = std::thread::spawn(move || {
        let mut buf = Vec::new();
        if let Some(mut pipe) = stdout_pipe {
            match stdout {
                Stdout::Head(n) => {
                    let _ = (&mut pipe).take(n as u64).read_to_end(&mut buf);
                    drop(pipe);
                }
                _ => {
                    let _ = pipe.read_to_end(&mut buf);
                }
            }
        }
        buf
    });
    let err_reader = std::thread::spawn(move || {
        let mut buf = Vec::new();
        let _ = stderr_pipe.read_to_end(&mut buf);
        buf
    });
    // A watchdog, not a timing assumption: a hung gljob fails the test instead of hanging CI.
    let deadline = Instant::now() + limit;
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait for gljob") {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            return None;
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    let stdout = out_reader.join().expect("stdout reader");
    let stderr = String::from_utf8_lossy(&err_reader.join().expect("stderr reader")).into_owned();
    let run = Run {
        code: status.code().unwrap_or(-1),
        stdout,
        stderr,
        elapsed: started.elapsed(),
    };
    assert_no_token(&run, args);
    Some(run)
}

/// Passwords the tests put in URLs (userinfo, proxy credentials): searched for in every run too.
pub const URL_SECRET: &str = "glpat-URLuserinfoSECRET77";
pub const PROXY_PASSWORDS: [&str; 2] = ["Pr0xySecret", "Pa55/w0rdXYZ"];

/// No token, nor a recognisable part of one, nor a URL's password, may appear in anything gljob
/// prints.
#[track_caller]
pub fn assert_no_token(run: &Run, args: &[&str]) {
    let stdout = run.out();
    for password in PROXY_PASSWORDS {
        assert!(
            !stdout.contains(password) && !run.stderr.contains(password),
            "gljob {args:?} printed a proxy password\n--- stdout\n{stdout}\n--- stderr\n{}",
            run.stderr
        );
    }
    for token in [JOB_TOKEN, API_TOKEN, READ_TOKEN, URL_SECRET] {
        // The whole token, and either end of it: a message cut short keeps its start.
        for needle in [token, &token[token.len() - 12..], &token[..12]] {
            assert!(
                !stdout.contains(needle) && !run.stderr.contains(needle),
                "gljob {args:?} printed a token\n--- stdout\n{stdout}\n--- stderr\n{}",
                run.stderr
            );
        }
    }
}

/// None of `secrets` (nor, for those of 12 characters or more, their last 12) appears in any
/// output of `run`.
#[track_caller]
pub fn assert_no_secret(run: &Run, secrets: &[&str], what: &str) {
    let stdout = run.out();
    for secret in secrets {
        let mut needles = vec![secret.to_string()];
        if secret.len() >= 12 {
            needles.push(secret[secret.len() - 12..].to_string());
        }
        for needle in needles {
            assert!(
                !stdout.contains(&needle) && !run.stderr.contains(&needle),
                "{what}: printed the secret {needle:?}\n--- stdout\n{stdout}\n--- stderr\n{}",
                run.stderr
            );
        }
    }
}

/// GitLab's log-section markers, the only escape sequences gljob writes itself (inside a GitLab
/// job, around a wait's progress), removed so that what is left can be checked for control
/// characters that came from elsewhere. Only markers of exactly GitLab's shape are removed.
pub fn strip_section_markers(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(i) = rest.find("\x1b[0Ksection_") {
        out.push_str(&rest[..i]);
        let marker = &rest[i + "\x1b[0K".len()..];
        let end = marker.find("\r\x1b[0K");
        let well_formed = end.is_some_and(|end| {
            let body = &marker[..end];
            let mut parts = body.splitn(3, ':');
            let kind = parts.next().unwrap_or_default();
            let time = parts.next().unwrap_or_default();
            let name = parts.next().unwrap_or_default();
            let name = name.strip_suffix("[collapsed=true]").unwrap_or(name);
            matches!(kind, "section_start" | "section_end")
                && !time.is_empty()
                && time.bytes().all(|b| b.is_ascii_digit())
                && !name.is_empty()
                && name
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'))
        });
        match (well_formed, end) {
            (true, Some(end)) => rest = &marker[end + "\r\x1b[0K".len()..],
            _ => {
                out.push_str(&rest[i..i + 1]);
                rest = &rest[i + 1..];
            }
        }
    }
    out.push_str(rest);
    out
}

/// The first raw control character (other than a line's own `\n`) in `text`, with its offset,
/// GitLab's section markers aside.
pub fn control_char(text: &[u8]) -> Option<(usize, u8)> {
    let text = strip_section_markers(&String::from_utf8_lossy(text));
    text.char_indices()
        .find(|(_, c)| (c.is_control() && *c != '\n') || ('\u{80}'..='\u{9f}').contains(c))
        .map(|(i, c)| (i, c as u32 as u8))
}

/// No raw control character in human output (stdout and stderr).
#[track_caller]
pub fn assert_no_control(run: &Run, stdout_too: bool, what: &str) {
    let streams: &[(&str, &[u8])] = if stdout_too {
        &[("stdout", &run.stdout), ("stderr", run.stderr.as_bytes())]
    } else {
        &[("stderr", run.stderr.as_bytes())]
    };
    for (name, bytes) in streams {
        if let Some((at, c)) = control_char(bytes) {
            panic!(
                "{what}: raw control character {c:#04x} at byte {at} of {name}\n--- stdout\n{:?}\n--- stderr\n{:?}",
                run.out(),
                run.stderr
            );
        }
    }
}
