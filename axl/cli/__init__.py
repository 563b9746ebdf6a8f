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


#: Which module registers each top-level command. Only the module of the command being run is
#: imported (a warm build should not pay for importing and wiring every other command); help, a
#: bare ``axl`` and unknown commands import them all.
_COMMANDS = {
    "bazel": "_bazel",
    "build": "_build",
    "build-image": "_image",
    "cache": "_cache",
    "compile": "_compile",
    "explain": "_cache",
    "graph": "_graph",
    "hash": "_cache",
    "init": "_init",
    "logs": "_runs",
    "outputs": "_outputs",
    "query": "_query",
    "report": "_runs",
    "run": "_run",
    "runs": "_runs",
    "show": "_runs",
    "validate": "_validate",
}


def _typer_app(command: str | None = None) -> typer.Typer:
    """The Typer app with ``command``'s module registered (all modules when ``None``)."""
    import importlib

    from axl.cli._app import app

    wanted = {_COMMANDS[command]} if command in _COMMANDS else set(_COMMANDS.values())
    for module in sorted(wanted):
        importlib.import_module(f"axl.cli.{module}")
    return app


def __getattr__(name: str) -> Any:
    """``axl.cli.app``, built on first access (PEP 562)."""
    if name == "app":
        return _typer_app()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI with ``argv`` (default: ``sys.argv[1:]``) and return the exit code."""
    args = list(sys.argv[1:] if argv is None else argv)
    from axl.runtime._lifetime import handle_sigterm

    handle_sigterm()  # SIGTERM stops a build like Ctrl-C does (exit 143)
    if args[:1] == ["build"]:
        fast = _fast_build(args[1:])
        if fast is not None:
            return fast
    if args[:1] == ["build-image"]:
        fast = _fast_build(args[1:], image=True)
        if fast is not None:
            return fast
    if args[:2] == ["run", "local"]:
        fast = _fast_build(args[2:], run=True)
        if fast is not None:
            return fast
    import typer

    app = _typer_app(args[0] if args else None)
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
    except KeyboardInterrupt as exc:
        return _interrupted(exc)
    return code if isinstance(code, int) else 0


def _fast_build(args: list[str], *, image: bool = False, run: bool = False) -> int | None:
    """``axl build`` (or ``build-image``, ``run local``) through the Typer-free front ends (see
    :mod:`axl.cli._fastbuild`, :mod:`axl.cli._fastimage`, :mod:`axl.cli._fastrun`)."""
    if run:
        from axl.cli._fastrun import fast_run_local as fast
    elif image:
        from axl.cli._fastimage import fast_build_image as fast
    else:
        from axl.cli._fastbuild import fast_build as fast

    try:
        return fast(args)
    except AxlError as exc:
        _print_error(exc.render(), exc.hint)
        return exc.exit_code
    except KeyboardInterrupt as exc:
        return _interrupted(exc)
    except BrokenPipeError:
        # The reader went away (`axl build ... | head`): stop quietly, as a SIGPIPE would.
        import os

        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141


def _interrupted(exc: KeyboardInterrupt) -> int:
    """Ctrl-C (exit 130) or SIGTERM (exit 143): one line; the run record says the rest."""
    from axl.runtime._lifetime import exit_code, signal_name

    name = signal_name(exc)
    _print_error("interrupted" if name == "SIGINT" else f"interrupted by {name}", None)
    return exit_code(exc)


def _print_error(message: str, hint: str | None) -> None:
    sys.stderr.write(f"error: {message}\n")
    if hint:
        sys.stderr.write(f"hint: {hint}\n")


def run() -> None:
    """Console-script entry point."""
    sys.exit(main())
