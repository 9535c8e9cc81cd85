//! Entry points for the fuzz targets in `fuzz/` (`make fuzz`; built only with the `fuzzing`
//! feature): each feeds arbitrary bytes to one parser we own and checks the invariants
//! its callers rely on, panicking when one breaks. Not part of the Python module.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::{Duration, UNIX_EPOCH};

use http::header::{HeaderMap, HeaderName, HeaderValue};
use http::Method;

use crate::static_files::{self, DirOptions, Lookup, Ranges};

/// Path decoding (`uri.rs`): never panics; `%2F` never becomes a separator; text is
/// produced for any bytes. Host validation: a valid Host never holds what RFC 3986
/// forbids in an authority.
pub fn uri(data: &[u8]) {
    let raw = String::from_utf8_lossy(data);
    let decoded = crate::uri::decode_path_bytes(&raw);
    let slashes = |b: &[u8]| b.iter().filter(|&&c| c == b'/').count();
    assert_eq!(
        slashes(raw.as_bytes()),
        slashes(&decoded),
        "decoding created or removed a path separator"
    );
    let _ = crate::uri::decode_path(&raw);
    let _ = crate::uri::latin1(data);
    if crate::uri::valid_host(data) {
        assert!(
            !data
                .iter()
                .any(|&b| b <= b' ' || b == b'/' || b == b'@' || b == b'\\' || b >= 0x7f),
            "an invalid authority passed as a Host"
        );
        let after_host = match data.iter().rposition(|&b| b == b']') {
            Some(end) => &data[end + 1..],
            None => data,
        };
        let colons_outside_brackets = after_host.iter().filter(|&&b| b == b':').count();
        assert!(colons_outside_brackets <= 1, "more than one port");
    }
}

/// A static root with a file, a subdirectory, and a secret beside the root.
fn static_root() -> &'static PathBuf {
    static ROOT: OnceLock<PathBuf> = OnceLock::new();
    ROOT.get_or_init(|| {
        let base = std::env::temp_dir().join(format!("cherrypy_rs-fuzz-{}", std::process::id()));
        let root = base.join("root");
        let made = std::fs::create_dir_all(root.join("sub"))
            .and_then(|()| std::fs::write(root.join("a.txt"), b"a"))
            .and_then(|()| std::fs::write(root.join("sub").join("index.html"), b"i"))
            .and_then(|()| std::fs::write(root.join(".hidden"), b"h"))
            .and_then(|()| std::fs::create_dir_all(base.join("root2")))
            .and_then(|()| std::fs::write(base.join("root2").join("secret"), b"s"))
            .and_then(|()| std::fs::write(base.join("secret"), b"s"));
        if let Err(e) = made {
            panic!(
                "cannot create the fuzzing root under {}: {e}",
                base.display()
            );
        }
        match root.canonicalize() {
            Ok(root) => root,
            Err(e) => panic!("cannot canonicalise {}: {e}", root.display()),
        }
    })
}

fn check_contained(root: &Path, found: &Lookup) {
    match found {
        Lookup::File { path, .. } | Lookup::Directory(path) => {
            assert!(
                path.starts_with(root),
                "{} escaped the root",
                path.display()
            );
            let rest = path.strip_prefix(root).unwrap_or(path);
            assert!(
                !rest
                    .components()
                    .any(|c| c.as_os_str().to_string_lossy().starts_with('.')),
                "a dotfile was served with dotfiles off"
            );
        }
        Lookup::AddSlash | Lookup::NotFound | Lookup::Forbidden => {}
    }
}

/// Static path resolution: whatever the request path, what is found lies below the root.
pub fn static_path(data: &[u8]) {
    let root = static_root();
    let text = String::from_utf8_lossy(data);
    let raw = format!("/{}", text.trim_start_matches('/'));
    let options = DirOptions {
        index: Some("index.html".into()),
        dotfiles: false,
        listing: data.first().is_some_and(|b| b & 1 == 1),
    };
    check_contained(root, &static_files::lookup(root, &raw, &options));
    check_contained(root, &static_files::lookup_decoded(root, &raw, &options));
}

/// `Range` parsing: partial ranges are non-empty, inside the length, and never add up
/// to more than it (ranges within the file's size come as asked, overlaps kept; more
/// are merged into sorted, disjoint ones): a request cannot amplify the response.
pub fn range(data: &[u8]) {
    let (len_bytes, rest) = data.split_at(data.len().min(4));
    let len = len_bytes.iter().fold(0u64, |n, &b| (n << 8) | u64::from(b));
    let value = String::from_utf8_lossy(rest);
    if let Ranges::Partial(ranges) = static_files::parse_range(&value, len) {
        assert!(!ranges.is_empty());
        let mut total = 0u64;
        for &(start, end) in &ranges {
            assert!(start < end && end <= len, "range {start}..{end} of {len}");
            total += end - start;
        }
        assert!(total <= len, "ranges add up to {total} bytes of {len}");
    }
}

