//! Verdicts on jobs, and waiting until a set of jobs is final.
//!
//! The verdict rules are pure functions so the unit tests can pin every status; [`wait`] drives
//! them with one snapshot of the pipeline per round, however many jobs it follows.

use crate::duration::human;
use crate::error::{Error, Result};
use crate::jitter;
use crate::model::{Job, Kind, Listed, Status};
use std::time::{Duration, Instant};

/// How strictly a finished job is judged.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Policy {
    /// A failed or canceled job with `allow_failure: true` does not pass either.
    pub strict: bool,
    /// A skipped job passes.
    pub allow_skipped: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    Passed,
    /// Failed or canceled, but `allow_failure` lets the pipeline go on; the text says so.
    PassedWithWarning(String),
    NotPassed,
    /// Not final yet: `manual` and `scheduled` included, and any status GitLab adds later.
    NotFinal,
}

impl Verdict {
    pub fn passed(&self) -> bool {
        matches!(self, Verdict::Passed | Verdict::PassedWithWarning(_))
    }
}

pub fn judge(job: &Job, policy: Policy) -> Verdict {
    match job.status {
        Status::Success => Verdict::Passed,
        Status::Failed | Status::Canceled if job.allow_failure && !policy.strict => {
            Verdict::PassedWithWarning(format!(
                "{} (#{}) is {} but allowed to fail",
                job.name, job.id, job.status
            ))
        }
        Status::Failed | Status::Canceled => Verdict::NotPassed,
        Status::Skipped if policy.allow_skipped => Verdict::Passed,
        Status::Skipped => Verdict::NotPassed,
        _ => Verdict::NotFinal,
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WaitOptions {
    pub timeout: Option<Duration>,
    pub interval: Duration,
    pub policy: Policy,
}

pub const DEFAULT_INTERVAL: Duration = Duration::from_secs(5);

/// How a wait ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Passed,
    NotPassed,
    TimedOut,
}

/// How a followed job is found again in the next snapshot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Track {
    /// A job of the pipeline: by name, since a retry or a replay gives it a new id and the old
    /// attempt leaves the default list. Names are unique among a pipeline's latest attempts.
    ByName,
    /// A job outside the pipeline, polled on its own.
    ById,
}

#[derive(Debug, Clone)]
pub struct Followed {
    pub current: Listed,
    pub track: Track,
    /// Set once a snapshot no longer lists the job, so the warning is said once.
    missing_reported: bool,
}

impl Followed {
    pub fn new(current: Listed, track: Track) -> Self {
        Followed {
            current,
            track,
            missing_reported: false,
        }
    }

    fn find<'a>(&self, snapshot: &'a [Listed]) -> Option<&'a Listed> {
        let me = &self.current;
        match self.track {
            Track::ByName => snapshot
                .iter()
                .find(|j| j.kind == me.kind && j.job.name == me.job.name),
            Track::ById => snapshot.iter().find(|j| j.job.id == me.job.id),
        }
    }
}

/// Where snapshots come from: the pipeline's list (plus bridges when a bridge is followed, plus
/// jobs outside the pipeline one by one). A separate trait keeps the loop testable.
pub trait Source {
    fn snapshot(&mut self) -> Result<Vec<Listed>>;
}

impl<F: FnMut() -> Result<Vec<Listed>>> Source for F {
    fn snapshot(&mut self) -> Result<Vec<Listed>> {
        self()
    }
}

/// Consecutive rounds that may fail for passing reasons (5xx, 429, network) before the wait gives
/// up with exit 3; the deadline holds throughout.
const MAX_FAILED_ROUNDS: u32 = 10;

