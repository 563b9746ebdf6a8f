# Sourced by docker-up.sh and docker-down.sh: where the private test engine keeps its state.
# Sets: root, state, runtime, sock, host, log, pidfile.
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
state="${AXL_DOCKER_DIR:-$root/.services/docker}"
mkdir -p "$state"
state="$(cd "$state" && pwd)"
log="$state/dockerd.log"
pidfile="$state/dockerd.pid"
# Unix socket paths are limited to 108 bytes, and containerd puts its sockets two levels below the
# exec root; a deep checkout would overflow, so the sockets then move to a short folder in /tmp
# named after the state folder (still one engine per state folder).
runtime="$state/run"
if [ $(( ${#runtime} + 40 )) -gt 100 ]; then
  runtime="/tmp/axl-docker-$(printf '%s' "$state" | sha256sum | cut -c1-12)"
fi
sock="$runtime/docker.sock"
host="unix://$sock"
