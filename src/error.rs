//! The one error type of gljob, and the exit codes that scripts rely on.
//!
//! An error says what happened ([`ErrorKind`]) and, in one line, where and what to do next. The exit
//! code, whether a failure may pass by itself, and whether a write may have been applied are each
//! decided by one `match` on the kind, here and nowhere else: a call site describes what happened,
//! it never picks an exit code.

use std::fmt;

/// Exit codes, exactly as the README's table documents them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExitCode {
    /// The command did what was asked (and, for gates, every job passed).
    Done = 0,
    /// A gate ran to its end and a job did not pass.
    NotPassed = 1,
    /// Bad flag, argument, variable or missing token: nothing was sent to GitLab.
    Usage = 2,
    /// GitLab refused or failed, could not be reached, answered something unreadable, or a
    /// selector matched nothing.
    GitLab = 3,
    /// A write was sent and whether GitLab applied it is not known.
    WriteUnknown = 4,
    /// Standard output could not be written before the command finished.
    Output = 5,
    /// `--timeout` ran out.
    TimedOut = 124,
}

impl ExitCode {
    pub fn code(self) -> i32 {
        self as i32
    }
}

/// What went wrong, as far as a script's decision is concerned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ErrorKind {
    /// A bad flag, argument, variable or setting, found before any request was sent.
    Usage,
    /// GitLab (or a proxy in front of it) answered with this non-success status.
    Refused { status: u16, message: String },
    /// The request provably never reached GitLab: the connection was refused, the host unknown.
    Unreachable,
    /// The request went out and no whole answer came back (timeout, reset).
    NoAnswer,
    /// An answer came that GitLab would not send: not JSON, truncated, not a job.
    Unreadable,
    /// A list kept changing while it was read page by page, so no consistent snapshot was had.
    Inconsistent,
    /// A selector matched nothing, or more jobs than the command takes.
    NoMatch,
    /// This GitLab (or this job) cannot do what was asked: job inputs before 18.10, an archived
    /// job. Nothing was written.
    Unsupported,
    /// A write was sent; neither its effect nor its refusal could be proven.
    WriteUnknown,
    /// Writing standard output failed (closed or full) before the command finished.
    Output,
    /// The `--timeout` deadline passed.
    TimedOut,
}

/// A failure: its kind and one line of explanation (where, what GitLab said, what to do next).
///
/// The message never contains a secret: tokens live in [`crate::config::Secret`], which cannot be
/// formatted, and every line written to stderr goes through [`crate::say`], which removes every
/// secret of the run wherever it appears.
#[derive(Debug, Clone)]
pub struct Error {
    kind: ErrorKind,
    message: String,
}

