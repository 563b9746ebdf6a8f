"""``axl build-image --push`` against a real registry (tests/registry_fixtures.py runs Debian's
``docker-registry`` on loopback): the reported digest is the one the registry holds for the tag,
and pushing the same image again pushes nothing and reports the same digest."""

from __future__ import annotations

import json
import re
import urllib.request
from pathlib import Path

import pytest
from docker_fixtures import DockerEngine
from image_helpers import make_workspace
from test_image_build import build_image, built

pytestmark = [pytest.mark.integration, pytest.mark.slow]

MANIFEST_V2 = "application/vnd.docker.distribution.manifest.v2+json"


@pytest.fixture(scope="session")
def push_ws(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tiny workspace of test_image_build (``six`` only): its layers are in the engine's
    cache once that module has run, so the image here is cheap."""
    return make_workspace(tmp_path_factory.mktemp("image-push") / "ws", dependencies=("six",))


def registry_digest(registry: str, name: str, tag: str) -> str:
    """What the registry says ``name:tag`` is (``Docker-Content-Digest`` of its manifest)."""
    request = urllib.request.Request(
        f"http://{registry}/v2/{name}/manifests/{tag}", headers={"Accept": MANIFEST_V2}
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return str(response.headers["Docker-Content-Digest"])


def test_push_reports_the_registry_digest_and_a_second_push_pushes_nothing(
    docker_engine: DockerEngine, docker_base_image: str, docker_registry: str, push_ws: Path
) -> None:
    repository = f"{docker_registry}/axl-test"
    args = ("--tag", f"{repository}:v1", "--base", docker_base_image, "--push", "--json")
    first = built(build_image(docker_engine, push_ws, "flow.py:Flow", *args))
    assert first["pushed"] is True
    digest = first["repo_digest"]
    assert re.fullmatch(rf"{re.escape(repository)}@sha256:[0-9a-f]{{64}}", digest), digest
    key_tag = first["key"][:32]
    assert f"{repository}:{key_tag}" in first["tags"]
    for tag in (key_tag, "v1"):
        assert f"{repository}@{registry_digest(docker_registry, 'axl-test', tag)}" == digest
    again = build_image(docker_engine, push_ws, "flow.py:Flow", *args)
    second = json.loads(again.stdout)
    assert second["pushed"] is False
    assert second["built"] is False
    assert second["repo_digest"] == digest
    # The human summary says where it is, without pushing.
    plain = build_image(docker_engine, push_ws, "flow.py:Flow", *args[:-1])
    assert f"in registry: {digest}" in plain.stdout
