//! A GitLab test server: the Jobs API routes gljob uses, behaving as GitLab's code does
//! (`docs/gitlab-behaviour.md`), not as gljob would like. It runs on 127.0.0.1, on a free port, in a
//! thread of the test that starts it, and records every request it receives.
//!
//! What it models:
//! - tokens per route: the job token only where GitLab's route declares `job_token_allowed`
//!   (`/job`, `/job/allowed_agents` always; job lists from 18.0; bridges from 19.0), and only while
//!   its job runs; elsewhere it is ignored and the request is anonymous (401 on `/projects/:id/jobs…`,
//!   404 Project Not Found on the pipeline routes of this private project). Access tokens with `api`
//!   or `read_api` (`read_api` gets 403 insufficient_scope on POST);
//! - success codes (play 200; cancel, retry, erase 201) and GitLab's error bodies;
//! - offset pagination headers, with `Link` on an external host, and no totals on the project list;
//! - job timelines that advance one step each time the pipeline's job list (page 1) or a single job
//!   is read, so tests drive state by request count, never by the clock;
//! - payloads that fit GitLab's Job schemas (`tests/schemas/`);
//! - jobs in several pipelines (a parent's and a child's): each job has its own `pipeline_id`, each
//!   pipeline its own list, and a retry or replay lands in the job's own pipeline;
//! - faults ([`Fault`], armed by a [`Rule`] with a method, a path, `skip` and `times`): a status and
//!   body, silence, garbage, a trickle, truncated JSON, a write applied and then its answer lost
//!   (at once, or later: [`Fault::ApplyLater`]), `200 {}` after applying, endless full pages, a retry
//!   between two page reads, a body echoing the token. Slow answers go out on their own thread, so
//!   one silent or trickling answer never blocks the server;
//! - a record of every request ([`GitLab::requests`]) and of every write that took effect
//!   ([`GitLab::applied`]), which tests and the oracle judge gljob by.
#![allow(dead_code)]

