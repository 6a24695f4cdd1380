//! The wire: AWS JSON 1.1 and Smithy RPC v2 CBOR codecs, routing, error envelopes, and SigV4
//! authentication. This is the only crate that knows HTTP status codes, `X-Amz-Target` and
//! signatures; it never reads the database (it asks a [`auth::CredentialStore`]) and knows
//! nothing of images.

pub mod auth;
pub mod cbor;
pub mod frame;
pub mod json;
pub mod route;
pub mod sigv4;

pub use route::Protocol;

/// Decodes a request body in the given protocol.
pub fn decode_body(
    protocol: Protocol,
    body: &[u8],
) -> Result<photon_types::Value, photon_types::ApiError> {
    match protocol {
        Protocol::AwsJson11 => json::decode(body),
        Protocol::RpcV2Cbor => cbor::decode(body),
    }
}
