//! The HTTP server: a tokio runtime on its own threads, one listener, and the graceful
//! stop (stop accepting, let in-flight requests finish up to `shutdown_timeout`, close).
//! Nothing here touches Python: requests for applications go to the worker pool as
//! plain data (`exchange::Job`).

mod body;
mod conn;
pub(crate) mod forwarded;
pub(crate) mod head_error;
mod idle;
mod inflight;
mod io;
mod listener;
pub(crate) mod proxy_protocol;
pub(crate) mod service;
mod streams;

pub use forwarded::Trusted;
pub use listener::{bind_tcp_with, bind_unix, Bound};

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use parking_lot::RwLock;
use tokio::runtime::Runtime;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

pub use body::ResponseBody;

use crate::access_log::AccessLog;
use crate::config::ServerConfig;
use crate::errors::Error;
use crate::exchange::Job;
use crate::pool::Pool;
use crate::router::Router;
use crate::tls::Terminator;

/// Threads of tokio's blocking pool (tokio's default is 512).
const BLOCKING_THREADS: usize = 16;

/// State every connection task shares.
pub struct Shared {
    pub config: ServerConfig,
    pub router: RwLock<Arc<Router>>,
    pub pool: Arc<Pool<Job>>,
    pub access_log: AccessLog,
    pub local: SocketAddr,
    pub shutdown: CancellationToken,
    /// TLS termination, when `server.ssl_certificate` is set.
    pub tls: Option<Terminator>,
    pub stats: ConnStats,
    /// Requests answered (static ones included), for `--max-requests`.
    pub requests: AtomicU64,
    /// Idle HTTP/1 connections parked without buffers (see `idle.rs`).
    pub parked: AtomicUsize,
    /// Application requests in a handler, named in the log when a stop cuts them.
    pub in_flight: inflight::InFlightRequests,
    /// `server.socket_timeout` in nanoseconds, changeable while serving (cheroot's
    /// `httpserver.timeout`): read at each deadline, so a change applies to every
    /// deadline set from then on.
    socket_timeout_nanos: AtomicU64,
}

/// Counters of what happened before HTTP started, for `_core.Server.tls_stats`.
#[derive(Default)]
pub struct ConnStats {
    pub handshakes: AtomicU64,
    pub handshake_failures: AtomicU64,
    pub handshake_timeouts: AtomicU64,
    pub plain_http: AtomicU64,
}

impl ConnStats {
    /// (name, count) pairs.
    pub fn snapshot(&self) -> Vec<(&'static str, u64)> {
        vec![
            ("handshakes", self.handshakes.load(Ordering::Relaxed)),
            (
                "handshake_failures",
                self.handshake_failures.load(Ordering::Relaxed),
            ),
            (
                "handshake_timeouts",
                self.handshake_timeouts.load(Ordering::Relaxed),
            ),
            ("plain_http", self.plain_http.load(Ordering::Relaxed)),
        ]
    }
}

