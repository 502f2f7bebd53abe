//! The `gitlab` dialect (not written yet).

use super::change::Changes;
use super::error::HookError;
use super::request::HookRequest;
use crate::config::ChangeHookDialect;

/// `gitlab` with its options.
#[derive(Debug, Clone)]
pub struct Handler;

impl Handler {
    /// The handler for the dialect's options; an error names the bad option.
    pub fn new(_dialect: &ChangeHookDialect) -> Result<Self, String> {
        Ok(Handler)
    }

    /// The checks made before a delivery is forwarded to a linked master.
    pub fn verify(&self, _req: &HookRequest) -> Result<(), HookError> {
        Ok(())
    }

    /// The changes of a delivery.
    pub async fn get_changes(&self, _req: &HookRequest) -> Result<Changes, HookError> {
        Err(HookError::internal("not written yet"))
    }
}
