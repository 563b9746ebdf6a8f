"""The Argo emitter: the shape of the Workflow, each step option's translation, names, options."""

from __future__ import annotations

from pathlib import Path

import pytest
from argo_helpers import (
    OPTIONS_WORKFLOW,
    bundle_from,
    example_bundle,
    manifest_of,
    task,
    template,
    workflow_manifest,
)

from axl.emit.argo import (
    ArgoOptions,
    check,
    compile_argo,
    compile_target,
    dump_yaml,
    emit_objects,
    emit_workflow,
)
from axl.errors import EmitError, UsageError
from axl.hashing import bytes_digest
from axl.runtime._manifest import validate_manifest

RUNNER = ["python", "-m", "axl.runtime"]


@pytest.fixture(scope="module")
def tiny() -> dict:
    return emit_workflow(example_bundle("examples/tiny.py:Tiny"))


def tiny_objects() -> list[dict]:
    return emit_objects(example_bundle("examples/tiny.py:Tiny"))


@pytest.fixture
def opts(workspace: Path) -> dict:
    return emit_workflow(bundle_from(workspace, OPTIONS_WORKFLOW, "Opts"))


def test_one_dag_and_one_container_template_per_step(tiny: dict) -> None:
    assert tiny["apiVersion"] == "argoproj.io/v1alpha1"
    assert tiny["kind"] == "Workflow"
    assert tiny["metadata"]["generateName"] == "tiny-"
    names = [t["name"] for t in tiny["spec"]["templates"]]
    assert names == ["main", "params", "make", "total"]
    assert tiny["spec"]["entrypoint"] == "main"
    dag = template(tiny, "main")["dag"]["tasks"]
    assert [(t["name"], t["template"], t.get("dependencies")) for t in dag] == [
        ("params", "params", None),
        ("make", "make", ["params"]),
        ("total", "total", ["make"]),
    ]
    params = template(tiny, "params")["container"]
    assert params["command"] == RUNNER
    assert params["args"] == [
        "--manifest",
        "/axl/manifest.json",
        "--step",
        "params",
        "--inputs",
        "/axl/inputs",
        "--outputs",
        "/axl/outputs",
    ]
    digest = tiny_objects()[0]["metadata"]["annotations"]["axl.dev/manifest-digest"]
    for name in ("make", "total"):
        container = template(tiny, name)["container"]
        assert container["command"] == RUNNER
        # The workflow's manifest from its ConfigMap, checked against the compiled digest; the
        # call to run is the task's parameter.
        assert container["args"] == [
            "--manifest",
            "/axl/manifest/manifest.json",
            "--manifest-digest",
            digest,
            "--step",
            "{{inputs.parameters.step}}",
            "--inputs",
            "/axl/inputs",
            "--outputs",
            "/axl/outputs",
        ]
        assert container["volumeMounts"] == [
            {"name": "axl-manifest", "mountPath": "/axl/manifest", "readOnly": True}
        ]
        assert task(tiny, name)["arguments"]["parameters"] == [{"name": "step", "value": name}]
    for name in ("params", "make", "total"):
        assert template(tiny, name)["container"]["image"] == "python:3.11-slim"  # the default


def test_outputs_are_single_file_artifacts_at_fixed_paths(tiny: dict) -> None:
    outputs = {
        name: {a["name"]: a for a in template(tiny, name)["outputs"]["artifacts"]}
        for name in ("params", "make", "total")
    }
    assert outputs["params"]["out"]["path"] == "/axl/outputs/out.json"
    assert outputs["params"]["n"]["path"] == "/axl/outputs/n.json"
    # `make` returns a list with no declared handler: "auto", decided at run time, no extension.
    assert outputs["make"]["out"]["path"] == "/axl/outputs/out"
    assert outputs["total"]["out"]["path"] == "/axl/outputs/out.cloudpkl"
    for arts in outputs.values():
        assert arts["axl-result"]["path"] == "/axl/outputs/axl-result.json"
        for art in arts.values():
            assert art["archive"] == {"none": {}}
            assert "s3" not in art


def test_inputs_come_from_upstream_outputs_with_their_records(tiny: dict) -> None:
    args = {a["name"]: a["from"] for a in task(tiny, "total")["arguments"]["artifacts"]}
    assert args == {
        "xs": "{{tasks.make.outputs.artifacts.out}}",
        "axl-record-xs": "{{tasks.make.outputs.artifacts.axl-result}}",
    }
    paths = {a["name"]: a.get("path") for a in template(tiny, "total")["inputs"]["artifacts"]}
    assert paths == {
        "xs": "/axl/inputs/xs",
        "axl-record-xs": "/axl/inputs/axl-records/xs.json",
    }
    leaf = workflow_manifest(tiny_objects())["steps"]["total"]["inputs"]["xs"]["input"]
    assert (leaf["path"], leaf["record"], leaf["handler"]) == ("xs", "axl-records/xs.json", "auto")


