//! A notes service on pal, as an application team would write it: the
//! providers come from the environment (`CACHE_PROVIDER`, `DB_PROVIDER`, …), the
//! application's own table from its own migration, sessions from the
//! tower-sessions middleware with pal keeping them, and pal's errors answer
//! HTTP by themselves (feature `axum`).
//!
//! ```sh
//! CACHE_PROVIDER=memory DB_PROVIDER=sqlite DATABASE_URL=sqlite://notes.db NOTES_PORT=3000 cargo run -p pal-example-notes
//! ```

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use axum::extract::{ConnectInfo, Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use pal::db::migrate::{MigrateApp, Migration};
use pal::env::Var;
use pal::{CacheService, CacheServiceExt, DatabaseService, DatabaseServiceExt, Error, ErrorKind, Ttl};
use serde::{Deserialize, Serialize};
use tower_sessions::{Expiry, Session, SessionManagerLayer};

/// The application's migrations: one list, since its SQL is portable.
const MIGRATIONS: &[Migration] = pal::migrations!("../migrations", 1 "0001_notes");

/// The application's own variables, read and checked with pal's.
const VARS: &[Var] = &[
    Var::new("NOTES_PORT", Some("3000"), "notes: the port to listen on (loopback)"),
    Var::new("NOTES_PER_MINUTE", Some("30"), "notes: notes one client may write a minute"),
];

#[derive(Clone)]
struct App {
    cache: Arc<dyn CacheService>,
    db: Arc<dyn DatabaseService>,
    per_minute: i64,
}

/// A row of `notes`, decoded by column name.
#[derive(Debug, Serialize, Deserialize)]
struct Note {
    id: String,
    body: String,
}

#[derive(Deserialize)]
struct NewNote {
    body: String,
}

#[derive(Deserialize)]
struct Login {
    name: String,
}

async fn login(session: Session, Json(login): Json<Login>) -> Result<StatusCode, Error> {
    session.cycle_id().await.map_err(|e| Error::new(ErrorKind::Backend, e.to_string()))?;
    session.insert("user", login.name).await.map_err(|e| Error::new(ErrorKind::Backend, e.to_string()))?;
    Ok(StatusCode::NO_CONTENT)
}

/// The signed-in user, if any.
async fn user(session: &Session) -> Option<String> {
    session.get("user").await.ok().flatten()
}

fn list_key(user: &str) -> String {
    format!("notes:{user}")
}

async fn list(State(app): State<App>, session: Session) -> Response {
    let Some(user) = user(&session).await else { return StatusCode::UNAUTHORIZED.into_response() };
    let loaded = Arc::new(AtomicBool::new(false));
    // Read-through: the cache, or one query however many requests miss at once.
    let listed = async {
        let load = || {
            let (db, loaded, user) = (app.db.clone(), loaded.clone(), user.clone());
            async move {
                loaded.store(true, Ordering::Relaxed);
                let sql = "SELECT id, body FROM notes WHERE owner = $1 ORDER BY id";
                db.query_as::<Note>(sql, &[user.into()]).await
            }
        };
        app.cache.get_or_load_json::<Vec<Note>, _, _>(&list_key(&user), Ttl::from_secs(60)?, load).await
    };
    match listed.await {
        Ok(notes) if loaded.load(Ordering::Relaxed) => ([("x-cache", "miss")], Json(notes)).into_response(),
        Ok(notes) => ([("x-cache", "hit")], Json(notes)).into_response(),
        Err(e) => e.into_response(),
    }
}

async fn show(State(app): State<App>, session: Session, Path(id): Path<String>) -> Response {
    let Some(user) = user(&session).await else { return StatusCode::UNAUTHORIZED.into_response() };
    let sql = "SELECT id, body FROM notes WHERE id = $1 AND owner = $2";
    // No row is ErrorKind::NotFound: a 404 without a line of mapping.
    app.db.query_one::<Note>(sql, &[id.into(), user.into()]).await.map(Json).into_response()
}

async fn create(
    State(app): State<App>,
    session: Session,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    Json(new): Json<NewNote>,
) -> Response {
    let Some(user) = user(&session).await else { return StatusCode::UNAUTHORIZED.into_response() };
    let written = async {
        let minute = Ttl::from_secs(60)?;
        if app.cache.incr(&format!("rate:{}", peer.ip()), 1, minute).await? > app.per_minute {
            return Ok(StatusCode::TOO_MANY_REQUESTS.into_response());
        }
        let id = uuid::Uuid::new_v4().to_string();
        let insert = "INSERT INTO notes (id, owner, body) VALUES ($1, $2, $3)";
        app.db.execute(insert, &[id.as_str().into(), user.as_str().into(), new.body.as_str().into()]).await?;
        app.cache.delete(&list_key(&user)).await?;
        Ok::<_, Error>((StatusCode::CREATED, Json(Note { id, body: new.body })).into_response())
    };
    written.await.into_response()
}

async fn shutdown() {
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => drop(signal.recv().await),
            Err(_) => std::future::pending().await,
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        () = terminate => {}
    }
}

#[tokio::main]
async fn main() {
    let read = pal::Settings::read_with(pal::env::process_vars(), VARS, |env| {
        (env.int::<u16>("NOTES_PORT", 1, u16::MAX), env.int::<i64>("NOTES_PER_MINUTE", 1, 1_000_000))
    });
    let (settings, (port, per_minute)) = match read {
        Ok(read) => read,
        Err(errors) => {
            eprintln!("{errors}");
            std::process::exit(2);
        }
    };
    let started = async {
        let cache = pal::factory::build_cache(&settings).await?;
        let db = pal::factory::build_database(&settings).await?;
        db.migrate_app("notes", MIGRATIONS).await?;
        Ok::<_, Error>(App { cache, db, per_minute })
    };
    let app = match started.await {
        Ok(app) => app,
        Err(e) => {
            eprintln!("notes: {e}");
            std::process::exit(1);
        }
    };
    let sessions = SessionManagerLayer::new(pal::cache::tower_sessions::CacheSessionStore::new(app.cache.clone()))
        .with_secure(false)
        .with_expiry(Expiry::OnInactivity(time::Duration::hours(1)));
    let router = Router::new()
        .route("/login", post(login))
        .route("/notes", get(list).post(create))
        .route("/notes/{id}", get(show))
        .layer(sessions)
        .with_state(app);
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await.expect("the port is free");
    println!("notes listening on {}", listener.local_addr().expect("bound"));
    let service = router.into_make_service_with_connect_info::<SocketAddr>();
    axum::serve(listener, service).with_graceful_shutdown(shutdown()).await.expect("serving");
}
