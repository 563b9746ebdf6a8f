"""The IR builder: tracing graph() into nodes, edges, options, IO metadata; JSON; hashing."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest
from conftest import write

from axl import Workflow, step, workflow
from axl._params import load_params
from axl.errors import ParamsError, WorkflowError
from axl.ir import Const, IREdge, IROutput, Map, Ref, Seq, build_ir, dumps, loads, to_dict


class Tiny(Workflow):
    @step
    def params(self) -> dict[str, Any]:
        return {"n": 3, "label": "x"}

    @step
    def make(self, params: dict[str, Any]) -> list[int]:
        return list(range(params["n"]))

    @step(io_handler="cloudpickle", retries=2)
    def total(self, xs: list[int]) -> int:
        return sum(xs)

    def graph(self) -> Any:
        return self.total(self.make(self.params()))


def test_nodes_and_edges() -> None:
    ir = build_ir(Tiny)
    assert [n.name for n in ir.nodes] == ["params", "make", "total"]
    assert [n.kind for n in ir.nodes] == ["params", "step", "step"]
    assert ir.edges == (
        IREdge("params", "out", "make", "params"),
        IREdge("make", "out", "total", "xs"),
    )
    assert ir.results == (Ref("total", "out"),)
    make = ir.get_node("make")
    assert make.module == __name__
    assert make.qualname == "Tiny.make"
    assert make.args == (("params", Ref("params", "out")),)
    assert make.upstream == ("params",)
    assert ir.downstream() == {"params": ["make"], "make": ["total"], "total": []}
    assert ir.topological_order() == ["params", "make", "total"]
    assert ir.ancestors(["make"]) == {"params", "make"}


def test_get_node_unknown_lists_steps() -> None:
    ir = build_ir(Tiny)
    assert not ir.has_node("nope")
    with pytest.raises(WorkflowError, match="has no step 'nope'") as info:
        ir.get_node("nope")
    assert info.value.hint == "its steps are: params, make, total"


def test_node_keeps_definition_and_call_site() -> None:
    make = build_ir(Tiny).get_node("make")
    assert make.file == __file__
    assert make.call_file == __file__
    lines = Path(__file__).read_text(encoding="utf-8").splitlines()
    assert "def make" in lines[make.line] or "def make" in lines[make.line - 1]
    assert "self.make(" in lines[make.call_line - 1]


class Options(Workflow):
    @step
    def src(self) -> int:
        return 1

    @step
    def other(self) -> int:
        return 2

    @step(
        io_handler="pickle",
        input_mode="path",
        resources={"cpu": "2", "memory": "4Gi"},
        retries=3,
        env={"SEED": "1"},
        when="{{workflow.parameters.train}} == true",
        cache=False,
        cache_version="v2",
    )
    def all_opts(self, a: int, b: int) -> int:
        return a + b

    @step(input_mode={"b": "path"})
    def per_arg(self, a: int, b: int, k: int) -> int:
        return a + b + k

    def graph(self) -> Any:
        a, b = self.src(), self.other()
        return self.all_opts(a, b), self.per_arg(a, b, 5)


def test_options_captured() -> None:
    ir = build_ir(Options)
    node = ir.get_node("all_opts")
    assert node.io_handler == "pickle"
    assert node.input_modes == (("a", "path"), ("b", "path"))
    assert node.resources == (("cpu", "2"), ("memory", "4Gi"))
    assert node.retries == 3
    assert node.env == (("SEED", "1"),)
    assert node.when == "{{workflow.parameters.train}} == true"
    assert node.cache is False
    assert node.cache_version == "v2"
    plain = ir.get_node("src")
    assert (plain.io_handler, plain.retries, plain.cache, plain.cache_version) == (
        None,
        0,
        True,
        None,
    )
    assert (plain.resources, plain.env, plain.when) == ((), (), None)


def test_per_argument_input_mode_covers_only_upstream_arguments() -> None:
    node = build_ir(Options).get_node("per_arg")
    # `k` is a constant, so it has no input mode; `a` falls back to the workflow default.
    assert node.input_modes == (("a", "object"), ("b", "path"))


def test_workflow_input_mode_is_the_default() -> None:
    @workflow(input_mode="path")
    class PathWf(Options):
        pass

    assert build_ir(PathWf).get_node("per_arg").input_modes == (("a", "path"), ("b", "path"))


def test_io_metadata() -> None:
    class Io(Workflow):
        @step(io_handler="cloudpickle")
        def a(self) -> int:
            return 1

        @step(io_handler="pickle")
        def b(self) -> int:
            return 1

        @step(io_handler="json")
        def c(self) -> dict[str, int]:
            return {}

        @step
        def d(self) -> int:
            return 1

        @step(outputs=("train", "test"), io_handler="pickle")
        def e(self) -> tuple[int, int]:
            return 1, 2

        def graph(self) -> Any:
            return self.a(), self.b(), self.c(), self.d(), self.e()

    ir = build_ir(Io)
    assert ir.get_node("a").outputs == (IROutput("out", "cloudpickle", "cloudpkl"),)
    assert ir.get_node("b").outputs == (IROutput("out", "pickle", "pkl"),)
    assert ir.get_node("c").outputs == (IROutput("out", "json", "json"),)
    # No handler declared and none pinned by the annotation: decided from the value at run time.
    assert ir.get_node("d").outputs == (IROutput("out", "auto", ""),)
    assert ir.get_node("e").outputs == (
        IROutput("train", "pickle", "pkl"),
        IROutput("test", "pickle", "pkl"),
    )
    assert build_ir(Tiny).get_node("params").outputs == (
        IROutput("out", "json", "json"),
        IROutput("label", "json", "json"),
        IROutput("n", "json", "json"),
    )


class Consts(Workflow):
    @step
    def src(self) -> int:
        return 1

    @step
    def use(self, x: int, k: Any, *, opt: Any = None) -> int:
        return x

    def graph(self) -> Any:
        x = self.src()
        return (
            self.use(x, 3, opt="s"),
            self.use(x, {"b": [1, 2.5], "a": None}),
            self.use(x, (1, True), opt=[]),
        )


def test_literal_constants_captured() -> None:
    ir = build_ir(Consts)
    # Arguments are held sorted by name (they bind by name; JSON sorts keys too).
    assert ir.get_node("use").args == (
        ("k", Const("3")),
        ("opt", Const('"s"')),
        ("x", Ref("src", "out")),
    )
    k = dict(ir.get_node("use-1").args)["k"]
    assert k == Const('{"a":null,"b":[1,2.5]}')  # canonical: sorted keys, compact
    assert isinstance(k, Const)
    assert k.value == {"a": None, "b": [1, 2.5]}
    assert dict(ir.get_node("use-2").args)["k"] == Const("[1,true]")
    # An argument left to its default is not recorded: the default is part of the code.
    assert "opt" not in dict(ir.get_node("use-1").args)


@pytest.mark.parametrize("bad", [object(), float("nan"), {1: "a"}, {"s": {1, 2}}])
def test_constant_that_is_not_json_able_is_refused(bad: Any) -> None:
    class W(Workflow):
        @step
        def use(self, k: Any) -> int:
            return 1

        def graph(self) -> Any:
            return self.use(bad)

    with pytest.raises(WorkflowError, match="step 'use' of workflow 'W', argument 'k'") as info:
        build_ir(W)
    assert info.value.file == __file__


class Fan(Workflow):
    @step
    def source(self) -> int:
        return 1

    @step
    def fan(self, x: int, i: int) -> int:
        return x + i

    @step
    def sink(self, xs: list[int]) -> int:
        return sum(xs)

    @step
    def by_name(self, parts: dict[str, int]) -> int:
        return sum(parts.values())

    def graph(self) -> Any:
        x = self.source()
        parts = [self.fan(x, i) for i in range(3)]
        named = self.fan(x, 10, name="ten")
        other = self.fan.named("eleven")(x, 11)
        return (
            self.sink(parts),
            self.sink([*parts, 7]),
            self.by_name({"z": named, "a": other, "k": 1}),
        )


def test_repeated_calls_are_named_deterministically() -> None:
    ir = build_ir(Fan)
    assert [n.name for n in ir.nodes] == [
        "source",
        "fan",
        "fan-1",
        "fan-2",
        "ten",
        "eleven",
        "sink",
        "sink-1",
        "by_name",
    ]
    assert {n.step for n in ir.nodes if n.name.startswith(("fan", "ten", "eleven"))} == {"fan"}
    assert dict(ir.get_node("fan-2").args)["i"] == Const("2")


def test_list_fan_in() -> None:
    ir = build_ir(Fan)
    sink = ir.get_node("sink")
    assert sink.args == (
        ("xs", Seq((Ref("fan", "out"), Ref("fan-1", "out"), Ref("fan-2", "out")))),
    )
    assert sink.upstream == ("fan", "fan-1", "fan-2")
    assert sink.input_modes == (("xs", "object"),)
    mixed = dict(ir.get_node("sink-1").args)["xs"]
    assert isinstance(mixed, Seq)
    assert mixed.items[-1] == Const("7")
    assert [e.src for e in ir.edges if e.dst == "sink"] == ["fan", "fan-1", "fan-2"]


def test_dict_fan_in_is_sorted_by_key() -> None:
    node = build_ir(Fan).get_node("by_name")
    assert node.args == (
        ("parts", Map((("a", Ref("eleven", "out")), ("k", Const("1")), ("z", Ref("ten", "out"))))),
    )
    assert node.upstream == ("eleven", "ten")


def test_auto_names_skip_explicit_names() -> None:
    class W(Workflow):
        @step
        def a(self) -> int:
            return 1

        def graph(self) -> Any:
            return self.a(name="a-1"), self.a(), self.a(), self.a.named("b")()

    assert [n.name for n in build_ir(W).nodes] == ["a-1", "a", "a-2", "b"]


def test_step_with_its_own_name_parameter_takes_it_as_an_argument() -> None:
    class W(Workflow):
        @step
        def greet(self, name: str) -> str:
            return name

        def graph(self) -> Any:
            return self.greet(name="ada")

    node = build_ir(W).nodes[0]
    assert node.name == "greet"
    assert node.args == (("name", Const('"ada"')),)


@pytest.mark.parametrize("bad", ["", "1abc", "has space", "x" * 64, "a/b"])
def test_invalid_explicit_name(bad: str) -> None:
    class W(Workflow):
        @step
        def a(self) -> int:
            return 1

        def graph(self) -> Any:
            return self.a(name=bad)

    with pytest.raises(WorkflowError, match="is not valid"):
        build_ir(W)


def test_duplicate_explicit_name() -> None:
    class W(Workflow):
        @step
        def a(self) -> int:
            return 1

        def graph(self) -> Any:
            self.a(name="x")
            return self.a.named("x")()

    with pytest.raises(WorkflowError, match="two calls in graph.. of workflow 'W' are named 'x'"):
        build_ir(W)


# -- params --------------------------------------------------------------------------------------


def test_params_step_values_and_indexing() -> None:
    class W(Workflow):
        @step
        def params(self) -> dict[str, Any]:
            return {"lr": 0.1, "depth": 3}

        @step
        def fit(self, lr: float, depth: int) -> int:
            return depth

        def graph(self) -> Any:
            p = self.params()
            return self.fit(p["lr"], depth=p["depth"])

    ir = build_ir(W)
    params = ir.get_node("params")
    assert params.kind == "params"
    assert params.param_values == {"depth": 3, "lr": 0.1}
    assert [o.name for o in params.outputs] == ["out", "depth", "lr"]
    assert ir.get_node("fit").args == (
        ("depth", Ref("params", "depth")),
        ("lr", Ref("params", "lr")),
    )
    assert build_ir(W, {"lr": 0.5}).get_node("params").param_values == {"depth": 3, "lr": 0.5}


def test_params_step_with_another_name() -> None:
    class W(Workflow):
        @step(params=True)
        def config(self) -> dict[str, Any]:
            return {"k": 1}

        @step
        def use(self, k: int) -> int:
            return k

        def graph(self) -> Any:
            return self.use(self.config()["k"])

    ir = build_ir(W, {"k": 2})
    assert ir.get_node("config").kind == "params"
    assert ir.get_node("config").param_values == {"k": 2}


def test_params_override_from_yaml(tmp_path: Path) -> None:
    file = write(tmp_path / "p.yaml", "n: 10\nlabel: hello\n")
    ir = build_ir(Tiny, load_params(file), file)
    assert ir.get_node("params").param_values == {"label": "hello", "n": 10}
    assert build_ir(Tiny).compute_hash() != ir.compute_hash()


def test_params_unknown_key_has_did_you_mean(tmp_path: Path) -> None:
    file = write(tmp_path / "p.yaml", "nn: 10\n")
    with pytest.raises(ParamsError, match="parameter 'nn' is not defined by workflow 'Tiny'") as e:
        build_ir(Tiny, load_params(file), file)
    assert e.value.hint == "did you mean 'n'? its params are: label, n"
    assert e.value.file == str(file)


def test_params_override_without_params_step() -> None:
    with pytest.raises(ParamsError, match="has no params step"):
        build_ir(Fan, {"x": 1})


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("return [1]", "returned list, not a dict"),
        ("raise KeyError('k')", "raised KeyError"),
        ("return {'f': object()}", "not JSON-able"),
    ],
)
def test_bad_params_step(tmp_path: Path, body: str, message: str) -> None:
    # exec'd code, as in a notebook: the class has no importable module, its steps have a file.
    ns: dict[str, Any] = {}
    code = (
        "from axl import Workflow, step\n"
        "class W(Workflow):\n"
        "    @step\n"
        f"    def params(self):\n        {body}\n"
        "    def graph(self):\n        return self.params()\n"
    )
    exec(compile(code, str(tmp_path / "w.py"), "exec"), ns)
    with pytest.raises(WorkflowError, match=message) as info:
        build_ir(ns["W"])
    assert info.value.file == str(tmp_path / "w.py")
    assert info.value.line == 3


def test_params_step_takes_no_arguments() -> None:
    class W(Workflow):
        @step
        def params(self, x: int = 1) -> dict[str, Any]:
            return {}

        def graph(self) -> Any:
            return self.params(2)

    with pytest.raises(WorkflowError, match="the params step 'params' takes no arguments"):
        build_ir(W)


# -- multi-output steps --------------------------------------------------------------------------


class Multi(Workflow):
    @step
    def data(self) -> list[int]:
        return [1, 2, 3]

    @step(outputs=("train", "test"))
    def split(self, rows: list[int]) -> tuple[list[int], list[int]]:
        return rows[:2], rows[2:]

    @step
    def fit(self, train: list[int], test: list[int]) -> int:
        return len(train)

    def graph(self) -> Any:
        train, test = self.split(self.data())
        s2 = self.split(self.data())
        return self.fit(train, test), self.fit(s2[0], s2["test"]), s2


def test_multi_output_unpacking_and_indexing() -> None:
    ir = build_ir(Multi)
    assert ir.get_node("split").outputs == (
        IROutput("train", "auto", ""),
        IROutput("test", "auto", ""),
    )
    assert ir.get_node("fit").args == (
        ("test", Ref("split", "test")),
        ("train", Ref("split", "train")),
    )
    assert ir.get_node("fit-1").args == (
        ("test", Ref("split-1", "test")),
        ("train", Ref("split-1", "train")),
    )
    # Returning a multi-output call returns each of its outputs.
    assert ir.results == (
        Ref("fit", "out"),
        Ref("fit-1", "out"),
        Ref("split-1", "train"),
        Ref("split-1", "test"),
    )


def test_passing_a_whole_multi_output_call_is_refused() -> None:
    class W(Multi):
        def graph(self) -> Any:
            s = self.split(self.data())
            return self.fit(s, s["test"])

    with pytest.raises(WorkflowError, match="argument 'train' is step 'split', which has several"):
        build_ir(W)


def test_graph_may_return_a_dict() -> None:
    class W(Multi):
        def graph(self) -> Any:
            train, test = self.split(self.data())
            return {"model": self.fit(train, test), "test": test}

    assert build_ir(W).results == (Ref("fit", "out"), Ref("split", "test"))


# -- scale, JSON, hashing ------------------------------------------------------------------------


class Chain(Workflow):
    @step
    def start(self) -> int:
        return 0

    @step
    def inc(self, x: int) -> int:
        return x + 1

    def graph(self) -> Any:
        x = self.start()
        for _ in range(10_000):
            x = self.inc(x)
        return x


def test_ten_thousand_step_chain_builds_without_recursion() -> None:
    began = time.monotonic()
    ir = build_ir(Chain)  # validate() inside runs the topological sort over all of it
    assert len(ir.nodes) == 10_001
    assert ir.nodes[-1].name == "inc-9999"
    assert ir.get_node("inc-5000").upstream == ("inc-4999",)
    assert len(ir.ancestors(["inc-9999"])) == 10_001
    assert time.monotonic() - began < 20  # ~1 s here; quadratic work would take minutes


@pytest.mark.parametrize("cls", [Tiny, Options, Consts, Fan, Multi])
def test_json_round_trips(cls: type[Workflow]) -> None:
    ir = build_ir(cls)
    text = dumps(ir)
    back = loads(text)
    assert back == ir
    assert dumps(back) == text
    assert back.compute_hash() == ir.compute_hash()
    assert json.loads(text) == to_dict(ir)
    assert text.endswith("}\n")


def test_json_holds_no_paths_or_lines() -> None:
    text = dumps(build_ir(Fan))
    assert __file__ not in text
    assert str(Path(__file__).parent) not in text
    assert "line" not in text


def test_hash_is_stable_and_tracks_what_matters() -> None:
    base = build_ir(Tiny).compute_hash()
    assert len(base) == 64
    assert build_ir(Tiny).compute_hash() == base

    class Tiny2(Tiny):
        @step(io_handler="cloudpickle", retries=3)  # retries differ
        def total(self, xs: list[int]) -> int:
            return sum(xs)

    assert build_ir(Tiny2).compute_hash() != base
