//! `wait` and `check`: the gates a deploy's exit code hangs on.

use super::{Context, PipelineAt, Selection};
use crate::api::route;
use crate::error::{Error, ExitCode, Result};
use crate::junit;
use crate::model::{Job, Kind, Listed, Status};
use crate::output;
use crate::say;
use crate::select::Selector;
use crate::wait::{
    self, Downstream, Followed, Judged, Outcome, Policy, Read, Snapshot, Source, Track, Verdict,
    Via, WaitOptions, judge,
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

/// `--junit` when the run ended before any job was judged (nothing selected, GitLab refused the
/// first read, a play refused): the report says why, instead of being missing.
pub(super) fn error_report(context: &Context, suite: &str, err: &crate::error::Error) {
    write_junit(context, suite, &[], &Err(err.clone()));
}

/// A selected job, followed by name in its own pipeline; or a trigger job followed until it
/// creates the pipeline the rest of the selector is about.
fn follow_selection(context: &Context, selection: Selection) -> Followed {
    match selection {
        Selection::Job(picked) => {
            let mut followed = follow_as_listed(context, picked.listed, Some(&picked.at));
            followed.vias = picked.vias;
            followed
        }
        Selection::Awaiting(awaiting) => {
            let mut followed = Followed::new(awaiting.bridge, Track::ByName { at: awaiting.at });
            followed.awaiting = Some(Downstream {
                wanted: vec![(awaiting.rest, awaiting.path)],
            });
            followed.vias = awaiting.vias;
            followed
        }
    }
}

/// Follows a job by name in its own pipeline (`listed_in` when its payload does not say).
pub fn follow_as_listed(
    context: &Context,
    listed: Listed,
    listed_in: Option<&PipelineAt>,
) -> Followed {
    let track = match context.pipeline_of(&listed, listed_in) {
        Some(at) => Track::ByName { at },
        None => Track::ById {
            project: context.project.clone(),
        },
    };
    Followed::new(listed, track)
}

/// Each round reads each pipeline of the tree that holds a followed job once: its jobs list where a
/// job is followed, its trigger jobs where a trigger job (or something below one) is. Jobs that
/// have ended are still read while the wait goes on for others: one retried, or the trigger job
/// above it run again, is no longer that verdict (the wait judges latest attempts, wherever they
/// are, not only those that share a pipeline with a job still running).
struct TreeSource<'a> {
    context: &'a Context,
}

/// A pipeline a round reads, with the names looked for in its jobs and in its trigger jobs
/// (`None`: that list is not read).
type Planned<'f> = (PipelineAt, Option<Vec<&'f str>>, Option<Vec<&'f str>>);

/// Adds `name` to what a round looks for in pipeline `at`'s jobs, or trigger jobs for `bridge`.
fn need<'f>(plan: &mut Vec<Planned<'f>>, at: &PipelineAt, name: &'f str, bridge: bool) {
    let index = match plan.iter().position(|(p, _, _)| p == at) {
        Some(index) => index,
        None => {
            plan.push((at.clone(), None, None));
            plan.len() - 1
        }
    };
    let (_, jobs, bridges) = &mut plan[index];
    let names = (if bridge { bridges } else { jobs }).get_or_insert_with(Vec::new);
    if !names.contains(&name) {
        names.push(name);
    }
}

impl Source for TreeSource<'_> {
    fn snapshot(&mut self, followed: &[Followed]) -> Result<Snapshot> {
        let context = self.context;
        // Each pipeline to read, with the names looked for in its jobs and in its trigger jobs
        // (`None`: that list is not read). Only those jobs are typed: the round judges by name.
        let mut plan: Vec<Planned<'_>> = Vec::new();
        for f in followed {
            if let Some(at) = f.pipeline() {
                need(
                    &mut plan,
                    at,
                    &f.current.job.name,
                    f.current.kind == Kind::Bridge,
                );
            }
            // The trigger job above it: retried, it would create another pipeline.
            for via in &f.vias {
                need(&mut plan, &via.parent, &via.trigger, true);
            }
        }
        let mut snapshot = Snapshot::default();
        for (at, jobs, bridges) in plan {
            let mut listed = Vec::new();
            if let Some(names) = &jobs {
                listed.extend(context.jobs_named(&at, names)?);
            }
            if let Some(names) = &bridges {
                listed.extend(context.bridges_named(&at, names)?);
            }
            snapshot.pipelines.push(Read {
                at,
                jobs: jobs.is_some(),
                bridges: bridges.is_some(),
                listed,
            });
        }
        for f in followed.iter().filter(|f| !f.settled()) {
            if let Track::ById { project } = &f.track {
                snapshot
                    .singles
                    .push(context.single_job(project, f.current.job.id)?);
            }
        }
        Ok(snapshot)
    }

    fn expand(&mut self, followed: &mut Vec<Followed>, snapshot: &Snapshot) -> Result<()> {
        let context = self.context;
        self.follow_retriggered(followed, snapshot)?;
        let mut index = 0;
        while index < followed.len() {
            let f = &followed[index];
            let (Some(downstream), Some(at)) = (&f.awaiting, f.pipeline()) else {
                index += 1;
                continue;
            };
            let Some(child) = context.downstream_of(&f.current, at) else {
                index += 1;
                continue;
            };
            let mut replacement: Vec<Followed> = Vec::new();
            for (rest, path) in &downstream.wanted {
                // The way down is remembered here as well, or a later run of this trigger job
                // would leave these jobs judged in the pipeline it no longer stands for.
                let found =
                    context.resolve_below(at, &f.current.job.name, &child, rest, path, 1)?;
                replacement.extend(found.into_iter().map(|selection| {
                    let mut found = follow_selection(context, selection);
                    found.vias.extend(f.vias.iter().cloned());
                    found
                }));
            }
            say::line(&format!(
                "gljob: {} (#{}) created pipeline {}; following {} there",
                f.current.job.name,
                f.current.job.id,
                child.id,
                downstream.paths()
            ));
            let replacement = wait::merge_duplicates(replacement);
            let added = replacement.len();
            followed.splice(index..=index, replacement);
            index += added;
        }
        // Two trigger jobs' pipelines may hold what one selector picked twice.
        let all = std::mem::take(followed);
        *followed = wait::merge_duplicates(all);
        Ok(())
    }
}

