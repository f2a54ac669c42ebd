//! How long to wait before trying a read again: GitLab's `Retry-After` or `RateLimit-Reset`, else
//! exponential backoff with jitter. Every pause is then capped by the deadline by the caller.

use crate::jitter;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Longest wait a `Retry-After` or backoff may impose on one retry.
pub const MAX_RETRY_DELAY: Duration = Duration::from_secs(60);
/// No retry starts once a request has spent this long, whatever `--retries` allows.
pub const MAX_RETRY_TOTAL: Duration = Duration::from_secs(180);

/// Exponential backoff with jitter: about 0.25 s, 1 s, 4 s, 16 s … capped at [`MAX_RETRY_DELAY`].
/// The first try again comes soon (most failures are a blip: a proxy's 502, a reset), the later
/// ones back off fast.
pub fn backoff(attempt: u32) -> Duration {
    let base = Duration::from_millis(250u64.saturating_mul(1 << (2 * attempt.min(6))));
    jitter::spread(base.min(MAX_RETRY_DELAY), 0.25)
}

/// `Retry-After` (seconds or an HTTP date), else `RateLimit-Reset` (a unix time), else backoff.
/// GitLab's own jobs-list limit sends none of them (`docs/gitlab-behaviour.md` §5).
pub fn retry_delay(
    retry_after: Option<&str>,
    ratelimit_reset: Option<&str>,
    attempt: u32,
) -> Duration {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs();
    let from_headers = retry_after
        .and_then(|v| {
            v.trim()
                .parse::<u64>()
                .ok()
                .or_else(|| parse_http_date(v).map(|at| at.saturating_sub(now)))
        })
        .or_else(|| {
            ratelimit_reset
                .and_then(|v| v.trim().parse::<u64>().ok())
                .map(|at| at.saturating_sub(now))
        })
        .map(Duration::from_secs);
    from_headers
        .unwrap_or_else(|| backoff(attempt))
        .min(MAX_RETRY_DELAY)
}

/// An HTTP date (`Sun, 06 Nov 1994 08:49:37 GMT`) in unix seconds.
pub fn parse_http_date(text: &str) -> Option<u64> {
    httpdate::parse_http_date(text.trim())
        .ok()?
        .duration_since(UNIX_EPOCH)
        .ok()
        .map(|d| d.as_secs())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn http_dates() {
        assert_eq!(
            parse_http_date("Sun, 06 Nov 1994 08:49:37 GMT"),
            Some(784_111_777)
        );
        assert_eq!(parse_http_date("yesterday"), None);
    }

    #[test]
    fn retry_after_wins_and_is_capped() {
        assert_eq!(retry_delay(Some("7"), Some("1"), 0), Duration::from_secs(7));
        assert_eq!(retry_delay(Some("600"), None, 0), MAX_RETRY_DELAY);
    }
}
