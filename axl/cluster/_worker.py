"""What runs on a Dask worker: one step, through the runner, with the shared store as its disk.

:func:`run_step` is the task the client submits (``axl`` must be importable on the workers; the
workflow's own sources come in the task's source bundle). Each worker keeps a cache folder
(``$AXL_WORKER_CACHE``, else ``~/.cache/axl-worker``): ``store/`` (a local cache: inputs and
outputs), ``src/<bundle digest>/`` (unpacked sources) and ``envs/<lockfile digest>/`` (``warm_env``
environments). Nothing here writes an action record: the client records every result, once.

The payload and the answer are plain JSON-able dicts, so client and worker agree by contract (the
runner's manifest, see ``runner/SPEC.md``), not by pickled axl objects.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

from axl.cache._local import LocalStore
from axl.cache._remote import open_remote
from axl.cluster._sources import unpack
from axl.cluster._transfer import pull_blob, push_blob
from axl.errors import AxlError
from axl.runtime._subprocess import outcome_of

ENV_CACHE = "AXL_WORKER_CACHE"
#: How often a running step checks that its task is still wanted (cancelled: killed).
_POLL = 0.2


def worker_cache() -> Path:
    """The worker's cache folder."""
    chosen = os.environ.get(ENV_CACHE)
    return Path(chosen) if chosen else Path.home() / ".cache" / "axl-worker"


def _worker_name() -> str:
    from distributed import get_worker

    with contextlib.suppress(ValueError):
        worker = get_worker()
        return str(worker.name)
    return os.uname().nodename


def prepare(payload: dict[str, Any]) -> tuple[Path, str]:
    """Make the payload's sources (and environment, for ``env == "sync"``) present here.

    Returns:
        The unpacked source folder and the Python to run the runner with.
    """
    from axl.cluster._env import synced_python

    cache = worker_cache()
    store = LocalStore(cache / "store")
    remote = open_remote(payload["remote"], timeout=payload.get("timeout"))
    try:
        digest, name = payload["sources"]
        pull_blob(remote, store, digest, name)
    finally:
        remote.close()
    src = unpack(store.blob_path(digest), cache / "src" / digest)
    python = sys.executable
    if payload.get("env") == "sync":
        python = synced_python(cache / "envs", src, payload["dependencies"])
    return src, python


def warm(payload: dict[str, Any]) -> str:
    """``warm_env``: prepare sources and environment before the first step (run on every
    worker by ``Client.run``); returns the Python steps will use."""
    return prepare(payload)[1]


def run_step(payload: dict[str, Any]) -> dict[str, Any]:
    """Run one step: fetch sources and inputs, run ``python -m axl.runtime``, publish outputs.

    Returns:
        ``status`` (ok, failed, error), the runner's outputs, seconds, error, traceback,
        log digest and stdout; ``names`` (each blob's SHA-256 in the store); ``worker``.
    """
    began = time.time()
    answer: dict[str, Any] = {"worker": _worker_name(), "started": began, "names": {}}
    try:
        answer.update(_run(payload))
    except AxlError as exc:
        answer.update(status="error", error=f"on worker {answer['worker']}: {exc.render()}")
    return answer


def _run(payload: dict[str, Any]) -> dict[str, Any]:
    src, python = prepare(payload)
    store = LocalStore(worker_cache() / "store")
    remote = open_remote(payload["remote"], timeout=payload.get("timeout"))
    folder = store.tmp_folder()
    try:
        for digest, name in payload["inputs"]:
            pull_blob(remote, store, digest, name)
        manifest, result = folder / "manifest.json", folder / "result.json"
        manifest.write_text(payload["manifest"], encoding="utf-8")
        argv = [python, "-m", "axl.runtime", "--manifest", str(manifest)]
        argv += ["--step", payload["step"], "--store", str(store.root), "--result", str(result)]
        argv += ["--workspace", str(src), "--no-cache"]
        env = {k: v for k, v in os.environ.items() if k not in ("AXL_RUN_ID", "AXL_ENV_READY")}
        code, out, err = _supervised(argv, {**env, "AXL_WORKSPACE": str(src)}, src)
        outcome = outcome_of(code, result, out, err)
        names: dict[str, str] = {}
        if outcome.status == "ok":
            blobs = [rec.digest for rec in outcome.outputs.values()]
            for digest in [*blobs, *([outcome.log_digest] if outcome.log_digest else [])]:
                names[digest] = push_blob(remote, store, digest)
        return {
            "status": outcome.status,
            "outputs": {k: rec.to_json() for k, rec in outcome.outputs.items()},
            "seconds": outcome.seconds,
            "error": outcome.error,
            "traceback": outcome.traceback,
            "log_digest": outcome.log_digest,
            "logs": outcome.logs,
            "names": names,
        }
    finally:
        remote.close()
        shutil.rmtree(folder, ignore_errors=True)


def _supervised(argv: list[str], env: dict[str, str], cwd: Path) -> tuple[int, str, str]:
    """Run the runner; kill it when its task is cancelled, and with this worker (Linux)."""
    key = _current_key()
    with subprocess.Popen(
        argv,
        cwd=cwd,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=_die_with_parent,  # noqa: PLW1509 - only sets the parent-death signal
    ) as proc:
        out: list[str] = []
        err: list[str] = []
        readers = [
            threading.Thread(target=lambda: out.append(proc.stdout.read()), daemon=True),  # type: ignore[union-attr]
            threading.Thread(target=lambda: err.append(proc.stderr.read()), daemon=True),  # type: ignore[union-attr]
        ]
        for reader in readers:
            reader.start()
        while True:
            try:
                code = proc.wait(timeout=_POLL)
                break
            except subprocess.TimeoutExpired:
                if key is not None and not _wanted(key):
                    proc.kill()
        for reader in readers:
            reader.join()
    return code, "".join(out), "".join(err)


def _current_key() -> str | None:
    from distributed import get_worker

    with contextlib.suppress(ValueError, AttributeError):
        return str(get_worker().get_current_task())
    return None


def _wanted(key: str) -> bool:
    from distributed import get_worker

    try:
        state = get_worker().state.tasks.get(key)
    except (ValueError, AttributeError):
        return True
    return state is not None and state.state not in ("cancelled", "released", "forgotten")


def _die_with_parent() -> None:
    # PR_SET_PDEATHSIG: a worker killed with SIGKILL takes its runner along, so no stray copy
    # of the step keeps running where nobody waits for it.
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)
