# The ports of every server, sourced by scripts/services. scripts/ports.env has
# them all; an environment variable of the same name overrides an entry (the tests
# read them the same way, crates/test-support/src/ports.rs). With
# PAL_TEST_MACHINE_SERVERS=1, each NAME_PORT that has a NAME_MACHINE_PORT entry
# (PostgreSQL, MariaDB, Redis) defaults to it and names a server the machine
# already runs, which is only checked, never started, stopped or changed.

MACHINE=${PAL_TEST_MACHINE_SERVERS:-0}
[[ $MACHINE == 0 || $MACHINE == 1 ]] \
  || die "PAL_TEST_MACHINE_SERVERS is '$MACHINE': set it to 1 to use the machine's own PostgreSQL, MariaDB and Redis, or leave it unset"

declare -A PORTS_FILE=()
PORT_VARS=()      # every entry of ports.env but the machine's
MACHINE_VARS=()   # with PAL_TEST_MACHINE_SERVERS=1: the entries naming the machine's servers
while IFS= read -r line; do
  line=${line%%#*}
  [[ $line =~ ^[[:space:]]*([A-Z][A-Z0-9_]*)=(.*)$ ]] || continue
  value=${BASH_REMATCH[2]}
  value=${value%"${value##*[![:space:]]}"}
  [[ $value == \"*\" ]] && value=${value:1:${#value}-2}
  PORTS_FILE[${BASH_REMATCH[1]}]=$value
  [[ ${BASH_REMATCH[1]} == *_MACHINE_PORT ]] || PORT_VARS+=("${BASH_REMATCH[1]}")
done <scripts/ports.env
for var in "${PORT_VARS[@]}"; do
  machine=${var%_PORT}_MACHINE_PORT
  [[ $MACHINE == 1 && -n ${PORTS_FILE[$machine]:-} ]] && MACHINE_VARS+=("$var")
  if [[ -n ${!var:-} ]]; then continue; fi
  if [[ $MACHINE == 1 && -n ${PORTS_FILE[$machine]:-} ]]; then
    printf -v "$var" %s "${PORTS_FILE[$machine]}"
  else
    printf -v "$var" %s "${PORTS_FILE[$var]}"
  fi
done
unset line value var machine

# Which entries each service listens on. Redis Cluster nodes also listen on their
# port + 10000 (the cluster bus).
declare -A SERVICE_PORTS=(
  [postgres]=PG_PORT [mariadb]=MARIADB_PORT [postgres_fault]=PG_FAULT_PORT [mariadb_fault]=MARIADB_FAULT_PORT
  [pg_replication]="PG_PRIMARY_PORT PG_REPLICA_PORT" [pg_replica]=PG_REPLICA_PORT
  [mariadb_replication]="MARIADB_PRIMARY_PORT MARIADB_REPLICA_PORT" [mariadb_replica]=MARIADB_REPLICA_PORT
  [redis]="REDIS_PORT REDIS_FAULT_PORT" [sentinel]="SENTINEL_REDIS_PORTS SENTINEL_PORTS" [cluster]=CLUSTER_PORTS
  [valkey]=VALKEY_PORT [memcached]="MEMCACHED_PORT MEMCACHED_SHARD_PORTS MEMCACHED_EXTRA_PORT"
  [postgres_tls]=PG_TLS_PORT [mariadb_tls]=MARIADB_TLS_PORT [redis_tls]="REDIS_TLS_PORT REDIS_TLS_PLAIN_PORT SENTINEL_TLS_PORT"
  [cluster_tls]=CLUSTER_TLS_PORTS
)
BUS_VARS=" CLUSTER_PORTS CLUSTER_TLS_PORTS "

ports_of() { # service: "VAR PORT [bus]" for each port it listens on, but the machine's servers
  local var port
  for var in ${SERVICE_PORTS[$1]:-}; do
    [[ " ${MACHINE_VARS[*]} " == *" $var "* ]] && continue
    for port in ${!var}; do
      echo "$var $port"
      [[ $BUS_VARS == *" $var "* && $port =~ ^[0-9]+$ ]] && echo "$var $((port + 10000)) bus"
    done
  done
  return 0
}

# Every port a number, and no port given to two servers (bus ports included).
check_ports() {
  local name var port bus
  declare -A seen=()
  for name in "${!SERVICE_PORTS[@]}"; do
    [[ $name == pg_replica || $name == mariadb_replica ]] && continue   # parts of a pair, counted with it
    while read -r var port bus; do
      [[ $port =~ ^[0-9]+$ ]] && ((port > 0 && port < 65536)) \
        || die "$var=${!var}: '$port' is not a port${bus:+ (the cluster bus is each port + 10000)}"
      if [[ -n ${seen[$port]:-} ]]; then
        die "port $port is given twice: to ${seen[$port]} and to $var${bus:+ bus} (scripts/ports.env or the environment)"
      fi
      seen[$port]="$var${bus:+ bus}"
    done < <(ports_of "$name")
  done
}
check_ports
