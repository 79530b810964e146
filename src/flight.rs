//! Single flight: when several requests need the same evaluation, one runs it and
//! the others wait for it to finish, then read its result from the cache.

use std::collections::HashSet;
use std::sync::{Condvar, Mutex};

#[derive(Default)]
pub struct Flights {
    active: Mutex<HashSet<String>>,
    finished: Condvar,
}

/// Held by the one request running an evaluation; dropping it releases the waiters.
pub struct Leader<'a> {
    flights: &'a Flights,
    key: String,
}

impl Flights {
    /// Returns a [`Leader`] if no one is evaluating `key`; otherwise waits until the
    /// current leader is done and returns None.
    pub fn lead_or_wait(&self, key: &str) -> Option<Leader<'_>> {
        let mut active = self.active.lock().unwrap_or_else(|e| e.into_inner());
        if active.insert(key.to_string()) {
            return Some(Leader {
                flights: self,
                key: key.to_string(),
            });
        }
        while active.contains(key) {
            active = self
                .finished
                .wait(active)
                .unwrap_or_else(|e| e.into_inner());
        }
        None
    }
}

impl Drop for Leader<'_> {
    fn drop(&mut self) {
        self.flights
            .active
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&self.key);
        self.flights.finished.notify_all();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[test]
    fn one_leader_among_many() {
        let flights = Flights::default();
        let led = AtomicUsize::new(0);
        let waited = AtomicUsize::new(0);
        let start = std::sync::Barrier::new(8);
        std::thread::scope(|s| {
            for _ in 0..8 {
                s.spawn(|| {
                    start.wait();
                    if let Some(_leader) = flights.lead_or_wait("p") {
                        led.fetch_add(1, Ordering::SeqCst);
                        std::thread::sleep(std::time::Duration::from_millis(500));
                    } else {
                        waited.fetch_add(1, Ordering::SeqCst);
                    }
                });
            }
        });
        assert_eq!(led.load(Ordering::SeqCst), 1);
        assert_eq!(waited.load(Ordering::SeqCst), 7);
    }
}
