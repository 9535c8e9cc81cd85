//! The access log, in CherryPy's default format (Apache combined without the zone):
//! `127.0.0.1 - - [25/Nov/2026:01:21:16] "GET / HTTP/1.1" 200 13 "" "curl/8"`.
//! Lines are formatted on the tokio thread and written by a dedicated thread, so neither
//! the GIL nor file I/O is ever on the request path. A `Sink` (the bridge's hand-off to
//! the handlers attached to Python's `cherrypy.access` logger) also receives each batch
//! on that thread.
//!
//! A request's application may change what CherryPy logs (`request.login`,
//! `request.remote.name`, `request.request_line`, the `User-Agent`/`Referer` request
//! headers): it hands the new values back with its reply (`exchange::LogPatch`) and they
//! replace the parsed ones here. With a custom `LogManager.access_log_format` Python
//! formats the whole line itself and this writer only writes it.

use std::fs::{File, OpenOptions};
use std::io::{BufWriter, Write};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{sync_channel, Receiver, SyncSender, TrySendError};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use chrono::{Datelike, Local, Timelike};

use crate::errors::Error;

/// Lines waiting for the writer; beyond this, lines are counted as dropped rather than
/// making a request wait for the disk.
const BACKLOG: usize = 16 * 1024;

/// The fields of one access-log line (CherryPy's atoms `h l u t r s b f a`).
pub struct Entry<'a> {
    /// `h`: `remote.name or remote.ip`.
    pub remote: &'a [u8],
    /// `u`: `request.login` ("" is written `-`).
    pub login: &'a [u8],
    pub request_line: &'a [u8],
    pub status: u16,
    /// Content-Length of the response, if known.
    pub length: Option<u64>,
    pub referer: &'a [u8],
    pub user_agent: &'a [u8],
}

/// Escapes one field as CherryPy does (`repr` of the UTF-8 bytes): `"` → `\"`,
/// whitespace in C notation, other non-printable bytes as `\xhh`, and `'` → `\'` when the
/// field holds both quote characters (where `repr` switches to single quotes).
fn push_escaped(out: &mut String, value: &[u8]) {
    let both_quotes = value.contains(&b'"') && value.contains(&b'\'');
    for &b in value {
        match b {
            b'"' => out.push_str("\\\""),
            b'\'' if both_quotes => out.push_str("\\'"),
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
    push_escaped(&mut line, entry.remote);
    line.push_str(" - ");
    if entry.login.is_empty() {
        line.push('-');
    } else {
        push_escaped(&mut line, entry.login);
    }
    line.push(' ');
    line.push_str(time);
    line.push_str(" \"");
    push_escaped(&mut line, entry.request_line);
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

/// What the writer thread receives.
enum Message {
    /// Whole lines, each with its newline.
    Lines(String),
    /// Answer once everything queued before is written.
    Flush(SyncSender<()>),
}

/// Where the lines go: `log.screen` (stdout) and/or `log.access_file`, and a `Sink`.
pub struct AccessLog {
    sender: Option<SyncSender<Message>>,
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
        self.queue(format_line(entry, &timestamp()));
    }

    /// Queues lines the application formatted itself (a custom
    /// `LogManager.access_log_format`), each given without its newline; never blocks.
    pub fn log_lines(&self, lines: &[String]) {
        if self.sender.is_none() {
            return;
        }
        let mut text = String::with_capacity(lines.iter().map(|l| l.len() + 1).sum());
        for line in lines {
            text.push_str(line);
            text.push('\n');
        }
        self.queue(text);
    }

    fn queue(&self, text: String) {
        let Some(sender) = &self.sender else { return };
        match sender.try_send(Message::Lines(text)) {
            Ok(()) => {}
            Err(TrySendError::Full(_)) | Err(TrySendError::Disconnected(_)) => {
                self.dropped.fetch_add(1, Ordering::Relaxed);
            }
        }
    }

    /// Waits (up to `timeout`) until every line queued so far is written to the screen,
    /// the file and the sink. True when they are (or when there is no log).
    pub fn flush(&self, timeout: Duration) -> bool {
        let Some(sender) = &self.sender else {
            return true;
        };
        let (ack, done) = sync_channel(1);
        let deadline = Instant::now() + timeout;
        let mut message = Message::Flush(ack);
        // The queue may be full: retry until there is room or the time is up.
        loop {
            match sender.try_send(message) {
                Ok(()) => break,
                Err(TrySendError::Full(back)) => {
                    if Instant::now() >= deadline {
                        return false;
                    }
                    message = back;
                    std::thread::sleep(Duration::from_millis(1));
                }
                Err(TrySendError::Disconnected(_)) => return false,
            }
        }
        done.recv_timeout(deadline.saturating_duration_since(Instant::now()))
            .is_ok()
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
    receiver: Receiver<Message>,
    screen: bool,
    file: Option<File>,
    mut sink: Option<Sink>,
) {
    let mut file = file.map(|f| BufWriter::with_capacity(64 * 1024, f));
    let mut stdout = screen.then(std::io::stdout);
    // Block for the first message, then take whatever else is queued before one flush.
    while let Ok(first) = receiver.recv() {
        let mut batch = String::new();
        let mut acks = Vec::new();
        let mut next = Some(first);
        while let Some(message) = next.take() {
            match message {
                Message::Lines(text) => batch.push_str(&text),
                Message::Flush(ack) => acks.push(ack),
            }
            if batch.len() > 64 * 1024 {
                break;
            }
            next = receiver.try_recv().ok();
        }
        if !batch.is_empty() {
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
        for ack in acks {
            let _ = ack.try_send(());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_matches_cherrypys_format() {
        let e = Entry {
            remote: b"127.0.0.1",
            login: b"",
            request_line: b"GET /a?b=1 HTTP/1.1",
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
            remote: b"::1",
            login: b"",
            request_line: b"GET / HTTP/1.1",
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
            remote: b"1.2.3.4",
            login: b"",
            request_line: b"GET / HTTP/1.0",
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
                remote: b"1.2.3.4",
                login: b"",
                request_line: b"GET / HTTP/1.1",
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

    #[test]
    fn login_and_both_quote_kinds_as_cherrypy_writes_them() {
        let e = Entry {
            remote: "\u{388}ρ".as_bytes(),
            login: b"it's \"me\"",
            request_line: b"GET /a\\b HTTP/1.1",
            status: 200,
            length: Some(0),
            referer: b"",
            user_agent: b"x'y",
        };
        let line = format_line(&e, "[t]");
        // With both quote kinds Python's repr escapes ' (CherryPy writes \'); a lone ' is kept.
        assert_eq!(
            line,
            "\\xce\\x88\\xcf\\x81 - it\\'s \\\"me\\\" [t] \"GET /a\\b HTTP/1.1\" 200 0 \"\" \"x'y\"\n"
        );
    }

    #[test]
    fn preformatted_lines_and_flush() {
        let seen = Arc::new(parking_lot::Mutex::new(String::new()));
        let into = seen.clone();
        let sink: Sink = Box::new(move |batch: &str| into.lock().push_str(batch));
        let mut log = AccessLog::open(false, None, Some(sink)).expect("open");
        log.log_lines(&["one".to_string(), "two".to_string()]);
        assert!(log.flush(Duration::from_secs(10)));
        assert_eq!(seen.lock().as_str(), "one\ntwo\n");
        log.close();
        assert!(AccessLog::disabled().flush(Duration::from_millis(1)));
    }
}
