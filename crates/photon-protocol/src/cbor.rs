//! Smithy RPC v2 CBOR bodies <-> [`Value`]. Timestamps travel as tag 1 around epoch seconds;
//! decoding accepts indefinite-length items and half-precision floats, as the spec requires.

use std::collections::BTreeMap;

use ciborium::value::Value as Cbor;
use photon_types::{ApiError, ErrorCode, Key, Timestamp, Value};

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
                out.insert(Key::Owned(k), from_cbor(v)?);
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

/// Writes a value as CBOR straight into bytes (definite lengths, smallest integer heads), with
/// no intermediate tree on the response path.
pub fn encode(v: &Value) -> Vec<u8> {
    let mut out = Vec::with_capacity(1024);
    write(&mut out, v);
    out
}

/// A CBOR item head: major type and argument, in the shortest form.
fn head(out: &mut Vec<u8>, major: u8, n: u64) {
    let m = major << 5;
    if n < 24 {
        out.push(m | n as u8);
    } else if let Ok(b) = u8::try_from(n) {
        out.extend_from_slice(&[m | 24, b]);
    } else if let Ok(h) = u16::try_from(n) {
        out.push(m | 25);
        out.extend_from_slice(&h.to_be_bytes());
    } else if let Ok(w) = u32::try_from(n) {
        out.push(m | 26);
        out.extend_from_slice(&w.to_be_bytes());
    } else {
        out.push(m | 27);
        out.extend_from_slice(&n.to_be_bytes());
    }
}

fn write_int(out: &mut Vec<u8>, i: i64) {
    if i >= 0 {
        head(out, 0, i.unsigned_abs());
    } else {
        // Major type 1 carries -1 - n.
        head(out, 1, (i + 1).unsigned_abs());
    }
}

fn write_float(out: &mut Vec<u8>, f: f64) {
    out.push(0xfb);
    out.extend_from_slice(&f.to_be_bytes());
}

fn write_map<'a>(out: &mut Vec<u8>, members: impl Iterator<Item = (&'a str, &'a Value)> + Clone) {
    let present = members
        .clone()
        .filter(|(_, v)| !matches!(v, Value::Null))
        .count();
    head(out, 5, present as u64);
    for (k, item) in members.filter(|(_, v)| !matches!(v, Value::Null)) {
        head(out, 3, k.len() as u64);
        out.extend_from_slice(k.as_bytes());
        write(out, item);
    }
}

fn write(out: &mut Vec<u8>, v: &Value) {
    match v {
        Value::Null => out.push(0xf6),
        Value::Bool(true) => out.push(0xf5),
        Value::Bool(false) => out.push(0xf4),
        Value::Integer(i) => write_int(out, *i),
        Value::Float(f) => write_float(out, *f),
        Value::String(s) => {
            head(out, 3, s.len() as u64);
            out.extend_from_slice(s.as_bytes());
        }
        Value::Timestamp(t) => {
            head(out, 6, 1);
            if t.millis() % 1000 == 0 {
                write_int(out, t.millis() / 1000);
            } else {
                write_float(out, t.as_secs_f64());
            }
        }
        Value::List(l) => {
            head(out, 4, l.len() as u64);
            for item in l {
                write(out, item);
            }
        }
        Value::Map(m) => write_map(out, m.iter().map(|(k, v)| (k.as_ref(), v))),
        Value::Struct(fields) => write_map(out, fields.iter().map(|(k, v)| (*k, v))),
    }
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
        m.insert(Key::Borrowed("T"), Value::Timestamp(Timestamp(1_000)));
        let bytes = encode(&Value::Map(m));
        assert_eq!(bytes, hex("a1 61 54 c1 01"));
        assert_eq!(
            decode(&bytes).unwrap(),
            Value::Map([(Key::Borrowed("T"), Value::Timestamp(Timestamp(1_000)))].into())
        );
    }

    #[test]
    fn direct_writer_round_trips_through_ciborium() {
        let mut m = BTreeMap::new();
        for (i, n) in [
            0i64,
            23,
            24,
            255,
            256,
            65_535,
            65_536,
            1 << 33,
            -1,
            -24,
            -25,
            -300,
            i64::MIN,
        ]
        .into_iter()
        .enumerate()
        {
            m.insert(Key::Owned(format!("n{i:02}")), Value::Integer(n));
        }
        m.insert(Key::Borrowed("s"), Value::String("é".repeat(200)));
        m.insert(
            Key::Borrowed("l"),
            Value::List(vec![Value::Bool(true), Value::Float(0.5)]),
        );
        m.insert(Key::Borrowed("t"), Value::Timestamp(Timestamp(1_500)));
        m.insert(Key::Borrowed("gone"), Value::Null);
        let bytes = encode(&Value::Map(m.clone()));
        // ciborium, an independent decoder, reads exactly what was written (nulls omitted).
        let back = decode(&bytes).unwrap();
        m.remove("gone");
        assert_eq!(back, Value::Map(m));
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
