//! Build facts for `gljob --version`: the target triple and the short git commit, as
//! `GLJOB_BUILD_TARGET` and `GLJOB_BUILD_COMMIT` (read with `env!` in the program).
//!
//! The commit comes from `git rev-parse --short=12 HEAD` (12 characters, so that the binary's
//! length does not move with git's abbreviation); where git or the repository is missing (a
//! source tarball, a CI copy without `.git`) it is `CI_COMMIT_SHORT_SHA` if a runner set it, else
//! `unknown`. Cargo reruns this script only when HEAD or the branch it points at moves, not on
//! every change of a source file.

use std::path::Path;
use std::process::Command;

fn git(args: &[&str]) -> Option<String> {
    let output = Command::new("git").args(args).output().ok()?;
    if !output.status.success() {
        return None;
    }
    let text = String::from_utf8(output.stdout).ok()?;
    let text = text.trim();
    (!text.is_empty()).then(|| text.to_string())
}

fn main() {
    let target = std::env::var("TARGET").unwrap_or_else(|_| "unknown".into());
    println!("cargo:rustc-env=GLJOB_BUILD_TARGET={target}");

    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-env-changed=CI_COMMIT_SHORT_SHA");
    let commit = git(&["rev-parse", "--short=12", "HEAD"]);
    if commit.is_some() {
        // In a worktree `.git` is a file and HEAD lives elsewhere: ask git where its files are.
        // A branch may be loose (refs/heads/NAME) or packed (packed-refs); watch whichever exist.
        let mut watched = vec!["HEAD".to_string()];
        if let Some(reference) = git(&["symbolic-ref", "-q", "HEAD"]) {
            watched.push(reference);
        }
        watched.push("packed-refs".into());
        for name in watched {
            if let Some(path) = git(&["rev-parse", "--git-path", &name])
                && Path::new(&path).exists()
            {
                println!("cargo:rerun-if-changed={path}");
            }
        }
    }
    let commit = commit
        .or_else(|| {
            std::env::var("CI_COMMIT_SHORT_SHA")
                .ok()
                .filter(|s| !s.is_empty())
        })
        .unwrap_or_else(|| "unknown".into());
    println!("cargo:rustc-env=GLJOB_BUILD_COMMIT={commit}");
}
