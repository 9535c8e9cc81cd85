//! `_core.Request`: a request as a Python handler sees it. Frozen and immutable (but for
//! what the application changes about its access-log line, `log_field`/`log_line`);
//! every value is converted when (and only when) Python asks for it.

use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict, PyList, PyString, PyTuple};

use std::sync::atomic::{AtomicBool, Ordering};

use parking_lot::Mutex;

use crate::exchange::{joined, LogPatch, RequestBody, RequestData};
use crate::uri;

#[pyclass(name = "Request", module = "cherrypy_rs._core", frozen)]
pub struct PyRequest {
    data: RequestData,
    /// Access-log changes, handed back with the reply (`exchange::LogPatch`).
    log: Mutex<Option<Box<LogPatch>>>,
    /// Whether `log` was ever set (read without the lock on every request).
    log_set: AtomicBool,
}

impl PyRequest {
    pub fn new(data: RequestData) -> Self {
        PyRequest {
            data,
            log: Mutex::new(None),
            log_set: AtomicBool::new(false),
        }
    }

    pub fn data(&self) -> &RequestData {
        &self.data
    }

    /// The access-log changes made so far (taken once the handler has returned).
    pub fn take_log(&self) -> Option<Box<LogPatch>> {
        if !self.log_set.load(Ordering::Acquire) {
            return None;
        }
        self.log.lock().take()
    }
}

