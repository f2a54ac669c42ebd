//! `job`, `agents`, `jobs`, `bridges`: reading, never changing.

use super::{Context, MAX_DEPTH, PipelineAt, parse_listed};
use crate::api::Consistency;
use crate::api::route;
use crate::error::{ExitCode, Result};
use crate::model::{Kind, Listed};
use crate::output;
use crate::say;
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
            .map(|id| context.single_job(&context.project, id))
            .collect::<Result<_>>()?
    } else {
        context.client.require(&route::PIPELINE_JOBS)?;
        context.config.pipeline_id()?;
        context
            .select_now(selectors)?
            .into_iter()
            .map(|picked| picked.listed)
            .collect()
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
    let keyset = if project_wide {
        context.client.get_keyset(&call, &query, limit)?
    } else {
        None
    };
    let jobs = match keyset {
        Some(jobs) => jobs,
        // Offset pages: the pipeline's list, or a project's on a GitLab without keyset here.
        None => context
            .client
            .get_list(&call, &query, Kind::Build, consistency, limit)?,
    };
    context.print(|out| output::jobs(out, &context.format, &jobs.iter().collect::<Vec<_>>()))?;
    Ok(ExitCode::Done)
}

pub fn bridges(
    context: &Context,
    scopes: &[String],
    limit: Option<usize>,
    tree: bool,
) -> Result<ExitCode> {
    context.client.require(&route::PIPELINE_TRIGGER_JOBS)?;
    let top = context.configured_pipeline()?;
    if tree {
        let mut lines = vec![format!("pipeline {} (project {})", top.id, top.project)];
        let mut drawn = vec![top.clone()];
        let mut unreadable = None;
        draw(context, &top, 1, &mut lines, &mut drawn, &mut unreadable)?;
        context.print(|out| {
            for line in &lines {
                writeln!(out, "{}", say::clean(line))?;
            }
            Ok(())
        })?;
        // The tree is drawn as far as it could be read; a part GitLab refused is still a
        // refusal (exit 3), said again on the last line.
        return match unreadable {
            Some(err) => Err(err),
            None => Ok(ExitCode::Done),
        };
    }
    let bridges = context.trigger_jobs(&top, &scope_query(scopes), limit)?;
    context.print(|out| output::jobs(out, &context.format, &bridges.iter().collect::<Vec<_>>()))?;
    Ok(ExitCode::Done)
}

/// The tree below pipeline `at`, for people: its jobs, then its trigger jobs each with the
/// pipeline it created, indented by level.
fn draw(
    context: &Context,
    at: &PipelineAt,
    depth: usize,
    lines: &mut Vec<String>,
    drawn: &mut Vec<PipelineAt>,
    unreadable: &mut Option<crate::error::Error>,
) -> Result<()> {
    let indent = "  ".repeat(depth);
    // A branch that cannot be read (another project's pipeline the job token may not see) is
    // said in its place and the rest of the tree is still drawn. The top pipeline must be readable.
    let mut readable = |result: Result<Vec<Listed>>, lines: &mut Vec<String>| match result {
        Ok(list) => Ok(Some(list)),
        Err(err) if depth > 1 && err.http_status().is_some() => {
            lines.push(format!("{indent}(not readable: {})", err.message()));
            unreadable.get_or_insert(err);
            Ok(None)
        }
        Err(err) => Err(err),
    };
    let Some(jobs) = readable(context.jobs_of(at), lines)? else {
        return Ok(());
    };
    for job in jobs {
        lines.push(format!(
            "{indent}{} (#{}, stage {}) {}",
            job.job.name, job.job.id, job.job.stage, job.job.status
        ));
    }
    let Some(triggers) = readable(context.bridges_of(at), lines)? else {
        return Ok(());
    };
    for trigger in triggers {
        let job = &trigger.job;
        let Some(child) = context.downstream_of(&trigger, at) else {
            // `none yet`, or `none` for a trigger job that ended without one: as the table says.
            lines.push(format!(
                "{indent}{} (#{}, trigger) {} -> {}",
                job.name,
                job.id,
                job.status,
                output::downstream(&trigger).unwrap_or_default()
            ));
            continue;
        };
        let status = job
            .downstream_pipeline
            .as_ref()
            .and_then(|p| p.status.as_ref())
            .map_or_else(|| "?".to_string(), |s| s.to_string());
        let project = if child.project == at.project {
            String::new()
        } else {
            format!(", project {}", child.project)
        };
        lines.push(format!(
            "{indent}{} (#{}, trigger) {} -> pipeline {}{project} ({status})",
            job.name, job.id, job.status, child.id
        ));
        // Each pipeline is drawn once: a loop or several trigger jobs naming one pipeline would
        // otherwise draw (and read) it again and again.
        if drawn.contains(&child) {
            lines.push(format!("{indent}  (pipeline {} is drawn above)", child.id));
            continue;
        }
        if depth >= MAX_DEPTH {
            lines.push(format!("{indent}  … ({MAX_DEPTH} levels shown)"));
            continue;
        }
        drawn.push(child.clone());
        draw(context, &child, depth + 1, lines, drawn, unreadable)?;
    }
    Ok(())
}
