//! Each command, built from the client, the selectors and the output formats.
//!
//! What the commands share lives here: reading the pipeline once and resolving selectors
//! against it, and writing to stdout without panicking on a closed pipe.

mod act;
mod gate;
mod read;
mod trace;

use crate::api::route::{self, Call};
use crate::api::{Client, Consistency};
use crate::cli::{Command, Invocation};
use crate::config::Config;
use crate::deadline::Deadline;
use crate::error::{Error, ErrorKind, ExitCode, Result};
use crate::model::{Kind, Listed};
use crate::output::{self, Format};
use crate::select::{self, Selector};
use serde_json::value::RawValue;
use std::io::{self, Write};

pub struct Context {
    pub config: Config,
    pub client: Client,
    pub format: Format,
    pub project: String,
    pub report: crate::cli::Report,
}

/// Every setting the command needs and the environment and flags lack, named in one message
/// (not one per run), before anything is sent.
pub fn missing_settings(
    invocation: &Invocation,
    env: impl Fn(&str) -> Option<String>,
) -> Result<()> {
    use crate::api::TokenRule;
    let set = |flag: &Option<String>, variable: &str| {
        flag.as_deref().is_some_and(|v| !v.trim().is_empty())
            || env(variable).is_some_and(|v| !v.trim().is_empty())
    };
    let overrides = &invocation.overrides;
    let by_name = |selectors: &[Selector]| selectors.iter().any(Selector::needs_pipeline);
    // What the command needs: the project, the configured pipeline, and which token.
    let (project, pipeline, token) = match &invocation.command {
        Command::Job { selectors } if selectors.is_empty() => (false, false, TokenRule::JobToken),
        Command::Job { selectors } if !by_name(selectors) => (true, false, TokenRule::Access),
        Command::Job { .. } => (true, true, TokenRule::AccessOrJob),
        Command::Agents => (false, false, TokenRule::JobToken),
        Command::Jobs { project_wide, .. } => (true, !project_wide, TokenRule::AccessOrJob),
        Command::Bridges { .. } => (true, true, TokenRule::AccessOrJob),
        Command::Trace { selectors, .. }
        | Command::Play { selectors, .. }
        | Command::Cancel { selectors, .. }
        | Command::Retry { selectors, .. }
        | Command::Erase { selectors } => (true, by_name(selectors), TokenRule::Access),
        Command::Wait { .. } | Command::Check { .. } => (true, true, TokenRule::AccessOrJob),
    };
    let mut missing: Vec<&str> = Vec::new();
    if !set(&overrides.api_url, "CI_API_V4_URL") && !set(&None, "CI_SERVER_URL") {
        missing.push(
            "CI_API_V4_URL (or CI_SERVER_URL, or --api-url https://gitlab.example.com/api/v4)",
        );
    }
    if project && !set(&overrides.project, "CI_PROJECT_ID") {
        missing.push("CI_PROJECT_ID (or --project ID|group/project)");
    }
    if pipeline && overrides.pipeline.is_none() && !set(&None, "CI_PIPELINE_ID") {
        missing.push("CI_PIPELINE_ID (or --pipeline ID), where names and stages are looked up");
    }
    let access = set(&overrides.token, "GITLAB_TOKEN");
    let job = set(&None, "CI_JOB_TOKEN");
    let writes = matches!(
        invocation.command,
        Command::Play { .. }
            | Command::Cancel { .. }
            | Command::Retry { .. }
            | Command::Erase { .. }
    );
    let access_needed = if writes {
        "GITLAB_TOKEN (or --token): an access token with the api scope (GitLab does not accept \
         CI_JOB_TOKEN to play, cancel, retry or erase)"
    } else {
        "GITLAB_TOKEN (or --token): an access token with the read_api scope (GitLab does not \
         accept CI_JOB_TOKEN on this route)"
    };
    match token {
        TokenRule::JobToken if !job => {
            missing.push("CI_JOB_TOKEN (this reads the job's own job: run it inside a CI job)")
        }
        TokenRule::AccessOrJob if !job && !access => missing.push(
            "a token: CI_JOB_TOKEN inside a job (GitLab 18.0+), or GITLAB_TOKEN/--token with the \
             read_api scope",
        ),
        TokenRule::Access if !access => missing.push(access_needed),
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

/// Runs the command. `started` is when gljob started: `--timeout` counts from there.
pub fn run(
    invocation: Invocation,
    config: Config,
    started: std::time::Instant,
) -> Result<ExitCode> {
    let deadline = Deadline::after(started, invocation.command.timeout());
    let client = Client::new(&config, invocation.verbose, invocation.retries, deadline)?;
    // `gljob job` and `gljob agents` read the token's own job and need no project.
    let project = match &invocation.command {
        Command::Job { selectors } if selectors.is_empty() => String::new(),
        Command::Agents => String::new(),
        _ => config.project_segment()?,
    };
    let context = Context {
        config,
        client,
        format: invocation.format,
        project,
        report: invocation.report,
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
        Command::Bridges { scopes, limit } => read::bridges(&context, &scopes, limit),
        Command::Trace {
            selectors,
            follow,
            interval,
            ..
        } => trace::trace(&context, &selectors, follow, interval),
        Command::Play {
            selectors,
            variables,
            wait,
        } => act::play(&context, &selectors, &variables, wait),
        Command::Cancel { selectors, force } => act::cancel(&context, &selectors, force),
        Command::Retry { selectors, wait } => act::retry(&context, &selectors, wait),
        Command::Erase { selectors } => act::erase(&context, &selectors),
        Command::Wait { selectors, options } => gate::wait(&context, &selectors, options),
        Command::Check {
            selectors,
            statuses,
            policy,
        } => gate::check(&context, &selectors, statuses.as_deref(), policy),
    }
}

impl Context {
    /// The configured pipeline's jobs, as one consistent snapshot.
    pub fn pipeline_jobs(&self) -> Result<Vec<Listed>> {
        self.jobs_of(self.config.pipeline_id()?)
    }

    /// A pipeline's jobs (latest attempts), as one consistent snapshot.
    pub fn jobs_of(&self, pipeline: u64) -> Result<Vec<Listed>> {
        let call = route::PIPELINE_JOBS.at(&self.project, pipeline);
        self.read_list(&call, &[], Kind::Build, Consistency::Snapshot, None)
    }

    /// A pipeline's bridges (trigger jobs), as one consistent snapshot.
    pub fn bridges_of(&self, pipeline: u64) -> Result<Vec<Listed>> {
        let call = route::PIPELINE_BRIDGES.at(&self.project, pipeline);
        self.read_list(&call, &[], Kind::Bridge, Consistency::Snapshot, None)
    }

    pub fn read_list(
        &self,
        call: &Call,
        query: &[(&str, String)],
        kind: Kind,
        consistency: Consistency,
        limit: Option<usize>,
    ) -> Result<Vec<Listed>> {
        let raws = self.client.get_list(call, query, consistency, limit)?;
        raws.into_iter()
            .map(|raw| parse_listed(raw, kind, call))
            .collect()
    }

    pub fn single_job(&self, id: u64) -> Result<Listed> {
        let call = route::JOB.at(&self.project, id);
        let raw = self.client.get_json(&call)?;
        parse_listed(raw, Kind::Build, &call)
    }

    /// The latest attempt of `job`, when it is newer than `job`: GitLab gives a retried or
    /// replayed job a new id, in the job's own pipeline (which is not always the configured one).
    pub fn newer_attempt(&self, job: &Listed) -> Result<Option<Listed>> {
        let Some(pipeline) = own_pipeline(job, self.config.pipeline) else {
            return Ok(None);
        };
        let list = match job.kind {
            Kind::Build => self.jobs_of(pipeline)?,
            Kind::Bridge => self.bridges_of(pipeline)?,
        };
        Ok(list
            .into_iter()
            .find(|j| j.job.name == job.job.name && j.job.id > job.job.id))
    }

    /// Resolves selectors with one read of the pipeline's jobs (all pages, a consistent
    /// snapshot). Bridges are read too when a selector matches no build, or when an access token
    /// is at hand (a job token reads bridges only from GitLab 19.0, so it is not spent on them
    /// without need). Ids that are not in the pipeline are read one by one, which needs an access
    /// token.
    pub fn select(&self, selectors: &[Selector]) -> Result<Vec<Listed>> {
        let pipeline = self.config.pipeline_id()?;
        let own = self.config.own_job_id;
        let mut listed = self.pipeline_jobs()?;
        let unmatched = select::unmatched(selectors, &listed, own);
        let names_unmatched = unmatched.iter().any(|s| s.needs_pipeline());
        let ids_unmatched = unmatched.iter().any(|s| !s.needs_pipeline());
        let names_given = selectors.iter().any(Selector::needs_pipeline);
        let mut bridges_unread = None;
        if names_unmatched || (self.client.has_access_token() && (ids_unmatched || names_given)) {
            match self.bridges_of(pipeline) {
                Ok(bridges) => listed.extend(bridges),
                // A job token reads bridges only from GitLab 19.0. The selector that sent us
                // looking is reported as matching nothing, with the reason bridges were not read.
                Err(err)
                    if !self.client.has_access_token()
                        && matches!(err.http_status(), Some(401 | 403 | 404)) =>
                {
                    bridges_unread = Some(err.message().to_string());
                }
                Err(err) => return Err(err),
            }
        }
        let mut picked_ids = Vec::new();
        let mut pipeline_selectors = Vec::new();
        for selector in selectors {
            match selector {
                Selector::Id(id) if !listed.iter().any(|j| j.job.id == *id) => picked_ids.push(*id),
                other => pipeline_selectors.push(other.clone()),
            }
        }
        let mut picked: Vec<Listed> = select::resolve(&pipeline_selectors, &listed, own, pipeline)
            .map_err(|why| match &bridges_unread {
                Some(reason) => {
                    Error::no_match(format!("{why}; bridges were not searched: {reason}"))
                }
                None => Error::no_match(why),
            })?
            .into_iter()
            .cloned()
            .collect();
        if let Some(first) = picked_ids.first()
            && !self.client.has_access_token()
        {
            // Known only after the pipeline was read, so this is a selector that matched nothing
            // there (exit 3), not a usage error (exit 2 promises that nothing was sent).
            return Err(Error::no_match(format!(
                "job {first} is not in pipeline {pipeline}; reading a job outside the pipeline \
                 (GET /projects/:id/jobs/:job_id) needs GITLAB_TOKEN with read_api"
            )));
        }
        for id in picked_ids {
            if !picked.iter().any(|p| p.job.id == id) {
                picked.push(self.single_job(id)?);
            }
        }
        Ok(picked)
    }

    /// For commands that act on jobs by id: plain ids need no read at all; names and stages are
    /// resolved against the pipeline.
    pub fn target_ids(&self, selectors: &[Selector]) -> Result<Vec<Target>> {
        if selectors.iter().all(|s| !s.needs_pipeline()) {
            let mut ids: Vec<u64> = Vec::new();
            for selector in selectors {
                if let Selector::Id(id) = selector
                    && !ids.contains(id)
                {
                    ids.push(*id);
                }
            }
            return Ok(ids
                .into_iter()
                .map(|id| Target { id, known: None })
                .collect());
        }
        Ok(self
            .select(selectors)?
            .into_iter()
            .map(|listed| Target {
                id: listed.job.id,
                known: Some(listed),
            })
            .collect())
    }

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

/// The pipeline a job belongs to: its payload says so; a job listed without it came from the
/// configured pipeline.
pub fn own_pipeline(job: &Listed, configured: Option<u64>) -> Option<u64> {
    job.job.pipeline.as_ref().map(|p| p.id).or(configured)
}

/// A job to act on: its id, and what the pipeline read said of it when it was resolved by name.
pub struct Target {
    pub id: u64,
    pub known: Option<Listed>,
}

pub fn parse_listed(raw: Box<RawValue>, kind: Kind, call: &Call) -> Result<Listed> {
    Listed::parse(raw, kind).map_err(|why| {
        Error::new(
            ErrorKind::Unreadable,
            format!(
                "{}: GitLab's answer is not a job GitLab would send: {why}",
                call.describe()
            ),
        )
    })
}
