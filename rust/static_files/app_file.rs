//! A file body returned by a Python handler (`lib.static.serve_file()` and
//! `serve_fileobj()`): the file (by path or open descriptor) or bytes, answered with the
//! same RFC 9110 semantics as a static route, merged with the headers and status the
//! application set. Opening the file is blocking: the caller runs this on a Python
//! worker thread with the interpreter released.

use std::fs::File;
use std::path::PathBuf;

use bytes::Bytes;
use http::header::{self, HeaderName, HeaderValue};
use http::StatusCode;

use super::body::StaticBody;
use super::entity::{Entity, Representation};
use super::respond::{respond, respond_as_is, RequestHead, StaticReply};

/// What a handler's file body holds.
#[derive(Debug)]
pub enum AppFile {
    /// The file at a path, opened when the response is sent.
    Path(PathBuf),
    /// An open file (its own handle, independent of the caller's descriptor).
    Open(File),
    /// Bytes held in memory (a file-like object without a descriptor).
    Memory(Bytes),
}

/// The response to send for a handler's file body.
#[derive(Debug)]
pub struct AppReply {
    pub status: StatusCode,
    /// The application's headers that the file's reply leaves standing, then the
    /// reply's own.
    pub headers: Vec<(HeaderName, HeaderValue)>,
    pub body: StaticBody,
    /// Whether the status is the application's (so its reason phrase still applies).
    pub status_kept: bool,
}

/// The content type of a reply whose application set none.
fn default_content_type() -> HeaderValue {
    HeaderValue::from_static("application/octet-stream")
}

/// Headers of the application's reply that the file's reply decides instead.
fn decided_here(name: &HeaderName) -> bool {
    name == header::CONTENT_LENGTH
        || name == header::TRANSFER_ENCODING
        || name == header::CONTENT_RANGE
        || name == header::ACCEPT_RANGES
        || name == header::ETAG
        || name == header::LAST_MODIFIED
}

/// Representation metadata of the application's that a 304 the file answered does not
/// carry (RFC 9110 §15.4.5: only validators, Cache-Control, Content-Location, Date,
/// Expires and Vary), as CherryPy sends none of these with its 304.
fn not_for_304(name: &HeaderName) -> bool {
    name == header::CONTENT_TYPE
        || name == header::CONTENT_DISPOSITION
        || name == header::CONTENT_ENCODING
        || name == header::CONTENT_LANGUAGE
}

impl AppFile {
    /// The whole content, read now (for a Python tool that transforms the body, such
    /// as `tools.gzip`), or None when it is longer than `limit` bytes. An open file is
    /// read from its start without moving its position.
    pub fn read_all(&self, limit: u64) -> std::io::Result<Option<Bytes>> {
        let length = match self {
            AppFile::Path(path) => std::fs::metadata(path)?.len(),
            AppFile::Open(file) => file.metadata()?.len(),
            AppFile::Memory(data) => data.len() as u64,
        };
        if length > limit {
            return Ok(None);
        }
        self.read_whole().map(Some)
    }

    fn read_whole(&self) -> std::io::Result<Bytes> {
        match self {
            AppFile::Path(path) => std::fs::read(path).map(Bytes::from),
            AppFile::Open(file) => {
                use std::os::unix::fs::FileExt;
                let mut data = Vec::new();
                let mut chunk = vec![0u8; 64 * 1024];
                loop {
                    let n = file.read_at(&mut chunk, data.len() as u64)?;
                    if n == 0 {
                        break;
                    }
                    data.extend_from_slice(&chunk[..n]);
                }
                Ok(Bytes::from(data))
            }
            AppFile::Memory(data) => Ok(data.clone()),
        }
    }

