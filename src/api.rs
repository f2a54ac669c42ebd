//! The GitLab REST API v4 client: which token each route takes, pagination, retries, and errors
//! that say what GitLab answered and what to do about it.

use crate::config::{CaBundle, Config, Secret, encode_path_segment, uses_tls};
use crate::error::{Error, Result, clean_snippet};
use crate::jitter;
use crate::proxy::ProxyUrl;
use serde_json::Value;
use serde_json::value::RawValue;
use std::io::Read;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use ureq::Body;
use ureq::http::Response;
use ureq::tls::{Certificate, PemItem, RootCerts, TlsConfig};

/// Which token a route accepts. GitLab honours `CI_JOB_TOKEN` only on routes that declare
/// `job_token_allowed`; on every other route the job token is silently ignored and the request
/// is anonymous (`gitlab-behaviour.md` §3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenRule {
    /// `GET /job`, `GET /job/allowed_agents`: the job token names the job, so only it will do.
    JobToken,
    /// The list routes: an access token when there is one, else the job token (pipeline job lists
    /// from GitLab 18.0, bridges from 19.0).
    AccessOrJob,
    /// Single job, trace, play, cancel, retry, erase: GitLab never takes a job token there.
    Access,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    Get,
    Post,
}

impl Method {
    fn as_str(self) -> &'static str {
        match self {
            Method::Get => "GET",
            Method::Post => "POST",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum TokenKind {
    Job,
    Access,
}

impl TokenKind {
    fn header(self) -> &'static str {
        match self {
            TokenKind::Job => "JOB-TOKEN",
            TokenKind::Access => "PRIVATE-TOKEN",
        }
    }
}

/// GitLab clamps `per_page` to 100; asking for the maximum keeps a 1,000-job pipeline at 10 reads.
const PER_PAGE: usize = 100;
/// Lists are at most 100 jobs a page; a body past this is not a jobs page.
const MAX_JSON_BODY: u64 = 64 * 1024 * 1024;
/// Longest wait a `Retry-After` or backoff may impose on one retry.
const MAX_RETRY_DELAY: Duration = Duration::from_secs(60);
/// No retry starts once a request has spent this long, whatever `--retries` allows.
const MAX_RETRY_TOTAL: Duration = Duration::from_secs(180);

pub struct Client {
    agent: ureq::Agent,
    root: String,
    job_token: Option<Secret>,
    access_token: Option<Secret>,
    verbose: bool,
    retries: u32,
    request_timeout: Duration,
    proxy: Option<ProxyUrl>,
}

impl Client {
    /// Builds the client: the proxy chosen from the environment, and the bundled Mozilla roots plus
    /// any CA the job was given. Certificate verification is never turned off.
    pub fn new(config: &Config, verbose: bool, retries: u32) -> Result<Client> {
        let mut builder = ureq::Agent::config_builder()
            .http_status_as_error(false)
            // A redirect would carry the token to wherever GitLab (or a proxy) points; never follow.
            .max_redirects(0)
            // Every wait for the network is bounded, so a silent GitLab or proxy cannot hang a job;
            // the whole exchange is not, so a large log on a slow link is not cut off mid-way.
            .timeout_resolve(Some(config.request_timeout))
            .timeout_connect(Some(config.request_timeout))
            .timeout_recv_response(Some(config.request_timeout))
            .timeout_per_read(Some(config.request_timeout))
            .timeout_per_write(Some(config.request_timeout))
            .user_agent(concat!("gljob/", env!("CARGO_PKG_VERSION")));
        if uses_tls(&config.api_root) {
            builder = builder.tls_config(
                TlsConfig::builder()
                    .root_certs(trusted_roots(&config.extra_cas)?)
                    .build(),
            );
        }
        let proxy = match &config.proxy {
            Some(url) => Some(ureq::Proxy::new(url.as_str()).map_err(|_| {
                Error::usage(format!("the proxy {} is not a usable URL", url.shown()))
            })?),
            None => None,
        };
        let agent = builder.proxy(proxy).build().new_agent();
        Ok(Client {
            agent,
            root: config.api_root.clone(),
            job_token: config.job_token.clone(),
            access_token: config.access_token.clone(),
            verbose,
            retries,
            request_timeout: config.request_timeout,
            proxy: config.proxy.clone(),
        })
    }

