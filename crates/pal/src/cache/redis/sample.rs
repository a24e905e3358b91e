//! A few keys for the sealing layer's key check: SCAN with MATCH, COUNT and TYPE
//! on the server (standalone, or the master the sentinels name), or on every
//! master of a cluster, looking at a bounded part of each keyspace.

use std::time::Duration;

use redis::cluster_routing::{MultipleNodeRoutingInfo, RoutingInfo, SingleNodeRoutingInfo};
use redis::{Cmd, RedisError, RedisResult, Value, cmd};

use super::connection::Topology;
use super::request::Request;

/// Slots of the keyspace the first SCAN call looks at; each next call looks at
/// four times as many, up to [`MAX_COUNT`]: a prefix that matches everything is
/// answered by a small first call, one that matches little is walked quickly.
const FIRST_COUNT: usize = 100;
const MAX_COUNT: usize = 10_000;
/// Slots of a node's keyspace one sample looks at, at most, however few match.
const MAX_SLOTS: usize = 100_000;

type Batch = (u64, Vec<Vec<u8>>);

/// `prefix` as a SCAN pattern for the keys that start with it.
fn pattern(prefix: &str) -> String {
    let mut pattern = String::with_capacity(prefix.len() + 1);
    for c in prefix.chars() {
        if matches!(c, '*' | '?' | '[' | ']' | '\\') {
            pattern.push('\\');
        }
        pattern.push(c);
    }
    pattern.push('*');
    pattern
}

fn scan(cursor: u64, pattern: &str, count: usize) -> Cmd {
    let mut scan = cmd("SCAN");
    // Only strings: what pal stores, and what GET reads without WRONGTYPE.
    scan.arg(cursor).arg("MATCH").arg(pattern).arg("COUNT").arg(count).arg("TYPE").arg("string");
    scan
}

/// Keys that are text: pal's are; anything else is another client's.
fn text(batch: Vec<Vec<u8>>) -> impl Iterator<Item = String> {
    batch.into_iter().filter_map(|key| String::from_utf8(key).ok())
}

async fn bounded<T>(deadline: Duration, call: impl Future<Output = RedisResult<T>>) -> RedisResult<T> {
    tokio::time::timeout(deadline, call).await.unwrap_or_else(|_| {
        Err(RedisError::from(std::io::Error::new(std::io::ErrorKind::TimedOut, "SCAN had no answer in time")))
    })
}

fn parse<T: redis::FromRedisValue>(value: Value) -> RedisResult<T> {
    redis::from_redis_value(value).map_err(RedisError::from)
}

/// Goes on from `cursor` with `step` (one SCAN of COUNT slots on one node) until
/// `limit` keys, the end of the node's keyspace, or [`MAX_SLOTS`] (of which
/// `examined` were looked at already).
async fn walk<F, Fut>(
    mut cursor: Option<u64>,
    mut examined: usize,
    keys: &mut Vec<String>,
    limit: usize,
    step: F,
) -> RedisResult<()>
where
    F: Fn(u64, usize) -> Fut,
    Fut: Future<Output = RedisResult<Batch>>,
{
    let mut count = (examined * 4).clamp(FIRST_COUNT, MAX_COUNT);
    while let Some(at) = cursor
        && keys.len() < limit
        && examined < MAX_SLOTS
    {
        let (next, batch) = step(at, count).await?;
        examined += count;
        count = (count * 4).min(MAX_COUNT);
        keys.extend(text(batch));
        cursor = (next != 0).then_some(next);
    }
    keys.truncate(limit);
    Ok(())
}

impl Topology {
    /// Up to `limit` keys of type string that start with `prefix`; each call to a
    /// node is bounded by `deadline`.
    pub(crate) async fn scan(&self, prefix: &str, limit: usize, deadline: Duration) -> RedisResult<Vec<String>> {
        let pattern = pattern(prefix);
        let mut keys = Vec::new();
        match self {
            Topology::Standalone(conn) | Topology::Sentinel(conn, _) => {
                let step = |at, count| {
                    let call = scan(at, &pattern, count);
                    bounded(deadline, async move { conn.send(Request::Cmd(&call)).await })
                };
                walk(Some(0), 0, &mut keys, limit, step).await?;
            }
            Topology::Cluster(lazy) => {
                let conn = bounded(deadline, lazy.connection()).await?;
                // The first round on every master at once; its answer names them.
                let all = RoutingInfo::MultiNode((MultipleNodeRoutingInfo::AllMasters, None));
                let Value::Map(masters) =
                    bounded(deadline, conn.clone().route_command(scan(0, &pattern, FIRST_COUNT), all)).await?
                else {
                    return Err(RedisError::from((
                        redis::ErrorKind::Client,
                        "SCAN on every master: unexpected answer",
                    )));
                };
                let share = limit.div_ceil(masters.len().max(1));
                for (address, reply) in masters {
                    let (address, (next, batch)): (String, Batch) = (parse(address)?, parse(reply)?);
                    let mut found: Vec<String> = text(batch).collect();
                    let node = address.rsplit_once(':').and_then(|(host, port)| {
                        Some(SingleNodeRoutingInfo::ByAddress { host: host.to_string(), port: port.parse().ok()? })
                    });
                    if let Some(node) = node {
                        let step = |at, count| {
                            let (mut conn, node) = (conn.clone(), RoutingInfo::SingleNode(node.clone()));
                            let call = scan(at, &pattern, count);
                            bounded(deadline, async move { parse(conn.route_command(call, node).await?) })
                        };
                        walk((next != 0).then_some(next), FIRST_COUNT, &mut found, share, step).await?;
                    }
                    found.truncate(share);
                    keys.extend(found);
                }
            }
        }
        keys.truncate(limit);
        Ok(keys)
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_prefix_matches_itself_only() {
        assert_eq!(super::pattern("app:"), "app:*");
        assert_eq!(super::pattern("a*b?[c]\\"), "a\\*b\\?\\[c\\]\\\\*");
    }
}
