//! Configuration from the job's environment, with flags taking precedence over their variables.

use crate::error::{Error, Result};
use crate::proxy::{self, ProxyUrl};
use crate::url::ApiRoot;
use std::fmt;
use std::time::Duration;

/// A token. It has no `Display`, and its `Debug` prints a placeholder, so no error, log line or
/// panic message can carry it by accident; [`Secret::expose`] is the one door out, used only to
/// build the request header.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

/// The flags that override variables; `None` means the flag was not given.
#[derive(Debug, Default, Clone)]
pub struct Overrides {
    pub api_url: Option<String>,
    pub project: Option<String>,
    pub pipeline: Option<u64>,
    pub token: Option<String>,
    pub request_timeout: Option<Duration>,
    pub ca_file: Option<String>,
}

/// Which token a command needs, as [`missing_settings`] checks it (the routes' own rules are
/// `api::TokenRule`; this is the command's, known before anything is sent).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenNeed {
    /// Only the job token reads the job's own job.
    Job,
    /// The job token (GitLab 18.0+ inside a job) or an access token.
    AccessOrJob,
    /// An access token.
    Access,
}

/// What a command needs from the environment and the flags.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Needs {
    /// The project (`CI_PROJECT_ID`).
    pub project: bool,
    /// The configured pipeline (`CI_PIPELINE_ID`), where names and stages are looked up.
    pub pipeline: bool,
    pub token: TokenNeed,
    /// Whether the command writes (an access token with `api`, not `read_api`).
    pub writes: bool,
}

/// Every setting the command needs and the environment and flags lack, named in one message
/// (not one per run), before anything is sent.
pub fn missing_settings(
    needs: &Needs,
    overrides: &Overrides,
    env: impl Fn(&str) -> Option<String>,
) -> Result<()> {
    let set = |flag: &Option<String>, variable: &str| {
        flag.as_deref().is_some_and(|v| !v.trim().is_empty())
            || env(variable).is_some_and(|v| !v.trim().is_empty())
    };
    let mut missing: Vec<&str> = Vec::new();
    if !set(&overrides.api_url, "CI_API_V4_URL") && !set(&None, "CI_SERVER_URL") {
        missing.push(
            "CI_API_V4_URL (or CI_SERVER_URL, or --api-url https://gitlab.example.com/api/v4)",
        );
    }
    if needs.project && !set(&overrides.project, "CI_PROJECT_ID") {
        missing.push("CI_PROJECT_ID (or --project ID|group/project)");
    }
    if needs.pipeline && overrides.pipeline.is_none() && !set(&None, "CI_PIPELINE_ID") {
        missing.push("CI_PIPELINE_ID (or --pipeline ID), where names and stages are looked up");
    }
    let access = set(&overrides.token, "GITLAB_TOKEN");
    let job = set(&None, "CI_JOB_TOKEN");
    let access_needed = if needs.writes {
        "GITLAB_TOKEN (or --token): an access token with the api scope (GitLab does not accept \
         CI_JOB_TOKEN to play, cancel, retry or erase)"
    } else {
        "GITLAB_TOKEN (or --token): an access token with the read_api scope (GitLab does not \
         accept CI_JOB_TOKEN on this route)"
    };
    match needs.token {
        TokenNeed::Job if !job => {
            missing.push("CI_JOB_TOKEN (this reads the job's own job: run it inside a CI job)")
        }
        TokenNeed::AccessOrJob if !job && !access => missing.push(
            "a token: CI_JOB_TOKEN inside a job (GitLab 18.0+), or GITLAB_TOKEN/--token with the \
             read_api scope",
        ),
        TokenNeed::Access if !access => missing.push(access_needed),
        _ => {}
    }
    if missing.is_empty() {
        return Ok(());
    }
    Err(Error::usage(format!(
        "missing {}: {}",
        if missing.len() == 1 {
            "a setting"
        } else {
            "settings"
        },
        missing.join("; ")
    )))
}
/// PEM text of CA certificates to trust besides the bundled Mozilla roots, and where it came from.
#[derive(Debug, Clone)]
pub struct CaBundle {
    pub source: String,
    pub pem: Vec<u8>,
}

#[derive(Debug, Clone)]
pub struct Config {
    pub api_root: ApiRoot,
    /// Where `api_root` came from, for error messages.
    pub api_root_source: &'static str,
    /// The project as the user gave it (id or path); see [`Config::project_segment`].
    pub project: Option<String>,
    pub pipeline: Option<u64>,
    /// `CI_JOB_ID`: the job running gljob, never picked by a name, wildcard or stage.
    pub own_job_id: Option<u64>,
    pub job_token: Option<Secret>,
    pub access_token: Option<Secret>,
    pub request_timeout: Duration,
    pub proxy: Option<ProxyUrl>,
    pub extra_cas: Vec<CaBundle>,
    /// `GITLAB_CI=true`: gljob runs inside a GitLab job, whose log folds sections.
    pub in_gitlab_job: bool,
    /// `NO_COLOR` is set: no escape sequences of gljob's own.
    pub no_color: bool,
}

