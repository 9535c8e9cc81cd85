//! What is served for a path: an `Entity` (a content type and its representations:
//! the file itself, and precompressed siblings), each `Representation` held in memory
//! when small or as an open descriptor when large, with its validators and the
//! `FileId` that tells whether it changed on disk. Opening a file is blocking: callers
//! run it on tokio's blocking pool or on a Python worker thread.
//!
//! A representation opened from a path keeps its descriptor open (also when its bytes
//! are held in memory), so that each use can ask, with one `fstat` and no path walk,
//! whether the file was truncated, rewritten or replaced since (`unchanged`). On a local
//! filesystem that call reads the inode the open descriptor pins in memory and never
//! waits for a disk; on a network or FUSE filesystem it may wait for a server, so there
//! `checks_inline` is false and callers ask on the blocking pool instead.

use std::collections::HashMap;
use std::fs::{File, Metadata};
use std::io::Read;
use std::os::unix::fs::MetadataExt;
use std::os::unix::io::AsFd;
use std::path::Path;
use std::sync::Arc;
use std::time::SystemTime;

use bytes::Bytes;
use http::header::HeaderValue;

use super::body::Segment;
use super::conditional::Validators;

/// Files up to this size are held in memory by the cache; larger ones are read per
/// request from a descriptor the cache keeps open.
pub const MEMORY_LIMIT: u64 = 1 << 20;

/// Where a file body's bytes are.
#[derive(Debug)]
pub enum Data {
    Memory(Bytes),
    File(Arc<File>),
}

/// What identifies a file's version on disk: any change means reload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FileId {
    dev: u64,
    ino: u64,
    len: u64,
    mtime: i64,
    mtime_nsec: i64,
    /// Hard links: 0 once the file was deleted or replaced by a rename.
    nlink: u64,
}

impl FileId {
    pub fn of(meta: &Metadata) -> Self {
        FileId {
            dev: meta.dev(),
            ino: meta.ino(),
            len: meta.len(),
            mtime: meta.mtime(),
            mtime_nsec: meta.mtime_nsec(),
            nlink: meta.nlink(),
        }
    }

    /// Whether `st` (an `fstat` of the file) still describes this version.
    // The stat fields' integer types differ between targets.
    #[allow(clippy::unnecessary_cast)]
    fn matches(&self, st: &rustix::fs::Stat) -> bool {
        st.st_size as u64 == self.len
            && st.st_mtime as i64 == self.mtime
            && st.st_mtime_nsec as i64 == self.mtime_nsec
            && st.st_nlink as u64 == self.nlink
            && st.st_ino as u64 == self.ino
            && st.st_dev as u64 == self.dev
    }
}

/// Whether `fstat` of a file open on this filesystem is answered from memory (the inode
/// the descriptor pins), never by waiting for a disk or a server: the local
/// filesystems Linux servers serve from. Network and FUSE filesystems are not.
fn fstat_is_local(file: &File) -> bool {
    // statfs(2) f_type magic numbers (linux/magic.h).
    const LOCAL: [u64; 10] = [
        0xEF53,      // ext2/3/4
        0x5846_5342, // xfs
        0x9123_683E, // btrfs
        0x0102_1994, // tmpfs
        0x8584_58F6, // ramfs
        0x794C_7630, // overlayfs
        0x2FC1_2FC1, // zfs
        0xF2F5_2010, // f2fs
        0x7371_7368, // squashfs
        0xE0F5_E1E2, // erofs
    ];
    match rustix::fs::fstatfs(file.as_fd()) {
        #[allow(clippy::unnecessary_cast)]
        Ok(fs) => LOCAL.contains(&(fs.f_type as u64)),
        Err(_) => false,
    }
}

/// One representation of a resource (the file itself, or a precompressed sibling).
#[derive(Debug)]
pub struct Representation {
    pub len: u64,
    /// None for bodies without a modification time (an in-memory file object).
    pub(super) validators: Option<Validators>,
    pub(super) id: Option<FileId>,
    data: Data,
    /// The descriptor it was read from, kept open to tell whether the file changed.
    opened: Option<Arc<File>>,
    /// Whether `unchanged` may run on any thread (see the module's note).
    local: bool,
}

impl Representation {
    /// Opens `path` (blocking); files up to `MEMORY_LIMIT` are read into memory.
    pub fn open(path: &Path, meta: &Metadata, tag: &str) -> std::io::Result<Self> {
        let mut file = File::open(path)?;
        // The metadata of what was opened: the path may have been replaced meanwhile.
        let meta = match file.metadata() {
            Ok(m) => m,
            Err(_) => meta.clone(),
        };
        let len = meta.len();
        let local = fstat_is_local(&file);
        let memory = if len <= MEMORY_LIMIT {
            let mut buf = Vec::with_capacity(len as usize);
            (&mut file).take(len).read_to_end(&mut buf)?;
            if (buf.len() as u64) < len {
                return Err(std::io::Error::other("the file shrank while it was read"));
            }
            Some(Bytes::from(buf))
        } else {
            None
        };
        let opened = Arc::new(file);
        let data = match memory {
            Some(bytes) => Data::Memory(bytes),
            None => Data::File(opened.clone()),
        };
        Ok(Representation {
            len,
            validators: meta.modified().ok().map(|m| Validators::new(m, len, tag)),
            id: Some(FileId::of(&meta)),
            data,
            opened: Some(opened),
            local,
        })
    }

