//! The command line: definitions ([`defs`]), one parsing loop ([`parse`]), validation into a
//! typed [`Invocation`] ([`validate`]), and help ([`help`]), laid out as ripgrep's `flags/` is.
//! Nothing is sent anywhere until [`parse`] succeeds, so a command with one bad argument does
//! nothing at all.

mod defs;
mod help;
mod parse;
mod validate;

pub use defs::CommandName;

use crate::config::{Needs, Overrides, TokenNeed};
use crate::error::Error;
use crate::model::Status;
use crate::output::Format;
use crate::select::Selector;
use crate::wait::{Policy, WaitOptions};
use std::ffi::OsString;
use std::time::Duration;

#[derive(Debug, Clone, PartialEq)]
pub enum Command {
    Job {
        selectors: Vec<Selector>,
    },
    Agents,
    Jobs {
        scopes: Vec<String>,
        include_retried: bool,
        project_wide: bool,
        limit: Option<usize>,
    },
    Bridges {
        scopes: Vec<String>,
        limit: Option<usize>,
        /// `--tree`: the whole tree below the pipeline, for people.
        tree: bool,
    },
    Trace {
        selectors: Vec<Selector>,
        follow: bool,
        interval: Duration,
        timeout: Option<Duration>,
    },
    Play {
        selectors: Vec<Selector>,
        variables: Vec<(String, String)>,
        inputs: Vec<(String, serde_json::Value)>,
        wait: Option<WaitOptions>,
    },
    Cancel {
        selectors: Vec<Selector>,
        force: bool,
    },
    Retry {
        selectors: Vec<Selector>,
        inputs: Vec<(String, serde_json::Value)>,
        wait: Option<WaitOptions>,
    },
    Erase {
        selectors: Vec<Selector>,
    },
    Wait {
        selectors: Vec<Selector>,
        options: WaitOptions,
    },
    Check {
        selectors: Vec<Selector>,
        statuses: Option<Vec<Status>>,
        policy: Policy,
    },
    Artifacts {
        /// One job: by id, name, pattern or `BRIDGE::JOB`; with `reference`, a job name.
        selector: Selector,
        /// `--ref`: the latest successful pipeline of this branch or tag.
        reference: Option<String>,
        /// `--recent`: GitLab's `search_recent_successful_pipelines`.
        recent: bool,
        /// `--path`: one file of the artifacts, as the archive names it (checked: relative).
        path: Option<String>,
        /// `--out`.
        out: std::path::PathBuf,
        /// `--wait`: the job is waited for first.
        wait: Option<WaitOptions>,
        /// `--timeout` without `--wait`: the download's bound.
        timeout: Option<Duration>,
    },
}

impl Command {
    /// What the command needs from the environment and the flags: the project, the configured
    /// pipeline, and which token.
    pub fn needs(&self) -> Needs {
        let by_name = |selectors: &[Selector]| selectors.iter().any(Selector::needs_pipeline);
        let (project, pipeline, token) = match self {
            Command::Job { selectors } if selectors.is_empty() => (false, false, TokenNeed::Job),
            Command::Job { selectors } if !by_name(selectors) => (true, false, TokenNeed::Access),
            Command::Job { .. } => (true, true, TokenNeed::AccessOrJob),
            Command::Agents => (false, false, TokenNeed::Job),
            Command::Jobs { project_wide, .. } => (true, !project_wide, TokenNeed::AccessOrJob),
            Command::Bridges { .. } => (true, true, TokenNeed::AccessOrJob),
            Command::Trace { selectors, .. }
            | Command::Play { selectors, .. }
            | Command::Cancel { selectors, .. }
            | Command::Retry { selectors, .. }
            | Command::Erase { selectors } => (true, by_name(selectors), TokenNeed::Access),
            Command::Wait { .. } | Command::Check { .. } => (true, true, TokenNeed::AccessOrJob),
            // The artifact routes take either token (the job token first).
            Command::Artifacts {
                selector,
                reference,
                wait,
                ..
            } => (
                true,
                reference.is_none() && (wait.is_some() || selector.needs_pipeline()),
                TokenNeed::AccessOrJob,
            ),
        };
        let writes = matches!(
            self,
            Command::Play { .. }
                | Command::Cancel { .. }
                | Command::Retry { .. }
                | Command::Erase { .. }
        );
        Needs {
            project,
            pipeline,
            token,
            writes,
        }
    }

