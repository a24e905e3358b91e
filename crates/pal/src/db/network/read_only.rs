//! Reads that cannot write, wherever they run: each runs in a read-only
//! transaction its dialect opens ([`Driver::begin_read_only_sql`]), on the primary
//! as on a replica, so a write sent down the read path is an error and never runs
//! twice, even where the server would let it through (a replica's superuser, a
//! primary serving a read no replica could).

use sqlx::{Database, Executor};

use super::refusal::Held;
use super::{Driver, NetworkDatabase, pool};
use crate::error::Result;

/// A connection lent to a read: closed rather than reused unless the read ended
/// its transaction, since a read abandoned half-way (timed out, or dropped by a
/// caller that gave up on it) leaves the connection inside it.
struct Reading<DB: Database> {
    conn: Held<DB>,
    ended: bool,
}

impl<DB: Database> Drop for Reading<DB> {
    fn drop(&mut self) {
        if !self.ended {
            self.conn.close_on_drop();
        }
    }
}

impl<D: Driver> NetworkDatabase<D>
where
    for<'c> &'c mut <D::Db as Database>::Connection: Executor<'c, Database = D::Db>,
{
    /// Runs `work` in a read-only transaction, the whole within the statement bound.
    pub(super) async fn read_only<T>(
        &self,
        work: impl AsyncFnOnce(&mut <D::Db as Database>::Connection) -> Result<T>,
    ) -> Result<T> {
        let mut reading = Reading { conn: self.acquire().await?, ended: false };
        let driver = &self.driver;
        let ended = &mut reading.ended;
        let outcome = pool::bounded_on(&mut reading.conn, driver.provider(), self.statement_timeout, async |c| {
            let run = async |c: &mut <D::Db as Database>::Connection, sql: &'static str| {
                c.execute(sqlx::raw_sql(sql)).await.map(drop).map_err(|e| driver.map_err(e))
            };
            run(c, driver.begin_read_only_sql()).await?;
            let outcome = work(c).await;
            // What was read stands even if the end fails: nothing was written.
            *ended = run(c, driver.end_read_only_sql(outcome.is_ok())).await.is_ok();
            outcome
        })
        .await;
        self.observe(outcome)
    }
}
