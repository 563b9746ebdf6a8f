"""axl's hand-written ``ActionResult`` codec (``axl/cache/_reapi.py``) against the official
``remote_execution.proto``, compiled by the real ``protoc`` and loaded into protobuf's own runtime;
and a store axl filled through a real nginx against the rules bazel-remote enforces.

The proto comes from Debian's ``bazel-bootstrap-source`` (its imports from ``libprotobuf-dev``),
the compiler from ``protobuf-compiler``: ``make system-deps`` installs all three. protobuf's Python
runtime comes with the dagster extra (``make setup`` installs every extra).
"""

from __future__ import annotations

import hashlib
import random
import re
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from google.protobuf import descriptor_pb2, descriptor_pool, message_factory
from nginx_fixtures import PREFIX, Nginx
from remote_helpers import run_axl, workspace

from axl.cache._reapi import DecodeError, OutputFile, decode_action_result, encode_action_result
from axl.cache._records import ActionResult, OutputRecord
from axl.cache._tiered import (
    ENTRY_FILE,
    LOAD_FILE,
    MALFORMED,
    WORKER,
    decode_entry,
    encode_entry,
    record_blobs,
)
from axl.hashing import bytes_digest

THIRD_PARTY = Path("/usr/src/bazel-bootstrap/third_party")
REAPI_PROTO = "build/bazel/remote/execution/v2/remote_execution.proto"
WELL_KNOWN = Path("/usr/include")
PACKAGE = "build.bazel.remote.execution.v2"
#: bazel-remote's HTTP URL rule (server/http.go, ``blobNameSHA256``): anything else is a 400.
BAZEL_REMOTE_URL = re.compile(r"^/?(.*/)?(ac/|cas/)([a-f0-9]{64})$")


class Reapi:
    """The official message classes by short name: ``reapi.ActionResult``, ``reapi.Timestamp``."""

    def __init__(self, pool: descriptor_pool.DescriptorPool) -> None:
        self._pool = pool

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        for package in (PACKAGE, "google.protobuf"):
            try:
                found = self._pool.FindMessageTypeByName(f"{package}.{name}")
            except KeyError:
                continue
            return message_factory.GetMessageClass(found)
        raise AttributeError(name)


