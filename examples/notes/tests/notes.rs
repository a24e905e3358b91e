//! The example service, built and run as its users would: on the embedded
//! defaults (memory + SQLite) and on sealed Redis + PostgreSQL, over HTTP with
//! a cookie, then stopped with SIGTERM.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use pal_test_support as support;

struct Notes {
    child: Child,
    port: u16,
}

impl Drop for Notes {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start(vars: &[(&str, &str)]) -> Notes {
    let port = support::free_port();
    let child = Command::new(env!("CARGO_BIN_EXE_notes"))
        .env_clear()
        .envs(vars.iter().copied())
        .env("NOTES_PORT", port.to_string())
        .env("NOTES_PER_MINUTE", "5")
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let notes = Notes { child, port };
    let deadline = Instant::now() + Duration::from_secs(20);
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "the example did not start");
        std::thread::sleep(Duration::from_millis(50));
    }
    notes
}

struct Answer {
    status: u16,
    head: String,
    body: String,
}

impl Answer {
    fn header(&self, name: &str) -> Option<String> {
        self.head.lines().find_map(|l| {
            let (n, v) = l.split_once(':')?;
            n.eq_ignore_ascii_case(name).then(|| v.trim().to_string())
        })
    }
}

fn send(port: u16, method: &str, path: &str, cookie: Option<&str>, body: Option<&str>) -> Answer {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
    stream.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut request = format!("{method} {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n");
    if let Some(cookie) = cookie {
        request.push_str(&format!("Cookie: {cookie}\r\n"));
    }
    let body = body.unwrap_or("");
    request.push_str(&format!("Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}", body.len()));
    stream.write_all(request.as_bytes()).unwrap();
    let mut raw = String::new();
    stream.read_to_string(&mut raw).unwrap();
    let (head, body) = raw.split_once("\r\n\r\n").unwrap();
    let status = head.split(' ').nth(1).unwrap().parse().unwrap();
    Answer { status, head: head.to_string(), body: body.to_string() }
}

fn walk_through(vars: &[(&str, &str)]) {
    let notes = start(vars);
    let port = notes.port;
    assert_eq!(send(port, "GET", "/notes", None, None).status, 401);
    let login = send(port, "POST", "/login", None, Some(r#"{"name":"ada"}"#));
    assert_eq!(login.status, 204, "{}", login.body);
    let cookie = login.header("set-cookie").expect("a session cookie");
    let cookie = cookie.split(';').next().unwrap().to_string();

    let first = send(port, "POST", "/notes", Some(&cookie), Some(r#"{"body":"buy milk"}"#));
    assert_eq!(first.status, 201, "{}", first.body);
    let id = serde_json::from_str::<serde_json::Value>(&first.body).unwrap()["id"].as_str().unwrap().to_string();
    assert_eq!(send(port, "POST", "/notes", Some(&cookie), Some(r#"{"body":"call bob"}"#)).status, 201);

    let miss = send(port, "GET", "/notes", Some(&cookie), None);
    assert_eq!((miss.status, miss.header("x-cache").as_deref()), (200, Some("miss")), "{}", miss.body);
    let listed: serde_json::Value = serde_json::from_str(&miss.body).unwrap();
    assert_eq!(listed.as_array().unwrap().len(), 2);
    let hit = send(port, "GET", "/notes", Some(&cookie), None);
    assert_eq!((hit.header("x-cache").as_deref(), hit.body.as_str()), (Some("hit"), miss.body.as_str()));

    let one = send(port, "GET", &format!("/notes/{id}"), Some(&cookie), None);
    assert_eq!(one.status, 200);
    assert!(one.body.contains("buy milk"), "{}", one.body);
    let missing = send(port, "GET", "/notes/no-such-note", Some(&cookie), None);
    assert_eq!(missing.status, 404, "{}", missing.body);
    assert!(missing.body.contains("\"error\":\"not_found\""), "{}", missing.body);

    // The per-client limit (5 a minute here) answers 429.
    let statuses: Vec<u16> = (0..4)
        .map(|i| send(port, "POST", "/notes", Some(&cookie), Some(&format!(r#"{{"body":"n{i}"}}"#))).status)
        .collect();
    assert_eq!(statuses, [201, 201, 201, 429]);

    let mut notes = notes;
    assert!(Command::new("kill").args(["-TERM", &notes.child.id().to_string()]).status().unwrap().success());
    let exited = notes.child.wait().unwrap();
    assert!(exited.success(), "graceful shutdown: {exited}");
}

#[test]
fn the_example_serves_on_memory_and_sqlite() {
    let dir = std::env::temp_dir().join(format!("notes-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let url = format!("sqlite://{}", dir.join("notes.db").display());
    walk_through(&[("CACHE_PROVIDER", "memory"), ("DB_PROVIDER", "sqlite"), ("DATABASE_URL", &url)]);
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_example_serves_on_sealed_redis_and_postgresql() {
    let (url, schema) = support::servers::guarded_postgres_schema().await;
    let redis = format!("redis://127.0.0.1:{}", support::port("REDIS_PORT"));
    let prefix = format!("notes-{}:", uuid::Uuid::new_v4().simple());
    let vars = support::sealed(&[
        ("CACHE_PROVIDER", "redis"),
        ("REDIS_URL", &redis),
        ("CACHE_KEY_PREFIX", &prefix),
        ("DB_PROVIDER", "postgresql"),
        ("DATABASE_URL", &url),
    ]);
    let owned: Vec<(String, String)> = vars.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
    tokio::task::spawn_blocking(move || {
        let vars: Vec<(&str, &str)> = owned.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        walk_through(&vars);
    })
    .await
    .unwrap();
    drop(schema);
}
