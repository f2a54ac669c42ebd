//! Downloads: an answer streamed into a file, never held in memory, and tried again (within
//! `--retries` and the deadline) only while nothing of it has been written. GitLab may answer a
//! download with a redirect to object storage on another host (`docs/gitlab-behaviour.md` §11):
//! that one redirect is followed, with no token, and only on download routes.

use super::transport::{Failed, read_answer};
use super::{Client, MAX_ERROR_BODY, tls};
use crate::api::route::Call;
use crate::error::{Error, ErrorKind, Result, clean_snippet};
use std::io::{Read, Write};
use std::time::Instant;
use ureq::Body;
use ureq::http::Response;

/// The most a download may bring: an answer that goes on past it is not an artifact of any
/// GitLab (whose instance limit on artifacts is far lower), and must not fill the disk.
pub const MAX_DOWNLOAD: u64 = 8 << 30;

/// What a download wrote.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Downloaded {
    pub bytes: u64,
    /// Whether GitLab sent it through a redirect to object storage.
    pub redirected: bool,
}

/// One try's end: `Ok` when nothing more may be tried (done, or failed after writing).
type Try = std::result::Result<Result<Downloaded>, Failed>;

impl Client {
    /// Streams the answer of `call` (a download route) into `out`. Passing failures are tried
    /// again only while `out` has received nothing: once a byte is written, a cut answer is the
    /// end (exit 3), and the caller removes what was written.
    pub fn download(
        &self,
        call: &Call,
        query: &[(&str, String)],
        out: &mut dyn Write,
    ) -> Result<Downloaded> {
        self.with_retries(call, || self.download_once(call, query, out))?
    }

    fn download_once(&self, call: &Call, query: &[(&str, String)], out: &mut dyn Write) -> Try {
        let response = self.send(call, query, None, false)?;
        let status = response.status().as_u16();
        let (response, redirected) = if (300..400).contains(&status) && call.route.download {
            let location = response
                .headers()
                .get("location")
                .and_then(|v| v.to_str().ok())
                .map(str::to_string);
            match location {
                Some(location) => {
                    drop(response);
                    (self.follow_redirect(call, &location)?, true)
                }
                None => {
                    let answer = read_answer(response, MAX_ERROR_BODY)
                        .map_err(|e| Failed::from(self.transport_error(call, &e)))?;
                    return Err(self.refusal(call, &answer));
                }
            }
        } else {
            (response, false)
        };
        let status = response.status().as_u16();
        if !(200..300).contains(&status) {
            let answer = read_answer(response, MAX_ERROR_BODY)
                .map_err(|e| Failed::from(self.transport_error(call, &e)))?;
            if redirected {
                return Err(storage_refusal(call, status, &answer.body));
            }
            return Err(self.refusal(call, &answer));
        }
        self.write_answer(call, response, redirected, out)
    }

    /// Streams a 2xx answer's body into `out`, bounded by [`MAX_DOWNLOAD`]. A break before any
    /// byte was written may be tried again; after, it is the end (what was written is incomplete).
    fn write_answer(
        &self,
        call: &Call,
        response: Response<Body>,
        redirected: bool,
        out: &mut dyn Write,
    ) -> Try {
        let mut reader = response.into_body().into_reader();
        let mut buffer = vec![0u8; 64 * 1024];
        let mut written: u64 = 0;
        loop {
            let n = match reader.read(&mut buffer) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    let error = if self.deadline.expired() {
                        self.deadline.exceeded(&call.describe())
                    } else {
                        Error::new(
                            ErrorKind::NoAnswer,
                            format!(
                                "{}: the download broke off after {written} bytes ({e})",
                                call.describe()
                            ),
                        )
                    };
                    if written == 0 {
                        return Err(Failed::from(error));
                    }
                    return Ok(Err(error.hint(
                        "part of it was written, so it was not tried again; nothing of it was kept",
                    )));
                }
            };
            written += n as u64;
            if written > MAX_DOWNLOAD {
                return Ok(Err(Error::unreadable(format!(
                    "{}: the answer goes on past {} GiB; no artifact is that large",
                    call.describe(),
                    MAX_DOWNLOAD >> 30
                ))));
            }
            if let Err(e) = out.write_all(&buffer[..n]) {
                return Ok(Err(Error::new(
                    ErrorKind::Output,
                    format!("writing the download failed: {e}"),
                )));
            }
        }
        Ok(Ok(Downloaded {
            bytes: written,
            redirected,
        }))
    }

    /// GitLab's redirect to object storage: a signed URL on another host, asked without any token
    /// (the signature is its authorization), through the proxy the variables give that host, and
    /// followed no further.
    fn follow_redirect(
        &self,
        call: &Call,
        location: &str,
    ) -> std::result::Result<Response<Body>, Failed> {
        let url = absolute(&self.root, location).ok_or_else(|| {
            Failed::from(Error::unreadable(format!(
                "{}: GitLab redirected the download to '{}', which is not an http(s) URL",
                call.describe(),
                without_query(location)
            )))
        })?;
        let shown = without_query(&url);
        let target = crate::url::ApiRoot::parse(origin(&url)).map_err(|why| {
            Failed::from(Error::unreadable(format!(
                "{}: GitLab redirected the download to an unusable URL: {why}",
                call.describe()
            )))
        })?;
        let proxy = crate::proxy::choose(&target, |name| std::env::var(name).ok())
            .map_err(Failed::from)?
            .map(|p| ureq::Proxy::new(p.as_str()))
            .transpose()
            .map_err(|_| {
                Failed::from(Error::usage(
                    "the proxy for the redirected download is not usable",
                ))
            })?;
        let mut request = self
            .agent
            .get(&url)
            .config()
            .timeout_global(self.deadline.remaining())
            // The signed URL is the answer; another hop would be a host GitLab did not name.
            .max_redirects(0)
            .proxy(proxy);
        if target.uses_tls() {
            request = request.tls_config(tls::config(&self.extra_cas).map_err(Failed::from)?);
        }
        let started = Instant::now();
        let result = request.build().call();
        if self.verbose {
            let outcome = match &result {
                Ok(response) => response.status().as_u16().to_string(),
                Err(_) => "no answer".to_string(),
            };
            (self.note)(&format!(
                "gljob: GET {shown} (redirected by GitLab, no token) -> {outcome} ({} ms)",
                started.elapsed().as_millis()
            ));
        }
        result.map_err(|err| {
            // The kind (never sent, timed out, no answer) as for any request; the words its own.
            let kind = self.transport_error(call, &err).kind().clone();
            Failed::from(Error::new(
                kind,
                format!(
                    "{}: following GitLab's redirect to {shown} failed: {err}",
                    call.describe()
                ),
            ))
        })
    }
}

