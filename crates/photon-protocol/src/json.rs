//! AWS JSON 1.1 bodies <-> [`Value`]. Timestamps travel as epoch seconds (a JSON number).

use std::collections::BTreeMap;

use photon_types::{ApiError, ErrorCode, Timestamp, Value};

/// Parses a request body. An empty body is an empty input, as the protocol allows.
pub fn decode(body: &[u8]) -> Result<Value, ApiError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(Value::Null);
    }
    let json: serde_json::Value = serde_json::from_slice(body).map_err(|e| {
        ApiError::new(
            ErrorCode::SerializationException,
            format!("the request body is not valid JSON ({e}); send a JSON object"),
        )
    })?;
    if !json.is_object() {
        return Err(ApiError::new(
            ErrorCode::SerializationException,
            "the request body must be a JSON object",
        ));
    }
    Ok(from_json(json))
}

fn from_json(j: serde_json::Value) -> Value {
    match j {
        serde_json::Value::Null => Value::Null,
        serde_json::Value::Bool(b) => Value::Bool(b),
        serde_json::Value::Number(n) => match n.as_i64() {
            Some(i) => Value::Integer(i),
            None => Value::Float(n.as_f64().unwrap_or(f64::NAN)),
        },
        serde_json::Value::String(s) => Value::String(s),
        serde_json::Value::Array(a) => Value::List(a.into_iter().map(from_json).collect()),
        serde_json::Value::Object(o) => Value::Map(
            o.into_iter()
                .map(|(k, v)| (k, from_json(v)))
                .collect::<BTreeMap<_, _>>(),
        ),
    }
}

pub fn to_json(v: &Value) -> serde_json::Value {
    match v {
        Value::Null => serde_json::Value::Null,
        Value::Bool(b) => serde_json::Value::Bool(*b),
        Value::Integer(i) => serde_json::Value::from(*i),
        Value::Float(f) => serde_json::Number::from_f64(*f)
            .map_or(serde_json::Value::Null, serde_json::Value::Number),
        Value::String(s) => serde_json::Value::String(s.clone()),
        Value::Timestamp(t) => timestamp(*t),
        Value::List(l) => serde_json::Value::Array(l.iter().map(to_json).collect()),
        Value::Map(m) => serde_json::Value::Object(
            m.iter()
                .filter(|(_, v)| !matches!(v, Value::Null))
                .map(|(k, v)| (k.clone(), to_json(v)))
                .collect(),
        ),
    }
}

fn timestamp(t: Timestamp) -> serde_json::Value {
    if t.millis() % 1000 == 0 {
        serde_json::Value::from(t.millis() / 1000)
    } else {
        serde_json::Number::from_f64(t.as_secs_f64())
            .map_or(serde_json::Value::Null, serde_json::Value::Number)
    }
}

pub fn encode(v: &Value) -> Vec<u8> {
    // Serialising a serde_json::Value to a Vec cannot fail: every key is a string.
    serde_json::to_vec(&to_json(v)).unwrap_or_else(|_| b"{}".to_vec())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_body_is_empty_input() {
        assert_eq!(decode(b"").unwrap(), Value::Null);
        assert_eq!(decode(b"{}").unwrap(), Value::empty_map());
    }

    #[test]
    fn non_object_is_refused() {
        assert_eq!(
            decode(b"[1]").unwrap_err().code,
            ErrorCode::SerializationException
        );
        assert_eq!(
            decode(b"{").unwrap_err().code,
            ErrorCode::SerializationException
        );
    }

    #[test]
    fn timestamps_are_epoch_seconds() {
        let mut m = BTreeMap::new();
        m.insert(
            "T".to_owned(),
            Value::Timestamp(Timestamp(1_500_000_000_000)),
        );
        m.insert(
            "U".to_owned(),
            Value::Timestamp(Timestamp(1_500_000_000_250)),
        );
        assert_eq!(
            encode(&Value::Map(m)),
            br#"{"T":1500000000,"U":1500000000.25}"#
        );
    }
}
