//! The mount table as the Python tree describes it, and the rules that make a `Router` of
//! it: applications at their script names; static routes, each with the application it
//! falls back to (CherryPy's staticdir "falls through" to the page handler) or none (the
//! static server answers everything itself); and config sections that an application
//! answers below a static route. A static route at an application's own prefix takes
//! the application's place; any other is a mount of its own, so the longest prefix
//! decides between it and the application around it.

use std::sync::Arc;

use super::{Mount, MountError, Router, Target};
use crate::static_files::{Fallback, RouteSpec};

/// Who serves what, as declared; `router()` builds the table from it.
#[derive(Debug, Clone, Default)]
pub struct MountTable {
    /// Application `i` serves `apps[i]` (its script name) and below.
    pub apps: Vec<String>,
    /// Static routes, each with the index of the application that answers what it
    /// does not serve; None: the route answers 404 itself (the static server).
    pub statics: Vec<(Arc<RouteSpec>, Option<usize>)>,
    /// Prefixes (below a static route) that application `.1` answers.
    pub sections: Vec<(String, usize)>,
}

impl MountTable {
    fn script_name(&self, app: usize) -> Result<&str, MountError> {
        self.apps
            .get(app)
            .map(String::as_str)
            .ok_or_else(|| MountError(format!("application {app} is not in the mount table")))
    }

    /// The router, with a fresh cache for every static route.
    pub fn router(&self) -> Result<Router, MountError> {
        let mut table: Vec<Mount> = self
            .apps
            .iter()
            .enumerate()
            .map(|(i, prefix)| Mount::app(prefix, i))
            .collect();
        let mut routes = Vec::with_capacity(self.statics.len());
        for (spec, app) in &self.statics {
            let fallback = match app {
                Some(i) => Some(Fallback {
                    app: *i,
                    script_name: self.script_name(*i)?.to_string(),
                }),
                None => None,
            };
            let index = routes.len();
            routes.push(Arc::new(spec.route(fallback.clone())));
            // At an application's own prefix the route takes the application's place:
            // the application it falls back to, or (the static server) the placeholder
            // application it fills.
            let replaced = match &fallback {
                Some(f) => (f.script_name == spec.prefix).then_some(f.app),
                None => self.apps.iter().position(|a| a == &spec.prefix),
            };
            match replaced {
                Some(i) => table[i].target = Target::Static(index),
                None => table.push(Mount {
                    prefix: spec.prefix.clone(),
                    target: Target::Static(index),
                    script_name: fallback.map(|f| f.script_name).unwrap_or_default(),
                }),
            }
        }
        for (prefix, app) in &self.sections {
            table.push(Mount {
                prefix: prefix.clone(),
                target: Target::App(*app),
                script_name: self.script_name(*app)?.to_string(),
            });
        }
        Router::with_statics(table, routes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::static_files::RouteConfig;

    /// A route serving one file (nothing on disk is needed to build it).
    fn spec(prefix: &str) -> Arc<RouteSpec> {
        let config = RouteConfig {
            prefix: prefix.to_string(),
            filename: Some("/srv/file.txt".into()),
            ..Default::default()
        };
        Arc::new(RouteSpec::new(config).expect("a valid route"))
    }

    /// (kind, index, script name) of the mount serving `path`; for a static route the
    /// index is the application it falls back to (None for the static server).
    fn who(router: &Router, path: &str) -> Option<(&'static str, Option<usize>, String)> {
        let route = router.route(path)?;
        let script_name = route.script_name.to_string();
        Some(match route.target {
            Target::App(i) => ("app", Some(*i), script_name),
            Target::Static(i) => {
                let fallback = router.static_route(*i)?.fallback.as_ref().map(|f| f.app);
                ("static", fallback, script_name)
            }
        })
    }

    #[test]
    fn a_static_section_is_a_mount_of_its_own_inside_its_application() {
        let table = MountTable {
            apps: vec!["".into(), "/blog".into()],
            statics: vec![(spec("/blog/static"), Some(1))],
            sections: Vec::new(),
        };
        let r = table.router().unwrap();
        let blog = "/blog".to_string();
        assert_eq!(
            who(&r, "/blog/static/a.css"),
            Some(("static", Some(1), blog.clone()))
        );
        assert_eq!(who(&r, "/blog/staticx"), Some(("app", Some(1), blog)));
        assert_eq!(who(&r, "/"), Some(("app", Some(0), String::new())));
    }

    #[test]
    fn a_static_route_at_its_applications_prefix_takes_its_place() {
        let table = MountTable {
            apps: vec!["".into(), "/docs".into()],
            statics: vec![(spec("/docs"), Some(1))],
            sections: Vec::new(),
        };
        let r = table.router().unwrap();
        let docs = "/docs".to_string();
        assert_eq!(who(&r, "/docs"), Some(("static", Some(1), docs.clone())));
        assert_eq!(who(&r, "/docs/x/y"), Some(("static", Some(1), docs)));
        // A route falling back to the root application at the root replaces it too.
        let root = MountTable {
            apps: vec!["".into()],
            statics: vec![(spec(""), Some(0))],
            sections: Vec::new(),
        };
        let r = root.router().unwrap();
        assert_eq!(who(&r, "/x"), Some(("static", Some(0), String::new())));
    }

    #[test]
    fn the_static_server_fills_its_placeholder_or_stands_alone() {
        let placeholder = MountTable {
            apps: vec!["/files".into()],
            statics: vec![(spec("/files"), None)],
            sections: Vec::new(),
        };
        let r = placeholder.router().unwrap();
        assert_eq!(who(&r, "/files/a"), Some(("static", None, "/files".into())));
        let alone = MountTable {
            apps: vec!["".into()],
            statics: vec![(spec("/files"), None)],
            sections: Vec::new(),
        };
        let r = alone.router().unwrap();
        assert_eq!(who(&r, "/files/a"), Some(("static", None, String::new())));
        assert_eq!(who(&r, "/other"), Some(("app", Some(0), String::new())));
    }

    #[test]
    fn a_section_below_a_static_route_goes_to_its_application() {
        let table = MountTable {
            apps: vec!["/shop".into()],
            statics: vec![(spec("/shop/static"), Some(0))],
            sections: vec![("/shop/static/api".into(), 0)],
        };
        let r = table.router().unwrap();
        let shop = "/shop".to_string();
        assert_eq!(
            who(&r, "/shop/static/api/items"),
            Some(("app", Some(0), shop.clone()))
        );
        assert_eq!(
            who(&r, "/shop/static/logo.png"),
            Some(("static", Some(0), shop))
        );
    }

    #[test]
    fn an_application_that_is_not_mounted_is_refused() {
        let fallback = MountTable {
            apps: vec!["".into()],
            statics: vec![(spec("/s"), Some(3))],
            sections: Vec::new(),
        };
        let err = fallback.router().err().map(|e| e.to_string());
        assert_eq!(
            err.as_deref(),
            Some("application 3 is not in the mount table")
        );
        let section = MountTable {
            apps: vec!["".into()],
            statics: Vec::new(),
            sections: vec![("/x".into(), 1)],
        };
        assert!(section.router().is_err());
        let twice = MountTable {
            apps: vec!["".into()],
            statics: vec![(spec("/s"), Some(0)), (spec("/s"), Some(0))],
            sections: Vec::new(),
        };
        assert!(twice.router().is_err());
    }
}