@pytest.fixture(scope="module")
def reapi(tmp_path_factory: pytest.TempPathFactory) -> Reapi:
    protoc = shutil.which("protoc")
    needed = {
        "protoc (protobuf-compiler)": protoc is not None,
        "remote_execution.proto (bazel-bootstrap-source)": (
            THIRD_PARTY / "remoteapis" / REAPI_PROTO
        ).is_file(),
        "google/protobuf/timestamp.proto (libprotobuf-dev)": (
            WELL_KNOWN / "google" / "protobuf" / "timestamp.proto"
        ).is_file(),
    }
    missing = [what for what, there in needed.items() if not there]
    if missing or protoc is None:
        pytest.fail(
            "the REAPI conformance tests compile the official remote_execution.proto with "
            f"protoc and cannot find {', '.join(missing)}: run `make system-deps`",
            pytrace=False,
        )
    out = tmp_path_factory.mktemp("reapi") / "reapi.pb"
    done = subprocess.run(
        [
            protoc,
            f"-I{THIRD_PARTY / 'remoteapis'}",
            f"-I{THIRD_PARTY / 'googleapis'}",
            f"-I{WELL_KNOWN}",
            "--include_imports",
            f"--descriptor_set_out={out}",
            REAPI_PROTO,
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, f"protoc failed:\n{done.stderr}"
    files = descriptor_pb2.FileDescriptorSet.FromString(out.read_bytes())
    # A pool of its own: the default one already holds the well-known types dagster imported.
    pool = descriptor_pool.DescriptorPool()
    for file in files.file:
        pool.Add(file)
    return Reapi(pool)


def official_file(reapi: Reapi, item: OutputFile) -> Any:
    return reapi.OutputFile(
        path=item.path,
        digest=reapi.Digest(hash=item.hash, size_bytes=item.size),
        is_executable=item.is_executable,
        contents=item.contents or b"",
    )


def as_ours(reapi: Reapi, message: Any) -> tuple[tuple[OutputFile, ...], int, str]:
    """The fields axl reads, taken from an official message (``contents`` unset -> ``None``)."""
    files = tuple(
        OutputFile(f.path, f.digest.hash, f.digest.size_bytes, f.contents or None, f.is_executable)
        for f in message.output_files
    )
    return files, message.exit_code, message.execution_metadata.worker


def bazel_remote_put(reapi: Reapi, data: bytes, addr: str = "127.0.0.1:40321") -> bytes:
    """What bazel-remote stores for an HTTP PUT of ``/ac/``: ``addWorkerMetadataHTTP`` in its
    server/http.go parses the ActionResult and, when the worker is empty, sets it to the
    client's address and marshals the message anew; otherwise it keeps the bytes as sent."""
    message = reapi.ActionResult.FromString(data)
    if message.HasField("execution_metadata") and message.execution_metadata.worker:
        return data
    message.execution_metadata.worker = addr
    stored: bytes = message.SerializeToString()
    return stored


FILES = (
    OutputFile("train/model.pkl", "ab" * 32, 1 << 40),  # a size past 32 bits
    OutputFile("täglich/ünïcode ✓.json", "0f" * 32, 7, is_executable=True),
    OutputFile("train/log.txt", "cd" * 32, 0),
    OutputFile(".axl/entry.json", "12" * 32, 5, b'{"a":\x00\xff}', True),
    OutputFile("a", "e" * 64, (1 << 63) - 1, b"x"),
)


@pytest.mark.integration
@pytest.mark.parametrize(
    ("files", "exit_code", "worker"),
    [
        (FILES, 0, "axl"),
        (FILES[:1], 1, ""),
        ((), 0, ""),
        (FILES[3:], -1, "127.0.0.1:8080"),
        (FILES, -(1 << 31), "axl"),
        (FILES[1:3], (1 << 31) - 1, "w"),
    ],
)
def test_axl_encoding_is_protobufs_own(
    reapi: Reapi, files: tuple[OutputFile, ...], exit_code: int, worker: str
) -> None:
    ours = encode_action_result(files, exit_code=exit_code, worker=worker)
    parsed = reapi.ActionResult.FromString(ours)
    assert as_ours(reapi, parsed) == (files, exit_code, worker)
    assert decode_action_result(ours) == decode_action_result(parsed.SerializeToString())

    official = reapi.ActionResult(
        output_files=[official_file(reapi, f) for f in files], exit_code=exit_code
    )
    if worker:
        official.execution_metadata.worker = worker
    # Byte for byte: protobuf writes fields in field-number order, and so must we, so that a
    # re-marshalling server (or a digest of the entry) sees the same bytes.
    assert official.SerializeToString() == ours
    assert official.SerializeToString(deterministic=True) == ours


def _timestamp(reapi: Reapi, seconds: int) -> Any:
    return reapi.Timestamp(seconds=seconds, nanos=123_456_789)


def _rich_message(reapi: Reapi) -> Any:
    """An ``ActionResult`` as a remote executor writes it, with every field axl does not read."""
    digest = reapi.Digest
    message = reapi.ActionResult(
        output_files=[official_file(reapi, f) for f in FILES],
        output_file_symlinks=[reapi.OutputSymlink(path="l", target="train/model.pkl")],
        output_symlinks=[reapi.OutputSymlink(path="s", target="../x")],
        output_directories=[
            reapi.OutputDirectory(path="d", tree_digest=digest(hash="9" * 64, size_bytes=99))
        ],
        output_directory_symlinks=[reapi.OutputSymlink(path="ds", target="d")],
        exit_code=-9,
        stdout_raw=b"out\x00\xff",
        stdout_digest=digest(hash="7" * 64, size_bytes=3),
        stderr_raw=b"err",
        stderr_digest=digest(hash="8" * 64, size_bytes=1 << 33),
        execution_metadata=reapi.ExecutedActionMetadata(
            worker="remote-worker-7",
            queued_timestamp=_timestamp(reapi, 1),
            worker_start_timestamp=_timestamp(reapi, 2),
            execution_completed_timestamp=_timestamp(reapi, 3),
            output_upload_completed_timestamp=_timestamp(reapi, 1 << 40),
        ),
    )
    # A field of OutputFile that axl does not know either (node_properties, field 7).
    message.output_files[0].node_properties.mtime.seconds = 1_700_000_000
    message.output_files[0].node_properties.properties.add(name="k", value="v")
    return message


@pytest.mark.integration
def test_official_messages_with_fields_axl_skips_decode(reapi: Reapi) -> None:
    message = _rich_message(reapi)
    decoded = decode_action_result(message.SerializeToString())
    assert decoded.output_files == FILES
    assert decoded.exit_code == -9
    assert decoded.worker == "remote-worker-7"
    assert decoded.file(".axl/entry.json") == FILES[3]

    # Unknown fields ahead of known ones, and the metadata without a worker.
    message.ClearField("output_files")
    message.execution_metadata.worker = ""
    decoded = decode_action_result(message.SerializeToString())
    assert decoded.output_files == ()
    assert decoded.worker == ""


def _record(with_log: bool = True) -> tuple[ActionResult, dict[str, tuple[str, int]]]:
    """A record with five outputs over three blobs (two shared, one empty) and maybe a log,
    and fake but well-formed remote names (SHA-256s) and sizes for its blobs."""
    model, metrics, table, log = (bytes_digest(s.encode()) for s in ("m", "t", "b", "l"))
    outputs = {
        "model": OutputRecord(model, 1 << 33, "pickle", "pkl", {"type": "Pipeline"}),
        "metrics": OutputRecord(metrics, 41, "json", "json"),
        "scores": OutputRecord(metrics, 41, "json", "json"),
        "table": OutputRecord(table, 0, "parquet", "parquet", {"rows": 0}),
        "raw": OutputRecord(table, 0, "bytes", ""),
    }
    record = ActionResult(
        "5" * 64,
        "churn",
        "train",
        outputs,
        seconds=2.5,
        created=1_700_000_000.25,
        log_digest=log if with_log else None,
        parts={"code": "c" * 64, "params": {"n": 3}},
        stamps={model: (1 << 33, 10**18, 4242)},
    )
    sizes = {model: 1 << 33, metrics: 41, table: 0, log: 123}
    names = {d: (hashlib.sha256(d.encode()).hexdigest(), sizes[d]) for d in record_blobs(record)}
    return record, names


@pytest.mark.integration
@pytest.mark.parametrize("secret", [None, b"team-secret"])
@pytest.mark.parametrize("with_log", [True, False])
def test_entries_survive_bazel_remote_and_protobuf(
    reapi: Reapi, secret: bytes | None, with_log: bool
) -> None:
    record, names = _record(with_log)
    raw = encode_entry(record, secret, names)
    # Local trust stamps stay local; everything else comes back as it went.
    sent = replace(record, stamps={}).to_bytes()

    def check(data: bytes) -> None:
        entry, why = decode_entry(data, record.key, secret)
        assert entry is not None, why
        assert entry.record.to_bytes() == sent
        assert entry.names == {d: name for d, (name, _) in names.items()}

    # What a validating server reads: one output file per blob, named for people, with the
    # blob's remote name and size; the record inlined; axl as the worker.
    message = reapi.ActionResult.FromString(raw)
    files = {f.path: f for f in message.output_files}
    # A blob two outputs share takes the path of the first output by name.
    expected_paths = {"train/model.pkl", "train/metrics.json", "train/raw", ENTRY_FILE}
    if with_log:
        expected_paths.add("train/.log")
    assert set(files) == expected_paths
    assert len(message.output_files) == len(record_blobs(record)) + 1
    for digest, (name, size) in names.items():
        (match,) = [f for f in message.output_files if f.digest.hash == name]
        assert match.digest.size_bytes == size
        assert not match.contents
    carrier = files[ENTRY_FILE]
    assert carrier.digest.hash == hashlib.sha256(carrier.contents).hexdigest()
    assert carrier.digest.size_bytes == len(carrier.contents)
    assert message.exit_code == 0
    assert message.execution_metadata.worker == WORKER
    check(raw)

    # bazel-remote keeps an entry that names a worker byte for byte...
    assert bazel_remote_put(reapi, raw) == raw
    # ...and re-marshals one that does not, with the client's address as its worker.
    anonymous = reapi.ActionResult.FromString(raw)
    anonymous.ClearField("execution_metadata")
    stored = bazel_remote_put(reapi, anonymous.SerializeToString())
    assert stored != raw
    assert reapi.ActionResult.FromString(stored).execution_metadata.worker == "127.0.0.1:40321"
    check(stored)
    # Any other protobuf runtime that parses and writes the entry again.
    remarshalled = reapi.ActionResult.FromString(raw).SerializeToString()
    assert remarshalled == raw
    check(remarshalled)


MALFORMED_INPUTS = {
    "truncated tag": b"\x80",
    "truncated varint": b"\x20",
    "truncated varint continuation": b"\x20\xff\xff",
    "varint over ten bytes": b"\x20" + b"\xff" * 10 + b"\x01",
    "length past the end": b"\x12\x05ab",
    "huge length": b"\x12" + b"\xff" * 8 + b"\x7f" + b"x",
    "nested length past the end": b"\x12\x04\x12\x09\x0a\x01",
    "truncated fixed64": b"\x19\x01\x02",
    "truncated fixed32": b"\x1d\x01",
    "wire type 3": b"\x13",
    "wire type 4": b"\x14",
    "wire type 6": b"\x16\x00",
    "wire type 7": b"\x17\x00",
    "nested wire type 3": b"\x12\x01\x0b",
    "field number 0": b"\x00\x00",
    "field number 0, length-delimited": b"\x02\x00",
    "nested field number 0": b"\x12\x02\x00\x00",
    "non-UTF-8 path": b"\x12\x03\x0a\x01\xff",
    "non-UTF-8 hash": b"\x12\x05\x12\x03\x0a\x01\xc3",
    "non-UTF-8 worker": b"\x4a\x03\x0a\x01\xfe",
    "exit_code length-delimited": b"\x22\x01x",
    "size_bytes length-delimited": b"\x12\x05\x12\x03\x12\x01x",
    "is_executable length-delimited": b"\x12\x03\x22\x01x",
    "output_files a varint": b"\x10\x01",
    "digest a varint": b"\x12\x02\x10\x01",
    "path a varint": b"\x12\x02\x08\x01",
    "contents a varint": b"\x12\x02\x28\x01",
    "worker a varint": b"\x4a\x02\x08\x01",
}


@pytest.mark.parametrize("data", MALFORMED_INPUTS.values(), ids=MALFORMED_INPUTS.keys())
def test_malformed_input_is_a_decode_error(data: bytes) -> None:
    with pytest.raises(DecodeError):
        decode_action_result(data)
    entry, why = decode_entry(data, "5" * 64, None)
    assert (entry, why) == (None, MALFORMED)


WIDE_VARINTS = {
    # int32 exit_code 2**32 + 5: protobuf keeps the low 32 bits (5).
    "exit_code past 32 bits": b"\x20\x85\x80\x80\x80\x10",
    # A ten-byte varint whose last byte has bits past the 64th: protobuf drops them (-1).
    "exit_code past 64 bits": b"\x20" + b"\xff" * 9 + b"\x7f",
    "size_bytes past 64 bits": b"\x12\x0d\x12\x0b\x10" + b"\xff" * 9 + b"\x7f",
}


@pytest.mark.integration
@pytest.mark.parametrize("data", WIDE_VARINTS.values(), ids=WIDE_VARINTS.keys())
def test_too_wide_varints_read_as_protobuf_reads_them(reapi: Reapi, data: bytes) -> None:
    ours = decode_action_result(data)
    assert (ours.output_files, ours.exit_code, ours.worker) == as_ours(
        reapi, reapi.ActionResult.FromString(data)
    )


#: A fixed-width field where a length-delimited one belongs; protobuf keeps it as an unknown field.
FIXED_FOR_LENGTH = {
    "path a fixed32": b"\x12\x05\x0dabcd",
    "contents a fixed64": b"\x12\x09\x2912345678",
    "execution_metadata a fixed32 that reads as a worker": b"\x4d\x0a\x02hi",
    "output_files a fixed64 that reads as an OutputFile": b"\x11\x0a\x06abcdef",
}


@pytest.mark.integration
@pytest.mark.parametrize("data", FIXED_FOR_LENGTH.values(), ids=FIXED_FOR_LENGTH.keys())
def test_fixed_width_for_length_delimited_is_a_decode_error(reapi: Reapi, data: bytes) -> None:
    reapi.ActionResult.FromString(data)  # protobuf reads it, skipping the stray field
    with pytest.raises(DecodeError):
        decode_action_result(data)


def _mutations(seed: bytes, rng: random.Random) -> bytes:
    data = bytearray(seed)
    for _ in range(rng.randint(1, 4)):
        at = rng.randrange(len(data) + 1)
        kind = rng.randrange(4)
        if kind == 0 and data:
            data[min(at, len(data) - 1)] = rng.randrange(256)
        elif kind == 1:
            data[at:at] = rng.randbytes(rng.randint(1, 3))
        elif kind == 2:
            del data[at : at + rng.randint(1, 3)]
        else:
            data = data[:at]
    return bytes(data)


def _fuzz(seeds: list[bytes], count: int = 20_000) -> Iterator[bytes]:
    """Reproducible garbage: random bytes, and mutations of valid messages (which get past the
    first bytes into the nested decoders). hypothesis is not a dependency here."""
    rng = random.Random(20240607)
    for i in range(count):
        if i % 4 == 0:
            yield rng.randbytes(rng.randint(0, 64))
        else:
            yield _mutations(seeds[i % len(seeds)], rng)


def _seeds() -> list[bytes]:
    record, names = _record()
    return [encode_entry(record, None, names), encode_action_result(FILES, exit_code=-3)]


def test_fuzzed_bytes_decode_or_raise_decode_error() -> None:
    read = 0
    for data in _fuzz(_seeds()):
        try:
            decode_action_result(data)
        except DecodeError:
            continue
        read += 1
    assert read > 500, "the fuzzing should produce messages as well as garbage"


@pytest.mark.integration
def test_fuzzed_bytes_read_as_protobuf_reads_them(reapi: Reapi) -> None:
    """Where both parsers read the bytes, they agree on every field axl reads."""
    agreed = 0
    for data in _fuzz([*_seeds(), _rich_message(reapi).SerializeToString()]):
        try:
            ours = decode_action_result(data)
            theirs = reapi.ActionResult.FromString(data)
        except DecodeError:
            continue
        except Exception:  # noqa: BLE001 - protobuf refusing more than axl is its business
            continue
        assert (ours.output_files, ours.exit_code, ours.worker) == as_ours(reapi, theirs), data
        agreed += 1
    assert agreed > 500, "the fuzzing should mostly produce messages both parsers read"


# -- a store axl filled, by bazel-remote's rules --------------------------------------------------


@pytest.mark.integration
def test_axl_store_obeys_bazel_remote(reapi: Reapi, nginx: Nginx, tmp_path: Path) -> None:
    root = workspace(tmp_path, "ws", churn=True)
    report, err = run_axl(
        root,
        "-p",
        "small.yaml",
        "--remote-cache",
        nginx.url,
        spec="churn_workflow.py:ChurnWorkflow",
    )
    assert report["remote"]["uploads"] == len(report["steps"]), err
    stored = sorted(p for p in nginx.data.rglob("*") if p.is_file())
    ac, cas = nginx.files("ac"), nginx.files("cas")
    keys = {step["key"] for step in report["steps"].values()}
    # One more entry than steps: the workflow's load, shared for clean checkouts.
    (load,) = [path for path in ac if path.name not in keys]
    assert decode_action_result(load.read_bytes()).file(LOAD_FILE) is not None
    assert report["remote"]["loads_uploaded"] == 1
    assert set(stored) == {*ac, *cas}

    for path in stored:
        url = "/" + path.relative_to(nginx.data).as_posix()
        assert BAZEL_REMOTE_URL.match(url), f"bazel-remote refuses {url}"
        assert url.startswith(f"/{PREFIX}/")
    for path in cas:
        assert path.name == hashlib.sha256(path.read_bytes()).hexdigest(), path.name
    sizes = {path.name: path.stat().st_size for path in cas}

    for path in ac:
        raw = path.read_bytes()
        message = reapi.ActionResult.FromString(raw)  # bazel-remote's PUT validation
        assert message.execution_metadata.worker == WORKER
        assert bazel_remote_put(reapi, raw) == raw
        # GetValidatedActionResult: an entry is served only while the blobs it names exist.
        for item in message.output_files:
            if not item.contents and item.digest.size_bytes > 0:
                assert sizes.get(item.digest.hash) == item.digest.size_bytes, item.path
        assert not message.output_directories
        assert not message.HasField("stdout_digest")
        assert not message.HasField("stderr_digest")
        if path == load:
            continue
        # And it is still axl's: the record of the step whose key names the file.
        entry, why = decode_entry(raw, path.name, None)
        assert entry is not None, why
        assert entry.record.key == path.name
        assert set(entry.names.values()) <= set(sizes)
