//! Running evaluations: at most one per project and settings, in a thread of its
//! own, so that it goes on when the request that started it goes away (Ctrl-C).
//! Every request that needs it joins it and follows its progress.

use crate::sync::locked;
use std::collections::HashMap;
use std::hash::Hash;
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

pub struct Job {
    pub started: Instant,
    state: Mutex<State>,
    finished: Condvar,
    /// Someone did not wait for the result (a background refresh, a request that
    /// was interrupted): shells must hear when it is ready.
    announce: std::sync::atomic::AtomicBool,
}

#[derive(Default)]
struct State {
    progress: String,
    done: bool,
    /// Why the job failed, for every request that waited for it.
    error: Option<String>,
}

impl Job {
    fn new() -> Job {
        Job {
            started: Instant::now(),
            state: Mutex::new(State::default()),
            finished: Condvar::new(),
            announce: std::sync::atomic::AtomicBool::new(false),
        }
    }

    /// Asks for the end of this job to be announced to every shell.
    pub fn announce(&self) {
        self.announce
            .store(true, std::sync::atomic::Ordering::SeqCst);
    }

    pub fn is_announced(&self) -> bool {
        self.announce.load(std::sync::atomic::Ordering::SeqCst)
    }

    pub fn set_progress(&self, line: String) {
        locked(&self.state).progress = line;
    }

    pub fn progress(&self) -> String {
        locked(&self.state).progress.clone()
    }

    pub fn fail(&self, message: String) {
        locked(&self.state).error = Some(message);
    }

    /// The error the job ended with, if it failed.
    pub fn error(&self) -> Option<String> {
        locked(&self.state).error.clone()
    }

    /// Waits up to `timeout` for the job to finish; true once it has.
    pub fn wait(&self, timeout: Duration) -> bool {
        let state = locked(&self.state);
        let (state, _) = self
            .finished
            .wait_timeout_while(state, timeout, |s| !s.done)
            .unwrap_or_else(|e| e.into_inner());
        state.done
    }

    fn finish(&self) {
        locked(&self.state).done = true;
        self.finished.notify_all();
    }
}

/// The running jobs, by key (what is being evaluated or synced).
pub struct Jobs<K> {
    running: Mutex<Running<K>>,
}

struct Running<K> {
    jobs: HashMap<K, Arc<Job>>,
    /// How many jobs have finished, for telling whether one finished while a
    /// caller was deciding (without the lock) whether to start another.
    finished: u64,
}

impl<K> Default for Jobs<K> {
    fn default() -> Self {
        Jobs {
            running: Mutex::new(Running {
                jobs: HashMap::new(),
                finished: 0,
            }),
        }
    }
}

/// What [`Jobs::join_or_start`] did.
pub enum Joined {
    /// An evaluation is running (started now or earlier).
    Running(Arc<Job>),
    /// `still_needed` said no: nothing to run.
    NotNeeded,
}

