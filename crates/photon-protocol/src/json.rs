//! AWS JSON 1.1 bodies <-> [`Value`]. Timestamps travel as epoch seconds (a JSON number).

use std::collections::BTreeMap;

use photon_types::{ApiError, ErrorCode, Key, Timestamp, Value};

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
                .map(|(k, v)| (Key::Owned(k), from_json(v)))
                .collect::<BTreeMap<_, _>>(),
        ),
    }
}

/// Writes a value as JSON straight into bytes: no intermediate tree on the response path.
pub fn encode(v: &Value) -> Vec<u8> {
    let mut out = Vec::with_capacity(1024);
    write(&mut out, v);
    out
}

fn write(out: &mut Vec<u8>, v: &Value) {
    match v {
        // Null never reaches here from a response (members are omitted); write it correctly anyway.
        Value::Null => out.extend_from_slice(b"null"),
        Value::Bool(true) => out.extend_from_slice(b"true"),
        Value::Bool(false) => out.extend_from_slice(b"false"),
        Value::Integer(i) => out.extend_from_slice(i.to_string().as_bytes()),
        Value::Float(f) => write_float(out, *f),
        Value::String(s) => write_str(out, s),
        Value::Timestamp(t) => write_timestamp(out, *t),
        Value::List(l) => {
            out.push(b'[');
            for (i, item) in l.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write(out, item);
            }
            out.push(b']');
        }
        Value::Map(m) => write_object(out, m.iter().map(|(k, v)| (k.as_ref(), v))),
        Value::Struct(fields) => write_object(out, fields.iter().map(|(k, v)| (*k, v))),
    }
}

fn write_object<'a>(out: &mut Vec<u8>, members: impl Iterator<Item = (&'a str, &'a Value)>) {
    out.push(b'{');
    let mut first = true;
    for (k, item) in members.filter(|(_, v)| !matches!(v, Value::Null)) {
        if !first {
            out.push(b',');
        }
        first = false;
        write_str(out, k);
        out.push(b':');
        write(out, item);
    }
    out.push(b'}');
}

fn write_float(out: &mut Vec<u8>, f: f64) {
    if f.is_finite() {
        // serde_json writes the shortest form that reads back exactly.
        let _ = serde_json::to_writer(&mut *out, &f);
    } else {
        out.extend_from_slice(b"null");
    }
}

fn write_str(out: &mut Vec<u8>, s: &str) {
    // serde_json escapes exactly as JSON requires; writing into a Vec cannot fail.
    let _ = serde_json::to_writer(&mut *out, s);
}

fn write_timestamp(out: &mut Vec<u8>, t: Timestamp) {
    if t.millis() % 1000 == 0 {
        out.extend_from_slice((t.millis() / 1000).to_string().as_bytes());
    } else {
        write_float(out, t.as_secs_f64());
    }
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
            Key::Borrowed("T"),
            Value::Timestamp(Timestamp(1_500_000_000_000)),
        );
        m.insert(
            Key::Borrowed("U"),
            Value::Timestamp(Timestamp(1_500_000_000_250)),
        );
        assert_eq!(
            encode(&Value::Map(m)),
            br#"{"T":1500000000,"U":1500000000.25}"#
        );
    }

    #[test]
    fn direct_writer_matches_serde_json() {
        let body = br#"{"a":[1,-2,3.5,true,false,"x\"y\u0001\u00e9"],"b":{"c":{}},"d":[]}"#;
        let v = decode(body).unwrap();
        let ours: serde_json::Value = serde_json::from_slice(&encode(&v)).unwrap();
        let theirs: serde_json::Value = serde_json::from_slice(body).unwrap();
        assert_eq!(ours, theirs);
    }
}