/// Waits until every followed job is final, printing each status change on stderr.
///
/// `followed` carries the statuses of the read the jobs were selected from, so when they are all
/// final already the wait costs no request beyond that read.
///
/// `stale` says the statuses in `followed` may be out of date (GitLab answers a replay of a
/// finished manual job with the old, finished job): the first round then reads at once instead
/// of judging them.
pub fn wait(
    mut followed: Vec<Followed>,
    source: &mut dyn Source,
    options: WaitOptions,
    started: Instant,
    mut stale: bool,
) -> Result<(Outcome, Vec<Followed>)> {
    let deadline = options.timeout.map(|t| started + t);
    for f in &followed {
        progress(started, &f.current, &format!("{}", f.current.job.status));
    }
    let mut failed_rounds = 0;
    loop {
        if !stale && followed.iter().all(|f| f.current.job.status.is_final()) {
            let outcome = if followed
                .iter()
                .all(|f| judge(&f.current.job, options.policy).passed())
            {
                Outcome::Passed
            } else {
                Outcome::NotPassed
            };
            return Ok((outcome, followed));
        }
        let now = Instant::now();
        if deadline.is_some_and(|d| now >= d) {
            return Ok((Outcome::TimedOut, followed));
        }
        if !stale {
            let pause = jitter::spread(options.interval, 0.2);
            let pause = match deadline {
                Some(d) => pause.min(d.saturating_duration_since(now)),
                None => pause,
            };
            std::thread::sleep(pause);
        }
        stale = false;

        let snapshot = match source.snapshot() {
            Ok(snapshot) => {
                failed_rounds = 0;
                snapshot
            }
            Err(err) if is_passing(&err) && failed_rounds + 1 < MAX_FAILED_ROUNDS => {
                failed_rounds += 1;
                note!(
                    "[{:>6}] gljob: this round failed, trying again: {}",
                    elapsed(started),
                    err.message()
                );
                continue;
            }
            Err(err) => return Err(err),
        };
        for f in &mut followed {
            match f.find(&snapshot) {
                Some(latest) => {
                    let old = &f.current.job;
                    if latest.job.id != old.id {
                        progress(
                            started,
                            latest,
                            &format!(
                                "{} -> {} (new attempt, was #{})",
                                old.status, latest.job.status, old.id
                            ),
                        );
                    } else if latest.job.status != old.status {
                        progress(
                            started,
                            latest,
                            &format!("{} -> {}", old.status, latest.job.status),
                        );
                    }
                    f.current = latest.clone();
                    f.missing_reported = false;
                }
                None if !f.missing_reported => {
                    f.missing_reported = true;
                    progress(
                        started,
                        &f.current,
                        "no longer listed by GitLab; keeping its last status",
                    );
                }
                None => {}
            }
        }
    }
}

/// Whether an error may pass by itself: GitLab overloaded or unreachable, not a refusal.
fn is_passing(err: &Error) -> bool {
    match err.http_status() {
        Some(status) => status == 429 || status >= 500,
        None => err.exit_code() == crate::error::ExitCode::GitLab,
    }
}

fn elapsed(started: Instant) -> String {
    human(started.elapsed().as_secs_f64())
}

fn progress(started: Instant, job: &Listed, what: &str) {
    note!(
        "[{:>6}] {}{} (#{}): {what}",
        elapsed(started),
        job.job.name,
        if job.kind == Kind::Bridge {
            " [bridge]"
        } else {
            ""
        },
        job.job.id
    );
}