pub const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

impl Config {
    /// Reads the configuration. `env` is the process environment in production and a map in tests.
    /// An empty variable counts as unset: runners export empty values for unset CI/CD variables.
    pub fn load(overrides: &Overrides, env: impl Fn(&str) -> Option<String>) -> Result<Config> {
        let env = |name: &str| env(name).filter(|v| !v.trim().is_empty());

        let (raw_root, api_root_source) = if let Some(url) = overrides.api_url.clone() {
            (url, "--api-url")
        } else if let Some(url) = env("CI_API_V4_URL") {
            (url, "CI_API_V4_URL")
        } else if let Some(server) = env("CI_SERVER_URL") {
            (
                format!("{}/api/v4", server.trim().trim_end_matches('/')),
                "CI_SERVER_URL",
            )
        } else {
            return Err(Error::usage(
                "no GitLab API URL: set CI_API_V4_URL (GitLab's runner sets it in every job), \
                 CI_SERVER_URL, or pass --api-url https://gitlab.example.com/api/v4",
            ));
        };
        let api_root = ApiRoot::parse(&raw_root)
            .map_err(|why| Error::usage(format!("{api_root_source} is not usable: {why}")))?;

        let proxy = proxy::choose(&api_root, env)?;
        // CA files matter only to TLS; a plain http:// root does not read (or parse) them.
        let extra_cas = if api_root.uses_tls() {
            load_cas(overrides.ca_file.as_deref(), &env)?
        } else {
            Vec::new()
        };

        let pipeline = match overrides.pipeline {
            Some(id) => Some(id),
            None => parse_id_var(&env, "CI_PIPELINE_ID")?,
        };

        Ok(Config {
            api_root,
            api_root_source,
            project: match &overrides.project {
                Some(project) if project.trim().is_empty() => {
                    return Err(Error::usage(
                        "--project is empty: give a project id or path (group/project)",
                    ));
                }
                Some(project) => Some(project.clone()),
                None => env("CI_PROJECT_ID"),
            },
            pipeline,
            own_job_id: parse_id_var(&env, "CI_JOB_ID")?,
            job_token: secret("CI_JOB_TOKEN", env("CI_JOB_TOKEN"))?,
            access_token: match overrides.token.clone().filter(|t| !t.trim().is_empty()) {
                Some(token) => secret("--token", Some(token))?,
                None => secret("GITLAB_TOKEN", env("GITLAB_TOKEN"))?,
            },
            request_timeout: match overrides.request_timeout {
                Some(timeout) if timeout.is_zero() => {
                    return Err(Error::usage(
                        "--request-timeout must be more than 0 (e.g. 30s)",
                    ));
                }
                Some(timeout) => timeout,
                None => DEFAULT_REQUEST_TIMEOUT,
            },
            proxy,
            extra_cas,
            in_gitlab_job: env("GITLAB_CI").is_some_and(|v| v.trim() == "true"),
            no_color: env("NO_COLOR").is_some(),
        })
    }

    /// The project as a path segment: a numeric id as is, a path URL-encoded (`group%2Fproject`).
    pub fn project_segment(&self) -> Result<String> {
        match &self.project {
            Some(project) => Ok(crate::url::encode(project.trim())),
            None => Err(Error::usage(
                "no project: set CI_PROJECT_ID (the runner sets it) or pass --project ID|group/project",
            )),
        }
    }

    pub fn pipeline_id(&self) -> Result<u64> {
        self.pipeline.ok_or_else(|| {
            Error::usage(
                "no pipeline: set CI_PIPELINE_ID (the runner sets it) or pass --pipeline ID",
            )
        })
    }
}

impl Config {
    /// Some GitLabs do run on plain HTTP; the token then crosses the network readable by anyone
    /// on the path. Loopback is exempt: nothing crosses a network there.
    pub fn plaintext_warning(&self) -> Option<String> {
        (!self.api_root.uses_tls() && !self.api_root.is_loopback()).then(|| {
            format!(
                "{} uses plain http://: the token travels unencrypted to {}",
                self.api_root_source,
                self.api_root.host()
            )
        })
    }
}

