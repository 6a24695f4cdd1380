//! The AppStream API surface: every shape, enum, error code and operation of the pinned model
//! (`model/appstream.json`), plus the small runtime the generated code needs.
//!
//! `generated*.rs` come from `cargo xtask codegen` and are never edited by hand. The hand-written
//! modules here are protocol-neutral: a [`Value`] tree that both wire codecs produce and consume,
//! the decoder that checks the model's constraints while it builds typed inputs, and [`ApiError`].
//! Nothing here knows JSON, CBOR, HTTP or storage.

pub mod decode;
pub mod error;
mod generated;
mod generated_ops;
pub mod value;

pub use decode::{Decode, Decoder, Encode, Violation};
pub use error::{ApiError, ErrorCode};
pub use generated::*;
pub use generated_ops::*;
pub use value::{Key, Timestamp, Value};

/// Who is calling and where: the verified account and the region from the signature's scope.
///
/// Every operation receives it explicitly; there is no ambient "current account".
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    pub account_id: String,
    pub region: String,
    pub request_id: String,
}