/// The closing lines: one per job with its verdict, then the details of those that did not pass.
pub fn report(followed: &[Followed], outcome: Outcome, policy: Policy) {
    for f in followed {
        let job = &f.current.job;
        let verdict = judge(job, policy);
        let mark = match (&verdict, outcome) {
            (Verdict::Passed, _) => "passed",
            (Verdict::PassedWithWarning(_), _) => "passed with warning",
            (Verdict::NotPassed, _) => "NOT PASSED",
            (Verdict::NotFinal, Outcome::TimedOut) => "still waiting",
            (Verdict::NotFinal, _) => "not final",
        };
        let mut line = format!("{mark}: {} (#{}) {}", job.name, job.id, job.status);
        if let Some(reason) = &job.failure_reason {
            line.push_str(&format!(" ({reason})"));
        }
        if !verdict.passed()
            && let Some(url) = &job.web_url
        {
            line.push_str(&format!(" {url}"));
        }
        note!("{line}");
        if let Verdict::PassedWithWarning(warning) = verdict {
            note!("warning: {warning}; --strict would fail it");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::value::RawValue;
    use std::cell::RefCell;

    fn listed(id: u64, name: &str, status: &str, allow_failure: bool) -> Listed {
        let raw = RawValue::from_string(format!(
            r#"{{"id":{id},"name":"{name}","stage":"s","status":"{status}","allow_failure":{allow_failure}}}"#
        ))
        .unwrap();
        Listed::parse(raw, Kind::Build).unwrap()
    }

    #[test]
    fn verdicts_for_every_status() {
        let strict = Policy {
            strict: true,
            allow_skipped: false,
        };
        let skip_ok = Policy {
            strict: false,
            allow_skipped: true,
        };
        let default = Policy::default();
        let j = |status, af| listed(1, "j", status, af).job;
        assert_eq!(judge(&j("success", false), default), Verdict::Passed);
        assert_eq!(judge(&j("failed", false), default), Verdict::NotPassed);
        assert!(matches!(
            judge(&j("failed", true), default),
            Verdict::PassedWithWarning(_)
        ));
        assert!(matches!(
            judge(&j("canceled", true), default),
            Verdict::PassedWithWarning(_)
        ));
        assert_eq!(judge(&j("failed", true), strict), Verdict::NotPassed);
        assert_eq!(judge(&j("canceled", false), default), Verdict::NotPassed);
        assert_eq!(judge(&j("skipped", false), default), Verdict::NotPassed);
        assert_eq!(judge(&j("skipped", false), skip_ok), Verdict::Passed);
        for pending in [
            "created",
            "waiting_for_resource",
            "preparing",
            "waiting_for_callback",
            "pending",
            "running",
            "canceling",
            "manual",
            "scheduled",
            "some_future_status",
        ] {
            assert_eq!(
                judge(&j(pending, true), default),
                Verdict::NotFinal,
                "{pending}"
            );
        }
    }

    fn options(timeout: Option<Duration>) -> WaitOptions {
        WaitOptions {
            timeout,
            interval: Duration::from_millis(1),
            policy: Policy::default(),
        }
    }

    #[test]
    fn follows_a_retried_job_by_name_to_its_verdict() {
        // Popped from the end: the job is retried between two polls (new id), then succeeds.
        let rounds = RefCell::new(vec![
            vec![listed(20, "test", "success", false)],
            vec![listed(20, "test", "pending", false)],
        ]);
        let mut source = || Ok(rounds.borrow_mut().pop().unwrap());
        let start = vec![Followed::new(
            listed(10, "test", "running", false),
            Track::ByName,
        )];
        let (outcome, end) =
            wait(start, &mut source, options(None), Instant::now(), false).unwrap();
        assert_eq!(outcome, Outcome::Passed);
        assert_eq!(end[0].current.job.id, 20);
        assert!(rounds.borrow().is_empty(), "stopped before the last round");
    }

    #[test]
    fn times_out_with_the_last_status() {
        let mut source = || Ok(vec![listed(1, "deploy", "manual", false)]);
        let start = vec![Followed::new(
            listed(1, "deploy", "manual", false),
            Track::ByName,
        )];
        let (outcome, end) = wait(
            start,
            &mut source,
            options(Some(Duration::from_millis(20))),
            Instant::now(),
            false,
        )
        .unwrap();
        assert_eq!(outcome, Outcome::TimedOut);
        assert_eq!(end[0].current.job.status, Status::Manual);
    }

    #[test]
    fn passing_failures_are_retried_refusals_are_not() {
        let calls = RefCell::new(0);
        let mut flaky = || {
            *calls.borrow_mut() += 1;
            if *calls.borrow() < 3 {
                Err(Error::answered(502, String::new(), "502".into()))
            } else {
                Ok(vec![listed(1, "a", "success", false)])
            }
        };
        let start = vec![Followed::new(
            listed(1, "a", "running", false),
            Track::ByName,
        )];
        let (outcome, _) = wait(
            start.clone(),
            &mut flaky,
            options(None),
            Instant::now(),
            false,
        )
        .unwrap();
        assert_eq!(outcome, Outcome::Passed);

        let mut refusing = || Err(Error::answered(401, String::new(), "401".into()));
        let err = wait(start, &mut refusing, options(None), Instant::now(), false).unwrap_err();
        assert_eq!(err.http_status(), Some(401));
    }
}