impl<K: Eq + Hash + Clone + Send + 'static> Jobs<K> {
    /// Joins the job running for `key`, or, if `still_needed()`, starts `work` as
    /// one. `still_needed` runs without the lock (it may stat and hash files, and
    /// one project's check must not hold up every other's jobs); if a job
    /// finished meanwhile it is asked again, so a job that just finished is not
    /// repeated. `work` runs in a new thread; the job ends when it returns.
    pub fn join_or_start(
        self: &Arc<Self>,
        key: &K,
        mut still_needed: impl FnMut() -> bool,
        work: impl FnOnce(&Arc<Job>) + Send + 'static,
    ) -> Joined {
        let mut seen = {
            let running = locked(&self.running);
            if let Some(job) = running.jobs.get(key) {
                return Joined::Running(job.clone());
            }
            running.finished
        };
        loop {
            let needed = still_needed();
            let mut running = locked(&self.running);
            if let Some(job) = running.jobs.get(key) {
                return Joined::Running(job.clone());
            }
            if running.finished != seen {
                seen = running.finished;
                continue;
            }
            if !needed {
                return Joined::NotNeeded;
            }
            let job = Arc::new(Job::new());
            running.jobs.insert(key.clone(), job.clone());
            drop(running);
            self.spawn(key.clone(), job.clone(), work);
            return Joined::Running(job);
        }
    }

    fn spawn(
        self: &Arc<Self>,
        key: K,
        job: Arc<Job>,
        work: impl FnOnce(&Arc<Job>) + Send + 'static,
    ) {
        let mut finish = Finish {
            jobs: self.clone(),
            key,
            job,
            started: false,
        };
        // The guard ends the job however the thread ends — the work returns or
        // panics — and also when no thread could be had at all (the closure that
        // owns it is dropped then): no request ever waits on a job that is gone.
        let _ = std::thread::Builder::new().spawn(move || {
            finish.started = true;
            // A bug in the work is this job's error, said as what it is, not a
            // thread gone without a word (which would read as "nothing happened").
            let ran = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| work(&finish.job)));
            if let Err(panic) = ran {
                let what = panic
                    .downcast_ref::<&str>()
                    .map(|s| s.to_string())
                    .or_else(|| panic.downcast_ref::<String>().cloned())
                    .unwrap_or_else(|| "a panic".into());
                finish
                    .job
                    .fail(format!("dwell hit an internal error (a bug): {what}"));
            }
        });
    }

    pub fn is_running(&self, key: &K) -> bool {
        locked(&self.running).jobs.contains_key(key)
    }
}

/// Ends a job: out of the running set, its waiters woken.
struct Finish<K: Eq + Hash> {
    jobs: Arc<Jobs<K>>,
    key: K,
    job: Arc<Job>,
    /// Whether its thread started (if not, the job fails with that).
    started: bool,
}

impl<K: Eq + Hash> Drop for Finish<K> {
    fn drop(&mut self) {
        if !self.started {
            self.job
                .fail("could not start a thread for the evaluation".into());
        }
        let mut running = locked(&self.jobs.running);
        running.jobs.remove(&self.key);
        running.finished += 1;
        drop(running);
        self.job.finish();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[test]
    fn one_job_for_many_requests() {
        let jobs: Arc<Jobs<&str>> = Arc::new(Jobs::default());
        let started = Arc::new(AtomicUsize::new(0));
        let mut handles = Vec::new();
        for _ in 0..8 {
            let started = started.clone();
            match jobs.join_or_start(
                &"p",
                || true,
                move |job| {
                    started.fetch_add(1, Ordering::SeqCst);
                    job.set_progress("working".into());
                    std::thread::sleep(Duration::from_millis(300));
                },
            ) {
                Joined::Running(job) => handles.push(job),
                Joined::NotNeeded => unreachable!(),
            }
        }
        for job in &handles {
            while !job.wait(Duration::from_millis(50)) {}
        }
        assert_eq!(started.load(Ordering::SeqCst), 1);
        assert!(!jobs.is_running(&"p"));
        assert!(matches!(
            jobs.join_or_start(&"p", || false, |_| {}),
            Joined::NotNeeded
        ));
    }

    #[test]
    fn a_job_whose_thread_never_started_ends_with_an_error() {
        let jobs: Arc<Jobs<&str>> = Arc::new(Jobs::default());
        let job = Arc::new(Job::new());
        locked(&jobs.running).jobs.insert("p", job.clone());
        // What spawning does when no thread can be had: the guard is dropped.
        drop(Finish {
            jobs: jobs.clone(),
            key: "p",
            job: job.clone(),
            started: false,
        });
        assert!(job.wait(Duration::from_millis(1)));
        assert!(job.error().unwrap().contains("could not start a thread"));
        assert!(!jobs.is_running(&"p"));
    }

    #[test]
    fn a_panicking_job_finishes_with_its_panic_as_the_error() {
        let jobs: Arc<Jobs<&str>> = Arc::new(Jobs::default());
        let Joined::Running(job) = jobs.join_or_start(&"p", || true, |_| panic!("boom")) else {
            unreachable!()
        };
        assert!(job.wait(Duration::from_secs(5)));
        let error = job.error().unwrap_or_default();
        assert!(
            error.contains("internal error") && error.contains("boom"),
            "{error}"
        );
    }
}
