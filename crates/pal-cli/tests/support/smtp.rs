//! A real SMTP server on loopback for the mail tests: `smtp_sink.py` (aiosmtpd)
//! as a child process of the test, on a free port, killed with it. What it
//! received is read back from the JSON lines it writes.

use std::io::{BufRead, BufReader, Read};
use std::path::PathBuf;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use super::free_port;

/// The interpreter Debian's python3-aiosmtpd installs for: another python3 first
/// on the PATH (pyenv, a venv) does not see it.
const PYTHON: &str = "/usr/bin/python3";

/// The sink on 127.0.0.1, started by the test and killed when dropped.
pub(crate) struct Sink {
    child: Child,
    /// Held open: the sink stops when it closes, even when the test process is
    /// killed before any `Drop` runs.
    _stdin: ChildStdin,
    pub port: u16,
    out: PathBuf,
    _dir: tempfile::TempDir,
}

impl Sink {
    /// Starts the sink with `args` (`--tls starttls --cert … --key …`, `--auth
    /// user:password`, `--refuse-first N --refuse-code 451`) and waits until it
    /// accepts connections. Fails the test when aiosmtpd is missing: nothing is skipped.
    pub(crate) fn start(args: &[&str]) -> Sink {
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/support/smtp_sink.py");
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("received.jsonl");
        let port = free_port();
        let mut child = Command::new(PYTHON)
            .arg(script)
            .args(["--port", &port.to_string(), "--out", out.to_str().unwrap()])
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("{PYTHON} runs the SMTP sink ({e}): scripts/services install installs it"));
        let stdout = child.stdout.take().unwrap();
        let (ready, said) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut line = String::new();
            let _ = BufReader::new(stdout).read_line(&mut line);
            let _ = ready.send(line);
        });
        let line = said.recv_timeout(Duration::from_secs(20)).unwrap_or_default();
        if line.trim() != "ready" {
            let _ = child.kill();
            let mut stderr = String::new();
            let _ = child.stderr.take().unwrap().read_to_string(&mut stderr);
            panic!(
                "the SMTP sink did not start (python3-aiosmtpd is installed by scripts/services install):\n{stderr}"
            );
        }
        let stdin = child.stdin.take().unwrap();
        Sink { child, _stdin: stdin, port, out, _dir: dir }
    }

    /// Every message that reached DATA so far, with the answer it got.
    pub(crate) fn received(&self) -> Vec<Value> {
        let text = std::fs::read_to_string(&self.out).unwrap_or_default();
        text.lines().map(|line| serde_json::from_str(line).unwrap()).collect()
    }

    /// The messages once there are at least `count`, within `limit`.
    pub(crate) fn wait_for(&self, count: usize, limit: Duration) -> Vec<Value> {
        let deadline = Instant::now() + limit;
        loop {
            let received = self.received();
            if received.len() >= count {
                return received;
            }
            assert!(Instant::now() < deadline, "the sink got {} of {count} messages in {limit:?}", received.len());
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Sink {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A header of a raw message, unfolded: `None` when it has none.
pub(crate) fn header(data: &str, name: &str) -> Option<String> {
    let data = data.replace("\r\n", "\n");
    let head = data.split("\n\n").next().unwrap_or_default().replace("\n ", " ").replace("\n\t", " ");
    head.lines().find_map(|line| {
        let (key, value) = line.split_once(':')?;
        key.eq_ignore_ascii_case(name).then(|| value.trim().to_string())
    })
}

/// The body of a raw message, as sent (7bit or quoted-printable text stays readable).
pub(crate) fn body(data: &str) -> String {
    let data = data.replace("\r\n", "\n");
    data.split_once("\n\n").map(|(_, body)| body.replace("=\n", "")).unwrap_or_default()
}

/// The first six-digit run in `text`: the code a mail carries.
pub(crate) fn code_in(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    (0..bytes.len().saturating_sub(5)).find_map(|i| {
        let run = &bytes[i..i + 6];
        let alone = |j: Option<&u8>| j.is_none_or(|c| !c.is_ascii_digit());
        (run.iter().all(u8::is_ascii_digit)
            && alone(i.checked_sub(1).and_then(|j| bytes.get(j)))
            && alone(bytes.get(i + 6)))
        .then(|| String::from_utf8(run.to_vec()).unwrap())
    })
}
