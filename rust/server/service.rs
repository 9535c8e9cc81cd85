//! The request path inside tokio: framing checks (RFC 9112), routing, reading the body
//! under the size and time limits, the hand-off to a Python worker, and the response.

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{ready, Context, Poll};

use bytes::{Bytes, BytesMut};
use http::header::{self, HeaderValue};
use http::{Method, Request, Response, Version};
use http_body_util::BodyExt;
use hyper::body::Incoming;
use tokio::io::AsyncWriteExt;
use tokio::sync::oneshot;

use super::inflight::Place;
use super::{forwarded, ResponseBody, Shared};
use crate::access_log::Entry;
use crate::errors::{cherrypy_reason, Reject};
use crate::exchange::{Job, LogPatch, Reply, ReplyBody, RequestBody, RequestData, TlsInfo};
use crate::pool::{Claim, SubmitError};
use crate::router::Target;
use crate::static_files::{Outcome, RequestHead, StaticReply};
use crate::uri;

/// The service hyper calls per request; it never fails (errors become responses).
///
/// What can be decided at once is done here, before any await: the framing checks, the
/// route and, for a request without a body to an application, the hand-off to a worker.
/// The future returned holds only what is left: the reply's channel, or a boxed future
/// for a static file or a body still to read. hyper boxes and moves each request's
/// future; an `async fn` holding the whole path was 2.4 KB, copied per request and past
/// the allocator's small-object path.
pub fn handle(shared: Arc<Shared>, remote: SocketAddr, mut req: Request<Incoming>) -> Handled {
    // A trusted proxy's forwarding headers name the client, its scheme and host.
    let host_optional = req.version() == Version::HTTP_2;
    let client = forwarded::apply(
        &shared.config.forwarded,
        shared.config.socket_file.is_some(),
        remote,
        req.headers_mut(),
        host_optional,
    );
    let remote = client.remote;
    let log_line = shared
        .access_log
        .enabled()
        .then(|| Box::new(LogFields::from(&req, remote)));
    // A panic while handling one request answers 500 instead of dropping the
    // connection (Cargo.toml keeps panic = "unwind" for this).
    let begun = std::panic::catch_unwind(AssertUnwindSafe(|| {
        begin(&shared, remote, client.scheme, req)
    }));
    let step = match begun {
        Ok(Ok(step)) => step,
        Ok(Err(reject)) => Step::Done(Some(rejection(reject))),
        Err(_) => Step::Done(Some(rejection(Reject::Internal))),
    };
    Handled {
        shared,
        log_line,
        step,
    }
}

/// A request's future: `handle` has done what it could at once.
pub struct Handled {
    shared: Arc<Shared>,
    log_line: Option<Box<LogFields>>,
    step: Step,
}

/// What is left of a request once `handle` returns.
enum Step {
    /// Answered (taken when polled).
    Done(Option<Response<ResponseBody>>),
    /// With a worker, or queued for one.
    Waiting(Waiting),
    /// A static file, or a body to read first.
    Later(Pin<Box<dyn Future<Output = Result<Response<ResponseBody>, Reject>> + Send>>),
}

impl Future for Handled {
    type Output = Result<Response<ResponseBody>, Infallible>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = &mut *self;
        let step = &mut this.step;
        // A panic answers 500, as one in `handle` does.
        let polled = std::panic::catch_unwind(AssertUnwindSafe(|| match step {
            Step::Done(response) => Poll::Ready(response.take()),
            Step::Waiting(waiting) => Pin::new(waiting).poll(cx).map(Some),
            Step::Later(future) => future
                .as_mut()
                .poll(cx)
                .map(|outcome| Some(outcome.unwrap_or_else(rejection))),
        }))
        .unwrap_or(Poll::Ready(None));
        // None: a panic, or polled again after it answered (hyper does not).
        let response = ready!(polled).unwrap_or_else(|| rejection(Reject::Internal));
        this.step = Step::Done(None);
        if let Some(fields) = this.log_line.take() {
            fields.write(&this.shared, &response);
        }
        this.shared
            .requests
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        Poll::Ready(Ok(response))
    }
}

