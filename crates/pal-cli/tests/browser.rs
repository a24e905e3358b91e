//! The page at `/` in a real headless Chromium, driven through ChromeDriver
//! (Debian's `chromium` and `chromium-driver`, which `scripts/services` installs):
//! the live status shows the providers and their health, and a visitor walks
//! through enrollment, sign-in, the session, the audit trail and logout on the
//! embedded default (memory + SQLite), exactly as a newcomer would.

mod support;

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::{Client, ClientBuilder, Locator};
use hyper_util::client::legacy::connect::HttpConnector;
use serde_json::json;
use support::free_port;
use support::serve::Serve;

/// A child process killed when the test ends, however it ends.
struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn answers(port: u16) -> bool {
    std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()
}

fn wait_for_port(port: u16, what: &str, child: &mut Child) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while !answers(port) {
        if let Some(status) = child.try_wait().unwrap() {
            panic!("{what} exited with {status} before listening");
        }
        assert!(Instant::now() < deadline, "{what} did not listen on 127.0.0.1:{port}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// `pal serve` on the README's first command's defaults, with the codes shown.
fn serve(dir: &std::path::Path) -> Serve {
    let database = format!("sqlite://{}", dir.join("pal.db").display());
    Serve::start(&[
        ("CACHE_PROVIDER", "memory"),
        ("DB_PROVIDER", "sqlite"),
        ("DATABASE_URL", database.as_str()),
        ("DEV_EXPOSE_CODES", "true"),
        ("BIND", "127.0.0.1"),
    ])
}

fn chromedriver() -> (Killed, u16) {
    let port = free_port();
    let mut child = Command::new("chromedriver")
        .arg(format!("--port={port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("chromedriver is installed (scripts/services installs chromium-driver)");
    wait_for_port(port, "chromedriver", &mut child);
    (Killed(child), port)
}

async fn browser(driver_port: u16) -> Client {
    let mut capabilities = serde_json::Map::new();
    capabilities.insert(
        "goog:chromeOptions".into(),
        json!({
            "binary": "/usr/bin/chromium",
            "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--window-size=1200,900"],
        }),
    );
    ClientBuilder::new(HttpConnector::new())
        .capabilities(capabilities)
        .connect(&format!("http://127.0.0.1:{driver_port}"))
        .await
        .expect("a Chromium session through chromedriver")
}

/// The text of element `id` once `ready` holds for it, within 10 s.
async fn text_when(c: &Client, id: &str, ready: impl Fn(&str) -> bool) -> String {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let text = c.find(Locator::Id(id)).await.unwrap().text().await.unwrap();
        if ready(&text) {
            return text;
        }
        let message = c.find(Locator::Id("message")).await.unwrap().text().await.unwrap();
        assert!(Instant::now() < deadline, "#{id} shows {text:?} (message: {message:?})");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn click(c: &Client, id: &str) {
    c.find(Locator::Id(id)).await.unwrap().click().await.unwrap();
}

async fn session_status(port: u16, token: &str) -> u16 {
    let token = token.to_string();
    tokio::task::spawn_blocking(move || {
        let agent = ureq::Agent::config_builder().http_status_as_error(false).build().new_agent();
        let response = agent
            .get(&format!("http://127.0.0.1:{port}/v1/session"))
            .header("authorization", &format!("Bearer {token}"))
            .call()
            .unwrap();
        response.status().as_u16()
    })
    .await
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_visitor_sees_the_status_and_walks_through_the_whole_flow() {
    let dir = tempfile::tempdir().unwrap();
    let server = serve(dir.path());
    let port = server.port;
    let (_driver, driver_port) = chromedriver();
    let c = browser(driver_port).await;
    c.goto(&format!("http://127.0.0.1:{port}/")).await.unwrap();
    assert_eq!(c.title().await.unwrap(), "pal — reference service");

    // The live status, filled in by the page from /v1/status.
    assert_eq!(text_when(&c, "health", |t| t != "…").await, "healthy");
    assert_eq!(text_when(&c, "cache-provider", |t| t != "…").await, "memory");
    assert_eq!(text_when(&c, "db-provider", |t| t != "…").await, "sqlite");
    let audit = text_when(&c, "audit-backlog", |t| t != "…").await;
    assert!(audit.contains("pending"), "{audit}");

    // Enrollment: the code this server exposes fills the field by itself.
    c.find(Locator::Id("email")).await.unwrap().send_keys("ada@example.com").await.unwrap();
    click(&c, "enroll").await;
    text_when(&c, "enroll-out", |t| t.contains("Code sent")).await;
    click(&c, "confirm").await;
    let confirmed = text_when(&c, "confirm-out", |t| !t.is_empty()).await;
    assert!(confirmed.starts_with("Enrolled ada@example.com as user "), "{confirmed}");

    // Enrolling the same address again is refused at confirmation (starting one
    // says nothing of whether the address has an account), with the API's error
    // code shown to the visitor.
    click(&c, "enroll").await;
    let deadline = Instant::now() + Duration::from_secs(10);
    while !c.find(Locator::Id("confirm")).await.unwrap().is_enabled().await.unwrap() {
        assert!(Instant::now() < deadline, "the second enrollment did not start");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    click(&c, "confirm").await;
    let refused = text_when(&c, "message", |t| !t.is_empty()).await;
    assert!(refused.starts_with("already_enrolled:"), "{refused}");

    // Sign-in by one-time code.
    click(&c, "verify").await;
    text_when(&c, "verify-out", |t| t.contains("Sign-in code sent")).await;
    click(&c, "complete").await;
    text_when(&c, "complete-out", |t| t.starts_with("Signed in")).await;
    let token = c.execute("return sessionStorage.getItem('pal-token')", vec![]).await.unwrap();
    let token = token.as_str().expect("the page keeps the session token").to_string();
    assert_eq!(session_status(port, &token).await, 200);

    // The session, its refresh and the visitor's own audit trail.
    click(&c, "show-session").await;
    let session = text_when(&c, "session-out", |t| !t.is_empty()).await;
    assert!(session.starts_with("Session of ada@example.com"), "{session}");
    click(&c, "refresh").await;
    text_when(&c, "session-out", |t| t.starts_with("Refreshed")).await;
    // Audit events reach the database in batches, so the trail may take a moment.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        click(&c, "show-audit").await;
        let trail = c.find(Locator::Id("audit-out")).await.unwrap().text().await.unwrap();
        if trail.contains("enrolled") && trail.contains("verification_succeeded") {
            break;
        }
        assert!(Instant::now() < deadline, "the audit trail lacks the enrollment or the sign-in: {trail:?}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    // Logout: the page forgets the token and the server no longer accepts it.
    click(&c, "logout").await;
    text_when(&c, "session-out", |t| t == "Signed out").await;
    assert!(!c.find(Locator::Id("show-session")).await.unwrap().is_enabled().await.unwrap());
    assert_eq!(session_status(port, &token).await, 401);

    c.close().await.unwrap();
}
