# MariaDB servers, sourced by scripts/services: the tests' own server, the dedicated
# one the fault tests stop and start, and a GTID-replicated pair. Each runs on a
# data directory of this checkout's (under $DATA) with --no-defaults: nothing is
# read from, or written to, the machine's MariaDB configuration or data.

need_mariadb() { [[ -x /usr/sbin/mariadbd ]] || apt_install mariadb-server; }

# mariadbd's --user, which only root may pass.
mysql_user() { if [[ $(id -u) -eq 0 ]]; then echo --user=mysql; fi; }

mdb_sql() { # port query: prints the result, tab-separated, without headers
  timeout 30 mariadb --no-defaults --protocol=TCP -h 127.0.0.1 -P "$1" -uroot --connect-timeout=5 -N -B -e "$2"
}

mdb_install() { # name dir
  need_mariadb
  rm -rf "$2"; mkdir -p "$2/data"; give_to mysql "$2"
  # Without --log-bin: the install writes nothing to a binlog, so the primary's
  # binlog starts empty and a fresh replica can replay it from its beginning.
  # "normal" gives root@127.0.0.1 an empty password, which the tests log in with.
  mariadb-install-db --no-defaults --datadir="$2/data" $(mysql_user) --auth-root-authentication-method=normal \
    --skip-test-db >"$2/install.log" 2>&1 || die "$1: install failed, see $2/install.log"
}

# Starts mariadbd on dir/data, on loopback with its socket in dir, and records its PID.
mdb_run() { # name port dir log-basename [options...]
  local name=$1 port=$2 dir=$3 base=$4 pid; shift 4
  need_mariadb
  setsid /usr/sbin/mariadbd --no-defaults --log-basename="$base" --datadir="$dir/data" $(mysql_user) \
    --bind-address=127.0.0.1 --port="$port" --socket="$dir/mariadbd.sock" --pid-file="$dir/mariadbd.pid" \
    --log-error="$dir/error.log" --character-set-server=utf8mb4 --collation-server=utf8mb4_general_ci \
    --skip-name-resolve --gtid-strict-mode=1 "$@" </dev/null >/dev/null 2>&1 &
  pid=$!
  echo "$pid" >"$STATE/$name-$port.pid"
  wait_started "$port" "$name" "$dir/error.log" "$pid" || return 1
  check_owned "$name" "$port"
  log "$name: started the $base on 127.0.0.1:$port"
}

stop_mdb() { stop_port "$1" "$2" TERM 60; }

# --- the tests' MariaDB: root, empty password, on loopback --------------------------
MDS="$DATA/mariadb"

start_mariadb() {
  if machine_port MARIADB_PORT; then machine_server mariadb MARIADB_PORT mdb_sql "$MARIADB_PORT" "SELECT 1"; return; fi
  if owned "$MARIADB_PORT"; then log "mariadb: running on 127.0.0.1:$MARIADB_PORT"; return; fi
  [[ -d "$MDS/data/mysql" ]] || mdb_install mariadb "$MDS"
  mdb_run mariadb "$MARIADB_PORT" "$MDS" server || die "mariadb: did not start, see $MDS/error.log"
}

stop_mariadb() {
  if machine_port MARIADB_PORT; then log "mariadb: the machine's server on $MARIADB_PORT is never stopped here"; return 0; fi
  stop_mdb mariadb "$MARIADB_PORT"
}

status_mariadb() {
  if machine_port MARIADB_PORT; then log "mariadb: the machine's server on $MARIADB_PORT (PAL_TEST_MACHINE_SERVERS=1)"; return; fi
  status_port mariadb "$MARIADB_PORT"
}

# --- dedicated MariaDB for fault tests -----------------------------------------
MDF="$DATA/mariadb-fault"

start_mariadb_fault() {
  if owned "$MARIADB_FAULT_PORT"; then log "mariadb_fault: running on 127.0.0.1:$MARIADB_FAULT_PORT"; return; fi
  [[ -d "$MDF/data/mysql" ]] || mdb_install mariadb_fault "$MDF"
  mdb_run mariadb_fault "$MARIADB_FAULT_PORT" "$MDF" server || die "mariadb_fault: did not start, see $MDF/error.log"
}

stop_mariadb_fault() { stop_mdb mariadb_fault "$MARIADB_FAULT_PORT"; }

status_mariadb_fault() { status_port mariadb_fault "$MARIADB_FAULT_PORT"; }

