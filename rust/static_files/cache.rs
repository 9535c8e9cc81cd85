//! A bounded cache of resolved files (like nginx's `open_file_cache`): per request path,
//! the entity found there — its metadata, validators, content type, and the body itself
//! when small, or an open descriptor when large (the descriptor stays open in both
//! cases). An entry younger than the route's `cache_valid` is served after one `fstat`
//! of its descriptor (same size, modification time, still linked: the route checks, see
//! `Entity::unchanged`), without looking the path up; an older one is revalidated by
//! `stat` of the path (same device, inode, size and modification time keep it). The
//! least recently used entries go first when a bound is reached.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::Mutex;

use super::entity::Entity;

/// Bounds of one route's cache.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub entries: usize,
    /// Total bytes of bodies held in memory.
    pub bytes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            entries: 1024,
            bytes: 64 << 20,
        }
    }
}

struct Slot {
    entity: Arc<Entity>,
    checked: Instant,
    used: u64,
}

#[derive(Default)]
struct Inner {
    slots: HashMap<String, Slot>,
    bytes: usize,
    clock: u64,
}

/// The cache of one static route.
#[derive(Default)]
pub struct FileCache {
    limits: Limits,
    inner: Mutex<Inner>,
}

impl FileCache {
    pub fn new(limits: Limits) -> Self {
        FileCache {
            limits,
            inner: Mutex::new(Inner::default()),
        }
    }

    /// The entity cached for `key`, and whether it was checked less than `valid` ago.
    pub fn get(&self, key: &str, valid: Duration) -> Option<(Arc<Entity>, bool)> {
        let mut inner = self.inner.lock();
        inner.clock += 1;
        let clock = inner.clock;
        let slot = inner.slots.get_mut(key)?;
        slot.used = clock;
        Some((slot.entity.clone(), slot.checked.elapsed() < valid))
    }

    /// Caches `entity` for `key` as checked now, evicting what the bounds require.
    pub fn insert(&self, key: &str, entity: Arc<Entity>) {
        let size = entity.memory();
        if self.limits.entries == 0 || size > self.limits.bytes {
            return;
        }
        let mut inner = self.inner.lock();
        inner.clock += 1;
        let slot = Slot {
            entity,
            checked: Instant::now(),
            used: inner.clock,
        };
        if let Some(old) = inner.slots.insert(key.to_string(), slot) {
            inner.bytes -= old.entity.memory();
        }
        inner.bytes += size;
        while inner.slots.len() > self.limits.entries || inner.bytes > self.limits.bytes {
            let Some(oldest) = inner
                .slots
                .iter()
                .min_by_key(|(_, s)| s.used)
                .map(|(k, _)| k.clone())
            else {
                break;
            };
            if let Some(gone) = inner.slots.remove(&oldest) {
                inner.bytes -= gone.entity.memory();
            }
        }
    }

    /// Forgets `key` (its file is gone).
    pub fn remove(&self, key: &str) {
        let mut inner = self.inner.lock();
        if let Some(gone) = inner.slots.remove(key) {
            inner.bytes -= gone.entity.memory();
        }
    }

    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.inner.lock().slots.len()
    }
}

#[cfg(test)]
mod tests {
    use super::super::entity::{Entity, Representation};
    use super::*;
    use bytes::Bytes;

    fn entity(n: usize) -> Arc<Entity> {
        Arc::new(Entity::new(
            "text/plain".parse().unwrap(),
            Representation::from_bytes(Bytes::from(vec![b'x'; n]), None),
        ))
    }

    #[test]
    fn fresh_then_stale() {
        let cache = FileCache::new(Limits::default());
        assert!(cache.get("/a", Duration::from_secs(1)).is_none());
        cache.insert("/a", entity(3));
        let (_, fresh) = cache.get("/a", Duration::from_secs(60)).unwrap();
        assert!(fresh);
        let (_, fresh) = cache.get("/a", Duration::ZERO).unwrap();
        assert!(!fresh);
        cache.remove("/a");
        assert_eq!(cache.len(), 0);
    }

    #[test]
    fn bounds_evict_the_least_recently_used() {
        let cache = FileCache::new(Limits {
            entries: 2,
            bytes: 10,
        });
        cache.insert("/a", entity(1));
        cache.insert("/b", entity(1));
        cache.get("/a", Duration::ZERO);
        cache.insert("/c", entity(1));
        assert!(cache.get("/b", Duration::ZERO).is_none());
        assert!(cache.get("/a", Duration::ZERO).is_some());
        // Too big for the byte budget: not cached at all.
        cache.insert("/big", entity(11));
        assert!(cache.get("/big", Duration::ZERO).is_none());
        // Bytes bound: two 6-byte bodies do not fit together.
        cache.insert("/d", entity(6));
        cache.insert("/e", entity(6));
        assert!(cache.get("/d", Duration::ZERO).is_none());
        assert!(cache.get("/e", Duration::ZERO).is_some());
    }
}
