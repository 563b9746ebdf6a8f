"""What the Typer-free front ends share (``axl build``, ``build-image``, ``run local``).

Each declares its options on a :class:`FastParser`; anything that does not parse cleanly
(``--help``, an unknown option, a missing value) yields ``None`` and the command goes through
Typer instead, so help and usage errors have one source. Tests check that each front end declares
the same options as its Typer command (:meth:`FastParser.option_names`).
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from typing import NoReturn


class _Fallback(Exception):
    """The arguments need Typer (help, or an error Typer words better)."""


class FastParser(argparse.ArgumentParser):
    """An :class:`argparse.ArgumentParser` that gives up (to Typer) instead of printing."""

    def __init__(self, prog: str) -> None:
        super().__init__(prog=prog, add_help=False, allow_abbrev=False)

    def error(self, message: str) -> NoReturn:
        raise _Fallback(message)

    def option_names(self) -> set[str]:
        """Every option string declared."""
        return {s for a in self._actions for s in a.option_strings}

    def parse_or_none(
        self, args: Sequence[str], *, intermixed: bool = False
    ) -> argparse.Namespace | None:
        """The parsed arguments, or ``None`` when Typer should handle them."""
        if any(a in {"--help", "-h"} for a in args):
            return None
        try:
            if intermixed:
                return self.parse_intermixed_args(list(args))
            return self.parse_args(list(args))
        except _Fallback:
            return None


def add_build_options(p: FastParser) -> None:
    """The engine options ``axl build`` and ``axl run local`` share (their Typer twins too)."""
    p.add_argument("--params", "-p")
    p.add_argument("--config")
    p.add_argument("--jobs", "-j", type=int, default=0)
    p.add_argument("--in-process", action="store_true")
    p.add_argument("--no-cache", action="store_true")
    p.add_argument("--rerun", action="append")
    p.add_argument("--keep-going", "-k", action="store_true")
    p.add_argument("--strict", action="store_true")
    p.add_argument("--cache-dir")
    p.add_argument("--workspace")
    p.add_argument("--json", dest="json_out", action="store_true")
    p.add_argument("--remote-cache")
    p.add_argument("--remote-upload", action="store_true", default=None)
    p.add_argument("--no-remote-upload", dest="remote_upload", action="store_false")
    p.add_argument("--executor")
    p.add_argument("--scheduler")
    p.add_argument("--warm-env", action="store_true")
