"""TieredStore: read-through, write-through and every check, against a folder remote."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest
from remote_helpers import entry_meta, with_meta

from axl.cache import ActionResult, LocalStore, OutputRecord, TieredStore, open_remote
from axl.cache._dirremote import DirRemote
from axl.cache._reapi import decode_action_result, encode_action_result
from axl.cache._remote import RemoteError
from axl.cache._tiered import ENTRY_FILE, RemoteEntry, decode_entry, encode_entry, record_blobs
from axl.hashing import bytes_digest, bytes_sha256

KEY = "1" * 64
OTHER = "2" * 64


class Warnings(list[str]):
    def __call__(self, message: str) -> None:
        self.append(message)


def make_record(store: LocalStore, key: str = KEY, payload: bytes = b"payload") -> ActionResult:
    """A record whose output and log blobs are in ``store``."""
    digest, size = store.put_bytes(payload)
    log, _ = store.put_bytes(b"log of " + payload)
    out = OutputRecord(digest, size, "pickle", "pkl")
    return ActionResult(key, "wf", "step", {"out": out}, seconds=1.5, log_digest=log)


def remote_name(store: LocalStore, digest: str) -> str:
    """The name the remote stores a local blob under: its SHA-256, as Bazel's protocol has it."""
    return bytes_sha256(store.blob_path(digest).read_bytes())


def tiered(
    tmp: Path,
    name: str,
    remote: object,
    *,
    secret: bytes | None = None,
    upload: bool = True,
) -> tuple[TieredStore, Warnings]:
    warns = Warnings()
    store = TieredStore(
        tmp / name,
        remote,  # type: ignore[arg-type]
        secret=secret,
        upload=upload,
        warn=warns,
    )
    return store, warns


@pytest.fixture
def remote(tmp_path: Path) -> DirRemote:
    store = open_remote(str(tmp_path / "remote"))
    assert isinstance(store, DirRemote)
    return store


def test_write_through_then_read_through(tmp_path: Path, remote: DirRemote) -> None:
    ci, _ = tiered(tmp_path, "ci", remote)
    record = make_record(ci)
    ci.put_record(record)
    assert ci.stats.uploads == 1
    assert ci.stats.blobs_uploaded == 2
    for digest in record_blobs(record):
        # Blobs go up under their SHA-256, the name Bazel's protocol gives them.
        name = remote_name(ci, digest)
        assert (remote.root / "cas" / name).read_bytes() == ci.blob_path(digest).read_bytes()
        assert not (remote.root / "cas" / digest).exists()
    # The entry is an ActionResult whose output files are those blobs, by remote name and size.
    result = decode_action_result((remote.root / "ac" / KEY).read_bytes())
    assert result.worker == "axl"
    assert result.exit_code == 0
    listed = {(f.path, f.hash, f.size) for f in result.output_files if f.path != ENTRY_FILE}
    out, log = record.outputs["out"].digest, record.log_digest
    assert log is not None
    assert listed == {
        ("step/out.pkl", remote_name(ci, out), len(b"payload")),
        ("step/.log", remote_name(ci, log), len(b"log of payload")),
    }

    laptop, warns = tiered(tmp_path, "laptop", remote)
    got = laptop.get_record(KEY)
    assert got == record
    assert laptop.fetched == {KEY}
    assert laptop.stats.remote_hits == 1
    assert laptop.stats.bytes_downloaded == len(b"payload") + len(b"log of payload")
    assert laptop.blob_path(record.outputs["out"].digest).read_bytes() == b"payload"
    # Local trust stamps are filled in for the downloaded blobs, never taken from the remote.
    assert set(got.stamps) == set(record_blobs(record))
    assert not warns
    # Now it is local: a second lookup does not touch the remote.
    laptop.remote = None  # type: ignore[assignment]
    assert laptop.get_record(KEY) == record


def test_entries_carry_no_local_stamps(tmp_path: Path, remote: DirRemote) -> None:
    ci, _ = tiered(tmp_path, "ci", remote)
    record = make_record(ci)
    ci.put_record(ActionResult(**{**record.__dict__, "stamps": {"x": (1, 2, 3)}}))
    entry = entry_meta((remote.root / "ac" / KEY).read_bytes())
    assert json.loads(entry["record"])["stamps"] == {}


