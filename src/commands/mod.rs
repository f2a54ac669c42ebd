//! Each command, built from the client, the selectors and the output formats.
//!
//! What the commands share lives here: reading the pipeline once and resolving selectors
//! against it, and writing to stdout without panicking on a closed pipe.

mod act;
mod gate;
mod read;
mod trace;

use crate::api::route::{self, Call, Route};
use crate::api::{Client, Consistency, Keep, Listing};
use crate::cli::{Command, Invocation};
use crate::config::Config;
use crate::deadline::Deadline;
use crate::error::{Error, ErrorKind, ExitCode, Result};
pub use crate::model::PipelineAt;
use crate::model::{Kind, Listed, Named};
use crate::output::{self, Format};
use crate::say;
use crate::select::{self, Selector};
use serde_json::value::RawValue;
use std::io::{self, Write};

pub struct Context {
    pub config: Config,
    pub client: Client,
    pub format: Format,
    pub project: String,
    pub report: crate::cli::Report,
    trigger_route: std::cell::Cell<TriggerRoute>,
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
        trigger_route: std::cell::Cell::new(TriggerRoute::Unknown),
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
    }
}

/// A selected job and the pipeline it belongs to.
#[derive(Debug, Clone)]
pub struct Picked {
    pub listed: Listed,
    pub at: PipelineAt,
    /// The trigger jobs it was reached through, the nearest first, when it was selected below one.
    pub vias: Vec<crate::wait::Via>,
}

/// What a selector found: jobs, or a trigger job whose pipeline the rest of the selector is about
/// but which has not created it (yet, or ever: see its status).
#[derive(Debug, Clone)]
pub enum Selection {
    Job(Picked),
    Awaiting(Awaiting),
}

/// A trigger job with no downstream pipeline, and what was to be selected in that pipeline.
#[derive(Debug, Clone)]
pub struct Awaiting {
    pub bridge: Listed,
    /// The pipeline the trigger job is in.
    pub at: PipelineAt,
    /// The selector for the pipeline it will create.
    pub rest: Selector,
    /// `deploy-eu::smoke`, for messages.
    pub path: String,
    /// The trigger jobs above `at` it was reached through, the nearest first.
    pub vias: Vec<crate::wait::Via>,
}

impl Awaiting {
    /// One line on what is awaited, or why it never will be.
    pub fn describe(&self) -> String {
        let bridge = &self.bridge.job;
        if bridge.status.is_final() {
            format!(
                "{}: trigger job {} (#{}) ended {} without creating its pipeline",
                self.path, bridge.name, bridge.id, bridge.status
            )
        } else {
            format!(
                "{}: trigger job {} (#{}) is {} and has not created its pipeline yet",
                self.path, bridge.name, bridge.id, bridge.status
            )
        }
    }
}

/// Which route lists trigger jobs on this GitLab, once known.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum TriggerRoute {
    Unknown,
    TriggerJobs,
    Bridges,
}

/// How deep `a::b::c` selectors and `bridges --tree` go.
pub const MAX_DEPTH: usize = 8;

impl Context {
    /// The configured pipeline, in the configured project.
    pub fn configured_pipeline(&self) -> Result<PipelineAt> {
        Ok(PipelineAt {
            project: self.project.clone(),
            id: self.config.pipeline_id()?,
        })
    }

    /// The pipeline a job belongs to: its payload says which; a job listed without it came from
    /// `listed_in`.
    pub fn pipeline_of(&self, job: &Listed, listed_in: Option<&PipelineAt>) -> Option<PipelineAt> {
        match (job.job.pipeline.as_ref(), listed_in) {
            (Some(p), Some(at)) if p.id == at.id => Some(at.clone()),
            (Some(p), _) => Some(PipelineAt {
                project: p
                    .project_id
                    .map_or_else(|| self.project.clone(), |id| id.to_string()),
                id: p.id,
            }),
            (None, Some(at)) => Some(at.clone()),
            (None, None) => self.config.pipeline.map(|id| PipelineAt {
                project: self.project.clone(),
                id,
            }),
        }
    }

    /// A pipeline's jobs (latest attempts), as one consistent snapshot.
    pub fn jobs_of(&self, at: &PipelineAt) -> Result<Vec<Listed>> {
        let call = route::PIPELINE_JOBS.at(&at.project, at.id);
        let list = self
            .client
            .get_list(&call, &[], Kind::Build, Consistency::Snapshot, None)?;
        Ok(latest_attempts(list))
    }

