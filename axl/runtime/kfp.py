"""``python -m axl.runtime.kfp``: the runner inside a Kubeflow Pipelines task.

KFP decides where each artifact lives (``{{$.inputs.artifacts['x'].path}}``) and learns about a
container's outputs only from its executor output file (``{{$.outputs.output_file}}``). This
adapter maps that onto the runner's own contract and changes nothing else: it links each input
into a private input folder at the path the manifest names, runs :func:`axl.runtime._runner.run`
(the same key, cache lookup, verification and result record as everywhere), then moves each
output to the path KFP gave it (creating its folder: KFP does not), and writes the executor
output, which registers every output artifact with its digest, size, handler and extension as
metadata. The exit code is the runner's: 0 ok, 1 the step's code failed, 2 axl could not run it.

    python -m axl.runtime.kfp --step NAME --manifest-json TEXT
        [--input REL=PATH ...] [--param KEY=VALUE ...]
        [--output KEY=REL --output-path KEY=PATH --output-uri KEY=URI ...]
        [--executor-output PATH]

``--param`` gives the params step the values the run was submitted with: a string parameter's
text as it is, anything else as JSON (an integer for a float parameter means that float).
"""

from __future__ import annotations

import argparse
import contextlib
import errno
import json
import os
import shutil
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NoReturn

from axl.errors import AxlError, RunnerError
from axl.runtime._lifetime import end_children, exit_code, runner_setup, signal_name
from axl.runtime._logs import JsonLog
from axl.runtime._runner import EXIT_ERROR, RESULT_FILE, RunRequest, copy_atomic, run

MANIFEST_FILE = "manifest.json"


@dataclass(frozen=True)
class KfpRequest:
    """The adapter's command line, parsed."""

    step: str
    manifest: str
    inputs: dict[str, str] = field(default_factory=dict)
    params: dict[str, str] = field(default_factory=dict)
    #: Output artifact key -> (manifest path under --outputs, KFP path, KFP URI).
    outputs: dict[str, tuple[str, str, str]] = field(default_factory=dict)
    executor_output: str | None = None


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        raise RunnerError(message, hint="python -m axl.runtime.kfp --help")


def parse(argv: Sequence[str]) -> KfpRequest:
    """The request.

    Raises:
        RunnerError: Unknown options, a malformed ``KEY=VALUE``, an output without its path.
    """
    parser = _Parser(prog="python -m axl.runtime.kfp", allow_abbrev=False)
    add = parser.add_argument
    add("--step", required=True, help="The node name of the step to run.")
    add("--manifest-json", required=True, help="The step's IO manifest, as JSON text.")
    for flag in ("--input", "--param", "--output", "--output-path", "--output-uri"):
        add(flag, action="append", default=[], metavar="KEY=VALUE")
    add("--executor-output", help="KFP's executor output file ({{$.outputs.output_file}}).")
    ns = parser.parse_args(list(argv))
    paths, uris = _pairs(ns.output_path, "--output-path"), _pairs(ns.output_uri, "--output-uri")
    outputs: dict[str, tuple[str, str, str]] = {}
    for key, rel in _pairs(ns.output, "--output").items():
        if key not in paths or key not in uris:
            raise RunnerError(f"output {key!r} has no --output-path or --output-uri")
        outputs[key] = (rel, paths[key], uris[key])
    return KfpRequest(
        step=ns.step,
        manifest=ns.manifest_json,
        inputs=_pairs(ns.input, "--input"),
        params=_pairs(ns.param, "--param"),
        outputs=outputs,
        executor_output=ns.executor_output,
    )


