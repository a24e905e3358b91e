# PostgreSQL servers, sourced by scripts/services: the tests' own server, the
# dedicated one the fault tests stop and start, and a replicated pair. Each is a
# cluster of this checkout's (initdb under $DATA), never the machine's.

pg_bin() {
  [[ -d /usr/lib/postgresql ]] || apt_install postgresql
  ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1
}

pg_sql() { # port query: prints the result, unaligned, without headers
  PGCONNECT_TIMEOUT=5 timeout 30 "$(pg_bin)/psql" -X -A -t -q -w -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$1" -U postgres \
    -d postgres -c "$2"
}

pg_init() { # name dir initdb-options...: a fresh cluster in dir/data
  local name=$1 dir=$2; shift 2
  rm -rf "$dir"; mkdir -p "$dir"; give_to postgres "$dir"
  as_user postgres "$(pg_bin)/initdb" -D "$dir/data" -U postgres "$@" >"$dir/initdb.log" 2>&1 \
    || die "$name: initdb failed, see $dir/initdb.log"
}

# Starts the cluster in dir/data on loopback (its socket in dir) and records its PID.
pg_run() { # name port dir [options]
  local name=$1 port=$2 dir=$3
  as_user postgres "$(pg_bin)/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 start \
    -o "-c listen_addresses=127.0.0.1 -c port=$port -c unix_socket_directories=$dir ${4:-}" >/dev/null \
    || { log "$name: did not start, see $dir/server.log"; return 1; }
  head -1 "$dir/data/postmaster.pid" >"$STATE/$name-$port.pid"
  check_owned "$name" "$port"
  log "$name: started on 127.0.0.1:$port"
}

# SIGINT is PostgreSQL's fast shutdown; SIGTERM would wait for every client.
pg_stop() { stop_port "$1" "$2" INT; }

status_port() { # name port
  local pid
  if pid=$(owned_pid "$2"); then log "$1: up on $2 (pid $pid)"
  elif in_use "$2"; then log "$1: port $2 is held by $(holder "$2"), not by this checkout"
  else log "$1: down ($2)"; fi
}

# --- the tests' PostgreSQL: user postgres, trusted on loopback ------------------------
PGS="$DATA/postgres"

start_postgres() {
  if machine_port PG_PORT; then machine_server postgres PG_PORT pg_sql "$PG_PORT" "SELECT 1"; return; fi
  if owned "$PG_PORT"; then log "postgres: running on 127.0.0.1:$PG_PORT"; return; fi
  [[ -s "$PGS/data/PG_VERSION" ]] || pg_init postgres "$PGS" --auth-local=trust --auth-host=trust
  pg_run postgres "$PG_PORT" "$PGS" || die "postgres: did not start, see $PGS/server.log"
}

stop_postgres() {
  if machine_port PG_PORT; then log "postgres: the machine's server on $PG_PORT is never stopped here"; return 0; fi
  pg_stop postgres "$PG_PORT"
}

status_postgres() {
  if machine_port PG_PORT; then log "postgres: the machine's server on $PG_PORT (PAL_TEST_MACHINE_SERVERS=1)"; return; fi
  status_port postgres "$PG_PORT"
}

# --- dedicated PostgreSQL for fault and wrong-password tests ----------------------
PGF="$DATA/postgres-fault"

start_postgres_fault() {
  if owned "$PG_FAULT_PORT"; then
    log "postgres_fault: running on 127.0.0.1:$PG_FAULT_PORT"
  else
    [[ -s "$PGF/data/PG_VERSION" ]] || pg_init postgres_fault "$PGF" --auth-local=trust --auth-host=scram-sha-256
    pg_run postgres_fault "$PG_FAULT_PORT" "$PGF" || die "postgres_fault: did not start, see $PGF/server.log"
  fi
  as_user postgres "$(pg_bin)/psql" -X -q -h "$PGF" -p "$PG_FAULT_PORT" -U postgres -d postgres -c "DO \$\$ BEGIN
      CREATE ROLE pal LOGIN SUPERUSER PASSWORD '$PG_FAULT_PASSWORD';
    EXCEPTION WHEN duplicate_object THEN NULL; END \$\$" >/dev/null
}

