"""External inputs in the IR: where a ``File``/``Dir`` points, checked and normalised at trace time.

A relative path is relative to the workspace root and must stay inside it (so a workflow means
the same on every checkout); a path outside it must be absolute and is then used as it is (it
will not exist on a cluster, which ``axl validate`` says). URLs name remote objects.
"""

from __future__ import annotations

import posixpath
from typing import Any

from axl import io
from axl.dsl import OutputRef
from axl.errors import Loc, WorkflowError
from axl.external import REMOTE_SCHEMES, External
from axl.ir._model import Arg, Source, iter_sources


def source_of(value: External, path: Any, where: str, here: Loc) -> Source:
    """The IR form of ``value`` whose path (maybe read from the params) is ``path``.

    Raises:
        WorkflowError: The path is not a string, leaves the workspace while relative, or is a URL
            that cannot name this kind of input.
    """
    kind = value.kind
    what = f"{where} is {type(value).__name__}({path!r})"
    if not isinstance(path, str) or not path.strip():
        raise WorkflowError(
            f"{what}: a path must be a non-empty string",
            hint="set the params value to a path such as 'data/movies.csv'",
            **here,
        )
    if path.startswith(REMOTE_SCHEMES):
        return Source(kind, _url(path, kind, what, here), value.glob)
    if "://" in path:
        raise WorkflowError(
            f"{what}: unsupported URL scheme",
            hint=f"external inputs are local paths or {', '.join(REMOTE_SCHEMES)} URLs",
            **here,
        )
    norm = posixpath.normpath(path.replace("\\", "/"))
    if not posixpath.isabs(norm) and (norm == ".." or norm.startswith("../")):
        raise WorkflowError(
            f"{what}: a relative path must stay inside the workspace",
            hint="write the path relative to the workspace root, or give an absolute path "
            "(which will not exist on a cluster)",
            **here,
        )
    if kind == "file" and value.glob is not None:  # File() has no glob; a Source may be hand-made
        raise WorkflowError(f"{what}: only a Dir takes a glob", **here)
    return Source(kind, norm, value.glob)


def _url(url: str, kind: str, what: str, here: Loc) -> str:
    if url.startswith("s3://"):
        bucket, _, key = url[len("s3://") :].partition("/")
        if not bucket or (kind == "file" and (not key or key.endswith("/"))):
            raise WorkflowError(
                f"{what}: an S3 file is s3://bucket/key",
                hint="use Dir('s3://bucket/prefix/') for every object under a prefix",
                **here,
            )
        return url
    if kind == "dir":
        raise WorkflowError(
            f"{what}: a web server cannot list a folder",
            hint="declare each object with File('https://...')",
            **here,
        )
    return url


def extension_of(location: str) -> str:
    """The file extension of a location, without the dot (``csv``), lower case; may be empty."""
    name = posixpath.basename(location.split("?", 1)[0].rstrip("/"))
    _, dot, ext = name.rpartition(".")
    return ext.lower() if dot and _ else ""


def handler_for(location: str) -> str | None:
    """The IO handler that loads a file with this extension, if one does."""
    ext = extension_of(location)
    if not ext:
        return None
    for name in io.names():
        if io.extension_of(name) == ext:
            return name
    return None


def path_of(
    value: External,
    params_values: dict[str, dict[str, Any]],
    overrides: dict[str, Any],
    where: str,
    here: Loc,
) -> Any:
    """The path a ``File``/``Dir`` names; a params output is looked up in the params' values
    (with the ``--params`` overrides), which are known while graph() is traced."""
    path = value.path
    if not isinstance(path, OutputRef):
        return path
    values = params_values.get(path.node)
    if values is None or path._axl_output not in values:
        raise WorkflowError(
            f"{where} is {type(value).__name__}() of the output of step {path.node!r}, which is "
            "not a params value",
            hint=f"pass a literal path or one key of the params step, e.g. {type(value).__name__}"
            '(p["data"])',
            **here,
        )
    key = path._axl_output
    return overrides.get(key, values[key])


def check_source_modes(
    args: list[tuple[str, Arg]], modes: dict[str, str], where: str, here: Loc
) -> None:
    """Object mode needs an IO handler that reads the file's extension; a folder is a path."""
    for arg_name, holder in args:
        if modes.get(arg_name) != "object":
            continue
        for arg in iter_sources(holder):
            _check_object_source(arg, arg_name, where, here)


def _check_object_source(arg: Source, arg_name: str, where: str, here: Loc) -> None:
    if arg.kind == "dir":
        raise WorkflowError(
            f"{where}: argument {arg_name!r} is a folder, which can only be passed as a path",
            hint=f'drop "object" for {arg_name!r} from input_mode',
            **here,
        )
    if handler_for(arg.location) is None:
        raise WorkflowError(
            f"{where}: no IO handler reads {arg.location!r} (argument {arg_name!r}) as an object",
            hint=f'pass it as a path (input_mode={{"{arg_name}": "path"}}, the default for '
            "files) and read it in the step",
            **here,
        )
