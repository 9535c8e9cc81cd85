//! The hand-off between tokio and the Python worker threads: a bounded queue with LIFO
//! wake-up. When no worker is busy, a job goes straight to the most recently idle worker
//! (its caches are warm and the others stay parked). When one is busy, the job waits in a
//! bounded FIFO that the busy worker drains without sleeping: on two cores, waking a second
//! thread only makes them fight for the GIL. Only if the queue stops moving (the busy
//! workers block: I/O, sleep) does `wake_if_stalled` hand the job to an idle worker, so
//! blocking handlers still run `thread_pool` at a time.
//!
//! Nothing is timed per job: one watcher per server (`queued_job`, `expired`,
//! `wake_if_stalled`, driven by `server::service::watch_queue`) looks at the queue every
//! few milliseconds while jobs wait in it, and sleeps while it is empty.
//!
//! Pure Rust and generic over the job, so it is tested without Python.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicU8, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::{Condvar, Mutex};

/// How long an idle worker keeps checking its mailbox before it sleeps. Measured against
/// parking at once (benchmarks/README.md, 2026-12-02 "server per-request CPU"): the yield
/// loop serves 7–13% more WSGI hello requests per second at c=16 and c=50 on a quiet
/// machine, at +1.8 µs CPU per request at c=16 and the same CPU at c=50.
const SPIN_BEFORE_PARK: Duration = Duration::from_micros(50);

/// Why a job was not accepted.
#[derive(Debug, PartialEq, Eq)]
pub enum SubmitError {
    /// The queue holds `capacity` jobs already.
    Full,
    /// The pool is closed (the server is stopping).
    Closed,
}

/// A worker's private mailbox: the submitter drops a job in and wakes only this worker.
struct Mailbox<T> {
    slot: Mutex<MailState<T>>,
    ready: Condvar,
}

enum MailState<T> {
    Empty,
    Job(T),
    Closed,
}

struct State<T> {
    /// Queued jobs with the time they were queued, oldest first.
    queue: VecDeque<(Instant, T)>,
    /// Idle workers, most recently idle last.
    idle: Vec<Arc<Mailbox<T>>>,
    /// Worker handles created; those not in `idle` are busy.
    workers: usize,
    closed: bool,
}

/// A bounded job queue feeding a fixed set of worker threads.
pub struct Pool<T> {
    state: Mutex<State<T>>,
    capacity: usize,
    /// When a worker last took a job (nanoseconds since `epoch`): how we tell a queue that
    /// moves from one whose workers are blocked.
    last_take: AtomicU64,
    epoch: Instant,
    /// Set by the watcher before it waits for a job to be queued (`queued_job`).
    watcher_waiting: AtomicBool,
    /// How `submit` wakes the watcher.
    job_queued: tokio::sync::Notify,
}

/// Where `submit` put the job.
#[derive(Debug, PartialEq, Eq)]
pub enum Submitted {
    /// Handed to an idle worker.
    Handed,
    /// Queued behind a busy worker; see `wake_if_stalled`.
    Queued,
}

/// A worker's handle on the pool; each worker thread owns one.
pub struct Worker<T> {
    mailbox: Arc<Mailbox<T>>,
}

impl<T> Pool<T> {
    pub fn new(capacity: usize) -> Self {
        Pool {
            state: Mutex::new(State {
                queue: VecDeque::new(),
                idle: Vec::new(),
                workers: 0,
                closed: false,
            }),
            capacity,
            last_take: AtomicU64::new(0),
            epoch: Instant::now(),
            watcher_waiting: AtomicBool::new(false),
            job_queued: tokio::sync::Notify::new(),
        }
    }

    fn now(&self) -> u64 {
        self.epoch.elapsed().as_nanos() as u64
    }

    fn took(&self) {
        self.last_take.store(self.now(), Ordering::Relaxed);
    }

    /// A handle for one worker thread.
    pub fn worker(&self) -> Worker<T> {
        self.state.lock().workers += 1;
        Worker {
            mailbox: Arc::new(Mailbox {
                slot: Mutex::new(MailState::Empty),
                ready: Condvar::new(),
            }),
        }
    }

    /// Hands `job` to the most recently idle worker when none is busy, else queues it.
    pub fn submit(&self, job: T) -> Result<Submitted, SubmitError> {
        let mut state = self.state.lock();
        if state.closed {
            return Err(SubmitError::Closed);
        }
        let busy = state.workers - state.idle.len();
        if busy == 0 {
            if let Some(mailbox) = state.idle.pop() {
                drop(state);
                self.took();
                *mailbox.slot.lock() = MailState::Job(job);
                mailbox.ready.notify_one();
                return Ok(Submitted::Handed);
            }
        }
        if state.queue.len() >= self.capacity {
            return Err(SubmitError::Full);
        }
        state.queue.push_back((Instant::now(), job));
        // Read under the lock: the watcher sets the flag before it looks at the queue
        // under the lock, so either it sees this job or this sees the flag.
        if self.watcher_waiting.load(Ordering::Relaxed) {
            self.watcher_waiting.store(false, Ordering::Relaxed);
            drop(state);
            self.job_queued.notify_one();
        }
        Ok(Submitted::Queued)
    }

