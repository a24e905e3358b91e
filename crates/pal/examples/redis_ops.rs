//! A fixed number of Redis GETs through pal or through a raw redis-rs multiplexed
//! connection, for counting the client's instructions under
//! `valgrind --tool=callgrind`. Usage: redis_ops pal|raw N [redis://host:port] (by
//! default the tests' Redis, REDIS_PORT in scripts/ports.env)

use pal_test_support::ports;

use bytes::Bytes;
use pal::{Settings, Ttl};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let (which, n) = (args[1].as_str(), args[2].parse::<usize>().unwrap());
    let url = args.get(3).cloned().unwrap_or_else(ports::redis_url);
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    rt.block_on(async {
        let settings = Settings::from_vars([
            ("CACHE_PROVIDER", "redis"),
            ("DB_PROVIDER", "sqlite"),
            ("REDIS_URL", url.as_str()),
            ("CACHE_INSECURE_NO_ENCRYPTION", "true"),
        ])
        .unwrap();
        let cache = pal::factory::build_cache(&settings).await.unwrap();
        let mut raw = redis::Client::open(url.as_str()).unwrap().get_multiplexed_async_connection().await.unwrap();
        cache.set("ops:k", Bytes::from(vec![b'x'; 256]), Ttl::from_secs(300).unwrap()).await.unwrap();
        let mut total = 0usize;
        for _ in 0..n {
            total += match which {
                "pal" => cache.get("ops:k").await.unwrap().map_or(0, |v| v.len()),
                _ => redis::cmd("GET")
                    .arg("ops:k")
                    .query_async::<Option<Vec<u8>>>(&mut raw)
                    .await
                    .unwrap()
                    .map_or(0, |v| v.len()),
            };
        }
        std::hint::black_box(total);
    });
}
