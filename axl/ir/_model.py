"""The IR: a workflow as frozen data. Canonical JSON in and out; no caches, no backends."""

from __future__ import annotations

import json
from collections import deque
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Union

from axl.errors import WorkflowError

IR_VERSION = 1


@dataclass(frozen=True)
class Ref:
    """An upstream output passed as (part of) an argument."""

    node: str
    output: str


@dataclass(frozen=True)
class Const:
    """A literal constant, held as canonical JSON so that it is hashable and frozen."""

    json: str

    @property
    def value(self) -> Any:
        return json.loads(self.json)


@dataclass(frozen=True)
class Seq:
    """A list argument holding at least one :class:`Ref` (fan-in)."""

    items: tuple[Arg, ...]


@dataclass(frozen=True)
class Map:
    """A dict argument holding at least one :class:`Ref` (fan-in by name)."""

    items: tuple[tuple[str, Arg], ...]


@dataclass(frozen=True)
class Source:
    """Data from outside the graph (``axl.File`` / ``axl.Dir``), resolved to a concrete place.

    ``location`` is a normalised workspace-relative POSIX path, an absolute path, or a URL
    (``s3://``, ``http(s)://``); ``glob`` filters a folder's files. The IR holds where the data
    is, never what it holds: its digest is taken when a build keys the step that reads it.
    """

    kind: str
    location: str
    glob: str | None = None

    @property
    def remote(self) -> bool:
        return self.location.startswith(("s3://", "http://", "https://"))

    @property
    def ident(self) -> str:
        """One string naming this input (the same data named twice is resolved once)."""
        return f"{self.kind}:{self.location}" + (f":{self.glob}" if self.glob else "")


Arg = Union[Ref, Const, Seq, Map, Source]  # noqa: UP007 - a runtime alias; `|` on classes needs 3.10+ only in annotations


def _leaves(arg: Arg) -> Iterator[Arg]:
    """The leaves of ``arg`` (refs, sources, constants), in order."""
    stack: list[Arg] = [arg]
    while stack:
        item = stack.pop()
        if isinstance(item, Seq):
            stack.extend(reversed(item.items))
        elif isinstance(item, Map):
            stack.extend(v for _, v in reversed(item.items))
        else:
            yield item


def iter_sources(arg: Arg) -> Iterator[Source]:
    """Every :class:`Source` inside ``arg``, in order."""
    return (item for item in _leaves(arg) if isinstance(item, Source))


def iter_refs(arg: Arg) -> Iterator[Ref]:
    """Every :class:`Ref` inside ``arg``, in order."""
    return (item for item in _leaves(arg) if isinstance(item, Ref))


@dataclass(frozen=True)
class IROutput:
    """One output of a node: its name, IO handler and file extension (empty when ``auto``)."""

    name: str
    handler: str
    extension: str


@dataclass(frozen=True)
class IREdge:
    """Output ``src_output`` of node ``src`` feeds argument ``dst_arg`` of node ``dst``."""

    src: str
    src_output: str
    dst: str
    dst_arg: str


@dataclass(frozen=True)
class IRNode:
    """One step call. ``kind`` is ``"step"`` or ``"params"``.

    ``file``/``line`` (where the function is defined) and ``call_file``/``call_line`` (where
    ``graph()`` calls it) serve error messages only: they are not compared, not dumped, not hashed.
    """

    name: str
    step: str
    kind: str
    module: str
    qualname: str
    args: tuple[tuple[str, Arg], ...] = ()
    input_modes: tuple[tuple[str, str], ...] = ()
    outputs: tuple[IROutput, ...] = ()
    io_handler: str | None = None
    retries: int = 0
    resources: tuple[tuple[str, str], ...] = ()
    env: tuple[tuple[str, str], ...] = ()
    when: str | None = None
    cache: bool = True
    cache_version: str | None = None
    params: str | None = None
    #: An undeclared read fails the step (``@step(strict_inputs=True)`` or the workflow's).
    strict_inputs: bool = False
    file: str = field(default="", compare=False)
    line: int = field(default=0, compare=False)
    call_file: str = field(default="", compare=False)
    call_line: int = field(default=0, compare=False)

    def __post_init__(self) -> None:
        # Sorted by argument name: arguments bind by name, and the JSON form sorts its keys, so
        # a traced node and the same node loaded from JSON must hold them in one order.
        object.__setattr__(self, "args", tuple(sorted(self.args, key=lambda item: item[0])))

    @property
    def upstream(self) -> tuple[str, ...]:
        """Names of the nodes this one reads from, without repeats, in argument-name order."""
        seen: dict[str, None] = {}
        for _, arg in self.args:
            for ref in iter_refs(arg):
                seen.setdefault(ref.node)
        return tuple(seen)

    @property
    def sources(self) -> tuple[Source, ...]:
        """The external inputs this node reads, without repeats, in argument-name order."""
        seen: dict[Source, None] = {}
        for _, arg in self.args:
            for src in iter_sources(arg):
                seen.setdefault(src)
        return tuple(seen)

    def output(self, name: str) -> IROutput:
        for out in self.outputs:
            if out.name == name:
                return out
        raise WorkflowError(f"step {self.name!r} has no output {name!r}")

    @property
    def param_values(self) -> dict[str, Any]:
        """The params node's values (defaults merged with overrides)."""
        return dict(json.loads(self.params)) if self.params is not None else {}


