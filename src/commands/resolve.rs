//! Resolving selectors: one read of the pipeline, its trigger jobs where a selector needs them,
//! ids read on their own, and `BRIDGE::REST` followed down the pipelines trigger jobs created.

use super::Context;
use super::pipeline::latest_attempts;
use crate::api::Consistency;
use crate::api::route;
use crate::error::{Error, Result};
use crate::model::{Kind, Listed, PipelineAt};
use crate::say;
use crate::select::{self, Selector};

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

impl Picked {
    /// A job picked in pipeline `at`, not below a trigger job.
    fn at(listed: Listed, at: &PipelineAt) -> Picked {
        Picked {
            listed,
            at: at.clone(),
            vias: Vec::new(),
        }
    }
}

impl Selection {
    /// The id of the job picked, if a job was.
    fn job_id(&self) -> Option<u64> {
        match self {
            Selection::Job(picked) => Some(picked.listed.job.id),
            Selection::Awaiting(_) => None,
        }
    }
}

/// Adds `found` unless it picks a job picked already (two selectors may pick one job).
fn push_new(picked: &mut Vec<Selection>, found: Selection) {
    let id = found.job_id();
    if id.is_none() || !picked.iter().any(|p| p.job_id() == id) {
        picked.push(found);
    }
}

/// How deep `a::b::c` selectors and `bridges --tree` go.
pub const MAX_DEPTH: usize = 8;

impl Context {
    /// Resolves selectors with one read of the pipeline's jobs (all pages, a consistent snapshot)
    /// and, where needed, its trigger jobs and the pipelines below them. Ids that are not in the
    /// pipeline are read one by one, which needs an access token.
    pub fn select(&self, selectors: &[Selector]) -> Result<Vec<Selection>> {
        let top = self.configured_pipeline()?;
        let own = self.config.own_job_id;
        let (downstream, here): (Vec<&Selector>, Vec<&Selector>) = selectors
            .iter()
            .partition(|s| matches!(s, Selector::Downstream { .. }));
        let here: Vec<Selector> = here.into_iter().cloned().collect();
        let call = route::PIPELINE_JOBS.at(&top.project, top.id);
        let every = self
            .client
            .get_list(&call, &[], Kind::Build, Consistency::Snapshot, None)?;
        // Older attempts too: an id that names one is told apart from an id not in the pipeline.
        let listed_ids: Vec<u64> = every.iter().map(|j| j.job.id).collect();
        let mut listed = latest_attempts(every);
        let (bridges, bridges_unread) =
            self.top_bridges(&top, &here, !downstream.is_empty(), &listed)?;
        if let Some(list) = &bridges {
            listed.extend(list.iter().cloned());
        }
        let (by_id, in_pipeline): (Vec<&Selector>, Vec<&Selector>) = here.iter().partition(
            |s| matches!(s, Selector::Id(id) if !listed.iter().any(|j| j.job.id == *id)),
        );
        let in_pipeline: Vec<Selector> = in_pipeline.into_iter().cloned().collect();
        let mut picked: Vec<Selection> = select::resolve(&in_pipeline, &listed, own, top.id)
            .map_err(|why| match &bridges_unread {
                Some(reason) => {
                    Error::no_match(format!("{why}; trigger jobs were not searched: {reason}"))
                }
                None => Error::no_match(why),
            })?
            .into_iter()
            .map(|listed| Selection::Job(Picked::at(listed.clone(), &top)))
            .collect();
        for selector in by_id {
            if let Selector::Id(id) = selector {
                self.pick_by_id(*id, &top, &listed, &listed_ids, &mut picked)?;
            }
        }
        for selector in downstream {
            let bridges = bridges.as_deref().unwrap_or_default();
            for found in self.below(&top, bridges, selector, String::new(), 1, &[])? {
                push_new(&mut picked, found);
            }
        }
        Ok(picked)
    }