impl Error {
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Error {
            kind,
            message: message.into(),
        }
    }

    pub fn usage(message: impl Into<String>) -> Self {
        Error::new(ErrorKind::Usage, message)
    }

    pub fn no_match(message: impl Into<String>) -> Self {
        Error::new(ErrorKind::NoMatch, message)
    }

    pub fn unreadable(message: impl Into<String>) -> Self {
        Error::new(ErrorKind::Unreadable, message)
    }

    pub fn output(err: std::io::Error) -> Self {
        Error::new(
            ErrorKind::Output,
            format!("writing standard output failed: {err}"),
        )
    }

    pub fn timed_out(message: impl Into<String>) -> Self {
        Error::new(ErrorKind::TimedOut, message)
    }

    pub fn kind(&self) -> &ErrorKind {
        &self.kind
    }

    pub fn message(&self) -> &str {
        &self.message
    }

    /// The same kind with a hint after the message.
    pub fn hint(self, hint: impl fmt::Display) -> Self {
        Error {
            message: format!("{}; {hint}", self.message),
            kind: self.kind,
        }
    }

    pub fn exit_code(&self) -> ExitCode {
        match self.kind {
            ErrorKind::Usage => ExitCode::Usage,
            ErrorKind::Refused { .. }
            | ErrorKind::Unreachable
            | ErrorKind::NoAnswer
            | ErrorKind::Unreadable
            | ErrorKind::Inconsistent
            | ErrorKind::NoMatch
            | ErrorKind::Unsupported => ExitCode::GitLab,
            ErrorKind::WriteUnknown => ExitCode::WriteUnknown,
            ErrorKind::Output => ExitCode::Output,
            ErrorKind::TimedOut => ExitCode::TimedOut,
        }
    }

    /// Whether the same read may succeed if tried again: GitLab overloaded or unreachable, or an
    /// answer damaged on the way; never a refusal of the request itself.
    pub fn is_transient(&self) -> bool {
        match &self.kind {
            ErrorKind::Refused { status, .. } => matches!(status, 429 | 500 | 502 | 503 | 504),
            ErrorKind::Unreachable
            | ErrorKind::NoAnswer
            | ErrorKind::Unreadable
            | ErrorKind::Inconsistent => true,
            ErrorKind::Usage
            | ErrorKind::NoMatch
            | ErrorKind::Unsupported
            | ErrorKind::WriteUnknown
            | ErrorKind::Output
            | ErrorKind::TimedOut => false,
        }
    }

    /// For a failed write: whether GitLab may have applied it. Only a refused connection and
    /// GitLab's own refusal (4xx: it checks before it acts) prove that it did not.
    pub fn may_have_applied(&self) -> bool {
        match &self.kind {
            ErrorKind::Refused { status, .. } => *status >= 500,
            ErrorKind::NoAnswer
            | ErrorKind::Unreadable
            | ErrorKind::TimedOut
            | ErrorKind::WriteUnknown => true,
            ErrorKind::Usage
            | ErrorKind::Unreachable
            | ErrorKind::Inconsistent
            | ErrorKind::NoMatch
            | ErrorKind::Unsupported
            | ErrorKind::Output => false,
        }
    }

    /// GitLab's HTTP status, when the failure is GitLab's answer.
    pub fn http_status(&self) -> Option<u16> {
        match &self.kind {
            ErrorKind::Refused { status, .. } => Some(*status),
            _ => None,
        }
    }

    /// GitLab's `message` (or `error`), when the failure is GitLab's answer.
    pub fn gitlab_message(&self) -> Option<&str> {
        match &self.kind {
            ErrorKind::Refused { message, .. } => Some(message),
            _ => None,
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Error {}

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Makes arbitrary bytes from a server fit in a one-line message: control characters become
/// spaces, runs of white space fold into one, and the result is cut to `max` characters.
pub fn clean_snippet(bytes: &[u8], max: usize) -> String {
    // Secrets are removed before the text is cut: a token cut in half would no longer be found.
    let lossy = String::from_utf8_lossy(bytes);
    let text = crate::redact::redact(&lossy);
    let mut out = String::new();
    let mut last_space = true;
    let mut count = 0;
    for ch in text.chars() {
        let ch = if ch.is_control() || ch.is_whitespace() {
            ' '
        } else {
            ch
        };
        if ch == ' ' && last_space {
            continue;
        }
        if count == max {
            out.push('…');
            break;
        }
        last_space = ch == ' ';
        out.push(ch);
        count += 1;
    }
    out.trim_end().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn snippet_folds_control_characters_and_cuts() {
        assert_eq!(
            clean_snippet(b"<html>\r\n\t<body>502\x1b[0m</body>", 100),
            "<html> <body>502 [0m</body>"
        );
        assert_eq!(clean_snippet(b"abcdef", 3), "abc…");
        assert_eq!(clean_snippet(b"\xff\xfeok", 10), "\u{fffd}\u{fffd}ok");
    }

    #[test]
    fn each_kind_has_one_exit_code_and_one_write_rule() {
        let refused = |status| ErrorKind::Refused {
            status,
            message: String::new(),
        };
        let cases = [
            (ErrorKind::Usage, 2, false, false),
            (refused(403), 3, false, false),
            (refused(429), 3, true, false),
            (refused(502), 3, true, true),
            (ErrorKind::Unreachable, 3, true, false),
            (ErrorKind::NoAnswer, 3, true, true),
            (ErrorKind::Unreadable, 3, true, true),
            (ErrorKind::Inconsistent, 3, true, false),
            (ErrorKind::NoMatch, 3, false, false),
            (ErrorKind::Unsupported, 3, false, false),
            (ErrorKind::WriteUnknown, 4, false, true),
            (ErrorKind::Output, 5, false, false),
            (ErrorKind::TimedOut, 124, false, true),
        ];
        for (kind, code, transient, applied) in cases {
            let err = Error::new(kind.clone(), "x");
            assert_eq!(err.exit_code().code(), code, "{kind:?}");
            assert_eq!(err.is_transient(), transient, "{kind:?}");
            assert_eq!(err.may_have_applied(), applied, "{kind:?}");
        }
    }
}
