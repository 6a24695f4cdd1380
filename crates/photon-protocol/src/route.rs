//! Which protocol a request speaks and which operation it names (SPEC.md §1.5).
//!
//! RPC v2 CBOR claims `POST …/service/<svc>/operation/<Op>` with `Smithy-Protocol: rpc-v2-cbor`;
//! AWS JSON 1.1 claims `POST /` with `X-Amz-Target: PhotonAdminProxyService.<Op>`. Everything
//! else is refused in the protocol the request most looks like, so the client can parse it.

use http::{HeaderMap, Method};
use photon_types::{ApiError, ErrorCode, Operation};

pub const TARGET_PREFIX: &str = "PhotonAdminProxyService";
const SERVICE_SHAPE_ID: &str = "com.amazonaws.appstream.PhotonAdminProxyService";
pub const JSON_CONTENT_TYPE: &str = "application/x-amz-json-1.1";
pub const CBOR_CONTENT_TYPE: &str = "application/cbor";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    AwsJson11,
    RpcV2Cbor,
}

impl Protocol {
    pub fn name(self) -> &'static str {
        match self {
            Protocol::AwsJson11 => "awsJson1_1",
            Protocol::RpcV2Cbor => "rpcv2Cbor",
        }
    }
}

fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

/// The protocol to answer in, even when the request turns out to be unroutable.
pub fn detect(path: &str, headers: &HeaderMap) -> Protocol {
    if headers.contains_key("smithy-protocol") || path.contains("/service/") {
        Protocol::RpcV2Cbor
    } else {
        Protocol::AwsJson11
    }
}

fn unknown(msg: String) -> ApiError {
    ApiError::new(ErrorCode::UnknownOperationException, msg)
}

fn media_type(headers: &HeaderMap) -> Option<String> {
    header(headers, "content-type").map(|ct| {
        ct.split(';')
            .next()
            .unwrap_or("")
            .trim()
            .to_ascii_lowercase()
    })
}

