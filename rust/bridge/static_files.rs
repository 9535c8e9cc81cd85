//! The Python faces of the static file service: `_core.StaticRoute` (a
//! `tools.staticdir`/`tools.staticfile` section or the static server's directory,
//! checked when it is built), `_core.StaticFile` (what `lib.static.serve_file()` returns:
//! a body Rust serves with ranges and validators), and `_core.lookup_static()` (the
//! same safe path resolution for the Python side of `tools.staticdir`).

use std::collections::HashMap;
use std::fs::File;
use std::path::PathBuf;

use bytes::Bytes;
use http::header::{self, HeaderName, HeaderValue};
use http::StatusCode;
use pyo3::exceptions::{PyOSError, PyValueError};
use pyo3::prelude::*;

use crate::config::seconds;
use crate::static_files::{
    self, DirOptions, Entity, Limits, Lookup, Representation, RequestHead, RouteOptions, Source,
    StaticReply,
};

fn canonical_dir(directory: &str, what: &str) -> PyResult<PathBuf> {
    let path = PathBuf::from(directory);
    let canonical = path.canonicalize().map_err(|e| {
        PyValueError::new_err(format!(
            "{what}: the directory {directory:?} cannot be used: {e}"
        ))
    })?;
    if !canonical.is_dir() {
        return Err(PyValueError::new_err(format!(
            "{what}: {directory:?} is not a directory"
        )));
    }
    Ok(canonical)
}

/// A static route, mounted with `Server.set_mounts`.
#[pyclass(name = "StaticRoute", module = "cherrypy_rs._core", frozen)]
pub struct PyStaticRoute {
    pub prefix: String,
    /// Bytes of the request path before the file's path (the section where the
    /// directory was configured; `prefix` itself unless a sub-section inherits it).
    pub strip: usize,
    pub source: Source,
    pub options: RouteOptions,
}

#[pymethods]
impl PyStaticRoute {
    /// Serves `directory` (or the single file `filename`) at `prefix` and below; the
    /// file's path is the request path after its first `strip` bytes (default: after
    /// `prefix`). `what` names the route in error messages (the config section).
    #[new]
    #[pyo3(signature = (
        prefix,
        *,
        strip = None,
        directory = None,
        filename = None,
        index = None,
        content_types = HashMap::new(),
        listing = false,
        dotfiles = false,
        precompressed = false,
        headers = Vec::new(),
        cache_valid = 1.0,
        cache_entries = 1024,
        cache_bytes = 64 << 20,
        what = String::from("static route"),
    ))]
    fn new(
        prefix: String,
        strip: Option<usize>,
        directory: Option<String>,
        filename: Option<String>,
        index: Option<String>,
        content_types: HashMap<String, String>,
        listing: bool,
        dotfiles: bool,
        precompressed: bool,
        headers: Vec<(String, String)>,
        cache_valid: f64,
        cache_entries: usize,
        cache_bytes: usize,
        what: String,
    ) -> PyResult<Self> {
        let source = match (directory, filename) {
            (Some(dir), None) => Source::Dir {
                root: canonical_dir(&dir, &what)?,
                options: DirOptions {
                    index,
                    dotfiles,
                    listing,
                },
            },
            (None, Some(file)) => {
                let path = PathBuf::from(&file);
                if !path.is_absolute() {
                    return Err(PyValueError::new_err(format!(
                        "{what}: the file {file:?} must be an absolute path"
                    )));
                }
                Source::File(path)
            }
            _ => {
                return Err(PyValueError::new_err(format!(
                    "{what}: give exactly one of directory and filename"
                )))
            }
        };
        let mut route_headers = Vec::with_capacity(headers.len());
        for (name, value) in headers {
            let n = HeaderName::from_bytes(name.as_bytes()).map_err(|_| {
                PyValueError::new_err(format!("{what}: {name:?} is not a valid header name"))
            })?;
            let v = HeaderValue::from_str(&value).map_err(|_| {
                PyValueError::new_err(format!(
                    "{what}: the value of header {name:?} is not valid in a header"
                ))
            })?;
            route_headers.push((n, v));
        }
        let content_types = content_types
            .into_iter()
            .map(|(ext, ctype)| (ext.trim_start_matches('.').to_ascii_lowercase(), ctype))
            .collect();
        let strip = strip.unwrap_or(prefix.len());
        if strip > prefix.len() {
            return Err(PyValueError::new_err(format!(
                "{what}: strip ({strip}) is longer than the prefix {prefix:?}"
            )));
        }
        Ok(PyStaticRoute {
            prefix,
            strip,
            source,
            options: RouteOptions {
                content_types,
                precompressed,
                headers: route_headers,
                cache_valid: seconds("tools.staticdir.cache_valid", cache_valid)?,
                cache: Limits {
                    entries: cache_entries,
                    bytes: cache_bytes,
                },
            },
        })
    }

    #[getter]
    fn prefix(&self) -> &str {
        &self.prefix
    }

    fn __repr__(&self) -> String {
        match &self.source {
            Source::Dir { root, .. } => {
                format!("<StaticRoute {:?} -> {}/>", self.prefix, root.display())
            }
            Source::File(path) => format!("<StaticRoute {:?} -> {}>", self.prefix, path.display()),
        }
    }
}

