//! `job`, `agents`, `jobs`, `bridges`: reading, never changing.

use super::{Context, parse_listed};
use crate::api::{Method, TokenRule, routes};
use crate::error::{ExitCode, Result};
use crate::model::{Kind, Listed};
use crate::output;
use crate::select::Selector;

pub fn job(context: &Context, selectors: &[Selector]) -> Result<ExitCode> {
    if selectors.is_empty() {
        let route = routes::own_job();
        let raw = context.client.get_json(&route, TokenRule::JobToken)?;
        let listed = parse_listed(raw, Kind::Build, "GET", &route)?;
        context.print(|out| output::job(out, &context.format, &listed))?;
        return Ok(ExitCode::Done);
    }
    let ids_only = selectors.iter().all(|s| !s.needs_pipeline());
    let jobs: Vec<Listed> = if ids_only {
        context
            .client
            .require(TokenRule::Access, Method::Get, "/projects/:id/jobs/:job_id")?;
        selectors
            .iter()
            .filter_map(|s| match s {
                Selector::Id(id) => Some(*id),
                _ => None,
            })
            .map(|id| context.single_job(id))
            .collect::<Result<_>>()?
    } else {
        context.client.require(
            TokenRule::AccessOrJob,
            Method::Get,
            "/projects/:id/pipelines/:pipeline_id/jobs",
        )?;
        context
            .select(selectors)?
            .into_iter()
            .map(|p| p.listed)
            .collect()
    };
    context.print_jobs(&jobs)?;
    Ok(ExitCode::Done)
}

pub fn agents(context: &Context) -> Result<ExitCode> {
    let raw = context
        .client
        .get_json(&routes::allowed_agents(), TokenRule::JobToken)?;
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
    let route = if project_wide {
        routes::project_jobs(&context.project)
    } else {
        if include_retried {
            query.push(("include_retried", "true".into()));
        }
        routes::pipeline_jobs(&context.project, context.config.pipeline_id()?)
    };
    context
        .client
        .require(TokenRule::AccessOrJob, Method::Get, &route)?;
    let jobs = context.read_list(&route, &query, Kind::Build, limit)?;
    context.print(|out| output::jobs(out, &context.format, &jobs.iter().collect::<Vec<_>>()))?;
    Ok(ExitCode::Done)
}

pub fn bridges(context: &Context, scopes: &[String], limit: Option<usize>) -> Result<ExitCode> {
    let route = routes::pipeline_bridges(&context.project, context.config.pipeline_id()?);
    context
        .client
        .require(TokenRule::AccessOrJob, Method::Get, &route)?;
    let bridges = context.read_list(&route, &scope_query(scopes), Kind::Bridge, limit)?;
    context.print(|out| output::jobs(out, &context.format, &bridges.iter().collect::<Vec<_>>()))?;
    Ok(ExitCode::Done)
}
