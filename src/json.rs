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

/// One object of the array: its bytes, and its kept top-level fields.
pub struct Item<'a> {
    pub text: &'a str,
    pub fields: &'a [Field<'a>],
}

/// A top-level field of an object: which of the wanted keys it is (its index in `wanted`; 0 when
/// every key is wanted), the key as written between its quotes (GitLab's keys hold no escapes),
/// and the value as JSON text.
#[derive(Debug, Clone, Copy)]
pub struct Field<'a> {
    pub slot: usize,
    pub key: &'a str,
    pub value: &'a str,
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
                .map(|f| (f.key.to_string(), f.value.to_string()))
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
    let bytes = text.as_bytes();
    let keys = Keys::new(wanted);
    // One buffer for every item's fields: a job has some 40, and a page 100 jobs.
    let mut ranges: Vec<Found> = Vec::with_capacity(64);
    let mut fields: Vec<Field<'a>> = Vec::with_capacity(64);
    let mut i = skip_ws(bytes, 0);
    i = expect(bytes, i, b'[')?;
    i = skip_ws(bytes, i);
    if bytes.get(i) == Some(&b']') {
        i += 1;
    } else {
        loop {
            i = skip_ws(bytes, i);
            let start = i;
            ranges.clear();
            i = object(bytes, i, &keys, &mut ranges)?;
            fields.clear();
            fields.extend(ranges.iter().map(|found| found.field(text)));
            each(&Item {
                text: &text[start..i],
                fields: &fields,
            })?;
            i = skip_ws(bytes, i);
            match bytes.get(i) {
                Some(b',') => i += 1,
                Some(b']') => {
                    i += 1;
                    break;
                }
                _ => return Err(unexpected(bytes, i, "',' or ']'")),
            }
        }
    }
    i = skip_ws(bytes, i);
    if i != bytes.len() {
        return Err(format!("something follows the array at byte {i}"));
    }
    Ok(())
}

/// The top-level fields named in `wanted` of `text`, which must be one JSON object (and nothing
/// after it): the small objects a job holds (`pipeline`, `downstream_pipeline`), typed without
/// serde_json.
pub fn fields<'a>(text: &'a str, wanted: &[&str]) -> Result<Vec<Field<'a>>, String> {
    let bytes = text.as_bytes();
    let mut ranges = Vec::with_capacity(8);
    let start = skip_ws(bytes, 0);
    let end = skip_ws(
        bytes,
        object(bytes, start, &Keys::new(wanted), &mut ranges)?,
    );
    if end != bytes.len() {
        return Err(format!("something follows the object at byte {end}"));
    }
    Ok(ranges.iter().map(|found| found.field(text)).collect())
}

/// Where a kept field is in the text: its slot, key (without quotes) and value.
struct Found {
    slot: usize,
    key: Range<usize>,
    value: Range<usize>,
}

impl Found {
    fn field<'a>(&self, text: &'a str) -> Field<'a> {
        Field {
            slot: self.slot,
            key: &text[self.key.clone()],
            value: &text[self.value.clone()],
        }
    }
}

/// The characters of a JSON string value (`text` with its quotes) when it needs no decoding: no
/// escape and no control character (which JSON does not allow raw). `None` for anything else,
/// which the caller hands to serde_json to decode or refuse.
pub fn plain_string(text: &str) -> Option<&str> {
    let bytes = text.as_bytes();
    if bytes.first() != Some(&b'"') {
        return None;
    }
    let inner = bytes.get(1..bytes.len().checked_sub(1)?)?;
    let plain = bytes.len() >= 2
        && bytes[bytes.len() - 1] == b'"'
        && !inner.iter().any(|&b| b == b'"' || b == b'\\' || b < 0x20);
    plain.then(|| &text[1..text.len() - 1])
}

/// The keys a scan keeps. A key is first looked up by its signature (length, first and last
/// byte) in a table of 64, so each of the two dozen keys of a job that no verdict needs costs one
/// lookup, and a wanted one one comparison.
struct Keys<'w> {
    wanted: &'w [&'w str],
    /// For each signature: the slot of the one wanted key that has it, [`NONE`], or [`SHARED`]
    /// when two wanted keys share it (then they are compared one by one).
    slots: [u8; 64],
}