stop_postgres_fault() { pg_stop postgres_fault "$PG_FAULT_PORT"; }

status_postgres_fault() { status_port postgres_fault "$PG_FAULT_PORT"; }

# --- PostgreSQL pair: a primary and a streaming replica of it ----------------------
# The replica is a pg_basebackup -R copy of the primary that follows it through the
# physical slot pal_replica, so the primary keeps every WAL segment it still needs.
PGP="$DATA/pg-primary"
PGR="$DATA/pg-replica"
PG_SLOT=pal_replica
PG_PAIR_OPTIONS="-c wal_level=replica -c max_wal_senders=10 -c max_replication_slots=10"

pg_sysid() { pg_sql "$1" "SELECT system_identifier FROM pg_control_system()" 2>/dev/null; }

start_pg_primary() {
  if owned "$PG_PRIMARY_PORT"; then log "pg_replication: the primary runs on 127.0.0.1:$PG_PRIMARY_PORT"; return; fi
  if [[ ! -s "$PGP/data/PG_VERSION" ]]; then
    pg_init pg_replication "$PGP" --auth-local=trust --auth-host=trust
    # Loopback only, for queries and for the replica's WAL stream alike.
    cat >"$PGP/data/pg_hba.conf" <<'HBA'
local all         all                 trust
local replication all                 trust
host  all         all   127.0.0.1/32  trust
host  replication all   127.0.0.1/32  trust
HBA
  fi
  pg_run pg_replication "$PG_PRIMARY_PORT" "$PGP" "$PG_PAIR_OPTIONS" \
    || die "pg_replication: the primary did not start, see $PGP/server.log"
}

pg_slot() { # creates the replica's slot on the primary unless it exists
  pg_sql "$PG_PRIMARY_PORT" "SELECT pg_create_physical_replication_slot('$PG_SLOT', true) WHERE NOT EXISTS
      (SELECT FROM pg_replication_slots WHERE slot_name = '$PG_SLOT')" >/dev/null \
    || die "pg_replica: could not create the slot $PG_SLOT, see $PGP/server.log"
}

# A fresh replica: the primary's data as of now, with standby.signal and the
# primary_conninfo and primary_slot_name that -R writes.
pg_replica_build() {
  local bin deadline; bin=$(pg_bin)
  stop_pg_replica || die "pg_replica: cannot replace the server on $PG_REPLICA_PORT"
  pg_slot
  # The walsender of a replica just stopped may still hold the slot for a moment.
  deadline=$((SECONDS + 30))
  until [[ $(pg_sql "$PG_PRIMARY_PORT" "SELECT active FROM pg_replication_slots WHERE slot_name = '$PG_SLOT'") == f ]]; do
    ((SECONDS < deadline)) || die "pg_replica: the slot $PG_SLOT stays in use, see $PGP/server.log"
    sleep 0.2
  done
  rm -rf "$PGR"; mkdir -p "$PGR"; give_to postgres "$PGR"
  as_user postgres timeout 300 "$bin/pg_basebackup" -h 127.0.0.1 -p "$PG_PRIMARY_PORT" -U postgres -D "$PGR/data" \
    -R -X stream -S "$PG_SLOT" -c fast >"$PGR/basebackup.log" 2>&1 \
    || die "pg_replica: pg_basebackup failed, see $PGR/basebackup.log"
  log "pg_replica: copied the primary into $PGR/data"
}

# True when the replica's data directory is a standby of the primary answering now,
# following it on its port.
pg_replica_data_fits() { # primary's system identifier
  [[ -s "$PGR/data/PG_VERSION" && -f "$PGR/data/standby.signal" ]] || return 1
  grep -q "port=${PG_PRIMARY_PORT}[ ']" "$PGR/data/postgresql.auto.conf" 2>/dev/null || return 1
  [[ $(LC_ALL=C "$(pg_bin)/pg_controldata" -D "$PGR/data" 2>/dev/null \
    | sed -n 's/^Database system identifier: *//p') == "$1" ]]
}