/// Object storage's refusal of a signed URL (expired, or a clock skew) or its failure.
fn storage_refusal(call: &Call, status: u16, body: &[u8]) -> Failed {
    Failed::from(Error::new(
        ErrorKind::Refused {
            status,
            message: String::new(),
        },
        format!(
            "{}: the object storage GitLab redirected to answered {status} \"{}\"; {}",
            call.describe(),
            storage_words(body),
            if status >= 500 {
                "it failed; try again later"
            } else {
                "its signed URL was refused (expired, or GitLab's object storage settings); ask \
                 again, or check with your GitLab's administrators"
            }
        ),
    ))
}

/// What object storage said: of an S3-style XML error only its `Code` and `Message` (the rest may
/// echo the signature sent, a credential), else the start of the body.
fn storage_words(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    let element = |name: &str| {
        let open = format!("<{name}>");
        let start = text.find(&open)? + open.len();
        let end = text[start..].find('<')? + start;
        Some(text[start..end].to_string())
    };
    match (element("Code"), element("Message")) {
        (Some(code), Some(message)) => clean_snippet(format!("{code}: {message}").as_bytes(), 160),
        (Some(code), None) => clean_snippet(code.as_bytes(), 160),
        _ if text.contains('<') => "an XML body".to_string(),
        _ => clean_snippet(body, 120),
    }
}

/// `location` as an absolute http(s) URL: as given, or resolved against the API root's origin when
/// it is a path.
fn absolute(root: &str, location: &str) -> Option<String> {
    let location = location.trim();
    if location.starts_with("https://") || location.starts_with("http://") {
        return Some(location.to_string());
    }
    if location.starts_with('/') && !location.starts_with("//") {
        return Some(format!("{}{location}", origin(root)));
    }
    None
}

/// `https://host:port` of a URL.
fn origin(url: &str) -> &str {
    let after_scheme = url.find("://").map_or(0, |i| i + 3);
    let end = url[after_scheme..]
        .find(['/', '?', '#'])
        .map_or(url.len(), |i| after_scheme + i);
    &url[..end]
}

/// The URL without its query: a signed URL's query is its credential, and is never printed.
fn without_query(url: &str) -> String {
    let end = url.find(['?', '#']).unwrap_or(url.len());
    crate::error::clean_snippet(&url.as_bytes()[..end], 200)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redirect_targets() {
        assert_eq!(
            absolute("https://gitlab.example.com/api/v4", "/x/y?sig=1").as_deref(),
            Some("https://gitlab.example.com/x/y?sig=1")
        );
        assert_eq!(
            absolute(
                "http://h/api/v4",
                "https://s3.example/b/k?X-Amz-Signature=s"
            )
            .as_deref(),
            Some("https://s3.example/b/k?X-Amz-Signature=s")
        );
        assert_eq!(absolute("http://h/api/v4", "//evil/x"), None);
        assert_eq!(absolute("http://h/api/v4", "ftp://x/y"), None);
        assert_eq!(
            origin("https://s3.example:9000/b?x"),
            "https://s3.example:9000"
        );
        assert_eq!(
            without_query("https://s3.example/b/k?X-Amz-Signature=secret"),
            "https://s3.example/b/k"
        );
        assert_eq!(
            storage_words(
                b"<Error><Code>SignatureDoesNotMatch</Code><Message>no match</Message>\
                  <SignatureProvided>secret</SignatureProvided></Error>"
            ),
            "SignatureDoesNotMatch: no match"
        );
        assert_eq!(storage_words(b"<html>secret</html>"), "an XML body");
    }
}
