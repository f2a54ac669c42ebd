//! Redaction: every secret of the run (both tokens, the credentials of the API URL and of the
//! proxies, `private_token=` values) removed wherever it appears, including text quoted from a
//! server or a proxy that echoes what it was sent, and any stretch of text whose percent-decoding
//! holds one (a token echoed with some or all bytes encoded).
//!
//! The [`Redactor`] is built from the environment and the flags before anything can fail, and
//! installed once; [`crate::say`] runs every line people read through it, and an error's quote of
//! a server's answer is redacted before it is cut short (a token cut in half would no longer be
//! found).

use std::borrow::Cow;
use std::sync::OnceLock;

/// What replaces a secret.
pub const REDACTED: &str = "<redacted>";

/// Secrets shorter than this are not searched for in free text (a one-letter password would
/// blank every such letter); URL credentials are still removed by their place in a URL.
const MIN_SECRET_LEN: usize = 4;

/// Every secret of the run, and the rule that removes them from text.
#[derive(Debug, Default, Clone)]
pub struct Redactor {
    secrets: Vec<String>,
}

/// The variables whose values are secrets or may carry them in a URL.
pub const SECRET_VARIABLES: [&str; 2] = ["CI_JOB_TOKEN", "GITLAB_TOKEN"];
pub const URL_VARIABLES: [&str; 8] = [
    "CI_API_V4_URL",
    "CI_SERVER_URL",
    "https_proxy",
    "HTTPS_PROXY",
    "http_proxy",
    "HTTP_PROXY",
    "all_proxy",
    "ALL_PROXY",
];

impl Redactor {
    /// Collects the secrets from the environment and the flags that may hold them (`--token`,
    /// `--api-url`), before anything is parsed or validated, so that even an error about a
    /// malformed URL cannot print the password inside it.
    pub fn from_run(env: impl Fn(&str) -> Option<String>, flags: &[(&str, String)]) -> Self {
        let mut redactor = Redactor::default();
        for name in SECRET_VARIABLES {
            if let Some(value) = env(name) {
                redactor.add(&value);
            }
        }
        for name in URL_VARIABLES {
            if let Some(value) = env(name) {
                redactor.add_url(&value);
            }
        }
        for (flag, value) in flags {
            match *flag {
                "--token" => redactor.add(value),
                _ => redactor.add_url(value),
            }
        }
        redactor
    }

    /// A secret, in the forms it may be printed: as given, trimmed, percent-decoded and encoded.
    pub fn add(&mut self, secret: &str) {
        let trimmed = secret.trim();
        let encoded = crate::url::encode(trimmed);
        for form in [
            secret.to_string(),
            trimmed.to_string(),
            percent_decode(trimmed),
            lower_escapes(&encoded),
            // Form encoding: a space is `+`.
            encoded.replace("%20", "+"),
            lower_escapes(&encoded).replace("%20", "+"),
            encoded,
        ] {
            if form.chars().count() >= MIN_SECRET_LEN && !self.secrets.contains(&form) {
                self.secrets.push(form);
            }
        }
        // Longest first, so a secret that contains another is removed whole.
        self.secrets.sort_by_key(|s| std::cmp::Reverse(s.len()));
    }

    /// The user, password and token query values a URL carries. Read leniently: the URL may be
    /// malformed (that may be why it is being printed), and a password may hold an unencoded `/`,
    /// so the credentials are everything between `://` and the last `@` before any `?` or `#`.
    pub fn add_url(&mut self, url: &str) {
        let (before_query, query) = match url.split_once(['?', '#']) {
            Some((base, query)) => (base, query),
            None => (url, ""),
        };
        let rest = before_query
            .split_once("://")
            .map_or(before_query, |(_, r)| r);
        if let Some((userinfo, _)) = rest.rsplit_once('@') {
            self.add(userinfo);
            if let Some((user, password)) = userinfo.split_once(':') {
                self.add(user);
                self.add(password);
            }
        }
        for pair in query.split(['&', ';']) {
            if let Some((key, value)) = pair.split_once('=')
                && is_secret_query_key(key)
            {
                self.add(value);
            }
        }
    }

