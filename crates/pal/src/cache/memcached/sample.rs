//! A few keys for the sealing layer's key check. Memcached has no command that
//! lists keys by prefix; `lru_crawler metadump all` (memcached 1.4.31 and later,
//! with the LRU crawler on, the default since 1.5) streams one line per live item,
//! keys percent-encoded. The dump is read only until enough keys of the prefix are
//! found, a line cap, or the deadline; closing the connection then stops it. A
//! server that refuses the command (or is busy with another dump) has nothing to
//! sample.

use std::time::Duration;

use percent_encoding::percent_decode_str;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

use super::PROVIDER;
use super::keys::MAPPED;
use crate::error::{Error, ErrorKind, Result};

/// Items read from one server's dump at most, matching or not.
const MAX_LINES: usize = 100_000;

/// The key of one `metadump` line (`key=… exp=… la=… …`), decoded.
fn key_of(line: &str) -> Option<String> {
    let encoded = line.strip_prefix("key=")?.split(' ').next()?;
    percent_decode_str(encoded).decode_utf8().ok().map(|key| key.into_owned())
}

fn failed(server: &str, why: impl std::fmt::Display) -> Error {
    Error::new(ErrorKind::Connection, format!("server {server}: lru_crawler metadump: {why}"))
        .with_provider(PROVIDER.name)
}

/// Up to `limit` keys of `server` that start with `prefix`, as callers named them
/// (keys memcached would have refused are stored under a digest, and left out).
/// `Ok(None)` when the server cannot list its keys. What was found by the deadline
/// is the answer.
pub(super) async fn keys(server: &str, prefix: &str, limit: usize, deadline: Duration) -> Result<Option<Vec<String>>> {
    let until = tokio::time::Instant::now() + deadline;
    let stream = tokio::time::timeout_at(until, TcpStream::connect(server))
        .await
        .map_err(|_| failed(server, "no connection in time"))?
        .map_err(|e| failed(server, e))?;
    let mut stream = BufReader::new(stream);
    stream.get_mut().write_all(b"lru_crawler metadump all\r\n").await.map_err(|e| failed(server, e))?;
    let mut found = Vec::new();
    let mut line = String::new();
    for read in 0..MAX_LINES {
        line.clear();
        match tokio::time::timeout_at(until, stream.read_line(&mut line)).await {
            Err(_) | Ok(Ok(0)) => break,
            Ok(Err(e)) => return Err(failed(server, e)),
            Ok(Ok(_)) => {}
        }
        let line = line.trim_end();
        match key_of(line) {
            Some(key) if key.starts_with(prefix) && !key.starts_with(MAPPED) => found.push(key),
            Some(_) => {}
            None if line == "END" => break,
            // BUSY: another dump runs, so none can be had now; ERROR or CLIENT_ERROR:
            // too old, or the crawler is off. Either way the record alone speaks.
            None if read == 0 => {
                tracing::info!(server, answer = line, "memcached: lru_crawler metadump refused, no key sample");
                return Ok(None);
            }
            None => return Err(failed(server, format!("unexpected line {line:?}"))),
        }
        if found.len() >= limit {
            break;
        }
    }
    Ok(Some(found))
}

#[cfg(test)]
mod tests {
    #[test]
    fn dump_lines_give_their_decoded_key() {
        let line = "key=app%3Asession%3Aabc exp=1796616528 la=1796616468 cas=1 fetch=no cls=1 size=65";
        assert_eq!(super::key_of(line).as_deref(), Some("app:session:abc"));
        assert_eq!(super::key_of("END"), None);
    }
}
