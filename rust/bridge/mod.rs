//! Everything that touches Python: the `Server` facade, the `Request` handed to Python
//! handlers, and the worker loop that turns a handler's result into plain Rust data.

mod body_sender;
mod file_body;
mod listener;
mod request;
mod server;
mod static_files;
mod worker;
mod wsgi;

use pyo3::prelude::*;

/// Adds the bridge's classes to `cherrypy_rs._core`.
pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<server::PyServer>()?;
    m.add("SERVER_DEFAULTS", server::server_defaults(m.py())?)?;
    m.add_class::<listener::PyListener>()?;
    m.add_class::<request::PyRequest>()?;
    m.add_class::<file_body::PyFileBody>()?;
    m.add_class::<wsgi::PyStartResponse>()?;
    m.add(
        "HOP_BY_HOP",
        pyo3::types::PyFrozenSet::new(m.py(), wsgi::HOP_BY_HOP)?,
    )?;
    m.add_class::<wsgi::PyWsgiReply>()?;
    m.add_class::<static_files::PyStaticRoute>()?;
    m.add_class::<static_files::PyStaticFile>()?;
    m.add_class::<static_files::PyStaticFileInput>()?;
    m.add_function(wrap_pyfunction!(static_files::lookup_static, m)?)?;
    m.add_function(wrap_pyfunction!(static_files::range_unsatisfiable, m)?)?;
    Ok(())
}
