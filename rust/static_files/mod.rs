//! Static files served by Rust alone: `tools.staticdir` / `tools.staticfile` routes and
//! the `cherrypy-rs static` server, and the file bodies that `lib.static.serve_file()`
//! returns from Python handlers. The HTTP semantics (RFC 9110: validators, conditional
//! requests, ranges, HEAD, content negotiation of precompressed siblings) live here
//! once, for both. Nothing here touches Python; file system calls run on tokio's
//! blocking pool or on a Python worker thread, never on a tokio worker.

mod body;
mod cache;
mod conditional;
mod listing;
mod path;
mod range;

use std::collections::HashMap;
use std::fs::{File, Metadata};
use std::io::Read;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use http::header::{self, HeaderMap, HeaderName, HeaderValue};
use http::{Method, StatusCode, Version};

pub use body::StaticBody;
pub use cache::Limits;
pub use path::{lookup, lookup_decoded, DirOptions, Lookup};

use body::Segment;
use cache::FileCache;
use conditional::{Precondition, Validators};
pub use range::{parse as parse_range, Ranges};
/// What the fuzz targets call (`crate::fuzzing`).
#[cfg(feature = "fuzzing")]
pub mod fuzz_api {
    pub use super::conditional::{evaluate, range_allowed, Validators};
}

/// Files up to this size are held in memory by the cache; larger ones are read per
/// request from a descriptor the cache keeps open.
pub const MEMORY_LIMIT: u64 = 1 << 20;

/// Where a file body's bytes are.
#[derive(Debug)]
pub enum Data {
    Memory(Bytes),
    File(Arc<File>),
}

/// What identifies a file's version on disk: any change means reload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FileId {
    dev: u64,
    ino: u64,
    len: u64,
    mtime: i64,
    mtime_nsec: i64,
}

impl FileId {
    pub fn of(meta: &Metadata) -> Self {
        FileId {
            dev: meta.dev(),
            ino: meta.ino(),
            len: meta.len(),
            mtime: meta.mtime(),
            mtime_nsec: meta.mtime_nsec(),
        }
    }
}

/// One representation of a resource (the file itself, or a precompressed sibling).
#[derive(Debug)]
pub struct Representation {
    pub len: u64,
    /// None for bodies without a modification time (an in-memory file object).
    validators: Option<Validators>,
    id: Option<FileId>,
    data: Data,
}

impl Representation {
    /// Opens `path` (blocking); files up to `MEMORY_LIMIT` are read into memory.
    pub fn open(path: &Path, meta: &Metadata, tag: &str) -> std::io::Result<Self> {
        let mut file = File::open(path)?;
        // The metadata of what was opened: the path may have been replaced meanwhile.
        let meta = match file.metadata() {
            Ok(m) => m,
            Err(_) => meta.clone(),
        };
        let len = meta.len();
        let data = if len <= MEMORY_LIMIT {
            let mut buf = Vec::with_capacity(len as usize);
            (&mut file).take(len).read_to_end(&mut buf)?;
            if (buf.len() as u64) < len {
                return Err(std::io::Error::other("the file shrank while it was read"));
            }
            Data::Memory(Bytes::from(buf))
        } else {
            Data::File(Arc::new(file))
        };
        Ok(Representation {
            len,
            validators: meta.modified().ok().map(|m| Validators::new(m, len, tag)),
            id: Some(FileId::of(&meta)),
            data,
        })
    }

    /// An already open file (`serve_fileobj`): never read into memory.
    pub fn from_file(file: File) -> std::io::Result<Self> {
        let meta = file.metadata()?;
        let len = meta.len();
        Ok(Representation {
            len,
            validators: meta.modified().ok().map(|m| Validators::new(m, len, "")),
            id: Some(FileId::of(&meta)),
            data: Data::File(Arc::new(file)),
        })
    }

    /// Bytes held in memory (an in-memory file object).
    pub fn from_bytes(bytes: Bytes, modified: Option<SystemTime>) -> Self {
        let len = bytes.len() as u64;
        Representation {
            len,
            validators: modified.map(|m| Validators::new(m, len, "")),
            id: None,
            data: Data::Memory(bytes),
        }
    }

