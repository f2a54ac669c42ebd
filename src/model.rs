//! What gljob reads out of GitLab's Job and Bridge entities, and the status rules.
//!
//! Only the fields gljob decides on are typed (by serde's derive; the other fields are stepped
//! over); everything else stays in the raw JSON that [`Listed::raw`] keeps, so `--json` and
//! `--field` never lose a field GitLab sends.

use serde::{Deserialize, Deserializer};
use serde_json::value::RawValue;
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

    /// The statuses of jobs that are not finished ([`Status::is_final`] is false), as GitLab's
    /// `scope[]` takes them: every value of `CommitStatus::AVAILABLE_STATUSES`, which `scope` is
    /// validated against on every GitLab gljob supports (`docs/gitlab-behaviour.md` §2.1).
    pub const UNFINISHED: [&'static str; 9] = [
        "created",
        "waiting_for_resource",
        "preparing",
        "waiting_for_callback",
        "pending",
        "running",
        "canceling",
        "manual",
        "scheduled",
    ];

    /// The statuses [`Status::is_final`] holds for, as GitLab's `scope[]` takes them.
    pub const FINISHED: [&'static str; 4] = ["success", "failed", "canceled", "skipped"];

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

impl<'de> Deserialize<'de> for Status {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        String::deserialize(deserializer).map(Status::from)
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Which of a list's jobs a read asks GitLab for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Statuses {
    /// Every job: what a selection and a verdict are read from.
    All,
    /// Only the jobs that are not finished (`scope[]=` each of [`Status::UNFINISHED`]): what a
    /// wait round asks for while nothing it follows has ended. A job missing from such a list
    /// has ended, or is not there at all. In a round's record it stands for any read of some
    /// statuses only: absence from it says nothing.
    Unfinished,
    /// Only the finished jobs (`scope[]=` each of [`Status::FINISHED`]): read when a followed job
    /// left the unfinished ones, to see how it ended without reading every page.
    Finished,
}

/// Builds come from `/pipelines/:id/jobs`, bridges (trigger jobs) only from `/pipelines/:id/bridges`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    Build,
    Bridge,
}

#[derive(Debug, Clone, Deserialize)]
pub struct PipelineRef {
    pub id: u64,
    pub status: Option<Status>,
    /// The project of a downstream pipeline (another project's, for a multi-project trigger).
    pub project_id: Option<u64>,
}

/// The typed part of a Job or Bridge entity. Every field but `id` and `status` may be missing on
/// some GitLab version or payload, so each has a default rather than failing the whole list.
#[derive(Debug, Clone, Deserialize)]
pub struct Job {
    pub id: u64,
    pub status: Status,
    #[serde(default, deserialize_with = "null_as_default")]
    pub name: String,
    #[serde(default, deserialize_with = "null_as_default")]
    pub stage: String,
    #[serde(rename = "ref")]
    pub git_ref: Option<String>,
    #[serde(default, deserialize_with = "null_as_default")]
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
    #[serde(default, deserialize_with = "null_as_default")]
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

/// One job as GitLab sent it: the typed view and the exact bytes.
#[derive(Debug, Clone)]
pub struct Listed {
    pub job: Job,
    pub kind: Kind,
    pub raw: RawJson,
}

impl Listed {
    /// One object GitLab answered with: a list's item, a single job, a write's answer. serde
    /// types the fields [`Job`] has and steps over the others; the object's bytes are kept as
    /// they are. A field given twice, or of a type GitLab never sends, makes it not a job.
    pub fn parse(raw: &RawValue, kind: Kind) -> Result<Self, String> {
        // serde's derive would also take an array of the fields in order; GitLab sends objects.
        if !raw.get().starts_with('{') {
            return Err("not a JSON object".into());
        }
        let job: Job = serde_json::from_str(raw.get()).map_err(|e| e.to_string())?;
        Ok(Listed::from_parts(job, kind, raw.get()))
    }

    /// A job typed already, with the bytes it was typed from.
    pub fn from_parts(job: Job, kind: Kind, raw: &str) -> Self {
        Listed {
            job,
            kind,
            raw: RawJson(raw.into()),
        }
    }
}

/// `null` as the type's default: GitLab sends `null` for a name or flag it does not have.
fn null_as_default<'de, D, T>(deserializer: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Default + Deserialize<'de>,
{
    Ok(Option::<T>::deserialize(deserializer)?.unwrap_or_default())
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
        let unfinished: Vec<&str> = Status::KNOWN
            .iter()
            .filter(|s| !Status::from(s.to_string()).is_final())
            .copied()
            .collect();
        assert_eq!(unfinished, Status::UNFINISHED);
        assert_eq!(finals, Status::FINISHED);
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
                        Listed::parse(&item, kind).unwrap_or_else(|e| panic!("{name}: {e}"));
                    assert!(!listed.job.name.is_empty());
                }
            } else if name == "05" {
                let value: serde_json::Value = serde_json::from_str(raw.get()).unwrap();
                assert_eq!(value["allowed_agents"][0]["id"], 1, "{name}");
            } else {
                let listed =
                    Listed::parse(&raw, Kind::Build).unwrap_or_else(|e| panic!("{name}: {e}"));
                assert!(listed.job.id > 0);
                assert_eq!(listed.raw.get(), text.trim_end(), "{name}: bytes kept");
            }
        }
        let bridges: Vec<Box<RawValue>> = serde_json::from_str(DOC_EXAMPLES[2].1).unwrap();
        let bridge = Listed::parse(&bridges[0], Kind::Bridge).unwrap();
        assert_eq!(bridge.job.downstream_pipeline.unwrap().id, 5);
    }

    #[test]
    fn a_minimal_job_parses_with_defaults() {
        let raw = RawValue::from_string(r#"{"id":1,"status":"running"}"#.into()).unwrap();
        let listed = Listed::parse(&raw, Kind::Build).unwrap();
        assert_eq!(listed.job.id, 1);
        assert!(!listed.job.allow_failure);
        assert!(listed.job.failure_reason.is_none());
    }
}
