"""The IO manifest: emission, the JSON Schema, and validation of untrusted manifests."""

from __future__ import annotations

import copy
import json
import shutil
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from conftest import REPO, write
from runtime_helpers import emit, forget_modules, write_flow

from axl.errors import RunnerError
from axl.exec import BuildOptions
from axl.exec._session import run_local
from axl.runtime import _subprocess
from axl.runtime._manifest import (
    MANIFEST_VERSION,
    emit_manifest,
    manifest_json,
    manifest_schema,
    safe_relpath,
    task_manifest,
    validate_manifest,
)

SCHEMA_FILE = REPO / "runner" / "manifest.schema.json"


def _validator() -> jsonschema.Draft202012Validator:
    # Straight from the file in runner/, not through axl: that file is the contract.
    return jsonschema.Draft202012Validator(json.loads(SCHEMA_FILE.read_text()))


def test_the_schema_is_a_valid_draft_2020_12_schema() -> None:
    schema = json.loads(SCHEMA_FILE.read_text())
    jsonschema.Draft202012Validator.check_schema(schema)
    assert schema["properties"]["manifest_version"]["const"] == MANIFEST_VERSION
    assert manifest_schema() == schema


@pytest.fixture
def examples(workspace: Path) -> Path:
    """The example workflows and the test flow, copied into a throwaway workspace."""
    forget_modules()
    for name in ("tiny.py", "fanout.py", "churn_workflow.py"):
        shutil.copy(REPO / "examples" / name, workspace)
    write_flow(workspace)
    return workspace


SPECS = [
    "tiny.py:Tiny",
    "fanout.py:FanOut",
    "churn_workflow.py:ChurnWorkflow",
    "flow.py:Flow",
    "flow.py:Broken",
]


@pytest.mark.parametrize("spec", SPECS)
def test_every_emitted_manifest_validates_and_is_deterministic(examples: Path, spec: str) -> None:
    manifest, ir = emit(spec, examples)
    errors = sorted(_validator().iter_errors(manifest), key=str)
    assert not errors, errors[0]
    validate_manifest(manifest)
    assert set(manifest["steps"]) == {n.name for n in ir.nodes}
    assert manifest["workflow"]["hash"] == ir.compute_hash()
    again, _ = emit(spec, examples)
    assert manifest_json(again) == manifest_json(manifest)
    # The params step's key needs no upstream digest: it is known at emission.
    for name, entry in manifest["steps"].items():
        if entry["kind"] == "params":
            assert entry["key"] is not None, name
            assert entry["params"]


def test_emitted_keys_are_the_engines_keys(examples: Path) -> None:
    """With the built outputs given, every step's key in the manifest is the engine's key."""
    report = run_local(
        "fanout.py:FanOut", workspace=examples, options=BuildOptions(in_process=True)
    )
    assert report.ok
    from runtime_helpers import load

    from axl.exec._session import live_code
    from axl.graph import environment_part

    cls, ir = load("fanout.py:FanOut", examples)
    code, _ = live_code(cls, examples)
    outputs = {
        (name, out): rec for name, step in report.steps.items() for out, rec in step.outputs.items()
    }
    manifest = emit_manifest(
        ir, code=code, environment=environment_part(ir, examples), outputs=outputs
    )
    assert not list(_validator().iter_errors(manifest))
    for name, entry in manifest["steps"].items():
        assert entry["key"] == report.steps[name].key, name
        for leaf in _leaves(entry["inputs"]):
            assert leaf["digest"] is not None
            assert "size" in leaf
    # Without outputs, only what needs no upstream digest is keyed.
    bare = emit_manifest(ir, code=code, environment=environment_part(ir, examples))
    assert [n for n, e in bare["steps"].items() if e["key"]] == ["params"]


def _leaves(inputs: dict[str, Any]) -> list[dict[str, Any]]:
    from axl.runtime._manifest import iter_leaves

    return iter_leaves(inputs)


