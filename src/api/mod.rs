//! The GitLab REST API v4 client: which token each route takes, reads retried within the deadline,
//! writes sent once, lists read as consistent snapshots, and errors that say what GitLab answered.

pub mod explain;
mod pages;
pub mod route;
mod timing;
mod tls;

pub use route::{Call, Method, Route, TokenRule};

use crate::config::{Config, Secret};
use crate::deadline::Deadline;
use crate::error::{Error, ErrorKind, Result, clean_snippet};
use crate::model::{Kind, Listed, Named};
use crate::proxy::ProxyUrl;
use crate::say;
use serde_json::value::RawValue;
use std::collections::HashSet;
use std::io::Read;
use std::time::{Duration, Instant};
use ureq::Body;
use ureq::http::Response;
use ureq::tls::TlsConfig;

/// GitLab clamps `per_page` to 100; asking for the maximum keeps a 1,000-job pipeline at 10 reads.
const PER_PAGE: usize = 100;
/// A list never takes more pages than this (50,000 jobs), whatever the server's headers say: a
/// server that ignores `page` must not make gljob read forever.
const MAX_PAGES: u64 = 500;
/// How many times a list that changed while it was read is read again before the read fails
/// (as a passing failure: a wait tries again next round).
const SNAPSHOT_TRIES: u32 = 3;
/// Lists are at most 100 jobs a page; a body past this is not a jobs page.
const MAX_JSON_BODY: u64 = 64 * 1024 * 1024;
/// An error body is read only to quote it; 16 KiB is far more than GitLab's longest.
const MAX_ERROR_BODY: u64 = 16 * 1024;

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

/// How a list is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Consistency {
    /// For verdicts and selections: a list that changed between its pages (an id on two pages,
    /// `X-Total` moved, fewer or more items than `X-Total`) is read again from page 1.
    Snapshot,
    /// For showing a busy project's jobs: an id seen twice is shown once.
    Listing,
}

/// One answer, read whole.
struct Answer {
    status: u16,
    headers: ureq::http::HeaderMap,
    body: Vec<u8>,
}

impl Answer {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

/// A failed exchange, and how long GitLab asked us to wait before the next (`Retry-After`).
struct Failed {
    error: Error,
    retry_after: Option<Duration>,
}

impl From<Error> for Failed {
    fn from(error: Error) -> Self {
        Failed {
            error,
            retry_after: None,
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
    deadline: Deadline,
    /// Pages read before, not scanned again while their bytes stay the same.
    pages: pages::Pages,
}

impl Client {
    /// Builds the client: the proxy chosen from the environment, and the bundled Mozilla roots plus
    /// any CA the job was given. Certificate verification is never turned off.
    pub fn new(config: &Config, verbose: bool, retries: u32, deadline: Deadline) -> Result<Client> {
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
        if config.api_root.uses_tls() {
            builder = builder.tls_config(
                TlsConfig::builder()
                    .root_certs(tls::trusted_roots(&config.extra_cas)?)
                    .build(),
            );
        }
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
            deadline,
            pages: pages::Pages::default(),
        })
    }

