//! The engine with a fake evaluator: single flight, failure memory, refresh and
//! the answers of each mode, in milliseconds and without Nix.

use super::refresh::RECENT;
use super::*;
use crate::eval::Evaluation;
use crate::process::Watch;
use crate::protocol::{Op, Value};
use crate::recipe::Recipe;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc::Receiver;

/// Evaluates a project to `FOO=<content of its value.txt>`, counting calls; can
/// be made slow, or to fail as a Nix error would.
#[derive(Default)]
struct Fake {
    calls: AtomicUsize,
    fail: AtomicBool,
    taken: AtomicUsize,
    no_substitute: AtomicBool,
    hook_fails: AtomicBool,
    delay_ms: AtomicUsize,
}

impl Evaluator for Fake {
    fn identity(&self) -> Result<String, EvalError> {
        Ok("fake-nix\0fake-system".into())
    }

    fn evaluate(
        &self,
        project: &Project,
        _: &EvalEnv,
        _: &Path,
        _: &Watch,
        _: Duration,
    ) -> Result<Evaluation, EvalError> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        std::thread::sleep(Duration::from_millis(
            self.delay_ms.load(Ordering::SeqCst) as u64
        ));
        let entry = project.entry().expect("a Nix project").to_path_buf();
        let file = project.root.join("value.txt");
        let inputs = crate::trace::contents([entry, file.clone()]);
        if self.fail.load(Ordering::SeqCst) {
            return Err(EvalError::Nix {
                message: "error: broken".into(),
                inputs,
            });
        }
        let value = std::fs::read_to_string(&file).unwrap();
        Ok(Evaluation {
            recipe: Recipe {
                ops: vec![Op::Set {
                    name: "FOO".into(),
                    value: Value::from(value.trim()),
                }],
            },
            inputs,
            hook: Default::default(),
            duration: Duration::from_millis(1),
        })
    }

    /// `FOO=<the environment's name>`; or, when told it cannot, Nix's failure
    /// to substitute.
    fn take_built(
        &self,
        _: &Project,
        _: &EvalEnv,
        env: &Path,
        _: &Path,
        _: &Watch,
        _: Duration,
    ) -> Result<Evaluation, EvalError> {
        self.taken.fetch_add(1, Ordering::SeqCst);
        std::thread::sleep(Duration::from_millis(
            self.delay_ms.load(Ordering::SeqCst) as u64
        ));
        if self.hook_fails.load(Ordering::SeqCst) {
            return Err(EvalError::Capture {
                message: "the hook failed".into(),
                inputs: Default::default(),
            });
        }
        if self.no_substitute.load(Ordering::SeqCst) {
            return Err(EvalError::Nix {
                message: "there is no substituter that can build it".into(),
                inputs: Default::default(),
            });
        }
        let name = env.file_name().unwrap().to_string_lossy();
        Ok(Evaluation {
            recipe: Recipe {
                ops: vec![Op::Set {
                    name: "FOO".into(),
                    value: Value::from(name.as_ref()),
                }],
            },
            inputs: Default::default(),
            hook: Default::default(),
            duration: Duration::from_millis(1),
        })
    }

    fn packages(&self, _: &Path, _: &EvalEnv) -> Vec<String> {
        Vec::new()
    }
}

struct Setup {
    _dir: tempfile::TempDir,
    project: PathBuf,
    engine: Arc<Engine>,
    fake: Arc<Fake>,
    /// What the engine reported: each event as it reads, and for a served
    /// generation its inputs.
    events: Receiver<(String, Vec<PathBuf>)>,
}