    /// A pipeline's jobs named `names` (latest attempts), from one consistent snapshot of the
    /// whole list: a wait round types only the jobs it follows.
    pub fn jobs_named(&self, at: &PipelineAt, names: &[&str]) -> Result<Vec<Listed>> {
        let listing = self.jobs_kept(at, &named_keep(names))?;
        Ok(latest_attempts(listing.whole))
    }

    /// A pipeline's jobs, as one consistent snapshot, kept as `keep` says.
    fn jobs_kept(&self, at: &PipelineAt, keep: &Keep<'_>) -> Result<Listing> {
        let call = route::PIPELINE_JOBS.at(&at.project, at.id);
        self.client.get_kept(
            &call,
            &[],
            Kind::Build,
            Consistency::Snapshot,
            None,
            Some(keep),
        )
    }

    /// A pipeline's trigger jobs named `names` (latest attempts), as [`Context::jobs_named`].
    pub fn bridges_named(&self, at: &PipelineAt, names: &[&str]) -> Result<Vec<Listed>> {
        let keep = named_keep(names);
        let listing = self.trigger_jobs_kept(at, &[], None, Some(&keep))?;
        Ok(latest_attempts(listing.whole))
    }

    /// A pipeline's trigger jobs, as one consistent snapshot: from `/trigger_jobs` (GitLab 19.2+),
    /// else from `/bridges`, which older GitLabs serve. A GitLab without the route answers its
    /// catch-all 404; the choice is remembered for the rest of the run.
    pub fn bridges_of(&self, at: &PipelineAt) -> Result<Vec<Listed>> {
        Ok(latest_attempts(self.trigger_jobs(at, &[], None)?))
    }

    /// [`Context::bridges_of`] with a query (`scope[]`) and a limit.
    pub fn trigger_jobs(
        &self,
        at: &PipelineAt,
        query: &[(&str, String)],
        limit: Option<usize>,
    ) -> Result<Vec<Listed>> {
        Ok(self.trigger_jobs_kept(at, query, limit, None)?.whole)
    }

