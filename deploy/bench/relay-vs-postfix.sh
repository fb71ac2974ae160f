#!/usr/bin/env bash
# End-to-end throughput of one relay node beside Postfix, in the same run on this machine:
#   smtp-source -s SESSIONS -m MESSAGES -l BYTES -> relay node -> smtp-sink
#   smtp-source ... -> Postfix (../shared/bench/postfix-peer.sh) -> smtp-sink
# Prints accepted and end-to-end messages/s for both, and the ratio. Needs root (smtp-sink -u),
# Debian's postfix package (smtp-source, smtp-sink) and a built relay-node/target/relay-node.jar.
# Usage: deploy/bench/relay-vs-postfix.sh [MESSAGES=10000] [SESSIONS=20] [BYTES=4096]
set -euo pipefail
N=${1:-10000}; S=${2:-20}; L=${3:-4096}
root=$(cd "$(dirname "$0")/../.." && pwd)
jar=$root/relay-node/target/relay-node.jar
[ -f "$jar" ] || (cd "$root" && mvn -B -q -DskipTests package)
work=$(mktemp -d); chmod 755 "$work"
SMTP=2700; SINK=2701; HEALTH=2702; CLUSTER=2703
cat > "$work/relay.yaml" <<YAML
smtpd:
  listen: ["127.0.0.1:$SMTP"]
  hostname: bench-relay.test
  mynetworks: [127.0.0.0/8]
smtp:
  default-transport: smtp
  relayhost: "[127.0.0.1]:$SINK"
  tls-security-level: none
  destination-concurrency-limit: 50
queue:
  spool-dir: $work/spool
health:
  listen: 127.0.0.1:$HEALTH
cluster:
  listen: 127.0.0.1:$CLUSTER
log:
  file: $work/mail.log
YAML
smtp-sink -u nobody -c 127.0.0.1:$SINK 512 > "$work/sink.out" 2>&1 & sink=$!
java -Xmx2g -jar "$jar" --config "$work/relay.yaml" > "$work/node.out" 2> "$work/node.err" & node=$!
cleanup() { kill $sink 2>/dev/null || true; kill $node 2>/dev/null || true; wait $node 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT
for _ in $(seq 1 300); do (echo > /dev/tcp/127.0.0.1/$SMTP) 2>/dev/null && break; sleep 0.2; done
# warm-up: let the JIT see the hot paths before the measured run
smtp-source -s "$S" -m 2000 -l "$L" -f sender@app.test -t rcpt@example.com 127.0.0.1:$SMTP
for _ in $(seq 1 600); do [ "$(grep -c 'status=sent' "$work/mail.log" || true)" -ge 2000 ] && break; sleep 0.2; done
before=$(grep -c "status=sent" "$work/mail.log" || true)
cpu0=$(awk '{print $14+$15}' /proc/$node/stat)
t0=$(date +%s.%N)
smtp-source -s "$S" -m "$N" -l "$L" -f sender@app.test -t rcpt@example.com 127.0.0.1:$SMTP
t1=$(date +%s.%N)
deadline=$(( $(date +%s) + 600 ))
while :; do
  now=$(grep -c "status=sent" "$work/mail.log" || true)
  [ $((now - before)) -ge "$N" ] && break
  [ "$(date +%s)" -gt "$deadline" ] && { echo "relay: only $((now - before)) of $N delivered in time"; exit 1; }
  sleep 0.1
done
t2=$(date +%s.%N)
cpu1=$(awk '{print $14+$15}' /proc/$node/stat)
rss=$(awk '/VmHWM/{print $2}' /proc/$node/status)
relay=$(python3 -c "t0,t1,t2,n=$t0,$t1,$t2,$N; print(f'{n/(t1-t0):.0f} {n/(t2-t0):.0f}')")
echo "relay:   accepted $N in $(python3 -c "print(f'{$t1-$t0:.2f}')")s = ${relay% *} msg/s; delivered all = ${relay#* } msg/s end to end; cpu $(( (cpu1-cpu0) ))/100 s, peak RSS ${rss} kB"
peer=$(bash "$root/../shared/bench/postfix-peer.sh" "$N" "$S" "$L" 2704 | tail -1)
echo "$peer"
pf=$(echo "$peer" | sed -n 's/.*= \([0-9]*\) msg\/s end to end/\1/p')
python3 -c "r=${relay#* }; p=${pf:-0}; print(f'ratio end to end relay/postfix: {r/p:.2f}' if p else 'no postfix figure')"
