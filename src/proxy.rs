//! Which proxy, if any, carries gljob's requests.
//!
//! gljob talks to one host, the API root's, so the choice is made once, the way curl and most
//! tools read the variables: the scheme's own variable (`HTTPS_PROXY` for https, `HTTP_PROXY` for
//! http, upper or lower case), else `ALL_PROXY`; and not at all when `NO_PROXY` names the host.
//! ureq's own reading of the environment takes `HTTPS_PROXY` for http targets too and knows no
//! ports in `NO_PROXY`, hence this module.
//!
//! [`Connector`] bounds the proxy's CONNECT exchange as a whole, which ureq bounds only per read
//! (`docs/platform-behaviour.md` §1).

use crate::error::{Error, Result};
use crate::url::{ApiRoot, encode};
use std::time::Instant;
use ureq::unversioned::transport::{
    Buffers, ConnectionDetails, DefaultConnector, NextTimeout, Transport,
};

/// The proxy URL to use for `api_root`, or `None`. `env` is the process environment in production.
pub fn choose(
    api_root: &ApiRoot,
    env: impl Fn(&str) -> Option<String>,
) -> Result<Option<ProxyUrl>> {
    let var = |name: &str| {
        env(name)
            .or_else(|| env(&name.to_ascii_lowercase()))
            .filter(|v| !v.trim().is_empty())
    };
    let (host, port) = (api_root.host(), api_root.port());
    let scheme_var = if api_root.uses_tls() {
        "HTTPS_PROXY"
    } else {
        "HTTP_PROXY"
    };
    let (name, url) = match (var(scheme_var), var("ALL_PROXY")) {
        (Some(url), _) => (scheme_var, url),
        (None, Some(url)) => ("ALL_PROXY", url),
        (None, None) => return Ok(None),
    };
    if let Some(no_proxy) = var("NO_PROXY")
        && bypasses(&no_proxy, host, port)
    {
        return Ok(None);
    }
    ProxyUrl::parse(name, url.trim()).map(Some)
}

/// A proxy URL, validated; its credentials are never printed.
#[derive(Clone)]
pub struct ProxyUrl {
    url: String,
    /// What may be shown: scheme, host and port.
    shown: String,
}

/// Shows only scheme, host and port: a `Config` printed with `{:?}` must not carry credentials.
impl std::fmt::Debug for ProxyUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.shown())
    }
}

impl ProxyUrl {
    fn parse(variable: &str, url: &str) -> Result<ProxyUrl> {
        let with_scheme = if url.contains("://") {
            url.to_string()
        } else {
            format!("http://{url}")
        };
        let (scheme, rest) = with_scheme.split_once("://").unwrap_or(("http", ""));
        if scheme != "http" {
            return Err(Error::usage(format!(
                "{variable} must be an http:// proxy (gljob tunnels through it with CONNECT), not {scheme}://"
            )));
        }
        // A password may hold an unencoded `/` or `@`: the credentials end at the last `@`
        // before any query, and the host is what follows, up to the path.
        let before_query = rest.split(['?', '#']).next().unwrap_or_default();
        let (userinfo, after) = match before_query.rsplit_once('@') {
            Some((userinfo, after)) => (Some(userinfo), after),
            None => (None, before_query),
        };
        let host_port = after.split('/').next().unwrap_or_default();
        if host_port.is_empty() {
            return Err(Error::usage(format!("{variable} has no proxy host")));
        }
        // A port past 65535 (or not a number) is a typo to say now, not a connection to fail.
        let port = match host_port.ends_with(']') {
            // `[::1]`: an IPv6 address without a port.
            true => None,
            false => host_port.rsplit_once(':').map(|(_, port)| port),
        };
        if let Some(port) = port
            && !port.parse::<u16>().is_ok_and(|port| port > 0)
        {
            return Err(Error::usage(format!(
                "{variable} names the port '{port}', which is not a TCP port (1 to 65535)"
            )));
        }
        let credentials = match userinfo.map(|u| u.split_once(':').unwrap_or((u, ""))) {
            // Encoded once, as a URL needs them; already-encoded ones (`%40`) are decoded first so
            // they are not encoded twice.
            Some((user, password)) => {
                format!("{}:{}@", encode(&decode(user)), encode(&decode(password)))
            }
            None => String::new(),
        };
        Ok(ProxyUrl {
            url: format!("http://{credentials}{host_port}"),
            shown: format!("http://{host_port}"),
        })
    }

