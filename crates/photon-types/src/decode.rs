//! Typed decoding of a [`Value`] against the model, collecting every constraint the input breaks.
//!
//! Two kinds of failure are kept apart, as AWS keeps them apart: a value of the wrong kind (a
//! string where the model wants a list) stops decoding with a `SerializationException`, while a
//! value of the right kind that breaks a constraint (pattern, length, range, enum, required) is
//! recorded as a [`Violation`] and decoding goes on, so one answer lists everything to fix.

use std::collections::BTreeMap;

use crate::error::{ApiError, ErrorCode};
use crate::value::{Key, Timestamp, Value};

/// One broken constraint, worded the way AWS validation errors are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    pub path: String,
    /// The offending value, already quoted (`'abc'`), or `null`.
    pub value: String,
    pub constraint: String,
}

/// A value of the wrong kind; decoding cannot go on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SerializationError(pub String);

pub trait Decode: Sized {
    fn decode(v: Value, d: &mut Decoder, path: &str) -> Result<Self, SerializationError>;
}

pub trait Encode {
    /// Consumes the value: responses move their strings into the tree instead of copying them.
    fn encode(self) -> Value;
}

#[derive(Debug, Default)]
pub struct Decoder {
    pub violations: Vec<Violation>,
}

/// The path of a member below `parent`, as shown in validation messages.
pub fn join(parent: &str, member: &str) -> String {
    if parent.is_empty() {
        member.to_owned()
    } else {
        format!("{parent}.{member}")
    }
}

fn quote(s: &str) -> String {
    const MAX: usize = 200;
    if s.chars().count() > MAX {
        let cut: String = s.chars().take(MAX).collect();
        format!("'{cut}…'")
    } else {
        format!("'{s}'")
    }
}

impl Decoder {
    fn wrong_kind(path: &str, want: &str, got: &Value) -> SerializationError {
        let at = if path.is_empty() {
            "the request body".to_owned()
        } else {
            format!("'{path}'")
        };
        SerializationError(format!("expected {want} at {at}, found {}", got.kind()))
    }

    pub fn violation(&mut self, path: &str, value: String, constraint: impl Into<String>) {
        self.violations.push(Violation {
            path: path.to_owned(),
            value,
            constraint: constraint.into(),
        });
    }

    pub fn missing(&mut self, path: &str) {
        self.violation(path, "null".to_owned(), "Member must not be null");
    }

    pub fn map(
        &mut self,
        v: Value,
        path: &str,
    ) -> Result<BTreeMap<Key, Value>, SerializationError> {
        match v {
            Value::Map(m) => Ok(m),
            Value::Struct(fields) => Ok(fields
                .into_iter()
                .map(|(k, v)| (Key::Borrowed(k), v))
                .collect()),
            other => Err(Self::wrong_kind(path, "a structure", &other)),
        }
    }

    pub fn list(&mut self, v: Value, path: &str) -> Result<Vec<Value>, SerializationError> {
        match v {
            Value::List(l) => Ok(l),
            other => Err(Self::wrong_kind(path, "a list", &other)),
        }
    }

    pub fn string(&mut self, v: Value, path: &str) -> Result<String, SerializationError> {
        match v {
            Value::String(s) => Ok(s),
            other => Err(Self::wrong_kind(path, "a string", &other)),
        }
    }

    pub fn boolean(&mut self, v: Value, path: &str) -> Result<bool, SerializationError> {
        match v {
            Value::Bool(b) => Ok(b),
            other => Err(Self::wrong_kind(path, "a boolean", &other)),
        }
    }

    pub fn long(&mut self, v: Value, path: &str) -> Result<i64, SerializationError> {
        match v {
            Value::Integer(i) => Ok(i),
            // JSON has one number type; an integral float is an integer written loosely.
            Value::Float(f) if f.fract() == 0.0 && f.abs() < 9.0e15 => Ok(f as i64),
            other => Err(Self::wrong_kind(path, "an integer", &other)),
        }
    }

    pub fn integer(&mut self, v: Value, path: &str) -> Result<i32, SerializationError> {
        let n = self.long(v, path)?;
        i32::try_from(n).map_err(|_| {
            SerializationError(format!(
                "the number {n} at '{path}' does not fit a 32-bit integer"
            ))
        })
    }

