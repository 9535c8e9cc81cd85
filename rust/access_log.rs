//! The access log, in CherryPy's default format (Apache combined without the zone):
//! `127.0.0.1 - - [25/Nov/2026:01:21:16] "GET / HTTP/1.1" 200 13 "" "curl/8"`.
//! Lines are formatted on the tokio thread and written by a dedicated thread, so neither
//! the GIL nor file I/O is ever on the request path. A `Sink` (the bridge's hand-off to
//! the handlers attached to Python's `cherrypy.access` logger) also receives each batch
//! on that thread.

use std::fs::{File, OpenOptions};
use std::io::{BufWriter, Write};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{sync_channel, Receiver, SyncSender, TrySendError};
use std::sync::Arc;
use std::thread::JoinHandle;

use chrono::{Datelike, Local, Timelike};

use crate::errors::Error;

/// Lines waiting for the writer; beyond this, lines are counted as dropped rather than
/// making a request wait for the disk.
const BACKLOG: usize = 16 * 1024;

/// The fields of one access-log line.
pub struct Entry<'a> {
    pub remote: &'a str,
    pub request_line: &'a str,
    pub status: u16,
    /// Content-Length of the response, if known.
    pub length: Option<u64>,
    pub referer: &'a [u8],
    pub user_agent: &'a [u8],
}

/// Escapes one field as CherryPy does: `"` → `\"`, whitespace in C notation, other
/// non-printable bytes as `\xhh`.
fn push_escaped(out: &mut String, value: &[u8]) {
    for &b in value {
        match b {
            b'"' => out.push_str("\\\""),
            b'\n' => out.push_str("\\n"),
            b'\r' => out.push_str("\\r"),
            b'\t' => out.push_str("\\t"),
            0x20..=0x7e => out.push(b as char),
            _ => {
                use std::fmt::Write as _;
                let _ = write!(out, "\\x{b:02x}");
            }
        }
    }
}

const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

/// `[25/Nov/2026:01:21:16]` in local time, as `cherrypy._cplogging.LogManager.time()`.
pub fn timestamp() -> String {
    let now = Local::now();
    format!(
        "[{:02}/{}/{:04}:{:02}:{:02}:{:02}]",
        now.day(),
        MONTHS[now.month0() as usize % 12],
        now.year(),
        now.hour(),
        now.minute(),
        now.second()
    )
}

/// Formats one line (with its newline).
pub fn format_line(entry: &Entry<'_>, time: &str) -> String {
    let mut line = String::with_capacity(128);
    push_escaped(&mut line, entry.remote.as_bytes());
    line.push_str(" - - ");
    line.push_str(time);
    line.push_str(" \"");
    push_escaped(&mut line, entry.request_line.as_bytes());
    line.push_str("\" ");
    line.push_str(&entry.status.to_string());
    line.push(' ');
    match entry.length {
        Some(n) => line.push_str(&n.to_string()),
        None => line.push('-'),
    }
    line.push_str(" \"");
    push_escaped(&mut line, entry.referer);
    line.push_str("\" \"");
    push_escaped(&mut line, entry.user_agent);
    line.push_str("\"\n");
    line
}

/// Receives each batch of whole lines (newline-terminated) on the writer thread.
pub type Sink = Box<dyn FnMut(&str) + Send>;

/// Where the lines go: `log.screen` (stdout) and/or `log.access_file`, and a `Sink`.
pub struct AccessLog {
    sender: Option<SyncSender<String>>,
    writer: Option<JoinHandle<()>>,
    dropped: Arc<AtomicU64>,
}

impl AccessLog {
    /// A log that writes nothing (both outputs off): costs nothing per request.
    pub fn disabled() -> Self {
        AccessLog {
            sender: None,
            writer: None,
            dropped: Arc::new(AtomicU64::new(0)),
        }
    }

    /// Starts the writer thread.
    pub fn open(screen: bool, file: Option<&str>, sink: Option<Sink>) -> Result<Self, Error> {
        if !screen && file.is_none() && sink.is_none() {
            return Ok(Self::disabled());
        }
        let file = match file {
            Some(path) => Some(
                OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(path)
                    .map_err(|source| Error::Io {
                        what: format!("cannot open log.access_file {path:?}"),
                        source,
                    })?,
            ),
            None => None,
        };
        let (sender, receiver) = sync_channel(BACKLOG);
        let writer = std::thread::Builder::new()
            .name("cherrypy_rs-access-log".into())
            .spawn(move || write_lines(receiver, screen, file, sink))
            .map_err(|source| Error::Io {
                what: "cannot start the access-log thread".into(),
                source,
            })?;
        Ok(AccessLog {
            sender: Some(sender),
            writer: Some(writer),
            dropped: Arc::new(AtomicU64::new(0)),
        })
    }

