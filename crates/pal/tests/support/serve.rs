//! `pal serve` as a child process of a test.

use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use super::{free_port, http_get};

/// `pal serve` on a free port, started by the test and stopped with it.
pub struct Serve {
    pub child: Child,
    pub port: u16,
}

impl Serve {
    pub fn start(vars: &[(&str, &str)]) -> Serve {
        let port = free_port();
        let child = super::pal_command()
            .envs(vars.iter().copied())
            .env("PORT", port.to_string())
            .arg("serve")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut serve = Serve { child, port };
        let deadline = Instant::now() + Duration::from_secs(20);
        while http_get(port, "/healthz").is_none() {
            if let Some(status) = serve.child.try_wait().unwrap() {
                panic!("pal serve exited with {status} before listening");
            }
            assert!(Instant::now() < deadline, "pal serve did not start");
            std::thread::sleep(Duration::from_millis(50));
        }
        serve
    }

    pub fn sigterm(&self) {
        assert!(
            std::process::Command::new("kill")
                .args(["-TERM", &self.child.id().to_string()])
                .status()
                .unwrap()
                .success()
        );
    }

    /// Stops the server and returns its exit code and everything it printed.
    pub fn stop(mut self) -> (Option<i32>, String) {
        self.sigterm();
        let out = std::mem::replace(&mut self.child, std::process::Command::new("true").spawn().unwrap())
            .wait_with_output()
            .unwrap();
        (out.status.code(), format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr)))
    }
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
