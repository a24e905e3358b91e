//! Which PostgreSQL database an adapter is for: named from its URL without
//! connecting, and asked of the server itself.

use sqlx::postgres::PgConnectOptions;

use crate::db::DbTarget;

/// Host (or socket), port and database as the driver resolves them from the URL,
/// the database defaulting to the user's name as the server does.
pub(super) fn target(provider: &str, options: &PgConnectOptions) -> DbTarget {
    let database = options.get_database().unwrap_or(options.get_username());
    match options.get_socket() {
        Some(socket) => DbTarget::socket(provider, socket, options.get_port(), database),
        None => DbTarget::server(provider, options.get_host(), options.get_port(), database),
    }
}

/// The cluster's system identifier, chosen at `initdb` and kept by its physical
/// replicas, and the database: a new cluster at the same address answers
/// differently. `pg_control_system()` is open to every role.
pub(super) const POSTGRES: &[&str] = &["SELECT 'system ' || system_identifier::text || ', database ' || \
                                       current_database() FROM pg_control_system()"];

/// CockroachDB has no control file: its cluster id plays that part.
pub(super) const COCKROACH: &[&str] =
    &["SELECT 'cluster ' || crdb_internal.cluster_id()::STRING || ', database ' || current_database()"];
