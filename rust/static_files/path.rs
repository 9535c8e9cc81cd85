//! Mapping a request path onto a file below a static root, so that nothing outside the
//! root is ever served: the raw path is decoded once, `..` is refused, encoded
//! separators and NUL bytes find nothing, and the result is canonicalised (symlinks
//! resolved) and must still lie below the canonical root, compared component by
//! component (so `/srv/static2` is not below `/srv/static`). Blocking: call it off the
//! tokio threads.

use std::ffi::OsStr;
use std::fs::Metadata;
use std::io::ErrorKind;
use std::os::unix::ffi::OsStrExt;
use std::path::{Component, Path, PathBuf};

use crate::uri::hex;

/// What a request path names below a root.
#[derive(Debug)]
pub enum Lookup {
    /// A regular file (possibly a directory's index file).
    File {
        path: PathBuf,
        meta: Metadata,
    },
    /// A directory without an index file, requested with its trailing slash.
    Directory(PathBuf),
    /// A directory requested without its trailing slash: redirect to add it.
    AddSlash,
    NotFound,
    /// A path that tries to leave the root (`..`), or a file the server may not read.
    Forbidden,
}

/// How a directory's files are looked up.
#[derive(Debug, Clone, Default)]
pub struct DirOptions {
    /// The file served for a directory (`tools.staticdir.index`).
    pub index: Option<String>,
    /// Serve names that start with "." (off: they are not found).
    pub dotfiles: bool,
    /// A directory without an index is listed rather than not found.
    pub listing: bool,
}

/// The decoded bytes of a raw path, or None when it holds an encoded separator (`%2F`,
/// `%5C`), a backslash or a NUL: such a path names no file (an encoded "/" would let a
/// single segment climb a level after decoding).
fn decode(raw: &str) -> Option<Vec<u8>> {
    let bytes = raw.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let mut b = bytes[i];
        if b == b'%' && i + 2 < bytes.len() {
            if let (Some(h), Some(l)) = (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                b = h * 16 + l;
                if b == b'/' {
                    return None;
                }
                i += 2;
            }
        }
        if b == b'\\' || b == 0 {
            return None;
        }
        out.push(b);
        i += 1;
    }
    Some(out)
}

/// Why a path names nothing servable.
#[derive(Debug, Clone, Copy)]
enum Refusal {
    NotFound,
    Forbidden,
}

impl From<Refusal> for Lookup {
    fn from(r: Refusal) -> Lookup {
        match r {
            Refusal::NotFound => Lookup::NotFound,
            Refusal::Forbidden => Lookup::Forbidden,
        }
    }
}

/// The segments of a decoded path, or the reason it names nothing servable.
fn segments(decoded: &[u8], dotfiles: bool) -> Result<Vec<&OsStr>, Refusal> {
    let mut parts = Vec::new();
    for segment in decoded.split(|&b| b == b'/') {
        match segment {
            b"" | b"." => continue,
            b".." => return Err(Refusal::Forbidden),
            s if s[0] == b'.' && !dotfiles => return Err(Refusal::NotFound),
            s => parts.push(OsStr::from_bytes(s)),
        }
    }
    Ok(parts)
}

fn io_failure(kind: ErrorKind) -> Refusal {
    if kind == ErrorKind::PermissionDenied {
        Refusal::Forbidden
    } else {
        Refusal::NotFound
    }
}

/// The canonical form of `candidate` when it is below `root` (and, unless `dotfiles`,
/// reached through no dot-name: a symlink may point at one).
fn contained(root: &Path, candidate: &Path, dotfiles: bool) -> Result<PathBuf, Refusal> {
    let canonical = candidate.canonicalize().map_err(|e| io_failure(e.kind()))?;
    let Ok(below) = canonical.strip_prefix(root) else {
        return Err(Refusal::NotFound);
    };
    if !dotfiles
        && below.components().any(|c| match c {
            Component::Normal(name) => name.as_bytes().first() == Some(&b'.'),
            _ => false,
        })
    {
        return Err(Refusal::NotFound);
    }
    Ok(canonical)
}

/// A path already decoded the way CherryPy's `path_info` is (every escape but `%2F`),
/// or None when it holds an encoded separator, a backslash or a NUL.
fn already_decoded(path: &str) -> Option<Vec<u8>> {
    let bytes = path.as_bytes();
    let encoded_separator = bytes.windows(3).any(|w| {
        w[0] == b'%' && w[1] == b'2' && w[2].eq_ignore_ascii_case(&b'f')
            || w[0] == b'%' && w[1] == b'5' && w[2].eq_ignore_ascii_case(&b'c')
    });
    if encoded_separator || bytes.iter().any(|&b| b == b'\\' || b == 0) {
        return None;
    }
    Some(bytes.to_vec())
}

