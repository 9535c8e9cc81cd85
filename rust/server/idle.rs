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
//! `IdleWatch` is what the connection's wrapper (`io::ConnIo`) and its service see of the
//! exchange; `Park` is how a parked socket is waited on without reading it.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpStream, UnixStream};
use tokio::sync::Notify;
use tokio::time::Instant;

use super::io::Observe;

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

    /// What the round waits for: nothing while a request is in flight; else the next
    /// request head, since the last response (or the connection's start), with the
    /// connection `idle` when the response is flushed and not a byte has been read since.
    pub fn waiting(&self) -> Waiting {
        if self.in_flight.load(Ordering::Relaxed) != 0 {
            return Waiting::Busy;
        }
        let idle = self.armed.load(Ordering::Relaxed) && self.flushed.load(Ordering::Relaxed);
        Waiting::Head {
            since: self.last_idle(),
            idle,
        }
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

/// See `IdleWatch::waiting`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Waiting {
    /// A request is being handled (or its response taken by hyper).
    Busy,
    /// For a request head, since `since`; `idle` when nothing of it has arrived and the
    /// last response is flushed.
    Head { since: Instant, idle: bool },
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

/// What the connection's `ConnIo` reports in a round of hyper: a read (even of nothing,
/// at EOF) ends the idleness, writes and flushes tell when the response is out, and what
/// hyper writes while no response is owed (its canned answer to a head it could not
/// parse) is held back, not sent: `conn.rs` sends cheroot's answer instead (`head_error`).
impl Observe for IdleWatch {
    fn read_done(&self, _n: usize) {
        self.bytes_read();
    }

    fn write_started(&self) {
        self.writing();
    }

    fn flushed(&self) {
        IdleWatch::flushed(self);
    }

    fn holds_writes(&self) -> bool {
        !self.owed.load(Ordering::Relaxed)
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
    use super::super::io::ConnIo;
    use super::*;
    use bytes::Bytes;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    fn is_idle(w: &IdleWatch) -> bool {
        matches!(w.waiting(), Waiting::Head { idle: true, .. })
    }

    #[test]
    fn idle_only_between_messages_with_everything_flushed() {
        let w = IdleWatch::new();
        w.begin_round(true);
        assert!(is_idle(&w), "a round with nothing buffered starts idle");
        w.request_started();
        assert_eq!(w.waiting(), Waiting::Busy);
        assert!(w.started() && w.served());
        w.writing();
        let guard = w.response_guard();
        drop(guard);
        assert!(!is_idle(&w), "the response is not flushed yet");
        w.flushed();
        assert!(is_idle(&w));
        w.bytes_read();
        assert!(!is_idle(&w), "bytes of a next request arrived");
        w.begin_round(false);
        assert!(!is_idle(&w), "a round with a prefix starts busy");
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
        assert!(!is_idle(&w), "reading disarms");
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
        assert!(!is_idle(&w));
        io.flush().await.unwrap();
        assert!(is_idle(&w));
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
