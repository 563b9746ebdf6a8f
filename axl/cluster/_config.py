"""Which executor a build uses, and its settings: the flag, then the environment, then
``[tool.axl]`` in the workspace's ``pyproject.toml`` (as for the remote cache).

| setting | flag | environment | ``[tool.axl]`` |
|---|---|---|---|
| executor | ``--executor local|dask`` | ``AXL_EXECUTOR`` | ``executor`` |
| scheduler | ``--scheduler tcp://HOST:PORT`` | ``AXL_SCHEDULER`` | ``scheduler`` |
| warm_env | ``--warm-env`` | ``AXL_WARM_ENV=1`` | ``warm_env = true`` |
| worker_env | - | ``AXL_WORKER_ENV`` | ``worker_env = "lockfile"`` |
| placement wait | - | ``AXL_PLACEMENT_TIMEOUT`` (s) | ``placement_timeout`` |
| scheduler wait | - | ``AXL_SCHEDULER_TIMEOUT`` (s) | ``scheduler_timeout`` |
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from axl.cache._remote import _tool_axl
from axl.errors import UsageError

if TYPE_CHECKING:
    from axl.cluster._executor import DaskExecutor
    from axl.exec import BuildOptions

T = TypeVar("T")

EXECUTORS = ("local", "dask")


def executor_for(
    *,
    executor: str | None,
    scheduler: str | None,
    warm_env: bool | None,
    workspace: str | None,
) -> DaskExecutor | None:
    """The executor a build uses: ``None`` for the local one.

    Raises:
        UsageError: An unknown executor, a Dask executor without a scheduler, or a malformed
            setting.
    """
    from axl._loader import find_workspace

    root = find_workspace(explicit=workspace)
    table = _tool_axl(root)
    chosen = _pick(executor, "AXL_EXECUTOR", table, "executor", root) or "local"
    if chosen not in EXECUTORS:
        raise UsageError(f"unknown executor {chosen!r}", hint=f"use one of: {', '.join(EXECUTORS)}")
    if chosen == "local":
        if scheduler:
            raise UsageError(
                "--scheduler is given but the executor is local", hint="add --executor dask"
            )
        return None
    address = _pick(scheduler, "AXL_SCHEDULER", table, "scheduler", root)
    if not address:
        raise UsageError(
            "--executor dask needs the scheduler's address",
            hint="pass --scheduler tcp://HOST:PORT (or set $AXL_SCHEDULER, or scheduler = "
            '"tcp://..." under [tool.axl])',
        )
    if "://" not in address:
        address = f"tcp://{address}"
    from axl.cluster._executor import DaskExecutor

    warm = warm_env
    if warm is None:
        raw = _pick(None, "AXL_WARM_ENV", table, "warm_env", root, kind=bool)
        warm = raw in ("1", "true", "yes", "on", "True")
    env = _pick(None, "AXL_WORKER_ENV", table, "worker_env", root) or "worker"
    if env not in ("worker", "lockfile"):
        raise UsageError(
            f"unknown worker_env {env!r}",
            hint='use "worker" (the worker\'s own Python) or "lockfile" (uv sync --frozen)',
        )
    return DaskExecutor(
        address,
        workspace=workspace,
        warm_env=bool(warm),
        lockfile_env=bool(warm) or env == "lockfile",
        placement_timeout=_seconds("AXL_PLACEMENT_TIMEOUT", table, "placement_timeout", 10.0),
        connect_timeout=_seconds("AXL_SCHEDULER_TIMEOUT", table, "scheduler_timeout", 10.0),
    )


def _pick(
    flag: str | None,
    var: str,
    table: dict[str, Any],
    key: str,
    root: Path,
    kind: type = str,
) -> str | None:
    if flag:
        return flag
    if os.environ.get(var, "").strip():
        return os.environ[var].strip()
    value = table.get(key)
    if value is None:
        return None
    if not isinstance(value, kind):
        raise UsageError(
            f"[tool.axl] {key} must be a {'string' if kind is str else 'true or false'}",
            hint=f"fix {key} under [tool.axl]",
            file=root / "pyproject.toml",
        )
    return str(value)


def _seconds(var: str, table: dict[str, Any], key: str, default: float) -> float:
    raw: Any = os.environ.get(var, "").strip() or table.get(key, default)
    try:
        value = float(raw)
    except (TypeError, ValueError):
        value = -1.0
    if not 0 < value <= 3600:
        raise UsageError(
            f"{var} / [tool.axl] {key} = {raw!r} is not a number of seconds",
            hint="set it to e.g. 10",
        )
    return value


def with_executor(
    options: BuildOptions,
    build: Callable[[], T],
    *,
    executor: str | None,
    scheduler: str | None,
    warm_env: bool,
    workspace: str | None,
) -> T:
    """Run ``build()`` with the chosen executor in ``options`` (closed afterwards, cancelling
    whatever is still out on the cluster when the build was interrupted)."""
    chosen = executor_for(
        executor=executor, scheduler=scheduler, warm_env=warm_env or None, workspace=workspace
    )
    if chosen is None:
        return build()
    if options.in_process or options.runner is not None:
        raise UsageError(
            "--executor dask runs steps on the cluster; --in-process and --subprocess run them "
            "here",
            hint="drop one of them",
        )
    options.executor = chosen
    try:
        return build()
    finally:
        chosen.close()
