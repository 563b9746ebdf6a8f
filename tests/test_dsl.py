"""The DSL on its own: ``@step``, ``@workflow``, ``Workflow`` and the ``OutputRef`` placeholder."""

from __future__ import annotations

import operator
from typing import Any

import pytest

from axl import OutputRef, Workflow, step, workflow
from axl.dsl import BoundStep, StepDef, StepOptions
from axl.errors import WorkflowError
from axl.ir import build_ir


class Plain(Workflow):
    @step
    def load(self) -> int:
        return 1

    @step(
        io_handler="cloudpickle",
        input_mode={"x": "path"},
        resources={"memory": "4Gi", "cpu": 2},
        retries=3,
        env={"B": "2", "A": "1"},
        when="{{inputs.parameters.go}} == true",
        cache=False,
        cache_version=7,
    )
    def train(self, x: int) -> int:
        return x

    def graph(self) -> Any:
        return self.train(self.load())


# -- @step ---------------------------------------------------------------------------------------


def test_bare_step_is_a_descriptor_with_default_options() -> None:
    sd = Plain.__dict__["load"]
    assert isinstance(sd, StepDef)
    assert Plain.load is sd  # class access gives the definition
    assert sd.name == "load"
    assert sd.options == StepOptions()
    assert isinstance(Plain().load, BoundStep)
    assert sd.fn(Plain()) == 1  # the plain function stays callable for unit tests


def test_step_options_are_normalised() -> None:
    opts = Plain.train.options
    assert opts.io_handler == "cloudpickle"
    assert opts.input_mode == (("x", "path"),)
    assert opts.resources == (("cpu", "2"), ("memory", "4Gi"))  # sorted, stringified
    assert opts.retries == 3
    assert opts.env == (("A", "1"), ("B", "2"))
    assert opts.when == "{{inputs.parameters.go}} == true"
    assert opts.cache is False
    assert opts.cache_version == "7"
    hash(opts)  # frozen and hashable: it takes part in keys


def test_step_keeps_source_location_and_doc() -> None:
    class W(Workflow):
        @step
        def documented(self) -> int:
            """Says what it does."""
            return 1

    sd = W.documented
    assert sd.__doc__ == "Says what it does."
    assert sd.file == __file__
    assert sd.line > 0


