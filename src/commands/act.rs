//! `play`, `cancel`, `retry`, `erase`: the writes. GitLab takes none of them with a job token.
//!
//! A write's outcome is one of three, and the exit code says which:
//! - **applied**: GitLab answered with the job, or reading the job back proves the effect;
//! - **not applied**, provably: the connection was refused (nothing was sent), or GitLab refused
//!   the request (a 4xx: it checks before it acts). Only then does gljob say "run it again";
//! - **unknown** (exit 4): the request went out and neither the effect nor a refusal can be
//!   proven (no answer, a 5xx from GitLab or a proxy, an answer that is not a job, a read-back
//!   that shows nothing yet: the write may still land). The line says what to look at first.

use super::gate::{follow, follow_as_listed};
use super::{Context, Target, own_pipeline, parse_listed};
use crate::api::route::{self, Route};
use crate::error::{Error, ErrorKind, ExitCode, Result};
use crate::model::{Kind, Listed, Status};
use crate::say;
use crate::select::Selector;
use crate::wait::{Followed, WaitOptions};
use serde_json::json;

/// What reading a job back after an ambiguous write shows.
enum Proof {
    /// The effect is there: the job (or its new attempt) as it now is.
    Applied(Box<Listed>),
    /// No effect is visible yet; the write may still land. Says what was seen.
    NotSeen(String),
}

/// Reads the job back and looks for the write's effect.
type ReadBack<'a> = &'a dyn Fn(&Target) -> Result<Proof>;

/// A write that took effect, and the attempt to follow when waiting for it.
struct Applied {
    job: Listed,
    /// The write made GitLab start a new attempt that its answer did not show (a replay).
    replayed_from: Option<u64>,
}

/// Sends `route` for each target in turn, once. A failure stops the command, and the error says
/// which jobs had already been acted on, so nobody has to guess what a half-done command did.
fn write_each(
    context: &Context,
    targets: &[Target],
    route: &'static Route,
    body: Option<&[u8]>,
    read_back: ReadBack<'_>,
    explain: impl Fn(&Target, Error) -> Error,
) -> Result<Vec<Listed>> {
    let action = route.action.unwrap_or("write");
    let mut done: Vec<Listed> = Vec::new();
    for target in targets {
        let call = route.at(&context.project, target.id);
        let kind = target.known.as_ref().map_or(Kind::Build, |k| k.kind);
        let sent = context
            .client
            .post(&call, body)
            .and_then(|answer| parse_listed(answer, kind, &call));
        let outcome = match sent {
            Ok(job) => Ok(job),
            Err(err) if err.may_have_applied() => match read_back(target) {
                Ok(Proof::Applied(job)) => {
                    let job = *job;
                    say::line(&format!(
                        "gljob: {} — but reading job {} back shows the {action} took effect",
                        err.message(),
                        target.id
                    ));
                    Ok(job)
                }
                Ok(Proof::NotSeen(seen)) => Err(unknown(err, action, target.id, &seen)),
                Err(read_err) => Err(unknown(
                    err,
                    action,
                    target.id,
                    &format!("reading it back failed too ({})", read_err.message()),
                )),
            },
            Err(err) if *err.kind() == ErrorKind::Unreachable => Err(err.hint(format!(
                "nothing was sent, so the {action} did not happen: it is safe to run this again"
            ))),
            Err(err) => Err(explain(target, err)),
        };
        match outcome {
            Ok(job) => done.push(job),
            Err(err) if done.is_empty() => return Err(err),
            Err(err) => {
                let names: Vec<String> = done
                    .iter()
                    .map(|j| format!("{} (#{})", j.job.name, j.job.id))
                    .collect();
                return Err(err.hint(format!(
                    "already done before this: {action} {}",
                    names.join(", ")
                )));
            }
        }
    }
    Ok(done)
}

fn unknown(err: Error, action: &str, id: u64, seen: &str) -> Error {
    Error::new(
        ErrorKind::WriteUnknown,
        format!(
            "{}; whether GitLab applied the {action} is unknown: {seen}. Look at job {id} (and its \
             pipeline) before running this again",
            err.message()
        ),
    )
}

