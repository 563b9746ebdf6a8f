"""Step ``resources`` as Dask worker resources, and the check that some worker can run a step.

Every key of ``@step(resources=...)`` is a Dask resource of the same name: a worker offers what it
declares (``dask worker ... --resources "gpu=1 cpu=8 memory=32e9"``) and runs a step only while
the step's requests fit in what is left. Values become numbers: CPUs may be written in
Kubernetes' millicores (``"500m"``), memory with a unit (``"4Gi"``, ``"512M"``) becomes bytes.
A request no worker of the cluster offers is an error after a short wait (workers may be joining),
never a task left waiting forever.

``cpu`` and ``memory`` are the exception while no worker declares them: every Dask worker has
threads and memory of its own, so on a cluster whose workers declare neither (a plain ``dask
worker``) those two requests are dropped rather than made unsatisfiable, and Dask places the step
by its threads alone. Once some worker declares ``cpu`` (or ``memory``), the request counts.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

from axl.errors import UsageError

_UNITS = {
    "": 1,
    "k": 10**3,
    "m": 10**6,
    "g": 10**9,
    "t": 10**12,
    "ki": 2**10,
    "mi": 2**20,
    "gi": 2**30,
    "ti": 2**40,
}
_QUANTITY = re.compile(r"^\s*([0-9]*\.?[0-9]+(?:e[0-9]+)?)\s*([a-z]*?)b?\s*$", re.IGNORECASE)


def dask_resources(step: str, resources: Iterable[tuple[str, str]]) -> dict[str, float]:
    """``{name: amount}`` for Dask from a step's ``resources``.

    Raises:
        UsageError: A value is not a quantity.
    """
    out: dict[str, float] = {}
    for name, raw in resources:
        text = str(raw).strip()
        if name == "cpu" and text.endswith("m") and text[:-1].isdigit():
            out[name] = int(text[:-1]) / 1000
            continue
        match = _QUANTITY.match(text)
        unit = match.group(2).lower() if match else ""
        if match is None or unit not in _UNITS:
            raise UsageError(
                f"step {step!r}: resources[{name!r}] = {raw!r} is not an amount",
                hint='write a number, CPUs as "2" or "500m", memory as "4Gi" or "512M"',
            )
        out[name] = float(match.group(1)) * _UNITS[unit]
    return out


#: Requests dropped on a cluster where no worker declares them (see the module's docstring).
NATIVE = ("cpu", "memory")


def effective(request: Mapping[str, float], workers: Mapping[str, Any]) -> dict[str, float]:
    """``request`` without the :data:`NATIVE` keys no worker of ``workers`` declares."""
    declared = {name for info in workers.values() for name in (info.get("resources") or {})}
    return {k: v for k, v in request.items() if k not in NATIVE or k in declared}


def satisfiable(request: Mapping[str, float], workers: Mapping[str, Any]) -> bool:
    """Whether one of ``workers`` (the scheduler's ``workers`` info) offers all of ``request``."""
    if not request:
        return bool(workers)
    for info in workers.values():
        offered = info.get("resources") or {}
        if all(offered.get(name, 0) >= amount for name, amount in request.items()):
            return True
    return False


def offered(workers: Mapping[str, Any]) -> str:
    """What the workers offer, for a message."""
    parts = []
    for info in workers.values():
        res = info.get("resources") or {}
        text = ", ".join(f"{k}={v:g}" for k, v in sorted(res.items())) or "no resources"
        parts.append(f"{info.get('name', '?')}: {text}")
    return "; ".join(sorted(parts)) or "no workers"
