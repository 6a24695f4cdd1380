//! Faults an operator injects into the stages of long operations (the chaos-testing convention
//! of local AWS emulators): the stage fails in its real code path, with the given code and
//! message, as many times as asked. Nothing else is faked.

use photon_store::FaultRecord;

use crate::{CoreError, Service};

/// The operations and stages that take faults.
pub const STAGES: &[(&str, &[&str])] = &[
    ("CreateUpdatedImage", &["patching", "qualification"]),
    // The Image Assistant's create-image: the snapshot of the builder into the new image.
    ("CreateImage", &["snapshot"]),
];

/// What `add_fault` is asked for.
#[derive(Debug, Clone)]
pub struct NewFault {
    pub operation: String,
    pub stage: String,
    pub error_code: String,
    pub message: String,
    /// Only for this image, the source of an update or the image a builder makes (every
    /// image when `None`).
    pub image: Option<String>,
    pub count: i64,
}

impl Service {
    pub async fn add_fault(&self, f: NewFault) -> Result<FaultRecord, CoreError> {
        let Some((_, stages)) = STAGES.iter().find(|(op, _)| *op == f.operation) else {
            return Err(CoreError::Invalid(format!(
                "faults can be injected into {}; not into '{}'",
                STAGES
                    .iter()
                    .map(|(op, _)| *op)
                    .collect::<Vec<_>>()
                    .join(", "),
                f.operation
            )));
        };
        if !stages.contains(&f.stage.as_str()) {
            return Err(CoreError::Invalid(format!(
                "{} has the stages {}; not '{}'",
                f.operation,
                stages.join(", "),
                f.stage
            )));
        }
        if f.count < 1 {
            return Err(CoreError::Invalid("--count must be 1 or more".into()));
        }
        if f.error_code.trim().is_empty() {
            return Err(CoreError::Invalid("--error-code must not be empty".into()));
        }
        let fault = FaultRecord {
            id: format!("fault-{:016x}", rand::random::<u64>()),
            operation: f.operation,
            stage: f.stage,
            error_code: f.error_code,
            message: f.message,
            image: f.image.unwrap_or_default(),
            remaining: f.count,
            created_at: self.now(),
        };
        self.store.add_fault(&fault).await?;
        Ok(fault)
    }

    pub async fn faults(&self) -> Result<Vec<FaultRecord>, CoreError> {
        Ok(self.store.faults().await?)
    }

    pub async fn clear_faults(&self) -> Result<u64, CoreError> {
        Ok(self.store.clear_faults().await?)
    }
}
