//! The application requests being handled, so that a stop that gives up after
//! `server.shutdown_timeout` can name the requests it cuts.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};

use http::{Method, Uri};
use parking_lot::Mutex;

/// A request from its arrival in the service until its response head is ready.
struct Entry {
    method: Method,
    uri: Uri,
    remote: SocketAddr,
}

#[derive(Default)]
pub struct InFlightRequests {
    next: AtomicU64,
    entries: Mutex<HashMap<u64, Entry>>,
}

impl InFlightRequests {
    /// Registers a request until the guard is dropped.
    pub fn enter(&self, method: &Method, uri: &Uri, remote: SocketAddr) -> Guard<'_> {
        let id = self.next.fetch_add(1, Ordering::Relaxed);
        self.entries.lock().insert(
            id,
            Entry {
                method: method.clone(),
                uri: uri.clone(),
                remote,
            },
        );
        Guard { owner: self, id }
    }

    /// "GET /slow from 127.0.0.1:5555" for each request still in flight, oldest first.
    pub fn describe(&self) -> Vec<String> {
        let entries = self.entries.lock();
        let mut ids: Vec<&u64> = entries.keys().collect();
        ids.sort();
        ids.into_iter()
            .filter_map(|id| entries.get(id))
            .map(|e| {
                let target = e.uri.path_and_query().map_or("/", |pq| pq.as_str());
                format!("{} {} from {}", e.method, target, e.remote)
            })
            .collect()
    }
}

pub struct Guard<'a> {
    owner: &'a InFlightRequests,
    id: u64,
}

impl Drop for Guard<'_> {
    fn drop(&mut self) {
        self.owner.entries.lock().remove(&self.id);
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
}
