//! A static response body: bytes in memory and byte ranges of an open file, read in
//! large chunks into reused buffers.
//!
//! A chunk whose pages are in the page cache is read on the tokio thread with
//! `preadv2(RWF_NOWAIT)`, which copies from the page cache and never waits for the
//! disk (it fails with `EAGAIN` instead); the rest of a chunk that is not cached is read
//! on tokio's blocking pool (never a blocking read on a tokio worker thread), and while
//! hyper writes a chunk read there, the next one is read ahead the same way. A
//! connection holds at most two chunks of memory however large the file.
//!
//! Chunk buffers go back to a small process-wide pool when hyper drops them, so a large
//! download neither allocates (and page-faults) nor zeroes a fresh buffer per chunk.
//! Measured on a 10 MiB file (benchmarks/README.md): the zeroing was 13% of the CPU and
//! the hand-offs to the blocking pool (futex waits and wake-ups) about a quarter.

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
use parking_lot::Mutex;
use rustix::io::{Errno, ReadWriteFlags};
use tokio::task::JoinHandle;

/// Bytes per read from a file.
pub const CHUNK: u64 = 256 * 1024;

/// Chunk buffers kept for reuse (4 MiB): enough for the chunks of a few dozen large
/// downloads in flight at once; more are allocated and freed as before.
const POOL_MAX: usize = 16;

/// Buffers of `CHUNK` bytes (initialised once) that no response holds.
static POOL: Mutex<Vec<Vec<u8>>> = Mutex::new(Vec::new());

/// A buffer of `CHUNK` bytes, from the pool when it has one.
fn take_buffer() -> Vec<u8> {
    POOL.lock()
        .pop()
        .unwrap_or_else(|| vec![0u8; CHUNK as usize])
}

/// The first `len` bytes of a pooled buffer, as the owner of a `Bytes`: the buffer goes
/// back to the pool when the last `Bytes` of it is dropped (hyper has written it).
struct Chunk {
    buf: Vec<u8>,
    len: usize,
}

impl AsRef<[u8]> for Chunk {
    fn as_ref(&self) -> &[u8] {
        self.buf.get(..self.len).unwrap_or(&[])
    }
}

impl Drop for Chunk {
    fn drop(&mut self) {
        let buf = std::mem::take(&mut self.buf);
        if buf.len() == CHUNK as usize {
            let mut pool = POOL.lock();
            if pool.len() < POOL_MAX {
                pool.push(buf);
            }
        }
    }
}

/// How far a read without waiting got.
enum Nowait {
    /// All of it.
    Done,
    /// This many bytes; the rest is not in the page cache (or the file system has no
    /// `RWF_NOWAIT`).
    Partial(usize),
}

/// Fills `buf` from `offset` as far as the page cache allows (`preadv2` with
/// `RWF_NOWAIT`: never waits for the disk). The end of the file before the end of `buf`
/// is an error: the file shrank after the response promised its length.
fn read_nowait(file: &File, offset: u64, buf: &mut [u8]) -> io::Result<Nowait> {
    let mut filled = 0;
    while filled < buf.len() {
        let Some(rest) = buf.get_mut(filled..) else {
            break;
        };
        let at = offset + filled as u64;
        match rustix::io::preadv2(
            file,
            &mut [io::IoSliceMut::new(rest)],
            at,
            ReadWriteFlags::NOWAIT,
        ) {
            Ok(0) => return Err(shrank()),
            Ok(n) => filled += n,
            Err(Errno::INTR) => {}
            Err(Errno::AGAIN) => return Ok(Nowait::Partial(filled)),
            // A kernel or file system without RWF_NOWAIT.
            Err(Errno::OPNOTSUPP | Errno::INVAL | Errno::NOSYS) => {
                return Ok(Nowait::Partial(filled))
            }
            Err(e) => return Err(e.into()),
        }
    }
    Ok(Nowait::Done)
}

