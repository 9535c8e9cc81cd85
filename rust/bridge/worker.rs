//! The life of a Python worker thread: wait (detached from the interpreter) for a job,
//! call the Python handler once, turn its result into a `Reply` on this thread, and, for a
//! streamed body, feed the chunks through a bounded channel, calling `close()` at the end
//! whatever happened.

use bytes::Bytes;
use http::{HeaderName, HeaderValue, StatusCode};
use std::panic::AssertUnwindSafe;

use pyo3::exceptions::{
    PyKeyboardInterrupt, PyRuntimeError, PySystemExit, PyTimeoutError, PyTypeError, PyValueError,
};
use pyo3::prelude::*;
use pyo3::pybacked::PyBackedBytes;
use pyo3::types::{PyBytes, PyList, PyString, PyTuple};

use super::body_sender::{self, BodySender, NotSent};
use super::file_body::PyFileBody;
use super::request::PyRequest;
use super::static_files::PyStaticFile;
use super::wsgi::PyWsgiReply;
use crate::exchange::{Job, LogPatch, Reply, ReplyBody};
use crate::pool::{Pool, Worker};

/// Bytes per read when Rust sends a file body.
const FILE_CHUNK: usize = 256 * 1024;

/// Runs jobs until the pool closes. `handler(request)` returns
/// `(status, reason, headers, body)`; `on_error(message, exception)` logs failures.
pub fn run(
    py: Python<'_>,
    pool: &Pool<Job>,
    handler: &Bound<'_, PyAny>,
    on_error: &Bound<'_, PyAny>,
) {
    let worker: Worker<Job> = pool.worker();
    loop {
        // A worker that just finished takes the next queued job without parking.
        let job = match pool.try_next() {
            Some(job) => job,
            None => match py.detach(|| pool.next(&worker)) {
                Some(job) => job,
                None => return,
            },
        };
        if !job.claim.start() {
            // The client was told 503 already.
            continue;
        }
        // A Rust panic fails this request (its reply channel is dropped: the client gets
        // a 500), never the worker thread.
        let outcome =
            std::panic::catch_unwind(AssertUnwindSafe(|| run_job(py, job, handler, on_error)));
        if outcome.is_err() {
            report(
                py,
                on_error,
                "internal error (a panic) while handling a request",
                PyRuntimeError::new_err("panic in cherrypy_rs._core; see stderr"),
            );
        }
    }
}

fn run_job(py: Python<'_>, job: Job, handler: &Bound<'_, PyAny>, on_error: &Bound<'_, PyAny>) {
    let Job {
        request,
        reply,
        send_timeout,
        ..
    } = job;
    let request = match Py::new(py, PyRequest::new(request)) {
        Ok(request) => request,
        Err(err) => {
            report(
                py,
                on_error,
                "the request could not be handed to Python",
                err,
            );
            let _ = reply.send(internal_error());
            return;
        }
    };
    let result = handler
        .call1((request.clone_ref(py),))
        .and_then(|result| convert(&result))
        .map(|(mut head, body)| {
            // What the application changed about its access-log line, if anything.
            head.log = request.get().take_log();
            (head, body)
        });
    match result {
        Ok((head, Body::Full(bytes))) => {
            let _ = reply.send(head.with_body(ReplyBody::Full(bytes)));
        }
        Ok((head, Body::Static(file))) => {
            let file = file.get();
            let request = request.get();
            let answer = py.detach(|| static_reply(file, request, head));
            let _ = reply.send(answer);
        }
        Ok((head, Body::File(file_body))) => {
            let (tx, rx) = body_sender::channel(send_timeout);
            let client_waiting = reply.send(head.with_body(ReplyBody::Stream(rx))).is_ok();
            let body = file_body.get();
            if client_waiting {
                match py.detach(|| send_file(body, &tx)) {
                    Ok(Ok(())) | Ok(Err(NotSent::Gone)) => {}
                    Ok(Err(NotSent::Stalled)) => report_stalled(py, on_error, &tx),
                    Err(err) => {
                        report(
                            py,
                            on_error,
                            "the file response body could not be read",
                            err.into(),
                        );
                        tx.abort();
                    }
                }
            }
            close(py, body.closer.bind(py), on_error);
        }
        Ok((head, Body::Iter(iterable))) => {
            let (tx, rx) = body_sender::channel(send_timeout);
            let client_waiting = reply.send(head.with_body(ReplyBody::Stream(rx))).is_ok();
            if client_waiting {
                stream(py, &iterable, &tx, on_error);
            }
            close(py, &iterable, on_error);
        }
        Err(err) => {
            // KeyboardInterrupt/SystemExit from a handler: as cheroot, no response (the
            // connection is dropped) and the server is interrupted (`on_error` sets
            // `httpserver.interrupt`, which exits the engine).
            let interrupt = err.is_instance_of::<PyKeyboardInterrupt>(py)
                || err.is_instance_of::<PySystemExit>(py);
            report(py, on_error, "the response could not be sent", err);
            let _ = reply.send(if interrupt {
                dropped()
            } else {
                internal_error()
            });
        }
    }
}

