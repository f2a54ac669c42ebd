//! gljob's integration tests, in one binary (so `tests/support` and the test server build once).
//! Each module spawns the built `gljob` as a runner would, with a cleared environment, against the
//! GitLab test server of `support/gitlab/`, and asserts on what the server received as much as on
//! what gljob said. By behaviour:

/// The test server, the runner's environment, and the checks every run goes through (no token in
/// any output).
mod support;

/// `artifacts`: downloads by job token, streamed, unpacked safely.
mod artifacts;
/// The command line as a script writes it: clusters, `--flag=value`, `--`, usage errors.
mod cli;
/// Every command: the token per route and GitLab version, pagination, output formats, errors and
/// exit codes.
mod commands;
/// At the edges: deadlines through a proxy's CONNECT, CA files that block, percent-encoded tokens,
/// an API root without `/api/v4`.
mod edges;
/// The randomized oracle: pipelines, timelines, faults and commands judged by the server's record.
mod oracle;
/// The parsers and output formats against random and mutated payloads (proptest).
mod properties;
/// What each review and issue found, one test (or more) per bug class, named for what it guards
/// against.
mod regression;
/// The verdict where people look: `--junit` and collapsible log sections.
mod reports;
/// The test server's faults, seen through a plain HTTP client.
mod test_server;
/// Retries, rate limits, private CAs, proxies, timeouts, answers GitLab would not send, tokens.
mod transport;
/// Pipelines of pipelines: `BRIDGE::SELECTOR`, trigger jobs, needs-style names, `bridges --tree`.
mod trees;
/// Selecting jobs, waiting on them (rounds that ask only for unfinished jobs), playing, checking,
/// following logs.
mod waiting;
