//! One pass over a page of GitLab's JSON: the items of the array, each with its bytes and the byte
//! ranges of its top-level fields.
//!
//! A wait round reads the whole pipeline every interval, and most of each job's 2 KB (its user,
//! commit, runner, artifacts) says nothing about a verdict. serde_json reads every byte of every
//! field it skips, one at a time, and splitting a page into items and then typing each item reads
//! it twice; this scanner reads it once, going through strings eight bytes at a time. Only the fields a verdict needs are then given to serde_json, each a few bytes.
//!
//! What it checks: the structure (brackets, braces, strings, commas and colons where JSON has them)
//! and that nothing follows the array, so a page cut short is refused, as is anything but an array
//! of objects. What it does not check: the inside of numbers and literals of fields it skips; the
//! fields it hands to serde_json are checked there. `--json` prints an item's bytes as GitLab sent
//! them.

use std::ops::Range;

/// One object of the array: its bytes, and its top-level fields as (key, value bytes). Keys are
/// as written between their quotes (GitLab's keys hold no escapes).
pub struct Item<'a> {
    pub text: &'a str,
    pub fields: &'a [(&'a str, &'a str)],
}

impl<'a> Item<'a> {
    /// The value of top-level field `key`, as JSON text.
    pub fn field(&self, key: &str) -> Option<&'a str> {
        self.fields.iter().find(|(k, _)| *k == key).map(|(_, v)| *v)
    }
}

/// An item as owned text and its fields, for tests.
#[cfg(test)]
type OwnedItem = (String, Vec<(String, String)>);

/// Splits `text`, which must be a JSON array of objects, into its items.
#[cfg(test)]
pub fn items(text: &str) -> Result<Vec<OwnedItem>, String> {
    let mut items = Vec::new();
    for_each_item(text, &[], |item| {
        items.push((
            item.text.to_string(),
            item.fields
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        ));
        Ok(())
    })?;
    Ok(items)
}

/// Calls `each` with every item of `text`, which must be a JSON array of objects, in order, with
/// the top-level fields named in `wanted` (every field when `wanted` is empty): a job has some 40,
/// a verdict needs 16, and the others are only stepped over.
pub fn for_each_item<'a>(
    text: &'a str,
    wanted: &[&str],
    mut each: impl FnMut(&Item<'_>) -> Result<(), String>,
) -> Result<(), String> {
    let mut scanner = Scanner {
        bytes: text.as_bytes(),
        pos: 0,
    };
    // One buffer for every item's fields: a job has some 40, and a page 100 jobs.
    let mut ranges: Vec<(Range<usize>, Range<usize>)> = Vec::with_capacity(64);
    let mut fields: Vec<(&'a str, &'a str)> = Vec::with_capacity(64);
    scanner.skip_ws();
    scanner.expect(b'[')?;
    scanner.skip_ws();
    if scanner.peek() == Some(b']') {
        scanner.pos += 1;
    } else {
        loop {
            scanner.skip_ws();
            let start = scanner.pos;
            ranges.clear();
            scanner.object(wanted, &mut ranges)?;
            fields.clear();
            fields.extend(
                ranges
                    .iter()
                    .map(|(key, value)| (&text[key.clone()], &text[value.clone()])),
            );
            each(&Item {
                text: &text[start..scanner.pos],
                fields: &fields,
            })?;
            scanner.skip_ws();
            match scanner.next()? {
                b',' => continue,
                b']' => break,
                other => return Err(scanner.unexpected(other, "',' or ']'")),
            }
        }
    }
    scanner.skip_ws();
    if scanner.pos != scanner.bytes.len() {
        return Err(format!(
            "something follows the array at byte {}",
            scanner.pos
        ));
    }
    Ok(())
}

