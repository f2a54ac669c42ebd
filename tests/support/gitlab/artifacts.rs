//! Job artifacts as GitLab serves them (`lib/api/ci/job_artifacts.rb`, `docs/gitlab-behaviour.md`
//! §11): a job's archive, one file of it, the same by a ref's latest successful pipeline, expired
//! archives (404), and object storage behind a 302 to another host ([`Storage`], a second
//! listener that records what it receives). Archives are built by the tests ([`zip_of`]).

use super::*;
use std::io::Read;

/// The test server's artifacts.
#[derive(Debug, Clone, Default)]
pub struct Artifacts {
    /// Each job's archive (a zip), by job id. A job without one has none (never made, expired or
    /// erased: GitLab answers them alike).
    pub archives: HashMap<u64, Vec<u8>>,
    /// Successful pipelines' builds by ref, the newest first.
    pub refs: Vec<RefBuild>,
    /// Object storage with direct download: archives are answered with a 302 to this listener.
    pub storage: Option<String>,
}

/// A build of a ref's successful pipeline.
#[derive(Debug, Clone)]
pub struct RefBuild {
    pub project: u64,
    pub reference: String,
    pub name: String,
    pub job: u64,
    /// In the ref's latest successful pipeline (else an older one, found only with
    /// `search_recent_successful_pipelines` on GitLab 18.10+).
    pub latest: bool,
}

/// An entry of an archive made by [`zip_of`].
pub enum Entry<'a> {
    File(&'a str, &'a [u8]),
    /// With a Unix mode (type bits added).
    FileMode(&'a str, &'a [u8], u32),
    Dir(&'a str),
    Symlink(&'a str, &'a str),
}

