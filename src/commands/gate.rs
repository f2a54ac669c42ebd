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
use crate::wait::{self, Followed, Judged, Outcome, Policy, Source, Verdict, WaitOptions, judge};

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

/// `--junit` when the run ended before any job was judged (nothing selected, GitLab refused the
/// first read, a play refused): the report says why, instead of being missing.
pub(super) fn error_report(context: &Context, suite: &str, err: &crate::error::Error) {
    write_junit(context, suite, &[], &Err(err.clone()));
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
    // What was known when the wait ended, GitLab trouble included: the verdict lines and the
    // report say the same of each job.
    let cases: Vec<Judged> = followed
        .iter()
        .map(|f| Judged::followed(f, options.policy))
        .collect();
    let result = waited.and_then(|outcome| {
        wait::report(&cases, outcome == Outcome::TimedOut);
        if context.format != output::Format::Human {
            let finals: Vec<&Listed> = cases.iter().map(|case| &case.job).collect();
            context.print(|out| output::jobs(out, &context.format, &finals))?;
        }
        Ok(match outcome {
            Outcome::Passed => ExitCode::Done,
            Outcome::NotPassed => ExitCode::NotPassed,
            Outcome::TimedOut => {
                let waiting = followed
                    .iter()
                    .filter(|f| !f.current.job.status.is_final() || f.newer_than.is_some())
                    .count();
                let after = crate::duration::human(deadline.started().elapsed().as_secs_f64());
                say::line(&if waiting == 0 {
                    // Every job had ended; the read that confirms a verdict had not answered.
                    format!(
                        "gljob: timed out after {after} before the read that confirms the \
                         verdict; raise --timeout, or look at GitLab's answers with --verbose"
                    )
                } else {
                    format!("gljob: timed out after {after} with {waiting} job(s) not final")
                });
                ExitCode::TimedOut
            }
        })
    });
    // The report is written last, from how the run ends: on GitLab trouble, a timeout or stdout
    // that failed too, and it is green only when the exit code is 0.
    write_junit(context, "gljob wait", &cases, &result);
    result
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

/// Writes `--junit` when asked, from the jobs judged and how the command ended (its exit code or
/// its error): the one place every gate's report is written. A report that cannot be written is
/// said on stderr; the exit code stays the verdict's (a deploy gate's decision does not change
/// with its report, and `allow_failure: exit_codes: [124]` keeps working).
fn write_junit(context: &Context, suite: &str, cases: &[Judged], result: &Result<ExitCode>) {
    let Some(path) = &context.report.junit else {
        return;
    };
    if let Err(err) = junit::write(path, &junit::render(suite, cases, result)) {
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
    let mut cases = Vec::new();
    let result = check_now(context, selectors, statuses, policy, &mut cases);
    write_junit(context, "gljob check", &cases, &result);
    result
}

/// `check` up to its exit code, with each job judged put in `cases` as soon as it is, so that the
/// report holds them even when the read that confirms a pass fails.
fn check_now(
    context: &Context,
    selectors: &[Selector],
    statuses: Option<&[Status]>,
    policy: Policy,
    cases: &mut Vec<Judged>,
) -> Result<ExitCode> {
    context.client.require(&route::PIPELINE_JOBS)?;
    context.config.pipeline_id()?;
    let selected = context.select(selectors)?;
    for selection in &selected {
        match selection {
            Selection::Job(picked) => cases.push(Judged {
                job: picked.listed.clone(),
                verdict: check_verdict(&picked.listed.job, statuses, policy),
                below: None,
                stale: false,
                wanted: statuses.map(<[Status]>::to_vec),
            }),
            // Nothing below a trigger job that has not created its pipeline has passed. One case
            // per trigger job, however many selectors go below it, as `wait` has.
            Selection::Awaiting(awaiting) => {
                let bridge = &awaiting.bridge;
                let same = cases.iter_mut().find(|case| {
                    case.below.is_some()
                        && case.job.kind == bridge.kind
                        && case.job.job.id == bridge.job.id
                });
                match same.and_then(|case| case.below.as_mut()) {
                    Some(paths) => {
                        paths.push_str(", ");
                        paths.push_str(&awaiting.path);
                    }
                    None => cases.push(Judged {
                        job: bridge.clone(),
                        verdict: if statuses.is_none() && !bridge.job.status.is_final() {
                            Verdict::NotFinal
                        } else {
                            Verdict::NotPassed
                        },
                        below: Some(awaiting.path.clone()),
                        stale: false,
                        wanted: None,
                    }),
                }
            }
        }
    }
    // A pass is confirmed by a second read, as `wait` confirms its verdict: the selection read
    // the pages one after the other, and a job retried meanwhile has its new attempt on a page
    // read already. A pass that the second read does not show is no verdict (exit 3).
    if wait::exit_code(cases) == ExitCode::Done {
        let followed: Vec<Followed> = selected
            .into_iter()
            .map(|selection| follow_selection(context, selection))
            .collect();
        let changed = TreeSource::new(context)
            .snapshot(&followed)
            .map(|snapshot| snapshot.differs(&followed))?;
        if changed {
            return Err(crate::error::Error::new(
                crate::error::ErrorKind::Inconsistent,
                "the selected jobs changed while the pipeline was read (a job retried or ended \
                 meanwhile); run gljob check again, or wait for them with gljob wait"
                    .to_string(),
            ));
        }
    }
    wait::report(cases, false);
    if context.format != output::Format::Human {
        let listed: Vec<&Listed> = cases.iter().map(|case| &case.job).collect();
        context.print(|out| output::jobs(out, &context.format, &listed))?;
    }
    Ok(wait::exit_code(cases))
}
