//! Property tests of the parsers: random jobs that fit GitLab's Job schema always parse and keep
//! their values; random and mutated payloads never panic any parser or output format. Seeds are
//! fixed, so a failure reproduces.

use crate::api::explain::gitlab_message;
use crate::model::{Kind, Listed, Status};
use crate::output::{self, Format};
use serde_json::value::RawValue;
use serde_json::{Value, json};

/// xorshift64*: small, deterministic, good enough to spread test inputs.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn chance(&mut self) -> bool {
        self.next() & 1 == 1
    }

    fn text(&mut self) -> String {
        const PIECES: [&str; 12] = [
            "build",
            " ",
            "test:",
            "*",
            "[linux, amd64]",
            "1/3",
            "é",
            "\u{1F680}",
            "\"",
            "\\",
            "\n",
            "\u{0}",
        ];
        (0..self.below(5))
            .map(|_| PIECES[self.below(PIECES.len())])
            .collect()
    }

    fn nullable(&mut self, value: Value) -> Value {
        if self.chance() { value } else { Value::Null }
    }
}

/// A job as `tests/schemas/job.json` allows it: required keys, each of an allowed type.
fn schema_job(rng: &mut Rng) -> Value {
    let status = match rng.below(15) {
        13 => "waiting_for_approval".to_string(),
        14 => rng.text(),
        i => Status::KNOWN[i].to_string(),
    };
    let coverage = json!(rng.below(10_000) as f64 / 100.0);
    let duration = json!(rng.below(100_000) as f64 / 7.0);
    let commit = json!({"id": "abc", "short_id": "a", "title": rng.text()});
    let runner = json!({"id": 1, "description": rng.text(), "ip_address": "",
        "active": true, "is_shared": false, "name": null, "online": true, "status": "online"});
    let mut job = json!({
        "id": rng.next() >> 11,
        "status": status,
        "stage": rng.text(),
        "name": rng.text(),
        "ref": rng.text(),
        "tag": rng.chance(),
        "coverage": rng.nullable(coverage),
        "allow_failure": rng.chance(),
        "created_at": "2026-11-25T10:00:00.000Z",
        "started_at": rng.nullable(json!("2026-11-25T10:00:05.000Z")),
        "finished_at": rng.nullable(json!("2026-11-25T10:01:05.000Z")),
        "erased_at": rng.nullable(json!("2026-11-25T10:02:05.000Z")),
        "duration": rng.nullable(duration),
        "queued_duration": rng.nullable(json!(0.5)),
        "user": {"id": 1, "state": "active", "avatar_url": "", "web_url": ""},
        "commit": rng.nullable(commit),
        "pipeline": {"id": rng.next() >> 11, "sha": "abc", "ref": "main", "status": "running"},
        "web_url": rng.text(),
        "artifacts": [],
        "artifacts_expire_at": null,
        "tag_list": [rng.text()],
        "runner": rng.nullable(runner),
        "project": {"ci_job_token_scope_enabled": rng.chance()},
        "archived": rng.chance()
    });
    if job["status"] == "failed" {
        job["failure_reason"] = json!(rng.text());
    }
    job
}

fn mutate(rng: &mut Rng, bytes: &[u8]) -> Vec<u8> {
    let mut out = bytes.to_vec();
    for _ in 0..=rng.below(4) {
        if out.is_empty() {
            out.push(b'{');
        }
        let at = rng.below(out.len());
        match rng.below(5) {
            0 => out.truncate(at),
            1 => out[at] = (rng.next() & 0xff) as u8,
            2 => {
                const BYTES: &[u8] = b"{}[]\",:0-e\\\xff";
                out.insert(at, BYTES[rng.below(BYTES.len())]);
            }
            3 => {
                out.remove(at);
            }
            _ => {
                let end = (at + rng.below(40)).min(out.len());
                let piece = out[at..end].to_vec();
                out.splice(at..at, piece);
            }
        }
    }
    out
}

/// Everything gljob does with a payload it received, none of which may panic.
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

#[test]
fn random_jobs_that_fit_the_schema_parse_and_keep_their_values() {
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    for _ in 0..2_000 {
        let value = schema_job(&mut rng);
        let raw = RawValue::from_string(value.to_string()).unwrap();
        let listed = Listed::parse(raw, Kind::Build).unwrap();
        assert_eq!(listed.job.id, value["id"].as_u64().unwrap());
        assert_eq!(
            listed.job.status.as_str(),
            value["status"].as_str().unwrap()
        );
        assert_eq!(listed.job.name, value["name"].as_str().unwrap());
        assert_eq!(
            listed.job.allow_failure,
            value["allow_failure"].as_bool().unwrap()
        );
        assert_eq!(
            listed.job.failure_reason.as_deref(),
            value.get("failure_reason").and_then(Value::as_str)
        );
        exercise(value.to_string().as_bytes());
    }
}

#[test]
fn mutated_and_random_payloads_never_panic() {
    let mut rng = Rng(0xD1B5_4A32_D192_ED03);
    let mut seeds: Vec<Vec<u8>> = vec![
        br#"{"message":{"error":"This endpoint has been requested too many times."}}"#.to_vec(),
        br#"{"error":"insufficient_scope","error_description":"x","scope":"api"}"#.to_vec(),
        b"<html><body>502 Bad Gateway</body></html>".to_vec(),
    ];
    for _ in 0..20 {
        let job = schema_job(&mut rng);
        seeds.push(job.to_string().into_bytes());
        seeds.push(
            Value::Array(vec![job.clone(), job])
                .to_string()
                .into_bytes(),
        );
    }
    for _ in 0..20_000 {
        let seed = &seeds[rng.below(seeds.len())];
        exercise(&mutate(&mut rng, seed));
    }
    for _ in 0..2_000 {
        let noise: Vec<u8> = (0..rng.below(64))
            .map(|_| (rng.next() & 0xff) as u8)
            .collect();
        exercise(&noise);
    }
}