/// The checks and the route, then the hand-off to a worker when nothing needs awaiting.
fn begin(
    shared: &Arc<Shared>,
    remote: SocketAddr,
    forwarded_scheme: Option<&'static str>,
    mut req: Request<Incoming>,
) -> Result<Step, Reject> {
    check_request(&mut req)?;
    check_request_line(&req, shared.config.max_request_line)?;
    let (mut parts, body) = req.into_parts();
    let announce_keep_alive = parts.version == Version::HTTP_10 && wants_keep_alive(&parts.headers);
    let router = shared.router.read().clone();
    let route = router.route(target_path(&parts.uri)).ok_or(Reject::NoApp)?;
    let (app, script_name) = match route.target {
        Target::App(index) => (*index, route.script_name.to_string()),
        Target::Static(index) => {
            let index = *index;
            let shared = shared.clone();
            return Ok(Step::Later(Box::pin(async move {
                serve_static(
                    &shared,
                    remote,
                    forwarded_scheme,
                    &router,
                    index,
                    parts,
                    body,
                )
                .await
                .map(|mut response| {
                    if announce_keep_alive {
                        keep_alive(&mut response, &shared);
                    }
                    response
                })
            })));
        }
    };
    let head = Head::new(&mut parts, forwarded_scheme, script_name, app, remote);
    if http_body::Body::is_end_stream(&body) {
        let in_flight = shared
            .in_flight
            .enter(&parts.method, &parts.uri, remote)
            .detach();
        let request = head.into_request(parts, RequestBody::Memory(Bytes::new()), shared);
        return submit(shared, request, in_flight, announce_keep_alive).map(Step::Waiting);
    }
    let shared = shared.clone();
    Ok(Step::Later(Box::pin(async move {
        with_body(&shared, head, parts, body, announce_keep_alive).await
    })))
}

/// Reads the body, then hands the request to the pool and awaits its reply.
async fn with_body(
    shared: &Arc<Shared>,
    head: Head,
    parts: http::request::Parts,
    body: Incoming,
    announce_keep_alive: bool,
) -> Result<Response<ResponseBody>, Reject> {
    let in_flight = shared
        .in_flight
        .enter(&parts.method, &parts.uri, head.remote);
    let body = read_body(
        body,
        &parts.headers,
        &shared.config,
        shared.socket_timeout(),
    )
    .await?;
    let request = head.into_request(parts, body, shared);
    let waiting = submit(shared, request, in_flight.detach(), announce_keep_alive)?;
    Ok(waiting.await)
}

/// A static route's file, or the application it falls back to.
async fn serve_static(
    shared: &Arc<Shared>,
    remote: SocketAddr,
    forwarded_scheme: Option<&'static str>,
    router: &crate::router::Router,
    index: usize,
    mut parts: http::request::Parts,
    body: Incoming,
) -> Result<Response<ResponseBody>, Reject> {
    let static_route = router.static_route(index).ok_or(Reject::NoApp)?;
    let path = target_path(&parts.uri);
    let head = RequestHead {
        method: &parts.method,
        version: parts.version,
        headers: &parts.headers,
    };
    let fallback = match static_route.serve(&head, path, parts.uri.query()).await {
        Outcome::Reply(reply) => return Ok(static_response(reply)),
        Outcome::Fallback(fallback) => fallback,
    };
    let head = Head::new(
        &mut parts,
        forwarded_scheme,
        fallback.script_name,
        fallback.app,
        remote,
    );
    // Keep-alive is announced by the caller, for the file and the fallback alike.
    with_body(shared, head, parts, body, false).await
}

/// The path a request is routed by: `OPTIONS *` (RFC 9112 §3.2.4) goes to the root
/// application as "/*", as in CherryPy.
fn target_path(uri: &http::Uri) -> &str {
    match uri.path() {
        "*" => "/*",
        path => path,
    }
}

/// The routed request's own fields, before its body is read.
struct Head {
    path: String,
    query: String,
    scheme: &'static str,
    tls: Option<Arc<TlsInfo>>,
    script_name: String,
    app: usize,
    remote: SocketAddr,
}

