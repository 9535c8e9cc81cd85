//! One connection: the TLS handshake (when configured) and the protocol choice, then
//! hyper's HTTP/1 or HTTP/2 state machine with the limits hyper leaves off by default,
//! and the graceful-stop hand-off.
//!
//! Every phase before hyper has a deadline of `server.socket_timeout`: the first byte,
//! the TLS handshake, and the h2c preface check (hyper-util's auto builder waits for the
//! preface forever, hyper#3756), so a silent client holds one socket and nothing else.

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::task::Poll;

use bytes::{Bytes, BytesMut};
use futures_util::FutureExt;
use http::header::{self, HeaderValue};
use http::{Method, Request, Response, StatusCode};
use hyper::body::Incoming;
use hyper::server::conn::{http1, http2};
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::{timeout, timeout_at, Instant};
use tokio_util::task::TaskTracker;

use super::head_error::{self, Failure};
use super::idle::{Finished, IdleWatch, Park, Waiting, PARK_AFTER};
use super::io::{Activity, ConnIo, Counted};
use super::streams::{Driven, InConnection};
use super::{proxy_protocol, service, ResponseBody, Shared};
use crate::exchange::TlsInfo;

/// RFC 9113 §3.4: what an HTTP/2 client with prior knowledge sends first.
const PREFACE: &[u8; 24] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

/// How long an HTTP/2 connection with nothing in flight may take to close at stop.
const DRAIN_GRACE: std::time::Duration = std::time::Duration::from_secs(1);

/// RFC 8446 §5.1: the content type of a TLS handshake record (a ClientHello).
const TLS_HANDSHAKE: u8 = 0x16;

/// Why a phase before HTTP ended without its result.
enum Halt {
    /// The deadline (`server.socket_timeout`) passed.
    TimedOut,
    /// The server is stopping: nothing was in flight on this connection, so it goes.
    Stopping,
}

/// `fut`, unless the deadline passes or the server stops first (a client that is still
/// in the handshake must not hold the graceful stop for `shutdown_timeout`: it gets
/// `DRAIN_GRACE` more).
async fn before_http<F: std::future::Future>(
    shared: &Shared,
    deadline: Instant,
    fut: F,
) -> Result<F::Output, Halt> {
    tokio::pin!(fut);
    tokio::select! {
        biased;
        _ = shared.shutdown.cancelled() => {}
        done = timeout_at(deadline, &mut fut) => return done.map_err(|_| Halt::TimedOut),
    }
    // Stopping. A client accepted just before (a worker process replaced under load:
    // the accept queue is shared and the other workers go on serving) is on its way
    // and gets DRAIN_GRACE to finish this phase; a silent one does not hold the stop.
    let grace = std::cmp::min(deadline, Instant::now() + DRAIN_GRACE);
    timeout_at(grace, fut).await.map_err(|_| Halt::Stopping)
}

/// Serves one connection, in a task of its own, until the client closes it, a limit
/// closes it, or the server stops (then the request in flight finishes first). Each
/// kind of connection is a future type of its own, so that the task of a plain HTTP/1
/// connection (the memory an idle one costs) is not sized for TLS or HTTP/2.
pub fn spawn(tracker: &TaskTracker, stream: TcpStream, remote: SocketAddr, shared: Arc<Shared>) {
    if shared.config.proxy_protocol && shared.config.forwarded.contains(remote.ip()) {
        tracker.spawn(serve_proxied(stream, remote, shared));
        return;
    }
    if shared.tls.is_some() {
        tracker.spawn(serve_tls(stream, remote, shared));
    } else if shared.config.h2c() {
        tracker.spawn(serve_h2c(stream, remote, shared));
    } else {
        tracker.spawn(serve_http1(stream, Bytes::new(), remote, shared, None));
    }
}