    pub fn as_str(&self) -> &str {
        &self.url
    }

    /// `http://host:port`, without credentials.
    pub fn shown(&self) -> &str {
        &self.shown
    }
}

fn decode(text: &str) -> String {
    percent_encoding::percent_decode_str(text)
        .decode_utf8_lossy()
        .into_owned()
}

/// Whether `NO_PROXY` exempts `host:port`. Entries are comma-separated: `*` (everything), a host or
/// domain (`example.com` also covers `ci.example.com`; a leading `.` or `*.` means the same), an IP
/// address, an IPv4 CIDR range (`10.0.0.0/8`), each optionally with `:port`.
pub fn bypasses(no_proxy: &str, host: &str, port: u16) -> bool {
    no_proxy
        .split([',', ' '])
        .map(str::trim)
        .filter(|e| !e.is_empty())
        .any(|entry| {
            if entry == "*" {
                return true;
            }
            let (pattern, entry_port) = split_entry_port(entry);
            if entry_port.is_some_and(|p| p != port) {
                return false;
            }
            let pattern = pattern
                .trim_start_matches("*.")
                .trim_start_matches('.')
                .to_ascii_lowercase();
            if let Some((net, bits)) = pattern.split_once('/') {
                return in_cidr(host, net, bits);
            }
            let pattern = pattern.trim_start_matches('[').trim_end_matches(']');
            host == pattern || host.ends_with(&format!(".{pattern}"))
        })
}

fn split_entry_port(entry: &str) -> (&str, Option<u16>) {
    if let Some(v6) = entry.strip_prefix('[') {
        return match v6.split_once("]:") {
            Some((host, port)) => (host, port.parse().ok()),
            None => (entry, None),
        };
    }
    match entry.rsplit_once(':') {
        // More than one colon and no brackets: a bare IPv6 address, no port.
        Some((host, _)) if host.contains(':') => (entry, None),
        Some((host, port)) => match port.parse() {
            Ok(port) => (host, Some(port)),
            Err(_) => (entry, None),
        },
        None => (entry, None),
    }
}

fn in_cidr(host: &str, net: &str, bits: &str) -> bool {
    let (Ok(host), Ok(net), Ok(bits)) = (
        host.parse::<std::net::Ipv4Addr>(),
        net.parse::<std::net::Ipv4Addr>(),
        bits.parse::<u32>(),
    ) else {
        return false;
    };
    if bits > 32 {
        return false;
    }
    let mask = if bits == 0 {
        0
    } else {
        u32::MAX << (32 - bits)
    };
    u32::from(host) & mask == u32::from(net) & mask
}

/// ureq's connectors, with the proxy's connection bounded as a whole while the CONNECT exchange
/// runs. For an agent with a proxy only: there, the one connection made without a proxy is the
/// one to the proxy itself (ureq's `ConnectProxyConnector` asks for it with the proxy removed from
/// the configuration).
///
/// Why: ureq 3.5 computes the connect phase's time left once, as a duration (`details.timeout`,
/// the least of `timeout_connect`, `timeout_global` and `timeout_per_call`), and reads the proxy's
/// reply in a loop handing that same duration to every read. A proxy that sends its reply a byte
/// at a time, each within the duration, holds the connection open for as long as it likes, past
/// `--timeout` and `--request-timeout` alike. Here the duration is turned into an instant once,
/// and every read and write of the exchange gets only what is left of it.
#[derive(Debug, Default)]
pub struct Connector {
    inner: DefaultConnector,
}

