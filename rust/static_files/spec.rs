//! A static route as configured: its settings are checked once, when the route is
//! declared (a directory that cannot be used, a relative file, a header that is not
//! valid HTTP fail there, with a message saying what to fix), and the checked `RouteSpec`
//! becomes a `StaticRoute` with a fresh cache each time the mount table is built.

use std::collections::HashMap;
use std::path::PathBuf;
use std::time::Duration;

use http::header::{HeaderName, HeaderValue};

use super::cache::Limits;
use super::path::DirOptions;
use super::route::{Fallback, RouteOptions, Source, StaticRoute};

/// The settings of a route as given (by Python: `_core.StaticRoute(...)`).
#[derive(Debug, Clone, Default)]
pub struct RouteConfig {
    /// The path prefix the route serves.
    pub prefix: String,
    /// Bytes of the request path before the file's path; None: `prefix.len()`.
    pub strip: Option<usize>,
    /// `tools.staticdir.dir` (exactly one of `directory` and `filename`).
    pub directory: Option<String>,
    /// `tools.staticfile.filename`, an absolute path.
    pub filename: Option<String>,
    /// The file served for a directory.
    pub index: Option<String>,
    /// Extension (any case, with or without the dot) → content type.
    pub content_types: HashMap<String, String>,
    /// Directory listings (the static server only).
    pub listing: bool,
    /// Serve names that start with ".".
    pub dotfiles: bool,
    /// Serve `X.br` / `X.gz` next to `X`.
    pub precompressed: bool,
    /// Headers added to every response.
    pub headers: Vec<(String, String)>,
    /// How long a cached file goes unchecked on disk.
    pub cache_valid: Duration,
    pub cache: Limits,
}

/// A checked route, ready to be mounted.
#[derive(Debug, Clone)]
pub struct RouteSpec {
    /// The path prefix it serves.
    pub prefix: String,
    /// Bytes of the request path before the file's path (the section where the
    /// directory was configured; `prefix` itself unless a sub-section inherits it).
    pub strip: usize,
    pub source: Source,
    pub options: RouteOptions,
}

/// Why a route cannot be built: what to fix (the caller names the route).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpecError(pub String);

impl std::fmt::Display for SpecError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for SpecError {}

fn canonical_dir(directory: &str) -> Result<PathBuf, SpecError> {
    let canonical = PathBuf::from(directory)
        .canonicalize()
        .map_err(|e| SpecError(format!("the directory {directory:?} cannot be used: {e}")))?;
    if !canonical.is_dir() {
        return Err(SpecError(format!("{directory:?} is not a directory")));
    }
    Ok(canonical)
}

fn header(name: &str, value: &str) -> Result<(HeaderName, HeaderValue), SpecError> {
    let n = HeaderName::from_bytes(name.as_bytes())
        .map_err(|_| SpecError(format!("{name:?} is not a valid header name")))?;
    let v = HeaderValue::from_str(value).map_err(|_| {
        SpecError(format!(
            "the value of header {name:?} is not valid in a header"
        ))
    })?;
    Ok((n, v))
}

impl RouteSpec {
    /// Checks `config` (the directory is resolved to its canonical path: blocking).
    pub fn new(config: RouteConfig) -> Result<Self, SpecError> {
        let source = match (config.directory, config.filename) {
            (Some(dir), None) => Source::Dir {
                root: canonical_dir(&dir)?,
                options: DirOptions {
                    index: config.index,
                    dotfiles: config.dotfiles,
                    listing: config.listing,
                },
            },
            (None, Some(file)) => {
                let path = PathBuf::from(&file);
                if !path.is_absolute() {
                    return Err(SpecError(format!(
                        "the file {file:?} must be an absolute path"
                    )));
                }
                Source::File(path)
            }
            _ => {
                return Err(SpecError(
                    "give exactly one of directory and filename".into(),
                ))
            }
        };
        let headers = config
            .headers
            .iter()
            .map(|(name, value)| header(name, value))
            .collect::<Result<Vec<_>, _>>()?;
        let content_types = config
            .content_types
            .into_iter()
            .map(|(ext, ctype)| (ext.trim_start_matches('.').to_ascii_lowercase(), ctype))
            .collect();
        let prefix = config.prefix;
        let strip = config.strip.unwrap_or(prefix.len());
        if strip > prefix.len() {
            return Err(SpecError(format!(
                "strip ({strip}) is longer than the prefix {prefix:?}"
            )));
        }
        Ok(RouteSpec {
            prefix,
            strip,
            source,
            options: RouteOptions {
                content_types,
                precompressed: config.precompressed,
                headers,
                cache_valid: config.cache_valid,
                cache: config.cache,
            },
        })
    }

    /// The route, with an empty cache, handing what it does not serve to `fallback`.
    pub fn route(&self, fallback: Option<Fallback>) -> StaticRoute {
        StaticRoute::new(
            self.source.clone(),
            self.strip,
            self.options.clone(),
            fallback,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dir_config(dir: &str) -> RouteConfig {
        RouteConfig {
            prefix: "/static".into(),
            directory: Some(dir.into()),
            ..Default::default()
        }
    }

    #[test]
    fn a_directory_is_made_canonical() {
        let tmp = tempfile::tempdir().unwrap();
        std::fs::create_dir(tmp.path().join("site")).unwrap();
        let dotted = format!("{}/site/../site", tmp.path().display());
        let spec = RouteSpec::new(dir_config(&dotted)).unwrap();
        let Source::Dir { root, .. } = &spec.source else {
            panic!("a directory route serves a directory");
        };
        assert_eq!(root, &tmp.path().join("site").canonicalize().unwrap());
        assert_eq!(spec.strip, "/static".len());
    }

    #[test]
    fn unusable_settings_say_what_to_fix() {
        let tmp = tempfile::tempdir().unwrap();
        let missing = tmp.path().join("nope");
        let err = RouteSpec::new(dir_config(missing.to_str().unwrap())).unwrap_err();
        assert!(err.0.contains("cannot be used"), "{err}");
        let file = tmp.path().join("f.txt");
        std::fs::write(&file, b"x").unwrap();
        let err = RouteSpec::new(dir_config(file.to_str().unwrap())).unwrap_err();
        assert!(err.0.contains("is not a directory"), "{err}");
        let relative = RouteConfig {
            filename: Some("rel.txt".into()),
            ..Default::default()
        };
        let err = RouteSpec::new(relative).unwrap_err();
        assert!(err.0.contains("must be an absolute path"), "{err}");
        let neither = RouteSpec::new(RouteConfig::default()).unwrap_err();
        assert!(neither.0.contains("exactly one"), "{neither}");
        let bad_header = RouteConfig {
            headers: vec![("X-Bad".into(), "a\nb".into())],
            ..dir_config(tmp.path().to_str().unwrap())
        };
        assert!(RouteSpec::new(bad_header).is_err());
        let long_strip = RouteConfig {
            strip: Some(100),
            ..dir_config(tmp.path().to_str().unwrap())
        };
        assert!(RouteSpec::new(long_strip).unwrap_err().0.contains("strip"));
    }

    #[test]
    fn content_type_extensions_are_normalised() {
        let tmp = tempfile::tempdir().unwrap();
        let config = RouteConfig {
            content_types: HashMap::from([(".MINE".to_string(), "text/x-mine".to_string())]),
            ..dir_config(tmp.path().to_str().unwrap())
        };
        let spec = RouteSpec::new(config).unwrap();
        assert_eq!(
            spec.options.content_types.get("mine").map(String::as_str),
            Some("text/x-mine")
        );
    }
}