/// With `server.proxy_protocol`, a trusted peer's PROXY header is read first and names
/// the remote address; then the connection is served as any other.
async fn serve_proxied(mut stream: TcpStream, mut remote: SocketAddr, shared: Arc<Shared>) {
    let deadline = Instant::now() + shared.socket_timeout();
    match before_http(&shared, deadline, proxy_protocol::read_header(&mut stream)).await {
        Ok(Ok(header)) => remote = header.source().unwrap_or(remote),
        Ok(Err(e)) => {
            shared.debug(format_args!("PROXY protocol: {remote}: {e}; closed"));
            return;
        }
        Err(_) => return,
    }
    if shared.tls.is_some() {
        Box::pin(serve_tls(stream, remote, shared)).await;
    } else if shared.config.h2c() {
        Box::pin(serve_h2c(stream, remote, shared)).await;
    } else {
        serve_http1(stream, Bytes::new(), remote, shared, None).await;
    }
}

/// Serves one connection accepted on a Unix socket (`server.socket_file`): plain
/// HTTP/1.1, the remote address unknown (`0.0.0.0:0`).
pub async fn serve_unix(stream: tokio::net::UnixStream, shared: Arc<Shared>) {
    let remote = SocketAddr::from(([0, 0, 0, 0], 0));
    serve_http1(stream, Bytes::new(), remote, shared, None).await;
}

/// The handshake, under one deadline, then HTTP/2 or HTTP/1.1 as ALPN agreed
/// (RFC 9113 §3.2: HTTP/2 over TLS only through ALPN).
async fn serve_tls(mut stream: TcpStream, remote: SocketAddr, shared: Arc<Shared>) {
    let Some(terminator) = shared.tls.as_ref() else {
        return;
    };
    let deadline = Instant::now() + shared.socket_timeout();
    let mut first = [0u8; 1];
    match before_http(&shared, deadline, stream.peek(&mut first)).await {
        Err(Halt::Stopping) => return,
        Err(Halt::TimedOut) => {
            shared
                .stats
                .handshake_timeouts
                .fetch_add(1, Ordering::Relaxed);
            shared.debug(format_args!(
                "TLS: {remote} sent nothing within server.socket_timeout; closed"
            ));
            return;
        }
        Ok(Ok(0)) | Ok(Err(_)) => return,
        Ok(Ok(_)) => {}
    }
    if first[0] != TLS_HANDSHAKE {
        if first[0].is_ascii_uppercase() {
            shared.stats.plain_http.fetch_add(1, Ordering::Relaxed);
            shared.debug(format_args!(
                "TLS: {remote} sent plain HTTP to the HTTPS port; answered 400"
            ));
            let _ = before_http(&shared, deadline, refuse_plain_http(&mut stream)).await;
        } else {
            shared
                .stats
                .handshake_failures
                .fetch_add(1, Ordering::Relaxed);
            shared.debug(format_args!(
                "TLS: {remote} sent 0x{:02x}, not a TLS handshake; closed",
                first[0]
            ));
        }
        return;
    }
    let acceptor = tokio_rustls::TlsAcceptor::from(terminator.config());
    // Boxed: the handshake's state is freed once done, not kept in the task.
    let handshake = Box::pin(acceptor.accept(stream));
    let tls_stream = match before_http(&shared, deadline, handshake).await {
        Err(Halt::Stopping) => return,
        Err(Halt::TimedOut) => {
            shared
                .stats
                .handshake_timeouts
                .fetch_add(1, Ordering::Relaxed);
            shared.debug(format_args!(
                "TLS: handshake with {remote} did not finish within server.socket_timeout; closed"
            ));
            return;
        }
        Ok(Err(e)) => {
            shared
                .stats
                .handshake_failures
                .fetch_add(1, Ordering::Relaxed);
            shared.debug(format_args!("TLS: handshake with {remote} failed: {e}"));
            return;
        }
        Ok(Ok(s)) => s,
    };
    shared.stats.handshakes.fetch_add(1, Ordering::Relaxed);
    let info = Arc::new(crate::tls::connection_info(tls_stream.get_ref().1));
    if info.alpn.as_deref() == Some(b"h2") {
        Box::pin(serve_http2(
            tls_stream,
            Bytes::new(),
            remote,
            shared,
            Some(info),
        ))
        .await;
    } else {
        serve_http1(tls_stream, Bytes::new(), remote, shared, Some(info)).await;
    }
}