    pub fn timestamp(&mut self, v: Value, path: &str) -> Result<Timestamp, SerializationError> {
        match v {
            Value::Timestamp(t) => Ok(t),
            Value::Integer(i) => Timestamp::from_secs_f64(i as f64)
                .ok_or_else(|| SerializationError(format!("timestamp out of range at '{path}'"))),
            Value::Float(f) => Timestamp::from_secs_f64(f)
                .ok_or_else(|| SerializationError(format!("timestamp out of range at '{path}'"))),
            other => Err(Self::wrong_kind(
                path,
                "a timestamp (epoch seconds)",
                &other,
            )),
        }
    }

    /// Takes an optional member out of a structure; an explicit null counts as absent.
    pub fn take(m: &mut BTreeMap<Key, Value>, name: &str) -> Option<Value> {
        match m.remove(name) {
            None | Some(Value::Null) => None,
            Some(v) => Some(v),
        }
    }

    pub fn check_len(
        &mut self,
        path: &str,
        shown: &str,
        len: usize,
        min: Option<i64>,
        max: Option<i64>,
    ) {
        let len = len as i64;
        if let Some(min) = min {
            if len < min {
                self.violation(
                    path,
                    shown.to_owned(),
                    format!("Member must have length greater than or equal to {min}"),
                );
            }
        }
        if let Some(max) = max {
            if len > max {
                self.violation(
                    path,
                    shown.to_owned(),
                    format!("Member must have length less than or equal to {max}"),
                );
            }
        }
    }

    pub fn check_range(&mut self, path: &str, n: i64, min: Option<i64>, max: Option<i64>) {
        if let Some(min) = min {
            if n < min {
                self.violation(
                    path,
                    format!("'{n}'"),
                    format!("Member must have value greater than or equal to {min}"),
                );
            }
        }
        if let Some(max) = max {
            if n > max {
                self.violation(
                    path,
                    format!("'{n}'"),
                    format!("Member must have value less than or equal to {max}"),
                );
            }
        }
    }

    pub fn check_pattern(&mut self, path: &str, s: &str, shown: &str, re: &fancy_regex::Regex) {
        // A pattern that the engine cannot evaluate on this input (backtrack limit) is treated
        // as a mismatch: refusing is safer than storing what the model forbids.
        if !re.is_match(s).unwrap_or(false) {
            self.violation(
                path,
                shown.to_owned(),
                format!(
                    "Member must satisfy regular expression pattern: {}",
                    re.as_str()
                ),
            );
        }
    }

    pub fn check_enum(&mut self, path: &str, s: &str, values: &[&str]) {
        self.violation(
            path,
            quote(s),
            format!(
                "Member must satisfy enum value set: [{}]",
                values.join(", ")
            ),
        );
    }

    /// Renders a string for a message, hiding it when the model marks it sensitive.
    pub fn shown(s: &str, sensitive: bool) -> String {
        if sensitive {
            "'***'".to_owned()
        } else {
            quote(s)
        }
    }
}

/// Decodes a whole operation input. An absent body is an empty input.
pub fn decode_input<T: Decode>(v: Value) -> Result<T, ApiError> {
    let v = match v {
        Value::Null => Value::empty_map(),
        v => v,
    };
    let mut d = Decoder::default();
    let out = T::decode(v, &mut d, "")
        .map_err(|e| ApiError::new(ErrorCode::SerializationException, e.0))?;
    if d.violations.is_empty() {
        Ok(out)
    } else {
        Err(validation_error(&d.violations))
    }
}

/// The AWS wording: `2 validation errors detected: Value 'x' at 'Name' failed to satisfy
/// constraint: …; Value …`.
pub fn validation_error(violations: &[Violation]) -> ApiError {
    // The answer lists the first few; a request with thousands of bad values must not get an
    // answer thousands of times larger than itself.
    const SHOWN: usize = 10;
    let n = violations.len();
    let noun = if n == 1 { "error" } else { "errors" };
    let mut parts: Vec<String> = violations
        .iter()
        .take(SHOWN)
        .map(|v| {
            format!(
                "Value {} at '{}' failed to satisfy constraint: {}",
                v.value, v.path, v.constraint
            )
        })
        .collect();
    if n > SHOWN {
        parts.push(format!("and {} more", n - SHOWN));
    }
    ApiError::new(
        ErrorCode::ValidationException,
        format!("{n} validation {noun} detected: {}", parts.join("; ")),
    )
}

