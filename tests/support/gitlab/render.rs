//! Rendering: jobs and pipelines as GitLab's API entities (they fit `tests/schemas/`).

use super::*;

pub fn timestamp(offset: u64) -> String {
    format!(
        "2026-11-25T10:{:02}:{:02}.000Z",
        (offset / 60) % 60,
        offset % 60
    )
}

/// A Job (or Bridge) entity as GitLab's `API::Entities::Ci::Job` renders it.
pub fn render(job: &Job) -> Value {
    let started = !matches!(
        job.status.as_str(),
        "created"
            | "pending"
            | "manual"
            | "scheduled"
            | "waiting_for_resource"
            | "preparing"
            | "skipped"
    );
    let finished = job.is_final() && job.status != "skipped";
    let mut value = json!({
        "id": job.id,
        "status": job.status,
        "stage": job.stage,
        "name": job.name,
        "ref": "main",
        "tag": false,
        "coverage": null,
        "allow_failure": job.allow_failure,
        "created_at": timestamp(0),
        "started_at": if started { Value::from(timestamp(5)) } else { Value::Null },
        "finished_at": if finished { Value::from(timestamp(65)) } else { Value::Null },
        "erased_at": if job.erased { Value::from(timestamp(70)) } else { Value::Null },
        "duration": if finished {
            json!(60.25)
        } else if started {
            json!(12.5 + job.running_ticks.unwrap_or(0) as f64)
        } else {
            Value::Null
        },
        "queued_duration": if started { json!(5.0) } else { Value::Null },
        "user": {
            "id": 3, "username": "deployer", "name": "Deploy Er", "state": "active", "locked": false,
            "avatar_url": "https://gitlab.example.com/uploads/-/system/user/avatar/3/avatar.png",
            "web_url": "https://gitlab.example.com/deployer", "created_at": "2025-01-01T00:00:00.000Z",
            "bio": "", "location": "", "public_email": null, "linkedin": "", "twitter": "",
            "discord": "", "website_url": "", "organization": "", "job_title": "", "pronouns": null,
            "bot": false, "work_information": null
        },
        "commit": {
            "id": "0ff3ae198f8601a285adcf5c0fff204ee6fba5fd", "short_id": "0ff3ae19",
            "created_at": "2026-11-25T09:59:00.000+01:00", "parent_ids": ["a91957a858320c0e17f3a0eca7cfacbff50ea29a"],
            "title": "Deploy the thing", "message": "Deploy the thing\n", "author_name": "Deploy Er",
            "author_email": "deployer@example.com", "authored_date": "2026-11-25T09:59:00.000+01:00",
            "committer_name": "Deploy Er", "committer_email": "deployer@example.com",
            "committed_date": "2026-11-25T09:59:00.000+01:00", "trailers": {}, "extended_trailers": {},
            "web_url": "https://gitlab.example.com/group/sub/app/-/commit/0ff3ae198f8601a285adcf5c0fff204ee6fba5fd"
        },
        "pipeline": {
            "id": job.pipeline_id, "sha": "0ff3ae198f8601a285adcf5c0fff204ee6fba5fd",
            "ref": "main", "status": "running"
        },
        "web_url": job.web_url.clone().unwrap_or_else(|| format!("https://gitlab.example.com/{PROJECT_PATH}/-/jobs/{}", job.id)),
        "project": { "ci_job_token_scope_enabled": true },
    });
    let map = value.as_object_mut().expect("an object");
    if job.status == "failed" {
        map.insert(
            "failure_reason".into(),
            Value::from(
                job.failure_reason
                    .clone()
                    .unwrap_or_else(|| "script_failure".into()),
            ),
        );
    }
    match job.kind {
        Kind::Bridge => {
            map.insert(
                "downstream_pipeline".into(),
                match job.downstream_pipeline {
                    Some(id) => json!({"id": id, "sha": "0ff3ae198f8601a285adcf5c0fff204ee6fba5fd",
                                       "ref": "main", "status": job.status}),
                    None => Value::Null,
                },
            );
        }
        Kind::Build => {
            let mut artifacts = Vec::new();
            if job.artifacts {
                map.insert(
                    "artifacts_file".into(),
                    json!({"filename": "artifacts.zip", "size": 1000}),
                );
                artifacts.push(json!({"file_type": "archive", "size": 1000, "filename": "artifacts.zip", "file_format": "zip"}));
            }
            if !job.log.is_empty() {
                artifacts.push(json!({"file_type": "trace", "size": job.log.len(), "filename": "job.log", "file_format": null}));
                // GitLab's schema types file_format as a string; the trace's is "raw".
                artifacts.last_mut().expect("pushed")["file_format"] = Value::from("raw");
            }
            map.insert("artifacts".into(), Value::Array(artifacts));
            map.insert(
                "artifacts_expire_at".into(),
                if job.artifacts {
                    Value::from(timestamp(3000))
                } else {
                    Value::Null
                },
            );
            map.insert("tag_list".into(), json!(["docker", "linux"]));
            map.insert("archived".into(), Value::Bool(job.ext.archived));
            if started {
                map.insert("runner".into(), json!({
                    "id": 12, "description": "shared-runner-1", "ip_address": "", "active": true,
                    "is_shared": true, "name": "gitlab-runner", "online": true, "status": "online"
                }));
                map.insert("runner_manager".into(), json!({
                    "id": 21, "system_id": "s_0123456789ab", "version": "18.3.0", "revision": "abcdef12",
                    "platform": "linux", "architecture": "amd64", "created_at": "2026-01-01T00:00:00.000Z",
                    "contacted_at": "2026-11-25T10:00:00.000Z", "ip_address": "", "status": "online"
                }));
            } else {
                map.insert("runner".into(), Value::Null);
                map.insert("runner_manager".into(), Value::Null);
            }
        }
    }
    value
}

// ================================================================================================
// Issue 9: the pipeline tree on GitLab 19 (child and multi-project pipelines behind trigger jobs,
// `/trigger_jobs`, needs-style names), job inputs, `/version`, archived jobs, keyset pages.
// Everything below is additive: the routes above call `tree_route` and `tree_project_route` first,
// and these answer only what they own (returning `None` leaves the request to the routes above).
// ================================================================================================