/// Answers a plain-HTTP request on the TLS port with a 400 that says so, then closes.
async fn refuse_plain_http(stream: &mut TcpStream) -> std::io::Result<()> {
    // Read what the client sent, so that closing does not reset the connection before
    // the answer arrives.
    let mut buf = [0u8; 4096];
    let _ = stream.read(&mut buf).await?;
    let body = "Bad Request: this port speaks HTTPS; use an https:// URL.\n";
    let answer = format!(
        "HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain;charset=utf-8\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(answer.as_bytes()).await?;
    stream.shutdown().await
}

/// Plain TCP with `server.http2 = True`: HTTP/2 if the client opens with the preface
/// (h2c with prior knowledge, RFC 9113 §3.3), HTTP/1 otherwise. An HTTP/1 request
/// differs from the preface in its first byte or few, so it costs one read.
async fn serve_h2c(mut stream: TcpStream, remote: SocketAddr, shared: Arc<Shared>) {
    let mut seen: Vec<u8> = Vec::with_capacity(PREFACE.len());
    let mut buf = [0u8; PREFACE.len()];
    let deadline = Instant::now() + shared.socket_timeout();
    let is_h2 = loop {
        let want = PREFACE.len() - seen.len();
        let n = match before_http(&shared, deadline, stream.read(&mut buf[..want])).await {
            Err(Halt::Stopping) => return,
            Err(Halt::TimedOut) => {
                shared.debug(format_args!(
                    "h2c: {remote} sent no request within server.socket_timeout; closed"
                ));
                return;
            }
            Ok(Err(_)) | Ok(Ok(0)) => return,
            Ok(Ok(n)) => n,
        };
        seen.extend_from_slice(&buf[..n]);
        if !PREFACE.starts_with(&seen) {
            break false;
        }
        if seen.len() == PREFACE.len() {
            break true;
        }
    };
    if is_h2 {
        Box::pin(serve_http2(stream, Bytes::from(seen), remote, shared, None)).await;
    } else {
        serve_http1(stream, Bytes::from(seen), remote, shared, None).await;
    }
}

/// HTTP/1.x on a byte stream, with the limits of the plain-TCP server: hyper
/// connections one after another (`http1_round`), the connection parked in between
/// while it is idle (`idle.rs`), and closed after `server.socket_timeout` idle.
async fn serve_http1<I: Park>(
    mut io: I,
    mut prefix: Bytes,
    remote: SocketAddr,
    shared: Arc<Shared>,
    tls: Option<Arc<TlsInfo>>,
) {
    let watch = IdleWatch::new();
    // Whether the connection was parked before this round.
    let mut woken = false;
    loop {
        let between_messages = prefix.is_empty() && !io.buffered();
        // Boxed: the task keeps only the socket while it is parked.
        let round = Box::pin(http1_round(
            io,
            prefix,
            remote,
            &shared,
            &tls,
            &watch,
            between_messages,
            woken,
        ));
        let Some((back, read_ahead)) = round.await else {
            return;
        };
        io = back;
        prefix = read_ahead;
        if !prefix.is_empty() || io.buffered() {
            continue;
        }
        let deadline = watch.last_idle() + shared.socket_timeout();
        woken = true;
        if !park(&io, &shared, deadline, !watch.served()).await {
            // Idle for server.socket_timeout, or the server stops: close (for TLS, with
            // a close_notify, as hyper would). A connection that never sent a request
            // gets cheroot's 408 first.
            if !watch.served() && !shared.shutdown.is_cancelled() {
                let answer = head_error::answer(Failure::Timeout, b"", "");
                let _ = timeout(DRAIN_GRACE, io.write_all(&answer)).await;
            }
            let _ = timeout(DRAIN_GRACE, io.shutdown()).await;
            return;
        }
    }
}

/// Waits, holding no buffer, until an idle connection has something to read. False
/// when `deadline` passes first, or the server stops (a connection that has not sent
/// its first request yet gets `FIRST_REQUEST_GRACE` to send it).
async fn park<I: Park>(io: &I, shared: &Shared, deadline: Instant, fresh: bool) -> bool {
    let _parked = Parked::count(shared);
    tokio::select! {
        biased;
        ready = timeout_at(deadline, io.readable()) => matches!(ready, Ok(Ok(()))),
        _ = shared.shutdown.cancelled() => {
            fresh && matches!(timeout(FIRST_REQUEST_GRACE, io.readable()).await, Ok(Ok(())))
        }
    }
}

/// Counts a connection in `Shared::parked` while it lives.
struct Parked<'a>(&'a Shared);

