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
    check_param_types(params_values, overrides, source)


def check_param_types(
    defaults: list[dict[str, Any]], overrides: Mapping[str, Any], file: str | Path | None
) -> None:
    """Refuse an override whose type differs from its default's, before anything runs.

    A ``None`` default accepts anything, an int is accepted where the default is a float, and a
    list where it is a tuple (YAML has no tuples); ``True`` is not an int, whatever Python says.

    Args:
        defaults: Each params step's defaults.
        overrides: The params file's values.
        file: The params file (for the message).

    Raises:
        ParamsError: Naming the key, the file and the expected type.
    """
    for values in defaults:
        for key, default in values.items():
            if key in overrides and not _fits(overrides[key], default):
                value = overrides[key]
                raise ParamsError(
                    f"parameter {key!r} is {_kind(value)} {value!r}, but its default "
                    f"{default!r} is {_kind(default)}",
                    hint=f"give {key!r} {_kind(default)} value in the params file "
                    "(or change the params step's default)",
                    file=file,
                )


def _fits(value: Any, default: Any) -> bool:
    if default is None:
        return True
    if isinstance(default, bool) or isinstance(value, bool):
        return isinstance(value, bool) and isinstance(default, bool)
    if isinstance(default, float):
        return isinstance(value, (int, float))
    if isinstance(default, (list, tuple)):
        return isinstance(value, (list, tuple))
    return isinstance(value, type(default))


def _kind(value: Any) -> str:
    names = {bool: "a bool", int: "an int", float: "a float", str: "a str", dict: "a mapping"}
    if isinstance(value, (list, tuple)):
        return "a list"
    if value is None:
        return "null"
    return names.get(type(value), f"a {type(value).__name__}")