    pub fn has_access_token(&self) -> bool {
        self.access_token.is_some()
    }

    /// Fails before any request when the token `rule` needs is missing, saying which one and why.
    pub fn require(&self, rule: TokenRule, method: Method, route: &str) -> Result<()> {
        self.pick(rule, method, route).map(|_| ())
    }

    fn pick(&self, rule: TokenRule, method: Method, route: &str) -> Result<(TokenKind, &Secret)> {
        let access = self.access_token.as_ref().map(|t| (TokenKind::Access, t));
        let job = self.job_token.as_ref().map(|t| (TokenKind::Job, t));
        let scope = if method == Method::Get {
            "read_api"
        } else {
            "api"
        };
        match rule {
            TokenRule::JobToken => job.ok_or_else(|| {
                Error::usage(format!(
                    "{} {route} takes only the job token, and CI_JOB_TOKEN is not set: run this inside \
                     a CI job; from outside, name the job (`gljob job ID`) with GITLAB_TOKEN",
                    method.as_str()
                ))
            }),
            TokenRule::AccessOrJob => access.or(job).ok_or_else(|| {
                Error::usage(format!(
                    "{} {route} needs a token: CI_JOB_TOKEN (GitLab 18.0+ inside a job) or \
                     GITLAB_TOKEN/--token with the {scope} scope",
                    method.as_str()
                ))
            }),
            TokenRule::Access => access.ok_or_else(|| {
                Error::usage(format!(
                    "{} {route} needs an access token: set GITLAB_TOKEN or --token to a personal, \
                     project or group access token with the {scope} scope (GitLab does not accept \
                     CI_JOB_TOKEN on this route)",
                    method.as_str()
                ))
            }),
        }
    }

    /// One JSON object, as GitLab sent it.
    pub fn get_json(&self, route: &str, rule: TokenRule) -> Result<Box<RawValue>> {
        let response = self.send(Method::Get, route, &[], None, rule)?;
        read_json(Method::Get, route, response)
    }

    /// Every page of a list route, moving by `X-Next-Page` on our own API root. GitLab builds its
    /// `Link` header from its configured external URL, which a job may not be able to reach (or
    /// which may be another host altogether), so `Link` is never followed.
    pub fn get_list(
        &self,
        route: &str,
        query: &[(&str, String)],
        rule: TokenRule,
        limit: Option<usize>,
    ) -> Result<Vec<Box<RawValue>>> {
        let mut items: Vec<Box<RawValue>> = Vec::new();
        let mut page: u64 = 1;
        loop {
            let mut page_query: Vec<(&str, String)> = query.to_vec();
            page_query.push(("per_page", PER_PAGE.to_string()));
            page_query.push(("page", page.to_string()));
            let response = self.send(Method::Get, route, &page_query, None, rule)?;
            let next_page = header(&response, "x-next-page");
            let raw = read_json(Method::Get, route, response)?;
            let page_items: Vec<Box<RawValue>> = serde_json::from_str(raw.get()).map_err(|_| {
                Error::gitlab(format!(
                    "GET {route}: GitLab's answer is not a JSON array: {}",
                    clean_snippet(raw.get().as_bytes(), 120)
                ))
            })?;
            let full_page = page_items.len() >= PER_PAGE;
            items.extend(page_items);
            if let Some(limit) = limit
                && items.len() >= limit
            {
                items.truncate(limit);
                return Ok(items);
            }
            page = match next_page.as_deref().map(str::trim) {
                // GitLab sends an empty X-Next-Page on the last page.
                Some("") => return Ok(items),
                Some(text) => match text.parse::<u64>() {
                    Ok(next) if next > page => next,
                    _ => {
                        return Err(Error::gitlab(format!(
                            "GET {route}: GitLab's X-Next-Page '{}' does not follow page {page}",
                            clean_snippet(text.as_bytes(), 40)
                        )));
                    }
                },
                // A proxy that strips headers: a full page may have a successor, a short one not.
                None if full_page => page + 1,
                None => return Ok(items),
            };
        }
    }

    /// A body to stream (job logs), unread.
    pub fn get_body(&self, route: &str, rule: TokenRule) -> Result<Body> {
        Ok(self.send(Method::Get, route, &[], None, rule)?.into_body())
    }

