//! Idle HTTP/1 keep-alive connections that hold no buffers. A hyper HTTP/1 connection
//! keeps an 8 KiB head buffer, an 8 KiB read buffer, its boxed service future and a
//! header timer for as long as it lives, whether or not a request is coming; 10,000
//! idle keep-alive connections cost ~30 KiB each that way. Here a connection that has
//! answered its request, flushed the response and read nothing more for `PARK_AFTER`
//! is "parked": its hyper connection is ended without closing the socket (hyper closes
//! an idle HTTP/1 connection at once on `graceful_shutdown`, and `into_parts` hands back
//! the socket and any bytes read ahead), and the task waits for the socket to become
//! readable, holding only the socket. The next request gets a new hyper connection.
//!
//! `IdleWatch` is what the connection's wrapper (`ConnIo`) and its service see of the
//! exchange; `Park` is how a parked socket is waited on without reading it.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpStream, UnixStream};
use tokio::sync::Notify;
use tokio::time::Instant;

/// How long a connection must stay idle (response flushed, nothing read since) before
/// its hyper connection and buffers are released. Short enough that an idle connection
/// costs its buffers only briefly; long enough that a client sending requests back to
/// back (a benchmark, a page's assets) keeps one hyper connection.
pub const PARK_AFTER: Duration = Duration::from_millis(100);

/// What one connection's hyper rounds report about the exchange in progress. Every
/// field is touched from the connection's own task only (hyper polls the service, the
/// I/O and the body in it); atomics make it `Sync` for the `Arc` the service needs.
pub struct IdleWatch {
    base: Instant,
    /// Requests whose response hyper has not finished taking (0 or 1 on HTTP/1).
    in_flight: AtomicUsize,
    /// Between messages: the last response was taken whole (or the round started with
    /// nothing buffered) and not a byte has been read since.
    armed: AtomicBool,
    /// Every byte hyper has written has been flushed to the socket.
    flushed: AtomicBool,
    /// When the connection last went idle, in ms since `base`.
    since_ms: AtomicU64,
    /// A request head has arrived in this round.
    started: AtomicBool,
    /// A request head has ever arrived on this connection.
    served: AtomicBool,
    /// A response is owed to the client, or not all of it is flushed yet: from the
    /// service call until the socket is flushed with no request in flight. hyper
    /// writes nothing else but its canned answer to a head it could not parse, which
    /// `ConnIo` holds back for `head_error` to replace.
    owed: AtomicBool,
    /// Signalled when `started` is first set in a round.
    arrival: Notify,
}

impl IdleWatch {
    /// A watch for a new connection, idle from now.
    pub fn new() -> Arc<Self> {
        Arc::new(IdleWatch {
            base: Instant::now(),
            in_flight: AtomicUsize::new(0),
            armed: AtomicBool::new(false),
            flushed: AtomicBool::new(true),
            since_ms: AtomicU64::new(0),
            started: AtomicBool::new(false),
            served: AtomicBool::new(false),
            owed: AtomicBool::new(false),
            arrival: Notify::new(),
        })
    }

    /// A new hyper round starts; `between_messages` when no byte of a request is
    /// buffered for it (it may park as soon as it has read nothing).
    pub fn begin_round(&self, between_messages: bool) {
        self.in_flight.store(0, Ordering::Relaxed);
        self.flushed.store(true, Ordering::Relaxed);
        self.started.store(false, Ordering::Relaxed);
        self.armed.store(between_messages, Ordering::Relaxed);
    }

    /// hyper has read a request head and calls the service.
    pub fn request_started(&self) {
        self.in_flight.fetch_add(1, Ordering::Relaxed);
        self.armed.store(false, Ordering::Relaxed);
        self.owed.store(true, Ordering::Relaxed);
        if !self.started.load(Ordering::Relaxed) {
            self.started.store(true, Ordering::Relaxed);
            self.served.store(true, Ordering::Relaxed);
            self.arrival.notify_waiters();
        }
    }

    /// A guard that marks the response finished when dropped (hyper drops the body
    /// after taking its last frame, or when it gives up on it).
    pub fn response_guard(self: &Arc<Self>) -> ResponseDone {
        ResponseDone(self.clone())
    }

    fn response_finished(&self) {
        if self.in_flight.fetch_sub(1, Ordering::Relaxed) == 1 {
            let ms = self.base.elapsed().as_millis() as u64;
            self.since_ms.store(ms, Ordering::Relaxed);
            self.armed.store(true, Ordering::Relaxed);
        }
    }

    fn bytes_read(&self) {
        if self.armed.load(Ordering::Relaxed) {
            self.armed.store(false, Ordering::Relaxed);
        }
    }

