//! `wait` and `check`: the gates a deploy's exit code hangs on.

use super::{Context, Picked};
use crate::api::{Method, TokenRule};
use crate::error::{ExitCode, Result};
use crate::model::{Kind, Listed};
use crate::output;
use crate::select::Selector;
use crate::wait::{self, Followed, Outcome, Policy, Track, WaitOptions, judge};
use std::time::Instant;

pub fn wait(context: &Context, selectors: &[Selector], options: WaitOptions) -> Result<ExitCode> {
    let started = Instant::now();
    context.client.require(
        TokenRule::AccessOrJob,
        Method::Get,
        "/projects/:id/pipelines/:pipeline_id/jobs",
    )?;
    let picked = context.select(selectors)?;
    follow(context, picked, options, started, false)
}

/// Follows `picked` until every job is final (or the timeout), then prints the verdict and
/// returns the exit code. Shared by `wait`, `play --wait` and `retry --wait`.
pub fn follow(
    context: &Context,
    picked: Vec<Picked>,
    options: WaitOptions,
    started: Instant,
    stale: bool,
) -> Result<ExitCode> {
    let followed: Vec<Followed> = picked
        .into_iter()
        .map(|p| {
            let track = if p.in_pipeline {
                Track::ByName
            } else {
                Track::ById
            };
            Followed::new(p.listed, track)
        })
        .collect();
    let with_bridges = followed.iter().any(|f| f.current.kind == Kind::Bridge);
    let outsiders: Vec<u64> = followed
        .iter()
        .filter(|f| f.track == Track::ById)
        .map(|f| f.current.job.id)
        .collect();
    let mut source = || -> Result<Vec<Listed>> {
        let mut snapshot = context.pipeline_jobs()?;
        if with_bridges {
            snapshot.extend(context.pipeline_bridges()?);
        }
        for id in &outsiders {
            snapshot.push(context.single_job(*id)?);
        }
        Ok(snapshot)
    };
    let (outcome, followed) = wait::wait(followed, &mut source, options, started, stale)?;
    wait::report(&followed, outcome, options.policy);
    let finals: Vec<&Listed> = followed.iter().map(|f| &f.current).collect();
    if context.format != output::Format::Human {
        context.print(|out| output::jobs(out, &context.format, &finals))?;
    }
    Ok(match outcome {
        Outcome::Passed => ExitCode::Done,
        Outcome::NotPassed => ExitCode::NotPassed,
        Outcome::TimedOut => {
            note!(
                "gljob: timed out after {} with {} job(s) not final",
                crate::duration::human(started.elapsed().as_secs_f64()),
                followed
                    .iter()
                    .filter(|f| !f.current.job.status.is_final())
                    .count()
            );
            ExitCode::TimedOut
        }
    })
}

pub fn check(
    context: &Context,
    selectors: &[Selector],
    statuses: Option<&[String]>,
    policy: Policy,
) -> Result<ExitCode> {
    context.client.require(
        TokenRule::AccessOrJob,
        Method::Get,
        "/projects/:id/pipelines/:pipeline_id/jobs",
    )?;
    let picked = context.select(selectors)?;
    let mut failing = 0;
    for p in &picked {
        let job = &p.listed.job;
        let ok = match statuses {
            Some(list) => list.iter().any(|s| s == job.status.as_str()),
            None => judge(job, policy).passed(),
        };
        if !ok {
            failing += 1;
            let wanted = match statuses {
                Some(list) => list.join(", "),
                None => "passed".into(),
            };
            let mut line = format!("not {wanted}: {} (#{}) is {}", job.name, job.id, job.status);
            if let Some(reason) = &job.failure_reason {
                line.push_str(&format!(" ({reason})"));
            }
            if let Some(url) = &job.web_url {
                line.push_str(&format!(" {url}"));
            }
            note!("{line}");
        }
    }
    if context.format != output::Format::Human {
        let listed: Vec<&Listed> = picked.iter().map(|p| &p.listed).collect();
        context.print(|out| output::jobs(out, &context.format, &listed))?;
    }
    Ok(if failing == 0 {
        ExitCode::Done
    } else {
        ExitCode::NotPassed
    })
}
