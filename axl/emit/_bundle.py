"""What every emitter starts from: a workflow's IR plus the key parts known before it runs.

Loading (import, trace, code digests) happens here, once, so that the emitters themselves stay
pure functions of a :class:`WorkflowBundle`.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from axl.ir import IRWorkflow

if TYPE_CHECKING:
    from axl.dsl import Workflow


@dataclass(frozen=True)
class WorkflowBundle:
    """A loaded workflow, as the emitters see it.

    Attributes:
        ir: The workflow.
        code: Node name -> its code key part (``{"def:file:qual": digest}``); empty for params.
        dependencies: The ``dependencies`` entry of the key's environment part
            (``"uv.lock:<digest>"``). Python version and platform are left to the place the step
            runs: the machine that compiles is not the pod.
        sources: Workspace-relative source file -> digest of the bytes that were keyed.
        root: The workspace root (for messages only; never emitted).
        data: External inputs on this machine (``Source.ident`` -> file or listing digest),
            keyed when compiling: the emitted steps refuse other data. Remote objects are
            keyed where the step runs.
    """

    ir: IRWorkflow
    code: Mapping[str, Mapping[str, str]]
    dependencies: str
    sources: Mapping[str, str]
    root: Path = field(default=Path(), compare=False)
    data: Mapping[str, str] = field(default_factory=dict)

    @property
    def environment(self) -> dict[str, str]:
        """The environment part emitted into manifests."""
        return {"dependencies": self.dependencies}

    def code_of(self, node: Any) -> dict[str, str]:
        """The code part of ``node`` (an :class:`axl.ir.IRNode`)."""
        return dict(self.code.get(node.name, {}))


def load_bundle(
    spec: str, *, params_file: str | Path | None = None, workspace: str | Path | None = None
) -> WorkflowBundle:
    """Load the workflow ``spec`` (``module:Class`` or ``file.py:Class``) for emission.

    Raises:
        AxlError: The workflow cannot be loaded, traced or keyed.
    """
    from axl._loader import find_workspace, load_workflow
    from axl._params import load_params
    from axl.ir import build_ir

    root = find_workspace(explicit=workspace)
    cls = load_workflow(spec, root)
    overrides = load_params(params_file) if params_file is not None else None
    ir = build_ir(cls, overrides, params_file)
    return bundle_of(cls, ir, root)


def bundle_of(cls: type[Workflow], ir: IRWorkflow, root: Path) -> WorkflowBundle:
    """The bundle of an already loaded and traced workflow class."""
    from axl import _loader
    from axl.graph._code import CodeIndex
    from axl.graph._keys import environment_part
    from axl.hashing import bytes_digest

    index = CodeIndex(root)
    steps = cls.steps()
    by_step: dict[str, dict[str, str]] = {}
    code: dict[str, dict[str, str]] = {}
    for node in ir.nodes:
        if node.kind == "params":
            code[node.name] = {}  # its values are its input; its function ran at trace time
            continue
        if node.step not in by_step:
            by_step[node.step] = index.step_code(steps[node.step].fn, cls)
        code[node.name] = by_step[node.step]
    # Only the files the workflow's code reaches (and the modules of its classes), so that the
    # result does not depend on what else this process happened to import.
    wanted = set(index.files)
    for klass in cls.__mro__:
        file = getattr(sys.modules.get(klass.__module__), "__file__", None)
        if file:
            wanted.add(str(Path(file).resolve()))
    own = Path(__file__).resolve().parents[1]  # axl itself is the runner, not the workflow
    resolved = root.resolve()
    sources: dict[str, str] = {}
    for name, data in list(_loader.SOURCES.items()):
        path = Path(name)
        if name in wanted and path.is_relative_to(resolved) and not path.is_relative_to(own):
            sources[path.relative_to(resolved).as_posix()] = bytes_digest(data)
    return WorkflowBundle(
        ir=ir,
        code=code,
        dependencies=environment_part(ir, root)["dependencies"],
        sources=dict(sorted(sources.items())),
        root=root,
        data=data_digests(ir, root),
    )


def data_digests(ir: IRWorkflow, root: Path) -> dict[str, str]:
    """Digests of the workflow's local external inputs (``Source.ident`` -> digest), through
    the workspace's stat cache.

    Raises:
        UsageError: An input is missing or unreadable (naming the step and the path).
    """
    from axl.exec._session import cache_dir_for
    from axl.graph._loadcache import StatCache
    from axl.graph._sources import file_digest_of, list_folder, local_path

    found: dict[str, str] = {}
    stats: StatCache | None = None
    for node in ir.nodes:
        for src in node.sources:
            if src.remote or src.ident in found:
                continue
            if stats is None:
                stats = StatCache(cache_dir_for(root) / "load" / "stat.json")
            path = local_path(src, root)
            if src.kind == "dir":
                found[src.ident] = list_folder(src, path, stats, node.name).digest
            else:
                found[src.ident] = file_digest_of(src, path, stats, node.name)[0]
    if stats is not None:
        stats.save()
    return dict(sorted(found.items()))


def image_data_notes(bundle: WorkflowBundle) -> list[str]:
    """What a backend whose pods read workspace data from the image must tell the user."""
    declared = {src.ident: src for node in bundle.ir.nodes for src in node.sources}
    return [
        f"the pods read {declared[ident].kind} {declared[ident].location} from the image's "
        f"workspace: bake it in with `axl build-image --include {declared[ident].location}` "
        "(the pods refuse other bytes than those keyed now)"
        for ident in bundle.data
    ]
