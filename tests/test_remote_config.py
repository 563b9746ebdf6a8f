"""Where the remote cache's URL comes from: flag > $AXL_REMOTE_CACHE > [tool.axl] remote_cache."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import axl, write
from remote_helpers import REMOTE_ENV, clean_env, run_axl, statuses
from remote_helpers import workspace as chain_workspace

from axl.cache import LocalStore, TieredStore
from axl.cache._remote import RemoteConfig, remote_config, remote_timeout
from axl.errors import UsageError
from axl.exec._remote_build import build_store


@pytest.fixture(autouse=True)
def _no_remote_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in (*REMOTE_ENV, "AXL_REMOTE_TIMEOUT"):
        monkeypatch.delenv(name, raising=False)


def project(root: Path, tool: str = "") -> Path:
    write(root / "pyproject.toml", f'[project]\nname = "p"\nversion = "0"\n\n[tool.axl]\n{tool}')
    return root


def test_nothing_configured(tmp_path: Path) -> None:
    assert remote_config(project(tmp_path)) is None
    assert remote_config(tmp_path / "no-such-folder") is None


def test_pyproject(tmp_path: Path) -> None:
    root = project(tmp_path, 'remote_cache = "https://cache.example/axl"\nremote_upload = false\n')
    assert remote_config(root) == RemoteConfig("https://cache.example/axl", False, "pyproject.toml")


def test_pyproject_folder_is_relative_to_the_workspace(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = project(tmp_path / "ws", 'remote_cache = "../shared"\n')
    monkeypatch.chdir(tmp_path)
    config = remote_config(root)
    assert config is not None
    assert config.url == str(tmp_path / "shared")


def test_precedence(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = project(tmp_path, 'remote_cache = "http://from-pyproject/c"\n')
    monkeypatch.setenv("AXL_REMOTE_CACHE", "http://from-env/c")
    monkeypatch.setenv("AXL_REMOTE_UPLOAD", "no")
    config = remote_config(root)
    assert config == RemoteConfig("http://from-env/c", False, "$AXL_REMOTE_CACHE")
    config = remote_config(root, "s3://from-flag/c", True)
    assert config == RemoteConfig("s3://from-flag/c", True, "--remote-cache")
    # An empty value at a higher level switches the remote off.
    assert remote_config(root, "") is None
    monkeypatch.setenv("AXL_REMOTE_CACHE", "")
    assert remote_config(root) is None


@pytest.mark.parametrize(
    ("tool", "message"),
    [
        ("remote_cache = 3\n", "remote_cache must be a string"),
        ('remote_cache = "/x"\nremote_upload = "yes"\n', "remote_upload must be true or false"),
        ("remote_cache = [\n", "not valid TOML"),
    ],
)
def test_bad_pyproject(tmp_path: Path, tool: str, message: str) -> None:
    with pytest.raises(UsageError, match=message) as info:
        remote_config(project(tmp_path, tool))
    assert info.value.file is not None
    assert info.value.file.endswith("pyproject.toml")


def test_bad_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AXL_REMOTE_UPLOAD", "maybe")
    with pytest.raises(UsageError, match="AXL_REMOTE_UPLOAD"):
        remote_config(project(tmp_path), "/x")
    monkeypatch.setenv("AXL_REMOTE_TIMEOUT", "soon")
    with pytest.raises(UsageError, match="AXL_REMOTE_TIMEOUT"):
        remote_timeout()
    monkeypatch.setenv("AXL_REMOTE_TIMEOUT", "2.5")
    assert remote_timeout() == 2.5


def test_build_store(tmp_path: Path) -> None:
    root = project(tmp_path)
    assert type(build_store(root, tmp_path / "c1")) is LocalStore
    store = build_store(
        root, tmp_path / "c2", remote_cache=str(tmp_path / "r"), remote_upload=False
    )
    assert isinstance(store, TieredStore)
    assert store.upload is False
    assert store.root == tmp_path / "c2"


def test_cli_bad_scheme_is_one_error_line(tmp_path: Path) -> None:
    root = chain_workspace(tmp_path, "ws")
    r = axl("run", "local", "-m", "chain.py:Chain", "--remote-cache", "ftp://h/x", cwd=root)
    assert r.code == 2
    assert r.err.splitlines()[0] == "error: remote cache 'ftp://h/x' has the unknown scheme 'ftp'"
    assert r.err.splitlines()[1].startswith("hint: use one of")
    assert "Traceback" not in r.err


def test_cli_pyproject_remote_and_flag_override(tmp_path: Path) -> None:
    shared = tmp_path / "shared"
    ws = chain_workspace(tmp_path, "ws")
    (ws / "pyproject.toml").write_text(
        '[project]\nname = "ws"\nversion = "0"\n\n[tool.axl]\nremote_cache = "../shared"\n'
    )
    report, _ = run_axl(ws)
    assert report["remote"]["url"] == str(shared)
    # Four steps' entries and the workflow's shared load.
    assert len(list((shared / "ac").iterdir())) == 4 + 1
    # A second workspace gets every step from the folder named in its pyproject.toml ...
    other = chain_workspace(tmp_path, "other")
    (other / "pyproject.toml").write_text((ws / "pyproject.toml").read_text())
    reused, _ = run_axl(other)
    assert set(statuses(reused).values()) == {("cached", "remote")}
    # ... and --remote-cache '' switches it off for one run.
    third = chain_workspace(tmp_path, "third")
    (third / "pyproject.toml").write_text((ws / "pyproject.toml").read_text())
    alone, _ = run_axl(third, "--remote-cache", "")
    assert "remote" not in alone
    assert {s for s, _ in statuses(alone).values()} == {"ran"}


def test_cli_help_lists_the_options() -> None:
    r = axl("run", "local", "--help", env=clean_env())
    assert "--remote-cache" in r.out
    assert "--no-remote-upload" in r.out
