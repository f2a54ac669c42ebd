//! The command line: every flag is documented once, in [`FLAGS`], which drives both `--help` and
//! the check that a flag belongs to the command it was given to.

use crate::config::Overrides;
use crate::duration;
use crate::error::{Error, Result};
use crate::model::Status;
use crate::output::Format;
use crate::select::Selector;
use crate::wait::{DEFAULT_INTERVAL, Policy, WaitOptions};
use std::ffi::OsString;
use std::time::Duration;

/// A flag, what it does, the variable behind it, and the commands that take it (`*`: all).
pub struct FlagDoc {
    pub name: &'static str,
    pub value: &'static str,
    pub help: &'static str,
    pub variable: &'static str,
    pub commands: &'static [&'static str],
}

const SELECTING: &[&str] = &[
    "job", "trace", "play", "cancel", "retry", "erase", "wait", "check",
];
const JUDGING: &[&str] = &["wait", "play", "retry", "check"];

pub const FLAGS: &[FlagDoc] = &[
    FlagDoc {
        name: "--api-url",
        value: "URL",
        help: "GitLab's API root, e.g. https://gitlab.example.com/api/v4",
        variable: "CI_API_V4_URL, else CI_SERVER_URL + /api/v4",
        commands: &["*"],
    },
    FlagDoc {
        name: "--project",
        value: "ID|PATH",
        help: "the project, by numeric id or path (group/sub/project)",
        variable: "CI_PROJECT_ID",
        commands: &["*"],
    },
    FlagDoc {
        name: "--pipeline",
        value: "ID",
        help: "the pipeline whose jobs names and stages are looked up in",
        variable: "CI_PIPELINE_ID",
        commands: &["*"],
    },
    FlagDoc {
        name: "--token",
        value: "TOKEN",
        help: "an access token (personal, project or group): read_api to read, api to act; \
               prefer the variable, which no process listing shows",
        variable: "GITLAB_TOKEN (the job token is always CI_JOB_TOKEN)",
        commands: &["*"],
    },
    FlagDoc {
        name: "--json",
        value: "",
        help: "print GitLab's JSON unchanged (a list as one array across all pages)",
        variable: "",
        commands: &["*"],
    },
    FlagDoc {
        name: "--field",
        value: "PATH",
        help: "print this field (dotted path: pipeline.id, runner.description) of each job, \
               one line per job, tab-separated; repeatable",
        variable: "",
        commands: &["*"],
    },
    FlagDoc {
        name: "--ca-file",
        value: "PATH",
        help: "also trust the CA certificates in this PEM file (the bundled Mozilla roots stay)",
        variable: "CI_SERVER_TLS_CA_FILE, SSL_CERT_FILE (all that are set are trusted)",
        commands: &["*"],
    },
    FlagDoc {
        name: "--request-timeout",
        value: "DURATION",
        help: "give up when GitLab is silent this long: connecting, awaiting an answer, or \
               between two reads of it [default: 30s]",
        variable: "",
        commands: &["*"],
    },
    FlagDoc {
        name: "--retries",
        value: "N",
        help: "retry a read this many times on 429, 5xx and network failures [default: 3]",
        variable: "",
        commands: &["*"],
    },
    FlagDoc {
        name: "--verbose",
        value: "",
        help: "log each request (method, URL, status, time; never a token) on stderr",
        variable: "",
        commands: &["*"],
    },
    FlagDoc {
        name: "--stage",
        value: "NAME",
        help: "select every job of this stage (never the job running gljob); repeatable",
        variable: "",
        commands: SELECTING,
    },
    FlagDoc {
        name: "--dotenv",
        value: "",
        help: "print KEY=VALUE lines for artifacts:reports:dotenv (--field chooses the keys)",
        variable: "",
        commands: &["job"],
    },
    FlagDoc {
        name: "--scope",
        value: "STATUS",
        help: "only jobs in this status (sent as scope[]); repeatable or comma-separated",
        variable: "",
        commands: &["jobs", "bridges"],
    },
    FlagDoc {
        name: "--include-retried",
        value: "",
        help: "list earlier attempts of retried jobs too",
        variable: "",
        commands: &["jobs"],
    },
    FlagDoc {
        name: "--project-wide",
        value: "",
        help: "list the project's jobs (GET /projects/:id/jobs) instead of the pipeline's",
        variable: "",
        commands: &["jobs"],
    },
    FlagDoc {
        name: "--limit",
        value: "N",
        help: "stop after N jobs (fewer pages read)",
        variable: "",
        commands: &["jobs", "bridges"],
    },
    FlagDoc {
        name: "--var",
        value: "KEY=VALUE",
        help: "a job variable for the played job; repeatable",
        variable: "",
        commands: &["play"],
    },
    FlagDoc {
        name: "--force",
        value: "",
        help: "force-cancel a job stuck in canceling (Maintainer)",
        variable: "",
        commands: &["cancel"],
    },
    FlagDoc {
        name: "--wait",
        value: "",
        help: "then wait for what was started, as `gljob wait` does",
        variable: "",
        commands: &["play", "retry"],
    },
    FlagDoc {
        name: "--follow",
        value: "",
        help: "print the log as it grows until the job ends; exit 0 on success, 1 otherwise",
        variable: "",
        commands: &["trace"],
    },
    FlagDoc {
        name: "--timeout",
        value: "DURATION",
        help: "stop after this long and exit 124 (500ms, 30s, 5m, 1h30m); bounds every request, \
               retry and pause, and the exit comes within 2s of it [default: none]",
        variable: "",
        commands: &["wait", "play", "retry", "trace"],
    },
    FlagDoc {
        name: "--interval",
        value: "DURATION",
        help: "time between polls, with ±20% jitter [default: 5s]",
        variable: "",
        commands: &["wait", "play", "retry", "trace"],
    },
    FlagDoc {
        name: "--strict",
        value: "",
        help: "a failed or canceled job does not pass even with allow_failure: true",
        variable: "",
        commands: JUDGING,
    },
    FlagDoc {
        name: "--allow-skipped",
        value: "",
        help: "a skipped job passes",
        variable: "",
        commands: JUDGING,
    },
    FlagDoc {
        name: "--status",
        value: "LIST",
        help: "pass when every job is in one of these statuses (comma-separated) [default: \
               passed, as wait judges it]",
        variable: "",
        commands: &["check"],
    },
];

