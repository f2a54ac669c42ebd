//! Each command, built from the client, the selectors and the output formats.
//!
//! What the commands share lives here: reading the pipeline once and resolving selectors
//! against it, and writing to stdout without panicking on a closed pipe.

mod act;
mod gate;
mod read;
mod trace;

use crate::api::{Client, Method, TokenRule, routes};
use crate::cli::{Command, Invocation};
use crate::config::Config;
use crate::error::{Error, ExitCode, Result};
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
}

pub fn run(invocation: Invocation, config: Config) -> Result<ExitCode> {
    let client = Client::new(&config, invocation.verbose, invocation.retries)?;
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

/// A selected job and whether it belongs to the configured pipeline (and can be followed there
/// by name) or was read on its own by id.
pub struct Picked {
    pub listed: Listed,
    pub in_pipeline: bool,
}

impl Context {
    pub fn pipeline_jobs(&self) -> Result<Vec<Listed>> {
        let route = routes::pipeline_jobs(&self.project, self.config.pipeline_id()?);
        self.read_list(&route, &[], Kind::Build, None)
    }

    pub fn pipeline_bridges(&self) -> Result<Vec<Listed>> {
        let route = routes::pipeline_bridges(&self.project, self.config.pipeline_id()?);
        self.read_list(&route, &[], Kind::Bridge, None)
    }

    pub fn read_list(
        &self,
        route: &str,
        query: &[(&str, String)],
        kind: Kind,
        limit: Option<usize>,
    ) -> Result<Vec<Listed>> {
        let raws = self
            .client
            .get_list(route, query, TokenRule::AccessOrJob, limit)?;
        raws.into_iter()
            .map(|raw| parse_listed(raw, kind, "GET", route))
            .collect()
    }

    /// The latest attempt of `name` in the configured pipeline, if it is newer than job `than`:
    /// GitLab gives a retried or replayed job a new id.
    pub fn newer_attempt(&self, name: &str, than: u64) -> Result<Option<Listed>> {
        Ok(self
            .pipeline_jobs()?
            .into_iter()
            .find(|j| j.job.name == name && j.job.id > than))
    }

    pub fn single_job(&self, id: u64) -> Result<Listed> {
        let route = routes::job(&self.project, id);
        let raw = self.client.get_json(&route, TokenRule::Access)?;
        parse_listed(raw, Kind::Build, "GET", &route)
    }

    /// Resolves selectors with one read of the pipeline's jobs (all pages). Bridges are read too
    /// when a selector matches no build, or when an access token is at hand (a job token reads
    /// bridges only from GitLab 19.0, so it is not spent on them without need). Ids that are not
    /// in the pipeline are read one by one, which needs an access token.
    pub fn select(&self, selectors: &[Selector]) -> Result<Vec<Picked>> {
        let pipeline = self.config.pipeline_id()?;
        let own = self.config.own_job_id;
        let mut listed = self.pipeline_jobs()?;
        let unmatched = select::unmatched(selectors, &listed, own);
        let names_unmatched = unmatched.iter().any(|s| s.needs_pipeline());
        let ids_unmatched = unmatched.iter().any(|s| !s.needs_pipeline());
        let names_given = selectors.iter().any(Selector::needs_pipeline);
        let mut bridges_unread = None;
        if names_unmatched || (self.client.has_access_token() && (ids_unmatched || names_given)) {
            match self.pipeline_bridges() {
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
        let mut picked: Vec<Picked> = select::resolve(&pipeline_selectors, &listed, own, pipeline)
            .map_err(|why| match &bridges_unread {
                Some(reason) => {
                    Error::gitlab(format!("{why}; bridges were not searched: {reason}"))
                }
                None => Error::gitlab(why),
            })?
            .into_iter()
            .map(|listed| Picked {
                listed: listed.clone(),
                in_pipeline: true,
            })
            .collect();
        if let Some(first) = picked_ids.first() {
            // Known only after the pipeline was read, so this is a selector that matched nothing
            // there (exit 3), not a usage error (exit 2 promises that nothing was sent).
            self.client
                .require(TokenRule::Access, Method::Get, "/projects/:id/jobs/:job_id")
                .map_err(|_| {
                    Error::gitlab(format!(
                        "job {first} is not in pipeline {pipeline}; reading a job outside the \
                         pipeline (GET /projects/:id/jobs/:job_id) needs GITLAB_TOKEN with read_api"
                    ))
                })?;
        }
        for id in picked_ids {
            if !picked.iter().any(|p| p.listed.job.id == id) {
                picked.push(Picked {
                    listed: self.single_job(id)?,
                    in_pipeline: false,
                });
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
            .map(|p| Target {
                id: p.listed.job.id,
                known: Some(p.listed),
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

    pub fn print(&self, write: impl FnOnce(&mut dyn Write) -> io::Result<()>) -> Result<()> {
        let stdout = io::stdout();
        let mut out = io::BufWriter::new(stdout.lock());
        match write(&mut out).and_then(|_| out.flush()) {
            Ok(()) => Ok(()),
            // `gljob jobs | head -1`: the reader has what it wanted.
            Err(err) if err.kind() == io::ErrorKind::BrokenPipe => Ok(()),
            Err(err) => Err(Error::usage(format!("writing the output failed: {err}"))),
        }
    }
}

/// A job to act on: its id, and what the pipeline read said of it when it was resolved by name.
pub struct Target {
    pub id: u64,
    pub known: Option<Listed>,
}

pub fn parse_listed(raw: Box<RawValue>, kind: Kind, method: &str, route: &str) -> Result<Listed> {
    Listed::parse(raw, kind).map_err(|why| {
        Error::gitlab(format!(
            "{method} {route}: GitLab's answer is not a job GitLab would send: {why}"
        ))
    })
}
