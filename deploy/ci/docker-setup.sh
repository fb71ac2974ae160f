#!/usr/bin/env bash
# Prepares this machine for the deploy module's container suite (issue 7), as root on a
# Debian machine without registry access: installs docker.io and debootstrap if missing,
# starts dockerd in the background if no daemon answers, and builds the offline base image
# (Debian bookworm minbase + a Java 17 runtime, haproxy and python3-aiosmtpd) if missing.
# Idempotent: a second run finds everything in place and returns at once.
#   RELAY_DEPLOY_BASE_IMAGE   image name (default relay-offline-base:bookworm)
set -euo pipefail

image=${RELAY_DEPLOY_BASE_IMAGE:-relay-offline-base:bookworm}
packages=openjdk-17-jre-headless,haproxy,python3-aiosmtpd
t0=$(date +%s)
say() { echo "docker-setup: $* (+$(( $(date +%s) - t0 ))s)"; }

if ! command -v dockerd >/dev/null 2>&1 || ! command -v debootstrap >/dev/null 2>&1; then
  say "installing docker.io and debootstrap"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends docker.io debootstrap >/dev/null
fi

if ! docker info >/dev/null 2>&1; then
  say "starting dockerd"
  mkdir -p /var/log
  # --iptables=false: this machine kind has no usable iptables; published ports go through docker-proxy
  nohup dockerd --iptables=false >/var/log/dockerd-ci.log 2>&1 &
  for _ in $(seq 1 60); do
    docker info >/dev/null 2>&1 && break
    sleep 1
  done
  docker info >/dev/null 2>&1 || { echo "docker-setup: dockerd did not come up; see /var/log/dockerd-ci.log" >&2; exit 1; }
fi

if ! docker image inspect "$image" >/dev/null 2>&1; then
  mirror=$(awk '/^URIs:/ {print $2; exit}' /etc/apt/sources.list.d/debian.sources 2>/dev/null || true)
  mirror=${mirror:-http://deb.debian.org/debian}
  root=$(mktemp -d /var/tmp/relay-base.XXXXXX)
  say "building $image offline: debootstrap bookworm from $mirror with $packages"
  if ! debootstrap --variant=minbase --include="$packages" bookworm "$root" "$mirror" >"$root.log" 2>&1; then
    tail -20 "$root.log" >&2
    echo "docker-setup: debootstrap failed (log above)" >&2
    exit 1
  fi
  rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/*
  tar -C "$root" -c . | docker import -c 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' - "$image" >/dev/null
  rm -rf "$root" "$root.log"
fi
say "docker ready, base image $image present"