    /// Resolves when a job is queued (at once if one is). For the one watcher of the
    /// pool: `submit` wakes it only when it waits here.
    pub async fn queued_job(&self) {
        loop {
            {
                let state = self.state.lock();
                if !state.queue.is_empty() {
                    self.watcher_waiting.store(false, Ordering::Relaxed);
                    return;
                }
                self.watcher_waiting.store(true, Ordering::Relaxed);
            }
            self.job_queued.notified().await;
        }
    }

    /// Takes out the queued jobs that have waited `limit` or longer, oldest first.
    pub fn expired(&self, limit: Duration) -> Vec<T> {
        let now = Instant::now();
        let mut state = self.state.lock();
        let mut out = Vec::new();
        while let Some((queued_at, _)) = state.queue.front() {
            if now.duration_since(*queued_at) < limit {
                break;
            }
            if let Some((_, job)) = state.queue.pop_front() {
                out.push(job);
            }
        }
        out
    }

    /// If no worker has taken a job for `patience` while jobs wait, hands the oldest to
    /// an idle worker (the busy ones are blocked). Returns whether it did.
    pub fn wake_if_stalled(&self, patience: Duration) -> bool {
        let since = self
            .now()
            .saturating_sub(self.last_take.load(Ordering::Relaxed));
        if since < patience.as_nanos() as u64 {
            return false;
        }
        let mut state = self.state.lock();
        if state.queue.is_empty() || state.idle.is_empty() {
            return false;
        }
        let (Some(mailbox), Some((_, job))) = (state.idle.pop(), state.queue.pop_front()) else {
            return false;
        };
        drop(state);
        self.took();
        *mailbox.slot.lock() = MailState::Job(job);
        mailbox.ready.notify_one();
        true
    }

    /// The next queued job, without waiting.
    pub fn try_next(&self) -> Option<T> {
        let job = self.state.lock().queue.pop_front();
        if job.is_some() {
            self.took();
        }
        job.map(|(_, job)| job)
    }

    /// The next job for `worker`, waiting (parked) until one arrives; `None` once the
    /// pool is closed and the queue is drained.
    pub fn next(&self, worker: &Worker<T>) -> Option<T> {
        {
            let mut state = self.state.lock();
            if let Some((_, job)) = state.queue.pop_front() {
                drop(state);
                self.took();
                return Some(job);
            }
            if state.closed {
                return None;
            }
            *worker.mailbox.slot.lock() = MailState::Empty;
            state.idle.push(worker.mailbox.clone());
        }
        let mut slot = worker.mailbox.slot.lock();
        // Under load the next request is usually microseconds away: yield for a moment
        // before sleeping, so neither side pays a futex wake-up and a context switch.
        let spin_until = Instant::now() + SPIN_BEFORE_PARK;
        loop {
            match std::mem::replace(&mut *slot, MailState::Empty) {
                MailState::Job(job) => return Some(job),
                MailState::Closed => return None,
                MailState::Empty if Instant::now() < spin_until => {
                    parking_lot::MutexGuard::unlocked(&mut slot, std::thread::yield_now);
                }
                MailState::Empty => worker.mailbox.ready.wait(&mut slot),
            }
        }
    }

    /// Refuses new jobs and wakes every idle worker so that it can exit; queued jobs are
    /// still handed out by `next`.
    pub fn close(&self) {
        let idle = {
            let mut state = self.state.lock();
            state.closed = true;
            std::mem::take(&mut state.idle)
        };
        for mailbox in idle {
            *mailbox.slot.lock() = MailState::Closed;
            mailbox.ready.notify_one();
        }
    }

    /// Jobs waiting for a worker.
    pub fn queued(&self) -> usize {
        self.state.lock().queue.len()
    }
}

/// The claim on a queued job, shared by the submitter (which may give up waiting) and the
/// worker (which may start it): exactly one of them wins.
#[derive(Debug, Default)]
pub struct Claim(AtomicU8);

const QUEUED: u8 = 0;
const RUNNING: u8 = 1;
const ABANDONED: u8 = 2;

impl Claim {
    pub fn new() -> Arc<Self> {
        Arc::new(Claim(AtomicU8::new(QUEUED)))
    }

    /// The worker takes the job; false if the submitter abandoned it first.
    pub fn start(&self) -> bool {
        self.0
            .compare_exchange(QUEUED, RUNNING, Ordering::AcqRel, Ordering::Acquire)
            .is_ok()
    }

    /// The submitter gives up; false if a worker already started the job.
    pub fn abandon(&self) -> bool {
        self.0
            .compare_exchange(QUEUED, ABANDONED, Ordering::AcqRel, Ordering::Acquire)
            .is_ok()
    }