pub struct CommandDoc {
    pub name: &'static str,
    pub usage: &'static str,
    pub about: &'static str,
}

pub const COMMANDS: &[CommandDoc] = &[
    CommandDoc {
        name: "job",
        usage: "gljob job [SELECTOR]... [--stage NAME]... [--dotenv]",
        about: "Show this job (GET /job, job token), or the selected jobs.",
    },
    CommandDoc {
        name: "agents",
        usage: "gljob agents",
        about: "Show the Kubernetes agents this job may use (GET /job/allowed_agents, job token).",
    },
    CommandDoc {
        name: "jobs",
        usage: "gljob jobs [--scope STATUS]... [--include-retried] [--project-wide] [--limit N]",
        about: "List the pipeline's jobs (all pages), or the project's with --project-wide.",
    },
    CommandDoc {
        name: "bridges",
        usage: "gljob bridges [--scope STATUS]... [--limit N]",
        about: "List the pipeline's bridges (trigger jobs) and their downstream pipelines.",
    },
    CommandDoc {
        name: "trace",
        usage: "gljob trace SELECTOR [--follow [--interval DURATION] [--timeout DURATION]]",
        about: "Print a job's log, bytes unchanged (access token).",
    },
    CommandDoc {
        name: "play",
        usage: "gljob play SELECTOR... [--var KEY=VALUE]... [--wait [WAIT FLAGS]]",
        about: "Play manual jobs (access token with api scope).",
    },
    CommandDoc {
        name: "cancel",
        usage: "gljob cancel SELECTOR... [--force]",
        about: "Cancel jobs (access token with api scope).",
    },
    CommandDoc {
        name: "retry",
        usage: "gljob retry SELECTOR... [--wait [WAIT FLAGS]]",
        about: "Retry jobs; GitLab creates new jobs (access token with api scope).",
    },
    CommandDoc {
        name: "erase",
        usage: "gljob erase SELECTOR...",
        about: "Erase jobs' logs and artifacts (access token with api scope).",
    },
    CommandDoc {
        name: "wait",
        usage: "gljob wait SELECTOR... [--timeout DURATION] [--interval DURATION] [--strict] [--allow-skipped]",
        about: "Wait until every selected job is final; exit 0 passed, 1 not passed, 124 timeout.",
    },
    CommandDoc {
        name: "check",
        usage: "gljob check SELECTOR... [--status LIST] [--strict] [--allow-skipped]",
        about: "Exit 0 if every selected job is now passed (or in --status), else 1. No waiting.",
    },
];

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
        wait: Option<WaitOptions>,
    },
    Cancel {
        selectors: Vec<Selector>,
        force: bool,
    },
    Retry {
        selectors: Vec<Selector>,
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
}