fn prepare(
    context: &Context,
    selectors: &[Selector],
    route: &'static Route,
) -> Result<Vec<Target>> {
    context.client.require(route)?;
    if selectors.iter().any(Selector::needs_pipeline) {
        // Names and stages are looked up in the configured pipeline: say so before any request.
        context.config.pipeline_id()?;
    }
    context.target_ids(selectors)
}

/// The job's status when GitLab refused to act on it, from the read that resolved it or, for a
/// bare id, one more read.
fn status_of(context: &Context, target: &Target) -> Option<(String, Status)> {
    match &target.known {
        Some(known) => Some((known.job.name.clone(), known.job.status.clone())),
        None => context
            .single_job(target.id)
            .ok()
            .map(|l| (l.job.name, l.job.status)),
    }
}

/// `NotSeen` text: what the job is now.
fn seen(job: &Listed) -> String {
    format!("{} (#{}) is {}", job.job.name, job.job.id, job.job.status)
}

pub fn play(
    context: &Context,
    selectors: &[Selector],
    variables: &[(String, String)],
    wait: Option<WaitOptions>,
) -> Result<ExitCode> {
    let targets = prepare(context, selectors, &route::PLAY)?;
    let body = (!variables.is_empty()).then(|| {
        let attributes: Vec<_> = variables
            .iter()
            .map(|(key, value)| json!({ "key": key, "value": value }))
            .collect();
        json!({ "job_variables_attributes": attributes })
            .to_string()
            .into_bytes()
    });
    // A play took effect when the job left manual/scheduled, or, for a finished manual job, when a
    // newer attempt of it exists in its own pipeline.
    let read_back = |target: &Target| -> Result<Proof> {
        let job = context.single_job(target.id)?;
        Ok(match job.job.status {
            Status::Manual | Status::Scheduled => Proof::NotSeen(seen(&job)),
            ref status if status.is_final() => match context.newer_attempt(&job)? {
                Some(new) => Proof::Applied(Box::new(new)),
                None => Proof::NotSeen(format!("{} and has no newer attempt yet", seen(&job))),
            },
            _ => Proof::Applied(Box::new(job)),
        })
    };
    let played = write_each(
        context,
        &targets,
        &route::PLAY,
        body.as_deref(),
        &read_back,
        |target, err| match err.http_status() {
            Some(400)
                if err
                    .gitlab_message()
                    .is_some_and(|m| m.contains("Unplayable")) =>
            {
                let what = match status_of(context, target) {
                    Some((name, status)) => format!("{name} (#{}) is {status}", target.id),
                    None => format!("job {} is not playable", target.id),
                };
                err.hint(format!(
                    "{what}: GitLab plays only manual and delayed jobs (and replays finished \
                     manual ones)"
                ))
            }
            Some(403) if !variables.is_empty() => err.hint(
                "if the user may otherwise play this job, the project's pipeline variables \
                 setting is why: Settings > CI/CD > Variables > 'Minimum role to use pipeline \
                 variables' (on GitLab.com new projects allow no one); try without --var",
            ),
            _ => err,
        },
    )?;
    context.print_jobs(&played)?;
    let Some(options) = wait else {
        return Ok(ExitCode::Done);
    };
    // Playing a finished manual job makes GitLab create a new attempt in the job's own pipeline
    // while answering with the old, finished job: that answer is never judged.
    let applied = played.into_iter().map(|job| {
        let replayed_from = job.job.status.is_final().then_some(job.job.id);
        Applied { job, replayed_from }
    });
    follow(context, followed(context, applied), options)
}

