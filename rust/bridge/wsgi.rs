//! The Rust half of the WSGI gateway (PEP 3333; the Python half is `cherrypy_rs/wsgi.py`):
//! the environ built in one pass (the gateway's constant keys copied, then the CGI keys,
//! their names interned once), `_core.StartResponse` (the `start_response` callable and
//! its `write`), and the common answer — a list of `bytes` after a valid head — turned
//! into the worker's reply without a Python call (`StartResponse.reply_list`). Anything
//! else, valid or not, goes back to the Python gateway, which answers as before.

use std::cell::RefCell;

use bytes::{Bytes, BytesMut};
use http::{HeaderName, HeaderValue, StatusCode};
use parking_lot::Mutex;
use pyo3::intern;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict, PyList, PyString, PyTuple};

use crate::exchange::{joined, RequestData, TlsInfo};
use crate::uri;

pyo3::import_exception!(cherrypy_rs.wsgi, WSGIError);

/// The CGI keys of a PEP 3333 environ for `d`, set in `env` (see `Request.environ`).
pub fn cgi_environ(py: Python<'_>, d: &RequestData, env: &Bound<'_, PyDict>) -> PyResult<()> {
    env.set_item(intern!(py, "REQUEST_METHOD"), method_text(py, &d.method))?;
    env.set_item(intern!(py, "SCRIPT_NAME"), &d.script_name)?;
    let path_info = uri::decode_path_bytes(d.path_info());
    env.set_item(intern!(py, "PATH_INFO"), text(py, &path_info))?;
    env.set_item(intern!(py, "QUERY_STRING"), &d.query)?;
    env.set_item(intern!(py, "SERVER_PROTOCOL"), protocol_text(py, d))?;
    // SERVER_NAME from the first Host value; HTTP_HOST is that value's text when it is
    // the only one (several are joined below, as any repeated field).
    let mut host_values = d.headers.get_all(http::header::HOST).iter();
    let first_host = host_values.next();
    let single_host = first_host.is_some() && host_values.next().is_none();
    let (host, local_ip, local_port, remote_ip) = ADDRESS_TEXTS.with_borrow_mut(|texts| {
        let host = first_host.map(|first| texts.host(py, first));
        let (local_ip, local_port) = texts.local(py, d.local);
        (
            host,
            local_ip,
            local_port,
            texts.remote_ip(py, d.remote.ip()),
        )
    });
    let (host_text, server_name) = match host {
        Some((whole, name)) => (single_host.then_some(whole), name),
        None => (None, local_ip),
    };
    env.set_item(intern!(py, "SERVER_NAME"), server_name)?;
    env.set_item(intern!(py, "SERVER_PORT"), local_port)?;
    env.set_item(intern!(py, "REMOTE_ADDR"), remote_ip)?;
    env.set_item(intern!(py, "REMOTE_PORT"), port_text(py, d.remote.port()))?;
    let mut content_length = false;
    for name in d.headers.keys() {
        let key = name.as_str();
        if key.contains('_') {
            continue;
        }
        let value = match &host_text {
            // The one Host value, as text already.
            Some(whole) if name == http::header::HOST => whole.clone(),
            _ => {
                let mut values = d.headers.get_all(name).iter();
                match (values.next(), values.next()) {
                    (Some(one), None) => text(py, one.as_bytes()),
                    _ => text(py, &joined(&d.headers, name)),
                }
            }
        };
        if key == "content-length" {
            content_length = true;
        }
        env.set_item(cgi_key(py, key), value)?;
    }
    if let Some(tls) = &d.tls {
        env.update(tls_environ(py, tls)?.as_mapping())?;
    }
    if !content_length && d.body.len() > 0 {
        // A chunked body, already read whole: its length is known now.
        env.set_item(intern!(py, "CONTENT_LENGTH"), d.body.len().to_string())?;
    }
    Ok(())
}

