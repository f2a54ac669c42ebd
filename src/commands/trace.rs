//! `trace`: a job's log, bytes unchanged, once or followed until the job ends.

use super::{Context, PipelineAt};
use crate::api::route;
use crate::error::{Error, ErrorKind, ExitCode, Result};
use crate::jitter;
use crate::model::{Listed, Status};
use crate::say;
use crate::select::Selector;
use std::io::{self, Read, Write};
use std::time::Duration;

pub fn trace(
    context: &Context,
    selectors: &[Selector],
    follow: bool,
    interval: Duration,
) -> Result<ExitCode> {
    // GitLab never lets a job token read a log (gitlab-org/gitlab#467492).
    context.client.require(&route::TRACE)?;
    if selectors.iter().any(Selector::needs_pipeline) {
        context.config.pipeline_id()?;
    }
    let targets = context.target_ids(selectors)?;
    let target = match targets.as_slice() {
        [one] => one,
        [] => {
            return Err(Error::no_match(
                "`gljob trace` needs one job, and none matched",
            ));
        }
        many => {
            return Err(Error::no_match(format!(
                "{} jobs match ({}); `gljob trace` prints one job's log: name one, or give its id",
                many.len(),
                named(many)
            )));
        }
    };
    let stdout = io::stdout();
    let mut out = stdout.lock();
    if !follow {
        let call = route::TRACE.at(&target.project, target.id);
        let body = context.client.get_stream(&call)?;
        return match copy_log(&mut body.into_reader(), &mut out, &call.describe())? {
            // `gljob trace ID | head`: the reader had what it wanted.
            Copied::Bytes(_) | Copied::ReaderGone => Ok(ExitCode::Done),
        };
    }
    let at = target.known.as_ref().map(|k| k.at.clone());
    let via = target.known.as_ref().and_then(|k| k.vias.first().cloned());
    match follow_log(
        context,
        &target.project,
        target.id,
        at,
        via,
        interval,
        &mut out,
    ) {
        Err(err) if *err.kind() == ErrorKind::TimedOut => {
            say::line(&format!("gljob: {}", err.message()));
            Ok(ExitCode::TimedOut)
        }
        other => other,
    }
}

/// `build (#11), test 1/2 (#12) and 3 more`: the jobs a selector matched, a few of them by name.
fn named(targets: &[super::Target]) -> String {
    const SHOWN: usize = 5;
    let names: Vec<String> = targets
        .iter()
        .take(SHOWN)
        .map(|target| match &target.known {
            Some(known) => format!("{} (#{})", known.listed.job.name, target.id),
            None => format!("#{}", target.id),
        })
        .collect();
    match targets.len().checked_sub(SHOWN) {
        Some(more) if more > 0 => format!("{} and {more} more", names.join(", ")),
        _ => names.join(", "),
    }
}

/// Prints the log as it grows until the job ends. A job is followed into its next attempt if it is
/// retried, in the pipeline it was named in, or, given by id, in its own: the verdict is its
/// latest attempt's, as for `wait` (an id of an attempt retried before is no exception).
fn follow_log(
    context: &Context,
    project: &str,
    first_id: u64,
    mut by_name: Option<PipelineAt>,
    mut via: Option<crate::wait::Via>,
    interval: Duration,
    out: &mut dyn Write,
) -> Result<ExitCode> {
    let deadline = *context.client.deadline();
    let mut project = project.to_string();
    let mut job_id = first_id;
    // GitLab sends the whole log on every read: remember how much was printed and print the rest.
    let mut printed: u64 = 0;
    loop {
        // The status is read before the log, so once it is final the log read after it is whole.
        let job = context.single_job(&project, job_id)?;
        if by_name.is_none() {
            by_name = context.pipeline_of(&job, None);
        }
        match print_rest(context, &project, job_id, &job, printed, out)? {
            Some(n) => printed += n,
            None => {
                printed = 0;
                continue;
            }
        }
        if job.job.status.is_final() {
            match after_end(context, &job, job_id, by_name.as_ref(), via.as_ref())? {
                AfterEnd::Attempt(next) => {
                    job_id = next;
                    printed = 0;
                    continue;
                }
                AfterEnd::Moved(moved) => {
                    project = moved.at.project.clone();
                    job_id = moved.listed.job.id;
                    by_name = Some(moved.at.clone());
                    via = moved.vias.first().cloned();
                    printed = 0;
                    continue;
                }
                AfterEnd::Verdict(code) => return Ok(code),
            }
        }
        if !deadline.sleep(jitter::spread(interval, 0.2)) {
            return Err(deadline.exceeded("following the log"));
        }
    }
}

