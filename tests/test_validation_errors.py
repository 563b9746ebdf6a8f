"""Every validation error, seen the way a user sees it: ``axl validate`` in a fresh process.

Each must exit 2 and print exactly one ``error:`` line (plus a ``hint:`` where one helps), no
traceback, and name the workflow, the step and the source ``file:line`` where it can.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import Result, axl, write

from axl import ir
from axl.errors import WorkflowError

BAD = """
from axl import Workflow, step


class ExtraArg(Workflow):
    @step
    def a(self) -> int:
        return 1

    @step
    def b(self, x: int) -> int:
        return x

    def graph(self):
        return self.b(self.a(), y=3)  # LINE:extra


class MissingArg(ExtraArg):
    @step
    def c(self, x: int, z: int) -> int:
        return x

    def graph(self):
        return self.c(self.a())  # LINE:missing


class DuplicateName(ExtraArg):
    def graph(self):
        self.a(name="x")
        return self.a.named("x")()  # LINE:duplicate


class ReturnsNothing(ExtraArg):  # LINE:nothing
    def graph(self):
        self.a()


class UnknownHandler(Workflow):
    @step(io_handler="parquet-ish")  # LINE:handler
    def a(self) -> int:
        return 1

    def graph(self):
        return self.a()


class UnknownMode(ExtraArg):
    @step(input_mode="copy")  # LINE:mode
    def c(self, x: int) -> int:
        return x

    def graph(self):
        return self.c(self.a())


class UnknownModeForArg(ExtraArg):
    @step(input_mode={"x": "file"})  # LINE:argmode
    def c(self, x: int) -> int:
        return x

    def graph(self):
        return self.c(self.a())


class ModeForMissingArg(ExtraArg):
    @step(input_mode={"y": "path"})  # LINE:modearg
    def c(self, x: int) -> int:
        return x

    def graph(self):
        return self.c(self.a())


class Misuse(ExtraArg):
    def graph(self):
        x = self.a()
        if x > 0:  # LINE:misuse
            return self.b(x)
        return x


class GraphRaises(ExtraArg):
    def graph(self):
        x = self.a()
        return self.b(x, 1 / 0)  # LINE:raises


class Params(Workflow):
    @step
    def params(self) -> dict:
        return {"learning_rate": 0.1, "depth": 3}

    @step
    def fit(self, params: dict) -> int:
        return 1

    def graph(self):
        return self.fit(self.params())


class Fine(ExtraArg):
    def graph(self):
        return self.b(self.a())


NOT_A_WORKFLOW = 3
"""


def line_of(tag: str, text: str = BAD) -> int:
    """The 1-based line of ``# LINE:<tag>`` in ``text`` (as written to disk, after lstrip)."""
    for number, line in enumerate(text.lstrip().splitlines(), start=1):
        if line.endswith(f"# LINE:{tag}"):
            return number
    raise AssertionError(f"no line tagged {tag}")


