//! Verdicts on jobs, and waiting until a set of jobs is final.
//!
//! The verdict rules are pure functions so the unit tests can pin every status; [`wait`] drives
//! them with one snapshot of the pipeline per round, however many jobs it follows.

use crate::deadline::Deadline;
use crate::duration::human;
use crate::error::{Error, ErrorKind, ExitCode, Result};
use crate::jitter;
use crate::model::{Job, Kind, Listed, PipelineAt, Status, Statuses};
use crate::say;
use crate::select::Selector;
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
    /// By name in its own pipeline (its payload says which, whatever `CI_PIPELINE_ID` is): a retry
    /// or a replay gives the job a new id and the old attempt leaves the default list. Names are
    /// unique among a pipeline's latest attempts.
    ByName { at: PipelineAt },
    /// A job whose pipeline is not known, polled on its own.
    ById { project: String },
}

/// How a job was reached below a trigger job: from pipeline `parent`, through the trigger job named
/// `trigger`, into pipeline `child`, by the selector `rest` (written `path`). A trigger job retried
/// mid-wait creates a new pipeline: the jobs followed in the old one are then followed in the new.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Via {
    pub parent: PipelineAt,
    pub trigger: String,
    pub child: u64,
    pub rest: Selector,
    pub path: String,
}

/// What a followed trigger job stands for while it has not created its pipeline: each selector
/// for that pipeline, with the path the user wrote (`deploy-eu::smoke`). Several selectors below
/// one trigger job share one entry, so it is read, reported and judged once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Downstream {
    pub wanted: Vec<(Selector, String)>,
}

