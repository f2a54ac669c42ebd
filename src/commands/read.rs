//! `job`, `agents`, `jobs`, `bridges`: reading, never changing.

use super::{Context, parse_listed};
use crate::api::Consistency;
use crate::api::route;
use crate::error::{ExitCode, Result};
use crate::model::{Kind, Listed};
use crate::output;
use crate::select::Selector;

pub fn job(context: &Context, selectors: &[Selector]) -> Result<ExitCode> {
    if selectors.is_empty() {
        let call = route::OWN_JOB.of_project("");
        context.client.require(call.route)?;
        let raw = context.client.get_json(&call)?;
        let listed = parse_listed(raw, Kind::Build, &call)?;
        context.print(|out| output::job(out, &context.format, &listed))?;
        return Ok(ExitCode::Done);
    }
    let ids_only = selectors.iter().all(|s| !s.needs_pipeline());
    let jobs: Vec<Listed> = if ids_only {
        context.client.require(&route::JOB)?;
        selectors
            .iter()
            .filter_map(|s| match s {
                Selector::Id(id) => Some(*id),
                _ => None,
            })
            .map(|id| context.single_job(id))
            .collect::<Result<_>>()?
    } else {
        context.client.require(&route::PIPELINE_JOBS)?;
        context.config.pipeline_id()?;
        context.select(selectors)?
    };
    context.print_jobs(&jobs)?;
    Ok(ExitCode::Done)
}

pub fn agents(context: &Context) -> Result<ExitCode> {
    let call = route::ALLOWED_AGENTS.of_project("");
    context.client.require(call.route)?;
    let raw = context.client.get_json(&call)?;
    context.print(|out| output::object(out, &context.format, &raw))?;
    Ok(ExitCode::Done)
}

fn scope_query(scopes: &[String]) -> Vec<(&'static str, String)> {
    scopes.iter().map(|s| ("scope[]", s.clone())).collect()
}

pub fn jobs(
    context: &Context,
    scopes: &[String],
    include_retried: bool,
    project_wide: bool,
    limit: Option<usize>,
) -> Result<ExitCode> {
    let mut query = scope_query(scopes);
    let (call, consistency) = if project_wide {
        // A busy project gains jobs while its pages are read: show each once, do not insist on a
        // snapshot that a busy project never holds still for.
        (
            route::PROJECT_JOBS.of_project(&context.project),
            Consistency::Listing,
        )
    } else {
        if include_retried {
            query.push(("include_retried", "true".into()));
        }
        (
            route::PIPELINE_JOBS.at(&context.project, context.config.pipeline_id()?),
            Consistency::Snapshot,
        )
    };
    context.client.require(call.route)?;
    let jobs = context.read_list(&call, &query, Kind::Build, consistency, limit)?;
    context.print(|out| output::jobs(out, &context.format, &jobs.iter().collect::<Vec<_>>()))?;
    Ok(ExitCode::Done)
}

pub fn bridges(context: &Context, scopes: &[String], limit: Option<usize>) -> Result<ExitCode> {
    let call = route::PIPELINE_BRIDGES.at(&context.project, context.config.pipeline_id()?);
    context.client.require(call.route)?;
    let bridges = context.read_list(
        &call,
        &scope_query(scopes),
        Kind::Bridge,
        Consistency::Snapshot,
        limit,
    )?;
    context.print(|out| output::jobs(out, &context.format, &bridges.iter().collect::<Vec<_>>()))?;
    Ok(ExitCode::Done)
}
