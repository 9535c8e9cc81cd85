//! The response body type hyper writes: a whole buffer, chunks from a bounded channel
//! fed by a Python worker thread, or a static file body read by Rust.

use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};
use tokio::sync::mpsc;

use crate::exchange::{StreamAborted, StreamItem};
use crate::static_files::StaticBody;

/// What hyper sends after the head.
#[derive(Debug)]
pub enum ResponseBody {
    Full(Option<Bytes>),
    Stream {
        rx: mpsc::Receiver<StreamItem>,
        /// The Content-Length the application declared, if any.
        declared: Option<u64>,
        sent: u64,
    },
    /// Bytes of a file (and multipart framing), read off the tokio threads.
    Static(StaticBody),
    /// The producer failed: the error is reported on the next poll, so that hyper first
    /// flushes the chunks already written (it drops unflushed output when a body fails).
    Failing,
}

impl ResponseBody {
    pub fn stream(rx: mpsc::Receiver<StreamItem>, declared: Option<u64>) -> Self {
        ResponseBody::Stream {
            rx,
            declared,
            sent: 0,
        }
    }

    pub fn full(bytes: impl Into<Bytes>) -> Self {
        let bytes = bytes.into();
        if bytes.is_empty() {
            ResponseBody::Full(None)
        } else {
            ResponseBody::Full(Some(bytes))
        }
    }

    /// The exact length, when known before sending.
    pub fn exact_len(&self) -> Option<u64> {
        match self {
            ResponseBody::Full(b) => Some(b.as_ref().map_or(0, |b| b.len() as u64)),
            ResponseBody::Static(body) => Some(body.len()),
            ResponseBody::Stream { .. } | ResponseBody::Failing => None,
        }
    }
}

/// Turns the body into `Failing` and yields once, so hyper flushes before the error.
fn fail(
    body: &mut ResponseBody,
    cx: &mut Context<'_>,
) -> Poll<Option<Result<Frame<Bytes>, StreamAborted>>> {
    *body = ResponseBody::Failing;
    cx.waker().wake_by_ref();
    Poll::Pending
}

impl Body for ResponseBody {
    type Data = Bytes;
    type Error = StreamAborted;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, StreamAborted>>> {
        let this = self.get_mut();
        match this {
            ResponseBody::Full(b) => Poll::Ready(b.take().map(|b| Ok(Frame::data(b)))),
            ResponseBody::Stream { rx, declared, sent } => match rx.poll_recv(cx) {
                Poll::Ready(Some(Ok(b))) => {
                    *sent += b.len() as u64;
                    Poll::Ready(Some(Ok(Frame::data(b))))
                }
                Poll::Ready(Some(Err(_))) => fail(this, cx),
                // Fewer bytes than declared: the connection must be cut so the client
                // sees the body is incomplete, after what was written is flushed.
                Poll::Ready(None) if declared.is_some_and(|n| *sent < n) => fail(this, cx),
                Poll::Ready(None) => Poll::Ready(None),
                Poll::Pending => Poll::Pending,
            },
            ResponseBody::Static(body) => match Pin::new(body).poll_frame(cx) {
                // A file that cannot be read (or shrank) after its length was sent: the
                // connection must be cut.
                Poll::Ready(Some(Err(_))) => fail(this, cx),
                other => other.map_err(|_| StreamAborted),
            },
            ResponseBody::Failing => Poll::Ready(Some(Err(StreamAborted))),
        }
    }

    fn is_end_stream(&self) -> bool {
        match self {
            ResponseBody::Full(None) => true,
            ResponseBody::Static(body) => body.is_end_stream(),
            _ => false,
        }
    }

    fn size_hint(&self) -> SizeHint {
        match self.exact_len() {
            Some(n) => SizeHint::with_exact(n),
            None => SizeHint::default(),
        }
    }
}
