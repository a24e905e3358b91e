//! The `users` table (created by pal's migrations on every dialect), through
//! `DatabaseService` only.

use chrono::Utc;

use pal::{DatabaseService, ErrorKind, Result};

/// The account of `email`, read on the primary: an account enrolled a moment ago
/// must be found, which a lagging replica might not. One row either way (the id
/// or NULL), so an address without an account costs what one with does.
pub(super) async fn id_of(db: &dyn DatabaseService, email: &str) -> Result<Option<String>> {
    let rows = db.query("SELECT (SELECT id FROM users WHERE email = $1) AS id", &[email.into()]).await?;
    Ok(rows.first().map(|row| row.get::<Option<String>>("id")).transpose()?.flatten())
}

/// Creates a verified user; `Ok(false)` when the address already has one.
pub(super) async fn create(db: &dyn DatabaseService, id: &str, email: &str) -> Result<bool> {
    let now = Utc::now();
    let inserted = db
        .execute(
            "INSERT INTO users (id, email, verified, created_at, updated_at) VALUES ($1, $2, $3, $4, $5)",
            &[id.into(), email.into(), true.into(), now.into(), now.into()],
        )
        .await;
    match inserted {
        Ok(_) => Ok(true),
        Err(e) if e.kind() == ErrorKind::UniqueViolation => Ok(false),
        Err(e) => Err(e),
    }
}
