#!/bin/sh
# The container entrypoint: run one step of an axl IO manifest (see runner/SPEC.md).
#
#   entrypoint.sh --manifest /axl/manifest.json --step train --inputs /axl/inputs --outputs /axl/outputs
#
# Thin on purpose: every decision lives in `python -m axl.runtime`, so a container, a subprocess
# and a Dagster op run a step the same way. The exit code is the runner's (0 ok, 1 the step's code
# failed, 2 the runner could not run it): exec keeps this shell out of the way.
set -eu
if [ -n "${AXL_WORKSPACE:-}" ]; then
    cd "$AXL_WORKSPACE"
fi
exec "${AXL_PYTHON:-python}" -m axl.runtime "$@"
