//! Byte-stream adapters under hyper: `Rewind` gives back the bytes read while detecting
//! the protocol, `Tracked` notes when bytes last moved (the HTTP/2 idle timeout), and
//! `SendDeadline` fails a write (or flush) that makes no progress for
//! `server.socket_timeout`, so a client that stops reading loses its connection and
//! frees what the response held (its body, and the Python worker feeding a stream).

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::time::{Instant, Sleep};

/// A stream that first yields `prefix`, then reads from `inner`.
pub struct Rewind<T> {
    prefix: Vec<u8>,
    pos: usize,
    inner: T,
}

impl<T> Rewind<T> {
    pub fn new(prefix: Vec<u8>, inner: T) -> Self {
        Rewind {
            prefix,
            pos: 0,
            inner,
        }
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for Rewind<T> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if this.pos < this.prefix.len() {
            let left = &this.prefix[this.pos..];
            let n = left.len().min(buf.remaining());
            buf.put_slice(&left[..n]);
            this.pos += n;
            if this.pos == this.prefix.len() {
                this.prefix = Vec::new();
                this.pos = 0;
            }
            return Poll::Ready(Ok(()));
        }
        Pin::new(&mut this.inner).poll_read(cx, buf)
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for Rewind<T> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }
}

/// A stream whose writes and flushes fail with `TimedOut` once they have made no progress
/// for `timeout` (the client stopped reading and the socket buffers are full). Reads are
/// untouched: hyper bounds them itself (header-read timeout, body reads in `service`).
pub struct SendDeadline<T> {
    inner: T,
    timeout: Duration,
    /// Armed when a write or flush first returns `Pending`; cleared by any progress.
    stalled: Option<Pin<Box<Sleep>>>,
    /// Called once when the deadline passes (a debug log line naming the client).
    on_timeout: Option<Box<dyn FnOnce() + Send>>,
}

impl<T> SendDeadline<T> {
    pub fn new(inner: T, timeout: Duration, on_timeout: Box<dyn FnOnce() + Send>) -> Self {
        SendDeadline {
            inner,
            timeout,
            stalled: None,
            on_timeout: Some(on_timeout),
        }
    }

    /// After the inner stream answered `poll`: progress clears the deadline, `Pending`
    /// arms it (once) and turns into an error when it has passed.
    fn watch<R>(&mut self, cx: &mut Context<'_>, poll: Poll<io::Result<R>>) -> Poll<io::Result<R>> {
        if poll.is_ready() {
            self.stalled = None;
            return poll;
        }
        let timeout = self.timeout;
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

impl<T: AsyncRead + Unpin> AsyncRead for SendDeadline<T> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_read(cx, buf)
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for SendDeadline<T> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let poll = Pin::new(&mut this.inner).poll_write(cx, buf);
        this.watch(cx, poll)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let poll = Pin::new(&mut this.inner).poll_write_vectored(cx, bufs);
        this.watch(cx, poll)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let poll = Pin::new(&mut this.inner).poll_flush(cx);
        this.watch(cx, poll)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let poll = Pin::new(&mut this.inner).poll_shutdown(cx);
        this.watch(cx, poll)
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

/// A stream that records in `Activity` each time bytes are read or written.
pub struct Tracked<T> {
    inner: T,
    activity: Arc<Activity>,
}

impl<T> Tracked<T> {
    pub fn new(inner: T, activity: Arc<Activity>) -> Self {
        Tracked { inner, activity }
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for Tracked<T> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        let poll = Pin::new(&mut this.inner).poll_read(cx, buf);
        if buf.filled().len() > before {
            this.activity.touch();
        }
        poll
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for Tracked<T> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let poll = Pin::new(&mut this.inner).poll_write(cx, buf);
        if matches!(poll, Poll::Ready(Ok(n)) if n > 0) {
            this.activity.touch_write();
        }
        poll
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let poll = Pin::new(&mut this.inner).poll_write_vectored(cx, bufs);
        if matches!(poll, Poll::Ready(Ok(n)) if n > 0) {
            this.activity.touch_write();
        }
        poll
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
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
    async fn rewind_yields_the_prefix_first() {
        let inner: &[u8] = b" world";
        let mut r = Rewind::new(b"hello".to_vec(), inner);
        let mut out = String::new();
        r.read_to_string(&mut out).await.unwrap();
        assert_eq!(out, "hello world");
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
