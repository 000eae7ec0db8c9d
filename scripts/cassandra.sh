#!/usr/bin/env bash
# A real Apache Cassandra (5.0, from Maven Central) on this machine: one node, or one node
# per region, each its own JVM. What worked here is written down in scripts/cassandra/README.md.
#
#   scripts/cassandra.sh fetch                    Java 17, Maven and the jars (cached; quick when done)
#   scripts/cassandra.sh init RUN N:IP:DC[:NETNS]...  a cluster's configuration in RUN (a fresh directory)
#   scripts/cassandra.sh start RUN [N...]         start nodes (all by default) and wait until every
#                                                 started node serves CQL and sees every other one up
#   scripts/cassandra.sh stop RUN [N...]          SIGTERM (drain), then SIGKILL after 60 s
#   scripts/cassandra.sh kill RUN N...            SIGKILL
#   scripts/cassandra.sh nodetool RUN N ARGS...   nodetool against node N (JMX on its own port)
#   scripts/cassandra.sh sstabledump RUN N KS.TABLE   node N's sstables of a table as JSON, one per line
#   scripts/cassandra.sh cql-ready IP             exit 0 when IP:9042 accepts connections
#
# Every node listens on IP:9042 (CQL) and IP:7000 (gossip); node N's JMX is 127.0.0.1:(7000+100N).
# NETNS runs a node inside that network namespace (made by the caller), for real partitions.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
version=5.0.8
cache=${CASSANDRA_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/offline-cart/cassandra-$version}
lib=$cache/lib
java=${CASSANDRA_JAVA:-/usr/lib/jvm/java-17-openjdk-amd64/bin/java}
heap=${CASSANDRA_HEAP:-512m}

die() { echo "cassandra.sh: $*" >&2; exit 1; }

