//! `pal serve` as a child process of a test.

use std::io::Read;
use std::process::{Child, Stdio};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use super::{free_port, http_get};

/// `pal serve` on a free port, started by the test and stopped with it.
pub(crate) struct Serve {
    pub child: Child,
    pub port: u16,
    /// Everything it printed so far, read as it comes: a pipe nobody reads fills
    /// up, and then the server blocks on its next log line.
    output: Arc<Mutex<Vec<u8>>>,
    readers: Vec<JoinHandle<()>>,
}

/// Reads `from` to its end into `into`.
fn drain(mut from: impl Read + Send + 'static, into: Arc<Mutex<Vec<u8>>>) -> JoinHandle<()> {
    std::thread::spawn(move || {
        let mut buf = [0u8; 8192];
        while let Ok(n) = from.read(&mut buf) {
            if n == 0 {
                return;
            }
            into.lock().unwrap().extend_from_slice(&buf[..n]);
        }
    })
}

impl Serve {
    pub(crate) fn start(vars: &[(&str, &str)]) -> Serve {
        let mut command = super::pal_command();
        command.arg("serve");
        Serve::spawn(command, vars)
    }

    /// `pal serve` as a shell runs it after `ulimit -n files`: soft and hard limit.
    pub(crate) fn start_with_open_file_limit(vars: &[(&str, &str)], files: u32) -> Serve {
        let mut command = std::process::Command::new("sh");
        command.env_clear().args(["-c", &format!("ulimit -n {files} && exec \"$0\" serve"), super::PAL]);
        Serve::spawn(command, vars)
    }

    fn spawn(mut command: std::process::Command, vars: &[(&str, &str)]) -> Serve {
        let port = free_port();
        let mut child = command
            .envs(vars.iter().copied())
            .env("PORT", port.to_string())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let output = Arc::new(Mutex::new(Vec::new()));
        let readers = vec![
            drain(child.stdout.take().unwrap(), output.clone()),
            drain(child.stderr.take().unwrap(), output.clone()),
        ];
        let mut serve = Serve { child, port, output, readers };
        let deadline = Instant::now() + Duration::from_secs(20);
        while http_get(port, "/healthz").is_none() {
            if let Some(status) = serve.child.try_wait().unwrap() {
                panic!("pal serve exited with {status} before listening:\n{}", serve.output());
            }
            assert!(Instant::now() < deadline, "pal serve did not start");
            std::thread::sleep(Duration::from_millis(50));
        }
        serve
    }

    /// Runs `pal serve` with `vars`, which it must refuse at start-up: exit
    /// status 2. Its standard error, for the test to check what it names.
    pub(crate) fn refused(vars: &[(&str, &str)]) -> String {
        let (out, _) = super::pal(vars, &["serve"]);
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        assert_eq!(out.status.code(), Some(2), "{vars:?}: {stderr}");
        stderr
    }

    pub(crate) fn sigterm(&self) {
        assert!(
            std::process::Command::new("kill")
                .args(["-TERM", &self.child.id().to_string()])
                .status()
                .unwrap()
                .success()
        );
    }

    /// What it printed so far, standard output and error interleaved.
    pub(crate) fn output(&self) -> String {
        String::from_utf8_lossy(&self.output.lock().unwrap()).into_owned()
    }

    /// Stops the server and returns its exit code and everything it printed.
    pub(crate) fn stop(mut self) -> (Option<i32>, String) {
        self.sigterm();
        let status = self.child.wait().unwrap();
        for reader in self.readers.drain(..) {
            let _ = reader.join();
        }
        (status.code(), self.output())
    }
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