/// `REQUEST_METHOD`: the usual methods as strings made once, others as new strings.
fn method_text<'py>(py: Python<'py>, method: &http::Method) -> Bound<'py, PyString> {
    let known = match *method {
        http::Method::GET => intern!(py, "GET"),
        http::Method::HEAD => intern!(py, "HEAD"),
        http::Method::POST => intern!(py, "POST"),
        http::Method::PUT => intern!(py, "PUT"),
        http::Method::DELETE => intern!(py, "DELETE"),
        http::Method::PATCH => intern!(py, "PATCH"),
        http::Method::OPTIONS => intern!(py, "OPTIONS"),
        _ => return PyString::new(py, method.as_str()),
    };
    known.clone()
}

/// `SERVER_PROTOCOL`, made once per version.
fn protocol_text<'py>(py: Python<'py>, d: &RequestData) -> Bound<'py, PyString> {
    let known = match d.version {
        http::Version::HTTP_11 => intern!(py, "HTTP/1.1"),
        http::Version::HTTP_10 => intern!(py, "HTTP/1.0"),
        http::Version::HTTP_2 => intern!(py, "HTTP/2.0"),
        _ => return PyString::new(py, d.protocol()),
    };
    known.clone()
}

/// `wsgi.url_scheme`, made once per scheme.
fn scheme_text<'py>(py: Python<'py>, scheme: &str) -> Bound<'py, PyString> {
    match scheme {
        "https" => intern!(py, "https").clone(),
        "http" => intern!(py, "http").clone(),
        other => PyString::new(py, other),
    }
}

/// A port number as text, without the formatting machinery (`REMOTE_PORT` differs on
/// every connection).
fn port_text(py: Python<'_>, port: u16) -> Bound<'_, PyString> {
    let mut digits = [0u8; 5];
    let mut start = digits.len();
    let mut rest = port;
    loop {
        start -= 1;
        digits[start] = b'0' + (rest % 10) as u8;
        rest /= 10;
        if rest == 0 {
            break;
        }
    }
    // ASCII digits only.
    PyString::new(py, std::str::from_utf8(&digits[start..]).unwrap_or("0"))
}

thread_local! {
    /// The strings of the last Host value, listener address and client address this
    /// worker thread put in an environ.
    static ADDRESS_TEXTS: RefCell<AddressTexts> = const { RefCell::new(AddressTexts::new()) };
}

/// Environ strings that repeat from request to request, kept per worker thread: most
/// requests name the same host, reach the same listener and come from the same few
/// addresses (a proxy, a load balancer), and decoding or formatting them each time was
/// ~2,000 instructions per request. One of each is kept; a different value replaces it.
struct AddressTexts {
    /// A Host value: itself as text (`HTTP_HOST`) and without its port (`SERVER_NAME`).
    host: Option<(HeaderValue, Py<PyString>, Py<PyString>)>,
    /// The listener's address: its IP (`SERVER_NAME` without Host) and port (`SERVER_PORT`).
    local: Option<(std::net::SocketAddr, Py<PyString>, Py<PyString>)>,
    /// A client's IP (`REMOTE_ADDR`).
    remote_ip: Option<(std::net::IpAddr, Py<PyString>)>,
}

impl AddressTexts {
    const fn new() -> Self {
        AddressTexts {
            host: None,
            local: None,
            remote_ip: None,
        }
    }

    fn host<'py>(
        &mut self,
        py: Python<'py>,
        value: &HeaderValue,
    ) -> (Bound<'py, PyString>, Bound<'py, PyString>) {
        match &self.host {
            Some((kept, whole, name)) if kept == value => {
                (whole.bind(py).clone(), name.bind(py).clone())
            }
            _ => {
                let whole = text(py, value.as_bytes());
                let latin = uri::latin1(value.as_bytes());
                let name = PyString::new(py, host_without_port(&latin));
                self.host = Some((value.clone(), whole.clone().unbind(), name.clone().unbind()));
                (whole, name)
            }
        }
    }

    fn local<'py>(
        &mut self,
        py: Python<'py>,
        addr: std::net::SocketAddr,
    ) -> (Bound<'py, PyString>, Bound<'py, PyString>) {
        match &self.local {
            Some((kept, ip, port)) if *kept == addr => (ip.bind(py).clone(), port.bind(py).clone()),
            _ => {
                let ip = PyString::new(py, &addr.ip().to_string());
                let port = port_text(py, addr.port());
                self.local = Some((addr, ip.clone().unbind(), port.clone().unbind()));
                (ip, port)
            }
        }
    }

    fn remote_ip<'py>(&mut self, py: Python<'py>, addr: std::net::IpAddr) -> Bound<'py, PyString> {
        match &self.remote_ip {
            Some((kept, ip)) if *kept == addr => ip.bind(py).clone(),
            _ => {
                let ip = PyString::new(py, &addr.to_string());
                self.remote_ip = Some((addr, ip.clone().unbind()));
                ip
            }
        }
    }
}

