//! From raw arguments to a typed invocation: the command, converted values, and every rule that
//! ties flags together. Nothing here reads the environment or sends anything.

use super::defs::{CommandName, RawArgs};
use super::{Command, Invocation, Parsed, help};
use crate::config::Overrides;
use crate::duration;
use crate::model::Status;
use crate::output::Format;
use crate::select::Selector;
use crate::suggest;
use crate::wait::{DEFAULT_INTERVAL, Policy, WaitOptions};
use std::time::Duration;

pub const DEFAULT_RETRIES: u32 = 3;

/// The command the arguments name (`None` when they name none), and the validated invocation or
/// the complaint.
pub fn validate(raw: RawArgs) -> (Option<CommandName>, Result<Parsed, String>) {
    if raw.version {
        return (None, Ok(Parsed::Help(help::version())));
    }
    let mut positional = raw.positional.iter();
    let Some(first) = positional.next() else {
        return if raw.help {
            (None, Ok(Parsed::Help(help::general())))
        } else {
            (
                None,
                Err("no command given; see gljob --help for the commands".into()),
            )
        };
    };
    if first == "help" {
        return match positional.next() {
            None => (None, Ok(Parsed::Help(help::general()))),
            Some(topic) => match CommandName::from_name(topic) {
                Some(command) => (Some(command), Ok(Parsed::Help(help::command(command)))),
                None => (None, Err(unknown_command(topic))),
            },
        };
    }
    let Some(command) = CommandName::from_name(first) else {
        return (None, Err(unknown_command(first)));
    };
    if raw.help {
        return (Some(command), Ok(Parsed::Help(help::command(command))));
    }
    let selectors: Vec<String> = positional.cloned().collect();
    (
        Some(command),
        invocation(command, raw, selectors).map(|i| Parsed::Run(Box::new(i))),
    )
}

fn unknown_command(given: &str) -> String {
    let names = CommandName::ALL.iter().map(|c| c.name());
    match suggest::nearest(given, names) {
        Some(near) => {
            format!("unknown command '{given}'; did you mean '{near}'? (see gljob {near} --help)")
        }
        None => format!("unknown command '{given}'; see gljob --help for the commands"),
    }
}

fn invocation(
    command: CommandName,
    raw: RawArgs,
    selector_texts: Vec<String>,
) -> Result<Invocation, String> {
    check_flags(command, &raw, &selector_texts)?;
    let junit = match &raw.junit {
        Some(path) if path.trim().is_empty() => return Err("--junit needs a file name".into()),
        Some(path) => {
            let path = std::path::PathBuf::from(path);
            crate::junit::check_path(&path)?;
            Some(path)
        }
        None => None,
    };
    let selectors = selectors(command, &raw, &selector_texts)?;
    let wait_options = wait_options(&raw)?;
    let format = format(&raw, command)?;
    let parsed = typed_command(command, &raw, selectors, wait_options, &format)?;
    let overrides = overrides(&raw)?;
    let retries = raw
        .retries
        .as_deref()
        .map(|t| {
            t.trim()
                .parse::<u32>()
                .map_err(|_| format!("--retries '{t}' must be a whole number"))
        })
        .transpose()?
        .unwrap_or(DEFAULT_RETRIES);
    Ok(Invocation {
        report: super::Report {
            junit,
            no_sections: raw.no_sections,
        },
        command: parsed,
        overrides,
        format,
        verbose: raw.verbose,
        retries,
    })
}

/// The rules between the command and its flags and arguments that need no conversion: which
/// flags apply, whether it takes selectors, and the flags that only mean something with
/// `--wait` or `--follow`.
fn check_flags(
    command: CommandName,
    raw: &RawArgs,
    selector_texts: &[String],
) -> Result<(), String> {
    let name = command.name();
    for flag in &raw.given {
        if !flag.applies_to(command) {
            return Err(format!(
                "{} does not apply to `gljob {name}`; see gljob {name} --help",
                flag.long
            ));
        }
    }
    let (takes_selectors, _) = command.selectors();
    if !takes_selectors && let Some(text) = selector_texts.first() {
        return Err(format!(
            "`gljob {name}` takes no argument '{text}'; see gljob {name} --help"
        ));
    }
    let waits = matches!(command, CommandName::Wait)
        || (matches!(command, CommandName::Play | CommandName::Retry) && raw.wait)
        || (command == CommandName::Trace && raw.follow);
    if !waits
        && (raw.timeout.is_some() || raw.interval.is_some())
        && matches!(
            command,
            CommandName::Play | CommandName::Retry | CommandName::Trace
        )
    {
        let needed = if command == CommandName::Trace {
            "--follow"
        } else {
            "--wait"
        };
        return Err(format!(
            "--timeout and --interval need {needed} on `gljob {name}`"
        ));
    }
    if matches!(command, CommandName::Play | CommandName::Retry)
        && !raw.wait
        && (raw.strict || raw.allow_skipped || raw.junit.is_some() || raw.no_sections)
    {
        return Err(format!(
            "--strict, --allow-skipped, --junit and --no-sections need --wait on `gljob {name}`"
        ));
    }
    Ok(())
}

