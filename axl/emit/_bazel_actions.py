"""What the Bazel actions of ``rules/axl.bzl`` run: ``python -m axl.emit._bazel_actions``.

    ... manifests --workflow MOD:CLS --shape DIGEST --out DIR --step NAME... --src PATH...
                  [--params PATH] [--lockfile PATH] [--regenerate COMMAND]
    ... step --manifest PATH --step NAME --inputs DIR --outputs DIR --src PATH...

Both run in Bazel's sandbox, whose execroot holds the declared inputs as symlinks into the
source tree. axl resolves symlinks to tell project code from third-party code, so the sources are
first copied into a private workspace root (only the declared ones: an import of an undeclared
project module fails instead of reading the source tree behind Bazel's back).

``manifests`` imports the workflow, checks that its shape still matches the generated targets and
writes one manifest per step: the runner's IO manifest reduced to that step, with input paths
relative to the generated package's output folder (``<upstream>/<file>``). Fields that cannot
change a step's outputs (the workflow hash, resources, retries) are left out, so a step's
manifest changes only when its own key parts do, and Bazel reruns only that step.

``step`` runs the runner (``python -m axl.runtime``) on one manifest, quietly unless it fails,
then rewrites the result record without its timings: Bazel wants outputs that depend on inputs
only, or downstream steps that read the record would rerun for nothing.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, NoReturn

from axl.errors import AxlError, EmitError, LoadError, UsageError

#: Result-record fields that vary from run to run. The log blob stays in the runner's scratch
#: store, so its digest would name nothing.
VOLATILE = ("started", "finished", "seconds", "log_digest")


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        raise UsageError(message, hint="this command is run by Bazel actions of rules/axl.bzl")


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="python -m axl.emit._bazel_actions", allow_abbrev=False)
    sub = parser.add_subparsers(dest="command", required=True)
    man = sub.add_parser("manifests", allow_abbrev=False)
    man.add_argument("--workflow", required=True)
    man.add_argument("--shape", required=True)
    man.add_argument("--out", required=True)
    man.add_argument("--step", action="append", default=[])
    man.add_argument("--src", action="append", default=[])
    man.add_argument("--params")
    man.add_argument("--lockfile")
    man.add_argument("--regenerate", default="axl bazel")
    step = sub.add_parser("step", allow_abbrev=False)
    step.add_argument("--manifest", required=True)
    step.add_argument("--step", required=True)
    step.add_argument("--inputs", required=True)
    step.add_argument("--outputs", required=True)
    step.add_argument("--src", action="append", default=[])
    step.add_argument("--data", action="append", default=[])
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run one action; returns its exit code (2 with ``error:``/``hint:`` lines on a problem)."""
    try:
        ns = _parser().parse_args(list(sys.argv[1:] if argv is None else argv))
        if ns.command == "manifests":
            write_manifests(
                workflow=ns.workflow,
                shape=ns.shape,
                out=Path(ns.out),
                steps=ns.step,
                srcs=ns.src,
                params=ns.params,
                lockfile=ns.lockfile,
                regenerate=ns.regenerate,
            )
            return 0
        return run_step(
            manifest=Path(ns.manifest),
            step=ns.step,
            inputs=Path(ns.inputs),
            outputs=Path(ns.outputs),
            srcs=ns.src,
            data=ns.data,
        )
    except AxlError as exc:
        sys.stderr.write(f"error: {exc.render()}\n")
        if exc.hint:
            sys.stderr.write(f"hint: {exc.hint}\n")
        return 2


@contextmanager
def staged(files: Sequence[str]) -> Iterator[Path]:
    """A temporary workspace root holding copies of ``files`` (paths relative to the current
    folder, which are workspace-relative in Bazel's execroot); removed afterwards."""
    from axl.runtime._manifest import safe_relpath

    root = Path(tempfile.mkdtemp(prefix="axl-bazel-"))
    try:
        for name in files:
            dest = root / safe_relpath(name, "source")
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(name, dest)
        yield root
    finally:
        shutil.rmtree(root, ignore_errors=True)


