#!/usr/bin/env bash
# Installs the Debian packages that the integration tests run for real. Idempotent: a package that
# is already there is not installed again, so a warm machine spends no time here.
set -euo pipefail
want=()
need() { command -v "$1" >/dev/null 2>&1 || want+=("$2"); }
need_file() { [ -f "$1" ] || want+=("$2"); }
need nginx nginx-light
need dot graphviz        # axl graph --format svg|png, the DAG in axl report
need chromium chromium   # renders axl report in the headless-browser test
need dockerd docker.io     # the private Docker engine of the image tests (scripts/docker-up.sh)
need debootstrap debootstrap  # their registry-free base image (scripts/docker-base-image.sh)
need bazel bazel-bootstrap      # Bazel 4.2.3, offline: builds axl steps as Bazel actions (rules/)
need docker-registry docker-registry  # a loopback registry for the `axl build-image --push` test
# The official Remote Execution API proto, compiled in tests/test_reapi.py to check axl's
# hand-written ActionResult codec (axl/cache/_reapi.py) against protobuf's own.
need protoc protobuf-compiler   # compiles it
need_file /usr/include/google/protobuf/timestamp.proto libprotobuf-dev  # its well-known imports
need_file /usr/src/bazel-bootstrap/third_party/remoteapis/build/bazel/remote/execution/v2/remote_execution.proto \
  bazel-bootstrap-source        # the proto itself, with the googleapis protos it imports
if [ ${#want[@]} -gt 0 ]; then
  if [ "$(id -u)" != 0 ]; then
    echo "error: the tests need ${want[*]}; install them (apt-get install ${want[*]}) or run as root" >&2
    exit 1
  fi
  echo "installing system packages: ${want[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${want[@]}" >/dev/null
fi