impl<'a> Parked<'a> {
    fn count(shared: &'a Shared) -> Self {
        shared.parked.fetch_add(1, Ordering::Relaxed);
        Parked(shared)
    }
}

impl Drop for Parked<'_> {
    fn drop(&mut self) {
        self.0.parked.fetch_sub(1, Ordering::Relaxed);
    }
}

/// What ended a round of hyper on a connection.
enum Event {
    /// hyper closed the connection (with the error that made it, if any).
    Closed(Option<hyper::Error>),
    /// The server stops.
    Stop,
    /// Idle for `PARK_AFTER`.
    Idle,
    /// The next request head is not complete `server.socket_timeout` after the last
    /// response (or the connection's start).
    HeadTimeout,
}

/// One hyper HTTP/1 connection on the socket, until hyper closes it (`None`) or the
/// connection has been idle for `PARK_AFTER`: then the socket and the bytes hyper read
/// ahead are handed back.
///
/// The head-read deadline is kept here, not by hyper's `header_read_timeout` (which
/// allocates and registers a timer for every request): one timer per round serves both
/// the parking delay and the deadline (`server.socket_timeout` after the last response,
/// as hyper counts it), and is re-armed at most once per expiry.
async fn http1_round<I: Park>(
    io: I,
    prefix: Bytes,
    remote: SocketAddr,
    shared: &Arc<Shared>,
    tls: &Option<Arc<TlsInfo>>,
    watch: &Arc<IdleWatch>,
    between_messages: bool,
    woken: bool,
) -> Option<(I, Bytes)> {
    watch.begin_round(between_messages);
    let config = &shared.config;
    let mut builder = http1::Builder::new();
    builder
        // Kept by the round instead (see above): no timer in hyper.
        .header_read_timeout(None)
        .max_header_size(config.max_header_size)
        .max_buf_size(config.read_buffer_size())
        .max_headers(config.max_headers)
        // CherryPy (cheroot) sends "Content-Type", not "content-type"; raw clients compare.
        .title_case_headers(true)
        .keep_alive(true)
        .half_close(false);
    let svc_shared = shared.clone();
    let svc_watch = watch.clone();
    let tls = tls.clone();
    let svc = service_fn(move |mut req: Request<Incoming>| {
        svc_watch.request_started();
        let done = svc_watch.response_guard();
        if let Some(info) = &tls {
            req.extensions_mut().insert(info.clone());
        }
        // Boxed so that hyper hands the connection back (`poll_without_shutdown`);
        // mapped rather than awaited in an async block, which would hold the request's
        // future twice over (its argument and its awaited copy).
        Box::pin(
            service::handle(svc_shared.clone(), remote, req).map(move |response| {
                let response = response?;
                Ok::<_, Infallible>(response.map(|body| Finished::new(body, done)))
            }),
        )
    });
    let io = ConnIo::new(prefix, io, watch.clone())
        .with_send_timeout(shared.socket_timeout(), send_timeout_log(remote, shared));
    let mut conn = builder.serve_connection(TokioIo::new(io), svc);
    let stopping = shared.shutdown.cancelled();
    tokio::pin!(stopping);
    // Polling the token's future takes the lock all connections share: it is polled
    // once, to register this task's waker, then the flag is read.
    let mut stop_registered = false;
    // Armed lazily at the deadline of the state the connection is in; a deadline that
    // moves later (a busy connection) is not followed until the timer fires.
    let timer = tokio::time::sleep(PARK_AFTER);
    tokio::pin!(timer);
    let mut armed: Option<Instant> = None;
    let head_timeout = shared.socket_timeout();
    let event = std::future::poll_fn(|cx| {
        if let Poll::Ready(done) = Pin::new(&mut conn).poll(cx) {
            return Poll::Ready(Event::Closed(done.err()));
        }
        if !stop_registered {
            if stopping.as_mut().poll(cx).is_ready() {
                return Poll::Ready(Event::Stop);
            }
            stop_registered = true;
        } else if shared.shutdown.is_cancelled() {
            return Poll::Ready(Event::Stop);
        }
        loop {
            let (due, event) = match watch.waiting() {
                Waiting::Busy => break,
                Waiting::Head { since, idle } => {
                    if idle && PARK_AFTER < head_timeout {
                        (since + PARK_AFTER, Event::Idle)
                    } else {
                        (since + head_timeout, Event::HeadTimeout)
                    }
                }
            };
            if !matches!(armed, Some(at) if at <= due) {
                timer.as_mut().reset(due);
                armed = Some(due);
            }
            if timer.as_mut().poll(cx).is_pending() {
                break;
            }
            if armed == Some(due) {
                return Poll::Ready(event);
            }
            // An earlier deadline passed; the state has moved on since.
            armed = None;
        }
        Poll::Pending
    })
    .await;
    match event {
        Event::Closed(None) => None,
        Event::HeadTimeout => {
            // As hyper's header timeout did: cheroot's 408 on a connection that never
            // had a request, or in the middle of a head whose request line arrived; a
            // head begun after parking is cut without an answer.
            let parts = conn.into_parts();
            if woken && !watch.started() {
                return None;
            }
            let mid_head = parts.read_buf.contains(&b'\n');
            if watch.served() && !mid_head {
                return None;
            }
            let (_, io) = parts.io.into_inner().into_held();
            shared.debug(format_args!(
                "{remote}: request head refused (Timeout: no complete head within server.socket_timeout)"
            ));
            let answer = head_error::answer(Failure::Timeout, b"", "");
            send_and_close(io, &answer, shared.socket_timeout()).await;
            None
        }
        Event::Closed(Some(error)) => {
            // hyper could not take the head: cheroot's answer instead of hyper's.
            let parts = conn.into_parts();
            let (held, mut io) = parts.io.into_inner().into_held();
            let mut head = parts.read_buf.to_vec();
            let mut failure = Failure::from_canned(&held);
            let said = error.to_string();
            let intact = head_error::intact(&head, &said);
            if failure == Some(Failure::Malformed) && intact && !head_error::has_line(&head) {
                // cheroot reads the request line to its end before it judges it.
                let limit = shared.config.max_header_size;
                let deadline = Instant::now() + shared.socket_timeout();
                failure = match read_line(&mut io, &mut head, limit, deadline).await {
                    LineEnd::Found => failure,
                    LineEnd::TooLong => Some(Failure::TooLarge),
                    LineEnd::TimedOut => (!watch.served()).then_some(Failure::Timeout),
                    LineEnd::Closed => None,
                };
                // Nothing to answer (the client left, or went quiet after a request).
                failure?;
            }
            let answer = match failure {
                Some(failure) => {
                    shared.debug(format_args!(
                        "{remote}: request head refused ({failure:?}: {error})"
                    ));
                    head_error::answer(failure, &head, &said)
                }
                None => held,
            };
            if !answer.is_empty() {
                send_and_close(io, &answer, shared.socket_timeout()).await;
            }
            None
        }
        Event::Stop => {
            if !watch.started() {
                // Accepted (or woken) just before the stop, its request not read yet:
                // hyper would close it at once and lose a request the client has sent.
                // With worker processes the socket's queue is shared and other workers
                // go on serving, so a reload must not drop it: wait briefly for it.
                tokio::select! {
                    _ = &mut conn => return None,
                    _ = watch.arrived() => {}
                    _ = tokio::time::sleep(FIRST_REQUEST_GRACE) => {}
                }
            }
            Pin::new(&mut conn).graceful_shutdown();
            let _ = conn.await;
            None
        }
        Event::Idle => {
            // Between messages hyper closes at once, without shutting the socket down.
            Pin::new(&mut conn).graceful_shutdown();
            match std::future::poll_fn(|cx| Poll::Ready(conn.poll_without_shutdown(cx))).await {
                Poll::Ready(Ok(())) => {}
                Poll::Ready(Err(_)) => return None,
                Poll::Pending => {
                    // Mid-message after all (a request body still being drained): hyper
                    // finishes it and closes, as it now must.
                    let _ = conn.await;
                    return None;
                }
            }
            let parts = conn.into_parts();
            let (unread, io) = parts.io.into_inner().into_parts();
            // Bytes hyper read ahead (a pipelined request) come first; copied, so that
            // hyper's read buffer is freed.
            let read_ahead = if parts.read_buf.is_empty() {
                unread
            } else {
                let mut all = BytesMut::with_capacity(parts.read_buf.len() + unread.len());
                all.extend_from_slice(&parts.read_buf);
                all.extend_from_slice(&unread);
                all.freeze()
            };
            Some((io, read_ahead))
        }
    }
}

