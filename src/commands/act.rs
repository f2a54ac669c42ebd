//! `play`, `cancel`, `retry`, `erase`: the writes. GitLab takes none of them with a job token.

use super::{Context, Picked, Target, gate, parse_listed};
use crate::api::{Method, TokenRule, routes};
use crate::error::{Error, ExitCode, Result};
use crate::model::{Kind, Listed, Status};
use crate::select::Selector;
use crate::wait::WaitOptions;
use serde_json::json;
use std::time::Instant;

/// How to tell, after an ambiguous failure, whether a write took effect: `Some(job)` when it did.
type ReadBack<'a> = &'a dyn Fn(&Target) -> Result<Option<Listed>>;

/// Sends `action` for each target in turn. A refusal stops the command, and the error says which
/// jobs had already been acted on, so nobody has to guess what a half-done command did.
///
/// Writes are not idempotent and are never sent twice (the client resends only when the connection
/// was refused). When the answer is lost after sending (a reset or timeout) or GitLab answers 5xx,
/// the write may or may not have happened: the job is read back and `read_back` decides.
fn act_on_each(
    context: &Context,
    targets: &[Target],
    action: &str,
    body: Option<&[u8]>,
    read_back: ReadBack<'_>,
    explain: impl Fn(&Target, Error) -> Error,
) -> Result<Vec<Listed>> {
    let mut done: Vec<Listed> = Vec::new();
    for target in targets {
        let route = routes::job_action(&context.project, target.id, action);
        let outcome = match context.client.post(&route, body, TokenRule::Access) {
            Ok(answer) => {
                let kind = target.known.as_ref().map_or(Kind::Build, |k| k.kind);
                parse_listed(answer, kind, "POST", &route)
            }
            Err(err) if is_ambiguous(&err) => match read_back(target) {
                Ok(Some(job)) => {
                    note!(
                        "gljob: {} (the answer was lost); reading job {} back shows the {action} \
                         took effect",
                        err.message(),
                        target.id
                    );
                    Ok(job)
                }
                Ok(None) => Err(Error::gitlab(format!(
                    "{}; reading job {} back shows the {action} did not take effect: run it again",
                    err.message(),
                    target.id
                ))),
                Err(read_err) => Err(Error::gitlab(format!(
                    "{}; whether the {action} took effect is unknown: reading the job back failed \
                     too ({}); look at job {} before running it again",
                    err.message(),
                    read_err.message(),
                    target.id
                ))),
            },
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
                return Err(Error::gitlab(format!(
                    "{} (already done before this: {action} {})",
                    err.message(),
                    names.join(", ")
                )));
            }
        }
    }
    Ok(done)
}

/// A failure after which the write may have reached GitLab: no answer (reset, timeout), or a 5xx
/// from GitLab or a proxy in front of it.
fn is_ambiguous(err: &Error) -> bool {
    if err.never_reached_gitlab() {
        return false;
    }
    match err.http_status() {
        Some(status) => status >= 500,
        None => err.exit_code() == ExitCode::GitLab,
    }
}

fn prepare(context: &Context, selectors: &[Selector], action: &str) -> Result<Vec<Target>> {
    context.client.require(
        TokenRule::Access,
        Method::Post,
        &format!("/projects/:id/jobs/:job_id/{action}"),
    )?;
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

pub fn play(
    context: &Context,
    selectors: &[Selector],
    variables: &[(String, String)],
    wait: Option<WaitOptions>,
) -> Result<ExitCode> {
    let started = Instant::now();
    let targets = prepare(context, selectors, "play")?;
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
    // newer attempt of it exists.
    let read_back = |target: &Target| -> Result<Option<Listed>> {
        let job = context.single_job(target.id)?;
        match job.job.status {
            Status::Manual | Status::Scheduled => Ok(None),
            ref status if status.is_final() => context.newer_attempt(&job.job.name, job.job.id),
            _ => Ok(Some(job)),
        }
    };
    let played = act_on_each(
        context,
        &targets,
        "play",
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
                Error::gitlab(format!(
                    "{}; {what}: GitLab plays only manual and delayed jobs (and replays finished \
                     manual ones)",
                    err.message()
                ))
            }
            Some(403) if !variables.is_empty() => Error::gitlab(format!(
                "{}; if the user may otherwise play this job, the project's pipeline variables \
                 setting is why: Settings > CI/CD > Variables > 'Minimum role to use pipeline \
                 variables' (on GitLab.com new projects allow no one); try without --var",
                err.message()
            )),
            _ => err,
        },
    )?;
    context.print_jobs(&played)?;
    match wait {
        None => Ok(ExitCode::Done),
        // Playing a finished manual job makes GitLab create a new job while answering with the
        // old one, so what was started is found again by name, and the first round reads at once.
        Some(options) => gate::follow(context, picked(context, played), options, started, true),
    }
}