def test_step_named_params_is_the_params_step() -> None:
    class W(Workflow):
        @step
        def params(self) -> dict[str, int]:
            return {}

        @step(params=True)
        def config(self) -> dict[str, int]:
            return {}

        @step
        def other(self) -> int:
            return 0

    assert W.params.options.params
    assert W.config.options.params
    assert not W.other.options.params


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"retries": -1}, "retries must be a whole number >= 0"),
        ({"retries": True}, "retries must be a whole number >= 0"),
        ({"outputs": "train"}, "outputs must be a non-empty list of names"),
        ({"outputs": ()}, "outputs must be a non-empty list of names"),
        ({"outputs": ("a", "a")}, "has a duplicate name"),
        ({"outputs": ("a", "not valid")}, "is not an identifier"),
    ],
)
def test_step_rejects_bad_options(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(WorkflowError, match=message) as info:
        step(**kwargs)
    assert info.value.file == __file__  # points at the decorator line
    assert info.value.line is not None


def test_calling_a_step_outside_graph_says_how_to_run_it() -> None:
    with pytest.raises(WorkflowError, match="'load' was called outside graph") as info:
        Plain().load()
    assert info.value.hint is not None
    assert "Plain.load.fn(self, ...)" in info.value.hint
    assert info.value.file == __file__


# -- @workflow and Workflow ----------------------------------------------------------------------


def test_workflow_decorator_overrides_attributes() -> None:
    @workflow(name="renamed", image="repo/img:1", io_handler="cloudpickle", input_mode="path")
    class W(Workflow):
        @step
        def a(self) -> int:
            return 1

        def graph(self) -> Any:
            return self.a()

    assert W.workflow_name() == "renamed"
    ir = build_ir(W)
    assert (ir.name, ir.image, ir.io_handler, ir.input_mode) == (
        "renamed",
        "repo/img:1",
        "cloudpickle",
        "path",
    )


def test_workflow_defaults() -> None:
    assert Plain.workflow_name() == "Plain"
    assert Plain.image == "python:3.11-slim"
    assert Plain.io_handler == "pickle"
    assert Plain.input_mode == "object"
    assert Plain.use_lockfile is True


def test_workflow_decorator_rejects_unknown_option() -> None:
    with pytest.raises(WorkflowError, match="@workflow has no option 'imgae'") as info:
        workflow(imgae="x")
    assert info.value.hint is not None
    assert "image" in info.value.hint


def test_workflow_decorator_rejects_non_workflow() -> None:
    with pytest.raises(WorkflowError, match="decorates a subclass of axl.Workflow"):
        workflow(name="x")(int)  # type: ignore[type-var]


def test_steps_lists_inherited_steps_in_definition_order() -> None:
    class Base(Workflow):
        @step
        def b1(self) -> int:
            return 1

        @step
        def b2(self) -> int:
            return 2

    class Child(Base):
        @step
        def c1(self) -> int:
            return 3

        @step
        def b2(self) -> int:  # overrides keep their base position
            return 4

    assert list(Child.steps()) == ["b1", "b2", "c1"]
    assert Child.steps()["b2"].fn(Child()) == 4


def test_without_graph_it_is_inferred_and_without_steps_it_is_an_error() -> None:
    class NoGraph(Workflow):
        @step
        def a(self) -> int:
            return 1

    assert build_ir(NoGraph).inferred  # tests/test_autowire.py covers the inference

    class Empty(Workflow):
        pass

    with pytest.raises(WorkflowError, match="defines neither graph\\(\\) nor any step"):
        build_ir(Empty)


# -- OutputRef refuses misuse --------------------------------------------------------------------


def _ref(outputs: tuple[str, ...] = ("out",), output: str | None = "out") -> OutputRef[Any]:
    return OutputRef("train", output, outputs)


@pytest.mark.parametrize(
    ("use", "what"),
    [
        (bool, "bool()"),
        (len, "len()"),
        (iter, "iteration"),
        (int, "int()"),
        (float, "float()"),
        (lambda r: [0, 1][r], "use as an index"),
        (lambda r: 1 in r, "'in'"),
        (lambda r: r == 1, "=="),
        (lambda r: r != 1, "!="),
        (lambda r: -r, "arithmetic"),
        (abs, "arithmetic"),
    ],
)
def test_output_ref_refuses(use: Any, what: str) -> None:
    with pytest.raises(WorkflowError) as info:
        use(_ref())
    assert what in info.value.message
    assert "step 'train'" in info.value.message
    assert info.value.hint is not None
    assert "inside a step" in info.value.hint


@pytest.mark.parametrize(
    "op",
    [
        operator.add,
        operator.sub,
        operator.mul,
        operator.truediv,
        operator.floordiv,
        operator.mod,
        operator.pow,
        operator.matmul,
        operator.and_,
        operator.or_,
        operator.xor,
        operator.lt,
        operator.le,
        operator.gt,
        operator.ge,
    ],
)
def test_output_ref_refuses_arithmetic_on_either_side(op: Any) -> None:
    for left, right in ((_ref(), 2), (2, _ref())):
        with pytest.raises(WorkflowError, match="arithmetic on the output of step 'train'"):
            op(left, right)


def test_output_ref_is_hashable_and_names_its_node() -> None:
    ref = _ref()
    assert ref.node == "train"
    assert ref.output == "out"
    assert repr(ref) == "OutputRef(train)"
    assert {ref: 1}[ref] == 1


def test_multi_output_ref_unpacks_and_indexes() -> None:
    ref = _ref(("model", "metrics"), None)
    model, metrics = ref
    assert (model.output, metrics.output) == ("model", "metrics")
    assert ref[0].output == "model"
    assert ref[-1].output == "metrics"
    assert ref["metrics"].output == "metrics"
    assert repr(ref["metrics"]) == "OutputRef(train['metrics'])"


def test_multi_output_ref_has_no_single_output() -> None:
    with pytest.raises(WorkflowError, match=r"several outputs \['model', 'metrics'\]") as info:
        _ = _ref(("model", "metrics"), None).output
    assert info.value.hint == "unpack the call or index it, e.g. ref['model']"


@pytest.mark.parametrize(
    ("ref", "key", "message"),
    [
        (_ref(("a", "b"), None), 2, r"index \[2\] on the output of step 'train'"),
        (_ref(("a", "b"), None), "c", r"\['c'\] on the output of step 'train'"),
        (_ref(), 0, r"index \[0\] on the output of step 'train'"),
        (_ref(), "col", r"\['col'\] on the output of step 'train'.*do it in a step"),
        (_ref(("a", "b"), "a"), "b", r"\['b'\]"),
    ],
)
def test_output_ref_refuses_bad_index(ref: OutputRef[Any], key: Any, message: str) -> None:
    with pytest.raises(WorkflowError, match=message):
        ref[key]


def test_single_output_ref_cannot_be_unpacked() -> None:
    with pytest.raises(WorkflowError, match="iteration on the output of step 'train'") as info:
        a, b = _ref()
    assert "outputs=(...)" in info.value.message


def test_misuse_inside_graph_names_the_step_and_the_line() -> None:
    class Branchy(Workflow):
        @step
        def score(self) -> float:
            return 0.5

        @step
        def deploy(self, s: float) -> None:
            pass

        def graph(self) -> Any:
            s = self.score()
            if s:  # refused: the value does not exist yet
                return self.deploy(s)
            return s

    with pytest.raises(WorkflowError, match=r"bool\(\) on the output of step 'score'") as info:
        build_ir(Branchy)
    assert info.value.file == __file__
    assert info.value.line is not None
    with open(__file__, encoding="utf-8") as f:
        assert "if s:" in f.read().splitlines()[info.value.line - 1]
