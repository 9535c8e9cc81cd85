//! The application requests being handled, so that a stop that gives up after
//! `server.shutdown_timeout` can name the requests it cuts.
//!
//! Registered on every request and read only at such a stop, so the registry is built for
//! the writer: a fixed table of slots, each taken with one compare-and-swap and holding
//! its own (uncontended) lock, instead of one map behind one lock that every request of
//! every tokio thread takes twice. A request that finds no free slot (more than `SLOTS`
//! in flight) goes to an overflow map.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};

use http::{Method, Uri};
use parking_lot::Mutex;

/// Slots in the table: requests in a handler or reading their body at once before the
/// overflow map is used.
const SLOTS: usize = 128;

/// A request from its arrival in the service until its response head is ready.
struct Entry {
    method: Method,
    uri: Uri,
    remote: SocketAddr,
}

impl Entry {
    fn describe(&self) -> String {
        let target = self.uri.path_and_query().map_or("/", |pq| pq.as_str());
        format!("{} {} from {}", self.method, target, self.remote)
    }
}

#[derive(Default)]
struct Slot {
    /// The sequence number of the request holding the slot; 0 when free.
    owner: AtomicU64,
    entry: Mutex<Option<Entry>>,
}

pub struct InFlightRequests {
    /// Sequence numbers, from 1: the order of arrival.
    next: AtomicU64,
    slots: Box<[Slot]>,
    overflow: Mutex<HashMap<u64, Entry>>,
}

impl Default for InFlightRequests {
    fn default() -> Self {
        InFlightRequests {
            next: AtomicU64::new(1),
            slots: (0..SLOTS).map(|_| Slot::default()).collect(),
            overflow: Mutex::new(HashMap::new()),
        }
    }
}

impl InFlightRequests {
    /// Registers a request until the guard is dropped.
    pub fn enter(&self, method: &Method, uri: &Uri, remote: SocketAddr) -> Guard<'_> {
        let id = self.next.fetch_add(1, Ordering::Relaxed);
        let entry = Entry {
            method: method.clone(),
            uri: uri.clone(),
            remote,
        };
        // The slot of the request SLOTS before this one is free almost always.
        let start = (id % SLOTS as u64) as usize;
        for i in 0..SLOTS {
            let index = (start + i) % SLOTS;
            let slot = &self.slots[index];
            if slot.owner.load(Ordering::Relaxed) == 0
                && slot
                    .owner
                    .compare_exchange(0, id, Ordering::Acquire, Ordering::Relaxed)
                    .is_ok()
            {
                *slot.entry.lock() = Some(entry);
                return Guard {
                    owner: self,
                    place: Place::Slot(index),
                };
            }
        }
        self.overflow.lock().insert(id, entry);
        Guard {
            owner: self,
            place: Place::Overflow(id),
        }
    }

    /// "GET /slow from 127.0.0.1:5555" for each request still in flight, oldest first.
    pub fn describe(&self) -> Vec<String> {
        let mut found: Vec<(u64, String)> = Vec::new();
        for slot in self.slots.iter() {
            let entry = slot.entry.lock();
            let id = slot.owner.load(Ordering::Relaxed);
            if let (Some(entry), true) = (entry.as_ref(), id != 0) {
                found.push((id, entry.describe()));
            }
        }
        for (id, entry) in self.overflow.lock().iter() {
            found.push((*id, entry.describe()));
        }
        found.sort_by_key(|(id, _)| *id);
        found.into_iter().map(|(_, text)| text).collect()
    }
}

/// Where a request is registered.
#[derive(Debug, Clone, Copy)]
pub enum Place {
    Slot(usize),
    Overflow(u64),
}

pub struct Guard<'a> {
    owner: &'a InFlightRequests,
    place: Place,
}

impl Guard<'_> {
    /// The registration without its borrow of the registry, for an owner that holds the
    /// registry another way (a request's future holding `Arc<Shared>`); it must end it
    /// with `InFlightRequests::leave`.
    pub fn detach(self) -> Place {
        let place = self.place;
        std::mem::forget(self);
        place
    }
}

impl Drop for Guard<'_> {
    fn drop(&mut self) {
        self.owner.leave(self.place);
    }
}

impl InFlightRequests {
    /// Ends a registration taken with `Guard::detach`.
    pub fn leave(&self, place: Place) {
        match place {
            Place::Slot(index) => {
                let slot = &self.slots[index];
                // Dropped outside the lock; the slot is free only once it is empty.
                let entry = slot.entry.lock().take();
                slot.owner.store(0, Ordering::Release);
                drop(entry);
            }
            Place::Overflow(id) => {
                self.overflow.lock().remove(&id);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn guards_register_and_leave() {
        let registry = InFlightRequests::default();
        let remote = SocketAddr::from(([127, 0, 0, 1], 5555));
        let uri: Uri = "/slow?x=1".parse().unwrap();
        let a = registry.enter(&Method::GET, &uri, remote);
        {
            let _b = registry.enter(&Method::POST, &"/b".parse().unwrap(), remote);
            assert_eq!(
                registry.describe(),
                [
                    "GET /slow?x=1 from 127.0.0.1:5555",
                    "POST /b from 127.0.0.1:5555"
                ]
            );
        }
        assert_eq!(registry.describe().len(), 1);
        drop(a);
        assert!(registry.describe().is_empty());
    }

    #[test]
    fn a_detached_registration_lasts_until_it_is_left() {
        let registry = InFlightRequests::default();
        let remote = SocketAddr::from(([127, 0, 0, 1], 5555));
        let uri: Uri = "/held".parse().unwrap();
        let place = registry.enter(&Method::GET, &uri, remote).detach();
        assert_eq!(registry.describe(), ["GET /held from 127.0.0.1:5555"]);
        registry.leave(place);
        assert!(registry.describe().is_empty());
        // Past the slots, detached registrations live in the overflow map.
        let places: Vec<Place> = (0..SLOTS + 2)
            .map(|_| registry.enter(&Method::GET, &uri, remote).detach())
            .collect();
        assert_eq!(registry.describe().len(), SLOTS + 2);
        for place in places {
            registry.leave(place);
        }
        assert!(registry.describe().is_empty());
    }

    #[test]
    fn more_requests_than_slots_overflow_and_keep_their_order() {
        let registry = InFlightRequests::default();
        let remote = SocketAddr::from(([127, 0, 0, 1], 5555));
        let uris: Vec<Uri> = (0..SLOTS + 5)
            .map(|i| format!("/r{i}").parse().unwrap())
            .collect();
        let mut guards: Vec<Guard<'_>> = uris
            .iter()
            .map(|uri| registry.enter(&Method::GET, uri, remote))
            .collect();
        let described = registry.describe();
        assert_eq!(described.len(), SLOTS + 5);
        assert_eq!(described[0], "GET /r0 from 127.0.0.1:5555");
        assert_eq!(
            described[SLOTS + 4],
            format!("GET /r{} from 127.0.0.1:5555", SLOTS + 4)
        );
        // Freed slots are taken again.
        guards.truncate(3);
        let _more = registry.enter(&Method::GET, &uris[0], remote);
        assert_eq!(registry.describe().len(), 4);
        drop(guards);
        assert_eq!(registry.describe().len(), 1);
    }
}