enum FileSource {
    Path(PathBuf),
    Open(File),
    Memory(Bytes),
}

/// A response body served by Rust: a file (by path or descriptor) or bytes, with
/// validators, conditional requests and ranges evaluated against the request.
#[pyclass(name = "StaticFile", module = "cherrypy_rs._core", frozen)]
pub struct PyStaticFile {
    source: FileSource,
}

#[pymethods]
impl PyStaticFile {
    /// The file at `path`, opened when the response is sent.
    #[new]
    fn new(path: PathBuf) -> Self {
        PyStaticFile {
            source: FileSource::Path(path),
        }
    }

    /// The open file behind descriptor `fd` (the caller keeps and closes its own).
    #[staticmethod]
    fn from_fd(fd: i32) -> PyResult<Self> {
        // A new, independent handle (see FileBody): no raw descriptor is taken over.
        let file = File::open(format!("/proc/self/fd/{fd}"))
            .map_err(|e| PyOSError::new_err(format!("cannot reopen file descriptor {fd}: {e}")))?;
        Ok(PyStaticFile {
            source: FileSource::Open(file),
        })
    }

    /// Bytes (the content of a file-like object without a descriptor).
    #[staticmethod]
    fn from_bytes(data: Vec<u8>) -> Self {
        PyStaticFile {
            source: FileSource::Memory(Bytes::from(data)),
        }
    }
}

impl PyStaticFile {
    /// The response (blocking: call it with the interpreter released). `status` is the
    /// application's; only a 200 is subject to preconditions and ranges.
    pub fn reply(
        &self,
        req: &RequestHead<'_>,
        status: StatusCode,
        content_type: HeaderValue,
    ) -> StaticReply {
        let identity = match &self.source {
            FileSource::Path(path) => {
                match std::fs::metadata(path).and_then(|m| Representation::open(path, &m, "")) {
                    Ok(rep) => rep,
                    Err(e) if e.kind() == std::io::ErrorKind::PermissionDenied => {
                        return StaticReply::text(StatusCode::FORBIDDEN, &[])
                    }
                    Err(_) => return StaticReply::text(StatusCode::NOT_FOUND, &[]),
                }
            }
            FileSource::Open(file) => match file.try_clone().and_then(Representation::from_file) {
                Ok(rep) => rep,
                Err(_) => return StaticReply::text(StatusCode::INTERNAL_SERVER_ERROR, &[]),
            },
            FileSource::Memory(bytes) => Representation::from_bytes(bytes.clone(), None),
        };
        let entity = Entity::new(content_type, identity);
        if status == StatusCode::OK {
            static_files::respond(&entity, req)
        } else {
            let mut reply = static_files::respond_as_is(&entity, req);
            reply.status = status;
            reply
        }
    }
}

/// What `path` (below the section; percent-encoded, or decoded as `path_info` when
/// `decoded`) names under `root`: ("file", path), ("dir", path), ("redirect", None),
/// ("notfound", None) or ("forbidden", None). The same rules as the Rust routes.
#[pyfunction]
#[pyo3(signature = (root, path, index = None, dotfiles = true, decoded = false))]
pub fn lookup_static(
    py: Python<'_>,
    root: PathBuf,
    path: &str,
    index: Option<String>,
    dotfiles: bool,
    decoded: bool,
) -> (&'static str, Option<PathBuf>) {
    let path = path.to_string();
    py.detach(move || {
        let Ok(root) = root.canonicalize() else {
            return ("notfound", None);
        };
        let options = DirOptions {
            index,
            dotfiles,
            listing: false,
        };
        let found = if decoded {
            static_files::lookup_decoded(&root, &path, &options)
        } else {
            static_files::lookup(&root, &path, &options)
        };
        match found {
            Lookup::File { path, .. } => ("file", Some(path)),
            Lookup::Directory(dir) => ("dir", Some(dir)),
            Lookup::AddSlash => ("redirect", None),
            Lookup::NotFound => ("notfound", None),
            Lookup::Forbidden => ("forbidden", None),
        }
    })
}

/// Whether a Range header value is valid but names no byte of a `length`-byte file
/// (RFC 9110 §15.5.17: answered 416).
#[pyfunction]
pub fn range_unsatisfiable(value: &str, length: u64) -> bool {
    matches!(
        static_files::parse_range(value, length),
        static_files::Ranges::Unsatisfiable
    )
}

/// The content type of a reply whose application set none.
pub fn default_content_type() -> HeaderValue {
    HeaderValue::from_static("application/octet-stream")
}

/// Headers of the application's reply that the static reply decides instead.
pub fn decided_by_static(name: &HeaderName) -> bool {
    name == header::CONTENT_LENGTH
        || name == header::TRANSFER_ENCODING
        || name == header::CONTENT_RANGE
        || name == header::ACCEPT_RANGES
        || name == header::ETAG
        || name == header::LAST_MODIFIED
}
