//! How a delivery is refused, as Buildbot's change hook answers: a `ValueError` is a 400 whose
//! message is both the reason phrase and the body; anything else is a 500
//! `Error processing changes.` whose cause goes to the server's log only.

/// A refused delivery.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HookError {
    /// Buildbot's `ValueError`: `400 <message>`, the message shown to the caller.
    BadRequest(String),
    /// Any other failure: `500 Error processing changes.`; the text is for the log only.
    Internal(String),
}

impl HookError {
    /// A 400 with this message.
    pub fn bad(message: impl Into<String>) -> Self {
        HookError::BadRequest(message.into())
    }

    /// A 500; `cause` is logged, never sent.
    pub fn internal(cause: impl std::fmt::Display) -> Self {
        HookError::Internal(cause.to_string())
    }
}

impl std::fmt::Display for HookError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            HookError::BadRequest(message) => f.write_str(message),
            HookError::Internal(cause) => write!(f, "Error processing changes. ({cause})"),
        }
    }
}

impl std::error::Error for HookError {}
