//! Short-lived `pal` commands over `rediss://` (`scripts/services`: redis_tls).
//! (The library's `tests/tls_redis.rs` has the rest.)

mod support;

fn tls_url() -> String {
    format!("rediss://127.0.0.1:{}", support::port("REDIS_TLS_PORT"))
}

/// The operator's path that used to panic: a short-lived `pal` over `rediss://`.
#[test]
fn short_lived_commands_work_over_rediss() {
    let (url, ca) = (tls_url(), support::tls_file("ca.pem"));
    let run = |args: &[&str]| {
        support::pal_command()
            .envs([("CACHE_PROVIDER", "redis"), ("REDIS_URL", url.as_str()), ("REDIS_TLS_CA_FILE", ca.as_str())])
            .envs([("DB_PROVIDER", "sqlite"), ("DATABASE_URL", "sqlite::memory:")])
            .envs(support::SEALING)
            .args(args)
            .output()
            .unwrap()
    };
    let key = format!("tls:cli:{}", uuid::Uuid::new_v4().simple());
    let set = run(&["cache", "set", &key, "over-tls", "--ttl", "60"]);
    assert_eq!(set.status.code(), Some(0), "{}", String::from_utf8_lossy(&set.stderr));
    let get = run(&["cache", "get", &key]);
    assert_eq!((get.status.code(), get.stdout.as_slice()), (Some(0), &b"over-tls"[..]));
    let check = run(&["check"]);
    let text = String::from_utf8_lossy(&check.stdout);
    assert_eq!(check.status.code(), Some(0), "{text}{}", String::from_utf8_lossy(&check.stderr));
    assert!(text.contains("tls verify-full"), "{text}");
}
