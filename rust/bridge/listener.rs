//! `_core.Listener`: a listening TCP socket bound before any runtime or thread exists,
//! so that a master process can bind once and fork workers that all serve it
//! (`_core.Server(..., listener=...)`). The socket is held by Rust, so no raw file
//! descriptor ever crosses the boundary: a forked child owns the same object and the
//! server duplicates it (`try_clone`) when it starts.

use std::net::TcpListener;
use std::os::fd::AsRawFd;

use parking_lot::Mutex;
use pyo3::prelude::*;

use crate::errors::Error;
use crate::server::bind_tcp;

#[pyclass(name = "Listener", module = "cherrypy_rs._core", frozen)]
pub struct PyListener {
    socket: Mutex<Option<TcpListener>>,
}

impl PyListener {
    /// A duplicate of the socket for a server to own, or an error once closed.
    pub fn duplicate(&self) -> Result<TcpListener, Error> {
        match self.socket.lock().as_ref() {
            Some(socket) => socket.try_clone().map_err(|source| Error::Io {
                what: "cannot duplicate the listening socket".into(),
                source,
            }),
            None => Err(Error::State("the listener is closed")),
        }
    }
}

#[pymethods]
impl PyListener {
    /// Binds `host:port` (port 0 picks a free port) with SO_REUSEADDR and listens.
    /// OSError names the host and port (a port in use says so).
    #[new]
    #[pyo3(signature = (host, port, backlog = 1024))]
    fn new(py: Python<'_>, host: String, port: u16, backlog: i32) -> PyResult<Self> {
        let socket = py.detach(|| bind_tcp(&host, port, backlog))?;
        Ok(PyListener {
            socket: Mutex::new(Some(socket)),
        })
    }

    /// The bound (host, port).
    #[getter]
    fn address(&self) -> PyResult<(String, u16)> {
        let guard = self.socket.lock();
        let socket = guard
            .as_ref()
            .ok_or(Error::State("the listener is closed"))?;
        let addr = socket.local_addr().map_err(|source| Error::Io {
            what: "cannot read the bound address".into(),
            source,
        })?;
        Ok((addr.ip().to_string(), addr.port()))
    }

    /// The file descriptor (-1 once closed).
    fn fileno(&self) -> i32 {
        self.socket.lock().as_ref().map_or(-1, |s| s.as_raw_fd())
    }

    /// Closes this process's descriptor (servers started from it keep theirs).
    fn close(&self) {
        self.socket.lock().take();
    }
}
