//! `wait` and `check`: the gates a deploy's exit code hangs on.

pub use super::rounds::follow_as_listed;
use super::rounds::{TreeSource, follow_selection};
use super::{Context, Selection};
use crate::api::route;
use crate::error::{Error, ExitCode, Result};
use crate::junit;
use crate::model::{Job, Listed, Status};
use crate::output;
use crate::say;
use crate::select::Selector;
use crate::wait::{
    self, Downstream, Followed, Outcome, Policy, Source, Verdict, WaitOptions, judge,
};

pub fn wait(context: &Context, selectors: &[Selector], options: WaitOptions) -> Result<ExitCode> {
    context.client.require(&route::PIPELINE_JOBS)?;
    context.config.pipeline_id()?;
    // Names, patterns and stages never pick the job running gljob; its id would, and a wait on
    // itself could only end at its timeout. Known before anything is sent.
    if let Some(own) = context.config.own_job_id
        && selectors.contains(&Selector::Id(own))
    {
        return Err(Error::usage(format!(
            "job {own} is the job running gljob (CI_JOB_ID): a wait on it could never end; name \
             the jobs to wait for"
        )));
    }
    let selected = match context.select(selectors) {
        Ok(selected) => selected,
        Err(err) => {
            error_report(context, "gljob wait", &err);
            // The deadline may run out while the pipeline is still being read.
            if err.exit_code() == ExitCode::TimedOut {
                say::line(&format!("gljob: {}", err.message()));
                return Ok(ExitCode::TimedOut);
            }
            return Err(err);
        }
    };
    let followed = selected
        .into_iter()
        .map(|selection| follow_selection(context, selection))
        .collect();
    follow(context, wait::merge_duplicates(followed), options)
}

/// `--junit` when nothing was selected: the report says why, instead of being missing. A report
/// that cannot be written is said on stderr; the error that ended the run stays the exit code.
pub(super) fn error_report(context: &Context, suite: &str, err: &crate::error::Error) {
    if let Some(path) = &context.report.junit
        && let Err(write) = junit::write(path, &junit::render_error(suite, err.message()))
    {
        say::line(&format!("gljob: {}", write.message()));
    }
}

/// Follows `followed` until every job is final (or the deadline), then prints the verdict and
/// returns the exit code. Shared by `wait`, `play --wait` and `retry --wait`.
pub fn follow(
    context: &Context,
    followed: Vec<Followed>,
    options: WaitOptions,
) -> Result<ExitCode> {
    let deadline = *context.client.deadline();
    let mut source = TreeSource::new(context);
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
    write_junit(context, "gljob wait", &followed, options.policy, ending);
    let outcome = waited?;
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

/// Writes `--junit` when asked. A report that cannot be written is said on stderr; the exit code
/// stays the verdict's (a deploy gate's decision does not change with its report, and
/// `allow_failure: exit_codes: [124]` keeps working).
fn write_junit(
    context: &Context,
    suite: &str,
    followed: &[Followed],
    policy: Policy,
    ending: junit::Ending,
) {
    let Some(path) = &context.report.junit else {
        return;
    };
    let cases: Vec<junit::Case> = followed
        .iter()
        .map(|f| junit::Case {
            job: &f.current,
            verdict: f.verdict(policy),
            below: f.awaiting.as_ref().map(Downstream::paths),
        })
        .collect();
    if let Err(err) = junit::write(path, &junit::render(suite, &cases, ending)) {
        say::line(&format!("gljob: warning: {}", err.message()));
    }
}

/// `check`'s verdict on a job: by the `--status` list given; otherwise as `wait` judges.
fn check_verdict(job: &Job, statuses: Option<&[Status]>, policy: Policy) -> Verdict {
    match statuses {
        Some(list) if list.contains(&job.status) => Verdict::Passed,
        Some(_) => Verdict::NotPassed,
        None => judge(job, policy),
    }
}

pub fn check(
    context: &Context,
    selectors: &[Selector],
    statuses: Option<&[Status]>,
    policy: Policy,
) -> Result<ExitCode> {
    context.client.require(&route::PIPELINE_JOBS)?;
    context.config.pipeline_id()?;
    let selected = context
        .select(selectors)
        .inspect_err(|err| error_report(context, "gljob check", err))?;
    // A pass is confirmed by a second read, as `wait` confirms its verdict: the selection read
    // the pages one after the other, and a job retried meanwhile has its new attempt on a page
    // read already. A pass that the second read does not show is no verdict (exit 3).
    let would_pass = selected.iter().all(|s| {
        matches!(s, Selection::Job(picked)
            if check_verdict(&picked.listed.job, statuses, policy).passed())
    });
    if would_pass {
        let followed: Vec<Followed> = selected
            .iter()
            .cloned()
            .map(|selection| follow_selection(context, selection))
            .collect();
        let changed = TreeSource::new(context)
            .snapshot(&followed)
            .map(|snapshot| snapshot.differs(&followed))
            .inspect_err(|err| error_report(context, "gljob check", err))?;
        if changed {
            let err = crate::error::Error::new(
                crate::error::ErrorKind::Inconsistent,
                "the selected jobs changed while the pipeline was read (a job retried or ended \
                 meanwhile); run gljob check again, or wait for them with gljob wait"
                    .to_string(),
            );
            error_report(context, "gljob check", &err);
            return Err(err);
        }
    }
    let mut failing = 0;
    // Each selected job, the trigger job path it stands for, and its verdict for the report.
    let mut cases_jobs: Vec<(Listed, Option<String>, Verdict)> = Vec::new();
    for selection in selected {
        let listed = match selection {
            Selection::Job(picked) => picked.listed,
            // Nothing below a trigger job that has not created its pipeline has passed.
            Selection::Awaiting(awaiting) => {
                // Said once per trigger job, however many selectors go below it.
                if !cases_jobs
                    .iter()
                    .any(|(job, below, _)| below.is_some() && job.job.id == awaiting.bridge.job.id)
                {
                    failing += 1;
                    say::line(&format!("not passed: {}", awaiting.describe()));
                    let verdict = if statuses.is_none() && !awaiting.bridge.job.status.is_final() {
                        Verdict::NotFinal
                    } else {
                        Verdict::NotPassed
                    };
                    cases_jobs.push((awaiting.bridge, Some(awaiting.path), verdict));
                }
                continue;
            }
        };
        let job = &listed.job;
        let verdict = check_verdict(job, statuses, policy);
        let ok = verdict.passed();
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
        } else if let Verdict::PassedWithWarning(warning) = &verdict {
            say::line(&format!("warning: {warning}; --strict would fail it"));
        }
        cases_jobs.push((listed, None, verdict));
    }
    if let Some(path) = &context.report.junit {
        let cases: Vec<junit::Case> = cases_jobs
            .iter()
            .map(|(job, below, verdict)| junit::Case {
                job,
                verdict: verdict.clone(),
                below: below.clone(),
            })
            .collect();
        let xml = junit::render("gljob check", &cases, junit::Ending::Judged);
        if let Err(err) = junit::write(path, &xml) {
            say::line(&format!("gljob: warning: {}", err.message()));
        }
    }
    if context.format != output::Format::Human {
        let listed: Vec<&Listed> = cases_jobs.iter().map(|(job, _, _)| job).collect();
        context.print(|out| output::jobs(out, &context.format, &listed))?;
    }
    Ok(if failing == 0 {
        ExitCode::Done
    } else {
        ExitCode::NotPassed
    })
}
