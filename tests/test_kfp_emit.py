"""``axl compile --target kfp`` and the ``kfp_pipeline`` BUILD rule: what maps to what."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml
from conftest import REPO, axl, write
from kfp_helpers import PINNED, load_checked

FLOWS = """
from axl import Workflow, step


class Typed(Workflow):
    @step
    def params(self) -> dict:
        return {"i": 3, "f": 0.5, "b": True, "s": "fast", "l": [1, 2], "d": {"a": 1}, "z": None}

    @step(io_handler="json", retries=3, resources={"cpu": "2", "memory": "4Gi", "gpu": "1"},
          env={"OMP_NUM_THREADS": "1"})
    def make(self, i: int, l: list) -> list:
        return [i, *l]

    def graph(self):
        p = self.params()
        return self.make(p["i"], p["l"])


class Disk(Workflow):
    @step(resources={"ephemeral-storage": "10Gi"})
    def make(self) -> int:
        return 1

    def graph(self):
        return self.make()


class Cond(Workflow):
    @step(when="{{workflow.parameters.go}} == true")
    def make(self) -> int:
        return 1

    def graph(self):
        return self.make()


class Same(Workflow):
    name = "make"

    @step
    def make(self) -> int:
        return 1

    def graph(self):
        return self.make()
"""


def _compile(workspace: Path, spec: str, *args: str) -> tuple[dict[str, Any], dict[str, Any]]:
    out = workspace / f"{spec.split(':')[1]}.yaml"
    result = axl("compile", "-t", "kfp", "-m", spec, "--out", str(out), *args, cwd=workspace)
    assert result.code == 0, result.err
    _, spec_doc, platform = load_checked(out)
    return spec_doc, platform


def test_params_are_typed_pipeline_parameters_with_their_defaults(workspace: Path) -> None:
    write(workspace / "flows.py", FLOWS)
    spec, _ = _compile(workspace, "flows.py:Typed", "--image", PINNED)
    params = spec["root"]["inputDefinitions"]["parameters"]
    assert {k: (v["parameterType"], v["defaultValue"]) for k, v in params.items()} == {
        "b": ("BOOLEAN", True),
        "d": ("STRING", '{"a":1}'),  # JSON text: protobuf would make 1 a float
        "f": ("NUMBER_DOUBLE", 0.5),
        "i": ("NUMBER_INTEGER", 3),
        "l": ("STRING", "[1,2]"),
        "s": ("STRING", "fast"),
        "z": ("STRING", "null"),
    }
    assert params["l"]["description"] == 'params["l"] (JSON text)'
    assert params["s"]["description"] == 'params["s"]'
    task = spec["root"]["dag"]["tasks"]["params"]
    assert task["inputs"]["parameters"]["i"] == {"componentInputParameter": "i"}
    args = spec["deploymentSpec"]["executors"]["exec-params"]["container"]["args"]
    assert "i={{$.inputs.parameters['i']}}" in args


def test_retries_resources_env_and_caching(workspace: Path) -> None:
    write(workspace / "flows.py", FLOWS)
    spec, platform = _compile(workspace, "flows.py:Typed", "--image", PINNED)
    task = spec["root"]["dag"]["tasks"]["make"]
    assert task["retryPolicy"] == {
        "maxRetryCount": 3,
        "backoffDuration": "10s",
        "backoffFactor": 2.0,
        "backoffMaxDuration": "3600s",
    }
    # KFP's own cache is off for every task: axl's runner decides, by content.
    assert all(t["cachingOptions"] == {} for t in spec["root"]["dag"]["tasks"].values())
    container = spec["deploymentSpec"]["executors"]["exec-make"]["container"]
    assert container["resources"] == {
        "accelerator": {"resourceType": "nvidia.com/gpu", "resourceCount": "1"},
        "resourceCpuRequest": "2",
        "resourceMemoryLimit": "4Gi",
        "resourceMemoryRequest": "4Gi",
    }
    assert container["env"] == [{"name": "OMP_NUM_THREADS", "value": "1"}]
    assert container["image"] == PINNED
    assert container["command"] == ["python", "-m", "axl.runtime.kfp"]
    pod = platform["platforms"]["kubernetes"]["deploymentSpec"]["executors"]["exec-make"]
    assert pod["podMetadata"]["annotations"]["axl.dev/step"] == "make"
    assert len(pod["podMetadata"]["annotations"]["axl.dev/key-parts"]) == 64
    assert pod["podMetadata"]["labels"] == {"axl.dev/workflow": "typed"}


def test_key_parts_annotation_equals_argo_s(workspace: Path) -> None:
    write(workspace / "flows.py", FLOWS)
    _, platform = _compile(workspace, "flows.py:Typed", "--image", PINNED)
    argo = axl("compile", "-t", "argo", "-m", "flows.py:Typed", "--image", PINNED, cwd=workspace)
    *_, workflow = yaml.safe_load_all(argo.out)  # the manifest's ConfigMap, then the Workflow
    templates = workflow["spec"]["templates"][1:]
    argo_parts = {t["name"]: t["metadata"]["annotations"]["axl.dev/key-parts"] for t in templates}
    pods = platform["platforms"]["kubernetes"]["deploymentSpec"]["executors"]
    kfp_parts = {
        k[5:]: v["podMetadata"]["annotations"]["axl.dev/key-parts"] for k, v in pods.items()
    }
    assert kfp_parts == argo_parts


def test_a_step_named_like_the_pipeline_is_renamed(workspace: Path) -> None:
    write(workspace / "flows.py", FLOWS)
    spec, _ = _compile(workspace, "flows.py:Same", "--image", PINNED)
    assert spec["pipelineInfo"]["name"] == "make"
    assert list(spec["root"]["dag"]["tasks"]) == ["make-2"]
    assert spec["root"]["dag"]["tasks"]["make-2"]["taskInfo"] == {"name": "make"}


def test_bad_input_is_one_error_line(workspace: Path) -> None:
    write(workspace / "flows.py", FLOWS)
    cases = {
        ("-m", "flows.py:Typed", "--kind", "WorkflowTemplate"): (
            "error: --kind does not apply to --target kfp\n"
            "hint: kfp takes: --image, --remote-cache, --cache-secret-ref\n"
        ),
        ("-m", "flows.py:Typed", "--remote-cache", "/shared/cache"): (
            "error: remote cache '/shared/cache' is not a URL every pod can reach\n"
        ),
        ("-m", "flows.py:Disk"): (
            "error: flows.py:20: step 'make' of workflow 'Disk' asks for resource "
            "'ephemeral-storage', which a KFP task cannot request\n"
            "hint: KFP tasks take: cpu, memory, gpu\n"
        ),
        ("-m", "flows.py:Cond"): (
            "error: flows.py:29: step 'make' of workflow 'Cond' has a condition "
            "(when='{{workflow.parameters.go}} == true'), which the KFP target does not emit yet\n"
            "hint: compile it for Argo (--target argo), or remove `when` for KFP\n"
        ),
    }
    for args, expected in cases.items():
        result = axl("compile", "-t", "kfp", *args, cwd=workspace)
        assert result.code == 2, (args, result.err)
        assert result.err.startswith(expected), (args, result.err)
        assert "Traceback" not in result.err
        assert result.out == ""


def test_build_rule_writes_the_same_yaml_as_compile(workspace: Path) -> None:
    write(workspace / "flows.py", FLOWS)
    write(
        workspace / "BUILD",
        f"""
        axl_workflow(name = "typed", workflow = "flows.py:Typed")
        kfp_pipeline(name = "typed_kfp", workflow = ":typed", image = "{PINNED}",
                     remote_cache = "http://cache.svc:8080/axl", cache_secret_ref = "axl-cache")
        kfp_pipeline(name = "moving", workflow = ":typed", image = "reg.example/flows:latest")
        """,
    )
    result = axl("build", "//:typed_kfp", cwd=workspace)
    assert result.code == 0, result.err
    assert (
        "//:typed_kfp  ok: wrote workspace/targets/typed_kfp.yaml: KFP pipeline typed" in result.out
    )
    built = workspace / "workspace" / "targets" / "typed_kfp.yaml"
    compiled = axl(
        "compile",
        "-t",
        "kfp",
        "-m",
        "flows.py:Typed",
        "--image",
        PINNED,
        "--remote-cache",
        "http://cache.svc:8080/axl",
        "--cache-secret-ref",
        "axl-cache",
        cwd=workspace,
    )
    assert built.read_text() == compiled.out
    load_checked(built)
    moving = axl("build", "//:moving", cwd=workspace)
    assert moving.code == 2
    assert "image 'reg.example/flows:latest' is not pinned by digest" in moving.err


def test_emitting_needs_no_kfp() -> None:
    # With kfp blocked, compiling still works (the SDK check is skipped, with a warning) and
    # nothing imports it.
    code = """