def check(r: Result, *needles: str, hint: str | None = None) -> str:
    """Assert the one-error contract and return the error line."""
    assert r.code == 2, (r.code, r.out, r.err)
    assert "Traceback" not in r.err
    assert "Traceback" not in r.out
    errors = [line for line in r.err.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, r.err
    hints = [line for line in r.err.splitlines() if line.startswith("hint:")]
    assert len(r.err.splitlines()) == 1 + len(hints), r.err
    for needle in needles:
        assert needle in errors[0], (needle, errors[0])
    if hint is not None:
        assert len(hints) == 1, r.err
        assert hint in hints[0], (hint, hints[0])
    return errors[0]


@pytest.fixture
def bad(workspace: Path) -> Path:
    return write(workspace / "bad.py", BAD)


def validate(workspace: Path, *args: str) -> Result:
    return axl("validate", *args, cwd=workspace)


def run_local(workspace: Path, *args: str) -> Result:
    return axl("run", "local", *args, cwd=workspace)


@pytest.mark.parametrize(
    ("cls", "tag", "needles", "hint"),
    [
        (
            "ExtraArg",
            "extra",
            ["step 'b' of workflow 'ExtraArg'", "unexpected keyword argument 'y'"],
            "b(x: int) is defined at bad.py:",
        ),
        (
            "MissingArg",
            "missing",
            ["step 'c' of workflow 'MissingArg'", "missing a required argument: 'z'"],
            "c(x: int, z: int) is defined at bad.py:",
        ),
        (
            "DuplicateName",
            "duplicate",
            ["workflow 'DuplicateName' are named 'x'"],
            "unique name=",
        ),
        (
            "ReturnsNothing",
            "nothing",
            ["graph() of workflow 'ReturnsNothing' returned NoneType"],
            "return the final step's output",
        ),
        (
            "UnknownHandler",
            "handler",
            ["step 'a' of workflow 'UnknownHandler'", "unknown IO handler 'parquet-ish'"],
            "known handlers: ",
        ),
        (
            "UnknownMode",
            "mode",
            ["step 'c' of workflow 'UnknownMode'", "unknown input mode 'copy'"],
            "input modes are: object, path",
        ),
        (
            "UnknownModeForArg",
            "argmode",
            ["step 'c' of workflow 'UnknownModeForArg'", "unknown input mode 'file'"],
            "input modes are: object, path",
        ),
        (
            "ModeForMissingArg",
            "modearg",
            ["step 'c' of workflow 'ModeForMissingArg'", "names argument 'y'"],
            "its arguments are: x",
        ),
        (
            "Misuse",
            "misuse",
            ["arithmetic on the output of step 'a'"],
            "compute with them inside a step",
        ),
        (
            "GraphRaises",
            "raises",
            ["graph() of workflow 'GraphRaises' raised ZeroDivisionError"],
            "do computation inside steps",
        ),
    ],
)
def test_workflow_errors(bad: Path, cls: str, tag: str, needles: list[str], hint: str) -> None:
    error = check(validate(bad.parent, "-m", f"bad.py:{cls}"), *needles, hint=hint)
    assert f"error: {bad}:{line_of(tag)}: " in error


def test_module_does_not_exist(workspace: Path) -> None:
    check(
        validate(workspace, "-m", "no_such_module:Flow"),
        "no module named 'no_such_module'",
        hint="run from the folder that holds it",
    )


def test_file_does_not_exist(workspace: Path) -> None:
    check(
        validate(workspace, "-m", "flows/missing.py:Flow"),
        "workflow file flows/missing.py does not exist",
        hint="check the path",
    )


def test_class_does_not_exist(bad: Path) -> None:
    error = check(
        validate(bad.parent, "-m", "bad.py:ExtraArgs"),
        "module 'bad' has no class 'ExtraArgs'",
        hint="did you mean 'ExtraArg'?",
    )
    assert f"error: {bad}: " in error


def test_name_is_not_a_workflow(bad: Path) -> None:
    check(
        validate(bad.parent, "-m", "bad.py:NOT_A_WORKFLOW"),
        "bad.py:NOT_A_WORKFLOW is a int, not a subclass of axl.Workflow",
        hint="derive the class from axl.Workflow",
    )


def test_spec_without_class(bad: Path) -> None:
    check(
        validate(bad.parent, "-m", "bad.py"),
        "is not of the form module:Class or path/to/file.py:Class",
        hint="-m examples/tiny.py:Tiny",
    )


def test_syntax_error(workspace: Path) -> None:
    src = write(workspace / "broken.py", "from axl import Workflow\n\n\ndef oops(:\n    pass\n")
    error = check(validate(workspace, "-m", "broken.py:Flow"), "has a syntax error")
    assert f"error: {src}:4: " in error


def test_module_raising_on_import(workspace: Path) -> None:
    src = write(workspace / "boom.py", "import os\n\nraise RuntimeError('no GPU here')\n")
    error = check(
        validate(workspace, "-m", "boom:Flow"),
        "importing module 'boom' raised RuntimeError: no GPU here",
        hint="fix the module so it imports cleanly",
    )
    assert f"error: {src}:3: " in error


def test_module_importing_a_missing_dependency(workspace: Path) -> None:
    src = write(workspace / "needs.py", "import not_installed_anywhere\n")
    error = check(
        validate(workspace, "-m", "needs.py:Flow"),
        "raised ModuleNotFoundError: No module named 'not_installed_anywhere'",
        hint="is a dependency missing?",
    )
    assert f"error: {src}:1: " in error


def test_bad_step_options_at_import(workspace: Path) -> None:
    text = """
    from axl import Workflow, step


    class Flow(Workflow):
        @step(retries=-1)
        def a(self) -> int:
            return 1
    """
    src = write(workspace / "opts.py", text)
    error = check(validate(workspace, "-m", "opts.py:Flow"), "retries must be a whole number >= 0")
    assert f"error: {src}:5: " in error  # the decorator, not axl's own code


def test_bad_workflow_option_at_import(workspace: Path) -> None:
    text = """
    from axl import Workflow, workflow


    @workflow(imgae="python:3.12")
    class Flow(Workflow):
        pass
    """
    src = write(workspace / "wopts.py", text)
    error = check(
        validate(workspace, "-m", "wopts.py:Flow"),
        "@workflow has no option 'imgae'",
        hint="image",
    )
    assert f"error: {src}:4: " in error


def test_malformed_params_yaml(bad: Path) -> None:
    params = write(bad.parent / "p.yaml", "learning_rate: [0.1\ndepth: 3\n")
    error = check(
        validate(bad.parent, "-m", "bad.py:Params", "--params", "p.yaml"),
        "params file is not valid YAML",
        hint="'name: value'",
    )
    assert error.startswith(f"error: {params.name}:")


def test_params_file_is_not_a_mapping(bad: Path) -> None:
    write(bad.parent / "p.yaml", "- 1\n- 2\n")
    check(
        validate(bad.parent, "-m", "bad.py:Params", "--params", "p.yaml"),
        "p.yaml: params file holds a list, not a mapping",
    )


def test_params_file_missing(bad: Path) -> None:
    check(
        validate(bad.parent, "-m", "bad.py:Params", "--params", "nope.yaml"),
        "params file nope.yaml does not exist",
        hint="check the path",
    )


def test_params_key_does_not_exist(bad: Path) -> None:
    write(bad.parent / "p.yaml", "depth: 4\nlearning_rat: 0.2\n")
    check(
        validate(bad.parent, "-m", "bad.py:Params", "--params", "p.yaml"),
        "p.yaml: parameter 'learning_rat' is not defined by workflow 'Params'",
        hint="did you mean 'learning_rate'? its params are: depth, learning_rate",
    )


def test_params_file_for_workflow_without_params(bad: Path) -> None:
    write(bad.parent / "p.yaml", "depth: 4\n")
    check(
        validate(bad.parent, "-m", "bad.py:Fine", "--params", "p.yaml"),
        "p.yaml: workflow 'Fine' has no params step, so params cannot be overridden",
        hint="define a step named 'params'",
    )


@pytest.mark.parametrize(
    ("yaml", "needle", "hint"),
    [
        (
            'depth: "not an int"\n',
            "parameter 'depth' is a str 'not an int', but its default 3 is an int",
            "give 'depth' an int value",
        ),
        (
            "depth: [4]\n",
            "parameter 'depth' is a list [4], but its default 3 is an int",
            "an int value",
        ),
        (
            "depth: true\n",
            "parameter 'depth' is a bool True, but its default 3 is an int",
            "an int",
        ),
        (
            "learning_rate: fast\n",
            "'learning_rate' is a str 'fast', but its default 0.1 is a float",
            "a float value",
        ),
        ("depth: 4.5\n", "'depth' is a float 4.5, but its default 3 is an int", "an int value"),
    ],
)
def test_params_value_of_the_wrong_type(bad: Path, yaml: str, needle: str, hint: str) -> None:
    """#18: checked against the default's type before anything runs, naming key, file, type."""
    write(bad.parent / "p.yaml", yaml)
    for command in (validate, run_local):
        check(
            command(bad.parent, "-m", "bad.py:Params", "--params", "p.yaml"),
            "p.yaml: parameter",
            needle,
            hint=hint,
        )
    assert not (bad.parent / ".axl" / "runs").exists() or not any(
        (bad.parent / ".axl" / "runs").iterdir()
    )


def test_params_int_for_float_and_anything_for_none_are_accepted(bad: Path) -> None:
    write(bad.parent / "p.yaml", "learning_rate: 1\n")
    r = validate(bad.parent, "-m", "bad.py:Params", "--params", "p.yaml", "--json")
    assert r.code == 0, r.err
    assert json.loads(r.out)["nodes"][0]["params"]["learning_rate"] == 1
    write(
        bad.parent / "none.py",
        """
        from axl import Workflow, step


        class N(Workflow):
            @step
            def params(self) -> dict:
                return {"opt": None}

            @step
            def use(self, p: dict) -> int:
                return 1

            def graph(self):
                return self.use(self.params())
        """,
    )
    for value in ("[1, 2]", "x", "{a: 1}", "3.5"):
        write(bad.parent / "p.yaml", f"opt: {value}\n")
        r = validate(bad.parent, "-m", "none.py:N", "--params", "p.yaml")
        assert r.code == 0, (value, r.err)


def test_good_params_file_is_applied(bad: Path) -> None:
    write(bad.parent / "p.yaml", "depth: 4\n")
    r = validate(bad.parent, "-m", "bad.py:Params", "--params", "p.yaml", "--json")
    assert r.code == 0, r.err
    node = json.loads(r.out)["nodes"][0]
    assert node["params"] == {"depth": 4, "learning_rate": 0.1}


# -- validate() on IR that was not traced (hand-written or edited JSON) --------------------------


def _chain_json() -> dict:
    def node(name: str, upstream: str | None) -> dict:
        args = {"x": {"ref": [upstream, "out"]}} if upstream else {}
        return {
            "name": name,
            "step": name,
            "kind": "step",
            "module": "m",
            "qualname": f"W.{name}",
            "args": args,
            "input_modes": {"x": "object"} if upstream else {},
            "outputs": [{"name": "out", "handler": "pickle", "extension": "pkl"}],
        }

    return {
        "ir_version": ir.IR_VERSION,
        "name": "W",
        "module": "m",
        "qualname": "W",
        "image": "python:3.11-slim",
        "io_handler": "pickle",
        "input_mode": "object",
        "use_lockfile": True,
        "requirements": [],
        "requirements_file": None,
        "nodes": [node("a", None), node("b", "a"), node("c", "b")],
        "results": [["c", "out"]],
    }


def test_valid_hand_written_ir() -> None:
    ir.validate(ir.loads(json.dumps(_chain_json())))


def test_cycle() -> None:
    data = _chain_json()
    data["nodes"][0]["args"] = {"x": {"ref": ["c", "out"]}}  # a <- c <- b <- a
    with pytest.raises(WorkflowError, match="workflow 'W' has a cycle through steps a, b, c"):
        ir.validate(ir.loads(json.dumps(data)))


def test_self_loop() -> None:
    data = _chain_json()
    data["nodes"][1]["args"] = {"x": {"ref": ["b", "out"]}}
    with pytest.raises(WorkflowError, match="has a cycle through steps b, c"):
        ir.validate(ir.loads(json.dumps(data)))


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda d: d["nodes"][1]["outputs"][0].update(handler="nope"), "unknown IO handler 'nope'"),
        (lambda d: d["nodes"][1]["input_modes"].update(x="copy"), "unknown input mode 'copy'"),
        (lambda d: d["nodes"][1].update(args={"x": {"ref": ["zz", "out"]}}), "unknown step 'zz'"),
        (lambda d: d["nodes"][1].update(args={"x": {"ref": ["a", "o2"]}}), "output 'o2'"),
        (lambda d: d.update(results=[["zz", "out"]]), "returns unknown step 'zz'"),
    ],
)
def test_bad_hand_written_ir(edit: object, message: str) -> None:
    data = _chain_json()
    edit(data)  # type: ignore[operator]
    with pytest.raises(WorkflowError, match=message):
        ir.validate(ir.loads(json.dumps(data)))


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[1]", "IR JSON must be an object"),
        ("{", "IR is not JSON"),
        ('{"ir_version": 99}', "IR version 99 is not supported"),
        ('{"ir_version": 1}', "malformed IR JSON: missing or bad field"),
    ],
)
def test_malformed_ir_json(text: str, message: str) -> None:
    with pytest.raises(WorkflowError, match=message):
        ir.loads(text)


def test_duplicate_node_names_in_ir() -> None:
    data = _chain_json()
    data["nodes"][2]["name"] = "b"
    with pytest.raises(WorkflowError, match="workflow 'W' has two steps named 'b'"):
        ir.loads(json.dumps(data))
