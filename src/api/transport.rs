//! One request and its answer: the token the route takes, the deadline over all of it, reads
//! retried on passing failures, writes sent once, and errors that say what GitLab answered.

use super::{Client, MAX_ERROR_BODY, TokenKind, explain, timing};
use crate::api::route::{Call, Method};
use crate::error::{Error, ErrorKind, Result, clean_snippet};
use serde_json::value::RawValue;
use std::io::Read;
use std::time::{Duration, Instant};
use ureq::Body;
use ureq::http::Response;

/// One answer, read whole.
pub(super) struct Answer {
    pub(super) status: u16,
    pub(super) headers: ureq::http::HeaderMap,
    pub(super) body: Vec<u8>,
}

impl Answer {
    pub(super) fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

/// A failed exchange, and how long GitLab asked us to wait before the next (`Retry-After`).
pub(super) struct Failed {
    pub(super) error: Error,
    pub(super) retry_after: Option<Duration>,
}

impl From<Error> for Failed {
    fn from(error: Error) -> Self {
        Failed {
            error,
            retry_after: None,
        }
    }
}

impl Client {
    /// deadline comes. Reads are retried on passing failures; writes only when never sent.
    pub(super) fn with_retries<T>(
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
                    // A read whose connection the deadline cut; a write's stays "never sent".
                    ErrorKind::Unreachable if !call.route.writes() => {
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
                let when = format!(
                    "the next try would be in {:.1}s, past --timeout",
                    delay.as_secs_f64()
                );
                // GitLab asked for the pause (429, 503 with Retry-After): a longer --timeout
                // would have seen it through, so the deadline is what ended it (124). A pause of
                // our own backoff, after a failure that a longer --timeout would meet again (a
                // name that does not resolve, a certificate not trusted), ends with that error:
                // not 124, which a gate's `allow_failure: exit_codes: [124]` takes for a timeout.
                return Err(match failed.retry_after {
                    Some(_) => Error::timed_out(format!("{}; {when}", error.message())),
                    None => error.hint(when),
                });
            }
            (self.note)(&format!(
                "gljob: {}; retrying in {:.1}s",
                error.message(),
                delay.as_secs_f64()
            ));
            self.deadline.sleep(delay);
            attempt += 1;
        }
    }

    /// One request and its whole answer; a non-success status is a [`Failed`] with GitLab's words.
    pub(super) fn exchange(
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

    pub(super) fn refusal(&self, call: &Call, answer: &Answer) -> Failed {
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
    pub(super) fn send(
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
                self.log(
                    call,
                    query,
                    &response.status().as_u16().to_string(),
                    started,
                );
                Ok(response)
            }
            Err(err) => {
                self.log(call, query, "no answer", started);
                Err(Failed::from(self.transport_error(call, &err)))
            }
        }
    }

    /// `--verbose`: each request as it was asked (the query unencoded, to be read: `scope[]=running`)
    /// and what came of it.
    fn log(&self, call: &Call, query: &[(&str, String)], outcome: &str, started: Instant) {
        if self.verbose {
            let shown: Vec<String> = query.iter().map(|(k, v)| format!("{k}={v}")).collect();
            (self.note)(&format!(
                "gljob: {} {}{}{}{} -> {outcome} ({} ms)",
                call.route.method.as_str(),
                self.root,
                call.path,
                if shown.is_empty() { "" } else { "?" },
                shown.join("&"),
                started.elapsed().as_millis()
            ));
        }
    }

    pub(super) fn transport_error(&self, call: &Call, err: &ureq::Error) -> Error {
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

/// Reads the whole answer, up to `limit` bytes (more is an unreadable answer, not a truncation).
pub(super) fn read_answer(
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

pub(super) fn parse_json(call: &Call, answer: &Answer) -> Result<Box<RawValue>> {
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

/// Whether the request cannot have reached GitLab: the failure came before a connection to it
/// carried a byte of the request (the name, the connection, the proxy's CONNECT, the TLS
/// handshake). A write that failed so was not applied, and is safe to send again.
fn is_never_sent(err: &ureq::Error) -> bool {
    match err {
        ureq::Error::Io(io) => {
            io.kind() == std::io::ErrorKind::ConnectionRefused
                // std's words for a name the resolver could not look up (getaddrinfo's error
                // has no ErrorKind of its own on stable Rust).
                || io.to_string().starts_with("failed to lookup address information")
                // rustls's handshake errors reach ureq through the TLS stream, as I/O errors.
                || io
                    .get_ref()
                    .and_then(|inner| inner.downcast_ref::<rustls::Error>())
                    .is_some_and(is_handshake_only)
        }
        ureq::Error::ConnectionFailed
        | ureq::Error::HostNotFound
        | ureq::Error::ConnectProxyFailed(_)
        | ureq::Error::Timeout(ureq::Timeout::Resolve | ureq::Timeout::Connect) => true,
        ureq::Error::Rustls(tls) => is_handshake_only(tls),
        _ => false,
    }
}

/// rustls errors that only a handshake meets: no request was sent over the connection.
fn is_handshake_only(err: &rustls::Error) -> bool {
    matches!(
        err,
        rustls::Error::InvalidCertificate(_)
            | rustls::Error::NoCertificatesPresented
            | rustls::Error::PeerIncompatible(_)
    )
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
pub(super) fn encode_query(query: &[(&str, String)]) -> String {
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
    fn query_encoding_keeps_brackets_and_values_safe() {
        assert_eq!(
            encode_query(&[("scope[]", "running".into()), ("x", "a b&c".into())]),
            "?scope%5B%5D=running&x=a%20b%26c"
        );
        assert_eq!(encode_query(&[]), "");
    }
}
