//! `_core.Request`: a request as a Python handler sees it. Frozen and immutable; every
//! value is converted when (and only when) Python asks for it.

use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyList, PyString, PyTuple};

use crate::exchange::{RequestBody, RequestData};
use crate::uri;

#[pyclass(name = "Request", module = "cherrypy_rs._core", frozen)]
pub struct PyRequest {
    data: RequestData,
}

impl PyRequest {
    pub fn new(data: RequestData) -> Self {
        PyRequest { data }
    }
}

#[pymethods]
impl PyRequest {
    /// The request method ("GET").
    #[getter]
    fn method<'py>(&self, py: Python<'py>) -> Bound<'py, PyString> {
        PyString::intern(py, self.data.method.as_str())
    }

    /// "HTTP/1.1" or "HTTP/1.0".
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

    /// One header's value (the first, if repeated), or None.
    fn header(&self, name: &str) -> Option<String> {
        self.data
            .headers
            .get(name)
            .map(|v| uri::latin1(v.as_bytes()))
    }

    /// Number of bytes in the body.
    #[getter]
    fn content_length(&self) -> u64 {
        self.data.body.len()
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