impl Command {
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
        }
    }
}

#[derive(Debug)]
pub struct Invocation {
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

pub const DEFAULT_RETRIES: u32 = 3;

/// Parses the arguments after the program name. Nothing is sent anywhere until this succeeds,
/// so a command with one bad argument does nothing at all.
pub fn parse(args: Vec<OsString>) -> Result<Parsed> {
    let mut p = pico_args::Arguments::from_vec(args);
    if p.contains(["-V", "--version"]) {
        return Ok(Parsed::Help(format!(
            "gljob {}\n",
            env!("CARGO_PKG_VERSION")
        )));
    }
    let help = p.contains(["-h", "--help"]);

    let mut given: Vec<&'static str> = Vec::new();
    let mut seen = |name: &'static str, present: bool| {
        if present {
            given.push(name);
        }
        present
    };

    let api_url: Option<String> = p
        .opt_value_from_str("--api-url")
        .map_err(flag_error("--api-url"))?;
    let project: Option<String> = p
        .opt_value_from_str("--project")
        .map_err(flag_error("--project"))?;
    let pipeline = p
        .opt_value_from_fn("--pipeline", parse_id)
        .map_err(flag_error("--pipeline"))?;
    let token: Option<String> = p
        .opt_value_from_str("--token")
        .map_err(flag_error("--token"))?;
    let ca_file: Option<String> = p
        .opt_value_from_str("--ca-file")
        .map_err(flag_error("--ca-file"))?;
    let json = p.contains("--json");
    let fields: Vec<String> = p
        .values_from_str("--field")
        .map_err(flag_error("--field"))?;
    let request_timeout = p
        .opt_value_from_fn("--request-timeout", duration::parse)
        .map_err(flag_error("--request-timeout"))?;
    let retries: Option<u32> = p
        .opt_value_from_fn("--retries", |t| {
            t.parse::<u32>().map_err(|_| "not a number")
        })
        .map_err(flag_error("--retries"))?;
    let verbose = p.contains("--verbose");

    let stages: Vec<String> = p
        .values_from_str("--stage")
        .map_err(flag_error("--stage"))?;
    let dotenv = seen("--dotenv", p.contains("--dotenv"));
    let scopes: Vec<String> = p
        .values_from_str("--scope")
        .map_err(flag_error("--scope"))?;
    let include_retried = seen("--include-retried", p.contains("--include-retried"));
    let project_wide = seen("--project-wide", p.contains("--project-wide"));
    let limit: Option<usize> = p
        .opt_value_from_fn("--limit", |t| match t.parse::<usize>() {
            Ok(0) | Err(_) => Err("a whole number of jobs, at least 1"),
            Ok(n) => Ok(n),
        })
        .map_err(flag_error("--limit"))?;
    let variables: Vec<String> = p.values_from_str("--var").map_err(flag_error("--var"))?;
    let force = seen("--force", p.contains("--force"));
    let wait = seen("--wait", p.contains("--wait"));
    let follow = seen("--follow", p.contains("--follow"));
    let timeout = p
        .opt_value_from_fn("--timeout", duration::parse)
        .map_err(flag_error("--timeout"))?;
    let interval = p
        .opt_value_from_fn("--interval", duration::parse)
        .map_err(flag_error("--interval"))?;
    let strict = seen("--strict", p.contains("--strict"));
    let allow_skipped = seen("--allow-skipped", p.contains("--allow-skipped"));
    let statuses: Option<String> = p
        .opt_value_from_str("--status")
        .map_err(flag_error("--status"))?;