    /// An already open file (`serve_fileobj`): never read into memory.
    pub fn from_file(file: File) -> std::io::Result<Self> {
        let meta = file.metadata()?;
        let len = meta.len();
        Ok(Representation {
            len,
            validators: meta.modified().ok().map(|m| Validators::new(m, len, "")),
            id: Some(FileId::of(&meta)),
            data: Data::File(Arc::new(file)),
            // Not cached: never revalidated.
            opened: None,
            local: true,
        })
    }

    /// Bytes held in memory (an in-memory file object).
    pub fn from_bytes(bytes: Bytes, modified: Option<SystemTime>) -> Self {
        let len = bytes.len() as u64;
        Representation {
            len,
            validators: modified.map(|m| Validators::new(m, len, "")),
            id: None,
            data: Data::Memory(bytes),
            opened: None,
            local: true,
        }
    }

    /// Whether the file this was read from is still as it was read: same size and
    /// modification time, still linked (not deleted, not replaced by a rename). One
    /// `fstat` of the open descriptor (the plain system call: std's `metadata` asks
    /// `statx` for more than this needs); true for what was not read from a file.
    pub(super) fn unchanged(&self) -> bool {
        match (&self.opened, &self.id) {
            (Some(file), Some(id)) => {
                rustix::fs::fstat(file.as_fd()).is_ok_and(|st| id.matches(&st))
            }
            _ => true,
        }
    }

    pub(super) fn segment(&self, start: u64, end: u64) -> Segment {
        match &self.data {
            Data::Memory(bytes) => Segment::Bytes(bytes.slice(start as usize..end as usize)),
            Data::File(_) => Segment::File {
                offset: start,
                len: end - start,
            },
        }
    }

    pub(super) fn file(&self) -> Option<Arc<File>> {
        match &self.data {
            Data::File(f) => Some(f.clone()),
            Data::Memory(_) => None,
        }
    }

    pub(super) fn memory(&self) -> usize {
        match &self.data {
            Data::Memory(b) => b.len(),
            Data::File(_) => 0,
        }
    }
}

/// A resource as served: its content type and its representations.
#[derive(Debug)]
pub struct Entity {
    pub content_type: HeaderValue,
    /// The type each part of a multipart/byteranges reply names, when it differs from
    /// the response's (CherryPy's: the type `serve_file` chose, before a tool added a
    /// charset to the response's header).
    pub part_type: Option<HeaderValue>,
    pub identity: Representation,
    pub br: Option<Representation>,
    pub gzip: Option<Representation>,
}

impl Entity {
    pub fn new(content_type: HeaderValue, identity: Representation) -> Self {
        Entity {
            content_type,
            part_type: None,
            identity,
            br: None,
            gzip: None,
        }
    }

    pub(super) fn memory(&self) -> usize {
        self.identity.memory()
            + self.br.as_ref().map_or(0, |r| r.memory())
            + self.gzip.as_ref().map_or(0, |r| r.memory())
    }

    fn representations(&self) -> impl Iterator<Item = &Representation> {
        std::iter::once(&self.identity)
            .chain(self.br.as_ref())
            .chain(self.gzip.as_ref())
    }

    /// Whether `unchanged` may run on a tokio thread: every file is on a local
    /// filesystem, where `fstat` of an open descriptor never waits.
    pub(super) fn checks_inline(&self) -> bool {
        self.representations().all(|r| r.local)
    }

    /// Whether no file of this entity changed since it was read (`fstat` of each).
    pub(super) fn unchanged(&self) -> bool {
        self.representations().all(Representation::unchanged)
    }

    pub(super) fn fingerprint(&self) -> [Option<FileId>; 3] {
        [
            self.identity.id,
            self.br.as_ref().and_then(|r| r.id),
            self.gzip.as_ref().and_then(|r| r.id),
        ]
    }
}

/// Content types by extension: the route's table first (CherryPy's `content_types`,
/// and for applications Python's `mimetypes` as CherryPy uses it), then `mime_guess`.
pub fn content_type(path: &Path, table: &HashMap<String, String>) -> HeaderValue {
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .map(|e| e.to_ascii_lowercase());
    if let Some(ext) = ext.as_deref() {
        if let Some(v) = table.get(ext).and_then(|t| HeaderValue::from_str(t).ok()) {
            return v;
        }
        if let Some(v) = mime_guess::from_ext(ext)
            .first_raw()
            .and_then(|t| HeaderValue::from_str(t).ok())
        {
            return v;
        }
    }
    HeaderValue::from_static("application/octet-stream")
}
