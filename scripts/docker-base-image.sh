#!/usr/bin/env bash
# Makes the Python base image that the Docker tests build FROM, without any container registry
# (machines here reach only PyPI and Debian's package archive): debootstrap a minimal Debian
# bookworm root file system with Python, then `docker import` it. Prints the image reference.
#
# Needs DOCKER_HOST pointing at an engine (eval "$(scripts/docker-up.sh)" first).
#
# Two caches make a warm run cost a `docker image inspect` (about 0.1 s):
# - the root file system tarball, under AXL_TEST_CACHE (default ~/.cache/axl-test), survives a
#   fresh clone and `make clean`; a cold debootstrap takes about a minute;
# - the imported image carries the recipe's key as a label; an image with the right key is not
#   imported again (a cold import of the tarball takes about 5 s).
# The key covers what goes into the root file system (suite, variant, package list, recipe
# version), not the mirror: every mirror serves the same packages.
set -euo pipefail

ref="${AXL_BASE_IMAGE:-axl-base:bookworm-python}"
suite=bookworm
variant=minbase
# python3-venv brings ensurepip, so a Dockerfile can make a venv and `pip install uv` into it;
# ca-certificates so that HTTPS works once a proxy's CA is added beside Debian's.
include=python3,python3-venv,ca-certificates
recipe=1  # bump when the steps below change what ends up in the tarball

key="$(printf 'recipe=%s suite=%s variant=%s include=%s' "$recipe" "$suite" "$variant" "$include" \
  | sha256sum | cut -c1-16)"
cache="${AXL_TEST_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/axl-test}"
tarball="$cache/axl-base-$suite-$key.tar"

# The same Debian mirror that apt on this machine uses (a deb822 file or the one-line format), so
# debootstrap goes wherever apt is known to reach.
mirror() {
  if [ -n "${AXL_DEBIAN_MIRROR:-}" ]; then
    echo "$AXL_DEBIAN_MIRROR"
    return
  fi
  local found
  found="$(cat /etc/apt/sources.list.d/*.sources 2>/dev/null \
    | awk '/^URIs:/ { for (i = 2; i <= NF; i++) if ($i ~ /\/debian\/?$/) { print $i; exit } }')"
  if [ -z "$found" ]; then
    found="$(cat /etc/apt/sources.list 2>/dev/null \
      | awk '$1 == "deb" { for (i = 2; i <= NF; i++) if ($i ~ /\/debian\/?$/) { print $i; exit } }')"
  fi
  echo "${found:-http://deb.debian.org/debian}"
}

current() {
  [ "$(docker image inspect --format '{{index .Config.Labels "axl.base.key"}}' "$ref" 2>/dev/null)" \
    = "$key" ]
}

if current; then
  echo "$ref"
  exit 0
fi
mkdir -p "$cache"
exec 9>"$cache/.lock"
flock 9
if current; then  # another caller made it while this one waited for the lock
  echo "$ref"
  exit 0
fi

if [ ! -f "$tarball" ]; then
  if [ "$(id -u)" != 0 ]; then
    echo "error: building the base image needs root (debootstrap); run as root" >&2
    exit 1
  fi
  if ! command -v debootstrap >/dev/null 2>&1; then
    echo "installing system packages: debootstrap" >&2
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends debootstrap >/dev/null
  fi
  rootfs="$(mktemp -d "$cache/rootfs.XXXXXX")"
  trap 'rm -rf "$rootfs" "$tarball.tmp"' EXIT
  url="$(mirror)"
  echo "debootstrap $suite ($include) from $url; about a minute" >&2
  if ! debootstrap --variant="$variant" --include="$include" "$suite" "$rootfs" "$url" \
    >"$cache/debootstrap.log" 2>&1; then
    echo "error: debootstrap failed; its log ($cache/debootstrap.log) ends with:" >&2
    tail -n 20 "$cache/debootstrap.log" | sed 's/^/  /' >&2
    exit 1
  fi
  # Downloaded packages and index files are a third of the size and are stale in a day; the
  # engine writes its own resolv.conf and hostname into each container.
  rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/cache/apt/*.bin \
    "$rootfs"/var/lib/apt/lists/* "$rootfs/etc/resolv.conf" "$rootfs/etc/hostname"
  tar --sort=name --numeric-owner -C "$rootfs" -cf "$tarball.tmp" .
  mv "$tarball.tmp" "$tarball"
fi

docker import \
  --change "LABEL axl.base.key=$key" \
  --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
  --change 'ENV LANG=C.UTF-8' \
  --change 'CMD ["python3"]' \
  "$tarball" "$ref" >/dev/null
echo "$ref"
