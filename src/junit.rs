//! `--junit FILE`: the verdict as a JUnit XML report, for `artifacts:reports:junit`, so it shows in
//! the merge request and the pipeline's Tests tab.
//!
//! One test case per selected job, judged exactly as the exit code judges it: a job that did not
//! pass has a `<failure>` with its status, `failure_reason` and URL (an allowed failure passed,
//! so it fails only under `--strict`); a skipped job is `<skipped/>` under `--allow-skipped` and a
//! failure otherwise; a job still unfinished when the wait ended (timeout, GitLab trouble) fails
//! with its last status. A run whose exit code is not 0 for a reason no job's case shows (a
//! confirming read refused, `--timeout` after every job passed, nothing selected) has one more
//! case in error saying what ended it: the report is green exactly when gljob exits 0. The file
//! is written whole or not at all: to a temporary file beside it, then renamed.

use crate::error::{Error, ExitCode, Result};
use crate::model::{Job, Kind, Status};
use crate::wait::{Judged, Verdict};
use std::fmt::Write as _;
use std::io::Write as _;
use std::path::Path;

/// The report's XML: one test case per selected job, judged as the exit code judged it, and, when
/// the run's exit code is not 0 and no job's case shows why, one more case in error saying what
/// ended the run. `result` is how the command ended, exit code or error: so the report is green
/// exactly when gljob exits 0, whatever came between the verdict and the exit (a confirming read
/// refused, `--timeout`, stdout that could not be written). Every gate's report is made here.
pub fn render(suite: &str, cases: &[Judged], result: &Result<ExitCode>) -> String {
    let exit = match result {
        Ok(code) => *code,
        Err(err) => err.exit_code(),
    };
    let mut failures = 0;
    let mut skipped = 0;
    let mut body = String::new();
    let mut total_time = 0.0;
    for case in cases {
        let time = seconds(case.job.job.duration);
        total_time += time;
        match write_case(&mut body, case, time, exit, result) {
            Counted::Failure => failures += 1,
            Counted::Skipped => skipped += 1,
            Counted::Pass => {}
        }
    }
    let mut errors = 0;
    if let Some(why) = unexplained(exit, result, failures) {
        errors = 1;
        let _ = write!(
            body,
            "    <testcase name=\"verdict\" classname=\"gljob\" time=\"0.000\">\n      \
             <error message=\"{}\" type=\"exit {}\"/>\n    </testcase>\n",
            escape(&why),
            exit.code()
        );
    }
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n\
         <testsuites name=\"gljob\" tests=\"{n}\" failures=\"{failures}\" errors=\"{errors}\" skipped=\"{skipped}\" time=\"{total_time:.3}\">\n  \
         <testsuite name=\"{suite}\" tests=\"{n}\" failures=\"{failures}\" errors=\"{errors}\" skipped=\"{skipped}\" time=\"{total_time:.3}\">\n\
         {body}  </testsuite>\n</testsuites>\n",
        n = cases.len() + errors,
        suite = escape(suite),
    )
}

/// What one job's test case adds to the suite's counts.
enum Counted {
    Pass,
    Failure,
    Skipped,
}

/// Appends one job's test case to `body`, judged as the exit code judged it; `exit` and `result`
/// say how the run ended, which is why a job still unfinished was not judged.
fn write_case(
    body: &mut String,
    case: &Judged,
    time: f64,
    exit: ExitCode,
    result: &Result<ExitCode>,
) -> Counted {
    let job = &case.job.job;
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
    match &case.verdict {
        Verdict::Passed if job.status == Status::Skipped => {
            body.push_str(">\n      <skipped message=\"skipped\"/>\n    </testcase>\n");
            Counted::Skipped
        }
        Verdict::Passed => {
            body.push_str("/>\n");
            Counted::Pass
        }
        Verdict::PassedWithWarning(warning) => {
            let _ = write!(
                body,
                ">\n      <system-out>{}</system-out>\n    </testcase>\n",
                escape(&format!("{warning}; --strict would fail it"))
            );
            Counted::Pass
        }
        Verdict::NotPassed => {
            let _ = write!(
                body,
                ">\n      <failure message=\"{}\" type=\"{}\">{}</failure>\n    </testcase>\n",
                escape(&format!("{} is {}", job.name, job.status)),
                escape(job.status.as_str()),
                escape(&details(job))
            );
            Counted::Failure
        }
        Verdict::NotFinal => {
            let why = match (exit, result) {
                (ExitCode::TimedOut, _) => "still unfinished when --timeout ran out",
                (ExitCode::GitLab, Err(_)) => "still unfinished when GitLab failed the wait",
                (_, Err(_)) => "still unfinished when gljob stopped",
                // Final, yet not judged: the job was replayed and this is its old attempt.
                _ if case.stale || job.status.is_final() => "its new attempt was not seen",
                _ => "not final",
            };
            let _ = write!(
                body,
                ">\n      <failure message=\"{}\" type=\"unfinished\">{}</failure>\n    </testcase>\n",
                escape(&format!("{} is {}: {why}", job.name, job.status)),
                escape(&details(job))
            );
            Counted::Failure
        }
    }
}