    /// `text` with every secret replaced by [`REDACTED`], and any `scheme://user:pass@` userinfo
    /// or secret query value removed even when it is not a known secret.
    pub fn redact<'a>(&self, text: &'a str) -> Cow<'a, str> {
        let mut out: Cow<str> = Cow::Borrowed(text);
        for secret in &self.secrets {
            if out.contains(secret.as_str()) {
                out = Cow::Owned(out.replace(secret.as_str(), REDACTED));
            }
        }
        if out.contains('%')
            && let Some(cleaned) = self.redact_encoded(&out)
        {
            out = Cow::Owned(cleaned);
        }
        match redact_url_credentials(&out) {
            Some(cleaned) => Cow::Owned(cleaned),
            None => out,
        }
    }

    /// Removes every stretch of `text` whose percent-decoding holds a secret, however it was
    /// encoded: every byte (`%67%6C%70…`), some (`glpat%2DSECRET`), hex digits in either case, a
    /// secret split by encoded bytes; and encoded again, up to [`DECODING_LEVELS`] times. The
    /// text is decoded level by level, each decoded byte remembering where in `text` it began, so
    /// that a secret found in the decoding is cut out of `text` itself. `None` when nothing was.
    ///
    /// Each level costs one pass over the text and one linear search per secret form (no search
    /// backtracks), whatever the text holds.
    fn redact_encoded(&self, text: &str) -> Option<String> {
        let mut spans: Vec<(usize, usize)> = Vec::new();
        let mut bytes: Vec<u8> = text.as_bytes().to_vec();
        // `origin[k]`: where the byte `k` of the current decoding begins in `text`; one more
        // entry for the end.
        let mut origin: Vec<usize> = (0..=bytes.len()).collect();
        for _ in 0..DECODING_LEVELS {
            let Some((decoded, decoded_origin)) = decode_level(&bytes, &origin) else {
                break;
            };
            (bytes, origin) = (decoded, decoded_origin);
            for secret in &self.secrets {
                find_all(&bytes, secret.as_bytes(), |at| {
                    spans.push((origin[at], origin[at + secret.len()]));
                });
            }
        }
        if spans.is_empty() {
            return None;
        }
        spans.sort_unstable();
        let mut out = String::with_capacity(text.len());
        let mut copied = 0;
        for (start, end) in spans {
            // On character boundaries, widened if need be: a stretch cut out is never a part of
            // a character.
            let (start, end) = (floor_boundary(text, start), ceil_boundary(text, end));
            if start < copied {
                // Overlaps the stretch cut out before it: one stretch.
                copied = copied.max(end);
                continue;
            }
            out.push_str(&text[copied..start]);
            out.push_str(REDACTED);
            copied = end;
        }
        out.push_str(&text[copied..]);
        Some(out)
    }
}

/// How many times over a text is percent-decoded to look for secrets: once is what a server
/// echoing a request does; twice, a URL of a URL. A bound, as each level costs a pass.
const DECODING_LEVELS: usize = 4;

/// One level of percent-decoding of `bytes` (`%XX`, either case; anything else as it is), and
/// where each decoded byte begins in the original text. `None` when there was nothing to decode.
fn decode_level(bytes: &[u8], origin: &[usize]) -> Option<(Vec<u8>, Vec<usize>)> {
    let mut decoded = Vec::with_capacity(bytes.len());
    let mut decoded_origin = Vec::with_capacity(bytes.len() + 1);
    let mut changed = false;
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && i + 2 < bytes.len()
            && let (Some(high), Some(low)) = (hex(bytes[i + 1]), hex(bytes[i + 2]))
        {
            decoded.push(high * 16 + low);
            decoded_origin.push(origin[i]);
            i += 3;
            changed = true;
            continue;
        }
        decoded.push(bytes[i]);
        decoded_origin.push(origin[i]);
        i += 1;
    }
    decoded_origin.push(origin[bytes.len()]);
    changed.then_some((decoded, decoded_origin))
}

