//! One connection: hyper's HTTP/1 state machine with the limits hyper leaves off by
//! default, and the graceful-stop hand-off.

use std::net::SocketAddr;
use std::sync::Arc;

use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpStream;

use super::{service, Shared};

/// Serves one connection until the client closes it, a limit closes it, or the server
/// stops (then the request in flight finishes first).
pub async fn serve(stream: TcpStream, remote: SocketAddr, shared: Arc<Shared>) {
    let config = &shared.config;
    let mut builder = http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        // Starts when hyper waits for a request head, so it bounds both a slow head
        // (slowloris) and an idle keep-alive connection.
        .header_read_timeout(config.socket_timeout)
        .max_header_size(config.max_header_size)
        .max_buf_size(config.read_buffer_size())
        .max_headers(config.max_headers)
        // CherryPy (cheroot) sends "Content-Type", not "content-type"; raw clients compare.
        .title_case_headers(true)
        .keep_alive(true)
        .half_close(false);
    let svc_shared = shared.clone();
    let svc = service_fn(move |req| service::handle(svc_shared.clone(), remote, req));
    let conn = builder.serve_connection(TokioIo::new(stream), svc);
    tokio::pin!(conn);
    tokio::select! {
        _ = conn.as_mut() => {}
        _ = shared.shutdown.cancelled() => {
            conn.as_mut().graceful_shutdown();
            let _ = conn.await;
        }
    }
}
