//! `ServerConfig`: the typed form of CherryPy's `server.*` keys, built once at start.
//! Validation lives here so that a bad value fails at start, naming the key.

use std::time::Duration;

use crate::errors::Error;

/// Everything the Rust server needs to know, with CherryPy's defaults.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// `server.socket_host`.
    pub host: String,
    /// `server.socket_port` (0 picks a free port).
    pub port: u16,
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
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            host: "127.0.0.1".to_string(),
            port: 8080,
            socket_timeout: Duration::from_secs(10),
            max_header_size: 500 * 1024,
            max_body_size: 100 * 1024 * 1024,
            shutdown_timeout: Duration::from_secs(5),
            thread_pool: 10,
            queue_size: 1024,
            queue_timeout: Duration::from_secs(10),
            backlog: 1024,
            io_threads: 1,
            max_headers: 100,
        }
    }
}

/// Smallest header limit hyper accepts for its read buffer.
const MIN_READ_BUFFER: usize = 8192;

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
        if self.max_header_size < 1024 {
            return bad(
                "server.max_request_header_size",
                "must be at least 1024 bytes",
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
        Ok(())
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
    fn read_buffer_fits_the_header_limit() {
        let c = ServerConfig::default();
        assert!(c.read_buffer_size() > c.max_header_size);
        let small = ServerConfig {
            max_header_size: 1024,
            ..Default::default()
        };
        assert!(small.read_buffer_size() >= 16384);
    }
}
