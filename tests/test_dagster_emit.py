"""The Dagster emitter without Dagster: names, the source printer, the module's shape, options,
`axl compile --target dagster`, the dagster_job rule, and that nothing imports Dagster early."""

from __future__ import annotations

import ast
import itertools
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import REPO, axl, write
from dagster_helpers import ODD, write_workspace

from axl.emit import WorkflowBundle, load_bundle
from axl.emit.dagster import compile_dagster, compile_target, emit_module
from axl.emit.dagster._names import identifier, input_slots, is_config_field
from axl.emit.dagster._pysrc import Atom, call, lines, literal, scalar, signature, string
from axl.errors import UsageError

RUFF = Path(sys.executable).with_name("ruff")
_COUNTER = itertools.count()


def _bundle(root: Path, source: str, cls: str) -> WorkflowBundle:
    # A fresh module name per load: Python caches modules by name for the whole session.
    name = f"dagster_emit_{next(_COUNTER)}"
    write(root / f"{name}.py", source)
    return load_bundle(f"{root / name}.py:{cls}", workspace=root)


@pytest.fixture
def odd(workspace: Path) -> WorkflowBundle:
    return _bundle(workspace, ODD, "Odd")


# -- names -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("features", "features"),
        ("shard_sum-1", "shard_sum_1"),
        ("sum", "sum_"),  # a builtin
        ("lambda", "lambda_"),  # a keyword
        ("match", "match_"),  # a soft keyword
        ("9lives", "step_9lives"),
        ("données", "donn_es"),  # Dagster names are ASCII
        ("---", "step"),
    ],
)
def test_identifiers_dagster_and_python_accept(text: str, expected: str) -> None:
    assert identifier(text) == expected


def test_config_fields_are_plain_names_pydantic_leaves_alone() -> None:
    assert is_config_field("n_customers")
    for key in ("a b", "class", "json", "model_x", "_private", "9x", "x-y"):
        assert not is_config_field(key), key


def test_input_slots_name_fan_in_items_and_skip_constants() -> None:
    leaf = {"from": {"step": "a", "output": "out"}}
    inputs = {
        "parts": {"list": [{"input": leaf}, {"const": 3}, {"input": leaf}]},
        "sums": {"dict": {"train": {"input": leaf}, "a b": {"input": leaf}}},
        "context": {"input": leaf},  # an op function's own parameter name
        "n": {"const": 1},
    }
    assert [name for name, _ in input_slots(inputs)] == [
        "context_2",
        "parts_0",
        "parts_2",
        "sums_train",
        "sums_1",
    ]
    assert all(found is leaf for _, found in input_slots(inputs))


# -- the source printer ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "plain",
        'say "hi"',
        "it's",
        "both ' and \"",
        "back\\slash",
        "tab\tnew\nline\r",
        "\x00\x7f",
        "\u2028 \U0001f600 é",
        "",
    ],
)
def test_string_literals_round_trip(text: str) -> None:
    literal_text = string(text)
    assert ast.literal_eval(literal_text) == text
    assert literal_text[0] == ("'" if text.count('"') > text.count("'") else '"')


@pytest.mark.parametrize("value", [None, True, 0, -7, 0.25, 1e20, 1e-5, 12345678901234567890])
def test_scalars_round_trip_in_ruff_form(value: object) -> None:
    text = scalar(value)
    assert ast.literal_eval(text) == value
    assert "e+" not in text


def test_an_expression_fits_on_one_line_or_explodes_with_trailing_commas() -> None:
    short = call("dg.Out", Atom("Artifact"))
    assert lines(short, 0, "x = ") == ["x = dg.Out(Artifact)"]
    long = call("run", *(Atom(f"argument_{i}") for i in range(12)), flag=literal({"a": [1, 2]}))
    out = lines(long, 1, "return ")
    assert out[0] == "    return run("
    assert out[1:3] == ["        argument_0,", "        argument_1,"]
    assert out[-2:] == ['        flag={"a": [1, 2]},', "    )"]
    assert all(len(line) <= 100 for line in out)
    assert signature("f", ["a: int"], "int") == ["def f(a: int) -> int:"]
    many = [f"parameter_{i}: Artifact" for i in range(6)]
    assert signature("f", many, "Artifact")[-1] == ") -> Artifact:"


# -- the module ---------------------------------------------------------------------------------