    for (name, present) in [
        ("--stage", !stages.is_empty()),
        ("--scope", !scopes.is_empty()),
        ("--limit", limit.is_some()),
        ("--var", !variables.is_empty()),
        ("--timeout", timeout.is_some()),
        ("--interval", interval.is_some()),
        ("--status", statuses.is_some()),
    ] {
        seen(name, present);
    }

    let mut free: Vec<String> = Vec::new();
    for arg in p.finish() {
        let arg = arg.into_string().map_err(|bad| {
            Error::usage(format!(
                "argument '{}' is not valid UTF-8",
                bad.to_string_lossy()
            ))
        })?;
        if arg.starts_with('-') && arg.len() > 1 {
            let name = arg.split('=').next().unwrap_or(&arg);
            return Err(Error::usage(
                if FLAGS.iter().any(|f| f.name == name) || ["--help", "--version"].contains(&name) {
                    format!("{name} is given more than once")
                } else {
                    format!("unknown flag {name}; see gljob --help")
                },
            ));
        }
        free.push(arg);
    }

    let mut free = free.into_iter();
    let Some(name) = free.next() else {
        return if help {
            Ok(Parsed::Help(general_help()))
        } else {
            Err(Error::usage(
                "no command given; see gljob --help for the commands",
            ))
        };
    };
    let name = match name.as_str() {
        "help" => {
            return Ok(Parsed::Help(match free.next() {
                Some(topic) => command_help(&topic)?,
                None => general_help(),
            }));
        }
        other => COMMANDS
            .iter()
            .find(|c| c.name == other)
            .map(|c| c.name)
            .ok_or_else(|| Error::usage(format!("unknown command '{other}'; see gljob --help")))?,
    };
    if help {
        return Ok(Parsed::Help(command_help(name)?));
    }
    for flag in &given {
        let doc = FLAGS.iter().find(|f| f.name == *flag);
        if let Some(doc) = doc
            && !doc.commands.contains(&"*")
            && !doc.commands.contains(&name)
        {
            return Err(Error::usage(format!(
                "{flag} does not apply to `gljob {name}`; see gljob {name} --help"
            )));
        }
    }
    if !wait
        && matches!(name, "play" | "retry")
        && (timeout.is_some() || interval.is_some() || strict || allow_skipped)
    {
        return Err(Error::usage(format!(
            "--timeout, --interval, --strict and --allow-skipped need --wait on `gljob {name}`"
        )));
    }
    if (interval.is_some() || timeout.is_some()) && name == "trace" && !follow {
        return Err(Error::usage(
            "--interval and --timeout on `gljob trace` need --follow",
        ));
    }
    if timeout == Some(Duration::ZERO) {
        return Err(Error::usage("--timeout must be more than 0 (e.g. 10m)"));
    }
    if interval == Some(Duration::ZERO) {
        return Err(Error::usage(
            "--interval must be more than 0: polling without a pause would hammer GitLab",
        ));
    }

    let mut selectors: Vec<Selector> = Vec::new();
    for text in free {
        if !SELECTING.contains(&name) {
            return Err(Error::usage(format!(
                "`gljob {name}` takes no argument '{text}'; see gljob {name} --help"
            )));
        }
        selectors.push(Selector::parse(&text).map_err(Error::usage)?);
    }
    for stage in stages {
        if stage.trim().is_empty() {
            return Err(Error::usage("--stage needs a stage name"));
        }
        selectors.push(Selector::Stage(stage));
    }
    let needs_selector = ["trace", "play", "cancel", "retry", "erase", "wait", "check"];
    if selectors.is_empty() && needs_selector.contains(&name) {
        return Err(Error::usage(format!(
            "`gljob {name}` needs a job: an id, a name, a pattern such as 'test:*', or --stage NAME"
        )));
    }
    if name == "trace" && selectors.len() > 1 {
        return Err(Error::usage(
            "`gljob trace` prints one job's log; give one selector",
        ));
    }

    let policy = Policy {
        strict,
        allow_skipped,
    };
    let wait_options = WaitOptions {
        timeout,
        interval: interval.unwrap_or(DEFAULT_INTERVAL),
        policy,
    };
    let format = if dotenv {
        if json {
            return Err(Error::usage("--dotenv and --json exclude each other"));
        }
        Format::Dotenv(fields)
    } else if json {
        if !fields.is_empty() {
            return Err(Error::usage("--field and --json exclude each other"));
        }
        Format::Json
    } else if !fields.is_empty() {
        if fields.iter().any(|f| f.trim().is_empty()) {
            return Err(Error::usage("--field needs a path such as pipeline.id"));
        }
        Format::Fields(fields)
    } else {
        Format::Human
    };
    if name == "trace" && format != Format::Human {
        return Err(Error::usage(
            "`gljob trace` prints the log's bytes; --json and --field do not apply",
        ));
    }

