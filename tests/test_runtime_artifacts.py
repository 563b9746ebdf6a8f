"""Artifact stores by URL: folders and S3 (a real moto server), content-addressed, verified,
and never showing a partial object."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import pytest

from axl.errors import RunnerError
from axl.hashing import bytes_digest, file_digest
from axl.runtime._artifacts import DirStore, S3Store, open_artifact_store


def _blob(tmp_path: Path, data: bytes) -> tuple[Path, str]:
    path = tmp_path / "blob.bin"
    path.write_bytes(data)
    return path, bytes_digest(data)


def _roundtrip(store: Any, tmp_path: Path) -> None:
    src, digest = _blob(tmp_path, b"hello artifact" * 1000)
    size = src.stat().st_size
    assert not store.has_blob(digest)
    assert store.download_blob(digest, tmp_path / "nothing") is False
    assert store.upload_blob(src, digest, size) is True
    assert store.has_blob(digest, size)
    assert not store.has_blob(digest, size + 1)
    assert store.upload_blob(src, digest, size) is False  # present: skipped
    dest = tmp_path / "down" / "copy.bin"
    assert store.download_blob(digest, dest) is True
    assert dest.read_bytes() == src.read_bytes()
    assert store.get_object("runs/r1/step.json") is None
    store.put_object("runs/r1/step.json", b'{"status": "ok"}')
    assert json.loads(store.get_object("runs/r1/step.json")) == {"status": "ok"}
    with pytest.raises(RunnerError, match="not a safe object name"):
        store.put_object("../escape.json", b"{}")
    with pytest.raises(RunnerError, match="not a content digest"):
        store.has_blob("../../etc/passwd")


def test_dir_store_roundtrip(tmp_path: Path) -> None:
    store = open_artifact_store(str(tmp_path / "store"))
    assert isinstance(store, DirStore)
    _roundtrip(store, tmp_path)
    # The layout is the local cache's: a cache folder is a store as it is.
    digest = bytes_digest(b"hello artifact" * 1000)
    assert (tmp_path / "store" / "cas" / digest[:2] / digest).is_file()
    assert isinstance(open_artifact_store(f"file://{tmp_path}/store"), DirStore)


def test_reading_a_dir_store_creates_nothing(tmp_path: Path) -> None:
    store = open_artifact_store(str(tmp_path / "absent"))
    assert store.download_blob("a" * 64, tmp_path / "x") is False
    assert store.get_object("runs/r/s.json") is None
    assert not (tmp_path / "absent").exists()


def test_s3_store_roundtrip(s3_bucket: str, tmp_path: Path) -> None:
    store = open_artifact_store(f"s3://{s3_bucket}/some/prefix")
    assert isinstance(store, S3Store)
    _roundtrip(store, tmp_path)
    digest = bytes_digest(b"hello artifact" * 1000)
    # The remote cache's names: one bucket serves both.
    assert store.blob_url(digest) == f"s3://{s3_bucket}/some/prefix/cas/{digest}"


def test_downloads_are_verified(tmp_path: Path, s3_bucket: str, s3_env: Any) -> None:
    src, digest = _blob(tmp_path, b"the real bytes")
    folder = DirStore(tmp_path / "store")
    folder.upload_blob(src, digest, src.stat().st_size)
    blob = tmp_path / "store" / "cas" / digest[:2] / digest
    os.chmod(blob, 0o644)
    blob.write_bytes(b"tampered bytes")
    with pytest.raises(RunnerError, match="is corrupt"):
        folder.download_blob(digest, tmp_path / "out.bin")
    assert not (tmp_path / "out.bin").exists()
    s3_env.client().put_object(Bucket=s3_bucket, Key=f"p/cas/{digest}", Body=b"tampered")
    with pytest.raises(RunnerError, match="is corrupt"):
        open_artifact_store(f"s3://{s3_bucket}/p").download_blob(digest, tmp_path / "out.bin")
    assert not (tmp_path / "out.bin").exists()
    assert not list(tmp_path.glob(".download-*"))


def test_unknown_schemes_and_missing_buckets_are_clear(s3_env: Any) -> None:
    with pytest.raises(RunnerError, match="unsupported scheme 'gs'"):
        open_artifact_store("gs://bucket/x")
    with pytest.raises(RunnerError, match="names no bucket"):
        open_artifact_store("s3:///x")
    store = open_artifact_store("s3://no-such-bucket-here/x")
    with pytest.raises(RunnerError, match="no-such-bucket-here"):
        store.put_object("runs/r/s.json", b"{}")


class _Exploding:
    """A file whose reads fail halfway: an upload interrupted mid-body."""

    def __init__(self, path: Path, after: int) -> None:
        self._f = open(path, "rb")  # noqa: SIM115 - closed by __exit__
        self._left = after

    def __enter__(self) -> _Exploding:
        return self

    def __exit__(self, *exc: object) -> None:
        self._f.close()

    def read(self, n: int = -1) -> bytes:
        if self._left <= 0:
            raise OSError("connection lost (injected)")
        chunk = self._f.read(min(n if n >= 0 else self._left, self._left))
        self._left -= len(chunk)
        return chunk

    def __getattr__(self, name: str) -> Any:
        return getattr(self._f, name)


def test_interrupted_s3_upload_leaves_no_object(
    s3_bucket: str, s3_env: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    src, digest = _blob(tmp_path, os.urandom(3 << 20))
    store = open_artifact_store(f"s3://{s3_bucket}/p")
    real_open = Path.open

    def exploding_open(self: Path, mode: str = "r", *args: Any, **kw: Any) -> Any:
        if self == src and "r" in mode:
            return _Exploding(self, after=1 << 20)
        return real_open(self, mode, *args, **kw)

    monkeypatch.setattr(Path, "open", exploding_open)
    with pytest.raises(RunnerError):
        store.upload_blob(src, digest, src.stat().st_size)
    monkeypatch.setattr(Path, "open", real_open)
    assert not store.has_blob(digest)
    listing = s3_env.client().list_objects_v2(Bucket=s3_bucket)
    assert listing.get("KeyCount", 0) == 0


def test_interrupted_dir_upload_leaves_no_object(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    src, digest = _blob(tmp_path, os.urandom(1 << 20))
    store = DirStore(tmp_path / "store")
    import shutil

    def broken_copy(a: Any, b: Any) -> None:
        Path(b).write_bytes(Path(a).read_bytes()[:1000])
        raise OSError("disk full (injected)")

    monkeypatch.setattr(shutil, "copyfile", broken_copy)
    with pytest.raises(OSError, match="injected"):
        store.upload_blob(src, digest, src.stat().st_size)
    assert not store.has_blob(digest)
    assert not any((tmp_path / "store" / "tmp").iterdir())


_UPLOADER = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    from axl.runtime._artifacts import open_artifact_store

    store = open_artifact_store(sys.argv[1])
    src = Path(sys.argv[2])
    store.has_blob(sys.argv[3])  # connect (and import boto3) before the upload starts
    real_open = Path.open

    class Slow:
        # Reads slowly, and says when the HTTP layer starts sending the body: from then on the
        # upload is in flight and the parent kills this process.
        def __init__(self, f):
            self.f, self.told = f, False
        def read(self, n=-1):
            caller = sys._getframe(1).f_code.co_filename
            if not self.told and ("urllib3" in caller or caller.endswith("http/client.py")):
                self.told = True
                print("sending", flush=True)
            time.sleep(0.002)
            return self.f.read(n if 0 <= n <= 1 << 16 else 1 << 16)
        def __enter__(self):
            return self
        def __exit__(self, *a):
            self.f.close()
        def __getattr__(self, name):
            return getattr(self.f, name)

    if sys.argv[1].startswith("s3://"):
        Path.open = lambda self, mode="r", *a, **k: (
            Slow(real_open(self, mode, *a, **k)) if self == src else real_open(self, mode, *a, **k)
        )
    else:
        print("sending", flush=True)
    store.upload_blob(src, sys.argv[3], src.stat().st_size)
    print("uploaded", flush=True)
    """
)


@pytest.mark.parametrize("kind", ["s3", "dir"])
def test_killed_uploader_leaves_no_partial_object(
    kind: str, s3_bucket: str, s3_env: Any, tmp_path: Path
) -> None:
    """SIGKILL a process in the middle of an upload: no object, not even a partial one."""
    src, digest = _blob(tmp_path, os.urandom(24 << 20))
    url = f"s3://{s3_bucket}/k" if kind == "s3" else str(tmp_path / "store")
    proc = subprocess.Popen(
        [sys.executable, "-c", _UPLOADER, url, str(src), digest],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == "sending"
    if kind == "s3":
        time.sleep(0.2)  # part of the body is on the wire
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    store = open_artifact_store(url)
    if kind == "s3":
        time.sleep(0.5)  # let the server notice the dead connection
        assert not store.has_blob(digest)
        assert s3_env.client().list_objects_v2(Bucket=s3_bucket).get("KeyCount", 0) == 0
    elif store.has_blob(digest):
        # A local copy is fast: it may have finished before the kill. Then it is whole.
        assert store.download_blob(digest, tmp_path / "check.bin")
        assert file_digest(tmp_path / "check.bin") == digest
    else:
        assert not (tmp_path / "store" / "cas" / digest[:2] / digest).exists()
