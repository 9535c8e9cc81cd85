//! Binding the listening socket (TCP, or a Unix socket for `server.socket_file`) and
//! accepting connections.

use std::net::{SocketAddr, TcpListener as StdListener, ToSocketAddrs};
use std::os::unix::net::UnixListener as StdUnixListener;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use socket2::{Domain, Protocol, SockAddr, Socket, Type};
use tokio::net::{TcpListener, UnixListener};
use tokio_util::task::TaskTracker;

use super::{conn, Shared};
use crate::config::ServerConfig;
use crate::errors::Error;

/// A bound, listening socket.
#[derive(Debug)]
pub enum Bound {
    Tcp(StdListener),
    Unix(StdUnixListener),
}

impl Bound {
    /// A duplicate of the descriptor (the same socket, the same accept queue).
    pub fn try_clone(&self) -> std::io::Result<Bound> {
        Ok(match self {
            Bound::Tcp(l) => Bound::Tcp(l.try_clone()?),
            Bound::Unix(l) => Bound::Unix(l.try_clone()?),
        })
    }

    fn set_nonblocking(&self) -> std::io::Result<()> {
        match self {
            Bound::Tcp(l) => l.set_nonblocking(true),
            Bound::Unix(l) => l.set_nonblocking(true),
        }
    }

    /// The bound TCP address; `0.0.0.0:0` for a Unix socket (it has no port).
    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        match self {
            Bound::Tcp(l) => l.local_addr(),
            Bound::Unix(_) => Ok(SocketAddr::from(([0, 0, 0, 0], 0))),
        }
    }
}

/// Binds as configured (`server.socket_file`, else `host:port`), or takes a clone of
/// the listening socket the server was given (a worker process serving the socket its
/// master bound).
pub fn bind(config: &ServerConfig, inherited: Option<&Bound>) -> Result<Bound, Error> {
    let ours = match inherited {
        // A duplicate of the descriptor: closing ours at stop leaves the socket open
        // in the master and the other workers, whose queue keeps the connections.
        Some(listener) => listener.try_clone().map_err(|source| Error::Io {
            what: "cannot duplicate the inherited listening socket".into(),
            source,
        })?,
        None => match &config.socket_file {
            Some(path) => Bound::Unix(bind_unix(path, config.backlog)?),
            None => Bound::Tcp(bind_tcp(&config.host, config.port, config.backlog)?),
        },
    };
    ours.set_nonblocking().map_err(|source| Error::Io {
        what: "cannot make the listening socket non-blocking".into(),
        source,
    })?;
    Ok(ours)
}

/// Binds a Unix stream socket at `path` and listens. A socket file left by a server
/// that is gone is replaced; any other file there is an error naming it.
pub fn bind_unix(path: &Path, backlog: i32) -> Result<StdUnixListener, Error> {
    let fail = |source: std::io::Error| Error::Io {
        what: format!("cannot listen on server.socket_file {}", path.display()),
        source,
    };
    if let Ok(meta) = std::fs::symlink_metadata(path) {
        use std::os::unix::fs::FileTypeExt;
        if !meta.file_type().is_socket() {
            return Err(fail(std::io::Error::new(
                std::io::ErrorKind::AlreadyExists,
                "a file that is not a socket is in the way",
            )));
        }
        if std::os::unix::net::UnixStream::connect(path).is_ok() {
            return Err(fail(std::io::Error::new(
                std::io::ErrorKind::AddrInUse,
                "another server is listening on it",
            )));
        }
        std::fs::remove_file(path).map_err(fail)?;
    }
    let socket = Socket::new(Domain::UNIX, Type::STREAM, None).map_err(fail)?;
    let addr = SockAddr::unix(path).map_err(fail)?;
    socket.bind(&addr).map_err(fail)?;
    socket.listen(backlog).map_err(fail)?;
    Ok(socket.into())
}

/// Binds `host:port` with SO_REUSEADDR (so a restart does not wait for TIME_WAIT) and
/// listens with `backlog`.
pub fn bind_tcp(host: &str, port: u16, backlog: i32) -> Result<StdListener, Error> {
    bind_tcp_with(host, port, Some(backlog), false)
}

/// `bind_tcp`, with SO_REUSEPORT when `reuse_port` (each worker process listens on a
/// socket of its own, the kernel spreads connections over them), listening only when a
/// backlog is given (`None` reserves the port: a bound socket that does not listen
/// receives no connection).
pub fn bind_tcp_with(
    host: &str,
    port: u16,
    backlog: Option<i32>,
    reuse_port: bool,
) -> Result<StdListener, Error> {
    let fail = |source: std::io::Error| Error::Bind {
        host: host.to_string(),
        port,
        source,
    };
    // CherryPy accepts "" and "0.0.0.0" for every IPv4 address.
    let host = if host.is_empty() { "0.0.0.0" } else { host };
    let addr: SocketAddr = (host, port)
        .to_socket_addrs()
        .map_err(fail)?
        .next()
        .ok_or_else(|| {
            fail(std::io::Error::other(
                "the host name resolves to no address",
            ))
        })?;
    let socket =
        Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP)).map_err(fail)?;
    socket.set_reuse_address(true).map_err(fail)?;
    if reuse_port {
        socket.set_reuse_port(true).map_err(fail)?;
    }
    if addr.is_ipv6() {
        // "::" serves IPv4 too, as CherryPy's dual-stack sockets do.
        let _ = socket.set_only_v6(false);
    }
    socket.set_nodelay(true).map_err(fail)?;
    socket.bind(&addr.into()).map_err(fail)?;
    if let Some(backlog) = backlog {
        socket.listen(backlog).map_err(fail)?;
    }
    socket.set_nonblocking(true).map_err(fail)?;
    Ok(socket.into())
}