pub fn cancel(context: &Context, selectors: &[Selector], force: bool) -> Result<ExitCode> {
    let targets = prepare(context, selectors, "cancel")?;
    let body = force.then(|| br#"{"force":true}"#.to_vec());
    // GitLab answers a cancel with the job as it then is, canceled or not: reading it back is the
    // same answer.
    let read_back = |target: &Target| context.single_job(target.id).map(Some);
    let canceled = act_on_each(
        context,
        &targets,
        "cancel",
        body.as_deref(),
        &read_back,
        |_, err| err,
    )?;
    for job in &canceled {
        let status = &job.job.status;
        if !matches!(status, Status::Canceled | Status::Canceling) {
            // GitLab answers 201 with the job unchanged when it cannot be canceled.
            note!(
                "gljob: {} (#{}) is {status}: GitLab left it unchanged (only jobs that have not \
                 finished can be canceled)",
                job.job.name,
                job.job.id
            );
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
    let started = Instant::now();
    let targets = prepare(context, selectors, "retry")?;
    let read_back = |target: &Target| -> Result<Option<Listed>> {
        let name = match &target.known {
            Some(known) => known.job.name.clone(),
            None => context.single_job(target.id)?.job.name,
        };
        context.newer_attempt(&name, target.id)
    };
    let retried = act_on_each(
        context,
        &targets,
        "retry",
        None,
        &read_back,
        |target, err| match (err.http_status(), status_of(context, target)) {
            (Some(403), Some((name, status)))
                if err
                    .gitlab_message()
                    .is_some_and(|m| m.contains("not retryable")) =>
            {
                Error::gitlab(format!(
                    "{}; {name} (#{}) is {status}: GitLab retries only finished jobs",
                    err.message(),
                    target.id
                ))
            }
            _ => err,
        },
    )?;
    for (target, new) in targets.iter().zip(&retried) {
        note!(
            "gljob: retried #{} as {} (#{})",
            target.id,
            new.job.name,
            new.job.id
        );
    }
    context.print_jobs(&retried)?;
    match wait {
        None => Ok(ExitCode::Done),
        Some(options) => gate::follow(context, picked(context, retried), options, started, false),
    }
}

pub fn erase(context: &Context, selectors: &[Selector]) -> Result<ExitCode> {
    let targets = prepare(context, selectors, "erase")?;
    let read_back = |target: &Target| -> Result<Option<Listed>> {
        let job = context.single_job(target.id)?;
        Ok(job.job.erased_at.is_some().then_some(job))
    };
    let erased = act_on_each(
        context,
        &targets,
        "erase",
        None,
        &read_back,
        |target, err| match (err.http_status(), status_of(context, target)) {
            (Some(403), Some((name, status)))
                if err
                    .gitlab_message()
                    .is_some_and(|m| m.contains("not erasable")) =>
            {
                Error::gitlab(format!(
                    "{}; {name} (#{}) is {status}: only finished jobs that still have a log or \
                     artifacts can be erased",
                    err.message(),
                    target.id
                ))
            }
            _ => err,
        },
    )?;
    context.print_jobs(&erased)?;
    Ok(ExitCode::Done)
}

/// Jobs just started, to follow: by name when they belong to the configured pipeline.
fn picked(context: &Context, jobs: Vec<Listed>) -> Vec<Picked> {
    jobs.into_iter()
        .map(|listed| {
            let in_pipeline = match (&listed.job.pipeline, context.config.pipeline) {
                (Some(p), Some(configured)) => p.id == configured,
                _ => false,
            };
            Picked {
                listed,
                in_pipeline,
            }
        })
        .collect()
}
