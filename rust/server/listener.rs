//! Binding the listening socket and accepting connections.

use std::net::{SocketAddr, TcpListener as StdListener, ToSocketAddrs};
use std::sync::Arc;
use std::time::Duration;

use socket2::{Domain, Protocol, Socket, Type};
use tokio::net::TcpListener;
use tokio_util::task::TaskTracker;

use super::{conn, Shared};
use crate::config::ServerConfig;
use crate::errors::Error;

/// Binds `host:port` with SO_REUSEADDR (so a restart does not wait for TIME_WAIT).
pub fn bind(config: &ServerConfig) -> Result<StdListener, Error> {
    let fail = |source: std::io::Error| Error::Bind {
        host: config.host.clone(),
        port: config.port,
        source,
    };
    // CherryPy accepts "" and "0.0.0.0" for every IPv4 address.
    let host = if config.host.is_empty() {
        "0.0.0.0"
    } else {
        config.host.as_str()
    };
    let addr: SocketAddr = (host, config.port)
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
    if addr.is_ipv6() {
        // "::" serves IPv4 too, as CherryPy's dual-stack sockets do.
        let _ = socket.set_only_v6(false);
    }
    socket.set_nodelay(true).map_err(fail)?;
    socket.bind(&addr.into()).map_err(fail)?;
    socket.listen(config.backlog).map_err(fail)?;
    socket.set_nonblocking(true).map_err(fail)?;
    Ok(socket.into())
}

/// Accepts until shutdown; each connection becomes a tracked task.
pub async fn accept_loop(listener: TcpListener, shared: Arc<Shared>, tracker: TaskTracker) {
    loop {
        let accepted = tokio::select! {
            biased;
            _ = shared.shutdown.cancelled() => break,
            accepted = listener.accept() => accepted,
        };
        match accepted {
            Ok((stream, remote)) => {
                let _ = stream.set_nodelay(true);
                tracker.spawn(conn::serve(stream, remote, shared.clone()));
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