    /// A POST with an optional JSON body. Writes are not idempotent: they are sent again only when
    /// the connection was refused, which proves GitLab never saw them.
    pub fn post(&self, route: &str, json: Option<&[u8]>, rule: TokenRule) -> Result<Box<RawValue>> {
        let response = self.send(Method::Post, route, &[], json, rule)?;
        read_json(Method::Post, route, response)
    }

    fn send(
        &self,
        method: Method,
        route: &str,
        query: &[(&str, String)],
        json: Option<&[u8]>,
        rule: TokenRule,
    ) -> Result<Response<Body>> {
        let (kind, token) = self.pick(rule, method, route)?;
        let url = format!("{}{}{}", self.root, route, encode_query(query));
        let mut attempt: u32 = 0;
        let first_try = Instant::now();
        loop {
            let started = Instant::now();
            let result = match method {
                Method::Get => self
                    .agent
                    .get(&url)
                    .header(kind.header(), token.expose())
                    .call(),
                Method::Post => {
                    let request = self.agent.post(&url).header(kind.header(), token.expose());
                    match json {
                        Some(body) => request
                            .header("Content-Type", "application/json")
                            .send(body),
                        None => request.send_empty(),
                    }
                }
            };
            let may_retry = attempt < self.retries && first_try.elapsed() < MAX_RETRY_TOTAL;
            match result {
                Ok(response) => {
                    let status = response.status().as_u16();
                    self.log(method, &url, &status.to_string(), started);
                    if (200..300).contains(&status) {
                        return Ok(response);
                    }
                    if may_retry && method == Method::Get && matches!(status, 429 | 500 | 502..=504)
                    {
                        let delay = retry_delay(&response, attempt);
                        self.note_retry(method, route, &format!("GitLab answered {status}"), delay);
                        std::thread::sleep(delay);
                        attempt += 1;
                        continue;
                    }
                    return Err(explain_answer(method, route, kind, rule, response));
                }
                Err(err) => {
                    self.log(method, &url, "no answer", started);
                    let never_sent = is_never_sent(&err);
                    if may_retry && (never_sent || (method == Method::Get && is_transient(&err))) {
                        let delay = backoff(attempt);
                        self.note_retry(method, route, &describe_transport(&err), delay);
                        std::thread::sleep(delay);
                        attempt += 1;
                        continue;
                    }
                    return Err(self.explain_transport(method, route, &err));
                }
            }
        }
    }

    fn log(&self, method: Method, url: &str, outcome: &str, started: Instant) {
        if self.verbose {
            note!(
                "gljob: {} {} -> {outcome} ({} ms)",
                method.as_str(),
                redact_url(url),
                started.elapsed().as_millis()
            );
        }
    }

    fn note_retry(&self, method: Method, route: &str, why: &str, delay: Duration) {
        note!(
            "gljob: {} {route}: {why}; retrying in {:.1}s",
            method.as_str(),
            delay.as_secs_f64()
        );
    }

