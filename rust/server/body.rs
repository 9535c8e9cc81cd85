//! The response body type hyper writes: a whole buffer or chunks from a bounded channel
//! fed by a Python worker thread.

use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};
use tokio::sync::mpsc;

use crate::exchange::{StreamAborted, StreamItem};

/// What hyper sends after the head.
#[derive(Debug)]
pub enum ResponseBody {
    Full(Option<Bytes>),
    Stream(mpsc::Receiver<StreamItem>),
    /// The producer failed: the error is reported on the next poll, so that hyper first
    /// flushes the chunks already written (it drops unflushed output when a body fails).
    Failing,
}

impl ResponseBody {
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
            ResponseBody::Stream(_) | ResponseBody::Failing => None,
        }
    }
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
            ResponseBody::Stream(rx) => match rx.poll_recv(cx) {
                Poll::Ready(Some(Ok(b))) => Poll::Ready(Some(Ok(Frame::data(b)))),
                Poll::Ready(Some(Err(_))) => {
                    *this = ResponseBody::Failing;
                    cx.waker().wake_by_ref();
                    Poll::Pending
                }
                Poll::Ready(None) => Poll::Ready(None),
                Poll::Pending => Poll::Pending,
            },
            ResponseBody::Failing => Poll::Ready(Some(Err(StreamAborted))),
        }
    }

    fn is_end_stream(&self) -> bool {
        matches!(self, ResponseBody::Full(None))
    }

    fn size_hint(&self) -> SizeHint {
        match self.exact_len() {
            Some(n) => SizeHint::with_exact(n),
            None => SizeHint::default(),
        }
    }
}