fn dropped() -> Reply {
    Reply {
        status: StatusCode::INTERNAL_SERVER_ERROR,
        reason: None,
        headers: Vec::new(),
        body: ReplyBody::Dropped,
        log: None,
    }
}

/// A `StaticFile` body: the file is opened and the request's validators and ranges are
/// evaluated here, off the interpreter (`static_files::AppFile`); the body itself is
/// read by the tokio side.
fn static_reply(file: &PyStaticFile, request: &PyRequest, head: Head) -> Reply {
    let data = request.data();
    let req = crate::static_files::RequestHead {
        method: &data.method,
        version: data.version,
        headers: &data.headers,
    };
    let mut answer =
        file.file
            .reply_parts_as(&req, head.status, head.headers, file.part_type.clone());
    answer.body.track(file.progress.clone());
    Reply {
        status: answer.status,
        reason: if answer.status_kept {
            head.reason
        } else {
            None
        },
        headers: answer.headers,
        body: ReplyBody::Static(answer.body),
        log: head.log,
    }
}

/// Pulls chunks one at a time (the interpreter is held only while Python produces one)
/// until the iterable ends, fails, or the client goes away.
fn stream(
    py: Python<'_>,
    iterable: &Bound<'_, PyAny>,
    tx: &BodySender,
    on_error: &Bound<'_, PyAny>,
) {
    let iterator = match iterable.try_iter() {
        Ok(it) => it,
        Err(err) => {
            report(py, on_error, "the response body is not iterable", err);
            tx.abort();
            return;
        }
    };
    for item in iterator {
        let chunk = item.and_then(|chunk| chunk_bytes(&chunk));
        match chunk {
            Ok(bytes) if bytes.is_empty() => continue,
            Ok(bytes) => {
                match py.detach(|| tx.send(bytes)) {
                    Ok(()) => {}
                    // The client went away; `close()` follows.
                    Err(NotSent::Gone) => return,
                    Err(NotSent::Stalled) => return report_stalled(py, on_error, tx),
                }
            }
            Err(err) => {
                report(py, on_error, "the streamed response body failed", err);
                tx.abort();
                return;
            }
        }
    }
}

/// Reads the file in large chunks and sends them (called with the interpreter released).
/// Stops early when the client goes away or stops reading (the inner result).
fn send_file(body: &PyFileBody, tx: &BodySender) -> std::io::Result<Result<(), NotSent>> {
    use std::io::{Read, Seek, SeekFrom};
    let mut file = body.reader()?;
    file.seek(SeekFrom::Start(body.offset))?;
    let mut remaining = body.length.unwrap_or(u64::MAX);
    while remaining > 0 {
        let want = remaining.min(FILE_CHUNK as u64) as usize;
        let mut buf = vec![0u8; want];
        let n = file.read(&mut buf)?;
        if n == 0 {
            // Shorter than declared: hyper sees the missing bytes and closes the
            // connection, so the client can tell the body is incomplete.
            break;
        }
        buf.truncate(n);
        remaining -= n as u64;
        if let Err(not_sent) = tx.send(Bytes::from(buf)) {
            return Ok(Err(not_sent));
        }
    }
    Ok(Ok(()))
}

