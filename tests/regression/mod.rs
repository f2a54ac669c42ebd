//! Regressions: what hostile reviews and issues found, each a test that failed before its fix.
//! `tests/REGRESSIONS.md` maps the older classes to their tests.

/// Issue 8, "Verdicts that cannot lie": the bug classes of the review of 0.1.0.
mod issue8;
/// The three hostile reviews of 0.1.x: attempts, trigger jobs, encodings, reports, CA files.
mod review;
/// Issue 17: where what gljob said disagreed with its exit code, or said less than it knew.
mod truth;
