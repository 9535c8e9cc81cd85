//! `ServerConfig`: the typed form of CherryPy's `server.*` keys, built once at start.
//! Validation lives here so that a bad value fails at start, naming the key. The keys'
//! defaults are written once, in `defaults`; `SERVER_DEFAULTS` lists them by key for
//! Python (`_core.SERVER_DEFAULTS`, which `cherrypy.server` and the docs' table follow).

use std::path::PathBuf;
use std::time::Duration;

use crate::errors::Error;
pub use crate::server::Trusted;

/// CherryPy's defaults for the `server.*` keys (and ours for the cherrypy_rs keys).
pub mod defaults {
    pub const SOCKET_HOST: &str = "127.0.0.1";
    pub const SOCKET_PORT: u16 = 8080;
    pub const SOCKET_TIMEOUT: f64 = 10.0;
    pub const MAX_REQUEST_HEADER_SIZE: usize = 500 * 1024;
    pub const MAX_REQUEST_BODY_SIZE: u64 = 100 * 1024 * 1024;
    pub const SHUTDOWN_TIMEOUT: f64 = 5.0;
    pub const THREAD_POOL: usize = 10;
    pub const ACCEPTED_QUEUE_SIZE: usize = 1024;
    pub const ACCEPTED_QUEUE_TIMEOUT: f64 = 10.0;
    pub const SOCKET_QUEUE_SIZE: i32 = 1024;
    pub const IO_THREADS: usize = 1;
    pub const MAX_HEADERS: usize = 100;
    /// 0: the request line has no limit of its own (the head's size limit applies).
    pub const MAX_REQUEST_LINE: usize = 0;
    /// CherryPy's name for the TLS library; rustls either way (checked by Python).
    pub const SSL_MODULE: &str = "builtin";
    pub const SSL_VERIFY_CLIENT: &str = "none";
    pub const HTTP2_MAX_CONCURRENT_STREAMS: u32 = 100;
}

/// A default as Python sees it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum DefaultValue {
    /// None: the feature is off until the key is set.
    None,
    Text(&'static str),
    Int(u64),
    Float(f64),
    Bool(bool),
}

/// Every `server.*` key with its default, in the docs' order.
pub const SERVER_DEFAULTS: &[(&str, DefaultValue)] = {
    use defaults::*;
    use DefaultValue::{Bool, Float, Int, None, Text};
    &[
        ("socket_host", Text(SOCKET_HOST)),
        ("socket_port", Int(SOCKET_PORT as u64)),
        ("socket_file", None),
        ("socket_timeout", Float(SOCKET_TIMEOUT)),
        (
            "max_request_header_size",
            Int(MAX_REQUEST_HEADER_SIZE as u64),
        ),
        ("max_request_body_size", Int(MAX_REQUEST_BODY_SIZE)),
        ("shutdown_timeout", Float(SHUTDOWN_TIMEOUT)),
        ("thread_pool", Int(THREAD_POOL as u64)),
        ("accepted_queue_size", Int(ACCEPTED_QUEUE_SIZE as u64)),
        ("accepted_queue_timeout", Float(ACCEPTED_QUEUE_TIMEOUT)),
        ("socket_queue_size", Int(SOCKET_QUEUE_SIZE as u64)),
        ("io_threads", Int(IO_THREADS as u64)),
        ("max_headers", Int(MAX_HEADERS as u64)),
        ("max_request_line", Int(MAX_REQUEST_LINE as u64)),
        ("ssl_module", Text(SSL_MODULE)),
        ("ssl_certificate", None),
        ("ssl_private_key", None),
        ("ssl_certificate_chain", None),
        ("ssl_client_ca", None),
        ("ssl_verify_client", Text(SSL_VERIFY_CLIENT)),
        ("http2", None),
        (
            "http2_max_concurrent_streams",
            Int(HTTP2_MAX_CONCURRENT_STREAMS as u64),
        ),
        // None: no proxy is trusted (the cherrypy-rs command supplies its own default).
        ("forwarded_allow_ips", None),
        ("proxy_protocol", Bool(false)),
    ]
};

