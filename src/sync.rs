//! The small things every thread in dwell needs, written once: taking a lock
//! (one poison policy: a panic in another thread never takes the data with it;
//! every lock guards plain data that stays consistent between statements),
//! waiting for a condition until a deadline, and a bounded memo a long-running
//! daemon can keep without growing.

use std::collections::{HashMap, VecDeque};
use std::hash::Hash;
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// What was learned once and is worth keeping, up to `limit` entries: past it,
/// the entry inserted longest ago goes. (A daemon runs for weeks and sees
/// every project, interpreter and generation its user ever visits.)
pub struct Memo<K, V> {
    limit: usize,
    entries: Mutex<(HashMap<K, V>, VecDeque<K>)>,
}

impl<K: Hash + Eq + Clone, V: Clone> Memo<K, V> {
    pub fn new(limit: usize) -> Memo<K, V> {
        Memo {
            limit: limit.max(1),
            entries: Mutex::new((HashMap::new(), VecDeque::new())),
        }
    }

    pub fn get<Q>(&self, key: &Q) -> Option<V>
    where
        K: std::borrow::Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        locked(&self.entries).0.get(key).cloned()
    }

    pub fn insert(&self, key: K, value: V) {
        let (map, order) = &mut *locked(&self.entries);
        if map.insert(key.clone(), value).is_none() {
            order.push_back(key);
        }
        while map.len() > self.limit {
            match order.pop_front() {
                Some(oldest) => map.remove(&oldest),
                None => break,
            };
        }
    }
}

/// Locks `mutex`, recovering the data if another thread panicked holding it.
pub fn locked<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}

/// Checks `done` every `every` until it holds (true) or `deadline` passes
/// (false, after one last check). No deadline: waits as long as it takes.
pub fn poll_until(
    deadline: Option<Instant>,
    every: Duration,
    mut done: impl FnMut() -> bool,
) -> bool {
    loop {
        if done() {
            return true;
        }
        if deadline.is_some_and(|d| Instant::now() >= d) {
            return done();
        }
        std::thread::sleep(every);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_memo_keeps_at_most_its_limit_the_oldest_going_first() {
        let memo = Memo::new(3);
        for i in 0..10 {
            memo.insert(i, i * 10);
            memo.insert(i, i * 10 + 1);
        }
        assert_eq!(locked(&memo.entries).0.len(), 3);
        assert_eq!(memo.get(&6), None);
        assert_eq!(memo.get(&9), Some(91));
        assert_eq!(memo.get(&7), Some(71));
    }

    #[test]
    fn polls_until_done_or_the_deadline() {
        let mut n = 0;
        assert!(poll_until(None, Duration::ZERO, || {
            n += 1;
            n == 3
        }));
        let soon = Instant::now() + Duration::from_millis(30);
        assert!(!poll_until(Some(soon), Duration::from_millis(5), || false));
        assert!(Instant::now() >= soon);
    }

    #[test]
    fn a_poisoned_lock_still_gives_its_data() {
        let m = std::sync::Arc::new(Mutex::new(5));
        let m2 = m.clone();
        let _ = std::thread::spawn(move || {
            let _g = m2.lock().unwrap();
            panic!("poison");
        })
        .join();
        assert_eq!(*locked(&m), 5);
    }
}
