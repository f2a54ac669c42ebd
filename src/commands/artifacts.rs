//! `artifacts`: a job's artifacts, fetched with the job token and unpacked safely; the other half
//! of a deploy job gated by gljob (issue 19).
//!
//! The job is picked as every command picks one (an id, a name, a pattern matching one job,
//! `BRIDGE::JOB`), or by name in the latest successful pipeline of a branch or tag (`--ref`).
//! `--wait` waits for it first with `wait`'s rules and exit codes. The download streams into a
//! temporary file beside its destination and lands whole; the archive is unpacked by
//! [`crate::unzip`]. Exit codes: 0 fetched; 1 the job did not pass (`--wait`) or has no such
//! artifacts; 3 GitLab refused or the archive is broken; 5 the files could not be written; 124
//! the timeout.

use super::Context;
use super::rounds::follow_selection;
use crate::api::route::{self, Call};
use crate::error::{Error, ErrorKind, ExitCode, Result};
use crate::say;
use crate::select::Selector;
use crate::unzip::{self, Failure};
use crate::wait::{self, WaitOptions};
use serde_json::{Value, json};
use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

/// What to fetch, as the command line said.
pub struct Wanted<'a> {
    pub selector: &'a Selector,
    pub reference: Option<&'a str>,
    pub recent: bool,
    pub path: Option<&'a str>,
    pub out: &'a Path,
    pub wait: Option<WaitOptions>,
    /// `--json` (the context's format is `Human`, so that the wait prints no jobs).
    pub json: bool,
}