@dataclass(frozen=True)
class IRWorkflow:
    """A whole workflow: nodes in a topological order (the order ``graph()`` called them)."""

    name: str
    module: str
    qualname: str
    nodes: tuple[IRNode, ...]
    results: tuple[Ref, ...]
    image: str = "python:3.11-slim"
    io_handler: str = "pickle"
    input_mode: str = "object"
    use_lockfile: bool = True
    requirements: tuple[str, ...] = ()
    requirements_file: str | None = None
    # Whether the tracer inferred the graph from parameter names (no graph() defined): said by
    # `axl validate`, never compared, dumped or hashed: an inferred graph is the same workflow.
    inferred: bool = field(default=False, compare=False)
    _index: Mapping[str, IRNode] = field(default_factory=dict, compare=False, repr=False)

    def __post_init__(self) -> None:
        index = {node.name: node for node in self.nodes}
        if len(index) != len(self.nodes):
            seen: set[str] = set()
            for node in self.nodes:
                if node.name in seen:
                    raise WorkflowError(
                        f"workflow {self.name!r} has two steps named {node.name!r}",
                        hint="give each call a unique name=",
                        file=node.call_file or None,
                        line=node.call_line or None,
                    )
                seen.add(node.name)
        object.__setattr__(self, "_index", index)

    def get_node(self, name: str) -> IRNode:
        """The node called ``name``, in O(1)."""
        try:
            return self._index[name]
        except KeyError:
            raise WorkflowError(
                f"workflow {self.name!r} has no step {name!r}",
                hint=f"its steps are: {', '.join(n.name for n in self.nodes[:20])}",
            ) from None

    def has_node(self, name: str) -> bool:
        return name in self._index

    @property
    def edges(self) -> tuple[IREdge, ...]:
        """Every data edge, in node then argument order."""
        return tuple(
            IREdge(ref.node, ref.output, node.name, arg_name)
            for node in self.nodes
            for arg_name, arg in node.args
            for ref in iter_refs(arg)
        )

    def downstream(self) -> dict[str, list[str]]:
        """For each node, the nodes that read from it."""
        down: dict[str, list[str]] = {n.name: [] for n in self.nodes}
        for node in self.nodes:
            for up in node.upstream:
                if up in down:
                    down[up].append(node.name)
        return down

    def topological_order(self) -> list[str]:
        """Node names so that every node comes after its inputs (Kahn; iterative, stable).

        Raises:
            WorkflowError: The graph has a cycle (only possible in IR loaded from JSON).
        """
        indegree = {n.name: len(n.upstream) for n in self.nodes}
        down = self.downstream()
        ready = deque(n.name for n in self.nodes if indegree[n.name] == 0)
        order: list[str] = []
        while ready:
            name = ready.popleft()
            order.append(name)
            for child in down[name]:
                indegree[child] -= 1
                if indegree[child] == 0:
                    ready.append(child)
        if len(order) != len(self.nodes):
            stuck = sorted(name for name, deg in indegree.items() if deg > 0)
            raise WorkflowError(
                f"workflow {self.name!r} has a cycle through steps {', '.join(stuck[:10])}",
                hint="a step cannot depend on its own output, directly or indirectly",
            )
        return order

    def ancestors(self, names: list[str]) -> set[str]:
        """``names`` and every node they depend on (iterative)."""
        seen: set[str] = set()
        stack = list(names)
        while stack:
            name = stack.pop()
            if name in seen:
                continue
            seen.add(name)
            stack.extend(self.get_node(name).upstream)
        return seen

    def compute_hash(self) -> str:
        """The workflow's digest: BLAKE3 over its canonical form (see :mod:`axl.hashing`)."""
        from axl.hashing import trusted_key_digest
        from axl.ir._json import to_dict

        # Canonical by construction: constants and params were checked when traced or loaded.
        return trusted_key_digest("workflow-ir", to_dict(self))
