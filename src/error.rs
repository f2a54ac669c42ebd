//! The one error type of gljob, and the exit codes that scripts rely on.
//!
//! Every failure ends as a single line on stderr. The exit code tells a deploy script what kind of
//! failure it was; the README's table is the contract and [`ExitCode`] is its only implementation.

use std::fmt;

/// Exit codes, exactly as the README documents them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExitCode {
    /// The command did what was asked (and, for gates, every job passed).
    Done = 0,
    /// A gate ran to its end and a job did not pass.
    NotPassed = 1,
    /// Bad flag, argument, variable or missing token: nothing was sent to GitLab.
    Usage = 2,
    /// GitLab refused or failed, or could not be reached, or answered something unreadable.
    GitLab = 3,
    /// A wait ran out of time before every job was final.
    TimedOut = 124,
}

impl ExitCode {
    pub fn code(self) -> i32 {
        self as i32
    }
}

/// A failure with the exit code it maps to and one line of explanation.
///
/// The message never contains a token: tokens live in [`crate::config::Secret`], which cannot be
/// formatted, and GitLab's bodies are quoted only after [`clean_snippet`] has shortened them.
#[derive(Debug)]
pub struct Error {
    code: ExitCode,
    message: String,
    /// The HTTP status and GitLab's `message`, when GitLab answered: callers that know more about
    /// the command (play, retry) use them to explain the refusal better.
    answer: Option<(u16, String)>,
    /// The request provably never reached GitLab (the connection was refused): a write that failed
    /// so did not happen.
    unreached: bool,
}

impl Error {
    pub fn usage(message: impl Into<String>) -> Self {
        Error {
            code: ExitCode::Usage,
            message: message.into(),
            answer: None,
            unreached: false,
        }
    }

    pub fn gitlab(message: impl Into<String>) -> Self {
        Error {
            code: ExitCode::GitLab,
            message: message.into(),
            answer: None,
            unreached: false,
        }
    }

    /// GitLab could not be reached at all: nothing was sent.
    pub fn unreached(message: impl Into<String>) -> Self {
        Error {
            unreached: true,
            ..Error::gitlab(message)
        }
    }

    pub fn never_reached_gitlab(&self) -> bool {
        self.unreached
    }

    /// A refusal or failure that GitLab answered with `status` and `gitlab_message`.
    pub fn answered(status: u16, gitlab_message: String, message: String) -> Self {
        Error {
            code: ExitCode::GitLab,
            message,
            answer: Some((status, gitlab_message)),
            unreached: false,
        }
    }

    /// GitLab's HTTP status, when the failure is GitLab's answer.
    pub fn http_status(&self) -> Option<u16> {
        self.answer.as_ref().map(|(status, _)| *status)
    }

    /// GitLab's `message` (or `error`), when the failure is GitLab's answer.
    pub fn gitlab_message(&self) -> Option<&str> {
        self.answer.as_ref().map(|(_, message)| message.as_str())
    }

    pub fn exit_code(&self) -> ExitCode {
        self.code
    }

    pub fn message(&self) -> &str {
        &self.message
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Error {}

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Makes arbitrary bytes from a server safe to put in a one-line message: control characters become
/// spaces, runs of white space fold into one, and the result is cut to `max` characters.
pub fn clean_snippet(bytes: &[u8], max: usize) -> String {
    let text = String::from_utf8_lossy(bytes);
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
}
