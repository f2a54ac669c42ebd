//! A GitLab test server: the Jobs API routes gljob uses, behaving as GitLab's code does
//! (`gitlab-behaviour.md`), not as gljob would like. It runs on 127.0.0.1, on a free port, in a
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
        let listener = std::net::TcpListener::bind(address).expect("bind the test server");
        without_nagle(&listener);
        let server =
            Arc::new(Server::from_listener(listener, None).expect("serve on the listener"));
        let port = server.server_addr().to_ip().expect("an IP listener").port();
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
        GitLab {
            url: format!("http://127.0.0.1:{port}/api/v4"),
            port,
            state,
            server,
            thread: Some(thread),
        }
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

/// Which routes take a job token, by GitLab version (`gitlab-behaviour.md` §3.2).
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
        // presents the original job object, from 18.10 the new one (gitlab-behaviour.md §10).
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
            map.insert("archived".into(), Value::Bool(false));
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
