"""The checks of an emitted KFP pipeline spec: a corpus of broken specs, one per check.

Each case breaks the tiny golden in one way and names what the finding must say. KFP's SDK
checks types and field names only (``sdk_problems``); axl's own checks (``check``) catch the
references that would fail on a KFP backend at run time. Every check must fire.
"""

from __future__ import annotations

import copy
from typing import Any

import pytest
import yaml
from conftest import REPO

from axl.emit.argo import dump_yaml
from axl.emit.kfp import check, sdk_problems, validate
from axl.errors import EmitError

GOLDEN = REPO / "tests" / "golden" / "kfp" / "tiny.yaml"
Docs = tuple[dict[str, Any], dict[str, Any]]


def _golden() -> Docs:
    spec, platform = yaml.safe_load_all(GOLDEN.read_text(encoding="utf-8"))
    return spec, platform


def _tasks(d: Docs) -> dict[str, Any]:
    return d[0]["root"]["dag"]["tasks"]


def _exec(d: Docs, name: str) -> dict[str, Any]:
    return d[0]["deploymentSpec"]["executors"][name]["container"]


def _rename_component(d: Docs) -> None:
    _tasks(d)["make"]["componentRef"]["name"] = "comp-nothing"


def _drop_executor(d: Docs) -> None:
    d[0]["components"]["comp-total"]["executorLabel"] = "exec-nothing"


def _bad_producer(d: Docs) -> None:
    _tasks(d)["total"]["inputs"]["artifacts"]["xs"]["taskOutputArtifact"]["producerTask"] = "nope"


def _bad_output_key(d: Docs) -> None:
    _tasks(d)["total"]["inputs"]["artifacts"]["xs"]["taskOutputArtifact"]["outputArtifactKey"] = (
        "missing"
    )


def _bad_dependency(d: Docs) -> None:
    _tasks(d)["total"]["dependentTasks"] = ["make", "ghost"]


def _cycle(d: Docs) -> None:
    _tasks(d)["params"]["dependentTasks"] = ["total"]


def _reads_without_depending(d: Docs) -> None:
    del _tasks(d)["total"]["dependentTasks"]


def _bad_placeholder(d: Docs) -> None:
    _exec(d, "exec-total")["args"].append("{{$.inputs.artifacts['nothing'].path}}")


def _bad_param_placeholder(d: Docs) -> None:
    _exec(d, "exec-params")["args"].append("{{$.inputs.parameters['m']}}")


def _no_image(d: Docs) -> None:
    _exec(d, "exec-make")["image"] = ""


def _missing_input(d: Docs) -> None:
    del _tasks(d)["total"]["inputs"]["artifacts"]["xs"]


def _unknown_pipeline_param(d: Docs) -> None:
    _tasks(d)["params"]["inputs"]["parameters"]["n"]["componentInputParameter"] = "m"


def _shadowing_component(d: Docs) -> None:
    d[0]["components"]["comp-tiny"] = d[0]["components"].pop("comp-total")
    _tasks(d)["total"]["componentRef"]["name"] = "comp-tiny"


def _bad_platform_executor(d: Docs) -> None:
    executors = d[1]["platforms"]["kubernetes"]["deploymentSpec"]["executors"]
    executors["exec-ghost"] = executors["exec-make"]


def _bad_task_name(d: Docs) -> None:
    _tasks(d)["Total_1"] = _tasks(d).pop("total")


#: Case -> (how to break the golden, what axl's finding says).
SEMANTIC = {
    "componentRef": (_rename_component, "root.dag.tasks.make.componentRef: names no component"),
    "executorLabel": (_drop_executor, "components.comp-total.executorLabel: names no executor"),
    "producerTask": (_bad_producer, "xs.producerTask: names no task: 'nope'"),
    "outputArtifactKey": (_bad_output_key, "task 'make' has no output 'missing'"),
    "dependentTasks": (_bad_dependency, "'ghost' is not another task of the DAG"),
    "cycle": (_cycle, "dependency cycle: "),
    "ancestry": (_reads_without_depending, "reads task 'make' without depending on it"),
    "placeholder": (_bad_placeholder, "the component declares no input artifact 'nothing'"),
    "parameter placeholder": (_bad_param_placeholder, "declares no input parameter 'm'"),
    "image": (_no_image, "exec-make.container.image: a container needs an image"),
    "input not passed": (_missing_input, "the component needs 'xs', not passed"),
    "pipeline parameter": (_unknown_pipeline_param, "names no pipeline parameter: 'm'"),
    "shadowed pipeline": (_shadowing_component, "comp-tiny: is named after the pipeline"),
    "platform executor": (_bad_platform_executor, "platforms.kubernetes.exec-ghost: names no"),
    "task name": (_bad_task_name, "'Total_1' is not a KFP task name"),
}


def test_the_golden_passes_every_check() -> None:
    spec, platform = _golden()
    assert check(spec, platform).errors == []
    assert sdk_problems(GOLDEN.read_text(encoding="utf-8")) == []


@pytest.mark.parametrize("case", sorted(SEMANTIC))
def test_each_reference_check_fires(case: str) -> None:
    breaker, expected = SEMANTIC[case]
    docs = copy.deepcopy(_golden())
    breaker(docs)
    errors = [str(p) for p in check(*docs).errors]
    assert any(expected in e for e in errors), errors
    with pytest.raises(EmitError) as caught:
        validate(*docs)
    assert "this is a bug in axl's KFP emitter" in caught.value.message


def _unknown_field(d: Docs) -> None:
    _tasks(d)["make"]["retryPolicie"] = {}


def _wrong_type(d: Docs) -> None:
    _tasks(d)["total"]["retryPolicy"]["maxRetryCount"] = "twice"


def _unknown_executor_field(d: Docs) -> None:
    _exec(d, "exec-make")["imagePullPolicy"] = "Never"


def _wrong_resource_type(d: Docs) -> None:
    _exec(d, "exec-make")["resources"] = {"accelerator": {"resourceCount": [1]}}


def _unknown_platform_field(d: Docs) -> None:
    pod = d[1]["platforms"]["kubernetes"]["deploymentSpec"]["executors"]["exec-make"]
    pod["podMetadata"]["annotationz"] = {}


def _bad_parameter_type(d: Docs) -> None:
    d[0]["root"]["inputDefinitions"]["parameters"]["n"]["parameterType"] = "NUMBER"


#: What only KFP's SDK (and the protobuf messages it leaves untyped) catches.
SDK = {
    "unknown task field": (_unknown_field, "retryPolicie"),
    "wrong type": (_wrong_type, "maxRetryCount"),
    "unknown executor field": (_unknown_executor_field, "deploymentSpec: protobuf"),
    "wrong resource type": (_wrong_resource_type, "deploymentSpec: protobuf"),
    "unknown platform field": (_unknown_platform_field, "platforms.kubernetes.exec-make"),
    "parameter type": (_bad_parameter_type, "NUMBER"),
}


@pytest.mark.parametrize("case", sorted(SDK))
def test_each_sdk_check_fires(case: str) -> None:
    breaker, expected = SDK[case]
    docs = copy.deepcopy(_golden())
    breaker(docs)
    text = dump_yaml(docs[0]) + "---\n" + dump_yaml(docs[1])
    problems = [str(p) for p in sdk_problems(text)]
    assert any(expected in p for p in problems), problems
    with pytest.raises(EmitError) as caught:
        validate(*docs, text)
    assert "this is a bug in axl's KFP emitter" in caught.value.message