/// Conditional headers (`If-Match`, `If-None-Match`, `If-Modified-Since`,
/// `If-Unmodified-Since`, `If-Range`): never panic on any value.
pub fn conditional(data: &[u8]) {
    const NAMES: [&str; 5] = [
        "if-match",
        "if-none-match",
        "if-modified-since",
        "if-unmodified-since",
        "if-range",
    ];
    let mut headers = HeaderMap::new();
    for (i, part) in data.split(|&b| b == b'\n').enumerate() {
        let name = HeaderName::from_static(NAMES[i % NAMES.len()]);
        if let Ok(value) = HeaderValue::from_bytes(part) {
            headers.append(name, value);
        }
    }
    let validators = static_files::fuzz_api::Validators::new(
        UNIX_EPOCH + Duration::from_secs(1_700_000_000),
        1234,
        "",
    );
    for method in [Method::GET, Method::HEAD, Method::PUT] {
        let _ = static_files::fuzz_api::evaluate(&method, &headers, &validators);
    }
    let _ = static_files::fuzz_api::range_allowed(&headers, &validators);
}

/// The DER reader (`tls/x509.rs`): never panics, whatever the certificate bytes.
pub fn x509(data: &[u8]) {
    if let Some(summary) = crate::tls::x509::summarize(data) {
        let _ = crate::tls::x509::format_dn(&summary.subject);
        let _ = crate::tls::x509::format_dn(&summary.issuer);
    }
    let _ = crate::tls::x509::not_after(data);
    let _ = crate::tls::x509::to_pem(data);
}

/// Header joining: repeated fields join with ", ", Cookie with "; ", in order.
pub fn header_join(data: &[u8]) {
    let mut headers = HeaderMap::new();
    let mut expected: Vec<(HeaderName, Vec<Vec<u8>>)> = Vec::new();
    for line in data.split(|&b| b == b'\n') {
        let (name, value) = match line.iter().position(|&b| b == b':') {
            Some(i) => (&line[..i], &line[i + 1..]),
            None => continue,
        };
        let (Ok(name), Ok(value)) = (HeaderName::from_bytes(name), HeaderValue::from_bytes(value))
        else {
            continue;
        };
        match expected.iter_mut().find(|(n, _)| *n == name) {
            Some((_, values)) => values.push(value.as_bytes().to_vec()),
            None => expected.push((name.clone(), vec![value.as_bytes().to_vec()])),
        }
        headers.append(name, value);
    }
    for (name, values) in expected {
        let separator: &[u8] = if name == http::header::COOKIE {
            b"; "
        } else {
            b", "
        };
        assert_eq!(
            crate::exchange::joined(&headers, &name),
            values.join(separator)
        );
    }
}

/// The PROXY protocol reader (`server/proxy_protocol.rs`): never panics; reads exactly
/// the header and not one byte of what follows (the request must stay unread); a
/// version 1 line is at most 107 bytes; a proxied address matches its family.
pub fn proxy_protocol(data: &[u8]) {
    use crate::server::proxy_protocol::{read_header, Header, ProxyError};
    use std::future::Future;
    use std::task::{Context, Poll, Waker};

    let mut rest = data;
    let outcome = {
        let mut read = std::pin::pin!(read_header(&mut rest));
        // A byte slice never makes a read wait: one poll finishes the future.
        match read.as_mut().poll(&mut Context::from_waker(Waker::noop())) {
            Poll::Ready(outcome) => outcome,
            Poll::Pending => panic!("reading the PROXY header from a byte slice did not finish"),
        }
    };
    let consumed = data.len() - rest.len();
    match outcome {
        Ok(header) => {
            if data.starts_with(b"PROXY") {
                assert!(
                    consumed <= 107,
                    "a version 1 line longer than 107 bytes was taken"
                );
                assert!(data[..consumed].ends_with(b"\r\n"), "read past the CRLF");
            } else {
                let len = usize::from(u16::from_be_bytes([data[14], data[15]]));
                assert_eq!(consumed, 16 + len, "read more or less than the v2 header");
            }
            if let Header::Proxied {
                source,
                destination,
            } = header
            {
                assert_eq!(
                    source.is_ipv4(),
                    destination.is_ipv4(),
                    "source and destination of different families"
                );
            }
        }
        // The connection is closed: what was read does not matter.
        Err(ProxyError::Missing | ProxyError::Invalid(_) | ProxyError::Io) => {}
    }
}