/// One line for a body given up on because the client stopped reading it.
fn report_stalled(py: Python<'_>, on_error: &Bound<'_, PyAny>, tx: &BodySender) {
    let message = format!(
        "the client read none of the streamed response body for {:.1}s \
         (server.socket_timeout): the response was cut short",
        tx.limit().as_secs_f64()
    );
    report(
        py,
        on_error,
        "the streamed response body was abandoned",
        PyTimeoutError::new_err(message),
    );
}

/// PEP 3333 and CherryPy both promise `close()` on the body once it is done with.
fn close(py: Python<'_>, iterable: &Bound<'_, PyAny>, on_error: &Bound<'_, PyAny>) {
    if let Ok(close) = iterable.getattr(pyo3::intern!(py, "close")) {
        if let Err(err) = close.call0() {
            report(py, on_error, "close() on the response body failed", err);
        }
    }
}

fn report(py: Python<'_>, on_error: &Bound<'_, PyAny>, message: &str, err: PyErr) {
    if let Err(log_err) = on_error.call1((message, err.into_value(py))) {
        // The logger itself failed: say so where an operator will still see it.
        log_err.print(py);
    }
}

fn internal_error() -> Reply {
    Reply {
        status: StatusCode::INTERNAL_SERVER_ERROR,
        reason: None,
        headers: vec![(
            http::header::CONTENT_TYPE,
            HeaderValue::from_static("text/plain;charset=utf-8"),
        )],
        body: ReplyBody::Full(Bytes::from_static(b"Internal Server Error\n")),
        log: None,
    }
}

/// The status line and headers, before the body is known to be whole or streamed.
struct Head {
    status: StatusCode,
    reason: Option<Bytes>,
    headers: Vec<(HeaderName, HeaderValue)>,
    log: Option<Box<LogPatch>>,
}

impl Head {
    fn with_body(self, body: ReplyBody) -> Reply {
        Reply {
            status: self.status,
            reason: self.reason,
            headers: self.headers,
            body,
            log: self.log,
        }
    }
}

