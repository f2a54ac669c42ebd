//! The GitLab REST API v4 client: which token each route takes, reads retried within the deadline,
//! writes sent once, lists read as consistent snapshots, and errors that say what GitLab answered.
//!
//! This file holds the [`Client`] and what its callers use; [`transport`] sends one request and
//! retries it, [`paging`] reads a list page by page.

mod download;
pub mod explain;
mod paging;
pub mod route;
mod timing;
mod tls;
mod transport;

pub use download::{Downloaded, MAX_DOWNLOAD};
pub use paging::Consistency;
pub use route::{Call, Method, Route, TokenRule};

use crate::config::{Config, Secret};
use crate::deadline::Deadline;
use crate::error::{Error, Result};
use crate::proxy::ProxyUrl;
use serde_json::value::RawValue;
use std::time::Duration;
use transport::{Failed, parse_json, read_answer};
use ureq::Body;

/// Lists are at most 100 jobs a page; a body past this is not a jobs page.
pub(crate) const MAX_JSON_BODY: u64 = 64 * 1024 * 1024;
/// An error body is read only to quote it; 16 KiB is far more than GitLab's longest.
pub(crate) const MAX_ERROR_BODY: u64 = 16 * 1024;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenKind {
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

pub struct Client {
    agent: ureq::Agent,
    root: String,
    job_token: Option<Secret>,
    access_token: Option<Secret>,
    verbose: bool,
    retries: u32,
    request_timeout: Duration,
    proxy: Option<ProxyUrl>,
    /// The CAs the job was given, for a download redirected to object storage over https.
    extra_cas: Vec<crate::config::CaBundle>,
    deadline: Deadline,
    note: fn(&str),
}

impl Client {
    /// Builds the client: the proxy chosen from the environment, and the bundled Mozilla roots plus
    /// any CA the job was given. Certificate verification is never turned off.
    /// `note` is where the client's own lines go (a retry's reason, `--verbose`'s requests): the
    /// caller's stderr. The client prints nothing itself.
    pub fn new(
        config: &Config,
        verbose: bool,
        retries: u32,
        deadline: Deadline,
        note: fn(&str),
    ) -> Result<Client> {
        let mut builder = ureq::Agent::config_builder()
            .http_status_as_error(false)
            // A redirect would carry the token to wherever GitLab (or a proxy) points; never follow.
            .max_redirects(0)
            // Every wait for the network is bounded, so a silent GitLab or proxy cannot hang a job.
            // The whole exchange is bounded by the deadline, per request (see `exchange`).
            .timeout_resolve(Some(config.request_timeout))
            .timeout_connect(Some(config.request_timeout))
            .timeout_recv_response(Some(config.request_timeout))
            .timeout_per_read(Some(config.request_timeout))
            .timeout_per_write(Some(config.request_timeout))
            // ureq's default buffers are 128 KiB each, zeroed for every connection: most of a
            // single read's instructions. A jobs page streams through 16 KiB just as well.
            .input_buffer_size(16 * 1024)
            .output_buffer_size(16 * 1024)
            .user_agent(concat!("gljob/", env!("CARGO_PKG_VERSION")));
        // The CAs the job was given are read only for an https:// root (a bad CA file does not
        // stop an http:// one); a TLS connection of any other kind (to an https:// proxy) trusts
        // Mozilla's roots. Every TLS connection goes through gljob's own crypto provider.
        let extra_cas: &[_] = if config.api_root.uses_tls() {
            &config.extra_cas
        } else {
            &[]
        };
        builder = builder.tls_config(tls::config(extra_cas)?);
        let proxy = match &config.proxy {
            Some(url) => Some(ureq::Proxy::new(url.as_str()).map_err(|_| {
                Error::usage(format!("the proxy {} is not a usable URL", url.shown()))
            })?),
            None => None,
        };
        let agent = match proxy {
            // The CONNECT exchange bounded as a whole (see `proxy::Connector`).
            Some(proxy) => ureq::Agent::with_parts(
                builder.proxy(Some(proxy)).build(),
                crate::proxy::Connector::default(),
                ureq::unversioned::resolver::DefaultResolver::default(),
            ),
            // Explicitly none: ureq's default reads the proxy variables its own way.
            None => builder.proxy(None).build().new_agent(),
        };
        Ok(Client {
            agent,
            root: config.api_root.as_str().to_string(),
            job_token: config.job_token.clone(),
            access_token: config.access_token.clone(),
            verbose,
            retries,
            request_timeout: config.request_timeout,
            proxy: config.proxy.clone(),
            extra_cas: config.extra_cas.clone(),
            deadline,
            note,
        })
    }

    pub fn has_access_token(&self) -> bool {
        self.access_token.is_some()
    }

    /// Whether `--verbose` was given: the commands say what a round asks for.
    pub fn verbose(&self) -> bool {
        self.verbose
    }

    pub fn deadline(&self) -> &Deadline {
        &self.deadline
    }

    /// Fails before any request when the token `route` needs is missing, saying which one and why.
    pub fn require(&self, route: &Route) -> Result<()> {
        self.pick(route).map(|_| ())
    }

    fn pick(&self, route: &Route) -> Result<(TokenKind, &Secret)> {
        let access = self.access_token.as_ref().map(|t| (TokenKind::Access, t));
        let job = self.job_token.as_ref().map(|t| (TokenKind::Job, t));
        let what = format!("{} {}", route.method.as_str(), route.template);
        let scope = route.scope();
        match route.token {
            TokenRule::JobToken => job.ok_or_else(|| {
                Error::usage(format!(
                    "{what} takes only the job token, and CI_JOB_TOKEN is not set: run this inside \
                     a CI job; from outside, name the job (`gljob job ID`) with GITLAB_TOKEN"
                ))
            }),
            TokenRule::AccessOrJob => access.or(job).ok_or_else(|| {
                Error::usage(format!(
                    "{what} needs a token: CI_JOB_TOKEN (GitLab 18.0+ inside a job) or \
                     GITLAB_TOKEN/--token with the {scope} scope"
                ))
            }),
            TokenRule::Access => access.ok_or_else(|| {
                Error::usage(format!(
                    "{what} needs an access token: set GITLAB_TOKEN or --token to a personal, \
                     project or group access token with the {scope} scope (GitLab does not accept \
                     CI_JOB_TOKEN on this route)"
                ))
            }),
            TokenRule::JobOrAccess => job.or(access).ok_or_else(|| {
                Error::usage(format!(
                    "{what} needs a token: CI_JOB_TOKEN inside a job, or GITLAB_TOKEN/--token with \
                     the {scope} scope"
                ))
            }),
        }
    }

    /// One JSON object, as GitLab sent it. Transient failures, an unreadable or truncated answer
    /// among them, are tried again within `--retries` and the deadline.
    pub fn get_json(&self, call: &Call) -> Result<Box<RawValue>> {
        self.with_retries(call, || {
            let answer = self.exchange(call, &[], None, MAX_JSON_BODY)?;
            Ok(parse_json(call, &answer)?)
        })
    }

    /// A body to stream (job logs), unread. The deadline still bounds reading it.
    pub fn get_stream(&self, call: &Call) -> Result<Body> {
        self.with_retries(call, || {
            let response = self.send(call, &[], None, false)?;
            let status = response.status().as_u16();
            if (200..300).contains(&status) {
                return Ok(response.into_body());
            }
            let answer = read_answer(response, MAX_ERROR_BODY)
                .map_err(|e| Failed::from(self.transport_error(call, &e)))?;
            Err(self.refusal(call, &answer))
        })
    }

    /// A POST with an optional JSON body. Writes are not idempotent: one is sent again only when
    /// the connection was refused, which proves GitLab never saw it. The caller decides, from
    /// [`Error::may_have_applied`], whether to read back.
    pub fn post(&self, call: &Call, json: Option<&[u8]>) -> Result<Box<RawValue>> {
        self.with_retries(call, || {
            let answer = self.exchange(call, &[], json, MAX_JSON_BODY)?;
            Ok(parse_json(call, &answer)?)
        })
    }
}
