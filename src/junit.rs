//! `--junit FILE`: the verdict as a JUnit XML report, for `artifacts:reports:junit`, so it shows in
//! the merge request and the pipeline's Tests tab.
//!
//! One test case per selected job, judged exactly as the exit code judges it: a job that did not
//! pass has a `<failure>` with its status, `failure_reason` and URL (an allowed failure passed,
//! so it fails only under `--strict`); a skipped job is `<skipped/>` under `--allow-skipped` and a
//! failure otherwise; a job still unfinished when the wait ended (timeout, GitLab trouble) fails
//! with its last status. The file is written whole or not at all: to a temporary file beside it,
//! then renamed.

use crate::error::{Error, Result};
use crate::model::{Kind, Listed, Status};
use crate::wait::Verdict;
use std::fmt::Write as _;
use std::io::Write as _;
use std::path::Path;

/// How the run that judged the jobs ended, for the report's wording.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ending {
    /// Every job was judged.
    Judged,
    /// `--timeout` ran out first.
    TimedOut,
    /// GitLab failed or refused before every job was judged: what was known then.
    Interrupted,
}

/// One selected job as last seen, with the verdict the command gave it (the exit code's, so the
/// report cannot judge otherwise).
pub struct Case<'a> {
    pub job: &'a Listed,
    pub verdict: Verdict,
    /// `job` is a trigger job standing for what this selector (`deploy-eu::smoke`) names in the
    /// pipeline it has not created.
    pub below: Option<String>,
}

/// The report's XML.
pub fn render(suite: &str, cases: &[Case<'_>], ending: Ending) -> String {
    let mut failures = 0;
    let mut skipped = 0;
    let mut body = String::new();
    let mut total_time = 0.0;
    for case in cases {
        let job = &case.job.job;
        let time = job.duration.unwrap_or(0.0);
        total_time += time;
        // A job below a trigger job is classed by its path (`deploy-eu::`), as it was selected.
        let class = match (&case.below, case.job.kind) {
            (Some(path), _) => path.clone(),
            (None, Kind::Build) => job.stage.clone(),
            (None, Kind::Bridge) => format!("{}::", job.name),
        };
        let _ = write!(
            body,
            "    <testcase name=\"{}\" classname=\"{}\" time=\"{time:.3}\"",
            escape(&job.name),
            escape(&class)
        );
        let verdict = case.verdict.clone();
        let details = || {
            let mut text = format!("#{} {}", job.id, job.status);
            if let Some(reason) = &job.failure_reason {
                text.push_str(&format!(" ({reason})"));
            }
            if let Some(url) = &job.web_url {
                text.push_str(&format!(" {url}"));
            }
            text
        };
        match verdict {
            Verdict::Passed if job.status == Status::Skipped => {
                skipped += 1;
                body.push_str(">\n      <skipped message=\"skipped\"/>\n    </testcase>\n");
            }
            Verdict::Passed => body.push_str("/>\n"),
            Verdict::PassedWithWarning(warning) => {
                let _ = write!(
                    body,
                    ">\n      <system-out>{}</system-out>\n    </testcase>\n",
                    escape(&format!("{warning}; --strict would fail it"))
                );
            }
            Verdict::NotPassed => {
                failures += 1;
                let _ = write!(
                    body,
                    ">\n      <failure message=\"{}\" type=\"{}\">{}</failure>\n    </testcase>\n",
                    escape(&format!("{} is {}", job.name, job.status)),
                    escape(job.status.as_str()),
                    escape(&details())
                );
            }
            Verdict::NotFinal => {
                failures += 1;
                let why = match ending {
                    Ending::TimedOut => "still unfinished when --timeout ran out",
                    Ending::Interrupted => "still unfinished when GitLab failed the wait",
                    // Final, yet not judged: the job was replayed and this is its old attempt.
                    Ending::Judged if job.status.is_final() => "its new attempt was not seen",
                    Ending::Judged => "not final",
                };
                let _ = write!(
                    body,
                    ">\n      <failure message=\"{}\" type=\"unfinished\">{}</failure>\n    </testcase>\n",
                    escape(&format!("{} is {}: {why}", job.name, job.status)),
                    escape(&details())
                );
            }
        }
    }
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n\
         <testsuites name=\"gljob\" tests=\"{n}\" failures=\"{failures}\" errors=\"0\" skipped=\"{skipped}\" time=\"{total_time:.3}\">\n  \
         <testsuite name=\"{suite}\" tests=\"{n}\" failures=\"{failures}\" errors=\"0\" skipped=\"{skipped}\" time=\"{total_time:.3}\">\n\
         {body}  </testsuite>\n</testsuites>\n",
        n = cases.len(),
        suite = escape(suite),
    )
}

/// The report of a run that ended before any job was known (a selector matched nothing, GitLab
/// refused the first read): one test case in error, saying why, so CI shows a failed report
/// rather than a missing one.
pub fn render_error(suite: &str, message: &str) -> String {
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n\
         <testsuites name=\"gljob\" tests=\"1\" failures=\"0\" errors=\"1\" skipped=\"0\" time=\"0.000\">\n  \
         <testsuite name=\"{suite}\" tests=\"1\" failures=\"0\" errors=\"1\" skipped=\"0\" time=\"0.000\">\n    \
         <testcase name=\"selection\" classname=\"gljob\" time=\"0.000\">\n      \
         <error message=\"{message}\" type=\"gljob\"/>\n    </testcase>\n  </testsuite>\n</testsuites>\n",
        suite = escape(suite),
        message = escape(message),
    )
}

