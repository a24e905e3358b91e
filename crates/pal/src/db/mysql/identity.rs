//! Which MySQL or MariaDB database an adapter is for: named from its URL without
//! connecting, and asked of the server itself.

use sqlx::mysql::MySqlConnectOptions;

use crate::db::DbTarget;

/// Host (or socket), port and database as the driver resolves them from the URL.
pub(super) fn target(provider: &str, options: &MySqlConnectOptions) -> DbTarget {
    let database = options.get_database().unwrap_or("");
    match options.get_socket() {
        Some(socket) => DbTarget::socket(provider, socket, options.get_port(), database),
        None => DbTarget::server(provider, options.get_host(), options.get_port(), database),
    }
}

/// MySQL's `server_uuid` is generated with the data directory, so a new server at
/// the same address answers differently. MariaDB has none (the query fails with
/// 1193, unknown variable); its `server_uid` hashes the host's MAC address and the
/// port, so it tells apart a server on another machine behind the same address,
/// not a data directory created again in place.
pub(super) const QUERIES: &[&str] = &[
    "SELECT CONCAT('server_uuid ', @@server_uuid, ', database ', COALESCE(DATABASE(), ''))",
    "SELECT CONCAT('server_uid ', @@server_uid, ', database ', COALESCE(DATABASE(), ''))",
];
