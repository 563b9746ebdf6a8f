"""The local executor's subprocess mode: each step through ``python -m axl.runtime``.

Used for isolation (a step cannot leak state into the next one or crash the build) and to prove
parity: a step run this way goes through exactly the code path a container runs. The local cache
folder is the runner's artifact store, so nothing is copied: inputs are read from, and outputs
written to, the same CAS the in-process executor uses.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from axl._loader import find_workspace
from axl.cache._local import LocalStore
from axl.cache._records import OutputRecord
from axl.graph._keys import KeyParts
from axl.ir import IRNode
from axl.runtime._lifetime import PARENT_ENV
from axl.runtime._manifest import manifest_json, project_sources, task_manifest
from axl.runtime._step import StepOutcome, StepTask


@dataclass(frozen=True)
class SubprocessRunner:
    """A step runner (``BuildOptions.runner``) that runs each step in a fresh Python process.

    Picklable, so the executor's worker processes can use it.

    Args:
        workspace: The workspace root, as given to ``axl run local --workspace``.
        python: The interpreter to run (default: this one).
    """

    workspace: str | None = None
    python: str = sys.executable

    def __call__(
        self, node: IRNode, task: StepTask, parts: KeyParts, store: LocalStore
    ) -> StepOutcome:
        root = find_workspace(explicit=self.workspace)
        folder = store.tmp_folder()
        try:
            manifest = task_manifest(node, task, parts, sources=project_sources(root))
            manifest_path = folder / "manifest.json"
            manifest_path.write_text(manifest_json(manifest), encoding="utf-8")
            result_path = folder / "result.json"
            argv = [
                self.python,
                "-m",
                "axl.runtime",
                "--manifest",
                str(manifest_path),
                "--step",
                node.name,
                "--store",
                str(store.root),
                "--result",
                str(result_path),
                # The build looked the step up and records it (in its own, maybe remote, cache).
                "--no-cache",
            ]
            # The runner dies with this process (a build's worker), whatever kills it.
            env = {**os.environ, "AXL_WORKSPACE": str(root), PARENT_ENV: str(os.getpid())}
            env.pop("AXL_RUN_ID", None)
            proc = subprocess.run(argv, capture_output=True, text=True, env=env, check=False)
            return outcome_of(proc.returncode, result_path, proc.stdout, proc.stderr)
        finally:
            shutil.rmtree(folder, ignore_errors=True)


def outcome_of(code: int, result_path: Path, stdout: str, stderr: str) -> StepOutcome:
    """The :class:`StepOutcome` of a finished runner process, from its result record (or, when
    it died before writing one, from its last error log line)."""
    try:
        data: dict[str, Any] = json.loads(result_path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        data = {}
    if data.get("status") == "ok" and code == 0:
        return StepOutcome(
            "ok",
            outputs={k: OutputRecord.from_json(v) for k, v in data.get("outputs", {}).items()},
            seconds=float(data.get("seconds") or 0.0),
            log_digest=data.get("log_digest"),
            logs=stdout,
            undeclared=[str(v) for v in data.get("undeclared") or ()],
        )
    status = "failed" if code == 1 and data.get("status") == "failed" else "error"
    error = data.get("error") or _last_error(stderr)
    if code < 0:
        error = f"the runner was killed by signal {-code}" + (f": {error}" if error else "")
    return StepOutcome(
        status,
        seconds=float(data.get("seconds") or 0.0),
        error=error or f"the runner exited with code {code} and left no result record",
        traceback=data.get("traceback"),
        log_digest=data.get("log_digest"),
        logs=stdout,
        undeclared=[str(v) for v in data.get("undeclared") or ()],
        hint=data.get("hint"),
    )


def _last_error(stderr: str) -> str | None:
    for line in reversed(stderr.splitlines()):
        try:
            record = json.loads(line)
        except ValueError:
            continue
        if isinstance(record, dict) and record.get("level") == "error" and record.get("message"):
            return str(record["message"])
    tail = stderr.strip().splitlines()[-3:]
    return " | ".join(tail) if tail else None
