//! `_core.Listener`: a listening TCP socket bound before any runtime or thread exists,
//! so that a master process can bind once and fork workers that all serve it
//! (`_core.Server(..., listener=...)`). The socket is held by Rust, so no raw file
//! descriptor ever crosses the boundary: a forked child owns the same object and the
//! server duplicates it (`try_clone`) when it starts.

use std::os::fd::AsRawFd;
use std::path::PathBuf;

use parking_lot::Mutex;
use pyo3::prelude::*;

use crate::errors::Error;
use crate::server::{bind_tcp_with, bind_unix, Bound};

#[pyclass(name = "Listener", module = "cherrypy_rs._core", frozen)]
pub struct PyListener {
    socket: Mutex<Option<Bound>>,
    socket_file: Option<PathBuf>,
}

impl PyListener {
    /// A duplicate of the socket for a server to own, or an error once closed.
    pub fn duplicate(&self) -> Result<Bound, Error> {
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
    /// Binds `host:port` (port 0 picks a free port) with SO_REUSEADDR and listens, or
    /// the Unix socket `socket_file` when given. `reuse_port` adds SO_REUSEPORT;
    /// `listen=False` only reserves the port. OSError names the host and port (a port
    /// in use says so) or the file.
    #[new]
    #[pyo3(signature = (
        host, port, backlog = 1024, socket_file = None, *, reuse_port = false, listen = true
    ))]
    fn new(
        py: Python<'_>,
        host: String,
        port: u16,
        backlog: i32,
        socket_file: Option<PathBuf>,
        reuse_port: bool,
        listen: bool,
    ) -> PyResult<Self> {
        let socket = py.detach(|| match &socket_file {
            Some(path) => bind_unix(path, backlog).map(Bound::Unix),
            None => {
                let backlog = listen.then_some(backlog);
                bind_tcp_with(&host, port, backlog, reuse_port).map(Bound::Tcp)
            }
        })?;
        Ok(PyListener {
            socket: Mutex::new(Some(socket)),
            socket_file,
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
        self.socket.lock().as_ref().map_or(-1, |s| match s {
            Bound::Tcp(l) => l.as_raw_fd(),
            Bound::Unix(l) => l.as_raw_fd(),
        })
    }

    /// The Unix socket's path, or None for TCP.
    #[getter]
    fn socket_file(&self) -> Option<PathBuf> {
        self.socket_file.clone()
    }

    /// Closes this process's descriptor (servers started from it keep theirs).
    fn close(&self) {
        self.socket.lock().take();
    }
}
