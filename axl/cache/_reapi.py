"""The slice of the Remote Execution API v2 that an action-cache entry needs, in protobuf's wire
format: ``ActionResult`` with its ``output_files`` (``OutputFile``, ``Digest``) and the worker name
of its ``execution_metadata``.

Bazel's HTTP remote cache stores ``ActionResult`` messages under ``/ac/``, and a validating server
(bazel-remote, unless started with ``--disable_http_ac_validation``) refuses anything else. Its
GET of an entry also checks that every output file's digest names a blob in its CAS. Writing real
``ActionResult`` messages whose output files are our blobs lets such a server store our entries
and enforce the same rule we upload by: no entry whose blobs are missing.

Three messages and a handful of fields do not justify the protobuf runtime (a dependency and
import time on every remote build), so the encoding is written out here; ``tests/test_reapi.py``
checks it both ways against the official ``remote_execution.proto`` compiled by ``protoc``, and
against entries Bazel itself wrote. Field numbers are those of
``build/bazel/remote/execution/v2/remote_execution.proto``. The decoder skips fields it does not
know, as protobuf readers must, so entries another writer extended still read.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

# Wire types.
_VARINT, _I64, _LEN, _I32 = 0, 1, 2, 5
_U64 = (1 << 64) - 1

# ActionResult
_AR_OUTPUT_FILES = 2
_AR_EXIT_CODE = 4
_AR_EXECUTION_METADATA = 9
# OutputFile
_OF_PATH, _OF_DIGEST, _OF_IS_EXECUTABLE, _OF_CONTENTS = 1, 2, 4, 5
# Digest
_D_HASH, _D_SIZE = 1, 2
# ExecutedActionMetadata
_EM_WORKER = 1


class DecodeError(ValueError):
    """The bytes are not a well-formed message of the expected shape."""


@dataclass(frozen=True)
class OutputFile:
    """One ``OutputFile``: a relative path, the SHA-256 and size of its content, and the content
    itself when it is inlined (``contents``)."""

    path: str
    hash: str
    size: int
    contents: bytes | None = None
    is_executable: bool = False


@dataclass(frozen=True)
class ActionResult:
    """The fields of an ``ActionResult`` that axl writes and reads."""

    output_files: tuple[OutputFile, ...]
    exit_code: int = 0
    worker: str = ""

    def file(self, path: str) -> OutputFile | None:
        """The output file at ``path`` (the first, should a writer repeat one)."""
        return next((f for f in self.output_files if f.path == path), None)


# -- encoding ----------------------------------------------------------------------------------


def _varint(value: int) -> bytes:
    if value < 0:  # int32/int64 negatives are ten-byte two's complement on the wire
        value += 1 << 64
    out = bytearray()
    while value > 0x7F:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def _tag(number: int, wire: int) -> bytes:
    return _varint(number << 3 | wire)


def _len_field(number: int, payload: bytes) -> bytes:
    return _tag(number, _LEN) + _varint(len(payload)) + payload


def _int_field(number: int, value: int) -> bytes:
    # proto3: a scalar field at its default value is not written.
    return _tag(number, _VARINT) + _varint(value) if value else b""


def _encode_file(item: OutputFile) -> bytes:
    digest = _len_field(_D_HASH, item.hash.encode()) + _int_field(_D_SIZE, item.size)
    out = _len_field(_OF_PATH, item.path.encode()) + _len_field(_OF_DIGEST, digest)
    out += _int_field(_OF_IS_EXECUTABLE, int(item.is_executable))
    if item.contents:
        out += _len_field(_OF_CONTENTS, item.contents)
    return out


def encode_action_result(
    output_files: Sequence[OutputFile], *, exit_code: int = 0, worker: str = ""
) -> bytes:
    """The wire form of an ``ActionResult``, fields in field-number order (as protobuf's own
    serializers write them, so the same message always gives the same bytes)."""
    out = b"".join(_len_field(_AR_OUTPUT_FILES, _encode_file(f)) for f in output_files)
    out += _int_field(_AR_EXIT_CODE, exit_code)
    if worker:
        out += _len_field(_AR_EXECUTION_METADATA, _len_field(_EM_WORKER, worker.encode()))
    return out


# -- decoding ----------------------------------------------------------------------------------


def _read_varint(data: bytes, pos: int) -> tuple[int, int]:
    """A varint's value as an unsigned 64-bit number (bits past 64 dropped, as protobuf does)."""
    value = shift = 0
    while True:
        if pos >= len(data) or shift > 63:
            raise DecodeError("truncated or overlong varint")
        byte = data[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return value & _U64, pos
        shift += 7


def _fields(data: bytes) -> Iterator[tuple[int, int, int | bytes]]:
    """``(field number, wire type, value)`` for each field; a varint's value is an int, any other
    field's its bytes (the wire type tells a length-delimited field from a fixed-width one)."""
    pos = 0
    while pos < len(data):
        tag, pos = _read_varint(data, pos)
        number, wire = tag >> 3, tag & 7
        if number == 0:
            raise DecodeError("field number 0")
        value: int | bytes
        if wire == _VARINT:
            value, pos = _read_varint(data, pos)
        elif wire == _LEN:
            length, pos = _read_varint(data, pos)
            if pos + length > len(data):
                raise DecodeError("a length-delimited field runs past the end")
            value, pos = data[pos : pos + length], pos + length
        elif wire in (_I64, _I32):
            width = 8 if wire == _I64 else 4
            if pos + width > len(data):
                raise DecodeError("a fixed-width field runs past the end")
            value, pos = data[pos : pos + width], pos + width
        else:  # groups (3, 4) are proto2-only and not in this API; 6, 7 do not exist
            raise DecodeError(f"wire type {wire}")
        yield number, wire, value


def _as_bytes(wire: int, value: int | bytes, what: str) -> bytes:
    if wire != _LEN or not isinstance(value, bytes):
        raise DecodeError(f"{what} is not length-delimited")
    return value


def _as_int(wire: int, value: int | bytes, what: str, bits: int = 64) -> int:
    """A varint field as a signed ``bits``-bit integer (wider values cut as protobuf cuts them)."""
    if wire != _VARINT or not isinstance(value, int):
        raise DecodeError(f"{what} is not a varint")
    value &= (1 << bits) - 1
    return value - (1 << bits) if value >> (bits - 1) else value


def _text(wire: int, value: int | bytes, what: str) -> str:
    try:
        return _as_bytes(wire, value, what).decode()
    except UnicodeDecodeError:
        raise DecodeError(f"{what} is not UTF-8") from None


def _decode_file(data: bytes) -> OutputFile:
    path, hash_, size, contents, executable = "", "", 0, None, False
    for number, wire, value in _fields(data):
        if number == _OF_PATH:
            path = _text(wire, value, "OutputFile.path")
        elif number == _OF_DIGEST:
            for inner, inner_wire, item in _fields(_as_bytes(wire, value, "OutputFile.digest")):
                if inner == _D_HASH:
                    hash_ = _text(inner_wire, item, "Digest.hash")
                elif inner == _D_SIZE:
                    size = _as_int(inner_wire, item, "Digest.size_bytes")
        elif number == _OF_CONTENTS:
            contents = _as_bytes(wire, value, "OutputFile.contents")
        elif number == _OF_IS_EXECUTABLE:
            executable = bool(_as_int(wire, value, "OutputFile.is_executable"))
    return OutputFile(path, hash_, size, contents, executable)


def decode_action_result(data: bytes) -> ActionResult:
    """Parse an ``ActionResult``; fields axl does not use are skipped.

    Raises:
        DecodeError: ``data`` is not a well-formed ``ActionResult``.
    """
    files: list[OutputFile] = []
    exit_code, worker = 0, ""
    for number, wire, value in _fields(data):
        if number == _AR_OUTPUT_FILES:
            files.append(_decode_file(_as_bytes(wire, value, "ActionResult.output_files")))
        elif number == _AR_EXIT_CODE:
            exit_code = _as_int(wire, value, "ActionResult.exit_code", bits=32)
        elif number == _AR_EXECUTION_METADATA:
            metadata = _as_bytes(wire, value, "ActionResult.execution_metadata")
            for inner, inner_wire, item in _fields(metadata):
                if inner == _EM_WORKER:
                    worker = _text(inner_wire, item, "ExecutedActionMetadata.worker")
    return ActionResult(tuple(files), exit_code, worker)