impl Head {
    fn new(
        parts: &mut http::request::Parts,
        forwarded_scheme: Option<&'static str>,
        script_name: String,
        app: usize,
        remote: SocketAddr,
    ) -> Self {
        // conn.rs tags requests that arrived over TLS with the connection's details.
        let tls = parts.extensions.remove::<Arc<TlsInfo>>();
        Head {
            path: target_path(&parts.uri).to_string(),
            query: parts.uri.query().unwrap_or("").to_string(),
            // A trusted proxy's scheme first.
            scheme: forwarded_scheme.unwrap_or(if tls.is_some() { "https" } else { "http" }),
            tls,
            script_name,
            app,
            remote,
        }
    }

    fn into_request(
        self,
        parts: http::request::Parts,
        body: RequestBody,
        shared: &Shared,
    ) -> RequestData {
        RequestData {
            method: parts.method,
            version: parts.version,
            path: self.path,
            query: self.query,
            headers: parts.headers,
            body,
            remote: self.remote,
            local: shared.local,
            scheme: self.scheme,
            tls: self.tls,
            script_name: self.script_name,
            app: self.app,
        }
    }
}

/// A request handed to the worker pool, until its reply comes back.
struct Waiting {
    reply: oneshot::Receiver<Reply>,
    claim: Arc<Claim>,
    /// HTTP/2: a request dropped before a worker starts it (its stream reset by the
    /// client, the connection closed) is abandoned, so that it never reaches Python
    /// (rapid reset). An HTTP/1 request is run even when its client has gone, as cheroot
    /// runs it (CherryPy's test_tools testEndRequestOnDrop counts on its on_end_request).
    abandon_on_drop: bool,
    announce_keep_alive: bool,
    /// The request's entry among those in flight (named when a stop cuts them).
    in_flight: Option<Place>,
    shared: Arc<Shared>,
}

impl Future for Waiting {
    type Output = Response<ResponseBody>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = &mut *self;
        let reply = ready!(Pin::new(&mut this.reply).poll(cx));
        this.leave();
        Poll::Ready(match reply {
            Ok(reply) => {
                let mut response = into_response(reply);
                if this.announce_keep_alive {
                    keep_alive(&mut response, &this.shared);
                }
                response
            }
            // Taken out of the queue unstarted: it waited too long.
            Err(_) if this.claim.abandoned() => rejection(Reject::Overloaded),
            Err(_) => rejection(Reject::Internal),
        })
    }
}

impl Waiting {
    fn leave(&mut self) {
        if let Some(place) = self.in_flight.take() {
            self.shared.in_flight.leave(place);
        }
    }
}

impl Drop for Waiting {
    fn drop(&mut self) {
        self.leave();
        if self.abandon_on_drop {
            // A compare-and-swap: a started job is left alone.
            self.claim.abandon();
        }
    }
}

/// Queues the request for a Python worker; its reply comes through `Waiting`. 503 when
/// the queue is full, or (by `watch_queue`) when no worker starts it within
/// `accepted_queue_timeout`. Once a worker has started it, the reply is awaited as long
/// as the handler takes, as CherryPy does.
fn submit(
    shared: &Arc<Shared>,
    request: RequestData,
    in_flight: Place,
    announce_keep_alive: bool,
) -> Result<Waiting, Reject> {
    let (reply_tx, reply_rx) = oneshot::channel();
    let claim = Claim::new();
    let abandon_on_drop = request.version == http::Version::HTTP_2;
    let waiting = Waiting {
        reply: reply_rx,
        claim: claim.clone(),
        abandon_on_drop,
        announce_keep_alive,
        in_flight: Some(in_flight),
        shared: shared.clone(),
    };
    let job = Job {
        request,
        claim,
        reply: reply_tx,
        send_timeout: shared.socket_timeout(),
    };
    match shared.pool.submit(job) {
        Ok(_) => Ok(waiting),
        Err(SubmitError::Full) => Err(Reject::Overloaded),
        Err(SubmitError::Closed) => Err(Reject::ShuttingDown),
    }
}

