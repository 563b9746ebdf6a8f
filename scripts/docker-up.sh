#!/usr/bin/env bash
# Starts a private Docker engine for the tests and prints `export DOCKER_HOST=...` on stdout, so
# `eval "$(scripts/docker-up.sh)"` points a shell at it. Idempotent: an engine that already answers
# is reused, and concurrent callers (pytest-xdist workers) serialise on a lock.
#
# The engine is Debian's docker.io, run by hand rather than by systemd (machines here have no init
# system and no engine running), with all of its state in one project-local folder
# (AXL_DOCKER_DIR, default .services/docker, gitignored): data root, exec root, pid file, socket
# and log. It never touches /var/lib/docker or /var/run/docker.sock, so it coexists with a system
# engine on a developer's machine.
#
# Flags, and why (checked on the CI machine kind: Debian 12, kernel 6.x, cgroup v1, root):
#   --iptables=false --ip-masq=false --ip-forward=false --bridge=none
#       With the defaults dockerd creates a docker0 bridge on 172.17.0.0/16, sets the host's
#       iptables FORWARD policy to DROP and adds NAT rules: it rewrites the firewall of a machine
#       shared with other tests (network-namespace tests forward between veths) and sends container
#       traffic through a private range. With these flags the host's network is left as it was;
#       containers get only a loopback interface by default (network "none").
#   network host, per build or run
#       A build step that needs the network (pip, uv, apt-get) uses the host's network stack:
#       `docker build --network host`, or `network_mode="host"` in the docker SDK. HTTPS to PyPI then
#       goes through the same transparent proxy as on the host, so the image must trust the host's
#       CA bundle (see docs/docker-in-tests.md).
#   storage driver
#       Left to dockerd, which picks overlay2 on ext4 here and falls back to vfs where overlayfs
#       cannot be used (e.g. a data root that is itself on overlayfs). AXL_DOCKER_STORAGE_DRIVER
#       forces one.
set -euo pipefail

source "$(dirname "${BASH_SOURCE[0]}")/docker-paths.sh"

# The info lines are mostly containerd's gRPC chatter; the cause is a warning, error or bare line.
log_tail() {
  [ -f "$log" ] && grep -vE 'level=(info|debug)' "$log" | tail -n 15 | sed 's/^/  dockerd: /' >&2
  echo "  (full log: $log)" >&2
}
answers() { docker --host "$host" version --format '{{.Server.Version}}' >/dev/null 2>&1; }

if ! command -v dockerd >/dev/null 2>&1 || ! command -v docker >/dev/null 2>&1; then
  if [ "$(id -u)" != 0 ]; then
    echo "error: the Docker tests need dockerd; install it (apt-get install docker.io) or run as root" >&2
    exit 1
  fi
  echo "installing system packages: docker.io" >&2
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends docker.io >/dev/null
fi
if [ "$(id -u)" != 0 ]; then
  echo "error: dockerd needs root here (no rootless setup); run the Docker tests as root" >&2
  exit 1
fi

exec 9>"$state/.lock"
flock 9

if answers; then
  echo "export DOCKER_HOST=$host"
  exit 0
fi

# A pid file left by a crashed engine would make dockerd refuse to start; a live process that does
# not answer yet is still starting, so it is waited for below rather than started twice.
if [ -f "$pidfile" ] && ! kill -0 "$(cat "$pidfile")" 2>/dev/null; then
  rm -f "$pidfile"
fi
started=""
if [ ! -f "$pidfile" ]; then
  mkdir -p "$runtime"
  args=(
    --data-root "$state/data" --exec-root "$runtime" --pidfile "$pidfile" --host "$host"
    --iptables=false --ip-masq=false --ip-forward=false --bridge=none
  )
  if [ -n "${AXL_DOCKER_STORAGE_DRIVER:-}" ]; then
    args+=(--storage-driver "$AXL_DOCKER_STORAGE_DRIVER")
  fi
  # setsid: the engine outlives this script and is not killed by a Ctrl-C meant for the caller.
  setsid dockerd "${args[@]}" >"$log" 2>&1 </dev/null 9>&- &
  started=$!
  echo "starting dockerd (state in $state, log $log)" >&2
fi

for _ in $(seq 1 120); do
  if answers; then
    # The comment tells a caller (tests/docker_fixtures.py) that it owns the engine and stops it.
    [ -n "$started" ] && echo "# started dockerd (pid $started)"
    echo "export DOCKER_HOST=$host"
    exit 0
  fi
  if [ -n "$started" ] && ! kill -0 "$started" 2>/dev/null; then
    echo "error: dockerd exited while starting; its log ends with:" >&2
    log_tail
    exit 1
  fi
  sleep 0.5
done
echo "error: dockerd did not answer on $sock within 60 s; its log ends with:" >&2
log_tail
exit 1