/// The selectors given as arguments, then `--stage`s; as many as the command takes.
fn selectors(
    command: CommandName,
    raw: &RawArgs,
    selector_texts: &[String],
) -> Result<Vec<Selector>, String> {
    let mut selectors: Vec<Selector> = Vec::new();
    for text in selector_texts {
        selectors.push(Selector::parse(text)?);
    }
    for stage in &raw.stages {
        if stage.trim().is_empty() {
            return Err("--stage needs a stage name".into());
        }
        selectors.push(Selector::Stage(stage.clone()));
    }
    if selectors.is_empty() && command == CommandName::Trace {
        return Err("`gljob trace` needs one job: its id or its name".into());
    }
    let (_, needs_selector) = command.selectors();
    if selectors.is_empty() && needs_selector {
        return Err(format!(
            "`gljob {}` needs a job: an id, a name, a pattern such as 'test:*', or --stage NAME",
            command.name()
        ));
    }
    if command == CommandName::Trace && selectors.len() > 1 {
        return Err("`gljob trace` prints one job's log; give one selector".into());
    }
    if command == CommandName::Artifacts && selectors.len() > 1 {
        return Err("`gljob artifacts` fetches one job's artifacts; give one selector".into());
    }
    Ok(selectors)
}

/// `--timeout`, `--interval`, `--strict` and `--allow-skipped`, for whatever waits.
fn wait_options(raw: &RawArgs) -> Result<WaitOptions, String> {
    let timeout = raw
        .timeout
        .as_deref()
        .map(|t| positive_duration("--timeout", t))
        .transpose()?;
    let interval = raw
        .interval
        .as_deref()
        .map(|t| positive_duration("--interval", t))
        .transpose()?
        .unwrap_or(DEFAULT_INTERVAL);
    Ok(WaitOptions {
        timeout,
        interval,
        policy: Policy {
            strict: raw.strict,
            allow_skipped: raw.allow_skipped,
        },
    })
}

/// The command with its own flags converted, and the rules that hold only for it.
fn typed_command(
    command: CommandName,
    raw: &RawArgs,
    selectors: Vec<Selector>,
    wait_options: WaitOptions,
    format: &Format,
) -> Result<Command, String> {
    let limit = limit(raw)?;
    let scopes = split_statuses(&raw.scopes, "--scope")?;
    let inputs = inputs(raw)?;
    if raw.status.is_some() && (raw.strict || raw.allow_skipped) {
        return Err(
            "--status judges by the statuses listed; --strict and --allow-skipped do not apply"
                .into(),
        );
    }
    let wait = raw.wait.then_some(wait_options);
    Ok(match command {
        CommandName::Job => Command::Job { selectors },
        CommandName::Agents => Command::Agents,
        CommandName::Jobs => Command::Jobs {
            scopes,
            include_retried: raw.include_retried,
            project_wide: raw.project_wide,
            limit,
        },
        CommandName::Bridges => {
            if raw.tree && (*format != Format::Human || limit.is_some() || !scopes.is_empty()) {
                return Err(
                    "--tree draws the whole tree for people: --json, --field, --limit and \
                     --scope do not apply"
                        .into(),
                );
            }
            Command::Bridges {
                scopes,
                limit,
                tree: raw.tree,
            }
        }
        CommandName::Trace => Command::Trace {
            selectors,
            follow: raw.follow,
            interval: wait_options.interval,
            timeout: wait_options.timeout,
        },
        CommandName::Play => Command::Play {
            selectors,
            variables: raw
                .vars
                .iter()
                .map(|v| parse_variable(v))
                .collect::<Result<_, _>>()?,
            inputs,
            wait,
        },
        CommandName::Cancel => Command::Cancel {
            selectors,
            force: raw.force,
        },
        CommandName::Retry => Command::Retry {
            selectors,
            inputs,
            wait,
        },
        CommandName::Erase => Command::Erase { selectors },
        CommandName::Wait => Command::Wait {
            selectors,
            options: wait_options,
        },
        CommandName::Artifacts => artifacts(raw, selectors, wait_options, format)?,
        CommandName::Check => Command::Check {
            selectors,
            statuses: match &raw.status {
                Some(list) => Some(
                    split_statuses(std::slice::from_ref(list), "--status")?
                        .into_iter()
                        .map(Status::from)
                        .collect(),
                ),
                None => None,
            },
            policy: wait_options.policy,
        },
    })
}

