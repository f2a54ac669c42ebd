//! `wait` and `check`: the gates a deploy's exit code hangs on.

use super::{Context, own_pipeline};
use crate::api::route;
use crate::error::{ExitCode, Result};
use crate::model::{Kind, Listed, Status};
use crate::output;
use crate::say;
use crate::select::Selector;
use crate::wait::{self, Followed, Outcome, Policy, Snapshot, Track, Verdict, WaitOptions, judge};

pub fn wait(context: &Context, selectors: &[Selector], options: WaitOptions) -> Result<ExitCode> {
    context.client.require(&route::PIPELINE_JOBS)?;
    context.config.pipeline_id()?;
    let picked = match context.select(selectors) {
        Ok(picked) => picked,
        // The deadline may run out while the pipeline is still being read.
        Err(err) if err.exit_code() == ExitCode::TimedOut => {
            say::line(&format!("gljob: {}", err.message()));
            return Ok(ExitCode::TimedOut);
        }
        Err(err) => return Err(err),
    };
    let followed = picked
        .into_iter()
        .map(|listed| follow_as_listed(context, listed))
        .collect();
    follow(context, followed, options)
}

/// Follows a job by name in its own pipeline.
pub fn follow_as_listed(context: &Context, listed: Listed) -> Followed {
    let track = match own_pipeline(&listed, context.config.pipeline) {
        Some(pipeline) => Track::ByName { pipeline },
        None => Track::ById,
    };
    Followed::new(listed, track)
}

/// Follows `followed` until every job is final (or the deadline), then prints the verdict and
/// returns the exit code. Shared by `wait`, `play --wait` and `retry --wait`.
pub fn follow(
    context: &Context,
    followed: Vec<Followed>,
    options: WaitOptions,
) -> Result<ExitCode> {
    let deadline = *context.client.deadline();
    let mut source = |followed: &[Followed]| -> Result<Snapshot> {
        let mut snapshot = Snapshot::default();
        let mut pipelines: Vec<(u64, bool)> = Vec::new();
        for f in followed {
            if let Track::ByName { pipeline } = f.track {
                let bridge = f.current.kind == Kind::Bridge;
                match pipelines.iter_mut().find(|(p, _)| *p == pipeline) {
                    Some((_, with_bridges)) => *with_bridges |= bridge,
                    None => pipelines.push((pipeline, bridge)),
                }
            }
        }
        for (pipeline, with_bridges) in pipelines {
            let mut jobs = context.jobs_of(pipeline)?;
            if with_bridges {
                jobs.extend(context.bridges_of(pipeline)?);
            }
            snapshot.pipelines.push((pipeline, jobs));
        }
        for f in followed.iter().filter(|f| f.track == Track::ById) {
            snapshot.singles.push(context.single_job(f.current.job.id)?);
        }
        Ok(snapshot)
    };
    let (outcome, followed) = wait::wait(followed, &mut source, options, &deadline)?;
    wait::report(&followed, outcome, options.policy);
    let finals: Vec<&Listed> = followed.iter().map(|f| &f.current).collect();
    if context.format != output::Format::Human {
        context.print(|out| output::jobs(out, &context.format, &finals))?;
    }
    Ok(match outcome {
        Outcome::Passed => ExitCode::Done,
        Outcome::NotPassed => ExitCode::NotPassed,
        Outcome::TimedOut => {
            say::line(&format!(
                "gljob: timed out after {} with {} job(s) not final",
                crate::duration::human(deadline.started().elapsed().as_secs_f64()),
                followed
                    .iter()
                    .filter(|f| !f.current.job.status.is_final() || f.newer_than.is_some())
                    .count()
            ));
            ExitCode::TimedOut
        }
    })
}

pub fn check(
    context: &Context,
    selectors: &[Selector],
    statuses: Option<&[Status]>,
    policy: Policy,
) -> Result<ExitCode> {
    context.client.require(&route::PIPELINE_JOBS)?;
    context.config.pipeline_id()?;
    let picked = context.select(selectors)?;
    let mut failing = 0;
    for listed in &picked {
        let job = &listed.job;
        let verdict = judge(job, policy);
        let ok = match statuses {
            Some(list) => list.contains(&job.status),
            None => verdict.passed(),
        };
        if !ok {
            failing += 1;
            let wanted = match statuses {
                Some(list) => list
                    .iter()
                    .map(Status::as_str)
                    .collect::<Vec<_>>()
                    .join(", "),
                None => "passed".into(),
            };
            let mut line = format!("not {wanted}: {} (#{}) is {}", job.name, job.id, job.status);
            if let Some(reason) = &job.failure_reason {
                line.push_str(&format!(" ({reason})"));
            }
            if let Some(url) = &job.web_url {
                line.push_str(&format!(" {url}"));
            }
            say::line(&line);
        } else if let Verdict::PassedWithWarning(warning) = verdict
            && statuses.is_none()
        {
            say::line(&format!("warning: {warning}; --strict would fail it"));
        }
    }
    if context.format != output::Format::Human {
        let listed: Vec<&Listed> = picked.iter().collect();
        context.print(|out| output::jobs(out, &context.format, &listed))?;
    }
    Ok(if failing == 0 {
        ExitCode::Done
    } else {
        ExitCode::NotPassed
    })
}
