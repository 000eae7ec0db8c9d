#!/usr/bin/env bash
# Hosts of their own on this machine, for real network partitions: network namespaces
# NAME1..NAMEn on a bridge, addresses 10.77.0.1..n/24 (the bridge is 10.77.0.254). A cut
# is made of "unreachable" routes inside the namespaces, so links never go down and a
# packet across a cut fails at once, on this machine; nothing is ever routed off it.
#
#   scripts/netns.sh up NAME N       make the namespaces, the bridge and the veth links
#   scripts/netns.sh cut NAME I      cut host I off from every other host (both ways);
#                                    the root namespace still reaches it (its clients)
#   scripts/netns.sh heal NAME I     undo the cut
#   scripts/netns.sh down NAME       remove everything `up` made (also when half made)
set -euo pipefail
subnet=10.77.0
command=${1:-}
name=${2:-}
[ -n "$name" ] || { sed -n '2,11p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }
bridge=br-$name

members() { ip netns list | awk '{print $1}' | grep -E "^${name}[0-9]+$" | sort; }

up() {
  local n=$1
  # Should the bridge ever go away, traffic to the subnet fails here instead of leaving.
  ip route replace unreachable "$subnet.0/24" metric 4000
  ip link add "$bridge" type bridge
  ip addr add "$subnet.254/24" dev "$bridge"
  ip link set "$bridge" up
  for i in $(seq 1 "$n"); do
    ip netns add "$name$i"
    ip link add "v$name$i" type veth peer name eth0 netns "$name$i"
    ip link set "v$name$i" master "$bridge" up
    ip netns exec "$name$i" ip addr add "$subnet.$i/24" dev eth0
    ip netns exec "$name$i" ip link set eth0 up
    ip netns exec "$name$i" ip link set lo up
  done
}

# Unreachable routes between host I and every other member, in both directions.
routes() {
  local verb=$1 i=$2
  for ns in $(members); do
    local j=${ns#"$name"}
    [ "$j" = "$i" ] && continue
    ip netns exec "$name$i" ip route "$verb" unreachable "$subnet.$j/32" 2> /dev/null || [ "$verb" = del ]
    ip netns exec "$ns" ip route "$verb" unreachable "$subnet.$i/32" 2> /dev/null || [ "$verb" = del ]
  done
}

down() {
  for ns in $(members); do ip netns del "$ns" 2> /dev/null || true; done
  ip link del "$bridge" 2> /dev/null || true
  ip route del unreachable "$subnet.0/24" metric 4000 2> /dev/null || true
}

case "$command" in
  up) down; up "${3:?how many hosts}" ;;
  cut) routes add "${3:?which host}" ;;
  heal) routes del "${3:?which host}" ;;
  down) down ;;
  *) sed -n '2,11p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2 ;;
esac