    /// The identity representation: a missing path is 404, an unreadable one 403.
    fn open(&self) -> Result<Representation, StatusCode> {
        match self {
            AppFile::Path(path) => std::fs::metadata(path)
                .and_then(|m| Representation::open(path, &m, ""))
                .map_err(|e| match e.kind() {
                    std::io::ErrorKind::PermissionDenied => StatusCode::FORBIDDEN,
                    _ => StatusCode::NOT_FOUND,
                }),
            AppFile::Open(file) => file
                .try_clone()
                .and_then(Representation::from_file)
                .map_err(|_| StatusCode::INTERNAL_SERVER_ERROR),
            AppFile::Memory(bytes) => Ok(Representation::from_bytes(bytes.clone(), None)),
        }
    }

    /// The file's own reply. `status` is the application's: only a 200 is subject to
    /// preconditions and ranges (RFC 9110 §13.2.1, §14.2); another is sent as is.
    pub fn respond(
        &self,
        req: &RequestHead<'_>,
        status: StatusCode,
        content_type: HeaderValue,
        part_type: Option<HeaderValue>,
    ) -> StaticReply {
        let identity = match self.open() {
            Ok(rep) => rep,
            Err(status) => return StaticReply::text(status, &[]),
        };
        let mut entity = Entity::new(content_type, identity);
        entity.part_type = part_type;
        if status == StatusCode::OK {
            respond(&entity, req)
        } else {
            let mut reply = respond_as_is(&entity, req);
            reply.status = status;
            reply
        }
    }

    /// The response for the application's `status` and `headers` with this body: the
    /// content type is the application's (or `application/octet-stream`); framing,
    /// validators and range headers are the file's, every other header the
    /// application's.
    pub fn reply(
        &self,
        req: &RequestHead<'_>,
        status: StatusCode,
        headers: Vec<(HeaderName, HeaderValue)>,
    ) -> AppReply {
        self.reply_parts_as(req, status, headers, None)
    }

    /// `reply`, with the type each multipart/byteranges part names (None: the
    /// response's content type).
    pub fn reply_parts_as(
        &self,
        req: &RequestHead<'_>,
        status: StatusCode,
        headers: Vec<(HeaderName, HeaderValue)>,
        part_type: Option<HeaderValue>,
    ) -> AppReply {
        let content_type = headers
            .iter()
            .find(|(name, _)| name == header::CONTENT_TYPE)
            .map(|(_, v)| v.clone())
            .unwrap_or_else(default_content_type);
        let answer = self.respond(req, status, content_type, part_type);
        let mut merged: Vec<(HeaderName, HeaderValue)> = headers
            .into_iter()
            .filter(|(name, _)| !decided_here(name) && !answer.headers.contains_key(name))
            .filter(|(name, _)| answer.status != StatusCode::NOT_MODIFIED || !not_for_304(name))
            .collect();
        merged.extend(
            answer
                .headers
                .iter()
                .map(|(name, value)| (name.clone(), value.clone())),
        );
        AppReply {
            status: answer.status,
            headers: merged,
            body: answer.body,
            status_kept: answer.status == status,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::{HeaderMap, Method, Version};
    use http_body_util::BodyExt;

    fn head<'a>(method: &'a Method, headers: &'a HeaderMap) -> RequestHead<'a> {
        RequestHead {
            method,
            version: Version::HTTP_11,
            headers,
        }
    }

    fn named<'a>(reply: &'a AppReply, name: &str) -> Vec<&'a str> {
        reply
            .headers
            .iter()
            .filter(|(n, _)| n.as_str() == name)
            .filter_map(|(_, v)| v.to_str().ok())
            .collect()
    }

    fn app_headers(pairs: &[(&'static str, &'static str)]) -> Vec<(HeaderName, HeaderValue)> {
        pairs
            .iter()
            .map(|(n, v)| (HeaderName::from_static(n), HeaderValue::from_static(v)))
            .collect()
    }

