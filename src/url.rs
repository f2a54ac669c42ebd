//! URLs: the API root, parsed once into the one type that TLS, proxying, the plain-http warning
//! and requests all read; and percent-encoding of path segments and queries.

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use std::fmt;

/// Everything but RFC 3986's unreserved characters (`A-Z a-z 0-9 - . _ ~`).
const NOT_UNRESERVED: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// Percent-encodes everything but the unreserved characters, so a project path such as
/// `group/sub/project` becomes one segment, as GitLab's `:id` requires, and a query value cannot
/// end its pair.
pub fn encode(text: &str) -> String {
    utf8_percent_encode(text, NOT_UNRESERVED).to_string()
}

/// GitLab's API root: `https://host[:port][/relative-root]/api/v4`, without a trailing slash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiRoot {
    url: String,
    tls: bool,
    /// Lower case; an IPv6 address without its brackets.
    host: String,
    port: u16,
}

impl ApiRoot {
    /// Checks the scheme, host and port and drops trailing slashes, keeping any relative root.
    /// A typo is refused here, before anything is sent, not found as a connection failure later.
    pub fn parse(text: &str) -> Result<ApiRoot, String> {
        let url = text.trim();
        let (tls, rest) = if let Some(rest) = url.strip_prefix("https://") {
            (true, rest)
        } else if let Some(rest) = url.strip_prefix("http://") {
            (false, rest)
        } else {
            return Err(format!("'{url}' must start with https:// or http://"));
        };
        let authority = rest.split('/').next().unwrap_or_default();
        if authority.is_empty() || authority.contains(['@', ' ', '?', '#']) {
            return Err(format!(
                "'{url}' has no usable host (expected e.g. https://gitlab.example.com/api/v4; \
                 credentials belong in GITLAB_TOKEN, not in the URL)"
            ));
        }
        if rest.contains(['?', '#', ' ']) || rest.chars().any(char::is_control) {
            return Err(format!(
                "'{url}' must not hold a query, fragment, space or control character"
            ));
        }
        let (host, port) = host_and_port(authority).map_err(|why| format!("'{url}': {why}"))?;
        Ok(ApiRoot {
            url: url.trim_end_matches('/').to_string(),
            tls,
            host: host.to_ascii_lowercase(),
            port: port.unwrap_or(if tls { 443 } else { 80 }),
        })
    }

    pub fn as_str(&self) -> &str {
        &self.url
    }

    /// Whether requests go over TLS, so that CA files and a root store matter at all.
    pub fn uses_tls(&self) -> bool {
        self.tls
    }

    pub fn host(&self) -> &str {
        &self.host
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// Loopback: nothing crosses a network, so plain http is no risk there.
    pub fn is_loopback(&self) -> bool {
        let host = self.host.as_str();
        host == "localhost"
            || host == "::1"
            || host.starts_with("127.")
            || host.ends_with(".localhost")
    }
}

impl fmt::Display for ApiRoot {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.url)
    }
}

/// `host`, `host:port`, `[v6]` or `[v6]:port`, with a port from 1 to 65535.
fn host_and_port(authority: &str) -> Result<(&str, Option<u16>), String> {
    let (host, port) = if let Some(v6) = authority.strip_prefix('[') {
        let (address, after) = v6
            .split_once(']')
            .ok_or("the IPv6 address has no closing ']'")?;
        if address.parse::<std::net::Ipv6Addr>().is_err() {
            return Err(format!("'{address}' is not an IPv6 address"));
        }
        match after {
            "" => (address, None),
            _ => match after.strip_prefix(':') {
                Some(port) => (address, Some(port)),
                None => return Err("only ':PORT' may follow ']'".into()),
            },
        }
    } else {
        let (host, port) = match authority.rsplit_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (authority, None),
        };
        if host.is_empty()
            || !host
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_'))
        {
            return Err(format!("'{host}' is not a host name"));
        }
        (host, port)
    };
    let port = match port {
        None => None,
        Some(text) => match text.parse::<u16>() {
            Ok(port) if port > 0 => Some(port),
            _ => return Err(format!("port '{text}' is not a number from 1 to 65535")),
        },
    };
    Ok((host, port))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roots_parse_once_with_host_port_and_scheme() {
        let root = ApiRoot::parse(" https://Gitlab.Example.com/gitlab/api/v4/ ").unwrap();
        assert_eq!(root.as_str(), "https://Gitlab.Example.com/gitlab/api/v4");
        assert_eq!(
            (root.host(), root.port(), root.uses_tls()),
            ("gitlab.example.com", 443, true)
        );
        let v6 = ApiRoot::parse("http://[::1]:8080/api/v4").unwrap();
        assert_eq!(
            (v6.host(), v6.port(), v6.is_loopback()),
            ("::1", 8080, true)
        );
        for bad in [
            "ftp://x/api/v4",
            "gitlab.example.com",
            "https:///api/v4",
            "https://u@h/api",
            "https://h:99999/api/v4",
            "https://h:abc/api/v4",
            "https://h:0/api/v4",
            "http://[::1/api/v4",
            "http://[::1]x/api/v4",
            "https://h/api/v4?private_token=x",
        ] {
            assert!(ApiRoot::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn segments_are_encoded_whole() {
        assert_eq!(encode("42"), "42");
        assert_eq!(encode("group/sub/my.project"), "group%2Fsub%2Fmy.project");
        assert_eq!(encode("a b+c~"), "a%20b%2Bc~");
    }
}