fetch() {
  # Cassandra 5.0 runs on Java 11 or 17 only (not on the machine's newer JDKs).
  local missing=()
  [ -x "$java" ] || missing+=(openjdk-17-jre-headless)
  command -v mvn > /dev/null || missing+=(maven)
  if [ ${#missing[@]} -gt 0 ]; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -q && apt-get install -y -q --no-install-recommends "${missing[@]}"
  fi
  [ -f "$cache/.complete" ] && return 0
  rm -rf "$lib" && mkdir -p "$lib"
  JAVA_HOME=$(dirname "$(dirname "$java")") mvn -B -q -f "$here/cassandra/pom.xml" \
    org.apache.maven.plugins:maven-dependency-plugin:3.6.1:copy-dependencies \
    -DincludeScope=runtime -DoutputDirectory="$lib"
  ls "$lib"/cassandra-all-"$version".jar > /dev/null
  touch "$cache/.complete"
}

# node table: one line "N IP DC NETNS" per node, in RUN/nodes
node_line() { awk -v n="$2" '$1 == n' "$1/nodes"; }
all_nodes() { awk '{print $1}' "$1/nodes"; }

init() {
  local run=$1; shift
  [ $# -gt 0 ] || die "init: name at least one node as N:IP:DC[:NETNS]"
  mkdir -p "$run" && run=$(cd "$run" && pwd)
  [ ! -e "$run/nodes" ] || die "init: $run already holds a cluster"
  local seeds="" count=$#
  for spec in "$@"; do
    IFS=: read -r n ip dc netns <<< "$spec"
    [ -n "$dc" ] || die "init: '$spec' is not N:IP:DC[:NETNS]"
    echo "$n $ip $dc ${netns:--}" >> "$run/nodes"
    seeds+="${seeds:+,}$ip"
  done
  local i=0
  while read -r n ip dc netns; do
    local d=$run/node$n
    mkdir -p "$d"/{data,commitlog,saved_caches,hints,logs,triggers}
    # One token a node, evenly spread, so every node starts at once without bootstrapping.
    local token
    token=$(python3 -c "print(-(2**63) + $i * (2**64 // $count))")
    i=$((i + 1))
    cat > "$d/cassandra.yaml" <<EOF
cluster_name: offline-cart-test
partitioner: org.apache.cassandra.dht.Murmur3Partitioner
endpoint_snitch: GossipingPropertyFileSnitch
num_tokens: 1
initial_token: $token
auto_bootstrap: false
listen_address: $ip
rpc_address: $ip
storage_port: 7000
native_transport_port: 9042
start_native_transport: true
seed_provider:
  - class_name: org.apache.cassandra.locator.SimpleSeedProvider
    parameters:
      - seeds: "$seeds"
data_file_directories: [ $d/data ]
commitlog_directory: $d/commitlog
saved_caches_directory: $d/saved_caches
hints_directory: $d/hints
cdc_enabled: false
# As Cassandra ships: the commit log is synced every period, and a write is durable by
# being on every replica that acknowledged it (nodes are stopped with a drain in tests).
commitlog_sync: periodic
commitlog_sync_period: 2000ms
commitlog_segment_size: 8MiB
auto_snapshot: false
incremental_backups: false
memtable_allocation_type: heap_buffers
disk_access_mode: standard
concurrent_compactors: 1
hinted_handoff_enabled: true
max_hint_window: 3h
hints_flush_period: 1s
# Fast failure detection between "regions" on one machine.
phi_convict_threshold: 5
EOF
    printf 'dc=%s\nrack=rack1\n' "$dc" > "$d/cassandra-rackdc.properties"
  done < "$run/nodes"
}

start_node() {
  local run=$1 n=$2 ip dc netns d jmx
  read -r _ ip dc netns <<< "$(node_line "$run" "$n")"
  [ -n "$ip" ] || die "no node $n in $run"
  d=$run/node$n
  jmx=$((7000 + 100 * n))
  if [ -f "$d/pid" ] && kill -0 "$(cat "$d/pid")" 2> /dev/null; then return 0; fi
  local prefix=()
  [ "$netns" = - ] || prefix=(ip netns exec "$netns")
  read -ra flags <<< "$(grep -v '^#' "$here/cassandra/jvm17.flags" | tr '\n' ' ')"
  # setsid: the node outlives this script but not the test that stops it.
  setsid "${prefix[@]}" "$java" -Xms"$heap" -Xmx"$heap" -XX:+UseG1GC -Xss256k \
    -XX:+ExitOnOutOfMemoryError \
    -XX:ActiveProcessorCount=2 "${flags[@]}" \
    -javaagent:"$(ls "$lib"/jamm-*.jar | head -n 1)" \
    -Dcassandra.config="file://$d/cassandra.yaml" \
    -Dcassandra-rackdc.properties="file://$d/cassandra-rackdc.properties" \
    -Dcassandra.storagedir="$d" -Dcassandra.logdir="$d/logs" -Dcassandra.triggers_dir="$d/triggers" \
    -Dlogback.configurationFile="$here/cassandra/logback.xml" -Dcassandra-foreground=yes \
    -Dcassandra.jmx.local.port="$jmx" -Dcom.sun.management.jmxremote.authenticate=false \
    -Dcassandra.skip_wait_for_gossip_to_settle=0 -Dcassandra.ring_delay_ms=1000 \
    -Dcassandra.gossip_settle_min_wait_ms=0 \
    -cp "$lib/*" org.apache.cassandra.service.CassandraDaemon >> "$d/logs/stdout.log" 2>&1 < /dev/null &
  echo $! > "$d/pid"
}

cql_ready() { (exec 3<> "/dev/tcp/$1/9042") 2> /dev/null; }

# Waits until node N serves CQL and has seen every other started node come up.
wait_node() {
  local run=$1 n=$2 ip d others deadline=$((SECONDS + ${CASSANDRA_START_TIMEOUT:-240}))
  read -r _ ip _ _ <<< "$(node_line "$run" "$n")"
  d=$run/node$n
  while :; do
    kill -0 "$(cat "$d/pid")" 2> /dev/null || { tail -n 30 "$d/logs/stdout.log" >&2; die "node $n exited"; }
    if grep -q 'Starting listening for CQL clients' "$d/logs/system.log" 2> /dev/null && in_ns "$run" "$n" cql_ready "$ip"; then
      others=0
      for m in $(all_nodes "$run"); do
        [ "$m" = "$n" ] && continue
        local other_ip
        read -r _ other_ip _ _ <<< "$(node_line "$run" "$m")"
        [ -f "$run/node$m/pid" ] && kill -0 "$(cat "$run/node$m/pid")" 2> /dev/null || continue
        # The latest word about the peer must be UP.
        local last
        last=$(grep -E "/$other_ip:7000 is now (UP|DOWN)" "$d/logs/system.log" | tail -n 1 || true)
        [[ "$last" == *"is now UP"* ]] || others=$((others + 1))
      done
      [ "$others" = 0 ] && return 0
    fi
    [ $SECONDS -lt $deadline ] || die "node $n not ready after ${CASSANDRA_START_TIMEOUT:-240} s (see $d/logs)"
    sleep 1
  done
}

in_ns() {
  local run=$1 n=$2 netns; shift 2
  read -r _ _ _ netns <<< "$(node_line "$run" "$n")"
  if [ "$netns" = - ]; then "$@"; else ip netns exec "$netns" bash -c "$(declare -f "$1"); $*"; fi
}

start() {
  local run=$1; shift
  [ -f "$run/nodes" ] || die "start: $run has no cluster (init it first)"
  local nodes=("$@")
  [ ${#nodes[@]} -gt 0 ] || mapfile -t nodes < <(all_nodes "$run")
  for n in "${nodes[@]}"; do start_node "$run" "$n"; done
  for n in "${nodes[@]}"; do wait_node "$run" "$n"; done
}

signal_nodes() {
  local sig=$1 run=$2; shift 2
  local nodes=("$@")
  [ ${#nodes[@]} -gt 0 ] || mapfile -t nodes < <(all_nodes "$run")
  for n in "${nodes[@]}"; do
    local pidfile=$run/node$n/pid
    [ -f "$pidfile" ] || continue
    kill -"$sig" "$(cat "$pidfile")" 2> /dev/null || true
  done
  for n in "${nodes[@]}"; do
    local pidfile=$run/node$n/pid
    [ -f "$pidfile" ] || continue
    local pid deadline=$((SECONDS + 60))
    pid=$(cat "$pidfile")
    while kill -0 "$pid" 2> /dev/null; do
      if [ $SECONDS -ge $deadline ]; then kill -9 "$pid" 2> /dev/null || true; fi
      sleep 0.2
    done
    rm -f "$pidfile"
  done
}

nodetool() {
  local run=$1 n=$2; shift 2
  read -ra flags <<< "$(grep -v '^#' "$here/cassandra/jvm17.flags" | tr '\n' ' ')"
  in_ns "$run" "$n" true
  local netns prefix=()
  read -r _ _ _ netns <<< "$(node_line "$run" "$n")"
  [ "$netns" = - ] || prefix=(ip netns exec "$netns")
  "${prefix[@]}" "$java" -Xmx128m -XX:ParallelGCThreads=1 "${flags[@]}" \
    -Dlogback.configurationFile="$here/cassandra/logback-tools.xml" -cp "$lib/*" \
    org.apache.cassandra.tools.NodeTool -h 127.0.0.1 -p $((7000 + 100 * n)) "$@"
}

# What the node holds on disk, as Cassandra's own exporter shows it (flush first).
sstabledump() {
  local run=$1 n=$2 table=$3 d
  d=$run/node$n
  read -ra flags <<< "$(grep -v '^#' "$here/cassandra/jvm17.flags" | tr '\n' ' ')"
  for data in "$d"/data/"${table%%.*}"/"${table#*.}"-*/*-Data.db; do
    [ -e "$data" ] || continue
    "$java" -Xmx256m "${flags[@]}" -Dcassandra.config="file://$d/cassandra.yaml" \
      -Dcassandra-rackdc.properties="file://$d/cassandra-rackdc.properties" \
      -Dlogback.configurationFile="$here/cassandra/logback-tools.xml" -cp "$lib/*" \
      org.apache.cassandra.tools.SSTableExport "$data" -l
  done
}

command=${1:-}
shift || true
case "$command" in
  fetch) fetch ;;
  init) init "$@" ;;
  start) start "$@" ;;
  stop) signal_nodes TERM "$@" ;;
  kill) signal_nodes KILL "$@" ;;
  nodetool) nodetool "$@" ;;
  sstabledump) sstabledump "$@" ;;
  cql-ready) cql_ready "$1" ;;
  *) sed -n '2,14p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2 ;;
esac
