//! What a call sends: one command, or an atomic pipeline.

use redis::aio::ConnectionLike;
use redis::{Cmd, Pipeline, RedisResult};

/// A command or an atomic pipeline.
#[derive(Clone, Copy)]
pub(crate) enum Request<'a> {
    Cmd(&'a Cmd),
    Pipe(&'a Pipeline),
}

impl Request<'_> {
    pub(crate) async fn run<T: redis::FromRedisValue>(self, conn: &mut impl ConnectionLike) -> RedisResult<T> {
        match self {
            Request::Cmd(cmd) => cmd.query_async(conn).await,
            Request::Pipe(pipe) => pipe.query_async(conn).await,
        }
    }
}
