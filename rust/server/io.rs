//! The byte stream under hyper, one wrapper per connection (`ConnIo`): the bytes read
//! ahead first, reads and writes reported to the connection's observer (`Observe`:
//! parking for HTTP/1 in `idle.rs`, `Activity` for HTTP/2's idle and stall timeouts),
//! and the send timeout: a write (or flush) that makes no progress for
//! `server.socket_timeout` fails, so a client that stops reading loses its connection and
//! frees what the response held (its body, and the Python worker feeding a stream).
//! One layer, not three stacked ones: each read and write pays one delegation.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::time::{Instant, Sleep};

/// What a connection's byte stream reports about itself: bytes read, writes started and
/// made, flushes done. The HTTP/1 side (`idle::IdleWatch`) also holds back what hyper
/// writes when no response is owed.
pub trait Observe {
    /// A read finished with `n` bytes (0 at the end of the stream, or on an error).
    fn read_done(&self, n: usize);
    /// A write is about to be attempted.
    fn write_started(&self) {}
    /// A write made progress.
    fn wrote(&self) {}
    /// Everything written has reached the socket.
    fn flushed(&self) {}
    /// Whether writes are to be kept instead of sent (see `ConnIo::held`).
    fn holds_writes(&self) -> bool {
        false
    }
}

/// The one wrapper between hyper and a connection's socket (or TLS stream): bytes read
/// ahead (a previous round's, or those read to choose the protocol) come first; reads and
/// writes are reported to the observer (`W`: parking for HTTP/1, activity for HTTP/2);
/// what hyper writes while the observer holds writes is kept (`into_held`); and a write,
/// flush or shutdown that makes no progress for the send timeout fails with `TimedOut`,
/// so a client that stops reading loses its connection and frees what the response held
/// (its body, and the Python worker feeding a stream). Reads have no deadline here:
/// `conn.rs` bounds the request head, `service` the body reads.
pub struct ConnIo<I, W> {
    prefix: Bytes,
    inner: I,
    observer: Arc<W>,
    held: Vec<u8>,
    send_timeout: Option<Duration>,
    /// Armed when a write or flush first returns `Pending`; cleared by any progress.
    stalled: Option<Pin<Box<Sleep>>>,
    /// Called once when the send deadline passes (a debug log line naming the client).
    on_timeout: Option<Box<dyn FnOnce() + Send>>,
}

impl<I, W: Observe> ConnIo<I, W> {
    /// `inner` after `prefix`, observed by `observer`, without a send timeout.
    pub fn new(prefix: Bytes, inner: I, observer: Arc<W>) -> Self {
        ConnIo {
            prefix,
            inner,
            observer,
            held: Vec::new(),
            send_timeout: None,
            stalled: None,
            on_timeout: None,
        }
    }

    /// Writes (and flushes) that make no progress for `timeout` fail; `on_timeout` is
    /// called once when that happens.
    pub fn with_send_timeout(
        mut self,
        timeout: Duration,
        on_timeout: Box<dyn FnOnce() + Send>,
    ) -> Self {
        self.send_timeout = Some(timeout);
        self.on_timeout = Some(on_timeout);
        self
    }

    /// The bytes of the prefix not read yet, and the stream.
    pub fn into_parts(self) -> (Bytes, I) {
        (self.prefix, self.inner)
    }

    /// What hyper wrote while writes were held (empty almost always), and the stream.
    pub fn into_held(self) -> (Vec<u8>, I) {
        (self.held, self.inner)
    }

    /// After the inner stream answered a write, flush or shutdown: progress clears the
    /// send deadline, `Pending` arms it (once) and turns into an error once it has passed.
    fn deadline<R>(
        &mut self,
        cx: &mut Context<'_>,
        poll: Poll<io::Result<R>>,
    ) -> Poll<io::Result<R>> {
        if poll.is_ready() {
            self.stalled = None;
            return poll;
        }
        let Some(timeout) = self.send_timeout else {
            return poll;
        };
        let sleep = self
            .stalled
            .get_or_insert_with(|| Box::pin(tokio::time::sleep(timeout)));
        if sleep.as_mut().poll(cx).is_pending() {
            return Poll::Pending;
        }
        if let Some(report) = self.on_timeout.take() {
            report();
        }
        Poll::Ready(Err(io::Error::new(
            io::ErrorKind::TimedOut,
            "the client read nothing for server.socket_timeout",
        )))
    }
}