# --- MariaDB pair: a primary and a GTID replica of it -------------------------------
MDP="$DATA/mariadb-primary"
MDR="$DATA/mariadb-replica"

start_mariadb_primary() {
  if owned "$MARIADB_PRIMARY_PORT"; then
    log "mariadb_replication: the primary runs on 127.0.0.1:$MARIADB_PRIMARY_PORT"; return
  fi
  [[ -d "$MDP/data/mysql" ]] || mdb_install mariadb_replication "$MDP"
  mdb_run mariadb_replication "$MARIADB_PRIMARY_PORT" "$MDP" primary --server-id=1 --log-bin=primary-bin --binlog-format=ROW \
    || die "mariadb_replication: the primary did not start, see $MDP/error.log"
}

mdb_primary_prepare() {
  # The replication user stays out of the binlog; the origin row goes into it, and
  # tells a replica of an earlier install of the primary (whose GTIDs this one reuses).
  mdb_sql "$MARIADB_PRIMARY_PORT" "SET sql_log_bin = 0;
    CREATE USER IF NOT EXISTS 'repl'@'127.0.0.1' IDENTIFIED BY 'repl';
    GRANT REPLICATION SLAVE ON *.* TO 'repl'@'127.0.0.1';
    SET sql_log_bin = 1;
    CREATE DATABASE IF NOT EXISTS pal_replication_check;
    CREATE TABLE IF NOT EXISTS pal_replication_check.origin (id INT PRIMARY KEY, token VARCHAR(64) NOT NULL);
    INSERT IGNORE INTO pal_replication_check.origin VALUES (1, UUID());" \
    || die "mariadb_replication: could not prepare the primary, see $MDP/error.log"
}

mdb_slave_status() { # the replica's SHOW SLAVE STATUS, one "Field: value" a line
  timeout 30 mariadb --no-defaults --protocol=TCP -h 127.0.0.1 -P "$MARIADB_REPLICA_PORT" -uroot --connect-timeout=5 \
    -e "SHOW SLAVE STATUS\G"
}

mdb_slave_field() { # SHOW SLAVE STATUS output, field
  sed -n "s/^ *$2: //p" <<<"$1" | head -1
}

mdb_origin() { mdb_sql "$1" "SELECT token FROM pal_replication_check.origin WHERE id = 1" 2>/dev/null || true; }

# True when the replica applies the primary's binlog: both threads run, and a row
# written on the primary now shows on the replica.
mdb_replicates() {
  local status deadline token
  deadline=$((SECONDS + 30))
  while :; do
    status=$(mdb_slave_status 2>/dev/null || true)
    [[ $(mdb_slave_field "$status" Slave_IO_Running) == Yes && $(mdb_slave_field "$status" Slave_SQL_Running) == Yes ]] \
      && break
    # A thread stopped on an error does not come back by waiting (1236: the primary
    # has no binlog for the replica's position).
    if [[ $(mdb_slave_field "$status" Slave_SQL_Running) == No && $(mdb_slave_field "$status" Last_SQL_Errno) != 0 ]] \
      || [[ $(mdb_slave_field "$status" Last_IO_Errno) == 1236 ]]; then
      log "mariadb_replica: replication failed: $(mdb_slave_field "$status" Last_IO_Error)$(mdb_slave_field "$status" Last_SQL_Error)"
      return 1
    fi
    ((SECONDS < deadline)) || { log "mariadb_replica: replication does not run"; return 1; }
    sleep 0.2
  done
  token=$(date +%s%N)
  mdb_sql "$MARIADB_PRIMARY_PORT" "CREATE TABLE IF NOT EXISTS pal_replication_check.beat
      (id INT PRIMARY KEY, token VARCHAR(64) NOT NULL);
    REPLACE INTO pal_replication_check.beat VALUES (1, '$token')" || return 1
  deadline=$((SECONDS + 30))
  until [[ $(mdb_sql "$MARIADB_REPLICA_PORT" "SELECT token FROM pal_replication_check.beat WHERE id = 1" 2>/dev/null) == "$token" ]]; do
    ((SECONDS < deadline)) || { log "mariadb_replica: a row written on the primary did not reach the replica"; return 1; }
    sleep 0.2
  done
}