/// How many distinct `SSL_*` key sets a worker thread keeps as dicts (`tls_environ`).
const TLS_ENVIRONS_KEPT: usize = 8;

/// A connection's `SSL_*` keys and values, and the dict made of them.
type TlsEnviron = (Vec<(String, String)>, Py<PyDict>);

thread_local! {
    /// The `SSL_*` keys of recent connections as dicts, by their values: connections with
    /// the same protocol, cipher and (no) client certificate share one.
    static TLS_ENVIRONS: RefCell<Vec<TlsEnviron>> = const { RefCell::new(Vec::new()) };
}

/// The `SSL_*` environ keys of a TLS connection as a dict to copy from (never to hand
/// out: callers copy or merge it). Made once per distinct set of values on each worker
/// thread, not per request: setting the keys one by one (each name interned, each value a
/// new string) was ~1 µs per request on the Python thread.
pub fn tls_environ<'py>(py: Python<'py>, tls: &TlsInfo) -> PyResult<Bound<'py, PyDict>> {
    let found = TLS_ENVIRONS.with_borrow(|kept| {
        kept.iter()
            .find(|(values, _)| *values == tls.environ)
            .map(|(_, dict)| dict.bind(py).clone())
    });
    if let Some(dict) = found {
        return Ok(dict);
    }
    let dict = PyDict::new(py);
    for (key, value) in &tls.environ {
        dict.set_item(PyString::intern(py, key), value)?;
    }
    TLS_ENVIRONS.with_borrow_mut(|kept| {
        if kept.len() == TLS_ENVIRONS_KEPT {
            kept.remove(0);
        }
        kept.push((tls.environ.clone(), dict.clone().unbind()));
    });
    Ok(dict)
}

/// Header bytes as text: ASCII as is, other bytes as ISO-8859-1 (PEP 3333).
fn text<'py>(py: Python<'py>, bytes: &[u8]) -> Bound<'py, PyString> {
    match std::str::from_utf8(bytes) {
        Ok(ascii) if bytes.is_ascii() => PyString::new(py, ascii),
        _ => PyString::new(py, &uri::latin1(bytes)),
    }
}

/// The environ key of a (lower-case) header name: `CONTENT_TYPE`, `CONTENT_LENGTH`, or
/// `HTTP_` and the name upper-cased with `-` as `_`. The usual ones are interned once.
fn cgi_key<'py>(py: Python<'py>, name: &str) -> Bound<'py, PyString> {
    let known = match name {
        "host" => intern!(py, "HTTP_HOST"),
        "content-type" => intern!(py, "CONTENT_TYPE"),
        "content-length" => intern!(py, "CONTENT_LENGTH"),
        "user-agent" => intern!(py, "HTTP_USER_AGENT"),
        "accept" => intern!(py, "HTTP_ACCEPT"),
        "accept-encoding" => intern!(py, "HTTP_ACCEPT_ENCODING"),
        "accept-language" => intern!(py, "HTTP_ACCEPT_LANGUAGE"),
        "connection" => intern!(py, "HTTP_CONNECTION"),
        "cookie" => intern!(py, "HTTP_COOKIE"),
        "referer" => intern!(py, "HTTP_REFERER"),
        "authorization" => intern!(py, "HTTP_AUTHORIZATION"),
        "cache-control" => intern!(py, "HTTP_CACHE_CONTROL"),
        "origin" => intern!(py, "HTTP_ORIGIN"),
        "if-none-match" => intern!(py, "HTTP_IF_NONE_MATCH"),
        "if-modified-since" => intern!(py, "HTTP_IF_MODIFIED_SINCE"),
        "x-forwarded-for" => intern!(py, "HTTP_X_FORWARDED_FOR"),
        "x-forwarded-proto" => intern!(py, "HTTP_X_FORWARDED_PROTO"),
        "x-requested-with" => intern!(py, "HTTP_X_REQUESTED_WITH"),
        _ => {
            let mut cgi = String::with_capacity(name.len() + 5);
            cgi.push_str("HTTP_");
            cgi.extend(name.chars().map(|c| match c {
                '-' => '_',
                c => c.to_ascii_uppercase(),
            }));
            return PyString::intern(py, &cgi);
        }
    };
    known.clone()
}