/// Calls `found` with every start of `needle` in `haystack`, in one pass that never backtracks
/// (Knuth, Morris and Pratt): a long text of near misses costs no more than any other.
fn find_all(haystack: &[u8], needle: &[u8], mut found: impl FnMut(usize)) {
    if needle.is_empty() || needle.len() > haystack.len() {
        return;
    }
    // `fallback[i]`: the length of the longest proper prefix of `needle[..=i]` that is also its
    // suffix, where a partial match resumes after a mismatch.
    let mut fallback = vec![0usize; needle.len()];
    let mut k = 0;
    for i in 1..needle.len() {
        while k > 0 && needle[i] != needle[k] {
            k = fallback[k - 1];
        }
        if needle[i] == needle[k] {
            k += 1;
        }
        fallback[i] = k;
    }
    let mut k = 0;
    for (i, &byte) in haystack.iter().enumerate() {
        while k > 0 && byte != needle[k] {
            k = fallback[k - 1];
        }
        if byte == needle[k] {
            k += 1;
        }
        if k == needle.len() {
            found(i + 1 - k);
            k = fallback[k - 1];
        }
    }
}

fn floor_boundary(text: &str, mut at: usize) -> usize {
    while !text.is_char_boundary(at) {
        at -= 1;
    }
    at
}

fn ceil_boundary(text: &str, mut at: usize) -> usize {
    while !text.is_char_boundary(at) {
        at += 1;
    }
    at
}

fn is_secret_query_key(key: &str) -> bool {
    ["private_token", "job_token", "token", "access_token"]
        .contains(&key.to_ascii_lowercase().as_str())
}

/// Removes `user:pass@` from every `scheme://user:pass@host` in free text, and the values of
/// `private_token=`-like query keys. `None` when there was nothing to remove.
fn redact_url_credentials(text: &str) -> Option<String> {
    let mut changed = false;
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(i) = rest.find("://") {
        let (head, tail) = rest.split_at(i + 3);
        out.push_str(head);
        // The URL's authority ends at white space, a quote or the path; credentials end at the
        // last `@` before that.
        let end = tail
            .find(|c: char| c.is_whitespace() || matches!(c, '"' | '\'' | '<' | '>' | '?' | '#'))
            .unwrap_or(tail.len());
        match tail[..end].rfind('@') {
            Some(at) if !tail[..at].starts_with(REDACTED) => {
                out.push_str(REDACTED);
                rest = &tail[at..];
                changed = true;
            }
            _ => rest = tail,
        }
    }
    out.push_str(rest);
    let mut final_text = String::with_capacity(out.len());
    let mut remaining = out.as_str();
    while let Some(i) = remaining.find(['?', '&', ';']) {
        final_text.push_str(&remaining[..=i]);
        remaining = &remaining[i + 1..];
        let Some(eq) = remaining.find('=') else {
            break;
        };
        let key = &remaining[..eq];
        if !key.is_empty() && key.len() <= 20 && is_secret_query_key(key) {
            let value_end = remaining[eq + 1..]
                .find(|c: char| c.is_whitespace() || matches!(c, '&' | ';' | '"' | '\'' | '#'))
                .map_or(remaining.len(), |j| eq + 1 + j);
            if &remaining[eq + 1..value_end] != REDACTED {
                final_text.push_str(key);
                final_text.push('=');
                final_text.push_str(REDACTED);
                remaining = &remaining[value_end..];
                changed = true;
            }
        }
    }
    final_text.push_str(remaining);
    changed.then_some(final_text)
}