    fn explain_transport(&self, method: Method, route: &str, err: &ureq::Error) -> Error {
        let mut what = describe_transport(err);
        if let Some(proxy) = &self.proxy {
            // Whatever the error says, the proxy's credentials do not leave.
            what = what.replace(proxy.as_str(), proxy.shown());
            what = format!("{what} (through the proxy {})", proxy.shown());
        }
        let next = match err {
            ureq::Error::Timeout(_) => format!(
                "GitLab did not answer within {}s; check the network or proxy, or raise --request-timeout",
                self.request_timeout.as_secs()
            ),
            _ if what.contains("certificate") || what.contains("Certificate") => {
                "the server's TLS certificate is not trusted: give its CA with CI_SERVER_TLS_CA_FILE \
                 or --ca-file"
                    .to_string()
            }
            _ => format!(
                "check the API URL ({}) and the proxy variables",
                redact_url(&self.root)
            ),
        };
        let message = format!(
            "{} {route}: could not reach GitLab: {what}; {next}",
            method.as_str()
        );
        if is_never_sent(err) {
            Error::unreached(message)
        } else {
            Error::gitlab(message)
        }
    }
}

/// Mozilla's roots plus every certificate of the given PEM bundles. This is the only root store:
/// ureq's own bundled copy is not linked (see Cargo.toml), so every https:// root needs it.
fn trusted_roots(bundles: &[CaBundle]) -> Result<RootCerts> {
    let mut roots: Vec<Certificate<'static>> = webpki_root_certs::TLS_SERVER_ROOT_CERTS
        .iter()
        .map(|der| Certificate::from_der(der.as_ref()))
        .collect();
    for bundle in bundles {
        let before = roots.len();
        for item in ureq::tls::parse_pem(&bundle.pem) {
            match item {
                Ok(PemItem::Certificate(cert)) => roots.push(cert),
                Ok(_) => {}
                Err(e) => {
                    return Err(Error::usage(format!(
                        "{}: the CA file is not valid PEM: {e}",
                        bundle.source
                    )));
                }
            }
        }
        if roots.len() == before {
            return Err(Error::usage(format!(
                "{}: the CA file holds no PEM certificate",
                bundle.source
            )));
        }
    }
    Ok(RootCerts::new_with_certs(&roots))
}

/// The routes every command uses, built in one place so the encoding of `:id` is uniform.
pub mod routes {
    use super::encode_path_segment;

    pub fn own_job() -> String {
        "/job".into()
    }

    pub fn allowed_agents() -> String {
        "/job/allowed_agents".into()
    }

    pub fn project_jobs(project: &str) -> String {
        format!("/projects/{project}/jobs")
    }

    pub fn pipeline_jobs(project: &str, pipeline: u64) -> String {
        format!("/projects/{project}/pipelines/{pipeline}/jobs")
    }

    pub fn pipeline_bridges(project: &str, pipeline: u64) -> String {
        format!("/projects/{project}/pipelines/{pipeline}/bridges")
    }

    pub fn job(project: &str, job: u64) -> String {
        format!("/projects/{project}/jobs/{job}")
    }