const NONE: u8 = u8::MAX;
const SHARED: u8 = u8::MAX - 1;

impl<'w> Keys<'w> {
    fn new(wanted: &'w [&'w str]) -> Self {
        let mut slots = [NONE; 64];
        for (slot, key) in wanted.iter().enumerate() {
            let entry = &mut slots[signature(key.as_bytes())];
            *entry = match (*entry, u8::try_from(slot)) {
                (NONE, Ok(slot)) if slot < SHARED => slot,
                _ => SHARED,
            };
        }
        Keys { wanted, slots }
    }

    /// The slot of `key` among the wanted keys, if it is kept.
    #[inline(always)]
    fn slot(&self, key: &[u8]) -> Option<usize> {
        if self.wanted.is_empty() {
            return Some(0);
        }
        match self.slots[signature(key)] {
            NONE => None,
            SHARED => self.wanted.iter().position(|w| w.as_bytes() == key),
            slot => {
                let slot = usize::from(slot);
                (self.wanted[slot].as_bytes() == key).then_some(slot)
            }
        }
    }
}

/// One of 64 for a key.
#[inline(always)]
fn signature(key: &[u8]) -> usize {
    let first = key.first().copied().unwrap_or(0) as usize;
    let last = key.last().copied().unwrap_or(0) as usize;
    (key.len() * 7 + first * 3 + last) % 64
}

#[inline(always)]
fn skip_ws(bytes: &[u8], mut i: usize) -> usize {
    while let Some(b' ' | b'\n' | b'\r' | b'\t') = bytes.get(i) {
        i += 1;
    }
    i
}

#[inline(always)]
fn expect(bytes: &[u8], i: usize, wanted: u8) -> Result<usize, String> {
    if bytes.get(i) == Some(&wanted) {
        Ok(i + 1)
    } else {
        Err(unexpected(bytes, i, &format!("'{}'", wanted as char)))
    }
}

#[cold]
fn unexpected(bytes: &[u8], i: usize, wanted: &str) -> String {
    match bytes.get(i) {
        Some(&byte) => format!("expected {wanted} at byte {i}, found {:?}", byte as char),
        None => "the JSON is cut short".into(),
    }
}

/// An object whose opening brace is at `i`: the ranges of its kept keys (without quotes) and
/// their values are pushed to `fields`; returns the index after the closing brace.
fn object(
    bytes: &[u8],
    i: usize,
    keys: &Keys<'_>,
    fields: &mut Vec<Found>,
) -> Result<usize, String> {
    let mut i = skip_ws(bytes, expect(bytes, i, b'{')?);
    if bytes.get(i) == Some(&b'}') {
        return Ok(i + 1);
    }
    loop {
        i = skip_ws(bytes, i);
        let key_start = i + 1;
        i = expect(bytes, i, b'"')?;
        let key_after = string_end(bytes, i).ok_or("a string is cut short")?;
        i = skip_ws(bytes, key_after);
        i = skip_ws(bytes, expect(bytes, i, b':')?);
        let start = i;
        i = value(bytes, i)?;
        if let Some(slot) = keys.slot(&bytes[key_start..key_after - 1]) {
            fields.push(Found {
                slot,
                key: key_start..key_after - 1,
                value: start..i,
            });
        }
        i = skip_ws(bytes, i);
        match bytes.get(i) {
            Some(b',') => i += 1,
            Some(b'}') => return Ok(i + 1),
            _ => return Err(unexpected(bytes, i, "',' or '}'")),
        }
    }
}