pub fn cancel(context: &Context, selectors: &[Selector], force: bool) -> Result<ExitCode> {
    let targets = prepare(context, selectors, &route::CANCEL)?;
    let body = force.then(|| br#"{"force":true}"#.to_vec());
    // A cancel took effect when the job is canceling or canceled. A job that has finished
    // meanwhile has nothing left to cancel, which is what GitLab would have answered.
    let read_back = |target: &Target| -> Result<Proof> {
        let job = context.single_job(target.id)?;
        Ok(match job.job.status {
            Status::Canceled | Status::Canceling => Proof::Applied(Box::new(job)),
            ref status if status.is_final() => Proof::Applied(Box::new(job)),
            _ => Proof::NotSeen(format!("{}, so the cancel may still land", seen(&job))),
        })
    };
    let canceled = write_each(
        context,
        &targets,
        &route::CANCEL,
        body.as_deref(),
        &read_back,
        |_, err| err,
    )?;
    for job in &canceled {
        let status = &job.job.status;
        if !matches!(status, Status::Canceled | Status::Canceling) {
            // GitLab answers 201 with the job unchanged when it cannot be canceled.
            say::line(&format!(
                "gljob: {} (#{}) is {status}: GitLab left it unchanged (only jobs that have not \
                 finished can be canceled)",
                job.job.name, job.job.id
            ));
        }
    }
    context.print_jobs(&canceled)?;
    Ok(ExitCode::Done)
}

pub fn retry(
    context: &Context,
    selectors: &[Selector],
    wait: Option<WaitOptions>,
) -> Result<ExitCode> {
    let targets = prepare(context, selectors, &route::RETRY)?;
    // A retry took effect when a newer attempt exists, looked for in the job's own pipeline.
    let read_back = |target: &Target| -> Result<Proof> {
        let job = match &target.known {
            Some(known) => known.clone(),
            None => context.single_job(target.id)?,
        };
        Ok(match context.newer_attempt(&job)? {
            Some(new) => Proof::Applied(Box::new(new)),
            None => Proof::NotSeen(format!("{} has no newer attempt yet", job.job.name)),
        })
    };
    let retried = write_each(
        context,
        &targets,
        &route::RETRY,
        None,
        &read_back,
        |target, err| match (err.http_status(), status_of(context, target)) {
            (Some(403), Some((name, status)))
                if err
                    .gitlab_message()
                    .is_some_and(|m| m.contains("not retryable")) =>
            {
                err.hint(format!(
                    "{name} (#{}) is {status}: GitLab retries only finished jobs",
                    target.id
                ))
            }
            _ => err,
        },
    )?;
    for (target, new) in targets.iter().zip(&retried) {
        say::line(&format!(
            "gljob: retried #{} as {} (#{})",
            target.id, new.job.name, new.job.id
        ));
    }
    context.print_jobs(&retried)?;
    let Some(options) = wait else {
        return Ok(ExitCode::Done);
    };
    // GitLab answers a retry with the new attempt itself.
    let applied = retried.into_iter().map(|job| Applied {
        job,
        replayed_from: None,
    });
    follow(context, followed(context, applied), options)
}

pub fn erase(context: &Context, selectors: &[Selector]) -> Result<ExitCode> {
    let targets = prepare(context, selectors, &route::ERASE)?;
    let read_back = |target: &Target| -> Result<Proof> {
        let job = context.single_job(target.id)?;
        Ok(if job.job.erased_at.is_some() {
            Proof::Applied(Box::new(job))
        } else {
            Proof::NotSeen(format!("{} is not erased yet", job.job.name))
        })
    };
    let erased = write_each(
        context,
        &targets,
        &route::ERASE,
        None,
        &read_back,
        |target, err| match (err.http_status(), status_of(context, target)) {
            (Some(403), Some((name, status)))
                if err
                    .gitlab_message()
                    .is_some_and(|m| m.contains("not erasable")) =>
            {
                err.hint(format!(
                    "{name} (#{}) is {status}: only finished jobs that still have a log or \
                     artifacts can be erased",
                    target.id
                ))
            }
            _ => err,
        },
    )?;
    context.print_jobs(&erased)?;
    Ok(ExitCode::Done)
}

/// Jobs just started, to follow by name in their own pipeline (whatever `CI_PIPELINE_ID` is).
fn followed(context: &Context, applied: impl Iterator<Item = Applied>) -> Vec<Followed> {
    applied
        .map(|Applied { job, replayed_from }| {
            let in_pipeline = own_pipeline(&job, context.config.pipeline).is_some();
            let mut followed = follow_as_listed(context, job);
            if in_pipeline {
                followed.newer_than = replayed_from;
            }
            followed
        })
        .collect()
}