/// How reading the rest of a refused request line ended.
enum LineEnd {
    Found,
    TooLong,
    TimedOut,
    Closed,
}

/// Reads into `head` until it holds a whole request line, `limit` bytes, `deadline`,
/// or the client's end of the stream.
async fn read_line<R: AsyncRead + Unpin>(
    io: &mut R,
    head: &mut Vec<u8>,
    limit: usize,
    deadline: Instant,
) -> LineEnd {
    let mut buf = [0u8; 1024];
    loop {
        if head_error::has_line(head) {
            return LineEnd::Found;
        }
        if head.len() >= limit {
            return LineEnd::TooLong;
        }
        match timeout_at(deadline, io.read(&mut buf)).await {
            Err(_) => return LineEnd::TimedOut,
            Ok(Ok(0)) | Ok(Err(_)) => return LineEnd::Closed,
            Ok(Ok(n)) => head.extend_from_slice(&buf[..n]),
        }
    }
}

/// Writes a last answer and closes the connection (a FIN, so that the answer is read
/// before the close), within `limit`.
async fn send_and_close<W: AsyncWrite + Unpin>(
    mut io: W,
    answer: &[u8],
    limit: std::time::Duration,
) {
    let _ = timeout(limit, async {
        io.write_all(answer).await?;
        io.shutdown().await
    })
    .await;
}

