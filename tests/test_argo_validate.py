"""Validation without a cluster: each check catches its broken case in an otherwise valid object.

The base object is the emitted Tiny workflow (templates: main, params, make, total; tasks:
params, make, total). Each case breaks one thing and names the error it must produce.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import pytest
from argo_helpers import example_bundle

from axl.emit.argo import check, emit_objects, emit_workflow, validate, validate_objects
from axl.emit.argo._validate import MAX_BYTES, WARN_BYTES
from axl.errors import EmitError

Doc = dict[str, Any]


@pytest.fixture(scope="module")
def base() -> Doc:
    return emit_workflow(example_bundle("examples/tiny.py:Tiny"))


def _tasks(doc: Doc) -> list[Doc]:
    tasks: list[Doc] = doc["spec"]["templates"][0]["dag"]["tasks"]
    return tasks


def _tmpl(doc: Doc, i: int) -> Doc:
    found: Doc = doc["spec"]["templates"][i]
    return found


def _set(path: str, value: Any) -> Callable[[Doc], None]:
    """A mutation setting ``value`` at a dotted path (list indices as numbers)."""

    def mutate(doc: Doc) -> None:
        *parents, last = path.split(".")
        node: Any = doc
        for part in parents:
            node = node[int(part)] if part.isdigit() else node[part]
        node[int(last) if last.isdigit() else last] = value

    return mutate


def _append_template(doc: Doc) -> None:
    doc["spec"]["templates"].append(copy.deepcopy(_tmpl(doc, 2)))


def _append_task(doc: Doc) -> None:
    _tasks(doc).append(copy.deepcopy(_tasks(doc)[2]))


def _cycle(doc: Doc) -> None:
    _tasks(doc)[1]["dependencies"] = ["params", "total"]


def _from_without_dependency(doc: Doc) -> None:
    del _tasks(doc)[2]["dependencies"]


def _missing_input(doc: Doc) -> None:
    _tasks(doc)[2]["arguments"]["artifacts"].pop(0)


def _undeclared_argument(doc: Doc) -> None:
    _tasks(doc)[2]["arguments"]["artifacts"].append(
        {"name": "extra", "from": "{{tasks.make.outputs.artifacts.out}}"}
    )


def _duplicate_artifact(doc: Doc) -> None:
    outputs = _tmpl(doc, 3)["outputs"]["artifacts"]
    outputs.append(copy.deepcopy(outputs[0]))


def _same_input_path(doc: Doc) -> None:
    inputs = _tmpl(doc, 3)["inputs"]["artifacts"]
    inputs[1]["path"] = inputs[0]["path"]


def _two_types(doc: Doc) -> None:
    _tmpl(doc, 3)["dag"] = {"tasks": []}


def _unknown_arg_variable(doc: Doc) -> None:
    _tmpl(doc, 3)["container"]["args"].append("{{inputs.parameters.missing}}")


#: (case, mutation, part of the expected error)
BROKEN: list[tuple[str, Callable[[Doc], None], str]] = [
    ("wrong kind", _set("kind", "CronWorkflow"), "expected Workflow or WorkflowTemplate"),
    ("schema: args not a list", _set("spec.templates.3.container.args", "--x"), "schema:"),
    ("schema: unknown retry type", _set("spec.templates.3.retryStrategy", []), "schema:"),
    ("entrypoint names nothing", _set("spec.entrypoint", "nope"), "names no template: 'nope'"),
    ("task template names nothing", _set("spec.templates.0.dag.tasks.1.template", "mk"), "mk"),
    ("duplicate template", _append_template, "a second template named 'make'"),
    ("duplicate task", _append_task, "a second task named 'total'"),
    ("template name not DNS-1123", _set("spec.templates.3.name", "To_tal"), "DNS-1123 label"),
    ("task name not DNS-1123", _set("spec.templates.0.dag.tasks.0.name", "-p"), "DNS-1123"),
    ("bad generateName", _set("metadata.generateName", "Tiny_"), "DNS-1123 name prefix"),
    ("bad namespace", _set("metadata.namespace", "ML"), "not a DNS-1123 label"),
    ("bad label value", _set("metadata.labels", {"axl.dev/workflow": "a b"}), "label value"),
    ("dependency names nothing", _set("spec.templates.0.dag.tasks.2.dependencies", ["mk"]), "mk"),
    ("depends with bad result", _set("spec.templates.0.dag.tasks.2.depends", "make.Done"), "Done"),
    ("dependency cycle", _cycle, "dependency cycle"),
    (
        "from names no task",
        _set(
            "spec.templates.0.dag.tasks.2.arguments.artifacts.0.from",
            "{{tasks.mk.outputs.artifacts.out}}",
        ),
        "names task 'mk', which is not in this DAG",
    ),
    (
        "from names no output",
        _set(
            "spec.templates.0.dag.tasks.2.arguments.artifacts.0.from",
            "{{tasks.make.outputs.artifacts.result}}",
        ),
        "has no output 'result'",
    ),
    (
        "from is not a reference",
        _set("spec.templates.0.dag.tasks.2.arguments.artifacts.0.from", "make/out"),
        "is not one {{...}} reference",
    ),
    ("from without dependency", _from_without_dependency, "without depending on it"),
    ("input not passed", _missing_input, "needs artifact 'xs', not passed"),
    ("undeclared argument", _undeclared_argument, "passes 'extra'"),
    ("bad artifact name", _set("spec.templates.3.outputs.artifacts.0.name", "o.ut"), "Argo name"),
    ("duplicate artifact", _duplicate_artifact, "'out' appears twice"),
    ("relative path", _set("spec.templates.3.outputs.artifacts.0.path", "out.pkl"), "absolute"),
    ("two inputs, one path", _same_input_path, "is also the path of"),
    ("two template types", _two_types, "exactly one of"),
    ("unknown input parameter", _unknown_arg_variable, "declares no inputs parameter 'missing'"),
    (
        "unknown workflow parameter",
        _set(
            "spec.templates.0.dag.tasks.0.arguments.parameters.0.value", "{{workflow.parameters.m}}"
        ),
        "no workflow parameter 'm'",
    ),
    (
        "unknown workflow variable",
        _set("spec.templates.3.container.env", [{"name": "X", "value": "{{workflow.nam}}"}]),
        "no workflow variable 'nam'",
    ),
    (
        "unknown task in a when",
        _set("spec.templates.0.dag.tasks.2.when", "{{tasks.mk.status}} == Succeeded"),
        "no task 'mk' in this DAG",
    ),
    (
        "bad quantity",
        _set("spec.templates.3.container.resources", {"requests": {"memory": "1 GB"}}),
        "not a Kubernetes quantity",
    ),
    (
        "bad env name",
        _set("spec.templates.3.container.env", [{"name": "A=B", "value": "1"}]),
        "A=B",
    ),
    ("bad retry limit", _set("spec.templates.3.retryStrategy.limit", "two"), "whole number"),
    (
        "mount names no volume",
        _set("spec.templates.3.container.volumeMounts.0.name", "axl-manifests"),
        "names no volume of the workflow: 'axl-manifests'",
    ),
    (
        "missing step parameter",
        _set("spec.templates.0.dag.tasks.2.arguments.parameters", []),
        "needs parameter 'step'",
    ),
]


def test_the_base_is_valid(base: Doc) -> None:
    found = check(base)
    assert found.errors == []
    assert [p.message for p in found.warnings] == [
        "image 'python:3.11-slim' (3 templates) is not pinned by digest: a tag can move, and "
        "the runner refuses to run a step whose sources differ from the compiled ones; "
        "pass --image repo/name@sha256:..."
    ]


@pytest.mark.parametrize(("case", "mutate", "expected"), BROKEN, ids=[c[0] for c in BROKEN])
def test_each_check_catches_its_broken_case(
    base: Doc, case: str, mutate: Callable[[Doc], None], expected: str
) -> None:
    doc = copy.deepcopy(base)
    mutate(doc)
    errors = [str(p) for p in check(doc).errors]
    assert any(expected in e for e in errors), f"{case}: {errors}"
    with pytest.raises(EmitError, match="the emitted Argo .* is invalid"):
        validate(doc)


def test_errors_say_where(base: Doc) -> None:
    doc = copy.deepcopy(base)
    _set("spec.templates.0.dag.tasks.1.template", "mk")(doc)
    (problem,) = check(doc).errors
    assert problem.where == "spec.templates[0].dag.tasks[1].template"
    assert str(problem) == "spec.templates[0].dag.tasks[1].template: names no template: 'mk'"


def test_size_warns_above_512_kib_and_fails_above_the_kubernetes_limit(base: Doc) -> None:
    def padded(size: int) -> Doc:
        doc = copy.deepcopy(base)
        doc["metadata"]["annotations"]["pad"] = "x" * size
        return doc

    assert not any("KiB" in p.message for p in check(padded(WARN_BYTES - 60_000)).warnings)
    warned = check(padded(WARN_BYTES))
    assert any("over 512 KiB" in p.message for p in warned.warnings)
    assert warned.errors == []
    assert any("Kubernetes refuses" in p.message for p in check(padded(MAX_BYTES)).errors)


def test_pinned_images_draw_no_warning(base: Doc) -> None:
    doc = copy.deepcopy(base)
    for tmpl in doc["spec"]["templates"][1:]:
        tmpl["container"]["image"] = "reg.example/tiny@sha256:" + "0" * 64
    assert check(doc).warnings == []


def test_the_manifest_configmap_is_checked_with_the_workflow() -> None:
    configmap, workflow = emit_objects(example_bundle("examples/tiny.py:Tiny"))
    assert validate_objects([configmap, workflow]) == validate(workflow)
    other = copy.deepcopy(configmap)
    other["metadata"]["name"] = "tiny-manifest-0000"
    with pytest.raises(EmitError, match="ConfigMap 'tiny-manifest-0000' is not a volume"):
        validate_objects([other, workflow])
    huge = copy.deepcopy(configmap)
    text = huge["data"]["manifest.json"]
    huge["data"]["manifest.json"] = text + " " * (1024 * 1024)
    with pytest.raises(EmitError) as caught:
        validate_objects([huge, workflow])
    assert "the manifest of 2 steps is 1026 KiB in ConfigMap" in caught.value.message
    assert "(a size limit of Kubernetes, not a bug in axl)" in caught.value.message
    assert "withParam" in (caught.value.hint or "")