/// RFC 2068 §19.7.1: an HTTP/1.0 client that asked for keep-alive gets
/// `Connection: Keep-Alive` and how long the connection stays open, as cheroot answers
/// it — unless the response says `Connection` itself, or its end can only be told by
/// closing (a stream without Content-Length: HTTP/1.0 has no chunked coding).
fn keep_alive(response: &mut Response<ResponseBody>, shared: &Shared) {
    let headers = response.headers();
    if headers.contains_key(header::CONNECTION) {
        return;
    }
    let status = response.status().as_u16();
    let bodiless = status < 200 || matches!(status, 204 | 205 | 304);
    let delimited = response.body().exact_len().is_some()
        || headers.contains_key(header::CONTENT_LENGTH)
        || bodiless;
    if !delimited {
        // The close ends the body. Marked HTTP/1.0 (as hyper writes it anyway), so that
        // hyper does not announce keep-alive on a connection it is going to close.
        *response.version_mut() = Version::HTTP_10;
        return;
    }
    let timeout = format!("timeout={}", shared.socket_timeout().as_secs().max(1));
    let headers = response.headers_mut();
    headers.insert(header::CONNECTION, HeaderValue::from_static("Keep-Alive"));
    if let Ok(value) = HeaderValue::from_str(&timeout) {
        headers.insert("keep-alive", value);
    }
}

/// A response the static file service produced without Python.
fn static_response(reply: StaticReply) -> Response<ResponseBody> {
    let mut response = Response::new(ResponseBody::Static(reply.body));
    *response.status_mut() = reply.status;
    *response.headers_mut() = reply.headers;
    if let Some(phrase) = cherrypy_reason(reply.status) {
        response
            .extensions_mut()
            .insert(hyper::ext::ReasonPhrase::from_static(phrase.as_bytes()));
    }
    response
}

/// Whether an HTTP/1.0 request asked to keep the connection open.
fn wants_keep_alive(headers: &http::HeaderMap) -> bool {
    headers
        .get_all(header::CONNECTION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|token| token.trim().eq_ignore_ascii_case("keep-alive"))
}

/// RFC 9112 §3.2 (request target and Host) and §6.1 (Transfer-Encoding) checks that
/// hyper leaves to us. An absolute-form target's authority replaces the Host header
/// (RFC 9112 §3.2.2: the server MUST ignore Host then), so `request.base`, `HTTP_HOST`
/// and `SERVER_NAME` name the target's host.
pub(crate) fn check_request<B>(req: &mut Request<B>) -> Result<(), Reject> {
    if req.method() == Method::CONNECT {
        return Err(Reject::Connect);
    }
    let version = req.version();
    let headers = req.headers();
    let mut hosts = 0;
    for host in headers.get_all(header::HOST) {
        if !uri::valid_host(host.as_bytes()) {
            return Err(Reject::BadHost);
        }
        hosts += 1;
    }
    if version == Version::HTTP_11 && hosts != 1 {
        return Err(Reject::BadHost);
    }
    check_transfer_encoding(headers)?;
    if version != Version::HTTP_2 {
        let uri = req.uri();
        match (uri.scheme(), uri.authority()) {
            (None, None) => {}
            // Authority-form ("GET example.com:80") is for CONNECT only (§3.2.3).
            (None, Some(_)) => return Err(Reject::BadTarget),
            (Some(_), authority) => {
                let authority = authority.map_or("", |a| a.as_str());
                if !uri::valid_host(authority.as_bytes()) {
                    return Err(Reject::BadTarget);
                }
                let value = HeaderValue::from_str(authority).map_err(|_| Reject::BadTarget)?;
                req.headers_mut().insert(header::HOST, value);
            }
        }
    }
    Ok(())
}