/// What the send timeout logs (a write or flush that makes no progress for
/// `server.socket_timeout` fails, which ends the connection and its response bodies).
fn send_timeout_log(remote: SocketAddr, shared: &Arc<Shared>) -> Box<dyn FnOnce() + Send> {
    let log = shared.clone();
    Box::new(move || {
        log.debug(format_args!(
            "{remote} read nothing of its response for server.socket_timeout; connection closed"
        ))
    })
}

/// How long a connection that has not sent its first request yet is kept at stop.
const FIRST_REQUEST_GRACE: std::time::Duration = std::time::Duration::from_secs(1);

/// HTTP/2 (RFC 9113) on any byte stream: the same request path as HTTP/1, stream and
/// header-list limits, connection-specific headers never sent (§8.2.2), and the idle
/// timeout HTTP/1 gets from hyper's header-read timeout: a connection with no request
/// in a handler that moves no bytes for `server.socket_timeout` gets a GOAWAY.
async fn serve_http2<I>(
    io: I,
    prefix: Bytes,
    remote: SocketAddr,
    shared: Arc<Shared>,
    tls: Option<Arc<TlsInfo>>,
) where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let config = &shared.config;
    let idle = shared.socket_timeout();
    let activity = Activity::new();
    // The streams run in this task (streams.rs), not one spawned task each.
    let exec = InConnection::default();
    let mut builder = http2::Builder::new(exec.clone());
    builder
        .timer(TokioTimer::new())
        .max_concurrent_streams(config.http2_max_streams)
        .max_header_list_size(u32::try_from(config.max_header_size).unwrap_or(u32::MAX));
    let svc_shared = shared.clone();
    let svc_activity = activity.clone();
    let svc = service_fn(move |mut req: Request<Incoming>| {
        let in_flight = svc_activity.enter();
        let shared = svc_shared.clone();
        if let Some(info) = &tls {
            req.extensions_mut().insert(info.clone());
        }
        // Boxed where it is made: the request's future is ~2.8 KB, and hyper moves the
        // stream holding it several times (into its stream future, the executor, the
        // stream set) before it first polls it; boxed, each move is a pointer.
        Box::pin(async move {
            let head = req.method() == Method::HEAD;
            let too_many = req.headers().len() > shared.config.max_headers;
            let mut response = if too_many {
                headers_too_large()
            } else {
                host_from_authority(&mut req);
                service::handle(shared, remote, req)
                    .await
                    .unwrap_or_else(|never| match never {})
            };
            strip_connection_headers(response.headers_mut());
            if head {
                // RFC 9110 §9.3.2: no content in a response to HEAD. hyper's HTTP/1 side
                // drops it; its HTTP/2 side would send it. Content-Length stays.
                *response.body_mut() = ResponseBody::full(Bytes::new());
            }
            Ok::<_, std::convert::Infallible>(response.map(|body| Counted::new(body, in_flight)))
        })
    });
    let io = ConnIo::new(prefix, io, activity.clone())
        .with_send_timeout(idle, send_timeout_log(remote, &shared));
    let mut conn = Driven::new(builder.serve_connection(TokioIo::new(io), svc), exec);
    // Polled on every wake-up of the connection (each request and reply): the connection
    // first, then the stop token's future once (to register the task's waker; each
    // further poll takes two locks all connections share), then its flag, then the timer.
    let stopping = shared.shutdown.cancelled();
    tokio::pin!(stopping);
    let mut stop_registered = false;
    let timer = tokio::time::sleep(idle);
    tokio::pin!(timer);
    let stopped = loop {
        // While a handler runs, look again one timeout later rather than spin.
        let now = Instant::now();
        let wake_at = [activity.idle_at(idle), activity.stall_at(idle)]
            .into_iter()
            .filter(|at| *at > now)
            .min()
            .unwrap_or(now + idle);
        timer.as_mut().reset(wake_at);
        let event = std::future::poll_fn(|cx| {
            if Pin::new(&mut conn).poll(cx).is_ready() {
                return Poll::Ready(H2Event::Closed);
            }
            if !stop_registered {
                if stopping.as_mut().poll(cx).is_ready() {
                    return Poll::Ready(H2Event::Stop);
                }
                stop_registered = true;
            } else if shared.shutdown.is_cancelled() {
                return Poll::Ready(H2Event::Stop);
            }
            timer.as_mut().poll(cx).map(|()| H2Event::Timer)
        })
        .await;
        match event {
            H2Event::Closed => return,
            H2Event::Stop => break true,
            H2Event::Timer => {
                if activity.is_stalled(idle) {
                    // A stream waits for the client's flow-control window and nothing
                    // was written for socket_timeout: the client stopped reading.
                    // Dropping the connection drops its response bodies, which stops
                    // (and closes) the iterables feeding them.
                    shared.debug(format_args!(
                        "HTTP/2: {remote} read nothing for server.socket_timeout; connection closed"
                    ));
                    return;
                }
                if activity.is_idle(idle) {
                    break false;
                }
            }
        }
    };
    if stopped {
        conn.conn().graceful_shutdown();
        // The streams in flight finish (stop() bounds them by shutdown_timeout); then the
        // connection gets a moment to flush and close, but a client that never answers
        // the GOAWAY's PING is not waited for.
        tokio::select! {
            _ = &mut conn => return,
            _ = activity.quiet() => {}
        }
        let _ = timeout(DRAIN_GRACE, conn).await;
        return;
    }
    // Idle: GOAWAY, then give the client one more timeout to close its side.
    conn.conn().graceful_shutdown();
    let _ = timeout(idle, conn).await;
}

