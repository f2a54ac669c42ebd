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

mod artifacts;
mod faults;
mod render;
mod routes;
mod state;
mod tree;

pub use artifacts::*;
pub use faults::*;
pub use render::*;
pub use routes::*;
pub use state::*;
pub use tree::*;

use serde_json::{Value, json};
use std::collections::{HashMap, VecDeque};
use std::io::{Cursor, Write};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;
use tiny_http::{Header, Response, Server};

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
            tick_every_request: false,
            initial_jobs: Vec::new(),
            external_root: EXTERNAL_ROOT.to_string(),
            tree: Tree {
                per_pipeline: true,
                ..Tree::default()
            },
            packages: Vec::new(),
            packages_dir: None,
            answered: Vec::new(),
            artifacts: Artifacts::default(),
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

    /// Every request advances every job by one tick, whatever it reads (and reads alone no more).
    pub fn tick_every_request(&self) {
        let mut state = self.state();
        state.tick_on_reads = false;
        state.tick_every_request = true;
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
pub fn without_nagle(listener: &std::net::TcpListener) {
    use std::os::fd::{AsRawFd, FromRawFd, IntoRawFd};
    // SAFETY: the stream borrows the listener's descriptor only to call setsockopt on it, and
    // gives it back with into_raw_fd, so it is neither closed nor used after.
    let stream = unsafe { std::net::TcpStream::from_raw_fd(listener.as_raw_fd()) };
    let _ = stream.set_nodelay(true);
    let _ = stream.into_raw_fd();
}

pub fn header(name: &str, value: &str) -> Header {
    Header::from_bytes(name.as_bytes(), value.as_bytes()).expect("a valid header")
}

pub fn percent_decode(text: &str) -> String {
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
pub struct Answer {
    status: u16,
    content_type: &'static str,
    body: Vec<u8>,
    headers: Vec<(String, String)>,
}

impl Answer {
    pub fn json(status: u16, value: Value) -> Answer {
        Answer {
            status,
            content_type: "application/json",
            body: value.to_string().into_bytes(),
            headers: Vec::new(),
        }
    }

    pub fn message(status: u16, message: &str) -> Answer {
        Answer::json(status, json!({ "message": message }))
    }
}
