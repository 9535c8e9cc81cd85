//! A static route (a `tools.staticdir` / `tools.staticfile` section, or the static
//! server's directory): what it serves, its cache, and how it answers a request — or
//! hands it back to the application it falls back to (CherryPy's tools "fall through"
//! to the page handler). File system calls run on tokio's blocking pool.

use std::collections::HashMap;
use std::fs::Metadata;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::header::{self, HeaderMap, HeaderName, HeaderValue};
use http::{Method, StatusCode};

use super::body::StaticBody;
use super::cache::{FileCache, Limits};
use super::entity::{content_type, Entity, FileId, Representation};
use super::listing;
use super::path::{lookup, DirOptions, Lookup};
use super::respond::{respond, RequestHead, StaticReply};

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
            part_type: None,
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
            // Within cache_valid the path is not looked up again, but a file truncated,
            // rewritten or replaced since it was read is: one fstat of the descriptor
            // the cache holds (see entity.rs for why that may run here).
            Some((entity, true)) if entity.checks_inline() && entity.unchanged() => {
                return self.reply_for(&entity, req)
            }
            Some((entity, _)) => Some(entity),
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
