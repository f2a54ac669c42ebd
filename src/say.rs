//! The choke point for what people read: every stderr line, and every cell of human stdout.
//!
//! Two things are done there to everything people read:
//! - **redaction**, by the run's [`crate::redact::Redactor`];
//! - **neutralising control characters**: a job name such as `x\r\n\e[32mpassed: deploy` must not
//!   forge a line of the CI log, so CR, LF, ESC and the other control characters (and Unicode's
//!   direction overrides) are shown escaped (`\r`, `\n`, `\x1b`).
//!
//! `--json` output and `trace`'s log bytes do not come here: they are GitLab's bytes, unchanged.

use std::borrow::Cow;
use std::io::Write as _;

/// Shows control characters (and Unicode's bidirectional overrides, which reorder what a
/// terminal displays) as visible escapes, so text from GitLab can never start a line, move the
/// cursor or colour what follows.
pub fn escape_controls(text: &str) -> Cow<'_, str> {
    if !text.chars().any(needs_escape) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        match c {
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if needs_escape(c) && (c as u32) < 0x100 => {
                out.push_str(&format!("\\x{:02x}", c as u32))
            }
            c if needs_escape(c) => out.push_str(&format!("\\u{{{:x}}}", c as u32)),
            c => out.push(c),
        }
    }
    Cow::Owned(out)
}

/// Control characters, and the invisible ones that move or hide text: direction marks and
/// overrides, zero-width characters, line and paragraph separators, the soft hyphen and the BOM.
fn needs_escape(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{00ad}'
                | '\u{061c}'
                | '\u{180e}'
                | '\u{200b}'..='\u{200f}'
                | '\u{2028}'..='\u{202e}'
                | '\u{2060}'..='\u{2069}'
                | '\u{feff}'
                | '\u{fff9}'..='\u{fffb}'
        )
}

/// Text for people: secrets removed, control characters escaped.
pub fn clean(text: &str) -> String {
    escape_controls(&crate::redact::redact(text)).into_owned()
}

/// One line on stderr, cleaned. Unlike `eprintln!`, it does not panic when stderr fails to take
/// it (`2>/dev/full`, a full disk): with `panic = "abort"` that turned any verdict into SIGABRT.
pub fn line(text: &str) {
    let cleaned = clean(text);
    let mut err = std::io::stderr().lock();
    let _ = err.write_all(cleaned.as_bytes());
    let _ = err.write_all(b"\n");
}

/// A collapsible section of a GitLab job log: GitLab's `section_start`/`section_end` markers,
/// collapsed by default, whose header line is what the log shows while it is folded. The markers
/// are the only escape sequences gljob writes itself, so they bypass [`clean`]; the name is reduced
/// to the characters GitLab accepts, and the header is cleaned like any other line.
pub struct Section {
    name: String,
    open: bool,
}

impl Section {
    /// Opens a section when `enabled` (inside a GitLab job, not `--no-sections`, no `NO_COLOR`);
    /// otherwise nothing is said: outside CI, progress is plain lines.
    pub fn start(enabled: bool, name: &str, header: &str) -> Section {
        let name: String = name
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '_' || c == '.' || c == '-' {
                    c
                } else {
                    '_'
                }
            })
            .collect();
        if enabled {
            raw_line(&format!(
                "\x1b[0Ksection_start:{}:{name}[collapsed=true]\r\x1b[0K{}",
                unix_time(),
                clean(header)
            ));
        }
        Section {
            name,
            open: enabled,
        }
    }

    /// Closes the section; what is said after it stays visible in the folded log.
    pub fn end(self) {
        if self.open {
            raw_line(&format!(
                "\x1b[0Ksection_end:{}:{}\r\x1b[0K",
                unix_time(),
                self.name
            ));
        }
    }
}

fn unix_time() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// A line whose escape sequences are gljob's own (section markers), written as they are.
fn raw_line(text: &str) {
    let mut err = std::io::stderr().lock();
    let _ = err.write_all(text.as_bytes());
    let _ = err.write_all(b"\n");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_characters_are_shown_not_obeyed() {
        assert_eq!(
            escape_controls("x\r\n\u{1b}[32mpassed: deploy\t\u{202e}"),
            "x\\r\\n\\x1b[32mpassed: deploy\\t\\u{202e}"
        );
        assert_eq!(escape_controls("rspec 1/3 ✓"), "rspec 1/3 ✓");
        assert_eq!(
            escape_controls("a\u{2028}b\u{200e}c\u{feff}d\u{ad}"),
            "a\\u{2028}b\\u{200e}c\\u{feff}d\\xad"
        );
    }
}