    /// `--timeout`: the deadline of the whole command, where the command waits.
    pub fn timeout(&self) -> Option<Duration> {
        match self {
            Command::Wait { options, .. } => options.timeout,
            Command::Play {
                wait: Some(options),
                ..
            }
            | Command::Retry {
                wait: Some(options),
                ..
            } => options.timeout,
            Command::Trace { timeout, .. } => *timeout,
            Command::Artifacts { wait, timeout, .. } => {
                wait.as_ref().and_then(|w| w.timeout).or(*timeout)
            }
            _ => None,
        }
    }

    pub fn name(&self) -> &'static str {
        match self {
            Command::Job { .. } => "job",
            Command::Agents => "agents",
            Command::Jobs { .. } => "jobs",
            Command::Bridges { .. } => "bridges",
            Command::Trace { .. } => "trace",
            Command::Play { .. } => "play",
            Command::Cancel { .. } => "cancel",
            Command::Retry { .. } => "retry",
            Command::Erase { .. } => "erase",
            Command::Wait { .. } => "wait",
            Command::Check { .. } => "check",
            Command::Artifacts { .. } => "artifacts",
        }
    }
}

/// Where the verdict goes besides the exit code and stderr.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Report {
    /// `--junit FILE`.
    pub junit: Option<std::path::PathBuf>,
    /// `--no-sections` was given.
    pub no_sections: bool,
}

impl Report {
    /// Sections only inside a GitLab job, and not when asked not to or when NO_COLOR is set.
    pub fn sections_enabled(&self, config: &crate::config::Config) -> bool {
        config.in_gitlab_job && !config.no_color && !self.no_sections
    }
}

#[derive(Debug)]
pub struct Invocation {
    pub report: Report,
    pub command: Command,
    pub overrides: Overrides,
    pub format: Format,
    pub verbose: bool,
    pub retries: u32,
}

#[derive(Debug)]
pub enum Parsed {
    Run(Box<Invocation>),
    /// Text for stdout, exit 0.
    Help(String),
}

/// A usage error, and the command it was made on (for the `gljob COMMAND:` prefix).
#[derive(Debug)]
pub struct CliError {
    pub command: Option<CommandName>,
    pub error: Error,
}