impl ureq::unversioned::transport::Connector for Connector {
    type Out = Box<dyn Transport>;

    fn connect(
        &self,
        details: &ConnectionDetails,
        chained: Option<()>,
    ) -> std::result::Result<Option<Self::Out>, ureq::Error> {
        let transport = self.inner.connect(details, chained)?;
        if details.config.proxy().is_some() {
            return Ok(transport);
        }
        // The proxy's connection: the CONNECT exchange gets what is left of the connect phase,
        // which began when ureq made `details` (the TLS handshake through the tunnel that follows
        // is already counted from `details.now`, by ureq's rustls connector).
        let until = match (details.now, details.timeout.after) {
            (ureq::unversioned::transport::time::Instant::Exact(now), after)
                if !after.is_not_happening() =>
            {
                now.checked_add(*after)
            }
            _ => None,
        };
        Ok(transport.map(|inner| {
            Box::new(Exchanging {
                inner,
                until,
                replied: false,
            }) as Box<dyn Transport>
        }))
    }
}

/// The connection to the proxy, bounded by `until` while the CONNECT exchange runs.
#[derive(Debug)]
struct Exchanging {
    inner: Box<dyn Transport>,
    /// The end of the connect phase; `None` once the tunnel carries the request, whose phases
    /// ureq bounds itself (each computed anew from the call's start).
    until: Option<Instant>,
    /// Whether the proxy's reply has been read from: the exchange is one request, then its reply,
    /// so the next write is the tunnel's first (a TLS hello or the request).
    replied: bool,
}

impl Exchanging {
    /// `timeout`, cut to what is left before `until`; a timeout error once nothing is.
    fn bounded(&self, mut timeout: NextTimeout) -> std::result::Result<NextTimeout, ureq::Error> {
        if let Some(until) = self.until {
            let left = until.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(ureq::Error::Timeout(ureq::Timeout::Connect));
            }
            if left < *timeout.after {
                timeout.after = left.into();
                timeout.reason = ureq::Timeout::Connect;
            }
        }
        Ok(timeout)
    }
}

impl Transport for Exchanging {
    fn buffers(&mut self) -> &mut dyn Buffers {
        self.inner.buffers()
    }

    fn transmit_output(
        &mut self,
        amount: usize,
        timeout: NextTimeout,
    ) -> std::result::Result<(), ureq::Error> {
        if self.replied {
            self.until = None;
        }
        let timeout = self.bounded(timeout)?;
        self.inner.transmit_output(amount, timeout)
    }

    fn await_input(&mut self, timeout: NextTimeout) -> std::result::Result<bool, ureq::Error> {
        let timeout = self.bounded(timeout)?;
        self.replied = true;
        self.inner.await_input(timeout)
    }

    fn is_open(&mut self) -> bool {
        self.inner.is_open()
    }

