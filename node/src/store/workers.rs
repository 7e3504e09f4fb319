//! Evaluation threads kept for the next evaluation.
//!
//! Why: starting a thread and ending it costs 0.08-0.15 ms on the machines the node is measured
//! on, as much as the engine needs for a small question (the official NZa kostenonderzoek 11.1
//! or Zorgkantoren 17.2.1 answer in under a millisecond in all). A thread that finished an
//! evaluation waits for the next one instead; at most as many wait as there are evaluation
//! slots, the rest end.

use std::sync::{mpsc, Arc, Mutex};

/// One evaluation, run on a worker thread.
pub(super) type Job = Box<dyn FnOnce() + Send + 'static>;

/// The idle worker threads of one [`EvaluationGuard`](super::EvaluationGuard), each waiting on
/// its own channel.
#[derive(Debug)]
pub(super) struct Workers {
    idle: Mutex<Vec<mpsc::Sender<Job>>>,
    /// How many idle threads are kept.
    keep: usize,
}

impl Workers {
    /// Keeps at most `keep` idle threads.
    pub(super) fn new(keep: usize) -> Arc<Self> {
        Arc::new(Self {
            idle: Mutex::new(Vec::new()),
            keep,
        })
    }

    /// Runs `job` on an idle thread, or on a new one when none is idle.
    pub(super) fn execute(self: &Arc<Self>, job: Job) -> std::io::Result<()> {
        let mut job = job;
        while let Some(worker) = self.take_idle() {
            // A worker whose evaluation panicked has ended; its channel gives the job back.
            match worker.send(job) {
                Ok(()) => return Ok(()),
                Err(mpsc::SendError(returned)) => job = returned,
            }
        }
        let (sender, receiver) = mpsc::channel::<Job>();
        let workers = Arc::clone(self);
        std::thread::Builder::new()
            .name("kikv-query".into())
            .spawn(move || {
                let mut next = Some(job);
                while let Some(job) = next.take() {
                    job();
                    if !workers.park(&sender) {
                        break;
                    }
                    next = receiver.recv().ok();
                }
            })
            .map(drop)
    }

    fn take_idle(&self) -> Option<mpsc::Sender<Job>> {
        self.idle
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .pop()
    }

    /// Lists a thread whose evaluation ended as idle; `false` when enough are idle already (the
    /// thread then ends).
    fn park(&self, sender: &mpsc::Sender<Job>) -> bool {
        let mut idle = self
            .idle
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if idle.len() >= self.keep {
            return false;
        }
        idle.push(sender.clone());
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_thread_that_finished_runs_the_next_evaluation() {
        let workers = Workers::new(1);
        let (done, finished) = mpsc::channel();
        let first = done.clone();
        workers
            .execute(Box::new(move || {
                first.send(std::thread::current().id()).unwrap();
            }))
            .unwrap();
        let one = finished.recv().unwrap();
        // Parked once its job returned; wait until it is listed.
        while workers.idle.lock().unwrap().is_empty() {
            std::thread::yield_now();
        }
        workers
            .execute(Box::new(move || {
                done.send(std::thread::current().id()).unwrap();
            }))
            .unwrap();
        assert_eq!(finished.recv().unwrap(), one);
    }

    #[test]
    fn a_panicked_evaluation_ends_its_thread_and_the_next_gets_another() {
        let workers = Workers::new(2);
        workers
            .execute(Box::new(|| panic!("an evaluation that panics")))
            .unwrap();
        let (done, finished) = mpsc::channel();
        workers
            .execute(Box::new(move || done.send(7).unwrap()))
            .unwrap();
        assert_eq!(finished.recv().unwrap(), 7);
    }

    #[test]
    fn no_more_threads_wait_than_kept() {
        let workers = Workers::new(1);
        let (started, running) = mpsc::channel();
        let (returned, ended) = mpsc::channel();
        let (release, hold) = mpsc::channel::<()>();
        let hold = Arc::new(Mutex::new(hold));
        for _ in 0..3 {
            let (started, returned, hold) = (started.clone(), returned.clone(), Arc::clone(&hold));
            workers
                .execute(Box::new(move || {
                    started.send(()).unwrap();
                    let _ = hold.lock().unwrap().recv();
                    returned.send(()).unwrap();
                }))
                .unwrap();
        }
        // Three threads: none was idle when each job came.
        for _ in 0..3 {
            running.recv().unwrap();
        }
        for _ in 0..3 {
            release.send(()).unwrap();
        }
        for _ in 0..3 {
            ended.recv().unwrap();
        }
        // Each parks right after its job returned.
        std::thread::sleep(std::time::Duration::from_millis(200));
        assert_eq!(workers.idle.lock().unwrap().len(), 1);
    }
}