/// A listener registered with the runtime.
pub enum Listening {
    Tcp(TcpListener),
    Unix(UnixListener),
}

impl Listening {
    /// Registers `bound` with the current runtime.
    pub fn new(bound: Bound) -> std::io::Result<Self> {
        Ok(match bound {
            Bound::Tcp(l) => Listening::Tcp(TcpListener::from_std(l)?),
            Bound::Unix(l) => Listening::Unix(UnixListener::from_std(l)?),
        })
    }
}

/// Accepts until shutdown; each connection becomes a tracked task.
pub async fn accept_loop(listener: Listening, shared: Arc<Shared>, tracker: TaskTracker) {
    match listener {
        Listening::Tcp(l) => accept_tcp(l, shared, tracker).await,
        Listening::Unix(l) => accept_unix(l, shared, tracker).await,
    }
}

/// Accepts on a Unix socket: plain HTTP/1.1 (the front proxy terminates TLS).
async fn accept_unix(listener: UnixListener, shared: Arc<Shared>, tracker: TaskTracker) {
    loop {
        let accepted = tokio::select! {
            biased;
            _ = shared.shutdown.cancelled() => break,
            accepted = listener.accept() => accepted,
        };
        match accepted {
            Ok((stream, _peer)) => {
                tracker.spawn(conn::serve_unix(stream, shared.clone()));
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(10)).await,
        }
    }
}

async fn accept_tcp(listener: TcpListener, shared: Arc<Shared>, tracker: TaskTracker) {
    loop {
        let accepted = tokio::select! {
            biased;
            _ = shared.shutdown.cancelled() => break,
            accepted = listener.accept() => accepted,
        };
        match accepted {
            Ok((stream, remote)) => {
                let _ = stream.set_nodelay(true);
                conn::spawn(&tracker, stream, remote, shared.clone());
            }
            Err(e) => {
                // Out of file descriptors or a connection reset before accept: back off
                // briefly instead of spinning, and keep serving the open connections.
                if !matches!(
                    e.kind(),
                    std::io::ErrorKind::ConnectionAborted | std::io::ErrorKind::ConnectionReset
                ) {
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
            }
        }
    }
    // Dropping the listener here closes the port before in-flight requests finish.
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_inherited_listener_is_served_through_a_duplicate() {
        let master = bind_tcp("127.0.0.1", 0, 16).expect("bind 127.0.0.1:0");
        let addr = master.local_addr().expect("bound address");
        let master = Bound::Tcp(master);
        let ours = bind(&ServerConfig::default(), Some(&master)).expect("duplicate");
        assert_eq!(ours.local_addr().expect("address"), addr);
        let Bound::Tcp(master) = master else {
            unreachable!("a TCP listener")
        };
        drop(ours);
        // The master's socket still accepts once the worker's duplicate is closed.
        let client = std::net::TcpStream::connect(addr).expect("connect");
        master.set_nonblocking(false).expect("blocking");
        let (_conn, peer) = master.accept().expect("accept");
        assert_eq!(peer, client.local_addr().expect("client address"));
    }

    #[test]
    fn a_unix_socket_replaces_a_stale_socket_file_but_not_another_file() {
        let dir = std::env::temp_dir().join(format!("cherrypy_rs-unix-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let path = dir.join("s.sock");
        let first = bind_unix(&path, 16).expect("bind");
        let err = bind_unix(&path, 16).expect_err("in use");
        assert!(
            err.to_string().contains("another server is listening"),
            "{err}"
        );
        drop(first);
        bind_unix(&path, 16).expect("a stale socket file is replaced");
        let other = dir.join("plain");
        std::fs::write(&other, b"x").expect("write");
        let err = bind_unix(&other, 16).expect_err("not a socket");
        assert!(err.to_string().contains("not a socket"), "{err}");
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn reuse_port_sockets_share_a_reserved_port() {
        let reserved = bind_tcp_with("127.0.0.1", 0, None, true).expect("reserve");
        let port = reserved.local_addr().expect("address").port();
        let a = bind_tcp_with("127.0.0.1", port, Some(16), true).expect("first worker");
        let b = bind_tcp_with("127.0.0.1", port, Some(16), true).expect("second worker");
        assert_eq!(
            a.local_addr().expect("a").port(),
            b.local_addr().expect("b").port()
        );
        // Without SO_REUSEPORT the port is taken.
        assert!(bind_tcp("127.0.0.1", port, 16).is_err());
    }

    #[test]
    fn a_port_in_use_names_host_and_port() {
        let first = bind_tcp("127.0.0.1", 0, 16).expect("bind");
        let port = first.local_addr().expect("address").port();
        let err = bind_tcp("127.0.0.1", port, 16).expect_err("port in use");
        assert!(err.to_string().contains(&format!("port {port}")), "{err}");
    }
}
