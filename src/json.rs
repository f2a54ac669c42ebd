//! One pass over a page of GitLab's JSON: the items of the array, each with its bytes and the byte
//! ranges of its top-level fields.
//!
//! A wait round reads the whole pipeline every interval, and most of each job's 2 KB (its user,
//! commit, runner, artifacts) says nothing about a verdict. serde_json reads every byte of every
//! field it skips, one at a time, and splitting a page into items and then typing each item reads
//! it twice; this scanner reads it once, going through strings eight bytes at a time. Only the
//! fields a verdict needs are then typed (`model`), each from its own few bytes. Two things are
//! not scanned again: an object or array that an item's field holds with the bytes of one scanned
//! on the same page (most jobs of a page share their `commit`, `user` and `pipeline`: `Seen`),
//! and an item the caller knows from its last read of the page ([`Items::known`]); both are
//! recognised by their length and a 128-bit fingerprint of their bytes (`fingerprint`).
//!
//! What it checks: all of JSON's grammar, in the fields it skips as in those it keeps (strings
//! with their escapes and without raw control characters, numbers, literals, brackets, commas
//! and colons), that nothing follows the array, and that the items are objects: a page that is
//! not JSON, or is cut short, is refused, as serde_json would refuse it; each item scanned is
//! checked as UTF-8 (what is between them can only be JSON's ASCII). A key written with
//! escapes (`"st\u0061tus"`) is decoded before it is compared, so it is the field it names.
//! `--json` prints an item's bytes as GitLab sent them.

use crate::fingerprint::fingerprint;
use std::ops::Range;

/// One object of the array: its bytes, and its kept top-level fields.
pub struct Item<'a> {
    pub text: &'a str,
    pub fields: &'a [Field<'a>],
}

