//! Static files served by Rust alone: `tools.staticdir` / `tools.staticfile` routes and
//! the `cherrypy-rs static` server, and the file bodies that `lib.static.serve_file()`
//! returns from Python handlers. The HTTP semantics (RFC 9110: validators, conditional
//! requests, ranges, HEAD, content negotiation of precompressed siblings) live here
//! once, for both. Nothing here touches Python; file system calls run on tokio's
//! blocking pool or on a Python worker thread, never on a tokio worker.
//!
//! The files, in the order a request meets them: `spec` (a route's settings, checked
//! once), `route` (a mounted route and how it answers), `path` (safe resolution below a
//! root), `cache` (resolved files per path), `entity` (a file's representations and
//! validators), `conditional` and `range` (RFC 9110 preconditions and ranges),
//! `respond` (the response as plain data), `listing` (directory pages), `body` (the
//! body, read off the tokio workers), and `app_file` (a file body from a handler).

mod app_file;
mod body;
mod cache;
mod conditional;
mod entity;
mod listing;
mod path;
mod range;
mod respond;
mod route;
mod spec;

pub use app_file::AppFile;
pub use body::{ReadProgress, StaticBody};
pub use cache::Limits;
pub use path::{lookup, lookup_decoded, DirOptions, Lookup};
pub use range::{parse as parse_range, Ranges};
pub use respond::{RequestHead, StaticReply};
pub use route::{Fallback, Outcome, Source, StaticRoute};
pub use spec::{RouteConfig, RouteSpec};

/// What the fuzz targets call (`crate::fuzzing`).
#[cfg(feature = "fuzzing")]
pub mod fuzz_api {
    pub use super::conditional::{evaluate, range_allowed, Validators};
}

#[cfg(test)]
mod tests;