/// RFC 9112 §6.1 and RFC 9110 §5.6.1: the codings of every Transfer-Encoding line, empty
/// list elements ignored; `chunked` must be the last and only once (400 otherwise), and
/// any other coding is one we do not implement (501).
fn check_transfer_encoding(headers: &http::HeaderMap) -> Result<(), Reject> {
    let mut lines = headers.get_all(header::TRANSFER_ENCODING).iter().peekable();
    if lines.peek().is_none() {
        return Ok(());
    }
    let mut chunked = 0;
    let mut other = false;
    let mut last_is_chunked = false;
    for line in lines {
        let text = line.to_str().map_err(|_| Reject::BadTransferEncoding)?;
        for coding in text.split(',').map(str::trim).filter(|c| !c.is_empty()) {
            last_is_chunked = coding.eq_ignore_ascii_case("chunked");
            if last_is_chunked {
                chunked += 1;
            } else {
                other = true;
            }
        }
    }
    if chunked != 1 || !last_is_chunked {
        // No coding at all, chunked twice, or chunked not last (hyper has refused the
        // last case already: the body length cannot be determined).
        return Err(Reject::BadTransferEncoding);
    }
    if other {
        return Err(Reject::UnsupportedTransferEncoding);
    }
    // With Content-Length too, hyper has already dropped Content-Length and will close
    // the connection after the response (RFC 9112 §6.3).
    Ok(())
}

/// RFC 9112 §3: a request line longer than the server wants to parse is answered 414.
/// `limit` 0: no limit of its own (the head's size limit still applies).
fn check_request_line<B>(req: &Request<B>, limit: usize) -> Result<(), Reject> {
    if limit == 0 {
        return Ok(());
    }
    // method SP request-target SP HTTP-version (8 bytes)
    let target = target_len(req.uri());
    if req.method().as_str().len() + target + 10 > limit {
        return Err(Reject::UriTooLong);
    }
    Ok(())
}

/// The length of `uri` as written (`Display`), without writing it: every HTTP/2 request
/// carries a scheme and an authority, and formatting them was an allocation per request.
fn target_len(uri: &http::Uri) -> usize {
    // As `Display` writes it: scheme "://" authority path ["?" query].
    uri.scheme().map_or(0, |s| s.as_str().len() + 3)
        + uri.authority().map_or(0, |a| a.as_str().len())
        + uri.path().len()
        + uri.query().map_or(0, |q| q.len() + 1)
}

/// Bodies larger than this are spooled to a temporary file instead of held in memory.
pub const SPOOL_THRESHOLD: usize = 1 << 20;

/// Reads the whole body, refusing it as soon as it is known to be too large, and
/// giving each read `socket_timeout` (a slow body costs a socket, never a Python thread).
/// Past `SPOOL_THRESHOLD` bytes the body goes to an unlinked temporary file, written off
/// the tokio threads.
async fn read_body(
    mut body: Incoming,
    headers: &http::HeaderMap,
    config: &crate::config::ServerConfig,
    socket_timeout: std::time::Duration,
) -> Result<RequestBody, Reject> {
    use http_body::Body as _;
    if body.is_end_stream() {
        return Ok(RequestBody::Memory(Bytes::new()));
    }
    let limit = if config.max_body_size == 0 {
        u64::MAX
    } else {
        config.max_body_size
    };
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit) {
        // Refused before `100 Continue` is sent: the client need not send the body.
        return Err(Reject::BodyTooLarge);
    }
    let mut first: Option<Bytes> = None;
    let mut buf: Option<BytesMut> = None;
    let mut spool: Option<tokio::fs::File> = None;
    let mut received: u64 = 0;
    loop {
        let frame = match tokio::time::timeout(socket_timeout, body.frame()).await {
            Err(_) => return Err(Reject::BodyTimeout),
            Ok(None) => break,
            Ok(Some(Err(_))) => return Err(Reject::BadBody),
            Ok(Some(Ok(frame))) => frame,
        };
        let Ok(data) = frame.into_data() else {
            continue;
        };
        received += data.len() as u64;
        if received > limit {
            return Err(Reject::BodyTooLarge);
        }
        if let Some(file) = spool.as_mut() {
            file.write_all(&data).await.map_err(|_| Reject::Internal)?;
            continue;
        }
        if first.is_none() && buf.is_none() {
            first = Some(data);
            continue;
        }
        let pending = buf.get_or_insert_with(|| {
            let head = first.take().unwrap_or_default();
            let hint = declared.unwrap_or(received).min(SPOOL_THRESHOLD as u64) as usize;
            let mut b = BytesMut::with_capacity(hint.max(head.len() + data.len()));
            b.extend_from_slice(&head);
            b
        });
        pending.extend_from_slice(&data);
        if pending.len() > SPOOL_THRESHOLD {
            let mut file = temp_file().await?;
            file.write_all(pending)
                .await
                .map_err(|_| Reject::Internal)?;
            buf = None;
            spool = Some(file);
        }
    }
    if let Some(mut file) = spool {
        file.flush().await.map_err(|_| Reject::Internal)?;
        let file = file.into_std().await;
        return Ok(RequestBody::Spooled {
            file,
            len: received,
        });
    }
    Ok(RequestBody::Memory(match (first, buf) {
        (_, Some(b)) => b.freeze(),
        (Some(one), None) => one,
        (None, None) => Bytes::new(),
    }))
}