/// Reads the log once and prints what is past the `printed` bytes already printed (GitLab sends
/// the whole log on every read), returning how many bytes it added; `None` when the log is now
/// shorter than what was printed (erased or restarted), so the caller prints it again from the
/// start.
fn print_rest(
    context: &Context,
    project: &str,
    job_id: u64,
    job: &Listed,
    printed: u64,
    out: &mut dyn Write,
) -> Result<Option<u64>> {
    let deadline = context.client.deadline();
    let call = route::TRACE.at(project, job_id);
    let body = context.client.get_stream(&call)?;
    let mut reader = body.into_reader();
    let skipped = io::copy(&mut (&mut reader).take(printed), &mut io::sink())
        .map_err(|e| read_error(context, &call.describe(), e))?;
    if skipped < printed {
        say::line(&format!(
            "gljob: the log of {} (#{}) got shorter (erased or restarted); printing it again \
             from the start",
            job.job.name, job.job.id
        ));
        return Ok(None);
    }
    match copy_log(&mut reader, out, &call.describe()) {
        Ok(Copied::Bytes(n)) => Ok(Some(n)),
        // The reader went away before the job ended: what it would have seen is unknown.
        Ok(Copied::ReaderGone) => Err(Error::new(
            ErrorKind::Output,
            format!(
                "the reader of the log went away before {} (#{}) ended; its outcome is \
                 not known",
                job.job.name, job.job.id
            ),
        )),
        Err(err) if *err.kind() == ErrorKind::NoAnswer && deadline.expired() => {
            Err(deadline.exceeded(&call.describe()))
        }
        Err(err) => Err(err),
    }
}

/// What follows a job whose log ended final: the follow goes on elsewhere, or ends with a verdict.
enum AfterEnd {
    /// The job was retried: follow this attempt's log from the start.
    Attempt(u64),
    /// Its trigger job was run again: follow this job, in the new pipeline, from the start.
    Moved(Box<super::Picked>),
    /// The job is the one to judge, and this is the exit code.
    Verdict(ExitCode),
}

/// Judges a job that ended as `wait` judges it, on its latest attempt, saying where the follow
/// goes next when that is another job.
fn after_end(
    context: &Context,
    job: &Listed,
    job_id: u64,
    by_name: Option<&PipelineAt>,
    via: Option<&crate::wait::Via>,
) -> Result<AfterEnd> {
    // A job named in the pipeline is judged on its latest attempt, as `wait` judges it:
    // one retried meanwhile (after a success too) is followed into its new attempt.
    if let Some(at) = by_name
        && let Some(next) = context.newer_attempt(job, Some(at))?
    {
        say::line(&format!(
            "gljob: {} (#{job_id}) ended {} and was retried as #{}; printing the new \
             attempt's log from the start",
            job.job.name, job.job.status, next.job.id
        ));
        return Ok(AfterEnd::Attempt(next.job.id));
    }
    // A job below a trigger job: if the trigger job was run again, its new pipeline holds
    // the job to judge, and its log is followed there from the start.
    if let Some(old) = via
        && let Some(moved) = moved_below(context, old)?
    {
        say::line(&format!(
            "gljob: {} was run again and created pipeline {}; following {} (#{}) there",
            old.trigger, moved.at.id, moved.listed.job.name, moved.listed.job.id
        ));
        return Ok(AfterEnd::Moved(Box::new(moved)));
    }
    if job.job.status == Status::Success {
        return Ok(AfterEnd::Verdict(ExitCode::Done));
    }
    say::line(&format!(
        "gljob: {} (#{}) ended {}{}",
        job.job.name,
        job.job.id,
        job.job.status,
        job.job
            .failure_reason
            .as_ref()
            .map(|r| format!(" ({r})"))
            .unwrap_or_default()
    ));
    Ok(AfterEnd::Verdict(ExitCode::NotPassed))
}

/// The job `old` leads to in the pipeline its trigger job now names, when that is another one.
fn moved_below(context: &Context, old: &crate::wait::Via) -> Result<Option<super::Picked>> {
    let trigger = context
        .bridges_of(&old.parent)?
        .into_iter()
        .find(|b| b.job.name == old.trigger);
    let Some(trigger) = trigger else {
        return Ok(None);
    };
    let Some(child) = context.downstream_of(&trigger, &old.parent) else {
        return Ok(None);
    };
    if child.id == old.child {
        return Ok(None);
    }
    let found = context.resolve_below(
        std::slice::from_ref(&old.parent),
        &old.trigger,
        &child,
        &old.rest,
        &old.path,
        1,
    )?;
    Ok(found.into_iter().find_map(|selection| match selection {
        super::Selection::Job(picked) => Some(picked),
        super::Selection::Awaiting(_) => None,
    }))
}

enum Copied {
    Bytes(u64),
    /// Whoever reads our stdout has closed it (`| head`): stop quietly.
    ReaderGone,
}

/// Streams the log in small pieces, so memory does not grow with the log.
fn copy_log(reader: &mut dyn Read, out: &mut dyn Write, route: &str) -> Result<Copied> {
    let mut buffer = [0u8; 16 * 1024];
    let mut total = 0u64;
    loop {
        let n = match reader.read(&mut buffer) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => {
                return Err(Error::new(
                    ErrorKind::NoAnswer,
                    format!("{route}: reading the log from GitLab failed: {e}"),
                ));
            }
        };
        if let Err(e) = out.write_all(&buffer[..n]) {
            return if e.kind() == io::ErrorKind::BrokenPipe {
                Ok(Copied::ReaderGone)
            } else {
                Err(Error::output(e))
            };
        }
        total += n as u64;
    }
    match out.flush() {
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => Ok(Copied::ReaderGone),
        Err(e) => Err(Error::output(e)),
        Ok(()) => Ok(Copied::Bytes(total)),
    }
}

fn read_error(context: &Context, route: &str, err: io::Error) -> Error {
    if context.client.deadline().expired() {
        return context.client.deadline().exceeded(route);
    }
    Error::new(
        ErrorKind::NoAnswer,
        format!("{route}: reading the log from GitLab failed: {err}"),
    )
}