def test_task_manifests_written_by_subprocess_mode_validate(
    examples: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: list[dict[str, Any]] = []

    def spy(*args: Any, **kw: Any) -> dict[str, Any]:
        manifest = task_manifest(*args, **kw)
        seen.append(copy.deepcopy(manifest))
        return manifest

    monkeypatch.setattr(_subprocess, "task_manifest", spy)
    report = run_local(
        "fanout.py:FanOut",
        workspace=examples,
        options=BuildOptions(jobs=1, runner=_subprocess.SubprocessRunner(str(examples))),
    )
    assert report.ok, report.to_json()
    assert len(seen) == len(report.steps) - 1  # every step but params ran through the runner
    for manifest in seen:
        assert not list(_validator().iter_errors(manifest))
        ((name, entry),) = manifest["steps"].items()
        assert entry["key"] == report.steps[name].key
        assert manifest["sources"] == {"fanout.py": manifest["sources"]["fanout.py"]}
    report_entry = next(m for m in seen if "report" in m["steps"])["steps"]["report"]
    assert report_entry["inputs"]["test"]["input"]["mode"] == "path"
    assert report_entry["inputs"]["sums"]["dict"]["train"]["input"]["from"] == {
        "step": "total",
        "output": "out",
    }


def test_odd_names_never_become_odd_paths(workspace: Path) -> None:
    forget_modules()
    write(
        workspace / "odd.py",
        """
        from axl import Workflow, step


        class Odd(Workflow):
            @step
            def params(self) -> dict:
                return {"../escape": 1, "a b": 2}

            @step
            def use(self, x: int, y: int, more: dict) -> int:
                return x + y

            def graph(self):
                p = self.params()
                return self.use(p["../escape"], p["a b"], {"../k": p["a b"], "ok": p["a b"]})
        """,
    )
    manifest, _ = emit("odd.py:Odd", workspace)
    validate_manifest(manifest)
    paths = [o["path"] for o in manifest["steps"]["params"]["outputs"]]
    assert all("/" not in p and " " not in p for p in paths), paths
    use = manifest["steps"]["use"]["inputs"]
    assert use["more"]["dict"]["../k"]["input"]["path"] == "more/_0.json"
    assert use["more"]["dict"]["ok"]["input"]["path"] == "more/ok.json"


def _minimal() -> dict[str, Any]:
    return {
        "manifest_version": 1,
        "workflow": {"name": "w", "module": "m", "qualname": "W"},
        "steps": {
            "a": {
                "step": "a",
                "kind": "step",
                "function": {"module": "m", "qualname": "W.a"},
                "inputs": {
                    "x": {
                        "input": {
                            "from": {"step": "b", "output": "out"},
                            "handler": "pickle",
                            "extension": "pkl",
                            "mode": "object",
                            "path": "x.pkl",
                        }
                    },
                    "k": {"const": [1, {"a": None}]},
                },
                "outputs": [{"name": "out", "handler": "pickle", "extension": "pkl", "path": "o"}],
            }
        },
    }


def test_a_minimal_manifest_validates() -> None:
    validate_manifest(_minimal())
    assert not list(_validator().iter_errors(_minimal()))


@pytest.mark.parametrize(
    ("where", "expected"),
    [
        (lambda m: m, "Additional properties are not allowed ('extra'"),
        (lambda m: m["workflow"], "invalid at workflow"),
        (lambda m: m["steps"]["a"], "invalid at steps/a"),
        (lambda m: m["steps"]["a"]["function"], "invalid at steps/a/function"),
        (lambda m: m["steps"]["a"]["inputs"]["x"]["input"], "invalid at steps/a/inputs/x/input"),
        (lambda m: m["steps"]["a"]["inputs"]["x"]["input"]["from"], "inputs/x/input/from"),
        (lambda m: m["steps"]["a"]["outputs"][0], "invalid at steps/a/outputs/0"),
    ],
)
def test_unknown_fields_are_errors_at_every_level(where: Any, expected: str) -> None:
    manifest = _minimal()
    where(manifest)["extra"] = 1
    with pytest.raises(RunnerError, match="extra") as info:
        validate_manifest(manifest, where="manifest m.json")
    assert expected in info.value.message
    assert info.value.message.startswith("manifest m.json is invalid at")
    assert list(_validator().iter_errors(manifest))  # the schema file alone says so too


@pytest.mark.parametrize(
    ("mutate", "expected"),
    [
        (lambda m: m.update(manifest_version=2), "manifest_version 2; this runner reads version 1"),
        (lambda m: m.pop("manifest_version"), "manifest_version None"),
        (lambda m: m["steps"].update({"../x": m["steps"]["a"]}), "invalid at steps"),
        (lambda m: m["steps"]["a"].update(kind="params"), "params step 'a' has no params values"),
        (
            lambda m: m["steps"]["a"]["outputs"].append(dict(m["steps"]["a"]["outputs"][0])),
            "two outputs",
        ),
        (lambda m: m["steps"]["a"]["inputs"]["x"].update(const=1), "too many properties"),
        (lambda m: m["steps"]["a"]["inputs"]["x"]["input"].update(digest="abc"), "digest"),
        (lambda m: m.update(sources={"../../etc/passwd": "0" * 64}), "escapes"),
        (lambda m: m["workflow"].update(module="os; rm -rf /"), "invalid at workflow/module"),
    ],
)
def test_bad_manifests_are_refused(mutate: Any, expected: str) -> None:
    manifest = _minimal()
    mutate(manifest)
    with pytest.raises(RunnerError) as info:
        validate_manifest(manifest)
    assert expected in info.value.message


@pytest.mark.parametrize(
    "path", ["../x", "a/../../x", "/etc/passwd", "", ".", "a//b", "a/./b", "a\\..\\b", "x\x00"]
)
def test_paths_that_escape_are_refused(path: str) -> None:
    with pytest.raises(RunnerError, match="escapes the run's folders"):
        safe_relpath(path, "test")
    manifest = _minimal()
    manifest["steps"]["a"]["outputs"][0]["path"] = path
    with pytest.raises(RunnerError):
        validate_manifest(manifest)


@pytest.mark.parametrize("path", ["x", "a/b.pkl", "x..y", ".hidden", "a-b/c_d.parquet"])
def test_plain_relative_paths_are_accepted(path: str) -> None:
    assert str(safe_relpath(path, "test")) == path
    manifest = _minimal()
    manifest["steps"]["a"]["outputs"][0]["path"] = path
    validate_manifest(manifest)
