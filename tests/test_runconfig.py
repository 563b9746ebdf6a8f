"""Run configs: one file per environment changes where and how a workflow runs, never its keys;
what would change a key is refused with the reason, and every bad field is named with its line."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from argo_helpers import OPTIONS_WORKFLOW
from conftest import axl, write
from dagster_helpers import report_digests, report_keys

from axl.emit.argo import check
from axl.runtime._manifest_shared import expand

DEV = """
version: 1
remote_cache: ""
defaults:
  retries: 0
argo:
  image: reg.dev/opts@sha256:1111111111111111111111111111111111111111111111111111111111111111
  namespace: ml-dev
"""

PROD = """
version: 1
remote_cache: http://127.0.0.1:9/axl  # unreachable: a build warns and goes on
defaults:
  resources: {cpu: "8", memory: 16Gi}
  retries: 4
argo:
  image: reg.prod/opts@sha256:2222222222222222222222222222222222222222222222222222222222222222
  namespace: ml-prod
  artifact_repo: axl/opts
"""


@pytest.fixture
def flow(workspace: Path) -> Path:
    write(workspace / "opts.py", OPTIONS_WORKFLOW)
    write(workspace / "configs/dev.yaml", DEV)
    write(workspace / "configs/prod.yaml", PROD)
    return workspace


def _compile(root: Path, target: str, config: str) -> str:
    res = axl("compile", "-t", target, "-m", "opts.py:Opts", "--config", config, cwd=root)
    assert res.code == 0, res.err
    return res.out


def _paths(value: Any, prefix: str = "") -> dict[str, Any]:
    """Leaf path -> value of a YAML document (list items by a name when they have one)."""
    if isinstance(value, dict):
        out: dict[str, Any] = {}
        for k, v in value.items():
            out.update(_paths(v, f"{prefix}/{k}"))
        return out
    if isinstance(value, list):
        out = {}
        for i, v in enumerate(value):
            name = v.get("name", i) if isinstance(v, dict) else i
            out.update(_paths(v, f"{prefix}[{name}]"))
        return out
    return {prefix: value}


def _expand(document: Any) -> Any:
    """The document with each embedded manifest (raw artifact JSON) parsed, to diff inside."""
    if isinstance(document, dict):
        out = {k: _expand(v) for k, v in document.items()}
        raw = out.get("raw")
        if isinstance(raw, dict) and isinstance(raw.get("data"), str):
            # Argo substitutes the params' JSON text into the params manifest: stand-ins here.
            raw["data"] = json.loads(re.sub(r"\{\{[^}]*\}\}", '"@"', raw["data"]))
        data = out.get("data")
        if isinstance(data, dict) and isinstance(data.get("manifest.json"), str):
            # The workflow's manifest in its ConfigMap, as the runner reads it.
            data["manifest.json"] = expand(json.loads(data["manifest.json"]), "manifest")
        return out
    if isinstance(document, list):
        return [_expand(v) for v in document]
    return document


def test_dev_and_prod_argo_differ_only_in_configured_fields(flow: Path) -> None:
    dev_manifest, dev = yaml.safe_load_all(_compile(flow, "argo", "configs/dev.yaml"))
    prod_manifest, prod = yaml.safe_load_all(_compile(flow, "argo", "configs/prod.yaml"))
    assert check(dev).errors == []
    assert check(prod).errors == []
    a = _paths(_expand({"manifest": dev_manifest, "workflow": dev}))
    b = _paths(_expand({"manifest": prod_manifest, "workflow": prod}))
    differing = {p for p in a.keys() | b.keys() if a.get(p) != b.get(p)}
    allowed = (
        "/metadata/namespace",
        "/container/image",
        "/container/resources/",  # defaults.resources (a step's own values win)
        "/retryStrategy/",  # defaults.retries
        "/container/env[AXL_REMOTE_CACHE]",  # remote_cache reaches every pod
        "/outputs/artifacts[",  # artifact_repo: key-only S3 artifacts
        # The manifests carry each step's resources and retries, and the workflow hash, which
        # digests the whole IR (resources and retries included): never a step's key.
        "/raw/data/steps/",
        "/raw/data/workflow/hash",
        "/manifest.json/steps/",
        "/manifest.json/workflow/hash",
        "/annotations/axl.dev/workflow-hash",
        # So the manifest's ConfigMap is another one (named after its digest), and every pod
        # checks that digest (the argument after --manifest-digest).
        "/manifest/metadata/name",
        "/manifest/metadata/namespace",
        "/manifest/metadata/annotations/axl.dev/manifest-digest",
        "/spec/volumes[axl-manifest]/configMap/name",
        "/container/args[3]",
    )
    assert differing
    unexpected = sorted(p for p in differing if not any(x in p for x in allowed))
    assert unexpected == []
    in_manifests = {
        p.rsplit("/", 1)[-1]
        for p in differing
        if "/raw/data/steps/" in p or "/manifest.json/steps/" in p
    }
    assert in_manifests <= {"cpu", "memory", "retries"}, in_manifests
    # What keys a step is the same: its key-parts annotation.
    assert not [p for p in differing if "key-parts" in p]
    # A step's own option wins over the config's default: load_data asks for 2 CPUs itself.
    load = next(t for t in prod["spec"]["templates"] if t["name"] == "load-data")
    assert load["container"]["resources"]["requests"]["cpu"] == "2"
    assert load["container"]["resources"]["requests"]["memory"] == "1Gi"
    report = next(t for t in prod["spec"]["templates"] if t["name"] == "report")
    assert report["container"]["resources"]["requests"] == {"cpu": "8", "memory": "16Gi"}
    assert report["retryStrategy"]["limit"] == "4"  # Argo takes an IntOrString
    assert load["retryStrategy"]["limit"] == "3"  # declared retries=3 is kept


def test_dev_and_prod_dagster_differ_only_in_configured_fields(flow: Path) -> None:
    dev = _compile(flow, "dagster", "configs/dev.yaml")
    prod = _compile(flow, "dagster", "configs/prod.yaml")
    assert dev != prod
    assert "RetryPolicy(max_retries=4" in prod
    assert '"dagster-k8s/config": {' in prod

    def without_configured(text: str) -> str:
        # Op decorators (retry policy, resource tags) and the manifest's retries, resources and
        # workflow hash are what the configs set; everything else must be the same bytes.
        text = re.sub(r"@dg\.op\((?:.|\n)*?\)\ndef ", "def ", text)
        return "\n".join(
            line
            for line in text.splitlines()
            if not re.match(r'\s*"(retries|resources|hash)": ', line)
        )

    assert without_configured(dev) == without_configured(prod)


def test_dev_and_prod_build_with_identical_keys(flow: Path) -> None:
    reports = {}
    for name in ("dev", "prod", "none"):
        args = [] if name == "none" else ["--config", f"configs/{name}.yaml"]
        # The prod remote is not reachable here: the build warns and goes on locally.
        res = axl("run", "local", "-m", "opts.py:Opts", "--json", "--cache-dir", name, *args)
        assert res.code == 0, res.err
        reports[name] = json.loads(res.out)
    assert (
        report_keys(reports["dev"]) == report_keys(reports["prod"]) == report_keys(reports["none"])
    )
    assert report_digests(reports["dev"]) == report_digests(reports["prod"])
    assert {s["status"] for s in reports["prod"]["steps"].values()} == {"ran"}


def test_a_rule_config_builds_like_the_flag(flow: Path) -> None:
    write(
        flow / "BUILD",
        'axl_workflow(name = "opts", workflow = "opts.py:Opts", config = "configs/dev.yaml")\n',
    )
    res = axl("build", "//:opts", "--json", "--cache-dir", "rule")
    assert res.code == 0, res.err
    flag = axl("run", "local", "-m", "opts.py:Opts", "--json", "--config", "configs/dev.yaml")
    assert flag.code == 0, flag.err
    assert report_keys(json.loads(res.out)) == report_keys(json.loads(flag.out))


def test_remote_cache_from_the_config_is_used(flow: Path) -> None:
    write(flow / "configs/ci.yaml", "version: 1\nremote_cache: shared\n")
    res = axl("run", "local", "-m", "opts.py:Opts", "--json", "--config", "configs/ci.yaml")
    assert res.code == 0, res.err
    assert json.loads(res.out)["remote"]["uploads"] == 4
    # A folder is relative to the config file, wherever axl runs.
    assert list((flow / "configs" / "shared" / "ac").iterdir())
    # A flag wins over the config: '' switches the remote off.
    res = axl(
        "run", "local", "-m", "opts.py:Opts", "--json", "--config", "configs/ci.yaml",
        "--remote-cache", "", "--cache-dir", "other",
    )  # fmt: skip
    assert res.code == 0, res.err
    assert "remote" not in json.loads(res.out)


def test_params_from_the_config(flow: Path) -> None:
    write(flow / "configs/small.yaml", "version: 1\nparams: {rows: 2}\n")
    res = axl("run", "local", "-m", "opts.py:Opts", "--json", "--config", "configs/small.yaml")
    assert res.code == 0, res.err
    path = json.loads(res.out)["steps"]["report"]["outputs"]["out"]["path"]
    assert json.loads(Path(path).read_text()) == "fast:2"
    write(flow / "p.yaml", "rows: 3\n")
    res = axl(
        "run", "local", "-m", "opts.py:Opts", "-p", "p.yaml", "--config", "configs/small.yaml"
    )
    assert res.code == 2
    assert "both the params file p.yaml and the run config's params" in res.err


BAD = {
    "env": (
        "version: 1\ndefaults:\n  env: {OMP_NUM_THREADS: '4'}\n",
        "small.yaml:3: defaults.env: a run config cannot set 'env': env is part of every "
        "step's key",
        "never what it computes",
    ),
    "io_handler": (
        "version: 1\ndefaults:\n  retries: 1\n  io_handler: json\n",
        "small.yaml:4: defaults.io_handler: a run config cannot set 'io_handler'",
        "never what it computes",
    ),
    "cache_version": (
        "version: 1\ncache_version: 2\n",
        "small.yaml:2: cache_version: a run config cannot set 'cache_version'",
        "never what it computes",
    ),
    "unknown": (
        "version: 1\nremote_cach: x\n",
        "small.yaml:2: remote_cach: unknown field",
        "fields here: argo, build_image, defaults, params, remote_cache",
    ),
    "type": (
        "version: 1\ndefaults:\n  retries: many\n",
        "small.yaml:3: defaults.retries: 'many' is not of type 'integer'",
        "expected: Retries of a step",
    ),
    "version": ("remote_cache: x\n", "small.yaml: (the file): missing field 'version'", "fields"),
    "param": (
        "version: 1\nparams: {rowz: 2}\n",
        "parameter 'rowz' is not defined by workflow 'Opts'",
        "did you mean 'rows'?",
    ),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_configs_are_refused_with_the_field_and_why(flow: Path, case: str) -> None:
    text, message, hint = BAD[case]
    write(flow / "small.yaml", text)
    for command in (
        ["run", "local", "-m", "opts.py:Opts"],
        ["compile", "-t", "argo", "-m", "opts.py:Opts"],
    ):
        res = axl(*command, "--config", "small.yaml")
        assert res.code == 2, res.out + res.err
        lines = res.err.splitlines()
        assert len(lines) == 2, res.err
        assert lines[0].startswith("error: "), res.err
        assert message in lines[0], res.err
        assert lines[1].startswith("hint: ")
        assert hint in lines[1], res.err


def test_build_image_takes_tag_and_push_from_the_config(flow: Path) -> None:
    from axl._runconfig import load_config

    write(flow / "configs/img.yaml", "version: 1\nbuild_image: {tag: reg.prod/opts, push: true}\n")
    config = load_config(flow / "configs/img.yaml")
    assert config.image(None, False) == ("reg.prod/opts", True)
    assert config.image("reg.dev/opts", False) == ("reg.dev/opts", True)  # a flag wins
    # The command reads (and checks) the config before anything is built.
    write(flow / "configs/bad.yaml", "version: 1\nbuild_image: {tag: 3}\n")
    res = axl("build-image", "-m", "opts.py:Opts", "--config", "configs/bad.yaml")
    assert res.code == 2
    assert "bad.yaml:2: build_image.tag: 3 is not of type 'string'" in res.err


def test_rule_configs_reach_argo_and_dagster_targets(flow: Path) -> None:
    write(
        flow / "BUILD",
        """
        axl_workflow(name = "opts", workflow = "opts.py:Opts", config = "configs/prod.yaml")
        argo_workflow(name = "opts_argo", workflow = ":opts")
        argo_workflow(name = "opts_argo_dev", workflow = ":opts", config = "configs/dev.yaml")
        dagster_job(name = "opts_dagster", workflow = ":opts")
        """,
    )
    res = axl("build", "//:opts_argo", "//:opts_argo_dev", "//:opts_dagster", "--cache-dir", "c")
    assert res.code == 0, res.out + res.err
    out = flow / "workspace" / "targets"
    _, prod = yaml.safe_load_all((out / "opts_argo.yaml").read_text())
    _, dev = yaml.safe_load_all((out / "opts_argo_dev.yaml").read_text())
    assert (prod["metadata"]["namespace"], dev["metadata"]["namespace"]) == ("ml-prod", "ml-dev")
    assert "RetryPolicy(max_retries=4" in (out / "opts_dagster.py").read_text()
    # Two workflow targets whose configs name different remote caches cannot share one build.
    write(
        flow / "BUILD",
        """
        axl_workflow(name = "a", workflow = "opts.py:Opts", config = "configs/prod.yaml")
        axl_workflow(name = "b", workflow = "opts.py:Opts", config = "configs/dev.yaml")
        """,
    )
    res = axl("build", "//:all", "--cache-dir", "c")
    assert res.code == 2
    assert "//:a and //:b have run configs with different remote caches" in res.err
    assert axl("build", "//:all", "--cache-dir", "c", "--remote-cache", "").code == 0


def test_axl_bazel_refuses_a_config_with_params(flow: Path) -> None:
    write(flow / "configs/small.yaml", "version: 1\nparams: {rows: 2}\n")
    write(
        flow / "BUILD",
        'axl_workflow(name = "opts", workflow = "opts.py:Opts", config = "configs/small.yaml")\n',
    )
    res = axl("bazel", "//:opts")
    assert res.code == 2, res.out + res.err
    assert "error: //:opts: axl bazel does not apply a run config's params" in res.err
    assert "hint: move them to the rule's params file" in res.err
