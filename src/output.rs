//! What gljob prints on stdout: tables and `key: value` lines for people, GitLab's JSON unchanged,
//! plain `--field` values and dotenv lines for scripts.

use crate::duration::human;
use crate::model::{Kind, Listed};
use crate::say;
use serde_json::Value;
use serde_json::value::RawValue;
use std::io::{self, Write};

/// The output format a command was asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Format {
    Human,
    Json,
    /// `--field PATH`…: one line per object, values tab-separated.
    Fields(Vec<String>),
    /// `--dotenv` (with optional `--field`s choosing the keys).
    Dotenv(Vec<String>),
}

/// A list of jobs in the chosen format.
pub fn jobs(out: &mut dyn Write, format: &Format, jobs: &[&Listed]) -> io::Result<()> {
    match format {
        Format::Human => table(out, jobs),
        Format::Json => json_array(out, jobs.iter().map(|j| j.raw.get())),
        Format::Fields(paths) => {
            for job in jobs {
                fields(out, job.raw.get(), paths)?;
            }
            Ok(())
        }
        Format::Dotenv(paths) => match jobs {
            [one] => dotenv(out, one.raw.get(), paths),
            _ => Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "--dotenv describes exactly one job, and the selectors matched several; select one",
            )),
        },
    }
}

/// One job: `key: value` lines for people, else as [`jobs`] would print a list of one.
pub fn job(out: &mut dyn Write, format: &Format, job: &Listed) -> io::Result<()> {
    match format {
        Format::Human => key_values(out, job),
        Format::Json => writeln!(out, "{}", job.raw.get()),
        _ => jobs(out, format, &[job]),
    }
}

/// Any other JSON object (the allowed agents): pretty JSON for people, raw for `--json`.
pub fn object(out: &mut dyn Write, format: &Format, raw: &RawValue) -> io::Result<()> {
    match format {
        Format::Human => {
            let value: Value = serde_json::from_str(raw.get()).map_err(io::Error::other)?;
            let pretty = serde_json::to_string_pretty(&value).map_err(io::Error::other)?;
            writeln!(out, "{pretty}")
        }
        Format::Json => writeln!(out, "{}", raw.get()),
        Format::Fields(paths) => fields(out, raw.get(), paths),
        Format::Dotenv(paths) => dotenv(out, raw.get(), paths),
    }
}

/// A JSON array of GitLab's objects, byte for byte, however many pages they came from.
pub fn json_array<'a>(out: &mut dyn Write, items: impl Iterator<Item = &'a str>) -> io::Result<()> {
    out.write_all(b"[")?;
    for (i, item) in items.enumerate() {
        if i > 0 {
            out.write_all(b",")?;
        }
        out.write_all(item.as_bytes())?;
    }
    out.write_all(b"]\n")
}

fn table(out: &mut dyn Write, jobs: &[&Listed]) -> io::Result<()> {
    let any_bridge = jobs.iter().any(|j| j.kind == Kind::Bridge);
    let mut header = vec!["ID", "NAME", "STAGE", "STATUS", "DURATION", "ALLOW_FAILURE"];
    if any_bridge {
        header.push("DOWNSTREAM");
    }
    let rows: Vec<Vec<String>> = jobs
        .iter()
        .map(|listed| {
            let job = &listed.job;
            let mut row = vec![
                job.id.to_string(),
                job.name.clone(),
                job.stage.clone(),
                job.status.to_string(),
                job.duration.map(human).unwrap_or_else(|| "-".into()),
                job.allow_failure.to_string(),
            ];
            if any_bridge {
                row.push(downstream(listed).unwrap_or_default());
            }
            row
        })
        .collect();
    let header: Vec<String> = header.iter().map(|h| h.to_string()).collect();
    // Names, stages and statuses come from GitLab: shown, never obeyed (see `say`).
    let rows: Vec<Vec<String>> = rows
        .into_iter()
        .map(|row| row.iter().map(|cell| say::clean(cell)).collect())
        .collect();
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for row in &rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    for row in std::iter::once(&header).chain(rows.iter()) {
        let mut line = String::new();
        for (i, (cell, width)) in row.iter().zip(&widths).enumerate() {
            if i + 1 == row.len() {
                line.push_str(cell);
            } else {
                line.push_str(cell);
                line.push_str(&" ".repeat(width - cell.chars().count() + 2));
            }
        }
        writeln!(out, "{}", line.trim_end())?;
    }
    Ok(())
}

