"""``axl compile --target argo`` and the ``argo_workflow`` BUILD rule, through the real CLI."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import yaml
from conftest import REPO, axl, write

from axl.emit.argo import check

PINNED = "reg.example/flows@sha256:" + "5" * 64

FLOWS = """
from axl import Workflow, step


class Tiny(Workflow):
    @step
    def params(self) -> dict:
        return {"n": 3}

    @step(io_handler="json")
    def make(self, n: int) -> list:
        return list(range(n))

    def graph(self):
        return self.make(self.params()["n"])
"""


def test_compile_writes_the_file_and_says_what_it_wrote(tmp_path: Path) -> None:
    out = tmp_path / "deploy" / "tiny.yaml"
    result = axl(
        "compile", "--target", "argo", "-m", "examples/tiny.py:Tiny", "--out", str(out), cwd=REPO
    )
    assert result.code == 0, result.err
    assert result.out == (
        f"wrote {out}: Workflow tiny: 3 steps, 3 templates, 7 KiB; "
        "ConfigMap tiny-manifest-" + _manifest_name_part() + ": 2 KiB\n"
    )
    assert result.err.startswith("warning: spec.templates: image 'python:3.11-slim'")
    assert out.read_bytes() == (REPO / "tests" / "golden" / "argo" / "tiny.yaml").read_bytes()
    assert stat.S_IMODE(out.stat().st_mode) == 0o666 & ~_umask()
    assert not [p for p in out.parent.iterdir() if p.name.startswith(".")]  # no temp left


def test_compile_to_standard_output(workspace: Path) -> None:
    write(workspace / "flows.py", FLOWS)
    result = axl("compile", "-t", "argo", "-m", "flows.py:Tiny", "--image", PINNED, cwd=workspace)
    assert result.code == 0, result.err
    assert result.err == ""  # a pinned image: nothing to warn about
    configmap, document = yaml.safe_load_all(result.out)
    assert configmap["kind"] == "ConfigMap"
    assert check(document).errors == []
    assert {t["container"]["image"] for t in document["spec"]["templates"][1:]} == {PINNED}


def test_bad_input_is_one_error_line(workspace: Path) -> None:
    write(workspace / "flows.py", FLOWS)
    cases = {
        ("--target", "argoo"): "error: unknown compile target 'argoo'\nhint: did you mean argo?\n",
        ("--target", "argo", "--kind", "Pod"): "error: Argo kind 'Pod' is not one axl emits\n"
        "hint: use Workflow or WorkflowTemplate\n",
        ("--target", "argo", "--artifact-repo", "/"): "error: artifact key prefix '/' is not a "
        "plain S3 key prefix\nhint: e.g. --artifact-repo axl/churn\n",
    }
    for args, expected in cases.items():
        result = axl("compile", "-m", "flows.py:Tiny", *args, cwd=workspace)
        assert (result.code, result.err) == (2, expected), args
        assert result.out == ""


def test_build_rule_writes_the_same_yaml_as_compile(workspace: Path) -> None:
    write(workspace / "flows.py", FLOWS)
    write(
        workspace / "BUILD",
        f"""
        axl_workflow(name = "tiny", workflow = "flows.py:Tiny")
        argo_workflow(name = "tiny_argo", workflow = ":tiny", image = "{PINNED}")
        argo_workflow(
            name = "tiny_template",
            workflow = ":tiny",
            image = "{PINNED}",
            kind = "WorkflowTemplate",
            artifact_repo = "axl/tiny",
        )
        """,
    )
    result = axl("build", "//:tiny_argo", "//:tiny_template", cwd=workspace)
    assert result.code == 0, result.err
    assert "//:tiny_argo  ok: wrote workspace/targets/tiny_argo.yaml: Workflow tiny" in result.out
    built = workspace / "workspace" / "targets" / "tiny_argo.yaml"
    compiled = axl("compile", "-t", "argo", "-m", "flows.py:Tiny", "--image", PINNED, cwd=workspace)
    assert built.read_text() == compiled.out
    _, template = yaml.safe_load_all((built.parent / "tiny_template.yaml").read_text())
    assert template["kind"] == "WorkflowTemplate"
    assert template["spec"]["templates"][1]["outputs"]["artifacts"][0]["s3"] == {
        "key": "axl/tiny/{{workflow.name}}/params/out.json"
    }


def test_build_rule_refuses_an_unpinned_image_and_follows_image_targets(workspace: Path) -> None:
    write(workspace / "flows.py", FLOWS)
    write(
        workspace / "BUILD",
        f"""
        axl_workflow(name = "tiny", workflow = "flows.py:Tiny")
        axl_image(name = "tiny_image", workflow = ":tiny")
        argo_workflow(name = "moving", workflow = ":tiny", image = "reg.example/flows:latest")
        argo_workflow(name = "from_image", workflow = ":tiny", image = ":tiny_image")
        argo_workflow(name = "pinned", workflow = ":tiny", image = "{PINNED}")
        argo_workflow(name = "not_a_workflow", workflow = ":pinned")
        """,
    )
    moving = axl("build", "//:moving", cwd=workspace)
    assert moving.code == 2
    assert "image 'reg.example/flows:latest' is not pinned by digest" in moving.err
    # The image label is a dependency: it is built first (and says it cannot be built yet).
    query = axl("query", "deps(//:from_image, 1)", cwd=workspace)
    assert "//:tiny_image" in query.out, query.out + query.err
    wrong = axl("build", "//:not_a_workflow", cwd=workspace)
    assert wrong.code == 2
    assert "workflow //:pinned is not an axl_workflow (it is argo_workflow)" in wrong.err


def _manifest_name_part() -> str:
    """The digest part of the tiny golden's ConfigMap name."""
    golden = (REPO / "tests" / "golden" / "argo" / "tiny.yaml").read_text()
    configmap = next(yaml.safe_load_all(golden))
    return str(configmap["metadata"]["name"]).rsplit("-", 1)[1]


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask
