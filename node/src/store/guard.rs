//! Runs one evaluation on its own thread within the node's limits, so that the caller gets its
//! answer or its refusal when the limit passes, whatever the engine is doing.
//!
//! Why a thread of its own: Oxigraph checks its cancellation token only when it reads from the
//! store, and a hash join that is building its table drains the whole build side even after
//! cancellation, turning each remaining row into an error (spareval 0.2.9, `eval.rs`, the
//! `errors.push` in the join builders). A cancelled query can therefore keep working for many
//! seconds. The caller no longer waits for that: it returns at the limit, and the abandoned
//! evaluation finishes draining in the background while holding one of a fixed number of
//! evaluation slots, so runaway queries cannot pile up and starve the machine.
//!
//! Memory: the engine has no memory limit. The waiting caller samples the process's resident
//! memory and cancels its query when it has grown by more than the configured amount since the
//! query started. The measure is process-wide, so with several queries running, the one that
//! notices first is cancelled; that is the price of not being able to attribute allocations.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use oxigraph::sparql::CancellationToken;

use super::workers::Workers;
use super::QueryError;

/// How often the waiting caller looks at the clock and the memory.
const SAMPLE_EVERY: Duration = Duration::from_millis(20);

/// The node-wide limits on evaluations, shared by every query on one store.
#[derive(Debug, Clone)]
pub struct EvaluationGuard {
    slots: Arc<Slots>,
    /// Threads that ran an evaluation and wait for the next (`workers.rs`).
    workers: Arc<Workers>,
    max_memory_growth: Option<u64>,
}

impl Default for EvaluationGuard {
    /// As many concurrent evaluations as the machine has cores (at least two), and a memory
    /// growth limit of 2 GiB per query.
    fn default() -> Self {
        Self::new(default_concurrency(), Some(2048))
    }
}

/// One evaluation per core, at least two.
fn default_concurrency() -> usize {
    std::thread::available_parallelism().map_or(2, |n| n.get().max(2))
}

impl EvaluationGuard {
    /// At most `concurrent` evaluations at once (running or draining after cancellation); each
    /// cancelled when the process has grown by more than `max_memory_growth_mb` since it began.
    pub fn new(concurrent: usize, max_memory_growth_mb: Option<u64>) -> Self {
        Self {
            slots: Arc::new(Slots {
                free: Mutex::new(concurrent.max(1)),
                freed: Condvar::new(),
            }),
            workers: Workers::new(concurrent.max(1)),
            max_memory_growth: max_memory_growth_mb.map(|mb| mb.saturating_mul(1 << 20)),
        }
    }

    /// Runs `evaluation` on a thread of its own (one kept from an earlier evaluation when one
    /// is idle) and waits until it ends, `timeout` passes, or the
    /// memory limit is crossed; in the last two cases the engine is told to stop through the
    /// token and the caller is answered at once.
    pub fn run<T: Send + 'static>(
        &self,
        timeout: Duration,
        evaluation: impl FnOnce(CancellationToken) -> Result<T, QueryError> + Send + 'static,
    ) -> Result<T, QueryError> {
        let deadline = Instant::now() + timeout;
        let slot = self
            .slots
            .acquire(deadline)
            .ok_or(QueryError::Busy(timeout))?;
        let token = CancellationToken::new();
        let stopped = Arc::new(AtomicBool::new(false));
        let (done, wait) = mpsc::sync_channel(1);
        let (thread_token, thread_stopped) = (token.clone(), Arc::clone(&stopped));
        self.workers
            .execute(Box::new(move || {
                let result = evaluation(thread_token);
                drop(slot);
                // A cancelled evaluation's own error is replaced by the caller's reason.
                if !thread_stopped.load(Ordering::SeqCst) {
                    let _ = done.send(result);
                }
            }))
            .map_err(|e| QueryError::Evaluation(format!("cannot start a query thread: {e}")))?;
        let baseline = resident_bytes();
        loop {
            match wait.recv_timeout(SAMPLE_EVERY) {
                Ok(result) => return result,
                Err(mpsc::RecvTimeoutError::Disconnected) => {
                    return Err(QueryError::Evaluation("the query thread ended".into()))
                }
                Err(mpsc::RecvTimeoutError::Timeout) => {}
            }
            let refusal = if Instant::now() >= deadline {
                Some(QueryError::Timeout(timeout))
            } else {
                self.memory_exceeded(baseline)
            };
            if let Some(refusal) = refusal {
                stopped.store(true, Ordering::SeqCst);
                token.cancel();
                return Err(refusal);
            }
        }
    }

    fn memory_exceeded(&self, baseline: Option<u64>) -> Option<QueryError> {
        let (limit, before, now) = (self.max_memory_growth?, baseline?, resident_bytes()?);
        (now.saturating_sub(before) > limit).then(|| QueryError::MemoryLimit(limit >> 20))
    }
}