/// Any value at `i`, skipped: strings jump to their closing quote, objects and arrays to their
/// matching bracket, numbers and literals to the next delimiter. Returns the index after it.
fn value(bytes: &[u8], i: usize) -> Result<usize, String> {
    match bytes.get(i) {
        None => Err("the JSON is cut short".into()),
        Some(b'"') => string_end(bytes, i + 1).ok_or_else(|| "a string is cut short".into()),
        Some(b'{' | b'[') => skip_nested(bytes, i).map_err(String::from),
        Some(b'}' | b']' | b',' | b':') => Err(unexpected(bytes, i, "a value")),
        Some(_) => {
            let mut end = i;
            while let Some(byte) = bytes.get(end) {
                if matches!(byte, b',' | b'}' | b']' | b' ' | b'\n' | b'\r' | b'\t') {
                    break;
                }
                end += 1;
            }
            if end == bytes.len() {
                return Err("the JSON is cut short".into());
            }
            Ok(end)
        }
    }
}

const ONES: u64 = 0x0101_0101_0101_0101;
const HIGHS: u64 = 0x8080_8080_8080_8080;

/// The eight bytes at `i` as one little-endian word, if there are eight.
#[inline(always)]
fn word_at(bytes: &[u8], i: usize) -> Option<u64> {
    let chunk: [u8; 8] = bytes.get(i..i.checked_add(8)?)?.try_into().ok()?;
    Some(u64::from_le_bytes(chunk))
}

/// The bytes of `word` below `n` (at most 0x80), marked by their high bit. The lowest mark is
/// always right: the borrows that can mark a byte wrongly only run upwards from a real one.
#[inline(always)]
fn below(word: u64, n: u8) -> u64 {
    word.wrapping_sub(ONES * u64::from(n)) & !word & HIGHS
}

/// The bytes of `word` equal to `byte`, marked as [`below`] marks (the lowest mark is right).
#[inline(always)]
fn equal(word: u64, byte: u8) -> u64 {
    below(word ^ (ONES * u64::from(byte)), 1)
}

/// For a string whose characters begin at `i` (just after its opening quote): the index after its
/// closing quote. `None` when it is cut short.
///
/// Eight bytes are looked at a time (SWAR): a word with no quote is stepped over whole, and only
/// the lowest mark of a word is used (it is always right). A quote is the end unless an odd run of
/// backslashes stands before it (`\"` escapes it, `\\"` does not), counted back only when the
/// byte before it is a backslash: escapes are rare, quotes are not.
#[inline(always)]
fn string_end(bytes: &[u8], start: usize) -> Option<usize> {
    let mut i = start;
    loop {
        while let Some(word) = word_at(bytes, i) {
            let quotes = equal(word, b'"');
            if quotes != 0 {
                i += (quotes.trailing_zeros() / 8) as usize;
                break;
            }
            i += 8;
        }
        // Fewer than 8 bytes left, or `i` is at a quote.
        // `i` is at least `start`, which is after the opening quote: `i - 1` is in the text.
        if *bytes.get(i)? == b'"'
            && (bytes[i - 1] != b'\\' || escapes_before(bytes, start, i).is_multiple_of(2))
        {
            return Some(i + 1);
        }
        i += 1;
    }
}

/// How many backslashes stand right before index `end`, not counting back past `start`.
#[cold]
fn escapes_before(bytes: &[u8], start: usize, end: usize) -> usize {
    bytes[start..end]
        .iter()
        .rev()
        .take_while(|&&b| b == b'\\')
        .count()
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
                i = string_end(bytes, i + 1).ok_or("a string is cut short")?;
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
    fn a_quote_after_an_odd_run_of_backslashes_is_escaped_and_after_an_even_run_ends_the_string() {
        // Strings long and short, so both the eight-byte words and the last bytes are tried.
        for value in [
            r#""\\""#,
            r#""\"""#,
            r#""\\\"""#,
            r#""0123456789\\""#,
            r#""0123456789\"x""#,
            r#""01234567\\\\\"89""#,
        ] {
            let text = format!(r#"[{{"s":{value},"n":1}}]"#);
            let items = items(&text).unwrap_or_else(|e| panic!("{value}: {e}"));
            assert_eq!(items[0].1[0].1, value);
            assert_eq!(items[0].1[1].1, "1", "{value}");
        }
        assert_eq!(plain_string(r#""a b""#), Some("a b"));
        for unusual in [r#""a\"b""#, "\"a\u{1}\"", "\"a", "\"", "a", r#""a"b""#] {
            assert_eq!(plain_string(unusual), None, "{unusual:?}");
        }
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
