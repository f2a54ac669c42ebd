//! Reading a pipeline: its jobs and trigger jobs as consistent snapshots (all of them, or only
//! those not finished), single jobs, newer attempts, and which pipeline a job belongs to.

use super::Context;
use crate::api::route::{self, Call, Route};
use crate::api::{Consistency, explain};
use crate::error::{Error, ErrorKind, Result};
use crate::model::{Kind, Listed, PipelineAt, Status, Statuses};
use serde_json::value::RawValue;
use std::collections::{HashMap, HashSet};

/// `scope[]=` for each status `statuses` asks for.
fn scope_query(statuses: Statuses) -> Vec<(&'static str, String)> {
    let asked: &[&str] = match statuses {
        Statuses::All => &[],
        Statuses::Unfinished => &Status::UNFINISHED,
        Statuses::Finished => &Status::FINISHED,
    };
    asked
        .iter()
        .map(|status| ("scope[]", status.to_string()))
        .collect()
}

/// Which route lists trigger jobs on this GitLab, once known.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum TriggerRoute {
    Unknown,
    TriggerJobs,
    Bridges,
}

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

    /// A pipeline's jobs (latest attempts), as one consistent snapshot.
    pub fn jobs_of(&self, at: &PipelineAt) -> Result<Vec<Listed>> {
        self.list_of(at, Kind::Build, Statuses::All)
    }

    /// A pipeline's trigger jobs (latest attempts), as one consistent snapshot.
    pub fn bridges_of(&self, at: &PipelineAt) -> Result<Vec<Listed>> {
        self.list_of(at, Kind::Bridge, Statuses::All)
    }

    /// A pipeline's jobs or trigger jobs (latest attempts) with `statuses`, as one consistent
    /// snapshot.
    pub fn list_of(&self, at: &PipelineAt, kind: Kind, statuses: Statuses) -> Result<Vec<Listed>> {
        let query = scope_query(statuses);
        // A list of some statuses only changes between its pages as jobs end (or start): read as
        // a listing, and what it misses is read again (`rounds`). The whole list is a snapshot.
        let consistency = match statuses {
            Statuses::All => Consistency::Snapshot,
            Statuses::Unfinished | Statuses::Finished => Consistency::Listing,
        };
        let list = match kind {
            Kind::Build => {
                let call = route::PIPELINE_JOBS.at(&at.project, at.id);
                self.client
                    .get_list(&call, &query, Kind::Build, consistency, None)?
            }
            Kind::Bridge => self.trigger_jobs_read(at, &query, None, consistency)?,
        };
        Ok(latest_attempts(list))
    }

    /// A pipeline's trigger jobs, as one consistent snapshot: from `/trigger_jobs` (GitLab 19.2+),
    /// else from `/bridges`, which older GitLabs serve. A GitLab without the route answers its
    /// catch-all 404; the choice is remembered for the rest of the run.
    pub fn trigger_jobs(
        &self,
        at: &PipelineAt,
        query: &[(&str, String)],
        limit: Option<usize>,
    ) -> Result<Vec<Listed>> {
        self.trigger_jobs_read(at, query, limit, Consistency::Snapshot)
    }

    fn trigger_jobs_read(
        &self,
        at: &PipelineAt,
        query: &[(&str, String)],
        limit: Option<usize>,
        consistency: Consistency,
    ) -> Result<Vec<Listed>> {
        let read = |route: &'static Route| {
            let call = route.at(&at.project, at.id);
            self.client
                .get_list(&call, query, Kind::Bridge, consistency, limit)
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
                        && err.gitlab_message() == Some(explain::MISSING_ROUTE) =>
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
        let list = self.list_of(&pipeline, job.kind, Statuses::All)?;
        Ok(list
            .into_iter()
            .find(|j| j.job.name == job.job.name && j.job.id > job.job.id))
    }
}

/// The latest attempt of each job: GitLab's default list holds only those, but a list read while a
/// job is retried may show the old attempt beside the new one. Names are what selectors and waits
/// go by, so each name keeps its highest id, and one command never acts on two attempts of a job.
pub(super) fn latest_attempts(mut list: Vec<Listed>) -> Vec<Listed> {
    let mut newest: HashMap<(Kind, &str), u64> = HashMap::with_capacity(list.len());
    for job in &list {
        let id = newest
            .entry((job.kind, job.job.name.as_str()))
            .or_insert(job.job.id);
        *id = (*id).max(job.job.id);
    }
    if newest.len() == list.len() {
        return list;
    }
    let keep: HashSet<u64> = newest.into_values().collect();
    list.retain(|job| keep.contains(&job.job.id));
    list
}

/// A job GitLab answered with, typed; an answer that is not one is unreadable, naming the call.
pub fn parse_listed(raw: Box<RawValue>, kind: Kind, call: &Call) -> Result<Listed> {
    Listed::parse(&raw, kind).map_err(|why| {
        Error::new(
            ErrorKind::Unreadable,
            format!(
                "{}: GitLab's answer is not a job GitLab would send: {why}",
                call.describe()
            ),
        )
    })
}
