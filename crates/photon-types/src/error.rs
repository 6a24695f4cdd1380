//! The one error type every operation returns, and its code.
//!
//! [`ErrorCode`] is generated: the model's error shapes plus the framework errors that AWS
//! services send but the model does not define (validation, serialization, authentication).

pub use crate::generated::ErrorCode;

/// An error as the client will see it: a code (which fixes the `__type` and HTTP status) and a
/// message saying what to fix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    pub code: ErrorCode,
    pub message: String,
}

impl ApiError {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        ApiError {
            code,
            message: message.into(),
        }
    }

    /// An operation of the model that Photon does not implement yet.
    pub fn not_implemented(operation: &str) -> Self {
        ApiError::new(
            ErrorCode::NotImplemented,
            format!(
                "Photon does not implement the AppStream operation {operation} yet; \
                 see docs/compatibility.md for the operations it supports"
            ),
        )
    }

    /// An internal failure; the detail is logged by the caller, never sent.
    pub fn internal(request_id: &str) -> Self {
        ApiError::new(
            ErrorCode::InternalFailure,
            format!(
                "the server hit an internal error; retry the request, and report request id \
                 {request_id} if it persists"
            ),
        )
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.code.name(), self.message)
    }
}

impl std::error::Error for ApiError {}
