"""Compact manifests (steps written against shared bases) and the manifest's digest check."""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from runtime_helpers import emit, forget_modules, runner, topological, write_flow

from axl.errors import RunnerError
from axl.hashing import bytes_digest
from axl.runtime._manifest import validate_manifest
from axl.runtime._manifest_shared import compact_text, expand, merge, share


@pytest.fixture
def flow(workspace: Path) -> Iterator[Path]:
    forget_modules()
    write_flow(workspace)
    yield workspace
    forget_modules()  # the next test's module of the same name is another one


def _wide(calls: int) -> dict[str, Any]:
    """A whole-workflow manifest of a fan-out of ``calls`` and a fan-in, built by hand."""
    leaf = {"from": {"step": "p", "output": "out"}, "digest": None, "handler": "json"}
    leaf |= {"extension": "json", "mode": "object", "path": "x.json"}
    steps: dict[str, Any] = {}
    for i in range(calls):
        steps[f"w-{i}"] = {
            "step": "w",
            "kind": "step",
            "function": {"module": "m", "qualname": "W.w"},
            "key": None,
            "inputs": {"x": {"input": copy.deepcopy(leaf)}, "i": {"const": i}},
            "outputs": [{"name": "out", "handler": "json", "extension": "json", "path": "o.json"}],
        }
    items = [{"input": {**leaf, "from": {"step": f"w-{i}", "output": "out"}}} for i in range(calls)]
    steps["t"] = {**steps["w-0"], "step": "t", "inputs": {"parts": {"list": items}}}
    steps["t"]["function"] = {"module": "m", "qualname": "W.t"}
    workflow = {"name": "w", "module": "m", "qualname": "W"}
    return {"manifest_version": 1, "workflow": workflow, "steps": steps}


def test_share_then_expand_gives_back_the_manifest() -> None:
    manifest = _wide(50)
    compact = share(manifest)
    assert expand(json.loads(compact_text(compact)), "m") == manifest
    validate_manifest(expand(compact, "m"))
    # Each call is what differs from its function's first call; each fan-in item its upstream.
    assert compact["steps"]["w-7"] == {"shared": "w", "inputs": {"i": {"const": 7}}}
    item = compact["steps"]["t"]["inputs"]["parts"]["list"][7]
    assert item == {"input": {"shared": "leaf-0", "from": {"step": "w-7"}}}
    text = compact_text(compact)
    assert len(text) < len(json.dumps(manifest)) / 3
    # One line per step and per base, plus the braces and the other fields.
    assert text.count("\n") == len(compact["steps"]) + len(compact["shared"]) + 8


def test_constants_and_odd_argument_names_are_never_expanded() -> None:
    manifest = _wide(3)
    for entry in manifest["steps"].values():
        if entry["step"] == "w":
            # A constant that looks like a compact entry, under argument names of the format.
            entry["inputs"]["const"] = {"const": {"shared": "w", "input": {}}}
            entry["inputs"]["list"] = {"const": [{"shared": "leaf-0"}]}
    compact = share(manifest)
    assert expand(json.loads(compact_text(compact)), "m") == manifest


def test_a_missing_base_or_bad_shared_block_is_a_runner_error() -> None:
    compact = share(_wide(3))
    broken = copy.deepcopy(compact)
    broken["steps"]["w-1"]["shared"] = "nope"
    with pytest.raises(RunnerError, match="steps/w-1/shared: names no entry of 'shared': 'nope'"):
        expand(broken, "manifest m.json")
    with pytest.raises(RunnerError, match="invalid at shared"):
        expand({**compact, "shared": []}, "manifest m.json")


def test_merge_replaces_everything_but_objects() -> None:
    base = {"a": {"b": 1, "c": [1, 2]}, "d": None}
    assert merge(base, {"a": {"c": [3]}, "d": 0}) == {"a": {"b": 1, "c": [3]}, "d": 0}
    assert base == {"a": {"b": 1, "c": [1, 2]}, "d": None}  # untouched


def test_the_runner_runs_a_compact_manifest_and_checks_its_digest(flow: Path) -> None:
    manifest, ir = emit("flow.py:Flow", flow)
    text = compact_text(share(manifest))
    path = flow / "m.json"
    path.write_text(text)
    digest = bytes_digest(text.encode())
    store = flow / "store"
    for step in topological(ir):
        run = runner(
            *("--manifest", path, "--manifest-digest", digest, "--step", step),
            *("--store", store, "--run-id", "r1"),
            cwd=flow,
        )
        assert run.code == 0, run.err
    # A manifest that is not the compiled one (edited, or another compilation's) is refused.
    path.write_text(text.replace('"n":4', '"n":5'))
    run = runner(
        *("--manifest", path, "--manifest-digest", digest, "--step", "make"),
        *("--store", store, "--run-id", "r2"),
        cwd=flow,
    )
    assert run.code == 2
    (error,) = run.errors
    assert f"but this step was compiled with manifest {digest[:16]}" in error["message"]
    assert "submit the workflow together with the manifest" in error["hint"]
