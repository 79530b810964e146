//! One connection: check the peer is our own user, read one bounded request line
//! (with a timeout), answer it. A malformed request gets an error reply; the
//! daemon carries on.

use super::Counter;
use crate::client::VERSION;
use crate::engine::{Engine, Mode};
use crate::protocol::{DaemonInfo, Envelope, MAX_MESSAGE, PROTOCOL, Request, Response};
use serde::Serialize;
use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::net::UnixStream;
use std::sync::Arc;
use std::time::Duration;

#[derive(PartialEq, Eq)]
pub enum After {
    Continue,
    Stop,
}

#[derive(Serialize)]
struct Reply<'a> {
    protocol: u32,
    /// The daemon's dwell version (the client restarts a daemon of another one).
    dwell: &'a str,
    #[serde(flatten)]
    body: &'a Response,
}

fn send(stream: &mut UnixStream, response: &Response) -> bool {
    let mut line = serde_json::to_vec(&Reply {
        protocol: PROTOCOL,
        dwell: VERSION,
        body: response,
    })
    .expect("response serializes");
    line.push(b'\n');
    stream.write_all(&line).is_ok()
}

pub fn info() -> DaemonInfo {
    DaemonInfo {
        pid: std::process::id(),
        version: VERSION.to_string(),
    }
}

fn error(message: impl Into<String>) -> Response {
    Response::Error {
        message: message.into(),
    }
}

/// Sends progress lines while an evaluation runs; false once the client is gone.
fn progress(stream: &mut UnixStream) -> impl FnMut(&str, Duration) -> bool + '_ {
    let mut last = String::new();
    move |line: &str, elapsed: Duration| {
        // Only changes, and at least the elapsed time every second.
        if line == last && elapsed.as_millis() % 1000 >= 100 {
            return true;
        }
        last = line.to_string();
        let response = Response::Progress {
            line: line.to_string(),
            elapsed_ms: elapsed.as_millis() as u64,
        };
        send(stream, &response)
    }
}

pub fn handle(
    mut stream: UnixStream,
    engine: &Arc<Engine>,
    counter: &Counter,
    watcher: &super::Watcher,
) -> After {
    let same_user = rustix::net::sockopt::socket_peercred(&stream)
        .map(|cred| cred.uid == rustix::process::getuid())
        .unwrap_or(false);
    if !same_user {
        let _ = send(&mut stream, &error("this daemon serves only its own user"));
        return After::Continue;
    }
    let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
    let mut buf = Vec::new();
    let read = BufReader::new(&stream)
        .take(MAX_MESSAGE as u64 + 1)
        .read_until(b'\n', &mut buf);
    if let Err(e) = read {
        let _ = send(
            &mut stream,
            &error(format!("could not read the request: {e}")),
        );
        return After::Continue;
    }
    if buf.len() > MAX_MESSAGE {
        let _ = send(&mut stream, &error("request too large"));
        return After::Continue;
    }
    let envelope: Envelope<Request> = match serde_json::from_slice(&buf) {
        Ok(envelope) => envelope,
        Err(e) => {
            let _ = send(&mut stream, &error(format!("malformed request: {e}")));
            return After::Continue;
        }
    };
    if envelope.protocol != PROTOCOL {
        let _ = send(
            &mut stream,
            &error(format!(
                "protocol {} is not spoken here (this daemon speaks {PROTOCOL})",
                envelope.protocol
            )),
        );
        return After::Continue;
    }
    let (response, after) = match envelope.body {
        Request::Resolve {
            dir,
            eval_env,
            wait,
        } => {
            let background = engine.user.lock().unwrap().background == Some(true);
            let mode = if wait && !background {
                Mode::Wait
            } else {
                Mode::NoWait
            };
            let resolution = engine.resolve(&dir, &eval_env, mode, &mut progress(&mut stream));
            (Response::Resolved(resolution), After::Continue)
        }
        Request::Reload { dir, eval_env } => {
            let resolution =
                engine.resolve(&dir, &eval_env, Mode::Force, &mut progress(&mut stream));
            counter.bump();
            (Response::Resolved(resolution), After::Continue)
        }
        Request::Status { dir, eval_env } => {
            let mut report = engine.status(&dir, &eval_env);
            report.daemon = Some(info());
            report.watched = report.project.as_ref().map(|p| watcher.is_watched(&p.root));
            (Response::Status(report), After::Continue)
        }
        Request::Changed => {
            engine.cache.forget_all();
            counter.bump();
            (Response::Done, After::Continue)
        }
        Request::Ping => (Response::Pong(info()), After::Continue),
        Request::Stop => (Response::Done, After::Stop),
    };
    let _ = send(&mut stream, &response);
    after
}