# Brings up the replica of this checkout's primary: reused or started when its
# data follows that primary, installed afresh otherwise (and once more when it does
# not replicate).
mariadb_replica_ensure() {
  local origin attempt status fresh theirs
  owned "$MARIADB_PRIMARY_PORT" || die "mariadb_replica: no primary of this checkout on 127.0.0.1:$MARIADB_PRIMARY_PORT" \
    "(scripts/services start mariadb_replication)"
  origin=$(mdb_origin "$MARIADB_PRIMARY_PORT")
  [[ -n "$origin" ]] || die "mariadb_replica: the primary has no origin row, see $MDP/error.log"
  need_mariadb
  for attempt in 1 2; do
    fresh=
    if ((attempt == 2)); then
      stop_mariadb_replica || die "mariadb_replica: cannot replace the server on $MARIADB_REPLICA_PORT"
      log "mariadb_replica: installing it afresh"
      mdb_install mariadb_replica "$MDR"; fresh=1
    fi
    if ! owned "$MARIADB_REPLICA_PORT"; then
      [[ -d "$MDR/data/mysql" ]] || { mdb_install mariadb_replica "$MDR"; fresh=1; }
      mdb_run mariadb_replica "$MARIADB_REPLICA_PORT" "$MDR" replica --server-id=2 --log-bin=replica-bin --read-only=1 \
        --log-slave-updates || continue
    fi
    status=$(mdb_slave_status) || continue
    theirs=$(mdb_origin "$MARIADB_REPLICA_PORT")
    if [[ -n "$theirs" && "$theirs" != "$origin" ]]; then
      log "mariadb_replica: its data comes from another install of the primary"
      continue
    fi
    if [[ -n $(mdb_slave_field "$status" Master_Host) \
      && $(mdb_slave_field "$status" Master_Port) != "$MARIADB_PRIMARY_PORT" ]]; then
      log "mariadb_replica: it follows port $(mdb_slave_field "$status" Master_Port), not the primary's"
      continue
    fi
    if [[ -z $(mdb_slave_field "$status" Master_Host) ]]; then
      if [[ -z $fresh && -n $(mdb_sql "$MARIADB_REPLICA_PORT" "SELECT @@gtid_slave_pos") ]]; then
        log "mariadb_replica: replication is not set up, yet the data has replicated GTIDs"
        continue
      fi
      # From the primary's first GTID: both installs are fresh, and the primary's binlog holds all of its changes.
      mdb_sql "$MARIADB_REPLICA_PORT" "SET GLOBAL gtid_slave_pos = '';
        CHANGE MASTER TO MASTER_HOST = '127.0.0.1', MASTER_PORT = $MARIADB_PRIMARY_PORT,
          MASTER_USER = 'repl', MASTER_PASSWORD = 'repl', MASTER_USE_GTID = slave_pos" || continue
    fi
    # Always: a test may have left a thread stopped.
    mdb_sql "$MARIADB_REPLICA_PORT" "START SLAVE" || continue
    mdb_replicates && return 0
  done
  die "mariadb_replica: no working replica on 127.0.0.1:$MARIADB_REPLICA_PORT, see $MDR/error.log and $MDP/error.log"
}

start_mariadb_replication() {
  start_mariadb_primary
  mdb_primary_prepare
  mariadb_replica_ensure
  log "mariadb_replication: 127.0.0.1:$MARIADB_REPLICA_PORT replicates 127.0.0.1:$MARIADB_PRIMARY_PORT"
}

# The replica alone, for tests that stop and start it; its data is kept when it fits.
start_mariadb_replica() { mariadb_replica_ensure; }

stop_mariadb_replica() { stop_mdb mariadb_replica "$MARIADB_REPLICA_PORT"; }

stop_mariadb_replication() {
  local failed=0
  stop_mariadb_replica || failed=1
  stop_mdb mariadb_replication "$MARIADB_PRIMARY_PORT" || failed=1
  return "$failed"
}

status_mariadb_replica() {
  local status
  if ! owned "$MARIADB_REPLICA_PORT"; then status_port mariadb_replica "$MARIADB_REPLICA_PORT"; return; fi
  status=$(mdb_slave_status 2>/dev/null || true)
  log "mariadb_replica: up on $MARIADB_REPLICA_PORT (IO thread $(mdb_slave_field "$status" Slave_IO_Running)," \
    "SQL thread $(mdb_slave_field "$status" Slave_SQL_Running))"
}

status_mariadb_replication() {
  status_port "mariadb_replication primary" "$MARIADB_PRIMARY_PORT"
  status_mariadb_replica
}