/// The job's artifacts to ask for: who it is, the route, its query.
type Asked = (Source, Call, Vec<(&'static str, String)>);

/// The job whose artifacts are fetched, for messages and `--json`.
struct Source {
    /// `build (#123)`, or `build of main`.
    shown: String,
    json: Value,
}

pub fn artifacts(context: &Context, wanted: &Wanted<'_>) -> Result<ExitCode> {
    let (source, call, query) = match wanted.reference {
        Some(reference) => by_ref(context, wanted, reference)?,
        None => match by_job(context, wanted)? {
            Ok(found) => found,
            // The wait's verdict (1, 124) is the exit code; it has been said.
            Err(code) => return Ok(code),
        },
    };
    fs::create_dir_all(wanted.out).map_err(|e| {
        Error::new(
            ErrorKind::Output,
            format!("creating --out {} failed: {e}", wanted.out.display()),
        )
    })?;
    let fetched = match wanted.path {
        Some(path) => fetch_file(context, &call, &query, wanted.out, path),
        None => fetch_archive(context, &call, &query, wanted.out),
    };
    let fetched = match fetched {
        Ok(fetched) => fetched,
        Err(err) if is_missing(&err) => {
            // GitLab's words only: a 404 of Workhorse's is plain text, which the client's own
            // message would take for a page that is not the API (docs/gitlab-behaviour.md §11.3).
            let said = match err.gitlab_message().filter(|m| !m.is_empty()) {
                Some(message) => format!("{}: GitLab answered 404 \"{message}\"", call.describe()),
                None => format!("{}: GitLab answered 404", call.describe()),
            };
            say::line(&format!(
                "gljob: {}: {}",
                source.shown,
                missing(wanted, &said)
            ));
            return Ok(ExitCode::NotPassed);
        }
        Err(err) => return Err(err),
    };
    for (path, why) in &fetched.skipped {
        say::line(&format!("gljob: warning: not written: {path}: {why}"));
    }
    let bytes: u64 = fetched.files.iter().map(|f| f.size).sum();
    say::line(&format!(
        "gljob: fetched the artifacts of {}{}: {} file{}, {} bytes, into {}",
        source.shown,
        if fetched.redirected {
            " (from object storage)"
        } else {
            ""
        },
        fetched.files.len(),
        if fetched.files.len() == 1 { "" } else { "s" },
        bytes,
        wanted.out.display()
    ));
    if wanted.json {
        let report = json_report(wanted, &source, &fetched);
        context.print(|out| writeln!(out, "{report}"))?;
    }
    Ok(ExitCode::Done)
}

/// `--json`: the job, where its files went, each file's path, size and SHA-256 (so a deploy can
/// check what it ships), and the entries not written, with why.
fn json_report(wanted: &Wanted<'_>, source: &Source, fetched: &Fetched) -> Value {
    let files: Vec<Value> = fetched
        .files
        .iter()
        .map(|f| {
            json!({
                "path": shown_path(wanted.out, &f.path),
                "name": f.path,
                "size": f.size,
                "sha256": f.sha256,
            })
        })
        .collect();
    let skipped: Vec<Value> = fetched
        .skipped
        .iter()
        .map(|(name, why)| json!({ "name": name, "reason": why }))
        .collect();
    json!({
        "job": source.json,
        "out": wanted.out.display().to_string(),
        "files": files,
        "skipped": skipped,
    })
}

/// `--ref`: the route that names the job by its name and the ref. GitLab answers with the job's
/// artifacts in the latest successful pipeline of the ref, or, with `--recent` on GitLab 18.10+,
/// those of the newest job of that name with artifacts in its 100 latest successful pipelines
/// (`docs/gitlab-behaviour.md` §11).
fn by_ref(context: &Context, wanted: &Wanted<'_>, reference: &str) -> Result<Asked> {
    let name = wanted.selector.text();
    let call = match wanted.path {
        Some(path) => route::REF_ARTIFACT_FILE.with(
            &context.project,
            &[
                (":ref_name", &encode_path(reference)),
                ("*artifact_path", &encode_path(path)),
            ],
        ),
        None => {
            route::REF_ARTIFACTS.with(&context.project, &[(":ref_name", &encode_path(reference))])
        }
    };
    let mut query = vec![("job", name.clone())];
    if wanted.recent {
        query.push(("search_recent_successful_pipelines", "true".to_string()));
    }
    let source = Source {
        shown: format!(
            "{name} of {reference}{}",
            if wanted.recent {
                " (recent successful pipelines)"
            } else {
                " (latest successful pipeline)"
            }
        ),
        json: json!({ "name": name, "ref": reference }),
    };
    Ok((source, call, query))
}

/// The job picked in this pipeline (or below it), waited for first with `--wait`. `Err(code)`:
/// the wait's verdict was not a pass.
fn by_job(context: &Context, wanted: &Wanted<'_>) -> Result<std::result::Result<Asked, ExitCode>> {
    let selectors = std::slice::from_ref(wanted.selector);
    let (id, project, name) = match wanted.wait {
        Some(options) => {
            context.client.require(&route::PIPELINE_JOBS)?;
            context.config.pipeline_id()?;
            if let (Some(own), Selector::Id(id)) = (context.config.own_job_id, wanted.selector)
                && own == *id
            {
                return Err(Error::usage(format!(
                    "job {own} is the job running gljob (CI_JOB_ID): a wait on it could never \
                     end, and it has no artifacts yet"
                )));
            }
            let selected = context.select(selectors)?;
            one(selected.len(), wanted.selector)?;
            let followed = selected
                .into_iter()
                .map(|selection| follow_selection(context, selection))
                .collect();
            let code = super::gate::follow(context, wait::merge_duplicates(followed), options)?;
            if code != ExitCode::Done {
                return Ok(Err(code));
            }
            // The job is picked again after the verdict: the wait judged its latest attempt
            // (retried, or below a trigger job run again), which is the one to fetch from. One
            // that changed since has not been judged.
            let picked = context.select_now(selectors)?;
            one(picked.len(), wanted.selector)?;
            let job = &picked[0].listed.job;
            if !wait::judge(job, options.policy).passed() {
                return Err(Error::new(
                    ErrorKind::Inconsistent,
                    format!(
                        "{} (#{}) is {} now: it changed after the wait judged it; nothing was \
                         fetched",
                        job.name, job.id, job.status
                    ),
                ));
            }
            (job.id, picked[0].at.project.clone(), Some(job.name.clone()))
        }
        None => {
            if wanted.selector.needs_pipeline() {
                context.config.pipeline_id()?;
            }
            let targets = context.target_ids(selectors)?;
            one(targets.len(), wanted.selector)?;
            let target = &targets[0];
            let name = target.known.as_ref().map(|k| k.listed.job.name.clone());
            (target.id, target.project.clone(), name)
        }
    };
    let id_text = id.to_string();
    let call = match wanted.path {
        Some(path) => route::ARTIFACT_FILE.with(
            &project,
            &[
                (":job_id", &id_text),
                ("*artifact_path", &encode_path(path)),
            ],
        ),
        None => route::ARTIFACTS.with(&project, &[(":job_id", &id_text)]),
    };
    let source = Source {
        shown: match &name {
            Some(name) => format!("{name} (#{id})"),
            None => format!("job {id}"),
        },
        json: json!({ "id": id, "name": name }),
    };
    Ok(Ok((source, call, Vec::new())))
}

fn one(found: usize, selector: &Selector) -> Result<()> {
    match found {
        1 => Ok(()),
        0 => Err(Error::no_match(format!(
            "`gljob artifacts` needs one job, and {} matched none",
            selector.text()
        ))),
        many => Err(Error::no_match(format!(
            "{} matches {many} jobs; `gljob artifacts` fetches one job's artifacts: name one",
            selector.text()
        ))),
    }
}

/// What a fetch wrote.
struct Fetched {
    files: Vec<unzip::Written>,
    skipped: Vec<(String, String)>,
    redirected: bool,
}

/// The archive, into a temporary file in `out`, then unpacked there; the archive is not kept.
fn fetch_archive(
    context: &Context,
    call: &Call,
    query: &[(&str, String)],
    out: &Path,
) -> Result<Fetched> {
    let temporary = unzip::temporary_in(out);
    let result = (|| {
        let file = create_new(&temporary)?;
        let mut writer = io::BufWriter::with_capacity(64 * 1024, file);
        let downloaded = download(context, call, query, &mut writer)?;
        writer
            .into_inner()
            .map_err(|e| write_failed(&temporary, e.error()))?;
        let archive = fs::File::open(&temporary).map_err(|e| write_failed(&temporary, &e))?;
        let unpacked = unzip::unpack(archive, out, unzip::LIMITS)
            .map_err(|failure| unpack_failed(call, failure, downloaded.bytes))?;
        Ok(Fetched {
            files: unpacked.files,
            skipped: unpacked.skipped,
            redirected: downloaded.redirected,
        })
    })();
    let _ = fs::remove_file(&temporary);
    result
}

/// One file of the artifacts (`--path`), to `out/PATH`: into a temporary file beside it, renamed
/// once whole.
fn fetch_file(
    context: &Context,
    call: &Call,
    query: &[(&str, String)],
    out: &Path,
    path: &str,
) -> Result<Fetched> {
    let dir = match path.rsplit_once('/') {
        Some((dirs, _)) => unzip::make_dirs(out, dirs).map_err(|f| unpack_failed(call, f, 0))?,
        None => out.to_path_buf(),
    };
    let temporary = unzip::temporary_in(&dir);
    let target = out.join(path);
    let result = (|| {
        let file = create_new(&temporary)?;
        let mut writer = Hashing {
            inner: io::BufWriter::with_capacity(64 * 1024, file),
            digest: ring::digest::Context::new(&ring::digest::SHA256),
        };
        let downloaded = download(context, call, query, &mut writer)?;
        let file = writer
            .inner
            .into_inner()
            .map_err(|e| write_failed(&temporary, e.error()))?;
        use std::os::unix::fs::PermissionsExt;
        file.set_permissions(fs::Permissions::from_mode(0o644))
            .map_err(|e| write_failed(&temporary, &e))?;
        drop(file);
        fs::rename(&temporary, &target).map_err(|e| write_failed(&target, &e))?;
        Ok(Fetched {
            files: vec![unzip::Written {
                path: path.to_string(),
                size: downloaded.bytes,
                sha256: unzip::hex(writer.digest.finish().as_ref()),
            }],
            skipped: Vec::new(),
            redirected: downloaded.redirected,
        })
    })();
    if result.is_err() {
        let _ = fs::remove_file(&temporary);
    }
    result
}

/// The download, with the job token first; when GitLab refuses it (another project whose job
/// token allowlist does not take this one) and `GITLAB_TOKEN` is set, once more with that.
fn download(
    context: &Context,
    call: &Call,
    query: &[(&str, String)],
    out: &mut dyn Write,
) -> Result<crate::api::Downloaded> {
    let client = &context.client;
    match client.download(call, query, out) {
        Err(err)
            if client.has_access_token()
                && context.config.job_token.is_some()
                && job_token_refused(&err) =>
        {
            say::line(&format!("gljob: {}; trying GITLAB_TOKEN", err.message()));
            let by_access = Call {
                route: call.route.by_access(),
                path: call.path.clone(),
            };
            client.download(&by_access, query, out)
        }
        other => other,
    }
}

/// GitLab's refusals of a job token that an access token may pass: not allowed from this project
/// (403), not taken at all (401), or the project hidden from it (404 Project Not Found).
fn job_token_refused(err: &Error) -> bool {
    match err.http_status() {
        Some(401 | 403) => true,
        Some(404) => err
            .gitlab_message()
            .is_some_and(|m| m.contains("Project Not Found")),
        _ => false,
    }
}

/// A 404 that says the artifacts are not there, rather than that the project or route is not.
fn is_missing(err: &Error) -> bool {
    err.http_status() == Some(404)
        && !err.gitlab_message().is_some_and(|m| {
            m.contains("Project Not Found") || m == crate::api::explain::MISSING_ROUTE
        })
}

fn missing(wanted: &Wanted<'_>, said: &str) -> String {
    let what = match (wanted.path, wanted.reference) {
        (Some(path), _) => format!("no file {path} in its artifacts"),
        (None, Some(reference)) => format!(
            "no artifacts: the job did not run with artifacts in the latest successful pipeline \
             of {reference} (or they expired, or the ref has no successful pipeline)"
        ),
        (None, None) => {
            "no artifacts archive (none was made yet, they expired or were erased)".to_string()
        }
    };
    format!("{what} ({said})")
}

fn create_new(path: &Path) -> Result<fs::File> {
    use std::os::unix::fs::OpenOptionsExt;
    fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .map_err(|e| write_failed(path, &e))
}

fn write_failed(path: &Path, err: &io::Error) -> Error {
    Error::new(
        ErrorKind::Output,
        format!("writing {} failed: {err}", path.display()),
    )
}

fn unpack_failed(call: &Call, failure: Failure, bytes: u64) -> Error {
    match failure {
        Failure::Archive(why) => Error::unreadable(format!(
            "{}: the artifacts archive ({bytes} bytes) was not unpacked: {why}",
            call.describe()
        )),
        Failure::Disk(why) => Error::new(ErrorKind::Output, why),
    }
}

/// `a/b c` as path segments: each encoded, the slashes kept.
fn encode_path(text: &str) -> String {
    text.split('/')
        .map(crate::url::encode)
        .collect::<Vec<_>>()
        .join("/")
}

fn shown_path(out: &Path, name: &str) -> String {
    if out == Path::new(".") {
        name.to_string()
    } else {
        PathBuf::from(out).join(name).display().to_string()
    }
}

/// A writer that hashes what passes through it.
struct Hashing<W: Write> {
    inner: W,
    digest: ring::digest::Context,
}

impl<W: Write> Write for Hashing<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.digest.update(&buf[..n]);
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}
