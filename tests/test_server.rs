//! The test server's faults do what they say, seen through a plain HTTP client (no gljob): a
//! failing gljob test means something only if its fault is the one it claims to be.

use crate::support;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;
use support::gitlab::{API_TOKEN, Fault, GitLab, Job, Rule};

struct Answer {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Answer {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    fn ids(&self) -> Vec<u64> {
        let list: serde_json::Value = serde_json::from_slice(&self.body).unwrap_or_else(|e| {
            panic!(
                "not a JSON list ({e}): {:?} {:?}",
                self.headers,
                String::from_utf8_lossy(&self.body[..self.body.len().min(300)])
            )
        });
        list.as_array()
            .expect("an array")
            .iter()
            .map(|j| j["id"].as_u64().expect("an id"))
            .collect()
    }
}

fn send(server: &GitLab, method: &str, path: &str) -> TcpStream {
    let mut stream = TcpStream::connect(("127.0.0.1", server.port)).expect("connect");
    write!(
        stream,
        "{method} /api/v4/projects/42/{path} HTTP/1.1\r\nHost: 127.0.0.1\r\nPRIVATE-TOKEN: {API_TOKEN}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    )
    .expect("send");
    stream
}

/// The whole answer, or `None` if nothing complete came within `wait`.
fn request(server: &GitLab, method: &str, path: &str, wait: Duration) -> Option<Answer> {
    let mut stream = send(server, method, path);
    stream.set_read_timeout(Some(wait)).expect("timeout");
    let mut raw = Vec::new();
    if stream.read_to_end(&mut raw).is_err() || raw.is_empty() {
        return None;
    }
    let split = raw.windows(4).position(|w| w == b"\r\n\r\n")?;
    let head = String::from_utf8_lossy(&raw[..split]).into_owned();
    let mut lines = head.lines();
    let status = lines.next()?.split_whitespace().nth(1)?.parse().ok()?;
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .collect();
    let mut answer = Answer {
        status,
        headers,
        body: raw[split + 4..].to_vec(),
    };
    if answer
        .header("Transfer-Encoding")
        .is_some_and(|v| v.eq_ignore_ascii_case("chunked"))
    {
        answer.body = dechunk(&answer.body);
    }
    Some(answer)
}

/// The body of a `Transfer-Encoding: chunked` answer (tiny_http chunks large ones).
fn dechunk(mut raw: &[u8]) -> Vec<u8> {
    let mut body = Vec::new();
    loop {
        let Some(end) = raw.windows(2).position(|w| w == b"\r\n") else {
            return body;
        };
        let size_text = String::from_utf8_lossy(&raw[..end]);
        let size = usize::from_str_radix(size_text.split(';').next().unwrap_or("").trim(), 16)
            .expect("a chunk size");
        if size == 0 {
            return body;
        }
        let start = end + 2;
        body.extend_from_slice(&raw[start..start + size]);
        raw = &raw[start + size + 2..];
    }
}

const SECOND: Duration = Duration::from_secs(1);

fn big_pipeline() -> GitLab {
    let server = GitLab::start((18, 3));
    server.add((1..=150).map(|i| Job::new(i, &format!("test-{i}"), "test", "success")));
    server
}

#[test]
fn pages_carry_gitlabs_headers_and_ignore_page_repeats_page_1_without_them() {
    let server = big_pipeline();
    let page = |p: u32| {
        request(
            &server,
            "GET",
            &format!("pipelines/1000/jobs?per_page=100&page={p}"),
            SECOND,
        )
        .expect("an answer")
    };
    let first = page(1);
    assert_eq!(first.header("X-Next-Page"), Some("2"));
    assert_eq!(first.header("X-Total"), Some("151"));
    assert_eq!(first.header("X-Total-Pages"), Some("2"));
    assert_eq!(page(2).ids().len(), 51);

    server.fault(Rule::new("GET", "/pipelines/1000/jobs", Fault::IgnorePage).forever());
    let again = page(2);
    assert_eq!(again.ids(), first.ids(), "page 1 whatever was asked");
    for name in ["X-Next-Page", "X-Total", "X-Total-Pages", "Link"] {
        assert_eq!(again.header(name), None, "{name}");
    }
}

#[test]
fn shift_between_pages_duplicates_an_id_and_hides_the_retried_job() {
    let server = big_pipeline();
    server.fault(Rule::new(
        "GET",
        "/pipelines/1000/jobs",
        Fault::ShiftBetweenPages {
            name: "test-3".into(),
            status: "failed",
        },
    ));
    let get = |p: u32| {
        request(
            &server,
            "GET",
            &format!("pipelines/1000/jobs?per_page=100&page={p}"),
            SECOND,
        )
        .expect("an answer")
        .ids()
    };
    let (one, two) = (get(1), get(2));
    assert!(two.iter().any(|id| one.contains(id)), "an id on both pages");
    assert!(!one.contains(&3) && !two.contains(&3) && !one.contains(&10_000));
    assert_eq!(server.latest("test-3").id, 10_000);
    assert_eq!(server.latest("test-3").status, "failed");
}

#[test]
fn writes_applied_later_or_before_a_mangled_answer_are_in_the_record() {
    let server = GitLab::start((18, 3));
    server.add([Job::new(5, "deploy", "deploy", "manual")]);
    server.fault(Rule::new("POST", "/play", Fault::ApplyLater { after: 2 }));
    let lost = request(&server, "POST", "jobs/5/play", Duration::from_millis(300));
    assert!(lost.is_none(), "no answer");
    assert!(server.applied().is_empty());
    for _ in 0..2 {
        request(&server, "GET", "jobs/5", SECOND).expect("a read");
        assert!(server.applied().is_empty(), "not yet");
    }
    request(&server, "GET", "jobs/5", SECOND).expect("a read");
    assert_eq!(server.applied(), [("play", 5)]);

    server.add([Job::new(6, "e2e", "test", "running")]);
    server.fault(Rule::new("POST", "/cancel", Fault::EmptyObject));
    let answer = request(&server, "POST", "jobs/6/cancel", SECOND).expect("an answer");
    assert_eq!((answer.status, answer.body.as_slice()), (200, &b"{}"[..]));
    assert_eq!(server.job(6).status, "canceled");
}

#[test]
fn truncated_echoing_and_silent_answers() {
    let server = GitLab::start((18, 3));
    server.add([Job::new(5, "deploy", "deploy", "success")]);
    server.fault(Rule::new("GET", "/jobs/5", Fault::TruncatedJson));
    let cut = request(&server, "GET", "jobs/5", SECOND).expect("an answer");
    assert_eq!(cut.status, 200);
    assert!(serde_json::from_slice::<serde_json::Value>(&cut.body).is_err());

    server.fault(Rule::new(
        "GET",
        "/jobs/5",
        Fault::EchoToken { status: 401 },
    ));
    let echo = request(&server, "GET", "jobs/5", SECOND).expect("an answer");
    assert_eq!(echo.status, 401);
    assert!(String::from_utf8_lossy(&echo.body).contains(API_TOKEN));

    server.fault(Rule::new("GET", "/jobs/5", Fault::NoAnswer));
    assert!(request(&server, "GET", "jobs/5", Duration::from_millis(200)).is_none());
    // The server goes on serving others meanwhile, and the rule is spent.
    assert_eq!(
        request(&server, "GET", "jobs/5", SECOND)
            .expect("an answer")
            .status,
        200
    );
}

#[test]
fn a_trickle_sends_the_head_then_a_byte_at_a_time_without_blocking_the_server() {
    let server = GitLab::start((18, 3));
    server.add([Job::new(5, "deploy", "deploy", "success")]);
    server.fault(Rule::new(
        "GET",
        "/jobs/5",
        Fault::Trickle { bytes_per_sec: 2 },
    ));
    let mut slow = send(&server, "GET", "jobs/5");
    slow.set_read_timeout(Some(Duration::from_secs(3)))
        .expect("timeout");
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        assert_eq!(slow.read(&mut byte).expect("the head"), 1);
        head.push(byte[0]);
    }
    let length: usize = String::from_utf8_lossy(&head)
        .lines()
        .find_map(|l| l.strip_prefix("Content-Length: "))
        .and_then(|v| v.trim().parse().ok())
        .expect("a length");
    assert!(length > 1000);
    // While the slow answer trickles, others are served in full.
    for _ in 0..3 {
        assert_eq!(
            request(&server, "GET", "jobs/5", SECOND)
                .expect("an answer")
                .status,
            200
        );
    }
    let mut some = [0u8; 64];
    let got = slow.read(&mut some).expect("a trickled byte");
    assert!(got <= 2, "{got} bytes came at once");
}
