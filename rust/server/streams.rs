//! HTTP/2 streams polled inside their connection's task, instead of one tokio task per
//! stream (hyper's `TokioExecutor`).
//!
//! hyper hands every accepted stream (a future that runs the service, then sends the
//! response) to the connection's executor. A spawned task per stream costs an allocation,
//! a trip through the scheduler, and two cross-task wake-ups per request: the stream task
//! wakes the connection task to flush, and the connection wakes the stream when the client
//! resets it. Here the executor only queues the stream; `Driven` polls the connection and
//! its streams together, so a response that a stream hands to h2 is flushed in the same
//! wake-up, and the responses of all streams that became ready meanwhile go out in one
//! write (h2 buffers frames, the socket sees one `writev`; over TLS, one record).
//!
//! A stream that panics is caught here (`catch_unwind`), as tokio would catch it in a task
//! of its own: the stream is dropped (h2 resets it), the connection goes on. When the
//! connection ends, the streams still pending are dropped with it: their requests, if no
//! worker has started them, never reach Python (`service::dispatch` abandons the claim).

use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};

use futures_util::stream::FuturesUnordered;
use futures_util::task::AtomicWaker;
use futures_util::{FutureExt, StreamExt};
use parking_lot::Mutex;

/// How many times one wake-up goes around "connection, then streams" while streams
/// finish (each round flushes what the last one produced); then the task yields.
const MAX_ROUNDS: usize = 4;

type StreamTask = Pin<Box<dyn Future<Output = ()> + Send>>;

/// The executor given to hyper's HTTP/2 builder: it queues each stream for the
/// connection's own task (`Driven`) instead of spawning it.
#[derive(Clone, Default)]
pub struct InConnection {
    inbox: Arc<Inbox>,
}

#[derive(Default)]
struct Inbox {
    tasks: Mutex<Vec<StreamTask>>,
    /// Set while `Driven::poll` runs: it takes the queued streams before it returns,
    /// so a stream queued meanwhile needs no wake-up.
    polling: AtomicBool,
    waker: AtomicWaker,
}

impl<F> hyper::rt::Executor<F> for InConnection
where
    F: Future<Output = ()> + Send + 'static,
{
    fn execute(&self, fut: F) {
        // A panic in one stream ends that stream, not the connection's other streams.
        let task = AssertUnwindSafe(fut).catch_unwind().map(|_| ());
        self.inbox.tasks.lock().push(Box::pin(task));
        if !self.inbox.polling.load(Ordering::Acquire) {
            self.inbox.waker.wake();
        }
    }
}

/// A connection future and the streams it started, polled as one future.
pub struct Driven<C> {
    conn: Pin<Box<C>>,
    exec: InConnection,
    streams: FuturesUnordered<StreamTask>,
    /// Scratch space for moving queued streams out of the inbox's lock.
    adopted: Vec<StreamTask>,
}

impl<C: Future> Driven<C> {
    /// `conn` must have been built with `exec` as its executor.
    pub fn new(conn: C, exec: InConnection) -> Self {
        Driven {
            conn: Box::pin(conn),
            exec,
            streams: FuturesUnordered::new(),
            adopted: Vec::new(),
        }
    }

    /// The connection itself (for `graceful_shutdown`).
    pub fn conn(&mut self) -> Pin<&mut C> {
        self.conn.as_mut()
    }

    /// Streams started and not finished.
    #[cfg(test)]
    pub fn streams(&self) -> usize {
        self.streams.len()
    }

    /// Moves the streams hyper queued into the set polled here; how many there were.
    fn adopt(&mut self) -> usize {
        std::mem::swap(&mut *self.exec.inbox.tasks.lock(), &mut self.adopted);
        let n = self.adopted.len();
        for task in self.adopted.drain(..) {
            self.streams.push(task);
        }
        n
    }

    /// Polls the streams that were woken (and the new ones); how many finished.
    fn poll_streams(&mut self, cx: &mut Context<'_>) -> usize {
        let mut finished = 0;
        // `FuturesUnordered` yields by itself (waking the task) after a round of polls.
        while let Poll::Ready(Some(())) = self.streams.poll_next_unpin(cx) {
            finished += 1;
        }
        finished
    }
}