def test_remote_miss(tmp_path: Path, remote: DirRemote) -> None:
    store, warns = tiered(tmp_path, "a", remote)
    assert store.get_record(KEY) is None
    assert store.stats.remote_misses == 1
    assert not warns


def test_missing_remote_blob_is_a_miss(tmp_path: Path, remote: DirRemote) -> None:
    ci, _ = tiered(tmp_path, "ci", remote)
    record = make_record(ci)
    ci.put_record(record)
    (remote.root / "cas" / remote_name(ci, record.outputs["out"].digest)).unlink()  # evicted
    laptop, warns = tiered(tmp_path, "laptop", remote)
    assert laptop.get_record(KEY) is None
    assert laptop.stats.remote_misses == 1
    assert not warns
    assert laptop.record_path(KEY).exists() is False


def test_local_record_without_blobs_reads_through(tmp_path: Path, remote: DirRemote) -> None:
    store, _ = tiered(tmp_path, "a", remote)
    record = make_record(store)
    store.put_record(record)
    store.blob_path(record.outputs["out"].digest).unlink()  # e.g. removed by gc
    assert store.get_record(KEY) == record
    assert store.stats.remote_hits == 1
    assert store.blob_path(record.outputs["out"].digest).read_bytes() == b"payload"


def test_tampered_blob_is_rejected_and_repaired(tmp_path: Path, remote: DirRemote) -> None:
    ci, _ = tiered(tmp_path, "ci", remote)
    record = make_record(ci)
    ci.put_record(record)
    blob = remote.root / "cas" / remote_name(ci, record.outputs["out"].digest)
    blob.write_bytes(b"evil pickle")

    laptop, warns = tiered(tmp_path, "laptop", remote)
    assert laptop.get_record(KEY) is None
    assert laptop.stats.rejected == {"tampered": 1}
    assert len(warns) == 1
    assert "fail verification" in warns[0]
    assert not laptop.has_blob(record.outputs["out"].digest)
    assert laptop.get_record(KEY) is None  # again: still rejected, still one warning
    assert len(warns) == 1
    # The step reruns locally and writes the same result: the bad blob is overwritten even
    # though the remote says it has one.
    rebuilt = make_record(laptop)
    laptop.put_record(rebuilt)
    assert blob.read_bytes() == b"payload"


def test_signed_entries(tmp_path: Path, remote: DirRemote) -> None:
    ci, _ = tiered(tmp_path, "ci", remote, secret=b"s")
    ci.put_record(make_record(ci))
    ci.put_record(make_record(ci, OTHER, b"other"))
    entry = entry_meta((remote.root / "ac" / KEY).read_bytes())
    assert len(entry["signature"]) == 64

    good, warns = tiered(tmp_path, "good", remote, secret=b"s")
    assert good.get_record(KEY) is not None
    assert not warns
    # A reader without a secret cannot check signatures and accepts the entry.
    nosecret, warns = tiered(tmp_path, "nosecret", remote)
    assert nosecret.get_record(KEY) is not None

    bad, warns = tiered(tmp_path, "bad", remote, secret=b"wrong")
    assert bad.get_record(KEY) is None
    assert bad.get_record(OTHER) is None
    assert bad.stats.rejected == {"bad-signature": 2}
    assert len(warns) == 1, warns
    assert "AXL_CACHE_SECRET" in warns[0]


def test_unsigned_entries_need_a_signature_when_a_secret_is_set(
    tmp_path: Path, remote: DirRemote
) -> None:
    writer, _ = tiered(tmp_path, "w", remote)
    writer.put_record(make_record(writer))
    reader, warns = tiered(tmp_path, "r", remote, secret=b"s")
    assert reader.get_record(KEY) is None
    assert reader.stats.rejected == {"unsigned": 1}
    assert len(warns) == 1


