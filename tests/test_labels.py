"""Labels and target patterns: the forms Bazel users type, and clear errors for the rest."""

from __future__ import annotations

import pytest

from axl.errors import LabelError
from axl.graph._labels import Label, Pattern, parse_label, parse_pattern


@pytest.mark.parametrize(
    ("text", "cwd", "expected"),
    [
        ("//examples:churn", None, Pattern("target", "examples", "churn")),
        ("//examples", None, Pattern("target", "examples", "examples")),
        ("//a/b/c", None, Pattern("target", "a/b/c", "c")),
        ("//:root_target", None, Pattern("target", "", "root_target")),
        ("//examples:all", None, Pattern("all", "examples")),
        ("//:all", None, Pattern("all", "")),
        ("//examples/...", None, Pattern("recursive", "examples")),
        ("//examples/...:all", None, Pattern("recursive", "examples")),
        ("//...", None, Pattern("recursive", "")),
        (":churn", "examples", Pattern("target", "examples", "churn")),
        (":churn", "", Pattern("target", "", "churn")),
        ("sub", "examples", Pattern("target", "examples/sub", "sub")),
        ("sub:x", "examples", Pattern("target", "examples/sub", "x")),
        ("sub/...", "examples", Pattern("recursive", "examples/sub")),
        ("...", "examples", Pattern("recursive", "examples")),
        (":all", "examples", Pattern("all", "examples")),
        ("  //examples:churn ", None, Pattern("target", "examples", "churn")),
        ("//x:name.with-dots_and+plus", None, Pattern("target", "x", "name.with-dots_and+plus")),
    ],
)
def test_valid_patterns(text: str, cwd: str | None, expected: Pattern) -> None:
    assert parse_pattern(text, cwd) == expected


def test_pattern_str_round_trips() -> None:
    for text in ("//examples:churn", "//examples:all", "//examples/...", "//...", "//:x"):
        assert str(parse_pattern(text)) == text
    assert str(Label("examples", "churn")) == "//examples:churn"
    assert Label("examples", "churn").relative_to("examples") == ":churn"
    assert Label("examples", "churn").relative_to("other") == "//examples:churn"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "it is empty"),
        ("//", "names no package and no target"),
        ("//examples:", "the target name is empty"),
        ("//examples:a:b", "more than one ':'"),
        ("//examples//x:y", "empty segment"),
        ("//examples/:y", "empty segment"),
        ("//../x:y", "package segment '..'"),
        ("//ex amples:y", "package segment 'ex amples'"),
        ("//examples:bad name", "target name 'bad name'"),
        ("//examples:.", "target name '.'"),
        ("//a/.../b", "'...' may only end a package path"),
        ("//a/...:x", "'...' may only be followed by ':all'"),
        ("@repo//a:b", "external repositories"),
        ("/examples:x", "single /"),
    ],
)
def test_malformed_patterns(text: str, message: str) -> None:
    with pytest.raises(LabelError) as info:
        parse_pattern(text, "")
    assert message in info.value.message
    assert info.value.hint


def test_relative_label_outside_workspace() -> None:
    with pytest.raises(LabelError, match="needs the current folder to be inside the workspace"):
        parse_pattern(":churn", None)


def test_pattern_label_refuses_wildcards() -> None:
    with pytest.raises(LabelError, match="several targets"):
        _ = parse_pattern("//examples:all").label


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (":churn", Label("examples", "churn")),
        ("churn", Label("examples", "churn")),
        ("//other:x", Label("other", "x")),
        ("//other", Label("other", "other")),
    ],
)
def test_build_file_labels(text: str, expected: Label) -> None:
    assert parse_label(text, "examples") == expected


@pytest.mark.parametrize("text", ["//x:all", "//x/...", "sub:x", "a/b", ":bad name", ""])
def test_malformed_build_file_labels(text: str) -> None:
    with pytest.raises(LabelError):
        parse_label(text, "examples")