/// What ended a wait of `serve_http2`.
enum H2Event {
    /// The connection closed.
    Closed,
    /// The server stops.
    Stop,
    /// The idle or stall deadline came: look at the connection.
    Timer,
}

/// RFC 9113 §8.3.1: the target's authority stands in for Host, which HTTP/2 clients
/// usually leave out; applications (and `request.base`) read Host.
fn host_from_authority<B>(req: &mut Request<B>) {
    if req.headers().contains_key(header::HOST) {
        return;
    }
    let Some(authority) = req.uri().authority() else {
        return;
    };
    if let Ok(value) = HeaderValue::from_str(authority.as_str()) {
        req.headers_mut().insert(header::HOST, value);
    }
}

/// RFC 9113 §8.2.2: an HTTP/2 message carries no connection-specific header fields.
fn strip_connection_headers(headers: &mut http::HeaderMap) {
    const NAMES: [&str; 5] = [
        "connection",
        "transfer-encoding",
        "upgrade",
        "keep-alive",
        "proxy-connection",
    ];
    // A response has a few fields and almost never one of these: one look at each name,
    // instead of five hashed removals per response.
    if !headers.keys().any(|name| NAMES.contains(&name.as_str())) {
        return;
    }
    for name in NAMES {
        headers.remove(name);
    }
}