impl<I: AsyncRead + Unpin, W: Observe> AsyncRead for ConnIo<I, W> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if !this.prefix.is_empty() {
            let n = this.prefix.len().min(buf.remaining());
            buf.put_slice(&this.prefix.split_to(n));
            this.observer.read_done(n);
            return Poll::Ready(Ok(()));
        }
        let before = buf.filled().len();
        let poll = Pin::new(&mut this.inner).poll_read(cx, buf);
        if poll.is_ready() {
            // A read of 0 bytes at EOF counts too: the connection is not idle, it ends.
            this.observer.read_done(buf.filled().len() - before);
        }
        poll
    }
}

impl<I: AsyncWrite + Unpin, W: Observe> AsyncWrite for ConnIo<I, W> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        if this.observer.holds_writes() {
            this.held.extend_from_slice(buf);
            return Poll::Ready(Ok(buf.len()));
        }
        this.observer.write_started();
        let poll = Pin::new(&mut this.inner).poll_write(cx, buf);
        if matches!(poll, Poll::Ready(Ok(n)) if n > 0) {
            this.observer.wrote();
        }
        this.deadline(cx, poll)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        if this.observer.holds_writes() {
            let mut n = 0;
            for buf in bufs {
                this.held.extend_from_slice(buf);
                n += buf.len();
            }
            return Poll::Ready(Ok(n));
        }
        this.observer.write_started();
        let poll = Pin::new(&mut this.inner).poll_write_vectored(cx, bufs);
        if matches!(poll, Poll::Ready(Ok(n)) if n > 0) {
            this.observer.wrote();
        }
        this.deadline(cx, poll)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        // hyper flushes the socket only once its own write buffer is empty.
        let poll = Pin::new(&mut this.inner).poll_flush(cx);
        if matches!(poll, Poll::Ready(Ok(()))) {
            this.observer.flushed();
        }
        this.deadline(cx, poll)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if !this.held.is_empty() {
            // hyper closes after its canned answer; conn.rs writes the real one first.
            return Poll::Ready(Ok(()));
        }
        let poll = Pin::new(&mut this.inner).poll_shutdown(cx);
        this.deadline(cx, poll)
    }
}

/// When a connection last moved bytes, and how many of its requests are being handled
/// (from the head's arrival until the last byte of the response body is handed over).
pub struct Activity {
    start: Instant,
    last_ms: AtomicU64,
    /// When a write last made progress (for the send timeout of HTTP/2 streams).
    last_write_ms: AtomicU64,
    /// Response bodies that handed over a frame and wait for hyper to want the next:
    /// on HTTP/2, for the client to open its flow-control window.
    awaiting_client: AtomicUsize,
    in_flight: AtomicUsize,
    /// Signalled when `in_flight` drops to zero.
    quiet: tokio::sync::Notify,
}

impl Activity {
    pub fn new() -> Arc<Self> {
        Arc::new(Activity {
            start: Instant::now(),
            last_ms: AtomicU64::new(0),
            last_write_ms: AtomicU64::new(0),
            awaiting_client: AtomicUsize::new(0),
            in_flight: AtomicUsize::new(0),
            quiet: tokio::sync::Notify::new(),
        })
    }

    fn touch(&self) {
        let ms = self.start.elapsed().as_millis() as u64;
        self.last_ms.store(ms, Ordering::Relaxed);
    }

    fn touch_write(&self) {
        let ms = self.start.elapsed().as_millis() as u64;
        self.last_ms.store(ms, Ordering::Relaxed);
        self.last_write_ms.store(ms, Ordering::Relaxed);
    }

    /// When the connection counts as stalled if no write progresses until then.
    pub fn stall_at(&self, timeout: Duration) -> Instant {
        self.start + Duration::from_millis(self.last_write_ms.load(Ordering::Relaxed)) + timeout
    }

    /// A response body waits on the client (HTTP/2 flow control) and no write has made
    /// progress for `timeout`: the client stopped reading.
    pub fn is_stalled(&self, timeout: Duration) -> bool {
        self.awaiting_client.load(Ordering::Acquire) > 0 && Instant::now() >= self.stall_at(timeout)
    }

    /// When the connection becomes idle if nothing happens until then.
    pub fn idle_at(&self, timeout: Duration) -> Instant {
        self.start + Duration::from_millis(self.last_ms.load(Ordering::Relaxed)) + timeout
    }

    /// No request in a handler and no bytes moved for `timeout`.
    pub fn is_idle(&self, timeout: Duration) -> bool {
        self.in_flight.load(Ordering::Acquire) == 0 && Instant::now() >= self.idle_at(timeout)
    }

    /// Waits until no request is in flight.
    pub async fn quiet(&self) {
        loop {
            let notified = self.quiet.notified();
            tokio::pin!(notified);
            // Registered before the check, so a drop to zero in between is not missed.
            notified.as_mut().enable();
            if self.in_flight.load(Ordering::Acquire) == 0 {
                return;
            }
            notified.await;
        }
    }