def write_manifests(
    *,
    workflow: str,
    shape: str,
    out: Path,
    steps: Sequence[str],
    srcs: Sequence[str],
    params: str | None = None,
    lockfile: str | None = None,
    regenerate: str = "axl bazel",
) -> None:
    """Load the workflow from ``srcs`` and write ``out/<step>.json`` for every step.

    Raises:
        EmitError: The workflow's steps or outputs differ from the generated targets'.
        AxlError: The workflow does not load.
    """
    from axl._loader import load_workflow
    from axl._params import load_params
    from axl.cache._local import write_atomic
    from axl.emit._bazel import plan_of, step_manifests
    from axl.exec._session import live_code
    from axl.graph._keys import environment_part
    from axl.ir import build_ir
    from axl.runtime._manifest import emit_manifest, manifest_json

    extra = [f for f in (params, lockfile) if f]
    out = out.absolute()
    _forget_cwd()
    with staged([*srcs, *extra]) as root, _inside(root):
        try:
            cls = load_workflow(workflow, root)
        except LoadError as exc:
            raise _load_failed(exc, root, regenerate) from None
        overrides = load_params(root / params) if params else None
        ir = build_ir(cls, overrides, params)
        code, _ = live_code(cls, root)
        manifest = emit_manifest(ir, code=code, environment=environment_part(ir, root))
    plan = plan_of(manifest)
    if plan.shape != shape or sorted(s.name for s in plan.steps) != sorted(steps):
        raise EmitError(
            f"workflow {workflow} no longer matches its generated Bazel targets (its steps, "
            "their outputs or what they read changed)",
            hint=f"run `{regenerate}` and build again",
        )
    out.mkdir(parents=True, exist_ok=True)
    for name, doc in step_manifests(manifest).items():
        write_atomic(out / f"{name}.json", manifest_json(doc).encode())


def run_step(
    *,
    manifest: Path,
    step: str,
    inputs: Path,
    outputs: Path,
    srcs: Sequence[str],
    data: Sequence[str] = (),
) -> int:
    """Run the runner on one step; returns its exit code. ``data`` (the workspace files the
    step reads, inputs of its action) are staged beside the sources, where the runner keys them.

    On success the runner's output is dropped (Bazel would print it for every step) and the
    result record is written to ``outputs/axl-result.json`` without its timings. On failure
    everything the runner printed goes to stderr, for Bazel to show.
    """
    from axl.emit._bazel import RECORD

    staging = staged([*srcs, *data])
    with staging as root, tempfile.TemporaryDirectory(prefix="axl-result-") as scratch:
        result = Path(scratch) / RECORD
        argv = [
            sys.executable,
            "-m",
            "axl.runtime",
            "--manifest",
            str(manifest.absolute()),
            "--step",
            step,
            "--inputs",
            str(inputs.absolute()),
            "--outputs",
            str(outputs.absolute()),
            "--result",
            str(result),
            "--workspace",
            str(root),
            # Bazel is the cache here: the runner must not consult axl's (a remote set in
            # pyproject.toml would reach the network from inside an action, and a "cached" flag
            # in the result record would make Bazel rerun whatever reads it).
            "--no-cache",
        ]
        env = {k: v for k, v in os.environ.items() if not k.startswith("AXL_")}
        # Run from the staged root: `python -m` puts the current folder on sys.path, and the
        # execroot of an unsandboxed action links the whole source tree.
        proc = subprocess.run(
            argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env, cwd=root, check=False
        )
        if proc.returncode != 0:
            sys.stderr.write(proc.stdout.decode("utf-8", "replace"))
            sys.stderr.write(f"axl: step {step} failed (runner exit code {proc.returncode})\n")
            return proc.returncode if proc.returncode > 0 else 2
        record = json.loads(result.read_text(encoding="utf-8"))
    stable = {k: v for k, v in record.items() if k not in VOLATILE}
    outputs.mkdir(parents=True, exist_ok=True)
    from axl.cache._local import write_atomic

    write_atomic(outputs / RECORD, stable_json(stable))
    return 0


def _load_failed(exc: LoadError, root: Path, regenerate: str) -> LoadError:
    """``exc`` about the workspace's files rather than their staged copies, with the likely fix:
    an import the generated targets do not declare."""
    prefix = f"{root.resolve()}/"
    file = exc.file.replace(prefix, "") if exc.file else None
    return LoadError(
        exc.message.replace(prefix, ""),
        hint=f"if the workflow now imports a project module it did not import when `{regenerate}` "
        f"last ran, run it again; else: {exc.hint or 'fix the import'}",
        file=file,
        line=exc.line,
    )


@contextmanager
def _inside(folder: Path) -> Iterator[None]:
    """Work in ``folder``: the loader puts the current folder on ``sys.path`` for a
    ``module:Class`` spec, and the execroot of an unsandboxed action links the whole tree."""
    before = Path.cwd()
    os.chdir(folder)
    try:
        yield
    finally:
        os.chdir(before)


def _forget_cwd() -> None:
    """Take the current folder off ``sys.path`` (``python -m`` put it there): only the staged
    sources may be imported as project code."""
    here = Path.cwd().resolve()
    sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != here]


def stable_json(data: Any) -> bytes:
    """``data`` as JSON with sorted keys: equal records are equal bytes."""
    return (json.dumps(data, indent=1, sort_keys=True, ensure_ascii=False) + "\n").encode()


if __name__ == "__main__":
    sys.exit(main())