struct Scanner<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl Scanner<'_> {
    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.pos).copied()
    }

    fn next(&mut self) -> Result<u8, String> {
        let byte = self.peek().ok_or("the JSON is cut short")?;
        self.pos += 1;
        Ok(byte)
    }

    fn expect(&mut self, wanted: u8) -> Result<(), String> {
        match self.next()? {
            byte if byte == wanted => Ok(()),
            other => Err(self.unexpected(other, &format!("'{}'", wanted as char))),
        }
    }

    fn unexpected(&self, byte: u8, wanted: &str) -> String {
        format!(
            "expected {wanted} at byte {}, found {:?}",
            self.pos.saturating_sub(1),
            byte as char
        )
    }

    fn skip_ws(&mut self) {
        while let Some(b' ' | b'\n' | b'\r' | b'\t') = self.peek() {
            self.pos += 1;
        }
    }

    /// An object whose opening brace is next; the ranges of its keys (without quotes) and values.
    fn object(
        &mut self,
        wanted: &[&str],
        fields: &mut Vec<(Range<usize>, Range<usize>)>,
    ) -> Result<(), String> {
        self.expect(b'{')?;
        self.skip_ws();
        if self.peek() == Some(b'}') {
            self.pos += 1;
            return Ok(());
        }
        loop {
            self.skip_ws();
            let key = self.string()?;
            self.skip_ws();
            self.expect(b':')?;
            self.skip_ws();
            let start = self.pos;
            self.value()?;
            let key = key.start + 1..key.end - 1;
            let name = &self.bytes[key.clone()];
            if wanted.is_empty() || wanted.iter().any(|w| w.as_bytes() == name) {
                fields.push((key, start..self.pos));
            }
            self.skip_ws();
            match self.next()? {
                b',' => continue,
                b'}' => return Ok(()),
                other => return Err(self.unexpected(other, "',' or '}'")),
            }
        }
    }

    /// A string whose opening quote is next; its range, quotes included.
    fn string(&mut self) -> Result<Range<usize>, String> {
        let start = self.pos;
        match skip_string(self.bytes, start) {
            Some(end) => {
                self.pos = end;
                Ok(start..end)
            }
            None if self.bytes.get(start) != Some(&b'"') => {
                let byte = self.next()?;
                Err(self.unexpected(byte, "'\"'"))
            }
            None => Err("a string is cut short".into()),
        }
    }

    /// Any value, skipped: strings jump to their closing quote, objects and arrays to their
    /// matching bracket, numbers and literals to the next delimiter.
    fn value(&mut self) -> Result<(), String> {
        match self.peek().ok_or("the JSON is cut short")? {
            b'"' => self.string().map(|_| ()),
            b'{' | b'[' => match skip_nested(self.bytes, self.pos) {
                Ok(end) => {
                    self.pos = end;
                    Ok(())
                }
                Err(why) => Err(why.into()),
            },
            b'}' | b']' | b',' | b':' => {
                let byte = self.next()?;
                Err(self.unexpected(byte, "a value"))
            }
            _ => {
                let start = self.pos;
                let rest = &self.bytes[start..];
                let len = rest
                    .iter()
                    .position(|b| matches!(b, b',' | b'}' | b']' | b' ' | b'\n' | b'\r' | b'\t'))
                    .unwrap_or(rest.len());
                self.pos += len;
                if len == 0 {
                    return Err("the JSON is cut short".into());
                }
                Ok(())
            }
        }
    }
}

