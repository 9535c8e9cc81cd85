//! A static response body: bytes in memory and byte ranges of an open file, read in
//! large chunks on tokio's blocking pool (never on a tokio worker thread), one chunk
//! read ahead while the previous one is written, so a connection holds at most two
//! chunks of memory however large the file.

use std::collections::VecDeque;
use std::fs::File;
use std::future::Future;
use std::io;
use std::os::unix::fs::FileExt;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::task::{ready, Context, Poll};

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};
use tokio::task::JoinHandle;

/// Bytes per read from a file.
pub const CHUNK: u64 = 256 * 1024;

/// One piece of the body, in order.
#[derive(Debug)]
pub enum Segment {
    Bytes(Bytes),
    /// `len` bytes of the body's file from `offset`.
    File {
        offset: u64,
        len: u64,
    },
}

/// How far a body has read its file (CherryPy's `file_generator.input.tell()`), and
/// whether it is done with it (`input.closed`): what `_core.StaticFile.input` shows.
#[derive(Debug, Default)]
pub struct ReadProgress {
    position: AtomicU64,
    closed: AtomicBool,
}

impl ReadProgress {
    /// The file offset after the last chunk read.
    pub fn position(&self) -> u64 {
        self.position.load(Ordering::Relaxed)
    }

    /// Whether the body has been sent (or dropped).
    pub fn closed(&self) -> bool {
        self.closed.load(Ordering::Relaxed)
    }
}

/// The body of a static response.
#[derive(Debug, Default)]
pub struct StaticBody {
    file: Option<Arc<File>>,
    segments: VecDeque<Segment>,
    remaining: u64,
    /// The read of the chunk that comes before `segments`' first one.
    pending: Option<(u64, JoinHandle<io::Result<Bytes>>)>,
    progress: Option<Arc<ReadProgress>>,
}

impl Drop for StaticBody {
    fn drop(&mut self) {
        if let Some(progress) = &self.progress {
            progress.closed.store(true, Ordering::Relaxed);
        }
    }
}

impl StaticBody {
    pub fn empty() -> Self {
        StaticBody::default()
    }

    pub fn bytes(bytes: Bytes) -> Self {
        StaticBody::new(None, vec![Segment::Bytes(bytes)])
    }

    /// A body of `segments`; `file` is what their `Segment::File` parts read from.
    pub fn new(file: Option<Arc<File>>, segments: Vec<Segment>) -> Self {
        let segments: VecDeque<Segment> = segments
            .into_iter()
            .filter(|s| match s {
                Segment::Bytes(b) => !b.is_empty(),
                Segment::File { len, .. } => *len > 0,
            })
            .collect();
        let remaining = segments
            .iter()
            .map(|s| match s {
                Segment::Bytes(b) => b.len() as u64,
                Segment::File { len, .. } => *len,
            })
            .sum();
        StaticBody {
            file,
            segments,
            remaining,
            pending: None,
            progress: None,
        }
    }

    /// Reports this body's reads to `progress` from now on.
    pub fn track(&mut self, progress: Arc<ReadProgress>) {
        progress.position.store(0, Ordering::Relaxed);
        progress.closed.store(false, Ordering::Relaxed);
        self.progress = Some(progress);
    }

    /// Bytes still to be sent.
    pub fn len(&self) -> u64 {
        self.remaining
    }

    pub fn is_empty(&self) -> bool {
        self.remaining == 0
    }

    /// Starts reading the next file chunk, if the next segment is a file range.
    fn read_ahead(&mut self) -> io::Result<()> {
        if self.pending.is_some() {
            return Ok(());
        }
        let Some(Segment::File { offset, len }) = self.segments.front_mut() else {
            return Ok(());
        };
        let Some(file) = self.file.clone() else {
            return Err(io::Error::other("a file range without a file"));
        };
        let n = (*len).min(CHUNK);
        let at = *offset;
        *offset += n;
        *len -= n;
        if *len == 0 {
            self.segments.pop_front();
        }
        if let Some(progress) = &self.progress {
            progress.position.store(at + n, Ordering::Relaxed);
        }
        let handle = tokio::task::spawn_blocking(move || read_exact_at(&file, at, n));
        self.pending = Some((n, handle));
        Ok(())
    }
}