/// What a trigger job's downstream pipeline is, in every human output (the table's `DOWNSTREAM`,
/// `key: value` lines, `bridges --tree`): `pipeline 2000 (running)`; `none yet` while the trigger
/// job may still create it; `none` once it has ended without one (it never will). `None` for a
/// build.
pub fn downstream(listed: &Listed) -> Option<String> {
    let job = &listed.job;
    match &job.downstream_pipeline {
        Some(p) => Some(format!(
            "pipeline {} ({})",
            p.id,
            p.status.as_ref().map(|s| s.as_str()).unwrap_or("?")
        )),
        None if listed.kind == Kind::Build => None,
        None if job.status.is_final() => Some("none".into()),
        None => Some("none yet".into()),
    }
}

fn key_values(out: &mut dyn Write, listed: &Listed) -> io::Result<()> {
    let job = &listed.job;
    let mut lines: Vec<(&str, String)> = vec![
        ("id", job.id.to_string()),
        ("name", job.name.clone()),
        ("stage", job.stage.clone()),
        ("status", job.status.to_string()),
    ];
    if let Some(reason) = &job.failure_reason {
        lines.push(("failure_reason", reason.clone()));
    }
    lines.push(("allow_failure", job.allow_failure.to_string()));
    if let Some(r) = &job.git_ref {
        lines.push(("ref", r.clone()));
    }
    if let Some(p) = &job.pipeline {
        lines.push(("pipeline", p.id.to_string()));
    }
    if let Some(text) = downstream(listed) {
        lines.push(("downstream", text));
    }
    for (key, value) in [
        ("created_at", &job.created_at),
        ("started_at", &job.started_at),
        ("finished_at", &job.finished_at),
        ("erased_at", &job.erased_at),
    ] {
        if let Some(value) = value {
            lines.push((key, value.clone()));
        }
    }
    if let Some(d) = job.duration {
        lines.push(("duration", human(d)));
    }
    if let Some(url) = &job.web_url {
        lines.push(("web_url", url.clone()));
    }
    for (key, value) in lines {
        writeln!(out, "{key}: {}", say::clean(&value))?;
    }
    Ok(())
}

/// Looks a dotted path (`pipeline.id`, `artifacts.0.filename`) up in a JSON value.
pub fn lookup<'a>(value: &'a Value, path: &str) -> Option<&'a Value> {
    path.split('.')
        .try_fold(value, |current, key| match current {
            Value::Object(map) => map.get(key),
            Value::Array(items) => key.parse::<usize>().ok().and_then(|i| items.get(i)),
            _ => None,
        })
}

/// A value as a script wants it: strings bare, null and missing empty, the rest as JSON.
pub fn plain(value: Option<&Value>) -> String {
    match value {
        None | Some(Value::Null) => String::new(),
        Some(Value::String(text)) => text.clone(),
        Some(other) => other.to_string(),
    }
}

/// The value at `path` of the JSON object `raw`, as [`lookup`] finds it.
fn lookup_raw(raw: &str, path: &str) -> io::Result<Option<Value>> {
    let value: Value = serde_json::from_str(raw).map_err(io::Error::other)?;
    Ok(lookup(&value, path).cloned())
}

fn fields(out: &mut dyn Write, raw: &str, paths: &[String]) -> io::Result<()> {
    let mut cells: Vec<String> = Vec::with_capacity(paths.len());
    for path in paths {
        cells.push(single_line(&plain(lookup_raw(raw, path)?.as_ref())));
    }
    writeln!(out, "{}", cells.join("\t"))
}

/// The keys `--dotenv` writes when no `--field` chooses them.
const DOTENV_DEFAULT: [(&str, &str); 8] = [
    ("GLJOB_JOB_ID", "id"),
    ("GLJOB_JOB_NAME", "name"),
    ("GLJOB_JOB_STAGE", "stage"),
    ("GLJOB_JOB_STATUS", "status"),
    ("GLJOB_JOB_URL", "web_url"),
    ("GLJOB_REF", "ref"),
    ("GLJOB_COMMIT_SHA", "commit.id"),
    ("GLJOB_PIPELINE_ID", "pipeline.id"),
];

/// `KEY=VALUE` lines for `artifacts:reports:dotenv`. GitLab's dotenv reader takes one line per
/// variable and no multi-line values, so line breaks are folded into spaces.
fn dotenv(out: &mut dyn Write, raw: &str, paths: &[String]) -> io::Result<()> {
    let pairs: Vec<(String, &str)> = if paths.is_empty() {
        DOTENV_DEFAULT
            .iter()
            .map(|(key, path)| (key.to_string(), *path))
            .collect()
    } else {
        paths
            .iter()
            .map(|path| (dotenv_key(path), path.as_str()))
            .collect()
    };
    for (key, path) in pairs {
        let value = lookup_raw(raw, path)?;
        writeln!(out, "{key}={}", single_line(&plain(value.as_ref())))?;
    }
    Ok(())
}

