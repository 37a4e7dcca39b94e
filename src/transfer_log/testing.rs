//! Backends for tests that need the log to fail on demand (the API's fail-closed tests). Not
//! for production use: a switched-off backend refuses every write.

use std::ops::ControlFlow;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use super::{
    Batch, BodyEntry, Checkpoint, EncodedRow, Entry, LogBackend, LogError, RowError, WrappedKey,
};

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

    fn append(&mut self, batch: &Batch<'_>) -> Result<(), LogError> {
        self.failing()?;
        self.inner.append(batch)
    }

    fn between_batches(&mut self) {
        self.inner.between_batches();
    }

    fn add_checkpoint(&mut self, checkpoint: &Checkpoint) -> Result<(), LogError> {
        self.failing()?;
        self.inner.add_checkpoint(checkpoint)
    }

    fn checkpoints(&mut self) -> Result<Vec<Checkpoint>, LogError> {
        self.inner.checkpoints()
    }

    fn checkpoint_covering(&mut self, from_seq: u64) -> Result<Option<Checkpoint>, LogError> {
        self.inner.checkpoint_covering(from_seq)
    }

    fn latest_checkpoint(&mut self) -> Result<Option<Checkpoint>, LogError> {
        self.inner.latest_checkpoint()
    }

    fn entry_hash_at(&mut self, seq: u64) -> Result<Option<[u8; 32]>, LogError> {
        self.inner.entry_hash_at(seq)
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

    fn body_entries(&mut self, visit: &mut dyn FnMut(BodyEntry<'_>)) -> Result<(), LogError> {
        self.inner.body_entries(visit)
    }
}