/// A failure's text: the job's id, status, `failure_reason` and URL, what a reader of the report
/// needs to find the job.
fn details(job: &Job) -> String {
    let mut text = format!("#{} {}", job.id, job.status);
    if let Some(reason) = &job.failure_reason {
        text.push_str(&format!(" ({reason})"));
    }
    if let Some(url) = &job.web_url {
        text.push_str(&format!(" {url}"));
    }
    text
}

/// Why a run that did not exit 0 did not, when its jobs' cases do not say it: the error that
/// ended it, or the timeout. `None` for exit 0, and for exit 1 with a job that did not pass.
fn unexplained(exit: ExitCode, result: &Result<ExitCode>, failures: usize) -> Option<String> {
    match (exit, result) {
        (ExitCode::Done, _) => None,
        (ExitCode::NotPassed, Ok(_)) if failures > 0 => None,
        (_, Err(err)) => Some(err.message().to_string()),
        (ExitCode::TimedOut, Ok(_)) => {
            Some("--timeout ran out before the verdict was reached".to_string())
        }
        (code, Ok(_)) => Some(format!("gljob ended with exit code {}", code.code())),
    }
}

/// A test case's `time`: GitLab's `duration` when it is one (finite, not negative, below a
/// century), else 0, so the report's times and their sum are always plain finite numbers.
fn seconds(duration: Option<f64>) -> f64 {
    const CENTURY: f64 = 100.0 * 365.25 * 24.0 * 3600.0;
    match duration {
        Some(d) if d > 0.0 && d < CENTURY => d,
        _ => 0.0,
    }
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

    use crate::model::Listed;

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
        let cases = |policy: Policy| -> Vec<Judged> {
            jobs.into_iter()
                .map(|job| Judged {
                    job: job.clone(),
                    verdict: judge(&job.job, policy),
                    below: None,
                    stale: false,
                    wanted: None,
                })
                .collect()
        };
        // The run timed out: the unfinished job fails, and the timeout is said in its own case.
        let xml = render(
            "gljob wait",
            &cases(Policy::default()),
            &Ok(ExitCode::TimedOut),
        );
        assert!(
            xml.contains(r#"tests="6" failures="3" errors="1" skipped="0""#),
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
        assert!(xml.contains(r#"type="exit 124""#), "{xml}");
        let lenient = Policy {
            strict: false,
            allow_skipped: true,
        };
        let judged = cases(lenient);
        let xml = render("gljob wait", &judged, &Ok(crate::wait::exit_code(&judged)));
        assert!(
            xml.contains(r#"failures="2" errors="0" skipped="1""#),
            "{xml}"
        );
        let strict = Policy {
            strict: true,
            allow_skipped: false,
        };
        let judged = cases(strict);
        let xml = render("gljob wait", &judged, &Ok(crate::wait::exit_code(&judged)));
        assert!(xml.contains(r#"failures="4" errors="0""#), "{xml}");
    }

    /// Whatever the exit code, the report agrees: green exactly at 0.
    #[test]
    fn a_report_is_green_exactly_when_the_exit_code_is_0() {
        let ok = listed(r#"{"id":1,"name":"unit","stage":"test","status":"success"}"#);
        let passed = [Judged {
            job: ok,
            verdict: Verdict::Passed,
            below: None,
            stale: false,
            wanted: None,
        }];
        let refused = Error::new(
            crate::error::ErrorKind::Refused {
                status: 401,
                message: "401 Unauthorized".into(),
            },
            "GET /projects/42/pipelines/1000/jobs: 401 Unauthorized",
        );
        let outcomes: Vec<Result<ExitCode>> = vec![
            Ok(ExitCode::Done),
            Ok(ExitCode::NotPassed),
            Ok(ExitCode::TimedOut),
            Err(refused),
            Err(Error::new(crate::error::ErrorKind::WriteUnknown, "unknown")),
            Err(Error::output(std::io::Error::other("disk full"))),
            Err(Error::timed_out("--timeout ran out")),
        ];
        for result in &outcomes {
            for cases in [&passed[..], &[]] {
                let xml = render("gljob wait", cases, result);
                let green = xml.contains(r#"failures="0" errors="0""#);
                assert_eq!(
                    green,
                    matches!(result, Ok(ExitCode::Done)),
                    "{result:?}: {xml}"
                );
            }
        }
    }

    /// GitLab's `duration` as it comes (a float): absurd ones make a time of 0, never `inf`,
    /// `NaN`, a negative number or hundreds of digits.
    #[test]
    fn times_are_finite_whatever_the_duration() {
        for (duration, shown) in [
            (Some(f64::NAN), "0.000"),
            (Some(f64::INFINITY), "0.000"),
            (Some(f64::NEG_INFINITY), "0.000"),
            (Some(-5.0), "0.000"),
            (Some(-0.0), "0.000"),
            (Some(1e308), "0.000"),
            (Some(61.25), "61.250"),
            (None, "0.000"),
        ] {
            assert_eq!(format!("{:.3}", seconds(duration)), shown, "{duration:?}");
        }
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