/// "example.com:8080" → "example.com", "[::1]:80" → "[::1]".
pub fn host_without_port(host: &str) -> &str {
    if let Some(end) = host.rfind(']') {
        return &host[..=end];
    }
    match host.rfind(':') {
        Some(i) => &host[..i],
        None => host,
    }
}

/// A whole environ: a copy of `base` (the gateway's constant keys), the CGI keys, and
/// the per-request `wsgi.*` keys.
pub fn wsgi_environ<'py>(
    py: Python<'py>,
    d: &RequestData,
    base: &Bound<'py, PyDict>,
    errors: &Bound<'py, PyAny>,
    input: &Bound<'py, PyAny>,
) -> PyResult<Bound<'py, PyDict>> {
    let env = base.copy()?;
    cgi_environ(py, d, &env)?;
    env.set_item(intern!(py, "wsgi.url_scheme"), scheme_text(py, d.scheme))?;
    env.set_item(intern!(py, "wsgi.errors"), errors)?;
    if d.scheme == "https" {
        env.set_item(intern!(py, "HTTPS"), intern!(py, "on"))?;
    }
    env.set_item(intern!(py, "wsgi.input"), input)?;
    Ok(env)
}

/// What `start_response` was given, and what `write` was.
#[derive(Default)]
struct Started {
    status: Option<Py<PyAny>>,
    headers: Option<Py<PyAny>>,
    sent: bool,
    written: Vec<Py<PyAny>>,
}

/// The `start_response` callable of one request (PEP 3333), with its `write`.
#[pyclass(name = "StartResponse", module = "cherrypy_rs._core", frozen)]
pub struct PyStartResponse {
    state: Mutex<Started>,
}

#[pymethods]
impl PyStartResponse {
    #[new]
    fn new() -> Self {
        PyStartResponse {
            state: Mutex::new(Started::default()),
        }
    }

