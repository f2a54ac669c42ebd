//! `wait` and `check`: the gates a deploy's exit code hangs on.

use super::{Context, own_pipeline};
use crate::api::route;
use crate::error::{ExitCode, Result};
use crate::junit;
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
    let mut followed = followed;
    let section = say::Section::start(
        context.report.sections_enabled(&context.config),
        "gljob_wait",
        &format!("gljob: waiting for {}", summary(&followed)),
    );
    let waited = wait::wait(&mut followed, &mut source, options, &deadline);
    section.end();
    // The report is written whatever happened: on GitLab trouble it holds what was known then.
    let ending = match &waited {
        Ok(Outcome::TimedOut) => junit::Ending::TimedOut,
        Ok(_) => junit::Ending::Judged,
        Err(_) => junit::Ending::Interrupted,
    };
    let report = write_junit(context, "gljob wait", &followed, options.policy, ending);
    let outcome = waited?;
    wait::report(&followed, outcome, options.policy);
    let finals: Vec<&Listed> = followed.iter().map(|f| &f.current).collect();
    if context.format != output::Format::Human {
        context.print(|out| output::jobs(out, &context.format, &finals))?;
    }
    report?;
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

/// `3 jobs: 1 running, 2 pending`, for the section's header.
fn summary(followed: &[Followed]) -> String {
    let mut counts: Vec<(String, usize)> = Vec::new();
    for f in followed {
        let status = f.current.job.status.to_string();
        match counts.iter_mut().find(|(s, _)| *s == status) {
            Some((_, n)) => *n += 1,
            None => counts.push((status, 1)),
        }
    }
    let parts: Vec<String> = counts.iter().map(|(s, n)| format!("{n} {s}")).collect();
    format!(
        "{} job{}: {}",
        followed.len(),
        if followed.len() == 1 { "" } else { "s" },
        parts.join(", ")
    )
}

/// Writes `--junit` when asked. A report that cannot be written is said at once and fails the
/// command after its verdict lines (exit 5): CI would otherwise show a report that is not there.
fn write_junit(
    context: &Context,
    suite: &str,
    followed: &[Followed],
    policy: Policy,
    ending: junit::Ending,
) -> Result<()> {
    let Some(path) = &context.report.junit else {
        return Ok(());
    };
    let cases: Vec<junit::Case> = followed
        .iter()
        .map(|f| junit::Case {
            job: &f.current,
            awaiting_new_attempt: f.newer_than.is_some(),
        })
        .collect();
    junit::write(path, &junit::render(suite, &cases, policy, ending)).inspect_err(|err| {
        say::line(&format!("gljob: {}", err.message()));
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
    if let Some(path) = &context.report.junit {
        // `--status` judges by the list given: the report's cases follow the same rule.
        let cases: Vec<junit::Case> = picked
            .iter()
            .map(|job| junit::Case {
                job,
                awaiting_new_attempt: false,
            })
            .collect();
        let xml = match statuses {
            None => junit::render("gljob check", &cases, policy, junit::Ending::Judged),
            Some(list) => junit::render_statuses("gljob check", &cases, list),
        };
        junit::write(path, &xml)?;
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