pg_replica_run() {
  pg_run pg_replica "$PG_REPLICA_PORT" "$PGR" "$PG_PAIR_OPTIONS -c hot_standby=on -c hot_standby_feedback=on"
}

pg_replica_streams() {
  [[ $(pg_sql "$PG_PRIMARY_PORT" "SELECT count(*) FROM pg_stat_replication WHERE state = 'streaming'" 2>/dev/null) -ge 1 ]] \
    && [[ $(pg_sql "$PG_REPLICA_PORT" "SELECT pg_is_in_recovery()" 2>/dev/null) == t ]]
}

# Brings up the replica of this checkout's primary: reused when it is a standby of
# that primary, started when its data fits, copied afresh otherwise (and once more
# when a start from existing data does not end up streaming).
pg_replica_ensure() {
  local sysid attempt deadline
  owned "$PG_PRIMARY_PORT" \
    || die "pg_replica: no primary of this checkout on 127.0.0.1:$PG_PRIMARY_PORT (scripts/services start pg_replication)"
  sysid=$(pg_sysid "$PG_PRIMARY_PORT") || die "pg_replica: the primary does not answer queries, see $PGP/server.log"
  pg_slot
  for attempt in 1 2; do
    if owned "$PG_REPLICA_PORT"; then
      if [[ $(pg_sysid "$PG_REPLICA_PORT") != "$sysid" ]] \
        || [[ $(pg_sql "$PG_REPLICA_PORT" "SELECT pg_is_in_recovery()" 2>/dev/null) != t ]]; then
        log "pg_replica: the server on $PG_REPLICA_PORT is no standby of this primary; replacing it"
        pg_replica_build
      fi
    elif ((attempt == 2)) || ! pg_replica_data_fits "$sysid"; then
      pg_replica_build
    fi
    if owned "$PG_REPLICA_PORT" || pg_replica_run; then
      # A test may have paused replay; a paused replica still streams but applies nothing.
      pg_sql "$PG_REPLICA_PORT" "DO \$\$ BEGIN
          IF pg_is_in_recovery() THEN PERFORM pg_wal_replay_resume(); END IF;
        END \$\$" >/dev/null 2>&1 || true
      deadline=$((SECONDS + 60))
      until pg_replica_streams; do
        ((SECONDS < deadline)) || break
        sleep 0.2
      done
      pg_replica_streams && return 0
      log "pg_replica: the replica does not stream from the primary, see $PGR/server.log"
    fi
    ((attempt == 1)) && { stop_pg_replica || die "pg_replica: cannot replace the server on $PG_REPLICA_PORT"; }
  done
  die "pg_replica: no streaming replica on 127.0.0.1:$PG_REPLICA_PORT, see $PGR/server.log and $PGP/server.log"
}

start_pg_replication() {
  start_pg_primary
  pg_replica_ensure
  log "pg_replication: 127.0.0.1:$PG_REPLICA_PORT streams from 127.0.0.1:$PG_PRIMARY_PORT"
}

# The replica alone, for tests that stop and start it; its data is kept when it fits.
start_pg_replica() { pg_replica_ensure; }

stop_pg_replica() { pg_stop pg_replica "$PG_REPLICA_PORT"; }

stop_pg_replication() {
  local failed=0
  stop_pg_replica || failed=1
  pg_stop pg_replication "$PG_PRIMARY_PORT" || failed=1
  return "$failed"
}

status_pg_replica() {
  if ! owned "$PG_REPLICA_PORT"; then status_port pg_replica "$PG_REPLICA_PORT"
  elif pg_replica_streams; then log "pg_replica: up on $PG_REPLICA_PORT, streaming"
  else log "pg_replica: up on $PG_REPLICA_PORT, not streaming"; fi
}

status_pg_replication() {
  status_port "pg_replication primary" "$PG_PRIMARY_PORT"
  status_pg_replica
}