/// Everything the Rust server needs to know, with CherryPy's defaults.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// `server.socket_host`.
    pub host: String,
    /// `server.socket_port` (0 picks a free port).
    pub port: u16,
    /// `server.socket_file`: listen on this Unix socket instead of host:port.
    pub socket_file: Option<PathBuf>,
    /// `server.socket_timeout`: time to receive a request head (and each body read),
    /// and how long an idle keep-alive connection is kept.
    pub socket_timeout: Duration,
    /// `server.max_request_header_size` in bytes → 431 beyond it.
    pub max_header_size: usize,
    /// `server.max_request_body_size` in bytes → 413 beyond it; 0 means no limit.
    pub max_body_size: u64,
    /// `server.shutdown_timeout`: how long in-flight requests may finish at stop.
    pub shutdown_timeout: Duration,
    /// `server.thread_pool`: Python worker threads.
    pub thread_pool: usize,
    /// `server.accepted_queue_size`: requests waiting for a worker before 503.
    pub queue_size: usize,
    /// `server.accepted_queue_timeout`: how long a request may wait for a worker.
    pub queue_timeout: Duration,
    /// `server.socket_queue_size`: the listen backlog.
    pub backlog: i32,
    /// `server.io_threads`: tokio worker threads (a cherrypy_rs key).
    pub io_threads: usize,
    /// `server.max_headers`: how many header lines a request may carry (a cherrypy_rs key).
    pub max_headers: usize,
    /// `server.max_request_line`: bytes of the request line (method, target, version)
    /// → 414 beyond it; 0 leaves it to `max_header_size` (a cherrypy_rs key, gunicorn's
    /// `--limit-request-line`).
    pub max_request_line: usize,
    /// `server.ssl_*`: TLS on the listening socket, when set.
    pub tls: Option<TlsSettings>,
    /// `server.http2`: `None` offers HTTP/2 over TLS (ALPN) only; `Some(true)` also
    /// accepts h2c with prior knowledge on plain TCP; `Some(false)` never speaks HTTP/2.
    pub http2: Option<bool>,
    /// `server.http2_max_concurrent_streams` (a cherrypy_rs key).
    pub http2_max_streams: u32,
    /// Write one-line debug messages (dropped handshakes...) to stderr.
    pub debug_log: bool,
    /// `server.forwarded_allow_ips`: the proxies whose forwarding headers (and PROXY
    /// headers) describe the client (a cherrypy_rs key, gunicorn's option).
    pub forwarded: Trusted,
    /// `server.proxy_protocol`: trusted peers open each connection with a HAProxy
    /// PROXY header (a cherrypy_rs key).
    pub proxy_protocol: bool,
}

/// `server.ssl_verify_client`: whether to ask for a client certificate (mTLS).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VerifyClient {
    /// No client certificate is asked for.
    None,
    /// Asked for; a client without one is served, one with an invalid one refused.
    Optional,
    /// A client without a valid certificate signed by `ssl_client_ca` is refused.
    Required,
}

impl VerifyClient {
    /// Parses `none`, `optional` or `required` (CherryPy-style names, any case).
    pub fn parse(value: &str) -> Result<Self, Error> {
        match value.trim().to_ascii_lowercase().as_str() {
            "" | "none" => Ok(VerifyClient::None),
            "optional" => Ok(VerifyClient::Optional),
            "required" => Ok(VerifyClient::Required),
            other => Err(Error::Config {
                key: "server.ssl_verify_client",
                message: format!("{other:?} is not one of 'none', 'optional', 'required'"),
            }),
        }
    }
}

