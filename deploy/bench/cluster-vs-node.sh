#!/usr/bin/env bash
# End-to-end throughput of the 3-node cluster beside one node, on this machine, in one run:
#   smtp-source (SESSIONS over the nodes' ports) -> relay node(s) -> smtp-sink
# Both runs send through a lane with a cluster-wide send rate far above what the machine
# reaches (smtp.destination-rate RATE), so the cluster limiter is on the path; each node
# logs its limiter round trips when it stops, which gives round trips per message.
# Needs root (smtp-sink -u), Debian's postfix package and a built relay-node/target/relay-node.jar.
# Usage: deploy/bench/cluster-vs-node.sh [MESSAGES=6000] [SESSIONS=18] [BYTES=4096] [RATE=20000/s, or none]
set -euo pipefail
N=${1:-6000}; S=${2:-18}; L=${3:-4096}; RATE=${4:-20000/s}
root=$(cd "$(dirname "$0")/../.." && pwd)
jar=$root/relay-node/target/relay-node.jar
[ -f "$jar" ] || (cd "$root" && mvn -B -q -DskipTests package)
work=$(mktemp -d); chmod 755 "$work"
SINK=2801
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
smtp-sink -u nobody -c 127.0.0.1:$SINK 512 > "$work/sink.out" 2>&1 & pids+=($!)

# start_nodes COUNT: nodes i=0..COUNT-1 on SMTP port 2810+i, cluster 2820+i, health 2830+i
start_nodes() {
  local count=$1 members="" i
  for i in $(seq 0 $((count - 1))); do members="$members${members:+, }\"127.0.0.1:$((2820 + i))\""; done
  nodes=()
  for i in $(seq 0 $((count - 1))); do
    local d=$work/run$count/node$i; mkdir -p "$d"
    cat > "$d/relay.yaml" <<YAML
smtpd:
  listen: ["127.0.0.1:$((2810 + i))"]
  hostname: bench-node$i.test
  mynetworks: [127.0.0.0/8]
smtp:
  default-transport: smtp
  relayhost: "[127.0.0.1]:$SINK"
  tls-security-level: none
  destination-concurrency-limit: 50
$([ "$RATE" = none ] || echo "  destination-rate: [\"$RATE\"]")
queue:
  spool-dir: $d/spool
health:
  listen: 127.0.0.1:$((2830 + i))
  drain-delay: 0s
cluster:
  name: bench-$count
  listen: 127.0.0.1:$((2820 + i))
  members: [$members]
log:
  file: $d/mail.log
YAML
    java -Xmx2g -jar "$jar" --config "$d/relay.yaml" > "$d/node.out" 2> "$d/node.err" & nodes+=($!); pids+=($!)
  done
  for i in $(seq 0 $((count - 1))); do
    for _ in $(seq 1 600); do (echo > /dev/tcp/127.0.0.1/$((2810 + i))) 2>/dev/null && break; sleep 0.2; done
  done
  for _ in $(seq 1 300); do
    grep -qE "(: |; )$count members" "$work/run$count/node$((count - 1))/node.err" && break; sleep 0.2
  done
}

sent_lines() { cat "$work"/run"$1"/node*/mail.log 2>/dev/null | grep -c "status=sent" || true; }

# send COUNT TOTAL: smtp-source spread evenly over the COUNT nodes, S sessions in all
send() {
  local count=$1 total=$2 i spids=()
  for i in $(seq 0 $((count - 1))); do
    smtp-source -s $((S / count)) -m $((total / count)) -l "$L" -f sender@app.test -t rcpt@example.com \
      127.0.0.1:$((2810 + i)) & spids+=($!)
  done
  for p in "${spids[@]}"; do wait "$p"; done
}

measure() {
  local count=$1 cpu0=0 cpu1=0 p
  start_nodes "$count"
  send "$count" 1200                       # warm-up
  for _ in $(seq 1 600); do [ "$(sent_lines "$count")" -ge 1200 ] && break; sleep 0.2; done
  local before; before=$(sent_lines "$count")
  for p in "${nodes[@]}"; do cpu0=$((cpu0 + $(awk '{print $14+$15}' /proc/$p/stat))); done
  local t0; t0=$(date +%s.%N)
  send "$count" "$N"
  local t1; t1=$(date +%s.%N)
  local deadline=$(( $(date +%s) + 600 ))
  while [ $(( $(sent_lines "$count") - before )) -lt "$N" ]; do
    [ "$(date +%s)" -gt "$deadline" ] && { echo "$count node(s): only $(( $(sent_lines "$count") - before )) of $N delivered"; exit 1; }
    sleep 0.1
  done
  local t2; t2=$(date +%s.%N)
  for p in "${nodes[@]}"; do cpu1=$((cpu1 + $(awk '{print $14+$15}' /proc/$p/stat))); done
  for p in "${nodes[@]}"; do kill -TERM "$p"; done
  for p in "${nodes[@]}"; do wait "$p" 2>/dev/null || true; done
  local trips; trips=$(cat "$work"/run"$count"/node*/node.err | sed -n 's/.*lane limits: \([0-9]*\) cluster round trips.*/\1/p' | awk '{s+=$1} END {print s+0}')
  local total=$(( N + 1200 ))
  python3 - "$count" "$t0" "$t1" "$t2" "$N" "$cpu0" "$cpu1" "$trips" "$total" <<'PY'
import sys
c, t0, t1, t2, n, c0, c1, trips, total = sys.argv[1:]
t0, t1, t2, n = float(t0), float(t1), float(t2), int(n)
cpu = (int(c1) - int(c0)) / 100
print(f"{c} node(s): accepted {n/(t1-t0):.0f} msg/s, end to end {n/(t2-t0):.0f} msg/s, "
      f"cpu {cpu*1000/n:.2f} s per 1000 msgs, limiter {int(trips)/int(total):.3f} round trips per msg")
PY
}

one=$(measure 1); echo "$one"
three=$(measure 3); echo "$three"
python3 - "$one" "$three" <<'PY'
import re, sys
e = [float(re.search(r"end to end (\d+)", s).group(1)) for s in sys.argv[1:]]
print(f"3-node cluster / one node, end to end: {e[1]/e[0]:.2f}")
PY