def test_the_workflow_manifest_is_one_configmap_every_step_reads(tiny: dict) -> None:
    configmap, workflow = tiny_objects()
    assert workflow == tiny
    assert configmap["kind"] == "ConfigMap"
    assert configmap["immutable"] is True
    text = configmap["data"]["manifest.json"]
    digest = configmap["metadata"]["annotations"]["axl.dev/manifest-digest"]
    assert digest == bytes_digest(text.encode())
    assert configmap["metadata"]["name"] == f"tiny-manifest-{digest[:16]}"
    assert tiny["spec"]["volumes"] == [
        {"name": "axl-manifest", "configMap": {"name": configmap["metadata"]["name"]}}
    ]
    manifest = workflow_manifest([configmap])
    validate_manifest(manifest)  # the runner's own check
    assert list(manifest["steps"]) == ["make", "total"]  # params keeps its own, inline
    assert manifest["environment"] == {"dependencies": manifest["environment"]["dependencies"]}
    assert manifest["sources"] == {"examples/tiny.py": manifest["sources"]["examples/tiny.py"]}
    for entry in manifest["steps"].values():
        assert entry["key_parts"]["code"]  # the runner recomputes the key


def test_params_are_workflow_parameters_overridable_at_submit(tiny: dict) -> None:
    assert tiny["spec"]["arguments"]["parameters"] == [
        {"name": "n", "value": "3", "description": 'JSON value of params["n"] (quote strings)'}
    ]
    params = template(tiny, "params")
    assert params["inputs"]["parameters"] == [{"name": "n"}]
    assert task(tiny, "params")["arguments"]["parameters"] == [
        {"name": "n", "value": "{{workflow.parameters.n}}"}
    ]
    manifest = manifest_of(params, n="5")  # what Argo substitutes for `argo submit -p n=5`
    validate_manifest(manifest)
    entry = manifest["steps"]["params"]
    assert entry["params"] == {"n": 5}
    assert entry["key"] is None  # the values, and so the key, are known only at run time
    assert "axl.dev/action-key" not in params["metadata"]["annotations"]


def test_annotations_name_the_step_and_its_key_parts(tiny: dict) -> None:
    # A template serves every call of its function: it names the function.
    notes = template(tiny, "total")["metadata"]["annotations"]
    assert notes["axl.dev/step"] == "total"
    assert len(notes["axl.dev/key-parts"]) == 64
    other = template(tiny, "make")["metadata"]["annotations"]["axl.dev/key-parts"]
    assert other != notes["axl.dev/key-parts"]
    assert len(tiny["metadata"]["annotations"]["axl.dev/workflow-hash"]) == 64


def test_step_options_become_kubernetes_and_argo_settings(opts: dict) -> None:
    load = template(opts, "load-data")
    assert load["container"]["resources"] == {
        "requests": {"cpu": "2", "memory": "1Gi", "nvidia.com/gpu": "1"},
        "limits": {"memory": "1Gi", "nvidia.com/gpu": "1"},
    }
    assert load["container"]["env"] == [{"name": "OMP_NUM_THREADS", "value": "1"}]
    assert load["retryStrategy"] == {
        "limit": "3",
        "retryPolicy": "Always",
        "expression": 'lastRetry.status == "Error" || asInt(lastRetry.exitCode) == 1',
        "backoff": {"duration": "10s", "factor": "2"},
    }
    assert "retryStrategy" not in template(opts, "report")
    assert "resources" not in template(opts, "report")["container"]
    fit = task(opts, "fit-model")
    assert fit["when"] == "{{workflow.parameters.use_gpu}} == true"
    assert fit["dependencies"] == ["load-data", "params"]
    # Downstream of a conditional step: `depends` so that a skipped step omits its readers.
    report = task(opts, "report")
    assert report["depends"] == "fit-model.Succeeded"
    assert "dependencies" not in report
    assert check(opts).errors == []