/// Parses the arguments after the program name.
pub fn parse(args: Vec<OsString>) -> Result<Parsed, CliError> {
    // Which command the arguments name, for the prefix of an error found before validation.
    let named = args
        .iter()
        .find_map(|a| a.to_str().and_then(CommandName::from_name));
    let raw = match parse::parse_raw(args) {
        Ok(raw) => raw,
        Err(why) => {
            // Point to the help of the command the flag was given to, or to the general one.
            let help = match named {
                Some(command) => format!("gljob {} --help", command.name()),
                None => "gljob --help".to_string(),
            };
            return Err(CliError {
                command: named,
                error: Error::usage(format!("{why} (see {help})")),
            });
        }
    };
    // The command, when one is named, even if a flag was wrong: the prefix says where.
    let (command, parsed) = validate::validate(raw);
    parsed.map_err(|why| CliError {
        command,
        error: Error::usage(why),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(args: &[&str]) -> Result<Invocation, CliError> {
        match parse(args.iter().map(OsString::from).collect())? {
            Parsed::Run(inv) => Ok(*inv),
            Parsed::Help(_) => panic!("help for {args:?}"),
        }
    }

    fn usage_error(args: &[&str]) -> String {
        let err = run(args).unwrap_err();
        assert_eq!(
            err.error.exit_code(),
            crate::error::ExitCode::Usage,
            "{args:?}"
        );
        err.error.message().to_string()
    }

    #[test]
    fn flags_anywhere_and_equals_form() {
        let mut inv = run(&[
            "--json",
            "jobs",
            "--scope=running,pending",
            "--scope",
            "failed",
        ])
        .unwrap();
        assert_eq!(inv.format, Format::Json);
        if let Command::Jobs { scopes, .. } = &mut inv.command {
            scopes.sort();
        }
        assert_eq!(
            inv.command,
            Command::Jobs {
                scopes: vec!["failed".into(), "pending".into(), "running".into()],
                include_retried: false,
                project_wide: false,
                limit: None,
            }
        );
    }

    #[test]
    fn selectors_and_stages_add_up() {
        let inv = run(&[
            "wait",
            "build",
            "test:*",
            "42",
            "--stage",
            "lint",
            "--timeout",
            "1h30m",
        ])
        .unwrap();
        let Command::Wait { selectors, options } = inv.command else {
            panic!()
        };
        assert_eq!(
            selectors,
            vec![
                Selector::Name("build".into()),
                Selector::Name("test:*".into()),
                Selector::Id(42),
                Selector::Stage("lint".into()),
            ]
        );
        assert_eq!(options.timeout, Some(Duration::from_secs(5400)));
        assert_eq!(options.interval, crate::wait::DEFAULT_INTERVAL);
    }

    #[test]
    fn play_variables() {
        let inv = run(&[
            "play", "deploy", "--var", "A=1", "--var", "B=x=y", "--var", "C=",
        ])
        .unwrap();
        let Command::Play {
            variables, wait, ..
        } = inv.command
        else {
            panic!()
        };
        assert_eq!(
            variables,
            vec![
                ("A".into(), "1".into()),
                ("B".into(), "x=y".into()),
                ("C".into(), "".into())
            ]
        );
        assert!(wait.is_none());
    }

    #[test]
    fn bad_input_is_a_usage_error_naming_the_flag() {
        assert!(usage_error(&["play", "deploy", "--var", "NOEQUALS"]).contains("--var"));
        assert!(usage_error(&["play", "deploy", "--var", "=v"]).contains("--var"));
        assert!(usage_error(&["wait", "x", "--timeout", "5x"]).contains("5x"));
        assert!(usage_error(&["wait", "x", "--interval", "0s"]).contains("--interval"));
        assert!(
            usage_error(&["wait", "x", "--timeout", "5s", "--timeout", "6s"])
                .contains("more than once")
        );
        assert!(usage_error(&["wait", "x", "--bogus"]).contains("unknown flag --bogus"));
        assert!(usage_error(&["jobs", "--follow"]).contains("does not apply"));
        assert!(usage_error(&["jobs", "extra"]).contains("takes no argument"));
        assert!(usage_error(&["wait"]).contains("needs a job"));
        assert!(usage_error(&["trace", "a", "b"]).contains("one selector"));
        assert!(usage_error(&["frobnicate"]).contains("unknown command"));
        assert!(usage_error(&[]).contains("no command"));
        assert!(usage_error(&["jobs", "--limit", "0"]).contains("--limit"));
        assert!(usage_error(&["jobs", "--pipeline", "abc"]).contains("abc"));
        assert!(usage_error(&["play", "x", "--timeout", "5s"]).contains("need --wait"));
        assert!(usage_error(&["jobs", "--scope", "Running"]).contains("not a job status"));
        assert!(usage_error(&["job", "--json", "--field", "id"]).contains("exclude"));
        assert!(usage_error(&["wait", "--stage", ""]).contains("--stage"));
        assert!(usage_error(&["wait", ""]).contains("empty"));
    }

    #[test]
    fn non_utf8_arguments_are_refused() {
        use std::os::unix::ffi::OsStringExt;
        let args = vec![OsString::from("wait"), OsString::from_vec(vec![0x66, 0xff])];
        let err = parse(args).unwrap_err();
        assert!(err.error.message().contains("UTF-8"), "{err:?}");
    }

    #[test]
    fn help_names_every_command_and_variable() {
        let Parsed::Help(text) = parse(vec!["--help".into()]).unwrap() else {
            panic!()
        };
        for c in CommandName::ALL {
            assert!(text.contains(c.name()));
        }
        for variable in [
            "CI_API_V4_URL",
            "CI_PROJECT_ID",
            "CI_PIPELINE_ID",
            "GITLAB_TOKEN",
        ] {
            assert!(text.contains(variable), "{variable}");
        }
    }

    #[test]
    fn mistakes_suggest_the_nearest_word_and_name_the_command() {
        let err = run(&["jbos"]).unwrap_err();
        assert!(
            err.error.message().contains("did you mean 'jobs'"),
            "{err:?}"
        );
        let err = run(&["wait", "x", "--tiemout", "5s"]).unwrap_err();
        assert_eq!(err.command, Some(CommandName::Wait));
        assert!(
            err.error.message().contains("did you mean --timeout"),
            "{err:?}"
        );
        let err = run(&["check", "x", "--status", "sucess"]).unwrap_err();
        assert!(
            err.error.message().contains("did you mean 'success'"),
            "{err:?}"
        );
        assert!(err.error.message().contains("scheduled"), "lists the 13");
        assert!(usage_error(&["wait", "x", "--timeout", "0"]).contains("more than 0"));
        assert!(usage_error(&["jobs", "--request-timeout", "0s"]).contains("more than 0"));
        assert!(usage_error(&["trace", "x", "--timeout", "5s"]).contains("--follow"));
    }
}
