//! What gljob reads out of GitLab's Job and Bridge entities, and the status rules.
//!
//! Only the fields gljob decides on are typed; everything else stays in the raw JSON that
//! [`Listed::raw`] keeps, so `--json` and `--field` never lose a field GitLab sends.

use crate::json;
use serde_json::value::RawValue;
use std::borrow::Cow;
use std::fmt;

/// A job status. GitLab has 13 today (`app/models/concerns/ci/has_status.rb`) and added two in recent
/// years, so an unknown string is kept as [`Status::Other`] and treated as not final.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Status {
    Created,
    WaitingForResource,
    Preparing,
    WaitingForCallback,
    Pending,
    Running,
    Success,
    Failed,
    Canceling,
    Canceled,
    Skipped,
    Manual,
    Scheduled,
    Other(String),
}

impl Status {
    pub const KNOWN: [&'static str; 13] = [
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

    pub fn as_str(&self) -> &str {
        match self {
            Status::Created => "created",
            Status::WaitingForResource => "waiting_for_resource",
            Status::Preparing => "preparing",
            Status::WaitingForCallback => "waiting_for_callback",
            Status::Pending => "pending",
            Status::Running => "running",
            Status::Success => "success",
            Status::Failed => "failed",
            Status::Canceling => "canceling",
            Status::Canceled => "canceled",
            Status::Skipped => "skipped",
            Status::Manual => "manual",
            Status::Scheduled => "scheduled",
            Status::Other(other) => other,
        }
    }

    /// GitLab's `COMPLETED_STATUSES`: nothing happens to such a job unless someone retries it.
    /// `manual` is not final: a person may still play it, and waiting for that is a use case.
    pub fn is_final(&self) -> bool {
        matches!(
            self,
            Status::Success | Status::Failed | Status::Canceled | Status::Skipped
        )
    }
}

impl From<String> for Status {
    fn from(text: String) -> Self {
        match text.as_str() {
            "created" => Status::Created,
            "waiting_for_resource" => Status::WaitingForResource,
            "preparing" => Status::Preparing,
            "waiting_for_callback" => Status::WaitingForCallback,
            "pending" => Status::Pending,
            "running" => Status::Running,
            "success" => Status::Success,
            "failed" => Status::Failed,
            "canceling" => Status::Canceling,
            "canceled" => Status::Canceled,
            "skipped" => Status::Skipped,
            "manual" => Status::Manual,
            "scheduled" => Status::Scheduled,
            _ => Status::Other(text),
        }
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Builds come from `/pipelines/:id/jobs`, bridges (trigger jobs) only from `/pipelines/:id/bridges`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Build,
    Bridge,
}

#[derive(Debug, Clone)]
pub struct PipelineRef {
    pub id: u64,
    pub status: Option<Status>,
    /// The project of a downstream pipeline (another project's, for a multi-project trigger).
    pub project_id: Option<u64>,
}

/// The typed part of a Job or Bridge entity. Every field but `id` and `status` may be missing on
/// some GitLab version or payload, so each has a default rather than failing the whole list.
#[derive(Debug, Clone)]
pub struct Job {
    pub id: u64,
    pub status: Status,
    pub name: String,
    pub stage: String,
    pub git_ref: Option<String>,
    pub allow_failure: bool,
    pub duration: Option<f64>,
    pub failure_reason: Option<String>,
    pub web_url: Option<String>,
    pub pipeline: Option<PipelineRef>,
    pub downstream_pipeline: Option<PipelineRef>,
    pub created_at: Option<String>,
    pub started_at: Option<String>,
    pub finished_at: Option<String>,
    pub erased_at: Option<String>,
    /// The job's pipeline is older than the instance's archive setting: it cannot be played or
    /// retried (`docs/gitlab-behaviour.md` §10.3).
    pub archived: bool,
}

/// A pipeline of the tree: its project (as a path segment) and id. A downstream pipeline may be
/// another project's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PipelineAt {
    pub project: String,
    pub id: u64,
}

/// A JSON object's text exactly as GitLab sent it, for `--json` and `--field`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawJson(Box<str>);

impl RawJson {
    pub fn get(&self) -> &str {
        &self.0
    }
}

/// The fields of a job that [`Job`] types, by their JSON keys (the scanner's slots, in order).
const JOB_FIELDS: [(&str, JobField); 16] = [
    ("id", JobField::Id),
    ("status", JobField::Status),
    ("name", JobField::Name),
    ("stage", JobField::Stage),
    ("ref", JobField::Ref),
    ("allow_failure", JobField::AllowFailure),
    ("duration", JobField::Duration),
    ("failure_reason", JobField::FailureReason),
    ("web_url", JobField::WebUrl),
    ("pipeline", JobField::Pipeline),
    ("downstream_pipeline", JobField::DownstreamPipeline),
    ("created_at", JobField::CreatedAt),
    ("started_at", JobField::StartedAt),
    ("finished_at", JobField::FinishedAt),
    ("erased_at", JobField::ErasedAt),
    ("archived", JobField::Archived),
];

#[derive(Debug, Clone, Copy)]
enum JobField {
    Id,
    Status,
    Name,
    Stage,
    Ref,
    AllowFailure,
    Duration,
    FailureReason,
    WebUrl,
    Pipeline,
    DownstreamPipeline,
    CreatedAt,
    StartedAt,
    FinishedAt,
    ErasedAt,
    Archived,
}

/// A job as a list names it: its id, kind, name and stage, the little that selectors look at and
/// messages name, read without typing the rest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Named<'a> {
    pub id: u64,
    pub kind: Kind,
    pub name: Cow<'a, str>,
    pub stage: Cow<'a, str>,
}