enum Body<'py> {
    Full(Bytes),
    File(Bound<'py, PyFileBody>),
    Static(Bound<'py, PyStaticFile>),
    Iter(Bound<'py, PyAny>),
}

/// Reads the handler's `(status, reason, headers, body)`, or the WSGI gateway's reply
/// made in Rust (`wsgi::PyWsgiReply`).
fn convert<'py>(result: &Bound<'py, PyAny>) -> PyResult<(Head, Body<'py>)> {
    if let Ok(prepared) = result.cast_exact::<PyWsgiReply>() {
        let reply = prepared
            .get()
            .take()
            .ok_or_else(|| PyValueError::new_err("this WSGI reply was sent already"))?;
        return Ok((
            Head {
                status: reply.status,
                reason: reply.reason,
                headers: reply.headers,
                log: None,
            },
            Body::Full(reply.body),
        ));
    }
    let tuple = result.cast::<PyTuple>().map_err(|_| {
        PyTypeError::new_err("the handler must return (status, reason, headers, body)")
    })?;
    if tuple.len() != 4 {
        return Err(PyTypeError::new_err(
            "the handler must return (status, reason, headers, body)",
        ));
    }
    let code: u16 = tuple.get_item(0)?.extract()?;
    let status = StatusCode::from_u16(code)
        .map_err(|_| PyValueError::new_err(format!("{code} is not a valid HTTP status")))?;
    let reason_obj = tuple.get_item(1)?;
    let reason = if reason_obj.is_none() {
        None
    } else {
        let text: String = reason_obj.extract()?;
        if text.bytes().any(|b| b == b'\r' || b == b'\n' || b == 0) {
            return Err(PyValueError::new_err(
                "the reason phrase must not contain CR, LF or NUL",
            ));
        }
        Some(Bytes::from(
            latin1_bytes(&text, "the reason phrase")?.into_owned(),
        ))
    };
    let headers = convert_headers(&tuple.get_item(2)?)?;
    let body_obj = tuple.get_item(3)?;
    let body = if body_obj.is_none() {
        Body::Full(Bytes::new())
    } else if let Ok(bytes) = body_obj.cast::<PyBytes>() {
        Body::Full(shared_bytes(bytes))
    } else if let Ok(file) = body_obj.cast::<PyStaticFile>() {
        Body::Static(file.clone())
    } else if let Ok(file) = body_obj.cast::<PyFileBody>() {
        Body::File(file.clone())
    } else {
        Body::Iter(body_obj)
    };
    Ok((
        Head {
            status,
            reason,
            headers,
            log: None,
        },
        body,
    ))
}

fn convert_headers(obj: &Bound<'_, PyAny>) -> PyResult<Vec<(HeaderName, HeaderValue)>> {
    let list = obj
        .cast::<PyList>()
        .map_err(|_| PyTypeError::new_err("response headers must be a list of (name, value)"))?;
    let mut headers = Vec::with_capacity(list.len());
    for item in list.iter() {
        let pair = item.cast::<PyTuple>().map_err(|_| {
            PyTypeError::new_err("each response header must be a (name, value) tuple")
        })?;
        if pair.len() != 2 {
            return Err(PyTypeError::new_err(
                "each response header must be a (name, value) tuple",
            ));
        }
        let name_obj = pair.get_item(0)?;
        let name_str = name_obj.cast::<PyString>()?.to_str()?;
        let name = HeaderName::from_bytes(name_str.as_bytes()).map_err(|_| {
            PyValueError::new_err(format!("{name_str:?} is not a valid header name"))
        })?;
        let value_obj = pair.get_item(1)?;
        let value_str = value_obj.cast::<PyString>()?.to_str()?;
        // HeaderValue refuses CR, LF and NUL: no response splitting.
        let value = HeaderValue::from_bytes(&latin1_bytes(value_str, name_str)?).map_err(|_| {
            PyValueError::new_err(format!(
                "the value of header {name_str:?} contains a control character (CR, LF or NUL)"
            ))
        })?;
        headers.push((name, value));
    }
    Ok(headers)
}

/// Header text as bytes: ASCII as is (borrowed: the usual case copies once, into the
/// header value), other code points below 256 as ISO-8859-1.
fn latin1_bytes<'a>(text: &'a str, what: &str) -> PyResult<std::borrow::Cow<'a, [u8]>> {
    if text.is_ascii() {
        return Ok(std::borrow::Cow::Borrowed(text.as_bytes()));
    }
    text.chars()
        .map(|c| u8::try_from(u32::from(c)).ok())
        .collect::<Option<Vec<u8>>>()
        .map(std::borrow::Cow::Owned)
        .ok_or_else(|| {
            PyValueError::new_err(format!(
                "{what} must be encodable as ISO-8859-1 (use RFC 2047 for other text)"
            ))
        })
}

/// Below this size a body is copied: cheaper than holding (and later releasing, under
/// the interpreter) a reference to the Python object.
const SHARE_ABOVE: usize = 64 * 1024;

/// The bytes of a Python `bytes` object for hyper. A large one is not copied: `Bytes`
/// keeps the (immutable) object alive until hyper has written it, so a 64 MB body costs
/// 64 MB, not twice that. The reference is released the next time a worker re-enters
/// the interpreter (pyo3's deferred reference counting) if dropped on a tokio thread.
pub(super) fn shared_bytes(bytes: &Bound<'_, PyBytes>) -> Bytes {
    if bytes.as_bytes().len() < SHARE_ABOVE {
        return Bytes::copy_from_slice(bytes.as_bytes());
    }
    Bytes::from_owner(PyBackedBytes::from(bytes.clone()))
}

/// A chunk of a streamed body: bytes as is, str as UTF-8 (CherryPy encodes str chunks).
fn chunk_bytes(chunk: &Bound<'_, PyAny>) -> PyResult<Bytes> {
    if let Ok(bytes) = chunk.cast::<PyBytes>() {
        return Ok(shared_bytes(bytes));
    }
    if let Ok(text) = chunk.cast::<PyString>() {
        return Ok(Bytes::copy_from_slice(text.to_str()?.as_bytes()));
    }
    Err(PyTypeError::new_err(format!(
        "a response body chunk must be bytes or str, not {}",
        chunk.get_type().name()?
    )))
}
