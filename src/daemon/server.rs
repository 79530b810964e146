//! One connection: check the peer is our own user, read one bounded request line
//! (with a timeout), answer it. A malformed request gets an error reply; the
//! daemon carries on.

use super::Counter;
use crate::engine::{Engine, Mode};
use crate::protocol::{DaemonInfo, Envelope, MAX_REQUEST, PROTOCOL, Request, Response};
use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::sync::Arc;
use std::time::{Duration, Instant};

#[derive(PartialEq, Eq)]
pub enum After {
    Continue,
    Stop,
}

fn send(stream: &mut UnixStream, response: &Response) -> bool {
    let mut line = crate::protocol::to_json(&Envelope::new(response));
    line.push(b'\n');
    stream.write_all(&line).is_ok()
}

/// Refuses a connection the daemon has no room for, without blocking on it.
pub fn refuse(mut stream: UnixStream, message: &str) {
    let _ = stream.set_nonblocking(true);
    let _ = send(&mut stream, &error(message));
}

/// The whole request line must arrive within this long (not each byte: a client
/// dripping a byte at a time cannot hold a handler).
pub const REQUEST_DEADLINE: Duration = Duration::from_secs(5);

/// Reads one request line of at most [`MAX_REQUEST`] bytes before
/// [`REQUEST_DEADLINE`].
fn read_request(stream: &mut UnixStream) -> Result<Vec<u8>, String> {
    let deadline = Instant::now() + REQUEST_DEADLINE;
    let mut buf = Vec::new();
    let mut chunk = [0u8; 8192];
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(format!(
                "no whole request within {} s",
                REQUEST_DEADLINE.as_secs()
            ));
        }
        stream
            .set_read_timeout(Some(left))
            .map_err(|e| format!("could not read the request: {e}"))?;
        let n = match stream.read(&mut chunk) {
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) =>
            {
                continue;
            }
            Err(e) => return Err(format!("could not read the request: {e}")),
        };
        if n == 0 {
            return Err("the request ended without a newline".into());
        }
        let got = &chunk[..n];
        if let Some(end) = got.iter().position(|&b| b == b'\n') {
            buf.extend_from_slice(&got[..end]);
            return if buf.len() > MAX_REQUEST {
                Err("request too large".into())
            } else {
                Ok(buf)
            };
        }
        buf.extend_from_slice(got);
        if buf.len() > MAX_REQUEST {
            return Err("request too large".into());
        }
    }
}

pub fn info() -> DaemonInfo {
    DaemonInfo {
        pid: std::process::id(),
        version: crate::protocol::VERSION.to_string(),
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
    // A client that stops reading (suspended) cannot hold its handler forever.
    let _ = stream.set_write_timeout(Some(Duration::from_secs(30)));
    let buf = match read_request(&mut stream) {
        Ok(buf) => buf,
        Err(message) => {
            let _ = send(&mut stream, &error(message));
            return After::Continue;
        }
    };
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
            with_inputs,
            prompt,
        } => {
            // `async` and `wait` are for prompts: an editor gets the final
            // environment.
            let mode = match (wait, prompt) {
                (false, _) => Mode::NoWait,
                (true, false) => Mode::Wait,
                (true, true) if engine.settings().background => Mode::NoWait,
                (true, true) => Mode::Prompt,
            };
            // Before anything is looked up: an environment that lands after
            // this moves the marker past it.
            let marker_mtime = with_inputs.then(|| engine.marker_mtime(&dir)).flatten();
            let mut resolution = engine.resolve(&dir, &eval_env, mode, &mut progress(&mut stream));
            // Only `dwell direnv` needs the inputs: every other answer stays small.
            if let (true, Some(env)) = (with_inputs, resolution.env.as_mut()) {
                env.inputs = engine.inputs(&dir, &eval_env);
                env.marker_mtime = marker_mtime;
            }
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
            engine.forget_all();
            counter.bump();
            (Response::Done, After::Continue)
        }
        Request::Ping => (Response::Pong(info()), After::Continue),
        Request::Stop => (Response::Done, After::Stop),
    };
    let _ = send(&mut stream, &response);
    after
}
