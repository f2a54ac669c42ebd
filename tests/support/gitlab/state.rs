//! The server's state: jobs, their timelines and faults to come, and the record of requests.

use super::*;

pub const PROJECT_ID: u64 = 42;
pub const PROJECT_PATH: &str = "group/sub/app";
pub const EXTERNAL_ROOT: &str = "https://gitlab.example.com/api/v4";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Build,
    Bridge,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    Api,
    ReadApi,
}

/// Something that happens to a job on one tick.
#[derive(Debug, Clone)]
pub enum Step {
    Status(&'static str),
    /// Becomes failed with this `failure_reason`.
    Fail(&'static str),
    /// Appends bytes to the log.
    Log(Vec<u8>),
    /// Someone retries it: a new job with the same name takes over, with these steps.
    Retry(Vec<Vec<Step>>),
    /// Someone retries it and the new attempt ends, with this status, before anyone reads it (a
    /// fast job between two reads).
    RetryEnded(&'static str),
    /// The log is erased (shrinks to empty).
    EraseLog,
    /// A trigger job creates its downstream pipeline (registered with [`GitLab::add_pipeline`]):
    /// `downstream_pipeline` goes from null to it, and its routes start answering.
    CreateDownstream(u64),
}

#[derive(Debug, Clone)]
pub struct Job {
    pub id: u64,
    pub name: String,
    pub stage: String,
    pub status: String,
    pub kind: Kind,
    pub pipeline_id: u64,
    pub allow_failure: bool,
    /// `when: manual` (or delayed): playable while manual/scheduled, replayable when finished.
    pub manual: bool,
    pub failure_reason: Option<String>,
    pub retried: bool,
    pub erased: bool,
    pub artifacts: bool,
    pub log: Vec<u8>,
    pub downstream_pipeline: Option<u64>,
    /// One entry per tick; each entry may hold several steps.
    pub timeline: VecDeque<Vec<Step>>,
    /// What happens after someone plays it (replaces the timeline).
    pub after_play: VecDeque<Vec<Step>>,
    /// What the new attempt does after someone retries it through the API.
    pub after_retry: VecDeque<Vec<Step>>,
    /// The variables it was last played with.
    pub played_with: Option<Value>,
    /// A `web_url` other than GitLab's usual one (to put odd bytes in it).
    pub web_url: Option<String>,
    /// Issue 9: archived, declared inputs, inputs received (see [`JobExt`]).
    pub ext: JobExt,
    /// Ticks spent running, when the job's `duration` grows while it runs: GitLab computes a
    /// running job's duration when it is read (`CommitStatus#duration`, up to now), so every
    /// read of its page differs. `None`: a fixed duration, as most tests want.
    pub running_ticks: Option<u64>,
}

impl Job {
    pub fn new(id: u64, name: &str, stage: &str, status: &str) -> Job {
        Job {
            id,
            name: name.into(),
            stage: stage.into(),
            status: status.into(),
            kind: Kind::Build,
            pipeline_id: 0,
            allow_failure: false,
            manual: status == "manual",
            failure_reason: (status == "failed").then(|| "script_failure".to_string()),
            retried: false,
            erased: false,
            artifacts: false,
            log: Vec::new(),
            downstream_pipeline: None,
            timeline: VecDeque::new(),
            after_play: VecDeque::new(),
            after_retry: VecDeque::new(),
            played_with: None,
            web_url: None,
            ext: JobExt::default(),
            running_ticks: None,
        }
    }

    pub fn bridge(mut self, downstream: Option<u64>) -> Job {
        self.kind = Kind::Bridge;
        self.downstream_pipeline = downstream;
        self
    }

    /// A job of another pipeline (a parent's or a child's).
    pub fn in_pipeline(mut self, pipeline: u64) -> Job {
        self.pipeline_id = pipeline;
        self
    }

    /// `when: manual`, so playable (again, once finished).
    pub fn manual(mut self) -> Job {
        self.manual = true;
        self
    }

    pub fn allow_failure(mut self) -> Job {
        self.allow_failure = true;
        self
    }

    pub fn artifacts(mut self) -> Job {
        self.artifacts = true;
        self
    }

    pub fn log(mut self, bytes: &[u8]) -> Job {
        self.log = bytes.to_vec();
        self
    }

    /// One status per tick.
    pub fn then(mut self, statuses: &[&'static str]) -> Job {
        for status in statuses {
            self.timeline.push_back(vec![Step::Status(status)]);
        }
        self
    }

    pub fn steps(mut self, ticks: Vec<Vec<Step>>) -> Job {
        self.timeline.extend(ticks);
        self
    }

    pub fn after_retry(mut self, statuses: &[&'static str]) -> Job {
        for status in statuses {
            self.after_retry.push_back(vec![Step::Status(status)]);
        }
        self
    }

    pub fn after_play(mut self, statuses: &[&'static str]) -> Job {
        for status in statuses {
            self.after_play.push_back(vec![Step::Status(status)]);
        }
        self
    }

    pub fn is_final(&self) -> bool {
        matches!(
            self.status.as_str(),
            "success" | "failed" | "canceled" | "skipped"
        )
    }
}

#[derive(Debug, Clone)]
pub struct Recorded {
    pub method: String,
    /// Path without the query, as sent (still percent-encoded).
    pub path: String,
    /// Decoded query pairs in order.
    pub query: Vec<(String, String)>,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Recorded {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn query_values(&self, key: &str) -> Vec<&str> {
        self.query
            .iter()
            .filter(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
            .collect()
    }
}

/// What the server does instead of (or besides) its real answer, when a [`Rule`] strikes.
#[derive(Debug, Clone)]
pub enum Fault {
    /// Answers with this status, body and headers; the real route does not run.
    Status {
        status: u16,
        content_type: &'static str,
        body: Vec<u8>,
        headers: Vec<(&'static str, String)>,
    },
    /// Accepts the request and never answers: the client waits until its own timeout.
    NoAnswer,
    /// Answers bytes that are not HTTP, as a connection reset mid-answer looks to a client.
    Garbage,
    /// The real answer, its body sent `bytes_per_sec` bytes a second (on a thread of its own, so
    /// the server goes on serving; it stops when the client hangs up).
    Trickle { bytes_per_sec: u32 },
    /// The real answer (the route runs, a write applies), its body cut in the middle.
    TruncatedJson,
    /// The real route runs (a write reached GitLab and applied), then the client gets `0`.
    ApplyThenFail(Box<Fault>),
    /// No answer; the write applies later, once `after` more requests have reached the server
    /// (0: before the next one is handled).
    ApplyLater { after: usize },
    /// The real route runs, then the answer is `200 {}` (a proxy or a cache mangled it).
    EmptyObject,
    /// On a list: page 1 whatever `page` asks, without `X-Next-Page`, totals or `Link`: full pages
    /// forever for a client that pages while pages are full.
    IgnorePage,
    /// On a list's page 1: served as usual, then the latest attempt of `name` is retried (its new
    /// attempt, with `status`, lands on page 1 already read; the old one leaves its later page).
    ShiftBetweenPages { name: String, status: &'static str },
    /// On a list's page 1: served as usual, then the running job with the lowest id among those
    /// named with `prefix` succeeds (a busy pipeline: the list of unfinished jobs shrinks between
    /// its pages).
    EndOneBetweenPages { prefix: String },
    /// `status` with a body that quotes the token the request carried, as a careless proxy or a
    /// debugging GitLab patch would.
    EchoToken { status: u16 },
    /// The real answer with every `from` in its body written as `to` (a job's bytes damaged, or
    /// odd but valid).
    Rewrite { from: Vec<u8>, to: Vec<u8> },
    /// The real answer's head, then only `after` bytes of its body and bytes that are not HTTP
    /// (a download cut off, as a reset mid-body looks to a client).
    CutBody { after: usize },
}

impl Fault {
    /// A JSON answer of `status` with `body`, on `method` (empty: any) requests whose path holds
    /// `path_contains`. Returns the [`Rule`], to adjust with its builder methods.
    pub fn status(method: &'static str, path_contains: &str, status: u16, body: &str) -> Rule {
        Rule::new(
            method,
            path_contains,
            Fault::Status {
                status,
                content_type: "application/json",
                body: body.as_bytes().to_vec(),
                headers: Vec::new(),
            },
        )
    }

    /// Applies the real effect first, then this fault.
    pub fn after_applying(self) -> Fault {
        Fault::ApplyThenFail(Box::new(self))
    }
}

/// When a [`Fault`] strikes: requests of `method` (empty: any) whose path holds `path_contains`,
/// after `skip` of them went through, `times` times (then the rule is spent); with `once_final`,
/// only requests that come once the latest attempt of each job so named has ended (and `skip`
/// counts only those).
#[derive(Debug, Clone)]
pub struct Rule {
    pub method: &'static str,
    pub path_contains: String,
    /// Only requests whose query has this key (`scope[]`).
    pub query_key: Option<&'static str>,
    /// Only requests whose query has not this key (whole lists: no `scope[]`).
    pub no_query_key: Option<&'static str>,
    pub skip: usize,
    pub times: usize,
    pub fault: Fault,
    pub once_final: Vec<String>,
}

impl Rule {
    pub fn new(method: &'static str, path_contains: &str, fault: Fault) -> Rule {
        Rule {
            method,
            path_contains: path_contains.into(),
            query_key: None,
            no_query_key: None,
            skip: 0,
            times: 1,
            fault,
            once_final: Vec::new(),
        }
    }

    /// Strikes only once the latest attempt of every job named `names` has ended: a fault that
    /// meets a client when it is about to give (or confirm) its verdict.
    pub fn once_final(mut self, names: &[String]) -> Rule {
        self.once_final = names.to_vec();
        self
    }

    pub fn skip(mut self, n: usize) -> Rule {
        self.skip = n;
        self
    }

    pub fn times(mut self, n: usize) -> Rule {
        self.times = n;
        self
    }

    pub fn forever(self) -> Rule {
        self.times(usize::MAX)
    }

    /// Strikes only requests whose query has not `key` (`without_query("scope[]")`: reads of a
    /// whole list).
    pub fn without_query(mut self, key: &'static str) -> Rule {
        self.no_query_key = Some(key);
        self
    }

    /// Strikes only requests whose query has `key`.
    pub fn with_query(mut self, key: &'static str) -> Rule {
        self.query_key = Some(key);
        self
    }

    pub fn method(mut self, method: &'static str) -> Rule {
        self.method = method;
        self
    }

    /// The real effect applies first (on a `Status`, `NoAnswer` or `Garbage` fault).
    pub fn apply_first(mut self) -> Rule {
        self.fault = self.fault.after_applying();
        self
    }

    pub fn content_type(mut self, value: &'static str) -> Rule {
        if let Fault::Status { content_type, .. } = &mut self.fault {
            *content_type = value;
        }
        self
    }

    pub fn header(mut self, name: &'static str, value: &str) -> Rule {
        if let Fault::Status { headers, .. } = &mut self.fault {
            headers.push((name, value.to_string()));
        }
        self
    }

    pub fn matches(&self, request: &Recorded) -> bool {
        let on_page_1 = request
            .query_values("page")
            .first()
            .is_none_or(|p| *p == "1");
        (self.method.is_empty() || self.method == request.method)
            && request.path.contains(&self.path_contains)
            && self
                .query_key
                .is_none_or(|key| request.query.iter().any(|(k, _)| k == key))
            && self
                .no_query_key
                .is_none_or(|key| !request.query.iter().any(|(k, _)| k == key))
            && (on_page_1
                || !matches!(
                    self.fault,
                    Fault::ShiftBetweenPages { .. } | Fault::EndOneBetweenPages { .. }
                ))
    }
}

pub struct State {
    /// (major, minor) of the GitLab being imitated: decides where job tokens are accepted.
    pub version: (u32, u32),
    pub jobs: Vec<Job>,
    pub next_id: u64,
    pub access_tokens: HashMap<String, Scope>,
    /// Job token → the job it belongs to.
    pub job_tokens: HashMap<String, u64>,
    /// The project's "minimum role to use pipeline variables" lets the token's user set them.
    pub pipeline_variables_allowed: bool,
    pub requests: Vec<Recorded>,
    /// Every write that took effect: (action, the job it was sent for).
    pub applied: Vec<(&'static str, u64)>,
    pub faults: VecDeque<Rule>,
    /// Writes whose answer was lost ([`Fault::ApplyLater`]): (requests still to come, the write).
    pub pending_effects: Vec<(usize, Recorded)>,
    /// Redirect every request to this URL (a second listener), to test that tokens do not follow.
    pub redirect_to: Option<String>,
    /// Advance timelines on reads (tests); the try-it server advances them by the clock instead.
    pub tick_on_reads: bool,
    /// Advance every job's timeline on every request instead, whatever it reads: time that moves
    /// on its own, as GitLab's does, and not only where the client happens to look.
    pub tick_every_request: bool,
    /// What `POST /__reset` restores (the benchmark repeats a wait from the same start).
    pub initial_jobs: Vec<Job>,
    /// GitLab's configured external URL, from which it builds `Link` headers; another host than
    /// the one the client used, as in a job that reaches GitLab through an internal address.
    pub external_root: String,
    /// Issue 9: pipelines and projects besides the default ones (see [`Tree`]).
    pub tree: Tree,
    /// Files uploaded to the generic package registry: `package/version/file` and its bytes.
    pub packages: Vec<(String, Vec<u8>)>,
    /// Where uploaded packages are also written (the `fake_gitlab` program's `--packages DIR`).
    pub packages_dir: Option<String>,
    /// The real answers sent (not the faults): the request's index in `requests`, the status and
    /// the body's length in bytes.
    pub answered: Vec<(usize, u16, usize)>,
    /// Job artifacts: archives, ref builds, object storage (see [`Artifacts`]).
    pub artifacts: Artifacts,
}

impl State {
    pub fn job(&self, id: u64) -> Option<&Job> {
        self.jobs.iter().find(|j| j.id == id)
    }

    /// Whether `rule` may strike now: its jobs, if it names any, have all ended.
    pub fn rule_ready(&self, rule: &Rule) -> bool {
        rule.once_final.iter().all(|name| {
            self.jobs
                .iter()
                .filter(|j| j.name == *name && !j.retried)
                .max_by_key(|j| j.id)
                .is_some_and(Job::is_final)
        })
    }

    pub fn job_mut(&mut self, id: u64) -> Option<&mut Job> {
        self.jobs.iter_mut().find(|j| j.id == id)
    }

    /// Advances every job (or only job `only`) by one tick.
    pub fn tick(&mut self, only: Option<u64>) {
        let ids: Vec<u64> = self
            .jobs
            .iter()
            .filter(|j| !j.retried && only.is_none_or(|id| j.id == id))
            .map(|j| j.id)
            .collect();
        self.tick_ids(ids);
    }

    pub fn apply(&mut self, id: u64, step: Step) {
        match step {
            Step::Status(status) => {
                if let Some(job) = self.job_mut(id) {
                    job.status = status.into();
                    job.failure_reason = None;
                }
            }
            Step::Fail(reason) => {
                if let Some(job) = self.job_mut(id) {
                    job.status = "failed".into();
                    job.failure_reason = Some(reason.into());
                }
            }
            Step::Log(bytes) => {
                if let Some(job) = self.job_mut(id) {
                    job.log.extend_from_slice(&bytes);
                }
            }
            Step::EraseLog => {
                if let Some(job) = self.job_mut(id) {
                    job.log.clear();
                }
            }
            Step::Retry(ticks) => {
                let new_id = self.clone_as_new_attempt(id, "pending");
                if let Some(job) = self.job_mut(new_id) {
                    job.timeline = ticks.into();
                }
            }
            Step::RetryEnded(status) => {
                self.clone_as_new_attempt(id, status);
            }
            Step::CreateDownstream(pipeline) => self.create_downstream(id, pipeline),
        }
    }

    /// GitLab's retry: the old job is marked retried and leaves the default list; a new job with
    /// the same name and a new id takes its place.
    pub fn clone_as_new_attempt(&mut self, id: u64, status: &str) -> u64 {
        let new_id = self.next_id;
        self.next_id += 1;
        let Some(old) = self.job_mut(id) else {
            return new_id;
        };
        old.retried = true;
        let mut new = old.clone();
        new.id = new_id;
        new.retried = false;
        new.status = status.into();
        new.failure_reason = None;
        new.log.clear();
        new.erased = false;
        new.timeline.clear();
        self.jobs.push(new);
        new_id
    }
}