/// The PEM files that make up the TLS configuration, as configured.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsSettings {
    /// `server.ssl_certificate`: the server certificate, optionally followed by its chain.
    pub certificate: PathBuf,
    /// `server.ssl_private_key`: the key (PKCS#8, PKCS#1 RSA or SEC1 EC), unencrypted;
    /// `None` reads it from the certificate file.
    pub private_key: Option<PathBuf>,
    /// `server.ssl_certificate_chain`: intermediate certificates sent after the leaf.
    pub chain: Option<PathBuf>,
    /// `server.ssl_client_ca`: the CAs client certificates must chain to.
    pub client_ca: Option<PathBuf>,
    /// `server.ssl_verify_client`.
    pub verify_client: VerifyClient,
}

impl Default for ServerConfig {
    fn default() -> Self {
        use defaults::*;
        ServerConfig {
            host: SOCKET_HOST.to_string(),
            port: SOCKET_PORT,
            socket_file: None,
            socket_timeout: Duration::from_secs_f64(SOCKET_TIMEOUT),
            max_header_size: MAX_REQUEST_HEADER_SIZE,
            max_body_size: MAX_REQUEST_BODY_SIZE,
            shutdown_timeout: Duration::from_secs_f64(SHUTDOWN_TIMEOUT),
            thread_pool: THREAD_POOL,
            queue_size: ACCEPTED_QUEUE_SIZE,
            queue_timeout: Duration::from_secs_f64(ACCEPTED_QUEUE_TIMEOUT),
            backlog: SOCKET_QUEUE_SIZE,
            io_threads: IO_THREADS,
            max_headers: MAX_HEADERS,
            max_request_line: MAX_REQUEST_LINE,
            tls: None,
            http2: None,
            http2_max_streams: HTTP2_MAX_CONCURRENT_STREAMS,
            debug_log: false,
            forwarded: Trusted::default(),
            proxy_protocol: false,
        }
    }
}

/// Smallest header limit hyper accepts for its read buffer.
const MIN_READ_BUFFER: usize = 8192;

/// Smallest `server.max_request_header_size` accepted (CherryPy's suite uses 500).
const MIN_HEADER_LIMIT: usize = 128;

impl ServerConfig {
    /// Checks ranges that would otherwise panic deep in hyper or hang the server.
    pub fn validate(&self) -> Result<(), Error> {
        fn bad(key: &'static str, message: &str) -> Result<(), Error> {
            Err(Error::Config {
                key,
                message: message.to_string(),
            })
        }
        if self.thread_pool == 0 {
            return bad("server.thread_pool", "must be at least 1");
        }
        if self.io_threads == 0 {
            return bad("server.io_threads", "must be at least 1");
        }
        // A small limit is safe (hyper's read buffer keeps its own floor, see
        // `read_buffer_size`); below a request line plus Host every request would be a 431.
        if self.max_header_size < MIN_HEADER_LIMIT {
            return bad(
                "server.max_request_header_size",
                "must be at least 128 bytes (room for a request line and Host)",
            );
        }
        if self.socket_timeout.is_zero() {
            return bad("server.socket_timeout", "must be greater than 0");
        }
        if self.queue_size == 0 {
            return bad("server.accepted_queue_size", "must be at least 1");
        }
        if self.max_headers == 0 {
            return bad("server.max_headers", "must be at least 1");
        }
        if self.http2_max_streams == 0 {
            return bad("server.http2_max_concurrent_streams", "must be at least 1");
        }
        if self.socket_file.is_some() && (self.tls.is_some() || self.http2 == Some(true)) {
            return bad(
                "server.socket_file",
                "serves plain HTTP/1.1 (to a proxy on the same machine): TLS and h2c need \
                 a TCP socket (server.socket_host/socket_port)",
            );
        }
        if self.proxy_protocol && self.socket_file.is_some() {
            return bad(
                "server.proxy_protocol",
                "is for TCP load balancers: a Unix socket (server.socket_file) has no \
                 PROXY header to read",
            );
        }
        if let Some(tls) = &self.tls {
            if tls.verify_client != VerifyClient::None && tls.client_ca.is_none() {
                return bad(
                    "server.ssl_verify_client",
                    "needs server.ssl_client_ca: the CA file client certificates must chain to",
                );
            }
        }
        Ok(())
    }