/// Finds what `raw` (the still percent-encoded path below the route, "" or starting
/// with "/") names under `root`, which must already be canonical.
pub fn lookup(root: &Path, raw: &str, options: &DirOptions) -> Lookup {
    find(root, raw, decode(raw), options)
}

/// `lookup` for a path decoded as CherryPy's `request.path_info` is.
pub fn lookup_decoded(root: &Path, path: &str, options: &DirOptions) -> Lookup {
    find(root, path, already_decoded(path), options)
}

fn find(root: &Path, raw: &str, decoded: Option<Vec<u8>>, options: &DirOptions) -> Lookup {
    let Some(decoded) = decoded else {
        return Lookup::NotFound;
    };
    let parts = match segments(&decoded, options.dotfiles) {
        Ok(parts) => parts,
        Err(refusal) => return refusal.into(),
    };
    let mut candidate = root.to_path_buf();
    candidate.extend(parts);
    let canonical = match contained(root, &candidate, options.dotfiles) {
        Ok(path) => path,
        Err(refusal) => return refusal.into(),
    };
    let meta = match std::fs::metadata(&canonical) {
        Ok(meta) => meta,
        Err(e) => return io_failure(e.kind()).into(),
    };
    if meta.is_file() {
        if raw.ends_with('/') {
            // "a.txt/" names a directory that is not there.
            return Lookup::NotFound;
        }
        return Lookup::File {
            path: canonical,
            meta,
        };
    }
    if !meta.is_dir() {
        // FIFOs, sockets and devices are never served.
        return Lookup::NotFound;
    }
    let index = options
        .index
        .as_deref()
        .filter(|i| !i.is_empty())
        .and_then(|name| {
            let path = contained(root, &canonical.join(name), options.dotfiles).ok()?;
            let meta = std::fs::metadata(&path).ok()?;
            meta.is_file().then_some((path, meta))
        });
    if index.is_none() && !options.listing {
        return Lookup::NotFound;
    }
    if !raw.ends_with('/') {
        return Lookup::AddSlash;
    }
    match index {
        Some((path, meta)) => Lookup::File { path, meta },
        None => Lookup::Directory(canonical),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;

    struct Tree {
        _dir: tempfile::TempDir,
        root: PathBuf,
        outside: PathBuf,
    }

    /// root/{a.txt, sub/index.html, empty/, .secret, link-out -> ../outside.txt}
    /// and a sibling directory root2/x.txt sharing the root's name prefix.
    fn tree() -> Tree {
        let dir = tempfile::tempdir().unwrap();
        let base = dir.path().canonicalize().unwrap();
        let root = base.join("static");
        fs::create_dir_all(root.join("sub")).unwrap();
        fs::create_dir_all(root.join("empty")).unwrap();
        fs::create_dir_all(base.join("static2")).unwrap();
        fs::write(root.join("a.txt"), "a").unwrap();
        fs::write(root.join("sp ace.txt"), "s").unwrap();
        fs::write(root.join("sub/index.html"), "i").unwrap();
        fs::write(root.join(".secret"), "s").unwrap();
        fs::write(base.join("static2/x.txt"), "x").unwrap();
        let outside = base.join("outside.txt");
        fs::write(&outside, "o").unwrap();
        std::os::unix::fs::symlink(&outside, root.join("link-out")).unwrap();
        std::os::unix::fs::symlink(root.join("a.txt"), root.join("link-in")).unwrap();
        Tree {
            _dir: dir,
            root,
            outside,
        }
    }

    fn opts(index: Option<&str>) -> DirOptions {
        DirOptions {
            index: index.map(String::from),
            ..Default::default()
        }
    }

    fn file_name(l: &Lookup) -> Option<String> {
        match l {
            Lookup::File { path, .. } => path.file_name().map(|n| n.to_string_lossy().into()),
            _ => None,
        }
    }

    #[test]
    fn files_and_index_files_are_found() {
        let t = tree();
        let o = opts(Some("index.html"));
        assert_eq!(
            file_name(&lookup(&t.root, "/a.txt", &o)).as_deref(),
            Some("a.txt")
        );
        assert_eq!(
            file_name(&lookup(&t.root, "/sp%20ace.txt", &o)).as_deref(),
            Some("sp ace.txt")
        );
        assert_eq!(
            file_name(&lookup(&t.root, "/sub/", &o)).as_deref(),
            Some("index.html")
        );
        assert_eq!(
            file_name(&lookup(&t.root, "//sub//./index.html", &o)).as_deref(),
            Some("index.html")
        );
        assert!(matches!(lookup(&t.root, "/sub", &o), Lookup::AddSlash));
        assert!(matches!(lookup(&t.root, "", &o), Lookup::NotFound));
        assert!(matches!(lookup(&t.root, "/empty/", &o), Lookup::NotFound));
        assert!(matches!(lookup(&t.root, "/missing", &o), Lookup::NotFound));
        assert!(matches!(lookup(&t.root, "/a.txt/", &o), Lookup::NotFound));
    }

    #[test]
    fn listing_makes_directories_servable() {
        let t = tree();
        let o = DirOptions {
            listing: true,
            ..Default::default()
        };
        assert!(matches!(
            lookup(&t.root, "/empty/", &o),
            Lookup::Directory(_)
        ));
        assert!(matches!(lookup(&t.root, "/empty", &o), Lookup::AddSlash));
        assert!(matches!(lookup(&t.root, "", &o), Lookup::AddSlash));
        assert!(matches!(lookup(&t.root, "/", &o), Lookup::Directory(_)));
    }

    #[test]
    fn traversal_is_refused() {
        let t = tree();
        let o = opts(None);
        for raw in [
            "/../outside.txt",
            "/%2e%2e/outside.txt",
            "/sub/%2E%2E/%2e%2e/outside.txt",
        ] {
            assert!(
                matches!(lookup(&t.root, raw, &o), Lookup::Forbidden),
                "{raw}"
            );
        }
        for raw in [
            "/..%2foutside.txt",
            "/..%2Foutside.txt",
            "/..%5coutside.txt",
            "/..\\outside.txt",
            "/a.txt%00.html",
            "/link-out",
            "/../static2/x.txt",
        ] {
            let found = lookup(&t.root, raw, &o);
            assert!(
                matches!(found, Lookup::NotFound | Lookup::Forbidden),
                "{raw}: {found:?}"
            );
        }
        // An absolute path in the URL stays below the root.
        let abs = format!("/{}", t.outside.display());
        assert!(matches!(lookup(&t.root, &abs, &o), Lookup::NotFound));
        // A symlink that stays inside is followed.
        assert_eq!(
            file_name(&lookup(&t.root, "/link-in", &o)).as_deref(),
            Some("a.txt")
        );
    }

    #[test]
    fn dotfiles_only_when_allowed() {
        let t = tree();
        assert!(matches!(
            lookup(&t.root, "/.secret", &opts(None)),
            Lookup::NotFound
        ));
        assert!(matches!(
            lookup(&t.root, "/%2esecret", &opts(None)),
            Lookup::NotFound
        ));
        let allow = DirOptions {
            dotfiles: true,
            ..Default::default()
        };
        assert!(matches!(
            lookup(&t.root, "/.secret", &allow),
            Lookup::File { .. }
        ));
    }

    #[test]
    fn unreadable_directories_are_forbidden_or_missing() {
        // Root may read anything, so only the mapping is checked here.
        assert!(matches!(
            io_failure(ErrorKind::PermissionDenied),
            Refusal::Forbidden
        ));
        assert!(matches!(io_failure(ErrorKind::NotFound), Refusal::NotFound));
    }

    #[test]
    fn decoded_paths_are_not_decoded_twice() {
        let t = tree();
        let o = opts(None);
        assert_eq!(
            file_name(&lookup_decoded(&t.root, "/sp ace.txt", &o)).as_deref(),
            Some("sp ace.txt")
        );
        assert!(matches!(
            lookup_decoded(&t.root, "/sp%20ace.txt", &o),
            Lookup::NotFound
        ));
        assert!(matches!(
            lookup_decoded(&t.root, "/../outside.txt", &o),
            Lookup::Forbidden
        ));
        for bad in ["/..%2Foutside.txt", "/..%5coutside.txt", "/a.txt\0"] {
            assert!(
                matches!(lookup_decoded(&t.root, bad, &o), Lookup::NotFound),
                "{bad}"
            );
        }
    }

    #[test]
    fn decoding_keeps_malformed_escapes() {
        assert_eq!(decode("/a%zz").unwrap(), b"/a%zz");
        assert_eq!(decode("/a%4").unwrap(), b"/a%4");
        assert_eq!(decode("/a%41").unwrap(), b"/aA");
        assert!(decode("/a%00").is_none());
        assert!(decode("/a%2f").is_none());
    }
}
