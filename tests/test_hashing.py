"""Digests are pinned: a change to how keys are derived must show up here as a reviewed diff."""

from __future__ import annotations

from pathlib import Path

import pytest

from axl.errors import CanonicalError
from axl.hashing import (
    KEY_VERSION,
    bytes_digest,
    canonical_json,
    file_digest,
    hmac_digest,
    key_digest,
    tree_listing,
)


def test_key_version_is_pinned() -> None:
    assert KEY_VERSION == 1


def test_pinned_digests() -> None:
    assert key_digest("action", {"a": 1, "b": [1, 2]}) == (
        "9d1e42c40b10add95b728b97d904241e15fbd71f1be10ee8ef6f75b441673ffa"
    )
    # Content digests are plain BLAKE3, so `b3sum` agrees with the CAS.
    assert bytes_digest(b"axl") == (
        "3c4a144f80e3419601d14e48c9cbcd2fc48a7c2b3dc9f578b5ac033025c7eba1"
    )


def test_canonical_json_is_order_independent() -> None:
    assert canonical_json({"b": 1, "a": [1.5, None, "é"]}) == '{"a":[1.5,null,"é"],"b":1}'
    assert key_digest("x", {"b": 1, "a": 2}) == key_digest("x", {"a": 2, "b": 1})


def test_domains_separate_equal_values() -> None:
    assert key_digest("action", [1]) != key_digest("workflow-ir", [1])


@pytest.mark.parametrize("value", [float("nan"), float("inf"), {1: "x"}, {"s": {1, 2}}, b"raw"])
def test_values_without_canonical_form_are_refused(value: object) -> None:
    with pytest.raises(CanonicalError):
        canonical_json(value)


def test_file_digest_streams_and_matches_bytes(tmp_path: Path) -> None:
    small = tmp_path / "small"
    small.write_bytes(b"axl")
    assert file_digest(small) == bytes_digest(b"axl")
    big = tmp_path / "big"  # above the threshold for the memory-mapped, multithreaded path
    data = bytes(range(256)) * (20 * 4096)
    big.write_bytes(data)
    assert file_digest(big) == bytes_digest(data)


def test_hmac_depends_on_the_secret() -> None:
    assert hmac_digest(b"k1", b"record") != hmac_digest(b"k2", b"record")
    assert hmac_digest(b"k1", b"record") == hmac_digest(b"k1", b"record")


def test_folder_listing_digest_is_pinned_and_order_independent() -> None:
    files = [("a.csv", False, "0" * 64), ("sub/b.csv", True, "1" * 64)]
    data, digest = tree_listing(files)
    assert digest == ("f15685cd7cd66f7494d7d51014e30e07926a699744bc6ef2ecf8cd149168f13d")
    assert digest == bytes_digest(data)  # the listing is a blob: the CAS can hold it
    assert tree_listing(list(reversed(files)))[1] == digest
    # The executable bit and the relative name are part of it; nothing else is.
    assert tree_listing([("a.csv", True, "0" * 64), files[1]])[1] != digest
    assert tree_listing([("A.csv", False, "0" * 64), files[1]])[1] != digest
