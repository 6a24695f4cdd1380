//! A protocol-neutral data tree: what the JSON and CBOR codecs decode requests into and encode
//! responses from. It keeps the distinctions both protocols care about (integer vs float,
//! timestamps) and nothing else.

use std::borrow::Cow;
use std::collections::BTreeMap;

/// A structure member name or map key: borrowed from the model for responses (no allocation),
/// owned when it comes off the wire.
pub type Key = Cow<'static, str>;

/// A point in time with millisecond precision, as Smithy timestamps are.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Timestamp(pub i64);

impl Timestamp {
    pub fn from_millis(ms: i64) -> Self {
        Timestamp(ms)
    }
    pub fn millis(self) -> i64 {
        self.0
    }
    /// Epoch seconds, fractional where the millisecond part is non-zero.
    pub fn as_secs_f64(self) -> f64 {
        self.0 as f64 / 1000.0
    }
    /// Accepts epoch seconds; rejects values that cannot be a timestamp.
    pub fn from_secs_f64(secs: f64) -> Option<Self> {
        if !secs.is_finite() || secs.abs() > 1.0e14 {
            return None;
        }
        Some(Timestamp((secs * 1000.0).round() as i64))
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Null,
    Bool(bool),
    Integer(i64),
    Float(f64),
    String(String),
    Timestamp(Timestamp),
    List(Vec<Value>),
    Map(BTreeMap<Key, Value>),
    /// A structure on its way out: members in model order with their static names. Responses
    /// use it instead of `Map` so that building one allocates a single vector, not a tree.
    /// Wire decoders never produce it.
    Struct(Vec<(&'static str, Value)>),
}

impl Value {
    /// The name of the kind of value, for error messages.
    pub fn kind(&self) -> &'static str {
        match self {
            Value::Null => "null",
            Value::Bool(_) => "boolean",
            Value::Integer(_) => "integer",
            Value::Float(_) => "number",
            Value::String(_) => "string",
            Value::Timestamp(_) => "timestamp",
            Value::List(_) => "list",
            Value::Map(_) => "map",
            Value::Struct(_) => "structure",
        }
    }

    pub fn empty_map() -> Value {
        Value::Map(BTreeMap::new())
    }
}
