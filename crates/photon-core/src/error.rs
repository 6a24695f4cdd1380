//! The domain's one error type. Each variant maps to exactly one `ErrorCode` in one exhaustive
//! match, so a new variant does not compile until it is mapped.

use photon_store::StoreError;
use photon_types::{ApiError, ErrorCode};

/// What every page shows for an internal error.
pub const INTERNAL_MESSAGE: &str =
    "Photon hit an internal error; try again, and if it persists see the server log";

#[derive(Debug, thiserror::Error)]
pub enum CoreError {
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    AlreadyExists(String),
    #[error("{0}")]
    InUse(String),
    #[error("{0}")]
    NotPermitted(String),
    /// The resource exists but is not in a state that allows the request.
    #[error("{0}")]
    NotAvailable(String),
    #[error("{0}")]
    Incompatible(String),
    #[error("{0}")]
    LimitExceeded(String),
    #[error("{0}")]
    InvalidCombination(String),
    #[error("{0}")]
    ConcurrentModification(String),
    /// A value the model's constraints cannot express (e.g. a forged pagination token).
    #[error("{0}")]
    Invalid(String),
    /// A failure below the domain; its text is logged, never sent.
    #[error("internal: {0}")]
    Internal(String),
}

impl CoreError {
    pub fn code(&self) -> ErrorCode {
        match self {
            CoreError::NotFound(_) => ErrorCode::ResourceNotFoundException,
            CoreError::AlreadyExists(_) => ErrorCode::ResourceAlreadyExistsException,
            CoreError::InUse(_) => ErrorCode::ResourceInUseException,
            CoreError::NotPermitted(_) => ErrorCode::OperationNotPermittedException,
            CoreError::NotAvailable(_) => ErrorCode::ResourceNotAvailableException,
            CoreError::Incompatible(_) => ErrorCode::IncompatibleImageException,
            CoreError::LimitExceeded(_) => ErrorCode::LimitExceededException,
            CoreError::InvalidCombination(_) => ErrorCode::InvalidParameterCombinationException,
            CoreError::ConcurrentModification(_) => ErrorCode::ConcurrentModificationException,
            CoreError::Invalid(_) => ErrorCode::ValidationException,
            CoreError::Internal(_) => ErrorCode::InternalFailure,
        }
    }

    /// The error as the client sees it; internal detail is logged here and replaced.
    pub fn into_api(self, request_id: &str) -> ApiError {
        match self {
            CoreError::Internal(detail) => {
                tracing::error!(request_id, %detail, "internal error");
                ApiError::internal(request_id)
            }
            other => ApiError::new(other.code(), other.to_string()),
        }
    }

    /// The HTTP status on Photon's own pages (the console, the connect pages), where a browser
    /// and a person read the status, so it says what kind of refusal it is; the API answers
    /// with the model's status for the code instead (`ErrorCode::http_status`).
    pub fn page_status(&self) -> u16 {
        match self {
            CoreError::NotFound(_) => 404,
            CoreError::Invalid(_) | CoreError::InvalidCombination(_) => 400,
            CoreError::LimitExceeded(_) => 503,
            CoreError::Internal(_) => 500,
            CoreError::AlreadyExists(_)
            | CoreError::InUse(_)
            | CoreError::NotPermitted(_)
            | CoreError::NotAvailable(_)
            | CoreError::Incompatible(_)
            | CoreError::ConcurrentModification(_) => 403,
        }
    }

    /// What a page may show: the domain's message, or for an internal error a line that says
    /// what to do (the detail is logged here, once, with the surface it happened on).
    pub fn public_message(&self, surface: &'static str) -> String {
        match self {
            CoreError::Internal(detail) => {
                tracing::error!(surface, %detail, "internal error");
                INTERNAL_MESSAGE.to_owned()
            }
            other => other.to_string(),
        }
    }
}

impl From<StoreError> for CoreError {
    fn from(e: StoreError) -> Self {
        // Lower-layer errors are internal by default; callers that expect Conflict or
        // LimitReached match on them before this conversion.
        CoreError::Internal(e.to_string())
    }
}
