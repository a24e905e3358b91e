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

need_openssl() { command -v openssl >/dev/null || apt_install openssl; }

start_tls_certs() {
  [[ -s "$TLS/client.pem" ]] && return 0
  need_openssl
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
tls_verifies() { # port [starttls protocol]
  timeout 5 openssl s_client ${2:+-starttls "$2"} -connect "127.0.0.1:$1" -CAfile "$TLS/ca.pem" \
    -verify_return_error -verify_ip 127.0.0.1 </dev/null >/dev/null 2>&1
}

# True when this checkout's server runs on the port with its current certificates;
# one of its own with certificates made before is stopped, to be started again.
reuse_tls() { # port name [starttls protocol]
  owned "$1" || return 1
  if tls_verifies "$1" "${3:-}"; then log "$2: running on 127.0.0.1:$1"; return 0; fi
  log "$2: the server on $1 has certificates made before; replacing it"
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
  [[ -s "$PGT/data/PG_VERSION" ]] || pg_init postgres_tls "$PGT" --auth-local=trust
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
  pg_run postgres_tls "$PG_TLS_PORT" "$PGT" "-c listen_addresses=127.0.0.1,127.0.0.2 -c ssl=on \
      -c ssl_cert_file=$PGT/server.pem -c ssl_key_file=$PGT/server.key -c ssl_ca_file=$PGT/ca.pem" \
    || die "postgres_tls: did not start, see $PGT/server.log"
  as_user postgres "$bin/psql" -q -h "$PGT" -p "$PG_TLS_PORT" -U postgres -d postgres -c "DO \$\$ BEGIN
      CREATE ROLE pal_cert LOGIN SUPERUSER;
    EXCEPTION WHEN duplicate_object THEN NULL; END \$\$" >/dev/null
  # The TLS benchmark's plaintext side, on the same server.
  as_user postgres "$bin/psql" -q -h "$PGT" -p "$PG_TLS_PORT" -U postgres -d postgres -c "DO \$\$ BEGIN
      CREATE ROLE pal_plain LOGIN SUPERUSER;
    EXCEPTION WHEN duplicate_object THEN NULL; END \$\$" >/dev/null
}

stop_postgres_tls() { pg_stop postgres_tls "$PG_TLS_PORT"; }

status_postgres_tls() { status_port postgres_tls "$PG_TLS_PORT"; }

# --- MariaDB with TLS ----------------------------------------------------------
MDT="$DATA/mariadb-tls"

start_mariadb_tls() {
  start_tls_certs
  reuse_tls "$MARIADB_TLS_PORT" mariadb_tls mysql && return
  [[ -d "$MDT/data/mysql" ]] || mdb_install mariadb_tls "$MDT"
  install -m 644 "$TLS/server.pem" "$TLS/ca.pem" "$MDT/"
  install -m 600 "$TLS/server.key" "$MDT/server.key"
  give_to mysql "$MDT/server.key"
  mdb_run mariadb_tls "$MARIADB_TLS_PORT" "$MDT" server --ssl-cert="$MDT/server.pem" --ssl-key="$MDT/server.key" \
    --ssl-ca="$MDT/ca.pem" --require-secure-transport=ON || die "mariadb_tls: did not start, see $MDT/error.log"
}

stop_mariadb_tls() { stop_mdb mariadb_tls "$MARIADB_TLS_PORT"; }

status_mariadb_tls() { status_port mariadb_tls "$MARIADB_TLS_PORT"; }

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
    if owned "$port" && ! tls_verifies "$port"; then
      log "redis_tls: the server on $port has certificates made before; replacing Redis and its sentinel"
      stop_redis_tls
      break
    fi
  done
  if ! owned "$REDIS_TLS_PORT"; then
    local dir="$RUNTIME/redis-tls-$REDIS_TLS_PORT"; mkdir -p "$dir"
    redis-server --port "$REDIS_TLS_PLAIN_PORT" --tls-port "$REDIS_TLS_PORT" --bind 127.0.0.1 "${certs[@]}" --daemonize yes \
      --pidfile "$STATE/redis-tls-$REDIS_TLS_PORT.pid" --dir "$dir" --logfile "$dir/server.log" --save '' \
      || die "redis_tls: did not start (see $dir/server.log)"
  fi
  if ! owned "$SENTINEL_TLS_PORT"; then
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
  for port in "$REDIS_TLS_PORT" "$REDIS_TLS_PLAIN_PORT" "$SENTINEL_TLS_PORT"; do check_owned redis_tls "$port"; done
  log "redis_tls: Redis with TLS on 127.0.0.1:$REDIS_TLS_PORT (plaintext on $REDIS_TLS_PLAIN_PORT), its sentinel on $SENTINEL_TLS_PORT"
}

stop_redis_tls() { stop_ports redis_tls "$SENTINEL_TLS_PORT" "$REDIS_TLS_PORT"; }

status_redis_tls() { status_ports redis_tls "$REDIS_TLS_PORT" "$SENTINEL_TLS_PORT"; }

# --- Redis Cluster, TLS only (3 masters, no replicas) ----------------------------
cluster_tls_ok() {
  local p
  for p in $CLUSTER_TLS_PORTS; do
    redis_tls_cli -p "$p" cluster info 2>/dev/null | grep -q 'cluster_state:ok' || return 1
  done
}

stop_cluster_tls() { stop_ports cluster_tls $CLUSTER_TLS_PORTS; }

start_cluster_tls() {
  start_tls_certs
  need_redis
  local p ports=($CLUSTER_TLS_PORTS)
  for p in "${ports[@]}"; do
    if owned "$p" && ! tls_verifies "$p"; then
      log "cluster_tls: a node on $p has certificates made before; replacing the cluster"
      stop_cluster_tls
      rm -rf "$RUNTIME"/cluster-tls-*
      break
    fi
  done
  for p in "${ports[@]}"; do
    owned "$p" && continue
    local dir="$RUNTIME/cluster-tls-$p"; mkdir -p "$dir"
    redis-server --port 0 --tls-port "$p" --bind 127.0.0.1 --tls-cluster yes --tls-replication yes \
      --tls-cert-file "$TLS/server.pem" --tls-key-file "$TLS/server.key" --tls-ca-cert-file "$TLS/ca.pem" \
      --tls-auth-clients optional --cluster-enabled yes --cluster-config-file nodes.conf --cluster-node-timeout 2000 \
      --daemonize yes --pidfile "$STATE/cluster-tls-$p.pid" --dir "$dir" --logfile "$dir/server.log" --save '' \
      || die "cluster_tls: node $p did not start (see $dir/server.log)"
    local deadline=$((SECONDS + 10))
    until redis_tls_answers "$p"; do
      ((SECONDS < deadline)) || die "cluster_tls: node $p does not answer (see $dir/server.log)"
      sleep 0.1
    done
    check_owned cluster_tls "$p"
  done
  local deadline=$((SECONDS + 60))
  until cluster_tls_ok; do
    ((SECONDS < deadline)) || die "cluster_tls: the TLS cluster on $CLUSTER_TLS_PORTS did not become healthy in 60 s (see $RUNTIME/cluster-tls-*/server.log)"
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

status_cluster_tls() { status_ports cluster_tls $CLUSTER_TLS_PORTS; cluster_tls_ok && log "cluster_tls: healthy"; }
