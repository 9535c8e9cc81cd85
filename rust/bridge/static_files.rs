//! The Python faces of the static file service: `_core.StaticRoute` (a
//! `tools.staticdir`/`tools.staticfile` section or the static server's directory,
//! checked when it is built), `_core.StaticFile` (what `lib.static.serve_file()` returns:
//! a body Rust serves with ranges and validators), and `_core.lookup_static()` (the
//! same safe path resolution for the Python side of `tools.staticdir`).

use std::collections::HashMap;
use std::fs::File;
use std::path::PathBuf;
use std::sync::Arc;

use bytes::Bytes;
use http::HeaderValue;
use pyo3::exceptions::{PyOSError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::PyBytes;

use crate::config::seconds;
use crate::static_files::{
    self, AppFile, DirOptions, Limits, Lookup, ReadProgress, RouteConfig, RouteSpec, Source,
};

/// A static route, mounted with `Server.set_mounts`.
#[pyclass(name = "StaticRoute", module = "cherrypy_rs._core", frozen)]
pub struct PyStaticRoute {
    pub spec: Arc<RouteSpec>,
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
        py: Python<'_>,
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
        let config = RouteConfig {
            prefix,
            strip,
            directory,
            filename,
            index,
            content_types,
            listing,
            dotfiles,
            precompressed,
            headers,
            cache_valid: seconds("tools.staticdir.cache_valid", cache_valid)?,
            cache: Limits {
                entries: cache_entries,
                bytes: cache_bytes,
            },
        };
        // Resolving the directory touches the file system: without the interpreter.
        let spec = py
            .detach(|| RouteSpec::new(config))
            .map_err(|e| PyValueError::new_err(format!("{what}: {e}")))?;
        Ok(PyStaticRoute {
            spec: Arc::new(spec),
        })
    }

    #[getter]
    fn prefix(&self) -> &str {
        &self.spec.prefix
    }

    fn __repr__(&self) -> String {
        let prefix = &self.spec.prefix;
        match &self.spec.source {
            Source::Dir { root, .. } => format!("<StaticRoute {prefix:?} -> {}/>", root.display()),
            Source::File(path) => format!("<StaticRoute {prefix:?} -> {}>", path.display()),
        }
    }
}

/// A response body served by Rust: a file (by path or descriptor) or bytes, with
/// validators, conditional requests and ranges evaluated against the request
/// (`static_files::AppFile`).
#[pyclass(name = "StaticFile", module = "cherrypy_rs._core", frozen)]
pub struct PyStaticFile {
    pub file: AppFile,
    /// The type the parts of a multipart/byteranges reply name (see `Entity::part_type`).
    pub part_type: Option<HeaderValue>,
    /// How far the last response with this body has read the file (`input`).
    pub progress: Arc<ReadProgress>,
}

/// `StaticFile.input`: the file as the body being sent reads it, as CherryPy's
/// `file_generator.input` (``tell()``, ``closed``).
#[pyclass(name = "StaticFileInput", module = "cherrypy_rs._core", frozen)]
pub struct PyStaticFileInput {
    progress: Arc<ReadProgress>,
}

#[pymethods]
impl PyStaticFileInput {
    /// The file offset after the last chunk read for the response (0 before).
    fn tell(&self) -> u64 {
        self.progress.position()
    }

    /// Whether the response's body has been sent (or abandoned).
    #[getter]
    fn closed(&self) -> bool {
        self.progress.closed()
    }
}

#[pymethods]
impl PyStaticFile {
    /// The file at `path`, opened when the response is sent. `content_type` is what
    /// each part of a multipart/byteranges reply names (default: the response's
    /// Content-Type); a value that is not a valid header value is ignored.
    #[new]
    #[pyo3(signature = (path, content_type = None))]
    fn new(path: PathBuf, content_type: Option<&str>) -> Self {
        PyStaticFile {
            file: AppFile::Path(path),
            part_type: content_type.and_then(|v| HeaderValue::from_str(v).ok()),
            progress: Arc::default(),
        }
    }

    /// The file as the response's body reads it (``tell()``, ``closed``), as CherryPy's
    /// ``file_generator.input``.
    #[getter]
    fn input(&self) -> PyStaticFileInput {
        PyStaticFileInput {
            progress: self.progress.clone(),
        }
    }

    /// The open file behind descriptor `fd` (the caller keeps and closes its own).
    #[staticmethod]
    fn from_fd(fd: i32) -> PyResult<Self> {
        // A new, independent handle (see FileBody): no raw descriptor is taken over.
        let file = File::open(format!("/proc/self/fd/{fd}"))
            .map_err(|e| PyOSError::new_err(format!("cannot reopen file descriptor {fd}: {e}")))?;
        Ok(PyStaticFile {
            file: AppFile::Open(file),
            part_type: None,
            progress: Arc::default(),
        })
    }

    /// Bytes (the content of a file-like object without a descriptor).
    #[staticmethod]
    fn from_bytes(data: Vec<u8>) -> Self {
        PyStaticFile {
            file: AppFile::Memory(Bytes::from(data)),
            part_type: None,
            progress: Arc::default(),
        }
    }

    /// The whole content, read now with the interpreter released (for a tool that
    /// transforms the body, such as `tools.gzip`); None when it is longer than `limit`
    /// bytes.
    fn read<'py>(&self, py: Python<'py>, limit: u64) -> PyResult<Option<Bound<'py, PyBytes>>> {
        let data = py
            .detach(|| self.file.read_all(limit))
            .map_err(|e| PyOSError::new_err(format!("cannot read the file body: {e}")))?;
        Ok(data.map(|d| PyBytes::new(py, &d)))
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