    pub fn enabled(&self) -> bool {
        self.sender.is_some()
    }

    /// Queues one line; never blocks.
    pub fn log(&self, entry: &Entry<'_>) {
        let Some(sender) = &self.sender else { return };
        let line = format_line(entry, &timestamp());
        match sender.try_send(line) {
            Ok(()) => {}
            Err(TrySendError::Full(_)) | Err(TrySendError::Disconnected(_)) => {
                self.dropped.fetch_add(1, Ordering::Relaxed);
            }
        }
    }

    /// Flushes what is queued and stops the writer thread.
    pub fn close(&mut self) {
        self.sender = None;
        if let Some(handle) = self.writer.take() {
            let _ = handle.join();
        }
    }
}

impl Drop for AccessLog {
    fn drop(&mut self) {
        self.close();
    }
}

fn write_lines(
    receiver: Receiver<String>,
    screen: bool,
    file: Option<File>,
    mut sink: Option<Sink>,
) {
    let mut file = file.map(|f| BufWriter::with_capacity(64 * 1024, f));
    let mut stdout = screen.then(std::io::stdout);
    // Block for the first line, then take whatever else is queued before one flush.
    while let Ok(first) = receiver.recv() {
        let mut batch = first;
        while let Ok(more) = receiver.try_recv() {
            batch.push_str(&more);
            if batch.len() > 64 * 1024 {
                break;
            }
        }
        if let Some(f) = file.as_mut() {
            let _ = f.write_all(batch.as_bytes());
            let _ = f.flush();
        }
        if let Some(out) = stdout.as_mut() {
            let mut lock = out.lock();
            let _ = lock.write_all(batch.as_bytes());
            let _ = lock.flush();
        }
        if let Some(sink) = sink.as_mut() {
            sink(&batch);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_matches_cherrypys_format() {
        let e = Entry {
            remote: "127.0.0.1",
            request_line: "GET /a?b=1 HTTP/1.1",
            status: 200,
            length: Some(13),
            referer: b"",
            user_agent: b"curl/8",
        };
        assert_eq!(
            format_line(&e, "[25/Nov/2026:01:21:16]"),
            "127.0.0.1 - - [25/Nov/2026:01:21:16] \"GET /a?b=1 HTTP/1.1\" 200 13 \"\" \"curl/8\"\n"
        );
    }

    #[test]
    fn unprintable_bytes_and_quotes_are_escaped() {
        let e = Entry {
            remote: "::1",
            request_line: "GET / HTTP/1.1",
            status: 404,
            length: None,
            referer: b"a\"b",
            user_agent: b"x\ny\xff",
        };
        let line = format_line(&e, "[t]");
        assert!(
            line.ends_with(" 404 - \"a\\\"b\" \"x\\ny\\xff\"\n"),
            "{line}"
        );
    }

    #[test]
    fn timestamp_has_cherrypys_shape() {
        let t = timestamp();
        assert_eq!(t.len(), "[25/Nov/2026:01:21:16]".len(), "{t}");
        assert!(t.starts_with('[') && t.ends_with(']'));
    }

    #[test]
    fn file_receives_lines() {
        let dir = std::env::temp_dir().join(format!("cprs-log-{}", std::process::id()));
        let path = dir.to_string_lossy().to_string();
        let mut log = AccessLog::open(false, Some(&path), None).unwrap();
        log.log(&Entry {
            remote: "1.2.3.4",
            request_line: "GET / HTTP/1.0",
            status: 200,
            length: Some(1),
            referer: b"",
            user_agent: b"",
        });
        log.close();
        let text = std::fs::read_to_string(&path).unwrap();
        let _ = std::fs::remove_file(&path);
        assert!(text.starts_with("1.2.3.4 - - ["), "{text}");
    }

    #[test]
    fn a_sink_receives_whole_lines_with_no_other_output() {
        let seen = Arc::new(parking_lot::Mutex::new(String::new()));
        let into = seen.clone();
        let sink: Sink = Box::new(move |batch: &str| into.lock().push_str(batch));
        let mut log = AccessLog::open(false, None, Some(sink)).expect("open");
        assert!(log.enabled());
        for status in [200, 404] {
            log.log(&Entry {
                remote: "1.2.3.4",
                request_line: "GET / HTTP/1.1",
                status,
                length: None,
                referer: b"",
                user_agent: b"",
            });
        }
        log.close();
        let text = seen.lock().clone();
        assert_eq!(text.lines().count(), 2, "{text}");
        assert!(text.ends_with("\"\" \"\"\n"), "{text}");
    }
}
