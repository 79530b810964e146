//! Running evaluations: at most one per project and settings, in a thread of its
//! own, so that it goes on when the request that started it goes away (Ctrl-C).
//! Every request that needs it joins it and follows its progress.

use std::collections::HashMap;
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
        self.state
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .progress = line;
    }

    pub fn progress(&self) -> String {
        self.state
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .progress
            .clone()
    }

    pub fn fail(&self, message: String) {
        self.state.lock().unwrap_or_else(|e| e.into_inner()).error = Some(message);
    }

    /// The error the job ended with, if it failed.
    pub fn error(&self) -> Option<String> {
        self.state
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .error
            .clone()
    }

    /// Waits up to `timeout` for the job to finish; true once it has.
    pub fn wait(&self, timeout: Duration) -> bool {
        let state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        let (state, _) = self
            .finished
            .wait_timeout_while(state, timeout, |s| !s.done)
            .unwrap_or_else(|e| e.into_inner());
        state.done
    }

    fn finish(&self) {
        self.state.lock().unwrap_or_else(|e| e.into_inner()).done = true;
        self.finished.notify_all();
    }
}

#[derive(Default)]
pub struct Jobs {
    running: Mutex<HashMap<String, Arc<Job>>>,
}

/// What [`Jobs::join_or_start`] did.
pub enum Joined {
    /// An evaluation is running (started now or earlier).
    Running(Arc<Job>),
    /// `still_needed` said no: nothing to run.
    NotNeeded,
}

impl Jobs {
    /// Joins the job running for `key`, or, if `still_needed()` (checked under the
    /// lock, so a job that just finished is not repeated), starts `work` as one.
    /// `work` runs in a new thread; the job ends when it returns.
    pub fn join_or_start(
        self: &Arc<Self>,
        key: &str,
        still_needed: impl FnOnce() -> bool,
        work: impl FnOnce(&Arc<Job>) + Send + 'static,
    ) -> Joined {
        let mut running = self.running.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(job) = running.get(key) {
            return Joined::Running(job.clone());
        }
        if !still_needed() {
            return Joined::NotNeeded;
        }
        let job = Arc::new(Job::new());
        running.insert(key.to_string(), job.clone());
        drop(running);
        let jobs = self.clone();
        let key = key.to_string();
        let worker = job.clone();
        std::thread::spawn(move || {
            // Finish even if the work panics, so that no request waits forever.
            struct Finish(Arc<Jobs>, String, Arc<Job>);
            impl Drop for Finish {
                fn drop(&mut self) {
                    self.0
                        .running
                        .lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .remove(&self.1);
                    self.2.finish();
                }
            }
            let _finish = Finish(jobs, key, worker.clone());
            work(&worker);
        });
        Joined::Running(job)
    }

    pub fn is_running(&self, key: &str) -> bool {
        self.running
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .contains_key(key)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[test]
    fn one_job_for_many_requests() {
        let jobs = Arc::new(Jobs::default());
        let started = Arc::new(AtomicUsize::new(0));
        let mut handles = Vec::new();
        for _ in 0..8 {
            let started = started.clone();
            match jobs.join_or_start(
                "p",
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
        assert!(!jobs.is_running("p"));
        assert!(matches!(
            jobs.join_or_start("p", || false, |_| {}),
            Joined::NotNeeded
        ));
    }

    #[test]
    fn a_panicking_job_still_finishes() {
        let jobs = Arc::new(Jobs::default());
        let Joined::Running(job) = jobs.join_or_start("p", || true, |_| panic!("boom")) else {
            unreachable!()
        };
        assert!(job.wait(Duration::from_secs(5)));
    }
}
