//! Property tests of the parsers and output formats, with proptest (seeded, shrinking: a failure
//! prints the smallest payload that breaks it):
//! - a job that fits GitLab's Job schema parses, by the one-pass page scanner as by serde, to the
//!   same values, and keeps its bytes;
//! - the page scanner agrees with serde_json on every array of objects serde_json reads;
//! - no payload, mutated or random, panics a parser or an output format.

use gljob::api::explain::gitlab_message;
use gljob::json;
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
    let _ = json::for_each_item(text, &Listed::FIELDS, |item| {
        let _ = Listed::from_item(item, Kind::Build);
        Ok(())
    });
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
            if let Ok(listed) = Listed::parse(item.clone(), kind) {
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

/// The items the scanner finds in `text`, as (bytes, parsed job).
fn scanned(text: &str) -> Result<Vec<(String, Listed)>, String> {
    let mut found = Vec::new();
    json::for_each_item(text, &Listed::FIELDS, |item| {
        let listed = Listed::from_item(item, Kind::Build)?;
        found.push((item.text.to_string(), listed));
        Ok(())
    })?;
    Ok(found)
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
    fn schema_jobs_parse_the_same_by_scanner_and_by_serde(jobs in proptest::collection::vec(schema_job(), 1..4)) {
        let page = Value::Array(jobs.clone()).to_string();
        let items = scanned(&page).map_err(TestCaseError::fail)?;
        prop_assert_eq!(items.len(), jobs.len());
        for ((bytes, from_scanner), value) in items.iter().zip(&jobs) {
            prop_assert_eq!(bytes, &value.to_string(), "the item's bytes are kept");
            let from_serde = Listed::parse(RawValue::from_string(value.to_string()).unwrap(), Kind::Build)
                .map_err(TestCaseError::fail)?;
            let (a, b) = (&from_scanner.job, &from_serde.job);
            prop_assert_eq!(a.id, value["id"].as_u64().unwrap());
            prop_assert_eq!(a.id, b.id);
            prop_assert_eq!(a.status.as_str(), value["status"].as_str().unwrap());
            prop_assert_eq!(&a.status, &b.status);
            prop_assert_eq!(&a.name, &b.name);
            prop_assert_eq!(&a.stage, &b.stage);
            prop_assert_eq!(&a.git_ref, &b.git_ref);
            prop_assert_eq!(a.allow_failure, b.allow_failure);
            prop_assert_eq!(a.duration, b.duration);
            prop_assert_eq!(&a.failure_reason, &b.failure_reason);
            prop_assert_eq!(&a.web_url, &b.web_url);
            prop_assert_eq!(&a.erased_at, &b.erased_at);
            prop_assert_eq!(a.archived, b.archived);
            prop_assert_eq!(a.pipeline.as_ref().map(|p| p.id), b.pipeline.as_ref().map(|p| p.id));
            prop_assert_eq!(from_scanner.raw.get(), from_serde.raw.get());
            exercise(bytes.as_bytes());
        }
    }

    #[test]
    fn the_scanner_reads_whatever_serde_reads_and_refuses_pages_cut_short(
        bytes in schema_job().prop_flat_map(|job| mutated(Value::Array(vec![job.clone(), job]).to_string().into_bytes()))
    ) {
        exercise(&bytes);
        let Ok(text) = std::str::from_utf8(&bytes) else { return Ok(()); };
        let serde = serde_json::from_str::<Vec<serde_json::Map<String, Value>>>(text);
        let mut ours = Vec::new();
        let scanner = json::for_each_item(text, &Listed::FIELDS, |item| {
            ours.push(item.text.to_string());
            Ok(())
        });
        match &serde {
            Ok(items) => {
                // An array of objects serde_json reads: the scanner finds the same items.
                prop_assert!(scanner.is_ok(), "{scanner:?} for {text}");
                prop_assert_eq!(ours.len(), items.len());
                for (bytes, item) in ours.iter().zip(items) {
                    let reparsed: serde_json::Map<String, Value> = serde_json::from_str(bytes).unwrap();
                    prop_assert_eq!(&reparsed, item);
                }
            }
            // What serde_json refuses, the scanner refuses too: nothing is decided on a page that
            // is not JSON, whichever field the fault is in (numbers too large for a float aside:
            // serde_json refuses them, the scanner steps over them as JSON's grammar allows).
            Err(e) if !e.to_string().contains("number out of range") => {
                prop_assert!(scanner.is_err(), "the scanner read what serde_json refuses ({e}): {text}");
            }
            Err(_) => {}
        }
        if text.trim_end().len() < text.len() || !text.trim_end().ends_with(']') {
            // Cut before its closing bracket: never accepted.
            prop_assert!(scanner.is_err() || text.trim_end().ends_with(']'));
        }
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

/// A field given twice has no one meaning: the scanner refuses the job, as serde does.
#[test]
fn a_duplicate_field_is_refused_by_both_parsers() {
    let page = r#"[{"id":1,"status":"success","name":"a","status":"failed"}]"#;
    let mut results = Vec::new();
    json::for_each_item(page, &Listed::FIELDS, |item| {
        results.push(Listed::from_item(item, Kind::Build).map(|_| ()));
        Ok(())
    })
    .unwrap();
    assert!(results[0].as_ref().is_err_and(|e| e.contains("duplicate")));
    let single = RawValue::from_string(page[1..page.len() - 1].to_string()).unwrap();
    assert!(Listed::parse(single, Kind::Build).is_err());
}