/// A top-level field of an object: which of the wanted keys it is (its index in `wanted`; 0 when
/// every key is wanted), the key as written between its quotes (escapes left as they are), and
/// the value as JSON text.
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
pub fn for_each_item(
    text: &str,
    wanted: &[&str],
    each: impl FnMut(&Item<'_>) -> Result<(), String>,
) -> Result<(), String> {
    struct Each<F>(F);
    impl<F: FnMut(&Item<'_>) -> Result<(), String>> Items for Each<F> {
        fn item(&mut self, item: &Item<'_>) -> Result<(), String> {
            (self.0)(item)
        }
    }
    scan_items(text.as_bytes(), wanted, &mut Each(each))
}

/// What a scan of a page hands its items to.
pub trait Items {
    /// The length of the item that begins `rest` (which runs to the end of the page), when the
    /// caller knows that item already: a read whose bytes match an item it read before. The
    /// item is stepped over unscanned; the caller vouches that those bytes are one JSON object.
    fn known(&mut self, rest: &[u8]) -> Option<usize> {
        let _ = rest;
        None
    }

    /// An item that was scanned (and checked, UTF-8 included).
    fn item(&mut self, item: &Item<'_>) -> Result<(), String>;
}

/// Hands every item of `bytes`, which must be a JSON array of objects, to `items`: the ones it
/// knows are stepped over, the others scanned with the top-level fields named in `wanted`. Only
/// the scanned items are checked as UTF-8 (the rest of the page is JSON's punctuation, checked as
/// such), so an item known from the last read costs its fingerprint and no more.
pub fn scan_items(bytes: &[u8], wanted: &[&str], items: &mut impl Items) -> Result<(), String> {
    let keys = Keys::new(wanted);
    // One buffer for every item's fields: a job has some 40, and a page 100 jobs.
    let mut ranges: Vec<Found> = Vec::with_capacity(64);
    let mut fields: Vec<Field<'_>> = Vec::with_capacity(64);
    let mut seen = Seen::new();
    let mut i = skip_ws(bytes, 0);
    i = expect(bytes, i, b'[').map_err(|f| f.describe(bytes))?;
    // The array is depth 1, its items depth 2.
    i = skip_ws(bytes, i);
    if bytes.get(i) == Some(&b']') {
        i += 1;
    } else {
        loop {
            i = skip_ws(bytes, i);
            let start = i;
            if bytes.get(i) != Some(&b'{') {
                return Err(Fault::Expected(i, "an object").describe(bytes));
            }
            if let Some(length) = items.known(&bytes[start..]) {
                i = start + length;
            } else {
                ranges.clear();
                let mut keeping = Keeping {
                    keys: &keys,
                    found: &mut ranges,
                    seen: Some(&mut seen),
                };
                i = object(bytes, i, 2, Some(&mut keeping)).map_err(|f| f.describe(bytes))?;
                let text = std::str::from_utf8(&bytes[start..i]).map_err(|e| {
                    format!("the JSON is not UTF-8 at byte {}", start + e.valid_up_to())
                })?;
                fields.clear();
                for found in &ranges {
                    fields.push(found.field(text, start).ok_or(LOST)?);
                }
                items.item(&Item {
                    text,
                    fields: &fields,
                })?;
            }
            i = skip_ws(bytes, i);
            match bytes.get(i) {
                Some(b',') => i += 1,
                Some(b']') => {
                    i += 1;
                    break;
                }
                _ => return Err(Fault::Expected(i, "',' or ']'").describe(bytes)),
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
    if bytes.get(start) != Some(&b'{') {
        return Err(Fault::Expected(start, "an object").describe(bytes));
    }
    let keys = Keys::new(wanted);
    let mut keeping = Keeping {
        keys: &keys,
        found: &mut ranges,
        seen: None,
    };
    let end = object(bytes, start, 1, Some(&mut keeping)).map_err(|f| f.describe(bytes))?;
    let end = skip_ws(bytes, end);
    if end != bytes.len() {
        return Err(format!("something follows the object at byte {end}"));
    }
    ranges
        .iter()
        .map(|found| found.field(text, 0))
        .collect::<Option<_>>()
        .ok_or_else(|| LOST.to_string())
}

/// A field's range that is not whole characters of the text scanned: no scan that kept its
/// place finds one.
const LOST: &str = "the scan lost its place in the text";

/// Where a kept field is in the text: its slot, key (without quotes) and value.
struct Found {
    slot: usize,
    key: Range<usize>,
    value: Range<usize>,
}

impl Found {
    /// The field in `text`, which begins at byte `offset` of what was scanned. Keys and values
    /// begin and end at JSON's ASCII punctuation, so in UTF-8 text they are whole characters
    /// (`None` would be a scanner that lost its place).
    #[inline(always)]
    fn field<'a>(&self, text: &'a str, offset: usize) -> Option<Field<'a>> {
        Some(Field {
            slot: self.slot,
            key: text.get(self.key.start - offset..self.key.end - offset)?,
            value: text.get(self.value.start - offset..self.value.end - offset)?,
        })
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

    /// The slot of `key` (as written, without its quotes; `escaped` when it holds an escape)
    /// among the wanted keys, if it is kept.
    #[inline(always)]
    fn slot(&self, key: &[u8], escaped: bool) -> Option<usize> {
        if self.wanted.is_empty() {
            return Some(0);
        }
        if escaped {
            return self.slot_of_escaped(key);
        }
        match self.slots[signature(key)] {
            NONE => None,
            SHARED => self.wanted.iter().position(|w| same(w.as_bytes(), key)),
            slot => {
                let slot = usize::from(slot);
                same(self.wanted[slot].as_bytes(), key).then_some(slot)
            }
        }
    }
}

impl Keys<'_> {
    /// A key written with escapes is compared as it reads: `"st\u0061tus"` is `status`. GitLab
    /// does not write keys so, but JSON allows it, and a key compared as written would be a
    /// second `status` that the duplicate check does not see.
    #[cold]
    fn slot_of_escaped(&self, key: &[u8]) -> Option<usize> {
        // The key was checked as a JSON string already; what does not decode is no wanted key.
        let quoted = format!("\"{}\"", std::str::from_utf8(key).ok()?);
        let decoded: String = serde_json::from_str(&quoted).ok()?;
        self.wanted.iter().position(|w| *w == decoded)
    }
}

/// Whether two keys are the same: byte by byte, as keys are short (a call to the C library's
/// `memcmp` costs more than the comparison).
#[inline(always)]
fn same(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let mut i = 0;
    while i < a.len() {
        if a[i] != b[i] {
            return false;
        }
        i += 1;
    }
    true
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
fn expect(bytes: &[u8], i: usize, wanted: u8) -> Result<usize, Fault> {
    if bytes.get(i) == Some(&wanted) {
        Ok(i + 1)
    } else {
        Err(Fault::Expected(i, expected(wanted)))
    }
}

/// `wanted` at `i` or after whitespace, and the whitespace after it: the index of what follows.
/// GitLab writes no whitespace, so the first look usually finds it.
#[inline(always)]
fn punctuation(bytes: &[u8], i: usize, wanted: u8) -> Result<usize, Fault> {
    let i = if bytes.get(i) == Some(&wanted) {
        i + 1
    } else {
        expect(bytes, skip_ws(bytes, i), wanted)?
    };
    Ok(skip_ws(bytes, i))
}

/// How a message names the byte that was wanted.
#[cold]
fn expected(byte: u8) -> &'static str {
    match byte {
        b'[' => "'['",
        b'{' => "'{'",
        b'"' => "'\"'",
        b':' => "':'",
        _ => "something else",
    }
}

/// Why a scan stopped: small and `Copy`, so the scan's hot paths return a word or two; it is
/// described only when it is reported.
#[derive(Debug, Clone, Copy)]
enum Fault {
    /// The text ends in the middle of the JSON.
    CutShort,
    /// At this byte, something else was wanted.
    Expected(usize, &'static str),
    DeeperThan64,
    /// A raw control character in a string, or an escape JSON does not have.
    BadString(usize),
    /// A number or literal (`true`, `false`, `null`) that is not one.
    BadValue(usize),
}

impl Fault {
    #[cold]
    fn describe(self, bytes: &[u8]) -> String {
        match self {
            Fault::Expected(i, wanted) => match bytes.get(i) {
                Some(&byte) => format!("expected {wanted} at byte {i}, found {:?}", byte as char),
                None => "the JSON is cut short".into(),
            },
            Fault::CutShort => "the JSON is cut short".into(),
            Fault::DeeperThan64 => "objects and arrays nest deeper than 64 levels".into(),
            Fault::BadString(i) => {
                format!("a string with a control character or a bad escape at byte {i}")
            }
            Fault::BadValue(i) => format!("a number or literal that is not JSON at byte {i}"),
        }
    }
}

/// Objects and arrays nest this deep at most (serde_json allows 128; GitLab's jobs nest 4 deep).
const MAX_DEPTH: u32 = 64;

/// What a scan of an object keeps: the ranges of its fields named in `keys`, and (for the items
/// of a page) the objects and arrays their fields held.
struct Keeping<'a, 'k> {
    keys: &'a Keys<'k>,
    found: &'a mut Vec<Found>,
    seen: Option<&'a mut Seen>,
}

/// The objects and arrays that the fields of a page's items held, as scanned: a job's `commit`,
/// `user`, `pipeline` and `runner` are, byte for byte, those of most jobs on its page, and they
/// are most of its bytes. A value whose bytes have the length and fingerprint of one scanned
/// before, at the same depth (every item's fields are at depth 3), is the same JSON and as
/// valid: it is stepped over at the cost of its fingerprint, a thirtieth of a scan's.
struct Seen {
    /// By the signature of the field's key, the last two values seen under it: their length
    /// (0: none) and fingerprint. The key only says where to look; the bytes decide.
    slots: [[(usize, [u64; 2]); 2]; 64],
}

/// Values shorter than this are scanned (`[]`, `{}`): looking them up costs about as much.
const SEEN_FROM: usize = 32;

impl Seen {
    fn new() -> Box<Self> {
        Box::new(Seen {
            slots: [[(0, [0; 2]); 2]; 64],
        })
    }

    /// The index after the object or array at `i` (at `depth`, under a key of `signature`):
    /// stepped over if its bytes are those of a value seen, else scanned and remembered.
    fn value(
        &mut self,
        bytes: &[u8],
        i: usize,
        depth: u32,
        signature: usize,
    ) -> Result<usize, Fault> {
        let slot = &mut self.slots[signature];
        for &(length, print) in slot.iter() {
            if length >= SEEN_FROM
                && let Some(seen) = bytes.get(i..i + length)
                && fingerprint(seen) == print
            {
                return Ok(i + length);
            }
        }
        let end = value(bytes, i, depth)?;
        if end - i >= SEEN_FROM {
            slot[1] = slot[0];
            slot[0] = (end - i, fingerprint(&bytes[i..end]));
        }
        Ok(end)
    }
}

/// An object whose opening brace is at `i`, at `depth`: the ranges of its keys kept by `keep`
/// (without quotes) and of their values are pushed to its list; returns the index after the
/// closing brace.
fn object(
    bytes: &[u8],
    i: usize,
    depth: u32,
    mut keep: Option<&mut Keeping<'_, '_>>,
) -> Result<usize, Fault> {
    if depth > MAX_DEPTH {
        return Err(Fault::DeeperThan64);
    }
    let mut i = skip_ws(bytes, expect(bytes, i, b'{')?);
    if bytes.get(i) == Some(&b'}') {
        return Ok(i + 1);
    }
    loop {
        // Compact JSON (GitLab's) has no whitespace to skip: the first look finds the quote.
        if bytes.get(i) != Some(&b'"') {
            i = skip_ws(bytes, i);
        }
        let key_start = i + 1;
        i = expect(bytes, i, b'"')?;
        let (key_after, escaped) = string(bytes, i)?;
        let key = &bytes[key_start..key_after - 1];
        i = punctuation(bytes, key_after, b':')?;
        let start = i;
        // Most values are strings: stepped over here, without a call.
        i = match (bytes.get(i), &mut keep) {
            (Some(b'"'), _) => string(bytes, i + 1)?.0,
            (
                Some(b'{' | b'['),
                Some(Keeping {
                    seen: Some(seen), ..
                }),
            ) => seen.value(bytes, i, depth, signature(key))?,
            _ => value(bytes, i, depth)?,
        };
        if let Some(keeping) = &mut keep
            && let Some(slot) = keeping.keys.slot(key, escaped)
        {
            keeping.found.push(Found {
                slot,
                key: key_start..key_after - 1,
                value: start..i,
            });
        }
        if bytes.get(i) != Some(&b',') {
            i = skip_ws(bytes, i);
        }
        match bytes.get(i) {
            Some(b',') => i += 1,
            Some(b'}') => return Ok(i + 1),
            _ => return Err(Fault::Expected(i, "',' or '}'")),
        }
    }
}

/// An array whose opening bracket is at `i`, at `depth`; returns the index after its closing
/// bracket.
fn array(bytes: &[u8], i: usize, depth: u32) -> Result<usize, Fault> {
    if depth > MAX_DEPTH {
        return Err(Fault::DeeperThan64);
    }
    let mut i = skip_ws(bytes, expect(bytes, i, b'[')?);
    if bytes.get(i) == Some(&b']') {
        return Ok(i + 1);
    }
    loop {
        // Arrays are few in a job (`tag_list`, `artifacts`): no string step of their own here.
        i = skip_ws(bytes, value(bytes, skip_ws(bytes, i), depth)?);
        match bytes.get(i) {
            Some(b',') => i += 1,
            Some(b']') => return Ok(i + 1),
            _ => return Err(Fault::Expected(i, "',' or ']'")),
        }
    }
}

/// Any value at `i`, inside something at `depth`, checked and stepped over; returns the index
/// after it.
fn value(bytes: &[u8], i: usize, depth: u32) -> Result<usize, Fault> {
    match bytes.get(i) {
        None => Err(Fault::CutShort),
        Some(b'"') => string_at(bytes, i + 1),
        Some(b'{') => object(bytes, i, depth + 1, None),
        Some(b'[') => array(bytes, i, depth + 1),
        Some(b't') => literal(bytes, i, b"true"),
        Some(b'f') => literal(bytes, i, b"false"),
        Some(b'n') => literal(bytes, i, b"null"),
        Some(b'-' | b'0'..=b'9') => number(bytes, i),
        Some(_) => Err(Fault::Expected(i, "a value")),
    }
}

fn literal(bytes: &[u8], i: usize, word: &[u8]) -> Result<usize, Fault> {
    match bytes.get(i..i + word.len()) {
        Some(found) if same(found, word) => Ok(i + word.len()),
        Some(_) => Err(Fault::BadValue(i)),
        None => Err(Fault::CutShort),
    }
}

/// A number as JSON writes it: `-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?`.
fn number(bytes: &[u8], start: usize) -> Result<usize, Fault> {
    let digits = |mut i: usize| {
        while bytes.get(i).is_some_and(u8::is_ascii_digit) {
            i += 1;
        }
        i
    };
    let mut i = start;
    if bytes.get(i) == Some(&b'-') {
        i += 1;
    }
    i = match bytes.get(i) {
        Some(b'0') => i + 1,
        Some(b'1'..=b'9') => digits(i + 1),
        Some(_) => return Err(Fault::BadValue(start)),
        None => return Err(Fault::CutShort),
    };
    if bytes.get(i) == Some(&b'.') {
        let after = digits(i + 1);
        if after == i + 1 {
            return Err(Fault::BadValue(start));
        }
        i = after;
    }
    if let Some(b'e' | b'E') = bytes.get(i) {
        i += 1;
        if let Some(b'+' | b'-') = bytes.get(i) {
            i += 1;
        }
        let after = digits(i);
        if after == i {
            return Err(Fault::BadValue(start));
        }
        i = after;
    }
    // A number runs to a delimiter: `01` or `1x` is not one.
    match bytes.get(i) {
        None | Some(b',' | b'}' | b']' | b' ' | b'\n' | b'\r' | b'\t') => Ok(i),
        Some(_) => Err(Fault::BadValue(start)),
    }
}

const ONES: u64 = 0x0101_0101_0101_0101;
const HIGHS: u64 = 0x8080_8080_8080_8080;

/// The eight bytes at `i` as one little-endian word, if there are eight.
#[inline(always)]
fn word_at(bytes: &[u8], i: usize) -> Option<u64> {
    Some(u64::from_le_bytes(*bytes.get(i..)?.first_chunk::<8>()?))
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

/// A string whose characters begin at `i` (just after its opening quote), checked: the index
/// after its closing quote, and whether it holds an escape.
///
/// Eight bytes are looked at a time (SWAR): a word with no quote, backslash or control character
/// is stepped over whole, and of the marks in a word only the lowest is used (it is always
/// right). Escapes are checked one by one, as serde_json checks them.
#[inline(always)]
fn string(bytes: &[u8], mut i: usize) -> Result<(usize, bool), Fault> {
    let mut escaped = false;
    loop {
        while let Some(word) = word_at(bytes, i) {
            // XOR 0x02 swaps a quote (0x22) into 0x20 and keeps control characters below 0x20:
            // one comparison marks both, a second the backslashes.
            let marks = below(word ^ (ONES * 0x02), 0x21) | equal(word, b'\\');
            if marks != 0 {
                i += (marks.trailing_zeros() / 8) as usize;
                break;
            }
            i += 8;
        }
        // Fewer than 8 bytes left, or `i` is at a quote, backslash or control character.
        match bytes.get(i) {
            Some(b'"') => return Ok((i + 1, escaped)),
            Some(b'\\') => {
                escaped = true;
                i = escape(bytes, i)?;
            }
            Some(&byte) if byte < 0x20 => return Err(Fault::BadString(i)),
            Some(_) => i += 1,
            None => return Err(Fault::CutShort),
        }
    }
}

/// [`string`], not inlined: for the strings `object` does not step over itself (in arrays, and
/// values on their own), so the string step is written out only where most strings are.
fn string_at(bytes: &[u8], i: usize) -> Result<usize, Fault> {
    string(bytes, i).map(|(end, _)| end)
}

/// The escape whose backslash is at `i`, checked: the index after it. A `\u` escape of a UTF-16
/// surrogate must be a pair, high then low, as serde_json requires.
#[cold]
fn escape(bytes: &[u8], i: usize) -> Result<usize, Fault> {
    // The four hex digits at `at`, as a UTF-16 code unit.
    let hex = |at: usize| -> Result<u16, Fault> {
        let digits = bytes.get(at..at + 4).ok_or(Fault::CutShort)?;
        let mut unit: u16 = 0;
        for &digit in digits {
            let value = match digit {
                b'0'..=b'9' => digit - b'0',
                b'a'..=b'f' => digit - b'a' + 10,
                b'A'..=b'F' => digit - b'A' + 10,
                _ => return Err(Fault::BadString(i)),
            };
            unit = unit << 4 | u16::from(value);
        }
        Ok(unit)
    };
    match bytes.get(i + 1) {
        Some(b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't') => Ok(i + 2),
        Some(b'u') => match hex(i + 2)? {
            0xDC00..=0xDFFF => Err(Fault::BadString(i)),
            0xD800..=0xDBFF => {
                if bytes.get(i + 6..i + 8) != Some(b"\\u") {
                    return Err(Fault::BadString(i));
                }
                match hex(i + 8)? {
                    0xDC00..=0xDFFF => Ok(i + 12),
                    _ => Err(Fault::BadString(i)),
                }
            }
            _ => Ok(i + 6),
        },
        Some(_) => Err(Fault::BadString(i)),
        None => Err(Fault::CutShort),
    }
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
    fn a_value_seen_before_is_stepped_over_only_when_its_bytes_are_the_same() {
        let user = r#"{"id":3,"username":"deployer","name":"Deploy Er","bot":false}"#;
        let pipeline = |status: &str| format!(r#"{{"id":1000,"ref":"main","status":"{status}"}}"#);
        let job = |id: u32, user: &str, pipeline: &str| {
            format!(r#"{{"id":{id},"user":{user},"pipeline":{pipeline}}}"#)
        };
        // Three jobs with one user; the third's pipeline has the length of the others' and
        // another status: what is kept of it is its own.
        let text = format!(
            "[{},{},{}]",
            job(1, user, &pipeline("running")),
            job(2, user, &pipeline("running")),
            job(3, user, &pipeline("success"))
        );
        let kept: Vec<String> = items(&text)
            .unwrap()
            .iter()
            .map(|(_, fields)| fields[2].1.clone())
            .collect();
        assert_eq!(
            kept,
            [
                pipeline("running"),
                pipeline("running"),
                pipeline("success")
            ]
        );
        // A value of the length of one seen, but not JSON, is scanned and refused.
        for bad in [user.replace("false", "fals "), user.replace("3", "x")] {
            assert_eq!(bad.len(), user.len());
            let text = format!(
                "[{},{}]",
                job(1, user, &pipeline("running")),
                job(2, &bad, &pipeline("running"))
            );
            assert!(items(&text).is_err(), "{bad}");
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
