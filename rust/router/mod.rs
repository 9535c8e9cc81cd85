//! The mount table: which application serves a path. Longest mount prefix wins, and a
//! prefix only matches whole path segments ("/api" serves "/api" and "/api/x", never
//! "/apix"), as CherryPy's `Tree.script_name()` does. Static routes (a `tools.staticdir`
//! section, or the static server's directory) are mounts of their own, so the longest
//! prefix decides between a static section and the application around it. `mounts`
//! holds the rules that build the table from what the Python tree declares.

mod mounts;

use std::sync::Arc;

use matchit::Router as Matcher;

use crate::static_files::StaticRoute;

pub use mounts::MountTable;

/// What is mounted at a prefix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// A Python application (CherryPy app or WSGI graft), by its index in the tree.
    App(usize),
    /// A static route, by its index in the router's static routes.
    Static(usize),
}

/// One entry of the mount table.
#[derive(Debug, Clone)]
pub struct Mount {
    /// The path prefix it serves.
    pub prefix: String,
    pub target: Target,
    /// The application's script name: the prefix itself for an application, the
    /// enclosing application's for a config section mounted on its own.
    pub script_name: String,
}

impl Mount {
    /// An application at its own script name.
    pub fn app(prefix: &str, index: usize) -> Self {
        Mount {
            prefix: prefix.to_string(),
            target: Target::App(index),
            script_name: prefix.to_string(),
        }
    }
}

/// A matched mount: its target and the script name (the prefix, "" for the root).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Route<'a> {
    pub target: &'a Target,
    pub script_name: &'a str,
}

/// An immutable mount table; rebuilt whole when the tree changes.
#[derive(Default)]
pub struct Router {
    matcher: Matcher<usize>,
    mounts: Vec<Mount>,
    statics: Vec<Arc<StaticRoute>>,
}

/// Why a mount table could not be built.
#[derive(Debug, PartialEq, Eq)]
pub struct MountError(pub String);

impl std::fmt::Display for MountError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for MountError {}

/// Escapes matchit's syntax characters so a prefix is matched literally.
fn literal(prefix: &str) -> String {
    prefix.replace('{', "{{").replace('}', "}}")
}

impl Router {
    /// Builds the table of applications only.
    #[cfg(test)]
    pub fn new(mounts: Vec<Mount>) -> Result<Self, MountError> {
        Router::with_statics(mounts, Vec::new())
    }

    /// Builds the table. A prefix is "" (the root) or starts with "/" and does not end
    /// with "/"; `Target::Static(i)` names `statics[i]`.
    pub fn with_statics(
        mounts: Vec<Mount>,
        statics: Vec<Arc<StaticRoute>>,
    ) -> Result<Self, MountError> {
        let mut matcher = Matcher::new();
        for (index, mount) in mounts.iter().enumerate() {
            let prefix = &mount.prefix;
            if let Target::Static(i) = mount.target {
                if i >= statics.len() {
                    return Err(MountError(format!(
                        "{prefix:?} names a missing static route"
                    )));
                }
            }
            if !prefix.is_empty() && (!prefix.starts_with('/') || prefix.ends_with('/')) {
                return Err(MountError(format!(
                    "script_name {prefix:?} must be empty or start with '/' and not end with '/'"
                )));
            }
            let base = literal(prefix);
            // matchit's catch-all needs one character, so "/api/" is its own pattern.
            let mut patterns = vec![format!("{base}/"), format!("{base}/{{*rest}}")];
            if !base.is_empty() {
                patterns.push(base.clone());
            }
            if mounts[..index].iter().any(|m| &m.prefix == prefix) {
                return Err(MountError(format!("{prefix:?} is mounted twice")));
            }
            for pattern in patterns {
                matcher
                    .insert(pattern, index)
                    .map_err(|e| MountError(format!("cannot mount {prefix:?}: {e}")))?;
            }
        }
        Ok(Router {
            matcher,
            mounts,
            statics,
        })
    }

    /// The mount that serves `path` (the raw, still-encoded request path).
    pub fn route(&self, path: &str) -> Option<Route<'_>> {
        let index = *self.matcher.at(path).ok()?.value;
        let mount = self.mounts.get(index)?;
        Some(Route {
            target: &mount.target,
            script_name: &mount.script_name,
        })
    }

    /// The static route behind `Target::Static(index)`.
    pub fn static_route(&self, index: usize) -> Option<&Arc<StaticRoute>> {
        self.statics.get(index)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table() -> Router {
        Router::new(vec![
            Mount::app("", 0),
            Mount::app("/api", 1),
            Mount::app("/api/v2", 2),
        ])
        .unwrap()
    }

    fn app(r: &Router, path: &str) -> Option<(usize, String)> {
        r.route(path).map(|m| match m.target {
            Target::App(i) | Target::Static(i) => (*i, m.script_name.to_string()),
        })
    }

    #[test]
    fn longest_prefix_wins_on_segment_boundaries() {
        let r = table();
        assert_eq!(app(&r, "/"), Some((0, "".into())));
        assert_eq!(app(&r, "/x/y"), Some((0, "".into())));
        assert_eq!(app(&r, "/api"), Some((1, "/api".into())));
        assert_eq!(app(&r, "/api/"), Some((1, "/api".into())));
        assert_eq!(app(&r, "/apix"), Some((0, "".into())));
        assert_eq!(app(&r, "/api/v2/users"), Some((2, "/api/v2".into())));
        assert_eq!(app(&r, "/api/v20"), Some((1, "/api".into())));
    }

    #[test]
    fn without_a_root_mount_other_paths_do_not_match() {
        let r = Router::new(vec![Mount::app("/app", 0)]).unwrap();
        assert!(r.route("/").is_none());
        assert!(r.route("/other").is_none());
        assert!(r.route("/app/x").is_some());
    }

    #[test]
    fn bad_and_duplicate_prefixes_are_refused() {
        assert!(Router::new(vec![Mount::app("api", 0)]).is_err());
        assert!(Router::new(vec![Mount::app("/api/", 0)]).is_err());
        let dup = Router::new(vec![Mount::app("/a", 0), Mount::app("/a", 1)]);
        assert!(dup.is_err());
        let missing = Mount {
            prefix: "/s".into(),
            target: Target::Static(0),
            script_name: String::new(),
        };
        assert!(Router::new(vec![missing]).is_err());
    }

    #[test]
    fn a_section_keeps_its_applications_script_name() {
        let section = Mount {
            prefix: "/blog/static".into(),
            target: Target::App(0),
            script_name: "/blog".into(),
        };
        let r = Router::new(vec![Mount::app("/blog", 0), section]).unwrap();
        assert_eq!(app(&r, "/blog/static/x"), Some((0, "/blog".into())));
        assert_eq!(app(&r, "/blog/staticx"), Some((0, "/blog".into())));
    }

    #[test]
    fn braces_in_prefixes_are_literal() {
        let r = Router::new(vec![Mount::app("/{x}", 0)]).unwrap();
        assert!(r.route("/{x}/y").is_some());
        assert!(r.route("/abc").is_none());
    }
}
