//! The error of a run or a decision: a message for people and the CLI exit code it maps
//! to (1 error, 2 usage or unreadable input, 3 refused).

use cutover_store::StoreError;

/// Why a run or a decision stopped, with its exit code.
#[derive(Debug)]
pub struct RunError {
    pub code: u8,
    pub message: String,
}

impl RunError {
    /// Exit 1: something failed.
    pub fn error(message: impl Into<String>) -> Self {
        RunError {
            code: 1,
            message: message.into(),
        }
    }

    /// Exit 2: the request cannot be carried out as given.
    pub fn usage(message: impl Into<String>) -> Self {
        RunError {
            code: 2,
            message: message.into(),
        }
    }
}

impl std::fmt::Display for RunError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for RunError {}

impl From<StoreError> for RunError {
    fn from(e: StoreError) -> Self {
        RunError::error(format!("error: {e}"))
    }
}