    /// The top pipeline's trigger jobs, when the selectors need them: a selector goes below a
    /// trigger job, matches no build, or is a stage or pattern (which may take in trigger jobs as
    /// well as builds, so a failed trigger job cannot hide behind a passed build); or an access
    /// token is at hand. A job token reads them only from GitLab 19.0, so it is not spent on them
    /// without need; where it cannot, the reason comes back instead, for the messages.
    fn top_bridges(
        &self,
        top: &PipelineAt,
        here: &[Selector],
        downstream: bool,
        builds: &[Listed],
    ) -> Result<(Option<Vec<Listed>>, Option<String>)> {
        let own = self.config.own_job_id;
        let unmatched = select::unmatched(here, builds, own);
        let names_unmatched = unmatched.iter().any(|s| s.needs_pipeline());
        let ids_unmatched = unmatched.iter().any(|s| !s.needs_pipeline());
        let names_given = here.iter().any(Selector::needs_pipeline);
        let broad = here.iter().any(Selector::is_broad);
        let needed = downstream
            || names_unmatched
            || broad
            || (self.client.has_access_token() && (ids_unmatched || names_given));
        if !needed {
            return Ok((None, None));
        }
        match self.bridges_of(top) {
            Ok(list) => Ok((Some(list), None)),
            // A selector that matches no build is reported as matching nothing, with the reason;
            // a stage or pattern goes on with its builds, and says so.
            Err(err)
                if !downstream
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
                Ok((None, Some(err.message().to_string())))
            }
            Err(err) => Err(err),
        }
    }

    /// A job given by an id that is not among the top pipeline's latest attempts: read on its
    /// own (which needs an access token), and judged (and acted on) by its latest attempt, from
    /// a list read like every other verdict. `listed` is the top pipeline's latest attempts,
    /// `listed_ids` every id its list showed.
    fn pick_by_id(
        &self,
        id: u64,
        top: &PipelineAt,
        listed: &[Listed],
        listed_ids: &[u64],
        picked: &mut Vec<Selection>,
    ) -> Result<()> {
        if !self.client.has_access_token() {
            // Known only after the pipeline was read, so this is a selector that matched nothing
            // there (exit 3), not a usage error (exit 2 promises that nothing was sent).
            return Err(Error::no_match(if listed_ids.contains(&id) {
                format!(
                    "job {id} in pipeline {} was retried; reading its latest attempt by id \
                     (GET /projects/:id/jobs/:job_id) needs GITLAB_TOKEN with read_api, or name \
                     the job",
                    top.id
                )
            } else {
                format!(
                    "job {id} is not in pipeline {}; reading a job outside the pipeline \
                     (GET /projects/:id/jobs/:job_id) needs GITLAB_TOKEN with read_api",
                    top.id
                )
            }));
        }
        if picked.iter().any(|p| p.job_id() == Some(id)) {
            return Ok(());
        }
        let single = self.single_job(&self.project, id)?;
        let at = self
            .pipeline_of(&single, None)
            .unwrap_or_else(|| top.clone());
        let other_pipeline;
        let list: &[Listed] = if at == *top {
            listed
        } else {
            other_pipeline = self.jobs_of(&at)?;
            &other_pipeline
        };
        // By name alone: GitLab may answer a trigger job's id on the jobs route, and a build and
        // a trigger job never share a name in one pipeline.
        let latest = list
            .iter()
            .filter(|j| j.job.name == single.job.name)
            .max_by_key(|j| j.job.id)
            .filter(|j| j.job.id >= single.job.id)
            .cloned()
            .unwrap_or(single);
        if latest.job.id != id {
            // An older attempt of the job running gljob: waiting on it is waiting on itself.
            if Some(latest.job.id) == self.config.own_job_id {
                return Err(Error::no_match(format!(
                    "job {id} was retried; its latest attempt, #{}, is the job running gljob \
                     (CI_JOB_ID)",
                    latest.job.id
                )));
            }
            say::line(&format!(
                "gljob: job {id} was retried; {} (#{}) is its latest attempt",
                latest.job.name, latest.job.id
            ));
        }
        push_new(picked, Selection::Job(Picked::at(latest, &at)));
        Ok(())
    }

    /// Resolves `BRIDGE::REST` from pipeline `at`, whose trigger jobs are `bridges`, reached
    /// through the pipelines `above` (the top one first).
    fn below(
        &self,
        at: &PipelineAt,
        bridges: &[Listed],
        selector: &Selector,
        path: String,
        depth: usize,
        above: &[PipelineAt],
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
            // A trigger job naming its own pipeline, or any on the way up, would loop (and could
            // pick the job running gljob): GitLab never creates such a tree.
            if let Some(child) = &child
                && (child == at || above.contains(child) || *child == self.configured_pipeline()?)
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
            let mut way = above.to_vec();
            way.push(at.clone());
            found.extend(self.resolve_below(
                &way,
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
    /// `trigger` created. `way` is the pipelines down to the trigger job's own, which is last (as
    /// far as the caller knows them, the top one first): none of them may be named again further
    /// down. Every job found, in `child` or below it, and every trigger job found awaiting its
    /// pipeline there, remembers that way down ([`crate::wait::Via`], after the nearer ones), so
    /// that any trigger job on its way run again can be noticed and followed.
    pub fn resolve_below(
        &self,
        way: &[PipelineAt],
        trigger: &str,
        child: &PipelineAt,
        rest: &Selector,
        path: &str,
        depth: usize,
    ) -> Result<Vec<Selection>> {
        let Some(parent) = way.last() else {
            return Err(Error::no_match(format!(
                "{path}: the pipeline of trigger job {trigger} is not known"
            )));
        };
        let prefix = path.strip_suffix(&rest.text()).unwrap_or_default();
        let mut found = self.resolve_in(child, rest, prefix, depth, way)?;
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

    /// Resolves `selector` inside pipeline `at` (reached by `path`): its jobs and, when the
    /// selector needs them, its trigger jobs.
    fn resolve_in(
        &self,
        at: &PipelineAt,
        selector: &Selector,
        path: &str,
        depth: usize,
        above: &[PipelineAt],
    ) -> Result<Vec<Selection>> {
        let explain = |err: Error| explain_downstream(err, at, &self.project);
        if let Selector::Downstream { .. } = selector {
            let bridges = self.bridges_of(at).map_err(explain)?;
            return self.below(at, &bridges, selector, path.to_string(), depth + 1, above);
        }
        let own = self.config.own_job_id;
        let mut jobs = self.jobs_of(at).map_err(explain)?;
        // A pattern or stage takes in the pipeline's trigger jobs too, as at the top.
        if selector.is_broad()
            || select::unmatched(std::slice::from_ref(selector), &jobs, own).len() == 1
        {
            jobs.extend(self.bridges_of(at).map_err(explain)?);
        }
        let picked = select::resolve(std::slice::from_ref(selector), &jobs, own, at.id)
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
