//! cheroot's answers to request heads hyper refuses to parse. hyper answers such a head
//! itself with a bare status (`400`, `431`, `414`) and no body; CherryPy (cheroot) says
//! what was wrong ("Malformed Request-Line", "Illegal header line.", …), and clients and
//! test suites written against CherryPy read those words. The connection holds hyper's
//! canned answer back (`io::ConnIo`), and `conn.rs` sends the one built here instead,
//! from the bytes hyper could not parse (still in its read buffer), then closes.
//!
//! Nothing here runs for a request hyper parsed: valid requests pay nothing for it.
//! Where hyper is stricter than cheroot (a field name that is not a token, whitespace
//! before the colon, a control byte in a value, an obsolete line folding: RFC 9112
//! §5.1, §5.2), the head stays refused, with cheroot's wording for a bad header line.

/// Why hyper ended the connection without reaching the service.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Failure {
    /// A head hyper could not parse (its canned `400`).
    Malformed,
    /// The head outgrew `server.max_request_header_size` (its canned `431`).
    TooLarge,
    /// The request target is longer than hyper takes (its canned `414`).
    UriTooLong,
    /// No complete head within `server.socket_timeout`.
    Timeout,
}

impl Failure {
    /// The failure hyper's canned answer stands for, read from its status line.
    pub fn from_canned(answer: &[u8]) -> Option<Failure> {
        let code = answer.get(9..12)?;
        match code {
            b"400" => Some(Failure::Malformed),
            b"431" => Some(Failure::TooLarge),
            b"414" => Some(Failure::UriTooLong),
            _ => None,
        }
    }
}

/// cheroot's wording for a head over `max_request_header_size` whose request line is
/// complete (its `413`; RFC 6585 would say `431`, CherryPy clients expect `413`).
pub const HEADERS_TOO_LARGE: &str =
    "The headers sent with the request exceed the maximum allowed bytes.";

/// cheroot's wording for a request line over the limit (its `414`).
pub const URI_TOO_LONG: &str =
    "The Request-URI sent with the request exceeds the maximum allowed bytes.";

const CRLF_REQUIRED: &str = "HTTP requires CRLF terminators";
const MALFORMED_LINE: &str = "Malformed Request-Line";
const ILLEGAL_HEADER: &str = "Illegal header line.";
const INVALID_PATH: &str = "Invalid path in Request-URI: request-target must contain \
                            origin-form which starts with absolute-path (URI starting with \
                            a slash \"/\").";

/// The whole response (status line, headers, body) for `failure`, given the bytes hyper
/// left unparsed (the head as far as it arrived, unless hyper had taken it already)
/// and what hyper said of the fault.
pub fn answer(failure: Failure, head: &[u8], hyper_said: &str) -> Vec<u8> {
    // cheroot announces the close only for a 413 to an HTTP/1.1 request line; it closes
    // after each of these answers all the same.
    let mut announce_close = false;
    let (status, message) = match failure {
        Failure::Timeout => ("408 Request Timeout", ""),
        Failure::UriTooLong => ("414 Request-URI Too Long", URI_TOO_LONG),
        Failure::TooLarge => match first_line(head) {
            Some((line, _)) => {
                announce_close = line.trim_ascii_end().ends_with(b" HTTP/1.1");
                ("413 Request Entity Too Large", HEADERS_TOO_LARGE)
            }
            None => ("414 Request-URI Too Long", URI_TOO_LONG),
        },
        Failure::Malformed => classify(head, hyper_said),
    };
    simple_response(status, message, announce_close)
}

/// cheroot's `simple_response`: a plain-text message (the connection closes after it).
fn simple_response(status: &str, message: &str, announce_close: bool) -> Vec<u8> {
    let close = if announce_close {
        "Connection: close\r\n"
    } else {
        ""
    };
    format!(
        "HTTP/1.1 {status}\r\nContent-Length: {}\r\nContent-Type: text/plain\r\n\
         {close}\r\n{message}",
        message.len()
    )
    .into_bytes()
}

/// Whether `head` holds a whole request line (cheroot judges a line once it is whole).
pub fn has_line(head: &[u8]) -> bool {
    first_line(head).is_some()
}

