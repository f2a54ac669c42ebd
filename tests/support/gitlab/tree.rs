//! Pipelines of pipelines: child and multi-project pipelines behind trigger jobs, projects and their
//! job token allowlists, job inputs, archived jobs, `GET /version` and keyset pages.

use super::*;

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
    pub fn create_downstream(&mut self, bridge: u64, pipeline: u64) {
        if let Some(job) = self.job_mut(bridge) {
            job.downstream_pipeline = Some(pipeline);
        }
        if let Some(p) = self.tree.pipelines.iter_mut().find(|p| p.id == pipeline) {
            p.created = true;
        }
    }

    /// Advances the latest attempts among `ids` by one tick each.
    pub fn tick_ids(&mut self, ids: Vec<u64>) {
        for id in ids {
            let Some(job) = self.job_mut(id).filter(|j| !j.retried) else {
                continue;
            };
            if let Some(ticks) = job.running_ticks.as_mut()
                && job.status == "running"
            {
                *ticks += 1;
            }
            let Some(steps) = job.timeline.pop_front() else {
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

    pub fn project_path(&self, project: u64) -> String {
        self.tree
            .projects
            .iter()
            .find(|p| p.id == project)
            .map_or(PROJECT_PATH.to_string(), |p| p.path.clone())
    }

    /// Whether `pipeline` exists in `project` now: a registered pipeline once created; otherwise
    /// [`PIPELINE_ID`] or any pipeline that holds a job, in project 42.
    pub fn pipeline_exists(&self, project: u64, pipeline: u64) -> bool {
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
        self.reads_asking(pipeline, list, |_| true)
    }

    /// Reads of the whole list (no `scope`), counted by their first page.
    pub fn full_reads(&self, pipeline: u64, list: &str) -> usize {
        self.reads_asking(pipeline, list, |asked| asked.is_empty())
    }

    /// Reads of the list's finished jobs only (`scope[]=` each final status, and no other),
    /// counted by their first page.
    pub fn finished_reads(&self, pipeline: u64, list: &str) -> usize {
        self.reads_asking(pipeline, list, |asked| same_statuses(asked, FINAL.iter()))
    }

    /// Reads of the list's unfinished jobs only (`scope[]=` each status that is not final, and
    /// no other), counted by their first page.
    pub fn unfinished_reads(&self, pipeline: u64, list: &str) -> usize {
        let unfinished = STATUSES.iter().filter(|s| !FINAL.contains(s));
        self.reads_asking(pipeline, list, |asked| {
            same_statuses(asked, unfinished.clone())
        })
    }

    /// Reads of `pipeline`'s `list` whose `scope[]` values pass `asked`, counted by their first
    /// page.
    fn reads_asking(&self, pipeline: u64, list: &str, asked: impl Fn(&[&str]) -> bool) -> usize {
        let suffix = format!("/pipelines/{pipeline}/{list}");
        self.requests_to("GET", &suffix)
            .iter()
            .filter(|r| r.query_values("page").first().is_none_or(|p| *p == "1"))
            .filter(|r| asked(&r.query_values("scope[]")))
            .count()
    }
}

/// Whether the `scope[]` values asked are `statuses`, whatever their order.
fn same_statuses<'s>(asked: &[&str], statuses: impl Iterator<Item = &'s &'s str>) -> bool {
    let mut asked = asked.to_vec();
    asked.sort_unstable();
    let mut statuses: Vec<&str> = statuses.copied().collect();
    statuses.sort_unstable();
    asked == statuses
}

/// The answer of GitLab's catch-all route (a route this GitLab does not have).
pub fn catch_all() -> Answer {
    Answer::json(404, json!({ "error": "404 Not Found" }))
}

/// Issue 9's routes outside a project (`/version`) and every route of the other projects.
pub fn tree_route(
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
pub fn version(state: &State, request: &Recorded) -> Answer {
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
pub fn tree_project_route(
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
            offset_list(state, request, jobs, false, |j| tree_render(state, j))
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
pub fn tree_auth(
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
pub fn pipeline_list(
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
    offset_list(state, request, jobs, true, |j| tree_render(state, j))
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

/// Offset pagination of `jobs` (already filtered but for `scope`), newest first, each shown by
/// `show`: GitLab's `paginate` with its headers, totals only where GitLab counts them.
pub fn offset_list(
    state: &State,
    request: &Recorded,
    mut jobs: Vec<&Job>,
    with_totals: bool,
    show: impl Fn(&Job) -> Value,
) -> Answer {
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
        .map(|j| show(j))
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

pub fn per_page(request: &Recorded) -> Result<usize, Answer> {
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
pub fn api_route(request: &Recorded) -> &str {
    request
        .path
        .find("/api/v4/")
        .map_or("", |i| &request.path[i + 7..])
}

/// Keyset pages of `GET /projects/:id/jobs` (§4): `order_by` id and `sort` desc only (their
/// defaults), else 405; the next page's cursor only inside `Link` (on the external host), no
/// `X-*` headers, no `Link` on the last page.
pub fn keyset_list(state: &State, request: &Recorded, project: u64) -> Answer {
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

pub fn decode_cursor(cursor: &str) -> Option<u64> {
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
pub fn form_escape(text: &str) -> String {
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
pub fn write_body(request: &Recorded) -> Result<Value, Answer> {
    if request.body.is_empty() {
        return Ok(json!({}));
    }
    serde_json::from_slice::<Value>(&request.body)
        .map_err(|_| Answer::json(400, json!({"error": "400 Bad request - invalid JSON"})))
}

/// Play (§2.4, §10.2, §10.3): archived → 403 (18.10+; before, `playable?` is false: 400);
/// then the route above (Unplayable Job, variables) ; then `job_inputs` validated (18.10+;
/// dropped silently before).
pub fn tree_play(state: &mut State, request: &Recorded, id: u64) -> Answer {
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
    if inputs_supported
        && playable
        && !variables_refused
        && let Some(refusal) = refuse_inputs(&job.ext.inputs, inputs.as_ref(), "job_inputs")
    {
        return refusal;
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

/// GitLab's answer to inputs given as `field` that the job's declared inputs refuse, if any.
fn refuse_inputs(declared: &[Input], given: Option<&Value>, field: &str) -> Option<Answer> {
    match given {
        Some(Value::Object(given)) => validate_inputs(declared, given)
            .err()
            .map(|message| Answer::message(400, &format!("400 Bad request - {message}"))),
        Some(_) => Some(Answer::json(
            400,
            json!({"error": format!("{field} is invalid")}),
        )),
        None => None,
    }
}

/// Retry (§2.4, §10.2, §10.3): archived → 403 (`403 Forbidden` from 18.10, `Job is not
/// retryable` before); `inputs` (not `job_inputs`) validated from 18.10, dropped before.
pub fn tree_retry(state: &mut State, request: &Recorded, id: u64) -> Answer {
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
    if inputs_supported
        && retryable
        && let Some(refusal) = refuse_inputs(&job.ext.inputs, inputs.as_ref(), "inputs")
    {
        return refusal;
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
pub fn validate_inputs(
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
