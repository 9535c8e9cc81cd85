//! The mount table: which application serves a path. Longest mount prefix wins, and a
//! prefix only matches whole path segments ("/api" serves "/api" and "/api/x", never
//! "/apix"), as CherryPy's `Tree.script_name()` does.

use matchit::Router as Matcher;

/// What is mounted at a prefix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// A Python application (CherryPy app or WSGI graft), by its index in the tree.
    App(usize),
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
    mounts: Vec<(String, Target)>,
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
    /// Builds the table from `(script_name, target)` pairs. A script name is "" (the
    /// root) or starts with "/" and does not end with "/".
    pub fn new(mounts: Vec<(String, Target)>) -> Result<Self, MountError> {
        let mut matcher = Matcher::new();
        for (index, (prefix, _)) in mounts.iter().enumerate() {
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
            if mounts[..index].iter().any(|(p, _)| p == prefix) {
                return Err(MountError(format!("{prefix:?} is mounted twice")));
            }
            for pattern in patterns {
                matcher
                    .insert(pattern, index)
                    .map_err(|e| MountError(format!("cannot mount {prefix:?}: {e}")))?;
            }
        }
        Ok(Router { matcher, mounts })
    }

    /// The mount that serves `path` (the raw, still-encoded request path).
    pub fn route(&self, path: &str) -> Option<Route<'_>> {
        let index = *self.matcher.at(path).ok()?.value;
        let (script_name, target) = self.mounts.get(index)?;
        Some(Route {
            target,
            script_name,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table() -> Router {
        Router::new(vec![
            (String::new(), Target::App(0)),
            ("/api".into(), Target::App(1)),
            ("/api/v2".into(), Target::App(2)),
        ])
        .unwrap()
    }

    fn app(r: &Router, path: &str) -> Option<(usize, String)> {
        r.route(path).map(|m| match m.target {
            Target::App(i) => (*i, m.script_name.to_string()),
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
        let r = Router::new(vec![("/app".into(), Target::App(0))]).unwrap();
        assert!(r.route("/").is_none());
        assert!(r.route("/other").is_none());
        assert!(r.route("/app/x").is_some());
    }

    #[test]
    fn bad_and_duplicate_prefixes_are_refused() {
        assert!(Router::new(vec![("api".into(), Target::App(0))]).is_err());
        assert!(Router::new(vec![("/api/".into(), Target::App(0))]).is_err());
        let dup = Router::new(vec![
            ("/a".into(), Target::App(0)),
            ("/a".into(), Target::App(1)),
        ]);
        assert!(dup.is_err());
    }

    #[test]
    fn braces_in_prefixes_are_literal() {
        let r = Router::new(vec![("/{x}".into(), Target::App(0))]).unwrap();
        assert!(r.route("/{x}/y").is_some());
        assert!(r.route("/abc").is_none());
    }
}