    fn writing(&self) {
        if self.flushed.load(Ordering::Relaxed) {
            self.flushed.store(false, Ordering::Relaxed);
        }
    }

    fn flushed(&self) {
        self.flushed.store(true, Ordering::Relaxed);
        if self.in_flight.load(Ordering::Relaxed) == 0 {
            self.owed.store(false, Ordering::Relaxed);
        }
    }

    /// Since when the connection has been idle: no request in flight, the response
    /// flushed, nothing read since. `None` while anything is going on.
    pub fn idle_since(&self) -> Option<Instant> {
        let idle = self.armed.load(Ordering::Relaxed)
            && self.flushed.load(Ordering::Relaxed)
            && self.in_flight.load(Ordering::Relaxed) == 0;
        idle.then(|| self.last_idle())
    }

    /// When the connection last went idle (its start, or its last response).
    pub fn last_idle(&self) -> Instant {
        self.base + Duration::from_millis(self.since_ms.load(Ordering::Relaxed))
    }

    /// Whether a request head has arrived in this round.
    pub fn started(&self) -> bool {
        self.started.load(Ordering::Relaxed)
    }

    /// Whether a request head has ever arrived on this connection.
    pub fn served(&self) -> bool {
        self.served.load(Ordering::Relaxed)
    }

    /// Waits until a request head arrives in this round.
    pub async fn arrived(&self) {
        let notified = self.arrival.notified();
        tokio::pin!(notified);
        // Registered before the check, so an arrival in between is not missed.
        notified.as_mut().enable();
        if self.started() {
            return;
        }
        notified.await;
    }
}

/// Marks its request's response finished when dropped (see `IdleWatch::response_guard`).
pub struct ResponseDone(Arc<IdleWatch>);

impl Drop for ResponseDone {
    fn drop(&mut self) {
        self.0.response_finished();
    }
}

/// A response body that marks its response finished (`ResponseDone`) when hyper drops
/// it, after its last frame or when it gives up on it.
pub struct Finished<B> {
    body: B,
    _done: ResponseDone,
}

impl<B> Finished<B> {
    pub fn new(body: B, done: ResponseDone) -> Self {
        Finished { body, _done: done }
    }
}

impl<B: http_body::Body + Unpin> http_body::Body for Finished<B> {
    type Data = B::Data;
    type Error = B::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<B::Data>, B::Error>>> {
        Pin::new(&mut self.get_mut().body).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.body.size_hint()
    }
}

/// The byte stream under one hyper round: bytes read ahead by the previous round first,
/// then the socket; reads and writes are reported to the `IdleWatch`. What hyper writes
/// while no response is owed (its canned answer to a head it could not parse) is held
/// back, not sent: `conn.rs` sends cheroot's answer instead (`head_error`).
pub struct ConnIo<I> {
    prefix: Bytes,
    inner: I,
    watch: Arc<IdleWatch>,
    held: Vec<u8>,
}

impl<I> ConnIo<I> {
    pub fn new(prefix: Bytes, inner: I, watch: Arc<IdleWatch>) -> Self {
        ConnIo {
            prefix,
            inner,
            watch,
            held: Vec::new(),
        }
    }

    /// The bytes of the prefix not read yet, and the socket.
    pub fn into_parts(self) -> (Bytes, I) {
        (self.prefix, self.inner)
    }

    /// What hyper wrote while no response was owed (empty almost always), and the
    /// socket.
    pub fn into_held(self) -> (Vec<u8>, I) {
        (self.held, self.inner)
    }

    /// Keeps `bufs` instead of writing them when no response is owed.
    fn hold(&mut self, bufs: &[&[u8]]) -> Option<usize> {
        if self.watch.owed.load(Ordering::Relaxed) {
            return None;
        }
        let mut n = 0;
        for buf in bufs {
            self.held.extend_from_slice(buf);
            n += buf.len();
        }
        Some(n)
    }
}

impl<I: AsyncRead + Unpin> AsyncRead for ConnIo<I> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if !this.prefix.is_empty() {
            let n = this.prefix.len().min(buf.remaining());
            buf.put_slice(&this.prefix.split_to(n));
            this.watch.bytes_read();
            return Poll::Ready(Ok(()));
        }
        let poll = Pin::new(&mut this.inner).poll_read(cx, buf);
        // A read of 0 bytes at EOF counts too: the connection is not idle, it ends.
        if poll.is_ready() {
            this.watch.bytes_read();
        }
        poll
    }
}