/// `artifacts`: its flags, and the rules between them.
fn artifacts(
    raw: &RawArgs,
    selectors: Vec<Selector>,
    wait_options: WaitOptions,
    format: &Format,
) -> Result<Command, String> {
    if matches!(format, Format::Fields(_)) {
        return Err(
            "`gljob artifacts` prints the files it wrote: --json does, --field does not apply"
                .into(),
        );
    }
    if !raw.wait && (raw.interval.is_some() || raw.strict || raw.allow_skipped || raw.no_sections) {
        return Err(
            "--interval, --strict, --allow-skipped and --no-sections need --wait on `gljob \
             artifacts`"
                .into(),
        );
    }
    let Some(selector) = selectors.into_iter().next() else {
        return Err("`gljob artifacts` needs a job: an id, a name or a pattern".into());
    };
    let reference = match &raw.reference {
        Some(text) if text.trim().is_empty() => return Err("--ref needs a branch or tag".into()),
        // Git refs never hold `..` nor an empty or `.` part (`git check-ref-format`); sent as they
        // are, such parts would name another route to any proxy that normalises paths.
        Some(text) if text.contains("..") || text.split('/').any(|p| p.is_empty() || p == ".") => {
            return Err(format!(
                "--ref '{text}' is not a branch or tag name (git refs have no '..', and no empty \
                 or '.' part between slashes)"
            ));
        }
        Some(text) => {
            if raw.wait {
                return Err(
                    "--ref takes the latest successful pipeline of a branch or tag, whose jobs \
                     have ended: --wait does not apply"
                        .into(),
                );
            }
            match &selector {
                Selector::Name(name) if !crate::select::is_pattern(name) => {}
                _ => {
                    return Err(format!(
                        "with --ref, name the job as GitLab does (e.g. build), not '{}': GitLab \
                         looks it up by name in that pipeline",
                        selector.text()
                    ));
                }
            }
            Some(text.trim().to_string())
        }
        None if raw.recent => return Err("--recent needs --ref".into()),
        None => None,
    };
    let path = match &raw.path {
        Some(text) => Some(crate::unzip::safe_path(text).map_err(|why| {
            format!("--path '{text}' {why}: name a file inside the artifacts (e.g. dist/app.js)")
        })?),
        None => None,
    };
    let out = match &raw.out {
        Some(text) if text.is_empty() => return Err("--out needs a directory".into()),
        Some(text) => std::path::PathBuf::from(text),
        None => std::path::PathBuf::from("."),
    };
    // Known before anything is sent: the files could not land.
    if let Ok(meta) = std::fs::metadata(&out)
        && !meta.is_dir()
    {
        return Err(format!(
            "--out {} exists and is not a directory",
            out.display()
        ));
    }
    Ok(Command::Artifacts {
        selector,
        reference,
        recent: raw.recent,
        path,
        out,
        timeout: wait_options.timeout,
        wait: raw.wait.then_some(wait_options),
    })
}

/// `--limit N`, at least 1.
fn limit(raw: &RawArgs) -> Result<Option<usize>, String> {
    raw.limit
        .as_deref()
        .map(|t| match t.trim().parse::<usize>() {
            Ok(n) if n > 0 => Ok(n),
            _ => Err(format!(
                "--limit '{t}' must be a whole number of jobs, at least 1"
            )),
        })
        .transpose()
}

/// `--input NAME=VALUE`s, each name once.
fn inputs(raw: &RawArgs) -> Result<Vec<(String, serde_json::Value)>, String> {
    let inputs = raw
        .inputs
        .iter()
        .map(|i| parse_input(i))
        .collect::<Result<Vec<_>, _>>()?;
    for (i, (name, _)) in inputs.iter().enumerate() {
        if inputs[..i].iter().any(|(earlier, _)| earlier == name) {
            return Err(format!("--input {name} is given more than once"));
        }
    }
    Ok(inputs)
}