impl Encode for String {
    fn encode(self) -> Value {
        Value::String(self)
    }
}
impl Encode for bool {
    fn encode(self) -> Value {
        Value::Bool(self)
    }
}
impl Encode for i32 {
    fn encode(self) -> Value {
        Value::Integer(i64::from(self))
    }
}
impl Encode for i64 {
    fn encode(self) -> Value {
        Value::Integer(self)
    }
}
impl Encode for Timestamp {
    fn encode(self) -> Value {
        Value::Timestamp(self)
    }
}
impl<T: Encode> Encode for Vec<T> {
    fn encode(self) -> Value {
        Value::List(self.into_iter().map(Encode::encode).collect())
    }
}
impl<T: Encode> Encode for BTreeMap<String, T> {
    fn encode(self) -> Value {
        Value::Map(
            self.into_iter()
                .map(|(k, v)| (Key::Owned(k), v.encode()))
                .collect(),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{DescribeImagesRequest, TagResourceRequest, MODEL_PATTERNS};

    fn map(pairs: Vec<(&str, Value)>) -> Value {
        Value::Map(
            pairs
                .into_iter()
                .map(|(k, v)| (Key::Owned(k.to_owned()), v))
                .collect(),
        )
    }

    #[test]
    fn every_model_pattern_compiles() {
        for p in MODEL_PATTERNS {
            assert!(
                fancy_regex::Regex::new(p).is_ok(),
                "pattern does not compile: {p}"
            );
        }
    }

    #[test]
    fn violations_are_collected_and_worded_like_aws() {
        let v = map(vec![
            ("MaxResults", Value::Integer(99)),
            ("Type", Value::String("SECRET".into())),
            ("Unknown", Value::Bool(true)),
        ]);
        let e = decode_input::<DescribeImagesRequest>(v).unwrap_err();
        assert_eq!(e.code, ErrorCode::ValidationException);
        assert!(
            e.message.starts_with("2 validation errors detected: "),
            "{}",
            e.message
        );
        assert!(
            e.message.contains("Value '99' at 'MaxResults'"),
            "{}",
            e.message
        );
        assert!(
            e.message.contains("[PUBLIC, PRIVATE, SHARED]"),
            "{}",
            e.message
        );
    }

    #[test]
    fn required_members_and_reserved_tag_keys() {
        let e = decode_input::<TagResourceRequest>(Value::Null).unwrap_err();
        assert!(
            e.message.contains("Value null at 'ResourceArn'"),
            "{}",
            e.message
        );
        assert!(e.message.contains("Value null at 'Tags'"), "{}", e.message);
        let v = map(vec![
            (
                "ResourceArn",
                Value::String("arn:aws:appstream:us-east-1:123456789012:image/x".into()),
            ),
            ("Tags", map(vec![("aws:x", Value::String("v".into()))])),
        ]);
        let e = decode_input::<TagResourceRequest>(v).unwrap_err();
        assert!(e.message.contains("at 'Tags.key'"), "{}", e.message);
    }

    #[test]
    fn long_lists_of_violations_are_cut() {
        let names = Value::List((0..500).map(|_| Value::String(String::new())).collect());
        let e = decode_input::<DescribeImagesRequest>(map(vec![("Names", names)])).unwrap_err();
        assert!(
            e.message.starts_with("500 validation errors detected"),
            "{}",
            e.message
        );
        assert!(e.message.ends_with("and 490 more"), "{}", e.message);
        assert!(e.message.len() < 2000);
    }

    #[test]
    fn wrong_kinds_are_serialization_errors() {
        let e =
            decode_input::<DescribeImagesRequest>(map(vec![("Names", Value::String("x".into()))]))
                .unwrap_err();
        assert_eq!(e.code, ErrorCode::SerializationException);
        assert!(e.message.contains("'Names'"));
        let ok =
            decode_input::<DescribeImagesRequest>(map(vec![("MaxResults", Value::Float(5.0))]))
                .unwrap();
        assert_eq!(ok.max_results, Some(5));
    }
}
