#!/usr/bin/env bash
# Stops the private Docker engine that scripts/docker-up.sh started. Its data root (images, the
# build cache) stays, so the next start finds the base image again; `make clean` deletes it.
# Idempotent: nothing running is not an error.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/docker-paths.sh"

stop() {  # pid file, what it is: TERM, then KILL after 30 s
  local pid
  [ -f "$1" ] || return 0
  pid="$(cat "$1")"
  if kill -0 "$pid" 2>/dev/null; then
    kill -TERM "$pid"
    for _ in $(seq 1 60); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.5
    done
    if kill -0 "$pid" 2>/dev/null; then
      echo "warning: $2 (pid $pid) ignored SIGTERM for 30 s; killing it" >&2
      kill -KILL "$pid" 2>/dev/null || true
    fi
  fi
  rm -f "$1"
}

exec 9>"$state/.lock"
flock 9
stop "$pidfile" dockerd
# dockerd stops the containerd it manages on a clean exit; after a KILL that one is orphaned.
stop "$runtime/containerd/containerd.pid" containerd
# dockerd leaves the default network namespace (an nsfs mount) under its exec root, and a killed
# engine may leave overlay mounts; either would make `rm -rf .services` fail with "busy".
awk -v a="$state/" -v b="$runtime/" 'index($2, a) == 1 || index($2, b) == 1 { print $2 }' \
  /proc/self/mounts | sort -r | while read -r mnt; do
  umount "$mnt" 2>/dev/null || umount -l "$mnt" || true
done
echo "dockerd stopped (state kept in $state)" >&2