impl From<&crate::config::StoreConfig> for EvaluationGuard {
    fn from(config: &crate::config::StoreConfig) -> Self {
        let concurrent = match config.max_concurrent_queries {
            0 => default_concurrency(),
            n => n,
        };
        let memory = (config.max_query_memory_mb > 0).then_some(config.max_query_memory_mb);
        Self::new(concurrent, memory)
    }
}

/// A counting semaphore of evaluation slots.
#[derive(Debug)]
struct Slots {
    free: Mutex<usize>,
    freed: Condvar,
}

/// One taken slot, given back when dropped (by the evaluation thread, when it really ends).
struct Slot(Arc<Slots>);

impl Slots {
    fn acquire(self: &Arc<Self>, deadline: Instant) -> Option<Slot> {
        let mut free = self.free.lock().unwrap_or_else(|e| e.into_inner());
        while *free == 0 {
            let left = deadline.checked_duration_since(Instant::now())?;
            free = self
                .freed
                .wait_timeout(free, left)
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
        *free -= 1;
        Some(Slot(Arc::clone(self)))
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut free = self.0.free.lock().unwrap_or_else(|e| e.into_inner());
        *free += 1;
        self.0.freed.notify_one();
    }
}

/// The process's resident set size, from `VmRSS` in `/proc/self/status` (Linux); `None`
/// elsewhere, which turns the memory limit off.
fn resident_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_runaway_evaluation_is_answered_at_its_limit_and_keeps_its_slot_until_it_ends() {
        let guard = EvaluationGuard::new(1, None);
        let (release, hold) = mpsc::channel::<()>();
        let result = guard.run(Duration::from_millis(50), move |token| {
            // Ignores the token, like a join draining its build side, until told to end.
            let _ = hold.recv();
            Ok(token.is_cancelled())
        });
        assert!(matches!(result, Err(QueryError::Timeout(_))));
        // The only slot is still held by the abandoned evaluation.
        let busy = guard.run(Duration::from_millis(50), |_| Ok(()));
        assert!(matches!(busy, Err(QueryError::Busy(_))));
        release.send(()).unwrap();
        let after = guard.run(Duration::from_secs(5), |_| Ok(7));
        assert_eq!(after.unwrap(), 7);
    }

    #[test]
    fn the_token_is_cancelled_when_the_limit_passes() {
        let guard = EvaluationGuard::new(2, None);
        let (seen, observed) = mpsc::channel();
        let result = guard.run(Duration::from_millis(30), move |token| {
            while !token.is_cancelled() {
                std::thread::sleep(Duration::from_millis(5));
            }
            let _ = seen.send(true);
            Ok(())
        });
        assert!(matches!(result, Err(QueryError::Timeout(_))));
        assert!(observed.recv_timeout(Duration::from_secs(5)).unwrap());
    }

    #[test]
    fn an_evaluation_that_grows_the_process_beyond_the_limit_is_cancelled() {
        let guard = EvaluationGuard::new(2, Some(64));
        let result = guard.run(Duration::from_secs(60), |token| {
            let mut hoard: Vec<Vec<u8>> = Vec::new();
            while !token.is_cancelled() && hoard.len() < 64 {
                // Touch every page so it is resident.
                hoard.push(vec![1u8; 8 << 20]);
                std::thread::sleep(Duration::from_millis(5));
            }
            Ok(hoard.len())
        });
        assert!(
            matches!(result, Err(QueryError::MemoryLimit(64))),
            "{result:?}"
        );
    }

    #[test]
    fn errors_and_answers_of_the_evaluation_reach_the_caller() {
        let guard = EvaluationGuard::default();
        let failed: Result<(), _> =
            guard.run(Duration::from_secs(5), |_| Err(QueryError::TooManyRows(3)));
        assert!(matches!(failed, Err(QueryError::TooManyRows(3))));
        assert_eq!(guard.run(Duration::from_secs(5), |_| Ok("x")).unwrap(), "x");
    }
}
