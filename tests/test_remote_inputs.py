"""Remote external inputs through `axl run local --json`: S3 objects and prefixes on the moto
server, HTTP objects on nginx (with a strong ETag, with Last-Modified only, with neither)."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import axl, write
from nginx_fixtures import Nginx

from axl.ir import Source
from axl.runtime._remote_inputs import resolve_remote

WF = """
import os

from axl import Dir, File, Workflow, step


class R(Workflow):
    @step
    def params(self) -> dict:
        return {{"url": "{url}"}}

    @step
    def size(self, data: str) -> int:
        with open(data, "rb") as f:
            return len(f.read())

    @step
    def report(self, n: int) -> int:
        return n

    def graph(self):
        return self.report(self.size(File(self.params()["url"])))
"""

PREFIX_WF = """
import os

from axl import Dir, Workflow, step


class P(Workflow):
    @step
    def names(self, raw: str) -> list:
        found = []
        for folder, _, files in os.walk(raw):
            for name in files:
                path = os.path.join(folder, name)
                found.append([os.path.relpath(path, raw), open(path).read()])
        return sorted(found)

    def graph(self):
        return self.names(Dir("{url}", glob="*.csv"))
"""


def _build(root: Path, spec: str = "wf.py:R", code: int = 0) -> tuple[dict[str, str], str]:
    r = axl("run", "local", "-m", spec, "--json", cwd=root)
    assert r.code == code, r.out + r.err
    if code != 0:
        return {}, r.err
    return {k: v["status"] for k, v in json.loads(r.out)["steps"].items()}, r.err


def _explain(root: Path, step: str, spec: str = "wf.py:R") -> str:
    r = axl("explain", "-m", spec, step, cwd=root)
    assert r.code == 0, r.err
    return r.out


# -- S3 ---------------------------------------------------------------------------------------


def test_s3_object_by_checksum(workspace: Path, s3_bucket: str, s3_env) -> None:  # noqa: ANN001
    client = s3_env.client()
    put = {"Bucket": s3_bucket, "Key": "data/movies.csv", "ChecksumAlgorithm": "SHA256"}
    client.put_object(**put, Body=b"t\nA\n")
    url = f"s3://{s3_bucket}/data/movies.csv"
    keyed = resolve_remote(Source("file", url), "size").remote
    assert keyed["checksum"].startswith("sha256:")  # the store's own checksum, no download
    write(workspace / "wf.py", WF.format(url=url))
    assert set(_build(workspace)[0].values()) == {"ran"}
    assert _build(workspace)[0] == {"params": "cached", "size": "cached", "report": "cached"}
    client.put_object(**put, Body=b"t\nB\n")  # same size, new content: a new checksum
    assert _build(workspace)[0] == {"params": "cached", "size": "ran", "report": "cached"}
    assert f"ran because input file {url} changed" in _explain(workspace, "size")
    client.put_object(**put, Body=b"t\nBB\n")
    assert _build(workspace)[0] == {"params": "cached", "size": "ran", "report": "ran"}
    out = workspace / "workspace" / "R" / "size"
    assert next(out.iterdir()).read_text().strip() == "5"


def test_s3_object_without_checksum_is_keyed_by_etag(
    workspace: Path,
    s3_bucket: str,
    s3_env,  # noqa: ANN001
) -> None:
    client = s3_env.client()
    client.put_object(Bucket=s3_bucket, Key="m.csv", Body=b"one")
    keyed = resolve_remote(Source("file", f"s3://{s3_bucket}/m.csv"), "size").remote
    assert "checksum" not in keyed
    assert keyed["etag"]
    write(workspace / "wf.py", WF.format(url=f"s3://{s3_bucket}/m.csv"))
    assert _build(workspace)[0]["size"] == "ran"
    assert _build(workspace)[0]["size"] == "cached"
    client.put_object(Bucket=s3_bucket, Key="m.csv", Body=b"two")
    assert _build(workspace)[0]["size"] == "ran"


def test_s3_missing_key_and_missing_credentials(
    workspace: Path, s3_bucket: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = f"s3://{s3_bucket}/nothing.csv"
    write(workspace / "wf.py", WF.format(url=url))
    _, err = _build(workspace, code=2)
    assert err.startswith(f"error: step 'size': input file {url} does not exist"), err
    assert "\nhint: " in err
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(workspace / "none"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(workspace / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    _, err = _build(workspace, code=2)
    assert "cannot be read: no AWS credentials" in err, err
    assert "Traceback" not in err


def test_s3_prefix_by_listing(workspace: Path, s3_bucket: str, s3_env) -> None:  # noqa: ANN001
    client = s3_env.client()
    client.put_object(Bucket=s3_bucket, Key="raw/a.csv", Body=b"a")
    client.put_object(Bucket=s3_bucket, Key="raw/sub/b.csv", Body=b"b")
    client.put_object(Bucket=s3_bucket, Key="raw/notes.txt", Body=b"n")
    write(workspace / "wf.py", PREFIX_WF.format(url=f"s3://{s3_bucket}/raw/"))
    assert _build(workspace, "wf.py:P")[0] == {"names": "ran"}
    out = workspace / "workspace" / "P" / "names"
    assert json.loads(next(out.iterdir()).read_text()) == [["a.csv", "a"], ["sub/b.csv", "b"]]
    client.put_object(Bucket=s3_bucket, Key="raw/notes.txt", Body=b"not keyed")
    assert _build(workspace, "wf.py:P")[0] == {"names": "cached"}
    client.put_object(Bucket=s3_bucket, Key="raw/c.csv", Body=b"c")
    assert _build(workspace, "wf.py:P")[0] == {"names": "ran"}


# -- HTTP -------------------------------------------------------------------------------------


class DataServer(Nginx):
    """nginx serving files with a strong ETag (/data/), without ETag (/plain/: Last-Modified
    and Content-Length only) and with neither (/volatile)."""

    def config(self) -> str:
        extra = (
            "        location /plain/ { etag off; }\n"
            '        location = /volatile { default_type text/plain; return 200 "v"; }\n'
        )
        return super().config().replace("        location / {", extra + "        location / {")


@pytest.fixture
def server(tmp_path: Path) -> Iterator[DataServer]:
    with DataServer(tmp_path / "nginx") as running:
        yield running


def _serve(server: DataServer, rel: str, text: str) -> str:
    path = server.data / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return f"http://127.0.0.1:{server.port}/{rel}"


def test_http_object_by_strong_etag(workspace: Path, server: DataServer) -> None:
    url = _serve(server, "data/movies.csv", "t\nA\n")
    write(workspace / "wf.py", WF.format(url=url))
    statuses, err = _build(workspace)
    assert set(statuses.values()) == {"ran"}
    assert "warning" not in err
    assert _build(workspace)[0]["size"] == "cached"
    time.sleep(1.1)  # nginx's ETag is mtime (whole seconds) and size
    _serve(server, "data/movies.csv", "t\nB\n")
    assert _build(workspace)[0] == {"params": "cached", "size": "ran", "report": "cached"}
    assert f"ran because input file {url} changed" in _explain(workspace, "size")


def test_http_object_without_etag_uses_last_modified(workspace: Path, server: DataServer) -> None:
    url = _serve(server, "plain/movies.csv", "t\nA\n")
    write(workspace / "wf.py", WF.format(url=url))
    assert _build(workspace)[0]["size"] == "ran"
    statuses, err = _build(workspace)
    assert statuses["size"] == "cached"
    assert "warning" not in err
    time.sleep(1.1)
    _serve(server, "plain/movies.csv", "t\nAB\n")
    assert _build(workspace)[0]["size"] == "ran"


def test_http_object_with_neither_warns_and_reruns(workspace: Path, server: DataServer) -> None:
    url = f"http://127.0.0.1:{server.port}/volatile"
    write(workspace / "wf.py", WF.format(url=url))
    for _ in range(2):
        statuses, err = _build(workspace)
        assert statuses["size"] == "ran"
        warnings = [line for line in err.splitlines() if line.startswith("warning: ")]
        assert len(warnings) == 1, err
        assert "neither a strong ETag nor Last-Modified" in warnings[0]
        assert "reruns every build" in warnings[0]
    said = _explain(workspace, "size")
    assert f"ran because input file {url} has neither a strong ETag nor Last-Modified" in said


def test_http_missing_object(workspace: Path, server: DataServer) -> None:
    url = f"http://127.0.0.1:{server.port}/data/none.csv"
    write(workspace / "wf.py", WF.format(url=url))
    _, err = _build(workspace, code=2)
    assert err.startswith(f"error: step 'size': input file {url} does not exist (HTTP 404)")
    assert "\nhint: " in err


def test_an_object_changed_after_keying_is_not_used(workspace: Path, server: DataServer) -> None:
    """The race for remote data: keyed by HEAD, changed before the step downloads it."""
    from runtime_helpers import emit, runner, save

    url = _serve(server, "data/movies.csv", "t\nA\n")
    write(workspace / "wf.py", WF.format(url=url))
    manifest, _ = emit("wf.py:R", workspace)
    leaf = manifest["steps"]["size"]["inputs"]["data"]["source"]
    keyed = resolve_remote(Source("file", url), "size")
    leaf.update(digest=keyed.digest, remote=keyed.remote)
    manifest["steps"]["size"]["key"] = None  # the key is recomputed from the digest
    time.sleep(1.1)
    _serve(server, "data/movies.csv", "t\nchanged\n")
    path = save(workspace / "m.json", manifest)
    run = runner("--manifest", path, "--step", "size", "--outputs", workspace / "o", cwd=workspace)
    assert run.code == 2, run.err
    assert "changed after the build keyed it" in run.errors[-1]["message"]
    assert not (workspace / "o" / "out.pkl").exists()


def test_subprocess_runs_key_s3_objects_alike(
    workspace: Path,
    s3_bucket: str,
    s3_env,  # noqa: ANN001
) -> None:
    s3_env.client().put_object(Bucket=s3_bucket, Key="m.csv", Body=b"abc")
    write(workspace / "wf.py", WF.format(url=f"s3://{s3_bucket}/m.csv"))
    keys = []
    for mode in ("--subprocess", "--in-process"):
        r = axl("run", "local", "-m", "wf.py:R", "--json", "--no-cache", mode, cwd=workspace)
        assert r.code == 0, r.err
        keys.append({k: v["key"] for k, v in json.loads(r.out)["steps"].items()})
    assert keys[0] == keys[1]