/// The request line with its terminator, after one empty line cheroot skips
/// (RFC 9112 §2.2), and the rest of the head; `None` while the line is incomplete.
fn first_line(head: &[u8]) -> Option<(&[u8], &[u8])> {
    let head = head.strip_prefix(b"\r\n").unwrap_or(head);
    let end = head.iter().position(|&b| b == b'\n')?;
    Some(head.split_at(end + 1))
}

/// Whether `head` (what hyper left in its buffer) starts with the refused head. hyper
/// checks Content-Length, Transfer-Encoding and the target's form (`http::Uri`) after it
/// has taken a head that httparse accepted; then the buffer holds what followed it.
/// httparse's own refusals (a bad method, target byte, version or header line) leave
/// the head in place, its target cut at the bad byte after `method SP`.
pub fn intact(head: &[u8], hyper_said: &str) -> bool {
    if hyper_said.contains("content-length") || hyper_said.contains("transfer-encoding") {
        return false;
    }
    if hyper_said.contains("URI") {
        let method = head.iter().take_while(|&&b| is_token(b)).count();
        return method > 0 && head.get(method) == Some(&b' ');
    }
    true
}

/// What cheroot answers to a head that hyper could not parse: the first fault in the
/// order cheroot reads (request line, then header lines); for a head hyper had taken,
/// the fault it named.
fn classify(head: &[u8], hyper_said: &str) -> (&'static str, &'static str) {
    const BAD: &str = "400 Bad Request";
    if intact(head, hyper_said) {
        if let Some(fault) = fault(head) {
            return fault;
        }
    }
    let message = if hyper_said.contains("content-length") {
        "Malformed Content-Length Header."
    } else if hyper_said.contains("unexpected transfer-encoding") {
        "Bad Request: an HTTP/1.0 request cannot carry Transfer-Encoding."
    } else if hyper_said.contains("transfer-encoding") {
        "Bad Request: 'chunked' must be the last transfer coding."
    } else if hyper_said.contains("URI") {
        // Taken by httparse, refused by `http::Uri`: not origin-, absolute-, authority-
        // or asterisk-form.
        INVALID_PATH
    } else if first_line(head).is_none() {
        // hyper refused the line before its end arrived: its start is already wrong.
        MALFORMED_LINE
    } else {
        "Bad Request: the request head could not be parsed."
    };
    (BAD, message)
}

/// The first fault of a head that starts in `head`, if its request line is there.
fn fault(head: &[u8]) -> Option<(&'static str, &'static str)> {
    const BAD: &str = "400 Bad Request";
    let (line, rest) = first_line(head)?;
    if !line.ends_with(b"\r\n") {
        return Some((BAD, CRLF_REQUIRED));
    }
    if let Some(fault) = request_line_fault(line.trim_ascii()) {
        return Some(fault);
    }
    header_fault(rest).map(|fault| (BAD, fault))
}

/// cheroot's checks of `method SP target SP HTTP/major.minor`, in its order.
fn request_line_fault(line: &[u8]) -> Option<(&'static str, &'static str)> {
    const BAD: &str = "400 Bad Request";
    let mut parts = line.splitn(3, |&b| b == b' ');
    let (Some(method), Some(target), Some(protocol)) = (parts.next(), parts.next(), parts.next())
    else {
        return Some((BAD, MALFORMED_LINE));
    };
    let Some(version) = protocol.strip_prefix(b"HTTP/") else {
        return Some((BAD, "Malformed Request-Line: bad protocol"));
    };
    let Some((major, minor)) = split_once(version, b'.') else {
        return Some((BAD, "Malformed Request-Line: bad version"));
    };
    let (Some(major), Some(minor)) = (number(major), number(minor)) else {
        return Some((BAD, MALFORMED_LINE));
    };
    if (major, minor) > (1, 1) {
        return Some(("505 HTTP Version Not Supported", "Cannot fulfill request"));
    }
    if method.iter().any(u8::is_ascii_lowercase) {
        return Some((
            BAD,
            "Malformed method name: According to RFC 2616 (section 5.1.1) and its \
             successors RFC 7230 (section 3.1.1) and RFC 7231 (section 4.1) method names \
             are case-sensitive and uppercase.",
        ));
    }
    if method == b"CONNECT" {
        return Some((
            BAD,
            "Invalid path in Request-URI: request-target must match authority-form.",
        ));
    }
    if let Some(fault) = target_fault(target) {
        return Some((BAD, fault));
    }
    if major != 1 {
        return Some(("505 HTTP Version Not Supported", ""));
    }
    None
}