/// The index after the closing quote of the string whose opening quote is at `start`; `None` when
/// there is no opening quote or the string is cut short.
///
/// Eight bytes are looked at a time (SWAR): `has_zero` marks the bytes of a word equal to zero,
/// so `has_zero(word ^ (ONES * b'"'))` marks the quotes. Its lowest mark is always right (the
/// borrows that can mark a byte wrongly only run upwards from a real match), and the lowest is
/// the only one used.
fn skip_string(bytes: &[u8], start: usize) -> Option<usize> {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGHS: u64 = 0x8080_8080_8080_8080;
    fn has_zero(v: u64) -> u64 {
        v.wrapping_sub(ONES) & !v & HIGHS
    }
    if bytes.get(start) != Some(&b'"') {
        return None;
    }
    let mut i = start + 1;
    loop {
        while let Some(chunk) = bytes.get(i..i + 8) {
            let mut word = [0u8; 8];
            word.copy_from_slice(chunk);
            let word = u64::from_le_bytes(word);
            let marks = has_zero(word ^ (ONES * u64::from(b'"')))
                | has_zero(word ^ (ONES * u64::from(b'\\')));
            if marks != 0 {
                i += (marks.trailing_zeros() / 8) as usize;
                break;
            }
            i += 8;
        }
        // Fewer than 8 bytes left, or `i` is at a quote or backslash.
        loop {
            match *bytes.get(i)? {
                b'"' => return Some(i + 1),
                // An escape: the next byte is escaped, whatever it is.
                b'\\' => {
                    i += 2;
                    break;
                }
                _ => i += 1,
            }
        }
    }
}

/// The index after the bracket that closes the object or array opening at `start`. Brackets inside
/// strings do not count, and each closing bracket must match its opening one. Nesting is kept as
/// bits (1 for an object), so no allocation is needed below 64 levels.
fn skip_nested(bytes: &[u8], start: usize) -> Result<usize, &'static str> {
    let mut kinds: u64 = 0;
    let mut depth: u32 = 0;
    let mut i = start;
    while let Some(&byte) = bytes.get(i) {
        match byte {
            b'"' => {
                i = skip_string(bytes, i).ok_or("a string is cut short")?;
                continue;
            }
            b'{' | b'[' => {
                if depth == 64 {
                    return Err("objects and arrays nest deeper than 64 levels");
                }
                kinds = (kinds << 1) | u64::from(byte == b'{');
                depth += 1;
            }
            b'}' | b']' => {
                if depth == 0 || (kinds & 1 == 1) != (byte == b'}') {
                    return Err("a bracket does not match");
                }
                kinds >>= 1;
                depth -= 1;
                if depth == 0 {
                    return Ok(i + 1);
                }
            }
            _ => {}
        }
        i += 1;
    }
    Err("the JSON is cut short")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn items_and_their_fields() {
        let text = r#" [ {"id": 1, "name": "a \" ]}", "x": {"y": [1, {"z": "}"}]}, "ok": true},
            {"id":2,"nested":[[],[{}]],"n":-1.5e3,"s":"\\"} ] "#;
        let items = items(text).unwrap();
        assert_eq!(items.len(), 2);
        let field = |i: usize, key: &str| {
            items[i]
                .1
                .iter()
                .find(|(k, _)| k == key)
                .map(|(_, v)| v.clone())
        };
        assert_eq!(field(0, "id").as_deref(), Some("1"));
        assert_eq!(field(0, "name").as_deref(), Some(r#""a \" ]}""#));
        assert_eq!(field(0, "x").as_deref(), Some(r#"{"y": [1, {"z": "}"}]}"#));
        assert_eq!(field(0, "ok").as_deref(), Some("true"));
        assert_eq!(field(1, "n").as_deref(), Some("-1.5e3"));
        assert_eq!(field(1, "s").as_deref(), Some(r#""\\""#));
        assert!(items[1].0.starts_with(r#"{"id":2"#) && items[1].0.ends_with('}'));
        assert!(super::items("[]").unwrap().is_empty());
        assert!(super::items(" [ ] ").unwrap().is_empty());
    }

    #[test]
    fn cut_short_or_not_an_array_of_objects_is_refused() {
        for bad in [
            "",
            "[",
            "[{",
            r#"[{"id":1"#,
            r#"[{"id":1,"#,
            r#"[{"id":"x}]"#,
            r#"[{"id":1}"#,
            r#"[{"id":1},]"#,
            r#"[{"id":[1}]"#,
            r#"[{"id":1}] x"#,
            r#"{"id":1}"#,
            "[1]",
            r#"[{"id":}]"#,
            r#"[{"a":"\"#,
        ] {
            assert!(items(bad).is_err(), "{bad:?}");
        }
    }
}
