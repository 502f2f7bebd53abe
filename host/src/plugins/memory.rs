//! What plugin instances may allocate: each instance's linear memories and tables together
//! are capped by its plugin's `memory_mib`, and all instances of all plugins together by the
//! server-wide `plugin_memory_mib`. An instance's share is returned when its store is dropped.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use wasmtime::ResourceLimiter;

/// Bytes a table element is counted as (a function reference and its metadata).
const TABLE_ELEMENT_BYTES: usize = 16;

/// Linear memories, tables and instances one store may create, whatever the component declares.
const MAX_MEMORIES: usize = 64;
const MAX_TABLES: usize = 256;
const MAX_INSTANCES: usize = 256;

/// The server-wide budget shared by every instance.
#[derive(Debug)]
pub(super) struct MemoryPool {
    limit: usize,
    used: AtomicUsize,
}

impl MemoryPool {
    pub(super) fn new(limit: usize) -> Arc<MemoryPool> {
        Arc::new(MemoryPool {
            limit,
            used: AtomicUsize::new(0),
        })
    }

    fn reserve(&self, bytes: usize) -> bool {
        self.used
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |used| {
                used.checked_add(bytes).filter(|&total| total <= self.limit)
            })
            .is_ok()
    }

    fn release(&self, bytes: usize) {
        self.used.fetch_sub(bytes, Ordering::AcqRel);
    }

    /// Bytes held by live instances now.
    #[cfg(test)]
    fn used(&self) -> usize {
        self.used.load(Ordering::Acquire)
    }
}

/// Why a growth was refused, for the fault message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Refusal {
    /// The instance's own cap (`memory_mib`).
    Instance,
    /// The server-wide budget (`plugin_memory_mib`).
    Server,
}

/// One store's limiter: counts every memory and table the instance grows.
#[derive(Debug)]
pub(super) struct Limiter {
    cap: usize,
    held: usize,
    pool: Arc<MemoryPool>,
    pub(super) refused: Option<Refusal>,
}

impl Limiter {
    pub(super) fn new(cap: usize, pool: Arc<MemoryPool>) -> Limiter {
        Limiter {
            cap,
            held: 0,
            pool,
            refused: None,
        }
    }

    /// Takes `more` bytes for this instance, or says which cap refuses them.
    fn grow(&mut self, more: usize) -> wasmtime::Result<bool> {
        let total = self.held.saturating_add(more);
        if total > self.cap {
            self.refused = Some(Refusal::Instance);
            wasmtime::bail!("memory cap of {} MiB reached", self.cap >> 20);
        }
        if !self.pool.reserve(more) {
            self.refused = Some(Refusal::Server);
            wasmtime::bail!("the server's plugin memory budget is exhausted");
        }
        self.held = total;
        Ok(true)
    }
}

impl ResourceLimiter for Limiter {
    fn memory_growing(
        &mut self,
        current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        self.grow(desired.saturating_sub(current))
    }

    fn table_growing(
        &mut self,
        current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        self.grow(
            desired
                .saturating_sub(current)
                .saturating_mul(TABLE_ELEMENT_BYTES),
        )
    }

    fn instances(&self) -> usize {
        MAX_INSTANCES
    }

    fn tables(&self) -> usize {
        MAX_TABLES
    }

    fn memories(&self) -> usize {
        MAX_MEMORIES
    }
}

impl Drop for Limiter {
    fn drop(&mut self) {
        self.pool.release(self.held);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn memories_and_tables_count_together_and_are_returned_on_drop() {
        let pool = MemoryPool::new(100 << 20);
        let mut a = Limiter::new(10 << 20, pool.clone());
        assert!(a.memory_growing(0, 6 << 20, None).unwrap());
        // a second memory of the same instance counts on top of the first
        assert!(a.memory_growing(0, 6 << 20, None).is_err());
        assert_eq!(a.refused, Some(Refusal::Instance));
        assert!(a.table_growing(0, 1000, None).unwrap());
        assert_eq!(pool.used(), (6 << 20) + 16_000);
        drop(a);
        assert_eq!(pool.used(), 0);
    }

    #[test]
    fn the_server_budget_binds_all_instances() {
        let pool = MemoryPool::new(10 << 20);
        let mut a = Limiter::new(8 << 20, pool.clone());
        let mut b = Limiter::new(8 << 20, pool.clone());
        assert!(a.memory_growing(0, 6 << 20, None).unwrap());
        assert!(b.memory_growing(0, 6 << 20, None).is_err());
        assert_eq!(b.refused, Some(Refusal::Server));
        drop(a);
        assert!(b.memory_growing(0, 6 << 20, None).unwrap());
    }
}