/// An allowed shell.nix project whose value.txt says `one`, and an engine on it.
fn setup() -> Setup {
    let dir = tempfile::tempdir().unwrap();
    let base = dir.path().canonicalize().unwrap();
    let paths = Paths {
        runtime: base.join("run"),
        cache: base.join("cache"),
        state: base.join("state"),
        data: base.join("data"),
        config: base.join("config"),
    };
    let project = base.join("p");
    std::fs::create_dir(&project).unwrap();
    std::fs::write(project.join("shell.nix"), "{ }\n").unwrap();
    write(&project, "one");
    let found = discover(&project).unwrap().unwrap();
    TrustStore::new(&paths.data).allow(&found, false).unwrap();
    let fake = Arc::new(Fake::default());
    let (tx, received) = std::sync::mpsc::channel();
    let tx = std::sync::Mutex::new(tx);
    let events = Events::to(move |event| {
        let inputs = match event {
            Event::Served(g) => g.inputs.iter().map(|i| i.path.clone()).collect(),
            _ => Vec::new(),
        };
        let _ = crate::sync::locked(&tx).send((event.to_string(), inputs));
    });
    let engine = Arc::new(Engine::with(paths, fake.clone(), events));
    Setup {
        _dir: dir,
        project,
        engine,
        fake,
        events: received,
    }
}

/// Rewrites value.txt (give each value a new length: a stat alone sees it).
fn write(project: &Path, value: &str) {
    std::fs::write(project.join("value.txt"), format!("{value}\n")).unwrap();
}

fn resolve(s: &Setup, mode: Mode) -> Resolution {
    s.engine
        .resolve(&s.project, &EvalEnv::new(), mode, &mut |_, _| true)
}

fn foo(r: &Resolution) -> Option<String> {
    r.env.as_ref()?.ops.iter().find_map(|op| match op {
        Op::Set { name, value } if name == "FOO" => Some(value.lossy().into_owned()),
        _ => None,
    })
}

fn calls(s: &Setup) -> usize {
    s.fake.calls.load(Ordering::SeqCst)
}

#[test]
fn evaluates_once_then_answers_from_the_cache() {
    let s = setup();
    let first = resolve(&s, Mode::Wait);
    assert_eq!(foo(&first).as_deref(), Some("one"));
    assert_eq!(first.env.as_ref().unwrap().freshness, Freshness::Evaluated);
    let again = resolve(&s, Mode::Wait);
    assert_eq!(again.env.as_ref().unwrap().freshness, Freshness::Cached);
    assert_eq!(calls(&s), 1);
    // A forced request evaluates even so.
    resolve(&s, Mode::Force);
    assert_eq!(calls(&s), 2);
}