impl TreeSource<'_> {
    /// Jobs reached through a trigger job that has since been retried (its latest attempt names
    /// another pipeline, or none yet): what was selected in the old pipeline is selected again in
    /// the new one, or awaited until the new attempt creates it.
    fn follow_retriggered(&self, followed: &mut Vec<Followed>, snapshot: &Snapshot) -> Result<()> {
        let context = self.context;
        // (how far up, the way down) of each trigger job run again.
        let mut stale: Vec<(usize, Via)> = Vec::new();
        // Every entry, settled ones too: a job that ended in this round's read of its pipeline
        // may belong to a pipeline that the trigger jobs, read later in the same round, show
        // replaced.
        for f in followed.iter() {
            for (level, via) in f.vias.iter().enumerate() {
                if snapshot.moved(via) && !stale.iter().any(|(_, s)| same_pipeline(s, via)) {
                    stale.push((level, via.clone()));
                }
            }
        }
        // The farthest up first: its new pipeline is resolved whole, and whatever was below it
        // (a trigger job run again there too) goes with the old one.
        stale.sort_by_key(|(level, _)| std::cmp::Reverse(*level));
        for (_, old) in stale {
            let Some(trigger) = snapshot.trigger(&old.parent, &old.trigger).cloned() else {
                continue;
            };
            let mut wanted: Vec<(Selector, String)> = Vec::new();
            // The way further up, shared by every job below `old`: kept by what replaces them.
            let mut above: Option<Vec<Via>> = None;
            for f in followed.iter() {
                let Some(level) = f.vias.iter().position(|via| same_pipeline(via, &old)) else {
                    continue;
                };
                let via = &f.vias[level];
                if !wanted.contains(&(via.rest.clone(), via.path.clone())) {
                    wanted.push((via.rest.clone(), via.path.clone()));
                }
                above.get_or_insert_with(|| f.vias[level + 1..].to_vec());
            }
            // Gone with a replaced pipeline further up.
            let Some(above) = above else {
                continue;
            };
            let mut replacement: Vec<Followed> = Vec::new();
            match context.downstream_of(&trigger, &old.parent) {
                Some(child) => {
                    for (rest, path) in &wanted {
                        let found = context.resolve_below(
                            &old.parent,
                            &old.trigger,
                            &child,
                            rest,
                            path,
                            1,
                        )?;
                        replacement.extend(
                            found
                                .into_iter()
                                .map(|selection| follow_selection(context, selection)),
                        );
                    }
                    say::line(&format!(
                        "gljob: {} (#{}) was run again and created pipeline {}; following {} there",
                        trigger.job.name,
                        trigger.job.id,
                        child.id,
                        wanted
                            .iter()
                            .map(|(_, p)| p.as_str())
                            .collect::<Vec<_>>()
                            .join(", ")
                    ));
                }
                None => {
                    let mut awaiting = Followed::new(
                        trigger.clone(),
                        Track::ByName {
                            at: old.parent.clone(),
                        },
                    );
                    awaiting.awaiting = Some(Downstream { wanted });
                    say::line(&format!(
                        "gljob: {} (#{}) was run again; waiting for the pipeline it creates",
                        trigger.job.name, trigger.job.id
                    ));
                    replacement.push(awaiting);
                }
            }
            for f in &mut replacement {
                f.vias.extend(above.iter().cloned());
            }
            let mut kept: Vec<Followed> = std::mem::take(followed)
                .into_iter()
                .filter(|f| !f.vias.iter().any(|via| same_pipeline(via, &old)))
                .collect();
            kept.extend(replacement);
            *followed = wait::merge_duplicates(kept);
        }
        Ok(())
    }
}

/// Whether two ways down lead through the same trigger job into the same pipeline.
fn same_pipeline(a: &Via, b: &Via) -> bool {
    a.parent == b.parent && a.trigger == b.trigger && a.child == b.child
}

/// Follows `followed` until every job is final (or the deadline), then prints the verdict and
/// returns the exit code. Shared by `wait`, `play --wait` and `retry --wait`.
pub fn follow(
    context: &Context,
    followed: Vec<Followed>,
    options: WaitOptions,
) -> Result<ExitCode> {
    let deadline = *context.client.deadline();
    let mut source = TreeSource { context };
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
        let changed = TreeSource { context }
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