/// `%2B` → `%2b`: percent-encoding with lower-case hex digits, the rest unchanged.
fn lower_escapes(encoded: &str) -> String {
    let mut out = String::with_capacity(encoded.len());
    let mut hex_left = 0;
    for c in encoded.chars() {
        if c == '%' {
            hex_left = 2;
            out.push(c);
        } else if hex_left > 0 {
            hex_left -= 1;
            out.push(c.to_ascii_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}

fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && i + 2 < bytes.len()
            && let (Some(h), Some(l)) = (hex(bytes[i + 1]), hex(bytes[i + 2]))
        {
            out.push(h * 16 + l);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn hex(byte: u8) -> Option<u8> {
    (byte as char).to_digit(16).map(|d| d as u8)
}

static REDACTOR: OnceLock<Redactor> = OnceLock::new();

/// Makes `redactor` the one every later line goes through. Called once, first thing in `main`.
pub fn install(redactor: Redactor) {
    let _ = REDACTOR.set(redactor);
}

/// `text` with every secret of the run removed (nothing else changed).
pub fn redact(text: &str) -> Cow<'_, str> {
    match REDACTOR.get() {
        Some(redactor) => redactor.redact(text),
        None => Cow::Borrowed(text),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_form_of_every_secret_is_removed() {
        let env = |name: &str| match name {
            "CI_JOB_TOKEN" => Some("glcbt-jobSECRET".to_string()),
            "CI_API_V4_URL" => Some("https://oauth2:glpat-urlSECRET@h:99999/api/v4".to_string()),
            "HTTPS_PROXY" => Some("http://user:pa/ss%40w0rd@proxy:3128".to_string()),
            _ => None,
        };
        let redactor = Redactor::from_run(env, &[("--token", "glpat-flagSECRET".into())]);
        let text = "job glcbt-jobSECRET, url glpat-urlSECRET, proxy pa/ss%40w0rd and pa/ss@w0rd, \
                    flag glpat-flagSECRET";
        let out = redactor.redact(text);
        for secret in ["jobSECRET", "urlSECRET", "pa/ss", "w0rd", "flagSECRET"] {
            assert!(!out.contains(secret), "{secret} in {out}");
        }
    }

    /// Percent-decodes `text` over and over, as a reader of the output could.
    fn decoded(text: &str) -> String {
        let mut text = text.to_string();
        for _ in 0..DECODING_LEVELS {
            text = percent_decode(&text);
        }
        text
    }

    #[test]
    fn a_secret_is_removed_however_it_is_percent_encoded() {
        let secret = "glpat-Ab_12-SECRETxyz";
        let mut redactor = Redactor::default();
        redactor.add(secret);
        redactor.add("pässwörd");
        let every_byte: String = secret.bytes().map(|b| format!("%{b:02X}")).collect();
        let mixed_case: String = secret
            .bytes()
            .enumerate()
            .map(|(i, b)| {
                let hex = format!("{b:02x}");
                if i % 2 == 0 { hex.to_uppercase() } else { hex }
            })
            .map(|hex| format!("%{hex}"))
            .collect();
        let cases = [
            every_byte.clone(),
            mixed_case,
            "glpat%2DAb%5F12%2dSECRETxyz".to_string(),
            // Split by encoded bytes here and there.
            "g%6Cpat-Ab_12-SEC%52ETx%79z".to_string(),
            // Encoded twice.
            every_byte.replace('%', "%25"),
            "p%C3%A4ssw%c3%b6rd".to_string(),
        ];
        for encoded in cases {
            let text = format!("name: deploy {encoded}, again {encoded}!");
            let out = redactor.redact(&text);
            assert!(!decoded(&out).contains(secret), "{encoded} -> {out}");
            assert!(!decoded(&out).contains("pässwörd"), "{encoded} -> {out}");
            assert!(
                out.starts_with("name: deploy <redacted>, again <redacted>!"),
                "{out}"
            );
        }
        // Text around it is untouched, percent signs included.
        assert_eq!(
            redactor.redact("100% done, %zz and %41"),
            "100% done, %zz and %41"
        );
        // Overlapping forms are one stretch.
        assert_eq!(
            redactor.redact(&format!("[{every_byte}{secret}]")),
            "[<redacted><redacted>]"
        );
    }

    #[test]
    fn decoding_costs_a_pass_per_level_whatever_the_text() {
        let mut redactor = Redactor::default();
        redactor.add("aaaaaaaaaaaaaaaaaaaaaaaaaaaaab");
        // Three megabytes of near misses, encoded; then escapes nested as deep as the text is
        // long, each level of which would decode one more if levels were not bounded.
        let near_misses = "%61".repeat(1 << 20);
        let nested = format!("{}61", "%25".repeat(1 << 18));
        let started = std::time::Instant::now();
        assert_eq!(redactor.redact(&near_misses), near_misses);
        assert_eq!(redactor.redact(&nested), nested);
        assert!(
            started.elapsed() < std::time::Duration::from_secs(5),
            "{:?}",
            started.elapsed()
        );
    }

    #[test]
    fn url_credentials_and_token_queries_are_removed_even_when_unknown() {
        let redactor = Redactor::default();
        assert_eq!(
            redactor.redact("GET http://u:p@x:1/a?private_token=abc&page=2 failed"),
            "GET http://<redacted>@x:1/a?private_token=<redacted>&page=2 failed"
        );
        assert_eq!(
            redactor.redact("https://h/api/v4/job"),
            "https://h/api/v4/job"
        );
        assert_eq!(redactor.redact("a ? b = c"), "a ? b = c");
    }
}
