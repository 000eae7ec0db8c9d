#!/usr/bin/env bash
# A loopback Redis for one region's cache (Debian's redis-server, installed by setup.sh):
#   scripts/redis.sh start DIR PORT   starts it (no persistence) and waits until it answers
#   scripts/redis.sh stop DIR         stops it
set -euo pipefail
command=${1:?start or stop}
dir=${2:?a directory for its pid file and log}
case "$command" in
  start)
    port=${3:?a port}
    # Absolute: Redis changes into --dir before it opens the log and pid files.
    dir=$(mkdir -p "$dir" && cd "$dir" && pwd)
    redis-server --bind 127.0.0.1 --port "$port" --save '' --appendonly no --daemonize yes \
      --pidfile "$dir/redis.pid" --logfile "$dir/redis.log" --dir "$dir"
    for _ in $(seq 100); do
      redis-cli -p "$port" ping > /dev/null 2>&1 && exit 0
      sleep 0.05
    done
    echo "redis.sh: Redis on port $port did not answer" >&2
    cat "$dir/redis.log" >&2
    exit 1
    ;;
  stop) { [ -f "$dir/redis.pid" ] && kill "$(cat "$dir/redis.pid")" 2> /dev/null; } || true ;;
  *) echo "redis.sh: start DIR PORT | stop DIR" >&2; exit 2 ;;
esac
