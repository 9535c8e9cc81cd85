//! `_core.Server`: the Python handle on the Rust server. Configured once, started by the
//! engine, fed by the Python worker threads that call `run_worker`.

use std::sync::Arc;

use parking_lot::Mutex;
use pyo3::exceptions::{PyOSError, PyRuntimeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::PyDict;

use super::listener::PyListener;
use super::static_files::PyStaticRoute;
use super::worker;
use crate::access_log::{AccessLog, Sink};
use crate::config::{
    defaults, seconds, DefaultValue, ServerConfig, TlsSettings, Trusted, VerifyClient,
    SERVER_DEFAULTS,
};
use crate::errors::Error;
use crate::exchange::Job;
use crate::pool::Pool;
use crate::router::{MountTable, Router};
use crate::server::RunningServer;

impl From<Error> for PyErr {
    fn from(err: Error) -> PyErr {
        match err {
            Error::Bind { .. } | Error::Io { .. } => PyOSError::new_err(err.to_string()),
            Error::Config { .. } | Error::Tls { .. } => PyValueError::new_err(err.to_string()),
            Error::State(_) => PyRuntimeError::new_err(err.to_string()),
        }
    }
}

struct State {
    running: Option<RunningServer>,
    pool: Arc<Pool<Job>>,
    /// The mount table as Python described it; the router is built from it at start
    /// and on every change.
    mounts: MountTable,
    warnings: Vec<String>,
    /// The requests the last stop cut after `shutdown_timeout`.
    cut: Vec<String>,
}

#[pyclass(name = "Server", module = "cherrypy_rs._core", frozen)]
pub struct PyServer {
    config: ServerConfig,
    access_screen: bool,
    access_file: Option<String>,
    /// Called with each batch of access-log lines (the handlers of Python's
    /// `cherrypy.access` logger), on the access log's writer thread.
    access_handler: Option<Py<PyAny>>,
    /// A socket bound by the master process, served instead of binding host:port.
    listener: Option<Py<PyListener>>,
    state: Mutex<State>,
}

/// `_core.SERVER_DEFAULTS`: every `server.*` key with its default (`config::defaults`).
pub fn server_defaults(py: Python<'_>) -> PyResult<Bound<'_, PyDict>> {
    let dict = PyDict::new(py);
    for (key, value) in SERVER_DEFAULTS {
        match value {
            DefaultValue::None => dict.set_item(key, py.None())?,
            DefaultValue::Text(text) => dict.set_item(key, text)?,
            DefaultValue::Int(n) => dict.set_item(key, n)?,
            DefaultValue::Float(x) => dict.set_item(key, x)?,
            DefaultValue::Bool(b) => dict.set_item(key, b)?,
        }
    }
    Ok(dict)
}

fn router(mounts: &MountTable) -> PyResult<Arc<Router>> {
    mounts
        .router()
        .map(Arc::new)
        .map_err(|e| PyValueError::new_err(e.to_string()))
}

#[pymethods]
impl PyServer {
    #[new]
    #[pyo3(signature = (
        host = defaults::SOCKET_HOST.to_string(),
        port = defaults::SOCKET_PORT,
        *,
        socket_timeout = defaults::SOCKET_TIMEOUT,
        max_request_header_size = defaults::MAX_REQUEST_HEADER_SIZE,
        max_request_body_size = defaults::MAX_REQUEST_BODY_SIZE,
        shutdown_timeout = defaults::SHUTDOWN_TIMEOUT,
        thread_pool = defaults::THREAD_POOL,
        accepted_queue_size = defaults::ACCEPTED_QUEUE_SIZE,
        accepted_queue_timeout = defaults::ACCEPTED_QUEUE_TIMEOUT,
        socket_queue_size = defaults::SOCKET_QUEUE_SIZE,
        io_threads = defaults::IO_THREADS,
        max_headers = defaults::MAX_HEADERS,
        access_log_screen = false,
        access_log_file = None,
        ssl_certificate = None,
        ssl_private_key = None,
        ssl_certificate_chain = None,
        ssl_client_ca = None,
        ssl_verify_client = defaults::SSL_VERIFY_CLIENT.to_string(),
        http2 = None,
        http2_max_concurrent_streams = defaults::HTTP2_MAX_CONCURRENT_STREAMS,
        debug_log = false,
        listener = None,
        socket_file = None,
        forwarded_allow_ips = String::new(),
        proxy_protocol = false,
        max_request_line = defaults::MAX_REQUEST_LINE,
        access_log_handler = None,
    ))]
    fn new(
        host: String,
        port: u16,
        socket_timeout: f64,
        max_request_header_size: usize,
        max_request_body_size: u64,
        shutdown_timeout: f64,
        thread_pool: usize,
        accepted_queue_size: usize,
        accepted_queue_timeout: f64,
        socket_queue_size: i32,
        io_threads: usize,
        max_headers: usize,
        access_log_screen: bool,
        access_log_file: Option<String>,
        ssl_certificate: Option<String>,
        ssl_private_key: Option<String>,
        ssl_certificate_chain: Option<String>,
        ssl_client_ca: Option<String>,
        ssl_verify_client: String,
        http2: Option<bool>,
        http2_max_concurrent_streams: u32,
        debug_log: bool,
        listener: Option<Py<PyListener>>,
        socket_file: Option<std::path::PathBuf>,
        forwarded_allow_ips: String,
        proxy_protocol: bool,
        max_request_line: usize,
        access_log_handler: Option<Py<PyAny>>,
    ) -> PyResult<Self> {
        let forwarded = Trusted::parse(&forwarded_allow_ips).map_err(|message| Error::Config {
            key: "server.forwarded_allow_ips",
            message,
        })?;
        let verify_client = VerifyClient::parse(&ssl_verify_client)?;
        let tls = match ssl_certificate {
            Some(certificate) => Some(TlsSettings {
                certificate: certificate.into(),
                private_key: ssl_private_key.map(Into::into),
                chain: ssl_certificate_chain.map(Into::into),
                client_ca: ssl_client_ca.map(Into::into),
                verify_client,
            }),
            None if ssl_private_key.is_some() => {
                return Err(Error::Config {
                    key: "server.ssl_private_key",
                    message: "is set without server.ssl_certificate: set both for HTTPS".into(),
                }
                .into())
            }
            None => None,
        };
        let config = ServerConfig {
            host,
            port,
            socket_file,
            socket_timeout: seconds("server.socket_timeout", socket_timeout)?,
            max_header_size: max_request_header_size,
            max_body_size: max_request_body_size,
            shutdown_timeout: seconds("server.shutdown_timeout", shutdown_timeout)?,
            thread_pool,
            queue_size: accepted_queue_size,
            queue_timeout: seconds("server.accepted_queue_timeout", accepted_queue_timeout)?,
            backlog: socket_queue_size,
            io_threads,
            max_headers,
            max_request_line,
            tls,
            http2,
            http2_max_streams: http2_max_concurrent_streams,
            debug_log,
            forwarded,
            proxy_protocol,
        };
        config.validate()?;
        Ok(PyServer {
            config,
            access_screen: access_log_screen,
            access_file: access_log_file,
            access_handler: access_log_handler,
            listener,
            state: Mutex::new(State {
                running: None,
                pool: Arc::new(Pool::new(accepted_queue_size)),
                mounts: MountTable::default(),
                warnings: Vec::new(),
                cut: Vec::new(),
            }),
        })
    }

    /// The mount table: application `i` serves `script_names[i]` and below; each
    /// `(route, app)` of `statics` serves its prefix (handing what it does not serve to
    /// application `app`, or answering 404 itself when `app` is None); each
    /// `(prefix, app)` of `sections` is a prefix application `app` answers.
    #[pyo3(signature = (script_names, statics = Vec::new(), sections = Vec::new()))]
    fn set_mounts(
        &self,
        script_names: Vec<String>,
        statics: Vec<(Py<PyStaticRoute>, Option<usize>)>,
        sections: Vec<(String, usize)>,
    ) -> PyResult<()> {
        let mounts = MountTable {
            apps: script_names,
            statics: statics
                .into_iter()
                .map(|(route, app)| (route.get().spec.clone(), app))
                .collect(),
            sections,
        };
        let table = router(&mounts)?;
        let mut state = self.state.lock();
        if let Some(running) = &state.running {
            running.set_router(table);
        }
        state.mounts = mounts;
        Ok(())
    }

    /// Binds and starts serving; returns the bound (host, port).
    fn start(&self, py: Python<'_>) -> PyResult<(String, u16)> {
        let mut state = self.state.lock();
        if state.running.is_some() {
            return Err(Error::State("the server is already started").into());
        }
        let table = router(&state.mounts)?;
        let pool = Arc::new(Pool::new(self.config.queue_size));
        let sink = self.access_handler.as_ref().map(|handler| {
            let handler = handler.clone_ref(py);
            let sink: Sink = Box::new(move |batch: &str| {
                Python::attach(|py| {
                    if let Err(err) = handler.call1(py, (batch,)) {
                        // A failing handler must not stop the log: Python prints it.
                        err.print(py);
                    }
                });
            });
            sink
        });
        let access_log = AccessLog::open(self.access_screen, self.access_file.as_deref(), sink)?;
        let config = self.config.clone();
        let inherited = match &self.listener {
            Some(listener) => Some(listener.bind(py).get().duplicate()?),
            None => None,
        };
        let running = py.detach(|| {
            RunningServer::start(config, table, pool.clone(), access_log, inherited.as_ref())
        })?;
        let addr = running.local_addr();
        state.warnings = running.warnings().to_vec();
        state.pool = pool;
        state.running = Some(running);
        Ok((addr.ip().to_string(), addr.port()))
    }

    /// `server.socket_timeout` in seconds, as the server uses it now.
    #[getter]
    fn socket_timeout(&self) -> f64 {
        match &self.state.lock().running {
            Some(running) => running.shared().socket_timeout(),
            None => self.config.socket_timeout,
        }
        .as_secs_f64()
    }

    /// Change `server.socket_timeout` (seconds) while serving, as cheroot's
    /// `httpserver.timeout`: every deadline set from now on uses it (the head and each
    /// body read, keep-alive idleness, a send that makes no progress) until the server
    /// stops; a new start takes the configured value again.
    fn set_socket_timeout(&self, seconds: f64) -> PyResult<()> {
        let timeout = crate::config::seconds("server.socket_timeout", seconds)?;
        match &self.state.lock().running {
            Some(running) => {
                running.shared().set_socket_timeout(timeout);
                Ok(())
            }
            None => Err(Error::State("the server is not running").into()),
        }
    }

    /// The bound (host, port), or None when not started.
    #[getter]
    fn bound_address(&self) -> Option<(String, u16)> {
        let state = self.state.lock();
        state
            .running
            .as_ref()
            .map(|r| (r.local_addr().ip().to_string(), r.local_addr().port()))
    }

    /// Open client connections.
    #[getter]
    fn connections(&self) -> usize {
        self.state
            .lock()
            .running
            .as_ref()
            .map_or(0, |r| r.connections())
    }

    /// Idle keep-alive connections holding no HTTP state or buffers (part of
    /// `connections`).
    #[getter]
    fn parked_connections(&self) -> usize {
        self.state
            .lock()
            .running
            .as_ref()
            .map_or(0, |r| r.parked_connections())
    }

    /// Requests answered since start (static files included; 0 when not started).
    #[getter]
    fn requests_served(&self) -> u64 {
        self.state
            .lock()
            .running
            .as_ref()
            .map_or(0, |r| r.requests_served())
    }

    /// Waits (up to `timeout` seconds, the interpreter released) until every access-log
    /// line of the requests answered so far is written to the screen, the file and the
    /// handlers. True when done (or when the server is not running).
    #[pyo3(signature = (timeout = 10.0))]
    fn flush_access_log(&self, py: Python<'_>, timeout: f64) -> PyResult<bool> {
        let timeout = std::time::Duration::try_from_secs_f64(timeout).map_err(|_| {
            pyo3::exceptions::PyValueError::new_err(
                "flush_access_log: timeout must be a non-negative number of seconds",
            )
        })?;
        // Not under the state lock: the writer may need the interpreter (a sink) while
        // another thread holding it waits for that lock.
        let shared = match self.state.lock().running.as_ref() {
            Some(running) => running.shared(),
            None => return Ok(true),
        };
        Ok(py.detach(|| shared.access_log.flush(timeout)))
    }

    /// Requests waiting for a worker thread.
    #[getter]
    fn queued(&self) -> usize {
        self.state.lock().pool.queued()
    }

    /// Serves requests on the calling Python thread until the server stops. Call it from
    /// each of `server.thread_pool` threads.
    fn run_worker(
        &self,
        py: Python<'_>,
        handler: Bound<'_, PyAny>,
        on_error: Bound<'_, PyAny>,
    ) -> PyResult<()> {
        let pool = self.state.lock().pool.clone();
        worker::run(py, &pool, &handler, &on_error);
        Ok(())
    }

    /// Graceful stop: stop accepting, let in-flight requests finish (up to
    /// `shutdown_timeout`), close connections, then release the worker threads.
    /// Returns False when some connections had to be cut.
    fn stop(&self, py: Python<'_>) -> bool {
        let (running, pool) = {
            let mut state = self.state.lock();
            (state.running.take(), state.pool.clone())
        };
        let stopped = match running {
            Some(mut running) => py.detach(move || running.stop()),
            None => return true,
        };
        pool.close();
        self.state.lock().cut = stopped.cut;
        stopped.drained
    }

    /// The application requests the last `stop()` cut because they were still in a
    /// handler when `server.shutdown_timeout` ran out ("GET /slow from 127.0.0.1:5555").
    #[getter]
    fn cut_requests(&self) -> Vec<String> {
        self.state.lock().cut.clone()
    }

    /// Warnings from the last start or TLS reload (a certificate that expires soon).
    #[getter]
    fn warnings(&self) -> Vec<String> {
        self.state.lock().warnings.clone()
    }

    /// Re-reads the TLS files; new handshakes use them, open connections are not
    /// touched. Returns the warnings; on error (ValueError naming the file) the previous
    /// files stay in use.
    fn reload_tls(&self, py: Python<'_>) -> PyResult<Vec<String>> {
        let mut state = self.state.lock();
        let Some(running) = state.running.as_ref() else {
            return Err(Error::State("the server is not started").into());
        };
        let warnings = py.detach(|| running.reload_tls())?;
        state.warnings = warnings.clone();
        Ok(warnings)
    }

    /// Counters: TLS handshakes done, failed, timed out; plain HTTP sent to the TLS port.
    #[getter]
    fn tls_stats(&self) -> Vec<(&'static str, u64)> {
        self.state
            .lock()
            .running
            .as_ref()
            .map_or_else(Vec::new, |r| r.stats())
    }

    /// Whether the server speaks TLS.
    #[getter]
    fn tls(&self) -> bool {
        self.config.tls.is_some()
    }

    #[getter]
    fn thread_pool(&self) -> usize {
        self.config.thread_pool
    }
}