    let command = match name {
        "job" => Command::Job { selectors },
        "agents" => Command::Agents,
        "jobs" => Command::Jobs {
            scopes: split_scopes(&scopes)?,
            include_retried,
            project_wide,
            limit,
        },
        "bridges" => Command::Bridges {
            scopes: split_scopes(&scopes)?,
            limit,
        },
        "trace" => Command::Trace {
            selectors,
            follow,
            interval: interval.unwrap_or(DEFAULT_INTERVAL),
            timeout,
        },
        "play" => Command::Play {
            selectors,
            variables: variables
                .iter()
                .map(|v| parse_variable(v))
                .collect::<Result<_>>()?,
            wait: wait.then_some(wait_options),
        },
        "cancel" => Command::Cancel { selectors, force },
        "retry" => Command::Retry {
            selectors,
            wait: wait.then_some(wait_options),
        },
        "erase" => Command::Erase { selectors },
        "wait" => Command::Wait {
            selectors,
            options: wait_options,
        },
        "check" => Command::Check {
            selectors,
            statuses: statuses
                .map(|s| split_list(&s))
                .transpose()?
                .map(|list| list.into_iter().map(Status::from).collect()),
            policy,
        },
        // `name` was taken from COMMANDS above, and every entry there has an arm here.
        other => return Err(Error::usage(format!("unknown command '{other}'"))),
    };

    Ok(Parsed::Run(Box::new(Invocation {
        command,
        overrides: Overrides {
            api_url,
            project,
            pipeline,
            token,
            request_timeout,
            ca_file,
        },
        format,
        verbose,
        retries: retries.unwrap_or(DEFAULT_RETRIES),
    })))
}

/// pico-args' errors do not always name the flag; ours always do.
fn flag_error(flag: &'static str) -> impl Fn(pico_args::Error) -> Error {
    move |err| {
        Error::usage(match err {
            pico_args::Error::OptionWithoutAValue(_) => format!("{flag} needs a value"),
            pico_args::Error::Utf8ArgumentParsingFailed { value, cause } => {
                format!("{flag} '{value}': {cause}")
            }
            pico_args::Error::NonUtf8Argument => format!("{flag}: the value is not valid UTF-8"),
            other => format!("{flag}: {other}"),
        })
    }
}

fn parse_id(text: &str) -> Result<u64, String> {
    text.trim()
        .parse::<u64>()
        .map_err(|_| format!("'{text}' is not a numeric id"))
}

/// `KEY=VALUE`; the value may be empty or hold `=`, the key may not be empty.
fn parse_variable(text: &str) -> Result<(String, String)> {
    match text.split_once('=') {
        Some((key, value)) if !key.trim().is_empty() => {
            Ok((key.trim().to_string(), value.to_string()))
        }
        _ => Err(Error::usage(format!(
            "--var '{text}' must be KEY=VALUE with a non-empty KEY"
        ))),
    }
}

/// A comma-separated list of GitLab's 13 job statuses. A typo (`sucess`) is a usage error that
/// names the nearest status: a check against a status that never occurs would always fail.
fn split_list(text: &str) -> Result<Vec<String>> {
    let items: Vec<String> = text
        .split(',')
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .collect();
    if items.is_empty() {
        return Err(Error::usage("an empty status list"));
    }
    for item in &items {
        if !Status::KNOWN.contains(&item.as_str()) {
            let nearest = Status::KNOWN
                .iter()
                .min_by_key(|known| edit_distance(item, known))
                .filter(|known| edit_distance(item, known) <= 2)
                .map(|known| format!(" (did you mean '{known}'?)"))
                .unwrap_or_default();
            return Err(Error::usage(format!(
                "'{item}' is not a job status{nearest}; GitLab's 13 are {}",
                Status::KNOWN.join(", ")
            )));
        }
    }
    Ok(items)
}

