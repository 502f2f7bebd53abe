//! A byte budget for Data API reads made on a plugin's behalf: rows and log text are charged as
//! they arrive from the database, so a read that would return too much stops before its result
//! is built in the host's memory.
//!
//! The budget travels as a task-local value around the read (`Budget::within`); reads outside
//! one (REST, pages) are not charged.

use std::future::Future;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use sqlx::Row as _;

use crate::db::Row;

use super::ApiError;

tokio::task_local! {
    static BUDGET: Budget;
}

/// Bytes a caller may still read; shared by the reads of one plugin call.
#[derive(Debug, Clone)]
pub struct Budget {
    remaining: Arc<AtomicUsize>,
    limit: usize,
}

impl Budget {
    /// A budget of `limit` bytes.
    pub fn new(limit: usize) -> Budget {
        Budget {
            remaining: Arc::new(AtomicUsize::new(limit)),
            limit,
        }
    }

    /// Runs `read` with this budget charged by every row and log chunk it reads.
    pub async fn within<F: Future>(&self, read: F) -> F::Output {
        BUDGET.scope(self.clone(), read).await
    }

    /// Takes `bytes` from the budget, or fails (413) when they are not left.
    pub fn take(&self, bytes: usize) -> Result<(), ApiError> {
        self.remaining
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |left| {
                left.checked_sub(bytes)
            })
            .map(|_| ())
            .map_err(|_| ApiError {
                status: 413,
                message: format!(
                    "data reads of this call would return more than their limit of {} KiB \
                     (data_mib)",
                    self.limit >> 10
                ),
                internal: false,
                argument: None,
            })
    }

    /// Bytes not yet taken.
    pub fn remaining(&self) -> usize {
        self.remaining.load(Ordering::Relaxed)
    }
}

/// Charges `bytes` to the current read's budget, if it has one.
pub(crate) fn charge(bytes: usize) -> Result<(), ApiError> {
    BUDGET
        .try_with(|budget| budget.take(bytes))
        .unwrap_or(Ok(()))
}

/// Charges the size of a database row (its values' bytes, 8 for a number or a null), if the
/// current read has a budget.
pub(crate) fn charge_row(row: &Row) -> Result<(), ApiError> {
    BUDGET
        .try_with(|budget| {
            let size = (0..row.len())
                .map(|i| {
                    let bytes = row
                        .try_get::<Option<&[u8]>, _>(i)
                        .ok()
                        .flatten()
                        .map(<[u8]>::len)
                        .or_else(|| {
                            row.try_get::<Option<&str>, _>(i)
                                .ok()
                                .flatten()
                                .map(str::len)
                        });
                    bytes.unwrap_or(0).max(8)
                })
                .sum();
            budget.take(size)
        })
        .unwrap_or(Ok(()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn reads_are_charged_only_within_a_budget() {
        assert!(charge(usize::MAX).is_ok());
        let budget = Budget::new(100);
        budget
            .within(async {
                charge(60).unwrap();
                let err = charge(60).unwrap_err();
                assert_eq!(err.status, 413);
                charge(40).unwrap();
            })
            .await;
        assert_eq!(budget.remaining(), 0);
    }
}