/// cheroot's checks of an origin-form target (`urlsplit`, then the path and fragment).
fn target_fault(target: &[u8]) -> Option<&'static str> {
    let absolute = has_scheme(target) || target.starts_with(b"//");
    if !absolute && !target.starts_with(b"/") && target != b"*" {
        return Some(INVALID_PATH);
    }
    match split_once(target, b'#') {
        Some((_, fragment)) if !fragment.is_empty() => Some("Illegal #fragment in Request-URI."),
        _ if target.iter().any(|&b| b <= b' ' || b == 0x7f) => Some("Malformed Request-URI"),
        _ => None,
    }
}

/// `scheme ":"` at the start of `target` (RFC 3986 §3.1), as `urlsplit` reads it.
fn has_scheme(target: &[u8]) -> bool {
    let Some(colon) = target.iter().position(|&b| b == b':') else {
        return false;
    };
    let scheme = &target[..colon];
    scheme.first().is_some_and(u8::is_ascii_alphabetic)
        && scheme
            .iter()
            .all(|&b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'-' | b'.'))
}

/// The first header line hyper cannot have accepted, in cheroot's wording.
fn header_fault(mut rest: &[u8]) -> Option<&'static str> {
    while let Some(end) = rest.iter().position(|&b| b == b'\n') {
        let (line, next) = rest.split_at(end + 1);
        rest = next;
        if line == b"\r\n" {
            return None;
        }
        if !line.ends_with(b"\r\n") {
            return Some(CRLF_REQUIRED);
        }
        let line = &line[..line.len() - 2];
        // RFC 9112 §5.2: obsolete line folding; cheroot unfolds it, hyper refuses it.
        if line.starts_with(b" ") || line.starts_with(b"\t") {
            return Some(ILLEGAL_HEADER);
        }
        let Some((name, value)) = split_once(line, b':') else {
            return Some(ILLEGAL_HEADER);
        };
        // RFC 9110 §5.1 (a token), RFC 9112 §5.1 (no whitespace before the colon),
        // RFC 9110 §5.5 (no control bytes but HTAB in a value).
        if name.is_empty()
            || !name.iter().all(|&b| is_token(b))
            || value.iter().any(|&b| (b < b' ' && b != b'\t') || b == 0x7f)
        {
            return Some(ILLEGAL_HEADER);
        }
        if name.eq_ignore_ascii_case(b"content-length") && number(value.trim_ascii()).is_none() {
            return Some("Malformed Content-Length Header.");
        }
    }
    None
}

