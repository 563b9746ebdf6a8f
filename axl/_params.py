"""Reading params override files (YAML or JSON)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from axl.errors import AxlError, ParamsError


def load_params(path: str | Path) -> dict[str, Any]:
    """The overrides in a params file: a YAML mapping of parameter names to values.

    Raises:
        ParamsError: The file is missing, not YAML, or not a mapping with string keys.
    """
    return read_mapping(path, what="params file", error=ParamsError)


def read_mapping(path: str | Path, *, what: str, error: type[AxlError]) -> dict[str, Any]:
    """A YAML (or JSON) file holding a mapping with string keys (``{}`` when empty).

    Args:
        path: The file.
        what: What the file is, for messages ("params file", "run config").
        error: The error raised.

    Raises:
        AxlError: ``error``: the file is missing, not YAML, or not such a mapping.
    """
    import yaml  # here, not at the top: a warm `axl build` never reads params and skips it

    file = Path(path)
    try:
        text = file.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise error(
            f"{what} {path} does not exist",
            hint="check the path (relative to the current folder)",
        ) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise error(f"{what} {path} cannot be read: {exc}") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise error(
            f"{what} is not valid YAML: {problem}",
            hint="write one 'name: value' per line",
            file=path,
            line=mark.line + 1 if mark is not None else None,
        ) from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise error(
            f"{what} holds a {type(data).__name__}, not a mapping",
            hint="write one 'name: value' per line",
            file=path,
        )
    for key in data:
        if not isinstance(key, str):
            raise error(f"{what} has a non-string key {key!r}", file=path)
    return data


def check_overrides(
    wf_name: str,
    params_values: list[dict[str, Any]],
    overrides: Mapping[str, Any],
    source: str | None,
) -> None:
    """Every override names a parameter of the workflow's params steps (their ``values``).

    Raises:
        ParamsError: No params step, or an unknown name (with the nearest known one).
    """
    if not params_values:
        raise ParamsError(
            f"workflow {wf_name!r} has no params step, so params cannot be overridden",
            hint="define a step named 'params' that returns the defaults",
            file=source,
        )
    defined = sorted({k for values in params_values for k in values})
    unknown = sorted(set(overrides) - set(defined))
    if unknown:
        from difflib import get_close_matches

        near = get_close_matches(unknown[0], defined, n=1)
        raise ParamsError(
            f"parameter {unknown[0]!r} is not defined by workflow {wf_name!r}",
            hint=(f"did you mean {near[0]!r}? " if near else "")
            + f"its params are: {', '.join(defined)}",
            file=source,
        )
