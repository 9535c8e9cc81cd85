//! The worker's end of a streamed response body: chunks go into a bounded channel, and a
//! chunk that finds no room waits at most the server's socket timeout. A client that keeps
//! its connection busy but never reads one HTTP/2 stream (no WINDOW_UPDATE for it) would
//! otherwise hold a Python worker for as long as the connection lives: ten such streams
//! and the pool is gone.
//!
//! One slot of the channel is always kept free, so that giving up can still put an abort
//! marker in it: the tokio side must tell a body cut short from one that ended (a chunked
//! body without it would look complete).

use std::future::Future;
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};
use std::time::{Duration, Instant};

use bytes::Bytes;
use tokio::sync::mpsc;

use crate::exchange::{StreamAborted, StreamItem};

/// Chunks a streamed body may have in flight between the worker and the socket.
const IN_FLIGHT: usize = 8;

/// Why a chunk was not sent.
#[derive(Debug, PartialEq, Eq)]
pub enum NotSent {
    /// The receiver is gone (the client left, the stream was reset): stop quietly.
    Gone,
    /// No room for `limit`: the body was aborted (the marker is in the channel).
    Stalled,
}

/// The sending half, owned by one worker thread while it produces one body.
pub struct BodySender {
    tx: mpsc::Sender<StreamItem>,
    limit: Duration,
}

/// A channel for one streamed body; `limit` is how long one chunk may wait for room.
pub fn channel(limit: Duration) -> (BodySender, mpsc::Receiver<StreamItem>) {
    // The extra slot is the abort marker's.
    let (tx, rx) = mpsc::channel(IN_FLIGHT + 1);
    (BodySender { tx, limit }, rx)
}

/// Wakes the worker thread parked in `BodySender::send`.
struct Unpark(std::thread::Thread);

impl Wake for Unpark {
    fn wake(self: Arc<Self>) {
        self.0.unpark();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.0.unpark();
    }
}

impl BodySender {
    /// Sends one chunk, blocking (call with the interpreter released) until there is room
    /// with one slot to spare, the receiver is gone, or `limit` passes.
    pub fn send(&self, chunk: Bytes) -> Result<(), NotSent> {
        // The common case: room at once. Only this thread sends, so room seen here stays.
        if self.tx.capacity() >= 2 {
            return self.tx.try_send(Ok(chunk)).map_err(|_| NotSent::Gone);
        }
        if self.tx.is_closed() {
            return Err(NotSent::Gone);
        }
        let deadline = Instant::now() + self.limit;
        let waker = Waker::from(Arc::new(Unpark(std::thread::current())));
        let mut cx = Context::from_waker(&waker);
        {
            let mut room = std::pin::pin!(self.tx.reserve_many(2));
            loop {
                match room.as_mut().poll(&mut cx) {
                    Poll::Ready(Ok(mut permits)) => {
                        if let Some(permit) = permits.next() {
                            permit.send(Ok(chunk));
                        }
                        return Ok(());
                    }
                    Poll::Ready(Err(_)) => return Err(NotSent::Gone),
                    Poll::Pending => {
                        let now = Instant::now();
                        if now >= deadline {
                            break;
                        }
                        // Spurious returns are fine: the loop polls again.
                        std::thread::park_timeout(deadline - now);
                    }
                }
            }
            // Dropping the waiting reservation gives back the slot it may hold already.
        }
        self.abort();
        Err(NotSent::Stalled)
    }

    /// Marks the body as cut short: the client sees an incomplete response (HTTP/1: the
    /// connection closed; HTTP/2: the stream reset), never a complete-looking one.
    pub fn abort(&self) {
        // The spare slot is free: `send` never fills it.
        let _ = self.tx.try_send(Err(StreamAborted));
    }

    /// How long one chunk may wait for room.
    pub fn limit(&self) -> Duration {
        self.limit
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chunk() -> Bytes {
        Bytes::from_static(b"x")
    }

    #[test]
    fn a_reader_that_never_reads_releases_the_sender_with_an_abort_marker() {
        let (tx, mut rx) = channel(Duration::from_millis(50));
        for _ in 0..IN_FLIGHT {
            assert_eq!(tx.send(chunk()), Ok(()));
        }
        assert_eq!(tx.send(chunk()), Err(NotSent::Stalled));
        let mut items = Vec::new();
        while let Ok(item) = rx.try_recv() {
            items.push(item);
        }
        assert_eq!(items.len(), IN_FLIGHT + 1);
        assert!(items[..IN_FLIGHT].iter().all(|i| i.is_ok()));
        assert!(
            items[IN_FLIGHT].is_err(),
            "the last item is the abort marker"
        );
    }

    #[test]
    fn a_reader_that_reads_lets_every_chunk_through() {
        let (tx, mut rx) = channel(Duration::from_secs(30));
        let reader = std::thread::spawn(move || {
            let mut n = 0;
            while let Some(item) = rx.blocking_recv() {
                assert!(item.is_ok());
                n += 1;
                std::thread::sleep(Duration::from_micros(200));
            }
            n
        });
        for _ in 0..100 {
            assert_eq!(tx.send(chunk()), Ok(()));
        }
        drop(tx);
        assert_eq!(reader.join().unwrap(), 100);
    }

    #[test]
    fn a_reader_that_leaves_stops_the_sender_quietly() {
        let (tx, rx) = channel(Duration::from_secs(30));
        for _ in 0..IN_FLIGHT {
            assert_eq!(tx.send(chunk()), Ok(()));
        }
        let waiting = std::thread::spawn(move || tx.send(chunk()));
        std::thread::sleep(Duration::from_millis(20));
        drop(rx);
        assert_eq!(waiting.join().unwrap(), Err(NotSent::Gone));
    }
}