    /// Whether the submitter gave the job up before a worker started it.
    pub fn abandoned(&self) -> bool {
        self.0.load(Ordering::Acquire) == ABANDONED
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::mpsc;
    use std::thread;
    use std::time::Duration;

    #[test]
    fn queue_is_bounded_when_no_worker_is_idle() {
        let pool: Pool<u32> = Pool::new(2);
        assert_eq!(pool.submit(1), Ok(Submitted::Queued));
        assert_eq!(pool.submit(2), Ok(Submitted::Queued));
        assert_eq!(pool.submit(3), Err(SubmitError::Full));
        assert_eq!(pool.try_next(), Some(1));
        assert_eq!(pool.queued(), 1);
    }

    #[test]
    fn most_recently_idle_worker_gets_the_job() {
        let pool: Arc<Pool<u32>> = Arc::new(Pool::new(8));
        let (tx, rx) = mpsc::channel();
        let mut handles = Vec::new();
        for id in 0..2u32 {
            let shared = pool.clone();
            let tx = tx.clone();
            handles.push(thread::spawn(move || {
                let worker = shared.worker();
                while let Some(job) = shared.next(&worker) {
                    tx.send((id, job)).unwrap();
                }
            }));
            // Let worker `id` park before the next one starts, so the order is known.
            while pool.state.lock().idle.len() < (id + 1) as usize {
                thread::sleep(Duration::from_millis(1));
            }
        }
        pool.submit(7).unwrap();
        let (id, job) = rx.recv_timeout(Duration::from_secs(5)).unwrap();
        assert_eq!(
            (id, job),
            (1, 7),
            "the last worker to go idle is woken first"
        );
        pool.close();
        for h in handles {
            h.join().unwrap();
        }
    }

    #[test]
    fn close_wakes_idle_workers_and_refuses_jobs() {
        let pool: Arc<Pool<u32>> = Arc::new(Pool::new(8));
        let p = pool.clone();
        let h = thread::spawn(move || {
            let w = p.worker();
            p.next(&w)
        });
        while pool.state.lock().idle.is_empty() {
            thread::sleep(Duration::from_millis(1));
        }
        pool.close();
        assert_eq!(h.join().unwrap(), None);
        assert_eq!(pool.submit(1), Err(SubmitError::Closed));
    }

    #[test]
    fn queued_jobs_are_drained_after_close() {
        let pool: Pool<u32> = Pool::new(8);
        pool.submit(1).unwrap();
        pool.close();
        let w = pool.worker();
        assert_eq!(pool.next(&w), Some(1));
        assert_eq!(pool.next(&w), None);
    }

    #[test]
    fn a_busy_worker_keeps_the_queue_until_it_stalls() {
        let pool: Pool<u32> = Pool::new(8);
        let busy = pool.worker();
        let idle = Arc::new(pool.worker());
        // `idle` parks; `busy` never asks for work, as if blocked in a handler.
        let p = Arc::new(pool);
        let (pool2, idle2) = (p.clone(), idle.clone());
        let h = thread::spawn(move || pool2.next(&idle2));
        while p.state.lock().idle.is_empty() {
            thread::sleep(Duration::from_millis(1));
        }
        assert_eq!(
            p.submit(5),
            Ok(Submitted::Queued),
            "one worker is busy: queue"
        );
        p.took();
        assert!(
            !p.wake_if_stalled(Duration::from_secs(60)),
            "the queue moved recently"
        );
        assert!(
            p.wake_if_stalled(Duration::ZERO),
            "stalled: hand it to the idle worker"
        );
        assert_eq!(h.join().unwrap(), Some(5));
        drop(busy);
    }

    #[test]
    fn jobs_that_waited_too_long_are_taken_out_oldest_first() {
        let pool: Pool<u32> = Pool::new(8);
        pool.submit(1).unwrap();
        pool.submit(2).unwrap();
        assert!(pool.expired(Duration::from_secs(60)).is_empty());
        assert_eq!(pool.expired(Duration::ZERO), vec![1, 2]);
        assert_eq!(pool.queued(), 0);
    }

    #[tokio::test]
    async fn the_watcher_is_woken_by_a_queued_job() {
        let pool: Arc<Pool<u32>> = Arc::new(Pool::new(8));
        let watcher = tokio::spawn({
            let pool = pool.clone();
            async move { pool.queued_job().await }
        });
        while !pool.watcher_waiting.load(Ordering::Relaxed) {
            tokio::task::yield_now().await;
        }
        assert_eq!(pool.submit(1), Ok(Submitted::Queued));
        tokio::time::timeout(Duration::from_secs(5), watcher)
            .await
            .unwrap()
            .unwrap();
        // A queued job: no wait.
        pool.queued_job().await;
    }

    #[test]
    fn claim_has_one_winner() {
        let c = Claim::new();
        assert!(c.start());
        assert!(!c.abandon());
        let c = Claim::new();
        assert!(c.abandon());
        assert!(!c.start());
        assert!(c.abandoned());
    }
}