/// Routes a request to (protocol, operation), or explains why it cannot be routed.
pub fn route(
    method: &Method,
    path: &str,
    headers: &HeaderMap,
    body_len: usize,
) -> Result<(Protocol, Operation), (Protocol, ApiError)> {
    let protocol = detect(path, headers);
    let fail = |e: ApiError| (protocol, e);
    if method != Method::POST {
        return Err(fail(unknown(format!(
            "the AppStream API takes POST requests, not {method}; point your SDK or CLI at this endpoint"
        ))));
    }
    match protocol {
        Protocol::RpcV2Cbor => {
            if headers.contains_key("x-amz-target") || headers.contains_key("x-amzn-target") {
                return Err(fail(ApiError::new(
                    ErrorCode::SerializationException,
                    "an RPC v2 CBOR request must not carry X-Amz-Target; drop the header or send AWS JSON 1.1 to /",
                )));
            }
            match header(headers, "smithy-protocol") {
                Some("rpc-v2-cbor") => {}
                other => {
                    return Err(fail(ApiError::new(
                        ErrorCode::SerializationException,
                        format!(
                            "an RPC v2 CBOR request needs the header Smithy-Protocol: rpc-v2-cbor (got {})",
                            other.map_or("none".to_owned(), |v| format!("'{v}'"))
                        ),
                    )))
                }
            }
            if body_len > 0 && media_type(headers).as_deref() != Some(CBOR_CONTENT_TYPE) {
                return Err(fail(ApiError::new(
                    ErrorCode::UnsupportedMediaTypeException,
                    "an RPC v2 CBOR request body needs Content-Type: application/cbor",
                )));
            }
            let segs: Vec<&str> = path.trim_end_matches('/').rsplit('/').take(4).collect();
            // Reversed: [op, "operation", service, "service"]; only the last four segments route.
            match segs.as_slice() {
                [op, "operation", svc, "service"] => {
                    if *svc != TARGET_PREFIX && *svc != SERVICE_SHAPE_ID {
                        return Err(fail(unknown(format!(
                            "this endpoint serves the service {TARGET_PREFIX}, not '{svc}'"
                        ))));
                    }
                    Operation::from_name(op).map(|o| (protocol, o)).ok_or_else(|| {
                        fail(unknown(format!("'{op}' is not an operation of the AppStream API")))
                    })
                }
                _ => Err(fail(unknown(format!(
                    "an RPC v2 CBOR request goes to /service/{TARGET_PREFIX}/operation/<Operation>, not '{path}'"
                )))),
            }
        }
        Protocol::AwsJson11 => {
            if path != "/" {
                return Err(fail(unknown(format!(
                    "an AWS JSON 1.1 request goes to '/', not '{path}'"
                ))));
            }
            let Some(target) = header(headers, "x-amz-target") else {
                return Err(fail(unknown(
                    "missing X-Amz-Target header; send X-Amz-Target: PhotonAdminProxyService.<Operation>".into(),
                )));
            };
            if media_type(headers).as_deref() != Some(JSON_CONTENT_TYPE) {
                return Err(fail(ApiError::new(
                    ErrorCode::UnsupportedMediaTypeException,
                    format!("an AWS JSON 1.1 request needs Content-Type: {JSON_CONTENT_TYPE}"),
                )));
            }
            let Some((prefix, op)) = target.split_once('.') else {
                return Err(fail(unknown(format!(
                    "X-Amz-Target '{target}' is not of the form {TARGET_PREFIX}.<Operation>"
                ))));
            };
            if prefix != TARGET_PREFIX {
                return Err(fail(unknown(format!(
                    "this endpoint serves the service {TARGET_PREFIX}, not '{prefix}'"
                ))));
            }
            Operation::from_name(op)
                .map(|o| (protocol, o))
                .ok_or_else(|| {
                    fail(unknown(format!(
                        "'{op}' is not an operation of the AppStream API"
                    )))
                })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut m = HeaderMap::new();
        for (k, v) in pairs {
            m.insert(*k, v.parse().unwrap());
        }
        m
    }

    #[test]
    fn table() {
        let json = h(&[
            ("x-amz-target", "PhotonAdminProxyService.DescribeImages"),
            ("content-type", "application/x-amz-json-1.1"),
        ]);
        let cbor = h(&[
            ("smithy-protocol", "rpc-v2-cbor"),
            ("content-type", "application/cbor"),
        ]);
        let p = "/service/PhotonAdminProxyService/operation/DescribeImages";
        let cases: Vec<(&str, &HeaderMap, Result<Operation, ErrorCode>)> = vec![
            ("/", &json, Ok(Operation::DescribeImages)),
            (p, &cbor, Ok(Operation::DescribeImages)),
            (
                "/prefix/service/com.amazonaws.appstream.PhotonAdminProxyService/operation/DeleteImage",
                &cbor,
                Ok(Operation::DeleteImage),
            ),
            ("/service/PhotonAdminProxyService/operation/Nope", &cbor, Err(ErrorCode::UnknownOperationException)),
            ("/service/Other/operation/DescribeImages", &cbor, Err(ErrorCode::UnknownOperationException)),
            ("/elsewhere", &json, Err(ErrorCode::UnknownOperationException)),
        ];
        for (path, headers, want) in cases {
            let got = route(&Method::POST, path, headers, 1)
                .map(|(_, o)| o)
                .map_err(|(_, e)| e.code);
            assert_eq!(got, want, "{path}");
        }
    }

    #[test]
    fn wrong_media_types_and_mixed_headers() {
        let json_bad_ct = h(&[
            ("x-amz-target", "PhotonAdminProxyService.DescribeImages"),
            ("content-type", "text/plain"),
        ]);
        let e = route(&Method::POST, "/", &json_bad_ct, 2).unwrap_err();
        assert_eq!(e.0, Protocol::AwsJson11);
        assert_eq!(e.1.code, ErrorCode::UnsupportedMediaTypeException);
        let mixed = h(&[
            ("smithy-protocol", "rpc-v2-cbor"),
            ("x-amz-target", "PhotonAdminProxyService.DescribeImages"),
        ]);
        let e = route(
            &Method::POST,
            "/service/PhotonAdminProxyService/operation/DescribeImages",
            &mixed,
            0,
        )
        .unwrap_err();
        assert_eq!(e.0, Protocol::RpcV2Cbor);
        assert_eq!(e.1.code, ErrorCode::SerializationException);
        let e = route(&Method::GET, "/", &h(&[]), 0).unwrap_err();
        assert_eq!(e.1.code, ErrorCode::UnknownOperationException);
    }
}