/// RFC 9110 §5.6.2 `tchar`.
fn is_token(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

fn split_once(bytes: &[u8], sep: u8) -> Option<(&[u8], &[u8])> {
    let at = bytes.iter().position(|&b| b == sep)?;
    Some((&bytes[..at], &bytes[at + 1..]))
}

/// A non-negative decimal number of at most 9 digits.
fn number(digits: &[u8]) -> Option<u32> {
    if digits.is_empty() || digits.len() > 9 || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    std::str::from_utf8(digits).ok()?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn said(head: &[u8]) -> String {
        String::from_utf8(answer(
            Failure::Malformed,
            head,
            "invalid HTTP header parsed",
        ))
        .unwrap()
    }

    fn body(head: &[u8]) -> String {
        said(head).split("\r\n\r\n").nth(1).unwrap().to_string()
    }

    #[test]
    fn request_line_faults_in_cherootss_words() {
        assert_eq!(body(b"geT /\r\n\r\n"), MALFORMED_LINE);
        assert_eq!(body(b"gjkgjklsgjklsgjkljklsg\r\n\r\n"), MALFORMED_LINE);
        assert_eq!(body(b"GET / HTTP/1.1\n\n"), CRLF_REQUIRED);
        assert_eq!(
            body(b"GET / FTP/1.1\r\n\r\n"),
            "Malformed Request-Line: bad protocol"
        );
        assert_eq!(
            body(b"GET / HTTP/11\r\n\r\n"),
            "Malformed Request-Line: bad version"
        );
        assert_eq!(body(b"GET / HTTP/1.x\r\n\r\n"), MALFORMED_LINE);
        assert!(said(b"GET / HTTP/2.0\r\n\r\n").starts_with("HTTP/1.1 505 "));
        assert!(said(b"GET / HTTP/0.9\r\n\r\n").ends_with("\r\n\r\n"));
        assert!(body(b"GET invalid/path HTTP/1.1\r\n\r\n").starts_with("Invalid path in"));
        assert_eq!(
            body(b"GET /a#b HTTP/1.1\r\n\r\n"),
            "Illegal #fragment in Request-URI."
        );
        assert_eq!(body(b"GET /\x00 HTTP/1.1\r\n\r\n"), "Malformed Request-URI");
        assert_eq!(body(b"GE\x01T"), MALFORMED_LINE);
    }

    #[test]
    fn header_faults_in_cherootss_words() {
        let line = b"GET / HTTP/1.1\r\nHost: a\r\n";
        let with = |h: &[u8]| body(&[&line[..], h, b"\r\n"].concat());
        assert_eq!(with(b"re, 1.2.3.4#015#012\r\n"), ILLEGAL_HEADER);
        assert_eq!(with(b"X-A : b\r\n"), ILLEGAL_HEADER);
        assert_eq!(with(b" folded\r\n"), ILLEGAL_HEADER);
        assert_eq!(with(b"X-A: b\x00c\r\n"), ILLEGAL_HEADER);
        assert_eq!(with(b"X-A: b\n"), CRLF_REQUIRED);
        assert_eq!(
            with(b"Content-Length: 1x\r\n"),
            "Malformed Content-Length Header."
        );
    }

    #[test]
    fn a_head_hyper_took_is_named_by_what_hyper_said() {
        let by = |said: &str, left: &[u8]| {
            let out = String::from_utf8(answer(Failure::Malformed, left, said)).unwrap();
            out.split("\r\n\r\n").nth(1).unwrap().to_string()
        };
        assert_eq!(by("invalid URI", b""), INVALID_PATH);
        assert_eq!(
            by("invalid content-length parsed", b"GET / HTTP/2.0\r\n"),
            "Malformed Content-Length Header."
        );
        assert!(by("invalid transfer-encoding parsed", b"").contains("chunked"));
        assert_eq!(by("invalid HTTP method parsed", b"GE"), MALFORMED_LINE);
        // The byte after a taken head is not read as a request line.
        assert_eq!(by("invalid URI", b"x"), INVALID_PATH);
        assert!(!intact(b"x", "invalid URI"));
        assert!(intact(b"GET /a\x01", "invalid URI"));
        assert!(!intact(
            b"GET / HTTP/1.1\r\n",
            "invalid content-length parsed"
        ));
        assert!(intact(b"GET / HTTP/1.1X", "invalid HTTP version parsed"));
    }

    #[test]
    fn the_answer_is_a_closing_plain_text_response() {
        let out = said(b"nonsense\r\n\r\n");
        assert_eq!(
            out,
            "HTTP/1.1 400 Bad Request\r\nContent-Length: 22\r\nContent-Type: text/plain\r\n\
             \r\nMalformed Request-Line"
        );
    }

    #[test]
    fn size_and_time_failures() {
        let big = String::from_utf8(answer(Failure::TooLarge, b"GET / HTTP/1.1\r\nFrom: xx", ""))
            .unwrap();
        assert!(big.starts_with("HTTP/1.1 413 Request Entity Too Large\r\n"));
        assert!(big.contains("\r\nConnection: close\r\n"));
        assert!(big.ends_with(HEADERS_TOO_LARGE));
        let long = String::from_utf8(answer(Failure::TooLarge, b"GET /aaaaaaaa", "")).unwrap();
        assert!(long.starts_with("HTTP/1.1 414 ") && long.ends_with(URI_TOO_LONG));
        let late = String::from_utf8(answer(Failure::Timeout, b"", "")).unwrap();
        assert!(late.starts_with("HTTP/1.1 408 Request Timeout\r\nContent-Length: 0\r\n"));
        assert_eq!(
            Failure::from_canned(b"HTTP/1.1 431 Request Header Fields Too Large\r\n"),
            Some(Failure::TooLarge)
        );
        assert_eq!(Failure::from_canned(b"HTTP/1.1 200 OK\r\n"), None);
    }
}