/// The flags that take precedence over the job's variables.
fn overrides(raw: &RawArgs) -> Result<Overrides, String> {
    Ok(Overrides {
        api_url: raw.api_url.clone(),
        project: raw.project.clone(),
        pipeline: raw
            .pipeline
            .as_deref()
            .map(|p| parse_id("--pipeline", p))
            .transpose()?,
        token: raw.token.clone(),
        request_timeout: raw
            .request_timeout
            .as_deref()
            .map(|t| positive_duration("--request-timeout", t))
            .transpose()?,
        ca_file: raw.ca_file.clone(),
    })
}

fn format(raw: &RawArgs, command: CommandName) -> Result<Format, String> {
    let format = if raw.dotenv {
        if raw.json {
            return Err("--dotenv and --json exclude each other".into());
        }
        Format::Dotenv(raw.fields.clone())
    } else if raw.json {
        if !raw.fields.is_empty() {
            return Err("--field and --json exclude each other".into());
        }
        Format::Json
    } else if !raw.fields.is_empty() {
        if let Some(bad) = raw
            .fields
            .iter()
            .find(|f| f.trim().is_empty() || f.split('.').any(str::is_empty))
        {
            return Err(format!(
                "--field '{bad}' is not a path: dotted names, such as pipeline.id"
            ));
        }
        Format::Fields(raw.fields.clone())
    } else {
        Format::Human
    };
    if command == CommandName::Trace && format != Format::Human {
        return Err("`gljob trace` prints the log's bytes; --json and --field do not apply".into());
    }
    Ok(format)
}

fn positive_duration(flag: &str, text: &str) -> Result<Duration, String> {
    match duration::parse(text) {
        Ok(d) if d.is_zero() => Err(format!("{flag} must be more than 0 (e.g. 30s)")),
        Ok(d) => Ok(d),
        Err(why) => Err(format!("{flag} {why}")),
    }
}

fn parse_id(flag: &str, text: &str) -> Result<u64, String> {
    text.trim()
        .parse::<u64>()
        .map_err(|_| format!("{flag} '{text}' is not a numeric id"))
}

/// `KEY=VALUE`; the value may be empty or hold `=`, the key may not be empty.
fn parse_variable(text: &str) -> Result<(String, String), String> {
    match text.split_once('=') {
        Some((key, value)) if !key.trim().is_empty() => {
            Ok((key.trim().to_string(), value.to_string()))
        }
        _ => Err(format!(
            "--var '{text}' must be KEY=VALUE with a non-empty KEY"
        )),
    }
}

/// `NAME=TEXT` (a string) or `NAME:=JSON` (a number, boolean, array or any JSON), the convention of
/// httpie and xh.
fn parse_input(text: &str) -> Result<(String, serde_json::Value), String> {
    let Some((left, value)) = text.split_once('=') else {
        return Err(format!(
            "--input '{text}' must be NAME=TEXT or NAME:=JSON (e.g. region=eu, replicas:=3)"
        ));
    };
    let (name, json) = match left.strip_suffix(':') {
        Some(name) => (name, true),
        None => (left, false),
    };
    let name = name.trim();
    if name.is_empty() || name.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(format!("--input '{text}' needs an input name before '='"));
    }
    let value = if json {
        let value: serde_json::Value = serde_json::from_str(value).map_err(|e| {
            format!("--input '{text}': the value after ':=' is not JSON ({e}); use NAME=TEXT for a string")
        })?;
        // GitLab's inputs are strings, numbers, booleans and arrays.
        if value.is_object() || value.is_null() {
            return Err(format!(
                "--input '{text}': a job input is a string, number, boolean or array, not {}",
                if value.is_null() { "null" } else { "an object" }
            ));
        }
        value
    } else {
        serde_json::Value::String(value.to_string())
    };
    Ok((name.to_string(), value))
}

/// Comma-separated lists of GitLab's 13 job statuses. A typo (`sucess`) names the nearest status:
/// a check against a status that never occurs would always fail.
fn split_statuses(lists: &[String], flag: &str) -> Result<Vec<String>, String> {
    let mut items = Vec::new();
    for list in lists {
        let before = items.len();
        for item in list.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            if !Status::KNOWN.contains(&item) {
                let nearest = suggest::nearest(item, Status::KNOWN.into_iter())
                    .map(|known| format!(" (did you mean '{known}'?)"))
                    .unwrap_or_default();
                return Err(format!(
                    "{flag} '{item}' is not a job status{nearest}; GitLab's 13 are {}",
                    Status::KNOWN.join(", ")
                ));
            }
            items.push(item.to_string());
        }
        if items.len() == before {
            return Err(format!("{flag} needs a status"));
        }
    }
    Ok(items)
}
