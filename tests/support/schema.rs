//! Just enough JSON Schema to check the test server's payloads against GitLab's own schemas
//! (`tests/schemas/`, from GitLab's spec/fixtures/api/schemas/public_api/v4): `type`, `required`,
//! `properties`, `additionalProperties`, `items`, `oneOf`, relative `$ref` and `format:
//! date-time`. A schema using any other keyword, type or format makes the check panic, rather
//! than pass what it did not check.
#![allow(dead_code)]

use serde_json::Value;
use std::path::{Path, PathBuf};

pub fn schemas_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/schemas")
}

/// Every violation of `schema_file` (relative to the schemas folder) by `value`.
pub fn violations(schema_file: &str, value: &Value) -> Vec<String> {
    let mut found = Vec::new();
    check(&schemas_dir(), schema_file, value, "$", &mut found);
    found
}

fn load(dir: &Path, file: &str) -> Value {
    let text = std::fs::read_to_string(dir.join(file)).expect("a schema file");
    serde_json::from_str(&text).expect("a JSON schema")
}

fn check(dir: &Path, file: &str, value: &Value, at: &str, found: &mut Vec<String>) {
    let schema = load(dir, file);
    let base = dir.join(file).parent().expect("a folder").to_path_buf();
    check_schema(&base, &schema, value, at, found);
}

fn type_matches(name: &str, value: &Value) -> bool {
    match name {
        "object" => value.is_object(),
        "array" => value.is_array(),
        "string" => value.is_string(),
        "integer" => value.is_i64() || value.is_u64(),
        "number" => value.is_number(),
        "boolean" => value.is_boolean(),
        "null" => value.is_null(),
        other => panic!("the schema check does not implement type {other:?}"),
    }
}

/// The keywords [`check_schema`] implements; `description` and `$schema` say nothing to check.
const KEYWORDS: [&str; 10] = [
    "$ref",
    "oneOf",
    "type",
    "required",
    "properties",
    "additionalProperties",
    "items",
    "format",
    "description",
    "$schema",
];

/// `2026-11-25T10:00:00.000Z` or with an offset: RFC 3339's date-time, by its shape.
fn is_date_time(text: &str) -> bool {
    let bytes = text.as_bytes();
    let digits = |range: std::ops::Range<usize>| {
        bytes
            .get(range)
            .is_some_and(|d| d.iter().all(u8::is_ascii_digit))
    };
    digits(0..4)
        && bytes.get(4) == Some(&b'-')
        && digits(5..7)
        && bytes.get(7) == Some(&b'-')
        && digits(8..10)
        && matches!(bytes.get(10), Some(b'T' | b't'))
        && digits(11..13)
        && bytes.get(13) == Some(&b':')
        && digits(14..16)
        && bytes.get(16) == Some(&b':')
        && digits(17..19)
        && (text.ends_with('Z') || text.ends_with('z') || text[19..].contains(['+', '-']))
}

fn check_schema(base: &Path, schema: &Value, value: &Value, at: &str, found: &mut Vec<String>) {
    if let Some(object) = schema.as_object() {
        for keyword in object.keys() {
            assert!(
                KEYWORDS.contains(&keyword.as_str()),
                "the schema check does not implement the keyword {keyword:?} (at {at})"
            );
        }
    }
    if let Some(format) = schema.get("format").and_then(Value::as_str) {
        assert_eq!(
            format, "date-time",
            "the schema check implements only format date-time"
        );
        if let Some(text) = value.as_str()
            && !is_date_time(text)
        {
            found.push(format!("{at}: not a date-time: {text}"));
        }
    }
    if let Some(reference) = schema.get("$ref").and_then(Value::as_str) {
        let path = base.join(reference);
        let text = std::fs::read_to_string(&path).expect("a referenced schema");
        let referenced: Value = serde_json::from_str(&text).expect("JSON");
        let parent = path.parent().expect("a folder").to_path_buf();
        check_schema(&parent, &referenced, value, at, found);
        return;
    }
    if let Some(options) = schema.get("oneOf").and_then(Value::as_array) {
        let matching = options
            .iter()
            .filter(|option| {
                let mut inner = Vec::new();
                check_schema(base, option, value, at, &mut inner);
                inner.is_empty()
            })
            .count();
        if matching != 1 {
            found.push(format!("{at}: matches {matching} of oneOf"));
        }
        return;
    }
    match schema.get("type") {
        Some(Value::String(name)) if !type_matches(name, value) => {
            found.push(format!("{at}: not {name}: {value}"));
            return;
        }
        Some(Value::Array(names))
            if !names
                .iter()
                .filter_map(Value::as_str)
                .any(|n| type_matches(n, value)) =>
        {
            found.push(format!("{at}: none of {names:?}: {value}"));
            return;
        }
        _ => {}
    }
    if let Some(object) = value.as_object() {
        for key in schema
            .get("required")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
        {
            if !object.contains_key(key) {
                found.push(format!("{at}: missing {key}"));
            }
        }
        let properties = schema.get("properties").and_then(Value::as_object);
        for (key, item) in object {
            match properties.and_then(|p| p.get(key)) {
                Some(sub) => check_schema(base, sub, item, &format!("{at}.{key}"), found),
                None => match schema.get("additionalProperties") {
                    Some(Value::Bool(false)) => found.push(format!("{at}: unexpected {key}")),
                    Some(Value::Object(_)) => {
                        let sub = &schema["additionalProperties"];
                        check_schema(base, sub, item, &format!("{at}.{key}"), found);
                    }
                    _ => {}
                },
            }
        }
    }
    if let (Some(items), Some(array)) = (schema.get("items"), value.as_array()) {
        for (i, item) in array.iter().enumerate() {
            check_schema(base, items, item, &format!("{at}[{i}]"), found);
        }
    }
}