use serde_json::{Value, json};
use std::collections::{HashMap, VecDeque};
use std::io::{Cursor, Write};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;
use tiny_http::{Header, Response, Server};

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

    fn is_final(&self) -> bool {
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
    /// `status` with a body that quotes the token the request carried, as a careless proxy or a
    /// debugging GitLab patch would.
    EchoToken { status: u16 },
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
/// after `skip` of them went through, `times` times (then the rule is spent).
#[derive(Debug, Clone)]
pub struct Rule {
    pub method: &'static str,
    pub path_contains: String,
    pub skip: usize,
    pub times: usize,
    pub fault: Fault,
}

impl Rule {
    pub fn new(method: &'static str, path_contains: &str, fault: Fault) -> Rule {
        Rule {
            method,
            path_contains: path_contains.into(),
            skip: 0,
            times: 1,
            fault,
        }
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

    fn matches(&self, request: &Recorded) -> bool {
        let on_page_1 = request
            .query_values("page")
            .first()
            .is_none_or(|p| *p == "1");
        (self.method.is_empty() || self.method == request.method)
            && request.path.contains(&self.path_contains)
            && (on_page_1 || !matches!(self.fault, Fault::ShiftBetweenPages { .. }))
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
    /// What `POST /__reset` restores (the benchmark repeats a wait from the same start).
    pub initial_jobs: Vec<Job>,
    /// GitLab's configured external URL, from which it builds `Link` headers; another host than
    /// the one the client used, as in a job that reaches GitLab through an internal address.
    pub external_root: String,
    /// Issue 9: pipelines and projects besides the default ones (see [`Tree`]).
    pub tree: Tree,
}

impl State {
    fn job(&self, id: u64) -> Option<&Job> {
        self.jobs.iter().find(|j| j.id == id)
    }

    fn job_mut(&mut self, id: u64) -> Option<&mut Job> {
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
        for id in ids {
            let Some(steps) = self.job_mut(id).and_then(|j| j.timeline.pop_front()) else {
                continue;
            };
            for step in steps {
                self.apply(id, step);
            }
        }
    }

    fn apply(&mut self, id: u64, step: Step) {
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
            Step::CreateDownstream(pipeline) => self.create_downstream(id, pipeline),
        }
    }

    /// GitLab's retry: the old job is marked retried and leaves the default list; a new job with
    /// the same name and a new id takes its place.
    fn clone_as_new_attempt(&mut self, id: u64, status: &str) -> u64 {
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

pub struct GitLab {
    /// The API root gljob is given: `http://127.0.0.1:PORT/api/v4`.
    pub url: String,
    pub port: u16,
    state: Arc<Mutex<State>>,
    server: Arc<Server>,
    thread: Option<JoinHandle<()>>,
}

impl Drop for GitLab {
    fn drop(&mut self) {
        self.server.unblock();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

pub const PIPELINE_ID: u64 = 1000;
pub const OWN_JOB_ID: u64 = 500;
pub const JOB_TOKEN: &str = "glcbt-64_JOBtokenSECRETvalue";
pub const API_TOKEN: &str = "glpat-APItokenSECRETvalue01";
pub const READ_TOKEN: &str = "glpat-READtokenSECRETvalue2";

impl GitLab {
    /// A GitLab of `version` with one project, pipeline [`PIPELINE_ID`], and the job running
    /// gljob ([`OWN_JOB_ID`], `deploy-gate`, running) whose token is [`JOB_TOKEN`].
    pub fn start(version: (u32, u32)) -> GitLab {
        Self::start_on("127.0.0.1:0", version)
    }

    pub fn start_on(address: &str, version: (u32, u32)) -> GitLab {
        Self::try_start_on(address, version).expect("start the test server")
    }

    /// [`GitLab::start_on`], saying why when the address cannot be had (a busy port).
    pub fn try_start_on(address: &str, version: (u32, u32)) -> Result<GitLab, String> {
        let listener = std::net::TcpListener::bind(address)
            .map_err(|e| format!("cannot listen on {address}: {e}"))?;
        without_nagle(&listener);
        let server = Arc::new(
            Server::from_listener(listener, None).map_err(|e| format!("cannot serve: {e}"))?,
        );
        let port = server
            .server_addr()
            .to_ip()
            .ok_or("the listener is not an IP socket")?
            .port();
        let mut own = Job::new(OWN_JOB_ID, "deploy-gate", "deploy", "running");
        own.pipeline_id = PIPELINE_ID;
        let state = Arc::new(Mutex::new(State {
            version,
            jobs: vec![own],
            next_id: 10_000,
            access_tokens: HashMap::from([
                (API_TOKEN.to_string(), Scope::Api),
                (READ_TOKEN.to_string(), Scope::ReadApi),
            ]),
            job_tokens: HashMap::from([(JOB_TOKEN.to_string(), OWN_JOB_ID)]),
            pipeline_variables_allowed: true,
            requests: Vec::new(),
            applied: Vec::new(),
            faults: VecDeque::new(),
            pending_effects: Vec::new(),
            redirect_to: None,
            tick_on_reads: true,
            initial_jobs: Vec::new(),
            external_root: EXTERNAL_ROOT.to_string(),
            tree: Tree {
                per_pipeline: true,
                ..Tree::default()
            },
        }));
        let thread = {
            let server = Arc::clone(&server);
            let state = Arc::clone(&state);
            std::thread::spawn(move || {
                while let Ok(request) = server.recv() {
                    handle(&state, request);
                }
            })
        };
        Ok(GitLab {
            url: format!("http://127.0.0.1:{port}/api/v4"),
            port,
            state,
            server,
            thread: Some(thread),
        })
    }

    pub fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Adds jobs to the pipeline [`PIPELINE_ID`].
    pub fn add(&self, jobs: impl IntoIterator<Item = Job>) {
        let mut state = self.state();
        for mut job in jobs {
            if job.pipeline_id == 0 {
                job.pipeline_id = PIPELINE_ID;
            }
            state.next_id = state.next_id.max(job.id + 1);
            state.jobs.push(job);
        }
    }

    /// Remembers the current jobs for `POST /__reset`.
    pub fn save_initial(&self) {
        let mut state = self.state();
        state.initial_jobs = state.jobs.clone();
    }

    /// The writes that took effect, in order.
    pub fn applied(&self) -> Vec<(&'static str, u64)> {
        self.state().applied.clone()
    }

    pub fn requests(&self) -> Vec<Recorded> {
        self.state().requests.clone()
    }

    /// Requests whose path ends with `suffix` (and method matches).
    pub fn requests_to(&self, method: &str, suffix: &str) -> Vec<Recorded> {
        self.requests()
            .into_iter()
            .filter(|r| r.method == method && r.path.ends_with(suffix))
            .collect()
    }

    pub fn job(&self, id: u64) -> Job {
        self.state()
            .job(id)
            .cloned()
            .expect("a job of the test server")
    }

    /// The latest attempt of the job called `name`.
    pub fn latest(&self, name: &str) -> Job {
        self.state()
            .jobs
            .iter()
            .find(|j| j.name == name && !j.retried)
            .cloned()
            .expect("a job of that name")
    }

    /// The latest attempt of the job called `name` in `pipeline`.
    pub fn latest_in(&self, pipeline: u64, name: &str) -> Job {
        self.state()
            .jobs
            .iter()
            .find(|j| j.name == name && !j.retried && j.pipeline_id == pipeline)
            .cloned()
            .expect("a job of that name in that pipeline")
    }

    pub fn set_status(&self, id: u64, status: &str) {
        let mut state = self.state();
        if let Some(job) = state.job_mut(id) {
            job.status = status.into();
        }
    }

    /// Arms a fault rule; rules are tried in the order they were armed.
    pub fn fault(&self, rule: Rule) {
        self.state().faults.push_back(rule);
    }

    /// Applies now every write whose answer was lost and that has not landed yet.
    pub fn land_pending(&self) {
        let mut state = self.state();
        let pending = std::mem::take(&mut state.pending_effects);
        for (_, write) in pending {
            let _ = route(&mut state, &write);
        }
    }
}

/// Sets TCP_NODELAY on the listening socket; Linux copies it to every accepted socket. tiny_http
/// has no option for it, and without it the last small segment of each answer waits for the
/// client's delayed ACK (up to ~40 ms), which is GitLab-unlike and would time the server, not the
/// client.
fn without_nagle(listener: &std::net::TcpListener) {
    use std::os::fd::{AsRawFd, FromRawFd, IntoRawFd};
    // SAFETY: the stream borrows the listener's descriptor only to call setsockopt on it, and
    // gives it back with into_raw_fd, so it is neither closed nor used after.
    let stream = unsafe { std::net::TcpStream::from_raw_fd(listener.as_raw_fd()) };
    let _ = stream.set_nodelay(true);
    let _ = stream.into_raw_fd();
}

fn header(name: &str, value: &str) -> Header {
    Header::from_bytes(name.as_bytes(), value.as_bytes()).expect("a valid header")
}

fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match (bytes[i], hex) {
            (b'%', Some(byte)) => {
                out.push(byte);
                i += 3;
            }
            (b'+', _) => {
                out.push(b' ');
                i += 1;
            }
            (byte, _) => {
                out.push(byte);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// A response: status, content type, body, extra headers.
struct Answer {
    status: u16,
    content_type: &'static str,
    body: Vec<u8>,
    headers: Vec<(String, String)>,
}

impl Answer {
    fn json(status: u16, value: Value) -> Answer {
        Answer {
            status,
            content_type: "application/json",
            body: value.to_string().into_bytes(),
            headers: Vec::new(),
        }
    }

    fn message(status: u16, message: &str) -> Answer {
        Answer::json(status, json!({ "message": message }))
    }
}

fn handle(state: &Arc<Mutex<State>>, mut request: tiny_http::Request) {
    let mut body = Vec::new();
    let _ = request.as_reader().read_to_end(&mut body);
    let url = request.url().to_string();
    let (path, query_text) = url.split_once('?').unwrap_or((url.as_str(), ""));
    let query: Vec<(String, String)> = query_text
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            (percent_decode(k), percent_decode(v))
        })
        .collect();
    let recorded = Recorded {
        method: request.method().as_str().to_uppercase(),
        path: path.to_string(),
        query,
        headers: request
            .headers()
            .iter()
            .map(|h| (h.field.as_str().to_string(), h.value.as_str().to_string()))
            .collect(),
        body,
    };

    let mut guard = state.lock().unwrap_or_else(|e| e.into_inner());
    // Writes whose answer was lost land once their count of later requests has come.
    let mut landing = Vec::new();
    for (after, write) in std::mem::take(&mut guard.pending_effects) {
        if after == 0 {
            landing.push(write);
        } else {
            guard.pending_effects.push((after - 1, write));
        }
    }
    for write in landing {
        let _ = route(&mut guard, &write);
    }
    guard.requests.push(recorded.clone());

    if let Some(target) = guard.redirect_to.clone() {
        drop(guard);
        let response =
            Response::empty(302).with_header(header("Location", &format!("{target}{url}")));
        let _ = request.respond(response);
        return;
    }

    let fault = match guard.faults.iter().position(|r| r.matches(&recorded)) {
        Some(i) if guard.faults[i].skip > 0 => {
            guard.faults[i].skip -= 1;
            None
        }
        Some(i) if guard.faults[i].times > 1 => {
            guard.faults[i].times -= 1;
            Some(guard.faults[i].fault.clone())
        }
        Some(i) => guard.faults.remove(i).map(|r| r.fault),
        None => None,
    };
    match fault {
        Some(fault) => serve_fault(guard, request, &recorded, fault),
        None => {
            let answer = real_answer(&mut guard, &recorded);
            drop(guard);
            respond(request, answer);
        }
    }
}

fn real_answer(state: &mut State, recorded: &Recorded) -> Answer {
    match (recorded.method.as_str(), recorded.path.as_str()) {
        ("POST", "/__reset") => control_reset(state),
        ("GET", "/__stats") => control_stats(state),
        _ => route(state, recorded),
    }
}

fn respond(request: tiny_http::Request, answer: Answer) {
    let mut response = Response::from_data(answer.body)
        .with_status_code(answer.status)
        .with_header(header("Content-Type", answer.content_type));
    for (name, value) in &answer.headers {
        response.add_header(header(name, value));
    }
    let _ = request.respond(response);
}

fn serve_fault(
    mut guard: MutexGuard<'_, State>,
    request: tiny_http::Request,
    recorded: &Recorded,
    fault: Fault,
) {
    match fault {
        Fault::Status {
            status,
            content_type,
            body,
            headers,
        } => {
            drop(guard);
            let mut response = Response::new(
                status.into(),
                vec![header("Content-Type", content_type)],
                Cursor::new(body.clone()),
                Some(body.len()),
                None,
            );
            for (name, value) in &headers {
                response.add_header(header(name, value));
            }
            let _ = request.respond(response);
        }
        Fault::NoAnswer => {
            drop(guard);
            // tiny_http keeps the socket open for its reader: the client waits for an answer
            // that never comes, until its own timeout.
            drop(request.into_writer());
        }
        Fault::Garbage => {
            drop(guard);
            let mut writer = request.into_writer();
            let _ = writer.write_all(b"\x00\x15 not http at all\r\n\r\n");
            let _ = writer.flush();
        }
        Fault::ApplyThenFail(inner) => {
            let _ = real_answer(&mut guard, recorded);
            serve_fault(guard, request, recorded, *inner);
        }
        Fault::ApplyLater { after } => {
            guard.pending_effects.push((after, recorded.clone()));
            drop(guard);
            drop(request.into_writer());
        }
        Fault::EmptyObject => {
            let _ = real_answer(&mut guard, recorded);
            drop(guard);
            respond(request, Answer::json(200, json!({})));
        }
        Fault::TruncatedJson => {
            let mut answer = real_answer(&mut guard, recorded);
            drop(guard);
            let half = answer.body.len() / 2;
            answer.body.truncate(half);
            respond(request, answer);
        }
        Fault::Trickle { bytes_per_sec } => {
            let answer = real_answer(&mut guard, recorded);
            drop(guard);
            std::thread::spawn(move || trickle(request, answer, bytes_per_sec));
        }
        Fault::IgnorePage => {
            let mut first = recorded.clone();
            first.query.retain(|(k, _)| k != "page");
            let mut answer = real_answer(&mut guard, &first);
            drop(guard);
            answer.headers.retain(|(k, _)| {
                !matches!(
                    k.as_str(),
                    "X-Next-Page" | "X-Prev-Page" | "X-Total" | "X-Total-Pages" | "Link"
                )
            });
            respond(request, answer);
        }
        Fault::ShiftBetweenPages { name, status } => {
            let answer = real_answer(&mut guard, recorded);
            let latest = guard
                .jobs
                .iter()
                .find(|j| j.name == name && !j.retried)
                .map(|j| j.id);
            if let Some(id) = latest {
                let new_id = guard.clone_as_new_attempt(id, status);
                if let Some(job) = guard.job_mut(new_id)
                    && status == "failed"
                {
                    job.failure_reason = Some("script_failure".into());
                }
            }
            drop(guard);
            respond(request, answer);
        }
        Fault::EchoToken { status } => {
            drop(guard);
            let token = recorded
                .header("PRIVATE-TOKEN")
                .or_else(|| recorded.header("JOB-TOKEN"))
                .map(str::to_string)
                .or_else(|| {
                    recorded
                        .query
                        .iter()
                        .find(|(k, _)| k == "private_token" || k == "job_token")
                        .map(|(_, v)| v.clone())
                })
                .unwrap_or_default();
            let answer = if status >= 500 {
                Answer {
                    status,
                    content_type: "text/html",
                    body: format!(
                        "<html><body><h1>{status} Proxy Error</h1><p>while forwarding {} {}?{} with PRIVATE-TOKEN: {token}</p></body></html>",
                        recorded.method,
                        recorded.path,
                        recorded
                            .query
                            .iter()
                            .map(|(k, v)| format!("{k}={v}"))
                            .collect::<Vec<_>>()
                            .join("&")
                    )
                    .into_bytes(),
                    headers: Vec::new(),
                }
            } else {
                Answer::message(
                    status,
                    &format!("{status} Unauthorized - token {token} is not valid"),
                )
            };
            respond(request, answer);
        }
    }
}

/// Sends `answer` slowly, on its own thread: the head at once, then the body a byte at a time.
fn trickle(request: tiny_http::Request, answer: Answer, bytes_per_sec: u32) {
    let mut writer = request.into_writer();
    let mut head = format!(
        "HTTP/1.1 {} Trickle\r\nContent-Type: {}\r\nContent-Length: {}\r\nConnection: close\r\n",
        answer.status,
        answer.content_type,
        answer.body.len()
    );
    for (name, value) in &answer.headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str("\r\n");
    if writer
        .write_all(head.as_bytes())
        .and_then(|()| writer.flush())
        .is_err()
    {
        return;
    }
    let pause = std::time::Duration::from_secs_f64(1.0 / f64::from(bytes_per_sec.max(1)));
    for byte in &answer.body {
        std::thread::sleep(pause);
        if writer
            .write_all(&[*byte])
            .and_then(|()| writer.flush())
            .is_err()
        {
            return;
        }
    }
}

/// Test-server control, outside `/api/v4`: restore the jobs saved by [`GitLab::save_initial`] and
/// forget the requests.
fn control_reset(state: &mut State) -> Answer {
    state.jobs = state.initial_jobs.clone();
    state.next_id = 10_000;
    state.requests.clear();
    Answer::json(200, json!({"jobs": state.jobs.len()}))
}

/// Test-server control: what it received since the last reset (the stats request not counted).
fn control_stats(state: &State) -> Answer {
    let api: Vec<&Recorded> = state
        .requests
        .iter()
        .filter(|r| r.path.contains("/api/v4/"))
        .collect();
    let list_pages = api
        .iter()
        .filter(|r| r.path.ends_with("/jobs") && r.path.contains("/pipelines/"))
        .count();
    let list_reads = api
        .iter()
        .filter(|r| r.path.ends_with("/jobs") && r.path.contains("/pipelines/"))
        .filter(|r| r.query_values("page").first().is_none_or(|p| *p == "1"))
        .count();
    Answer::json(
        200,
        json!({"requests": api.len(), "pipeline_list_pages": list_pages, "pipeline_list_reads": list_reads}),
    )
}

enum Auth {
    Anonymous,
    Job(u64),
    Access(Scope),
}

/// Which routes take a job token, by GitLab version (`docs/gitlab-behaviour.md` §3.2).
#[derive(Clone, Copy, PartialEq)]
enum JobTokenRoute {
    Always,
    From(u32, u32),
    Never,
}

fn authenticate(state: &State, request: &Recorded, route: JobTokenRoute) -> Result<Auth, Answer> {
    if let Some(token) = request.header("PRIVATE-TOKEN") {
        return match state.access_tokens.get(token) {
            Some(scope) => Ok(Auth::Access(*scope)),
            None => Err(Answer::message(401, "401 Unauthorized")),
        };
    }
    if let Some(token) = request.header("JOB-TOKEN") {
        let allowed = match route {
            JobTokenRoute::Always => true,
            JobTokenRoute::From(major, minor) => state.version >= (major, minor),
            JobTokenRoute::Never => false,
        };
        if !allowed {
            // Not an authentication method on this route: the request is anonymous.
            return Ok(Auth::Anonymous);
        }
        return match state.job_tokens.get(token).and_then(|id| state.job(*id)) {
            Some(job) if job.status == "running" => Ok(Auth::Job(job.id)),
            _ => Err(Answer::message(401, "401 Unauthorized")),
        };
    }
    Ok(Auth::Anonymous)
}

fn route(state: &mut State, request: &Recorded) -> Answer {
    // Relative-root installs serve the API under a prefix (`/gitlab/api/v4`).
    let Some(path) = request
        .path
        .find("/api/v4/")
        .map(|i| &request.path[i + 7..])
    else {
        return Answer {
            status: 404,
            content_type: "text/html",
            body: b"<html><body>Not Found</body></html>".to_vec(),
            headers: Vec::new(),
        };
    };
    let segments: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    let method = request.method.as_str();
    if let Some(answer) = tree_route(state, request, method, &segments) {
        return answer;
    }
    match (method, segments.as_slice()) {
        ("GET", ["job"]) => own_job(state, request, false),
        ("GET", ["job", "allowed_agents"]) => own_job(state, request, true),
        (_, ["projects", project, rest @ ..]) => {
            let project = percent_decode(project);
            if project != PROJECT_ID.to_string() && project != PROJECT_PATH {
                // Unknown and invisible projects look the same.
                return Answer::message(404, "404 Project Not Found");
            }
            project_route(state, request, method, rest)
        }
        _ => Answer::json(404, json!({ "error": "404 Not Found" })),
    }
}

fn own_job(state: &State, request: &Recorded, agents: bool) -> Answer {
    match authenticate(state, request, JobTokenRoute::Always) {
        Err(answer) => answer,
        Ok(Auth::Anonymous) => Answer::message(401, "401 Unauthorized"),
        Ok(Auth::Access(_)) => Answer::message(404, "404 Job Not Found"),
        Ok(Auth::Job(id)) => {
            let job = state.job(id).expect("token's job");
            if agents {
                Answer::json(
                    200,
                    json!({
                        "allowed_agents": [{"id": 1, "config_project": {"id": PROJECT_ID, "description": null,
                            "name": "app", "name_with_namespace": "group / sub / app", "path": "app",
                            "path_with_namespace": PROJECT_PATH, "created_at": "2026-01-02T10:00:00.000Z"},
                            "configuration": {"access_as": {"ci_access": {}}}}],
                        "job": {"id": job.id},
                        "pipeline": {"id": job.pipeline_id},
                        "project": {"id": PROJECT_ID, "groups": [{"id": 7}, {"id": 8}]},
                        "user": {"id": 3, "username": "deployer", "roles_in_project": ["developer"]},
                        "environment": {"tier": "production", "slug": "production"}
                    }),
                )
            } else {
                Answer::json(200, render(job))
            }
        }
    }
}

fn project_route(state: &mut State, request: &Recorded, method: &str, rest: &[&str]) -> Answer {
    if let Some(answer) = tree_project_route(state, request, method, PROJECT_ID, rest) {
        return answer;
    }
    let (job_token_route, is_pipeline_route) = match (method, rest) {
        ("GET", ["jobs"]) => (JobTokenRoute::From(18, 0), false),
        ("GET", ["pipelines", _, "jobs"]) => (JobTokenRoute::From(18, 0), true),
        ("GET", ["pipelines", _, "bridges"]) => (JobTokenRoute::From(19, 0), true),
        _ => (JobTokenRoute::Never, false),
    };
    let auth = match authenticate(state, request, job_token_route) {
        Ok(auth) => auth,
        Err(answer) => return answer,
    };
    match auth {
        // lib/api/ci/pipelines.rb only authenticates non-GET requests: an anonymous GET goes on to
        // find_project!, which hides this private project. lib/api/ci/jobs.rb calls authenticate!.
        Auth::Anonymous if is_pipeline_route => {
            return Answer::message(404, "404 Project Not Found");
        }
        Auth::Anonymous => return Answer::message(401, "401 Unauthorized"),
        Auth::Access(Scope::ReadApi) if method != "GET" => {
            return Answer::json(
                403,
                json!({"error": "insufficient_scope",
                       "error_description": "The request requires higher privileges than provided by the access token.",
                       "scope": "api"}),
            );
        }
        _ => {}
    }
    match (method, rest) {
        ("GET", ["jobs"]) => list(state, request, None, Kind::Build, false),
        ("GET", ["pipelines", pipeline, "jobs"]) => match pipeline.parse::<u64>() {
            Ok(p) => {
                let first_page = request
                    .query_values("page")
                    .first()
                    .is_none_or(|p| *p == "1");
                if state.tick_on_reads && first_page {
                    state.tick(None);
                }
                let retried = request.query_values("include_retried").first() == Some(&"true");
                list(state, request, Some(p), Kind::Build, retried)
            }
            Err(_) => Answer::json(400, json!({"error": "pipeline_id is invalid"})),
        },
        ("GET", ["pipelines", pipeline, "bridges"]) => match pipeline.parse::<u64>() {
            Ok(p) => list(state, request, Some(p), Kind::Bridge, false),
            Err(_) => Answer::json(400, json!({"error": "pipeline_id is invalid"})),
        },
        (_, ["jobs", id, action @ ..]) => {
            let Ok(id) = id.parse::<u64>() else {
                return Answer::json(400, json!({"error": "job_id is invalid"}));
            };
            job_route(state, request, method, id, action)
        }
        _ => Answer::json(404, json!({"error": "404 Not Found"})),
    }
}

/// GitLab's `AVAILABLE_STATUSES`, written out here on purpose rather than taken from gljob's own
/// list: the test server is GitLab's side and must not share the code it checks.
const STATUSES: [&str; 13] = [
    "created",
    "waiting_for_resource",
    "preparing",
    "waiting_for_callback",
    "pending",
    "running",
    "success",
    "failed",
    "canceling",
    "canceled",
    "skipped",
    "manual",
    "scheduled",
];

fn list(
    state: &State,
    request: &Recorded,
    pipeline: Option<u64>,
    kind: Kind,
    include_retried: bool,
) -> Answer {
    let mut scopes = request.query_values("scope[]");
    scopes.extend(request.query_values("scope"));
    if scopes.iter().any(|s| !STATUSES.contains(s)) {
        return Answer::json(400, json!({"error": "scope does not have a valid value"}));
    }
    let per_page: usize = match request.query_values("per_page").first() {
        None => 20,
        Some(text) => match text.parse::<usize>() {
            Ok(0) | Err(_) => {
                return Answer::json(
                    400,
                    json!({"error": "per_page does not have a valid value"}),
                );
            }
            Ok(n) => n.min(100),
        },
    };
    let page: usize = request
        .query_values("page")
        .first()
        .and_then(|p| p.parse().ok())
        .filter(|p| *p >= 1)
        .unwrap_or(1);
    let mut jobs: Vec<&Job> = state
        .jobs
        .iter()
        .filter(|j| j.kind == kind)
        .filter(|j| pipeline.is_none_or(|p| j.pipeline_id == p))
        .filter(|j| include_retried || pipeline.is_none() || !j.retried)
        .filter(|j| scopes.is_empty() || scopes.contains(&j.status.as_str()))
        .collect();
    jobs.sort_by_key(|j| std::cmp::Reverse(j.id));
    let total = jobs.len();
    let pages = total.div_ceil(per_page).max(1);
    let items: Vec<Value> = jobs
        .iter()
        .skip((page - 1) * per_page)
        .take(per_page)
        .map(|j| render(j))
        .collect();
    let has_next = page * per_page < total;
    let with_totals = pipeline.is_some();
    let route = request
        .path
        .find("/api/v4/")
        .map_or("", |i| &request.path[i + 7..]);
    let external = format!("{}{route}", state.external_root);
    let link =
        |p: usize, rel: &str| format!("<{external}?page={p}&per_page={per_page}>; rel=\"{rel}\"");
    let mut links = Vec::new();
    if page > 1 {
        links.push(link(page - 1, "prev"));
    }
    if has_next {
        links.push(link(page + 1, "next"));
    }
    links.push(link(1, "first"));
    if with_totals {
        links.push(link(pages, "last"));
    }
    let mut headers = vec![
        ("X-Page".to_string(), page.to_string()),
        ("X-Per-Page".to_string(), per_page.to_string()),
        (
            "X-Next-Page".to_string(),
            if has_next {
                (page + 1).to_string()
            } else {
                String::new()
            },
        ),
        (
            "X-Prev-Page".to_string(),
            if page > 1 {
                (page - 1).to_string()
            } else {
                String::new()
            },
        ),
        ("Link".to_string(), links.join(", ")),
    ];
    if with_totals {
        headers.push(("X-Total".to_string(), total.to_string()));
        headers.push(("X-Total-Pages".to_string(), pages.to_string()));
    }
    let mut answer = Answer::json(200, Value::Array(items));
    answer.headers = headers;
    answer
}

fn job_route(
    state: &mut State,
    request: &Recorded,
    method: &str,
    id: u64,
    action: &[&str],
) -> Answer {
    if state.job(id).is_none() {
        return Answer::message(404, "404 Not found");
    }
    match (method, action) {
        ("GET", []) => {
            if state.tick_on_reads {
                state.tick(Some(id));
            }
            Answer::json(200, render(state.job(id).expect("checked")))
        }
        ("GET", ["trace"]) => {
            let job = state.job(id).expect("checked");
            Answer {
                status: 200,
                content_type: "text/plain",
                body: job.log.clone(),
                headers: vec![(
                    "Content-Disposition".into(),
                    format!("infile; filename=\"{id}.log\""),
                )],
            }
        }
        ("POST", ["play"]) => play(state, request, id),
        ("POST", ["cancel"]) => {
            let job = state.job_mut(id).expect("checked");
            let cancelable = matches!(
                job.status.as_str(),
                "created"
                    | "waiting_for_resource"
                    | "preparing"
                    | "waiting_for_callback"
                    | "pending"
                    | "running"
                    | "scheduled"
            );
            if cancelable {
                job.status = "canceled".into();
                job.timeline.clear();
            }
            let answer = Answer::json(201, render(job));
            if cancelable {
                state.applied.push(("cancel", id));
            }
            answer
        }
        ("POST", ["retry"]) => {
            let job = state.job(id).expect("checked");
            if job.kind == Kind::Build
                && !matches!(job.status.as_str(), "success" | "failed" | "canceled")
            {
                return Answer::message(403, "403 Forbidden - Job is not retryable");
            }
            let after = job.after_retry.clone();
            state.applied.push(("retry", id));
            let new_id = state.clone_as_new_attempt(id, "pending");
            let new = state.job_mut(new_id).expect("created");
            new.timeline = after;
            Answer::json(201, render(new))
        }
        ("POST", ["erase"]) => {
            let job = state.job_mut(id).expect("checked");
            if !job.is_final() || (job.log.is_empty() && !job.artifacts) || job.kind == Kind::Bridge
            {
                return Answer::message(403, "403 Forbidden - Job is not erasable!");
            }
            job.log.clear();
            job.artifacts = false;
            job.erased = true;
            let answer = Answer::json(201, render(job));
            state.applied.push(("erase", id));
            answer
        }
        _ => Answer::json(404, json!({"error": "404 Not Found"})),
    }
}

fn play(state: &mut State, request: &Recorded, id: u64) -> Answer {
    let variables = if request.body.is_empty() {
        None
    } else {
        match serde_json::from_slice::<Value>(&request.body) {
            Ok(body) => body.get("job_variables_attributes").cloned(),
            Err(_) => return Answer::json(400, json!({"error": "400 Bad request - invalid JSON"})),
        }
    };
    if let Some(Value::Array(items)) = &variables {
        for (i, item) in items.iter().enumerate() {
            for field in ["key", "value"] {
                if !item.get(field).is_some_and(Value::is_string) {
                    return Answer::json(
                        400,
                        json!({"error": format!("job_variables_attributes[{i}][{field}] is missing")}),
                    );
                }
            }
        }
    }
    let job = state.job(id).expect("checked").clone();
    let playable = job.manual
        && (matches!(job.status.as_str(), "manual" | "scheduled")
            || matches!(job.status.as_str(), "success" | "failed" | "canceled"));
    if !playable {
        return Answer::message(400, "400 Bad request - Unplayable Job");
    }
    if variables
        .as_ref()
        .is_some_and(|v| v.as_array().is_some_and(|a| !a.is_empty()))
        && !state.pipeline_variables_allowed
    {
        return Answer::message(403, "403 Forbidden");
    }
    state.applied.push(("play", id));
    if job.is_final() {
        // Ci::PlayBuildService retries a finished manual job; before 18.10 jobs.rb still
        // presents the original job object, from 18.10 the new one (docs/gitlab-behaviour.md §10).
        let after = job.after_play.clone();
        let new_id = state.clone_as_new_attempt(id, "pending");
        if let Some(new) = state.job_mut(new_id) {
            new.timeline = after;
            new.played_with = variables;
        }
        if state.version >= (18, 10) {
            return Answer::json(200, render(state.job(new_id).expect("created")));
        }
        return Answer::json(200, render(&job));
    }
    let job = state.job_mut(id).expect("checked");
    job.status = "pending".into();
    job.timeline = job.after_play.clone();
    job.played_with = variables;
    Answer::json(200, render(job))
}

fn timestamp(offset: u64) -> String {
    format!(
        "2026-11-25T10:{:02}:{:02}.000Z",
        (offset / 60) % 60,
        offset % 60
    )
}

/// A Job (or Bridge) entity as GitLab's `API::Entities::Ci::Job` renders it.
pub fn render(job: &Job) -> Value {
    let started = !matches!(
        job.status.as_str(),
        "created"
            | "pending"
            | "manual"
            | "scheduled"
            | "waiting_for_resource"
            | "preparing"
            | "skipped"
    );
    let finished = job.is_final() && job.status != "skipped";
    let mut value = json!({
        "id": job.id,
        "status": job.status,
        "stage": job.stage,
        "name": job.name,
        "ref": "main",
        "tag": false,
        "coverage": null,
        "allow_failure": job.allow_failure,
        "created_at": timestamp(0),
        "started_at": if started { Value::from(timestamp(5)) } else { Value::Null },
        "finished_at": if finished { Value::from(timestamp(65)) } else { Value::Null },
        "erased_at": if job.erased { Value::from(timestamp(70)) } else { Value::Null },
        "duration": if finished { json!(60.25) } else if started { json!(12.5) } else { Value::Null },
        "queued_duration": if started { json!(5.0) } else { Value::Null },
        "user": {
            "id": 3, "username": "deployer", "name": "Deploy Er", "state": "active", "locked": false,
            "avatar_url": "https://gitlab.example.com/uploads/-/system/user/avatar/3/avatar.png",
            "web_url": "https://gitlab.example.com/deployer", "created_at": "2025-01-01T00:00:00.000Z",
            "bio": "", "location": "", "public_email": null, "linkedin": "", "twitter": "",
            "discord": "", "website_url": "", "organization": "", "job_title": "", "pronouns": null,
            "bot": false, "work_information": null
        },
        "commit": {
            "id": "0ff3ae198f8601a285adcf5c0fff204ee6fba5fd", "short_id": "0ff3ae19",
            "created_at": "2026-11-25T09:59:00.000+01:00", "parent_ids": ["a91957a858320c0e17f3a0eca7cfacbff50ea29a"],
            "title": "Deploy the thing", "message": "Deploy the thing\n", "author_name": "Deploy Er",
            "author_email": "deployer@example.com", "authored_date": "2026-11-25T09:59:00.000+01:00",
            "committer_name": "Deploy Er", "committer_email": "deployer@example.com",
            "committed_date": "2026-11-25T09:59:00.000+01:00", "trailers": {}, "extended_trailers": {},
            "web_url": "https://gitlab.example.com/group/sub/app/-/commit/0ff3ae198f8601a285adcf5c0fff204ee6fba5fd"
        },
        "pipeline": {
            "id": job.pipeline_id, "sha": "0ff3ae198f8601a285adcf5c0fff204ee6fba5fd",
            "ref": "main", "status": "running"
        },
        "web_url": job.web_url.clone().unwrap_or_else(|| format!("https://gitlab.example.com/{PROJECT_PATH}/-/jobs/{}", job.id)),
        "project": { "ci_job_token_scope_enabled": true },
    });
    let map = value.as_object_mut().expect("an object");
    if job.status == "failed" {
        map.insert(
            "failure_reason".into(),
            Value::from(
                job.failure_reason
                    .clone()
                    .unwrap_or_else(|| "script_failure".into()),
            ),
        );
    }
    match job.kind {
        Kind::Bridge => {
            map.insert(
                "downstream_pipeline".into(),
                match job.downstream_pipeline {
                    Some(id) => json!({"id": id, "sha": "0ff3ae198f8601a285adcf5c0fff204ee6fba5fd",
                                       "ref": "main", "status": job.status}),
                    None => Value::Null,
                },
            );
        }
        Kind::Build => {
            let mut artifacts = Vec::new();
            if job.artifacts {
                map.insert(
                    "artifacts_file".into(),
                    json!({"filename": "artifacts.zip", "size": 1000}),
                );
                artifacts.push(json!({"file_type": "archive", "size": 1000, "filename": "artifacts.zip", "file_format": "zip"}));
            }
            if !job.log.is_empty() {
                artifacts.push(json!({"file_type": "trace", "size": job.log.len(), "filename": "job.log", "file_format": null}));
                // GitLab's schema types file_format as a string; the trace's is "raw".
                artifacts.last_mut().expect("pushed")["file_format"] = Value::from("raw");
            }
            map.insert("artifacts".into(), Value::Array(artifacts));
            map.insert(
                "artifacts_expire_at".into(),
                if job.artifacts {
                    Value::from(timestamp(3000))
                } else {
                    Value::Null
                },
            );
            map.insert("tag_list".into(), json!(["docker", "linux"]));
            map.insert("archived".into(), Value::Bool(job.ext.archived));
            if started {
                map.insert("runner".into(), json!({
                    "id": 12, "description": "shared-runner-1", "ip_address": "", "active": true,
                    "is_shared": true, "name": "gitlab-runner", "online": true, "status": "online"
                }));
                map.insert("runner_manager".into(), json!({
                    "id": 21, "system_id": "s_0123456789ab", "version": "18.3.0", "revision": "abcdef12",
                    "platform": "linux", "architecture": "amd64", "created_at": "2026-01-01T00:00:00.000Z",
                    "contacted_at": "2026-11-25T10:00:00.000Z", "ip_address": "", "status": "online"
                }));
            } else {
                map.insert("runner".into(), Value::Null);
                map.insert("runner_manager".into(), Value::Null);
            }
        }
    }
    value
}

// ================================================================================================
// Issue 9: the pipeline tree on GitLab 19 (child and multi-project pipelines behind trigger jobs,
// `/trigger_jobs`, needs-style names), job inputs, `/version`, archived jobs, keyset pages.
// Everything below is additive: the routes above call `tree_route` and `tree_project_route` first,
// and these answer only what they own (returning `None` leaves the request to the routes above).
// ================================================================================================

pub const OTHER_PROJECT_ID: u64 = 43;
pub const OTHER_PROJECT_PATH: &str = "group/deploy/envs";
/// What `GET /version` answers besides the version (`docs/gitlab-behaviour.md` has no source for it;
/// the shape is GitLab's `{version, revision}`).
pub const REVISION: &str = "6b2c0d1a9f3";

/// The tree's state: pipelines besides [`PIPELINE_ID`], projects besides [`PROJECT_ID`].
#[derive(Debug, Clone, Default)]
pub struct Tree {
    pub pipelines: Vec<Pipeline>,
    pub projects: Vec<Project>,
    /// Ticks per pipeline (on by default): a read of pipeline P's job list (page 1) advances P's
    /// builds only, a read of P's trigger jobs (`/bridges` or `/trigger_jobs`, page 1) advances
    /// P's trigger jobs only, a single job read advances that job. So a client that follows only
    /// a trigger job (and reads only the trigger jobs list) still sees it move. Off, the routes
    /// above advance every job of every pipeline on each pipeline job list read, and trigger job
    /// lists advance nothing (the model before issue 9).
    pub per_pipeline: bool,
}

/// A pipeline other than [`PIPELINE_ID`]. Its status is derived from its jobs as GitLab's
/// `Gitlab::Ci::Status::Composite` does, unless `status` is set.
#[derive(Debug, Clone)]
pub struct Pipeline {
    pub id: u64,
    pub project_id: u64,
    /// `parent_pipeline` (a child) or `pipeline` (multi-project downstream).
    pub source: &'static str,
    /// Its routes answer `404 Not found` until it exists ([`Step::CreateDownstream`]).
    pub created: bool,
    pub status: Option<String>,
}

impl Pipeline {
    /// A child pipeline of project 42 (`trigger: include:`), already created.
    pub fn child(id: u64) -> Pipeline {
        Pipeline {
            id,
            project_id: PROJECT_ID,
            source: "parent_pipeline",
            created: true,
            status: None,
        }
    }

    /// A multi-project downstream pipeline (`trigger: project:`) in `project`, already created.
    pub fn in_project(id: u64, project: u64) -> Pipeline {
        Pipeline {
            id,
            project_id: project,
            source: "pipeline",
            created: true,
            status: None,
        }
    }

    /// Not created yet: a bridge's [`Step::CreateDownstream`] creates it.
    pub fn late(mut self) -> Pipeline {
        self.created = false;
        self
    }

    pub fn status(mut self, status: &str) -> Pipeline {
        self.status = Some(status.into());
        self
    }
}

/// A project other than [`PROJECT_ID`], private, with its inbound job token policy
/// (Settings > CI/CD > Job token permissions).
#[derive(Debug, Clone)]
pub struct Project {
    pub id: u64,
    pub path: String,
    /// "Limit access to this project": only allowlisted projects' job tokens get in.
    pub limit_access: bool,
    /// Source projects whose job tokens are allowed.
    pub allowlist: Vec<u64>,
}

impl Project {
    /// Project [`OTHER_PROJECT_ID`], limiting access to its allowlist, which is empty.
    pub fn other() -> Project {
        Project {
            id: OTHER_PROJECT_ID,
            path: OTHER_PROJECT_PATH.into(),
            limit_access: true,
            allowlist: Vec::new(),
        }
    }

    /// Allowlists project 42 (the job token of gljob's job gets in).
    pub fn allowing_42(mut self) -> Project {
        self.allowlist.push(PROJECT_ID);
        self
    }

    /// Access not limited: any project's job token gets in.
    pub fn unlimited(mut self) -> Project {
        self.limit_access = false;
        self
    }
}

/// A job's declared input (`inputs:` in its YAML, GitLab 18.10+).
#[derive(Debug, Clone)]
pub struct Input {
    pub name: String,
    /// `string`, `number`, `boolean` or `array`.
    pub kind: &'static str,
    /// `options:` (string and number inputs).
    pub options: Vec<Value>,
}

impl Input {
    pub fn new(name: &str, kind: &'static str) -> Input {
        Input {
            name: name.into(),
            kind,
            options: Vec::new(),
        }
    }

    pub fn options(mut self, options: &[Value]) -> Input {
        self.options = options.to_vec();
        self
    }
}

/// Issue 9's fields of a job.
#[derive(Debug, Clone, Default)]
pub struct JobExt {
    /// `"archived": true`: play and retry are refused (§10.3).
    pub archived: bool,
    /// Declared inputs; empty: the job accepts any input without validation (§10.2).
    pub inputs: Vec<Input>,
    /// The `job_inputs` it was played with (18.10+; older GitLabs drop them).
    pub played_inputs: Option<Value>,
    /// The `inputs` its retry carried (set on the new attempt).
    pub retried_inputs: Option<Value>,
}

impl Job {
    pub fn archived(mut self) -> Job {
        self.ext.archived = true;
        self
    }

    pub fn inputs(mut self, inputs: Vec<Input>) -> Job {
        self.ext.inputs = inputs;
        self
    }

    /// A trigger job whose downstream pipeline does not exist yet; it appears on its `tick`-th
    /// tick (1: the first read of its pipeline's trigger jobs), before that tick's other steps.
    pub fn creates_downstream_on_tick(mut self, tick: usize, pipeline: u64) -> Job {
        self.kind = Kind::Bridge;
        self.downstream_pipeline = None;
        while self.timeline.len() < tick {
            self.timeline.push_back(Vec::new());
        }
        self.timeline[tick - 1].insert(0, Step::CreateDownstream(pipeline));
        self
    }

    /// `parallel: N`: jobs `name 1/N` … `name N/N`, ids from `first_id`, one per status.
    pub fn parallel(first_id: u64, name: &str, stage: &str, statuses: &[&str]) -> Vec<Job> {
        let n = statuses.len();
        statuses
            .iter()
            .enumerate()
            .map(|(i, status)| {
                Job::new(
                    first_id + i as u64,
                    &format!("{name} {}/{n}", i + 1),
                    stage,
                    status,
                )
            })
            .collect()
    }

    /// `parallel: matrix:`: one job per combination, named as GitLab's matrix normalizer names
    /// them, `name: [v1, v2]`, ids from `first_id`.
    pub fn matrix(
        first_id: u64,
        name: &str,
        stage: &str,
        status: &str,
        combinations: &[&[&str]],
    ) -> Vec<Job> {
        combinations
            .iter()
            .enumerate()
            .map(|(i, values)| {
                Job::new(
                    first_id + i as u64,
                    &format!("{name}: [{}]", values.join(", ")),
                    stage,
                    status,
                )
            })
            .collect()
    }
}

impl State {
    fn create_downstream(&mut self, bridge: u64, pipeline: u64) {
        if let Some(job) = self.job_mut(bridge) {
            job.downstream_pipeline = Some(pipeline);
        }
        if let Some(p) = self.tree.pipelines.iter_mut().find(|p| p.id == pipeline) {
            p.created = true;
        }
    }

    /// Advances the latest attempts among `ids` by one tick each.
    fn tick_ids(&mut self, ids: Vec<u64>) {
        for id in ids {
            if self.job(id).is_none_or(|j| j.retried) {
                continue;
            }
            let Some(steps) = self.job_mut(id).and_then(|j| j.timeline.pop_front()) else {
                continue;
            };
            for step in steps {
                self.apply(id, step);
            }
        }
    }

    /// The project a pipeline belongs to: its registered project, else 42.
    pub fn project_of(&self, pipeline: u64) -> u64 {
        self.tree
            .pipelines
            .iter()
            .find(|p| p.id == pipeline)
            .map_or(PROJECT_ID, |p| p.project_id)
    }

    fn project_path(&self, project: u64) -> String {
        self.tree
            .projects
            .iter()
            .find(|p| p.id == project)
            .map_or(PROJECT_PATH.to_string(), |p| p.path.clone())
    }

    /// Whether `pipeline` exists in `project` now: a registered pipeline once created; otherwise
    /// [`PIPELINE_ID`] or any pipeline that holds a job, in project 42.
    fn pipeline_exists(&self, project: u64, pipeline: u64) -> bool {
        match self.tree.pipelines.iter().find(|p| p.id == pipeline) {
            Some(p) => p.created && p.project_id == project,
            None => {
                project == PROJECT_ID
                    && (pipeline == PIPELINE_ID
                        || self.jobs.iter().any(|j| j.pipeline_id == pipeline))
            }
        }
    }

    /// The pipeline's status: fixed, or folded from its latest jobs and trigger jobs as
    /// `Gitlab::Ci::Status::Composite#status` does (allowed failures count as
    /// `success_with_warnings`, allowed manual jobs as `ignored`).
    pub fn pipeline_status(&self, pipeline: u64) -> String {
        if let Some(status) = self
            .tree
            .pipelines
            .iter()
            .find(|p| p.id == pipeline)
            .and_then(|p| p.status.clone())
        {
            return status;
        }
        let set: std::collections::BTreeSet<&str> = self
            .jobs
            .iter()
            .filter(|j| j.pipeline_id == pipeline && !j.retried)
            .map(|j| match (j.allow_failure, j.status.as_str()) {
                (true, "failed" | "canceled") => "success_with_warnings",
                (true, "manual") => "ignored",
                (_, status) => status,
            })
            .collect();
        let only_of = |names: &[&str]| {
            let matching = names.iter().filter(|n| set.contains(*n)).count();
            matching > 0 && matching == set.len()
        };
        let any_of = |names: &[&str]| names.iter().any(|n| set.contains(n));
        let status = if set.is_empty() {
            "created"
        } else if only_of(&["skipped", "ignored"]) {
            "skipped"
        } else if only_of(&["success", "skipped", "success_with_warnings", "ignored"]) {
            "success"
        } else if only_of(&["created", "success_with_warnings", "ignored"]) {
            "created"
        } else if only_of(&["preparing", "success_with_warnings", "ignored"]) {
            "preparing"
        } else if only_of(&[
            "canceled",
            "success",
            "skipped",
            "success_with_warnings",
            "ignored",
        ]) {
            "canceled"
        } else if only_of(&[
            "pending",
            "created",
            "skipped",
            "success_with_warnings",
            "ignored",
        ]) {
            "pending"
        } else if any_of(&["running", "pending"]) {
            "running"
        } else if any_of(&["canceling"]) {
            // Newer than the Composite read; a pipeline with a job canceling is still busy.
            "canceling"
        } else if any_of(&["waiting_for_resource"]) {
            "waiting_for_resource"
        } else if any_of(&["manual"]) {
            "manual"
        } else if any_of(&["scheduled"]) {
            "scheduled"
        } else if any_of(&["preparing"]) {
            "preparing"
        } else if any_of(&["created"]) {
            "running"
        } else {
            "failed"
        };
        status.to_string()
    }
}

impl GitLab {
    /// Adds a pipeline and its jobs (their `pipeline_id` is set to it); ticks per pipeline
    /// ([`Tree::per_pipeline`]) are turned on if they were off. A trigger job points at it with `.bridge(Some(id))`
    /// (created now) or [`Job::creates_downstream_on_tick`] (with [`Pipeline::late`]).
    ///
    /// A tree of three levels, `a::b::job`:
    /// ```ignore
    /// server.add([Job::new(1, "a", "deploy", "success").bridge(Some(2000))]);
    /// server.add_pipeline(Pipeline::child(2000), [Job::new(2, "b", "test", "success").bridge(Some(3000))]);
    /// server.add_pipeline(Pipeline::child(3000), [Job::new(3, "job", "test", "running").then(&["success"])]);
    /// ```
    pub fn add_pipeline(&self, pipeline: Pipeline, jobs: impl IntoIterator<Item = Job>) {
        let id = pipeline.id;
        {
            let mut state = self.state();
            state.tree.per_pipeline = true;
            state.tree.pipelines.retain(|p| p.id != id);
            state.tree.pipelines.push(pipeline);
        }
        self.add(jobs.into_iter().map(|j| j.in_pipeline(id)));
    }

    /// Adds a project (and turns on ticks per pipeline if they were off).
    pub fn add_project(&self, project: Project) {
        let mut state = self.state();
        state.tree.per_pipeline = true;
        state.tree.projects.retain(|p| p.id != project.id);
        state.tree.projects.push(project);
    }

    pub fn pipeline_status(&self, pipeline: u64) -> String {
        self.state().pipeline_status(pipeline)
    }

    /// GitLab's configured external URL, from which `Link` headers are built (e.g. another
    /// listener's URL, to prove that nothing follows them).
    pub fn set_external_root(&self, root: &str) {
        self.state().external_root = root.to_string();
    }

    /// Page-1 reads of `GET …/pipelines/{pipeline}/{list}` (`jobs`, `bridges`, `trigger_jobs`).
    pub fn list_reads(&self, pipeline: u64, list: &str) -> usize {
        let suffix = format!("/pipelines/{pipeline}/{list}");
        self.requests_to("GET", &suffix)
            .iter()
            .filter(|r| r.query_values("page").first().is_none_or(|p| *p == "1"))
            .count()
    }
}

/// The answer of GitLab's catch-all route (a route this GitLab does not have).
fn catch_all() -> Answer {
    Answer::json(404, json!({ "error": "404 Not Found" }))
}

/// Issue 9's routes outside a project (`/version`) and every route of the other projects.
fn tree_route(
    state: &mut State,
    request: &Recorded,
    method: &str,
    segments: &[&str],
) -> Option<Answer> {
    match (method, segments) {
        ("GET", ["version"]) => Some(version(state, request)),
        (_, ["projects", project, rest @ ..]) => {
            let project = percent_decode(project);
            let other = state
                .tree
                .projects
                .iter()
                .find(|p| p.id.to_string() == project || p.path == project)
                .map(|p| p.id)?;
            Some(tree_project_route(state, request, method, other, rest).unwrap_or_else(catch_all))
        }
        _ => None,
    }
}

/// `GET /version` (`lib/api/version.rb`): any access token; the job token is not taken there,
/// so it is anonymous: 401.
fn version(state: &State, request: &Recorded) -> Answer {
    match authenticate(state, request, JobTokenRoute::Never) {
        Err(answer) => answer,
        Ok(Auth::Access(_)) => Answer::json(
            200,
            json!({
                "version": format!("{}.{}.0-ee", state.version.0, state.version.1),
                "revision": REVISION,
                "kas": {"enabled": true, "externalUrl": null, "externalK8sProxyUrl": null, "version": null},
                "enterprise": true
            }),
        ),
        Ok(_) => Answer::message(401, "401 Unauthorized"),
    }
}

/// The routes of `project` that issue 9 owns; `None` for the others (project 42 only).
fn tree_project_route(
    state: &mut State,
    request: &Recorded,
    method: &str,
    project: u64,
    rest: &[&str],
) -> Option<Answer> {
    let other = project != PROJECT_ID;
    let trigger_jobs = matches!((method, rest), ("GET", ["pipelines", _, "trigger_jobs"]));
    // A GitLab before 19.2 has no such route: its catch-all answers, before any authentication.
    if trigger_jobs && state.version < (19, 2) {
        return Some(catch_all());
    }
    let keyset = matches!((method, rest), ("GET", ["jobs"]))
        && request.query_values("pagination").first() == Some(&"keyset");
    let play_or_retry = matches!((method, rest), ("POST", ["jobs", _, "play" | "retry"]));
    let tree_list_route = state.tree.per_pipeline
        && matches!(
            (method, rest),
            ("GET", ["pipelines", _, "jobs" | "bridges"])
                | ("GET", ["pipelines", _])
                | ("GET", ["jobs"])
                | (_, ["jobs", _, ..])
        );
    if !(other || trigger_jobs || keyset || play_or_retry || tree_list_route) {
        return None;
    }
    let (job_token_route, pipeline_route) = match (method, rest) {
        ("GET", ["jobs"]) => (JobTokenRoute::From(18, 0), false),
        ("GET", ["pipelines", _, "jobs"]) => (JobTokenRoute::From(18, 0), true),
        ("GET", ["pipelines", _, "bridges"]) => (JobTokenRoute::From(19, 0), true),
        ("GET", ["pipelines", _, "trigger_jobs"]) => (JobTokenRoute::From(19, 2), true),
        // `GET /projects/:id/pipelines/:pipeline_id`: job token in pipelines.rb@19.2, not 18.x
        // (§3.2); 19.2 is the first release read with it.
        ("GET", ["pipelines", _]) => (JobTokenRoute::From(19, 2), true),
        ("GET", ["pipelines", ..]) => (JobTokenRoute::Never, true),
        _ => (JobTokenRoute::Never, false),
    };
    if let Err(answer) = tree_auth(
        state,
        request,
        method,
        project,
        job_token_route,
        pipeline_route,
    ) {
        return Some(answer);
    }
    Some(match (method, rest) {
        ("GET", ["jobs"]) if keyset => keyset_list(state, request, project),
        ("GET", ["jobs"]) => {
            let jobs: Vec<&Job> = state
                .jobs
                .iter()
                .filter(|j| j.kind == Kind::Build && state.project_of(j.pipeline_id) == project)
                .collect();
            tree_list(state, request, jobs, false)
        }
        (
            "GET",
            [
                "pipelines",
                pipeline,
                list @ ("jobs" | "bridges" | "trigger_jobs"),
            ],
        ) => pipeline_list(state, request, project, pipeline, list),
        ("GET", ["pipelines", pipeline]) => match pipeline.parse::<u64>() {
            Ok(p) if state.pipeline_exists(project, p) => {
                Answer::json(200, render_pipeline(state, p))
            }
            Ok(_) => Answer::message(404, "404 Not found"),
            Err(_) => Answer::json(400, json!({"error": "pipeline_id is invalid"})),
        },
        (_, ["jobs", id, action @ ..]) => {
            let Ok(id) = id.parse::<u64>() else {
                return Some(Answer::json(400, json!({"error": "job_id is invalid"})));
            };
            match state.job(id) {
                Some(job) if state.project_of(job.pipeline_id) == project => {}
                _ => return Some(Answer::message(404, "404 Not found")),
            }
            match action {
                ["play"] if method == "POST" => tree_play(state, request, id),
                ["retry"] if method == "POST" => tree_retry(state, request, id),
                _ => job_route(state, request, method, id, action),
            }
        }
        _ => catch_all(),
    })
}

/// Authentication as the routes above do it, plus the target project's job token policy for a
/// job token of project 42 reaching another project (§3.4).
fn tree_auth(
    state: &State,
    request: &Recorded,
    method: &str,
    project: u64,
    route: JobTokenRoute,
    pipeline_route: bool,
) -> Result<(), Answer> {
    match authenticate(state, request, route)? {
        Auth::Anonymous if pipeline_route => Err(Answer::message(404, "404 Project Not Found")),
        Auth::Anonymous => Err(Answer::message(401, "401 Unauthorized")),
        Auth::Access(Scope::ReadApi) if method != "GET" => Err(Answer::json(
            403,
            json!({"error": "insufficient_scope",
                   "error_description": "The request requires higher privileges than provided by the access token.",
                   "scope": "api"}),
        )),
        Auth::Job(_) if project != PROJECT_ID => {
            let target = state.tree.projects.iter().find(|p| p.id == project);
            match target {
                Some(p) if p.limit_access && !p.allowlist.contains(&PROJECT_ID) => {
                    Err(Answer::message(
                        403,
                        &format!(
                            "403 Forbidden - Authentication by CI/CD job token not allowed from {PROJECT_PATH} to {}.",
                            p.path
                        ),
                    ))
                }
                _ => Ok(()),
            }
        }
        _ => Ok(()),
    }
}

/// A pipeline's jobs, bridges or trigger jobs, with ticks per pipeline.
fn pipeline_list(
    state: &mut State,
    request: &Recorded,
    project: u64,
    pipeline: &str,
    list: &str,
) -> Answer {
    let Ok(pipeline) = pipeline.parse::<u64>() else {
        return Answer::json(400, json!({"error": "pipeline_id is invalid"}));
    };
    if !state.pipeline_exists(project, pipeline) {
        return Answer::message(404, "404 Not found");
    }
    let kind = if list == "jobs" {
        Kind::Build
    } else {
        Kind::Bridge
    };
    let first_page = request
        .query_values("page")
        .first()
        .is_none_or(|p| *p == "1");
    if state.tick_on_reads && first_page && state.tree.per_pipeline {
        let ids: Vec<u64> = state
            .jobs
            .iter()
            .filter(|j| j.pipeline_id == pipeline && j.kind == kind)
            .map(|j| j.id)
            .collect();
        state.tick_ids(ids);
    }
    // `include_retried` is declared on the jobs list only (§9).
    let retried =
        kind == Kind::Build && request.query_values("include_retried").first() == Some(&"true");
    let jobs: Vec<&Job> = state
        .jobs
        .iter()
        .filter(|j| j.kind == kind && j.pipeline_id == pipeline && (retried || !j.retried))
        .collect();
    tree_list(state, request, jobs, true)
}

/// A job as the routes render it, with the tree's additions: the downstream pipeline as GitLab's
/// `PipelineBasic` (with `project_id`) when it is a registered pipeline, the job's pipeline status
/// derived, and its project's path in `web_url`.
pub fn tree_render(state: &State, job: &Job) -> Value {
    let mut value = render(job);
    if let Some(p) = job.downstream_pipeline
        && state.tree.pipelines.iter().any(|r| r.id == p)
    {
        value["downstream_pipeline"] = render_pipeline(state, p);
    }
    if state.tree.per_pipeline {
        value["pipeline"]["status"] = Value::from(state.pipeline_status(job.pipeline_id));
    }
    let project = state.project_of(job.pipeline_id);
    if project != PROJECT_ID && job.web_url.is_none() {
        value["web_url"] = Value::from(format!(
            "https://gitlab.example.com/{}/-/jobs/{}",
            state.project_path(project),
            job.id
        ));
    }
    value
}

/// `API::Entities::Ci::PipelineBasic`.
pub fn render_pipeline(state: &State, pipeline: u64) -> Value {
    let project = state.project_of(pipeline);
    let source = state
        .tree
        .pipelines
        .iter()
        .find(|p| p.id == pipeline)
        .map_or("push", |p| p.source);
    json!({
        "id": pipeline,
        "iid": pipeline % 1000 + 1,
        "project_id": project,
        "sha": "0ff3ae198f8601a285adcf5c0fff204ee6fba5fd",
        "ref": "main",
        "status": state.pipeline_status(pipeline),
        "source": source,
        "created_at": timestamp(1),
        "updated_at": timestamp(2),
        "web_url": format!("https://gitlab.example.com/{}/-/pipelines/{pipeline}", state.project_path(project)),
    })
}

/// Offset pagination of `jobs` (already filtered), newest first, as the list above does it.
fn tree_list(state: &State, request: &Recorded, mut jobs: Vec<&Job>, with_totals: bool) -> Answer {
    let mut scopes = request.query_values("scope[]");
    scopes.extend(request.query_values("scope"));
    if scopes.iter().any(|s| !STATUSES.contains(s)) {
        return Answer::json(400, json!({"error": "scope does not have a valid value"}));
    }
    let per_page = match per_page(request) {
        Ok(n) => n,
        Err(answer) => return answer,
    };
    let page: usize = request
        .query_values("page")
        .first()
        .and_then(|p| p.parse().ok())
        .filter(|p| *p >= 1)
        .unwrap_or(1);
    jobs.retain(|j| scopes.is_empty() || scopes.contains(&j.status.as_str()));
    jobs.sort_by_key(|j| std::cmp::Reverse(j.id));
    let total = jobs.len();
    let pages = total.div_ceil(per_page).max(1);
    let items: Vec<Value> = jobs
        .iter()
        .skip((page - 1) * per_page)
        .take(per_page)
        .map(|j| tree_render(state, j))
        .collect();
    let has_next = page * per_page < total;
    let external = format!("{}{}", state.external_root, api_route(request));
    let link =
        |p: usize, rel: &str| format!("<{external}?page={p}&per_page={per_page}>; rel=\"{rel}\"");
    let mut links = Vec::new();
    if page > 1 {
        links.push(link(page - 1, "prev"));
    }
    if has_next {
        links.push(link(page + 1, "next"));
    }
    links.push(link(1, "first"));
    if with_totals {
        links.push(link(pages, "last"));
    }
    let next = if has_next {
        (page + 1).to_string()
    } else {
        String::new()
    };
    let prev = if page > 1 {
        (page - 1).to_string()
    } else {
        String::new()
    };
    let mut answer = Answer::json(200, Value::Array(items));
    answer.headers = vec![
        ("X-Page".into(), page.to_string()),
        ("X-Per-Page".into(), per_page.to_string()),
        ("X-Next-Page".into(), next),
        ("X-Prev-Page".into(), prev),
        ("Link".into(), links.join(", ")),
    ];
    if with_totals {
        answer.headers.push(("X-Total".into(), total.to_string()));
        answer
            .headers
            .push(("X-Total-Pages".into(), pages.to_string()));
    }
    answer
}

fn per_page(request: &Recorded) -> Result<usize, Answer> {
    match request.query_values("per_page").first() {
        None => Ok(20),
        Some(text) => match text.parse::<usize>() {
            Ok(0) | Err(_) => Err(Answer::json(
                400,
                json!({"error": "per_page does not have a valid value"}),
            )),
            Ok(n) => Ok(n.min(100)),
        },
    }
}

/// The request's path below `/api/v4` (`/projects/42/jobs`).
fn api_route(request: &Recorded) -> &str {
    request
        .path
        .find("/api/v4/")
        .map_or("", |i| &request.path[i + 7..])
}

/// Keyset pages of `GET /projects/:id/jobs` (§4): `order_by` id and `sort` desc only (their
/// defaults), else 405; the next page's cursor only inside `Link` (on the external host), no
/// `X-*` headers, no `Link` on the last page.
fn keyset_list(state: &State, request: &Recorded, project: u64) -> Answer {
    let order_by = request.query_values("order_by").first().copied();
    let sort = request.query_values("sort").first().copied();
    if order_by.is_some_and(|o| o != "id") || sort.is_some_and(|s| s != "desc") {
        // Grape's error! with a string: `error`, not `message` (GitLab's own specs check
        // json_response['error']).
        return Answer::json(
            405,
            json!({"error": "Keyset pagination is not yet available for this type of request"}),
        );
    }
    let mut scopes = request.query_values("scope[]");
    scopes.extend(request.query_values("scope"));
    if scopes.iter().any(|s| !STATUSES.contains(s)) {
        return Answer::json(400, json!({"error": "scope does not have a valid value"}));
    }
    let per_page = match per_page(request) {
        Ok(n) => n,
        Err(answer) => return answer,
    };
    let after = match request.query_values("cursor").first() {
        None => None,
        Some(cursor) => match decode_cursor(cursor) {
            Some(id) => Some(id),
            None => {
                return Answer::message(400, "400 Bad request - Invalid cursor value provided");
            }
        },
    };
    let mut jobs: Vec<&Job> = state
        .jobs
        .iter()
        .filter(|j| j.kind == Kind::Build && state.project_of(j.pipeline_id) == project)
        .filter(|j| scopes.is_empty() || scopes.contains(&j.status.as_str()))
        .filter(|j| after.is_none_or(|a| j.id < a))
        .collect();
    jobs.sort_by_key(|j| std::cmp::Reverse(j.id));
    let more = jobs.len() > per_page;
    jobs.truncate(per_page);
    let items: Vec<Value> = jobs.iter().map(|j| tree_render(state, j)).collect();
    let mut answer = Answer::json(200, Value::Array(items));
    if more && let Some(last) = jobs.last() {
        // Rails' to_query: every request parameter, the cursor replaced, keys sorted, escaped.
        let mut params: Vec<(String, String)> = request
            .query
            .iter()
            .filter(|(k, _)| k != "cursor")
            .cloned()
            .collect();
        params.push(("cursor".into(), encode_cursor(last.id)));
        params.sort_by(|a, b| a.0.cmp(&b.0));
        let query = params
            .iter()
            .map(|(k, v)| format!("{}={}", form_escape(k), form_escape(v)))
            .collect::<Vec<_>>()
            .join("&");
        answer.headers.push((
            "Link".into(),
            format!(
                "<{}{}?{query}>; rel=\"next\"",
                state.external_root,
                api_route(request)
            ),
        ));
    }
    answer
}

/// The cursor of the page after job `id`: URL-safe Base64 (with padding) of
/// `{"id":"<id>","_kd":"n"}`, as GitLab's keyset cursors look.
pub fn encode_cursor(id: u64) -> String {
    let json = format!(r#"{{"id":"{id}","_kd":"n"}}"#);
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let bytes = json.as_bytes();
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

fn decode_cursor(cursor: &str) -> Option<u64> {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut bits = 0u32;
    let mut count = 0;
    let mut out = Vec::new();
    for c in cursor.trim_end_matches('=').bytes() {
        let v = ALPHABET.iter().position(|a| *a == c)? as u32;
        bits = (bits << 6) | v;
        count += 6;
        if count >= 8 {
            count -= 8;
            out.push((bits >> count) as u8);
            bits &= (1 << count) - 1;
        }
    }
    let value: Value = serde_json::from_slice(&out).ok()?;
    value["id"].as_str()?.parse().ok()
}

/// `CGI.escape`, as Rails' `to_query` escapes keys and values.
fn form_escape(text: &str) -> String {
    let mut out = String::new();
    for b in text.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'*' => {
                out.push(b as char);
            }
            b' ' => out.push('+'),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// The JSON body of a write, or GitLab's refusal of one that is not JSON.
fn write_body(request: &Recorded) -> Result<Value, Answer> {
    if request.body.is_empty() {
        return Ok(json!({}));
    }
    serde_json::from_slice::<Value>(&request.body)
        .map_err(|_| Answer::json(400, json!({"error": "400 Bad request - invalid JSON"})))
}

/// Play (§2.4, §10.2, §10.3): archived → 403 (18.10+; before, `playable?` is false: 400);
/// then the route above (Unplayable Job, variables) ; then `job_inputs` validated (18.10+;
/// dropped silently before).
fn tree_play(state: &mut State, request: &Recorded, id: u64) -> Answer {
    let job = state.job(id).expect("checked").clone();
    let inputs_supported = state.version >= (18, 10);
    if job.ext.archived {
        return if inputs_supported {
            Answer::message(403, "403 Forbidden")
        } else {
            Answer::message(400, "400 Bad request - Unplayable Job")
        };
    }
    let body = match write_body(request) {
        Ok(body) => body,
        Err(answer) => return answer,
    };
    let inputs = body.get("job_inputs").cloned();
    let playable = job.manual
        && matches!(
            job.status.as_str(),
            "manual" | "scheduled" | "success" | "failed" | "canceled"
        );
    let variables_refused = !state.pipeline_variables_allowed
        && body
            .get("job_variables_attributes")
            .and_then(Value::as_array)
            .is_some_and(|a| !a.is_empty());
    if inputs_supported && playable && !variables_refused {
        match &inputs {
            Some(Value::Object(given)) => {
                if let Err(message) = validate_inputs(&job.ext.inputs, given) {
                    return Answer::message(400, &format!("400 Bad request - {message}"));
                }
            }
            Some(_) => return Answer::json(400, json!({"error": "job_inputs is invalid"})),
            None => {}
        }
    }
    let answer = play(state, request, id);
    if answer.status == 200
        && inputs_supported
        && !job.is_final()
        && let Some(job) = state.job_mut(id)
    {
        job.ext.played_inputs = inputs;
    }
    answer
}

/// Retry (§2.4, §10.2, §10.3): archived → 403 (`403 Forbidden` from 18.10, `Job is not
/// retryable` before); `inputs` (not `job_inputs`) validated from 18.10, dropped before.
fn tree_retry(state: &mut State, request: &Recorded, id: u64) -> Answer {
    let job = state.job(id).expect("checked").clone();
    let inputs_supported = state.version >= (18, 10);
    if job.ext.archived {
        return if inputs_supported {
            Answer::message(403, "403 Forbidden")
        } else {
            Answer::message(403, "403 Forbidden - Job is not retryable")
        };
    }
    let body = match write_body(request) {
        Ok(body) => body,
        Err(answer) => return answer,
    };
    let inputs = body.get("inputs").cloned();
    let retryable = job.kind == Kind::Bridge
        || matches!(job.status.as_str(), "success" | "failed" | "canceled");
    if inputs_supported && retryable {
        match &inputs {
            Some(Value::Object(given)) => {
                if let Err(message) = validate_inputs(&job.ext.inputs, given) {
                    return Answer::message(400, &format!("400 Bad request - {message}"));
                }
            }
            Some(_) => return Answer::json(400, json!({"error": "inputs is invalid"})),
            None => {}
        }
    }
    let answer = job_route(state, request, "POST", id, &["retry"]);
    if answer.status == 201 && inputs_supported {
        let new_id = serde_json::from_slice::<Value>(&answer.body)
            .ok()
            .and_then(|v| v["id"].as_u64());
        if let Some(new) = new_id.and_then(|n| state.job_mut(n)) {
            new.ext.retried_inputs = inputs;
        }
    }
    answer
}

/// `Ci::Inputs::ProcessorService#validate_inputs` (§10.2): nothing to check when nothing is
/// given or nothing is declared; unknown names first; then each value, JSON-decoded when it is a
/// string (a string input takes any value), against its type and options.
fn validate_inputs(
    declared: &[Input],
    given: &serde_json::Map<String, Value>,
) -> Result<(), String> {
    if given.is_empty() || declared.is_empty() {
        return Ok(());
    }
    let unknown: Vec<&str> = given
        .keys()
        .filter(|k| !declared.iter().any(|d| &d.name == *k))
        .map(String::as_str)
        .collect();
    match unknown.len() {
        0 => {}
        1 => return Err(format!("Unknown input: {}", unknown[0])),
        _ => return Err(format!("Unknown inputs: {}", unknown.join(", "))),
    }
    let mut errors = Vec::new();
    for input in declared {
        let Some(value) = given.get(&input.name) else {
            continue;
        };
        let coerced = match (input.kind, value) {
            ("string", Value::String(s)) => Value::String(s.clone()),
            ("string", other) => Value::String(other.to_string()),
            (_, Value::String(s)) => serde_json::from_str(s).unwrap_or_else(|_| value.clone()),
            (_, other) => other.clone(),
        };
        let type_error = match input.kind {
            "number" if !coerced.is_number() => Some("provided value is not a number"),
            "boolean" if !coerced.is_boolean() => Some("provided value is not a boolean"),
            "array" if !coerced.is_array() => Some("provided value is not an array"),
            _ => None,
        };
        if let Some(text) = type_error {
            errors.push(format!("`{}` input: {text}", input.name));
            continue;
        }
        if !input.options.is_empty() && !input.options.contains(&coerced) {
            let shown = match &coerced {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            errors.push(format!(
                "`{}` input: `{shown}` cannot be used because it is not in the list of allowed options",
                input.name
            ));
        }
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(errors.join(", "))
    }
}