/// 431 for an HTTP/2 request with more than `server.max_headers` fields (RFC 6585 §5).
fn headers_too_large() -> Response<ResponseBody> {
    let mut response = Response::new(ResponseBody::full(Bytes::from_static(
        b"Request Header Fields Too Large\n",
    )));
    *response.status_mut() = StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain;charset=utf-8"),
    );
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connection_headers_are_stripped_for_http2() {
        let mut h = http::HeaderMap::new();
        h.insert(header::CONNECTION, HeaderValue::from_static("close"));
        h.insert("keep-alive", HeaderValue::from_static("timeout=10"));
        h.insert(
            header::TRANSFER_ENCODING,
            HeaderValue::from_static("chunked"),
        );
        h.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/plain"));
        strip_connection_headers(&mut h);
        assert_eq!(h.len(), 1);
        assert!(h.contains_key(header::CONTENT_TYPE));
    }

    #[test]
    fn authority_becomes_host() {
        let mut req = Request::builder()
            .uri("https://example.com:8443/x")
            .body(())
            .unwrap();
        host_from_authority(&mut req);
        assert_eq!(req.headers()[header::HOST], "example.com:8443");
        let mut req = Request::builder()
            .uri("https://a/x")
            .header("host", "b")
            .body(())
            .unwrap();
        host_from_authority(&mut req);
        assert_eq!(req.headers()[header::HOST], "b");
    }

    #[test]
    fn the_preface_is_rfc_9113s() {
        assert_eq!(&PREFACE[..], b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n");
    }
}
