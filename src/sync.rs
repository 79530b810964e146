//! The two small things every thread in dwell needs, written once: taking a lock
//! (one poison policy: a panic in another thread never takes the data with it;
//! every lock guards plain data that stays consistent between statements), and
//! waiting for a condition until a deadline.

use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

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
