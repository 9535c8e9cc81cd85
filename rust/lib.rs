//! `cherrypy_rs._core`: the Rust HTTP server under the CherryPy-compatible framework.
//! This file is the table of contents; each module says what it owns.

mod access_log;
mod bridge;
mod config;
mod errors;
mod exchange;
#[cfg(feature = "fuzzing")]
#[doc(hidden)]
pub mod fuzzing;
mod pool;
mod router;
mod server;
mod static_files;
mod tls;
mod uri;

use pyo3::prelude::*;

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[pymodule]
fn _core(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    bridge::register(m)?;
    Ok(())
}