    /// Counts a request as in flight until the guard is dropped.
    pub fn enter(self: &Arc<Self>) -> InFlight {
        self.in_flight.fetch_add(1, Ordering::AcqRel);
        InFlight(self.clone())
    }
}

/// A request being handled (see `Activity::enter`).
pub struct InFlight(Arc<Activity>);

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.touch();
        if self.0.in_flight.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.0.quiet.notify_waiters();
        }
    }
}

impl Observe for Activity {
    fn read_done(&self, n: usize) {
        if n > 0 {
            self.touch();
        }
    }

    fn wrote(&self) {
        self.touch_write();
    }
}

/// A response body that keeps its request counted as in flight until hyper has taken
/// its last frame (or dropped it), and counts itself as waiting on the client between
/// handing over a frame and being asked for the next one.
pub struct Counted<B> {
    body: B,
    in_flight: InFlight,
    waiting: bool,
}

impl<B> Counted<B> {
    pub fn new(body: B, in_flight: InFlight) -> Self {
        Counted {
            body,
            in_flight,
            waiting: false,
        }
    }

    fn set_waiting(&mut self, waiting: bool) {
        if waiting == self.waiting {
            return;
        }
        self.waiting = waiting;
        let activity = &self.in_flight.0;
        if waiting {
            // The stall clock starts now, not at the last write before the handler ran.
            activity.touch_write();
            activity.awaiting_client.fetch_add(1, Ordering::AcqRel);
        } else {
            activity.awaiting_client.fetch_sub(1, Ordering::AcqRel);
        }
    }
}

impl<B> Drop for Counted<B> {
    fn drop(&mut self) {
        self.set_waiting(false);
    }
}

impl<B: http_body::Body + Unpin> http_body::Body for Counted<B> {
    type Data = B::Data;
    type Error = B::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<B::Data>, B::Error>>> {
        let this = self.get_mut();
        this.set_waiting(false);
        let poll = Pin::new(&mut this.body).poll_frame(cx);
        if matches!(poll, Poll::Ready(Some(Ok(_)))) && !this.body.is_end_stream() {
            this.set_waiting(true);
        }
        poll
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.body.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::AsyncReadExt;

    #[tokio::test]
    async fn the_prefix_comes_first() {
        let inner: &[u8] = b" world";
        let mut r = ConnIo::new(Bytes::from_static(b"hello"), inner, Activity::new());
        let mut out = String::new();
        r.read_to_string(&mut out).await.unwrap();
        assert_eq!(out, "hello world");
    }

    /// A stream whose writes never make progress (a client that stopped reading).
    struct Stuck;

    impl AsyncWrite for Stuck {
        fn poll_write(
            self: Pin<&mut Self>,
            _: &mut Context<'_>,
            _: &[u8],
        ) -> Poll<io::Result<usize>> {
            Poll::Pending
        }

        fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
            Poll::Pending
        }

        fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
            Poll::Pending
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_write_without_progress_fails_after_the_send_timeout() {
        use std::sync::atomic::AtomicBool;
        use tokio::io::AsyncWriteExt;
        let reported = Arc::new(AtomicBool::new(false));
        let flag = reported.clone();
        let mut io = ConnIo::new(Bytes::new(), Stuck, Activity::new()).with_send_timeout(
            Duration::from_secs(5),
            Box::new(move || flag.store(true, Ordering::Relaxed)),
        );
        let started = Instant::now();
        let err = io.write_all(b"response").await.unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::TimedOut);
        assert!(started.elapsed() >= Duration::from_secs(5));
        assert!(reported.load(Ordering::Relaxed));
    }

    #[tokio::test(start_paused = true)]
    async fn activity_is_idle_only_without_requests() {
        let a = Activity::new();
        let t = Duration::from_secs(1);
        assert!(!a.is_idle(t));
        let guard = a.enter();
        tokio::time::advance(Duration::from_secs(2)).await;
        assert!(!a.is_idle(t), "a request in a handler keeps it open");
        drop(guard);
        assert!(!a.is_idle(t), "finishing a request counts as activity");
        tokio::time::advance(Duration::from_secs(2)).await;
        assert!(a.is_idle(t));
    }

    #[tokio::test]
    async fn quiet_waits_for_the_last_request() {
        let a = Activity::new();
        a.quiet().await;
        let guard = a.enter();
        let waiter = tokio::spawn({
            let a = a.clone();
            async move { a.quiet().await }
        });
        tokio::task::yield_now().await;
        assert!(!waiter.is_finished());
        drop(guard);
        waiter.await.unwrap();
    }
}