/// Reads exactly `n` bytes at `offset`; a file that shrank meanwhile is an error (the
/// response already promised its length, so the connection must be cut).
fn read_exact_at(file: &File, offset: u64, n: u64) -> io::Result<Bytes> {
    let mut buf = vec![0u8; n as usize];
    file.read_exact_at(&mut buf, offset)?;
    Ok(Bytes::from(buf))
}

impl Body for StaticBody {
    type Data = Bytes;
    type Error = io::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, io::Error>>> {
        let this = self.get_mut();
        loop {
            if let Some((n, handle)) = this.pending.as_mut() {
                let n = *n;
                let outcome = ready!(Pin::new(handle).poll(cx));
                this.pending = None;
                let chunk = match outcome {
                    Ok(Ok(chunk)) => chunk,
                    Ok(Err(e)) => return Poll::Ready(Some(Err(e))),
                    Err(join) => return Poll::Ready(Some(Err(io::Error::other(join)))),
                };
                this.remaining = this.remaining.saturating_sub(n);
                // Read the next chunk while hyper writes this one.
                if let Err(e) = this.read_ahead() {
                    return Poll::Ready(Some(Err(e)));
                }
                return Poll::Ready(Some(Ok(Frame::data(chunk))));
            }
            match this.segments.front() {
                None => return Poll::Ready(None),
                Some(Segment::Bytes(_)) => {
                    let Some(Segment::Bytes(bytes)) = this.segments.pop_front() else {
                        return Poll::Ready(None);
                    };
                    this.remaining = this.remaining.saturating_sub(bytes.len() as u64);
                    if let Err(e) = this.read_ahead() {
                        return Poll::Ready(Some(Err(e)));
                    }
                    return Poll::Ready(Some(Ok(Frame::data(bytes))));
                }
                Some(Segment::File { .. }) => {
                    if let Err(e) = this.read_ahead() {
                        return Poll::Ready(Some(Err(e)));
                    }
                }
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.pending.is_none() && self.segments.is_empty()
    }

    fn size_hint(&self) -> SizeHint {
        SizeHint::with_exact(self.remaining)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::BodyExt;
    use std::io::Write;

    #[tokio::test]
    async fn file_ranges_and_bytes_come_out_in_order() {
        let mut file = tempfile::tempfile().unwrap();
        let data: Vec<u8> = (0..(CHUNK as usize * 2 + 10))
            .map(|i| (i % 251) as u8)
            .collect();
        file.write_all(&data).unwrap();
        let file = Arc::new(file);
        let body = StaticBody::new(
            Some(file),
            vec![
                Segment::Bytes(Bytes::from_static(b"<")),
                Segment::File {
                    offset: 5,
                    len: CHUNK + 20,
                },
                Segment::Bytes(Bytes::from_static(b">")),
                Segment::File { offset: 0, len: 3 },
            ],
        );
        assert_eq!(body.len(), CHUNK + 20 + 5);
        let out = body.collect().await.unwrap().to_bytes();
        let mut expected = b"<".to_vec();
        expected.extend_from_slice(&data[5..5 + CHUNK as usize + 20]);
        expected.push(b'>');
        expected.extend_from_slice(&data[..3]);
        assert_eq!(out.as_ref(), expected.as_slice());
    }

    #[tokio::test]
    async fn a_file_that_shrank_fails_the_body() {
        let file = Arc::new(tempfile::tempfile().unwrap());
        let body = StaticBody::new(Some(file), vec![Segment::File { offset: 0, len: 10 }]);
        assert!(body.collect().await.is_err());
    }

    #[test]
    fn empty_segments_are_dropped() {
        let body = StaticBody::new(None, vec![Segment::Bytes(Bytes::new())]);
        assert!(body.is_end_stream());
        assert_eq!(body.size_hint().exact(), Some(0));
    }
}