/// An anonymous temporary file, created on the blocking pool.
async fn temp_file() -> Result<tokio::fs::File, Reject> {
    tokio::task::spawn_blocking(tempfile::tempfile)
        .await
        .map_err(|_| Reject::Internal)?
        .map(tokio::fs::File::from_std)
        .map_err(|_| Reject::Internal)
}

/// How long a queued request waits on busy workers that make no progress before an idle
/// worker is woken for it (see `pool`); also how often the queue is looked at while
/// requests wait in it.
const STALL_PATIENCE: std::time::Duration = std::time::Duration::from_millis(2);

/// The server's one watcher of the worker queue: while requests wait in it, every
/// `STALL_PATIENCE` it answers 503 to those that waited `queue_timeout` (dropping a job
/// drops its reply channel) and wakes an idle worker if the busy ones are blocked; while
/// the queue is empty it sleeps. Runs until the runtime is dropped.
pub async fn watch_queue(pool: Arc<crate::pool::Pool<Job>>, queue_timeout: std::time::Duration) {
    loop {
        pool.queued_job().await;
        loop {
            tokio::time::sleep(STALL_PATIENCE).await;
            for job in pool.expired(queue_timeout) {
                // Out of the queue, so no worker can start it: the claim is ours.
                job.claim.abandon();
            }
            pool.wake_if_stalled(STALL_PATIENCE);
            if pool.queued() == 0 {
                break;
            }
        }
    }
}

/// Turns the application's reply into hyper's response. Framing headers are hyper's to
/// write: a Content-Length for a whole body is recomputed, Transfer-Encoding dropped.
fn into_response(reply: Reply) -> Response<ResponseBody> {
    let body = match reply.body {
        ReplyBody::Full(bytes) => ResponseBody::full(bytes),
        ReplyBody::Stream(rx) => {
            let declared = reply
                .headers
                .iter()
                .find(|(name, _)| name == header::CONTENT_LENGTH)
                .and_then(|(_, v)| v.to_str().ok()?.trim().parse().ok());
            ResponseBody::stream(rx, declared)
        }
        ReplyBody::Static(body) => ResponseBody::Static(body),
        // A body that fails at once: hyper drops the unwritten head with it.
        ReplyBody::Dropped => ResponseBody::Failing,
    };
    // A static body's Content-Length is decided with it (and stays for HEAD, whose body
    // is empty); another whole body's is recomputed by hyper.
    let whole = body.exact_len().is_some() && !matches!(body, ResponseBody::Static(_));
    let mut response = Response::new(body);
    *response.status_mut() = reply.status;
    let headers = response.headers_mut();
    headers.reserve(reply.headers.len() + 2);
    for (name, value) in reply.headers {
        if name == header::TRANSFER_ENCODING || (whole && name == header::CONTENT_LENGTH) {
            continue;
        }
        headers.append(name, value);
    }
    // Without a phrase hyper writes "<none>" for codes it does not know (499): send an
    // empty one instead, as CherryPy does ("HTTP/1.1 499 ").
    let reason = reply
        .reason
        .or_else(|| match cherrypy_reason(reply.status) {
            Some(phrase) => Some(Bytes::from_static(phrase.as_bytes())),
            None => reply.status.canonical_reason().is_none().then(Bytes::new),
        });
    if let Some(reason) = reason {
        if let Ok(phrase) = hyper::ext::ReasonPhrase::try_from(reason) {
            response.extensions_mut().insert(phrase);
        }
    }
    if let Some(log) = reply.log {
        // Read back by `LogFields::write` once the response is complete.
        response.extensions_mut().insert(log);
    }
    response
}

