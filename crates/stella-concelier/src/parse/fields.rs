//! Typed reads from a JSON value that say where they failed.
//!
//! Records are read field by field from a `serde_json::Value` rather than through derived
//! structs so that a wrong type names its place (`affected[2].ranges: expected an array,
//! found a number`), which is what an operator needs to report a bad upstream record.
//! `null` counts as absent for optional fields: several feeds write it for "none".

use serde_json::{Map, Value};
use std::fmt;

/// Where in a record a value is, built on the stack as the reader descends.
#[derive(Clone, Copy)]
pub(crate) enum Path<'a> {
    Root,
    Key(&'a Path<'a>, &'a str),
    Index(&'a Path<'a>, usize),
}

impl<'a> Path<'a> {
    pub(crate) fn key(&'a self, key: &'a str) -> Path<'a> {
        Path::Key(self, key)
    }

    pub(crate) fn index(&'a self, index: usize) -> Path<'a> {
        Path::Index(self, index)
    }
}

impl fmt::Display for Path<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Path::Root => f.write_str("record"),
            Path::Key(Path::Root, key) => f.write_str(key),
            Path::Key(parent, key) => write!(f, "{parent}.{key}"),
            Path::Index(parent, index) => write!(f, "{parent}[{index}]"),
        }
    }
}

/// A field of a record that is missing or of the wrong type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct FieldError {
    pub path: String,
    pub problem: String,
}

impl fmt::Display for FieldError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.path, self.problem)
    }
}

impl FieldError {
    pub(crate) fn new(at: Path<'_>, problem: impl Into<String>) -> Self {
        FieldError {
            path: at.to_string(),
            problem: problem.into(),
        }
    }
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

fn wrong(at: Path<'_>, expected: &str, found: &Value) -> FieldError {
    FieldError::new(at, format!("expected {expected}, found {}", kind(found)))
}

pub(crate) fn object<'v>(v: &'v Value, at: Path<'_>) -> Result<&'v Map<String, Value>, FieldError> {
    v.as_object().ok_or_else(|| wrong(at, "an object", v))
}

pub(crate) fn string<'v>(v: &'v Value, at: Path<'_>) -> Result<&'v str, FieldError> {
    v.as_str().ok_or_else(|| wrong(at, "a string", v))
}

/// An optional string field; `null` is absent.
pub(crate) fn opt_str<'v>(
    m: &'v Map<String, Value>,
    key: &str,
    at: Path<'_>,
) -> Result<Option<&'v str>, FieldError> {
    match m.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(other) => Err(wrong(at.key(key), "a string", other)),
    }
}

/// An optional string field as an owned value.
pub(crate) fn opt_string(
    m: &Map<String, Value>,
    key: &str,
    at: Path<'_>,
) -> Result<Option<String>, FieldError> {
    Ok(opt_str(m, key, at)?.map(str::to_string))
}

pub(crate) fn req_str<'v>(
    m: &'v Map<String, Value>,
    key: &str,
    at: Path<'_>,
) -> Result<&'v str, FieldError> {
    opt_str(m, key, at)?.ok_or_else(|| FieldError::new(at.key(key), "missing"))
}

/// An optional array field; absent and `null` read as empty.
pub(crate) fn opt_array<'v>(
    m: &'v Map<String, Value>,
    key: &str,
    at: Path<'_>,
) -> Result<&'v [Value], FieldError> {
    match m.get(key) {
        None | Some(Value::Null) => Ok(&[]),
        Some(Value::Array(items)) => Ok(items),
        Some(other) => Err(wrong(at.key(key), "an array", other)),
    }
}

pub(crate) fn opt_object<'v>(
    m: &'v Map<String, Value>,
    key: &str,
    at: Path<'_>,
) -> Result<Option<&'v Map<String, Value>>, FieldError> {
    match m.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Object(o)) => Ok(Some(o)),
        Some(other) => Err(wrong(at.key(key), "an object", other)),
    }
}

pub(crate) fn opt_f64(
    m: &Map<String, Value>,
    key: &str,
    at: Path<'_>,
) -> Result<Option<f64>, FieldError> {
    match m.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(v @ Value::Number(n)) => n
            .as_f64()
            .map(Some)
            .ok_or_else(|| wrong(at.key(key), "a finite number", v)),
        Some(other) => Err(wrong(at.key(key), "a number", other)),
    }
}

pub(crate) fn opt_bool(
    m: &Map<String, Value>,
    key: &str,
    at: Path<'_>,
) -> Result<Option<bool>, FieldError> {
    match m.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Bool(b)) => Ok(Some(*b)),
        Some(other) => Err(wrong(at.key(key), "a boolean", other)),
    }
}

/// An optional array of strings; absent and `null` read as empty.
pub(crate) fn string_list(
    m: &Map<String, Value>,
    key: &str,
    at: Path<'_>,
) -> Result<Vec<String>, FieldError> {
    let at_key = at.key(key);
    opt_array(m, key, at)?
        .iter()
        .enumerate()
        .map(|(i, v)| string(v, at_key.index(i)).map(str::to_string))
        .collect()
}

/// The strings of an array that are strings; for free-form sections such as OSV's
/// `database_specific`, where a foreign shape is not the record's fault.
pub(crate) fn lenient_strings(v: Option<&Value>) -> Vec<String> {
    match v {
        Some(Value::Array(items)) => items
            .iter()
            .filter_map(|i| i.as_str().map(str::to_string))
            .collect(),
        _ => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn errors_name_the_path() {
        let v = json!({"affected": [{"ranges": 5}]});
        let root = Path::Root;
        let m = object(&v, root).unwrap();
        let affected = opt_array(m, "affected", root).unwrap();
        let at = root.key("affected");
        let at0 = at.index(0);
        let a0 = object(&affected[0], at0).unwrap();
        let e = opt_array(a0, "ranges", at0).unwrap_err();
        assert_eq!(
            e.to_string(),
            "affected[0].ranges: expected an array, found a number"
        );
    }

    #[test]
    fn null_is_absent_and_missing_required_is_reported() {
        let v = json!({"a": null});
        let m = v.as_object().unwrap();
        assert_eq!(opt_str(m, "a", Path::Root).unwrap(), None);
        assert_eq!(
            req_str(m, "id", Path::Root).unwrap_err().to_string(),
            "id: missing"
        );
        assert!(opt_array(m, "a", Path::Root).unwrap().is_empty());
    }
}
