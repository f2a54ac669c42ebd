//! Each command, built from the client, the selectors and the output formats.
//!
//! This file dispatches to the commands and holds what they share: the [`Context`] and writing
//! to stdout without panicking on a closed pipe. Reading a pipeline is [`pipeline`]'s concern,
//! resolving selectors (through trigger jobs too) [`resolve`]'s, and a wait round's reads
//! [`rounds`]'.

mod act;
mod artifacts;
mod gate;
mod pipeline;
mod read;
mod resolve;
mod rounds;
mod trace;

use crate::api::Client;
use crate::cli::{Command, Invocation};
use crate::config::Config;
use crate::deadline::Deadline;
use crate::error::{Error, ExitCode, Result};
use crate::model::Listed;
pub use crate::model::PipelineAt;
use crate::output::{self, Format};
pub use pipeline::parse_listed;
pub use resolve::{MAX_DEPTH, Picked, Selection, Target};
use std::io::{self, Write};

pub struct Context {
    pub config: Config,
    pub client: Client,
    pub format: Format,
    pub project: String,
    pub report: crate::cli::Report,
    trigger_route: std::cell::Cell<pipeline::TriggerRoute>,
}

/// Runs the command. `started` is when gljob started: `--timeout` counts from there.
pub fn run(
    invocation: Invocation,
    config: Config,
    started: std::time::Instant,
) -> Result<ExitCode> {
    let deadline = Deadline::after(started, invocation.command.timeout());
    let client = Client::new(
        &config,
        invocation.verbose,
        invocation.retries,
        deadline,
        crate::say::line,
    )?;
    // `gljob job` and `gljob agents` read the token's own job and need no project.
    let project = match &invocation.command {
        Command::Job { selectors } if selectors.is_empty() => String::new(),
        Command::Agents => String::new(),
        _ => config.project_segment()?,
    };
    // `artifacts --json` prints what it wrote, as one object: not also the jobs its wait judged.
    let artifacts_json = matches!(invocation.command, Command::Artifacts { .. })
        && invocation.format == Format::Json;
    let context = Context {
        config,
        client,
        format: if artifacts_json {
            Format::Human
        } else {
            invocation.format
        },
        project,
        report: invocation.report,
        trigger_route: std::cell::Cell::new(pipeline::TriggerRoute::Unknown),
    };
    match invocation.command {
        Command::Job { selectors } => read::job(&context, &selectors),
        Command::Agents => read::agents(&context),
        Command::Jobs {
            scopes,
            include_retried,
            project_wide,
            limit,
        } => read::jobs(&context, &scopes, include_retried, project_wide, limit),
        Command::Bridges {
            scopes,
            limit,
            tree,
        } => read::bridges(&context, &scopes, limit, tree),
        Command::Trace {
            selectors,
            follow,
            interval,
            ..
        } => trace::trace(&context, &selectors, follow, interval),
        Command::Play {
            selectors,
            variables,
            inputs,
            wait,
        } => act::play(&context, &selectors, &variables, &inputs, wait),
        Command::Cancel { selectors, force } => act::cancel(&context, &selectors, force),
        Command::Retry {
            selectors,
            inputs,
            wait,
        } => act::retry(&context, &selectors, &inputs, wait),
        Command::Erase { selectors } => act::erase(&context, &selectors),
        Command::Wait { selectors, options } => gate::wait(&context, &selectors, options),
        Command::Check {
            selectors,
            statuses,
            policy,
        } => gate::check(&context, &selectors, statuses.as_deref(), policy),
        Command::Artifacts {
            selector,
            reference,
            recent,
            path,
            out,
            wait,
            ..
        } => artifacts::artifacts(
            &context,
            &artifacts::Wanted {
                selector: &selector,
                reference: reference.as_deref(),
                recent,
                path: path.as_deref(),
                out: &out,
                wait,
                json: artifacts_json,
            },
        ),
    }
}

impl Context {
    /// One job as `key: value` lines, several as a table (or the chosen format).
    pub fn print_jobs(&self, jobs: &[Listed]) -> Result<()> {
        self.print(|out| match jobs {
            [one] => output::job(out, &self.format, one),
            many => output::jobs(out, &self.format, &many.iter().collect::<Vec<_>>()),
        })
    }

    /// Writes stdout. A reader that went away (`gljob jobs | head -1`) had what it wanted; any
    /// other failure (a full disk, `>/dev/full`) is an output error (exit 5), never a usage error:
    /// by now requests have been sent.
    pub fn print(&self, write: impl FnOnce(&mut dyn Write) -> io::Result<()>) -> Result<()> {
        let stdout = io::stdout();
        let mut out = io::BufWriter::new(stdout.lock());
        match write(&mut out).and_then(|_| out.flush()) {
            Ok(()) => Ok(()),
            Err(err) if err.kind() == io::ErrorKind::BrokenPipe => Ok(()),
            Err(err) if err.kind() == io::ErrorKind::InvalidInput => {
                Err(Error::no_match(err.to_string()))
            }
            Err(err) => Err(Error::output(err)),
        }
    }
}