    pub fn has_access_token(&self) -> bool {
        self.access_token.is_some()
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

    /// Every page of a list route, moving by `X-Next-Page` on our own API root. GitLab builds its
    /// `Link` header from its configured external URL, which a job may not be able to reach (or
    /// which may be another host altogether), so `Link` is never followed.
    pub fn get_list(
        &self,
        call: &Call,
        query: &[(&str, String)],
        kind: Kind,
        consistency: Consistency,
        limit: Option<usize>,
    ) -> Result<Vec<Listed>> {
        self.get_kept(call, query, kind, consistency, limit, None)
            .map(|listing| listing.whole)
    }

    /// [`Client::get_list`], typing and keeping whole only the items `keep` asks for; the others
    /// are still counted and their ids checked, as every snapshot's are.
    pub fn get_kept(
        &self,
        call: &Call,
        query: &[(&str, String)],
        kind: Kind,
        consistency: Consistency,
        limit: Option<usize>,
        keep: Option<&Keep<'_>>,
    ) -> Result<Listing> {
        let mut tries = 1;
        loop {
            match self.read_pages(call, query, kind, consistency, limit, keep) {
                Err(err) if *err.kind() == ErrorKind::Inconsistent && tries < SNAPSHOT_TRIES => {
                    tries += 1;
                    if self.verbose {
                        say::line(&format!("gljob: {}; reading it again", err.message()));
                    }
                    self.deadline.check(&call.describe())?;
                }
                other => return other,
            }
        }
    }

    fn read_pages(
        &self,
        call: &Call,
        query: &[(&str, String)],
        kind: Kind,
        consistency: Consistency,
        limit: Option<usize>,
        keep: Option<&Keep<'_>>,
    ) -> Result<Listing> {
        let mut listing = Listing::default();
        // Every item's id, kept or not: a snapshot is about the whole list.
        let mut seen = Ids::default();
        let mut first_total: Option<u64> = None;
        let mut page: u64 = 1;
        loop {
            let mut page_query: Vec<(&str, String)> = query.to_vec();
            page_query.push(("per_page", PER_PAGE.to_string()));
            page_query.push(("page", page.to_string()));
            let (answer, page_items) = self.get_page(call, &page_query, kind, keep)?;
            let total = header_number(&answer, "x-total");
            let total_pages = header_number(&answer, "x-total-pages");
            if page == 1 {
                first_total = total;
            } else if consistency == Consistency::Snapshot && total != first_total {
                return Err(inconsistent(
                    call,
                    &format!(
                        "X-Total went from {} to {} between pages",
                        show(first_total),
                        show(total)
                    ),
                ));
            }
            let full_page = page_items.len() >= PER_PAGE;
            for item in page_items {
                if !seen.insert(item.id()) {
                    match consistency {
                        Consistency::Snapshot => {
                            return Err(inconsistent(
                                call,
                                &format!("id {} was listed on two pages", item.id()),
                            ));
                        }
                        Consistency::Listing => continue,
                    }
                }
                match item {
                    Entry::Whole(listed) => listing.whole.push(*listed),
                    Entry::Named(named) => listing.named.push(*named),
                    Entry::Counted(_) => {}
                }
            }
            if let Some(limit) = limit
                && listing.whole.len() >= limit
            {
                listing.whole.truncate(limit);
                return Ok(listing);
            }
            let next = match answer.header("x-next-page").map(str::trim) {
                // GitLab sends an empty X-Next-Page on the last page.
                Some("") => None,
                Some(text) => match text.parse::<u64>() {
                    Ok(next) if next > page => Some(next),
                    _ => {
                        return Err(Error::unreadable(format!(
                            "{}: GitLab's X-Next-Page '{}' does not follow page {page}",
                            call.describe(),
                            clean_snippet(text.as_bytes(), 40)
                        )));
                    }
                },
                // A proxy that strips headers: a full page may have a successor, a short one not,
                // and never past the page count GitLab gave.
                None if full_page && total_pages.is_none_or(|pages| page < pages) => Some(page + 1),
                None => None,
            };
            match next {
                None => break,
                Some(next) if next > MAX_PAGES => {
                    return Err(Error::unreadable(format!(
                        "{}: the list goes on past {MAX_PAGES} pages of {PER_PAGE}; gljob stops \
                         there (is the server ignoring `page`?)",
                        call.describe()
                    )));
                }
                Some(next) => page = next,
            }
        }
        if consistency == Consistency::Snapshot
            && let Some(total) = first_total
            && total != seen.len() as u64
        {
            return Err(inconsistent(
                call,
                &format!("X-Total said {total} but {} were listed", seen.len()),
            ));
        }
        Ok(listing)
    }

    /// Every page of `GET /projects/:id/jobs` by keyset pagination (`docs/gitlab-behaviour.md` §4):
    /// no offset to cap, and no page that shifts while a busy project gains jobs. GitLab puts the
    /// next page's cursor only in the `Link` header, whose URL names GitLab's configured host: the
    /// cursor is taken from it and sent to our own API root, never to that host. `Ok(None)` when
    /// this GitLab does not offer keyset here (405), for the caller to fall back to offsets.
    pub fn get_keyset(
        &self,
        call: &Call,
        query: &[(&str, String)],
        limit: Option<usize>,
    ) -> Result<Option<Vec<Listed>>> {
        let mut items: Vec<Listed> = Vec::new();
        let mut seen = Ids::default();
        let mut cursor: Option<String> = None;
        let mut cursors_seen: HashSet<String> = HashSet::new();
        for page in 1..=MAX_PAGES {
            let mut page_query: Vec<(&str, String)> = query.to_vec();
            page_query.extend([
                ("pagination", "keyset".to_string()),
                ("per_page", PER_PAGE.to_string()),
                ("order_by", "id".to_string()),
                ("sort", "desc".to_string()),
            ]);
            if let Some(cursor) = &cursor {
                page_query.push(("cursor", cursor.clone()));
            }
            let (answer, page_items) = match self.get_page(call, &page_query, Kind::Build, None) {
                Ok(found) => found,
                Err(err) if page == 1 && err.http_status() == Some(405) => return Ok(None),
                Err(err) => return Err(err),
            };
            for item in page_items {
                // Keyset pages do not shift, but a job seen twice is shown once all the same.
                if !seen.insert(item.id()) {
                    continue;
                }
                if let Entry::Whole(listed) = item {
                    items.push(*listed);
                }
            }
            if let Some(limit) = limit
                && items.len() >= limit
            {
                items.truncate(limit);
                return Ok(Some(items));
            }
            match answer.header("link").and_then(next_cursor) {
                // A cursor seen before would go round in a loop.
                Some(next) if cursors_seen.insert(next.clone()) => cursor = Some(next),
                Some(_) => {
                    return Err(Error::unreadable(format!(
                        "{}: GitLab's next-page Link repeats a cursor already used",
                        call.describe()
                    )));
                }
                None => return Ok(Some(items)),
            }
        }
        Err(Error::unreadable(format!(
            "{}: the list goes on past {MAX_PAGES} pages of {PER_PAGE}; gljob stops there",
            call.describe()
        )))
    }

    /// One page of a list and the answer's headers; an unreadable page is retried like a 5xx.
    fn get_page(
        &self,
        call: &Call,
        query: &[(&str, String)],
        kind: Kind,
        keep: Option<&Keep<'_>>,
    ) -> Result<(Answer, Vec<Entry>)> {
        self.with_retries(call, || {
            let answer = self.exchange(call, query, None, MAX_JSON_BODY)?;
            let entries = match keep.and_then(|keep| Some((keep, keep.remember.as_deref()?))) {
                // The items of the page that did not change since its last read with a choice
                // to remember are not scanned again (`pages`).
                Some((keep, choice)) => {
                    let request = format!("{}{}", call.path, encode_query(query));
                    self.pages.read(request, keep, choice, kind, |reading| {
                        scan_page(call, &answer, reading)
                    })?
                }
                None => {
                    let mut reading = pages::Reading::new(keep, kind, None, None);
                    scan_page(call, &answer, &mut reading)?;
                    reading.entries()
                }
            };
            Ok((answer, entries))
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

    /// Runs `exchange` until it succeeds, a failure is final, `--retries` are spent or the
    /// deadline comes. Reads are retried on passing failures; writes only when never sent.
    fn with_retries<T>(
        &self,
        call: &Call,
        mut exchange: impl FnMut() -> std::result::Result<T, Failed>,
    ) -> Result<T> {
        let first_try = Instant::now();
        let mut attempt: u32 = 0;
        loop {
            self.deadline.check(&call.describe())?;
            let failed = match exchange() {
                Ok(value) => return Ok(value),
                Err(failed) => failed,
            };
            let error = failed.error;
            if self.deadline.expired() && *error.kind() != ErrorKind::Usage {
                // Whatever was under way was cut by the deadline; a write's outcome stays unknown
                // to the caller through may_have_applied.
                return Err(match error.kind() {
                    ErrorKind::NoAnswer | ErrorKind::TimedOut => {
                        self.deadline.exceeded(&call.describe())
                    }
                    _ => error,
                });
            }
            let retryable = if call.route.writes() {
                *error.kind() == ErrorKind::Unreachable
            } else {
                error.is_transient()
            };
            if !retryable
                || attempt >= self.retries
                || first_try.elapsed() >= timing::MAX_RETRY_TOTAL
            {
                return Err(error);
            }
            let delay = failed
                .retry_after
                .unwrap_or_else(|| timing::backoff(attempt));
            if let Some(left) = self.deadline.remaining()
                && delay >= left
            {
                return Err(Error::timed_out(format!(
                    "{}; the next try would be in {:.1}s, past --timeout",
                    error.message(),
                    delay.as_secs_f64()
                )));
            }
            say::line(&format!(
                "gljob: {}; retrying in {:.1}s",
                error.message(),
                delay.as_secs_f64()
            ));
            self.deadline.sleep(delay);
            attempt += 1;
        }
    }

    /// One request and its whole answer; a non-success status is a [`Failed`] with GitLab's words.
    fn exchange(
        &self,
        call: &Call,
        query: &[(&str, String)],
        json: Option<&[u8]>,
        limit: u64,
    ) -> std::result::Result<Answer, Failed> {
        let response = self.send(call, query, json, true)?;
        let answer = read_answer(response, limit)
            .map_err(|e| Failed::from(self.transport_error(call, &e)))?;
        if (200..300).contains(&answer.status) {
            return Ok(answer);
        }
        Err(self.refusal(call, &answer))
    }

    fn refusal(&self, call: &Call, answer: &Answer) -> Failed {
        let retry_after = matches!(answer.status, 429 | 503).then(|| {
            timing::retry_delay(
                answer.header("retry-after"),
                answer.header("ratelimit-reset"),
                0,
            )
        });
        let kind = self.pick(call.route).map_or(TokenKind::Access, |(k, _)| k);
        Failed {
            error: explain::refusal(
                call,
                &self.root,
                answer.status,
                answer.header("content-type").unwrap_or_default(),
                answer.header("location"),
                &answer.body,
                kind,
            ),
            retry_after,
        }
    }

    /// Sends one request. The deadline bounds all of it, answer body included (ureq's global
    /// timeout goes on while the body is read).
    /// `whole`: the answer is read whole (JSON) and bounded as a whole, not only while silent: a
    /// server trickling a byte at a time cannot hold a command without `--timeout` (a write
    /// among them) for long. A log streamed by `trace` is bounded only by the deadline.
    fn send(
        &self,
        call: &Call,
        query: &[(&str, String)],
        json: Option<&[u8]>,
        whole: bool,
    ) -> std::result::Result<Response<Body>, Failed> {
        let (kind, token) = self.pick(call.route)?;
        let url = format!("{}{}{}", self.root, call.path, encode_query(query));
        let started = Instant::now();
        let global = self.deadline.remaining();
        let per_call = whole.then(|| self.request_timeout.saturating_mul(4));
        let result = match call.route.method {
            Method::Get => self
                .agent
                .get(&url)
                .header(kind.header(), token.expose())
                .config()
                .timeout_global(global)
                .timeout_per_call(per_call)
                .build()
                .call(),
            Method::Post => {
                let request = self
                    .agent
                    .post(&url)
                    .header(kind.header(), token.expose())
                    .config()
                    .timeout_global(global)
                    .timeout_per_call(per_call)
                    .build();
                match json {
                    Some(body) => request
                        .header("Content-Type", "application/json")
                        .send(body),
                    None => request.send_empty(),
                }
            }
        };
        match result {
            Ok(response) => {
                self.log(call, &response.status().as_u16().to_string(), started);
                Ok(response)
            }
            Err(err) => {
                self.log(call, "no answer", started);
                Err(Failed::from(self.transport_error(call, &err)))
            }
        }
    }

    fn log(&self, call: &Call, outcome: &str, started: Instant) {
        if self.verbose {
            say::line(&format!(
                "gljob: {} {}{} -> {outcome} ({} ms)",
                call.route.method.as_str(),
                self.root,
                call.path,
                started.elapsed().as_millis()
            ));
        }
    }

    fn transport_error(&self, call: &Call, err: &ureq::Error) -> Error {
        let mut what = describe_transport(err);
        if let Some(proxy) = &self.proxy {
            // Whatever the error says, the proxy's credentials do not leave.
            what = what.replace(proxy.as_str(), proxy.shown());
            what = format!("{what} (through the proxy {})", proxy.shown());
        }
        let kind = if is_never_sent(err) {
            ErrorKind::Unreachable
        } else if self.deadline.expired() {
            ErrorKind::TimedOut
        } else {
            ErrorKind::NoAnswer
        };
        let next = match err {
            ureq::Error::Timeout(_) => format!(
                "GitLab did not answer within {}s; check the network or proxy, or raise \
                 --request-timeout",
                self.request_timeout.as_secs_f64()
            ),
            _ if what.contains("certificate") || what.contains("Certificate") => {
                "the server's TLS certificate is not trusted: give its CA with CI_SERVER_TLS_CA_FILE \
                 or --ca-file"
                    .to_string()
            }
            _ => format!("check the API URL ({}) and the proxy variables", self.root),
        };
        Error::new(
            kind,
            format!(
                "{}: could not reach GitLab: {what}; {next}",
                call.describe()
            ),
        )
    }
}

/// The `cursor` of the `rel="next"` URL of a `Link` header, decoded.
fn next_cursor(link: &str) -> Option<String> {
    link.split(',').find_map(|part| {
        let (url, params) = part.split_once(';')?;
        if !params
            .split(';')
            .any(|p| matches!(p.trim(), "rel=\"next\"" | "rel=next"))
        {
            return None;
        }
        let url = url.trim().trim_start_matches('<').trim_end_matches('>');
        let (_, query) = url.split_once('?')?;
        query.split('&').find_map(|pair| {
            let (key, value) = pair.split_once('=')?;
            (key == "cursor").then(|| {
                percent_encoding::percent_decode_str(value)
                    .decode_utf8_lossy()
                    .into_owned()
            })
        })
    })
}

fn inconsistent(call: &Call, why: &str) -> Error {
    Error::new(
        ErrorKind::Inconsistent,
        format!(
            "{}: the list changed while it was read page by page ({why})",
            call.describe()
        ),
    )
}

fn show(number: Option<u64>) -> String {
    number.map_or_else(|| "none".into(), |n| n.to_string())
}

fn header_number(answer: &Answer, name: &str) -> Option<u64> {
    answer.header(name).and_then(|v| v.trim().parse().ok())
}

/// Which items of a list [`Client::get_kept`] types and keeps whole: a round over a 1,000-job
/// pipeline types the few jobs it follows, not all of them, and keeps nothing of the others.
pub struct Keep<'k> {
    /// Whether an item, known by its id, name and stage, is typed and kept whole.
    pub whole: Box<dyn Fn(&Named<'_>) -> bool + 'k>,
    /// Whether the other items are kept by their id, name and stage (for messages that list what
    /// a pipeline holds), or only counted.
    pub named: bool,
    /// What this choice is, when its pages are to be remembered (a wait round's: the names it
    /// keeps; the selection's: [`Keep::SELECTION`]): a page whose bytes did not change since it
    /// was read with the same choice is not scanned again.
    pub remember: Option<String>,
}

impl Keep<'_> {
    /// The selection's choice: what it kept serves the first round too (see `pages`). No list of
    /// names reads so (those begin with a length).
    pub const SELECTION: &'static str = "\u{0}selection";
}

/// A set of job ids. Ids are their own hash, mixed by one multiplication: SipHash, std's
/// default, guards against keys chosen to collide, which ids that GitLab counts up are not, and
/// costs a round a tenth of what the rest of it costs.
pub(crate) type Ids = HashSet<u64, std::hash::BuildHasherDefault<IdHasher>>;

#[derive(Default)]
pub(crate) struct IdHasher(u64);

impl std::hash::Hasher for IdHasher {
    fn write(&mut self, bytes: &[u8]) {
        for &byte in bytes {
            self.write_u64(u64::from(byte));
        }
    }

    fn write_u64(&mut self, id: u64) {
        self.0 = (self.0 ^ id).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

/// A list as [`Client::get_kept`] read it.
#[derive(Debug, Default)]
pub struct Listing {
    pub whole: Vec<Listed>,
    pub named: Vec<Named<'static>>,
}

/// One item of a page, as much of it as was kept.
#[derive(Clone)]
enum Entry {
    Whole(Box<Listed>),
    Named(Box<Named<'static>>),
    Counted(u64),
}

impl Entry {
    fn id(&self) -> u64 {
        match self {
            Entry::Whole(listed) => listed.job.id,
            Entry::Named(named) => named.id,
            Entry::Counted(id) => *id,
        }
    }
}

/// Scans a page of a list in one pass ([`crate::json`]), handing its items to `reading`: the
/// fields a verdict needs are typed, the rest is kept as GitLab's bytes. A page cut short, or an
/// item GitLab would not send, makes the page unreadable, which a read tries again.
fn scan_page(call: &Call, answer: &Answer, reading: &mut pages::Reading<'_, '_>) -> Result<()> {
    crate::json::scan_items(&answer.body, &Listed::FIELDS, reading).map_err(|why| {
        Error::unreadable(format!(
            "{}: GitLab answered {} with {} that is not a JSON array of jobs ({why}): \"{}\"",
            call.describe(),
            answer.status,
            explain::describe_content_type(answer.header("content-type").unwrap_or_default()),
            clean_snippet(&answer.body, 120)
        ))
    })?;
    match reading.bad_item.take() {
        Some(why) => Err(Error::unreadable(format!(
            "{}: an item of GitLab's list is not a job GitLab would send: {why}",
            call.describe()
        ))),
        None => Ok(()),
    }
}

/// Reads the whole answer, up to `limit` bytes (more is an unreadable answer, not a truncation).
fn read_answer(
    mut response: Response<Body>,
    limit: u64,
) -> std::result::Result<Answer, ureq::Error> {
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let body = if (200..300).contains(&status) {
        // read_to_end into a buffer sized from Content-Length zeroes nothing it has not grown,
        // unlike reading into fresh buffers: a 2 MB list page is read at memcpy speed.
        let expected = response
            .headers()
            .get("content-length")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok())
            .unwrap_or(256 * 1024)
            .min(limit);
        let mut body = Vec::with_capacity(usize::try_from(expected).unwrap_or(0));
        // Through one buffer, zeroed once: std's read_to_end would zero every read's buffer, as
        // ureq's reader cannot take uninitialised memory.
        let mut reader = response.body_mut().as_reader().take(limit + 1);
        let mut buffer = [0u8; 16 * 1024];
        loop {
            match reader.read(&mut buffer) {
                Ok(0) => break,
                Ok(n) => body.extend_from_slice(&buffer[..n]),
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(ureq::Error::Io(e)),
            }
        }
        if body.len() as u64 > limit {
            return Err(ureq::Error::BodyExceedsLimit(limit));
        }
        body
    } else {
        let mut body = Vec::new();
        // An error body is only quoted; a failure to read all of it changes nothing.
        let _ = response
            .body_mut()
            .as_reader()
            .take(MAX_ERROR_BODY.min(limit))
            .read_to_end(&mut body);
        body
    };
    Ok(Answer {
        status,
        headers,
        body,
    })
}

fn parse_json(call: &Call, answer: &Answer) -> Result<Box<RawValue>> {
    serde_json::from_slice::<Box<RawValue>>(&answer.body).map_err(|_| {
        Error::unreadable(format!(
            "{}: GitLab answered {} with {} that is not JSON (or is cut short): \"{}\"; is CI_API_V4_URL \
             GitLab's API root (…/api/v4)?",
            call.describe(),
            answer.status,
            explain::describe_content_type(answer.header("content-type").unwrap_or_default()),
            clean_snippet(&answer.body, 120)
        ))
    })
}

fn is_never_sent(err: &ureq::Error) -> bool {
    match err {
        ureq::Error::Io(io) => io.kind() == std::io::ErrorKind::ConnectionRefused,
        ureq::Error::ConnectionFailed | ureq::Error::HostNotFound => true,
        _ => false,
    }
}

fn describe_transport(err: &ureq::Error) -> String {
    match err {
        ureq::Error::Io(io) => io.to_string(),
        ureq::Error::Timeout(_) => "timed out".into(),
        ureq::Error::HostNotFound => "host not found".into(),
        other => other.to_string(),
    }
}

/// `?a=1&scope%5B%5D=x`: keys and values percent-encoded, so `scope[]` survives every proxy.
fn encode_query(query: &[(&str, String)]) -> String {
    if query.is_empty() {
        return String::new();
    }
    let pairs: Vec<String> = query
        .iter()
        .map(|(k, v)| format!("{}={}", crate::url::encode(k), crate::url::encode(v)))
        .collect();
    format!("?{}", pairs.join("&"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_next_cursor_comes_from_the_link_whatever_its_host() {
        let link = r#"<https://gitlab.example.com/api/v4/projects/42/jobs?cursor=eyJpZCI6IjEwIn0%3D&pagination=keyset&per_page=100>; rel="next""#;
        assert_eq!(next_cursor(link).as_deref(), Some("eyJpZCI6IjEwIn0="));
        assert_eq!(next_cursor(r#"<https://h/x?cursor=a>; rel="prev""#), None);
        assert_eq!(next_cursor(""), None);
    }

    #[test]
    fn query_encoding_keeps_brackets_and_values_safe() {
        assert_eq!(
            encode_query(&[("scope[]", "running".into()), ("x", "a b&c".into())]),
            "?scope%5B%5D=running&x=a%20b%26c"
        );
        assert_eq!(encode_query(&[]), "");
    }
}