    fn segment(&self, start: u64, end: u64) -> Segment {
        match &self.data {
            Data::Memory(bytes) => Segment::Bytes(bytes.slice(start as usize..end as usize)),
            Data::File(_) => Segment::File {
                offset: start,
                len: end - start,
            },
        }
    }

    fn file(&self) -> Option<Arc<File>> {
        match &self.data {
            Data::File(f) => Some(f.clone()),
            Data::Memory(_) => None,
        }
    }

    fn memory(&self) -> usize {
        match &self.data {
            Data::Memory(b) => b.len(),
            Data::File(_) => 0,
        }
    }
}

/// A resource as served: its content type and its representations.
#[derive(Debug)]
pub struct Entity {
    pub content_type: HeaderValue,
    pub identity: Representation,
    pub br: Option<Representation>,
    pub gzip: Option<Representation>,
}

impl Entity {
    pub fn new(content_type: HeaderValue, identity: Representation) -> Self {
        Entity {
            content_type,
            identity,
            br: None,
            gzip: None,
        }
    }

    fn memory(&self) -> usize {
        self.identity.memory()
            + self.br.as_ref().map_or(0, |r| r.memory())
            + self.gzip.as_ref().map_or(0, |r| r.memory())
    }

    fn fingerprint(&self) -> [Option<FileId>; 3] {
        [
            self.identity.id,
            self.br.as_ref().and_then(|r| r.id),
            self.gzip.as_ref().and_then(|r| r.id),
        ]
    }
}

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
            status.canonical_reason().unwrap_or("")
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
                return StaticReply {
                    status: StatusCode::NOT_MODIFIED,
                    headers,
                    body: StaticBody::empty(),
                }
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
            // RFC 9110 §14.6, laid out as CherryPy (and Apache) do: a CRLF first.
            let boundary = boundary();
            let ctype = entity
                .content_type
                .to_str()
                .unwrap_or("application/octet-stream");
            let mut segments = Vec::with_capacity(list.len() * 2 + 1);
            let mut total = 0u64;
            for (start, end) in &list {
                let part_head = format!(
                    "\r\n--{boundary}\r\nContent-Type: {ctype}\r\nContent-Range: bytes {}-{}/{}\r\n\r\n",
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

/// Content types by extension: the route's table first (CherryPy's `content_types`,
/// and for applications Python's `mimetypes` as CherryPy uses it), then `mime_guess`.
pub fn content_type(path: &Path, table: &HashMap<String, String>) -> HeaderValue {
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .map(|e| e.to_ascii_lowercase());
    if let Some(ext) = ext.as_deref() {
        if let Some(v) = table.get(ext).and_then(|t| HeaderValue::from_str(t).ok()) {
            return v;
        }
        if let Some(v) = mime_guess::from_ext(ext)
            .first_raw()
            .and_then(|t| HeaderValue::from_str(t).ok())
        {
            return v;
        }
    }
    HeaderValue::from_static("application/octet-stream")
}

/// What a route serves.
#[derive(Debug, Clone)]
pub enum Source {
    /// `tools.staticdir`: files below a canonical root.
    Dir { root: PathBuf, options: DirOptions },
    /// `tools.staticfile`: one file for every path of the route.
    File(PathBuf),
}

/// Settings of a route besides its source.
#[derive(Debug, Clone, Default)]
pub struct RouteOptions {
    /// Lower-case extension (no dot) → content type.
    pub content_types: HashMap<String, String>,
    /// Serve `X.br` / `X.gz` siblings of `X` to clients that accept them.
    pub precompressed: bool,
    /// Added to every response of the route (`Server`, `response.headers.*`).
    pub headers: Vec<(HeaderName, HeaderValue)>,
    /// How long a cached file is served without checking it on disk.
    pub cache_valid: Duration,
    pub cache: Limits,
}

/// The application that answers what the route does not serve (CherryPy's staticdir
/// "falls through" to the page handler), by its index in the mount table.
#[derive(Debug, Clone)]
pub struct Fallback {
    pub app: usize,
    pub script_name: String,
}

/// A static route: what it serves and its cache.
pub struct StaticRoute {
    pub source: Source,
    /// Bytes of the raw request path before the file's path (script name + section).
    pub prefix_len: usize,
    pub options: RouteOptions,
    /// None for the static server: it answers every request itself.
    pub fallback: Option<Fallback>,
    cache: FileCache,
}

/// What a route did with a request.
pub enum Outcome {
    Reply(StaticReply),
    /// Not served here: the route's application answers.
    Fallback(Fallback),
}

/// What a path names, loaded.
enum Resolved {
    Entity(Arc<Entity>),
    Listing(String),
    AddSlash,
    NotFound,
    Forbidden,
}

impl StaticRoute {
    pub fn new(
        source: Source,
        prefix_len: usize,
        options: RouteOptions,
        fallback: Option<Fallback>,
    ) -> Self {
        let cache = FileCache::new(options.cache);
        StaticRoute {
            source,
            prefix_len,
            options,
            fallback,
            cache,
        }
    }

    fn lookup(&self, raw: &str) -> Lookup {
        match &self.source {
            Source::Dir { root, options } => lookup(root, raw, options),
            Source::File(path) => match std::fs::metadata(path) {
                Ok(meta) if meta.is_file() => Lookup::File {
                    path: path.clone(),
                    meta,
                },
                Ok(_) => Lookup::NotFound,
                Err(e) if e.kind() == std::io::ErrorKind::PermissionDenied => Lookup::Forbidden,
                Err(_) => Lookup::NotFound,
            },
        }
    }

    /// The `X.br` / `X.gz` next to `path`, when they are regular files allowed here.
    fn sibling(&self, path: &Path, suffix: &str) -> Option<(PathBuf, Metadata)> {
        let mut name = path.as_os_str().to_owned();
        name.push(suffix);
        let candidate = PathBuf::from(name);
        let meta = std::fs::metadata(&candidate).ok()?;
        if !meta.is_file() {
            return None;
        }
        if let Source::Dir { root, .. } = &self.source {
            // A symlinked sibling must stay below the root too.
            let canonical = candidate.canonicalize().ok()?;
            if !canonical.starts_with(root) {
                return None;
            }
        }
        Some((candidate, meta))
    }

    /// Resolves and loads `raw` (blocking), reusing `previous` when nothing changed;
    /// `shown` is the request path a listing is titled with.
    fn find(&self, raw: &str, shown: &str, previous: Option<Arc<Entity>>) -> Resolved {
        let (path, meta) = match self.lookup(raw) {
            Lookup::File { path, meta } => (path, meta),
            Lookup::Directory(dir) => {
                let Source::Dir { options, .. } = &self.source else {
                    return Resolved::NotFound;
                };
                let title = crate::uri::text(crate::uri::decode_path_bytes(shown));
                return match listing::render(&dir, &title, options.dotfiles) {
                    Ok(page) => Resolved::Listing(page),
                    Err(e) if e.kind() == std::io::ErrorKind::PermissionDenied => {
                        Resolved::Forbidden
                    }
                    Err(_) => Resolved::NotFound,
                };
            }
            Lookup::AddSlash => return Resolved::AddSlash,
            Lookup::NotFound => return Resolved::NotFound,
            Lookup::Forbidden => return Resolved::Forbidden,
        };
        let (br, gz) = if self.options.precompressed {
            (self.sibling(&path, ".br"), self.sibling(&path, ".gz"))
        } else {
            (None, None)
        };
        if let Some(prev) = previous {
            let now = [
                Some(FileId::of(&meta)),
                br.as_ref().map(|(_, m)| FileId::of(m)),
                gz.as_ref().map(|(_, m)| FileId::of(m)),
            ];
            if prev.fingerprint() == now {
                return Resolved::Entity(prev);
            }
        }
        let identity = match Representation::open(&path, &meta, "") {
            Ok(rep) => rep,
            Err(e) if e.kind() == std::io::ErrorKind::PermissionDenied => {
                return Resolved::Forbidden
            }
            Err(_) => return Resolved::NotFound,
        };
        let open_sibling = |found: Option<(PathBuf, Metadata)>, tag: &str| {
            found.and_then(|(p, m)| Representation::open(&p, &m, tag).ok())
        };
        Resolved::Entity(Arc::new(Entity {
            content_type: content_type(&path, &self.options.content_types),
            identity,
            br: open_sibling(br, "-br"),
            gzip: open_sibling(gz, "-gz"),
        }))
    }

    fn with_route_headers(&self, mut reply: StaticReply) -> StaticReply {
        for (name, v) in &self.options.headers {
            if !reply.headers.contains_key(name) {
                reply.headers.append(name.clone(), v.clone());
            }
        }
        reply
    }

    /// The response for a found entity; an application's own error page answers an
    /// unsatisfiable range (CherryPy's 416 page), so that one goes back to it.
    fn reply_for(&self, entity: &Entity, req: &RequestHead<'_>) -> Outcome {
        let reply = respond(entity, req);
        match &self.fallback {
            Some(f) if reply.status == StatusCode::RANGE_NOT_SATISFIABLE => {
                Outcome::Fallback(f.clone())
            }
            _ => Outcome::Reply(self.with_route_headers(reply)),
        }
    }

    fn not_served(&self, status: StatusCode, extra: &[(HeaderName, HeaderValue)]) -> Outcome {
        match &self.fallback {
            Some(f) => Outcome::Fallback(f.clone()),
            None => Outcome::Reply(self.with_route_headers(StaticReply::text(status, extra))),
        }
    }

    /// Serves a request whose raw path is `path` (query `query`), or hands it back.
    pub async fn serve(
        self: &Arc<Self>,
        req: &RequestHead<'_>,
        path: &str,
        query: Option<&str>,
    ) -> Outcome {
        if req.method != Method::GET && req.method != Method::HEAD {
            return self.not_served(
                StatusCode::METHOD_NOT_ALLOWED,
                &[(header::ALLOW, HeaderValue::from_static("GET, HEAD"))],
            );
        }
        let raw = path.get(self.prefix_len..).unwrap_or("");
        let cached = self.cache.get(raw, self.options.cache_valid);
        let previous = match cached {
            Some((entity, true)) => return self.reply_for(&entity, req),
            Some((entity, false)) => Some(entity),
            None => None,
        };
        let route = self.clone();
        let key = raw.to_string();
        let shown = path.to_string();
        let found = match tokio::task::spawn_blocking(move || {
            let found = route.find(&key, &shown, previous);
            (found, key)
        })
        .await
        {
            Ok((found, key)) => {
                match &found {
                    Resolved::Entity(entity) => self.cache.insert(&key, entity.clone()),
                    _ => self.cache.remove(&key),
                }
                found
            }
            Err(_) => return self.not_served(StatusCode::INTERNAL_SERVER_ERROR, &[]),
        };
        match found {
            Resolved::Entity(entity) => self.reply_for(&entity, req),
            Resolved::Listing(page) if self.fallback.is_none() => {
                let mut headers = HeaderMap::new();
                headers.insert(
                    header::CONTENT_TYPE,
                    HeaderValue::from_static("text/html;charset=utf-8"),
                );
                let len = page.len() as u64;
                headers.insert(header::CONTENT_LENGTH, HeaderValue::from(len));
                let body = if req.method == Method::HEAD {
                    StaticBody::empty()
                } else {
                    StaticBody::bytes(Bytes::from(page))
                };
                Outcome::Reply(self.with_route_headers(StaticReply {
                    status: StatusCode::OK,
                    headers,
                    body,
                }))
            }
            Resolved::AddSlash if self.fallback.is_none() => {
                let location = match query {
                    Some(q) => format!("{path}/?{q}"),
                    None => format!("{path}/"),
                };
                match HeaderValue::from_str(&location) {
                    Ok(loc) => Outcome::Reply(self.with_route_headers(StaticReply::text(
                        StatusCode::MOVED_PERMANENTLY,
                        &[(header::LOCATION, loc)],
                    ))),
                    Err(_) => self.not_served(StatusCode::NOT_FOUND, &[]),
                }
            }
            Resolved::Forbidden => self.not_served(StatusCode::FORBIDDEN, &[]),
            _ => self.not_served(StatusCode::NOT_FOUND, &[]),
        }
    }
}

#[cfg(test)]
mod tests;