#[pymethods]
impl PyRequest {
    /// The request method ("GET").
    #[getter]
    fn method<'py>(&self, py: Python<'py>) -> Bound<'py, PyString> {
        PyString::intern(py, self.data.method.as_str())
    }

    /// "HTTP/1.1", "HTTP/1.0" or "HTTP/2.0".
    #[getter]
    fn protocol<'py>(&self, py: Python<'py>) -> Bound<'py, PyString> {
        PyString::intern(py, self.data.protocol())
    }

    /// "http" or "https".
    #[getter]
    fn scheme<'py>(&self, py: Python<'py>) -> Bound<'py, PyString> {
        PyString::intern(py, self.data.scheme)
    }

    /// The raw (still percent-encoded) request path.
    #[getter]
    fn path(&self) -> &str {
        &self.data.path
    }

    /// The raw query string, without "?".
    #[getter]
    fn query_string(&self) -> &str {
        &self.data.query
    }

    /// The mount point that matched ("" for the root).
    #[getter]
    fn script_name(&self) -> &str {
        &self.data.script_name
    }

    /// The path below the mount point, percent-decoded except for `%2F`.
    #[getter]
    fn path_info(&self) -> String {
        uri::decode_path(self.data.path_info())
    }

    /// Index of the application in the mount table.
    #[getter]
    fn app(&self) -> usize {
        self.data.app
    }

    /// The request body when held in memory (empty for requests without one);
    /// None when it was spooled to a file (see ``body_fd``).
    #[getter]
    fn body<'py>(&self, py: Python<'py>) -> Option<Bound<'py, PyBytes>> {
        match &self.data.body {
            RequestBody::Memory(bytes) => Some(PyBytes::new(py, bytes)),
            RequestBody::Spooled { .. } => None,
        }
    }

    /// A new file descriptor on the spooled body (the caller owns and closes it), or
    /// None when the body is in memory.
    fn body_fd(&self) -> PyResult<Option<i32>> {
        match &self.data.body {
            RequestBody::Memory(_) => Ok(None),
            RequestBody::Spooled { file, .. } => {
                use std::os::fd::IntoRawFd;
                let copy = file.try_clone()?;
                Ok(Some(copy.into_raw_fd()))
            }
        }
    }

    /// (ip, port) of the client.
    #[getter]
    fn remote<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyTuple>> {
        (self.data.remote.ip().to_string(), self.data.remote.port()).into_pyobject(py)
    }

    /// (ip, port) the request arrived on.
    #[getter]
    fn local<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyTuple>> {
        (self.data.local.ip().to_string(), self.data.local.port()).into_pyobject(py)
    }

    /// "GET /path?query HTTP/1.1", as received.
    #[getter]
    fn request_line(&self) -> String {
        let mut line = format!("{} {}", self.data.method, self.data.path);
        if !self.data.query.is_empty() {
            line.push('?');
            line.push_str(&self.data.query);
        }
        line.push(' ');
        line.push_str(self.data.protocol());
        line
    }

    /// Every header as (name, value), names title-cased as CherryPy shows them and values
    /// decoded as ISO-8859-1, in the order received.
    fn header_items<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyList>> {
        let list = PyList::empty(py);
        for (name, value) in self.data.headers.iter() {
            list.append((title_case(name.as_str()), uri::latin1(value.as_bytes())))?;
        }
        Ok(list)
    }

    /// One header's value (repeated fields joined as in ``environ``), or None.
    fn header(&self, name: &str) -> Option<String> {
        let name = http::HeaderName::from_bytes(name.as_bytes()).ok()?;
        self.data
            .headers
            .contains_key(&name)
            .then(|| uri::latin1(&joined(&self.data.headers, &name)))
    }

    /// Replaces one atom of this request's access-log line (CherryPy's default format):
    /// `h` (`remote.name or remote.ip`), `u` (`request.login`; "" for none), `r` (the
    /// request line), `f` (Referer), `a` (User-Agent).
    fn log_field(&self, atom: &str, value: String) -> PyResult<()> {
        let mut guard = self.log.lock();
        self.log_set.store(true, Ordering::Release);
        let patch = guard.get_or_insert_with(Box::default);
        let slot = match atom {
            "h" => &mut patch.remote,
            "u" => &mut patch.login,
            "r" => &mut patch.request_line,
            "f" => &mut patch.referer,
            "a" => &mut patch.user_agent,
            _ => {
                return Err(pyo3::exceptions::PyValueError::new_err(format!(
                    "log_field: unknown atom {atom:?} (h, u, r, f or a)"
                )))
            }
        };
        *slot = Some(value);
        Ok(())
    }

    /// A whole access-log line for this request, formatted by Python (without its
    /// newline); the server writes these lines instead of its own.
    fn log_line(&self, line: String) {
        let mut guard = self.log.lock();
        self.log_set.store(true, Ordering::Release);
        guard.get_or_insert_with(Box::default).lines.push(line);
    }

    /// Number of bytes in the body.
    #[getter]
    fn content_length(&self) -> u64 {
        self.data.body.len()
    }

    /// The CGI part of a PEP 3333 environ, as a new dict: REQUEST_METHOD, SCRIPT_NAME,
    /// PATH_INFO (percent-decoded except %2F, as ISO-8859-1 text), QUERY_STRING,
    /// CONTENT_TYPE, CONTENT_LENGTH, SERVER_NAME, SERVER_PORT, SERVER_PROTOCOL,
    /// REMOTE_ADDR, REMOTE_PORT, HTTP_* (repeated fields joined with ", ", Cookie with
    /// "; ") and, over
    /// TLS, the SSL_* keys of `ssl_environ`. Header
    /// names containing "_" are dropped: they would be indistinguishable from "-" once
    /// in the environ (a header-spoofing vector). The wsgi.* keys are the caller's.
    fn environ<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let env = PyDict::new(py);
        super::wsgi::cgi_environ(py, &self.data, &env)?;
        Ok(env)
    }

    /// A whole PEP 3333 environ for the WSGI gateway, in one call: a copy of `base` (the
    /// keys that never change), the keys of ``environ()``, ``wsgi.url_scheme``,
    /// ``wsgi.errors``, ``wsgi.input`` and, over HTTPS, ``HTTPS=on``.
    fn wsgi_environ<'py>(
        &self,
        py: Python<'py>,
        base: &Bound<'py, PyDict>,
        errors: &Bound<'py, PyAny>,
        input: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyDict>> {
        super::wsgi::wsgi_environ(py, &self.data, base, errors, input)
    }

    /// The connection's TLS details as `SSL_*` environ keys (SSL_PROTOCOL, SSL_CIPHER,
    /// SSL_CLIENT_VERIFY, SSL_CLIENT_S_DN...), or None on plain HTTP.
    fn ssl_environ<'py>(&self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyDict>>> {
        let Some(tls) = &self.data.tls else {
            return Ok(None);
        };
        Ok(Some(super::wsgi::tls_environ(py, tls)?.copy()?))
    }

    fn __repr__(&self) -> String {
        format!("<cherrypy_rs._core.Request {}>", self.request_line())
    }
}

/// "content-type" → "Content-Type" (hyper stores names lower-cased).
fn title_case(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut upper = true;
    for c in name.chars() {
        if upper {
            out.extend(c.to_uppercase());
        } else {
            out.push(c);
        }
        upper = c == '-';
    }
    out
}

#[cfg(test)]
mod tests {
    use super::title_case;

    #[test]
    fn header_names_are_title_cased() {
        assert_eq!(title_case("content-type"), "Content-Type");
        assert_eq!(title_case("x-forwarded-for"), "X-Forwarded-For");
        assert_eq!(title_case("host"), "Host");
    }
}