/// `pipeline.id` → `GLJOB_PIPELINE_ID`: a valid variable name whatever the path holds.
fn dotenv_key(path: &str) -> String {
    let body: String = path
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_uppercase()
            } else {
                '_'
            }
        })
        .collect();
    format!("GLJOB_{body}")
}

/// One line for a script: line breaks and tabs (which separate values) become spaces, and any
/// other control character is shown escaped, never obeyed.
fn single_line(text: &str) -> String {
    // Values a later job reads as variables (dotenv) or a script keeps: no secret of the run in
    // them either, whatever GitLab echoed into a field.
    let redacted = crate::redact::redact(text);
    say::escape_controls(&redacted.replace(['\n', '\r', '\t'], " ")).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn listed(json: &str, kind: Kind) -> Listed {
        Listed::parse(&RawValue::from_string(json.to_string()).unwrap(), kind).unwrap()
    }

    fn render(f: impl FnOnce(&mut Vec<u8>) -> io::Result<()>) -> String {
        let mut out = Vec::new();
        f(&mut out).unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn table_aligns_and_shows_bridges_downstream() {
        let a = listed(
            r#"{"id":7,"name":"rspec 1/2","stage":"test","status":"failed","duration":65.2,"allow_failure":true}"#,
            Kind::Build,
        );
        let b = listed(
            r#"{"id":12,"name":"deploy","stage":"deploy","status":"running","duration":null,"allow_failure":false,"downstream_pipeline":{"id":99,"status":"running"}}"#,
            Kind::Bridge,
        );
        let text = render(|out| jobs(out, &Format::Human, &[&a, &b]));
        assert_eq!(
            text,
            "ID  NAME       STAGE   STATUS   DURATION  ALLOW_FAILURE  DOWNSTREAM\n\
             7   rspec 1/2  test    failed   1m 05s    true\n\
             12  deploy     deploy  running  -         false          pipeline 99 (running)\n"
        );
        // A trigger job without a pipeline: `none yet` while it may create one, `none` once it
        // has ended without one.
        let waiting = listed(
            r#"{"id":13,"name":"docs","stage":"deploy","status":"manual","downstream_pipeline":null}"#,
            Kind::Bridge,
        );
        let ended = listed(
            r#"{"id":14,"name":"e2e","stage":"deploy","status":"failed","downstream_pipeline":null}"#,
            Kind::Bridge,
        );
        assert_eq!(downstream(&waiting).as_deref(), Some("none yet"));
        assert_eq!(downstream(&ended).as_deref(), Some("none"));
        assert_eq!(downstream(&a), None);
        let text = render(|out| jobs(out, &Format::Human, &[&waiting, &ended]));
        assert!(
            text.contains("manual  -         false          none yet\n"),
            "{text}"
        );
        assert!(
            text.contains("failed  -         false          none\n"),
            "{text}"
        );
        let text = render(|out| job(out, &Format::Human, &ended));
        assert!(text.contains("downstream: none\n"), "{text}");
    }

    #[test]
    fn json_keeps_bytes_and_fields_are_plain() {
        let a = listed(
            r#"{"id":1, "name":"a","status":"success","pipeline":{"id":6},"x":{"deep":[1,"two"]},"note":"l1\nl2"}"#,
            Kind::Build,
        );
        assert_eq!(
            render(|out| jobs(out, &Format::Json, &[&a, &a])),
            format!("[{0},{0}]\n", a.raw.get())
        );
        let paths = vec![
            "pipeline.id".to_string(),
            "x.deep.1".into(),
            "missing.key".into(),
            "x".into(),
            "note".into(),
        ];
        assert_eq!(
            render(|out| jobs(out, &Format::Fields(paths), &[&a])),
            "6\ttwo\t\t{\"deep\":[1,\"two\"]}\tl1 l2\n"
        );
    }

    #[test]
    fn dotenv_default_keys_and_chosen_keys() {
        let a = listed(
            r#"{"id":8,"name":"rubocop","stage":"test","status":"running","ref":"main","web_url":"https://e/8","pipeline":{"id":6,"web_url":"https://e/p/6"},"commit":{"id":"0ff3"}}"#,
            Kind::Build,
        );
        let text = render(|out| job(out, &Format::Dotenv(vec![]), &a));
        assert!(
            text.starts_with("GLJOB_JOB_ID=8\nGLJOB_JOB_NAME=rubocop\n"),
            "{text}"
        );
        assert!(text.contains("GLJOB_COMMIT_SHA=0ff3\n"));
        assert!(text.ends_with("GLJOB_PIPELINE_ID=6\n"), "{text}");
        let text = render(|out| job(out, &Format::Dotenv(vec!["pipeline.id".into()]), &a));
        assert_eq!(text, "GLJOB_PIPELINE_ID=6\n");
    }
}
