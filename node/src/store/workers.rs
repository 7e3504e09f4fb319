//! Evaluation threads kept for the next evaluation.
//!
//! Why: starting a thread and ending it costs 0.08-0.15 ms on the machines the node is measured
//! on, as much as the engine needs for a small question (the official NZa kostenonderzoek 11.1
//! or Zorgkantoren 17.2.1 answer in under a millisecond in all). A thread that finished an
//! evaluation waits for the next one instead; at most as many wait as there are evaluation
//! slots, the rest end. An idle thread holds only the receiving end of its channel and a weak
//! reference to the list, so it ends when its guard is dropped.

use std::sync::{mpsc, Arc, Mutex, Weak};

/// One evaluation, run on a worker thread.
pub(super) type Job = Box<dyn FnOnce() + Send + 'static>;

/// The idle worker threads of one [`EvaluationGuard`](super::EvaluationGuard), each waiting on
/// a channel of its own whose sending end is listed here.
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
        // A listed thread waits on its channel, so the job is taken; should the thread be gone,
        // the job comes back and goes to the next one.
        while let Some(worker) = self.take_idle() {
            match worker.send(job) {
                Ok(()) => return Ok(()),
                Err(mpsc::SendError(returned)) => job = returned,
            }
        }
        let workers = Arc::downgrade(self);
        std::thread::Builder::new()
            .name("kikv-query".into())
            .spawn(move || {
                let mut next = Some(job);
                while let Some(job) = next.take() {
                    job();
                    next = park(&workers).and_then(|receiver| receiver.recv().ok());
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
}

/// Lists a thread whose evaluation ended as idle and gives it the channel to wait on; `None`
/// when enough are idle already or the guard is gone (the thread then ends).
fn park(workers: &Weak<Workers>) -> Option<mpsc::Receiver<Job>> {
    let workers = workers.upgrade()?;
    let mut idle = workers
        .idle
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    if idle.len() >= workers.keep {
        return None;
    }
    let (sender, receiver) = mpsc::channel();
    idle.push(sender);
    Some(receiver)
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
    fn an_idle_thread_ends_with_its_guard() {
        /// Sends when the thread that holds it ends (thread-local values are dropped then).
        struct OnExit(mpsc::Sender<()>);
        impl Drop for OnExit {
            fn drop(&mut self) {
                let _ = self.0.send(());
            }
        }
        thread_local! {
            static EXIT: std::cell::RefCell<Option<OnExit>> = const { std::cell::RefCell::new(None) };
        }
        let workers = Workers::new(1);
        let (exit, exited) = mpsc::channel();
        workers
            .execute(Box::new(move || {
                EXIT.with(|e| *e.borrow_mut() = Some(OnExit(exit)));
            }))
            .unwrap();
        while workers.idle.lock().unwrap().is_empty() {
            std::thread::yield_now();
        }
        drop(workers);
        exited
            .recv_timeout(std::time::Duration::from_secs(10))
            .expect("the idle thread did not end with its guard");
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
