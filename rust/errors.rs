//! The crate's error type: each kind knows whether it is the operator's fault (a Python
//! exception at start) or a client's (an HTTP status with a safe body).

use std::fmt;

/// Errors raised while configuring, starting or stopping the server.
#[derive(Debug)]
pub enum Error {
    /// The listening socket could not be bound.
    Bind {
        host: String,
        port: u16,
        source: std::io::Error,
    },
    /// A configuration value is out of range or of the wrong shape.
    Config { key: &'static str, message: String },
    /// The server was asked to do something that its state does not allow.
    State(&'static str),
    /// Any other I/O failure (runtime creation, log files).
    Io {
        what: String,
        source: std::io::Error,
    },
    /// A TLS file (certificate, key, chain, client CA) cannot be used: the key it was
    /// configured with, the file, and what to do about it.
    Tls {
        key: &'static str,
        path: std::path::PathBuf,
        message: String,
    },
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Bind { host, port, source } => {
                if source.kind() == std::io::ErrorKind::AddrInUse {
                    write!(
                        f,
                        "port {port} is already in use on {host}: stop the other server or \
                         choose another server.socket_port"
                    )
                } else {
                    write!(f, "cannot listen on {host}:{port}: {source}")
                }
            }
            Error::Config { key, message } => {
                write!(f, "invalid config value for {key}: {message}")
            }
            Error::State(msg) => f.write_str(msg),
            Error::Io { what, source } => write!(f, "{what}: {source}"),
            Error::Tls { key, path, message } => {
                write!(f, "{key} = {}: {message}", path.display())
            }
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Bind { source, .. } | Error::Io { source, .. } => Some(source),
            _ => None,
        }
    }
}

/// CherryPy's reason phrase (Python's `http.HTTPStatus`, RFC 2616's wording) for the
/// statuses whose phrase the http crate spells differently; None for all others.
pub fn cherrypy_reason(status: http::StatusCode) -> Option<&'static str> {
    match status.as_u16() {
        203 => Some("Non-Authoritative Information"),
        413 => Some("Request Entity Too Large"),
        414 => Some("Request-URI Too Long"),
        416 => Some("Requested Range Not Satisfiable"),
        418 => Some("I'm a Teapot"),
        _ => None,
    }
}

/// What a request may fail with before it reaches an application: each maps to one status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reject {
    /// RFC 9112 §3.2: an HTTP/1.1 request must carry exactly one Host header, and its
    /// value must be a valid authority (RFC 3986 §3.2.2, no userinfo).
    BadHost,
    /// RFC 9112 §3.2: a request target in authority-form outside CONNECT, or an
    /// absolute-form target whose authority is invalid or carries userinfo.
    BadTarget,
    /// CONNECT (RFC 9110 §9.3.6): this server is not a proxy (cheroot answers 405 too).
    Connect,
    /// RFC 9112 §6.1: a Transfer-Encoding we do not implement (anything but one `chunked`).
    UnsupportedTransferEncoding,
    /// RFC 9112 §6.1: `chunked` applied more than once, or an empty Transfer-Encoding.
    BadTransferEncoding,
    /// The body is larger than `server.max_request_body_size`.
    BodyTooLarge,
    /// The body did not arrive within `server.socket_timeout`.
    BodyTimeout,
    /// The body could not be read (malformed chunk, a trailer section over
    /// `server.max_request_header_size` (hyper's limit for trailers too), connection reset).
    BadBody,
    /// No worker freed up within `server.accepted_queue_timeout`, or the queue is full.
    Overloaded,
    /// The server is shutting down.
    ShuttingDown,
    /// RFC 9112 §3: the request line is longer than `server.max_request_line`.
    UriTooLong,
    /// The path is not under any mount point.
    NoApp,
    /// The application failed in a way that left no response (a bug, logged).
    Internal,
}

