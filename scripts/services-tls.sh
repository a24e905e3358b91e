# TLS servers for the TLS tests, sourced by scripts/services. Certificates are
# made here with openssl, under .services/tls, on first use; no private key is
# ever committed. The server certificate names localhost and 127.0.0.1 only, so
# 127.0.0.2 (also loopback) is a host name the certificate does not cover.
TLS="$STATE/tls"

tls_cert() { # name subject SAN issuer(ca|other-ca|self)
  local name=$1 subject=$2 san=$3 issuer=$4
  openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "$subject" \
    -keyout "$TLS/$name.key" -out "$TLS/$name.csr" 2>/dev/null
  printf 'subjectAltName=%s\nbasicConstraints=CA:FALSE\n' "$san" >"$TLS/$name.ext"
  openssl x509 -req -in "$TLS/$name.csr" -CA "$TLS/$issuer.pem" -CAkey "$TLS/$issuer.key" -CAcreateserial \
    -days 3650 -extfile "$TLS/$name.ext" -out "$TLS/$name.pem" 2>/dev/null
  rm -f "$TLS/$name.csr" "$TLS/$name.ext"
}

tls_ca() { # name subject
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "$2" -days 3650 \
    -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign \
    -keyout "$TLS/$1.key" -out "$TLS/$1.pem" 2>/dev/null
}