    fn trigger_jobs_kept(
        &self,
        at: &PipelineAt,
        query: &[(&str, String)],
        limit: Option<usize>,
        keep: Option<&Keep<'_>>,
    ) -> Result<Listing> {
        let read = |route: &'static Route| {
            let call = route.at(&at.project, at.id);
            self.client.get_kept(
                &call,
                query,
                Kind::Bridge,
                Consistency::Snapshot,
                limit,
                keep,
            )
        };
        if self.trigger_route.get() != TriggerRoute::Bridges {
            match read(&route::PIPELINE_TRIGGER_JOBS) {
                Ok(list) => {
                    self.trigger_route.set(TriggerRoute::TriggerJobs);
                    return Ok(list);
                }
                Err(err)
                    if self.trigger_route.get() == TriggerRoute::Unknown
                        && err.http_status() == Some(404)
                        && err.gitlab_message() == Some(crate::api::explain::MISSING_ROUTE) =>
                {
                    self.trigger_route.set(TriggerRoute::Bridges);
                }
                Err(err) => return Err(err),
            }
        }
        read(&route::PIPELINE_BRIDGES)
    }

    pub fn single_job(&self, project: &str, id: u64) -> Result<Listed> {
        let call = route::JOB.at(project, id);
        let raw = self.client.get_json(&call)?;
        let listed = parse_listed(raw, Kind::Build, &call)?;
        // An answer about another job is not an answer about this one.
        if listed.job.id != id {
            return Err(Error::unreadable(format!(
                "{}: GitLab answered with job {} instead",
                call.describe(),
                listed.job.id
            )));
        }
        Ok(listed)
    }

    /// The latest attempt of `job`, when it is newer than `job`: GitLab gives a retried or
    /// replayed job a new id, in the job's own pipeline (which is not always the configured one).
    pub fn newer_attempt(&self, job: &Listed, at: Option<&PipelineAt>) -> Result<Option<Listed>> {
        let Some(pipeline) = self.pipeline_of(job, at) else {
            return Ok(None);
        };
        let list = match job.kind {
            Kind::Build => self.jobs_of(&pipeline)?,
            Kind::Bridge => self.bridges_of(&pipeline)?,
        };
        Ok(list
            .into_iter()
            .find(|j| j.job.name == job.job.name && j.job.id > job.job.id))
    }

    /// Resolves selectors with one read of the pipeline's jobs (all pages, a consistent snapshot)
    /// and, where needed, its trigger jobs and the pipelines below them. Trigger jobs are read
    /// when a selector matches no build, goes below a trigger job, or when an access token is at
    /// hand (a job token reads them only from GitLab 19.0, so it is not spent on them without
    /// need). Ids that are not in the pipeline are read one by one, which needs an access token.
    pub fn select(&self, selectors: &[Selector]) -> Result<Vec<Selection>> {
        let top = self.configured_pipeline()?;
        let own = self.config.own_job_id;
        let (downstream, here): (Vec<&Selector>, Vec<&Selector>) = selectors
            .iter()
            .partition(|s| matches!(s, Selector::Downstream { .. }));
        let here: Vec<Selector> = here.into_iter().cloned().collect();
        // Only the jobs a selector may pick are typed: the others are kept by name, for the
        // message that says what the pipeline holds when a selector picks nothing.
        let keep = Keep {
            whole: Box::new(|job: &Named<'_>| {
                here.iter()
                    .any(|s| s.picks_named(job.id, &job.name, &job.stage, None))
            }),
            named: true,
            remember: Some(Keep::SELECTION.to_string()),
        };
        let listing = self.jobs_kept(&top, &keep)?;
        // The ids of the jobs kept whole, older attempts too (for the message about an id whose
        // job was retried).
        let top_whole_ids: Vec<u64> = listing.whole.iter().map(|j| j.job.id).collect();
        let mut listed = latest_attempts(listing.whole);
        let others = listing.named;
        // A job kept whole because a selector gives its id may have a newer attempt that no
        // selector names, kept by name only: then it is not the job's latest attempt, and is
        // judged as an older attempt's id is (below: by its latest, read on its own).
        // (Only an id can pick one attempt of a name without the others.)
        listed.retain(|job| {
            !here.contains(&Selector::Id(job.job.id))
                || !others
                    .iter()
                    .any(|n| n.name == job.job.name && n.kind == job.kind && n.id > job.job.id)
        });
        let unmatched = select::unmatched(&here, &listed, own);
        let names_unmatched = unmatched.iter().any(|s| s.needs_pipeline());
        let ids_unmatched = unmatched.iter().any(|s| !s.needs_pipeline());
        let names_given = here.iter().any(Selector::needs_pipeline);
        // A stage or a pattern may take in trigger jobs as well as builds: they are read too,
        // with whichever token there is, so a failed trigger job cannot hide behind a passed build.
        let broad = here.iter().any(|s| match s {
            Selector::Stage(_) => true,
            Selector::Name(name) => select::is_pattern(name),
            _ => false,
        });
        let mut bridges_unread = None;
        let mut bridges: Option<Vec<Listed>> = None;
        if !downstream.is_empty()
            || names_unmatched
            || broad
            || (self.client.has_access_token() && (ids_unmatched || names_given))
        {
            match self.bridges_of(&top) {
                Ok(list) => bridges = Some(list),
                // A job token reads trigger jobs only from GitLab 19.0. A selector that matches
                // no build is reported as matching nothing, with the reason; a stage or pattern
                // goes on with its builds, and says so.
                Err(err)
                    if downstream.is_empty()
                        && !self.client.has_access_token()
                        && matches!(err.http_status(), Some(401 | 403 | 404)) =>
                {
                    if broad {
                        say::line(&format!(
                            "gljob: warning: the pipeline's trigger jobs could not be read with \
                             CI_JOB_TOKEN (GitLab 19.0+ allows it), so a stage or pattern takes in \
                             only its builds; set GITLAB_TOKEN to include trigger jobs ({})",
                            err.message()
                        ));
                    }
                    bridges_unread = Some(err.message().to_string());
                }
                Err(err) => return Err(err),
            }
        }
        if let Some(list) = &bridges {
            listed.extend(list.iter().cloned());
        }
        let mut picked_ids = Vec::new();
        let mut pipeline_selectors = Vec::new();
        for selector in &here {
            match selector {
                Selector::Id(id) if !listed.iter().any(|j| j.job.id == *id) => picked_ids.push(*id),
                other => pipeline_selectors.push(other.clone()),
            }
        }
        let mut picked: Vec<Selection> =
            select::resolve(&pipeline_selectors, &listed, &others, own, top.id)
                .map_err(|why| match &bridges_unread {
                    Some(reason) => {
                        Error::no_match(format!("{why}; trigger jobs were not searched: {reason}"))
                    }
                    None => Error::no_match(why),
                })?
                .into_iter()
                .map(|listed| {
                    Selection::Job(Picked {
                        listed: listed.clone(),
                        at: top.clone(),
                        vias: Vec::new(),
                    })
                })
                .collect();
        if let Some(first) = picked_ids.first()
            && !self.client.has_access_token()
        {
            // Known only after the pipeline was read, so this is a selector that matched nothing
            // there (exit 3), not a usage error (exit 2 promises that nothing was sent).
            let listed_older =
                others.iter().any(|n| n.id == *first) || (top_whole_ids.contains(first));
            return Err(Error::no_match(if listed_older {
                format!(
                    "job {first} in pipeline {} was retried; reading its latest attempt by id \
                     (GET /projects/:id/jobs/:job_id) needs GITLAB_TOKEN with read_api, or name \
                     the job",
                    top.id
                )
            } else {
                format!(
                    "job {first} is not in pipeline {}; reading a job outside the pipeline \
                     (GET /projects/:id/jobs/:job_id) needs GITLAB_TOKEN with read_api",
                    top.id
                )
            }));
        }
        for id in picked_ids {
            if !picked
                .iter()
                .any(|p| matches!(p, Selection::Job(j) if j.listed.job.id == id))
            {
                let single = self.single_job(&self.project, id)?;
                let at = self
                    .pipeline_of(&single, None)
                    .unwrap_or_else(|| top.clone());
                // A job given by an id of an older attempt is the job: judged (and acted on) by
                // its latest attempt, from a list read like every other verdict.
                let other_pipeline;
                let list: &[Listed] = if at == top {
                    &listed
                } else {
                    other_pipeline = self.jobs_of(&at)?;
                    &other_pipeline
                };
                // By name alone: GitLab may answer a trigger job's id on the jobs route, and
                // a build and a trigger job never share a name in one pipeline.
                let mut latest = list
                    .iter()
                    .filter(|j| j.job.name == single.job.name)
                    .max_by_key(|j| j.job.id)
                    .filter(|j| j.job.id >= single.job.id)
                    .cloned()
                    .unwrap_or(single);
                // Its latest attempt is in the list, but by name only when no selector picks
                // that name (the job was given by an older id): it is read on its own.
                if at == top
                    && let Some(newer) = others
                        .iter()
                        .filter(|n| n.name == latest.job.name)
                        .filter(|n| n.id > latest.job.id)
                        .max_by_key(|n| n.id)
                {
                    latest = self.single_job(&top.project, newer.id)?;
                }
                if latest.job.id != id {
                    // An older attempt of the job running gljob: waiting on it is waiting on
                    // itself.
                    if Some(latest.job.id) == own {
                        return Err(Error::no_match(format!(
                            "job {id} was retried; its latest attempt, #{}, is the job running \
                             gljob (CI_JOB_ID)",
                            latest.job.id
                        )));
                    }
                    say::line(&format!(
                        "gljob: job {id} was retried; {} (#{}) is its latest attempt",
                        latest.job.name, latest.job.id
                    ));
                }
                let duplicate = picked
                    .iter()
                    .any(|p| matches!(p, Selection::Job(j) if j.listed.job.id == latest.job.id));
                if !duplicate {
                    picked.push(Selection::Job(Picked {
                        listed: latest,
                        at,
                        vias: Vec::new(),
                    }));
                }
            }
        }
        for selector in downstream {
            let bridges = bridges.as_deref().unwrap_or_default();
            for found in self.below(&top, bridges, selector, String::new(), 1)? {
                let duplicate = matches!(&found, Selection::Job(new)
                    if picked.iter().any(|p| matches!(p, Selection::Job(j) if j.listed.job.id == new.listed.job.id)));
                if !duplicate {
                    picked.push(found);
                }
            }
        }
        Ok(picked)
    }

    /// Resolves `BRIDGE::REST` from pipeline `at`, whose trigger jobs are `bridges`.
    fn below(
        &self,
        at: &PipelineAt,
        bridges: &[Listed],
        selector: &Selector,
        path: String,
        depth: usize,
    ) -> Result<Vec<Selection>> {
        let Selector::Downstream { bridge, inner } = selector else {
            return Ok(Vec::new());
        };
        let path = format!("{path}{bridge}::");
        if depth > MAX_DEPTH {
            return Err(Error::no_match(format!(
                "{path}…: gljob follows trigger jobs {MAX_DEPTH} levels down at most"
            )));
        }
        let matching: Vec<&Listed> = bridges
            .iter()
            .filter(|b| Selector::picks_bridge(bridge, b))
            .collect();
        if matching.is_empty() {
            let names: Vec<&str> = bridges.iter().map(|b| b.job.name.as_str()).collect();
            return Err(Error::no_match(format!(
                "no trigger job '{bridge}' in pipeline {}; its trigger jobs are: {}",
                at.id,
                if names.is_empty() {
                    "none".to_string()
                } else {
                    names.join(", ")
                }
            )));
        }
        let mut found = Vec::new();
        for trigger in matching {
            let child = self.downstream_of(trigger, at);
            // A trigger job naming its own pipeline, or the top one, would loop (and could pick
            // the job running gljob): GitLab never creates such a tree.
            if let Some(child) = &child
                && (child == at || *child == self.configured_pipeline()?)
            {
                return Err(Error::no_match(format!(
                    "{path}: trigger job {} (#{}) names pipeline {}, which is above it; gljob \
                     does not follow a loop",
                    trigger.job.name, trigger.job.id, child.id
                )));
            }
            let Some(child) = child else {
                found.push(Selection::Awaiting(Awaiting {
                    bridge: trigger.clone(),
                    at: at.clone(),
                    rest: (**inner).clone(),
                    path: format!("{path}{}", inner.text()),
                    vias: Vec::new(),
                }));
                continue;
            };
            let written = format!("{path}{}", inner.text());
            found.extend(self.resolve_below(
                at,
                &trigger.job.name,
                &child,
                inner,
                &written,
                depth,
            )?);
        }
        Ok(found)
    }

    /// Resolves `rest` (written `path`, `docs::d1`) in `child`, the pipeline that the trigger job
    /// `trigger` of `parent` created. Every job found, in `child` or below it, and every trigger
    /// job found awaiting its pipeline there, remembers that way down ([`crate::wait::Via`], after
    /// the nearer ones), so that any trigger job on its way run again can be noticed and followed.
    pub fn resolve_below(
        &self,
        parent: &PipelineAt,
        trigger: &str,
        child: &PipelineAt,
        rest: &Selector,
        path: &str,
        depth: usize,
    ) -> Result<Vec<Selection>> {
        let prefix = path.strip_suffix(&rest.text()).unwrap_or_default();
        let mut found = self.resolve_in(child, rest, prefix, depth)?;
        for selection in &mut found {
            let vias = match selection {
                Selection::Job(picked) => &mut picked.vias,
                Selection::Awaiting(awaiting) => &mut awaiting.vias,
            };
            vias.push(crate::wait::Via {
                parent: parent.clone(),
                trigger: trigger.to_string(),
                child: child.id,
                rest: rest.clone(),
                path: path.to_string(),
            });
        }
        Ok(found)
    }

    /// The pipeline a trigger job created, if it has.
    pub fn downstream_of(&self, trigger: &Listed, at: &PipelineAt) -> Option<PipelineAt> {
        trigger
            .job
            .downstream_pipeline
            .as_ref()
            .map(|p| PipelineAt {
                project: p
                    .project_id
                    .map_or_else(|| at.project.clone(), |id| id.to_string()),
                id: p.id,
            })
    }

    /// Resolves `selector` inside pipeline `at` (reached by `path`): its jobs and, when the
    /// selector needs them, its trigger jobs.
    fn resolve_in(
        &self,
        at: &PipelineAt,
        selector: &Selector,
        path: &str,
        depth: usize,
    ) -> Result<Vec<Selection>> {
        let explain = |err: Error| explain_downstream(err, at, &self.project);
        if let Selector::Downstream { .. } = selector {
            let bridges = self.bridges_of(at).map_err(explain)?;
            return self.below(at, &bridges, selector, path.to_string(), depth + 1);
        }
        let own = self.config.own_job_id;
        let mut jobs = self.jobs_of(at).map_err(explain)?;
        // A pattern or stage takes in the pipeline's trigger jobs too, as at the top.
        let broad = match selector {
            Selector::Stage(_) => true,
            Selector::Name(name) => select::is_pattern(name),
            _ => false,
        };
        if broad || select::unmatched(std::slice::from_ref(selector), &jobs, own).len() == 1 {
            jobs.extend(self.bridges_of(at).map_err(explain)?);
        }
        let picked = select::resolve(std::slice::from_ref(selector), &jobs, &[], own, at.id)
            .map_err(|why| Error::no_match(format!("{path}{}: {why}", selector.text())))?;
        Ok(picked
            .into_iter()
            .map(|listed| {
                Selection::Job(Picked {
                    listed: listed.clone(),
                    at: at.clone(),
                    vias: Vec::new(),
                })
            })
            .collect())
    }

    /// Selected jobs for commands that act now (`job`, `trace`, `play`, …): a trigger job that
    /// has not created its pipeline is a selector that matched nothing (yet).
    pub fn select_now(&self, selectors: &[Selector]) -> Result<Vec<Picked>> {
        self.select(selectors)?
            .into_iter()
            .map(|selection| match selection {
                Selection::Job(picked) => Ok(picked),
                Selection::Awaiting(awaiting) => Err(Error::no_match(awaiting.describe())),
            })
            .collect()
    }

    /// For commands that act on jobs by id: plain ids need no read at all; names and stages are
    /// resolved against the pipeline (and below it).
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
                .map(|id| Target {
                    id,
                    project: self.project.clone(),
                    known: None,
                })
                .collect());
        }
        Ok(self
            .select_now(selectors)?
            .into_iter()
            .map(|picked| Target {
                id: picked.listed.job.id,
                project: picked.at.project.clone(),
                known: Some(picked),
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

/// The latest attempt of each job: GitLab's default list holds only those, but a list read while a
/// job is retried may show the old attempt beside the new one. Names are what selectors and waits
/// go by, so each name keeps its highest id, and one command never acts on two attempts of a job.
fn latest_attempts(mut list: Vec<Listed>) -> Vec<Listed> {
    // Borrowed names, no copies: this runs on every list of every round.
    let mut newest: std::collections::HashMap<(bool, &str), u64> =
        std::collections::HashMap::with_capacity(list.len());
    for job in &list {
        let id = newest
            .entry((job.kind == Kind::Bridge, job.job.name.as_str()))
            .or_insert(job.job.id);
        *id = (*id).max(job.job.id);
    }
    if newest.len() == list.len() {
        return list;
    }
    let keep: crate::api::Ids = newest.into_values().collect();
    list.retain(|job| keep.contains(&job.job.id));
    list
}

/// A refusal to read a downstream pipeline of another project: the job token must be allowed
/// there (`docs/gitlab-behaviour.md` §3.4).
fn explain_downstream(err: Error, at: &PipelineAt, own_project: &str) -> Error {
    // GitLab's own refusal of the job token already names the allowlist (see api::explain).
    let said = err.message().contains("allowlist");
    if at.project != own_project && !said && matches!(err.http_status(), Some(401 | 403 | 404)) {
        return err.hint(format!(
            "pipeline {} belongs to project {}: its Settings > CI/CD > Job token permissions must \
             allow this project's job token, or set GITLAB_TOKEN to an access token that can read it",
            at.id, at.project
        ));
    }
    err
}

/// A job to act on: its id, its project, and what the selection read of it, if it was selected by
/// name.
pub struct Target {
    pub id: u64,
    pub project: String,
    pub known: Option<Picked>,
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

/// Keeps whole the items named one of `names`, and nothing of the others.
fn named_keep<'k>(names: &'k [&'k str]) -> Keep<'k> {
    // Each name with its length before it: no two lists of names read the same.
    let remember = Some(names.iter().map(|n| format!("{}:{n}", n.len())).collect());
    // A round follows a few names, and is asked about each of a pipeline's jobs: names are told
    // apart by their length and last bytes first (`unit 1/3`, `unit 2/3`), compared whole only
    // when those agree.
    fn tail(name: &str) -> (usize, u64) {
        let bytes = name.as_bytes();
        let mut last = [0u8; 8];
        let from = bytes.len().saturating_sub(8);
        last[..bytes.len() - from].copy_from_slice(&bytes[from..]);
        (bytes.len(), u64::from_le_bytes(last))
    }
    let wanted: Vec<((usize, u64), &str)> = names.iter().map(|n| (tail(n), *n)).collect();
    Keep {
        whole: Box::new(move |job: &Named<'_>| {
            let key = tail(&job.name);
            wanted
                .iter()
                .any(|(k, name)| *k == key && *name == job.name)
        }),
        named: false,
        remember,
    }
}