/// `--ca-file`, `CI_SERVER_TLS_CA_FILE` and `SSL_CERT_FILE`, all of them, each a path to a PEM file
/// that may hold a chain. Runners before 16.6 put the PEM text itself in `CI_SERVER_TLS_CA_FILE`, so
/// a value that is PEM is taken as it is.
fn load_cas(flag: Option<&str>, env: &impl Fn(&str) -> Option<String>) -> Result<Vec<CaBundle>> {
    let mut sources: Vec<(String, String)> = Vec::new();
    if let Some(path) = flag {
        sources.push(("--ca-file".into(), path.to_string()));
    }
    for name in ["CI_SERVER_TLS_CA_FILE", "SSL_CERT_FILE"] {
        if let Some(value) = env(name) {
            sources.push((name.into(), value));
        }
    }
    sources
        .into_iter()
        .map(|(source, value)| {
            let pem = if value.contains("-----BEGIN") {
                value.into_bytes()
            } else {
                read_ca_file(&source, value.trim())?
            };
            Ok(CaBundle { source, pem })
        })
        .collect()
}

/// A token, trimmed. One holding a line break or another control character would be refused by
/// the HTTP layer after the fact (or split a header): it is a usage error, naming where it came
/// from and never showing it.
fn secret(source: &str, value: Option<String>) -> Result<Option<Secret>> {
    match value {
        None => Ok(None),
        Some(value) if value.trim().chars().any(char::is_control) => Err(Error::usage(format!(
            "{source} holds a line break or another control character; set it to the token alone"
        ))),
        Some(value) => Ok(Some(Secret(value.trim().to_string()))),
    }
}

/// A CA bundle is a regular file of at most [`MAX_CA_FILE`] bytes: a FIFO would block on open and
/// `/dev/zero` would never end, neither bounded by `--timeout` (reading happens before any
/// request), so they are refused by their kind before they are opened.
const MAX_CA_FILE: u64 = 4 * 1024 * 1024;

/// `O_NONBLOCK`, which std does not name: the kernel's generic value, that of every Linux
/// architecture gljob is built for (x86_64, aarch64); macOS and the BSDs use 4.
#[cfg(target_os = "linux")]
const O_NONBLOCK: i32 = 0o4000;
#[cfg(all(unix, not(target_os = "linux")))]
const O_NONBLOCK: i32 = 0x0004;