    /// Whether TLS connections offer HTTP/2 through ALPN.
    pub fn h2_over_tls(&self) -> bool {
        self.http2 != Some(false)
    }

    /// Whether plain-TCP connections accept HTTP/2 with prior knowledge (h2c).
    pub fn h2c(&self) -> bool {
        self.tls.is_none() && self.http2 == Some(true)
    }

    /// hyper's read buffer: large enough for the biggest head we accept plus pipelined bytes.
    pub fn read_buffer_size(&self) -> usize {
        (self.max_header_size + MIN_READ_BUFFER).max(MIN_READ_BUFFER * 2)
    }
}

/// Parses a duration given in seconds as a float (CherryPy's convention).
pub fn seconds(key: &'static str, value: f64) -> Result<Duration, Error> {
    if !value.is_finite() || value < 0.0 {
        return Err(Error::Config {
            key,
            message: format!("{value} is not a number of seconds >= 0"),
        });
    }
    Ok(Duration::from_secs_f64(value))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_cherrypys() {
        let c = ServerConfig::default();
        assert_eq!(c.thread_pool, 10);
        assert_eq!(c.socket_timeout, Duration::from_secs(10));
        assert_eq!(c.max_body_size, 104_857_600);
        assert!(c.validate().is_ok());
    }

    #[test]
    fn the_defaults_table_lists_each_key_once_as_the_config_has_it() {
        let mut keys: Vec<&str> = SERVER_DEFAULTS.iter().map(|(k, _)| *k).collect();
        keys.sort_unstable();
        keys.dedup();
        assert_eq!(keys.len(), SERVER_DEFAULTS.len());
        let get = |key: &str| {
            SERVER_DEFAULTS
                .iter()
                .find(|(k, _)| *k == key)
                .map(|(_, v)| *v)
        };
        let c = ServerConfig::default();
        assert_eq!(get("socket_host"), Some(DefaultValue::Text("127.0.0.1")));
        assert_eq!(
            get("max_request_body_size"),
            Some(DefaultValue::Int(c.max_body_size))
        );
        assert_eq!(
            get("socket_timeout"),
            Some(DefaultValue::Float(c.socket_timeout.as_secs_f64()))
        );
        assert_eq!(get("socket_file"), Some(DefaultValue::None));
    }

    #[test]
    fn bad_values_name_their_key() {
        let c = ServerConfig {
            thread_pool: 0,
            ..Default::default()
        };
        let msg = c.validate().unwrap_err().to_string();
        assert!(msg.contains("server.thread_pool"), "{msg}");
        assert!(seconds("server.socket_timeout", -1.0).is_err());
        assert!(seconds("server.socket_timeout", f64::NAN).is_err());
        assert_eq!(seconds("x", 1.5).unwrap(), Duration::from_millis(1500));
    }

    #[test]
    fn verify_client_needs_a_ca() {
        assert_eq!(
            VerifyClient::parse("Required").unwrap(),
            VerifyClient::Required
        );
        let msg = VerifyClient::parse("sometimes").unwrap_err().to_string();
        assert!(msg.contains("server.ssl_verify_client"), "{msg}");
        let c = ServerConfig {
            tls: Some(TlsSettings {
                certificate: "cert.pem".into(),
                private_key: None,
                chain: None,
                client_ca: None,
                verify_client: VerifyClient::Optional,
            }),
            ..Default::default()
        };
        let msg = c.validate().unwrap_err().to_string();
        assert!(msg.contains("server.ssl_client_ca"), "{msg}");
        assert!(c.h2_over_tls() && !c.h2c());
    }

    #[test]
    fn read_buffer_fits_the_header_limit() {
        let c = ServerConfig::default();
        assert!(c.read_buffer_size() > c.max_header_size);
        let small = ServerConfig {
            max_header_size: MIN_HEADER_LIMIT,
            ..Default::default()
        };
        assert!(small.read_buffer_size() >= 16384);
    }
}
