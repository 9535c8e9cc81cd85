//! `_core.FileBody`: a response body that Rust reads from a file (`wsgi.file_wrapper`
//! over a real file), so no Python runs per chunk and the interpreter is not held while
//! the file is read and sent.

use std::fs::File;

use pyo3::exceptions::PyOSError;
use pyo3::prelude::*;

#[pyclass(name = "FileBody", module = "cherrypy_rs._core", frozen)]
pub struct PyFileBody {
    file: File,
    pub offset: u64,
    pub length: Option<u64>,
    /// Its `close()` is called (on the worker thread) once the body is sent or abandoned.
    pub closer: Py<PyAny>,
}

impl PyFileBody {
    /// A second handle on the open file, for reading off the interpreter.
    pub fn reader(&self) -> std::io::Result<File> {
        self.file.try_clone()
    }
}

#[pymethods]
impl PyFileBody {
    /// Reopens the file behind descriptor `fd` (the caller keeps and closes its own);
    /// sends `length` bytes (to the end when None) from `offset`, then calls
    /// `closer.close()`.
    #[new]
    #[pyo3(signature = (fd, offset, length, closer))]
    fn new(fd: i32, offset: u64, length: Option<u64>, closer: Py<PyAny>) -> PyResult<Self> {
        // Opening /proc/self/fd/N gives an independent handle (its own offset) without
        // taking ownership of a raw descriptor.
        let file = File::open(format!("/proc/self/fd/{fd}"))
            .map_err(|e| PyOSError::new_err(format!("cannot reopen file descriptor {fd}: {e}")))?;
        Ok(PyFileBody {
            file,
            offset,
            length,
            closer,
        })
    }
}