fn shrank() -> io::Error {
    io::Error::new(
        io::ErrorKind::UnexpectedEof,
        "the file is shorter than when its response began",
    )
}

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
    /// Whether reads go to the blocking pool only: the file system has no
    /// `RWF_NOWAIT`, or the file was not in the page cache (then the next chunk is
    /// read ahead there while this one is written).
    blocking: bool,
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
            blocking: false,
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

    /// Takes the next chunk's range (offset, length) off the front file segment.
    fn next_range(&mut self) -> io::Result<Option<(Arc<File>, u64, u64)>> {
        let Some(Segment::File { offset, len }) = self.segments.front_mut() else {
            return Ok(None);
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
        Ok(Some((file, at, n)))
    }

    /// Starts reading the next file chunk on the blocking pool, if the next segment is
    /// a file range (the read-ahead of a file that is not in the page cache).
    fn read_ahead(&mut self) -> io::Result<()> {
        if self.pending.is_some() || !self.blocking {
            return Ok(());
        }
        if let Some((file, at, n)) = self.next_range()? {
            self.spawn_read(file, at, n, take_buffer(), 0);
        }
        Ok(())
    }

    /// Reads bytes `filled..n` of the chunk at `at` into `buf` on the blocking pool.
    fn spawn_read(&mut self, file: Arc<File>, at: u64, n: u64, mut buf: Vec<u8>, filled: usize) {
        let handle = tokio::task::spawn_blocking(move || {
            let len = n as usize;
            let rest = buf
                .get_mut(filled..len)
                .ok_or_else(|| io::Error::other("chunk size"))?;
            file.read_exact_at(rest, at + filled as u64).map_err(|e| {
                if e.kind() == io::ErrorKind::UnexpectedEof {
                    shrank()
                } else {
                    e
                }
            })?;
            Ok(Bytes::from_owner(Chunk { buf, len }))
        });
        self.pending = Some((n, handle));
    }

    /// The next file chunk: read here if the page cache has it all, else (the rest of
    /// it) started on the blocking pool, `None` then.
    fn read_chunk(&mut self) -> io::Result<Option<Bytes>> {
        let Some((file, at, n)) = self.next_range()? else {
            return Ok(None);
        };
        let mut buf = take_buffer();
        let mut filled = 0;
        if !self.blocking {
            let len = n as usize;
            let target = buf
                .get_mut(..len)
                .ok_or_else(|| io::Error::other("chunk size"))?;
            match read_nowait(&file, at, target)? {
                Nowait::Done => {
                    self.remaining = self.remaining.saturating_sub(n);
                    return Ok(Some(Bytes::from_owner(Chunk { buf, len })));
                }
                Nowait::Partial(got) => {
                    filled = got;
                    self.blocking = true;
                }
            }
        }
        self.spawn_read(file, at, n, buf, filled);
        Ok(None)
    }
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
                Some(Segment::File { .. }) => match this.read_chunk() {
                    Ok(Some(chunk)) => return Poll::Ready(Some(Ok(Frame::data(chunk)))),
                    // Started on the blocking pool: polled above.
                    Ok(None) => {}
                    Err(e) => return Poll::Ready(Some(Err(e))),
                },
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
    async fn the_blocking_pool_reads_the_same_bytes() {
        let mut file = tempfile::tempfile().unwrap();
        let data: Vec<u8> = (0..(CHUNK as usize * 3 + 7))
            .map(|i| (i % 253) as u8)
            .collect();
        file.write_all(&data).unwrap();
        let file = Arc::new(file);
        for blocking in [false, true] {
            let mut body = StaticBody::new(
                Some(file.clone()),
                vec![
                    Segment::File {
                        offset: 1,
                        len: CHUNK * 2 + 3,
                    },
                    Segment::Bytes(Bytes::from_static(b"|")),
                    Segment::File {
                        offset: CHUNK * 3,
                        len: 7,
                    },
                ],
            );
            // As after a chunk that was not in the page cache.
            body.blocking = blocking;
            let out = body.collect().await.unwrap().to_bytes();
            let mut expected = data[1..CHUNK as usize * 2 + 4].to_vec();
            expected.push(b'|');
            expected.extend_from_slice(&data[CHUNK as usize * 3..]);
            assert_eq!(out.as_ref(), expected.as_slice(), "blocking: {blocking}");
        }
    }

    #[tokio::test]
    async fn a_file_that_shrank_fails_the_body() {
        let file = Arc::new(tempfile::tempfile().unwrap());
        for blocking in [false, true] {
            let mut body = StaticBody::new(
                Some(file.clone()),
                vec![Segment::File { offset: 0, len: 10 }],
            );
            body.blocking = blocking;
            let err = body.collect().await.unwrap_err();
            assert_eq!(err.kind(), io::ErrorKind::UnexpectedEof);
        }
    }

    #[test]
    fn empty_segments_are_dropped() {
        let body = StaticBody::new(None, vec![Segment::Bytes(Bytes::new())]);
        assert!(body.is_end_stream());
        assert_eq!(body.size_hint().exact(), Some(0));
    }
}