/// A plain response for a request that never reached an application.
fn rejection(reject: Reject) -> Response<ResponseBody> {
    let mut response = Response::new(ResponseBody::full(Bytes::from_static(
        reject.body().as_bytes(),
    )));
    *response.status_mut() = reject.status();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(reject.content_type()),
    );
    if reject.closes_connection() {
        headers.insert(header::CONNECTION, HeaderValue::from_static("close"));
    }
    if matches!(reject, Reject::Overloaded | Reject::ShuttingDown) {
        headers.insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
    }
    if reject == Reject::Connect {
        // RFC 9110 §15.5.6: a 405 lists what the target supports; every method but
        // CONNECT is routed to the applications.
        headers.insert(
            header::ALLOW,
            HeaderValue::from_static("GET, HEAD, POST, PUT, DELETE, OPTIONS, TRACE, PATCH"),
        );
    }
    if let Some(reason) = reject.reason() {
        response
            .extensions_mut()
            .insert(hyper::ext::ReasonPhrase::from_static(reason.as_bytes()));
    }
    response
}

/// What the access log needs from the request, taken before the request is consumed.
struct LogFields {
    remote: SocketAddr,
    request_line: String,
    referer: Option<HeaderValue>,
    user_agent: Option<HeaderValue>,
}

impl LogFields {
    fn from<B>(req: &Request<B>, remote: SocketAddr) -> Self {
        let target = req
            .uri()
            .path_and_query()
            .map(|pq| pq.as_str())
            .unwrap_or("/");
        let protocol = match req.version() {
            Version::HTTP_10 => "HTTP/1.0",
            Version::HTTP_2 => "HTTP/2.0",
            _ => "HTTP/1.1",
        };
        LogFields {
            remote,
            request_line: format!("{} {} {}", req.method(), target, protocol),
            referer: req.headers().get(header::REFERER).cloned(),
            user_agent: req.headers().get(header::USER_AGENT).cloned(),
        }
    }

