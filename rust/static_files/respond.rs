//! The response to a GET or HEAD of an entity, as plain data (RFC 9110): validators
//! and preconditions (304/412), ranges (206, `multipart/byteranges`, 416), the
//! precompressed representation the client accepts (`Accept-Encoding`), no body for
//! HEAD. Used by the static routes and by the file bodies handlers return.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::SystemTime;

use bytes::Bytes;
use http::header::{self, HeaderMap, HeaderName, HeaderValue};
use http::{Method, StatusCode, Version};

use super::body::{Segment, StaticBody};
use super::conditional::{self, Precondition};
use super::entity::Entity;
use super::range::{self, Ranges};

/// What `respond` needs of the request.
pub struct RequestHead<'a> {
    pub method: &'a Method,
    pub version: Version,
    pub headers: &'a HeaderMap,
}

/// A response produced here, as plain data.
#[derive(Debug)]
pub struct StaticReply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: StaticBody,
}

impl StaticReply {
    /// A short text page (the CLI's errors; applications get their own error pages).
    pub fn text(status: StatusCode, extra: &[(HeaderName, HeaderValue)]) -> Self {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/plain;charset=utf-8"),
        );
        for (name, value) in extra {
            headers.append(name.clone(), value.clone());
        }
        let text = format!(
            "{} {}\n",
            status.as_u16(),
            crate::errors::cherrypy_reason(status)
                .or(status.canonical_reason())
                .unwrap_or("")
        );
        StaticReply {
            status,
            headers,
            body: StaticBody::bytes(Bytes::from(text)),
        }
    }
}

/// Whether Accept-Encoding (RFC 9110 §12.5.3) accepts `coding` (q > 0, or `*`).
fn accepts(headers: &HeaderMap, coding: &str) -> bool {
    let mut star = false;
    for value in headers.get_all(header::ACCEPT_ENCODING) {
        let Ok(text) = value.to_str() else { continue };
        for item in text.split(',') {
            let mut parts = item.split(';');
            let name = parts.next().unwrap_or("").trim();
            let q = parts
                .filter_map(|p| p.trim().strip_prefix("q=").or(p.trim().strip_prefix("Q=")))
                .filter_map(|q| q.trim().parse::<f32>().ok())
                .next()
                .unwrap_or(1.0);
            if name.eq_ignore_ascii_case(coding) {
                return q > 0.0;
            }
            if name == "*" {
                star = q > 0.0;
            }
        }
    }
    star
}

static BOUNDARY_COUNTER: AtomicU64 = AtomicU64::new(0);

/// A multipart boundary that no file is likely to contain.
fn boundary() -> String {
    let n = BOUNDARY_COUNTER.fetch_add(1, Ordering::Relaxed);
    let t = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64);
    format!("{:016x}{:08x}", t ^ n.rotate_left(32), n as u32)
}

fn value(text: String) -> Option<HeaderValue> {
    HeaderValue::from_str(&text).ok()
}