def test_names_become_dns_labels_without_collisions(workspace: Path) -> None:
    source = """
from axl import Workflow, step


class Names(Workflow):
    @step
    def shard_sum(self, x: int) -> int:
        return x

    @step
    def shard_sum_1(self, x: int) -> int:
        return x

    @step
    def main(self, a: int, b: int, c: int) -> int:
        return a + b + c

    def graph(self):
        return self.main(self.shard_sum(1), self.shard_sum(2), self.shard_sum_1(3))
"""
    document = emit_workflow(bundle_from(workspace, source, "Names"))
    tasks = [t["name"] for t in template(document, "main")["dag"]["tasks"]]
    # shard_sum-1 (second call) and shard_sum_1 (another step) both map to shard-sum-1;
    # a step called main meets the DAG's own name.
    assert tasks == ["shard-sum", "shard-sum-1", "shard-sum-1-2", "main-2"]
    # Templates: one per step function; the two calls of shard_sum share one.
    names = [t["name"] for t in document["spec"]["templates"]]
    assert names == ["main", "shard-sum", "shard-sum-1", "main-2"]
    steps = [template(document, n)["metadata"]["annotations"]["axl.dev/step"] for n in names[1:]]
    assert steps == ["shard_sum", "shard_sum_1", "main"]
    assert [task(document, t)["template"] for t in tasks] == [
        "shard-sum",
        "shard-sum",
        "shard-sum-1",
        "main-2",
    ]
    assert document["metadata"]["generateName"] == "names-"
    assert check(document).errors == []


def test_a_params_key_argo_cannot_name_is_an_error(workspace: Path) -> None:
    source = """
from axl import Workflow, step


class Odd(Workflow):
    @step
    def params(self) -> dict:
        return {"learning rate": 0.1}

    @step
    def fit(self, params: dict) -> float:
        return params["learning rate"]

    def graph(self):
        return self.fit(self.params())
"""
    bundle = bundle_from(workspace, source, "Odd")
    with pytest.raises(EmitError, match="'learning rate'.*cannot be an Argo parameter name"):
        emit_workflow(bundle)


def test_options_kind_image_namespace_and_artifact_repository(tiny: dict) -> None:
    pinned = "reg.example/axl@sha256:" + "ab" * 32
    options = ArgoOptions(
        kind="WorkflowTemplate",
        image=pinned,
        namespace="ml",
        artifact_key_prefix="/axl/runs/",
        artifact_repository="artifact-repositories:minio",
    )
    document = emit_workflow(example_bundle("examples/tiny.py:Tiny"), options)
    assert document["kind"] == "WorkflowTemplate"
    assert document["metadata"]["name"] == "tiny"
    assert "generateName" not in document["metadata"]
    assert document["metadata"]["namespace"] == "ml"
    assert document["spec"]["artifactRepositoryRef"] == {
        "configMap": "artifact-repositories",
        "key": "minio",
    }
    total = template(document, "total")
    assert total["container"]["image"] == pinned
    keys = {a["name"]: a["s3"] for a in total["outputs"]["artifacts"]}
    assert keys == {
        "out": {"key": "axl/runs/{{workflow.name}}/{{inputs.parameters.step}}/out.cloudpkl"},
        "axl-result": {
            "key": "axl/runs/{{workflow.name}}/{{inputs.parameters.step}}/axl-result.json"
        },
    }
    found = check(document)
    assert found.errors == []
    assert found.warnings == []  # the image is pinned
    # Only the metadata differs from the default emission.
    assert document["spec"]["templates"][0] == tiny["spec"]["templates"][0]


def test_bad_options_are_usage_errors() -> None:
    with pytest.raises(UsageError, match="kind 'CronWorkflow'"):
        ArgoOptions(kind="CronWorkflow")
    with pytest.raises(UsageError, match="not a plain S3 key prefix"):
        ArgoOptions(artifact_key_prefix="//")
    with pytest.raises(UsageError, match="is not CONFIGMAP"):
        ArgoOptions(artifact_repository="Artifact Repos:minio")
    with pytest.raises(UsageError, match="is not CONFIGMAP"):
        ArgoOptions(artifact_repository="repos:")
    with pytest.raises(UsageError, match="--jobs does not apply to --target argo"):
        compile_target(example_bundle("examples/tiny.py:Tiny"), {"jobs": 3, "kind": None})


def test_emission_is_deterministic(workspace: Path) -> None:
    # (Across processes and machines, the goldens show it: test_argo_golden.py.)
    bundle = bundle_from(workspace, OPTIONS_WORKFLOW, "Opts")
    first, again = compile_argo(bundle), compile_argo(bundle)
    assert first.text == again.text
    configmap, workflow = (len(t.encode()) for t in first.text.split("---\n"))
    name = emit_objects(bundle)[0]["metadata"]["name"]
    assert first.summary == (
        f"Workflow opts: 4 steps, 4 templates, {round(workflow / 1024)} KiB; "
        f"ConfigMap {name}: {max(1, round(configmap / 1024))} KiB"
    )
    assert [w.split(":")[0] for w in first.warnings] == ["spec.templates"]  # unpinned image


def test_dump_is_block_style_without_aliases() -> None:
    shared = {"a": 1}
    text = dump_yaml({"x": [shared, shared], "y": "two\nlines\n", "z": "3", "e": {}})
    assert text == "x:\n  - a: 1\n  - a: 1\ny: |\n  two\n  lines\nz: '3'\ne: {}\n"