#[test]
fn many_requests_at_once_share_one_evaluation() {
    let s = setup();
    s.fake.delay_ms.store(200, Ordering::SeqCst);
    let (engine, project) = (&s.engine, &s.project);
    let answers: Vec<Option<String>> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..8)
            .map(|_| {
                scope.spawn(|| {
                    foo(&engine.resolve(project, &EvalEnv::new(), Mode::Wait, &mut |_, _| true))
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    assert!(
        answers.iter().all(|a| a.as_deref() == Some("one")),
        "{answers:?}"
    );
    assert_eq!(calls(&s), 1);
}

#[test]
fn a_failure_is_remembered_until_a_file_it_read_changes() {
    let s = setup();
    assert_eq!(foo(&resolve(&s, Mode::Wait)).as_deref(), Some("one"));
    s.fake.fail.store(true, Ordering::SeqCst);
    write(&s.project, "two!");
    let failed = resolve(&s, Mode::Wait);
    assert_eq!(failed.error.as_deref(), Some("error: broken"));
    // The last good environment, marked stale.
    assert_eq!(foo(&failed).as_deref(), Some("one"));
    assert_eq!(failed.env.as_ref().unwrap().freshness, Freshness::Stale);
    assert_eq!(calls(&s), 2);
    // Unchanged files: no evaluation, the same error.
    let again = resolve(&s, Mode::Wait);
    assert_eq!(again.error.as_deref(), Some("error: broken"));
    assert_eq!(calls(&s), 2);
    // Fixed: evaluated again at once.
    s.fake.fail.store(false, Ordering::SeqCst);
    write(&s.project, "three");
    let fixed = resolve(&s, Mode::Wait);
    assert_eq!(fixed.error, None);
    assert_eq!(foo(&fixed).as_deref(), Some("three"));
    assert_eq!(calls(&s), 3);
}

#[test]
fn without_waiting_the_last_good_environment_comes_at_once() {
    let s = setup();
    assert_eq!(foo(&resolve(&s, Mode::Wait)).as_deref(), Some("one"));
    s.fake.delay_ms.store(300, Ordering::SeqCst);
    write(&s.project, "two!");
    let now = resolve(&s, Mode::NoWait);
    assert!(now.pending);
    assert_eq!(foo(&now).as_deref(), Some("one"));
    // The evaluation goes on; when it ends, shells are told (Ready).
    let ready = wait_for_event(&s, |e| e.starts_with("a new environment for"));
    assert!(ready, "no Ready event");
    let later = resolve(&s, Mode::Wait);
    assert_eq!(foo(&later).as_deref(), Some("two!"));
    assert_eq!(later.env.unwrap().freshness, Freshness::Cached);
    assert_eq!(calls(&s), 2);
}

fn wait_for_event(s: &Setup, want: impl Fn(&str) -> bool) -> bool {
    let deadline = Instant::now() + Duration::from_secs(5);
    while let Ok((event, _)) = s
        .events
        .recv_timeout(deadline.saturating_duration_since(Instant::now()))
    {
        if want(&event) {
            return true;
        }
    }
    false
}

#[test]
fn refresh_evaluates_a_recently_used_project_in_the_background() {
    let s = setup();
    assert!(
        !s.engine.refresh(&s.project),
        "never asked for: nothing to do"
    );
    assert_eq!(foo(&resolve(&s, Mode::Wait)).as_deref(), Some("one"));
    assert!(
        !s.engine.refresh(&s.project),
        "nothing changed: nothing to do"
    );
    write(&s.project, "two!");
    s.engine.forget(&s.project);
    assert!(s.engine.refresh(&s.project));
    assert!(wait_for_event(&s, |e| e.starts_with("a new environment for")));
    let after = resolve(&s, Mode::Wait);
    assert_eq!(foo(&after).as_deref(), Some("two!"));
    assert_eq!(after.env.unwrap().freshness, Freshness::Cached);
    assert_eq!(calls(&s), 2);
}

#[test]
fn what_it_serves_and_evaluates_is_reported_not_printed() {
    let s = setup();
    resolve(&s, Mode::Wait);
    let events: Vec<(String, Vec<PathBuf>)> = s.events.try_iter().collect();
    let root = s.project.display().to_string();
    let said = |text: &str| events.iter().any(|(e, _)| e.starts_with(text));
    assert!(said(&format!("evaluating {root}")), "{events:?}");
    assert!(said(&format!("evaluated {root} in ")), "{events:?}");
    assert!(
        events
            .iter()
            .any(|(e, inputs)| e.starts_with(&format!("served {root} "))
                && inputs.contains(&s.project.join("value.txt"))),
        "{events:?}"
    );
}

#[test]
fn an_untrusted_project_is_never_evaluated() {
    let s = setup();
    std::fs::write(s.project.join("shell.nix"), "{ changed = 1; }\n").unwrap();
    let r = resolve(&s, Mode::Wait);
    assert!(matches!(
        r.project.as_ref().unwrap().trust,
        Trust::Changed { .. }
    ));
    assert!(r.env.is_none());
    assert_eq!(calls(&s), 0);
}

#[test]
fn projects_not_used_within_the_hour_are_forgotten() {
    let mut recent = HashMap::new();
    let env = EvalEnv::default();
    let old = Instant::now() - RECENT - Duration::from_secs(1);
    for i in 0..100 {
        recent.insert(PathBuf::from(format!("/old/{i}")), (env.clone(), old));
    }
    note_recent(&mut recent, Path::new("/new"), &env);
    assert_eq!(recent.len(), 1);
    assert!(recent.contains_key(Path::new("/new")));
}

mod lock;