def test_odd_names_become_valid_ops_inputs_and_config(odd: WorkflowBundle) -> None:
    module = emit_module(odd)
    tree = ast.parse(module.text)
    functions = {n.name: n for n in tree.body if isinstance(n, ast.FunctionDef)}
    assert set(functions) == {"params", "sum_", "sum_again", "lambda_", "Odd"}
    sum_params = [a.arg for a in functions["sum_"].args.args]
    assert sum_params == ["context", "axl", "axl_2", "config_2", "context_2"]
    assert '@dg.op(tags={"axl/step": "sum-again"})' in module.text
    # Params keys that cannot be config fields keep their compiled values, with a warning.
    config = next(n for n in tree.body if isinstance(n, ast.ClassDef))
    fields = [n.target.id for n in config.body if isinstance(n, ast.AnnAssign)]
    assert fields == ["flag", "ints", "mixed", "nested", "text"]
    assert "    ints: list[int] = [1, 2]" in module.text
    assert '    mixed: Any = [1, "x"]' in module.text
    assert "from typing import Any" in module.text
    assert [w.split(";")[0].split(": ")[0] for w in module.warnings] == [
        "params key 'a b' of step 'params' is not a Dagster config field name",
        "params key 'class' of step 'params' is not a Dagster config field name",
        "params key 'json' of step 'params' is not a Dagster config field name",
        "step 'lambda' has when='{{inputs.parameters.flag}} == true'",
    ]
    # Nine outputs: a tuple annotation spelling each would not fit its line, so none is given.
    assert "    config: ParamsConfig,\n):\n" in module.text


def test_the_module_is_formatted_and_lint_clean(odd: WorkflowBundle, tmp_path: Path) -> None:
    path = write(tmp_path / "odd_job.py", emit_module(odd).text)
    config = ["--config", str(REPO / "pyproject.toml")]
    fmt = subprocess.run(
        [str(RUFF), "format", "--check", "--diff", *config, str(path)],
        capture_output=True,
        text=True,
    )
    assert fmt.returncode == 0, fmt.stdout + fmt.stderr
    # The project's rules for examples/ (where axl is first-party, as in this repository).
    lint = subprocess.run(
        [
            str(RUFF),
            "check",
            "--no-cache",
            *config,
            "--config",
            "lint.isort.known-first-party = ['axl']",
            "--ignore",
            "N,RUF,S,PLR",
            str(path),
        ],
        capture_output=True,
        text=True,
    )
    assert lint.returncode == 0, lint.stdout + lint.stderr


def test_emission_is_deterministic_and_keys_are_left_to_the_op(odd: WorkflowBundle) -> None:
    first = emit_module(odd).text
    assert emit_module(odd).text == first
    assert '"key": None,' in first
    assert '"key": "' not in first  # the Python and platform of the op's process are unknown


def test_cache_false_steps_are_marked(workspace: Path) -> None:
    write_workspace(workspace, "volatile_flow")
    bundle = load_bundle(f"{workspace / 'volatile_flow.py'}:Volatile", workspace=workspace)
    text = emit_module(bundle).text
    make = text[text.index('        "make": {') :]
    assert make[: make.index('        "split": {')].count('"cache": False,') == 1


def test_the_target_takes_no_options(odd: WorkflowBundle) -> None:
    assert compile_target(odd, {"kind": None, "image": None}).text == compile_dagster(odd).text
    with pytest.raises(UsageError, match="--artifact-repo does not apply to --target dagster"):
        compile_target(odd, {"artifact_repo": "x"})


def test_axl_compile_writes_the_module_and_warns(workspace: Path) -> None:
    write(workspace / "odd_flow.py", ODD)
    result = axl(
        "compile", "--target", "dagster", "-m", "odd_flow.py:Odd", "-o", "job.py", cwd=workspace
    )
    assert result.code == 0, result.err
    assert result.out.startswith("wrote job.py: Dagster job Odd: 4 ops, ")
    assert result.err.count("warning: ") == 4
    bad = axl(
        "compile", "--target", "dagster", "-m", "odd_flow.py:Odd", "--kind", "x", cwd=workspace
    )
    assert bad.code == 2
    assert bad.err.startswith("error: --kind does not apply to --target dagster")


def test_compiling_never_imports_dagster(workspace: Path) -> None:
    write_workspace(workspace)
    code = (
        "import sys\n"
        "import axl\n"
        "from axl.emit import compile_workflow\n"
        "compile_workflow('dagster', 'dagster_flow.py:Flow')\n"
        "assert 'dagster' not in sys.modules, 'dagster was imported'\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], cwd=workspace, capture_output=True, text=True, check=False
    )
    assert proc.returncode == 0, proc.stderr


def test_the_dagster_job_rule_writes_what_axl_compile_writes(workspace: Path) -> None:
    write_workspace(workspace)
    write(
        workspace / "BUILD",
        """
        axl_workflow(name = "flow", workflow = "dagster_flow.py:Flow")
        dagster_job(name = "flow_dagster", workflow = ":flow")
        dagster_job(name = "with_image", workflow = ":flow", image = ":flow")
        """,
    )
    built = axl("build", "//:flow_dagster", cwd=workspace)
    assert built.code == 0, built.err
    assert "wrote workspace/targets/flow_dagster.py: Dagster job Flow: 5 ops" in built.out
    compiled = axl("compile", "--target", "dagster", "-m", "dagster_flow.py:Flow", cwd=workspace)
    assert compiled.code == 0, compiled.err
    target = workspace / "workspace" / "targets" / "flow_dagster.py"
    assert target.read_text() == compiled.out
    refused = axl("build", "//:with_image", cwd=workspace)
    assert refused.code == 2
    assert "dagster_job does not take an image yet" in refused.err