/// The forwarding headers (`server/forwarded.rs`): never panics; an untrusted peer changes
/// nothing; a trusted one changes only `Host`, to a valid Host, and never adds a second
/// one. The first line of `data` is the trusted list, the others `name: value` headers.
pub fn forwarded(data: &[u8]) {
    use crate::server::forwarded::{apply, Trusted};
    use std::net::{IpAddr, Ipv4Addr, SocketAddr};

    let mut lines = data.split(|&b| b == b'\n');
    let spec = String::from_utf8_lossy(lines.next().unwrap_or_default());
    let Ok(trusted) = Trusted::parse(&spec) else {
        return;
    };
    let mut headers = HeaderMap::new();
    for line in lines {
        let Some(i) = line.iter().position(|&b| b == b':') else {
            continue;
        };
        if let (Ok(name), Ok(value)) = (
            HeaderName::from_bytes(&line[..i]),
            HeaderValue::from_bytes(line[i + 1..].trim_ascii()),
        ) {
            headers.append(name, value);
        }
    }
    let peer = SocketAddr::new(IpAddr::V4(Ipv4Addr::new(192, 0, 2, 7)), 40000);
    for host_optional in [false, true] {
        for trusted_socket in [false, true] {
            let mut after = headers.clone();
            let client = apply(&trusted, trusted_socket, peer, &mut after, host_optional);
            let believed = if trusted_socket {
                !trusted.is_none()
            } else {
                trusted.contains(peer.ip())
            };
            if !believed {
                assert_eq!(after, headers, "an untrusted peer changed the headers");
                assert_eq!(client.remote, peer, "an untrusted peer named the client");
                assert_eq!(client.scheme, None, "an untrusted peer set the scheme");
                continue;
            }
            let host = http::header::HOST;
            let mut changed = after.clone();
            changed.remove(&host);
            let mut unchanged = headers.clone();
            unchanged.remove(&host);
            assert_eq!(changed, unchanged, "a header other than Host changed");
            let hosts_before = headers.get_all(&host).iter().count();
            let hosts_after = after.get_all(&host).iter().count();
            if hosts_after != hosts_before || after.get(&host) != headers.get(&host) {
                assert_eq!(hosts_after, 1, "the forwarded Host is not the one Host");
                assert!(
                    hosts_before == 1 || host_optional,
                    "a Host added to HTTP/1.1"
                );
                let value = after
                    .get(&host)
                    .map(HeaderValue::as_bytes)
                    .unwrap_or_default();
                assert!(
                    crate::uri::valid_host(value),
                    "an invalid forwarded Host was set"
                );
            }
            if let Some(scheme) = client.scheme {
                assert!(scheme == "http" || scheme == "https", "scheme {scheme:?}");
            }
        }
    }
}

/// A request head (`server/head_error.rs`, `server/service.rs`): cheroot's answer to a
/// head hyper refused is one framed response whatever the bytes (status line, a
/// Content-Length that counts the body); a request that passes `check_request` has one
/// valid Host on HTTP/1.1 (the target's authority for an absolute-form target), is no
/// CONNECT, and has no Transfer-Encoding but a single, last `chunked`. The first line of
/// `data` is `METHOD TARGET VERSION`, the others `name: value` headers.
pub fn request_head(data: &[u8]) {
    use crate::server::head_error::{answer, Failure};
    use http::{header, Request, Version};

    const HYPER_SAID: [&str; 6] = [
        "invalid HTTP method parsed",
        "invalid URI",
        "invalid content-length parsed",
        "unexpected transfer-encoding parsed",
        "invalid transfer-encoding parsed",
        "invalid header parsed",
    ];
    let failures = [
        Failure::Malformed,
        Failure::TooLarge,
        Failure::UriTooLong,
        Failure::Timeout,
    ];
    for failure in failures {
        for said in HYPER_SAID {
            let out = answer(failure, data, said);
            assert!(out.starts_with(b"HTTP/1.1 "), "no status line");
            let end = out
                .windows(4)
                .position(|w| w == b"\r\n\r\n")
                .expect("a head that ends");
            let head = std::str::from_utf8(&out[..end]).expect("an ASCII head");
            let length: usize = head
                .lines()
                .find_map(|l| l.strip_prefix("Content-Length: "))
                .and_then(|v| v.parse().ok())
                .expect("a Content-Length");
            assert_eq!(
                length,
                out.len() - end - 4,
                "Content-Length does not count the body"
            );
        }
    }

    let mut lines = data.split(|&b| b == b'\n');
    let line = lines.next().unwrap_or_default();
    let mut parts = line.trim_ascii().splitn(3, |&b| b == b' ');
    let (Some(method), Some(target), version) = (parts.next(), parts.next(), parts.next()) else {
        return;
    };
    let version = match version {
        Some(b"HTTP/1.0") => Version::HTTP_10,
        Some(b"HTTP/2") => Version::HTTP_2,
        _ => Version::HTTP_11,
    };
    let mut builder = Request::builder()
        .method(method)
        .uri(target)
        .version(version);
    for line in lines {
        if let Some(i) = line.iter().position(|&b| b == b':') {
            if let (Ok(name), Ok(value)) = (
                HeaderName::from_bytes(&line[..i]),
                HeaderValue::from_bytes(line[i + 1..].trim_ascii()),
            ) {
                builder = builder.header(name, value);
            }
        }
    }
    let Ok(mut req) = builder.body(()) else {
        return;
    };
    if crate::server::service::check_request(&mut req).is_err() {
        return;
    }
    assert_ne!(req.method(), Method::CONNECT, "CONNECT passed");
    let hosts: Vec<&HeaderValue> = req.headers().get_all(header::HOST).iter().collect();
    if version == Version::HTTP_11 {
        assert_eq!(
            hosts.len(),
            1,
            "an HTTP/1.1 request without exactly one Host passed"
        );
    }
    for host in &hosts {
        assert!(
            crate::uri::valid_host(host.as_bytes()),
            "an invalid Host passed"
        );
    }
    if version != Version::HTTP_2 {
        if let Some(authority) = req.uri().authority() {
            assert_eq!(
                req.headers().get(header::HOST).map(HeaderValue::as_bytes),
                Some(authority.as_str().as_bytes()),
                "an absolute-form target's authority is not the Host"
            );
        }
    }
    let codings: Vec<String> = req
        .headers()
        .get_all(header::TRANSFER_ENCODING)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|c| c.trim().to_ascii_lowercase())
        .filter(|c| !c.is_empty())
        .collect();
    assert!(
        codings.is_empty() || codings == ["chunked"],
        "Transfer-Encoding {codings:?} passed"
    );
}

