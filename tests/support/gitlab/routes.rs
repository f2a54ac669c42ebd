//! The routes: which token each takes, and what GitLab's code answers on them.

use super::*;

pub fn handle(state: &Arc<Mutex<State>>, mut request: tiny_http::Request) {
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
    if guard.tick_every_request {
        guard.tick(None);
    }

    if let Some(target) = guard.redirect_to.clone() {
        drop(guard);
        let response =
            Response::empty(302).with_header(header("Location", &format!("{target}{url}")));
        let _ = request.respond(response);
        return;
    }

    let fault = match guard
        .faults
        .iter()
        .position(|r| r.matches(&recorded) && guard.rule_ready(r))
    {
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
            let index = guard.requests.len() - 1;
            guard
                .answered
                .push((index, answer.status, answer.body.len()));
            drop(guard);
            respond(request, answer);
        }
    }
}

pub fn real_answer(state: &mut State, recorded: &Recorded) -> Answer {
    match (recorded.method.as_str(), recorded.path.as_str()) {
        ("POST", "/__reset") => control_reset(state),
        ("GET", "/__stats") => control_stats(state),
        _ => route(state, recorded),
    }
}

pub fn respond(request: tiny_http::Request, answer: Answer) {
    let mut response = Response::from_data(answer.body)
        .with_status_code(answer.status)
        .with_header(header("Content-Type", answer.content_type));
    for (name, value) in &answer.headers {
        response.add_header(header(name, value));
    }
    let _ = request.respond(response);
}

/// Test-server control, outside `/api/v4`: restore the jobs saved by [`GitLab::save_initial`] and
/// forget the requests.
pub fn control_reset(state: &mut State) -> Answer {
    state.jobs = state.initial_jobs.clone();
    state.next_id = 10_000;
    state.requests.clear();
    state.answered.clear();
    Answer::json(200, json!({"jobs": state.jobs.len()}))
}

/// Test-server control: what it received since the last reset (the stats request not counted).
pub fn control_stats(state: &State) -> Answer {
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
    // Each API request as it was asked, with what was answered (faults have no answer here).
    let log: Vec<Value> = state
        .requests
        .iter()
        .enumerate()
        .filter(|(_, r)| r.path.contains("/api/v4/"))
        .map(|(i, r)| {
            let query: Vec<String> = r.query.iter().map(|(k, v)| format!("{k}={v}")).collect();
            let answer = state.answered.iter().find(|(index, _, _)| *index == i);
            json!({
                "method": r.method,
                "path": r.path,
                "query": query.join("&"),
                "status": answer.map(|a| a.1),
                "bytes": answer.map(|a| a.2),
            })
        })
        .collect();
    Answer::json(
        200,
        json!({"requests": api.len(), "pipeline_list_pages": list_pages, "pipeline_list_reads": list_reads, "log": log}),
    )
}

pub enum Auth {
    Anonymous,
    Job(u64),
    Access(Scope),
}

/// Which routes take a job token, by GitLab version (`docs/gitlab-behaviour.md` §3.2).
#[derive(Clone, Copy, PartialEq)]
pub enum JobTokenRoute {
    Always,
    From(u32, u32),
    Never,
}

pub fn authenticate(
    state: &State,
    request: &Recorded,
    route: JobTokenRoute,
) -> Result<Auth, Answer> {
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

pub fn route(state: &mut State, request: &Recorded) -> Answer {
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
    if let Some(answer) = artifacts_route(state, request, method, &segments) {
        return answer;
    }
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

pub fn own_job(state: &State, request: &Recorded, agents: bool) -> Answer {
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

pub fn project_route(state: &mut State, request: &Recorded, method: &str, rest: &[&str]) -> Answer {
    if let Some(answer) = tree_project_route(state, request, method, PROJECT_ID, rest) {
        return answer;
    }
    let (job_token_route, is_pipeline_route) = match (method, rest) {
        ("GET", ["jobs"]) => (JobTokenRoute::From(18, 0), false),
        ("GET", ["pipelines", _, "jobs"]) => (JobTokenRoute::From(18, 0), true),
        ("GET", ["pipelines", _, "bridges"]) => (JobTokenRoute::From(19, 0), true),
        // The generic package registry takes the job token (doc/user/packages/generic_packages).
        ("PUT", ["packages", "generic", ..]) => (JobTokenRoute::Always, false),
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
        ("PUT", ["packages", "generic", package, version, file]) => {
            upload(state, request, &format!("{package}/{version}/{file}"))
        }
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
pub const STATUSES: [&str; 13] = [
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

/// GitLab's `COMPLETED_STATUSES`: a job in one of them is finished.
pub const FINAL: [&str; 4] = ["success", "failed", "canceled", "skipped"];

pub fn list(
    state: &State,
    request: &Recorded,
    pipeline: Option<u64>,
    kind: Kind,
    include_retried: bool,
) -> Answer {
    let jobs: Vec<&Job> = state
        .jobs
        .iter()
        .filter(|j| j.kind == kind)
        .filter(|j| pipeline.is_none_or(|p| j.pipeline_id == p))
        .filter(|j| include_retried || pipeline.is_none() || !j.retried)
        .collect();
    offset_list(state, request, jobs, pipeline.is_some(), render)
}

pub fn job_route(
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

pub fn play(state: &mut State, request: &Recorded, id: u64) -> Answer {
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

/// `PUT /projects/:id/packages/generic/:package/:version/:file`: the file is kept (and written
/// under [`State::packages_dir`] when there is one), as GitLab's generic package registry would.
fn upload(state: &mut State, request: &Recorded, path: &str) -> Answer {
    if let Some(dir) = &state.packages_dir {
        let file = std::path::Path::new(dir).join(path);
        if let Some(parent) = file.parent() {
            let _ = std::fs::create_dir_all(parent);
        }
        if std::fs::write(&file, &request.body).is_err() {
            return Answer::message(500, "500 Internal Server Error");
        }
    }
    state
        .packages
        .push((path.to_string(), request.body.clone()));
    Answer::json(201, json!({ "message": "201 Created" }))
}
