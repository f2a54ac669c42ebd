//! Property tests of the parsers and output formats, with proptest (seeded, shrinking: a failure
//! prints the smallest payload that breaks it):
//! - a job that fits GitLab's Job schema parses to the values it holds, and keeps its bytes;
//! - no payload, mutated or random, panics a parser or an output format.

use gljob::api::explain::gitlab_message;
use gljob::model::{Kind, Listed, Status};
use gljob::output::{self, Format};
use proptest::prelude::*;
use serde_json::value::RawValue;
use serde_json::{Value, json};

/// Text with the characters that break naive code: quotes, backslashes, control characters,
/// brackets, multi-byte UTF-8, GitLab's instance names.
fn text() -> impl Strategy<Value = String> {
    proptest::collection::vec(
        prop_oneof![
            Just("build"),
            Just(" "),
            Just("test:"),
            Just("*"),
            Just(": [linux, amd64]"),
            Just(" 1/3"),
            Just("é"),
            Just("\u{1F680}"),
            Just("\""),
            Just("\\"),
            Just("\n"),
            Just("\u{0}"),
            Just("\u{1b}[31m"),
            Just("}]"),
        ],
        0..6,
    )
    .prop_map(|pieces| pieces.concat())
}

fn status() -> impl Strategy<Value = String> {
    prop_oneof![
        (0..Status::KNOWN.len()).prop_map(|i| Status::KNOWN[i].to_string()),
        Just("waiting_for_approval".to_string()),
        text(),
    ]
}

/// A job as GitLab's Job schema allows it (`tests/schemas/job.json`): required keys, each of an
/// allowed type, with nested objects the scanner must skip.
fn schema_job() -> impl Strategy<Value = Value> {
    (
        (0u64..1 << 53, status(), text(), text(), text(), any::<bool>()),
        (
            proptest::option::of(0.0f64..100_000.0),
            proptest::option::of(text()),
            any::<bool>(),
            0u64..1 << 53,
            proptest::option::of(text()),
            text(),
        ),
    )
        .prop_map(
            |(
                (id, status, stage, name, git_ref, allow_failure),
                (duration, reason, archived, pipeline, erased, web_url),
            )| {
                let mut job = json!({
                    "id": id,
                    "status": status,
                    "stage": stage,
                    "name": name,
                    "ref": git_ref,
                    "tag": false,
                    "coverage": null,
                    "allow_failure": allow_failure,
                    "created_at": "2026-11-25T10:00:00.000Z",
                    "started_at": null,
                    "finished_at": "2026-11-25T10:01:05.000Z",
                    "erased_at": erased,
                    "duration": duration,
                    "user": {"id": 1, "name": name, "bio": "{[\"", "web_url": ""},
                    "commit": {"id": "abc", "message": "a\n\"quoted\" [x]\\", "parent_ids": ["a", "b"]},
                    "pipeline": {"id": pipeline, "sha": "abc", "ref": "main", "status": "running"},
                    "web_url": web_url,
                    "artifacts": [{"file_type": "trace", "size": 1}],
                    "tag_list": [stage, "x"],
                    "runner": null,
                    "project": {"ci_job_token_scope_enabled": true},
                    "archived": archived
                });
                if let Some(reason) = reason {
                    job["failure_reason"] = json!(reason);
                }
                job
            },
        )
}

/// Byte-level damage: cut, flip, insert structural bytes, delete, duplicate a run.
fn mutated(seed: Vec<u8>) -> impl Strategy<Value = Vec<u8>> {
    proptest::collection::vec((0usize..5, any::<usize>(), any::<u8>(), 0usize..40), 1..5).prop_map(
        move |edits| {
            let mut out = seed.clone();
            for (kind, at, byte, len) in edits {
                if out.is_empty() {
                    out.push(b'{');
                }
                let at = at % out.len();
                match kind {
                    0 => out.truncate(at),
                    1 => out[at] = byte,
                    2 => {
                        const BYTES: &[u8] = b"{}[]\",:0-e\\\xff";
                        out.insert(at, BYTES[byte as usize % BYTES.len()]);
                    }
                    3 => {
                        out.remove(at);
                    }
                    _ => {
                        let end = (at + len).min(out.len());
                        let piece = out[at..end].to_vec();
                        out.splice(at..at, piece);
                    }
                }
            }
            out
        },
    )
}

