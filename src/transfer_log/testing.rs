//! Backends for tests that need the log to fail on demand (the API's fail-closed tests). Not
//! for production use: a switched-off backend refuses every write.

use std::ops::ControlFlow;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use super::{EncodedRow, Entry, LogBackend, LogError, RowError, StagedEntry, WrappedKey};

/// Wraps a backend; while `fail_writes` is set, `append` (and `tip`, as a dead database would)
/// fails with `Unavailable` without touching the inner backend.
pub struct SwitchableBackend {
    inner: Box<dyn LogBackend>,
    fail_writes: Arc<AtomicBool>,
}

impl SwitchableBackend {
    /// The wrapper and the switch that controls it (`store(true, ..)` makes writes fail).
    pub fn new(inner: Box<dyn LogBackend>) -> (SwitchableBackend, Arc<AtomicBool>) {
        let fail_writes = Arc::new(AtomicBool::new(false));
        (
            SwitchableBackend {
                inner,
                fail_writes: fail_writes.clone(),
            },
            fail_writes,
        )
    }

    fn failing(&self) -> Result<(), LogError> {
        if self.fail_writes.load(Ordering::SeqCst) {
            Err(LogError::Unavailable(
                "writes switched off by the test backend".into(),
            ))
        } else {
            Ok(())
        }
    }
}

impl LogBackend for SwitchableBackend {
    fn tip(&mut self) -> Result<Option<(u64, [u8; 32])>, LogError> {
        self.failing()?;
        self.inner.tip()
    }

    fn append(
        &mut self,
        new_keys: &[([u8; 32], WrappedKey)],
        entries: &[StagedEntry],
    ) -> Result<(), LogError> {
        self.failing()?;
        self.inner.append(new_keys, entries)
    }

    fn scan(
        &mut self,
        from_seq: u64,
        visit: &mut dyn FnMut(Result<Entry, RowError>) -> ControlFlow<()>,
    ) -> Result<(), LogError> {
        self.inner.scan(from_seq, visit)
    }

    fn scan_encoded(
        &mut self,
        from_seq: u64,
        visit: &mut dyn FnMut(EncodedRow<'_>) -> ControlFlow<()>,
    ) -> Result<(), LogError> {
        self.inner.scan_encoded(from_seq, visit)
    }

    fn query(
        &mut self,
        q: &super::Query,
        visit: &mut dyn FnMut(Entry) -> ControlFlow<()>,
    ) -> Result<(), LogError> {
        self.inner.query(q, visit)
    }

    fn get_transfer(&mut self, transfer_id: uuid::Uuid) -> Result<Vec<Entry>, LogError> {
        self.inner.get_transfer(transfer_id)
    }

    fn subject_key(&mut self, subject: &[u8; 32]) -> Result<Option<WrappedKey>, LogError> {
        self.inner.subject_key(subject)
    }

    fn destroy_subject_key(&mut self, subject: &[u8; 32]) -> Result<bool, LogError> {
        self.inner.destroy_subject_key(subject)
    }
}