impl<I: AsyncWrite + Unpin> AsyncWrite for ConnIo<I> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        if let Some(n) = this.hold(&[buf]) {
            return Poll::Ready(Ok(n));
        }
        this.watch.writing();
        Pin::new(&mut this.inner).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        if !this.watch.owed.load(Ordering::Relaxed) {
            let slices: Vec<&[u8]> = bufs.iter().map(|b| &b[..]).collect();
            if let Some(n) = this.hold(&slices) {
                return Poll::Ready(Ok(n));
            }
        }
        this.watch.writing();
        Pin::new(&mut this.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        // hyper flushes the socket only once its own write buffer is empty.
        let poll = Pin::new(&mut this.inner).poll_flush(cx);
        if matches!(poll, Poll::Ready(Ok(()))) {
            this.watch.flushed();
        }
        poll
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if !this.held.is_empty() {
            // hyper closes after its canned answer; conn.rs writes the real one first.
            return Poll::Ready(Ok(()));
        }
        Pin::new(&mut this.inner).poll_shutdown(cx)
    }
}

/// A byte stream whose connection can be parked: waited on until readable, unread.
pub trait Park: AsyncRead + AsyncWrite + Unpin + Send + 'static {
    /// Whether bytes for HTTP are already buffered below hyper (decrypted TLS records),
    /// so that waiting for the socket would miss them.
    fn buffered(&mut self) -> bool {
        false
    }

    /// Resolves when the socket has bytes (or EOF, or an error) to read.
    fn readable(&self) -> impl Future<Output = io::Result<()>> + Send + '_;
}

impl Park for TcpStream {
    fn readable(&self) -> impl Future<Output = io::Result<()>> + Send + '_ {
        TcpStream::readable(self)
    }
}

impl Park for UnixStream {
    fn readable(&self) -> impl Future<Output = io::Result<()>> + Send + '_ {
        UnixStream::readable(self)
    }
}

impl Park for tokio_rustls::server::TlsStream<TcpStream> {
    fn buffered(&mut self) -> bool {
        // rustls decrypts what it has read when asked; an error is left for hyper's
        // next read to meet.
        let (_, tls) = self.get_mut();
        tls.process_new_packets()
            .map_or(true, |state| state.plaintext_bytes_to_read() > 0)
    }

    fn readable(&self) -> impl Future<Output = io::Result<()>> + Send + '_ {
        self.get_ref().0.readable()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    #[test]
    fn idle_only_between_messages_with_everything_flushed() {
        let w = IdleWatch::new();
        w.begin_round(true);
        assert!(
            w.idle_since().is_some(),
            "a round with nothing buffered starts idle"
        );
        w.request_started();
        assert!(w.idle_since().is_none());
        assert!(w.started() && w.served());
        w.writing();
        let guard = w.response_guard();
        drop(guard);
        assert!(w.idle_since().is_none(), "the response is not flushed yet");
        w.flushed();
        assert!(w.idle_since().is_some());
        w.bytes_read();
        assert!(w.idle_since().is_none(), "bytes of a next request arrived");
        w.begin_round(false);
        assert!(
            w.idle_since().is_none(),
            "a round with a prefix starts busy"
        );
        assert!(!w.started() && w.served());
    }

    #[tokio::test]
    async fn conn_io_yields_the_prefix_then_the_stream_and_gives_both_back() {
        let w = IdleWatch::new();
        w.begin_round(true);
        let inner: &[u8] = b" world";
        let mut io = ConnIo::new(Bytes::from_static(b"hello"), inner, w.clone());
        let mut first = [0u8; 3];
        io.read_exact(&mut first).await.unwrap();
        assert_eq!(&first, b"hel");
        assert!(w.idle_since().is_none(), "reading disarms");
        let (rest, inner) = io.into_parts();
        assert_eq!(&rest[..], b"lo");
        assert_eq!(inner, b" world");
    }

    #[tokio::test]
    async fn writes_are_flushed_before_idle() {
        let w = IdleWatch::new();
        w.begin_round(true);
        w.request_started();
        drop(w.response_guard());
        let mut io = ConnIo::new(Bytes::new(), Vec::new(), w.clone());
        io.write_all(b"response").await.unwrap();
        assert!(w.idle_since().is_none());
        io.flush().await.unwrap();
        assert!(w.idle_since().is_some());
        let (held, written) = io.into_held();
        assert!(held.is_empty());
        assert_eq!(written, b"response");
    }

    #[tokio::test]
    async fn what_hyper_writes_when_nothing_is_owed_is_held_back() {
        let w = IdleWatch::new();
        w.begin_round(true);
        let mut io = ConnIo::new(Bytes::new(), Vec::new(), w.clone());
        io.write_all(b"HTTP/1.1 400 Bad Request\r\n\r\n")
            .await
            .unwrap();
        io.flush().await.unwrap();
        io.shutdown().await.unwrap();
        let (held, written) = io.into_held();
        assert_eq!(held, b"HTTP/1.1 400 Bad Request\r\n\r\n");
        assert!(written.is_empty());
    }
}