def _pairs(items: list[str], flag: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for item in items:
        key, eq, value = item.partition("=")
        if not eq or not key:
            raise RunnerError(f"{flag} {item!r} is not KEY=VALUE")
        out[key] = value
    return out


def main(argv: Sequence[str] | None = None) -> int:
    """Run the step as KFP asked; returns the runner's exit code."""
    log = JsonLog(sys.stderr)
    folder = Path(tempfile.mkdtemp(prefix="axl-kfp-"))
    try:
        request = parse(sys.argv[1:] if argv is None else argv)
        manifest = stage(request, folder)
    except AxlError as exc:
        log.problem("error", exc.render(), hint=exc.hint)
        shutil.rmtree(folder, ignore_errors=True)
        return EXIT_ERROR
    try:
        workspace = os.environ.get("AXL_WORKSPACE")
        code = run(
            RunRequest(
                manifest=folder / MANIFEST_FILE,
                step=request.step,
                inputs=folder / "inputs",
                outputs=folder / "outputs",
                workspace=Path(workspace) if workspace else None,
            ),
            log,
        )
        publish(request, manifest, folder / "outputs")
    except (AxlError, OSError) as exc:
        log.problem("error", f"could not hand the step's outputs to KFP: {exc}")
        return EXIT_ERROR
    except KeyboardInterrupt as exc:
        # SIGTERM (the pod is deleted) or SIGINT: nothing handed to KFP, as for the runner.
        log.problem("interrupted", f"the runner was interrupted by {signal_name(exc)}")
        return exit_code(exc)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    return code


def stage(request: KfpRequest, folder: Path) -> dict[str, Any]:
    """Write the manifest (params as submitted) and link each input where it names it.

    Raises:
        RunnerError: The manifest is not JSON, a param is not the step's or does not decode, an
            input path leaves the input folder.
    """
    from axl.runtime._manifest import safe_relpath

    try:
        manifest: dict[str, Any] = json.loads(request.manifest)
        entry = manifest["steps"][request.step]
    except (ValueError, KeyError, TypeError):
        raise RunnerError(f"--manifest-json is not a manifest with step {request.step!r}") from None
    if request.params:
        entry["params"] = submitted_params(entry.get("params"), request.params)
    (folder / MANIFEST_FILE).write_text(json.dumps(manifest), encoding="utf-8")
    inputs = folder / "inputs"
    for rel, path in request.inputs.items():
        link = inputs / safe_relpath(rel, "input")
        link.parent.mkdir(parents=True, exist_ok=True)
        os.symlink(os.path.abspath(path), link)
    (folder / "outputs").mkdir()
    return manifest


def submitted_params(compiled: Any, given: dict[str, str]) -> dict[str, Any]:
    """The params step's values: the compiled ones, replaced by what the run was given.

    Raises:
        RunnerError: A key the step does not have, or a value that does not decode.
    """
    if not isinstance(compiled, dict):
        raise RunnerError("--param is given, but the step is not a params step")
    values = dict(compiled)
    for key, text in given.items():
        if key not in values:
            raise RunnerError(f"--param {key!r}: the params step has no such value")
        old = values[key]
        if isinstance(old, str):
            values[key] = text
            continue
        try:
            new = json.loads(text)
        except ValueError:
            raise RunnerError(
                f"pipeline parameter {key!r} is {text!r}, which is not JSON",
                hint=f"its compiled value is {json.dumps(old)}: give JSON of that kind",
            ) from None
        if isinstance(old, float) and isinstance(new, int) and not isinstance(new, bool):
            new = float(new)  # KFP may render a whole double as "1"; the value is still 1.0
        values[key] = new
    return values


def publish(request: KfpRequest, manifest: dict[str, Any], outputs: Path) -> None:
    """Move each output the runner wrote to KFP's path; write the executor output.

    Raises:
        OSError: A file could not be moved or written.
    """
    record = _record(outputs / RESULT_FILE)
    by_path = {o["path"]: o["name"] for o in manifest["steps"][request.step]["outputs"]}
    artifacts: dict[str, Any] = {}
    for key, (rel, path, uri) in request.outputs.items():
        src = outputs / rel
        if not src.is_file():
            continue  # the step failed: no outputs (the result record is always written)
        move(src, Path(path))
        metadata: dict[str, Any] = {}
        out = record.get("outputs", {}).get(by_path.get(rel, ""))
        if isinstance(out, dict):
            metadata = {k: out[k] for k in ("digest", "size", "handler", "extension") if k in out}
            metadata.update(key=record.get("key"), cached=bool(record.get("cached")))
        artifacts[key] = {"artifacts": [{"name": key, "uri": uri, "metadata": metadata}]}
    if request.executor_output:
        dest = Path(request.executor_output)
        dest.parent.mkdir(parents=True, exist_ok=True)
        from axl.cache._local import write_atomic

        write_atomic(dest, json.dumps({"artifacts": artifacts}, sort_keys=True).encode())


def move(src: Path, dest: Path) -> None:
    """Move ``src`` to ``dest`` (creating its folder): a rename, or an atomic copy across
    file systems (KFP's artifact paths are often mounts)."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.replace(src, dest)
    except OSError as exc:
        if exc.errno != errno.EXDEV:
            raise
        copy_atomic(src, dest)


def _record(path: Path) -> dict[str, Any]:
    with contextlib.suppress(OSError, ValueError):
        data = json.loads(path.read_text(encoding="utf-8"))
        if isinstance(data, dict):
            return data
    return {}


if __name__ == "__main__":
    # As `python -m axl.runtime`: SIGTERM is a graceful stop, and what the step started ends
    # with it (see axl.runtime._lifetime).
    runner_setup()
    try:
        status = main()
    finally:
        end_children()
    sys.exit(status)
