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
use std::task::{Context, Poll, Wake, Waker};

use futures_util::stream::FuturesUnordered;
use futures_util::task::AtomicWaker;
use futures_util::{FutureExt, StreamExt};
use parking_lot::Mutex;

/// How many times one wake-up goes around "streams, then connection" while either has
/// more to do; then the task yields.
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

/// Who wants the connection's task polled, and for what: the connection (h2, when a
/// stream handed it a frame; the socket, when it is readable) or the streams (a reply
/// from a worker). While `Driven::poll` runs a wake only marks its half, and the poll
/// goes around once more for it instead of the task being scheduled again; at other
/// times it also wakes the task.
#[derive(Default)]
struct Wakes {
    /// Set while `Driven::poll` runs.
    polling: AtomicBool,
    /// The task's own waker, registered at each poll.
    task: AtomicWaker,
}

/// One half's waker (see `Wakes`).
struct Half {
    wakes: Arc<Wakes>,
    dirty: AtomicBool,
}

impl Half {
    fn new(wakes: &Arc<Wakes>, dirty: bool) -> Arc<Self> {
        Arc::new(Half {
            wakes: wakes.clone(),
            dirty: AtomicBool::new(dirty),
        })
    }

    /// Whether this half was woken since the last look; clears the mark.
    fn take(&self) -> bool {
        self.dirty.load(Ordering::SeqCst) && self.dirty.swap(false, Ordering::SeqCst)
    }
}

impl Wake for Half {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        // SeqCst with the end of `Driven::poll`: either the poll sees the mark, or this
        // sees that no poll runs and wakes the task.
        self.dirty.store(true, Ordering::SeqCst);
        if !self.wakes.polling.load(Ordering::SeqCst) {
            self.wakes.task.wake();
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
    wakes: Arc<Wakes>,
    /// The waker the connection is polled with, and its mark.
    conn_half: Arc<Half>,
    conn_waker: Waker,
    /// The waker the stream set is polled with, and its mark.
    streams_half: Arc<Half>,
    streams_waker: Waker,
}

impl<C: Future> Driven<C> {
    /// `conn` must have been built with `exec` as its executor.
    pub fn new(conn: C, exec: InConnection) -> Self {
        let wakes = Arc::new(Wakes::default());
        // The connection is polled first of all: it has the client's preface to read.
        let conn_half = Half::new(&wakes, true);
        let streams_half = Half::new(&wakes, false);
        Driven {
            conn: Box::pin(conn),
            exec,
            streams: FuturesUnordered::new(),
            adopted: Vec::new(),
            conn_waker: Waker::from(conn_half.clone()),
            conn_half,
            streams_waker: Waker::from(streams_half.clone()),
            streams_half,
            wakes,
        }
    }

    /// The connection itself (for `graceful_shutdown`).
    pub fn conn(&mut self) -> Pin<&mut C> {
        // Whoever shuts it down polls it next: make sure that poll reaches it.
        self.conn_half.dirty.store(true, Ordering::SeqCst);
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

    /// Polls the streams that were woken (and the new ones).
    fn poll_streams(&mut self) {
        let mut cx = Context::from_waker(&self.streams_waker);
        // `FuturesUnordered` yields by itself (waking its waker) after a round of polls.
        while let Poll::Ready(Some(())) = self.streams.poll_next_unpin(&mut cx) {}
    }
}

impl<C: Future> Future for Driven<C> {
    type Output = C::Output;

    /// Streams first (those a reply woke: what they hand to h2 is flushed by the
    /// connection's poll that follows), then the connection if anything woke it (h2, for
    /// frames to write; the socket), then the streams it accepted; around again while
    /// either half was woken meanwhile. A reply that wakes only its stream costs one poll
    /// of the connection (the flush), not a poll before the streams and another one for
    /// h2's own wake-up after them.
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<C::Output> {
        let this = self.get_mut();
        this.wakes.task.register(cx.waker());
        this.wakes.polling.store(true, Ordering::SeqCst);
        this.exec.inbox.polling.store(true, Ordering::Release);
        this.exec.inbox.waker.register(cx.waker());
        let mut rounds = 0;
        let mut adopted = this.adopt();
        let outcome = loop {
            if adopted > 0 || this.streams_half.take() {
                this.poll_streams();
            }
            if this.conn_half.take() {
                let mut conn_cx = Context::from_waker(&this.conn_waker);
                if let Poll::Ready(out) = this.conn.as_mut().poll(&mut conn_cx) {
                    break Poll::Ready(out);
                }
            }
            adopted = this.adopt();
            rounds += 1;
            let again = adopted > 0
                || this.streams_half.dirty.load(Ordering::SeqCst)
                || this.conn_half.dirty.load(Ordering::SeqCst);
            if !again {
                break Poll::Pending;
            }
            if rounds == MAX_ROUNDS {
                // Adopted streams wait in the set, unpolled: mark them due.
                if adopted > 0 {
                    this.streams_half.dirty.store(true, Ordering::SeqCst);
                }
                break Poll::Pending;
            }
        };
        this.exec.inbox.polling.store(false, Ordering::Release);
        this.wakes.polling.store(false, Ordering::SeqCst);
        if outcome.is_pending()
            && (this.streams_half.dirty.load(Ordering::SeqCst)
                || this.conn_half.dirty.load(Ordering::SeqCst)
                || !this.exec.inbox.tasks.lock().is_empty())
        {
            // Woken after the last look (or more rounds were due): poll again.
            if !this.exec.inbox.tasks.lock().is_empty() {
                this.streams_half.dirty.store(true, Ordering::SeqCst);
            }
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

    /// A "connection" that starts `n` streams on its first poll, each finishing at once
    /// and waking the connection (as a stream that hands h2 its response does), then
    /// completes once they have all run.
    struct FakeConn {
        exec: InConnection,
        started: bool,
        n: usize,
        done: Arc<AtomicUsize>,
    }

    impl Future for FakeConn {
        type Output = usize;

        fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<usize> {
            if !self.started {
                self.started = true;
                for _ in 0..self.n {
                    let done = self.done.clone();
                    let conn = cx.waker().clone();
                    self.exec.execute(async move {
                        done.fetch_add(1, Ordering::SeqCst);
                        conn.wake();
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

    /// Counts its polls; never finishes.
    struct CountingConn(Arc<AtomicUsize>);

    impl Future for CountingConn {
        type Output = ();

        fn poll(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<()> {
            self.0.fetch_add(1, Ordering::SeqCst);
            Poll::Pending
        }
    }

    #[tokio::test]
    async fn a_stream_woken_alone_does_not_poll_the_connection() {
        let exec = InConnection::default();
        let polls = Arc::new(AtomicUsize::new(0));
        let mut driven = Driven::new(CountingConn(polls.clone()), exec.clone());
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let answered = Arc::new(AtomicUsize::new(0));
        let a = answered.clone();
        exec.execute(async move {
            let _ = rx.await;
            a.fetch_add(1, Ordering::SeqCst);
        });
        assert!(poll_once(&mut driven).await.is_pending());
        assert_eq!(
            polls.load(Ordering::SeqCst),
            1,
            "the first poll reads the connection"
        );
        tx.send(()).unwrap();
        assert!(poll_once(&mut driven).await.is_pending());
        assert_eq!(answered.load(Ordering::SeqCst), 1, "the stream ran");
        assert_eq!(
            polls.load(Ordering::SeqCst),
            1,
            "nothing woke the connection"
        );
        driven.conn();
        assert!(poll_once(&mut driven).await.is_pending());
        assert_eq!(polls.load(Ordering::SeqCst), 2, "a shutdown reaches it");
    }
}