/// Levenshtein distance, for suggesting what a typo meant.
pub fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut diagonal = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let above = row[j + 1];
            row[j + 1] = (diagonal + usize::from(ca != *cb)).min(row[j] + 1).min(above + 1);
            diagonal = above;
        }
    }
    row[b.len()]
}

fn split_scopes(scopes: &[String]) -> Result<Vec<String>> {
    let mut out = Vec::new();
    for scope in scopes {
        out.extend(split_list(scope)?);
    }
    Ok(out)
}

fn general_help() -> String {
    let mut text = format!(
        "gljob {}: look at and act on GitLab CI jobs from inside a job.\n\n\
         Usage: gljob COMMAND [SELECTOR]... [FLAGS]\n\nCommands:\n",
        env!("CARGO_PKG_VERSION")
    );
    for c in COMMANDS {
        text.push_str(&format!("  {:<9}{}\n", c.name, c.about));
    }
    text.push_str(
        "\nSelectors: a job id (42), a name in the pipeline ('deploy'), a pattern with * and ?\n\
         ('test:*', 'rspec ?/3'), or --stage NAME. The job running gljob is never picked by a\n\
         name, pattern or stage.\n\nFlags for every command:\n",
    );
    text.push_str(&flag_lines(|f| f.commands.contains(&"*")));
    text.push_str(
        "\nExit codes: 0 done/passed, 1 a job did not pass, 2 usage or configuration,\n\
         3 GitLab refused or failed, 124 a wait timed out.\n\
         Run `gljob COMMAND --help` for a command's own flags.\n",
    );
    text
}

fn command_help(name: &str) -> Result<String> {
    let command = COMMANDS
        .iter()
        .find(|c| c.name == name)
        .ok_or_else(|| Error::usage(format!("unknown command '{name}'; see gljob --help")))?;
    let mut text = format!("{}\n\nUsage: {}\n", command.about, command.usage);
    let own = flag_lines(|f| f.commands.contains(&name));
    if !own.is_empty() {
        text.push_str("\nFlags:\n");
        text.push_str(&own);
    }
    text.push_str("\nFlags for every command:\n");
    text.push_str(&flag_lines(|f| f.commands.contains(&"*")));
    Ok(text)
}

fn flag_lines(pick: impl Fn(&FlagDoc) -> bool) -> String {
    let mut text = String::new();
    for flag in FLAGS.iter().filter(|f| pick(f)) {
        let head = if flag.value.is_empty() {
            flag.name.to_string()
        } else {
            format!("{} {}", flag.name, flag.value)
        };
        text.push_str(&format!("  {head:<28}{}\n", flag.help));
        if !flag.variable.is_empty() {
            text.push_str(&format!("  {:<28}[env: {}]\n", "", flag.variable));
        }
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(args: &[&str]) -> Result<Invocation> {
        match parse(args.iter().map(OsString::from).collect())? {
            Parsed::Run(inv) => Ok(*inv),
            Parsed::Help(_) => panic!("help for {args:?}"),
        }
    }

    fn usage_error(args: &[&str]) -> String {
        let err = run(args).unwrap_err();
        assert_eq!(err.exit_code(), crate::error::ExitCode::Usage, "{args:?}");
        err.message().to_string()
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
        assert_eq!(options.interval, DEFAULT_INTERVAL);
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
        assert!(err.message().contains("UTF-8"), "{}", err.message());
    }

    #[test]
    fn help_names_every_flag_and_its_variable() {
        let Parsed::Help(text) = parse(vec!["--help".into()]).unwrap() else {
            panic!()
        };
        for c in COMMANDS {
            assert!(text.contains(c.name));
        }
        for variable in [
            "CI_API_V4_URL",
            "CI_PROJECT_ID",
            "CI_PIPELINE_ID",
            "GITLAB_TOKEN",
        ] {
            assert!(text.contains(variable), "{variable}");
        }
        for c in COMMANDS {
            let Parsed::Help(text) = parse(vec![c.name.into(), "--help".into()]).unwrap() else {
                panic!()
            };
            for flag in FLAGS
                .iter()
                .filter(|f| f.commands.contains(&c.name) || f.commands.contains(&"*"))
            {
                assert!(text.contains(flag.name), "{} lacks {}", c.name, flag.name);
            }
        }
    }
}
