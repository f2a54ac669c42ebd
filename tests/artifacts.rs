//! Issue 19, `gljob artifacts`: a job's artifacts fetched with the job token, unpacked safely.
//!
//! Each test runs the binary against the GitLab test server and asserts what the server (and, for
//! object storage, the second listener) received: which route, which token header, how many
//! times; and what landed on disk, and what did not.

use crate::support;

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use support::gitlab::{
    API_TOKEN, Entry, Fault, GitLab, JOB_TOKEN, Job, OTHER_PROJECT_ID, PROJECT_ID, Pipeline,
    Project, Recorded, Rule, Storage, zip_of,
};
use support::{Run, gljob};

const V19_2: (u32, u32) = (19, 2);
const BUILD: u64 = 200;

/// A directory of its own under the system's temporary one, removed when dropped.
struct Scratch(PathBuf);

impl Scratch {
    fn new(name: &str) -> Scratch {
        let dir =
            std::env::temp_dir().join(format!("gljob-artifacts-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        Scratch(dir)
    }

    fn path(&self, rest: &str) -> PathBuf {
        self.0.join(rest)
    }

    fn text(&self, rest: &str) -> String {
        std::fs::read_to_string(self.path(rest)).unwrap_or_else(|e| panic!("{rest}: {e}"))
    }

    /// Every file and directory under `dir`, relative, sorted.
    fn listing(&self, dir: &str) -> Vec<String> {
        fn walk(root: &Path, at: &Path, out: &mut Vec<String>) {
            if let Ok(entries) = std::fs::read_dir(at) {
                for entry in entries.flatten() {
                    let path = entry.path();
                    out.push(path.strip_prefix(root).unwrap().display().to_string());
                    if entry.file_type().is_ok_and(|t| t.is_dir()) {
                        walk(root, &path, out);
                    }
                }
            }
        }
        let mut out = Vec::new();
        let root = self.path(dir);
        walk(&root, &root, &mut out);
        out.sort();
        out
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn server_with_build(archive: Vec<u8>) -> GitLab {
    let server = GitLab::start(V19_2);
    server.add([Job::new(BUILD, "build", "build", "success")]);
    server.set_archive(BUILD, archive);
    server
}

fn app_archive() -> Vec<u8> {
    zip_of(&[
        Entry::Dir("dist/"),
        Entry::File("dist/app.js", b"console.log('built')\n"),
        // Set-uid in the archive: kept as 0755 without it.
        Entry::FileMode("dist/run.sh", b"#!/bin/sh\n", 0o4755),
    ])
}

fn artifacts(server: &GitLab, out: &Path, args: &[&str], extra: &[(&str, Option<&str>)]) -> Run {
    let out = out.display().to_string();
    let mut all = vec!["artifacts"];
    all.extend_from_slice(args);
    all.extend_from_slice(&["--out", &out]);
    gljob(server, &all, extra)
}

fn downloads(server: &GitLab) -> Vec<Recorded> {
    server
        .requests()
        .into_iter()
        .filter(|r| r.path.contains("/artifacts"))
        .collect()
}

fn sha256(bytes: &[u8]) -> String {
    ring::digest::digest(&ring::digest::SHA256, bytes)
        .as_ref()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[test]
fn a_job_picked_by_name_is_fetched_with_the_job_token_and_unpacked() {
    let server = server_with_build(app_archive());
    let dir = Scratch::new("by-name");
    let run = artifacts(&server, &dir.path("out"), &["build", "--json"], &[]);
    run.expect(0)
        .says("fetched the artifacts of build (#200): 2 files");
    let fetched = downloads(&server);
    assert_eq!(fetched.len(), 1, "{fetched:?}");
    assert_eq!(fetched[0].path, "/api/v4/projects/42/jobs/200/artifacts");
    assert_eq!(fetched[0].header("JOB-TOKEN"), Some(JOB_TOKEN));
    assert_eq!(fetched[0].header("PRIVATE-TOKEN"), None);
    assert_eq!(dir.text("out/dist/app.js"), "console.log('built')\n");
    let mode = std::fs::metadata(dir.path("out/dist/run.sh"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o7777, 0o755, "set-uid dropped, the rest kept");
    // Only the files: no archive, no temporary file.
    assert_eq!(dir.listing("out"), ["dist", "dist/app.js", "dist/run.sh"]);
    let json: serde_json::Value = serde_json::from_slice(&run.stdout).unwrap();
    assert_eq!(json["job"]["id"], BUILD);
    let app = &json["files"][0];
    assert_eq!(app["name"], "dist/app.js");
    assert_eq!(app["size"], 21);
    assert_eq!(app["sha256"], sha256(b"console.log('built')\n"));
}

#[test]
fn names_that_leave_the_output_directory_write_nothing() {
    for (case, name) in [
        ("up", "../escape.txt"),
        ("absolute", "/tmp/gljob-escape-abs.txt"),
    ] {
        let server = server_with_build(zip_of(&[
            Entry::File("dist/fine.txt", b"fine"),
            Entry::File(name, b"escaped"),
        ]));
        let dir = Scratch::new(&format!("traversal-{case}"));
        let run = artifacts(&server, &dir.path("out"), &["build"], &[]);
        run.expect(3)
            .says("writes nothing outside the output directory");
        assert!(!dir.path("escape.txt").exists(), "{case}");
        assert!(!Path::new("/tmp/gljob-escape-abs.txt").exists(), "{case}");
        // Checked before anything is written: not even the harmless entry.
        assert_eq!(dir.listing("out"), Vec::<String>::new(), "{case}");
    }
}

#[test]
fn symbolic_links_are_never_created_nor_followed() {
    let server = server_with_build(zip_of(&[
        Entry::File("dist/app.js", b"ok"),
        Entry::Symlink("dist/passwd", "/etc/passwd"),
    ]));
    let dir = Scratch::new("symlinks");
    let run = artifacts(&server, &dir.path("out"), &["build", "--json"], &[]);
    run.expect(0)
        .says("not written: dist/passwd: a symbolic link");
    assert!(std::fs::symlink_metadata(dir.path("out/dist/passwd")).is_err());
    assert_eq!(dir.text("out/dist/app.js"), "ok");
    let json: serde_json::Value = serde_json::from_slice(&run.stdout).unwrap();
    assert_eq!(json["skipped"][0]["name"], "dist/passwd");

    // A link already in the output directory (an earlier job's, say) is not written through.
    let outside = dir.path("outside");
    std::fs::create_dir_all(&outside).unwrap();
    std::fs::create_dir_all(dir.path("out2")).unwrap();
    std::os::unix::fs::symlink(&outside, dir.path("out2/dist")).unwrap();
    let run = artifacts(&server, &dir.path("out2"), &["build"], &[]);
    run.expect(5)
        .says("is a symbolic link; gljob does not write through links");
    assert_eq!(dir.listing("outside"), Vec::<String>::new());
}

#[test]
fn a_zip_bomb_is_an_error_not_a_full_disk() {
    let zeros = vec![0u8; 4 << 20];
    let server = server_with_build(zip_of(&[
        Entry::File("small.txt", b"small"),
        Entry::File("zeros.bin", &zeros),
    ]));
    let dir = Scratch::new("bomb");
    let run = artifacts(&server, &dir.path("out"), &["build"], &[]);
    run.expect(3).says("a zip bomb, not unpacked");
    assert_eq!(dir.listing("out"), Vec::<String>::new());
}

/// Bytes that do not compress: an archive larger than a read of the client's buffers.
fn noise(len: usize) -> Vec<u8> {
    let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
    (0..len)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state as u8
        })
        .collect()
}

#[test]
fn a_download_cut_after_some_bytes_is_not_tried_again_and_leaves_nothing() {
    let server = server_with_build(zip_of(&[Entry::File("big.bin", &noise(200_000))]));
    server.fault(Rule::new(
        "GET",
        "/jobs/200/artifacts",
        Fault::CutBody { after: 100_000 },
    ));
    let dir = Scratch::new("cut");
    let run = artifacts(&server, &dir.path("out"), &["build"], &[]);
    run.expect(3)
        .says("the download broke off after")
        .says("not tried again");
    assert_eq!(downloads(&server).len(), 1, "written to, so sent once");
    assert_eq!(
        dir.listing("out"),
        Vec::<String>::new(),
        "no temporary file left"
    );
}

#[test]
fn a_download_that_wrote_nothing_is_tried_again() {
    let server = server_with_build(app_archive());
    server.fault(Rule::new(
        "GET",
        "/jobs/200/artifacts",
        Fault::CutBody { after: 0 },
    ));
    let dir = Scratch::new("cut-early");
    let run = artifacts(&server, &dir.path("out"), &["build"], &[]);
    run.expect(0).says("retrying");
    assert_eq!(downloads(&server).len(), 2);
    assert_eq!(dir.listing("out"), ["dist", "dist/app.js", "dist/run.sh"]);
}

#[test]
fn an_expired_archive_is_exit_1_saying_so() {
    let server = server_with_build(app_archive());
    server.expire_archive(BUILD);
    let dir = Scratch::new("expired");
    let run = artifacts(&server, &dir.path("out"), &["build"], &[]);
    run.expect(1).says(
        "build (#200): no artifacts archive (none was made yet, they expired or were erased)",
    );
    assert_eq!(dir.listing("out"), Vec::<String>::new());
}

#[test]
fn the_redirect_to_object_storage_carries_no_token() {
    let server = server_with_build(app_archive());
    let storage = Storage::start();
    storage.put(BUILD, app_archive());
    server.redirect_artifacts_to(&storage.url);
    let dir = Scratch::new("redirect");
    let run = artifacts(
        &server,
        &dir.path("out"),
        &["build", "--verbose"],
        &[("GITLAB_TOKEN", Some(API_TOKEN))],
    );
    run.expect(0)
        .says("(from object storage)")
        .says("(redirected by GitLab, no token)");
    assert_eq!(dir.text("out/dist/app.js"), "console.log('built')\n");
    let received = storage.requests();
    assert_eq!(received.len(), 1, "{received:?}");
    for (name, value) in &received[0].headers {
        for token in [JOB_TOKEN, API_TOKEN] {
            assert!(!value.contains(token), "object storage got {name}: {value}");
        }
        assert!(
            !name.eq_ignore_ascii_case("JOB-TOKEN") && !name.eq_ignore_ascii_case("PRIVATE-TOKEN"),
            "object storage got {name}"
        );
    }
    assert_eq!(downloads(&server)[0].header("JOB-TOKEN"), Some(JOB_TOKEN));
    // The signed URL's signature is a credential: never printed.
    assert!(
        !run.stderr.contains(&Storage::signature(BUILD)),
        "{}",
        run.stderr
    );
    // Object storage refusing the signed URL: exit 3 in its own words, nothing written, and no
    // second redirect or token either.
    let empty = Storage::start();
    server.redirect_artifacts_to(&empty.url);
    let run = artifacts(&server, &dir.path("refused"), &["build"], &[]);
    run.expect(3).says(
        "object storage GitLab redirected to answered 403 \"AccessDenied: Request has expired\"",
    );
    assert_eq!(empty.requests().len(), 1);
    assert_eq!(empty.requests()[0].header("JOB-TOKEN"), None);
    assert_eq!(dir.listing("refused"), Vec::<String>::new());
}

#[test]
fn another_projects_allowlist_decides_and_gitlab_token_is_the_way_round() {
    let server = GitLab::start(V19_2);
    server.add_project(Project::other());
    server.add_pipeline(
        Pipeline::in_project(3000, OTHER_PROJECT_ID),
        [Job::new(300, "package", "build", "success")],
    );
    server.set_archive(300, app_archive());
    let dir = Scratch::new("allowlist");
    let project = OTHER_PROJECT_ID.to_string();
    let args = ["300", "--project", &project];

    // Not on the allowlist: refused, and the error says which allowlist.
    let run = artifacts(&server, &dir.path("out"), &args, &[]);
    run.expect(3)
        .says("Authentication by CI/CD job token not allowed")
        .says("job token allowlist");
    assert_eq!(dir.listing("out"), Vec::<String>::new());

    // With GITLAB_TOKEN: the job token first, then the access token.
    let before = downloads(&server).len();
    let run = artifacts(
        &server,
        &dir.path("out"),
        &args,
        &[("GITLAB_TOKEN", Some(API_TOKEN))],
    );
    run.expect(0).says("trying GITLAB_TOKEN");
    let tries = &downloads(&server)[before..];
    assert_eq!(tries.len(), 2);
    assert_eq!(tries[0].header("JOB-TOKEN"), Some(JOB_TOKEN));
    assert_eq!(tries[1].header("PRIVATE-TOKEN"), Some(API_TOKEN));
    assert_eq!(tries[1].header("JOB-TOKEN"), None);

    // Allowlisted: the job token alone.
    server.add_project(Project::other().allowing_42());
    let before = downloads(&server).len();
    let run = artifacts(&server, &dir.path("out3"), &args, &[]);
    run.expect(0);
    assert_eq!(downloads(&server).len(), before + 1);
}

#[test]
fn by_ref_the_latest_successful_pipelines_job_and_one_file() {
    let server = GitLab::start(V19_2);
    server.add([Job::new(900, "build", "build", "success").in_pipeline(990)]);
    server.set_archive(900, app_archive());
    server.add_ref_build(PROJECT_ID, "release/1.x", "build", 900, true);
    let dir = Scratch::new("by-ref");

    let run = artifacts(
        &server,
        &dir.path("out"),
        &["build", "--ref", "release/1.x"],
        &[],
    );
    run.expect(0).says("build of release/1.x");
    let asked = downloads(&server);
    assert_eq!(
        asked[0].path,
        "/api/v4/projects/42/jobs/artifacts/release/1.x/download"
    );
    assert_eq!(asked[0].query_values("job"), ["build"]);
    assert!(
        asked[0]
            .query_values("search_recent_successful_pipelines")
            .is_empty()
    );
    assert_eq!(asked[0].header("JOB-TOKEN"), Some(JOB_TOKEN));
    assert_eq!(dir.text("out/dist/app.js"), "console.log('built')\n");

    // One file, by the raw route: written under its own path, nothing else.
    let run = artifacts(
        &server,
        &dir.path("one"),
        &[
            "build",
            "--ref",
            "release/1.x",
            "--path",
            "dist/app.js",
            "--json",
        ],
        &[],
    );
    run.expect(0);
    assert_eq!(
        downloads(&server)[1].path,
        "/api/v4/projects/42/jobs/artifacts/release/1.x/raw/dist/app.js"
    );
    assert_eq!(dir.listing("one"), ["dist", "dist/app.js"]);
    let json: serde_json::Value = serde_json::from_slice(&run.stdout).unwrap();
    assert_eq!(
        json["files"][0]["sha256"],
        sha256(b"console.log('built')\n")
    );

    // A file the archive does not hold (Workhorse's plain 404): exit 1, nothing written.
    let run = artifacts(
        &server,
        &dir.path("none"),
        &["build", "--ref", "release/1.x", "--path", "nope.txt"],
        &[],
    );
    run.expect(1).says("no file nope.txt in its artifacts");
    // A job the latest successful pipeline did not run: exit 1.
    let run = artifacts(
        &server,
        &dir.path("none"),
        &["lint", "--ref", "release/1.x"],
        &[],
    );
    run.expect(1).says("no artifacts");
    assert_eq!(dir.listing("none"), Vec::<String>::new());
}

#[test]
fn wait_then_fetch_the_attempt_that_passed() {
    let server = GitLab::start(V19_2);
    server.add([Job::new(BUILD, "build", "build", "running").then(&["running", "success"])]);
    server.set_archive(BUILD, app_archive());
    let dir = Scratch::new("wait");
    let run = artifacts(
        &server,
        &dir.path("out"),
        &["build", "--wait", "--interval", "5ms", "--json"],
        &[],
    );
    run.expect(0);
    assert_eq!(downloads(&server).len(), 1);
    assert_eq!(dir.text("out/dist/app.js"), "console.log('built')\n");
    // One JSON object on stdout, what was written: not also the jobs the wait judged.
    let json: serde_json::Value = serde_json::from_slice(&run.stdout).expect("one JSON object");
    assert_eq!(json["job"]["id"], BUILD);

    // A job that fails: exit 1 as `wait` says, and nothing is fetched.
    let server = GitLab::start(V19_2);
    server.add([Job::new(BUILD, "build", "build", "running").then(&["failed"])]);
    server.set_archive(BUILD, app_archive());
    let run = artifacts(
        &server,
        &dir.path("out2"),
        &["build", "--wait", "--interval", "5ms"],
        &[],
    );
    run.expect(1);
    assert_eq!(downloads(&server).len(), 0);
    assert!(!dir.path("out2").exists());
}

#[test]
fn bad_arguments_send_nothing() {
    let server = server_with_build(app_archive());
    let dir = Scratch::new("usage");
    for (args, says) in [
        (vec!["--stage", "build"], "--stage does not apply"),
        (vec!["build", "lint"], "one selector"),
        (vec!["b*", "--ref", "main"], "name the job as GitLab does"),
        (
            vec!["build", "--ref", "main", "--wait"],
            "--wait does not apply",
        ),
        (vec!["build", "--path", "../x"], "goes up a directory"),
        (vec!["build", "--recent"], "--recent needs --ref"),
        (vec!["build", "--field", "id"], "--field does not apply"),
        (vec!["build", "--interval", "1s"], "need --wait"),
    ] {
        let run = artifacts(&server, &dir.path("out"), &args, &[]);
        run.expect(2).says(says);
    }
    assert!(server.requests().is_empty());
}

/// GitLab.com's case: the redirect goes to object storage over HTTPS. It is followed through
/// gljob's own TLS provider (a TLS configuration without one made ureq panic, exit 134, found by a
/// review), and a certificate it cannot trust is exit 3 in one line, with nothing left in `--out`.
#[test]
fn a_redirect_to_https_object_storage_is_followed_over_tls() {
    let server = server_with_build(app_archive());
    let pki = support::net::make_pki();
    let storage = support::net::TlsGitLab::start(&pki);
    server.redirect_artifacts_to(&format!("https://localhost:{}", storage.port));
    let dir = Scratch::new("redirect-tls");
    let run = artifacts(&server, &dir.path("out"), &["build", "--retries", "0"], &[]);
    run.expect(3).says("certificate");
    assert!(
        storage.requests.lock().unwrap().is_empty(),
        "nothing is sent to a host whose certificate is not trusted"
    );
    let left: Vec<_> = std::fs::read_dir(dir.path("out"))
        .map(|entries| entries.flatten().map(|e| e.file_name()).collect())
        .unwrap_or_default();
    assert!(left.is_empty(), "left in --out: {left:?}");
}

/// A job token refused on an artifact route with a bare `403 Forbidden` (GitLab's words vary by
/// version): the error still names the allowlist and the way round, as the README promises, and
/// with no `GITLAB_TOKEN` nothing else is tried (found by a review).
#[test]
fn a_bare_403_to_the_job_token_names_the_allowlist() {
    let server = server_with_build(app_archive());
    server.fault(
        Fault::status(
            "GET",
            &format!("/jobs/{BUILD}/artifacts"),
            403,
            r#"{"message":"403 Forbidden"}"#,
        )
        .forever(),
    );
    let dir = Scratch::new("bare-403");
    let run = artifacts(&server, &dir.path("out"), &["build"], &[]);
    run.expect(3)
        .says("403 Forbidden")
        .says("job token allowlist")
        .says("GITLAB_TOKEN");
    assert_eq!(downloads(&server).len(), 1, "asked once");
}

/// `--ref` with `..` parts (no git ref has them) is a usage error with nothing sent: sent as it
/// was, `jobs/artifacts/../../../download` named another route to any proxy that normalises
/// paths (found by a review).
#[test]
fn a_ref_with_dot_dot_parts_is_refused_before_sending() {
    let server = server_with_build(app_archive());
    let dir = Scratch::new("ref-dots");
    for reference in ["../../..", "main/../x", "a//b", "./main"] {
        let run = artifacts(
            &server,
            &dir.path("out"),
            &["build", "--ref", reference],
            &[],
        );
        run.expect(2).says("is not a branch or tag name");
    }
    assert!(server.requests().is_empty(), "nothing sent");
}