    /// `start_response(status, headers, exc_info=None)`: records the head, returns
    /// `write`. A second call needs `exc_info`; once the head is sent, `exc_info` is
    /// re-raised.
    #[pyo3(signature = (status, headers, exc_info = None))]
    fn __call__<'py>(
        slf: &Bound<'py, Self>,
        status: &Bound<'py, PyAny>,
        headers: &Bound<'py, PyAny>,
        exc_info: Option<&Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let py = slf.py();
        // Python code (`__bool__`, `__repr__`, a `__del__`) never runs under the lock.
        let with_exc_info = match exc_info {
            Some(info) => info.is_truthy()?,
            None => false,
        };
        let (sent, started) = {
            let state = slf.get().state.lock();
            (state.sent, state.status.is_some())
        };
        if !with_exc_info && started {
            return Err(WSGIError::new_err(
                "start_response() called a second time without exc_info",
            ));
        }
        if with_exc_info && sent {
            // PEP 3333: too late to change the status: re-raise for the server.
            let (error, traceback) = exc_info
                .map(|info| Ok::<_, PyErr>((info.get_item(1)?, info.get_item(2)?)))
                .transpose()?
                .ok_or_else(|| WSGIError::new_err("exc_info is missing"))?;
            let error = error.call_method1(intern!(py, "with_traceback"), (traceback,))?;
            return Err(PyErr::from_value(error));
        }
        if !status.is_instance_of::<PyString>() {
            return Err(WSGIError::new_err(format!(
                "the status must be a str like '200 OK', not {}",
                status.repr()?
            )));
        }
        if !headers.is_exact_instance_of::<PyList>() {
            return Err(WSGIError::new_err(format!(
                "the headers must be a list of (name, value), not {}",
                headers.get_type().str()?
            )));
        }
        let replaced = {
            let mut state = slf.get().state.lock();
            (
                state.status.replace(status.clone().unbind()),
                state.headers.replace(headers.clone().unbind()),
            )
        };
        drop(replaced);
        slf.getattr(intern!(py, "write"))
    }

    /// The legacy `write()` callable: the data precedes the returned iterable.
    fn write(&self, data: &Bound<'_, PyAny>) -> PyResult<()> {
        if self.state.lock().status.is_none() {
            return Err(WSGIError::new_err("write() called before start_response()"));
        }
        if !data.is_instance_of::<PyBytes>() {
            return Err(WSGIError::new_err(format!(
                "write() takes bytes, not {}",
                data.get_type().name()?
            )));
        }
        self.state.lock().written.push(data.clone().unbind());
        Ok(())
    }

    /// The status given to `start_response`, or None before it is called.
    #[getter]
    fn status(&self, py: Python<'_>) -> Option<Py<PyAny>> {
        self.state.lock().status.as_ref().map(|s| s.clone_ref(py))
    }

    /// The header list given to `start_response` (empty before it is called).
    #[getter]
    fn headers<'py>(&self, py: Python<'py>) -> Bound<'py, PyAny> {
        match &self.state.lock().headers {
            Some(headers) => headers.bind(py).clone(),
            None => PyList::empty(py).into_any(),
        }
    }

    /// What `write()` was given so far, as a new list.
    #[getter]
    fn written<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyList>> {
        PyList::new(py, self.state.lock().written.iter().map(|w| w.bind(py)))
    }

    /// Whether the head has gone out (a later `exc_info` is re-raised).
    #[getter]
    fn sent(&self) -> bool {
        self.state.lock().sent
    }

    #[setter]
    fn set_sent(&self, sent: bool) {
        self.state.lock().sent = sent;
    }

    /// The reply for an application that returned `result`, a list, when the head is
    /// valid, every item is `bytes`, nothing was written with `write()`, and a declared
    /// Content-Length matches; None otherwise (the Python gateway then answers, or says
    /// what is wrong).
    fn reply_list(
        &self,
        py: Python<'_>,
        result: &Bound<'_, PyList>,
    ) -> PyResult<Option<PyWsgiReply>> {
        let state = self.state.lock();
        if !state.written.is_empty() {
            return Ok(None);
        }
        let (Some(status), Some(headers)) = (&state.status, &state.headers) else {
            return Ok(None);
        };
        let Some((status, reason)) = parse_status(status.bind(py))? else {
            return Ok(None);
        };
        let Some((headers, declared)) = convert_headers(headers.bind(py))? else {
            return Ok(None);
        };
        let Some(body) = join_bytes(result) else {
            return Ok(None);
        };
        if declared.is_some_and(|n| n != body.len() as u64) {
            return Ok(None);
        }
        Ok(Some(PyWsgiReply {
            reply: Mutex::new(Some(WsgiReply {
                status,
                reason,
                headers,
                body,
            })),
        }))
    }
}

/// "200 OK" → 200, with a reason phrase only where hyper would not write the same one.
/// None for anything the Python gateway should judge (it raises, or keeps the phrase).
fn parse_status(status: &Bound<'_, PyAny>) -> PyResult<Option<(StatusCode, Option<Bytes>)>> {
    let Ok(text) = status.cast::<PyString>() else {
        return Ok(None);
    };
    let text = text.to_str()?;
    let (code, reason) = text.split_once(' ').unwrap_or((text, ""));
    if code.len() != 3 || !code.bytes().all(|b| b.is_ascii_digit()) {
        return Ok(None);
    }
    let Ok(status) = code.parse::<u16>().map(StatusCode::from_u16) else {
        return Ok(None);
    };
    let Ok(status) = status else {
        return Ok(None);
    };
    // The same phrase hyper writes for the code: the wire is the same with or without.
    if Some(reason) != status.canonical_reason() {
        return Ok(None);
    }
    Ok(Some((status, None)))
}

