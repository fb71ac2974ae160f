#!/bin/sh
# Entrypoint of the relay image: renders ${RELAY_IP} in the config, then execs java so the
# JVM is PID 1 and receives SIGTERM directly (drain on docker stop).
#   no arguments:   run the node with $RELAY_CONFIG
#   arguments:      passed to relay-node.jar as they are, e.g. `check --config /etc/relay/relay.yaml`
# The JVM always runs with -XX:+ExitOnOutOfMemoryError, whatever JAVA_OPTS says: after an
# OutOfMemoryError (Hazelcast stops the member) the node must exit so the orchestrator restarts it.
set -eu
config=${RELAY_CONFIG:-/etc/relay/relay.yaml}
if [ "$#" -gt 0 ]; then
  # shellcheck disable=SC2086
  exec java -XX:+ExitOnOutOfMemoryError ${JAVA_OPTS:-} -jar /opt/relay/relay-node.jar "$@"
fi
if [ ! -r "$config" ]; then
  echo "relay-entrypoint: cannot read $config (mount relay.yaml at /etc/relay/relay.yaml or set RELAY_CONFIG)" >&2
  exit 64
fi
if grep -q '${RELAY_IP}' "$config"; then
  # cluster.listen needs this container's own address: RELAY_IP, else the first IPv4
  # address the container's host name resolves to (Docker and Kubernetes write it in /etc/hosts).
  ip=${RELAY_IP:-$(hostname -i 2>/dev/null | tr ' ' '\n' | grep -m1 -E '^[0-9]+\.[0-9]+\.[0-9]+\.[0-9]+$' || true)}
  if [ -z "$ip" ]; then
    echo "relay-entrypoint: $config uses \${RELAY_IP} but this container's IPv4 address is unknown; set RELAY_IP" >&2
    exit 64
  fi
  rendered=${RELAY_RENDERED_CONFIG:-/tmp/relay.yaml}
  sed "s/\${RELAY_IP}/$ip/g" "$config" > "$rendered"
  config=$rendered
fi
# shellcheck disable=SC2086
exec java -XX:+ExitOnOutOfMemoryError ${JAVA_OPTS:-} -jar /opt/relay/relay-node.jar --config "$config"
