//! `trace`: a job's log, bytes unchanged, once or followed until the job ends.

use super::Context;
use crate::api::{Method, TokenRule, routes};
use crate::error::{Error, ExitCode, Result};
use crate::jitter;
use crate::model::Status;
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
    context.client.require(
        TokenRule::Access,
        Method::Get,
        "/projects/:id/jobs/:job_id/trace",
    )?;
    let targets = context.target_ids(selectors)?;
    let Some(target) = targets.first() else {
        return Err(Error::usage("`gljob trace` needs one job"));
    };
    if targets.len() > 1 {
        return Err(Error::usage(format!(
            "{} jobs match; `gljob trace` prints one job's log: name one",
            targets.len()
        )));
    }
    let route = routes::job_action(&context.project, target.id, "trace");
    let stdout = io::stdout();
    let mut out = stdout.lock();
    if !follow {
        let body = context.client.get_body(&route, TokenRule::Access)?;
        return match copy_log(&mut body.into_reader(), &mut out, &route)? {
            Copied::Bytes(_) | Copied::ReaderGone => Ok(ExitCode::Done),
        };
    }

    // A job named in the pipeline is followed into its next attempt if it is retried; one given by
    // id is followed as that job.
    let followed_name = target.known.as_ref().map(|k| k.job.name.clone());
    let mut job_id = target.id;
    let mut route = route;
    // GitLab sends the whole log on every read: remember how much was printed and print the rest.
    let mut printed: u64 = 0;
    loop {
        // The status is read before the log, so once it is final the log read after it is whole.
        let job = context.single_job(job_id)?;
        let body = context.client.get_body(&route, TokenRule::Access)?;
        let mut reader = body.into_reader();
        let skipped = io::copy(&mut (&mut reader).take(printed), &mut io::sink())
            .map_err(|e| read_error(&route, e))?;
        if skipped < printed {
            note!(
                "gljob: the log of {} (#{}) got shorter (erased or restarted); printing it again \
                 from the start",
                job.job.name,
                job.job.id
            );
            printed = 0;
            continue;
        }
        match copy_log(&mut reader, &mut out, &route)? {
            Copied::Bytes(n) => printed += n,
            Copied::ReaderGone => return Ok(ExitCode::Done),
        }
        if job.job.status.is_final() {
            if job.job.status == Status::Success {
                return Ok(ExitCode::Done);
            }
            if let Some(name) = &followed_name
                && let Some(next) = context.newer_attempt(name, job_id)?
            {
                note!(
                    "gljob: {name} (#{job_id}) ended {} and was retried as #{}; printing the new \
                     attempt's log from the start",
                    job.job.status,
                    next.job.id
                );
                job_id = next.job.id;
                route = routes::job_action(&context.project, job_id, "trace");
                printed = 0;
                continue;
            }
            note!(
                "gljob: {} (#{}) ended {}{}",
                job.job.name,
                job.job.id,
                job.job.status,
                job.job
                    .failure_reason
                    .as_ref()
                    .map(|r| format!(" ({r})"))
                    .unwrap_or_default()
            );
            return Ok(ExitCode::NotPassed);
        }
        std::thread::sleep(jitter::spread(interval, 0.2));
    }
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
            Err(e) => return Err(read_error(route, e)),
        };
        if let Err(e) = out.write_all(&buffer[..n]) {
            return if e.kind() == io::ErrorKind::BrokenPipe {
                Ok(Copied::ReaderGone)
            } else {
                Err(Error::usage(format!("writing the log failed: {e}")))
            };
        }
        total += n as u64;
    }
    match out.flush() {
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => Ok(Copied::ReaderGone),
        Err(e) => Err(Error::usage(format!("writing the log failed: {e}"))),
        Ok(()) => Ok(Copied::Bytes(total)),
    }
}

fn read_error(route: &str, err: io::Error) -> Error {
    Error::gitlab(format!(
        "GET {route}: reading the log from GitLab failed: {err}"
    ))
}