/// RFC 9110 §7.6.1 hop-by-hop headers: an application must not set them (PEP 3333).
/// Also `_core.HOP_BY_HOP`, which the Python gateway checks.
pub const HOP_BY_HOP: [&str; 9] = [
    "connection",
    "keep-alive",
    "proxy-authenticate",
    "proxy-authorization",
    "te",
    "trailer",
    "trailers",
    "transfer-encoding",
    "upgrade",
];

type Headers = Vec<(HeaderName, HeaderValue)>;

/// The header list as hyper's, and the declared Content-Length; None at the first item
/// the Python gateway should judge (not a pair of str, hop-by-hop, a Content-Length that
/// is not a number, a name or value hyper refuses, text beyond ISO-8859-1).
fn convert_headers(list: &Bound<'_, PyAny>) -> PyResult<Option<(Headers, Option<u64>)>> {
    let Ok(list) = list.cast::<PyList>() else {
        return Ok(None);
    };
    let mut headers = Vec::with_capacity(list.len());
    let mut declared = None;
    for item in list.iter() {
        let Ok(pair) = item.cast_exact::<PyTuple>() else {
            return Ok(None);
        };
        if pair.len() != 2 {
            return Ok(None);
        }
        let (name, value) = (pair.get_item(0)?, pair.get_item(1)?);
        let (Ok(name), Ok(value)) = (
            name.cast_exact::<PyString>(),
            value.cast_exact::<PyString>(),
        ) else {
            return Ok(None);
        };
        let (name, value) = (name.to_str()?, value.to_str()?);
        if !value.is_ascii() {
            return Ok(None);
        }
        let Ok(name) = HeaderName::from_bytes(name.as_bytes()) else {
            return Ok(None);
        };
        if HOP_BY_HOP.contains(&name.as_str()) {
            return Ok(None);
        }
        if name == http::header::CONTENT_LENGTH {
            let Ok(n) = value.trim().parse::<u64>() else {
                return Ok(None);
            };
            declared = Some(n);
        }
        let Ok(value) = HeaderValue::from_str(value) else {
            return Ok(None);
        };
        headers.push((name, value));
    }
    Ok(Some((headers, declared)))
}

/// The items of `list` joined, if every one is exactly `bytes`.
fn join_bytes(list: &Bound<'_, PyList>) -> Option<Bytes> {
    if list.len() == 1 {
        let item = list.get_item(0).ok()?;
        let one = item.cast_exact::<PyBytes>().ok()?;
        // A large body is not copied (see `worker::shared_bytes`).
        return Some(super::worker::shared_bytes(one));
    }
    let mut body = BytesMut::new();
    for item in list.iter() {
        let chunk = item.cast_exact::<PyBytes>().ok()?;
        body.extend_from_slice(chunk.as_bytes());
    }
    Some(body.freeze())
}

/// A reply for the worker (status, headers, whole body), made by `reply_list`.
pub struct WsgiReply {
    pub status: StatusCode,
    pub reason: Option<Bytes>,
    pub headers: Headers,
    pub body: Bytes,
}

/// `StartResponse.reply_list`'s answer, which the worker takes as is.
#[pyclass(name = "WSGIReply", module = "cherrypy_rs._core", frozen)]
pub struct PyWsgiReply {
    reply: Mutex<Option<WsgiReply>>,
}

impl PyWsgiReply {
    /// The reply, once.
    pub fn take(&self) -> Option<WsgiReply> {
        self.reply.lock().take()
    }
}

#[pymethods]
impl PyWsgiReply {
    fn __repr__(&self) -> String {
        match &*self.reply.lock() {
            Some(reply) => format!("<cherrypy_rs._core.WSGIReply {}>", reply.status),
            None => "<cherrypy_rs._core.WSGIReply (taken)>".to_string(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::host_without_port;

    #[test]
    fn server_name_drops_the_port() {
        assert_eq!(host_without_port("example.com:8080"), "example.com");
        assert_eq!(host_without_port("example.com"), "example.com");
        assert_eq!(host_without_port("[::1]:80"), "[::1]");
        assert_eq!(host_without_port("[::1]"), "[::1]");
    }
}
