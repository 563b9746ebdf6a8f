"""The image key: what changes it and what does not (no engine needed)."""

from __future__ import annotations

import os
import sys
from dataclasses import replace
from pathlib import Path

import pytest
from image_helpers import make_workspace, prepared

from axl.emit.image import DEFAULT_BASE
from axl.image import ImageOptions, image_key, key_tag

BASE_ID = "sha256:" + "ba" * 32


@pytest.fixture
def ws(tmp_path: Path) -> Path:
    return make_workspace(tmp_path / "ws")


def _key(root: Path, options: ImageOptions | None = None, base_id: str = BASE_ID) -> str:
    return prepared(root, options).key(base_id)


def test_the_key_derivation_is_pinned() -> None:
    # A change to how image keys are derived must be a reviewed diff of this literal.
    key = image_key("FROM scratch\n", {"code/a.py": "0" * 64}, "sha256:" + "1" * 64, {})
    assert key == "faae69116351d0921b20fd2a92244508a1304a043be64f5b44ca27c99fd519e3"
    assert key_tag(key) == key[:32]


def test_files_and_args_enter_the_key_in_no_particular_order() -> None:
    one = image_key("X", {"a": "1", "b": "2"}, None, {"A": "1", "B": "2"})
    assert one == image_key("X", {"b": "2", "a": "1"}, None, {"B": "2", "A": "1"})


def test_nothing_changed_same_key_without_importing_the_workflow(ws: Path) -> None:
    first = _key(ws)
    assert "flow" in sys.modules
    again = _key(ws)  # the plan comes from the cache: the workflow is not imported
    assert "flow" not in sys.modules
    assert again == first


def test_code_changes_change_the_key(ws: Path) -> None:
    before = _key(ws)
    flow = ws / "flow.py"
    flow.write_text(flow.read_text() + "# a comment is a new code layer too\n")
    after = _key(ws)
    assert after != before
    helpers = ws / "helpers.py"
    helpers.write_text(helpers.read_text().replace("2 * x", "x + x"))
    assert _key(ws) != after


def test_files_the_workflow_does_not_import_do_not_count(ws: Path) -> None:
    before = _key(ws)
    (ws / "other.py").write_text("VALUE = 1\n")
    (ws / "README.md").write_text("# notes\n")
    (ws / "notebooks").mkdir()
    (ws / "notebooks" / "scratch.py").write_text("print('hi')\n")
    assert _key(ws) == before


def test_touch_does_not_change_the_key(ws: Path) -> None:
    before = _key(ws)
    for name in ("flow.py", "helpers.py", "uv.lock", "pyproject.toml"):
        os.utime(ws / name, (1, 1))
    assert _key(ws) == before


def test_dependencies_change_the_key(ws: Path) -> None:
    before = _key(ws)
    lock = ws / "uv.lock"
    lock.write_text(lock.read_text() + "\n")
    after_lock = _key(ws)
    assert after_lock != before
    plan = prepared(ws)
    assert set(plan.digests) >= {"deps/pyproject.toml", "deps/uv.lock", "code/flow.py"}


def test_the_base_changes_the_key(ws: Path) -> None:
    before = _key(ws)
    assert _key(ws, base_id="sha256:" + "cd" * 32) != before
    assert _key(ws, base_id=None) != before
    assert _key(ws, ImageOptions(base="debian:bookworm")) != before


def test_options_that_change_the_image_change_the_key(ws: Path) -> None:
    plain = _key(ws)
    assert _key(ws, ImageOptions(system_packages=("libgomp1",))) != plain
    assert _key(ws, ImageOptions(build_args={"UV_INDEX_URL": "https://a/simple"})) != plain
    assert _key(ws, ImageOptions(build_args={"UV_INDEX_URL": "https://b/simple"})) != _key(
        ws, ImageOptions(build_args={"UV_INDEX_URL": "https://a/simple"})
    )
    (ws / "data.csv").write_text("a,b\n1,2\n")
    assert _key(ws, ImageOptions(include=("data.csv",))) != plain


def test_options_that_do_not_change_the_image_keep_the_key(ws: Path, tmp_path: Path) -> None:
    plain = ImageOptions()
    key = _key(ws, plain)
    ca = tmp_path / "proxy-ca.crt"
    ca.write_text("-----BEGIN CERTIFICATE-----\n")
    assert _key(ws, replace(plain, ca_bundle=str(ca))) == key
    assert _key(ws, replace(plain, network="host")) == key
    assert _key(ws, replace(plain, tag="registry.example.com/team/flow:v2")) == key
    assert _key(ws, replace(plain, push=True)) == key
    assert _key(ws, replace(plain, build_args={"HTTPS_PROXY": "http://proxy:3128"})) == key
    two = ImageOptions(system_packages=("libpq5", "libgomp1"))
    assert _key(ws, two) == _key(ws, replace(two, system_packages=("libgomp1", "libpq5")))


def test_the_ca_reaches_the_dockerfile_but_not_the_key(ws: Path, tmp_path: Path) -> None:
    ca = tmp_path / "ca.crt"
    ca.write_text("x")
    with_ca = prepared(ws, ImageOptions(ca_bundle=str(ca)))
    assert "axl-build-ca.crt" in with_ca.rendered.dockerfile
    assert "axl-build-ca.crt" not in with_ca.keyed
    assert with_ca.keyed == prepared(ws).rendered.dockerfile
    assert with_ca.rendered.ca_arcname not in with_ca.digests


def test_default_base_and_repository(ws: Path) -> None:
    plan = prepared(ws)
    assert f"FROM {DEFAULT_BASE} AS system" in plan.rendered.dockerfile
    assert plan.repository == "axl/flow"
    assert plan.user_tag is None
    tagged = prepared(ws, ImageOptions(tag="localhost:5000/team/flow:v1"))
    assert (tagged.repository, tagged.user_tag) == ("localhost:5000/team/flow", "v1")