    fn write(self, shared: &Shared, response: &Response<ResponseBody>) {
        let patch = response.extensions().get::<Box<LogPatch>>();
        if let Some(patch) = patch.filter(|p| !p.lines.is_empty()) {
            // Python formatted the line(s) itself (a custom access_log_format).
            shared.access_log.log_lines(&patch.lines);
            return;
        }
        let length = response
            .headers()
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse().ok())
            .or_else(|| response.body().exact_len());
        let ip = self.remote.ip().to_string();
        let field = |changed: Option<&String>, parsed: &'_ [u8]| -> Vec<u8> {
            changed.map_or_else(|| parsed.to_vec(), |v| v.as_bytes().to_vec())
        };
        match patch {
            None => shared.access_log.log(&Entry {
                remote: ip.as_bytes(),
                login: b"",
                request_line: self.request_line.as_bytes(),
                status: response.status().as_u16(),
                length,
                referer: self.referer.as_ref().map_or(b"", |v| v.as_bytes()),
                user_agent: self.user_agent.as_ref().map_or(b"", |v| v.as_bytes()),
            }),
            Some(p) => {
                // The application changed some atoms (request.login, remote.name...).
                let remote = field(p.remote.as_ref(), ip.as_bytes());
                let request_line = field(p.request_line.as_ref(), self.request_line.as_bytes());
                let referer = field(
                    p.referer.as_ref(),
                    self.referer.as_ref().map_or(b"", |v| v.as_bytes()),
                );
                let user_agent = field(
                    p.user_agent.as_ref(),
                    self.user_agent.as_ref().map_or(b"", |v| v.as_bytes()),
                );
                shared.access_log.log(&Entry {
                    remote: &remote,
                    login: p.login.as_ref().map_or(b"", |v| v.as_bytes()),
                    request_line: &request_line,
                    status: response.status().as_u16(),
                    length,
                    referer: &referer,
                    user_agent: &user_agent,
                });
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn target_len_is_the_written_length() {
        for target in [
            "/",
            "/a/b?x=1&y",
            "/?",
            "*",
            "http://127.0.0.1:8080/",
            "https://example.com/p?q",
            "http://example.com",
            "example.com:443",
            "https://[::1]:8443/x",
        ] {
            let uri: http::Uri = target.parse().unwrap();
            assert_eq!(target_len(&uri), uri.to_string().len(), "{target}");
        }
    }

    fn req(version: Version, headers: &[(&str, &str)]) -> Request<()> {
        let mut b = Request::builder().uri("/").version(version);
        for (k, v) in headers {
            b = b.header(*k, *v);
        }
        b.body(()).unwrap()
    }

    #[test]
    fn http11_needs_exactly_one_host() {
        assert_eq!(
            check_request(&mut req(Version::HTTP_11, &[])),
            Err(Reject::BadHost)
        );
        assert_eq!(
            check_request(&mut req(Version::HTTP_11, &[("host", "a"), ("host", "b")])),
            Err(Reject::BadHost)
        );
        assert_eq!(
            check_request(&mut req(Version::HTTP_11, &[("host", "a")])),
            Ok(())
        );
        assert_eq!(check_request(&mut req(Version::HTTP_10, &[])), Ok(()));
    }

    #[test]
    fn absolute_form_replaces_host_and_authority_form_is_refused() {
        let mut r = Request::builder()
            .uri("http://target.test:8080/a?b")
            .header("host", "header.test")
            .body(())
            .unwrap();
        assert_eq!(check_request(&mut r), Ok(()));
        assert_eq!(r.headers()[header::HOST], "target.test:8080");
        assert_eq!(r.uri().path(), "/a");
        let mut r = Request::builder()
            .uri("http://user@target.test/")
            .header("host", "h")
            .body(())
            .unwrap();
        assert_eq!(check_request(&mut r), Err(Reject::BadTarget));
        let mut r = Request::builder()
            .uri("target.test:80")
            .header("host", "h")
            .body(())
            .unwrap();
        assert_eq!(check_request(&mut r), Err(Reject::BadTarget));
        let mut r = Request::builder()
            .method(Method::CONNECT)
            .uri("target.test:443")
            .header("host", "h")
            .body(())
            .unwrap();
        assert_eq!(check_request(&mut r), Err(Reject::Connect));
        assert_eq!(
            check_request(&mut req(Version::HTTP_11, &[("host", "a b")])),
            Err(Reject::BadHost)
        );
        assert_eq!(
            check_request(&mut req(Version::HTTP_10, &[("host", "a/b")])),
            Err(Reject::BadHost)
        );
    }

    #[test]
    fn only_a_single_chunked_coding_is_accepted() {
        let h = ("host", "a");
        assert_eq!(
            check_request(&mut req(
                Version::HTTP_11,
                &[h, ("transfer-encoding", "chunked")]
            )),
            Ok(())
        );
        assert_eq!(
            check_request(&mut req(
                Version::HTTP_11,
                &[h, ("transfer-encoding", "gzip, chunked")]
            )),
            Err(Reject::UnsupportedTransferEncoding)
        );
        assert_eq!(
            check_request(&mut req(
                Version::HTTP_11,
                &[
                    h,
                    ("transfer-encoding", "chunked"),
                    ("transfer-encoding", "chunked")
                ]
            )),
            Err(Reject::BadTransferEncoding)
        );
        assert_eq!(
            check_request(&mut req(
                Version::HTTP_11,
                &[h, ("transfer-encoding", "chunked, chunked")]
            )),
            Err(Reject::BadTransferEncoding)
        );
        assert_eq!(
            check_request(&mut req(
                Version::HTTP_11,
                &[h, ("transfer-encoding", " ,chunked")]
            )),
            Ok(())
        );
        assert_eq!(
            check_request(&mut req(Version::HTTP_11, &[h, ("transfer-encoding", ",")])),
            Err(Reject::BadTransferEncoding)
        );
    }
}
