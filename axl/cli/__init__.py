"""The ``axl`` command line. Each command lives in its own module and only parses, calls one
library function and renders; :func:`main` maps the error tree to ``error:``/``hint:`` lines."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from axl.errors import AxlError

if TYPE_CHECKING:
    import typer

__all__ = ["app", "main", "run"]


def _typer_app() -> typer.Typer:
    # Imported on first use, not with the package: a warm `axl build` never needs Typer.
    from axl.cli import (  # noqa: F401 - each registers its commands
        _bazel,
        _build,
        _cache,
        _compile,
        _graph,
        _image,
        _query,
        _run,
        _runs,
        _validate,
    )
    from axl.cli._app import app

    return app


def __getattr__(name: str) -> Any:
    """``axl.cli.app``, built on first access (PEP 562)."""
    if name == "app":
        return _typer_app()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI with ``argv`` (default: ``sys.argv[1:]``) and return the exit code."""
    args = list(sys.argv[1:] if argv is None else argv)
    if args[:1] == ["build"]:
        fast = _fast_build(args[1:])
        if fast is not None:
            return fast
    if args[:1] == ["build-image"]:
        fast = _fast_build(args[1:], image=True)
        if fast is not None:
            return fast
    import typer

    app = _typer_app()
    try:
        # Without standalone mode, click returns the code of a typer.Exit instead of raising it.
        code = app(args=args, prog_name="axl", standalone_mode=False)
    except AxlError as exc:
        _print_error(exc.render(), exc.hint)
        return exc.exit_code
    except typer.Exit as exc:
        return int(exc.exit_code)
    except typer.Abort:
        return 130
    except typer.TyperException as exc:
        ctx = getattr(exc, "ctx", None)
        if type(exc).__name__ == "NoArgsIsHelpError" and ctx is not None:
            sys.stdout.write(ctx.get_help() + "\n")
            return 0
        command = f"{ctx.command_path} --help" if ctx else "axl --help"
        _print_error(exc.format_message(), f"run '{command}'")
        return 2
    except KeyboardInterrupt:
        _print_error("interrupted", None)
        return 130
    return code if isinstance(code, int) else 0


def _fast_build(args: list[str], *, image: bool = False) -> int | None:
    """``axl build`` (or ``build-image``) through the Typer-free front end (see
    :mod:`axl.cli._fastbuild`, :mod:`axl.cli._fastimage`)."""
    if image:
        from axl.cli._fastimage import fast_build_image as fast
    else:
        from axl.cli._fastbuild import fast_build as fast

    try:
        return fast(args)
    except AxlError as exc:
        _print_error(exc.render(), exc.hint)
        return exc.exit_code
    except KeyboardInterrupt:
        _print_error("interrupted", None)
        return 130
    except BrokenPipeError:
        # The reader went away (`axl build ... | head`): stop quietly, as a SIGPIPE would.
        import os

        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141


def _print_error(message: str, hint: str | None) -> None:
    sys.stderr.write(f"error: {message}\n")
    if hint:
        sys.stderr.write(f"hint: {hint}\n")


def run() -> None:
    """Console-script entry point."""
    sys.exit(main())
