"""Finding a step's inputs and staging them in the runner's working store.

An input leaf of the manifest names its upstream (step and output) and may already carry the
content digest and handler. What is missing comes from the upstream's result record: a file under
``--inputs`` (the leaf's ``record``) or ``runs/<run-id>/<step>.json`` in the artifact store. The
bytes come from the leaf's file under ``--inputs``, else from an artifact store by digest (the
leaf's ``url``, then ``--store``). Whatever the source, the digest is verified before the step sees
the input, and a file whose digest differs from the manifest's is refused.
"""

from __future__ import annotations

import contextlib
import json
import shutil
from pathlib import Path
from typing import Any

from axl import io
from axl.cache._local import LocalStore
from axl.errors import AxlError, RunnerError
from axl.runtime._artifacts import ArtifactStore, check_name, open_artifact_store
from axl.runtime._logs import JsonLog
from axl.runtime._manifest import safe_relpath


class Inputs:
    """Resolves the inputs of one step.

    Args:
        folder: The run's input folder (``--inputs``), if any.
        store: The artifact store (``--store``), if any.
        work: The working store inputs are staged in.
        run_id: The run (``--run-id``), to find upstream result records in ``store``.
        log: Where ``input`` events go.
        store_is_work: ``store`` is a folder used as the working store itself.
    """

    def __init__(
        self,
        folder: Path | None,
        store: ArtifactStore | None,
        work: LocalStore,
        run_id: str | None,
        log: JsonLog,
        *,
        store_is_work: bool = False,
        workspace: Path | None = None,
    ) -> None:
        self.folder, self.store, self.work, self.run_id, self.log = folder, store, work, run_id, log
        self.store_is_work = store_is_work
        #: Where external inputs declared by workspace path are read (when not under --inputs).
        self.workspace = workspace
        self._records: dict[str, dict[str, Any] | None] = {}
        self._stores: dict[str, ArtifactStore] = {}
        #: Digests already staged (and verified) in the working store.
        self._staged: set[str] = set()

    def resolve(self, arg: dict[str, Any], name: str, *, stage: bool = True) -> dict[str, Any]:
        """``arg`` with every input leaf's digest, handler and extension settled and its blob
        staged in the working store.

        With ``stage=False`` a leaf whose digest is known (from the manifest or the upstream's
        result record) is not fetched: enough to compute the action key, so a cache hit never
        downloads its inputs. A leaf whose digest only its file can tell is staged anyway.
        """
        if "const" in arg:
            return arg
        if "list" in arg:
            return {"list": [self.resolve(a, name, stage=stage) for a in arg["list"]]}
        if "dict" in arg:
            return {"dict": {k: self.resolve(a, name, stage=stage) for k, a in arg["dict"].items()}}
        if "source" in arg:
            from axl.runtime._source_inputs import resolve_source

            leaf = resolve_source(
                arg["source"],
                name,
                folder=self.folder,
                workspace=self.workspace,
                work=self.work,
                log=self.log,
                stage=stage,
            )
            return {"source": leaf}
        return {"input": self._leaf(arg["input"], name, stage)}

    @staticmethod
    def task_arg(arg: dict[str, Any]) -> dict[str, Any]:
        """A resolved argument in :class:`axl.runtime.StepTask`'s shape."""
        if "const" in arg:
            return arg
        if "list" in arg:
            return {"list": [Inputs.task_arg(a) for a in arg["list"]]}
        if "dict" in arg:
            return {"dict": {k: Inputs.task_arg(a) for k, a in arg["dict"].items()}}
        if "source" in arg:
            from axl.runtime._source_inputs import task_arg

            return task_arg(arg["source"])
        leaf = arg["input"]
        return {"input": {k: leaf[k] for k in ("digest", "handler", "extension", "mode")}}

    @staticmethod
    def key_part(arg: dict[str, Any]) -> Any:
        """A resolved argument as the action key's inputs part sees it (digests and constants)."""
        if "const" in arg:
            return arg
        if "list" in arg:
            return {"list": [Inputs.key_part(a) for a in arg["list"]]}
        if "dict" in arg:
            return {"dict": {k: Inputs.key_part(a) for k, a in arg["dict"].items()}}
        if "source" in arg:
            return {arg["source"]["kind"]: arg["source"]["digest"]}
        return {"digest": arg["input"]["digest"]}

    # -- one leaf -----------------------------------------------------------------------------

    def _leaf(self, leaf: dict[str, Any], name: str, stage: bool = True) -> dict[str, Any]:
        src = leaf["from"]
        what = f"input {name!r} (output {src['output']!r} of step {src['step']!r})"
        digest, handler, extension = leaf.get("digest"), leaf["handler"], leaf["extension"]
        if digest is None or handler == io.AUTO:
            out = self._upstream_output(src["step"], src["output"], leaf.get("record"), what)
            if out is not None:
                if digest is not None and digest != out["digest"]:
                    raise RunnerError(
                        f"{what}: the manifest says digest {digest[:12]}..., the upstream's "
                        f"result record says {out['digest'][:12]}..."
                    )
                digest = str(out["digest"])
                if handler == io.AUTO:
                    handler, extension = str(out["handler"]), str(out["extension"])
        if stage or digest is None or handler == io.AUTO:  # (an unknown handler is an error)
            digest = self._stage(leaf, digest, name, what)
        if handler == io.AUTO:
            raise RunnerError(
                f"{what}: its handler is decided at run time ('auto') and no result record of "
                f"step {src['step']!r} says which one wrote it",
                hint="give the leaf a 'record' (the upstream's axl-result.json under --inputs), "
                "or pass --store with the --run-id the upstream ran under",
            )
        try:
            io.get(handler)
        except AxlError:
            raise RunnerError(
                f"{what} was written by IO handler {handler!r}, which this environment does not "
                "have",
                hint=f"known handlers: {', '.join(io.names())}; install the package that "
                "registers it in the runner's image",
            ) from None
        return {**leaf, "digest": digest, "handler": handler, "extension": extension}

    def _upstream_output(
        self, step: str, output: str, record: str | None, what: str
    ) -> dict[str, Any] | None:
        if step not in self._records:
            self._records[step] = self._read_record(step, record, what)
        data = self._records[step]
        if data is None:
            return None
        out = data.get("outputs", {}).get(output)
        if not isinstance(out, dict) or not {"digest", "handler", "extension"} <= set(out):
            raise RunnerError(
                f"{what}: the result record of step {step!r} has no output {output!r}"
            )
        return out

    def _read_record(self, step: str, record: str | None, what: str) -> dict[str, Any] | None:
        raw: bytes | None = None
        where = ""
        if record is not None and self.folder is not None:
            path = self.folder / safe_relpath(record, what)
            with contextlib.suppress(FileNotFoundError):
                raw, where = path.read_bytes(), str(path)
        if raw is None and self.store is not None and self.run_id is not None:
            name = check_name(f"runs/{self.run_id}/{step}.json")
            raw, where = self.store.get_object(name), f"{self.store.url}/{name}"
        if raw is None:
            return None
        try:
            data = json.loads(raw)
        except ValueError:
            raise RunnerError(f"{what}: the result record {where} is not valid JSON") from None
        if not isinstance(data, dict) or data.get("status") != "ok":
            status = data.get("status") if isinstance(data, dict) else None
            raise RunnerError(
                f"{what}: step {step!r} did not succeed (its result record {where} says "
                f"status {status!r})",
                hint="run the upstream step first",
            )
        return data

    def _stage(self, leaf: dict[str, Any], digest: str | None, name: str, what: str) -> str:
        """Put the input's bytes in the working store; returns their verified digest."""
        if digest is not None and digest in self._staged:
            return digest
        got = self._fetch(leaf, digest, name, what)
        self._staged.add(got)
        return got

    def _fetch(self, leaf: dict[str, Any], digest: str | None, name: str, what: str) -> str:
        tried: list[str] = []
        if leaf.get("path") and self.folder is not None:
            path = self.folder / safe_relpath(leaf["path"], what)
            if path.is_file():
                return self._stage_file(path, digest, name, what)
            tried.append(str(path))
        if digest is not None:
            if self.work.has_blob(digest):
                if self.work.verified_blob(digest) is not None:
                    self.log.note("input", input=name, digest=digest, source=str(self.work.root))
                    return digest
                tried.append(f"{self.work.root} (its copy was corrupt and was removed)")
            for store in self._stores_for(leaf):
                if self._download(store, digest):
                    self.log.note("input", input=name, digest=digest, source=store.url)
                    return digest
                tried.append(store.blob_url(digest))
        elif not tried:
            tried.append("nowhere: the manifest gives no path and no digest")
        raise RunnerError(
            f"{what} is missing: looked in {', '.join(tried) or 'no store'}",
            hint="pass --inputs DIR holding the declared path, or --store URL (with --run-id "
            "when the manifest has no digests) where the upstream uploaded it",
        )

    def _stage_file(self, path: Path, digest: str | None, name: str, what: str) -> str:
        tmp = self.work.tmp_file()
        try:
            shutil.copyfile(path, tmp)
            got, _ = self.work.put_file(tmp)
        finally:
            with contextlib.suppress(FileNotFoundError):
                tmp.unlink()
        if digest is not None and got != digest:
            raise RunnerError(
                f"{what}: file {path} has content digest {got[:12]}..., but the manifest "
                f"expects {digest[:12]}...",
                hint="the file is not the artifact this step was keyed with",
            )
        self.log.note("input", input=name, digest=got, source=str(path))
        return got

    def _stores_for(self, leaf: dict[str, Any]) -> list[ArtifactStore]:
        stores: list[ArtifactStore] = []
        url = leaf.get("url")
        if url:
            if url not in self._stores:
                self._stores[url] = open_artifact_store(url)
            stores.append(self._stores[url])
        if self.store is not None and not self.store_is_work:
            stores.append(self.store)
        return stores

    def _download(self, store: ArtifactStore, digest: str) -> bool:
        dest = self.work.tmp_file()
        try:
            if not store.download_blob(digest, dest):
                return False
            self.work.put_file(dest, digest)
            return True
        finally:
            with contextlib.suppress(FileNotFoundError):
                dest.unlink()