impl Named<'_> {
    /// An item of a list page: its id (which must be there, as for a whole job), name and stage.
    /// Plain strings are borrowed from the page.
    pub fn from_item<'a>(item: &json::Item<'a>, kind: Kind) -> Result<Named<'a>, String> {
        fn text<'a>(key: &str, value: &'a str) -> Result<Cow<'a, str>, String> {
            match json::plain_string(value) {
                Some(plain) => Ok(Cow::Borrowed(plain)),
                None => Ok(Cow::Owned(string(key, value)?.unwrap_or_default())),
            }
        }
        let mut named = Named {
            id: 0,
            kind,
            name: Cow::Borrowed(""),
            stage: Cow::Borrowed(""),
        };
        let mut id = None;
        let mut given = 0u32;
        for field in item.fields {
            // As for a whole job: a field given twice has no one meaning.
            if given & (1 << field.slot) != 0 {
                return Err(format!("duplicate field `{}`", field.key));
            }
            given |= 1 << field.slot;
            match JOB_FIELDS.get(field.slot).map(|&(_, which)| which) {
                Some(JobField::Id) => id = Some(unsigned(field.key, field.value)?),
                Some(JobField::Name) => named.name = text(field.key, field.value)?,
                Some(JobField::Stage) => named.stage = text(field.key, field.value)?,
                _ => {}
            }
        }
        named.id = id.flatten().ok_or("missing field `id`")?;
        Ok(named)
    }

    /// The same, owning its name and stage.
    pub fn into_owned(self) -> Named<'static> {
        Named {
            id: self.id,
            kind: self.kind,
            name: Cow::Owned(self.name.into_owned()),
            stage: Cow::Owned(self.stage.into_owned()),
        }
    }
}

/// A JSON integer as an id: `None` for null, an error for anything else.
fn unsigned(key: &str, text: &str) -> Result<Option<u64>, String> {
    match text.parse::<u64>() {
        // `+5` parses in Rust but is not JSON.
        Ok(n) if !text.starts_with('+') => Ok(Some(n)),
        _ => parse(key, text),
    }
}

/// A field's JSON text as `T`: `None` for null.
fn parse<T: serde::de::DeserializeOwned>(key: &str, text: &str) -> Result<Option<T>, String> {
    if text == "null" {
        return Ok(None);
    }
    serde_json::from_str(text)
        .map(Some)
        .map_err(|e| format!("{key}: {e}"))
}

/// A string field. Most are plain and taken as they are; serde_json decodes escapes.
fn string(key: &str, text: &str) -> Result<Option<String>, String> {
    match json::plain_string(text) {
        Some(inner) => Ok(Some(inner.to_string())),
        None => parse(key, text),
    }
}

/// One job as GitLab sent it: the typed view and the exact bytes.
#[derive(Debug, Clone)]
pub struct Listed {
    pub job: Job,
    pub kind: Kind,
    pub raw: RawJson,
}