start_tls_certs() {
  [[ -s "$TLS/client.pem" ]] && return 0
  command -v openssl >/dev/null || apt_install openssl
  rm -rf "$TLS"; mkdir -p "$TLS"
  tls_ca ca "/CN=pal test CA"
  tls_ca other-ca "/CN=pal test CA that signed nothing here"
  tls_cert server "/CN=localhost" "DNS:localhost,IP:127.0.0.1" ca
  # PostgreSQL's cert authentication takes the role from the common name.
  tls_cert client "/CN=pal_cert" "DNS:pal_cert" ca
  tls_cert stranger "/CN=pal_cert" "DNS:pal_cert" other-ca
  chmod 644 "$TLS"/*.pem "$TLS"/*.key
  [[ -s "$TLS/client.pem" ]] || die "tls: openssl did not make the test certificates"
  log "tls: test certificates made in $TLS"
}

# Whether the server on a port proves itself with this checkout's certificates.
# A server another checkout started answers with its own CA: it is replaced.
tls_verifies() { # port [starttls protocol]
  timeout 5 openssl s_client ${2:+-starttls "$2"} -connect "127.0.0.1:$1" -CAfile "$TLS/ca.pem" \
    -verify_return_error -verify_ip 127.0.0.1 </dev/null >/dev/null 2>&1
}

reuse_tls() { # port name [starttls protocol]: true when a server with our certificates answers
  answers "$1" || return 1
  if tls_verifies "$1" "${3:-}"; then log "$2: reusing 127.0.0.1:$1"; return 0; fi
  log "$2: the server on $1 has other certificates; replacing it"
  "stop_$2"
  return 1
}

status_tls_certs() { [[ -s "$TLS/client.pem" ]] && log "tls: certificates in $TLS"; }

# --- PostgreSQL with TLS -------------------------------------------------------
PGT="$DATA/postgres-tls"

start_postgres_tls() {
  start_tls_certs
  reuse_tls "$PG_TLS_PORT" postgres_tls postgres && return
  local bin; bin=$(pg_bin)
  if [[ ! -s "$PGT/data/PG_VERSION" ]]; then
    rm -rf "$PGT"; mkdir -p "$PGT"; give_to postgres "$PGT"
    as_user postgres "$bin/initdb" -D "$PGT/data" -U postgres --auth-local=trust \
      >"$PGT/initdb.log" 2>&1 || die "postgres_tls: initdb failed, see $PGT/initdb.log"
  fi
  # As a managed service: TLS or nothing over TCP; role pal_cert by client certificate only.
  cat >"$PGT/data/pg_hba.conf" <<'HBA'
local all all trust
hostssl all pal_cert 127.0.0.0/8 cert
hostssl all all 127.0.0.0/8 trust
host all pal_plain 127.0.0.0/8 trust
hostnossl all all 127.0.0.0/8 reject
HBA
  # PostgreSQL insists that its key belongs to it and is private.
  install -m 600 -o postgres "$TLS/server.key" "$PGT/server.key" 2>/dev/null || install -m 600 "$TLS/server.key" "$PGT/server.key"
  install -m 644 "$TLS/server.pem" "$PGT/server.pem"
  install -m 644 "$TLS/ca.pem" "$PGT/ca.pem"
  as_user postgres "$bin/pg_ctl" -D "$PGT/data" -l "$PGT/server.log" -w -t 60 start \
    -o "-c listen_addresses=127.0.0.1,127.0.0.2 -c port=$PG_TLS_PORT -c unix_socket_directories=$PGT \
        -c ssl=on -c ssl_cert_file=$PGT/server.pem -c ssl_key_file=$PGT/server.key -c ssl_ca_file=$PGT/ca.pem" \
    >/dev/null || die "postgres_tls: did not start, see $PGT/server.log"
  head -1 "$PGT/data/postmaster.pid" >"$STATE/postgres_tls.pid"
  as_user postgres "$bin/psql" -q -h "$PGT" -p "$PG_TLS_PORT" -U postgres -d postgres -c "DO \$\$ BEGIN
      CREATE ROLE pal_cert LOGIN SUPERUSER;
    EXCEPTION WHEN duplicate_object THEN NULL; END \$\$" >/dev/null
  # The TLS benchmark's plaintext side, on the same server.
  as_user postgres "$bin/psql" -q -h "$PGT" -p "$PG_TLS_PORT" -U postgres -d postgres -c "DO \$\$ BEGIN
      CREATE ROLE pal_plain LOGIN SUPERUSER;
    EXCEPTION WHEN duplicate_object THEN NULL; END \$\$" >/dev/null
  wait_for "$PG_TLS_PORT" postgres_tls
  log "postgres_tls: started on 127.0.0.1:$PG_TLS_PORT"
}

stop_postgres_tls() {
  if [[ -s "$PGT/data/postmaster.pid" ]]; then
    as_user postgres "$(pg_bin)/pg_ctl" -D "$PGT/data" -m fast -w -t 60 stop >/dev/null || true
    log "postgres_tls: stopped"
  fi
  rm -f "$STATE/postgres_tls.pid"
  stop_listener "$PG_TLS_PORT" postgres_tls INT
}

status_postgres_tls() { answers "$PG_TLS_PORT" && log "postgres_tls: up on $PG_TLS_PORT" || log "postgres_tls: down"; }

# --- MariaDB with TLS ----------------------------------------------------------
MDT="$DATA/mariadb-tls"

start_mariadb_tls() {
  start_tls_certs
  reuse_tls "$MARIADB_TLS_PORT" mariadb_tls mysql && return
  [[ -x /usr/sbin/mariadbd ]] || apt_install mariadb-server
  if [[ ! -d "$MDT/data/mysql" ]]; then
    rm -rf "$MDT"; mkdir -p "$MDT/data"; give_to mysql "$MDT"
    mariadb-install-db --no-defaults --datadir="$MDT/data" $(mysql_user) --auth-root-authentication-method=normal \
      --skip-test-db >"$MDT/install.log" 2>&1 || die "mariadb_tls: install failed, see $MDT/install.log"
  fi
  install -m 644 "$TLS/server.pem" "$TLS/ca.pem" "$MDT/"
  install -m 600 "$TLS/server.key" "$MDT/server.key"
  give_to mysql "$MDT/server.key"
  setsid /usr/sbin/mariadbd --no-defaults --datadir="$MDT/data" $(mysql_user) --bind-address=127.0.0.1 \
    --port="$MARIADB_TLS_PORT" --socket="$MDT/mariadbd.sock" --pid-file="$MDT/mariadbd.pid" \
    --character-set-server=utf8mb4 --collation-server=utf8mb4_general_ci --skip-name-resolve \
    --ssl-cert="$MDT/server.pem" --ssl-key="$MDT/server.key" --ssl-ca="$MDT/ca.pem" --require-secure-transport=ON \
    --log-error="$MDT/error.log" </dev/null >/dev/null 2>&1 &
  echo $! >"$STATE/mariadb_tls.pid"
  wait_for "$MARIADB_TLS_PORT" mariadb_tls
  log "mariadb_tls: started on 127.0.0.1:$MARIADB_TLS_PORT"
}

stop_mariadb_tls() {
  local pidfile="$STATE/mariadb_tls.pid"
  if [[ -s "$pidfile" ]]; then kill "$(cat "$pidfile")" 2>/dev/null || true; rm -f "$pidfile"; log "mariadb_tls: stopped"; fi
  stop_listener "$MARIADB_TLS_PORT" mariadb_tls
}

status_mariadb_tls() { answers "$MARIADB_TLS_PORT" && log "mariadb_tls: up on $MARIADB_TLS_PORT" || log "mariadb_tls: down"; }

# --- Redis with a TLS port and a plaintext one, and a TLS-only sentinel ---------
redis_tls_cli() { redis-cli --tls --cacert "$TLS/ca.pem" -h 127.0.0.1 "$@"; }
redis_tls_answers() { redis_tls_cli -p "$1" ping 2>/dev/null | grep -q PONG; }

start_redis_tls() {
  start_tls_certs
  need_redis
  local certs=(--tls-cert-file "$TLS/server.pem" --tls-key-file "$TLS/server.key" --tls-ca-cert-file "$TLS/ca.pem"
    --tls-auth-clients optional --tls-replication yes)
  local port
  for port in "$REDIS_TLS_PORT" "$SENTINEL_TLS_PORT"; do
    if answers "$port" && ! tls_verifies "$port"; then
      log "redis_tls: the server on $port has other certificates; replacing Redis and its sentinel"
      stop_redis_tls
      break
    fi
  done
  if ! redis_tls_answers "$REDIS_TLS_PORT"; then
    local dir="$RUNTIME/redis-tls-$REDIS_TLS_PORT"; mkdir -p "$dir"
    redis-server --port "$REDIS_TLS_PLAIN_PORT" --tls-port "$REDIS_TLS_PORT" --bind 127.0.0.1 "${certs[@]}" --daemonize yes \
      --pidfile "$STATE/redis-tls-$REDIS_TLS_PORT.pid" --dir "$dir" --logfile "$dir/server.log" --save '' \
      || die "redis_tls: did not start (see $dir/server.log)"
  fi
  if ! redis_tls_answers "$SENTINEL_TLS_PORT"; then
    local dir="$RUNTIME/sentinel-tls-$SENTINEL_TLS_PORT"; mkdir -p "$dir"
    cat >"$dir/sentinel.conf" <<CONF
port 0
tls-port $SENTINEL_TLS_PORT
bind 127.0.0.1
tls-cert-file $TLS/server.pem
tls-key-file $TLS/server.key
tls-ca-cert-file $TLS/ca.pem
tls-auth-clients optional
tls-replication yes
sentinel monitor tlsmaster 127.0.0.1 $REDIS_TLS_PORT 1
CONF
    redis-server "$dir/sentinel.conf" --sentinel --daemonize yes --pidfile "$STATE/sentinel-tls-$SENTINEL_TLS_PORT.pid" \
      --logfile "$dir/sentinel.log" || die "sentinel_tls: did not start (see $dir/sentinel.log)"
  fi
  local deadline=$((SECONDS + 20))
  until redis_tls_answers "$REDIS_TLS_PORT" && redis_tls_cli -p "$SENTINEL_TLS_PORT" sentinel get-master-addr-by-name tlsmaster 2>/dev/null | grep -q 127.0.0.1; do
    ((SECONDS < deadline)) || die "redis_tls: the TLS Redis or its sentinel does not answer"
    sleep 0.2
  done
  log "redis_tls: Redis with TLS on 127.0.0.1:$REDIS_TLS_PORT (plaintext on $REDIS_TLS_PLAIN_PORT), its sentinel on $SENTINEL_TLS_PORT"
}

stop_redis_tls() {
  stop_listener "$SENTINEL_TLS_PORT" sentinel_tls
  stop_listener "$REDIS_TLS_PORT" redis_tls
  rm -f "$STATE/redis-tls-$REDIS_TLS_PORT.pid" "$STATE/sentinel-tls-$SENTINEL_TLS_PORT.pid"
}

status_redis_tls() { redis_tls_answers "$REDIS_TLS_PORT" && log "redis_tls: up on $REDIS_TLS_PORT"; }

# --- Redis Cluster, TLS only (3 masters, no replicas) ----------------------------
cluster_tls_ok() {
  local p
  for p in $CLUSTER_TLS_PORTS; do
    redis_tls_cli -p "$p" cluster info 2>/dev/null | grep -q 'cluster_state:ok' || return 1
  done
}

stop_cluster_tls() {
  local p
  for p in $CLUSTER_TLS_PORTS; do
    stop_listener "$p" cluster_tls
    rm -f "$STATE/cluster-tls-$p.pid"
  done
}

start_cluster_tls() {
  start_tls_certs
  need_redis
  local p ports=($CLUSTER_TLS_PORTS)
  for p in "${ports[@]}"; do
    if answers "$p" && ! tls_verifies "$p"; then
      log "cluster_tls: a node on $p has other certificates; replacing the cluster"
      stop_cluster_tls
      rm -rf "$RUNTIME"/cluster-tls-*
      break
    fi
  done
  for p in "${ports[@]}"; do
    redis_tls_answers "$p" && continue
    local dir="$RUNTIME/cluster-tls-$p"; mkdir -p "$dir"
    redis-server --port 0 --tls-port "$p" --bind 127.0.0.1 --tls-cluster yes --tls-replication yes \
      --tls-cert-file "$TLS/server.pem" --tls-key-file "$TLS/server.key" --tls-ca-cert-file "$TLS/ca.pem" \
      --tls-auth-clients optional --cluster-enabled yes --cluster-config-file nodes.conf --cluster-node-timeout 2000 \
      --daemonize yes --pidfile "$STATE/cluster-tls-$p.pid" --dir "$dir" --logfile "$dir/server.log" --save '' \
      || die "cluster_tls: node $p did not start (see $dir/server.log)"
  done
  local deadline=$((SECONDS + 60))
  until cluster_tls_ok; do
    ((SECONDS < deadline)) || die "cluster_tls: the TLS cluster on $CLUSTER_TLS_PORTS did not become healthy in 60 s"
    if [[ "$(redis_tls_cli -p "${ports[0]}" cluster info 2>/dev/null | sed -n 's/cluster_known_nodes:\([0-9]*\).*/\1/p')" == 1 ]]; then
      local nodes=()
      for p in "${ports[@]}"; do nodes+=("127.0.0.1:$p"); done
      redis_tls_cli --cluster create "${nodes[@]}" --cluster-replicas 0 --cluster-yes >/dev/null \
        || die "cluster_tls: redis-cli --cluster create failed"
    fi
    sleep 0.2
  done
  log "cluster_tls: 3 masters on $CLUSTER_TLS_PORTS, TLS only"
}

status_cluster_tls() { cluster_tls_ok && log "cluster_tls: up on $CLUSTER_TLS_PORTS"; }
