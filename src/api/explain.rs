//! GitLab's refusals explained: its own words from the error body, and what to do next, from what
//! GitLab's code does (`docs/gitlab-behaviour.md` §2.4, §3.4).

use super::TokenKind;
use super::route::{Call, Method, Route, TokenRule};
use crate::error::{Error, ErrorKind, clean_snippet};
use serde_json::Value;

/// What GitLab's catch-all route answers for a route this GitLab does not have (`{"error":"404 Not
/// Found"}`), as opposed to a missing record (`{"message":"404 Not found"}`).
/// gljob marks the first with this text, so that a caller can tell them apart.
pub const MISSING_ROUTE: &str = "404 Not Found (this GitLab has no such route)";

/// GitLab's own words from an error body: `message` (a string, or an object on rate limits),
/// or Grape's and Doorkeeper's `error`/`error_description`.
pub fn gitlab_message(body: &[u8]) -> Option<String> {
    let value: Value = serde_json::from_slice(body).ok()?;
    let text = match value.get("message") {
        Some(Value::String(text)) => text.clone(),
        Some(Value::Object(object)) => match object.get("error") {
            Some(Value::String(text)) => text.clone(),
            _ => Value::Object(object.clone()).to_string(),
        },
        Some(other) => other.to_string(),
        None => match (
            value.get("error").and_then(Value::as_str),
            value.get("error_description").and_then(Value::as_str),
        ) {
            (Some(error), Some(description)) => format!("{error}: {description}"),
            (Some(error), None) => error.to_string(),
            _ => return None,
        },
    };
    Some(clean_snippet(text.as_bytes(), 300))
}

/// The error for a non-success answer: GitLab's status and words, and a hint. `root` is the API
/// root the request went to.
pub fn refusal(
    call: &Call,
    root: &str,
    status: u16,
    content_type: &str,
    location: Option<&str>,
    body: &[u8],
    kind: TokenKind,
) -> Error {
    let message = if status == 404 && is_catch_all(body) {
        Some(MISSING_ROUTE.to_string())
    } else {
        gitlab_message(body)
    };
    let quoted = match &message {
        Some(text) => format!("\"{text}\""),
        None if body.is_empty() => "an empty body".to_string(),
        None => format!(
            "{} \"{}\"",
            describe_content_type(content_type),
            clean_snippet(body, 120)
        ),
    };
    if message.is_none()
        && let Some(next) = not_the_api(root, status)
    {
        return Error::new(
            ErrorKind::Refused {
                status,
                message: String::new(),
            },
            format!(
                "{}: {root}{} answered {status}{} with {quoted}, which is not GitLab's API; {next}",
                call.describe(),
                call.path,
                location
                    .map(|l| format!(" (to {})", clean_snippet(l.as_bytes(), 200)))
                    .unwrap_or_default()
            ),
        );
    }
    let text = message.unwrap_or_default();
    let next = hint(call, status, &text, kind, location);
    Error::new(
        ErrorKind::Refused {
            status,
            message: text,
        },
        format!(
            "{}: GitLab answered {status} {quoted}; {next}",
            call.describe()
        ),
    )
}

/// What to do when an answer without one of GitLab's JSON error bodies (every error of the API
/// has one, `docs/gitlab-behaviour.md` §2.4) shows that the request did not reach GitLab's API,
/// but a web server or GitLab's web pages: a 404; or, when the API root lacks `/api/v4`, a
/// redirect too (GitLab's web pages send a request without a session to the sign-in page, §2.4
/// "Outside `/api/v4`").
/// `None` when the answer may be the API's after all.
fn not_the_api(root: &str, status: u16) -> Option<String> {
    let root = root.trim_end_matches('/');
    match status {
        300..=399 | 404 if !root.ends_with("/api/v4") => Some(format!(
            "GitLab's API is under /api/v4: set CI_API_V4_URL (or --api-url) to {root}/api/v4"
        )),
        404 => Some(format!(
            "check that {root} is GitLab's API root (behind a reverse proxy, with the path GitLab \
             is served under, e.g. https://example.com/gitlab/api/v4)"
        )),
        _ => None,
    }
}

/// `{"error":"404 Not Found"}` and nothing else: GitLab's answer for a path no route serves.
fn is_catch_all(body: &[u8]) -> bool {
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(map)) => {
            map.len() == 1 && map.get("error").and_then(Value::as_str) == Some("404 Not Found")
        }
        _ => false,
    }
}

pub fn describe_content_type(content_type: &str) -> String {
    if content_type.is_empty() {
        "a body".to_string()
    } else {
        format!("'{}'", clean_snippet(content_type.as_bytes(), 60))
    }
}

fn hint(
    call: &Call,
    status: u16,
    message: &str,
    kind: TokenKind,
    location: Option<&str>,
) -> String {
    let route = call.route;
    if (300..=399).contains(&status) {
        return format!(
            "gljob does not follow redirects with a token; point CI_API_V4_URL or --api-url at the \
             final address{}",
            location
                .map(|l| format!(" (GitLab pointed to {})", clean_snippet(l.as_bytes(), 200)))
                .unwrap_or_default()
        );
    }
    token_hint(route, status, message, kind).unwrap_or_else(|| other_hint(route, status, message))
}

