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
use super::{Context, PipelineAt, Target, parse_listed};
use crate::api::route::{self, Route};
use crate::error::{Error, ErrorKind, ExitCode, Result};
use crate::model::{Kind, Listed, Status};
use crate::say;
use crate::select::Selector;
use crate::wait::{Followed, Track, WaitOptions};
use serde_json::{Value, json};
use std::cell::Cell;

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
    /// Where the job was selected, when it was selected by name.
    at: Option<PipelineAt>,
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
        // GitLab refuses to play or retry an archived job with a bare 403: say why first.
        if let Some(known) = &target.known
            && known.listed.job.archived
            && matches!(action, "play" | "retry")
        {
            let err = Error::new(ErrorKind::Unsupported, archived(&known.listed, action));
            if done.is_empty() {
                return Err(err);
            }
            return Err(err.hint(already_done(action, &done)));
        }
        let call = route.at(&target.project, target.id);
        let kind = target.known.as_ref().map_or(Kind::Build, |k| k.listed.kind);
        // Past the deadline nothing more is sent: a timeout, not a write of unknown outcome.
        if let Err(err) = context.client.deadline().check(&call.describe()) {
            return Err(if done.is_empty() {
                err
            } else {
                err.hint(already_done(action, &done))
            });
        }
        let sent = context
            .client
            .post(&call, body)
            .and_then(|answer| parse_listed(answer, kind, &call))
            .and_then(|job| answers_for(target, action, job, &call));
        let outcome = match sent {
            Ok(job) => Ok(job),
            Err(err) if err.may_have_applied() => match read_back(target) {
                Ok(Proof::Applied(job)) => {
                    let job = *job;
                    // A cancel read back finds a job that has ended: nothing was left to cancel.
                    let shows = if action == "cancel"
                        && !matches!(job.job.status, Status::Canceling | Status::Canceled)
                    {
                        format!("it is {}", job.job.status)
                    } else {
                        format!("the {action} took effect")
                    };
                    say::line(&format!(
                        "gljob: {} — but reading job {} back shows {shows}",
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
            Err(err) => return Err(err.hint(already_done(action, &done))),
        }
    }
    Ok(done)
}

/// Whether GitLab's answer to a write is about the job written to: the job itself (cancel, erase,
/// play), or for a retry or a replay its new attempt (same name, a higher id). Another job in the
/// answer proves nothing, and is treated as an unreadable answer: the job is read back.
fn answers_for(
    target: &Target,
    action: &str,
    job: Listed,
    call: &crate::api::Call,
) -> Result<Listed> {
    let name = target.known.as_ref().map(|k| k.listed.job.name.as_str());
    let new_attempt = job.job.id > target.id && name.is_some_and(|n| n == job.job.name);
    let fits = match action {
        "retry" => new_attempt || (name.is_none() && job.job.id > target.id),
        "play" => job.job.id == target.id || new_attempt,
        _ => job.job.id == target.id,
    };
    // GitLab answers a cancel with the job as it is after the attempt: `canceling`, `canceled`,
    // or, for a job that had already finished, unchanged (docs/gitlab-behaviour.md §10.5). A job
    // shown still alive proves nothing either way (a stale replica, a cancel not applied yet):
    // it is read back, and what that shows is the outcome.
    if fits && action == "cancel" && !shows_cancel(&job.job.status) {
        return Err(Error::new(
            ErrorKind::WriteUnknown,
            format!(
                "{}: GitLab answered with {} (#{}) still {}, neither canceling nor canceled",
                call.describe(),
                job.job.name,
                job.job.id,
                job.job.status
            ),
        ));
    }
    if fits {
        return Ok(job);
    }
    Err(Error::unreadable(format!(
        "{}: GitLab answered with {} (#{}), not job {} or a new attempt of it",
        call.describe(),
        job.job.name,
        job.job.id,
        target.id
    )))
}

/// Whether a job in `status` shows that a cancel took hold, or that it had nothing to cancel:
/// `canceling`, `canceled`, or ended.
fn shows_cancel(status: &Status) -> bool {
    matches!(status, Status::Canceling | Status::Canceled) || status.is_final()
}

fn already_done(action: &str, done: &[Listed]) -> String {
    let names: Vec<String> = done
        .iter()
        .map(|j| format!("{} (#{})", j.job.name, j.job.id))
        .collect();
    format!("already done before this: {action} {}", names.join(", "))
}

fn archived(job: &Listed, action: &str) -> String {
    format!(
        "{} (#{}) is archived (its pipeline is older than the instance's archive setting): GitLab \
         does not {action} archived jobs; run a new pipeline instead",
        job.job.name, job.job.id
    )
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
    let mut targets = context.target_ids(selectors)?;
    // A play or retry of a job given by id reads it first: its status before the write is what
    // a read-back after a lost answer is compared with (a play of a `manual` job that has since
    // run to its end took effect; a replay of a finished one took effect only if a newer attempt
    // exists), and an archived job is refused before anything is written.
    if matches!(route.action, Some("play" | "retry")) {
        for target in targets.iter_mut().filter(|t| t.known.is_none()) {
            let listed = context.single_job(&target.project, target.id)?;
            let at = context
                .pipeline_of(&listed, None)
                .unwrap_or_else(|| PipelineAt {
                    project: target.project.clone(),
                    id: 0,
                });
            target.known = Some(super::Picked {
                listed,
                at,
                vias: Vec::new(),
            });
        }
    }
    Ok(targets)
}

/// The job's status when GitLab refused to act on it, from the read that resolved it or, for a
/// bare id, one more read.
fn status_of(context: &Context, target: &Target) -> Option<(String, Status)> {
    match &target.known {
        Some(known) => Some((
            known.listed.job.name.clone(),
            known.listed.job.status.clone(),
        )),
        None => context
            .single_job(&target.project, target.id)
            .ok()
            .map(|l| (l.job.name, l.job.status)),
    }
}

/// `NotSeen` text: what the job is now.
fn seen(job: &Listed) -> String {
    format!("{} (#{}) is {}", job.job.name, job.job.id, job.job.status)
}

/// `--input` values as GitLab's `job_inputs` (play) or `inputs` (retry) object.
fn inputs_object(inputs: &[(String, Value)]) -> serde_json::Map<String, Value> {
    inputs.iter().cloned().collect()
}

/// Job inputs need GitLab 18.10: an older GitLab drops the parameter without a word and plays or
/// retries the job with its defaults (`docs/gitlab-behaviour.md` §10.2). So before sending any,
/// GitLab's version is read; an older one is refused here, with nothing written.
fn require_inputs_support(context: &Context) -> Result<()> {
    let call = route::VERSION.of_project("");
    // Nothing is written unless this GitLab is shown to take inputs: a version that cannot be
    // read or understood stops the command (the deadline running out stays a timeout).
    let unproven = |why: String| {
        Error::new(
            ErrorKind::Unsupported,
            format!(
                "job inputs need GitLab 18.10 or later, and {why}: an older GitLab would run the \
                 job with its default inputs without a word. Nothing was played or retried"
            ),
        )
    };
    let raw = match context.client.get_json(&call) {
        Ok(raw) => raw,
        Err(err) if err.exit_code() == ExitCode::TimedOut => return Err(err),
        Err(err) => {
            return Err(unproven(format!(
                "GitLab's version could not be read ({})",
                err.message()
            )));
        }
    };
    let version = serde_json::from_str::<Value>(raw.get())
        .ok()
        .and_then(|v| v.get("version").and_then(Value::as_str).map(str::to_string));
    let parsed = version.as_deref().and_then(|text| {
        let mut parts = text.split(['.', '-']);
        let major: u32 = parts.next()?.parse().ok()?;
        let minor: u32 = parts.next()?.parse().ok()?;
        Some((major, minor))
    });
    match parsed {
        Some(found) if found >= (18, 10) => Ok(()),
        Some(_) => Err(unproven(format!(
            "this GitLab is {}",
            version.unwrap_or_default()
        ))),
        None => Err(unproven(format!(
            "GitLab's version is unreadable ({})",
            crate::error::clean_snippet(raw.get().as_bytes(), 80)
        ))),
    }
}

/// GitLab runs a finished manual job again by retrying it, and the retry drops the inputs (and
/// variables) sent with the play (`docs/gitlab-behaviour.md` §10.4): inputs are refused there
/// before anything is written; variables are warned about.
fn check_replay(targets: &[Target], variables: bool, inputs: bool) -> Result<()> {
    for target in targets {
        let Some(known) = &target.known else {
            continue;
        };
        let job = &known.listed.job;
        if !job.status.is_final() {
            continue;
        }
        if inputs {
            return Err(Error::new(
                ErrorKind::Unsupported,
                format!(
                    "{} (#{}) is {}: playing it again makes GitLab retry it, which drops job \
                     inputs; nothing was played. Run it with inputs from a new pipeline, or play it \
                     again without --input",
                    job.name, job.id, job.status
                ),
            ));
        }
        if variables {
            say::line(&format!(
                "gljob: warning: {} (#{}) is {}: playing it again makes GitLab retry it, which \
                 drops the --var values",
                job.name, job.id, job.status
            ));
        }
    }
    Ok(())
}

pub fn play(
    context: &Context,
    selectors: &[Selector],
    variables: &[(String, String)],
    inputs: &[(String, Value)],
    wait: Option<WaitOptions>,
) -> Result<ExitCode> {
    let following = Cell::new(false);
    let result = play_then_follow(context, selectors, variables, inputs, wait, &following);
    report_before_following(context, "gljob play", wait, &following, &result);
    result
}

/// `--junit` on `play --wait`/`retry --wait` when the command ended before its wait began (a
/// refusal, an unknown outcome, a timeout): the report says why, instead of being missing. Once
/// following, the wait writes its own.
fn report_before_following(
    context: &Context,
    suite: &str,
    wait: Option<WaitOptions>,
    following: &Cell<bool>,
    result: &Result<ExitCode>,
) {
    if let (Err(err), Some(_)) = (result, wait)
        && !following.get()
    {
        super::gate::error_report(context, suite, err);
    }
}

fn play_then_follow(
    context: &Context,
    selectors: &[Selector],
    variables: &[(String, String)],
    inputs: &[(String, Value)],
    wait: Option<WaitOptions>,
    following: &Cell<bool>,
) -> Result<ExitCode> {
    let targets = prepare(context, selectors, &route::PLAY)?;
    check_replay(&targets, !variables.is_empty(), !inputs.is_empty())?;
    if !inputs.is_empty() {
        require_inputs_support(context)?;
    }
    let body = play_body(variables, inputs);
    let played = write_each(
        context,
        &targets,
        &route::PLAY,
        body.as_deref(),
        &|target| play_read_back(context, target),
        |target, err| explain_play_refusal(context, target, err, variables, inputs),
    )?;
    context.print_jobs(&played)?;
    let Some(options) = wait else {
        return Ok(ExitCode::Done);
    };
    // Playing a finished manual job makes GitLab create a new attempt in the job's own pipeline
    // while answering with the old, finished job: that answer is never judged.
    let applied = played.into_iter().zip(&targets).map(|(job, target)| {
        // A replay (the job had finished before the play) is judged only on a newer attempt,
        // whatever GitLab answered (the old job before 18.10, the new one since).
        let finished_before = target
            .known
            .as_ref()
            .is_some_and(|k| k.listed.job.status.is_final());
        let replayed_from = finished_before.then_some(target.id);
        Applied {
            job,
            at: target.known.as_ref().map(|k| k.at.clone()),
            replayed_from,
        }
    });
    following.set(true);
    follow(context, followed(context, applied), options)
}

/// The play's body: the `--var` values as `job_variables_attributes` and the `--input` values as
/// `job_inputs`, or no body at all when neither is given.
fn play_body(variables: &[(String, String)], inputs: &[(String, Value)]) -> Option<Vec<u8>> {
    (!variables.is_empty() || !inputs.is_empty()).then(|| {
        let mut body = serde_json::Map::new();
        if !variables.is_empty() {
            let attributes: Vec<_> = variables
                .iter()
                .map(|(key, value)| json!({ "key": key, "value": value }))
                .collect();
            body.insert("job_variables_attributes".into(), Value::Array(attributes));
        }
        if !inputs.is_empty() {
            body.insert("job_inputs".into(), Value::Object(inputs_object(inputs)));
        }
        Value::Object(body).to_string().into_bytes()
    })
}

/// A play took effect when the job left manual/scheduled, or, for a finished manual job, when a
/// newer attempt of it exists in its own pipeline.
fn play_read_back(context: &Context, target: &Target) -> Result<Proof> {
    let before = target.known.as_ref().map(|k| k.listed.job.status.clone());
    let at = target.known.as_ref().map(|k| k.at.clone());
    let job = context.single_job(&target.project, target.id)?;
    let replay = before.as_ref().is_some_and(Status::is_final);
    Ok(match job.job.status {
        Status::Manual | Status::Scheduled => Proof::NotSeen(seen(&job)),
        // It was waiting to be played and has run since: the play took effect.
        ref status if status.is_final() && !replay => Proof::Applied(Box::new(job)),
        // A replay takes effect as a new attempt.
        ref status if status.is_final() => match context.newer_attempt(&job, at.as_ref())? {
            Some(new) => Proof::Applied(Box::new(new)),
            None => Proof::NotSeen(format!("{} and has no newer attempt yet", seen(&job))),
        },
        _ => Proof::Applied(Box::new(job)),
    })
}

/// GitLab's refusals of a play, with what the user can do about them: a job that is not
/// playable, inputs it rejected, pipeline variables the project does not allow.
fn explain_play_refusal(
    context: &Context,
    target: &Target,
    err: Error,
    variables: &[(String, String)],
    inputs: &[(String, Value)],
) -> Error {
    match err.http_status() {
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
        Some(400) if !inputs.is_empty() => err.hint(
            "GitLab refused the job inputs: check their names and types against the job's \
             `inputs:` (--input NAME=TEXT sends a string, --input NAME:=JSON a number, \
             boolean or array)",
        ),
        Some(403) if !variables.is_empty() => err.hint(
            "if the user may otherwise play this job, the project's pipeline variables \
             setting is why: Settings > CI/CD > Variables > 'Minimum role to use pipeline \
             variables' (on GitLab.com new projects allow no one); try without --var",
        ),
        _ => err,
    }
}

pub fn cancel(context: &Context, selectors: &[Selector], force: bool) -> Result<ExitCode> {
    let targets = prepare(context, selectors, &route::CANCEL)?;
    let body = force.then(|| br#"{"force":true}"#.to_vec());
    // A cancel took effect when the job is canceling or canceled. A job that has finished
    // meanwhile has nothing left to cancel, which is what GitLab would have answered.
    let read_back = |target: &Target| -> Result<Proof> {
        let job = context.single_job(&target.project, target.id)?;
        Ok(match job.job.status {
            // A force-cancel is for a job already `canceling`: only `canceled` proves it.
            Status::Canceling if force => {
                Proof::NotSeen(format!("{}, as it was before the force-cancel", seen(&job)))
            }
            ref status if shows_cancel(status) => Proof::Applied(Box::new(job)),
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
        if force && *status == Status::Canceling {
            say::line(&format!(
                "gljob: warning: {} (#{}) is still canceling: GitLab did not force it to canceled \
                 (forcing needs the Maintainer role and a runner that supports it)",
                job.job.name, job.job.id
            ));
            continue;
        }
        if !matches!(status, Status::Canceled | Status::Canceling) {
            // GitLab answers 201 with the job unchanged when it has finished (a job shown alive
            // was read back: it is here only if it has ended since).
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
    inputs: &[(String, Value)],
    wait: Option<WaitOptions>,
) -> Result<ExitCode> {
    let following = Cell::new(false);
    let result = retry_then_follow(context, selectors, inputs, wait, &following);
    report_before_following(context, "gljob retry", wait, &following, &result);
    result
}

fn retry_then_follow(
    context: &Context,
    selectors: &[Selector],
    inputs: &[(String, Value)],
    wait: Option<WaitOptions>,
    following: &Cell<bool>,
) -> Result<ExitCode> {
    let targets = prepare(context, selectors, &route::RETRY)?;
    if !inputs.is_empty() {
        require_inputs_support(context)?;
    }
    // GitLab's retry route declares the inputs as `inputs` (play's as `job_inputs`).
    let body = (!inputs.is_empty()).then(|| {
        json!({ "inputs": Value::Object(inputs_object(inputs)) })
            .to_string()
            .into_bytes()
    });
    // A retry took effect when a newer attempt exists, looked for in the job's own pipeline.
    let read_back = |target: &Target| -> Result<Proof> {
        let (job, at) = match &target.known {
            Some(known) => (known.listed.clone(), Some(known.at.clone())),
            None => (context.single_job(&target.project, target.id)?, None),
        };
        Ok(match context.newer_attempt(&job, at.as_ref())? {
            Some(new) => Proof::Applied(Box::new(new)),
            None => Proof::NotSeen(format!("{} has no newer attempt yet", job.job.name)),
        })
    };
    let retried = write_each(
        context,
        &targets,
        &route::RETRY,
        body.as_deref(),
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
            (Some(400), _) if !inputs.is_empty() => err.hint(
                "GitLab refused the job inputs: check their names and types against the job's \
                 `inputs:`",
            ),
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
    let applied = retried
        .into_iter()
        .zip(&targets)
        .map(|(job, target)| Applied {
            job,
            at: target.known.as_ref().map(|k| k.at.clone()),
            replayed_from: None,
        });
    following.set(true);
    follow(context, followed(context, applied), options)
}

pub fn erase(context: &Context, selectors: &[Selector]) -> Result<ExitCode> {
    let targets = prepare(context, selectors, &route::ERASE)?;
    let read_back = |target: &Target| -> Result<Proof> {
        let job = context.single_job(&target.project, target.id)?;
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
        .map(
            |Applied {
                 job,
                 at,
                 replayed_from,
             }| {
                let mut followed = follow_as_listed(context, job, at.as_ref());
                if matches!(followed.track, Track::ByName { .. }) {
                    followed.newer_than = replayed_from;
                }
                followed
            },
        )
        .collect()
}