impl Listed {
    /// One object GitLab answered with (a single job, a write's answer).
    #[allow(clippy::boxed_local)] // serde_json hands out a `Box<RawValue>`; taking it is simplest.
    pub fn parse(raw: Box<RawValue>, kind: Kind) -> Result<Self, String> {
        // Read as a list's item is: one way of typing a job, whichever route it came from.
        let fields = json::fields(raw.get(), &Listed::FIELDS)?;
        Listed::from_item(
            &json::Item {
                text: raw.get(),
                fields: &fields,
            },
            kind,
        )
    }

    /// The names of the fields [`Listed::from_item`] reads, in slot order: the scanner keeps only
    /// these of each job.
    pub const FIELDS: [&'static str; JOB_FIELDS.len()] = {
        let mut names = [""; JOB_FIELDS.len()];
        let mut i = 0;
        while i < names.len() {
            names[i] = JOB_FIELDS[i].0;
            i += 1;
        }
        names
    };

    /// An item of a list page, from the scanner's one pass: only the fields [`Job`] has are
    /// typed, each from its own few bytes; the item's bytes are copied once.
    pub fn from_item(item: &json::Item<'_>, kind: Kind) -> Result<Self, String> {
        fn boolean(key: &str, text: &str) -> Result<bool, String> {
            match text {
                "true" => Ok(true),
                "false" | "null" => Ok(false),
                _ => Err(format!("{key}: '{text}' is not a boolean")),
            }
        }
        fn pipeline(key: &str, text: &str) -> Result<Option<PipelineRef>, String> {
            if text == "null" {
                return Ok(None);
            }
            const ID: usize = 0;
            const STATUS: usize = 1;
            const PROJECT_ID: usize = 2;
            let fields = json::fields(text, &["id", "status", "project_id"])
                .map_err(|e| format!("{key}: {e}"))?;
            let mut pipeline = PipelineRef {
                id: 0,
                status: None,
                project_id: None,
            };
            let mut id = None;
            let mut given = 0u32;
            for field in &fields {
                if given & (1 << field.slot) != 0 {
                    return Err(format!("{key}: duplicate field `{}`", field.key));
                }
                given |= 1 << field.slot;
                let value = field.value;
                match field.slot {
                    ID => id = unsigned(key, value)?,
                    STATUS => pipeline.status = string(key, value)?.map(Status::from),
                    PROJECT_ID => pipeline.project_id = unsigned(key, value)?,
                    _ => {}
                }
            }
            pipeline.id = id.ok_or_else(|| format!("{key}: missing field `id`"))?;
            Ok(Some(pipeline))
        }
        let mut id = None;
        let mut status: Option<String> = None;
        let mut job = Job {
            id: 0,
            status: Status::Created,
            name: String::new(),
            stage: String::new(),
            git_ref: None,
            allow_failure: false,
            duration: None,
            failure_reason: None,
            web_url: None,
            pipeline: None,
            downstream_pipeline: None,
            created_at: None,
            started_at: None,
            finished_at: None,
            erased_at: None,
            archived: false,
        };
        // One look at each field, as serde's derive would, but only at the ones a `Job` has.
        let mut given = 0u32;
        for field in item.fields {
            let (key, text) = (field.key, field.value);
            // A field given twice has no one meaning (serde refuses it in a single job; so does
            // this): the job is not one GitLab would send.
            if given & (1 << field.slot) != 0 {
                return Err(format!("duplicate field `{key}`"));
            }
            given |= 1 << field.slot;
            let Some(&(_, which)) = JOB_FIELDS.get(field.slot) else {
                continue;
            };
            match which {
                JobField::Id => id = unsigned(key, text)?,
                JobField::Status => status = string(key, text)?,
                JobField::Name => job.name = string(key, text)?.unwrap_or_default(),
                JobField::Stage => job.stage = string(key, text)?.unwrap_or_default(),
                JobField::Ref => job.git_ref = string(key, text)?,
                JobField::AllowFailure => job.allow_failure = boolean(key, text)?,
                JobField::Duration => job.duration = parse(key, text)?,
                JobField::FailureReason => job.failure_reason = string(key, text)?,
                JobField::WebUrl => job.web_url = string(key, text)?,
                JobField::Pipeline => job.pipeline = pipeline(key, text)?,
                JobField::DownstreamPipeline => job.downstream_pipeline = pipeline(key, text)?,
                JobField::CreatedAt => job.created_at = string(key, text)?,
                JobField::StartedAt => job.started_at = string(key, text)?,
                JobField::FinishedAt => job.finished_at = string(key, text)?,
                JobField::ErasedAt => job.erased_at = string(key, text)?,
                JobField::Archived => job.archived = boolean(key, text)?,
            }
        }
        job.id = id.ok_or("missing field `id`")?;
        job.status = status.ok_or("missing field `status`")?.into();
        Ok(Listed {
            job,
            kind,
            raw: RawJson(item.text.into()),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_known_status_round_trips_and_unknown_is_kept() {
        for name in Status::KNOWN {
            let status = Status::from(name.to_string());
            assert!(!matches!(status, Status::Other(_)), "{name}");
            assert_eq!(status.as_str(), name);
        }
        let future = Status::from("waiting_for_approval".to_string());
        assert_eq!(future, Status::Other("waiting_for_approval".into()));
        assert!(!future.is_final());
    }

    #[test]
    fn only_completed_statuses_are_final() {
        let finals: Vec<_> = Status::KNOWN
            .iter()
            .filter(|s| Status::from(s.to_string()).is_final())
            .copied()
            .collect();
        assert_eq!(finals, ["success", "failed", "canceled", "skipped"]);
    }

    /// Every example payload of GitLab's Jobs API documentation (`tests/fixtures/jobs-api/`).
    const DOC_EXAMPLES: [(&str, &str); 10] = [
        (
            "01",
            include_str!("../tests/fixtures/jobs-api/01-list-project-jobs.json"),
        ),
        (
            "02",
            include_str!("../tests/fixtures/jobs-api/02-list-pipeline-jobs.json"),
        ),
        (
            "03",
            include_str!("../tests/fixtures/jobs-api/03-list-pipeline-bridges.json"),
        ),
        (
            "04",
            include_str!("../tests/fixtures/jobs-api/04-get-job-token-s-job.json"),
        ),
        (
            "05",
            include_str!("../tests/fixtures/jobs-api/05-get-allowed-agents.json"),
        ),
        (
            "06",
            include_str!("../tests/fixtures/jobs-api/06-get-a-single-job.json"),
        ),
        (
            "07",
            include_str!("../tests/fixtures/jobs-api/07-cancel-a-job.json"),
        ),
        (
            "08",
            include_str!("../tests/fixtures/jobs-api/08-retry-a-job.json"),
        ),
        (
            "09",
            include_str!("../tests/fixtures/jobs-api/09-erase-a-job.json"),
        ),
        (
            "10",
            include_str!("../tests/fixtures/jobs-api/10-play-a-job.json"),
        ),
    ];

    #[test]
    fn every_documented_example_payload_parses() {
        for (name, text) in DOC_EXAMPLES {
            let raw: Box<RawValue> = serde_json::from_str(text).unwrap();
            if text.trim_start().starts_with('[') {
                let items: Vec<Box<RawValue>> = serde_json::from_str(raw.get()).unwrap();
                let kind = if name == "03" {
                    Kind::Bridge
                } else {
                    Kind::Build
                };
                for item in items {
                    let listed =
                        Listed::parse(item, kind).unwrap_or_else(|e| panic!("{name}: {e}"));
                    assert!(!listed.job.name.is_empty());
                }
            } else if name == "05" {
                let value: serde_json::Value = serde_json::from_str(raw.get()).unwrap();
                assert_eq!(value["allowed_agents"][0]["id"], 1, "{name}");
            } else {
                let listed =
                    Listed::parse(raw, Kind::Build).unwrap_or_else(|e| panic!("{name}: {e}"));
                assert!(listed.job.id > 0);
                assert_eq!(listed.raw.get(), text.trim_end(), "{name}: bytes kept");
            }
        }
        let bridges: Vec<Box<RawValue>> = serde_json::from_str(DOC_EXAMPLES[2].1).unwrap();
        let bridge = Listed::parse(bridges[0].clone(), Kind::Bridge).unwrap();
        assert_eq!(bridge.job.downstream_pipeline.unwrap().id, 5);
    }

    #[test]
    fn a_minimal_job_parses_with_defaults() {
        let raw = RawValue::from_string(r#"{"id":1,"status":"running"}"#.into()).unwrap();
        let listed = Listed::parse(raw, Kind::Build).unwrap();
        assert_eq!(listed.job.id, 1);
        assert!(!listed.job.allow_failure);
        assert!(listed.job.failure_reason.is_none());
    }
}