import sys
sys.modules["kfp"] = None
from axl.emit import compile_workflow
compiled = compile_workflow("kfp", "examples/tiny.py:Tiny", workspace=".")
assert any("kfp is not installed" in w for w in compiled.warnings), compiled.warnings
assert sys.modules["kfp"] is None
assert not [m for m in sys.modules if m.startswith(("kfp.", "google.protobuf"))]
golden = open("tests/golden/kfp/tiny.yaml").read()
assert compiled.text == golden
"""
    proc = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=False
    )
    assert proc.returncode == 0, proc.stderr


def test_a_run_config_gives_its_remote_cache_and_defaults(workspace: Path) -> None:
    write(workspace / "flows.py", FLOWS)
    write(
        workspace / "prod.yaml",
        """
        version: 1
        remote_cache: http://cache.svc:8080/axl
        defaults:
          retries: 4
        """,
    )
    spec, _ = _compile(workspace, "flows.py:Same", "--image", PINNED, "--config", "prod.yaml")
    (executor,) = spec["deploymentSpec"]["executors"].values()
    env = executor["container"]["env"]
    assert env == [{"name": "AXL_REMOTE_CACHE", "value": "http://cache.svc:8080/axl"}]
    (task,) = spec["root"]["dag"]["tasks"].values()
    assert task["retryPolicy"]["maxRetryCount"] == 4
