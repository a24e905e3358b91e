//! An axum app on the tower-sessions middleware with its sessions in pal: a
//! cookie round trip on the memory cache, Redis and redis-hybrid (each sealed
//! where it leaves the process), built by the factory from settings as an app
//! would. Needs the `tower-sessions` feature, which the test command enables.
#![cfg(feature = "tower-sessions")]

mod suite;
mod support;

use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use axum::routing::get;
use pal::CacheService;
use pal::cache::tower_sessions::CacheSessionStore;
use tower::ServiceExt;
use tower_sessions::{Expiry, Session, SessionManagerLayer};

/// Counts the visits of one browser in its session.
async fn visit(session: Session) -> String {
    let visits: u64 = session.get("visits").await.unwrap().unwrap_or(0) + 1;
    session.insert("visits", visits).await.unwrap();
    visits.to_string()
}

async fn forget(session: Session) -> StatusCode {
    session.flush().await.unwrap();
    StatusCode::NO_CONTENT
}

fn app(cache: Arc<dyn CacheService>) -> Router {
    let sessions = SessionManagerLayer::new(CacheSessionStore::new(cache))
        .with_secure(false)
        .with_expiry(Expiry::OnInactivity(time::Duration::minutes(10)));
    Router::new().route("/", get(visit)).route("/forget", get(forget)).layer(sessions)
}

/// One request with `cookie`: the body and the cookie the answer sets, if any.
async fn get_with(app: &Router, path: &str, cookie: Option<&str>) -> (StatusCode, String, Option<String>) {
    let mut request = Request::get(path);
    if let Some(cookie) = cookie {
        request = request.header(header::COOKIE, cookie);
    }
    let response = app.clone().oneshot(request.body(Body::empty()).unwrap()).await.unwrap();
    let status = response.status();
    let set =
        response.headers().get(header::SET_COOKIE).map(|v| v.to_str().unwrap().split(';').next().unwrap().to_string());
    let body = axum::body::to_bytes(response.into_body(), 1024).await.unwrap();
    (status, String::from_utf8(body.to_vec()).unwrap(), set)
}

async fn round_trip(cache: Arc<dyn CacheService>) {
    let app = app(cache.clone());
    let (_, first, cookie) = get_with(&app, "/", None).await;
    assert_eq!(first, "1");
    let cookie = cookie.expect("a new session sets its cookie");
    assert!(cookie.starts_with("id="), "{cookie}");
    let (_, second, _) = get_with(&app, "/", Some(&cookie)).await;
    let (_, third, _) = get_with(&app, "/", Some(&cookie)).await;
    assert_eq!((second.as_str(), third.as_str()), ("2", "3"), "the session came back from {}", cache.provider());
    // Another browser has a session of its own.
    let (_, other, _) = get_with(&app, "/", None).await;
    assert_eq!(other, "1");
    // The record is in the cache, under the session namespace, sealed or not.
    let id = cookie.trim_start_matches("id=");
    assert!(cache.get(&format!("session:{id}")).await.unwrap().is_some(), "{}", cache.provider());
    let (status, _, _) = get_with(&app, "/forget", Some(&cookie)).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert!(cache.get(&format!("session:{id}")).await.unwrap().is_none(), "flushed from {}", cache.provider());
    let (_, fresh, _) = get_with(&app, "/", Some(&cookie)).await;
    assert_eq!(fresh, "1", "a flushed session starts again");
}

#[tokio::test]
async fn sessions_round_trip_in_the_memory_cache() {
    let settings = pal::Settings::from_vars([("CACHE_PROVIDER", "memory"), ("DB_PROVIDER", "sqlite")]).unwrap();
    round_trip(pal::factory::build_cache(&settings).await.unwrap()).await;
}

#[tokio::test]
async fn sessions_round_trip_in_sealed_redis() {
    let url = format!("redis://127.0.0.1:{}", support::port("REDIS_PORT"));
    let prefix = format!("tower-sessions-{}:", uuid::Uuid::new_v4().simple());
    let vars = support::sealed(&[
        ("CACHE_PROVIDER", "redis"),
        ("REDIS_URL", &url),
        ("DB_PROVIDER", "sqlite"),
        ("CACHE_KEY_PREFIX", &prefix),
    ]);
    let cache = pal::factory::build_cache(&pal::Settings::from_vars(vars).unwrap()).await.unwrap();
    assert_eq!(cache.provider(), "redis");
    round_trip(cache).await;
}

#[tokio::test]
async fn sessions_round_trip_in_redis_hybrid() {
    let (db, _schema) = suite::servers::guarded_postgres_schema().await;
    suite::hybrid::migrated(&db).await;
    let url = format!("redis://127.0.0.1:{}", support::port("REDIS_PORT"));
    let prefix = format!("tower-sessions-{}:", uuid::Uuid::new_v4().simple());
    let vars = support::sealed(&[
        ("CACHE_PROVIDER", "redis-hybrid"),
        ("REDIS_URL", &url),
        ("DB_PROVIDER", "postgresql"),
        ("DATABASE_URL", &db),
        ("CACHE_KEY_PREFIX", &prefix),
    ]);
    let cache = pal::factory::build_cache(&pal::Settings::from_vars(vars).unwrap()).await.unwrap();
    assert_eq!(cache.provider(), "redis-hybrid");
    round_trip(cache).await;
}