impl Reject {
    /// The status line this rejection is answered with.
    pub fn status(self) -> http::StatusCode {
        use http::StatusCode as S;
        match self {
            Reject::BadHost | Reject::BadTarget | Reject::BadTransferEncoding | Reject::BadBody => {
                S::BAD_REQUEST
            }
            Reject::Connect => S::METHOD_NOT_ALLOWED,
            Reject::UnsupportedTransferEncoding => S::NOT_IMPLEMENTED,
            Reject::BodyTooLarge => S::PAYLOAD_TOO_LARGE,
            Reject::UriTooLong => S::URI_TOO_LONG,
            Reject::BodyTimeout => S::REQUEST_TIMEOUT,
            Reject::Overloaded | Reject::ShuttingDown => S::SERVICE_UNAVAILABLE,
            Reject::NoApp => S::NOT_FOUND,
            Reject::Internal => S::INTERNAL_SERVER_ERROR,
        }
    }

    /// The reason phrase, where cheroot's (RFC 2616's) differs from hyper's.
    pub fn reason(self) -> Option<&'static str> {
        cherrypy_reason(self.status())
    }

    /// The body's media type: cheroot's bare `text/plain` where its wording is kept.
    pub fn content_type(self) -> &'static str {
        match self {
            Reject::BodyTooLarge | Reject::UriTooLong => "text/plain",
            _ => "text/plain;charset=utf-8",
        }
    }

    /// A short plain-text body that never echoes client input.
    pub fn body(self) -> &'static str {
        match self {
            Reject::BadHost => {
                "Bad Request: an HTTP/1.1 request needs exactly one Host header, \
                 holding a host name or address and an optional port.\n"
            }
            Reject::BadTarget => {
                "Bad Request: the request target must be a path (or an absolute http URL \
                 without user information).\n"
            }
            Reject::Connect => "Method Not Allowed: this server is not a proxy.\n",
            Reject::UnsupportedTransferEncoding => {
                "Not Implemented: only 'Transfer-Encoding: chunked' is supported.\n"
            }
            Reject::BadTransferEncoding => {
                "Bad Request: 'chunked' must be the one and only transfer coding.\n"
            }
            // cheroot's wording: clients written for CherryPy compare it.
            Reject::BodyTooLarge => {
                "The entity sent with the request exceeds the maximum allowed bytes."
            }
            Reject::UriTooLong => {
                "The Request-URI sent with the request exceeds the maximum allowed bytes."
            }
            Reject::BodyTimeout => "Request Timeout: the request body did not arrive in time.\n",
            Reject::BadBody => "Bad Request: the request body could not be read.\n",
            Reject::Overloaded => "Service Unavailable: the server is too busy, try again later.\n",
            Reject::ShuttingDown => "Service Unavailable: the server is shutting down.\n",
            Reject::NoApp => "Not Found: nothing is mounted at this path.\n",
            Reject::Internal => "Internal Server Error\n",
        }
    }

    /// Whether the connection must be closed after the answer: whenever the rest of the
    /// stream cannot be trusted to start at a request boundary.
    pub fn closes_connection(self) -> bool {
        !matches!(self, Reject::Overloaded | Reject::NoApp | Reject::Internal)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addr_in_use_message_names_host_and_port() {
        let err = Error::Bind {
            host: "127.0.0.1".into(),
            port: 8080,
            source: std::io::Error::from(std::io::ErrorKind::AddrInUse),
        };
        let msg = err.to_string();
        assert!(msg.contains("8080") && msg.contains("127.0.0.1"), "{msg}");
    }

    #[test]
    fn framing_errors_close_the_connection() {
        for r in [
            Reject::BadHost,
            Reject::BodyTooLarge,
            Reject::UnsupportedTransferEncoding,
        ] {
            assert!(r.closes_connection());
        }
        assert!(!Reject::NoApp.closes_connection());
        assert_eq!(Reject::UnsupportedTransferEncoding.status(), 501);
    }
}