/// The response to a GET or HEAD of `entity`: preconditions (304/412), ranges
/// (206/416), the precompressed sibling the client accepts, and no body for HEAD.
pub fn respond(entity: &Entity, req: &RequestHead<'_>) -> StaticReply {
    let mut headers = HeaderMap::with_capacity(12);
    let varies = entity.br.is_some() || entity.gzip.is_some();
    let (rep, coding) = match (&entity.br, &entity.gzip) {
        (Some(br), _) if accepts(req.headers, "br") => (br, Some("br")),
        (_, Some(gz)) if accepts(req.headers, "gzip") => (gz, Some("gzip")),
        _ => (&entity.identity, None),
    };
    if varies {
        headers.insert(header::VARY, HeaderValue::from_static("Accept-Encoding"));
    }
    if let Some(v) = &rep.validators {
        headers.insert(header::LAST_MODIFIED, v.last_modified_header.clone());
        headers.insert(header::ETAG, v.etag_header.clone());
        match conditional::evaluate(req.method, req.headers, v) {
            Precondition::Proceed => {}
            Precondition::NotModified => {
                // As CherryPy's 304 (HTTPRedirect.set_response): no Last-Modified; the
                // ETag stays (RFC 9110 §15.4.5 requires it).
                headers.remove(header::LAST_MODIFIED);
                return StaticReply {
                    status: StatusCode::NOT_MODIFIED,
                    headers,
                    body: StaticBody::empty(),
                };
            }
            Precondition::Failed => {
                return StaticReply {
                    status: StatusCode::PRECONDITION_FAILED,
                    headers,
                    body: StaticBody::empty(),
                }
            }
        }
    }
    // HTTP/1.0 has no ranges (as in CherryPy, which sends no Accept-Ranges then).
    let ranged = req.version != Version::HTTP_10 && req.version != Version::HTTP_09;
    if ranged {
        headers.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    }
    let ranges = match req.headers.get(header::RANGE).and_then(|v| v.to_str().ok()) {
        // RFC 9110 §14.2: range handling is defined for GET only (HEAD ignores Range).
        Some(text)
            if ranged
                && req.method == Method::GET
                && rep
                    .validators
                    .as_ref()
                    .is_none_or(|v| conditional::range_allowed(req.headers, v)) =>
        {
            range::parse(text, rep.len)
        }
        _ => Ranges::Whole,
    };
    let head_only = req.method == Method::HEAD;
    let body = |segments: Vec<Segment>| {
        if head_only {
            StaticBody::empty()
        } else {
            StaticBody::new(rep.file(), segments)
        }
    };
    let content_length = |n: u64| HeaderValue::from(n);
    if let Some(c) = coding {
        headers.insert(header::CONTENT_ENCODING, HeaderValue::from_static(c));
    }
    match ranges {
        Ranges::Whole => {
            headers.insert(header::CONTENT_TYPE, entity.content_type.clone());
            headers.insert(header::CONTENT_LENGTH, content_length(rep.len));
            StaticReply {
                status: StatusCode::OK,
                headers,
                body: body(vec![rep.segment(0, rep.len)]),
            }
        }
        Ranges::Unsatisfiable => {
            if let Some(v) = value(format!("bytes */{}", rep.len)) {
                headers.insert(header::CONTENT_RANGE, v);
            }
            headers.remove(header::CONTENT_ENCODING);
            let mut reply = StaticReply::text(StatusCode::RANGE_NOT_SATISFIABLE, &[]);
            for (name, v) in headers.iter() {
                reply.headers.insert(name.clone(), v.clone());
            }
            if head_only {
                let len = reply.body.len();
                reply
                    .headers
                    .insert(header::CONTENT_LENGTH, content_length(len));
                reply.body = StaticBody::empty();
            }
            reply
        }
        Ranges::Partial(list) if list.len() == 1 => {
            let (start, end) = list[0];
            headers.insert(header::CONTENT_TYPE, entity.content_type.clone());
            if let Some(v) = value(format!("bytes {}-{}/{}", start, end - 1, rep.len)) {
                headers.insert(header::CONTENT_RANGE, v);
            }
            headers.insert(header::CONTENT_LENGTH, content_length(end - start));
            StaticReply {
                status: StatusCode::PARTIAL_CONTENT,
                headers,
                body: body(vec![rep.segment(start, end)]),
            }
        }
        Ranges::Partial(list) => {
            // RFC 9110 §14.6, laid out byte for byte as CherryPy (and Apache) do: a
            // CRLF first, then "Content-type" and "Content-range" in each part.
            let boundary = boundary();
            let ctype = entity
                .part_type
                .as_ref()
                .unwrap_or(&entity.content_type)
                .to_str()
                .unwrap_or("application/octet-stream");
            let mut segments = Vec::with_capacity(list.len() * 2 + 1);
            let mut total = 0u64;
            for (start, end) in &list {
                let part_head = format!(
                    "\r\n--{boundary}\r\nContent-type: {ctype}\r\nContent-range: bytes {}-{}/{}\r\n\r\n",
                    start,
                    end - 1,
                    rep.len
                );
                total += part_head.len() as u64 + (end - start);
                segments.push(Segment::Bytes(Bytes::from(part_head)));
                segments.push(rep.segment(*start, *end));
            }
            let tail = format!("\r\n--{boundary}--\r\n");
            total += tail.len() as u64;
            segments.push(Segment::Bytes(Bytes::from(tail)));
            if let Some(v) = value(format!("multipart/byteranges; boundary={boundary}")) {
                headers.insert(header::CONTENT_TYPE, v);
            }
            headers.insert(header::CONTENT_LENGTH, content_length(total));
            StaticReply {
                status: StatusCode::PARTIAL_CONTENT,
                headers,
                body: body(segments),
            }
        }
    }
}

/// The whole entity with an application's own status (not 200): no validators are
/// evaluated and no range is applied.
pub fn respond_as_is(entity: &Entity, req: &RequestHead<'_>) -> StaticReply {
    let rep = &entity.identity;
    let mut headers = HeaderMap::new();
    headers.insert(header::CONTENT_TYPE, entity.content_type.clone());
    headers.insert(header::CONTENT_LENGTH, HeaderValue::from(rep.len));
    let body = if req.method == Method::HEAD {
        StaticBody::empty()
    } else {
        StaticBody::new(rep.file(), vec![rep.segment(0, rep.len)])
    };
    StaticReply {
        status: StatusCode::OK,
        headers,
        body,
    }
}