impl<C: Future> Future for Driven<C> {
    type Output = C::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<C::Output> {
        let this = self.get_mut();
        this.exec.inbox.polling.store(true, Ordering::Release);
        this.exec.inbox.waker.register(cx.waker());
        let mut rounds = 0;
        let outcome = loop {
            // The connection reads frames (accepting streams) and flushes what the
            // streams handed to h2 in the last round.
            if let Poll::Ready(out) = this.conn.as_mut().poll(cx) {
                break Poll::Ready(out);
            }
            this.adopt();
            let finished = this.poll_streams(cx);
            rounds += 1;
            if finished == 0 {
                break Poll::Pending;
            }
            if rounds == MAX_ROUNDS {
                cx.waker().wake_by_ref();
                break Poll::Pending;
            }
        };
        let inbox = &this.exec.inbox;
        inbox.polling.store(false, Ordering::Release);
        if outcome.is_pending() && !inbox.tasks.lock().is_empty() {
            // Queued after the last look (from outside this poll): look again.
            cx.waker().wake_by_ref();
        }
        outcome
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hyper::rt::Executor;
    use std::sync::atomic::AtomicUsize;

    /// A "connection" that starts `n` streams on its first poll, each finishing at once,
    /// then completes once they have all run.
    struct FakeConn {
        exec: InConnection,
        started: bool,
        n: usize,
        done: Arc<AtomicUsize>,
    }

    impl Future for FakeConn {
        type Output = usize;

        fn poll(mut self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<usize> {
            if !self.started {
                self.started = true;
                for _ in 0..self.n {
                    let done = self.done.clone();
                    self.exec.execute(async move {
                        done.fetch_add(1, Ordering::SeqCst);
                    });
                }
                return Poll::Pending;
            }
            let done = self.done.load(Ordering::SeqCst);
            if done == self.n {
                Poll::Ready(done)
            } else {
                Poll::Pending
            }
        }
    }

    async fn poll_once<F: Future + Unpin>(fut: &mut F) -> Poll<F::Output> {
        std::future::poll_fn(|cx| Poll::Ready(Pin::new(&mut *fut).poll(cx))).await
    }

    #[tokio::test]
    async fn streams_run_in_the_connections_task() {
        let exec = InConnection::default();
        let done = Arc::new(AtomicUsize::new(0));
        let conn = FakeConn {
            exec: exec.clone(),
            started: false,
            n: 3,
            done: done.clone(),
        };
        let driven = Driven::new(conn, exec);
        assert_eq!(driven.await, 3);
    }

    #[tokio::test]
    async fn a_panicking_stream_ends_only_itself() {
        let exec = InConnection::default();
        let mut driven = Driven::new(std::future::pending::<()>(), exec.clone());
        exec.execute(async { panic!("a stream fails") });
        let ran = Arc::new(AtomicUsize::new(0));
        let r = ran.clone();
        exec.execute(async move {
            r.fetch_add(1, Ordering::SeqCst);
        });
        assert!(poll_once(&mut driven).await.is_pending());
        assert_eq!(ran.load(Ordering::SeqCst), 1);
        assert_eq!(driven.streams(), 0);
    }

    #[tokio::test]
    async fn pending_streams_are_dropped_with_the_connection() {
        struct Flag(Arc<AtomicBool>);
        impl Drop for Flag {
            fn drop(&mut self) {
                self.0.store(true, Ordering::SeqCst);
            }
        }
        let exec = InConnection::default();
        let mut driven = Driven::new(std::future::pending::<()>(), exec.clone());
        let dropped = Arc::new(AtomicBool::new(false));
        let flag = Flag(dropped.clone());
        exec.execute(async move {
            let _flag = flag;
            std::future::pending::<()>().await;
        });
        assert!(poll_once(&mut driven).await.is_pending());
        assert_eq!(driven.streams(), 1);
        drop(driven);
        assert!(dropped.load(Ordering::SeqCst));
    }
}