/// What to do about a refusal of the token itself: a job token the route or the project does not
/// take, a token that is invalid. Tried before [`other_hint`], whose broader arms (any 403, any
/// 404) would also match these.
fn token_hint(route: &Route, status: u16, message: &str, kind: TokenKind) -> Option<String> {
    let refused_job_token = "this GitLab does not accept CI_JOB_TOKEN on this route (pipeline job \
        lists need GitLab 18.0+, trigger jobs 19.0+): set GITLAB_TOKEN to an access token with the \
        read_api scope";
    Some(match (status, kind) {
        // The artifact routes take the job token on every GitLab (docs/gitlab-behaviour.md §11.1).
        (401, TokenKind::Job) if route.download => {
            "CI_JOB_TOKEN is invalid or its job is no longer running (a job token works only while \
             its job runs)"
                .into()
        }
        (404, TokenKind::Job) if route.download && message.contains("Project Not Found") => {
            "the project is not visible to this job: check --project, or its job token allowlist \
             (Settings > CI/CD > Job token permissions) must take this project; or set \
             GITLAB_TOKEN to an access token with read_api"
                .into()
        }
        // Whatever GitLab's words (they changed across versions), a job token refused on an
        // artifact route is the allowlist's doing or the user's role.
        (403, TokenKind::Job) if route.download && !message.contains("token permission") => {
            "the job token was refused: for another project's artifacts, its job token allowlist \
             (Settings > CI/CD > Job token permissions) must take this project; else the user who \
             started this pipeline needs the Reporter role there; or set GITLAB_TOKEN to an access \
             token with read_api"
                .into()
        }
        (403, _) if message.contains("token permission is required") => {
            "the target project's job token permissions (Settings > CI/CD > Job token permissions) \
             do not grant this project what the route needs (named above); or set GITLAB_TOKEN"
                .into()
        }
        (401, TokenKind::Job) if route.token == TokenRule::JobToken => {
            "CI_JOB_TOKEN is invalid or its job is no longer running (a job token works only while \
             its job runs)"
                .into()
        }
        (401, TokenKind::Job) => refused_job_token.into(),
        (404, TokenKind::Job) if message.contains("Project Not Found") => {
            format!("{refused_job_token}; or the project is not visible to this job")
        }
        (401, TokenKind::Access) => {
            "the access token (GITLAB_TOKEN/--token) is invalid, expired or revoked".into()
        }
        _ => return None,
    })
}

/// What to do about any other refusal or failure, by its status and GitLab's message.
fn other_hint(route: &Route, status: u16, message: &str) -> String {
    match status {
        403 if message.contains("insufficient_scope") => format!(
            "the access token lacks the scope this needs: {} needs an access token with the {} scope",
            route.method.as_str(),
            route.scope()
        ),
        403 if message.contains("job token not allowed") => {
            "add this project to the target project's job token allowlist (Settings > CI/CD > Job \
             token permissions), or use GITLAB_TOKEN"
                .into()
        }
        403 => "the token's user lacks the permission for this (reading jobs needs Reporter; \
            play, cancel and retry Developer and access to protected refs; erasing others' jobs \
            Maintainer)"
            .into(),
        404 if message.contains("Project Not Found") => {
            "check CI_PROJECT_ID or --project: the project does not exist or the token's user \
             cannot see it"
                .into()
        }
        404 if route.template.contains(":job_id") => {
            "no such job in this project, or the token's user cannot see it".into()
        }
        404 => "check the API URL, project and pipeline".into(),
        400 => "GitLab refused the request's parameters".into(),
        // docs/gitlab-behaviour.md §4: GitLab may cap offset pagination of a project's jobs.
        405 if message.contains("Offset pagination") => {
            "this GitLab lists at most so many jobs by page; use --limit, or list a pipeline's jobs \
             instead of --project-wide"
                .into()
        }
        429 if route.method == Method::Post => {
            "GitLab is rate-limiting these requests and did not apply this one; try again later"
                .into()
        }
        429 => "GitLab is rate-limiting these requests (the project jobs list allows 600 a \
            minute per user by default); try again later or poll less often"
            .into(),
        500..=599 => "GitLab failed; try again later".into(),
        _ => "unexpected answer".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_of_every_shape_gitlab_sends() {
        assert_eq!(
            gitlab_message(br#"{"message":"403 Forbidden - Job is not retryable"}"#).unwrap(),
            "403 Forbidden - Job is not retryable"
        );
        assert_eq!(
            gitlab_message(
                br#"{"message":{"error":"This endpoint has been requested too many times. Try again later."}}"#
            )
            .unwrap(),
            "This endpoint has been requested too many times. Try again later."
        );
        assert_eq!(
            gitlab_message(br#"{"message":{"base":["is invalid"]}}"#).unwrap(),
            r#"{"base":["is invalid"]}"#
        );
        assert_eq!(
            gitlab_message(br#"{"error":"insufficient_scope","error_description":"The request requires higher privileges than provided by the access token.","scope":"api"}"#).unwrap(),
            "insufficient_scope: The request requires higher privileges than provided by the access token."
        );
        assert_eq!(
            gitlab_message(br#"{"error":"scope does not have a valid value"}"#).unwrap(),
            "scope does not have a valid value"
        );
        assert_eq!(gitlab_message(b"Retry later"), None);
        assert_eq!(gitlab_message(b"<html>502</html>"), None);
    }
}