    /// `action` is one of `trace`, `play`, `cancel`, `retry`, `erase`.
    pub fn job_action(project: &str, job: u64, action: &str) -> String {
        format!(
            "/projects/{project}/jobs/{job}/{}",
            encode_path_segment(action)
        )
    }
}

fn header(response: &Response<Body>, name: &str) -> Option<String> {
    response
        .headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
}

fn read_json(method: Method, route: &str, mut response: Response<Body>) -> Result<Box<RawValue>> {
    let content_type = header(&response, "content-type").unwrap_or_default();
    let bytes = response
        .body_mut()
        .with_config()
        .limit(MAX_JSON_BODY)
        .read_to_vec()
        .map_err(|e| {
            Error::gitlab(format!(
                "{} {route}: reading GitLab's answer failed: {e}",
                method.as_str()
            ))
        })?;
    serde_json::from_slice::<Box<RawValue>>(&bytes).map_err(|_| {
        Error::gitlab(format!(
            "{} {route}: GitLab answered {} with {} that is not JSON: \"{}\"; is CI_API_V4_URL \
             GitLab's API root (…/api/v4)?",
            method.as_str(),
            response.status().as_u16(),
            if content_type.is_empty() {
                "a body".to_string()
            } else {
                format!("'{}'", clean_snippet(content_type.as_bytes(), 60))
            },
            clean_snippet(&bytes, 120)
        ))
    })
}

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

fn explain_answer(
    method: Method,
    route: &str,
    kind: TokenKind,
    rule: TokenRule,
    mut response: Response<Body>,
) -> Error {
    let status = response.status().as_u16();
    let content_type = header(&response, "content-type").unwrap_or_default();
    let location = header(&response, "location");
    let mut body = Vec::new();
    // An error body is read only to quote it; 16 KiB is far more than GitLab's longest.
    let _ = response
        .body_mut()
        .as_reader()
        .take(16 * 1024)
        .read_to_end(&mut body);
    let message = gitlab_message(&body);
    let quoted = match &message {
        Some(text) => format!("\"{text}\""),
        None if body.is_empty() => "an empty body".to_string(),
        None => format!(
            "{} \"{}\"",
            if content_type.is_empty() {
                "a body".to_string()
            } else {
                format!("'{}'", clean_snippet(content_type.as_bytes(), 60))
            },
            clean_snippet(&body, 120)
        ),
    };
    let text = message.clone().unwrap_or_default();
    let hint = hint(
        method,
        route,
        status,
        &text,
        kind,
        rule,
        location.as_deref(),
    );
    Error::answered(
        status,
        text,
        format!(
            "{} {route}: GitLab answered {status} {quoted}; {hint}",
            method.as_str()
        ),
    )
}

/// What to do next, from what GitLab's code does (`gitlab-behaviour.md` §2.4, §3.4).
fn hint(
    method: Method,
    route: &str,
    status: u16,
    message: &str,
    kind: TokenKind,
    rule: TokenRule,
    location: Option<&str>,
) -> String {
    let refused_job_token = "this GitLab does not accept CI_JOB_TOKEN on this route (pipeline job \
        lists need GitLab 18.0+, bridges 19.0+): set GITLAB_TOKEN to an access token with the \
        read_api scope";
    match (status, kind) {
        (300..=399, _) => format!(
            "gljob does not follow redirects with a token; point CI_API_V4_URL or --api-url at the \
             final address{}",
            location
                .map(|l| format!(" (GitLab pointed to {})", redact_url(l)))
                .unwrap_or_default()
        ),
        (401, TokenKind::Job) if rule == TokenRule::JobToken => {
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
        (403, _) if message.contains("insufficient_scope") => format!(
            "the access token lacks the scope this needs: {} needs an access token with the {} scope",
            method.as_str(),
            if method == Method::Get {
                "read_api"
            } else {
                "api"
            }
        ),
        (403, _) if message.contains("job token not allowed") => {
            "add this project to the target project's job token allowlist (Settings > CI/CD > Job \
             token permissions), or use GITLAB_TOKEN"
                .into()
        }
        (403, _) => "the token's user lacks the permission for this (reading jobs needs Reporter; \
            play, cancel and retry Developer and access to protected refs; erasing others' jobs \
            Maintainer)"
            .into(),
        (404, _) if message.contains("Project Not Found") => {
            "check CI_PROJECT_ID or --project: the project does not exist or the token's user \
             cannot see it"
                .into()
        }
        (404, _) if route.contains("/jobs/") => {
            "no such job in this project, or the token's user cannot see it".into()
        }
        (404, _) => "check the API URL, project and pipeline".into(),
        (400, _) => "GitLab refused the request's parameters".into(),
        // gitlab-behaviour.md §4: GitLab may cap offset pagination of a project's jobs.
        (405, _) if message.contains("Offset pagination") => {
            "this GitLab lists at most so many jobs by page; use --limit, or list a pipeline's jobs \
             instead of --project-wide"
                .into()
        }
        (429, _) => "GitLab is rate-limiting these requests (the project jobs list allows 600 a \
            minute per user by default); try again later or poll less often"
            .into(),
        (500..=599, _) => "GitLab failed; try again later".into(),
        _ => "unexpected answer".into(),
    }
}

fn is_never_sent(err: &ureq::Error) -> bool {
    match err {
        ureq::Error::Io(io) => io.kind() == std::io::ErrorKind::ConnectionRefused,
        ureq::Error::ConnectionFailed | ureq::Error::HostNotFound => true,
        _ => false,
    }
}

fn is_transient(err: &ureq::Error) -> bool {
    matches!(
        err,
        ureq::Error::Io(_) | ureq::Error::Timeout(_) | ureq::Error::Protocol(_)
    ) || is_never_sent(err)
}

fn describe_transport(err: &ureq::Error) -> String {
    match err {
        ureq::Error::Io(io) => io.to_string(),
        ureq::Error::Timeout(_) => "timed out".into(),
        ureq::Error::HostNotFound => "host not found".into(),
        other => other.to_string(),
    }
}

/// Exponential backoff with jitter: about 1 s, 2 s, 4 s … capped at [`MAX_RETRY_DELAY`].
fn backoff(attempt: u32) -> Duration {
    let base = Duration::from_millis(1000u64.saturating_mul(1 << attempt.min(6)));
    jitter::spread(base.min(MAX_RETRY_DELAY), 0.25)
}

/// `Retry-After` (seconds or an HTTP date), else `RateLimit-Reset` (a unix time), else backoff.
/// GitLab's own jobs-list limit sends none of them (`gitlab-behaviour.md` §5).
fn retry_delay(response: &Response<Body>, attempt: u32) -> Duration {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs();
    let from_headers = header(response, "retry-after")
        .and_then(|v| {
            v.trim()
                .parse::<u64>()
                .ok()
                .or_else(|| parse_http_date(&v).map(|at| at.saturating_sub(now)))
        })
        .or_else(|| {
            header(response, "ratelimit-reset")
                .and_then(|v| v.trim().parse::<u64>().ok())
                .map(|at| at.saturating_sub(now))
        })
        .map(Duration::from_secs);
    from_headers
        .unwrap_or_else(|| backoff(attempt))
        .min(MAX_RETRY_DELAY)
}

/// Parses the IMF-fixdate form of RFC 9110 (`Sun, 06 Nov 1994 08:49:37 GMT`) into unix seconds.
pub fn parse_http_date(text: &str) -> Option<u64> {
    let parts: Vec<&str> = text.split_whitespace().collect();
    let [_, day, month, year, time, "GMT"] = parts.as_slice() else {
        return None;
    };
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let month = MONTHS.iter().position(|m| m == month)? as i64 + 1;
    let day: i64 = day.parse().ok()?;
    let year: i64 = year.parse().ok()?;
    let hms: Vec<i64> = time
        .split(':')
        .map(|p| p.parse().ok())
        .collect::<Option<_>>()?;
    let [h, m, s] = hms.as_slice() else {
        return None;
    };
    // Days from the civil date (Howard Hinnant's algorithm).
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    u64::try_from(days * 86_400 + h * 3600 + m * 60 + s).ok()
}

/// `?a=1&scope%5B%5D=x`: keys and values percent-encoded, so `scope[]` survives every proxy.
fn encode_query(query: &[(&str, String)]) -> String {
    if query.is_empty() {
        return String::new();
    }
    let pairs: Vec<String> = query
        .iter()
        .map(|(k, v)| format!("{}={}", encode_path_segment(k), encode_path_segment(v)))
        .collect();
    format!("?{}", pairs.join("&"))
}

/// Hides credentials a URL may carry (`user:pass@`, `private_token=`, `job_token=`) before it is
/// printed.
pub fn redact_url(url: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((base, query)) => (base, Some(query)),
        None => (url, None),
    };
    let base = match base.split_once("://") {
        Some((scheme, rest)) => {
            let (authority, path) = match rest.find('/') {
                Some(i) => rest.split_at(i),
                None => (rest, ""),
            };
            match authority.rsplit_once('@') {
                Some((_, host)) => format!("{scheme}://<redacted>@{host}{path}"),
                None => base.to_string(),
            }
        }
        None => base.to_string(),
    };
    match query {
        None => base,
        Some(query) => {
            let pairs: Vec<String> = query
                .split('&')
                .map(|pair| match pair.split_once('=') {
                    Some((key, _))
                        if ["private_token", "job_token", "token", "access_token"]
                            .contains(&key.to_ascii_lowercase().as_str()) =>
                    {
                        format!("{key}=<redacted>")
                    }
                    _ => pair.to_string(),
                })
                .collect();
            format!("{base}?{}", pairs.join("&"))
        }
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

    #[test]
    fn query_encoding_keeps_brackets_and_values_safe() {
        assert_eq!(
            encode_query(&[("scope[]", "running".into()), ("x", "a b&c".into())]),
            "?scope%5B%5D=running&x=a%20b%26c"
        );
        assert_eq!(encode_query(&[]), "");
    }

    #[test]
    fn urls_lose_their_credentials_when_printed() {
        assert_eq!(
            redact_url("http://user:pw@proxy:3128/x?private_token=abc&page=2"),
            "http://<redacted>@proxy:3128/x?private_token=<redacted>&page=2"
        );
        assert_eq!(redact_url("https://h/api/v4/job"), "https://h/api/v4/job");
    }

    #[test]
    fn http_dates() {
        assert_eq!(
            parse_http_date("Sun, 06 Nov 1994 08:49:37 GMT"),
            Some(784_111_777)
        );
        assert_eq!(parse_http_date("yesterday"), None);
    }
}
