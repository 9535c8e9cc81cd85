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

/// Binds `host:port` as configured, or takes a clone of the listening socket the
/// server was given (a worker process serving the socket its master bound).
pub fn bind(config: &ServerConfig, inherited: Option<&StdListener>) -> Result<StdListener, Error> {
    match inherited {
        Some(listener) => {
            // A duplicate of the descriptor: closing ours at stop leaves the socket open
            // in the master and the other workers, whose queue keeps the connections.
            let ours = listener.try_clone().map_err(|source| Error::Io {
                what: "cannot duplicate the inherited listening socket".into(),
                source,
            })?;
            ours.set_nonblocking(true).map_err(|source| Error::Io {
                what: "cannot make the inherited listening socket non-blocking".into(),
                source,
            })?;
            Ok(ours)
        }
        None => bind_tcp(&config.host, config.port, config.backlog),
    }
}

/// Binds `host:port` with SO_REUSEADDR (so a restart does not wait for TIME_WAIT) and
/// listens with `backlog`.
pub fn bind_tcp(host: &str, port: u16, backlog: i32) -> Result<StdListener, Error> {
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
    if addr.is_ipv6() {
        // "::" serves IPv4 too, as CherryPy's dual-stack sockets do.
        let _ = socket.set_only_v6(false);
    }
    socket.set_nodelay(true).map_err(fail)?;
    socket.bind(&addr.into()).map_err(fail)?;
    socket.listen(backlog).map_err(fail)?;
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_inherited_listener_is_served_through_a_duplicate() {
        let master = bind_tcp("127.0.0.1", 0, 16).expect("bind 127.0.0.1:0");
        let addr = master.local_addr().expect("bound address");
        let ours = bind(&ServerConfig::default(), Some(&master)).expect("duplicate");
        assert_eq!(ours.local_addr().expect("address"), addr);
        drop(ours);
        // The master's socket still accepts once the worker's duplicate is closed.
        let client = std::net::TcpStream::connect(addr).expect("connect");
        master.set_nonblocking(false).expect("blocking");
        let (_conn, peer) = master.accept().expect("accept");
        assert_eq!(peer, client.local_addr().expect("client address"));
    }

    #[test]
    fn a_port_in_use_names_host_and_port() {
        let first = bind_tcp("127.0.0.1", 0, 16).expect("bind");
        let port = first.local_addr().expect("address").port();
        let err = bind_tcp("127.0.0.1", port, 16).expect_err("port in use");
        assert!(err.to_string().contains(&format!("port {port}")), "{err}");
    }
}
