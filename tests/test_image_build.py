"""``axl build-image`` against a real Docker engine (tests/docker_fixtures.py starts it).

One full build of the churn image per session (numpy, pandas, pyarrow, scikit-learn: the
engine's layer cache keeps it between sessions on one machine); everything else reuses its
layers or builds a tiny image (``six`` only). What is checked:

- a step of the churn workflow runs in the image (``python -m axl.runtime``, no network), with
  the same action keys and output digests as on the host;
- no change: nothing is built and the same image is reported;
- a code-only change rebuilds the code layer only; reverting it finds the first image again;
- a lockfile change rebuilds the dependency layer;
- a bad system package and a failing ``uv sync`` are one ``error:`` with the failing output;
- ``--push`` to an unreachable registry is a clear error (a push that works, against Debian's
  docker-registry on loopback, is in test_image_push.py).
"""

from __future__ import annotations

import json
import re
import secrets
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from docker_fixtures import DockerEngine, host_ca_bundle
from image_helpers import CHURN, CHURN_ARGS, lock, make_churn_workspace, make_workspace

pytestmark = [pytest.mark.integration, pytest.mark.slow]

#: The console script: ``python -m axl`` in the churn workspace would run the copy of axl there.
AXL = str(Path(sys.executable).with_name("axl"))


def build_image(
    engine: DockerEngine, root: Path, spec: str, *args: str, check: bool = True
) -> subprocess.CompletedProcess[str]:
    """``axl build-image`` as a user runs it, in ``root``, with this machine's CA and network."""
    proc = subprocess.run(
        [
            AXL,
            "build-image",
            "-m",
            spec,
            "--ca-bundle",
            str(host_ca_bundle()),
            "--network",
            "host",
            *args,
        ],
        cwd=root,
        env=engine.env(),
        capture_output=True,
        text=True,
        check=False,
        timeout=1800,
    )
    if check:
        assert proc.returncode == 0, proc.stderr[-6000:]
    return proc


def _error(stderr: str) -> str:
    """The ``error:`` line and what follows (the build's own output above it is indented)."""
    starts = [m.start() for m in re.finditer(r"^error: ", stderr, re.MULTILINE)]
    assert len(starts) == 1, stderr[-4000:]
    return stderr[starts[0] :]


def built(proc: subprocess.CompletedProcess[str]) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(proc.stdout)
    return data


def forget_image(engine: DockerEngine, image_id: str) -> None:
    """Remove an image made unique to this run (the engine's layer cache keeps what is shared)."""
    engine.client.images.remove(image_id, force=True)


def layers(engine: DockerEngine, image_id: str) -> list[str]:
    return list(engine.client.api.inspect_image(image_id)["RootFS"]["Layers"])