    #[tokio::test]
    async fn the_files_framing_and_the_applications_other_headers() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("report.txt");
        std::fs::write(&path, b"0123456789").unwrap();
        let file = AppFile::Path(path);
        let get = Method::GET;
        let none = HeaderMap::new();
        let reply = file.reply(
            &head(&get, &none),
            StatusCode::OK,
            app_headers(&[
                ("content-type", "text/x-report"),
                ("content-length", "999"),
                ("etag", "\"app\""),
                ("x-app", "kept"),
            ]),
        );
        assert_eq!(reply.status, StatusCode::OK);
        assert!(reply.status_kept);
        assert_eq!(named(&reply, "content-type"), ["text/x-report"]);
        assert_eq!(named(&reply, "content-length"), ["10"]);
        assert_eq!(named(&reply, "x-app"), ["kept"]);
        let etag = named(&reply, "etag");
        assert_eq!(etag.len(), 1);
        assert_ne!(etag[0], "\"app\"");
        let body = reply.body.collect().await.unwrap().to_bytes();
        assert_eq!(body.as_ref(), b"0123456789");
    }

    #[test]
    fn validators_and_ranges_apply_to_a_200_only() {
        let file = AppFile::Memory(Bytes::from_static(b"0123456789"));
        let get = Method::GET;
        let mut range = HeaderMap::new();
        range.insert(header::RANGE, HeaderValue::from_static("bytes=0-1"));
        let ok = file.reply(&head(&get, &range), StatusCode::OK, Vec::new());
        assert_eq!(ok.status, StatusCode::PARTIAL_CONTENT);
        assert!(!ok.status_kept);
        assert_eq!(named(&ok, "content-type"), ["application/octet-stream"]);
        assert_eq!(named(&ok, "content-range"), ["bytes 0-1/10"]);
        let teapot = StatusCode::IM_A_TEAPOT;
        let as_is = file.reply(&head(&get, &range), teapot, Vec::new());
        assert_eq!(as_is.status, teapot);
        assert!(as_is.status_kept);
        assert_eq!(named(&as_is, "content-length"), ["10"]);
        assert!(named(&as_is, "content-range").is_empty());
    }

    #[test]
    fn a_304_drops_the_applications_representation_metadata() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("photo.jpg");
        std::fs::write(&path, b"jpeg").unwrap();
        let file = AppFile::Path(path);
        let get = Method::GET;
        let none = HeaderMap::new();
        let app = || {
            app_headers(&[
                ("content-type", "image/jpeg"),
                ("content-disposition", "attachment; filename=\"photo.jpg\""),
                ("x-app", "kept"),
            ])
        };
        let first = file.reply(&head(&get, &none), StatusCode::OK, app());
        let etag = named(&first, "etag")[0].to_owned();
        let mut conditional = HeaderMap::new();
        conditional.insert(header::IF_NONE_MATCH, HeaderValue::from_str(&etag).unwrap());
        let reply = file.reply(&head(&get, &conditional), StatusCode::OK, app());
        assert_eq!(reply.status, StatusCode::NOT_MODIFIED);
        assert!(named(&reply, "content-type").is_empty());
        assert!(named(&reply, "content-disposition").is_empty());
        assert!(named(&reply, "content-length").is_empty());
        assert_eq!(named(&reply, "x-app"), ["kept"]);
        assert_eq!(named(&reply, "etag"), [etag.as_str()]);
    }

    #[test]
    fn a_missing_file_is_404() {
        let file = AppFile::Path(PathBuf::from("/nonexistent/cherrypy_rs/file"));
        let get = Method::GET;
        let none = HeaderMap::new();
        let reply = file.reply(&head(&get, &none), StatusCode::OK, Vec::new());
        assert_eq!(reply.status, StatusCode::NOT_FOUND);
    }

    #[test]
    fn head_gets_the_length_and_no_body() {
        let file = AppFile::Memory(Bytes::from_static(b"abc"));
        let method = Method::HEAD;
        let none = HeaderMap::new();
        let reply = file.reply(&head(&method, &none), StatusCode::OK, Vec::new());
        assert_eq!(named(&reply, "content-length"), ["3"]);
        assert!(reply.body.is_empty());
    }
}