/// Reads a CA file, or refuses it when that would wait. Some regular files block: `/proc/kmsg`
/// (a read waits for the kernel's next message), a file another process holds a lease on (an open
/// waits up to `/proc/sys/fs/lease-break-time`, 45 s). Opened with `O_NONBLOCK`, the open and every
/// read answer at once (`WouldBlock` where they would wait), while an ordinary file reads as
/// usual: the flag changes nothing for data already on a disk. That is simpler than reading on a
/// thread bounded by `--timeout`, and a config error says what to fix where a timeout would not
/// (`docs/platform-behaviour.md` §2).
fn read_ca_file(source: &str, path: &str) -> Result<Vec<u8>> {
    use std::io::{ErrorKind, Read as _};
    let refuse = |why: String| Error::usage(format!("{source}: the CA file '{path}' {why}"));
    let would_wait = || {
        refuse(format!(
            "cannot be read without waiting (another process holds it, or it is a kernel or \
             device file rather than data); point {source} at a PEM file of certificates"
        ))
    };
    let meta = std::fs::metadata(path)
        .map_err(|e| Error::usage(format!("{source}: cannot read the CA file '{path}': {e}")))?;
    if !meta.is_file() {
        return Err(refuse("is not a regular file".into()));
    }
    let mut options = std::fs::OpenOptions::new();
    options.read(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::custom_flags(&mut options, O_NONBLOCK);
    let file = match options.open(path) {
        Ok(file) => file,
        Err(e) if e.kind() == ErrorKind::WouldBlock => return Err(would_wait()),
        Err(e) => return Err(refuse(format!("cannot be read: {e}"))),
    };
    // What was opened, not what the path named a moment before, must be a regular file.
    if !file.metadata().is_ok_and(|meta| meta.is_file()) {
        return Err(refuse("is not a regular file".into()));
    }
    let mut pem = Vec::new();
    let mut reader = file.take(MAX_CA_FILE + 1);
    let mut buffer = [0u8; 16 * 1024];
    loop {
        match reader.read(&mut buffer) {
            Ok(0) => break,
            Ok(n) => pem.extend_from_slice(&buffer[..n]),
            Err(e) if e.kind() == ErrorKind::Interrupted => continue,
            Err(e) if e.kind() == ErrorKind::WouldBlock => return Err(would_wait()),
            Err(e) => return Err(refuse(format!("cannot be read: {e}"))),
        }
    }
    if pem.len() as u64 > MAX_CA_FILE {
        return Err(refuse(format!("is larger than {} MiB", MAX_CA_FILE >> 20)));
    }
    Ok(pem)
}

fn parse_id_var(env: &impl Fn(&str) -> Option<String>, name: &str) -> Result<Option<u64>> {
    match env(name) {
        None => Ok(None),
        Some(text) => text
            .trim()
            .parse::<u64>()
            .map(Some)
            .map_err(|_| Error::usage(format!("{name} must be a numeric id, not '{text}'"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn load(vars: &[(&str, &str)], overrides: Overrides) -> Result<Config> {
        let map: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Config::load(&overrides, |name| map.get(name).cloned())
    }

    #[test]
    fn api_root_precedence_and_normalisation() {
        let both = [
            ("CI_API_V4_URL", "https://a.example/gitlab/api/v4/"),
            ("CI_SERVER_URL", "https://b.example"),
        ];
        assert_eq!(
            load(&both, Overrides::default()).unwrap().api_root.as_str(),
            "https://a.example/gitlab/api/v4"
        );
        assert_eq!(
            load(&both[1..], Overrides::default())
                .unwrap()
                .api_root
                .as_str(),
            "https://b.example/api/v4"
        );
        let flag = Overrides {
            api_url: Some("http://127.0.0.1:9/api/v4".into()),
            ..Overrides::default()
        };
        let config = load(&both, flag).unwrap();
        assert_eq!(config.api_root.as_str(), "http://127.0.0.1:9/api/v4");
        assert_eq!(config.api_root_source, "--api-url");
    }

    #[test]
    fn missing_or_malformed_api_root_is_a_usage_error() {
        let err = load(&[], Overrides::default()).unwrap_err();
        assert!(err.message().contains("CI_API_V4_URL"));
        for bad in [
            "ftp://x/api/v4",
            "gitlab.example.com",
            "https:///api/v4",
            "https://u@h/api",
        ] {
            let err = load(&[("CI_API_V4_URL", bad)], Overrides::default()).unwrap_err();
            assert_eq!(err.exit_code(), crate::error::ExitCode::Usage, "{bad}");
        }
    }

    #[test]
    fn tokens_flags_and_empty_variables() {
        let vars = [
            ("CI_API_V4_URL", "https://h/api/v4"),
            ("CI_JOB_TOKEN", "job-secret"),
            ("GITLAB_TOKEN", ""),
            ("CI_PIPELINE_ID", "77"),
            ("CI_JOB_ID", "5"),
        ];
        let config = load(&vars, Overrides::default()).unwrap();
        assert_eq!(config.job_token.as_ref().unwrap().expose(), "job-secret");
        assert!(
            config.access_token.is_none(),
            "an empty GITLAB_TOKEN is unset"
        );
        assert_eq!(config.pipeline, Some(77));
        assert_eq!(config.own_job_id, Some(5));
        assert!(!format!("{config:?}").contains("job-secret"));

        let flag = Overrides {
            token: Some("pat".into()),
            pipeline: Some(9),
            ..Overrides::default()
        };
        let config = load(&vars, flag).unwrap();
        assert_eq!(config.access_token.unwrap().expose(), "pat");
        assert_eq!(config.pipeline, Some(9));
    }

    #[test]
    fn non_numeric_ids_are_refused() {
        let vars = [
            ("CI_API_V4_URL", "https://h/api/v4"),
            ("CI_PIPELINE_ID", "x1"),
        ];
        let err = load(&vars, Overrides::default()).unwrap_err();
        assert!(err.message().contains("CI_PIPELINE_ID"));
    }

    #[test]
    fn ca_files_are_read_for_https_roots_only() {
        let missing = ("SSL_CERT_FILE", "/nonexistent/bundle.pem");
        let http = load(
            &[("CI_API_V4_URL", "http://127.0.0.1:1/api/v4"), missing],
            Overrides::default(),
        );
        assert!(http.unwrap().extra_cas.is_empty());
        let https = load(
            &[("CI_API_V4_URL", "https://h/api/v4"), missing],
            Overrides::default(),
        );
        assert!(https.unwrap_err().message().contains("SSL_CERT_FILE"));
        let pem = "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n";
        let inline = load(
            &[
                ("CI_API_V4_URL", "https://h/api/v4"),
                ("CI_SERVER_TLS_CA_FILE", pem),
            ],
            Overrides::default(),
        )
        .unwrap();
        assert_eq!(inline.extra_cas[0].source, "CI_SERVER_TLS_CA_FILE");
        assert_eq!(inline.extra_cas[0].pem, pem.as_bytes());
    }

    #[test]
    fn plain_http_warns_except_on_loopback() {
        let config = |url: &str| load(&[("CI_API_V4_URL", url)], Overrides::default()).unwrap();
        assert!(
            config("http://gitlab.internal/api/v4")
                .plaintext_warning()
                .is_some()
        );
        assert!(
            config("http://127.0.0.1:8080/api/v4")
                .plaintext_warning()
                .is_none()
        );
        assert!(
            config("http://[::1]:8080/api/v4")
                .plaintext_warning()
                .is_none()
        );
        assert!(
            config("https://gitlab.internal/api/v4")
                .plaintext_warning()
                .is_none()
        );
    }
}