@pytest.fixture(scope="session")
def churn_ws(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_churn_workspace(tmp_path_factory.mktemp("image") / "ws")


@pytest.fixture(scope="session")
def churn_args(docker_base_image: str) -> list[str]:
    return [*CHURN_ARGS, "--base", docker_base_image]


@pytest.fixture(scope="session")
def churn_image(
    docker_engine: DockerEngine, churn_ws: Path, churn_args: list[str]
) -> dict[str, Any]:
    """The churn image, built once per session (the only full build of the suite)."""
    return built(build_image(docker_engine, churn_ws, CHURN, *churn_args, "--json"))


def test_a_churn_step_runs_in_the_image(
    docker_engine: DockerEngine,
    churn_ws: Path,
    churn_image: dict[str, Any],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from runtime_helpers import emit, save

    from axl.exec import BuildOptions
    from axl.exec._session import run_local

    monkeypatch.chdir(churn_ws)
    params = churn_ws / "examples" / "churn.yaml"
    sys.modules.pop("examples.churn_workflow", None)
    local = run_local(
        str(churn_ws / CHURN),
        params_file=params,
        workspace=churn_ws,
        cache_dir=tmp_path / "cache",
        options=BuildOptions(in_process=True),
    )
    assert local.ok, local.to_json()
    manifest, ir = emit(CHURN, churn_ws, params)
    run = tmp_path / "run"
    save(run / "manifest.json", manifest)
    for step in ir.topological_order():
        logs = docker_engine.client.containers.run(
            churn_image["image_id"],
            ["python", "-m", "axl.runtime", "--manifest", "/run/manifest.json", "--step", step]
            + ["--store", "/run/store", "--run-id", "r1"],
            volumes={str(run): {"bind": "/run", "mode": "rw"}},
            network_mode="none",
            remove=True,
            stderr=True,
        )
        record = json.loads((run / "store" / "runs" / "r1" / f"{step}.json").read_text())
        assert record["status"] == "ok", logs.decode()[-3000:]
        assert record["key"] == local.steps[step].key, step
        for out, data in record["outputs"].items():
            assert data["digest"] == local.steps[step].outputs[out].digest, (step, out)


def test_no_change_builds_nothing(
    docker_engine: DockerEngine, churn_ws: Path, churn_image: dict[str, Any], churn_args: list[str]
) -> None:
    again = built(build_image(docker_engine, churn_ws, CHURN, *churn_args, "--json"))
    assert not again["built"]
    assert again["image_id"] == churn_image["image_id"]
    assert again["key"] == churn_image["key"]
    assert again["steps"] == []
    text = build_image(docker_engine, churn_ws, CHURN, *churn_args)
    assert text.stdout.startswith(f"up to date: axl-test/churn:{churn_image['key'][:32]} (")
    assert churn_image["image_id"] in text.stdout
    assert text.stderr == ""


def test_a_code_change_rebuilds_only_the_code_layer(
    docker_engine: DockerEngine, churn_ws: Path, churn_image: dict[str, Any], churn_args: list[str]
) -> None:
    source = churn_ws / "examples" / "churn_workflow.py"
    original = source.read_text()
    try:
        # Unique per run: images persist in the engine between sessions, and an edit made
        # before would find its image (content-addressed) instead of rebuilding.
        edit = f"HIGH_SPEND = 80.0  # {secrets.token_hex(8)}"
        source.write_text(original.replace("HIGH_SPEND = 80.0", edit))
        changed = built(build_image(docker_engine, churn_ws, CHURN, *churn_args, "--json"))
    finally:
        source.write_text(original)
    assert changed["built"]
    assert changed["key"] != churn_image["key"]
    assert changed["dependency_layer"] == "reused"
    steps = {s["instruction"]: s["cached"] for s in changed["steps"]}
    assert steps["COPY --from=builder /opt/venv /opt/venv"]
    assert next(cached for text, cached in steps.items() if text.startswith("RUN uv sync"))
    assert not steps["COPY code/ /app/"]
    old, new = (
        layers(docker_engine, churn_image["image_id"]),
        layers(docker_engine, changed["image_id"]),
    )
    # Base, uv and the dependency venv are the same layers; only the code layers differ.
    assert len(new) == len(old)
    assert new[:-2] == old[:-2]
    assert new[-2] != old[-2]
    # Content-addressed: the original code is the original image again, without a build.
    back = built(build_image(docker_engine, churn_ws, CHURN, *churn_args, "--json"))
    assert not back["built"]
    assert back["image_id"] == churn_image["image_id"]
    forget_image(docker_engine, changed["image_id"])


def test_the_image_rule_reports_the_image(
    docker_engine: DockerEngine, churn_ws: Path, churn_image: dict[str, Any], docker_base_image: str
) -> None:
    (churn_ws / "examples" / "BUILD").write_text(
        'axl_workflow(name = "churn", workflow = "churn_workflow.py:ChurnWorkflow", '
        'params = "churn.yaml")\n'
        f'axl_image(name = "churn_image", workflow = ":churn", tag = "axl-test/churn:latest", '
        f'base = "{docker_base_image}", extras = ["data"], groups = ["churn"])\n'
    )
    proc = subprocess.run(
        [AXL, "build", "//examples:churn_image", "--json"],
        cwd=churn_ws,
        env=docker_engine.env(AXL_BUILD_CA_BUNDLE=str(host_ca_bundle()), AXL_BUILD_NETWORK="host"),
        capture_output=True,
        text=True,
        check=False,
        timeout=900,
    )
    assert proc.returncode == 0, proc.stderr[-4000:]
    data = json.loads(proc.stdout)
    assert data["status"] == "ok"
    image = data["image"]
    assert not image["built"]
    assert image["image_id"] == churn_image["image_id"]
    assert image["tags"] == [f"axl-test/churn:{churn_image['key'][:32]}", "axl-test/churn:latest"]
    assert image["image"] == image["tags"][0]  # not pushed: the key tag, not a registry digest
    tags = docker_engine.client.api.inspect_image("axl-test/churn:latest")["RepoTags"]
    assert f"axl-test/churn:{churn_image['key'][:32]}" in tags


# -- a tiny image: lockfile changes and failures ----------------------------------------------


@pytest.fixture(scope="session")
def tiny_ws(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_workspace(tmp_path_factory.mktemp("image-tiny") / "ws", dependencies=("six",))


def test_a_lockfile_change_rebuilds_the_dependency_layer(
    docker_engine: DockerEngine, docker_base_image: str, tmp_path: Path
) -> None:
    root = make_workspace(tmp_path / "ws", dependencies=("six",))
    pyproject = root / "pyproject.toml"
    pyproject.write_text(
        f"# {secrets.token_hex(8)}: a new key for every run\n{pyproject.read_text()}"
    )
    args = ("--tag", "axl-test/tiny", "--base", docker_base_image, "--json")
    first = built(build_image(docker_engine, root, str(root / "flow.py:Flow"), *args))
    pyproject.write_text(pyproject.read_text().replace('["six"]', '["six", "idna"]'))
    lock(root)
    second = built(build_image(docker_engine, root, str(root / "flow.py:Flow"), *args))
    assert second["built"]
    assert second["key"] != first["key"]
    sync = next(s for s in second["steps"] if s["instruction"].startswith("RUN uv sync"))
    assert not sync["cached"]
    # Layers of the tiny image: base, uv, the dependency venv, /app, the code. (The final
    # stage's copy of the venv may still say "Using cache": the engine keys it by content, and a
    # venv of six and idna may be there from an earlier session.)
    old, new = layers(docker_engine, first["image_id"]), layers(docker_engine, second["image_id"])
    assert len(old) == len(new) == 5
    assert new[:2] == old[:2]
    assert new[2] != old[2]
    # The steps before the dependency layer (uv itself) come from the layer cache.
    uv = next(s for s in second["steps"] if "pip install uv==" in s["instruction"])
    assert uv["cached"]
    out = docker_engine.client.containers.run(
        second["image_id"], ["python", "-c", "import six, idna; print('ok')"], remove=True
    )
    assert out.strip() == b"ok"
    for image in (first, second):
        forget_image(docker_engine, image["image_id"])


def test_a_bad_system_package_is_one_clear_error(
    docker_engine: DockerEngine, docker_base_image: str, tiny_ws: Path
) -> None:
    proc = build_image(
        docker_engine,
        tiny_ws,
        "flow.py:Flow",
        "--tag",
        "axl-test/tiny",
        "--base",
        docker_base_image,
        "--system-package",
        "axl-no-such-package",
        check=False,
    )
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    errors = [line for line in proc.stderr.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1
    assert re.match(
        r"error: building axl-test/tiny:\w+ failed at step \d+/\d+ \(RUN apt-get", errors[0]
    )
    tail = _error(proc.stderr)
    assert "Unable to locate package axl-no-such-package" in tail
    assert "hint: check the --system-package names" in tail


def test_a_failing_uv_sync_is_one_clear_error(
    docker_engine: DockerEngine, docker_base_image: str, tmp_path: Path
) -> None:
    root = make_workspace(tmp_path / "ws", dependencies=("six",))
    lockfile = root / "uv.lock"
    # A tampered lock: the wheel's recorded hash no longer matches PyPI's file.
    text = re.sub(
        r'(six-[^"]+\.whl", hash = "sha256:)[0-9a-f]{8}', r"\g<1>00000000", lockfile.read_text()
    )
    lockfile.write_text(text)
    proc = build_image(
        docker_engine,
        root,
        "flow.py:Flow",
        "--tag",
        "axl-test/tiny",
        "--base",
        docker_base_image,
        check=False,
    )
    assert proc.returncode == 2
    tail = _error(proc.stderr)
    assert re.match(r"error: building axl-test/tiny:\w+ failed at step \d+/\d+ \(RUN uv sync", tail)
    assert "hash" in tail.lower()
    assert "hint: uv could not install uv.lock" in tail


def test_push_to_an_unreachable_registry_is_a_clear_error(
    docker_engine: DockerEngine, docker_base_image: str, tiny_ws: Path
) -> None:
    args = ("--base", docker_base_image)
    first = built(
        build_image(
            docker_engine, tiny_ws, "flow.py:Flow", "--tag", "axl-test/tiny", *args, "--json"
        )
    )
    proc = build_image(
        docker_engine,
        tiny_ws,
        "flow.py:Flow",
        "--tag",
        "127.0.0.1:9/axl-test/tiny:v1",
        "--push",
        *args,
        check=False,
    )
    assert proc.returncode == 2
    assert "error: pushing 127.0.0.1:9/axl-test/tiny:" in proc.stderr
    assert "hint: check that the registry is reachable" in proc.stderr
    # Nothing was built for the new repository: the image with that key was tagged instead.
    tags = docker_engine.client.api.inspect_image(first["image_id"])["RepoTags"]
    assert f"127.0.0.1:9/axl-test/tiny:{first['key'][:32]}" in tags
    assert "127.0.0.1:9/axl-test/tiny:v1" in tags