fn duration_nanos(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

impl Shared {
    /// The socket timeout now (see `set_socket_timeout`).
    pub fn socket_timeout(&self) -> Duration {
        Duration::from_nanos(self.socket_timeout_nanos.load(Ordering::Relaxed))
    }

    /// Change the socket timeout of the running server.
    pub fn set_socket_timeout(&self, timeout: Duration) {
        self.socket_timeout_nanos
            .store(duration_nanos(timeout), Ordering::Relaxed);
    }

    /// A one-line debug message on stderr (CherryPy's error-log time stamp), when the
    /// error log is at DEBUG level: dropped handshakes are routine, not tracebacks.
    pub fn debug(&self, message: std::fmt::Arguments<'_>) {
        if self.config.debug_log {
            eprintln!("{} {message}", crate::access_log::timestamp());
        }
    }
}

/// A running server: its runtime, its tasks, and how to stop them.
pub struct RunningServer {
    runtime: Option<Runtime>,
    shared: Arc<Shared>,
    tracker: TaskTracker,
    warnings: Vec<String>,
}

impl RunningServer {
    /// Binds the listener (so the address is known on return) and starts accepting.
    pub fn start(
        config: ServerConfig,
        router: Arc<Router>,
        pool: Arc<Pool<Job>>,
        access_log: AccessLog,
        inherited: Option<&Bound>,
    ) -> Result<Self, Error> {
        config.validate()?;
        let (tls, warnings) = match &config.tls {
            Some(settings) => {
                let (t, w) = Terminator::new(settings.clone(), config.h2_over_tls())?;
                (Some(t), w)
            }
            None => (None, Vec::new()),
        };
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(config.io_threads)
            // File reads (static files, spooled bodies) run on the blocking pool, one
            // chunk at a time: a small pool bounds the threads (and their allocator
            // heaps) that many concurrent large downloads would otherwise create.
            .max_blocking_threads(BLOCKING_THREADS)
            .thread_name("cherrypy_rs-io")
            .enable_all()
            .build()
            .map_err(|source| Error::Io {
                what: "cannot start the I/O runtime".into(),
                source,
            })?;
        let std_listener = listener::bind(&config, inherited)?;
        let local = std_listener.local_addr().map_err(|source| Error::Io {
            what: "cannot read the bound address".into(),
            source,
        })?;
        let listener = {
            let _guard = runtime.enter();
            listener::Listening::new(std_listener).map_err(|source| Error::Io {
                what: "cannot register the listener".into(),
                source,
            })?
        };
        let socket_timeout_nanos = AtomicU64::new(duration_nanos(config.socket_timeout));
        let shared = Arc::new(Shared {
            config,
            router: RwLock::new(router),
            pool,
            access_log,
            local,
            shutdown: CancellationToken::new(),
            tls,
            stats: ConnStats::default(),
            requests: AtomicU64::new(0),
            parked: AtomicUsize::new(0),
            in_flight: inflight::InFlightRequests::default(),
            socket_timeout_nanos,
        });
        let tracker = TaskTracker::new();
        {
            let _guard = runtime.enter();
            // Not tracked: it serves the queue until the runtime is dropped, drain included.
            runtime.spawn(service::watch_queue(
                shared.pool.clone(),
                shared.config.queue_timeout,
            ));
            tracker.spawn(listener::accept_loop(
                listener,
                shared.clone(),
                tracker.clone(),
            ));
        }
        Ok(RunningServer {
            runtime: Some(runtime),
            shared,
            tracker,
            warnings,
        })
    }

    /// Warnings from loading the TLS files (a certificate about to expire).
    pub fn warnings(&self) -> &[String] {
        &self.warnings
    }

    /// Re-reads the TLS files for new handshakes; open connections keep theirs. Returns
    /// the warnings, or the error (and the previous files stay in use).
    pub fn reload_tls(&self) -> Result<Vec<String>, Error> {
        match &self.shared.tls {
            Some(tls) => tls.reload(),
            None => Err(Error::State("TLS is not configured: nothing to reload")),
        }
    }

    /// Counters of handshakes and of connections dropped before HTTP.
    pub fn stats(&self) -> Vec<(&'static str, u64)> {
        self.shared.stats.snapshot()
    }

    /// Requests answered since start.
    /// The state the connections share (to wait on the access log without holding
    /// whatever guards this server).
    pub fn shared(&self) -> Arc<Shared> {
        self.shared.clone()
    }

    pub fn requests_served(&self) -> u64 {
        self.shared.requests.load(Ordering::Relaxed)
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.shared.local
    }

    /// Replaces the mount table; requests already routed keep the old one.
    pub fn set_router(&self, router: Arc<Router>) {
        *self.shared.router.write() = router;
    }

    /// Connections currently open.
    pub fn connections(&self) -> usize {
        // The accept loop is one tracked task.
        self.tracker.len().saturating_sub(1)
    }

    /// Idle keep-alive connections parked without HTTP state or buffers.
    pub fn parked_connections(&self) -> usize {
        self.shared.parked.load(Ordering::Relaxed)
    }

    /// Graceful stop; blocks the calling thread (never a tokio thread). Returns the
    /// application requests still in a handler when `shutdown_timeout` ran out (their
    /// connections are cut); empty when every connection finished in time.
    pub fn stop(&mut self) -> Stopped {
        let Some(runtime) = self.runtime.take() else {
            return Stopped {
                drained: true,
                cut: Vec::new(),
            };
        };
        self.shared.shutdown.cancel();
        self.tracker.close();
        let timeout = self.shared.config.shutdown_timeout;
        let tracker = self.tracker.clone();
        let drained = runtime
            .block_on(async move { tokio::time::timeout(timeout, tracker.wait()).await })
            .is_ok();
        let cut = if drained {
            Vec::new()
        } else {
            self.shared.in_flight.describe()
        };
        // Whatever is still open is dropped with the runtime: the tasks are cancelled at
        // their next await, so this is quick (a worker blocked in a handler is not
        // waited for: its reply channel is simply gone when it answers).
        runtime.shutdown_timeout(std::time::Duration::from_secs(1));
        Stopped { drained, cut }
    }
}

/// How a stop went.
#[derive(Debug, Default)]
pub struct Stopped {
    /// Every connection finished within `shutdown_timeout`.
    pub drained: bool,
    /// The application requests that were cut ("GET /slow from 127.0.0.1:5555").
    pub cut: Vec<String>,
}

impl Drop for RunningServer {
    fn drop(&mut self) {
        self.stop();
    }
}