def test_secret_comes_from_the_environment(
    tmp_path: Path, remote: DirRemote, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AXL_CACHE_SECRET", "from-env")
    store = TieredStore(tmp_path / "a", remote)
    assert store.secret == b"from-env"
    monkeypatch.setenv("AXL_CACHE_SECRET", "")
    assert TieredStore(tmp_path / "b", remote).secret is None


def test_decode_entry_rejects_malformed_and_replayed() -> None:
    record = ActionResult(KEY, "wf", "s", {"out": OutputRecord("a" * 64, 1, "json", "json")})
    names = {"a" * 64: ("b" * 64, 1)}
    raw = encode_entry(record, b"k", names)
    good = (RemoteEntry(record, {"a" * 64: "b" * 64}), "")
    assert decode_entry(raw, KEY, b"k") == good
    # A genuine, well-signed entry served under another key is not a hit for that key.
    assert decode_entry(raw, OTHER, b"k") == (None, "malformed")
    assert decode_entry(b"not protobuf", KEY, None) == (None, "malformed")
    assert decode_entry(b"", KEY, None) == (None, "malformed")
    # An ActionResult without axl's part: what Bazel itself writes.
    bazel = encode_action_result([replace(decode_action_result(raw).output_files[0])])
    assert decode_entry(bazel, KEY, None) == (None, "malformed")
    meta = entry_meta(raw)
    assert decode_entry(with_meta(raw, {**meta, "axl_entry": 99}), KEY, None) == (
        None,
        "malformed",
    )
    # The remote name of every blob must be there, and be a SHA-256.
    assert decode_entry(with_meta(raw, {**meta, "cas": {}}), KEY, None) == (None, "malformed")
    bad_name = {**meta, "cas": {"a" * 64: "../../etc/passwd"}}
    assert decode_entry(with_meta(raw, bad_name), KEY, None) == (None, "malformed")
    unsigned = with_meta(raw, {**meta, "signature": None})
    assert decode_entry(unsigned, KEY, b"k") == (None, "unsigned")
    assert decode_entry(unsigned, KEY, None) == good


def test_a_revalidating_server_may_re_encode_entries(tmp_path: Path, remote: DirRemote) -> None:
    """bazel-remote re-marshals entries (it fills in the worker): field order and the worker
    may change on the server, and the entry still reads, signature and all."""
    ci, _ = tiered(tmp_path, "ci", remote, secret=b"s")
    record = make_record(ci)
    ci.put_record(record)
    path = remote.root / "ac" / KEY
    result = decode_action_result(path.read_bytes())
    path.write_bytes(encode_action_result(result.output_files[::-1], worker="10.0.0.7"))
    laptop, warns = tiered(tmp_path, "laptop", remote, secret=b"s")
    assert laptop.get_record(KEY) == record
    assert not warns


def test_malformed_entry_warns_once(tmp_path: Path, remote: DirRemote) -> None:
    remote.put_ac(KEY, b"garbage")
    remote.put_ac(OTHER, b"garbage")
    store, warns = tiered(tmp_path, "a", remote)
    assert store.get_record(KEY) is None
    assert store.get_record(OTHER) is None
    assert store.stats.rejected == {"malformed": 2}
    assert len(warns) == 1


def test_no_upload(tmp_path: Path, remote: DirRemote) -> None:
    store, _ = tiered(tmp_path, "a", remote, upload=False)
    store.put_record(make_record(store))
    assert store.get_record(KEY) is not None  # stored locally all the same
    assert not (remote.root / "ac").exists()
    assert store.stats.uploads == 0


class Broken:
    """A remote that fails every call, counting them."""

    url = "http://broken.invalid/c"

    def __init__(self) -> None:
        self.calls = 0

    def _fail(self, *args: object) -> None:
        self.calls += 1
        raise RemoteError("the remote cache http://broken.invalid/c failed: refused")

    get_ac = put_ac = has_cas = get_cas = put_cas = _fail

    def close(self) -> None:
        return None


def test_broken_remote_degrades_once(tmp_path: Path) -> None:
    broken = Broken()
    store, warns = tiered(tmp_path, "a", broken)
    assert store.get_record(KEY) is None
    assert store.degraded
    record = make_record(store)
    store.put_record(record)  # stored locally, not uploaded, no second warning
    assert store.get_record(KEY) == record
    assert store.get_record(OTHER) is None
    assert broken.calls == 1
    assert len(warns) == 1
    assert "local cache only" in warns[0]
    assert store.stats.to_json()["degraded"] is True


def test_broken_upload_keeps_the_local_record(tmp_path: Path) -> None:
    broken = Broken()
    store, warns = tiered(tmp_path, "a", broken)
    record = make_record(store)
    store.put_record(record)
    assert store.get_record(KEY) == record
    assert len(warns) == 1


def test_blob_gone_before_upload_skips_the_entry(tmp_path: Path, remote: DirRemote) -> None:
    store, warns = tiered(tmp_path, "a", remote)
    record = make_record(store)
    store.blob_path(record.outputs["out"].digest).unlink()
    store.put_record(record)
    assert not (remote.root / "ac" / KEY).exists()
    assert not warns


def test_folder_remote_writes_atomically(tmp_path: Path, remote: DirRemote) -> None:
    src = tmp_path / "src"
    src.write_bytes(b"data")
    digest = bytes_digest(b"data")
    remote.put_cas(digest, src)
    assert remote.has_cas(digest)
    assert [p.name for p in (remote.root / "cas").iterdir()] == [digest]
    assert remote.get_cas(digest, tmp_path / "dst")
    assert (tmp_path / "dst").read_bytes() == b"data"
    assert not remote.get_cas("f" * 64, tmp_path / "none")
    with pytest.raises(RemoteError, match="not a key"):
        remote.get_ac("../../etc/passwd")
    assert open_remote(f"file://{remote.root}").url == remote.url  # type: ignore[attr-defined]


def test_settle_remote_marks_sources_and_starts_counting_afresh(
    tmp_path: Path, remote: DirRemote
) -> None:
    from axl.exec._remote_build import settle_remote
    from axl.exec._report import BuildReport, StepReport

    ci, _ = tiered(tmp_path, "ci", remote)
    ci.put_record(make_record(ci))
    laptop, _ = tiered(tmp_path, "laptop", remote)
    assert laptop.get_record(KEY) is not None
    steps = {
        "a": StepReport("a", "cached", KEY),
        "b": StepReport("b", "cached", OTHER),
        "c": StepReport("c", "ran", "3" * 64),
    }
    report = BuildReport("wf", "h", steps, 0.0, 1.0)
    settle_remote(report, laptop)
    assert [s.source for s in steps.values()] == ["remote", "local", "local"]
    assert report.remote is not None
    assert (report.remote["remote_hits"], report.remote["local_hits"]) == (1, 1)
    assert report.to_json()["steps"]["a"]["source"] == "remote"
    assert "source" not in report.to_json()["steps"]["b"]
    assert report.to_json()["remote"]["bytes_downloaded"] > 0
    # The next build in the same process counts its own figures.
    assert laptop.stats.remote_hits == 0
    assert laptop.fetched == set()
    plain = BuildReport("wf", "h", {}, 0.0, 1.0)
    settle_remote(plain, LocalStore(tmp_path / "plain"))
    assert plain.remote is None
    assert "remote" not in plain.to_json()


def test_an_op_fetches_its_inputs_through_the_producers_entry(
    tmp_path: Path, remote: DirRemote
) -> None:
    """A Dagster op on another machine gets its input blob by the producing step's key: the
    remote names blobs by SHA-256, which the BLAKE3 digest an op is handed cannot give."""
    from axl.emit.dagster._steps import Artifact, _fetch_inputs

    ci, _ = tiered(tmp_path, "ci", remote)
    record = make_record(ci)
    ci.put_record(record)
    out = record.outputs["out"]
    pod, warns = tiered(tmp_path, "pod", remote)
    orphan = Artifact(bytes_digest(b"nobody made this"), 1, "pickle", "pkl", producer=OTHER)
    _fetch_inputs(pod, {"xs": Artifact.of(out, "step", "out", KEY), "ys": orphan})
    assert pod.blob_path(out.digest).read_bytes() == b"payload"
    assert not pod.has_blob(orphan.digest)
    assert pod.stats.remote_hits == 1
    assert not warns