#[cfg(test)]
mod tests {
    /// A fuzz target's entry point.
    type Target = fn(&[u8]);

    /// Replays the committed corpus of each target (`fuzz/corpus/<target>`), so that
    /// `cargo test --features fuzzing` (and CI) catches a regression on any input the
    /// fuzzers have found interesting, without nightly or cargo-fuzz.
    #[test]
    fn the_committed_corpora_replay_cleanly() {
        let targets: [(&str, Target); 9] = [
            ("uri", super::uri),
            ("static_path", super::static_path),
            ("range", super::range),
            ("conditional", super::conditional),
            ("x509", super::x509),
            ("header_join", super::header_join),
            ("proxy_protocol", super::proxy_protocol),
            ("forwarded", super::forwarded),
            ("request_head", super::request_head),
        ];
        let corpus = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/corpus");
        for (name, target) in targets {
            let dir = corpus.join(name);
            let entries = std::fs::read_dir(&dir)
                .unwrap_or_else(|e| panic!("cannot read {}: {e}", dir.display()));
            let mut count = 0;
            for entry in entries {
                let path = entry.expect("a corpus entry").path();
                let data = std::fs::read(&path).expect("a corpus file");
                target(&data);
                count += 1;
            }
            assert!(count > 0, "the {name} corpus is empty");
        }
    }

    /// `(name, version)` of every package a Cargo.lock lists.
    fn locked(path: &std::path::Path) -> Vec<(String, String)> {
        let text = std::fs::read_to_string(path)
            .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
        let quoted = |line: &str, key: &str| {
            line.strip_prefix(key)
                .map(|rest| rest.trim().trim_matches('"').to_string())
        };
        let mut packages = Vec::new();
        let mut name = None;
        for line in text.lines() {
            if let Some(n) = quoted(line, "name = ") {
                name = Some(n);
            } else if let Some(v) = quoted(line, "version = ") {
                if let Some(n) = name.take() {
                    packages.push((n, v));
                }
            }
        }
        packages
    }

    /// The fuzz workspace (fuzz/Cargo.lock, built with `--locked` by fuzz/run.sh) fuzzes
    /// the code the extension ships: every package it shares with the main Cargo.lock
    /// is at a version the main lock has. After a dependency change, bring it in step
    /// with `cargo update --manifest-path fuzz/Cargo.toml -p <crate> --precise <version>`.
    #[test]
    fn the_fuzz_lock_agrees_with_the_main_lock() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
        let main = locked(&dir.join("Cargo.lock"));
        let fuzz = locked(&dir.join("fuzz/Cargo.lock"));
        assert!(main.len() > 10 && fuzz.len() > 10, "no packages parsed");
        let mut differ = Vec::new();
        for (name, version) in &fuzz {
            let in_main: Vec<&String> = main
                .iter()
                .filter(|(n, _)| n == name)
                .map(|(_, v)| v)
                .collect();
            if !in_main.is_empty() && !in_main.contains(&version) {
                differ.push(format!("{name} {version} (main: {in_main:?})"));
            }
        }
        assert!(
            differ.is_empty(),
            "fuzz/Cargo.lock differs from Cargo.lock: {}",
            differ.join(", ")
        );
    }
}