/// Writes `xml` to `path` whole: a temporary file in the same directory, then a rename.
pub fn write(path: &Path, xml: &str) -> Result<()> {
    let failed = |e: std::io::Error| {
        Error::new(
            crate::error::ErrorKind::Output,
            format!("the JUnit report {} was not written: {e}", path.display()),
        )
    };
    let directory = match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir.to_path_buf(),
        _ => std::path::PathBuf::from("."),
    };
    let file_name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "junit.xml".into());
    let temporary = directory.join(format!(".{file_name}.{}.tmp", std::process::id()));
    if let Err(why) = check_path(path) {
        return Err(failed(std::io::Error::other(why)));
    }
    let result = std::fs::File::create(&temporary)
        .and_then(|mut file| {
            file.write_all(xml.as_bytes())?;
            file.sync_all()
        })
        .and_then(|()| std::fs::rename(&temporary, path));
    if let Err(e) = result {
        let _ = std::fs::remove_file(&temporary);
        return Err(failed(e));
    }
    Ok(())
}

/// Checked before anything is sent: the report's directory must exist, and what is at the path, if
/// anything, must be a regular file (the report replaces it by a rename: `/dev/full` or a
/// directory must never be replaced).
pub fn check_path(path: &Path) -> std::result::Result<(), String> {
    if let Ok(meta) = std::fs::symlink_metadata(path)
        && !meta.is_file()
    {
        return Err(format!(
            "--junit {} exists and is not a regular file",
            path.display()
        ));
    }
    match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() && !dir.is_dir() => Err(format!(
            "--junit {}: the directory {} does not exist",
            path.display(),
            dir.display()
        )),
        _ if path.is_dir() => Err(format!("--junit {} is a directory", path.display())),
        _ => Ok(()),
    }
}

/// XML text and attribute escaping, after the redactor every output of gljob passes (the report is
/// an artifact people read). Control characters other than tab and line breaks are not allowed in
/// XML 1.0 at all, so they are shown escaped, as everywhere else in gljob.
fn escape(text: &str) -> String {
    let cleaned = crate::say::clean(text);
    let mut out = String::with_capacity(cleaned.len());
    for c in cleaned.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\n' => out.push_str("&#10;"),
            '\t' => out.push_str("&#9;"),
            c if c.is_control() => out.push_str(&format!("\\x{:02x}", c as u32)),
            // XML 1.0 has no way to write U+FFFE and U+FFFF at all: shown escaped.
            '\u{fffe}' | '\u{ffff}' => out.push_str(&format!("\\u{{{:x}}}", c as u32)),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wait::{Policy, judge};
    use serde_json::value::RawValue;

    fn listed(json: &str) -> Listed {
        Listed::parse(&RawValue::from_string(json.into()).unwrap(), Kind::Build).unwrap()
    }

    #[test]
    fn cases_are_judged_as_the_exit_code_judges() {
        let ok =
            listed(r#"{"id":1,"name":"unit","stage":"test","status":"success","duration":1.5}"#);
        let bad = listed(
            r#"{"id":2,"name":"e2e <x>","stage":"test","status":"failed","failure_reason":"script_failure","web_url":"https://g/j/2"}"#,
        );
        let allowed = listed(
            r#"{"id":3,"name":"lint","stage":"test","status":"failed","allow_failure":true}"#,
        );
        let skipped = listed(r#"{"id":4,"name":"docs","stage":"test","status":"skipped"}"#);
        let running = listed(r#"{"id":5,"name":"slow","stage":"test","status":"running"}"#);
        // Each case judged by `policy`, as the wait judges it.
        let jobs = [&ok, &bad, &allowed, &skipped, &running];
        let cases = |policy: Policy| -> Vec<Case> {
            jobs.into_iter()
                .map(|job| Case {
                    job,
                    verdict: judge(&job.job, policy),
                    below: None,
                })
                .collect()
        };
        let xml = render("gljob wait", &cases(Policy::default()), Ending::TimedOut);
        assert!(
            xml.contains(r#"tests="5" failures="3" errors="0" skipped="0""#),
            "{xml}"
        );
        assert!(
            xml.contains(r#"<testcase name="unit" classname="test" time="1.500"/>"#),
            "{xml}"
        );
        assert!(xml.contains("e2e &lt;x&gt; is failed"), "{xml}");
        assert!(
            xml.contains("#2 failed (script_failure) https://g/j/2"),
            "{xml}"
        );
        assert!(
            xml.contains("still unfinished when --timeout ran out"),
            "{xml}"
        );
        let lenient = Policy {
            strict: false,
            allow_skipped: true,
        };
        let xml = render("gljob wait", &cases(lenient), Ending::Judged);
        assert!(
            xml.contains(r#"failures="2" errors="0" skipped="1""#),
            "{xml}"
        );
        let strict = Policy {
            strict: true,
            allow_skipped: false,
        };
        let xml = render("gljob wait", &cases(strict), Ending::Judged);
        assert!(xml.contains(r#"failures="4""#), "{xml}");
    }

    #[test]
    fn the_file_is_replaced_whole() {
        let dir = std::env::temp_dir().join(format!("gljob-junit-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("report.xml");
        write(&path, "<a/>").unwrap();
        write(&path, "<b/>").unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "<b/>");
        assert_eq!(
            std::fs::read_dir(&dir).unwrap().count(),
            1,
            "no temporary left"
        );
        assert!(check_path(&dir.join("missing/report.xml")).is_err());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