impl Downstream {
    /// `deploy-eu::smoke, deploy-eu::e2e`.
    pub fn paths(&self) -> String {
        self.wanted
            .iter()
            .map(|(_, path)| path.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// Merges entries that stand for the same thing: a job followed twice (two selectors found it)
/// is followed once, and selectors below the same trigger job share its entry.
pub fn merge_duplicates(followed: Vec<Followed>) -> Vec<Followed> {
    let mut merged: Vec<Followed> = Vec::with_capacity(followed.len());
    for f in followed {
        let same = merged.iter_mut().find(|m| {
            m.current.kind == f.current.kind
                && m.current.job.id == f.current.job.id
                && m.awaiting.is_some() == f.awaiting.is_some()
        });
        match (same, f.awaiting) {
            (Some(existing), Some(downstream)) => {
                if let Some(mine) = &mut existing.awaiting {
                    for wanted in downstream.wanted {
                        if !mine.wanted.contains(&wanted) {
                            mine.wanted.push(wanted);
                        }
                    }
                }
            }
            (Some(_), None) => {}
            (None, awaiting) => merged.push(Followed { awaiting, ..f }),
        }
    }
    merged
}

#[derive(Debug, Clone)]
pub struct Followed {
    pub current: Listed,
    pub track: Track,
    /// An attempt with this id or an older one is not the one to judge: the job was replayed or
    /// retried and its new attempt has not been seen yet.
    pub newer_than: Option<u64>,
    /// `current` is a trigger job followed for the pipeline it is to create; the jobs selected in
    /// that pipeline replace this entry once it exists.
    pub awaiting: Option<Downstream>,
    /// The trigger jobs this job was reached through, the nearest first (`a::b::job`: `b`, then
    /// `a`); empty in our own pipeline. Any of them run again moves the job to a new pipeline.
    pub vias: Vec<Via>,
}

impl Followed {
    pub fn new(current: Listed, track: Track) -> Self {
        Followed {
            current,
            track,
            newer_than: None,
            awaiting: None,
            vias: Vec::new(),
        }
    }

    /// Whether this job's verdict is known from what was last seen. A trigger job that ended
    /// without creating its pipeline settles everything below it: nothing there will ever run.
    pub fn settled(&self) -> bool {
        self.current.job.status.is_final() && self.newer_than.is_none()
    }

    /// The verdict on what was last seen.
    pub fn verdict(&self, policy: Policy) -> Verdict {
        if self.newer_than.is_some() || !self.current.job.status.is_final() {
            return Verdict::NotFinal;
        }
        if self.awaiting.is_some() {
            return Verdict::NotPassed;
        }
        judge(&self.current.job, policy)
    }

    /// The pipeline this entry is read in, if it is tracked by name.
    pub fn pipeline(&self) -> Option<&PipelineAt> {
        match &self.track {
            Track::ByName { at } => Some(at),
            Track::ById { .. } => None,
        }
    }
}

/// One round's view: each followed pipeline's jobs (and bridges where a bridge is followed), and
/// the jobs polled on their own. Every list in it was read as a consistent snapshot.
#[derive(Debug, Default)]
pub struct Snapshot {
    /// Each pipeline read this round, with what was listed: its jobs, its trigger jobs, or both,
    /// as `read` says.
    pub pipelines: Vec<Read>,
    pub singles: Vec<Listed>,
}

/// One pipeline's lists of one round: which of its jobs and of its trigger jobs were asked for
/// (`None`: that list was not read), and what was listed.
#[derive(Debug)]
pub struct Read {
    pub at: PipelineAt,
    pub jobs: Option<Statuses>,
    pub bridges: Option<Statuses>,
    pub listed: Vec<Listed>,
}

/// What a round found for one followed entry.
enum Found<'a> {
    Listed(&'a Listed),
    /// Its pipeline (or list) was not read this round: nothing new is known.
    NotRead,
    /// Its whole list was read and it is not in it.
    Missing,
}

impl Snapshot {
    /// Whether this snapshot shows a followed job otherwise than followed: another attempt,
    /// another status, or missing from a list that was read; or a trigger job on its way down
    /// naming another pipeline than the one it was followed into (run again).
    pub fn differs(&self, followed: &[Followed]) -> bool {
        followed.iter().any(|f| {
            f.vias.iter().any(|via| self.moved(via))
                || match self.find(f) {
                    Found::Listed(job) => {
                        job.job.id != f.current.job.id || job.job.status != f.current.job.status
                    }
                    Found::Missing => true,
                    Found::NotRead => false,
                }
        })
    }

    /// Whether the trigger job on this way down, if its list was read this round, names another
    /// pipeline than the one the way goes into (it was run again, or has none yet).
    pub fn moved(&self, via: &Via) -> bool {
        self.trigger(&via.parent, &via.trigger)
            .is_some_and(|trigger| {
                trigger.job.downstream_pipeline.as_ref().map(|p| p.id) != Some(via.child)
            })
    }

    /// The latest attempt of the trigger job named `name` in pipeline `at`, if its trigger jobs
    /// were read this round and list it.
    pub fn trigger(&self, at: &PipelineAt, name: &str) -> Option<&Listed> {
        self.pipelines
            .iter()
            .filter(|r| r.at == *at && r.bridges.is_some())
            .flat_map(|r| &r.listed)
            .filter(|j| j.kind == Kind::Bridge && j.job.name == name)
            .max_by_key(|j| j.job.id)
    }

    fn find(&self, followed: &Followed) -> Found<'_> {
        let me = &followed.current;
        match &followed.track {
            Track::ByName { at } => {
                let Some(read) = self.pipelines.iter().find(|r| r.at == *at) else {
                    return Found::NotRead;
                };
                let asked = match me.kind {
                    Kind::Build => read.jobs,
                    Kind::Bridge => read.bridges,
                };
                let Some(asked) = asked else {
                    return Found::NotRead;
                };
                // The latest attempt is the one with the highest id, wherever the list puts it
                // (a list may show an attempt GitLab has just retried beside its successor).
                // A job that says it is another pipeline's is not this one's attempt (GitLab
                // lists a pipeline's own jobs; an answer that mixes them in is not trusted).
                let latest = read
                    .listed
                    .iter()
                    .filter(|j| j.kind == me.kind && j.job.name == me.job.name)
                    .filter(|j| j.job.pipeline.as_ref().is_none_or(|p| p.id == at.id))
                    .max_by_key(|j| j.job.id);
                match (latest, asked) {
                    (Some(latest), _) => Found::Listed(latest),
                    // Missing from a list of unfinished jobs says nothing new: the round reads
                    // the whole list for any entry it expected there.
                    (None, Statuses::Unfinished | Statuses::Finished) => Found::NotRead,
                    (None, Statuses::All) => Found::Missing,
                }
            }
            Track::ById { .. } => self
                .singles
                .iter()
                .find(|j| j.job.id == me.job.id)
                .map_or(Found::NotRead, Found::Listed),
        }
    }
}

/// Where snapshots come from, and how a trigger job's new pipeline is looked into. A trait keeps
/// the loop testable without a server.
pub trait Source {
    fn snapshot(&mut self, followed: &[Followed]) -> Result<Snapshot>;

    /// Replaces entries awaiting a downstream pipeline that now exists with what is selected in
    /// it, and entries of a pipeline whose trigger job was retried with what is selected in the
    /// new one.
    fn expand(&mut self, _followed: &mut Vec<Followed>, _snapshot: &Snapshot) -> Result<()> {
        Ok(())
    }
}

impl<F: FnMut(&[Followed]) -> Result<Snapshot>> Source for F {
    fn snapshot(&mut self, followed: &[Followed]) -> Result<Snapshot> {
        self(followed)
    }
}

/// Consecutive rounds that may fail for passing reasons (5xx, 429, network, a list that kept
/// changing, a followed job missing) before the wait gives up with exit 3; the deadline holds
/// throughout.
const MAX_FAILED_ROUNDS: u32 = 10;

/// Waits until every followed job is final, printing each status change on stderr.
///
/// `followed` carries the statuses of the consistent snapshot the jobs were selected from (or of
/// GitLab's answer to a write). A verdict is declared only on statuses from such a snapshot, once
/// a read taken with every job settled changed nothing (so when they are all final already, the
/// wait costs one read beyond that one), and never on an attempt older than one that was started
/// (`newer_than`).
pub fn wait(
    followed: &mut Vec<Followed>,
    source: &mut dyn Source,
    options: WaitOptions,
    deadline: &Deadline,
) -> Result<Outcome> {
    let started = deadline.started();
    for f in followed.iter() {
        progress(started, &f.current, &f.current.job.status.to_string());
    }
    let mut failed_rounds = 0;
    let mut first_round = true;
    // Whether the last round was read with every job settled already, and changed nothing.
    let mut confirmed = false;
    loop {
        let settled = followed.iter().all(Followed::settled);
        if settled && confirmed {
            let outcome = if followed.iter().all(|f| f.verdict(options.policy).passed()) {
                Outcome::Passed
            } else {
                Outcome::NotPassed
            };
            return Ok(outcome);
        }
        if deadline.expired() {
            return Ok(Outcome::TimedOut);
        }
        // A list read page by page is not one moment: a job retried while later pages were read
        // has its new attempt on page 1, read already, and its old one gone from a page read
        // already too, so the round shows neither. Once every job is settled, the lists are read
        // once more at once, and a verdict is declared only if that read changes nothing: a
        // retry before it shows on its page 1 (the newest id comes first), and one after it is
        // after the verdict's moment. A job just started (or replayed) is read at once too; other
        // rounds pause first.
        let read_at_once =
            settled || (first_round && followed.iter().any(|f| f.newer_than.is_some()));
        if !read_at_once && !deadline.sleep(jitter::spread(options.interval, 0.2)) {
            return Ok(Outcome::TimedOut);
        }
        first_round = false;

        let before: Vec<(u64, Status)> = followed
            .iter()
            .map(|f| (f.current.job.id, f.current.job.status.clone()))
            .collect();
        let round = source.snapshot(followed).and_then(|snapshot| {
            apply(followed, &snapshot, started)?;
            source.expand(followed, &snapshot)
        });
        match round {
            Ok(()) => {
                failed_rounds = 0;
                confirmed = settled
                    && followed.len() == before.len()
                    && followed.iter().zip(&before).all(|(f, (id, status))| {
                        f.current.job.id == *id && f.current.job.status == *status
                    });
            }
            Err(err) if *err.kind() == ErrorKind::TimedOut => return Ok(Outcome::TimedOut),
            Err(err) if err.is_transient() && failed_rounds + 1 < MAX_FAILED_ROUNDS => {
                failed_rounds += 1;
                confirmed = false;
                say::line(&format!(
                    "[{:>6}] gljob: this round failed, trying again: {}",
                    elapsed(started),
                    err.message()
                ));
            }
            Err(err) => return Err(err),
        }
    }
}

/// Takes a round's snapshot in. A followed job missing from it makes the round fail (a passing
/// failure, read again next round): nothing is judged on a snapshot that lost a job.
fn apply(followed: &mut [Followed], snapshot: &Snapshot, started: Instant) -> Result<()> {
    let mut updates = Vec::with_capacity(followed.len());
    for f in followed.iter() {
        match snapshot.find(f) {
            // Attempts only go forwards: a list that shows an older attempt than one already seen
            // (a lagging replica, a list read mid-retry) is not a snapshot to judge on.
            Found::Listed(latest) if latest.job.id < f.current.job.id => {
                return Err(Error::new(
                    ErrorKind::Inconsistent,
                    format!(
                        "{} is listed as #{}, older than #{} seen before",
                        f.current.job.name, latest.job.id, f.current.job.id
                    ),
                ));
            }
            Found::Listed(latest) => updates.push(Some(latest.clone())),
            Found::NotRead => updates.push(None),
            Found::Missing => {
                return Err(Error::new(
                    ErrorKind::Inconsistent,
                    format!(
                        "{} (#{}) is missing from what GitLab listed{}",
                        f.current.job.name,
                        f.current.job.id,
                        match &f.track {
                            Track::ByName { at } => format!(" for pipeline {}", at.id),
                            Track::ById { .. } => String::new(),
                        }
                    ),
                ));
            }
        }
    }
    for (f, latest) in followed.iter_mut().zip(updates) {
        let Some(latest) = latest else {
            continue;
        };
        if let Some(old_id) = f.newer_than {
            if latest.job.id <= old_id {
                // The new attempt is not listed yet: keep waiting for it, judge nothing.
                continue;
            }
            f.newer_than = None;
        }
        let old = &f.current.job;
        if latest.job.id != old.id {
            progress(
                started,
                &latest,
                &format!(
                    "{} -> {} (new attempt, was #{})",
                    old.status, latest.job.status, old.id
                ),
            );
        } else if latest.job.status != old.status {
            progress(
                started,
                &latest,
                &format!("{} -> {}", old.status, latest.job.status),
            );
        }
        f.current = latest;
    }
    Ok(())
}

fn elapsed(started: Instant) -> String {
    human(started.elapsed().as_secs_f64())
}

fn progress(started: Instant, job: &Listed, what: &str) {
    say::line(&format!(
        "[{:>6}] {}{} (#{}): {what}",
        elapsed(started),
        job.job.name,
        if job.kind == Kind::Bridge {
            " [bridge]"
        } else {
            ""
        },
        job.job.id
    ));
}

/// A selected job as last seen, with its verdict: what its verdict line and its JUnit test case
/// both say, built once, so that neither can judge otherwise than the exit code.
#[derive(Debug, Clone)]
pub struct Judged {
    pub job: Listed,
    pub verdict: Verdict,
    /// `job` is a trigger job standing for what these selectors (`docs::lint, docs::*`) name in
    /// the pipeline it has not created.
    pub below: Option<String>,
    /// The job was replayed or retried and `job` is its old attempt: the new one was not seen.
    pub stale: bool,
    /// `check --status`: the statuses a job had to be in, instead of passing.
    pub wanted: Option<Vec<Status>>,
}

impl Judged {
    /// A followed job (or trigger job awaiting its pipeline) as the wait left it.
    pub fn followed(f: &Followed, policy: Policy) -> Judged {
        Judged {
            job: f.current.clone(),
            verdict: f.verdict(policy),
            below: f.awaiting.as_ref().map(Downstream::paths),
            stale: f.newer_than.is_some(),
            wanted: None,
        }
    }
}

/// The exit code of a verdict reached on these jobs: 0 when every one passed, else 1.
pub fn exit_code(cases: &[Judged]) -> ExitCode {
    if cases.iter().all(|case| case.verdict.passed()) {
        ExitCode::Done
    } else {
        ExitCode::NotPassed
    }
}

/// One job's verdict line, worded the same by every gate (`wait`, `check`, `play --wait`,
/// `retry --wait`): what it is, its status and, when it did not pass, why and where to look.
/// `timed_out`: the run ended at `--timeout`, so a job not final is still waited for, not judged.
pub fn verdict_line(case: &Judged, timed_out: bool) -> String {
    let job = &case.job.job;
    let mark = match (&case.verdict, timed_out) {
        (Verdict::Passed, _) => "passed",
        (Verdict::PassedWithWarning(_), _) => "passed with warning",
        (Verdict::NotFinal, true) => "still waiting",
        (Verdict::NotPassed | Verdict::NotFinal, _) => "NOT PASSED",
    };
    if let Some(paths) = &case.below {
        let state = if job.status.is_final() {
            format!("ended {} without creating its pipeline", job.status)
        } else {
            format!("is {} and has not created its pipeline", job.status)
        };
        return format!(
            "{mark}: {paths}: trigger job {} (#{}) {state}",
            job.name, job.id
        );
    }
    let mut line = format!("{mark}: {} (#{}) {}", job.name, job.id, job.status);
    if case.stale {
        line.push_str(" (its new attempt is not listed yet)");
    }
    if let Some(reason) = &job.failure_reason {
        line.push_str(&format!(" ({reason})"));
    }
    match (&case.verdict, &case.wanted) {
        (Verdict::PassedWithWarning(_), _) => {
            line.push_str(", allowed to fail; --strict would fail it");
        }
        (Verdict::NotPassed | Verdict::NotFinal, Some(wanted)) => {
            let wanted: Vec<&str> = wanted.iter().map(Status::as_str).collect();
            line.push_str(&format!(", not one of --status {}", wanted.join(",")));
        }
        (Verdict::NotFinal, None) if !timed_out && !case.stale => line.push_str(", not final"),
        _ => {}
    }
    if !case.verdict.passed()
        && let Some(url) = &job.web_url
    {
        line.push_str(&format!(" {url}"));
    }
    line
}

/// The closing lines: one per job, with its verdict.
pub fn report(cases: &[Judged], timed_out: bool) {
    for case in cases {
        say::line(&verdict_line(case, timed_out));
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
        Listed::parse(&raw, Kind::Build).unwrap()
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

    fn options() -> WaitOptions {
        WaitOptions {
            timeout: None,
            interval: Duration::from_millis(1),
            policy: Policy::default(),
        }
    }

    fn at() -> PipelineAt {
        PipelineAt {
            project: "42".into(),
            id: 1,
        }
    }

    fn snapshot(jobs: Vec<Listed>) -> Snapshot {
        Snapshot {
            pipelines: vec![Read {
                at: at(),
                jobs: Some(Statuses::All),
                bridges: None,
                listed: jobs,
            }],
            singles: Vec::new(),
        }
    }

    fn track() -> Track {
        Track::ByName { at: at() }
    }

    #[test]
    fn follows_a_retried_job_by_name_to_its_verdict() {
        // Popped from the end: the job is retried between two polls (new id), then succeeds,
        // and a read at once changes nothing.
        let rounds = RefCell::new(vec![
            vec![listed(20, "test", "success", false)],
            vec![listed(20, "test", "success", false)],
            vec![listed(20, "test", "pending", false)],
        ]);
        let mut source = |_: &[Followed]| Ok(snapshot(rounds.borrow_mut().pop().unwrap()));
        let mut end = vec![Followed::new(listed(10, "test", "running", false), track())];
        let outcome = wait(&mut end, &mut source, options(), &Deadline::none()).unwrap();
        assert_eq!(outcome, Outcome::Passed);
        assert_eq!(end[0].current.job.id, 20);
        assert!(rounds.borrow().is_empty(), "stopped before the last round");
    }

    #[test]
    fn a_verdict_waits_for_a_read_that_changes_nothing() {
        // Popped from the end: #10 succeeds, but the read at once after it shows it retried as
        // #11 (a list read page by page missed the retry); #11 then succeeds, and the read at
        // once after that changes nothing.
        let rounds = RefCell::new(vec![
            vec![listed(11, "test", "success", false)],
            vec![listed(11, "test", "success", false)],
            vec![listed(11, "test", "pending", false)],
            vec![listed(10, "test", "success", false)],
        ]);
        let mut source = |_: &[Followed]| Ok(snapshot(rounds.borrow_mut().pop().unwrap()));
        let mut end = vec![Followed::new(listed(10, "test", "running", false), track())];
        let outcome = wait(&mut end, &mut source, options(), &Deadline::none()).unwrap();
        assert_eq!(outcome, Outcome::Passed);
        assert_eq!(end[0].current.job.id, 11, "judged on the newer attempt");
        assert!(rounds.borrow().is_empty());
    }

    #[test]
    fn a_replayed_job_is_not_judged_on_its_old_attempt() {
        // The old attempt (10, success) is still listed for a round; the new one fails.
        let rounds = RefCell::new(vec![
            vec![listed(30, "deploy", "failed", false)],
            vec![listed(30, "deploy", "failed", false)],
            vec![listed(10, "deploy", "success", false)],
        ]);
        let mut source = |_: &[Followed]| Ok(snapshot(rounds.borrow_mut().pop().unwrap()));
        let mut start = Followed::new(listed(10, "deploy", "success", false), track());
        start.newer_than = Some(10);
        let outcome = wait(&mut vec![start], &mut source, options(), &Deadline::none()).unwrap();
        assert_eq!(outcome, Outcome::NotPassed);
    }

    #[test]
    fn attempts_only_go_forwards() {
        // Popped from the end: #11 is seen, then a lagging list shows #10 (success), then #11
        // fails. The older attempt is never judged: that round is read again.
        let rounds = RefCell::new(vec![
            vec![listed(11, "build", "failed", false)],
            vec![listed(11, "build", "failed", false)],
            vec![listed(10, "build", "success", false)],
        ]);
        let mut source = |_: &[Followed]| Ok(snapshot(rounds.borrow_mut().pop().unwrap()));
        let start = Followed::new(listed(11, "build", "running", false), track());
        let outcome = wait(&mut vec![start], &mut source, options(), &Deadline::none()).unwrap();
        assert_eq!(outcome, Outcome::NotPassed);
        // Two attempts in one list: the highest id is the one judged.
        let mut source = |_: &[Followed]| {
            Ok(snapshot(vec![
                listed(10, "build", "success", false),
                listed(11, "build", "failed", false),
            ]))
        };
        let start = Followed::new(listed(11, "build", "running", false), track());
        let outcome = wait(&mut vec![start], &mut source, options(), &Deadline::none()).unwrap();
        assert_eq!(outcome, Outcome::NotPassed);
    }

    #[test]
    fn a_job_of_another_pipeline_is_not_taken_for_a_new_attempt() {
        let raw = RawValue::from_string(
            r#"{"id":50,"name":"test","stage":"s","status":"failed","pipeline":{"id":3000}}"#
                .to_string(),
        )
        .unwrap();
        let foreign = Listed::parse(&raw, Kind::Build).unwrap();
        let mine = listed(10, "test", "success", false);
        let followed = Followed::new(mine.clone(), track());
        let seen = snapshot(vec![mine, foreign]);
        match seen.find(&followed) {
            Found::Listed(job) => assert_eq!(job.job.id, 10),
            _ => panic!("its own attempt is listed"),
        }
    }

    #[test]
    fn times_out_with_the_last_status() {
        let mut source = |_: &[Followed]| Ok(snapshot(vec![listed(1, "deploy", "manual", false)]));
        let mut end = vec![Followed::new(listed(1, "deploy", "manual", false), track())];
        let deadline = Deadline::after(Instant::now(), Some(Duration::from_millis(20)));
        let outcome = wait(&mut end, &mut source, options(), &deadline).unwrap();
        assert_eq!(outcome, Outcome::TimedOut);
        assert_eq!(end[0].current.job.status, Status::Manual);
    }

    #[test]
    fn a_missing_job_fails_the_round_and_never_passes() {
        let calls = RefCell::new(0);
        let mut source = |_: &[Followed]| {
            *calls.borrow_mut() += 1;
            Ok(snapshot(vec![listed(2, "other", "success", false)]))
        };
        let mut start = vec![Followed::new(listed(1, "a", "running", false), track())];
        let err = wait(&mut start, &mut source, options(), &Deadline::none()).unwrap_err();
        assert_eq!(*err.kind(), ErrorKind::Inconsistent);
        assert_eq!(*calls.borrow(), MAX_FAILED_ROUNDS);
    }

    #[test]
    fn passing_failures_are_retried_refusals_are_not() {
        let refused = |status| {
            Error::new(
                ErrorKind::Refused {
                    status,
                    message: String::new(),
                },
                "x",
            )
        };
        let calls = RefCell::new(0);
        let mut flaky = |_: &[Followed]| {
            *calls.borrow_mut() += 1;
            if *calls.borrow() < 3 {
                Err(refused(502))
            } else {
                Ok(snapshot(vec![listed(1, "a", "success", false)]))
            }
        };
        let start = vec![Followed::new(listed(1, "a", "running", false), track())];
        let outcome = wait(&mut start.clone(), &mut flaky, options(), &Deadline::none()).unwrap();
        assert_eq!(outcome, Outcome::Passed);

        let mut refusing = |_: &[Followed]| Err(refused(401));
        let err = wait(
            &mut start.clone(),
            &mut refusing,
            options(),
            &Deadline::none(),
        )
        .unwrap_err();
        assert_eq!(err.http_status(), Some(401));
    }
}
