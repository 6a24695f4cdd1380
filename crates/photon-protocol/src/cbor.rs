//! Smithy RPC v2 CBOR bodies <-> [`Value`]. Timestamps travel as tag 1 around epoch seconds;
//! decoding accepts indefinite-length items and half-precision floats, as the spec requires.

use std::collections::BTreeMap;

use ciborium::value::{Integer, Value as Cbor};
use photon_types::{ApiError, ErrorCode, Timestamp, Value};

fn malformed(why: impl std::fmt::Display) -> ApiError {
    ApiError::new(
        ErrorCode::SerializationException,
        format!("the request body is not valid CBOR for this operation: {why}"),
    )
}

pub fn decode(body: &[u8]) -> Result<Value, ApiError> {
    if body.is_empty() {
        return Ok(Value::Null);
    }
    let mut reader = body;
    let cbor: Cbor = ciborium::de::from_reader(&mut reader).map_err(malformed)?;
    if !reader.is_empty() {
        return Err(malformed("trailing bytes after the top-level item"));
    }
    if !matches!(cbor, Cbor::Map(_)) {
        return Err(malformed("the top-level item must be a map"));
    }
    from_cbor(cbor)
}

fn from_cbor(c: Cbor) -> Result<Value, ApiError> {
    Ok(match c {
        Cbor::Null => Value::Null,
        Cbor::Bool(b) => Value::Bool(b),
        Cbor::Integer(i) => {
            let i: i128 = i.into();
            Value::Integer(i64::try_from(i).map_err(|_| malformed("integer out of range"))?)
        }
        Cbor::Float(f) => Value::Float(f),
        Cbor::Text(s) => Value::String(s),
        Cbor::Bytes(_) => return Err(malformed("no member of this API is a blob")),
        Cbor::Array(a) => Value::List(a.into_iter().map(from_cbor).collect::<Result<_, _>>()?),
        Cbor::Map(m) => {
            let mut out = BTreeMap::new();
            for (k, v) in m {
                let Cbor::Text(k) = k else {
                    return Err(malformed("map keys must be text strings"));
                };
                out.insert(k, from_cbor(v)?);
            }
            Value::Map(out)
        }
        Cbor::Tag(1, inner) => {
            let secs = match *inner {
                Cbor::Integer(i) => i128::from(i) as f64,
                Cbor::Float(f) => f,
                _ => return Err(malformed("tag 1 must wrap a number of epoch seconds")),
            };
            Value::Timestamp(
                Timestamp::from_secs_f64(secs)
                    .ok_or_else(|| malformed("timestamp out of range"))?,
            )
        }
        Cbor::Tag(t, _) => return Err(malformed(format!("unexpected tag {t}"))),
        _ => return Err(malformed("unsupported item")),
    })
}

fn to_cbor(v: &Value) -> Cbor {
    match v {
        Value::Null => Cbor::Null,
        Value::Bool(b) => Cbor::Bool(*b),
        Value::Integer(i) => Cbor::Integer(Integer::from(*i)),
        Value::Float(f) => Cbor::Float(*f),
        Value::String(s) => Cbor::Text(s.clone()),
        Value::Timestamp(t) => {
            let inner = if t.millis() % 1000 == 0 {
                Cbor::Integer(Integer::from(t.millis() / 1000))
            } else {
                Cbor::Float(t.as_secs_f64())
            };
            Cbor::Tag(1, Box::new(inner))
        }
        Value::List(l) => Cbor::Array(l.iter().map(to_cbor).collect()),
        Value::Map(m) => Cbor::Map(
            m.iter()
                .filter(|(_, v)| !matches!(v, Value::Null))
                .map(|(k, v)| (Cbor::Text(k.clone()), to_cbor(v)))
                .collect(),
        ),
    }
}

pub fn encode(v: &Value) -> Vec<u8> {
    let mut out = Vec::new();
    // Writing into a Vec cannot fail.
    let _ = ciborium::ser::into_writer(&to_cbor(v), &mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(s: &str) -> Vec<u8> {
        let s: String = s.split_whitespace().collect();
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    #[test]
    fn botocore_vector_decodes() {
        // UpdateImagePermissions as botocore 1.44.8 serialises it (SPEC.md §1.4).
        let mut body = hex("a3 64");
        body.extend(b"Name");
        body.extend(hex("63"));
        body.extend(b"img");
        body.extend(hex("6f"));
        body.extend(b"SharedAccountId");
        body.extend(hex("6c"));
        body.extend(b"123456789012");
        body.extend(hex("70"));
        body.extend(b"ImagePermissions");
        body.extend(hex("a2 6a"));
        body.extend(b"allowFleet");
        body.extend(hex("f5 71"));
        body.extend(b"allowImageBuilder");
        body.extend(hex("f4"));
        let Value::Map(m) = decode(&body).unwrap() else {
            panic!("not a map")
        };
        assert_eq!(m["Name"], Value::String("img".into()));
        let Value::Map(p) = &m["ImagePermissions"] else {
            panic!("not a map")
        };
        assert_eq!(p["allowFleet"], Value::Bool(true));
    }

    #[test]
    fn indefinite_maps_and_half_floats() {
        // {_ "a": 1.5 (half)} with an indefinite-length map
        let mut body = hex("bf 61");
        body.extend(b"a");
        body.extend(hex("f9 3e00 ff"));
        let Value::Map(m) = decode(&body).unwrap() else {
            panic!("not a map")
        };
        assert_eq!(m["a"], Value::Float(1.5));
    }

    #[test]
    fn timestamps_are_tag_1() {
        let mut m = BTreeMap::new();
        m.insert("T".to_owned(), Value::Timestamp(Timestamp(1_000)));
        let bytes = encode(&Value::Map(m));
        assert_eq!(bytes, hex("a1 61 54 c1 01"));
        assert_eq!(
            decode(&bytes).unwrap(),
            Value::Map([("T".to_owned(), Value::Timestamp(Timestamp(1_000)))].into())
        );
    }

    #[test]
    fn garbage_is_a_serialization_error() {
        assert_eq!(
            decode(&[0xff, 0x00]).unwrap_err().code,
            ErrorCode::SerializationException
        );
        assert_eq!(
            decode(&hex("01")).unwrap_err().code,
            ErrorCode::SerializationException
        );
    }
}
