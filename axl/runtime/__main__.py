"""``python -m axl.runtime``: run one step of an IO manifest (see ``runner/SPEC.md``).

    python -m axl.runtime --manifest PATH [--manifest-digest D] --step NAME
                          [--inputs DIR] [--outputs DIR]
                          [--store URL] [--run-id ID] [--result PATH] [--workspace DIR]
                          [--remote-cache URL] [--[no-]remote-upload] [--no-cache]
                          [--setup-env]

Every option can also come from an environment variable (``AXL_MANIFEST``, ``AXL_STEP``, ...);
the command line wins. Exit codes: 0 ok, 1 the step's code failed, 2 the runner could not run it,
130 SIGINT, 143 SIGTERM (no result record then; see ``runner/SPEC.md``).
stderr carries only JSON log lines; everything else (the step's prints, on stdout and stderr)
goes to stdout.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import NoReturn, TextIO

from axl.errors import AxlError, RunnerError
from axl.runtime._lifetime import (
    end_children,
    exit_code,
    group_guardian,
    runner_setup,
    signal_name,
)
from axl.runtime._logs import JsonLog
from axl.runtime._runner import EXIT_ERROR, RunRequest, run

#: option -> environment variable it defaults from.
ENV = {
    "manifest": "AXL_MANIFEST",
    "manifest_digest": "AXL_MANIFEST_DIGEST",
    "step": "AXL_STEP",
    "inputs": "AXL_INPUTS",
    "outputs": "AXL_OUTPUTS",
    "store": "AXL_STORE",
    "run_id": "AXL_RUN_ID",
    "result": "AXL_RESULT",
    "workspace": "AXL_WORKSPACE",
}


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        # A usage error is "the runner could not run it": one JSON line and exit 2, like the rest.
        raise RunnerError(message, hint="python -m axl.runtime --help")


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="python -m axl.runtime",
        description="Run one step of an axl IO manifest.",
        allow_abbrev=False,
    )
    add = parser.add_argument
    add("--manifest", help="The IO manifest (JSON). [AXL_MANIFEST]")
    add(
        "--manifest-digest",
        metavar="DIGEST",
        help="Refuse a manifest whose BLAKE3 digest is not DIGEST. [AXL_MANIFEST_DIGEST]",
    )
    add("--step", help="The node name of the step to run. [AXL_STEP]")
    add("--inputs", help="Folder holding the input files the manifest names. [AXL_INPUTS]")
    add("--outputs", help="Folder to write the output files into. [AXL_OUTPUTS]")
    add("--store", help="Artifact store: a folder or s3://bucket/prefix. [AXL_STORE]")
    add("--run-id", help="Run id: result records go to runs/<id>/ in the store. [AXL_RUN_ID]")
    add("--result", help="Where to write the result record (JSON). [AXL_RESULT]")
    add("--workspace", help="Workspace root holding the workflow's sources. [AXL_WORKSPACE]")
    add(
        "--remote-cache",
        metavar="URL",
        help="Remote cache to consult before running and to upload to: http(s)://host/prefix, "
        "s3://bucket/prefix or a folder ('' turns it off). [AXL_REMOTE_CACHE]",
    )
    add(
        "--remote-upload",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="Upload a fresh result to the remote cache (default: yes). [AXL_REMOTE_UPLOAD]",
    )
    add(
        "--no-cache",
        action="store_true",
        help="Neither look the step up in the action cache nor record it (local or remote): "
        "the caller keeps the cache.",
    )
    add(
        "--setup-env",
        action="store_true",
        help="Create/reuse a venv from uv.lock (uv sync --frozen) and run inside it.",
    )
    return parser


def parse(argv: Sequence[str]) -> tuple[RunRequest, bool]:
    """The request and whether ``--setup-env`` was given.

    Raises:
        RunnerError: Unknown options, or no manifest or step.
    """
    ns = _parser().parse_args(list(argv))
    values = {name: getattr(ns, name) or os.environ.get(var) or None for name, var in ENV.items()}
    for needed in ("manifest", "step"):
        if not values[needed]:
            raise RunnerError(
                f"no --{needed} given (and {ENV[needed]} is not set)",
                hint="python -m axl.runtime --manifest PATH --step NAME ...",
            )

    def path(name: str) -> Path | None:
        value = values[name]
        return Path(value) if value else None

    request = RunRequest(
        manifest=Path(str(values["manifest"])),
        manifest_digest=values["manifest_digest"],
        step=str(values["step"]),
        inputs=path("inputs"),
        outputs=path("outputs"),
        store=values["store"],
        result=path("result"),
        run_id=values["run_id"],
        workspace=path("workspace"),
        cache=not ns.no_cache,
        remote_cache=ns.remote_cache,
        remote_upload=ns.remote_upload,
    )
    return request, bool(ns.setup_env)


def main(
    argv: Sequence[str] | None = None, *, claim_stderr: bool = False, own_process: bool = False
) -> int:
    """Run the runner; returns the exit code.

    Args:
        argv: Arguments (default: ``sys.argv[1:]``).
        claim_stderr: Reserve file descriptor 2 for the JSON log lines and send everything else
            written to it (the step's stderr, C libraries, subprocesses) to stdout.
        own_process: This process is the runner's alone (``python -m axl.runtime``): SIGTERM is
            a graceful stop, it dies with a build that started it, and what the step started
            ends with the step (see :mod:`axl.runtime._lifetime`).
    """
    args = list(sys.argv[1:] if argv is None else argv)
    if own_process:
        runner_setup()
    log = JsonLog(sys.stderr)
    try:
        request, setup_env = parse(args)
        if setup_env:
            from axl.runtime._venv import ensure_environment
            from axl.runtime._workflow import workspace_root

            ensure_environment(workspace_root(request.workspace), args, log)
    except AxlError as exc:
        log.problem("error", exc.render(), hint=exc.hint)
        return EXIT_ERROR
    if claim_stderr:
        log.stream = _claim_stderr()
    # After --setup-env, which may exec another interpreter: the guardian's pipe would not survive.
    guardian = group_guardian() if own_process else None
    try:
        return run(request, log)
    except KeyboardInterrupt as exc:
        # SIGINT or SIGTERM: no result record, no upload of a partial result (every write is
        # atomic, the result record comes last).
        log.problem("interrupted", f"the runner was interrupted by {signal_name(exc)}")
        return exit_code(exc)
    finally:
        if own_process:
            end_children(keep=[guardian.pid] if guardian else [])  # the step's leftovers
        if guardian is not None:
            guardian.close()


def _claim_stderr() -> TextIO:
    sys.stdout.flush()
    sys.stderr.flush()
    fd = os.dup(2)
    os.dup2(1, 2)
    return os.fdopen(fd, "w", encoding="utf-8", errors="replace")


if __name__ == "__main__":
    sys.exit(main(claim_stderr=True, own_process=True))
