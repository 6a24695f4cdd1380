//! Response framing for both protocols: status, headers, and the error envelope
//! (`__type` + `Message`) exactly as each protocol specifies (SPEC.md §1.3, §1.4).

use std::collections::BTreeMap;

use http::{HeaderValue, Response, StatusCode};
use photon_types::{ApiError, Key, Value};

use crate::route::{Protocol, CBOR_CONTENT_TYPE, JSON_CONTENT_TYPE};
use crate::{cbor, json};

pub const REQUEST_ID_HEADER: &str = "x-amzn-requestid";

fn build(protocol: Protocol, status: u16, body: Vec<u8>, request_id: &str) -> Response<Vec<u8>> {
    let mut resp = Response::new(body);
    *resp.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_REQUEST);
    let h = resp.headers_mut();
    match protocol {
        Protocol::AwsJson11 => {
            h.insert(
                http::header::CONTENT_TYPE,
                HeaderValue::from_static(JSON_CONTENT_TYPE),
            );
        }
        Protocol::RpcV2Cbor => {
            h.insert(
                http::header::CONTENT_TYPE,
                HeaderValue::from_static(CBOR_CONTENT_TYPE),
            );
            h.insert("smithy-protocol", HeaderValue::from_static("rpc-v2-cbor"));
        }
    }
    if let Ok(v) = HeaderValue::from_str(request_id) {
        h.insert(REQUEST_ID_HEADER, v);
    }
    resp
}

pub fn encode_body(protocol: Protocol, v: &Value) -> Vec<u8> {
    match protocol {
        Protocol::AwsJson11 => json::encode(v),
        Protocol::RpcV2Cbor => cbor::encode(v),
    }
}

pub fn success(protocol: Protocol, output: &Value, request_id: &str) -> Response<Vec<u8>> {
    build(protocol, 200, encode_body(protocol, output), request_id)
}

pub fn error(protocol: Protocol, err: &ApiError, request_id: &str) -> Response<Vec<u8>> {
    let code = err.code;
    // AWS JSON 1.1 sends the bare shape name; RPC v2 CBOR the absolute shape id.
    let type_name = match protocol {
        Protocol::AwsJson11 => code.name(),
        Protocol::RpcV2Cbor => code.shape_id(),
    };
    let mut m = BTreeMap::new();
    m.insert(Key::Borrowed("__type"), Value::String(type_name.to_owned()));
    m.insert(Key::Borrowed("Message"), Value::String(err.message.clone()));
    build(
        protocol,
        code.http_status(),
        encode_body(protocol, &Value::Map(m)),
        request_id,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use photon_types::ErrorCode;

    #[test]
    fn every_error_code_has_a_status_and_type() {
        for code in ErrorCode::ALL {
            let e = ApiError::new(*code, "m");
            let j = error(Protocol::AwsJson11, &e, "rid");
            assert_eq!(j.status().as_u16(), code.http_status());
            let body: serde_json::Value = serde_json::from_slice(j.body()).unwrap();
            assert_eq!(body["__type"], code.name());
            assert_eq!(body["Message"], "m");
            let c = error(Protocol::RpcV2Cbor, &e, "rid");
            assert_eq!(c.headers()["smithy-protocol"], "rpc-v2-cbor");
            let Value::Map(m) = cbor::decode(c.body()).unwrap() else {
                panic!("map")
            };
            assert_eq!(m["__type"], Value::String(code.shape_id().to_owned()));
            assert_eq!(c.headers()[REQUEST_ID_HEADER], "rid");
        }
        assert_eq!(ErrorCode::ResourceNotFoundException.http_status(), 404);
        assert_eq!(ErrorCode::DryRunOperationException.http_status(), 412);
        assert_eq!(
            ErrorCode::ResourceInUseException.shape_id(),
            "com.amazonaws.appstream#ResourceInUseException"
        );
    }
}
