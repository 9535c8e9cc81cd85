//! The plain-Rust values that cross between the server (tokio) and the Python workers:
//! a request as the application sees it and the reply it produces. Nothing here holds a
//! Python object, so tokio tasks can own them.

use std::net::SocketAddr;

use bytes::Bytes;
use http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode, Version};
use tokio::sync::mpsc;

/// A request body, read whole before the application sees the request: in memory up to
/// a threshold, beyond it in an anonymous temporary file (already unlinked).
#[derive(Debug)]
pub enum RequestBody {
    Memory(Bytes),
    Spooled { file: std::fs::File, len: u64 },
}

impl RequestBody {
    pub fn len(&self) -> u64 {
        match self {
            RequestBody::Memory(b) => b.len() as u64,
            RequestBody::Spooled { len, .. } => *len,
        }
    }
}

/// What the TLS handshake of a connection established, computed once per connection and
/// shared by its requests.
#[derive(Debug, Clone, Default)]
pub struct TlsInfo {
    /// The ALPN protocol agreed on (`h2`, `http/1.1`), if any.
    pub alpn: Option<Vec<u8>>,
    /// The `SSL_*` keys of a WSGI environ (mod_ssl's and cheroot's names): protocol,
    /// cipher, `SSL_CLIENT_VERIFY`, and the client certificate's subject, issuer, validity
    /// and PEM when one was presented.
    pub environ: Vec<(String, String)>,
}

/// A fully read request, routed to one mount point.
#[derive(Debug)]
pub struct RequestData {
    pub method: Method,
    pub version: Version,
    /// The raw request target's path, still percent-encoded.
    pub path: String,
    /// The raw query string, without the `?`.
    pub query: String,
    pub headers: HeaderMap,
    pub body: RequestBody,
    pub remote: SocketAddr,
    pub local: SocketAddr,
    /// `"http"` or `"https"`.
    pub scheme: &'static str,
    /// The connection's TLS details; `None` on plain TCP.
    pub tls: Option<std::sync::Arc<TlsInfo>>,
    /// The mount point that matched ("" for the root), as registered.
    pub script_name: String,
    /// Which application (index in the mount table) handles it.
    pub app: usize,
}

impl RequestData {
    /// The protocol as CherryPy spells it ("HTTP/1.1").
    pub fn protocol(&self) -> &'static str {
        match self.version {
            Version::HTTP_10 => "HTTP/1.0",
            Version::HTTP_09 => "HTTP/0.9",
            Version::HTTP_2 => "HTTP/2.0",
            Version::HTTP_3 => "HTTP/3.0",
            _ => "HTTP/1.1",
        }
    }

    /// The path below the mount point, still percent-encoded.
    pub fn path_info(&self) -> &str {
        self.path.get(self.script_name.len()..).unwrap_or("")
    }
}

/// A chunk of a streamed body, or the signal that the producer failed mid-stream
/// (the connection is then aborted so the client sees a truncated response).
pub type StreamItem = Result<Bytes, StreamAborted>;

/// The producer of a streamed body failed; the response cannot be completed.
#[derive(Debug, Clone, Copy)]
pub struct StreamAborted;

impl std::fmt::Display for StreamAborted {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("the response body's producer failed")
    }
}

impl std::error::Error for StreamAborted {}

/// The body of a reply.
#[derive(Debug)]
pub enum ReplyBody {
    Full(Bytes),
    /// Chunks produced by a Python thread through a bounded channel.
    Stream(mpsc::Receiver<StreamItem>),
    /// A static file body (`lib.static.serve_file`), read by the tokio side; its
    /// Content-Length is in the headers already (also for HEAD, where it is empty).
    Static(crate::static_files::StaticBody),
    /// No response at all: the connection is dropped (HTTP/2: the stream reset), as
    /// cheroot does when a handler raises `KeyboardInterrupt` or `SystemExit`.
    Dropped,
}

/// What the application changed about its request's access-log line (see
/// `access_log`): values that replace the parsed ones, or whole lines it formatted
/// itself (a custom `LogManager.access_log_format`), written instead.
#[derive(Debug, Clone, Default)]
pub struct LogPatch {
    /// Lines formatted by Python, without newlines; when any, they are the log.
    pub lines: Vec<String>,
    /// `remote.name or remote.ip`.
    pub remote: Option<String>,
    /// `request.login`.
    pub login: Option<String>,
    pub request_line: Option<String>,
    pub referer: Option<String>,
    pub user_agent: Option<String>,
}

/// What the application answered, as plain data.
#[derive(Debug)]
pub struct Reply {
    pub status: StatusCode,
    /// A reason phrase that differs from the standard one (`response.status = "200 Fine"`).
    pub reason: Option<Bytes>,
    pub headers: Vec<(HeaderName, HeaderValue)>,
    pub body: ReplyBody,
    /// The application's changes to the access-log line (None: as parsed).
    pub log: Option<Box<LogPatch>>,
}

/// A request on its way to a Python worker, with the way back.
#[derive(Debug)]
pub struct Job {
    pub request: RequestData,
    /// Shared with the submitter, which may give up on a job no worker has started.
    pub claim: std::sync::Arc<crate::pool::Claim>,
    pub reply: tokio::sync::oneshot::Sender<Reply>,
    /// How long a streamed body's chunk may wait for the client to make room
    /// (`server.socket_timeout`): past it the worker gives the body up.
    pub send_timeout: std::time::Duration,
}

/// The values of a repeated field as one: joined with ", " (RFC 9110 §5.3), except
/// Cookie, joined with "; " (RFC 6265 §5.4: one cookie-string, which a parser splitting
/// on "," would misread).
pub fn joined(headers: &http::HeaderMap, name: &http::HeaderName) -> Vec<u8> {
    let separator: &[u8] = if name == http::header::COOKIE {
        b"; "
    } else {
        b", "
    };
    let mut values = headers.get_all(name).iter();
    let Some(first) = values.next() else {
        return Vec::new();
    };
    let mut out = first.as_bytes().to_vec();
    for value in values {
        out.extend_from_slice(separator);
        out.extend_from_slice(value.as_bytes());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::joined;

    #[test]
    fn repeated_fields_are_joined() {
        let mut h = http::HeaderMap::new();
        h.append("accept", "text/html".parse().unwrap());
        h.append("accept", "text/plain".parse().unwrap());
        h.append("cookie", "a=1".parse().unwrap());
        h.append("cookie", "b=2".parse().unwrap());
        h.append("host", "x".parse().unwrap());
        assert_eq!(joined(&h, &http::header::ACCEPT), b"text/html, text/plain");
        assert_eq!(joined(&h, &http::header::COOKIE), b"a=1; b=2");
        assert_eq!(joined(&h, &http::header::HOST), b"x");
    }
}
