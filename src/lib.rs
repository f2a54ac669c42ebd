//! gljob: look at and act on GitLab CI jobs from inside a job. See the README for the contract.
//!
//! The modules, one per concern, with arrows one way: [`cli`] (arguments to an invocation) →
//! [`commands`] (each command) → [`select`], [`wait`], [`output`], [`say`] → [`api`] (GitLab's
//! routes and rules) → [`model`] (what GitLab sends). [`config`], [`deadline`] and [`error`] are
//! shared by all.

pub mod api;
pub(crate) mod cli;
pub(crate) mod commands;
pub(crate) mod config;
pub(crate) mod deadline;
pub(crate) mod duration;
pub(crate) mod error;
pub(crate) mod jitter;
pub(crate) mod junit;
pub mod model;
pub mod output;
pub(crate) mod proxy;
pub(crate) mod redact;
pub(crate) mod say;
pub(crate) mod select;
pub(crate) mod suggest;
pub(crate) mod unzip;
pub(crate) mod url;
pub(crate) mod wait;

use cli::Parsed;
use error::ExitCode;
use std::ffi::OsString;

/// Runs gljob with `args` (without the program name) in this process's environment, and returns
/// the exit code. Everything it says goes to stdout and stderr.
pub fn run(args: Vec<OsString>) -> i32 {
    // `--timeout` counts from here.
    let started = std::time::Instant::now();
    // Before anything can fail and be printed: every secret of the run, from the environment and
    // the flags that may carry one, so that no line of stderr can show it.
    redact::install(redact::Redactor::from_run(
        |name| std::env::var(name).ok(),
        &secret_flags(&args),
    ));
    let junit = junit_flag(&args);
    let code = match cli::parse(args) {
        Ok(Parsed::Help(text)) => {
            use std::io::Write as _;
            let _ = std::io::stdout().write_all(text.as_bytes());
            ExitCode::Done
        }
        Ok(Parsed::Run(invocation)) => {
            let command = invocation.command.name();
            let env = |name: &str| std::env::var(name).ok();
            let outcome =
                config::missing_settings(&invocation.command.needs(), &invocation.overrides, env)
                    .and_then(|()| config::Config::load(&invocation.overrides, env))
                    .and_then(|config| {
                        if let Some(warning) = config.plaintext_warning() {
                            say::line(&format!("gljob: warning: {warning}"));
                        }
                        commands::run(*invocation, config, started)
                    });
            match outcome {
                Ok(code) => code,
                Err(err) => {
                    say::line(&format!("gljob {command}: {err}"));
                    usage_report(junit.as_deref(), &format!("gljob {command}"), &err);
                    err.exit_code()
                }
            }
        }
        Err(cli::CliError { command, error }) => {
            let suite = match command {
                Some(command) => format!("gljob {}", command.name()),
                None => "gljob".to_string(),
            };
            say::line(&format!("{suite}: {error}"));
            usage_report(junit.as_deref(), &suite, &error);
            error.exit_code()
        }
    };
    code.code()
}

/// `--junit FILE` as the command line gives it (`--junit FILE` or `--junit=FILE`), read before
/// the arguments are parsed: a run stopped by a usage error still leaves its report.
fn junit_flag(args: &[OsString]) -> Option<std::path::PathBuf> {
    let mut found = None;
    let mut args = args.iter();
    while let Some(arg) = args.next() {
        let text = arg.to_string_lossy();
        if text == "--" {
            break;
        }
        if text == "--junit" {
            found = args.next().map(std::path::PathBuf::from);
        } else if let Some(value) = text.strip_prefix("--junit=") {
            found = Some(std::path::PathBuf::from(value));
        }
    }
    found.filter(|path| !path.as_os_str().is_empty())
}

/// A usage error (exit 2) writes the report in error, whatever the command had got to: a green
/// report left at that path by an earlier run must not stand for this one (the report is green
/// exactly when gljob exits 0). Other errors are the commands' to report, with what they knew.
fn usage_report(path: Option<&std::path::Path>, suite: &str, err: &error::Error) {
    let Some(path) = path else {
        return;
    };
    if err.exit_code() != ExitCode::Usage || junit::check_path(path).is_err() {
        return;
    }
    if let Err(write) = junit::write(path, &junit::render(suite, &[], &Err(err.clone()))) {
        say::line(&format!("gljob: warning: {}", write.message()));
    }
}

/// The values of `--token` and `--api-url` (either `--flag VALUE` or `--flag=VALUE`), read before
/// the arguments are parsed.
fn secret_flags(args: &[OsString]) -> Vec<(&'static str, String)> {
    let mut found = Vec::new();
    let mut args = args.iter().map(|a| a.to_string_lossy());
    while let Some(arg) = args.next() {
        for flag in ["--token", "--api-url"] {
            if arg == flag {
                if let Some(value) = args.next() {
                    found.push((flag, value.into_owned()));
                }
            } else if let Some(value) = arg.strip_prefix(flag).and_then(|r| r.strip_prefix('=')) {
                found.push((flag, value.to_string()));
            }
        }
    }
    found
}