    fn is_tls(&self) -> bool {
        self.inner.is_tls()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn pick(root: &str, vars: &[(&str, &str)]) -> Option<String> {
        let map: HashMap<&str, &str> = vars.iter().copied().collect();
        choose(&ApiRoot::parse(root).unwrap(), |n| {
            map.get(n).map(|v| v.to_string())
        })
        .unwrap()
        .map(|p| p.as_str().to_string())
    }

    #[test]
    fn the_schemes_own_variable_then_all_proxy() {
        let vars = [
            ("HTTPS_PROXY", "http://s:1"),
            ("http_proxy", "http://p:2"),
            ("ALL_PROXY", "http://a:3"),
        ];
        assert_eq!(
            pick("https://h/api/v4", &vars).as_deref(),
            Some("http://s:1")
        );
        assert_eq!(
            pick("http://h/api/v4", &vars).as_deref(),
            Some("http://p:2")
        );
        assert_eq!(
            pick("http://h/api/v4", &[("ALL_PROXY", "a:3")]).as_deref(),
            Some("http://a:3")
        );
        assert_eq!(
            pick("https://h/api/v4", &[("HTTP_PROXY", "http://p:2")]),
            None
        );
    }

    #[test]
    fn no_proxy_forms() {
        assert!(bypasses("*", "gitlab.example.com", 443));
        assert!(bypasses("example.com", "gitlab.example.com", 443));
        assert!(bypasses(".example.com", "gitlab.example.com", 443));
        assert!(bypasses("*.example.com", "gitlab.example.com", 443));
        assert!(bypasses("example.com", "example.com", 443));
        assert!(!bypasses("example.com", "badexample.com", 443));
        assert!(bypasses("localhost, 127.0.0.1", "127.0.0.1", 8080));
        assert!(bypasses(
            "gitlab.example.com:8443",
            "gitlab.example.com",
            8443
        ));
        assert!(!bypasses(
            "gitlab.example.com:8443",
            "gitlab.example.com",
            443
        ));
        assert!(bypasses("10.0.0.0/8", "10.1.2.3", 443));
        assert!(!bypasses("10.0.0.0/8", "11.1.2.3", 443));
        assert!(bypasses("[::1]:80", "::1", 80));
        assert!(bypasses("::1", "::1", 80));
        assert!(!bypasses("", "h", 1));
    }

    #[test]
    fn no_proxy_bypasses_and_credentials_are_not_shown() {
        let vars = [
            ("HTTPS_PROXY", "http://user:secret@proxy:3128"),
            ("NO_PROXY", "internal.example"),
        ];
        assert_eq!(pick("https://gitlab.internal.example/api/v4", &vars), None);
        let map: HashMap<&str, &str> = vars.iter().copied().collect();
        let proxy = choose(&ApiRoot::parse("https://gitlab.com/api/v4").unwrap(), |n| {
            map.get(n).map(|v| v.to_string())
        })
        .unwrap()
        .unwrap();
        assert_eq!(proxy.shown(), "http://proxy:3128");
        assert_eq!(format!("{proxy:?}"), "http://proxy:3128");
        assert_eq!(proxy.as_str(), "http://user:secret@proxy:3128");

        // A password with an unencoded `/` (and one already encoded) is neither cut nor shown.
        let proxy = choose(&ApiRoot::parse("https://gitlab.com/api/v4").unwrap(), |n| {
            (n == "HTTPS_PROXY").then(|| "http://us er:pa/ss%40w0rd@proxy:3128/".to_string())
        })
        .unwrap()
        .unwrap();
        assert_eq!(proxy.shown(), "http://proxy:3128");
        assert_eq!(proxy.as_str(), "http://us%20er:pa%2Fss%40w0rd@proxy:3128");
    }

    #[test]
    fn unsupported_proxies_are_usage_errors() {
        let err = choose(&ApiRoot::parse("https://h/api/v4").unwrap(), |n| {
            (n == "HTTPS_PROXY").then(|| "socks5://p:1080".to_string())
        })
        .err()
        .unwrap();
        assert!(err.message().contains("HTTPS_PROXY"));
    }

    #[test]
    fn a_port_that_is_no_tcp_port_is_a_usage_error() {
        let root = ApiRoot::parse("http://h/api/v4").unwrap();
        for bad in [
            "http://127.0.0.1:99999",
            "http://p:0",
            "http://p:x8",
            "http://[::1]:70000",
        ] {
            let err = choose(&root, |n| (n == "HTTP_PROXY").then(|| bad.to_string()))
                .err()
                .unwrap_or_else(|| panic!("{bad} taken"));
            assert!(
                err.message().contains("not a TCP port"),
                "{bad}: {}",
                err.message()
            );
        }
        for good in [
            "http://p:3128",
            "http://[::1]:8080",
            "http://[::1]",
            "http://u:p@p",
        ] {
            assert!(
                choose(&root, |n| (n == "HTTP_PROXY").then(|| good.to_string())).is_ok(),
                "{good}"
            );
        }
    }
}