/// Everything gljob does with a payload it received; none of it may panic.
fn exercise(bytes: &[u8]) {
    let _ = gitlab_message(bytes);
    let Ok(text) = std::str::from_utf8(bytes) else {
        return;
    };
    let Ok(raw) = serde_json::from_str::<Box<RawValue>>(text) else {
        return;
    };
    let _ = output::object(
        &mut Vec::new(),
        &Format::Fields(vec!["pipeline.id".into()]),
        &raw,
    );
    let items: Vec<Box<RawValue>> = serde_json::from_str(raw.get()).unwrap_or_else(|_| vec![raw]);
    for item in items {
        for kind in [Kind::Build, Kind::Bridge] {
            if let Ok(listed) = Listed::parse(&item, kind) {
                for format in [
                    Format::Human,
                    Format::Json,
                    Format::Fields(vec![
                        "id".into(),
                        "runner.description".into(),
                        "x.0.y".into(),
                    ]),
                    Format::Dotenv(vec![]),
                ] {
                    let _ = output::jobs(&mut Vec::new(), &format, &[&listed]);
                    let _ = output::job(&mut Vec::new(), &format, &listed);
                }
            }
        }
    }
}

fn config(cases: u32) -> ProptestConfig {
    ProptestConfig {
        cases,
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

proptest! {
    #![proptest_config(config(400))]

    #[test]
    fn schema_jobs_parse_to_their_values_and_keep_their_bytes(job in schema_job()) {
        let text = job.to_string();
        let raw = RawValue::from_string(text.clone()).unwrap();
        let listed = Listed::parse(&raw, Kind::Build).map_err(TestCaseError::fail)?;
        let parsed = &listed.job;
        prop_assert_eq!(listed.raw.get(), text.as_str(), "the job's bytes are kept");
        prop_assert_eq!(parsed.id, job["id"].as_u64().unwrap());
        prop_assert_eq!(parsed.status.as_str(), job["status"].as_str().unwrap());
        prop_assert_eq!(parsed.name.as_str(), job["name"].as_str().unwrap());
        prop_assert_eq!(parsed.stage.as_str(), job["stage"].as_str().unwrap());
        prop_assert_eq!(parsed.git_ref.as_deref(), job["ref"].as_str());
        prop_assert_eq!(parsed.allow_failure, job["allow_failure"].as_bool().unwrap());
        // serde_json reads a float to within a unit of its last place (without its
        // `float_roundtrip` feature): close enough for a duration shown to the tenth.
        match (parsed.duration, job["duration"].as_f64()) {
            (Some(a), Some(b)) => prop_assert!((a - b).abs() <= b.abs() * 1e-15, "{a} vs {b}"),
            (a, b) => prop_assert_eq!(a, b),
        }
        prop_assert_eq!(parsed.failure_reason.as_deref(), job["failure_reason"].as_str());
        prop_assert_eq!(parsed.web_url.as_deref(), job["web_url"].as_str());
        prop_assert_eq!(parsed.erased_at.as_deref(), job["erased_at"].as_str());
        prop_assert_eq!(parsed.archived, job["archived"].as_bool().unwrap_or(false));
        prop_assert_eq!(parsed.pipeline.as_ref().map(|p| p.id), job["pipeline"]["id"].as_u64());
        exercise(text.as_bytes());
    }

    #[test]
    fn mutated_pages_never_panic(
        bytes in schema_job().prop_flat_map(|job| mutated(Value::Array(vec![job.clone(), job]).to_string().into_bytes()))
    ) {
        exercise(&bytes);
    }
}

proptest! {
    #![proptest_config(config(2000))]

    #[test]
    fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..64)) {
        exercise(&bytes);
    }

    #[test]
    fn error_bodies_never_panic(seed in prop_oneof![
        Just(br#"{"message":{"error":"This endpoint has been requested too many times."}}"#.to_vec()),
        Just(br#"{"error":"insufficient_scope","error_description":"x","scope":"api"}"#.to_vec()),
        Just(b"<html><body>502 Bad Gateway</body></html>".to_vec()),
    ].prop_flat_map(mutated)) {
        exercise(&seed);
    }
}

/// A field given twice has no one meaning: the job is refused.
#[test]
fn a_duplicate_field_is_refused() {
    let single = RawValue::from_string(
        r#"{"id":1,"status":"success","name":"a","status":"failed"}"#.to_string(),
    )
    .unwrap();
    let err = Listed::parse(&single, Kind::Build).unwrap_err();
    assert!(err.contains("duplicate"), "{err}");
}