/// A zip archive as GitLab's runner makes one: deflated entries with Unix modes.
pub fn zip_of(entries: &[Entry<'_>]) -> Vec<u8> {
    use zip::write::SimpleFileOptions;
    let mut writer = zip::ZipWriter::new(Cursor::new(Vec::new()));
    let options = SimpleFileOptions::default().compression_method(zip::CompressionMethod::Deflated);
    for entry in entries {
        match entry {
            Entry::File(name, bytes) => {
                writer
                    .start_file(*name, options.unix_permissions(0o644))
                    .unwrap();
                writer.write_all(bytes).unwrap();
            }
            Entry::FileMode(name, bytes, mode) => {
                writer
                    .start_file(*name, options.unix_permissions(*mode))
                    .unwrap();
                writer.write_all(bytes).unwrap();
            }
            Entry::Dir(name) => writer.add_directory(*name, options).unwrap(),
            Entry::Symlink(name, target) => writer.add_symlink(*name, *target, options).unwrap(),
        }
    }
    writer.finish().unwrap().into_inner()
}

impl GitLab {
    /// Gives job `id` an archive (and `artifacts_file` in its payload).
    pub fn set_archive(&self, id: u64, archive: Vec<u8>) {
        let mut state = self.state();
        if let Some(job) = state.job_mut(id) {
            job.artifacts = true;
        }
        state.artifacts.archives.insert(id, archive);
    }

    /// The archive expires: GitLab deletes it and answers 404.
    pub fn expire_archive(&self, id: u64) {
        let mut state = self.state();
        if let Some(job) = state.job_mut(id) {
            job.artifacts = false;
        }
        state.artifacts.archives.remove(&id);
    }

    /// Job `job`, called `name`, ran in a successful pipeline of `reference` in `project`.
    pub fn add_ref_build(&self, project: u64, reference: &str, name: &str, job: u64, latest: bool) {
        self.state().artifacts.refs.push(RefBuild {
            project,
            reference: reference.into(),
            name: name.into(),
            job,
            latest,
        });
    }

    /// Archives are served by object storage at `storage` (a [`Storage`]'s URL), through a 302.
    pub fn redirect_artifacts_to(&self, storage: &str) {
        self.state().artifacts.storage = Some(storage.into());
    }
}

/// The artifact routes, on project 42 and every other project; `None` for other routes.
pub fn artifacts_route(
    state: &mut State,
    request: &Recorded,
    method: &str,
    segments: &[&str],
) -> Option<Answer> {
    let ["projects", project, "jobs", rest @ ..] = segments else {
        return None;
    };
    if method != "GET" {
        return None;
    }
    // Which job, and which file of its archive (None: the archive).
    enum Wanted {
        Job(String, Option<String>),
        Ref(String, Option<String>),
    }
    let wanted = match rest {
        [id, "artifacts"] => Wanted::Job(id.to_string(), None),
        [id, "artifacts", path @ ..] if !path.is_empty() && *id != "artifacts" => {
            Wanted::Job(id.to_string(), Some(path.join("/")))
        }
        ["artifacts", refs @ .., "download"] if !refs.is_empty() => {
            Wanted::Ref(refs.join("/"), None)
        }
        ["artifacts", tail @ ..] => {
            let raw = tail.iter().position(|s| *s == "raw")?;
            if raw == 0 || raw + 1 >= tail.len() {
                return None;
            }
            Wanted::Ref(tail[..raw].join("/"), Some(tail[raw + 1..].join("/")))
        }
        _ => return None,
    };
    let project = percent_decode(project);
    let project_id = if project == PROJECT_ID.to_string() || project == PROJECT_PATH {
        PROJECT_ID
    } else {
        match state
            .tree
            .projects
            .iter()
            .find(|p| p.id.to_string() == project || p.path == project)
        {
            Some(p) => p.id,
            None => return Some(Answer::message(404, "404 Project Not Found")),
        }
    };
    // job_token_allowed on all four routes; `authenticate_non_get!` only, so an anonymous GET goes
    // on to the private project, which it cannot see.
    if let Err(answer) = tree_auth(
        state,
        request,
        method,
        project_id,
        JobTokenRoute::Always,
        true,
    ) {
        return Some(answer);
    }
    let (job, path) = match wanted {
        Wanted::Job(id, path) => {
            let Ok(id) = id.parse::<u64>() else {
                return Some(Answer::json(400, json!({"error": "job_id is invalid"})));
            };
            match state.job(id) {
                Some(job) if state.project_of(job.pipeline_id) == project_id => (id, path),
                // find_build!: ActiveRecord::RecordNotFound.
                _ => return Some(Answer::message(404, "404 Not found")),
            }
        }
        Wanted::Ref(reference, path) => {
            let Some(name) = request.query_values("job").first().map(|n| n.to_string()) else {
                return Some(Answer::json(400, json!({"error": "job is missing"})));
            };
            let reference = percent_decode(&reference);
            let recent = request
                .query_values("search_recent_successful_pipelines")
                .first()
                == Some(&"true")
                && state.version >= (18, 10);
            let found = state.artifacts.refs.iter().find(|b| {
                b.project == project_id
                    && b.reference == reference
                    && b.name == name
                    && (b.latest || recent)
                    && (!recent || state.artifacts.archives.contains_key(&b.job))
            });
            match found {
                Some(build) => (build.job, path),
                // latest_successful_build_for_ref! raises RecordNotFound; the recent search
                // answers not_found!('Job').
                None if recent => return Some(Answer::message(404, "404 Job Not Found")),
                None => return Some(Answer::message(404, "404 Not found")),
            }
        }
    };
    let Some(archive) = state.artifacts.archives.get(&job).cloned() else {
        // present_artifacts_file! / available_artifacts?: not_found!.
        return Some(Answer::message(404, "404 Not Found"));
    };
    let Some(path) = path else {
        if let Some(storage) = &state.artifacts.storage {
            return Some(Answer {
                status: 302,
                content_type: "text/html",
                body: b"<html><body>You are being redirected.</body></html>".to_vec(),
                headers: vec![(
                    "Location".into(),
                    format!(
                        "{storage}/gitlab-artifacts/{job}/artifacts.zip?X-Amz-Expires=600&X-Amz-Signature={}",
                        Storage::signature(job)
                    ),
                )],
            });
        }
        return Some(Answer {
            status: 200,
            content_type: "application/zip",
            body: archive,
            headers: vec![(
                "Content-Disposition".into(),
                "attachment; filename=\"artifacts.zip\"; filename*=UTF-8''artifacts.zip".into(),
            )],
        });
    };
    // Workhorse extracts the entry (gitlab-zip-cat); a missing one is Go's http.NotFound.
    let path = percent_decode(&path);
    let mut zip = zip::ZipArchive::new(Cursor::new(archive)).expect("a test archive");
    let entry = zip.by_name(&path);
    Some(match entry {
        Ok(mut file) => {
            let mut body = Vec::new();
            file.read_to_end(&mut body).expect("a test archive's entry");
            Answer {
                status: 200,
                content_type: "application/octet-stream",
                body,
                headers: vec![(
                    "Content-Disposition".into(),
                    format!(
                        "attachment; filename=\"{}\"",
                        path.rsplit('/').next().unwrap_or_default()
                    ),
                )],
            }
        }
        Err(_) => Answer {
            status: 404,
            content_type: "text/plain; charset=utf-8",
            body: b"404 page not found\n".to_vec(),
            headers: Vec::new(),
        },
    })
}

/// Object storage on another listener: serves archives at signed URLs and records every request
/// it receives (a token sent there would have left GitLab).
pub struct Storage {
    pub url: String,
    requests: Arc<Mutex<Vec<Recorded>>>,
    objects: Arc<Mutex<HashMap<u64, Vec<u8>>>>,
    server: Arc<Server>,
    thread: Option<JoinHandle<()>>,
}

impl Drop for Storage {
    fn drop(&mut self) {
        self.server.unblock();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl Storage {
    pub fn start() -> Storage {
        let server = Arc::new(Server::http("127.0.0.1:0").expect("a storage listener"));
        let port = server.server_addr().to_ip().expect("an IP listener").port();
        let requests = Arc::new(Mutex::new(Vec::new()));
        let objects: Arc<Mutex<HashMap<u64, Vec<u8>>>> = Arc::new(Mutex::new(HashMap::new()));
        let thread = {
            let (server, requests, objects) = (
                Arc::clone(&server),
                Arc::clone(&requests),
                Arc::clone(&objects),
            );
            std::thread::spawn(move || {
                while let Ok(mut request) = server.recv() {
                    let url = request.url().to_string();
                    let (path, query) = url.split_once('?').unwrap_or((url.as_str(), ""));
                    let recorded = Recorded {
                        method: request.method().as_str().to_uppercase(),
                        path: path.to_string(),
                        query: query
                            .split('&')
                            .filter(|p| !p.is_empty())
                            .map(|p| {
                                let (k, v) = p.split_once('=').unwrap_or((p, ""));
                                (percent_decode(k), percent_decode(v))
                            })
                            .collect(),
                        headers: request
                            .headers()
                            .iter()
                            .map(|h| (h.field.as_str().to_string(), h.value.as_str().to_string()))
                            .collect(),
                        body: {
                            let mut body = Vec::new();
                            let _ = request.as_reader().read_to_end(&mut body);
                            body
                        },
                    };
                    requests.lock().unwrap().push(recorded.clone());
                    let job = path
                        .strip_prefix("/gitlab-artifacts/")
                        .and_then(|p| p.strip_suffix("/artifacts.zip"))
                        .and_then(|id| id.parse::<u64>().ok());
                    let object = job.and_then(|id| {
                        let signed = recorded.query_values("X-Amz-Signature").first()
                            == Some(&Storage::signature(id).as_str());
                        signed
                            .then(|| objects.lock().unwrap().get(&id).cloned())
                            .flatten()
                    });
                    let answer = match object {
                        Some(bytes) => Answer {
                            status: 200,
                            content_type: "application/zip",
                            body: bytes,
                            headers: Vec::new(),
                        },
                        None => Answer {
                            status: 403,
                            content_type: "application/xml",
                            body: b"<?xml version=\"1.0\"?><Error><Code>AccessDenied</Code><Message>Request has expired</Message></Error>".to_vec(),
                            headers: Vec::new(),
                        },
                    };
                    respond(request, answer);
                }
            })
        };
        Storage {
            url: format!("http://127.0.0.1:{port}"),
            requests,
            objects,
            server,
            thread: Some(thread),
        }
    }

    /// Stores job `id`'s archive where GitLab's redirect points.
    pub fn put(&self, id: u64, archive: Vec<u8>) {
        self.objects.lock().unwrap().insert(id, archive);
    }

    pub fn requests(&self) -> Vec<Recorded> {
        self.requests.lock().unwrap().clone()
    }

    /// The signature of job `id`'s signed URL: a credential of its own, which gljob must not print.
    pub fn signature(id: u64) -> String {
        format!("f00dSIGNATUREsecret{id}")
    }
}

/// The demo's artifacts (`fake_gitlab`'s demo scenario, the artifacts recipe): `build` of branch
/// `main`, a finished job of an earlier pipeline, with `dist/app.txt` and an executable
/// `dist/run.sh`; and the same archive for the demo pipeline's own `build` (101), once it ends.
pub fn add_demo_artifacts(gitlab: &GitLab) {
    let archive = |branch: &str| {
        zip_of(&[
            Entry::Dir("dist/"),
            Entry::File("dist/app.txt", format!("built on {branch}\n").as_bytes()),
            Entry::FileMode("dist/run.sh", b"#!/bin/sh\necho deployed\n", 0o755),
        ])
    };
    let mut build = Job::new(900, "build", "build", "success");
    build.pipeline_id = 990;
    gitlab.add([build]);
    gitlab.set_archive(900, archive("main"));
    gitlab.add_ref_build(PROJECT_ID, "main", "build", 900, true);
    if gitlab.state().job(101).is_some() {
        gitlab.set_archive(101, archive("this pipeline"));
    }
}
